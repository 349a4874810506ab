// Tests of snapshots of RocksDB instances: ExportColumnFamily packs round-trip byte for byte,
// import replaces an instance atomically, and corrupt or wrong-kind snapshots are refused
// with the offset and the kind named.
#include <gtest/gtest.h>

#include <random>

#include "state_store/rocksdb_format.hpp"
#include "state_store/rocksdb_store.hpp"
#include "state_store/typed.hpp"
#include "tests/state_store/test_util.hpp"

using namespace e3::state;
using e3::state::test::temp_dir;

namespace {

rocksdb_options fast() {
  rocksdb_options o;
  o.sync = false;
  return o;
}

/// A KVS-like instance: `keys` keys with seeded binary values, a binary-keyed table, an array
/// and an empty table.
void fill(collections& c, std::size_t keys, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto& t = c.get_table("kv");
  for (std::size_t i = 0; i < keys; ++i) {
    std::string v(8 + rng() % 64, '\0');
    for (auto& ch : v)
      ch = static_cast<char>(rng());
    t.put("key" + std::to_string(i), v);
    if (i % 1000 == 999)
      c.commit();
  }
  c.get_table("bin").put(std::string("\0\xff\x01", 3), std::string("\0", 1));
  typed_array<double> a(c.get_array("weights"));
  a.resize(7);
  a.set(3, 2.5);
  c.get_table("empty");
  c.commit();
}

}  // namespace

TEST(RocksdbSnapshot, AKvsOf10KKeysIsByteIdenticalAfterMigration) {
  temp_dir d1, d2;
  auto src = rocksdb_store::open(d1.path(), fast());
  auto dst = rocksdb_store::open(d2.path(), fast());
  auto s = src->open_collections("kvs");
  fill(*s, 10000, 7);
  auto snap = s->export_snapshot();
  EXPECT_EQ(snap.substr(0, 8), "E3RSNAP1");
  auto d = dst->open_collections("kvs");
  d->import_snapshot(snap);
  auto want = src->contents("kvs");
  auto got = dst->contents("kvs");
  EXPECT_TRUE(test::same(want, got)) << test::first_difference(want, got);
  EXPECT_EQ(d->entry_count(), s->entry_count());
  EXPECT_EQ(d->get_table("kv").size(), 10000u);
  EXPECT_EQ(typed_array<double>(d->get_array("weights")).get(3), 2.5);
  EXPECT_EQ(d->committed_seq(), s->committed_seq() + 1);
  // The imported instance keeps working, and survives a reopen.
  d->get_table("kv").put("after", "1");
  d->commit();
  d.reset();
  dst.reset();
  dst = rocksdb_store::open(d2.path(), fast());
  auto again = dst->contents("kvs");
  EXPECT_EQ(again.tables.at("kv").size(), 10001u);
  EXPECT_EQ(again.tables.at("bin"), want.tables.at("bin"));
}

TEST(RocksdbSnapshot, ImportReplacesEverythingAndHandedOutCollectionsStayUsable) {
  temp_dir d1, d2;
  auto src = rocksdb_store::open(d1.path(), fast());
  auto s = src->open_collections("i");
  s->get_table("new").put("a", "1");
  s->commit();
  auto snap = s->export_snapshot();
  auto dst = rocksdb_store::open(d2.path(), fast());
  auto d = dst->open_collections("i");
  auto& old_table = d->get_table("old");
  old_table.put("x", "y");
  d->commit();
  d->get_table("new").put("pending", "dropped by the import");
  d->import_snapshot(snap);
  EXPECT_EQ(old_table.size(), 0u);
  EXPECT_FALSE(old_table.get("x").has_value());
  EXPECT_EQ(d->get_table("new").get("a").value(), "1");
  EXPECT_FALSE(d->get_table("new").get("pending").has_value());
  EXPECT_EQ(d->pending_writes(), 0u);
  old_table.put("x", "again");
  d->commit();
  EXPECT_EQ(dst->contents("i").tables.at("old").at("x"), "again");
}

TEST(RocksdbSnapshot, ExportRefusesUncommittedWrites) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  c->get_table("t").put("k", "v");
  try {
    c->export_snapshot();
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("commit() first"), std::string::npos) << e.what();
  }
  c->commit();
  EXPECT_NO_THROW(c->export_snapshot());
}

TEST(RocksdbSnapshot, EveryTruncationIsRejectedAndLeavesTheInstanceUnchanged) {
  temp_dir d1, d2;
  auto src = rocksdb_store::open(d1.path(), fast());
  auto s = src->open_collections("i");
  fill(*s, 20, 1);
  auto snap = s->export_snapshot();
  auto dst = rocksdb_store::open(d2.path(), fast());
  auto d = dst->open_collections("i");
  d->get_table("keep").put("x", "y");
  d->commit();
  // Every prefix of the header, then a stride through the file bytes.
  std::size_t step = 1;
  for (std::size_t n = 0; n < snap.size(); n += step) {
    if (n > 600)
      step = 97;
    EXPECT_THROW(d->import_snapshot(std::string_view(snap).substr(0, n)), state_error) << n;
  }
  EXPECT_THROW(d->import_snapshot(snap + "!"), state_error);
  EXPECT_EQ(d->get_table("keep").get("x").value(), "y");
  EXPECT_EQ(dst->instances().size(), 1u);
}

TEST(RocksdbSnapshot, ByteFlipsAreRejectedNamingWhere) {
  temp_dir d1, d2;
  auto src = rocksdb_store::open(d1.path(), fast());
  auto s = src->open_collections("i");
  fill(*s, 200, 2);
  auto snap = s->export_snapshot();
  auto dst = rocksdb_store::open(d2.path(), fast());
  auto d = dst->open_collections("i");
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    auto bad = snap;
    auto at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    try {
      d->import_snapshot(bad);
      ADD_FAILURE() << "flip at " << at << " accepted";
    } catch (const state_error& e) {
      std::string w = e.what();
      EXPECT_TRUE(w.find("byte") != std::string::npos || w.find("file /") != std::string::npos ||
                  w.find("magic") != std::string::npos)
          << w;
    }
  }
  EXPECT_EQ(d->entry_count(), 0u);
}

TEST(RocksdbSnapshot, WrongKindsFailClearly) {
  temp_dir d1;
  auto s = rocksdb_store::open(d1.path(), fast());
  auto c = s->open_collections("i");
  fill(*c, 10, 3);
  auto packed = c->export_snapshot();
  // A RocksDB pack into the memory store: refused, naming the kind.
  auto m = make_memory_collections();
  try {
    m->import_snapshot(packed);
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("E3RSNAP1"), std::string::npos) << e.what();
  }
  // Garbage and a replication message into the RocksDB store: refused, naming what it got.
  for (std::string bad : {std::string("hello world, not a snapshot"), std::string("E3RM\x01")}) {
    try {
      c->import_snapshot(bad);
      FAIL();
    } catch (const state_error& e) {
      EXPECT_NE(std::string(e.what()).find("imports E3RSNAP1 and E3SNAP01"), std::string::npos) << e.what();
    }
  }
}

TEST(RocksdbSnapshot, PortableSnapshotsMoveBetweenTheMemoryAndRocksdbStores) {
  temp_dir d1, d2;
  auto s = rocksdb_store::open(d1.path(), fast());
  auto c = s->open_collections("i");
  fill(*c, 300, 4);
  auto m = make_memory_collections();
  m->import_snapshot(c->export_portable_snapshot());
  EXPECT_TRUE(test::same(s->contents("i"), test::contents_of(*m)));
  m->get_table("kv").put("from memory", "1");
  auto s2 = rocksdb_store::open(d2.path(), fast());
  auto c2 = s2->open_collections("i");
  c2->import_snapshot(m->export_snapshot());
  EXPECT_TRUE(test::same(test::contents_of(*m), s2->contents("i")));
  EXPECT_EQ(c2->entry_count(), m->entry_count());
}

TEST(RocksdbSnapshot, AnEmptyInstanceRoundTrips) {
  temp_dir d1, d2;
  auto s = rocksdb_store::open(d1.path(), fast());
  auto c = s->open_collections("i");
  auto snap = c->export_snapshot();
  auto s2 = rocksdb_store::open(d2.path(), fast());
  auto c2 = s2->open_collections("i");
  c2->get_table("t").put("k", "v");
  c2->commit();
  c2->import_snapshot(snap);
  EXPECT_EQ(c2->entry_count(), 0u);
  EXPECT_TRUE(s2->contents("i").tables.empty());
}

// A portable snapshot into an instance without entries takes the in-place path: collections
// the snapshot lacks go, the rest arrive, atomically and durably.
TEST(RocksdbSnapshot, APortableImportIntoAnEmptyInstanceReplacesItsCollections) {
  temp_dir d1, d2;
  auto m = make_memory_collections();
  m->get_table("new").put("k", "v");
  m->get_array("a").resize(3);
  m->get_array("a").set(1, "x");
  {
    auto s = rocksdb_store::open(d1.path());
    auto c = s->open_collections("i");
    c->get_table("old");  // exists, empty
    c->commit();
    c->import_snapshot(m->export_snapshot());
    EXPECT_TRUE(test::same(test::contents_of(*m), s->contents("i")));
    EXPECT_EQ(c->committed_seq(), 1u);
    c->get_table("new").put("k2", "v2");
    c->commit();
  }
  auto s = rocksdb_store::open(d1.path());
  auto got = s->contents("i");
  EXPECT_EQ(got.tables.count("old"), 0u);
  EXPECT_EQ(got.tables.at("new").size(), 2u);
  EXPECT_EQ(got.arrays.at("a"), (std::vector<std::string>{"", "x", ""}));
  // With a backup: the replica takes the same path and ends up equal.
  auto b = rocksdb_store::open(d2.path(), fast());
  in_process_backup link(*b);
  auto c = s->open_collections("j", &link);
  c->resync_backup();
  c->import_snapshot(m->export_snapshot());
  EXPECT_TRUE(test::same(s->contents("j"), b->contents("j")));
}
