# e3 bench table5: Table 5 (energy efficiency of NFV-FIN, RTA-SHM, IOT-TS on five clusters) and
# Fig. 10 (cost efficiency over years of ownership), modelled, beside the paper's (§5.5).
e3_add_bench(table5 SOURCES ${CMAKE_CURRENT_LIST_DIR}/table5.cpp LIBS e3_bench_cluster_model e3_apps CLI11::CLI11)
