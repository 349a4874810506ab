# e3 bench nids: the NIDS automaton against textbook Aho-Corasick and a naive trie walk on real
# payloads, in the same run, plus the service path per frame.
e3_add_bench(nids SOURCES ${CMAKE_CURRENT_LIST_DIR}/nids.cpp LIBS e3_svc_nids)
target_compile_definitions(e3-bench-nids PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
