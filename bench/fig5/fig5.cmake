# e3 bench fig5: 3xType1-SmartNIC vs 3xBeefy at peak for the 8 apps (Fig. 5, §5.1), modelled
# energy efficiency, simulated latency, beside the paper's ratios.
e3_add_bench(fig5 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig5.cpp LIBS e3_bench_cluster_model e3_apps CLI11::CLI11)
