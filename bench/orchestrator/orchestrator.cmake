# e3 bench orchestrator: health reports digested per second (issue 5: >= 1 M/s on one core) and
# decision time vs cluster size up to 50 K SmartNICs (Fig. 11).
e3_add_bench(orchestrator SOURCES ${CMAKE_CURRENT_LIST_DIR}/orchestrator.cpp LIBS e3_migration CLI11::CLI11)
