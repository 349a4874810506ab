# e3 bench count: the bitmap-indexed counter against an exact std::unordered_map counter.
e3_add_bench(count SOURCES ${CMAKE_CURRENT_LIST_DIR}/count.cpp LIBS e3_svc_count e3_service_api)
target_compile_definitions(e3-bench-count PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
