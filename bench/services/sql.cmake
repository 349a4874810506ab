# e3 bench sql: NAB inserts and aggregate queries through the sql service vs the raw sqlite3 API.
e3_add_bench(sql SOURCES ${CMAKE_CURRENT_LIST_DIR}/sql.cpp LIBS e3_svc_sql SQLite::SQLite3 CLI11::CLI11)
target_compile_definitions(e3-bench-sql PRIVATE E3_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
