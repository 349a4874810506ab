// Child process of the crash tests: commits the crash workload to a RocksDB store (with an
// in-process backup) and writes each acknowledged commit number to stdout, until killed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "state_store/rocksdb_store.hpp"
#include "tests/state_store/crash_workload.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <primary-dir> <backup-dir|-> <seed> <sync 0|1> <commits>\n", argv[0]);
    return 2;
  }
  try {
    using namespace e3::state;
    rocksdb_options o;
    o.sync = std::string(argv[4]) == "1";
    auto primary = rocksdb_store::open(argv[1], o);
    std::unique_ptr<rocksdb_store> backup;
    std::unique_ptr<in_process_backup> target;
    if (std::string(argv[2]) != "-") {
      backup = rocksdb_store::open(argv[2], o);
      target = std::make_unique<in_process_backup>(*backup);
    }
    auto c = primary->open_collections("svc", target.get());
    auto seed = std::stoull(argv[3]);
    auto n = std::stoull(argv[5]);
    for (std::uint64_t i = 1; i <= n; ++i) {
      test::apply_commit(*c, seed, i);
      c->commit();
      // Acknowledged: tell the parent (8 bytes, one write: atomic on a pipe).
      if (::write(1, &i, sizeof i) != sizeof i)
        return 3;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
