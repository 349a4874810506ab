# e3 bench spike: the Spike detectors against NAB's procedure transcribed literally, same run.
e3_add_bench(spike SOURCES ${CMAKE_CURRENT_LIST_DIR}/spike.cpp LIBS e3_svc_spike)
target_compile_definitions(e3-bench-spike PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
