# e3 bench placement: per-microservice placement time at scale (Table 6).
e3_add_bench(placement SOURCES ${CMAKE_CURRENT_LIST_DIR}/placement.cpp LIBS e3_apps e3_scheduler CLI11::CLI11)
