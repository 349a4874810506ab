# e3 bench kvs: YCSB-like Zipf 0.99 workloads on the MemC3 cuckoo table vs std::unordered_map and
# the service request path, plus the load factor at the first failed insertion.
e3_add_bench(kvs SOURCES ${CMAKE_CURRENT_LIST_DIR}/kvs.cpp LIBS e3_svc_kvs CLI11::CLI11)
