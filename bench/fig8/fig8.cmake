# e3 bench fig8: power against offered load for NFV-FIN, RTA-SHM, IOT-TS on 3xType1-SmartNIC
# (Fig. 8, §5.1), modelled, with a simulator cross-check.
e3_add_bench(fig8 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig8.cpp LIBS e3_bench_cluster_model e3_apps CLI11::CLI11)
