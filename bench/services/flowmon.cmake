# e3 bench flowmon: the count-min sketch against an exact std::unordered_map per-flow counter.
e3_add_bench(flowmon SOURCES ${CMAKE_CURRENT_LIST_DIR}/flowmon.cpp LIBS e3_svc_flowmon e3_service_api)
target_compile_definitions(e3-bench-flowmon PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
