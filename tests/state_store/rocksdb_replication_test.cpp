// Tests of replication: every commit reaches the backup before it is acknowledged, a failing
// backup fails the commit, histories never mix, a promoted backup serves everything, and
// replication messages are checked strictly.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include <rocksdb/write_batch.h>

#include "state_store/rocksdb_format.hpp"
#include "state_store/rocksdb_store.hpp"
#include "tests/state_store/test_util.hpp"

using namespace e3::state;
using e3::state::test::temp_dir;

namespace {

rocksdb_options fast() {
  rocksdb_options o;
  o.sync = false;
  return o;
}

/// A backup link that can be cut, can lose replies, and records what it carried.
class flaky_backup final : public replication_target {
 public:
  explicit flaky_backup(rocksdb_store& s) : s_(&s) {}
  replica_reply apply(std::string_view instance, std::string_view message) override {
    ++calls;
    messages.emplace_back(message);
    if (down)
      throw state_error("backup unreachable");
    auto r = s_->apply_replica(instance, message);
    if (lose_reply) {
      lose_reply = false;
      throw state_error("reply lost");
    }
    if (r == replica_reply::needs_full_state)
      ++full_state_requests;
    return r;
  }
  bool down = false;
  bool lose_reply = false;
  int calls = 0;
  int full_state_requests = 0;
  std::vector<std::string> messages;

 private:
  rocksdb_store* s_;
};

void write_some(rocksdb_collections& c, int from, int to) {
  for (int i = from; i < to; ++i) {
    c.get_table("t").put("k" + std::to_string(i), "v" + std::to_string(i));
    if (i % 7 == 0)
      c.get_table("t").erase("k" + std::to_string(i / 2));
    auto& a = c.get_array("a");
    if (a.size() <= std::size_t(i % 50))
      a.resize(i % 50 + 1);
    a.set(i % 50, std::to_string(i));
    if (i % 10 == 9)
      c.commit();
  }
  c.commit();
}

}  // namespace

TEST(Replication, BackupHoldsExactlyThePrimarysContents) {
  temp_dir d1, d2;
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto backup = rocksdb_store::open(d2.path(), fast());
  in_process_backup link(*backup);
  auto c = primary->open_collections("svc", &link);
  write_some(*c, 0, 500);
  auto want = primary->contents("svc");
  auto got = backup->contents("svc");
  EXPECT_TRUE(test::same(want, got)) << test::first_difference(want, got);
  auto info = backup->instances();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].role, instance_role::replica);
  EXPECT_EQ(info[0].seq, c->committed_seq());
}

TEST(Replication, AFailingBackupFailsTheCommitAndNothingIsAcknowledged) {
  temp_dir d1, d2;
  {
    auto primary = rocksdb_store::open(d1.path(), fast());
    auto backup = rocksdb_store::open(d2.path(), fast());
    flaky_backup link(*backup);
    auto c = primary->open_collections("svc", &link);
    c->get_table("t").put("acked", "1");
    c->commit();
    link.down = true;
    c->get_table("t").put("not acked", "2");
    EXPECT_THROW(c->commit(), state_error);
    EXPECT_EQ(c->committed_seq(), 1u);
    // Reads still see the pending write; nothing of it is durable anywhere.
    EXPECT_EQ(c->get_table("t").get("not acked").value(), "2");
    EXPECT_EQ(backup->contents("svc").tables.at("t").count("not acked"), 0u);
  }
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto c = primary->open_collections("svc");
  EXPECT_EQ(c->get_table("t").get("acked").value(), "1");
  EXPECT_FALSE(c->get_table("t").get("not acked").has_value());
}

TEST(Replication, ACommitRetriedAfterTheBackupCameBackSucceeds) {
  temp_dir d1, d2;
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto backup = rocksdb_store::open(d2.path(), fast());
  flaky_backup link(*backup);
  auto c = primary->open_collections("svc", &link);
  write_some(*c, 0, 30);
  link.down = true;
  c->get_table("t").put("late", "x");
  EXPECT_THROW(c->commit(), state_error);
  link.down = false;
  c->commit();
  EXPECT_TRUE(test::same(primary->contents("svc"), backup->contents("svc")));
  EXPECT_EQ(backup->contents("svc").tables.at("t").at("late"), "x");
}

// The backup applied the batch but its reply was lost: the primary did not acknowledge, keeps
// writing, and the next commit finds the backup one batch ahead. It must not apply the new
// batch on top of that (the histories differ): it takes the full state first.
TEST(Replication, ALostReplyNeverMixesHistories) {
  temp_dir d1, d2;
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto backup = rocksdb_store::open(d2.path(), fast());
  flaky_backup link(*backup);
  auto c = primary->open_collections("svc", &link);
  write_some(*c, 0, 20);
  c->get_table("t").put("x", "applied on the backup only");
  link.lose_reply = true;
  EXPECT_THROW(c->commit(), state_error);
  c->get_table("t").erase("x");
  c->get_table("t").put("y", "later");
  c->commit();
  EXPECT_EQ(link.full_state_requests, 1);
  auto want = primary->contents("svc");
  auto got = backup->contents("svc");
  EXPECT_TRUE(test::same(want, got)) << test::first_difference(want, got);
  EXPECT_EQ(got.tables.at("t").count("x"), 0u);
}

// A primary that restarts loses its uncommitted writes; a backup that applied the last
// (unacknowledged) batch is then ahead and must be brought back to the primary's state.
TEST(Replication, APrimaryRestartResynchronisesABackupThatWasAhead) {
  temp_dir d1, d2;
  auto backup = rocksdb_store::open(d2.path(), fast());
  flaky_backup link(*backup);
  {
    auto primary = rocksdb_store::open(d1.path(), fast());
    auto c = primary->open_collections("svc", &link);
    write_some(*c, 0, 20);
    c->get_table("t").put("ghost", "1");
    link.lose_reply = true;
    EXPECT_THROW(c->commit(), state_error);
  }
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto c = primary->open_collections("svc", &link);
  c->get_table("t").put("after restart", "1");
  c->commit();
  auto got = backup->contents("svc");
  EXPECT_TRUE(test::same(primary->contents("svc"), got));
  EXPECT_EQ(got.tables.at("t").count("ghost"), 0u);
}

TEST(Replication, ANewBackupGetsTheFullState) {
  temp_dir d1, d2;
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto c = primary->open_collections("svc");
  write_some(*c, 0, 200);
  auto backup = rocksdb_store::open(d2.path(), fast());
  flaky_backup link(*backup);
  c->set_backup(&link);
  c->resync_backup();
  EXPECT_TRUE(test::same(primary->contents("svc"), backup->contents("svc")));
  write_some(*c, 200, 230);
  EXPECT_TRUE(test::same(primary->contents("svc"), backup->contents("svc")));
  EXPECT_EQ(link.full_state_requests, 0);
}

TEST(Replication, APromotedBackupServesEverythingAndFencesTheOldPrimary) {
  temp_dir d1, d2, d3;
  auto backup = rocksdb_store::open(d2.path(), fast());
  in_process_backup link(*backup);
  snapshot_contents acked;
  {
    auto primary = rocksdb_store::open(d1.path(), fast());
    auto c = primary->open_collections("svc", &link);
    write_some(*c, 0, 300);
    acked = primary->contents("svc");
  }  // the primary's node is gone
  EXPECT_THROW(backup->open_collections("svc"), state_error);  // a replica until promoted
  backup->promote("svc");
  {
    auto c = backup->open_collections("svc");
    EXPECT_TRUE(test::same(acked, decode_snapshot(c->export_portable_snapshot())));
    for (int i = 0; i < 300; ++i) {
      if (acked.tables.at("t").count("k" + std::to_string(i))) {
        EXPECT_EQ(c->get_table("t").get("k" + std::to_string(i)).value(), "v" + std::to_string(i));
      }
    }
    // The old primary comes back and tries to replicate: refused.
    auto old_primary = rocksdb_store::open(d1.path(), fast());
    in_process_backup stale_link(*backup);
    auto old = old_primary->open_collections("svc", &stale_link);
    old->get_table("t").put("split brain", "!");
    EXPECT_THROW(old->commit(), state_error);
    // The new primary gets a new backup and goes on.
    auto third = rocksdb_store::open(d3.path(), fast());
    in_process_backup new_link(*third);
    c->set_backup(&new_link);
    c->get_table("t").put("after failover", "1");
    c->commit();
    EXPECT_TRUE(test::same(backup->contents("svc"), third->contents("svc")));
  }
}

TEST(Replication, ImportReachesTheBackupBeforeItReturns) {
  temp_dir d1, d2, d3;
  auto src = rocksdb_store::open(d1.path(), fast());
  auto sc = src->open_collections("svc");
  write_some(*sc, 0, 100);
  auto snap = sc->export_snapshot();
  auto dst = rocksdb_store::open(d2.path(), fast());
  auto bak = rocksdb_store::open(d3.path(), fast());
  flaky_backup link(*bak);
  auto dc = dst->open_collections("svc", &link);
  dc->import_snapshot(snap);
  EXPECT_TRUE(test::same(src->contents("svc"), bak->contents("svc")));
  link.down = true;
  auto before = dst->contents("svc");
  EXPECT_THROW(dc->import_snapshot(dc->export_portable_snapshot()), state_error);
  EXPECT_TRUE(test::same(before, dst->contents("svc")));
  link.down = false;
  dc->get_table("t").put("z", "1");
  dc->commit();
  EXPECT_TRUE(test::same(dst->contents("svc"), bak->contents("svc")));
}

// Instances on one node commit from their own threads, and one backup node applies for all of
// them at once: every backup equals its primary.
TEST(Replication, ConcurrentInstancesShareOneStoreAndOneBackup) {
  temp_dir d1, d2;
  auto primary = rocksdb_store::open(d1.path(), fast());
  auto backup = rocksdb_store::open(d2.path(), fast());
  in_process_backup link(*backup);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto c = primary->open_collections("svc" + std::to_string(t), &link);
      write_some(*c, t * 1000, t * 1000 + 300);
    });
  for (auto& th : threads)
    th.join();
  for (int t = 0; t < 4; ++t) {
    auto name = "svc" + std::to_string(t);
    auto want = primary->contents(name);
    auto got = backup->contents(name);
    EXPECT_TRUE(test::same(want, got)) << name << ": " << test::first_difference(want, got);
  }
  EXPECT_EQ(backup->instances().size(), 4u);
}

// ---- the message format ----------------------------------------------------------------------

namespace {

/// One real batch message and the backup it applies to.
struct message_fixture {
  temp_dir d1, d2;
  std::unique_ptr<rocksdb_store> primary, backup;
  std::unique_ptr<flaky_backup> link;
  std::unique_ptr<rocksdb_collections> c;
  message_fixture() {
    primary = rocksdb_store::open(d1.path(), fast());
    backup = rocksdb_store::open(d2.path(), fast());
    link = std::make_unique<flaky_backup>(*backup);
    c = primary->open_collections("svc", link.get());
    c->get_table("t").put("k", "v");
    c->commit();
    c->get_table("t").put("k2", "v2");
    link->down = true;
    EXPECT_THROW(c->commit(), state_error);
  }
  const std::string& batch_message() const { return link->messages.back(); }
};

}  // namespace

TEST(ReplicationMessage, EveryTruncationAndEveryByteFlipIsRejected) {
  message_fixture f;
  const auto& m = f.batch_message();
  for (std::size_t n = 0; n < m.size(); ++n)
    EXPECT_THROW(f.backup->apply_replica("svc", std::string_view(m).substr(0, n)), state_error) << n;
  EXPECT_THROW(f.backup->apply_replica("svc", m + "x"), state_error);
  for (std::size_t i = 0; i < m.size(); ++i) {
    auto bad = m;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    EXPECT_THROW(f.backup->apply_replica("svc", bad), state_error) << "byte " << i;
  }
  EXPECT_EQ(f.backup->apply_replica("svc", m), replica_reply::applied);
  EXPECT_EQ(f.backup->contents("svc").tables.at("t").at("k2"), "v2");
}

TEST(ReplicationMessage, ErrorsNameTheOffsetOrTheInstance) {
  message_fixture f;
  try {
    f.backup->apply_replica("svc", std::string_view(f.batch_message()).substr(0, 10));
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
  }
  try {
    f.backup->apply_replica("other", f.batch_message());
    FAIL();
  } catch (const state_error& e) {
    EXPECT_NE(std::string(e.what()).find("'svc' delivered as 'other'"), std::string::npos) << e.what();
  }
}

// Well-sealed messages whose batch does something a primary never sends are refused.
TEST(ReplicationMessage, BatchesWithForeignRecordsAreRefused) {
  message_fixture f;
  auto m = rdb::decode_message(f.batch_message());
  auto with_batch = [&](rocksdb::WriteBatch& b) {
    rdb::repl_message x = m;
    std::string data = b.Data();
    x.payload = data;
    return rdb::encode_message(x);
  };
  auto state_put = [&](rocksdb::WriteBatch& b) {
    ASSERT_TRUE(b.Put(rdb::state_key(), rdb::encode_state(m.next)).ok());
  };
  {
    rocksdb::WriteBatch b;
    state_put(b);
    ASSERT_TRUE(b.Merge("Tx", "y").ok());
    EXPECT_THROW(f.backup->apply_replica("svc", with_batch(b)), state_error);
  }
  {
    rocksdb::WriteBatch b;
    state_put(b);
    ASSERT_TRUE(b.Put("zzz", "not an instance record").ok());
    EXPECT_THROW(f.backup->apply_replica("svc", with_batch(b)), state_error);
  }
  {
    rocksdb::WriteBatch b;  // no state record
    ASSERT_TRUE(b.Put(rdb::table_key(rdb::entry_prefix('T', "t"), "k"), "v").ok());
    EXPECT_THROW(f.backup->apply_replica("svc", with_batch(b)), state_error);
  }
  {
    rocksdb::WriteBatch b;
    state_put(b);
    ASSERT_TRUE(b.DeleteRange("A", "U").ok());
    EXPECT_THROW(f.backup->apply_replica("svc", with_batch(b)), state_error);
  }
  {
    rdb::repl_message x = m;
    std::string junk = "this is not a write batch at all";
    x.payload = junk;
    EXPECT_THROW(f.backup->apply_replica("svc", rdb::encode_message(x)), state_error);
  }
  EXPECT_EQ(f.backup->apply_replica("svc", f.batch_message()), replica_reply::applied);
}
