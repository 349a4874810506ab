# e3 bench migration: a KVS instance's cold migration (§3.4) in the running cluster vs raw export + import.
include_guard(GLOBAL)
e3_add_bench(migration SOURCES ${CMAKE_CURRENT_LIST_DIR}/migration.cpp
             LIBS e3_run e3_apps e3_services e3_state_store CLI11::CLI11)
