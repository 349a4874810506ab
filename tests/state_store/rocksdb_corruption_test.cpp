// Tests that bad or corrupt data on disk gets a clear state_error naming the path and the
// problem, never undefined behaviour or silently wrong contents: directories that are not
// stores, databases of other programs, truncated or garbled SST, MANIFEST, CURRENT and WAL
// files, and a damaged catalog.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <rocksdb/comparator.h>
#include <rocksdb/db.h>

#include "state_store/rocksdb_format.hpp"
#include "state_store/rocksdb_store.hpp"
#include "tests/state_store/crash_workload.hpp"
#include "tests/state_store/test_util.hpp"

using namespace e3::state;
using e3::state::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string open_error(const std::string& dir, rocksdb_options o = {}) {
  try {
    rocksdb_store::open(dir, o);
  } catch (const state_error& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> files_like(const std::string& dir, const std::string& part) {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().filename().string().find(part) != std::string::npos)
      out.push_back(f.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const std::string& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// A store with one instance of `commits` workload commits, flushed to SST files, closed.
snapshot_contents make_store(const std::string& dir, std::uint64_t commits, bool flush = true) {
  rocksdb_options o;
  o.sync = false;  // the files are what matters here, not their fsync
  auto s = rocksdb_store::open(dir, o);
  auto c = s->open_collections("svc");
  for (std::uint64_t i = 1; i <= commits; ++i) {
    test::apply_commit(*c, 5, i);
    c->commit();
  }
  if (flush)
    s->flush();
  return s->contents("svc");
}

/// Opens `dir` and reads everything; "" when that worked and gave `want`, the error text when
/// a state_error came, "WRONG CONTENTS" otherwise.
std::string open_and_read(const std::string& dir, const snapshot_contents& want, rocksdb_options o = {}) {
  try {
    auto s = rocksdb_store::open(dir, o);
    auto got = s->contents("svc");
    auto c = s->open_collections("svc");
    for (const auto& [k, v] : want.tables.at("kv"))
      if (c->get_table("kv").get(k) != v)
        return "WRONG CONTENTS";
    return test::same(want, got) ? "" : "WRONG CONTENTS";
  } catch (const state_error& e) {
    return e.what();
  }
}

}  // namespace

TEST(StoreCorruption, APathThatIsAFileIsRefused) {
  temp_dir d;
  spit(d / "file", "x");
  auto e = open_error(d / "file");
  EXPECT_NE(e.find(d / "file"), std::string::npos) << e;
  EXPECT_NE(e.find("not a directory"), std::string::npos) << e;
}

TEST(StoreCorruption, ADirectoryWithOtherFilesIsRefusedAndLeftAlone) {
  temp_dir d;
  spit(d / "notes.txt", "mine");
  auto e = open_error(d.path());
  EXPECT_NE(e.find(d.path()), std::string::npos) << e;
  EXPECT_NE(e.find("not a RocksDB database"), std::string::npos) << e;
  EXPECT_NE(e.find("notes.txt"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(d / "CURRENT"));
}

TEST(StoreCorruption, LeftoversOfACrashedCreationAreReused) {
  temp_dir d;
  for (const char* f : {"LOCK", "LOG", "IDENTITY", "MANIFEST-000001"})
    spit(d / f, "");
  auto s = rocksdb_store::open(d.path());
  auto c = s->open_collections("i");
  c->get_table("t").put("k", "v");
  c->commit();
}

TEST(StoreCorruption, ADatabaseOfAnotherProgramIsRefused) {
  temp_dir d;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, d.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "user:1", "alice").ok());
    delete db;
  }
  auto e = open_error(d.path());
  EXPECT_NE(e.find("not an E3 state store"), std::string::npos) << e;
  EXPECT_NE(e.find(d.path()), std::string::npos) << e;
  // Still intact for its owner.
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), d.path(), &db).ok());
  std::string v;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "user:1", &v).ok());
  delete db;
}

TEST(StoreCorruption, ADatabaseWithForeignColumnFamiliesOrComparatorIsRefused) {
  temp_dir d1, d2;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, d1.path(), &db).ok());
    rocksdb::ColumnFamilyHandle* h = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "users", &h).ok());
    db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  auto e = open_error(d1.path());
  EXPECT_NE(e.find("column family 'users'"), std::string::npos) << e;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.comparator = rocksdb::ReverseBytewiseComparator();
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, d2.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  e = open_error(d2.path());
  EXPECT_NE(e.find("comparator"), std::string::npos) << e;
}

TEST(StoreCorruption, ATruncatedSstIsNamed) {
  temp_dir d;
  make_store(d.path(), 60);
  auto ssts = files_like(d.path(), ".sst");
  ASSERT_FALSE(ssts.empty());
  fs::resize_file(ssts.back(), fs::file_size(ssts.back()) / 2);
  auto e = open_error(d.path());
  EXPECT_NE(e.find(fs::path(ssts.back()).filename().string()), std::string::npos) << e;
}

// A flipped byte anywhere in an SST file: an error naming the file, or (for bytes nothing
// reads, like footer padding) the right contents; never wrong contents.
TEST(StoreCorruption, AByteFlipInAnSstNeverGivesWrongContents) {
  temp_dir pristine, work;
  auto want = make_store(pristine.path(), 60);
  auto sst_name = fs::path(files_like(pristine.path(), ".sst").back()).filename().string();
  std::mt19937_64 rng(4242);
  int detected = 0, trials = 16;
  for (int t = 0; t < trials; ++t) {
    auto dir = work / std::to_string(t);
    fs::copy(pristine.path(), dir, fs::copy_options::recursive);
    auto file = dir + "/" + sst_name;
    auto bytes = slurp(file);
    auto at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    spit(file, bytes);
    rocksdb_options o;
    o.verify_on_open = t % 2 == 0;
    auto r = open_and_read(dir, want, o);
    EXPECT_NE(r, "WRONG CONTENTS") << "flip at byte " << at;
    if (!r.empty()) {
      ++detected;
      EXPECT_NE(r.find(dir), std::string::npos) << r;
    }
    fs::remove_all(dir);
  }
  EXPECT_GE(detected, trials * 3 / 4);
}

TEST(StoreCorruption, ADamagedManifestOrCurrentIsRefused) {
  temp_dir pristine, work;
  auto want = make_store(pristine.path(), 30);
  auto manifest_name = fs::path(files_like(pristine.path(), "MANIFEST-").back()).filename().string();
  std::mt19937_64 rng(77);
  for (int t = 0; t < 12; ++t) {
    auto dir = work / std::to_string(t);
    fs::copy(pristine.path(), dir, fs::copy_options::recursive);
    auto file = dir + "/" + manifest_name;
    auto bytes = slurp(file);
    auto at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    spit(file, bytes);
    auto r = open_and_read(dir, want);
    EXPECT_NE(r, "WRONG CONTENTS") << "flip at byte " << at;
    EXPECT_FALSE(r.empty()) << "flip at byte " << at << " went unnoticed";
    fs::remove_all(dir);
  }
  {
    auto dir = work / "truncated";
    fs::copy(pristine.path(), dir, fs::copy_options::recursive);
    fs::resize_file(dir + "/" + manifest_name, 20);
    auto r = open_and_read(dir, want);
    EXPECT_NE(r, "WRONG CONTENTS");
    EXPECT_FALSE(r.empty());
  }
  {
    auto dir = work / "current";
    fs::copy(pristine.path(), dir, fs::copy_options::recursive);
    spit(dir + "/CURRENT", "MANIFEST-99999\n");
    auto r = open_and_read(dir, want);
    EXPECT_NE(r.find(dir), std::string::npos) << r;
  }
}

// A flipped byte in the write-ahead log: recovery stops at the damaged record (RocksDB's
// point-in-time recovery), so the store comes back as of an earlier whole commit, or refuses.
TEST(StoreCorruption, AByteFlipInTheWalGivesAConsistentPrefixOrAnError) {
  temp_dir pristine, work;
  const std::uint64_t commits = 40;
  {
    rocksdb_options o;
    o.sync = false;
    auto s = rocksdb_store::open(pristine.path(), o);
    auto c = s->open_collections("svc");
    for (std::uint64_t i = 1; i <= commits; ++i) {
      test::apply_commit(*c, 9, i);
      c->commit();
    }
    // Copy while open: the WAL holds every commit, no SST does.
    fs::copy(pristine.path(), work / "base", fs::copy_options::recursive);
  }
  auto wal_name = fs::path(files_like(work / "base", ".log").back()).filename().string();
  std::mt19937_64 rng(31337);
  for (int t = 0; t < 10; ++t) {
    auto dir = work / std::to_string(t);
    fs::copy(work / "base", dir, fs::copy_options::recursive);
    auto file = dir + "/" + wal_name;
    auto bytes = slurp(file);
    auto at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    spit(file, bytes);
    try {
      auto s = rocksdb_store::open(dir);
      auto info = s->instances();
      if (info.empty())
        continue;  // the damage hit the instance's creation: it is gone as a whole
      ASSERT_LE(info[0].seq, commits);
      auto want = test::reference_contents(9, info[0].seq);
      auto got = s->contents("svc");
      EXPECT_TRUE(test::same(want, got)) << "flip at " << at << ": " << test::first_difference(want, got);
    } catch (const state_error& e) {
      EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
  }
}

TEST(StoreCorruption, ADamagedCatalogOrStateRecordIsNamed) {
  temp_dir d;
  make_store(d.path(), 3);
  // Reach in with plain RocksDB and damage our records.
  auto damage = [&](const std::function<void(rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>&)>& f) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), d.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const auto& n : names)
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> hs;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), d.path(), descs, &hs, &db).ok());
    f(db, hs);
    for (auto* h : hs)
      db->DestroyColumnFamilyHandle(h);
    delete db;
  };
  damage([](rocksdb::DB* db, auto& hs) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), hs[1], rdb::state_key(), "bad").ok());
  });
  {
    auto s = rocksdb_store::open(d.path());
    try {
      s->open_collections("svc");
      FAIL();
    } catch (const state_error& e) {
      EXPECT_NE(std::string(e.what()).find("state record has 3 bytes"), std::string::npos) << e.what();
    }
  }
  damage([](rocksdb::DB* db, auto&) { ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Isvc", "P").ok()); });
  auto e = open_error(d.path());
  EXPECT_NE(e.find("corrupt catalog entry of instance 'svc'"), std::string::npos) << e;
}
