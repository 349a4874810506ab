# e3 bench ema: the EMA service against a plain arithmetic loop, in the same run.
e3_add_bench(ema SOURCES ${CMAKE_CURRENT_LIST_DIR}/ema.cpp LIBS e3_svc_ema)
target_compile_definitions(e3-bench-ema PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
