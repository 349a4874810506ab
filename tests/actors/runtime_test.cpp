// The emulated cluster end to end: small apps through real actors and real links, per-link
// message counts against the placement, malformed input, and every fault a tester can inject.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "actors/local_context.hpp"
#include "actors/runtime.hpp"
#include "tests/actors/cluster_test_util.hpp"
#include "actors/wire.hpp"
#include "apps/manifest.hpp"
#include "services/services.hpp"

using namespace e3;
using namespace std::chrono_literals;

namespace {

using test::registry;

// count (2 shards) → ema (2 shards): both stateful, one backup each.
sched::app_spec small_app(int replicas = 1, bool second_on_host = false) {
  return apps::parse_manifest(R"(app: small
rate_rps: 1000
services:
  - {name: a, kind: count, shards: 2, replicas: )" + std::to_string(replicas) +
                                  R"(, memory_mb: 10, cpu: 0.05, params: {input: record}}
  - {name: b, kind: ema, shards: 2, replicas: )" + std::to_string(replicas) +
                                  R"(, memory_mb: 10, cpu: 0.05)" +
                                  (second_on_host ? ", constraints: [host_only]" : "") + R"(}
channels:
  - {from: a, to: b}
entry: [a]
)",
                              "small.yaml");
}

rt::runtime_options options() {
  rt::runtime_options o;
  o.dilation = 20;
  o.restart_intensity = 3;
  o.restart_period = 60s;
  return o;
}

// Sends `n` record requests with keys 0..n-1, one at a time, and waits for each.
struct sender {
  rt::cluster_runtime& rt;
  rt::client& c;
  std::vector<rt::completion> done;
  std::vector<std::uint64_t> ids;

  bytes record(std::uint64_t key) {
    std::mt19937_64 rng(key);
    return registry().at("ema").synthetic_request(128, rng);  // a record (count runs with input=record)
  }
  // Returns once every request sent so far is accounted for (or the wall timeout passes).
  void wait_all(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (c.outstanding() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    c.drain(done);
  }
  void send(std::uint64_t n, std::uint64_t first_key = 0) {
    for (std::uint64_t k = first_key; k < first_key + n; ++k)
      ids.push_back(c.send(0, k, record(k)));
    wait_all();
  }
  std::size_t completed_ok() const {
    std::size_t ok = 0;
    for (const auto& d : done)
      ok += !d.lost && !d.error;
    return ok;
  }
};

}  // namespace

TEST(Runtime, SmallAppEveryRequestIsAnsweredAndNoneLost) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  EXPECT_EQ(dep.dag.nodes.size(), 8u);
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(300);
  EXPECT_EQ(s.done.size(), 300u);
  EXPECT_EQ(s.completed_ok(), 300u);
  EXPECT_EQ(c->lost(), 0u);
  EXPECT_EQ(c->outstanding(), 0u);
  for (const auto& d : s.done)
    EXPECT_GT(d.latency_ns, 0);
  std::uint64_t handled = 0, decode_errors = 0, undeliverable = 0;
  for (const auto& t : rt.totals()) {
    handled += t.handled;
    decode_errors += t.decode_errors;
    undeliverable += t.undeliverable;
  }
  EXPECT_EQ(handled, 600u);  // two hops per request
  EXPECT_EQ(decode_errors, 0u);
  EXPECT_EQ(undeliverable, 0u);
}

TEST(Runtime, PerLinkMessageCountsMatchThePlacement) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(200);
  ASSERT_EQ(s.completed_ok(), 200u);
  // Predict every message's link from the placement: client → entry instance's ingress
  // (network); the hop a → b (local, PCIe or network by the two locations); on a server with a
  // SmartNIC, network traffic for its host crosses the card's traffic manager and then PCIe.
  const auto& cl = rt.cluster();
  rt::router r(cl, dep.app, dep.dag, dep.placement.node_of, 0);
  std::array<std::uint64_t, rt::link_kind_count> want{};
  auto via_network = [&](topo::node_id to) {
    ++want[std::size_t(rt::link_kind::zmq)];
    const auto& n = cl.node(to);
    if (n.kind == topo::node_kind::host && !cl.servers()[std::size_t(n.server)].smartnics.empty())
      ++want[std::size_t(rt::link_kind::pcie)];  // forwarded by the traffic manager
  };
  for (std::size_t i = 0; i < s.ids.size(); ++i) {
    std::uint64_t key = i;
    auto a = r.entry_instance(0, key);
    // The client's own send is not a node's; a traffic manager forwarding it to its host is.
    const auto& entry_node = cl.node(dep.placement.node_of[a]);
    if (entry_node.kind == topo::node_kind::host && !cl.servers()[std::size_t(entry_node.server)].smartnics.empty())
      ++want[std::size_t(rt::link_kind::pcie)];
    std::vector<rt::route> dests;
    r.destinations(a, key, s.ids[i], dests);
    ASSERT_EQ(dests.size(), 1u);
    auto from = dep.placement.node_of[a], to = dests[0].node;
    auto k = rt::link_between(cl, from, to);
    if (k == rt::link_kind::zmq)
      via_network(to);
    else
      ++want[std::size_t(k)];
    ++want[std::size_t(rt::link_kind::zmq)];  // the completion back to the client
  }
  std::array<std::uint64_t, rt::link_kind_count> got{};
  for (const auto& t : rt.totals())
    for (std::size_t k = 0; k < rt::link_kind_count; ++k)
      got[k] += t.sent[k];
  EXPECT_EQ(got, want);
}

TEST(Runtime, AnUnimplementedKindIsRefusedByName) {
  service_registry partial;
  auto full_count = registry().at("count");
  partial.add(full_count);
  rt::cluster_runtime rt(options(), partial);
  try {
    rt.deploy(small_app());
    FAIL() << "deployed an app with an unimplemented kind";
  } catch (const unknown_kind& e) {
    EXPECT_NE(std::string(e.what()).find("'ema'"), std::string::npos) << e.what();
  }
}

TEST(Runtime, MalformedFramesAreCountedAndHarmless) {
  rt::cluster_runtime rt(options(), registry());
  rt.deploy(small_app());
  topo::node_id nic = rt.cluster().servers()[0].smartnics[0];
  std::vector<std::uint8_t> junk = {1, 2, 3};
  rt.inject_frame(nic, junk);
  wire::header h;
  h.dag_node = 0;
  std::vector<std::uint8_t> good;
  wire::encode(h, {}, good);
  good[4] = 9;  // bad version
  rt.inject_frame(nic, good);
  good.resize(good.size() + 5);  // payload length mismatch
  rt.inject_frame(nic, good);
  std::uint64_t errors = 0;
  for (const auto& t : rt.totals())
    errors += t.decode_errors;
  EXPECT_EQ(errors, 3u);
  // The cluster still serves.
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(20);
  EXPECT_EQ(s.completed_ok(), 20u);
}

TEST(RuntimeFaults, KillInstanceRestartsItAndServiceContinues) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(20);
  rt.inject({rt::fault::kind::kill_instance, 0});
  // Wait for the supervisor's restart.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto restarts = [&] {
    for (const auto& i : rt.instances())
      if (i.instance == 0)
        return i.restarts;
    return std::uint64_t(0);
  };
  while (restarts() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(restarts(), 1u);
  bool seen = false;
  for (const auto& e : rt.supervisor_events())
    seen |= e.find("i0") != std::string::npos && e.find("restarted") != std::string::npos;
  EXPECT_TRUE(seen);
  s.done.clear();
  s.send(40, 100);
  EXPECT_EQ(s.completed_ok(), 40u);
  (void)dep;
}

TEST(RuntimeFaults, RestartsBeyondTheIntensityEscalateToTheNode) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  auto node = dep.placement.node_of[0];
  auto node_restarts = [&] { return rt.totals()[node].restarts; };
  auto inst_restarts = [&] {
    for (const auto& i : rt.instances())
      if (i.instance == 0)
        return i.restarts;
    return std::uint64_t(0);
  };
  // Intensity 3: the 4th kill within the period makes the node supervisor give up; the server
  // supervisor restarts the node (and with it the instance).
  for (int k = 0; k < 4; ++k) {
    auto before = inst_restarts();
    rt.inject({rt::fault::kind::kill_instance, 0});
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (inst_restarts() == before && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (node_restarts() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(node_restarts(), 1u);
  bool escalated = false;
  for (const auto& e : rt.supervisor_events())
    escalated |= e.find("escalated") != std::string::npos;
  EXPECT_TRUE(escalated);
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(20);
  EXPECT_EQ(s.completed_ok(), 20u);
}

TEST(RuntimeFaults, CrashNodeRestartsTheNodeAndItsInstances) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  auto node = dep.placement.node_of[0];
  rt.inject({rt::fault::kind::crash_node, node});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rt.totals()[node].restarts == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(rt.totals()[node].restarts, 1u);
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  deadline = std::chrono::steady_clock::now() + 10s;
  // Instances come back under the restarted node supervisor.
  s.send(30);
  EXPECT_EQ(s.completed_ok(), 30u);
}

TEST(RuntimeFaults, PowerOffMovesEveryShardToItsBackup) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app());
  int server = rt.cluster().node(dep.placement.node_of[0]).server;
  rt.inject({rt::fault::kind::power_off, std::uint32_t(server)});
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(100);
  // Every shard that lived on the powered-off server is served by its backup elsewhere.
  EXPECT_EQ(s.completed_ok(), 100u);
  for (const auto& i : rt.instances()) {
    if (i.requests == 0)
      continue;
    EXPECT_NE(rt.cluster().node(i.node).server, server) << "instance " << i.instance;
  }
  bool stopped = false;
  for (const auto& e : rt.supervisor_events())
    stopped |= e.find("server" + std::to_string(server)) != std::string::npos && e.find("stopped") != std::string::npos;
  EXPECT_TRUE(stopped);
}

TEST(RuntimeFaults, CutLinkRefusesAndCountsThenRestoreHeals) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app(0, true));  // b on a host: a link between the stages
  // Cut every link between the nodes of the two stages.
  std::set<topo::node_id> a, b;
  for (std::uint32_t i = 0; i < 2; ++i)
    a.insert(dep.placement.node_of[i]);
  for (std::uint32_t i = 2; i < 4; ++i)
    b.insert(dep.placement.node_of[i]);
  bool any_cut = false;
  for (auto x : a)
    for (auto y : b)
      if (x != y) {
        rt.inject({rt::fault::kind::cut_link, x, y});
        any_cut = true;
      }
  ASSERT_TRUE(any_cut) << "the host-only stage must run on another node";
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(50);
  std::uint64_t cut = 0;
  for (const auto& t : rt.totals())
    cut += t.link_cut;
  EXPECT_GT(cut, 0u);
  EXPECT_EQ(s.done.size(), 50u);  // every request accounted for: cut ones come back as lost
  EXPECT_EQ(s.completed_ok() + c->lost(), 50u);
  EXPECT_GT(c->lost(), 0u);
  for (auto x : a)
    for (auto y : b)
      if (x != y)
        rt.inject({rt::fault::kind::restore_link, x, y});
  s.done.clear();
  s.send(50, 1000);
  EXPECT_EQ(s.completed_ok(), 50u);
}

TEST(RuntimeFaults, SlowNodeStretchesEmulatedExecutionTime) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app(0));
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(200);
  auto node = dep.placement.node_of[0];
  auto busy_per_msg = [&] {
    auto t = rt.totals()[node];
    return double(t.busy_ns) / double(std::max<std::uint64_t>(1, t.handled));
  };
  auto before_busy = rt.totals()[node].busy_ns;
  auto before_n = rt.totals()[node].handled;
  (void)busy_per_msg;
  rt.inject({rt::fault::kind::slow_node, node, 0, 50.0});
  s.send(200, 5000);
  auto t = rt.totals()[node];
  double slow = double(t.busy_ns - before_busy) / double(t.handled - before_n);
  double fast = double(before_busy) / double(before_n);
  EXPECT_GT(slow, 10 * fast);  // 50x slower cores, less noise from this machine's CPU timing
  EXPECT_THROW(rt.inject({rt::fault::kind::slow_node, node, 0, 0.5}), std::invalid_argument);
}

TEST(RuntimeFaults, DropShareLosesThatShareVisibly) {
  rt::cluster_runtime rt(options(), registry());
  const auto& dep = rt.deploy(small_app(0));
  // Drop 30 % of what the first stage's nodes send (their hop to b and their completions).
  std::set<topo::node_id> a;
  for (std::uint32_t i = 0; i < 2; ++i)
    a.insert(dep.placement.node_of[i]);
  for (auto n : a)
    rt.inject({rt::fault::kind::drop_share, n, 0, 0.3});
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  for (int i = 0; i < 400; ++i)
    s.ids.push_back(c->send(0, std::uint64_t(i), s.record(std::uint64_t(i))));
  // A message dropped on its way is reported lost by its sender, or, when that report is
  // dropped too, never answered: the client gives up on what is left once traffic has stopped.
  std::size_t last = SIZE_MAX;
  while (c->outstanding() != last) {
    last = c->outstanding();
    std::this_thread::sleep_for(300ms);
  }
  c->expire(0);
  c->drain(s.done);
  std::uint64_t dropped = 0;
  for (const auto& t : rt.totals())
    dropped += t.link_dropped;
  EXPECT_GT(dropped, 50u);
  EXPECT_EQ(s.completed_ok() + c->lost(), 400u);
  EXPECT_GT(c->lost(), 50u);
  EXPECT_THROW(rt.inject({rt::fault::kind::drop_share, 0, 0, 1.5}), std::invalid_argument);
}

TEST(Runtime, HealthReportsReachTheController) {
  auto o = options();
  o.health_interval_ns = 1'000'000;  // 1 ms emulated = 20 ms wall
  rt::cluster_runtime rt(o, registry());
  rt.deploy(small_app());
  auto c = rt.connect_client();
  sender s{rt, *c, {}, {}};
  s.send(50);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<rt::health_report> h;
  while (std::chrono::steady_clock::now() < deadline) {
    h = rt.health();
    if (h.size() == rt.cluster().nodes().size())
      break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(h.size(), rt.cluster().nodes().size());
  std::size_t instances = 0;
  for (const auto& r : h)
    instances += r.instances.size();
  EXPECT_EQ(instances, 8u);
}
