// Reliable collections on RocksDB in the running cluster (runtime_options::state_dir): every
// acknowledged write is on the shard's backup in another fault domain, so a failover loses no
// acknowledged write; a crashed node comes back with what it committed; a migration moves the
// shard's data from one node's store to another's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "actors/runtime.hpp"
#include "tests/actors/cluster_test_util.hpp"
#include "apps/manifest.hpp"
#include "services/common/record.hpp"
#include "services/services.hpp"

using namespace e3;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::record_bytes;
using test::registry;
using test::wait_idle;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "e3-durable-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { fs::remove_all(path); }
};

rt::runtime_options options(const fs::path& dir) {
  rt::runtime_options o;
  o.dilation = 20;
  o.restart_intensity = 3;
  o.restart_period = 60s;
  o.state_dir = dir.string();
  return o;
}

sched::app_spec kv_app() {
  return apps::parse_manifest(R"(app: kv
rate_rps: 1000
services:
  - {name: kvs, kind: kvs, shards: 2, replicas: 1, memory_mb: 64, cpu: 0.05}
entry: [kvs]
)",
                              "kv.yaml");
}

std::string value_of(std::uint64_t k) { return "value-" + std::to_string(k * 7919); }

// Puts keys 0..n-1 and checks every put was acknowledged.
void put_keys(rt::client& c, std::uint64_t n) {
  for (std::uint64_t k = 0; k < n; ++k) {
    c.send(0, k, record_bytes(2, k, "key-" + std::to_string(k), value_of(k)));
    if (k % 200 == 199)
      wait_idle(c);
  }
  wait_idle(c);
  std::vector<rt::completion> done;
  c.drain(done);
  ASSERT_EQ(done.size(), n);
  for (const auto& d : done)
    ASSERT_FALSE(d.lost);
}

// Gets keys 0..n-1: how many came back with their value.
std::size_t hits(rt::client& c, std::uint64_t n) {
  for (std::uint64_t k = 0; k < n; ++k) {
    c.send(0, k, record_bytes(1, k, "key-" + std::to_string(k)));
    if (k % 200 == 199)
      wait_idle(c);
  }
  wait_idle(c);
  std::vector<rt::completion> done;
  c.drain(done);
  std::size_t ok = 0;
  for (const auto& d : done) {
    if (d.lost || d.reply.empty())
      continue;
    auto r = services::decode_record(d.reply);
    ok += r.op == 1 && r.aux == value_of(r.key);
  }
  return ok;
}

}  // namespace

TEST(DurableState, EveryNodeGetsItsOwnStoreFolder) {
  temp_dir dir;
  rt::cluster_runtime rt(options(dir.path), registry());
  for (const auto& n : rt.cluster().nodes()) {
    auto name = n.name;
    std::replace(name.begin(), name.end(), '/', '-');
    EXPECT_TRUE(fs::is_directory(dir.path / name)) << name;
  }
}

TEST(DurableState, FailoverToTheBackupLosesNoAcknowledgedWrite) {
  temp_dir dir;
  rt::cluster_runtime rt(options(dir.path), registry());
  const auto& dep = rt.deploy(kv_app());
  auto c = rt.connect_client();
  put_keys(*c, 600);
  // Power off the server of shard 0's primary: its backup, in another fault domain, takes over
  // from the state the primary replicated to it before acknowledging each put.
  int server = rt.cluster().node(dep.placement.node_of[0]).server;
  rt.inject({rt::fault::kind::power_off, std::uint32_t(server)});
  auto c2 = rt.connect_client();
  EXPECT_EQ(hits(*c2, 600), 600u);
  bool backup_served = false;
  for (const auto& i : rt.instances())
    backup_served |= dep.dag.nodes[i.instance].replica_of >= 0 && i.requests > 0;
  EXPECT_TRUE(backup_served) << "no backup answered: the failover did not happen";
}

TEST(DurableState, ACrashedNodeComesBackWithWhatItCommitted) {
  temp_dir dir;
  rt::cluster_runtime rt(options(dir.path), registry());
  const auto& dep = rt.deploy(kv_app());
  auto c = rt.connect_client();
  put_keys(*c, 400);
  auto node = dep.placement.node_of[0];
  rt.inject({rt::fault::kind::crash_node, node});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rt.totals()[node].restarts == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(rt.totals()[node].restarts, 1u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(hits(*c, 400), 400u);
}

TEST(DurableState, MigrationMovesTheShardIntoTheDestinationsStore) {
  temp_dir dir;
  rt::cluster_runtime rt(options(dir.path), registry());
  const auto& dep = rt.deploy(kv_app());
  auto c = rt.connect_client();
  put_keys(*c, 1000);
  std::this_thread::sleep_for(100ms);
  auto from = dep.placement.node_of[0];
  auto before = rt.export_state(from, 0);
  const auto& s = rt.cluster().servers()[std::size_t(rt.cluster().node(from).server)];
  auto to = s.host != from ? s.host : s.smartnics.at(0);
  auto r = rt.migrate(0, to);
  ASSERT_EQ(r.outcome, "completed") << r.reason;
  EXPECT_GT(r.keys, 0u);
  EXPECT_EQ(rt.export_state(to, 0), before) << "the moved state differs";
  EXPECT_EQ(hits(*c, 1000), 1000u);
}

TEST(DurableState, AStateDirThatIsAFileIsRefusedNamingIt) {
  temp_dir dir;
  auto file = dir.path / "not-a-dir";
  std::ofstream(file) << "x";
  try {
    rt::cluster_runtime rt(options(file), registry());
    FAIL() << "a file as the state directory was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}
