# e3 bench services: Table 1 on this platform (every registered kind measured here: CPU time per
# request at 64..1500 B, memory of one instance; SmartNIC emulated from Table 1's ratio; modelled
# requests per joule; the paper's row beside). --write-profiles writes the measured profile CSV.
# e3_bench_profiler (measuring a kind, the profile CSV) is shared with e3 bench fig2.
e3_add_library(e3_bench_profiler SOURCES ${CMAKE_CURRENT_LIST_DIR}/profiler.cpp LIBS e3_service_api e3_topology)
e3_add_bench(services SOURCES ${CMAKE_CURRENT_LIST_DIR}/services_table.cpp
             LIBS e3_bench_profiler e3_services e3_topology CLI11::CLI11)
