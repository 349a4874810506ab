# e3 bench ddos: streaming window entropies against a straightforward two-pass computation.
e3_add_bench(ddos SOURCES ${CMAKE_CURRENT_LIST_DIR}/ddos.cpp LIBS e3_svc_ddos e3_service_api)
target_compile_definitions(e3-bench-ddos PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
