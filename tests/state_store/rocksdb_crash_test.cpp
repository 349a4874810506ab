// Crash tests: a child process commits a stream of writes (primary plus in-process backup),
// reporting each acknowledged commit over a pipe; the parent kill -9's it at a seeded random
// point, reopens both stores, and finds every acknowledged commit present, no partly applied
// commit, and the backup at most one commit ahead of the primary.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "state_store/rocksdb_store.hpp"
#include "tests/state_store/crash_workload.hpp"
#include "tests/state_store/test_util.hpp"

extern char** environ;

using namespace e3::state;
using e3::state::test::temp_dir;

namespace {

struct crash_result {
  std::uint64_t last_ack = 0;
  bool killed = false;
};

/// Runs the crash writer and kills it right after `kill_after` acknowledgements plus
/// `extra_spin_us` microseconds; returns the last commit it acknowledged.
crash_result run_and_kill(const std::string& primary, const std::string& backup, std::uint64_t seed,
                          bool sync, std::uint64_t kill_after, int extra_spin_us) {
  int fds[2];
  if (::pipe(fds) != 0)
    throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<std::string> args{E3_CRASH_WRITER, primary, backup, std::to_string(seed), sync ? "1" : "0",
                                "100000"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, E3_CRASH_WRITER, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0)
    throw std::runtime_error("posix_spawn failed");
  crash_result r;
  auto read_ack = [&]() {
    std::uint64_t v = 0;
    std::size_t got = 0;
    while (got < sizeof v) {
      auto n = ::read(fds[0], reinterpret_cast<char*>(&v) + got, sizeof v - got);
      if (n <= 0)
        return false;
      got += static_cast<std::size_t>(n);
    }
    r.last_ack = v;
    return true;
  };
  while (r.last_ack < kill_after && read_ack()) {
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(extra_spin_us);
  while (std::chrono::steady_clock::now() < until) {
  }
  r.killed = ::kill(pid, SIGKILL) == 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  while (read_ack()) {  // acknowledgements written before it died count
  }
  ::close(fds[0]);
  return r;
}

void check_after_crash(const temp_dir& d, std::uint64_t seed, bool sync, std::uint64_t kill_after, int spin) {
  auto r = run_and_kill(d / "primary", d / "backup", seed, sync, kill_after, spin);
  SCOPED_TRACE("seed " + std::to_string(seed) + ", last acknowledged commit " + std::to_string(r.last_ack));
  ASSERT_GE(r.last_ack, kill_after);
  auto primary = rocksdb_store::open(d / "primary");
  auto backup = rocksdb_store::open(d / "backup");
  auto pi = primary->instances();
  auto bi = backup->instances();
  ASSERT_EQ(pi.size(), 1u);
  ASSERT_EQ(bi.size(), 1u);
  auto lp = pi[0].seq, lb = bi[0].seq;
  // Every acknowledged commit is on both; at most the one in flight is beyond it, and the
  // backup (written first) is never behind the primary.
  EXPECT_GE(lp, r.last_ack);
  EXPECT_LE(lp, r.last_ack + 1);
  EXPECT_GE(lb, lp);
  EXPECT_LE(lb, lp + 1);
  // Whole commits only: the contents are exactly those after commits 1..seq.
  auto want_p = test::reference_contents(seed, lp);
  auto got_p = primary->contents("svc");
  EXPECT_TRUE(test::same(want_p, got_p)) << "primary: " << test::first_difference(want_p, got_p);
  auto want_b = test::reference_contents(seed, lb);
  auto got_b = backup->contents("svc");
  EXPECT_TRUE(test::same(want_b, got_b)) << "backup: " << test::first_difference(want_b, got_b);
  // And the primary takes writes again (its backup resynchronises if it was ahead).
  in_process_backup link(*backup);
  auto c = primary->open_collections("svc", &link);
  test::apply_commit(*c, seed, lp + 1);
  c->commit();
  EXPECT_TRUE(test::same(primary->contents("svc"), backup->contents("svc")));
}

}  // namespace

TEST(CrashConsistency, KillNineWithSyncedCommitsLosesNoAcknowledgedWrite) {
  std::mt19937_64 rng(1001);
  for (int run = 0; run < 3; ++run) {
    temp_dir d;
    auto seed = rng();
    check_after_crash(d, seed, true, 1 + rng() % 40, static_cast<int>(rng() % 6000));
  }
}

// sync = false promises survival of a process crash (not of a machine crash): kill -9 is one.
TEST(CrashConsistency, KillNineWithUnsyncedCommitsLosesNoAcknowledgedWrite) {
  std::mt19937_64 rng(2002);
  for (int run = 0; run < 3; ++run) {
    temp_dir d;
    auto seed = rng();
    check_after_crash(d, seed, false, 1 + rng() % 400, static_cast<int>(rng() % 3000));
  }
}
