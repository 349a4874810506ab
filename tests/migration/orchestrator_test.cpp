// The orchestrator: victim choice (highest CPU share, deterministic ties, never a pinned or
// SmartNIC-only instance), destination (same-server host, else the closest admissible host),
// hysteresis (k reports, settle, cooldown, dwell; an oscillating load does not make a service
// move back and forth), its view after migrations, the heartbeat path, and what it counts.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <random>

#include "migration/migration.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

using namespace e3::mig;
using e3::topo::node_id;
namespace sched = e3::sched;
namespace topo = e3::topo;

namespace {

constexpr std::int64_t tick_ns = 50'000'000;  // one report every 50 ms
constexpr std::int64_t long_ago = -1'000'000'000'000'000;

struct svc_def {
  std::string kind;
  double cpu = 0.2;  // Beefy cores at the design load
  int server = 0;
  bool on_nic = true;
  bool smartnic_only = false;
};

// A cluster, one app of independent services placed as `defs` say, and an orchestrator.
class world {
 public:
  world(std::vector<svc_def> defs, orchestrator_config cfg = {}, std::int64_t placed_at = long_ago,
        const std::function<void(const topo::cluster&, sched::cluster_view&)>& tweak = {},
        const std::string& preset = "3xType1-SmartNIC")
      : c(topo::cluster::preset(preset)) {
    sched::app_spec spec;
    spec.name = "test";
    spec.rate_rps = 1000;
    for (std::size_t i = 0; i < defs.size(); ++i) {
      sched::service_spec s;
      s.name = "s" + std::to_string(i);
      s.kind = defs[i].kind;
      s.cpu = defs[i].cpu;
      s.memory_mb = 50;
      s.smartnic_only = defs[i].smartnic_only;
      spec.services.push_back(s);
    }
    spec.entries = {0};
    dag = sched::expand(spec);
    auto view = sched::cluster_view::empty(c);
    for (std::size_t i = 0; i < defs.size(); ++i) {
      const auto& sv = c.servers()[std::size_t(defs[i].server)];
      p.node_of.push_back(defs[i].on_nic ? sv.smartnics[0] : sv.host);
      sched::consume(view, dag.nodes[i], p.node_of.back());
    }
    if (tweak)
      tweak(c, view);
    o.emplace(c, std::move(view), cfg);
    o->add_app(dag, p, placed_at);
  }

  node_id nic(int s) const { return c.servers()[std::size_t(s)].smartnics[0]; }
  node_id host(int s) const { return c.servers()[std::size_t(s)].host; }

  topo::cluster c;
  sched::app_dag dag;
  sched::placement p;
  std::optional<orchestrator> o;
};

instance_report ir(std::uint32_t id, double cpu, double exec = 10, double ema = 10, std::uint32_t requests = 100) {
  instance_report r;
  r.instance = id;
  r.cpu_share = cpu;
  r.exec_us = exec;
  r.ema_exec_us = ema;
  r.requests = requests;
  return r;
}

node_report rep(node_id n, int tick, std::uint32_t queue, std::vector<instance_report> is, double util = 0.5) {
  node_report r;
  r.node = n;
  r.at_ns = tick * tick_ns;
  r.tm_queue = queue;
  r.link_in_gbps = 2;
  r.link_out_gbps = 2;
  r.capacity_gbps = 20;
  r.utilisation = util;
  r.instances = std::move(is);
  return r;
}

// A starving SmartNIC report: a 500-packet queue with the ports at 10 %.
node_report starving(node_id n, int tick, std::vector<instance_report> is) { return rep(n, tick, 500, std::move(is)); }

// Feeds `r` re-timed at ticks [from, to) and returns the decisions with their tick.
std::vector<std::pair<int, decision>> feed(orchestrator& o, node_report r, int from, int to) {
  std::vector<std::pair<int, decision>> out;
  for (int t = from; t < to; ++t) {
    r.at_ns = t * tick_ns;
    if (auto d = o.on_report(r))
      out.push_back({t, *d});
  }
  return out;
}

}  // namespace

TEST(Orchestrator, StarvationMovesTheHighestCpuServiceToItsOwnHost) {
  world w({{"count"}, {"top_ranker"}, {"ema"}});
  auto r = starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6), ir(2, 0.2)});
  double host_free = w.o->view().nodes[w.host(0)].free_cores;
  auto ds = feed(*w.o, r, 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].first, 3);  // k = 3: the third report
  const auto& d = ds[0].second;
  EXPECT_EQ(d.instance, 1u);
  EXPECT_EQ(d.from, w.nic(0));
  EXPECT_EQ(d.to, w.host(0));
  EXPECT_EQ(d.level, 1);  // same server
  EXPECT_EQ(d.why, trigger::host_starvation);
  EXPECT_EQ(d.at_ns, 3 * tick_ns);
  EXPECT_DOUBLE_EQ(d.cpu_share, 0.6);
  EXPECT_EQ(d.tm_queue, 500u);
  EXPECT_DOUBLE_EQ(d.link_use, 0.1);
  EXPECT_TRUE(w.o->migrating(1));
  EXPECT_EQ(w.o->counters().decisions[0], 1u);
  // The destination's resources are booked for the victim.
  EXPECT_DOUBLE_EQ(w.o->view().nodes[w.host(0)].free_cores,
                   host_free - sched::core_demand(w.dag.nodes[1], w.c.node(w.host(0))));
  auto p = w.o->plan(d);
  EXPECT_EQ(p.kind, "top_ranker");
  EXPECT_EQ(p.from, w.nic(0));
  EXPECT_EQ(p.to, w.host(0));
}

TEST(Orchestrator, OverloadMovesTheHighestCpuServiceNotTheSlowOne) {
  // §3.4: "For either issue, the orchestrator will migrate the microservice with the highest CPU
  // utilization". Here the slow one (id 0) uses little CPU; id 2 uses the most.
  world w({{"count"}, {"ema"}, {"spike"}});
  auto r = rep(w.nic(0), 0, 0, {ir(0, 0.05, 120, 100), ir(1, 0.2), ir(2, 0.5)});
  auto ds = feed(*w.o, r, 1, 5);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].first, 2);  // k = 2
  EXPECT_EQ(ds[0].second.instance, 2u);
  EXPECT_EQ(ds[0].second.why, trigger::service_overload);
  EXPECT_DOUBLE_EQ(ds[0].second.slowdown, 1.2);
}

TEST(Orchestrator, OverloadJustBelowTheThresholdNeverMoves) {
  world w({{"count"}, {"ema"}});
  auto r = rep(w.nic(0), 0, 0, {ir(0, 0.05, std::nextafter(120.0, 0.0), 100), ir(1, 0.5)});
  EXPECT_TRUE(feed(*w.o, r, 1, 200).empty());
  EXPECT_EQ(w.o->counters().overload_trips, 0u);
}

TEST(Orchestrator, StarvationOnePacketBelowTheThresholdNeverMoves) {
  world w({{"count"}, {"ema"}});
  auto r = rep(w.nic(0), 0, 63, {ir(0, 0.05), ir(1, 0.5)});
  EXPECT_TRUE(feed(*w.o, r, 1, 200).empty());
  r.tm_queue = 64;
  EXPECT_EQ(feed(*w.o, r, 200, 203).size(), 1u);
}

TEST(Orchestrator, TiesGoToTheLowestInstanceId) {
  world w({{"count"}, {"ema"}, {"nat"}});
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(2, 0.3), ir(1, 0.3), ir(0, 0.3)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.instance, 0u);
}

TEST(Orchestrator, PinnedAndSmartnicOnlyInstancesAreNeverVictims) {
  world w({{"count"}, {"ema", 0.2, 0, true, true}, {"top_ranker"}});
  w.o->set_migratable(2, false);
  // 2 is the hottest but pinned, 1 is next but may only run on a SmartNIC: 0 goes.
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.3), ir(2, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.instance, 0u);
}

TEST(Orchestrator, NothingEligibleIsCountedNotForced) {
  world w({{"count"}, {"ema", 0.2, 0, true, true}});
  w.o->set_migratable(0, false);
  EXPECT_TRUE(feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.3)}), 1, 10).empty());
  EXPECT_EQ(w.o->counters().no_eligible_victim, 7u);  // reports 3..9 were tripped
  EXPECT_EQ(w.o->counters().starvation_trips, 7u);
}

TEST(Orchestrator, AHostOnlyServiceFoundOnASmartnicMayLeaveForAHost) {
  world w({{"sql", 0.1}, {"count", 0.1}});
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.5), ir(1, 0.1)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.instance, 0u);
  EXPECT_EQ(ds[0].second.to, w.host(0));
}

TEST(Orchestrator, AFullOwnHostSendsTheVictimToTheRoomiestHostInTheRack) {
  world w({{"count"}, {"top_ranker"}}, {}, long_ago, [](const topo::cluster& c, sched::cluster_view& v) {
    v.nodes[c.servers()[0].host].free_cores = 0;
    v.nodes[c.servers()[1].host].free_cores = 6;  // host 2 keeps all 12
  });
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.to, w.host(2));
  EXPECT_EQ(ds[0].second.level, 3);  // "host in rack"
}

TEST(Orchestrator, EqualRoomInTheRackGoesToTheLowestHostId) {
  world w({{"count"}, {"top_ranker"}}, {}, long_ago, [](const topo::cluster& c, sched::cluster_view& v) {
    v.nodes[c.servers()[0].host].free_cores = 0;
  });
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.to, std::min(w.host(1), w.host(2)));
}

TEST(Orchestrator, ADownHostIsNoDestination) {
  world w({{"count"}, {"top_ranker"}});
  w.o->set_node_up(w.host(0), false);
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].second.to, w.host(0));
}

TEST(Orchestrator, WhenTheHottestFitsNowhereTheNextOneGoes) {
  // Every host has 3 free cores, of which the scheduler's headroom (20 % of 12 cores = 2.4)
  // leaves 0.6 usable: the hottest service needs 5 Beefy cores and fits nowhere; the other
  // needs none.
  world w({{"count", 0.0}, {"top_ranker", 5.0}}, {}, long_ago, [](const topo::cluster& c, sched::cluster_view& v) {
    for (auto h : c.hosts())
      v.nodes[h].free_cores = 3;
  });
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.instance, 0u);
}

TEST(Orchestrator, NoRoomAnywhereIsCounted) {
  world w({{"count"}, {"top_ranker"}}, {}, long_ago, [](const topo::cluster& c, sched::cluster_view& v) {
    for (auto h : c.hosts())
      v.nodes[h].free_cores = 0;
  });
  EXPECT_TRUE(feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 6).empty());
  EXPECT_EQ(w.o->counters().no_destination, 3u);
}

TEST(Orchestrator, TripsOnHostsAreCountedAndLeftAlone) {
  world w({{"count", 0.2, 0, false}, {"ema", 0.2, 0, false}});
  auto r = rep(w.host(0), 0, 500, {ir(0, 0.5, 200, 100), ir(1, 0.2)});
  EXPECT_TRUE(feed(*w.o, r, 1, 10).empty());
  EXPECT_GT(w.o->counters().host_trips, 0u);
}

TEST(Orchestrator, ANodeSettlesAfterADecision) {
  world w({{"count"}, {"top_ranker"}, {"ema"}});
  auto r = starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6), ir(2, 0.2)});
  auto ds = feed(*w.o, r, 1, 40);
  // Decision at tick 3 (0.15 s); the settle time (1 s) ends at 1.15 s = tick 23, when the next
  // hottest eligible instance (2: 1 is migrating) goes.
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].first, 3);
  EXPECT_EQ(ds[0].second.instance, 1u);
  EXPECT_EQ(ds[1].first, 23);
  EXPECT_EQ(ds[1].second.instance, 2u);
  EXPECT_GT(w.o->counters().settling, 0u);
}

TEST(Orchestrator, ACompletedMigrationMovesTheInstanceInItsView) {
  world w({{"count"}, {"top_ranker"}});
  double nic_free = w.o->view().nodes[w.nic(0)].free_cores;
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_TRUE(w.o->migration_finished(1, migration_outcome::completed, 5 * tick_ns));
  EXPECT_FALSE(w.o->migrating(1));
  EXPECT_EQ(w.o->node_of(1), w.host(0));
  EXPECT_EQ(std::vector<std::uint32_t>(w.o->instances_on(w.nic(0)).begin(), w.o->instances_on(w.nic(0)).end()),
            std::vector<std::uint32_t>{0});
  EXPECT_EQ(std::vector<std::uint32_t>(w.o->instances_on(w.host(0)).begin(), w.o->instances_on(w.host(0)).end()),
            std::vector<std::uint32_t>{1});
  EXPECT_DOUBLE_EQ(w.o->view().nodes[w.nic(0)].free_cores,
                   nic_free + sched::core_demand(w.dag.nodes[1], w.c.node(w.nic(0))));
  // The old node reporting it now is a stale view of the world: ignored and counted.
  w.o->on_report(starving(w.nic(0), 6, {ir(0, 0.1), ir(1, 0.6)}));
  EXPECT_EQ(w.o->counters().misplaced_instance, 1u);
  EXPECT_FALSE(w.o->migration_finished(1, migration_outcome::completed, 7 * tick_ns));
  EXPECT_EQ(w.o->counters().unexpected_finish, 1u);
  EXPECT_EQ(w.o->counters().completed, 1u);
}

TEST(Orchestrator, ARollbackReturnsTheBookingAndCoolsTheInstanceDown) {
  orchestrator_config cfg;
  cfg.hysteresis.node_settle_ns = 0;
  world w({{"count"}, {"top_ranker"}}, cfg);
  double host_free = w.o->view().nodes[w.host(0)].free_cores;
  auto r = starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)});
  ASSERT_EQ(feed(*w.o, r, 1, 4).size(), 1u);
  EXPECT_TRUE(w.o->migration_finished(1, migration_outcome::rolled_back, 4 * tick_ns));
  EXPECT_DOUBLE_EQ(w.o->view().nodes[w.host(0)].free_cores, host_free);
  EXPECT_EQ(w.o->node_of(1), w.nic(0));
  // Within its 10 s cooldown the hottest instance is passed over: 0 goes instead.
  auto ds = feed(*w.o, r, 4, 8);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].second.instance, 0u);
  EXPECT_TRUE(w.o->migration_finished(0, migration_outcome::failed, 8 * tick_ns));
  // Both cool down now: nothing moves until 4 ticks + 10 s = tick 204 for instance 1.
  ds = feed(*w.o, r, 8, 207);  // (instance 0 cools down until tick 208)
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].first, 204);
  EXPECT_EQ(ds[0].second.instance, 1u);
  EXPECT_EQ(w.o->counters().rolled_back, 1u);
  EXPECT_EQ(w.o->counters().failed, 1u);
}

TEST(Orchestrator, AnInstanceDwellsAfterItsPlacement) {
  world w({{"count"}, {"top_ranker"}}, {}, /*placed_at=*/0);
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.1), ir(1, 0.6)}), 1, 120);  // (node settles until 120)
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].first, 100);  // 5 s after placement at t = 0
  EXPECT_EQ(w.o->counters().no_eligible_victim, 97u);  // tripped at ticks 3..99
}

TEST(Orchestrator, IgnoredInputIsCounted) {
  world w({{"count"}, {"top_ranker"}});
  auto good = rep(w.nic(0), 5, 0, {ir(0, 0.1)});
  w.o->on_report(good);
  w.o->on_report(good);  // same time: stale
  auto older = good;
  older.at_ns -= 1;
  w.o->on_report(older);  // older: stale
  auto unknown = good;
  unknown.node = 100000;
  w.o->on_report(unknown);
  auto nan = rep(w.nic(0), 6, 0, {});
  nan.utilisation = std::nan("");
  w.o->on_report(nan);
  auto neg = rep(w.nic(0), 7, 0, {});
  neg.link_in_gbps = -1;
  w.o->on_report(neg);
  w.o->on_report(rep(w.nic(0), 8, 0, {ir(99, 0.1), ir(0, -0.5), ir(1, 0.1)}));
  auto wrong_kind = ir(1, 0.1);
  wrong_kind.kind = kind_of("nat");
  auto right_kind = ir(0, 0.1);
  right_kind.kind = kind_of("count");
  w.o->on_report(rep(w.nic(0), 9, 0, {wrong_kind, right_kind}));
  const auto& c = w.o->counters();
  EXPECT_EQ(c.reports, 8u);
  EXPECT_EQ(c.stale, 2u);
  EXPECT_EQ(c.unknown_node, 1u);
  EXPECT_EQ(c.invalid_reports, 2u);
  EXPECT_EQ(c.unknown_instance, 1u);
  EXPECT_EQ(c.invalid_instances, 1u);
  EXPECT_EQ(c.misplaced_instance, 1u);
}

TEST(Orchestrator, BadHeartbeatsAreCountedByError) {
  world w({{"count"}, {"top_ranker"}});
  heartbeat h;
  h.node = w.nic(0);
  h.services = 2;
  auto b = encode_heartbeat(h);
  w.o->on_heartbeat_bytes(std::span<const std::uint8_t>(b.data(), 15), 0);
  b[0] = 9;
  w.o->on_heartbeat_bytes(b, 0);
  b = encode_heartbeat(h);
  b[14] = 7;
  w.o->on_heartbeat_bytes(b, 0);
  b = encode_heartbeat(h);
  w.o->on_heartbeat_bytes(b, 0);
  w.o->on_heartbeat_bytes(b, 1);  // the same sequence number again: stale
  h.seq = 0xFFFF;                 // older than 0 in serial-number order
  w.o->on_heartbeat_bytes(encode_heartbeat(h), 2);
  h.seq = 1;
  h.node = 999999;
  w.o->on_heartbeat_bytes(encode_heartbeat(h), 3);
  const auto& c = w.o->counters();
  EXPECT_EQ(c.decode_errors[std::size_t(heartbeat_error::bad_length)], 1u);
  EXPECT_EQ(c.decode_errors[std::size_t(heartbeat_error::bad_version)], 1u);
  EXPECT_EQ(c.decode_errors[std::size_t(heartbeat_error::bad_field)], 1u);
  EXPECT_EQ(c.heartbeats, 4u);
  EXPECT_EQ(c.stale, 2u);
  EXPECT_EQ(c.unknown_node, 1u);
}

TEST(Orchestrator, HeartbeatsPickTheHottestSlotElseTheSecond) {
  world w({{"count"}, {"top_ranker"}, {"ema"}});
  w.o->set_migratable(1, false);
  node_report r = starving(w.nic(0), 0, {ir(0, 0.2), ir(1, 0.6), ir(2, 0.3)});
  std::optional<decision> d;
  for (int t = 1; t <= 3; ++t) {
    r.at_ns = t * tick_ns;
    d = w.o->on_heartbeat(summarise(r, std::uint16_t(t), 20), r.at_ns);
  }
  ASSERT_TRUE(d);
  EXPECT_EQ(d->instance, 2u);  // 1 is the hottest but pinned
  EXPECT_EQ(d->cpu_share, -1);
  EXPECT_EQ(d->why, trigger::host_starvation);
}

TEST(Orchestrator, HeartbeatWithAnotherServicesCountChoosesNobody) {
  world w({{"count"}, {"top_ranker"}});
  heartbeat h;
  h.node = w.nic(0);
  h.services = 3;  // the view has 2 instances there: slots cannot be trusted
  h.tm_queue = 500;
  h.hottest = 2;
  for (std::uint16_t s = 1; s <= 5; ++s) {
    h.seq = s;
    EXPECT_FALSE(w.o->on_heartbeat(h, s * tick_ns));
  }
  EXPECT_EQ(w.o->counters().slot_mismatch, 3u);
}

TEST(Orchestrator, ConfigIsValidated) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  orchestrator_config cfg;
  cfg.hysteresis.cooldown_ns = -1;
  EXPECT_THROW(orchestrator(c, sched::cluster_view::empty(c), cfg), std::invalid_argument);
  cfg = {};
  cfg.reclaim.max_utilisation = 0;
  EXPECT_THROW(orchestrator(c, sched::cluster_view::empty(c), cfg), std::invalid_argument);
  cfg = {};
  cfg.starvation.k = 0;
  EXPECT_THROW(orchestrator(c, sched::cluster_view::empty(c), cfg), std::invalid_argument);
  auto v = sched::cluster_view::empty(c);
  v.nodes.pop_back();
  EXPECT_THROW(orchestrator(c, v, {}), std::invalid_argument);
  orchestrator o(c, sched::cluster_view::empty(c));
  sched::app_dag d;
  d.nodes.resize(2);
  sched::placement p;
  p.node_of = {0};
  EXPECT_THROW(o.add_app(d, p, 0), std::invalid_argument);
  p.node_of = {0, 99};
  EXPECT_THROW(o.add_app(d, p, 0), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Hysteresis against an oscillating load, with reclaim on so a service COULD move back.

namespace {

// The plant: service A (top_ranker, id 0) and B (count, id 1) start on SmartNIC 0. A's load
// oscillates: 10 reports at its crest (on the SmartNIC: 80 % of its cores, which starves the
// traffic manager), 10 in its trough (10 %). Migrations complete one report after the decision.
struct plant {
  world w;
  int period = 20;
  bool settled = false;  // after this, A stays in its trough for good
  std::vector<std::pair<int, decision>> moves;
  std::optional<std::pair<int, decision>> pending;

  // A's design load is small enough that the scheduler admits it back on the SmartNIC.
  explicit plant(orchestrator_config cfg) : w({{"top_ranker", 0.01}, {"count"}}, cfg) {}

  double a_nic_share(int t) const { return !settled && (t / (period / 2)) % 2 == 0 ? 0.8 : 0.1; }

  // A's CPU share on host 0 for the same work: the inverse of the orchestrator's projection.
  double a_host_share(int t) const {
    const auto& prof = topo::service_profile_of("top_ranker");
    const auto &h = w.c.node(w.host(0)), &x = w.c.node(w.nic(0));
    double nic_cores = a_nic_share(t) * x.cores;
    return nic_cores * prof.slowdown(h.cores_type, h.clock_ghz) / prof.slowdown(x.cores_type, x.clock_ghz) / h.cores;
  }

  void step(int t) {
    auto& o = *w.o;
    if (pending) {
      ASSERT_TRUE(o.migration_finished(pending->second.instance, migration_outcome::completed, t * tick_ns));
      pending.reset();
    }
    bool a_on_nic = o.node_of(0) == w.nic(0);
    double share = a_nic_share(t);
    bool crest = a_on_nic && share > 0.5;
    std::vector<instance_report> nic_is{ir(1, 0.05)};
    std::vector<instance_report> host_is;
    if (a_on_nic)
      nic_is.push_back(ir(0, share));
    else
      host_is.push_back(ir(0, a_host_share(t)));
    auto nic = rep(w.nic(0), t, crest ? 500 : 0, nic_is, crest ? 0.95 : (a_on_nic ? 0.25 : 0.1));
    auto host = rep(w.host(0), t, 0, host_is, 0.1);
    for (auto* r : {&nic, &host}) {
      if (auto d = o.on_report(*r)) {
        ASSERT_FALSE(pending);
        moves.push_back({t, *d});
        pending = {t, *d};
      }
    }
  }
  void run(int from, int to) {
    for (int t = from; t < to; ++t)
      step(t);
  }
};

orchestrator_config with_reclaim() {
  orchestrator_config c;
  c.reclaim.enabled = true;
  return c;
}

// The same, with every brake off: one report trips, nothing dwells, cools or settles, and one
// quiet report is enough to reclaim.
orchestrator_config no_hysteresis() {
  orchestrator_config c = with_reclaim();
  c.starvation.k = 1;
  c.overload.k = 1;
  c.hysteresis = {0, 0, 0};
  c.reclaim.quiet_reports = 1;
  return c;
}

}  // namespace

TEST(Hysteresis, WithoutItAnOscillatingLoadMakesTheServiceFlap) {
  // The control experiment: it shows the plant CAN make a service flap.
  plant p(no_hysteresis());
  p.run(0, 200);
  EXPECT_GE(p.moves.size(), 18u);
  int back = 0;
  for (const auto& [t, d] : p.moves)
    back += d.why == trigger::reclaim;
  EXPECT_GE(back, 9);
}

TEST(Hysteresis, AnOscillatingLoadMovesTheServiceOnceAndNeverBack) {
  plant p(with_reclaim());
  p.run(0, 2000);  // 100 s, 100 crests
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].first, 2);  // the third report of the first crest
  EXPECT_EQ(p.moves[0].second.instance, 0u);
  EXPECT_EQ(p.moves[0].second.to, p.w.host(0));
  EXPECT_EQ(p.w.o->node_of(0), p.w.host(0));
}

TEST(Hysteresis, OnceTheLoadStaysLowTheServiceComesBackExactlyOnce) {
  plant p(with_reclaim());
  p.run(0, 1000);
  ASSERT_EQ(p.moves.size(), 1u);
  p.settled = true;
  p.run(1000, 4000);
  ASSERT_EQ(p.moves.size(), 2u);
  EXPECT_EQ(p.moves[1].second.why, trigger::reclaim);
  EXPECT_EQ(p.moves[1].second.to, p.w.nic(0));
  // The crest must have left both peak windows (600 reports each) of A's host figures.
  EXPECT_GE(p.moves[1].first, 1000 + 600);
  EXPECT_LE(p.moves[1].first, 1000 + 1200);
  EXPECT_EQ(p.w.o->node_of(0), p.w.nic(0));
  EXPECT_TRUE(p.w.o->instances_on(p.w.host(0)).empty());
}

namespace {

// A's CPU share on host 0 that the orchestrator projects to `nic_share` of SmartNIC 0.
double host_share_for(const world& w, double nic_share) {
  const auto& prof = topo::service_profile_of(w.dag.nodes[0].kind);
  const auto &h = w.c.node(w.host(0)), &x = w.c.node(w.nic(0));
  return nic_share * x.cores * prof.slowdown(h.cores_type, h.clock_ghz) / prof.slowdown(x.cores_type, x.clock_ghz) /
         h.cores;
}

// Reclaim with a 5-report window and no other brakes; A (id 0) is evicted to host 0 at tick 3
// and arrives at tick 4.
orchestrator_config quick_reclaim() {
  orchestrator_config c;
  c.reclaim.enabled = true;
  c.reclaim.quiet_reports = 5;
  c.hysteresis = {0, 0, 0};
  return c;
}

void evict_a(world& w) {
  auto ds = feed(*w.o, starving(w.nic(0), 0, {ir(0, 0.6), ir(1, 0.1)}), 1, 4);
  ASSERT_EQ(ds.size(), 1u);
  ASSERT_EQ(ds[0].second.to, w.host(0));
  ASSERT_TRUE(w.o->migration_finished(0, migration_outcome::completed, 4 * tick_ns));
}

// One tick: the SmartNIC (with B only) at `nic_util`, then, if `host_seen`, host 0 with A at
// the share projecting to `a_nic_share`. Returns the tick's decision, if any.
std::optional<decision> quiet_tick(world& w, int t, double nic_util, bool host_seen, double a_nic_share) {
  auto d = w.o->on_report(rep(w.nic(0), t, 0, {ir(1, 0.05)}, nic_util));
  if (host_seen)
    w.o->on_report(rep(w.host(0), t, 0, {ir(0, host_share_for(w, a_nic_share))}, 0.1));
  return d;
}

}  // namespace

TEST(Hysteresis, ReclaimWaitsUntilTheInstanceWasObservedForAWindow) {
  world w({{"top_ranker", 0.01}, {"count"}}, quick_reclaim());
  evict_a(w);
  // The SmartNIC is quiet, but nobody has seen A's load on the host yet: no reclaim.
  for (int t = 4; t < 50; ++t)
    ASSERT_FALSE(quiet_tick(w, t, 0.1, false, 0)) << t;
  // The host reports A from tick 50; after 5 observations (ticks 50..54) the next SmartNIC
  // report reclaims it.
  int at = -1;
  for (int t = 50; t < 70 && at < 0; ++t)
    if (auto d = quiet_tick(w, t, 0.1, true, 0.1)) {
      EXPECT_EQ(d->why, trigger::reclaim);
      at = t;
    }
  EXPECT_EQ(at, 55);
}

TEST(Hysteresis, ReclaimCountsTheSmartnicsOwnPeak) {
  world w({{"top_ranker", 0.01}, {"count"}}, quick_reclaim());
  evict_a(w);
  // The SmartNIC is quiet at 45 % (under the 50 % bar), but 45 % + A's 10 % would exceed it.
  for (int t = 4; t < 200; ++t)
    ASSERT_FALSE(quiet_tick(w, t, 0.45, true, 0.1)) << t;
  // At 30 % it fits, once the 45 % samples left both windows (5 reports each).
  int at = -1;
  for (int t = 200; t < 220 && at < 0; ++t)
    if (quiet_tick(w, t, 0.3, true, 0.1))
      at = t;
  EXPECT_GE(at, 205);
  EXPECT_LE(at, 210);
}

TEST(Hysteresis, ReclaimIsOffByDefault) {
  orchestrator_config cfg;
  plant p(cfg);
  p.run(0, 1000);
  p.settled = true;
  p.run(1000, 4000);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.w.o->node_of(0), p.w.host(0));
}

// ---------------------------------------------------------------------------------------------
// The same random stream through full reports and through heartbeats gives the same decisions,
// and the same stream twice gives the same decisions.

namespace {

// 20 Type2-SmartNIC servers (80 SmartNICs), three services per SmartNIC. Each SmartNIC has at
// most one episode: starvation or an overload of one service, at a seeded time. Heartbeats only
// name two slots, so the episodes keep the hottest eligible.
struct stream_world {
  topo::cluster c = topo::cluster::fat_tree({.servers = 20, .server_profile = "Type2-SmartNIC"});
  sched::app_dag dag;
  sched::placement p;
  sched::cluster_view view = sched::cluster_view::empty(c);

  stream_world() {
    const char* kinds[] = {"count", "ema", "nat", "kvs", "flowmon", "ddos"};
    std::size_t n = c.smartnics().size() * 3;
    for (std::uint32_t i = 0; i < n; ++i) {
      sched::dag_node d;
      d.id = i;
      d.kind = kinds[i % 6];
      d.cpu = 0.3;
      d.memory_mb = 64;
      dag.nodes.push_back(d);
      p.node_of.push_back(c.smartnics()[i / 3]);
      sched::consume(view, d, p.node_of.back());
    }
    dag.out.resize(n);
    dag.replicas.resize(n);
    dag.primaries = n;
  }
};

struct episode {
  int start = 0, length = 0;
  bool starve = false;
  int slow = 0;  // overloaded service index on the node (0..2)
};

std::vector<std::pair<int, decision>> run_stream(bool heartbeats, unsigned seed) {
  stream_world sw;
  orchestrator o(sw.c, sw.view);
  o.add_app(sw.dag, sw.p, long_ago);
  std::mt19937_64 rng(seed);
  auto nics = sw.c.smartnics();
  std::vector<episode> eps(nics.size());
  for (auto& e : eps) {
    e.start = int(rng() % 150);
    e.length = int(rng() % 6);
    e.starve = rng() % 2;
    e.slow = int(rng() % 3);
  }
  std::vector<exec_ema> emas(sw.dag.nodes.size());
  std::vector<std::pair<int, decision>> out;
  std::vector<std::pair<std::uint32_t, int>> pending;  // instance, tick to finish
  for (int t = 0; t < 200; ++t) {
    for (auto it = pending.begin(); it != pending.end();)
      if (it->second == t) {
        o.migration_finished(it->first, migration_outcome::completed, t * tick_ns);
        it = pending.erase(it);
      } else {
        ++it;
      }
    for (std::size_t k = 0; k < nics.size(); ++k) {
      const auto& e = eps[k];
      bool on = t >= e.start && t < e.start + e.length;
      node_report r = rep(nics[k], t, on && e.starve ? 200 + std::uint32_t(rng() % 300) : std::uint32_t(rng() % 64), {});
      r.link_in_gbps = double(rng() % 1000) / 100.0;  // 0..10 of 20 Gb/s (under-used below 10)
      for (auto id : o.instances_on(nics[k])) {
        std::uint32_t slot = id % 3;
        double exec = 10 + double(rng() % 100) / 100.0;
        if (on && !e.starve && int(slot) == e.slow)
          exec = 30;
        double cpu = 0.1 + 0.1 * slot + double(rng() % 10) / 1000.0;
        r.instances.push_back(ir(id, cpu, exec, emas[id].value()));
        emas[id].add(exec);
      }
      auto d = heartbeats ? o.on_heartbeat(summarise(r, std::uint16_t(t), 20), r.at_ns) : o.on_report(r);
      if (d) {
        out.push_back({t, *d});
        pending.push_back({d->instance, t + 2});
      }
    }
  }
  return out;
}

bool same(const std::vector<std::pair<int, decision>>& a, const std::vector<std::pair<int, decision>>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto &x = a[i].second, &y = b[i].second;
    if (a[i].first != b[i].first || x.instance != y.instance || x.from != y.from || x.to != y.to || x.why != y.why ||
        x.level != y.level)
      return false;
  }
  return true;
}

}  // namespace

TEST(OrchestratorStream, HeartbeatsDecideLikeFullReports) {
  for (unsigned seed : {1u, 2u, 3u}) {
    auto full = run_stream(false, seed);
    auto hb = run_stream(true, seed);
    EXPECT_GT(full.size(), 20u) << seed;
    EXPECT_TRUE(same(full, hb)) << "seed " << seed << ": " << full.size() << " vs " << hb.size() << " decisions";
  }
}

TEST(OrchestratorStream, TheSameStreamGivesTheSameDecisions) {
  auto a = run_stream(false, 42);
  auto b = run_stream(false, 42);
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(same(a, b));
}
