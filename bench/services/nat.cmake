# e3 bench nat: our DIR-24-8 against DPDK's rte_lpm on the 2010 RIB, and the NAT packet rate.
e3_add_bench(nat SOURCES ${CMAKE_CURRENT_LIST_DIR}/nat.cpp LIBS e3_svc_nat e3_dpdk_lpm_ref e3_service_api)
target_compile_definitions(e3-bench-nat PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
