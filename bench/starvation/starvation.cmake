# e3 bench starvation: Fig. 7 (§5.2), the data-plane orchestrator on and off with packed SmartNICs.
include_guard(GLOBAL)
e3_add_bench(starvation SOURCES ${CMAKE_CURRENT_LIST_DIR}/starvation.cpp
             LIBS e3_run e3_apps e3_services e3_migration CLI11::CLI11)
