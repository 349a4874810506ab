# e3 bench fig2 (Fig. 2, §2.3): SmartNIC RPJ benefit over the host by request size for IPsec, NIDS and
# DDoS; host time measured here, SmartNIC emulated from Table 1, energy modelled; --svg FILE plots it.
e3_add_bench(fig2 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig2.cpp LIBS e3_bench_profiler e3_services e3_topology CLI11::CLI11)
