// Tests of the RocksDB collections: the collections contract (the same answers as the memory
// store), local reads of uncommitted writes, durability across reopen, and the node catalog.
#include <gtest/gtest.h>

#include <random>

#include "state_store/rocksdb_store.hpp"
#include "state_store/typed.hpp"
#include "tests/state_store/test_util.hpp"

using namespace e3::state;
using e3::state::test::temp_dir;

namespace {

rocksdb_options fast() {
  rocksdb_options o;
  o.sync = false;  // these tests are about semantics; durability has its own tests
  return o;
}

}  // namespace

TEST(RocksdbCollections, PutGetEraseAndSize) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("kvs");
  auto& t = c->get_table("kv");
  t.put("a", "1");
  t.put("b", "2");
  t.put("a", "3");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.get("a").value(), "3");
  EXPECT_TRUE(t.erase("b"));
  EXPECT_FALSE(t.erase("b"));
  EXPECT_FALSE(t.get("b").has_value());
  c->commit();
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.erase("a"));
  EXPECT_EQ(t.size(), 0u);
  c->commit();
  EXPECT_FALSE(t.get("a").has_value());
}

TEST(RocksdbCollections, ReadsSeeUncommittedWritesOverCommittedOnes) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  auto& t = c->get_table("t");
  t.put("x", "old");
  t.put("y", "gone");
  c->commit();
  t.put("x", "new");
  t.erase("y");
  t.put("z", "added");
  EXPECT_EQ(t.get("x").value(), "new");
  EXPECT_FALSE(t.get("y").has_value());
  EXPECT_EQ(t.size(), 2u);
  std::vector<std::pair<std::string, std::string>> seen;
  t.for_each([&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, std::string>{"x", "new"}));
  EXPECT_EQ(seen[1], (std::pair<std::string, std::string>{"z", "added"}));
  EXPECT_EQ(c->pending_writes(), 3u);
}

TEST(RocksdbCollections, CommittedWritesSurviveReopenAndUncommittedOnesDoNot) {
  temp_dir d;
  {
    auto s = rocksdb_store::open(d.path());
    auto c = s->open_collections("i");
    c->get_table("t").put("kept", "1");
    typed_array<std::uint32_t> a(c->get_array("a"));
    a.resize(5);
    a.set(4, 44);
    c->commit();
    c->get_table("t").put("lost", "2");
    c->get_array("a").resize(9);
  }
  auto s = rocksdb_store::open(d.path());
  auto c = s->open_collections("i");
  auto& t = c->get_table("t");
  EXPECT_EQ(t.get("kept").value(), "1");
  EXPECT_FALSE(t.get("lost").has_value());
  EXPECT_EQ(t.size(), 1u);
  typed_array<std::uint32_t> a(c->get_array("a"));
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a.get(4), 44u);
  EXPECT_EQ(a.get(0), 0u);
  EXPECT_EQ(c->committed_seq(), 1u);
  EXPECT_EQ(c->entry_count(), 6u);
}

TEST(RocksdbCollections, ForEachVisitsKeysInBytewiseOrderLikeTheMemoryStore) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  auto m = make_memory_collections();
  std::vector<std::string> keys{"", "a", "ab", std::string("\0", 1), "\x7f", "\x80", "\xff\xff", "b"};
  for (auto* x : {static_cast<collections*>(c.get()), m.get()})
    for (const auto& k : keys)
      x->get_table("t").put(k, "v" + k);
  c->commit();
  c->get_table("t").put("aa", "pending");
  m->get_table("t").put("aa", "pending");
  std::vector<std::string> a, b;
  c->get_table("t").for_each([&](std::string_view k, std::string_view) { a.emplace_back(k); });
  m->get_table("t").for_each([&](std::string_view k, std::string_view) { b.emplace_back(k); });
  EXPECT_EQ(a, b);
}

TEST(RocksdbCollections, ArrayShrinkDropsSlotsAndRegrowReadsEmpty) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  auto& a = c->get_array("a");
  a.resize(10);
  for (std::size_t i = 0; i < 10; ++i)
    a.set(i, "s" + std::to_string(i));
  c->commit();
  a.set(8, "pending");
  a.resize(3);
  a.resize(10);
  EXPECT_EQ(a.get(2), "s2");
  for (std::size_t i = 3; i < 10; ++i)
    EXPECT_EQ(a.get(i), "") << i;
  c->commit();
  EXPECT_EQ(s->contents("i").arrays.at("a")[9], "");
  a.set(5, "");
  EXPECT_EQ(a.get(5), "");
  try {
    a.set(10, "y");
    FAIL() << "no throw";
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
}

TEST(RocksdbCollections, InstancesAreIsolatedAndOpenOnlyOnce) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto a = s->open_collections("a");
  auto b = s->open_collections("b");
  a->get_table("t").put("k", "from a");
  b->get_table("t").put("k", "from b");
  a->commit();
  b->commit();
  EXPECT_EQ(a->get_table("t").get("k").value(), "from a");
  EXPECT_EQ(b->get_table("t").get("k").value(), "from b");
  EXPECT_THROW(s->open_collections("a"), state_error);
  b.reset();
  EXPECT_NO_THROW(s->open_collections("b"));
  EXPECT_THROW(s->open_collections(""), state_error);
}

TEST(RocksdbCollections, DropInstanceDeletesItsData) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  {
    auto c = s->open_collections("gone");
    c->get_table("t").put("k", "v");
    c->commit();
    EXPECT_THROW(s->drop_instance("gone"), state_error);  // still open
  }
  s->drop_instance("gone");
  EXPECT_TRUE(s->instances().empty());
  EXPECT_THROW(s->drop_instance("gone"), state_error);
  auto c = s->open_collections("gone");
  EXPECT_EQ(c->get_table("t").size(), 0u);
}

TEST(RocksdbCollections, InstancesReportsRolesCommitsAndEntries) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  c->get_table("t").put("a", "1");
  c->get_table("t").put("b", "2");
  c->commit();
  c->get_table("t").put("c", "3");
  c->commit();
  auto info = s->instances();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].name, "i");
  EXPECT_EQ(info[0].role, instance_role::primary);
  EXPECT_EQ(info[0].seq, 2u);
  EXPECT_EQ(info[0].entries, 3u);
}

TEST(RocksdbCollections, CommitWithoutWritesIsFree) {
  temp_dir d;
  auto s = rocksdb_store::open(d.path(), fast());
  auto c = s->open_collections("i");
  c->commit();
  EXPECT_EQ(c->committed_seq(), 0u);
  c->get_table("t");  // a new collection is a write: it exists once committed
  EXPECT_EQ(c->pending_writes(), 1u);
  c->commit();
  EXPECT_EQ(c->committed_seq(), 1u);
  EXPECT_EQ(s->contents("i").tables.count("t"), 1u);
}

// The same seeded random operations on the memory store and the RocksDB store give the same
// answers and the same contents, across commits and a reopen.
TEST(RocksdbCollections, BehavesLikeTheMemoryStoreUnderRandomOperations) {
  temp_dir d;
  std::mt19937_64 rng(20240601);
  auto m = make_memory_collections();
  auto s = rocksdb_store::open(d.path(), fast());
  auto r = s->open_collections("i");
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  for (int step = 0; step < 4000; ++step) {
    auto table = "t" + std::to_string(pick(3));
    auto arr = "a" + std::to_string(pick(2));
    auto key = "k" + std::to_string(pick(60));
    auto value = std::string(pick(40), char('a' + pick(26)));
    switch (pick(10)) {
      case 0:
      case 1:
      case 2:
        m->get_table(table).put(key, value);
        r->get_table(table).put(key, value);
        break;
      case 3:
        ASSERT_EQ(m->get_table(table).erase(key), r->get_table(table).erase(key)) << step;
        break;
      case 4:
        ASSERT_EQ(m->get_table(table).get(key), r->get_table(table).get(key)) << step;
        ASSERT_EQ(m->get_table(table).size(), r->get_table(table).size()) << step;
        break;
      case 5: {
        auto n = pick(20);
        m->get_array(arr).resize(n);
        r->get_array(arr).resize(n);
        break;
      }
      case 6:
      case 7: {
        auto& ma = m->get_array(arr);
        auto& ra = r->get_array(arr);
        ASSERT_EQ(ma.size(), ra.size()) << step;
        if (ma.size() == 0)
          break;
        auto i = pick(ma.size());
        ma.set(i, value);
        ra.set(i, value);
        ASSERT_EQ(ma.get(i), ra.get(i)) << step;
        break;
      }
      case 8:
        r->commit();
        break;
      case 9:
        if (pick(40) == 0) {
          r->commit();
          r.reset();
          s.reset();
          s = rocksdb_store::open(d.path(), fast());
          r = s->open_collections("i");
        }
        break;
    }
    ASSERT_EQ(m->entry_count(), r->entry_count()) << step;
  }
  r->commit();
  auto want = test::contents_of(*m);
  auto got = s->contents("i");
  EXPECT_TRUE(test::same(want, got)) << test::first_difference(want, got);
}
