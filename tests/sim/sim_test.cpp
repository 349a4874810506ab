// The simulator end to end: an M/M/12 node against Erlang C, Fig. 3's link latency ratios as
// requests see them, conservation of requests, determinism, Little's law in a closed loop, the
// heartbeat path to the real orchestrator, a migration triggered by an overloaded SmartNIC, and
// placement by every algorithm.
#include <gtest/gtest.h>

#include <cmath>

#include "apps/manifest.hpp"
#include "sim/sim.hpp"

namespace {

using namespace e3;

constexpr std::int64_t ms = 1'000'000;

// An app of `kinds` in a chain, one shard each (no replicas), 1-byte requests.
sched::app_spec chain(const std::vector<std::string>& kinds, double rate = 1000) {
  sched::app_spec s;
  s.name = "chain";
  s.rate_rps = rate;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    sched::service_spec v;
    v.name = kinds[i] + std::to_string(i);
    v.kind = kinds[i];
    v.memory_mb = 8;
    v.cpu = 0.01;
    v.request_bytes = 1;
    s.services.push_back(v);
    if (i > 0)
      s.channels.push_back({i - 1, i, 1.0});
  }
  s.entries = {0};
  return s;
}

sched::app_spec manifest(const std::string& name) {
  return apps::load_manifest(std::string(E3_SOURCE_DIR) + "/apps/manifests/" + name + ".yaml");
}

double erlang_c_wait(int c, double lambda, double mu) {
  double a = lambda / mu, term = 1, sum = 0;
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  double last = term * c / (c - a);
  return last / (sum + last) / (c * mu - lambda);
}

TEST(Simulator, SmartNICCoresAreAnMM12Queue) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  sim::config cfg;
  cfg.seed = 3;
  cfg.warmup_ns = 20 * ms;
  cfg.measure_ns = 500 * ms;
  cfg.heartbeats = false;
  cfg.service = sim::service_distribution::exponential;
  cfg.service_time = [](const std::string&, const topo::compute_node&, double) { return 10.0; };  // µs
  sim::simulator s(c, cfg);
  double lambda = 0.85 * 12 / 10e-6;
  s.add_app(chain({"nat"}), {sim::arrivals::open_poisson, lambda});
  auto node = s.placement(0).node_of[0];
  ASSERT_EQ(c.node(node).kind, topo::node_kind::smartnic);
  ASSERT_EQ(c.node(node).cores, 12);
  auto r = s.run();
  double expect_us = erlang_c_wait(12, lambda, 1e5) * 1e6;
  EXPECT_NEAR(r.nodes[node].mean_wait_us / expect_us, 1.0, 0.06)
      << "simulated " << r.nodes[node].mean_wait_us << " µs, Erlang C " << expect_us << " µs";
  EXPECT_NEAR(r.nodes[node].utilisation, 0.85, 0.01);
  EXPECT_NEAR(r.apps[0].throughput_rps / lambda, 1.0, 0.01);
}

// Round-trip time of the path between nodes x and y as requests see it: the latency of a→b→c
// with a and c on x and b on y, minus that of a→c both on x, plus the local hop it replaced.
double path_rtt_us(const topo::cluster& c, topo::node_id x, topo::node_id y, std::int64_t tm_ns = 0) {
  auto latency = [&](const std::vector<topo::node_id>& at) {
    sim::config cfg;
    cfg.warmup_ns = 0;
    cfg.measure_ns = 50 * ms;
    cfg.heartbeats = false;
    cfg.traffic_manager_ns = tm_ns;
    cfg.wire_overhead_bytes = 0;
    cfg.service_time = [](const std::string&, const topo::compute_node&, double) { return 0.0; };
    sim::simulator s(c, cfg);
    sched::placement p;
    p.algo = "hand";
    p.node_of = at;
    s.add_app(chain(std::vector<std::string>(at.size(), "nat")), p, {sim::arrivals::open_poisson, 200});
    auto r = s.run();
    EXPECT_GT(r.apps[0].measured, 3u);
    EXPECT_EQ(r.apps[0].latency_p99_us, r.apps[0].latency_p50_us);  // no queueing: every request alike
    return r.apps[0].latency_mean_us;
  };
  return latency({x, y, x}) - latency({x, x}) + c.one_way_latency_us(x, x);
}

TEST(Simulator, LinksFollowFig3Ratios) {
  auto beefy = topo::cluster::preset("3xBeefy");
  auto t1 = topo::cluster::preset("3xType1-SmartNIC");
  const auto& s0 = t1.servers()[0];
  const auto& s1 = t1.servers()[1];
  double host_host = path_rtt_us(beefy, beefy.servers()[0].host, beefy.servers()[1].host);
  double nic_host_pcie = path_rtt_us(t1, s0.smartnics[0], s0.host);
  double nic_nic_tor = path_rtt_us(t1, s0.smartnics[0], s1.smartnics[0]);
  EXPECT_NEAR(host_host, t1.latencies().host_host_tor_rtt_us, 1e-3);
  // Fig. 3: SmartNIC–host over PCIe and SmartNIC–SmartNIC over the ToR are 83.3 % and 86.2 %
  // lower than host–host.
  EXPECT_NEAR(1 - nic_host_pcie / host_host, 0.833, 1e-3);
  EXPECT_NEAR(1 - nic_nic_tor / host_host, 0.862, 1e-3);
  // The traffic manager adds its per-packet cost on each network packet into a SmartNIC: the
  // extra path crosses two of them (there and back).
  double with_tm = path_rtt_us(t1, s0.smartnics[0], s1.smartnics[0], 200);
  EXPECT_NEAR(with_tm - nic_nic_tor, 2 * 0.2, 1e-3);
}

TEST(Simulator, EveryRequestIsCompletedLostOrInFlight) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  for (bool drain : {true, false}) {
    sim::config cfg;
    cfg.warmup_ns = 10 * ms;
    cfg.measure_ns = 200 * ms;
    cfg.drain = drain;
    sim::simulator s(c, cfg);
    s.add_app(manifest("rta-shm"), {sim::arrivals::open_poisson, 150000});  // a share-0.1 fan-out to BM25
    auto r = s.run();
    const auto& a = r.apps[0];
    EXPECT_GT(a.generated, 20000u);
    EXPECT_EQ(a.generated, a.completed + a.lost + a.in_flight);
    EXPECT_EQ(a.lost, 0u);
    if (drain)
      EXPECT_EQ(a.in_flight, 0u);
    else
      EXPECT_GT(a.in_flight, 0u);
  }
}

sim::results migrating_run(std::uint64_t seed) {
  static const auto c = topo::cluster::preset("3xType1-SmartNIC");
  sim::config cfg;
  cfg.seed = seed;
  cfg.warmup_ns = 100 * ms;
  cfg.measure_ns = 600 * ms;
  cfg.orchestrator.hysteresis.min_dwell_ns = 0;
  sim::simulator s(c, cfg);
  s.add_app(manifest("nfv-fin"), {sim::arrivals::open_poisson, 400000});
  s.slow_node(c.servers()[0].smartnics[0], 3.0, 300 * ms);
  return s.run();
}

TEST(Simulator, SameSeedSameRun) {
  auto a = migrating_run(5), b = migrating_run(5), other = migrating_run(6);
  ASSERT_EQ(a.apps.size(), 1u);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.apps[0].generated, b.apps[0].generated);
  EXPECT_EQ(a.apps[0].completed, b.apps[0].completed);
  EXPECT_EQ(a.apps[0].latency_mean_us, b.apps[0].latency_mean_us);
  EXPECT_EQ(a.apps[0].latency_p99_us, b.apps[0].latency_p99_us);
  EXPECT_EQ(a.power_w, b.power_w);
  EXPECT_EQ(a.heartbeats.sent, b.heartbeats.sent);
  EXPECT_EQ(a.heartbeats.decide_ns.mean(), b.heartbeats.decide_ns.mean());
  ASSERT_EQ(a.migrations.size(), b.migrations.size());
  for (std::size_t i = 0; i < a.migrations.size(); ++i) {
    EXPECT_EQ(a.migrations[i].decision.instance, b.migrations[i].decision.instance);
    EXPECT_EQ(a.migrations[i].decision.at_ns, b.migrations[i].decision.at_ns);
    EXPECT_EQ(a.migrations[i].result.blackout_ns, b.migrations[i].result.blackout_ns);
  }
  for (std::size_t n = 0; n < a.nodes.size(); ++n)
    EXPECT_EQ(a.nodes[n].utilisation, b.nodes[n].utilisation);
  EXPECT_NE(a.apps[0].latency_mean_us, other.apps[0].latency_mean_us);
}

TEST(Simulator, OverloadedSmartNICMigratesAServiceToAHost) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto nic = c.servers()[0].smartnics[0];
  sim::config cfg;
  cfg.warmup_ns = 100 * ms;
  cfg.measure_ns = 600 * ms;
  cfg.orchestrator.hysteresis.min_dwell_ns = 0;
  sim::simulator s(c, cfg);
  s.add_app(manifest("nfv-fin"), {sim::arrivals::open_poisson, 400000});
  s.slow_node(nic, 3.0, 300 * ms);
  auto r = s.run();
  ASSERT_GE(r.migrations.size(), 1u);
  const auto& m = r.migrations.front();
  EXPECT_EQ(m.decision.from, nic);
  EXPECT_EQ(c.node(m.decision.to).kind, topo::node_kind::host);  // §3.4: to a host (the closest with room)
  EXPECT_EQ(c.node(m.decision.to).rack, c.node(nic).rack);
  EXPECT_EQ(m.decision.why, mig::trigger::service_overload);
  EXPECT_GT(m.decision.at_ns, 300 * ms);
  EXPECT_LT(m.decision.at_ns, 500 * ms);  // two 50 ms heartbeats over 1.2× the trailing EMA, plus transit
  EXPECT_EQ(m.result.outcome, mig::migration_outcome::completed);
  // The blackout covers at least the state's import, and stays in the paper's range (§5.6).
  EXPECT_GT(m.result.blackout_ns, 0);
  EXPECT_GE(double(m.result.blackout_ns), double(m.state_bytes) / cfg.migration.import_bytes_per_s * 1e9);
  EXPECT_LT(m.result.blackout_ns, 1000 * ms);
  EXPECT_GT(m.buffered, 0u);
  EXPECT_EQ(s.node_of(m.decision.instance), m.decision.to);
  EXPECT_EQ(r.orchestrator.decisions[std::size_t(mig::trigger::service_overload)], r.migrations.size());
  EXPECT_EQ(r.orchestrator.completed, r.migrations.size());
  // Requests held during the blackout were delivered afterwards, none lost.
  EXPECT_EQ(r.apps[0].lost, 0u);
  EXPECT_EQ(r.apps[0].generated, r.apps[0].completed);
  std::uint64_t held = 0;
  for (const auto& x : r.migrations)
    held += x.buffered;
  EXPECT_EQ(held, r.buffered);
}

TEST(Simulator, MigratingStateTakesItsTransferTime) {
  // A stateful victim: the flow monitor's 16 MB of state is exported, carried and imported.
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto nic = c.servers()[0].smartnics[0];
  sim::config cfg;
  cfg.warmup_ns = 100 * ms;
  cfg.measure_ns = 600 * ms;
  cfg.orchestrator.hysteresis.min_dwell_ns = 0;
  sim::simulator s(c, cfg);
  s.add_app(chain({"flowmon"}), {sim::arrivals::open_poisson, 100000});
  ASSERT_EQ(s.placement(0).node_of[0], nic);
  s.slow_node(nic, 2.0, 300 * ms);
  auto r = s.run();
  ASSERT_EQ(r.migrations.size(), 1u);
  const auto& m = r.migrations.front();
  EXPECT_EQ(m.kind, "flowmon");
  EXPECT_EQ(m.decision.to, c.servers()[0].host);  // its own server's host: PCIe
  EXPECT_EQ(m.state_bytes, 8u << 20);            // 8 MB footprint, all of it state
  const auto& mm = cfg.migration;
  double transfer_ns = m.state_bytes / mm.export_bytes_per_s * 1e9 + m.state_bytes * 8.0 / mm.pcie_gbps +
                       m.state_bytes / mm.import_bytes_per_s * 1e9;
  EXPECT_GE(double(m.result.blackout_ns), transfer_ns);
  EXPECT_LT(double(m.result.blackout_ns), transfer_ns + 10 * ms);
  EXPECT_EQ(m.result.state_bytes, m.state_bytes);
  EXPECT_EQ(r.apps[0].generated, r.apps[0].completed);
}

TEST(Simulator, ClosedLoopKeepsItsWindowOutstanding) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  sim::config cfg;
  cfg.warmup_ns = 20 * ms;
  cfg.measure_ns = 200 * ms;
  sim::simulator s(c, cfg);
  sim::load_spec l;
  l.process = sim::arrivals::closed_loop;
  l.window = 200;
  s.add_app(manifest("nfv-fin"), l);
  auto r = s.run();
  const auto& a = r.apps[0];
  // Little's law: throughput × mean latency = requests outstanding.
  EXPECT_NEAR(a.throughput_rps * a.latency_mean_us * 1e-6 / 200, 1.0, 0.02);
  // At saturation some resource runs flat out: a node's cores or a SmartNIC's traffic manager.
  double most = 0;
  for (const auto& n : r.nodes)
    most = std::max({most, n.utilisation, n.tm_utilisation});
  EXPECT_GT(most, 0.98);
}

TEST(Simulator, TrafficManagerBookedAtSendWaitsNoLongerThanBookedAtArrival) {
  // The runtime's booking order (diagnostic knob): a packet booked when it is sent, before
  // packets that arrive earlier, must not make those wait — the queue fills the idle gaps before
  // work booked ahead (topology/core_queue.hpp). Here nic0's manager takes the clients' packets
  // and, on their way to host0, packets nic1 sends when its 20 µs messages end.
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  const auto& s0 = c.servers()[0];
  auto nic0 = s0.smartnics[0], nic1 = c.servers()[1].smartnics[0];
  double wait[2] = {0, 0};
  for (bool at_send : {false, true}) {
    sim::config cfg;
    cfg.warmup_ns = 10 * ms;
    cfg.measure_ns = 100 * ms;
    cfg.heartbeats = false;
    cfg.tm_books_at_send = at_send;
    cfg.service_time = [](const std::string&, const topo::compute_node& n, double) {
      return n.kind == topo::node_kind::smartnic ? 20.0 : 1.0;
    };
    sim::simulator s(c, cfg);
    sched::placement p;
    p.algo = "hand";
    p.node_of = {nic0, nic1, s0.host};
    s.add_app(chain({"nat", "nat", "nat"}), p, {sim::arrivals::open_poisson, 200000});
    auto r = s.run();
    EXPECT_EQ(r.apps[0].generated, r.apps[0].completed);
    wait[at_send] = r.nodes[nic0].tm_mean_wait_us;
  }
  EXPECT_LT(wait[1], 2 * wait[0] + 0.05) << "booked at arrival " << wait[0] << " µs, at send " << wait[1] << " µs";
}

TEST(Simulator, HeartbeatsReachTheOrchestratorEvery50ms) {
  auto c = topo::cluster::fat_tree({.servers = 80, .server_profile = "Type2-SmartNIC"});  // two racks
  sim::config cfg;
  cfg.warmup_ns = 0;
  cfg.measure_ns = 1000 * ms;
  sim::simulator s(c, cfg);
  s.add_app(manifest("nfv-fin"), {sim::arrivals::open_poisson, 50000});
  auto r = s.run();
  const auto& h = r.heartbeats;
  auto nics = c.smartnics().size();
  EXPECT_EQ(nics, 320u);
  EXPECT_EQ(h.sent, nics * 20);  // one per 50 ms each, over 1 s
  EXPECT_EQ(h.digested, h.sent);
  EXPECT_EQ(r.orchestrator.heartbeats, h.sent);
  for (auto e : r.orchestrator.decode_errors)
    EXPECT_EQ(e, 0u);
  EXPECT_EQ(r.orchestrator.stale, 0u);
  EXPECT_EQ(r.orchestrator.slot_mismatch, 0u);
  EXPECT_DOUBLE_EQ(h.payload_bps, double(nics) * 20 * 16 * 8);  // 16 B every 50 ms each
  // Over the network, through the controller's SmartNIC and PCIe: more than a PCIe hop.
  EXPECT_GT(h.transmit_ns.min(), 1000);
  EXPECT_GE(h.decide_ns.min(), h.transmit_ns.min() + cfg.orchestrator_ns_per_heartbeat);
}

TEST(Simulator, PlacesWithEveryAlgorithm) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  for (auto algo : {sim::placer::hcm, sim::placer::sa, sim::placer::ilp}) {
    sim::config cfg;
    cfg.warmup_ns = 0;
    cfg.measure_ns = 20 * ms;
    sim::simulator s(c, cfg);
    auto app = chain({"nat", "count", "ema"});
    s.add_app(app, {sim::arrivals::open_poisson, 20000}, algo);
    EXPECT_EQ(s.placement(0).algo, sim::to_string(algo));
    auto r = s.run();
    EXPECT_EQ(r.apps[0].algo, sim::to_string(algo));
    EXPECT_EQ(r.apps[0].generated, r.apps[0].completed);
    EXPECT_GT(r.apps[0].completed, 100u);
  }
}

TEST(Simulator, RejectsBadInput) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  sim::config bad;
  bad.measure_ns = 0;
  EXPECT_THROW(sim::simulator(c, bad), std::invalid_argument);
  sim::config far;
  far.controller = topo::node_id(c.nodes().size());
  EXPECT_THROW(sim::simulator(c, far), std::invalid_argument);
  sim::simulator s(c, {});
  EXPECT_THROW(s.add_app(chain({"nat"}), {sim::arrivals::open_poisson, 0}), std::invalid_argument);
  EXPECT_THROW(s.add_app(chain({"nat"}), {sim::arrivals::closed_loop, 0, 0}), std::invalid_argument);
  EXPECT_THROW(s.slow_node(topo::node_id(c.nodes().size()), 2, 0), std::invalid_argument);
  EXPECT_THROW(s.slow_node(0, 0, 0), std::invalid_argument);
  s.run();
  EXPECT_THROW(s.run(), std::logic_error);
}

}  // namespace
