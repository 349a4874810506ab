// Scale test (label `scale`): an instance of 1 M keys exports, imports into another store and
// has byte-identical contents.
#include <gtest/gtest.h>

#include "state_store/rocksdb_store.hpp"
#include "tests/state_store/test_util.hpp"

using namespace e3::state;
using e3::state::test::temp_dir;

TEST(RocksdbScale, AMillionKeysMigrateByteIdentical) {
  temp_dir d1, d2;
  rocksdb_options o;
  o.sync = false;
  auto src = rocksdb_store::open(d1.path(), o);
  auto s = src->open_collections("kvs");
  auto& t = s->get_table("kv");
  for (std::size_t i = 0; i < 1000000; ++i) {
    t.put("key" + std::to_string(i), "value-" + std::to_string(i * 2654435761u));
    if (i % 20000 == 19999)
      s->commit();
  }
  s->commit();
  auto snap = s->export_snapshot();
  auto dst = rocksdb_store::open(d2.path(), o);
  auto d = dst->open_collections("kvs");
  d->import_snapshot(snap);
  EXPECT_EQ(d->get_table("kv").size(), 1000000u);
  auto want = src->contents("kvs");
  auto got = dst->contents("kvs");
  EXPECT_TRUE(test::same(want, got)) << test::first_difference(want, got);
}
