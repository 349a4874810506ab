# e3 bench bayes: naive Bayes decisions against straightforward second implementations, same run.
e3_add_bench(bayes SOURCES ${CMAKE_CURRENT_LIST_DIR}/bayes.cpp LIBS e3_svc_bayes)
target_compile_definitions(e3-bench-bayes PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
