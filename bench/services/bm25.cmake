# e3 bench bm25: BM25 query time against SQLite FTS5 on the same corpus and queries, same run.
e3_add_bench(bm25 SOURCES ${CMAKE_CURRENT_LIST_DIR}/bm25.cpp LIBS e3_svc_bm25 SQLite::SQLite3)
target_compile_definitions(e3-bench-bm25 PRIVATE E3_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
