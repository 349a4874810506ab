# e3 bench state: the RocksDB reliable collections against plain RocksDB.
include_guard(GLOBAL)
e3_add_bench(state SOURCES ${CMAKE_CURRENT_LIST_DIR}/state_bench.cpp LIBS e3_state_store RocksDB::rocksdb-shared)
