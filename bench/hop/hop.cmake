# e3 bench hop: an actor-plus-router hop inside one node, next to a bare CAF message.
e3_add_bench(hop SOURCES ${CMAKE_CURRENT_LIST_DIR}/hop.cpp LIBS e3_actors e3_apps e3_services caf::core)
