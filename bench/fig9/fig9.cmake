# e3 bench fig9: ECMP sharing of the SmartNIC ports with the host vs a dedicated host NIC on
# 2xType2-SmartNIC (Fig. 9, §5.3), modelled, beside the paper's ratios.
e3_add_bench(fig9 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig9.cpp LIBS e3_bench_cluster_model e3_apps CLI11::CLI11)
