// Tests of the RocksDB store's byte formats: CRC-32C, key order, record checks, and the
// strictness of the replication message and snapshot pack decoders.
#include <gtest/gtest.h>

#include "state_store/crc32c.hpp"
#include "state_store/rocksdb_format.hpp"
#include "state_store/state_store.hpp"

using namespace e3::state;

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  std::string big(1000, 'x');
  EXPECT_EQ(crc32c(std::string_view(big).substr(500), crc32c(std::string_view(big).substr(0, 500))), crc32c(big));
}

TEST(RecordKeys, KeepTableAndArrayOrderAndNeverCollide) {
  auto p = rdb::entry_prefix('T', "a");
  auto q = rdb::entry_prefix('T', "ab");
  // "a" + "b…" and "ab" + "…" differ: the name is length-prefixed.
  EXPECT_NE(rdb::table_key(p, "bc"), rdb::table_key(q, "c"));
  EXPECT_LT(rdb::table_key(p, "a"), rdb::table_key(p, "b"));
  EXPECT_LT(rdb::table_key(p, "\x7f"), rdb::table_key(p, "\x80"));
  auto a = rdb::entry_prefix('A', "arr");
  EXPECT_LT(rdb::array_key(a, 255), rdb::array_key(a, 256));
  EXPECT_EQ(rdb::array_index(rdb::array_key(a, 123456789), a.size()), 123456789u);
  EXPECT_GT(rdb::prefix_end(p), rdb::table_key(p, "\xff\xff\xff"));
  EXPECT_LT(rdb::prefix_end(p), q);
}

TEST(RecordKeys, ChecksRefuseMalformedRecords) {
  EXPECT_EQ(rdb::check_put(rdb::state_key(), std::string(16, '\0')), "");
  EXPECT_NE(rdb::check_put(rdb::state_key(), "short"), "");
  EXPECT_EQ(rdb::check_put(rdb::meta_key('T', "t"), rdb::encode_count(3)), "");
  EXPECT_NE(rdb::check_put(rdb::meta_key('X', "t"), rdb::encode_count(3)), "");
  EXPECT_NE(rdb::check_put("", "v"), "");
  EXPECT_NE(rdb::check_put("Z", "v"), "");
  EXPECT_NE(rdb::check_put(std::string("T\0\0\0\x09" "ab", 7), "v"), "");  // name past the end
  EXPECT_EQ(rdb::check_put(rdb::array_key(rdb::entry_prefix('A', "a"), 1), "v"), "");
  EXPECT_NE(rdb::check_put(rdb::entry_prefix('A', "a") + "xyz", "v"), "");
  EXPECT_NE(rdb::check_delete(rdb::state_key()), "");
  EXPECT_NE(rdb::check_delete(rdb::meta_key('T', "t")), "");
  EXPECT_EQ(rdb::check_delete(rdb::table_key(rdb::entry_prefix('T', "t"), "k")), "");
}

TEST(ReplicationMessageFormat, RoundTripsAndRejectsUnknownKindsAndVersions) {
  rdb::repl_message m;
  m.kind = 'B';
  m.instance = "svc";
  m.base = {1, 2};
  m.next = {1, 3};
  m.payload = "payload";
  auto bytes = rdb::encode_message(m);
  auto d = rdb::decode_message(bytes);
  EXPECT_EQ(d.kind, 'B');
  EXPECT_EQ(d.instance, "svc");
  EXPECT_TRUE(d.base == m.base);
  EXPECT_TRUE(d.next == m.next);
  EXPECT_EQ(d.payload, "payload");
  m.kind = 'Q';
  try {
    rdb::decode_message(rdb::encode_message(m));
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("at byte 5: unknown kind"), std::string::npos) << e.what();
  }
  auto v2 = bytes;
  v2[4] = 2;
  EXPECT_THROW(rdb::decode_message(v2), state_error);
  try {
    rdb::decode_message("E3SNAP01........");
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("portable snapshot"), std::string::npos) << e.what();
  }
}

TEST(SnapshotPackFormat, RefusesLyingCountsPathsAndLevels) {
  rdb::pack_header h;
  h.comparator = "leveldb.BytewiseComparator";
  rdb::pack_file f;
  f.name = "/000012.sst";
  f.level = 6;
  std::string body = "sst bytes";
  f.bytes = body;
  h.files.push_back(f);
  auto ok = rdb::encode_pack(h);
  auto d = rdb::decode_pack(ok);
  ASSERT_EQ(d.files.size(), 1u);
  EXPECT_EQ(d.files[0].bytes, "sst bytes");
  for (std::string name : {"/../../etc/passwd", "000012.sst", "/12.sst/x", "/abc.sst"}) {
    auto bad = h;
    bad.files[0].name = name;
    try {
      rdb::decode_pack(rdb::encode_pack(bad));
      FAIL() << name;
    } catch (const state_error& e) {
      EXPECT_NE(std::string(e.what()).find("not an SST file name"), std::string::npos) << e.what();
    }
  }
  auto deep = h;
  deep.files[0].level = 7;
  EXPECT_THROW(rdb::decode_pack(rdb::encode_pack(deep)), state_error);
  auto twice = h;
  twice.files.push_back(f);
  EXPECT_THROW(rdb::decode_pack(rdb::encode_pack(twice)), state_error);
  // A file count that cannot fit is refused before anything is allocated.
  auto lying = ok;
  auto count_at = 8 + 4 + 4 + h.comparator.size() + 32;
  lying[count_at + 3] = '\x7f';
  try {
    rdb::decode_pack(lying);
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("file count"), std::string::npos) << e.what();
  }
}
