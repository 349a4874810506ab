// Tests of the in-memory collections and the snapshot format.
#include <gtest/gtest.h>

#include "state_store/snapshot.hpp"
#include "state_store/state_store.hpp"
#include "state_store/typed.hpp"

using namespace e3::state;

TEST(MemoryCollections, PutGetEraseAndSize) {
  auto c = make_memory_collections();
  auto& t = c->get_table("kv");
  t.put("a", "1");
  t.put("b", "2");
  t.put("a", "3");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.get("a").value(), "3");
  EXPECT_TRUE(t.erase("b"));
  EXPECT_FALSE(t.erase("b"));
  EXPECT_FALSE(t.get("b").has_value());
}

TEST(MemoryCollections, ArrayIndexOutOfRangeThrowsNamingTheArray) {
  auto c = make_memory_collections();
  auto& a = c->get_array("counters");
  a.resize(2);
  a.set(1, "x");
  EXPECT_EQ(a.get(1), "x");
  EXPECT_EQ(a.get(0), "");
  try {
    a.set(2, "y");
    FAIL() << "no throw";
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("counters"), std::string::npos);
  }
}

TEST(MemoryCollections, SnapshotRoundTripsEveryCollection) {
  auto c = make_memory_collections();
  c->get_table("t").put("k", std::string("v\0w", 3));
  typed_array<std::uint64_t> a(c->get_array("a"));
  a.resize(3);
  a.set(2, 42);
  auto snap = c->export_snapshot();
  auto d = make_memory_collections();
  d->import_snapshot(snap);
  EXPECT_EQ(d->get_table("t").get("k").value(), std::string("v\0w", 3));
  typed_array<std::uint64_t> b(d->get_array("a"));
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.get(2), 42u);
  EXPECT_EQ(b.get(0), 0u);
  EXPECT_EQ(d->entry_count(), 4u);
}

TEST(Snapshot, EveryTruncationIsRejectedAndLeavesStateUnchanged) {
  auto c = make_memory_collections();
  c->get_table("t").put("key", "value");
  c->get_array("a").resize(2);
  auto snap = c->export_snapshot();
  auto d = make_memory_collections();
  d->get_table("keep").put("x", "y");
  for (std::size_t n = 0; n < snap.size(); ++n) {
    EXPECT_THROW(d->import_snapshot(std::string_view(snap).substr(0, n)), state_error) << "prefix " << n;
  }
  EXPECT_EQ(d->get_table("keep").get("x").value(), "y");
  EXPECT_THROW(d->import_snapshot(snap + "!"), state_error);
}

TEST(Snapshot, ErrorNamesTheByteOffset) {
  try {
    decode_snapshot("E3SNAP01\x01");
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("byte 0: truncated collection count"), std::string::npos) << e.what();
  }
}

TEST(Snapshot, ADuplicateKeyIsCorruptionNotAnOverwrite) {
  snapshot_contents c;
  c.tables["t"] = {{"a", "1"}, {"b", "2"}};
  auto snap = encode_snapshot(c);
  // Rename key "b" to "a": the same key twice in one table.
  auto at = snap.rfind('b');
  ASSERT_NE(at, std::string::npos);
  snap[at] = 'a';
  try {
    decode_snapshot(snap);
    FAIL() << "a snapshot with a key twice was accepted";
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate key in table 't'"), std::string::npos) << e.what();
  }
}

TEST(Snapshot, RoundTripOfManyKeysIsExact) {
  snapshot_contents c;
  auto& t = c.tables["big"];
  for (int i = 0; i < 20000; ++i)
    t.emplace("key-" + std::to_string(i), std::string(std::size_t(i % 97), char('a' + i % 26)));
  c.arrays["slots"] = {"x", "", "zz"};
  auto snap = encode_snapshot(c);
  auto back = decode_snapshot(snap);
  EXPECT_EQ(back.tables, c.tables);
  EXPECT_EQ(back.arrays, c.arrays);
  EXPECT_EQ(encode_snapshot(back), snap);
}
