# e3 bench recommend: MF quality and speed next to the item-mean baseline and a brute-force top-N.
e3_add_bench(recommend SOURCES ${CMAKE_CURRENT_LIST_DIR}/recommend.cpp LIBS e3_svc_recommend)
target_compile_definitions(e3-bench-recommend PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
