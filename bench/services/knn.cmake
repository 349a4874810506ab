# e3 bench knn: the KNN search against a vectorised brute-force second method, same run.
e3_add_bench(knn SOURCES ${CMAKE_CURRENT_LIST_DIR}/knn.cpp LIBS e3_svc_knn)
target_compile_definitions(e3-bench-knn PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
