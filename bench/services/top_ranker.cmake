# e3 bench top_ranker: our partial quicksort/quickselect vs std::nth_element+sort and
# std::partial_sort, and the windowed service on the MovieLens stream vs a std reference.
e3_add_bench(top_ranker SOURCES ${CMAKE_CURRENT_LIST_DIR}/top_ranker.cpp LIBS e3_svc_top_ranker CLI11::CLI11)
target_compile_definitions(e3-bench-top_ranker PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
