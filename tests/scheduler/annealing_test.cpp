// Simulated annealing placement: constraints on the paper's apps, determinism, the move cost, the
// limits, and the spreading that sets it apart from HCM.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "apps/placement_report.hpp"
#include "scheduler/annealing.hpp"
#include "scheduler/scheduler.hpp"
#include "tests/scheduler/placement_check.hpp"
#include "topology/topology.hpp"

using namespace e3::sched;
using namespace e3::topo;
using e3::sched::testing::expect_accounted;
using e3::sched::testing::expect_constraints;

namespace {

const char* const paper_apps[] = {"nfv-fin", "nfv-din", "nfv-ifid", "rta-ptc", "rta-sf", "rta-shm", "iot-dh", "iot-ts"};

service_spec svc(std::string name, std::string kind, double cpu, double mem = 100) {
  service_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.cpu = cpu;
  s.memory_mb = mem;
  s.host_only = find_service_profile(s.kind)->host_only;
  return s;
}

app_spec chain(std::vector<service_spec> services, double rate = 1000) {
  app_spec a;
  a.name = "hand";
  a.rate_rps = rate;
  for (std::size_t i = 0; i + 1 < services.size(); ++i)
    a.channels.push_back({i, i + 1, 1.0});
  a.services = std::move(services);
  a.entries = {0};
  return a;
}

sa_options quick(std::uint64_t seed = 7, std::uint64_t iterations = 30000) {
  sa_options o;
  o.seed = seed;
  o.max_iterations = iterations;
  return o;
}

}  // namespace

TEST(Annealing, PaperAppsRespectEveryConstraint) {
  // Capacity (with the default 20 % core headroom), SQL on hosts, replicas off their primary's
  // server — checked from scratch, and the view's accounting matches the placement.
  auto c = cluster::preset("3xType1-SmartNIC");
  for (auto name : paper_apps) {
    auto d = expand(e3::apps::load_app(name));
    auto v = cluster_view::empty(c);
    sa_stats st;
    auto p = sa_place(d, v, {}, quick(), &st);
    EXPECT_EQ(p.algo, "sa");
    EXPECT_TRUE(p.overcommitted.empty()) << name;
    expect_constraints(d, c, p, {}, name);
    expect_accounted(d, c, p, v, name);
    EXPECT_LE(st.final_energy, st.initial_energy + 1e-12) << name;
    EXPECT_GT(st.accepted, 0u) << name;
  }
}

TEST(Annealing, SameSeedSameResultOtherSeedOtherResult) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("iot-ts"));
  auto v1 = cluster_view::empty(c), v2 = cluster_view::empty(c), v3 = cluster_view::empty(c);
  sa_stats s1, s2, s3;
  auto p1 = sa_place(d, v1, {}, quick(11), &s1);
  auto p2 = sa_place(d, v2, {}, quick(11), &s2);
  auto p3 = sa_place(d, v3, {}, quick(12), &s3);
  EXPECT_EQ(p1.node_of, p2.node_of);
  EXPECT_EQ(s1.iterations, s2.iterations);
  EXPECT_EQ(s1.accepted, s2.accepted);
  EXPECT_DOUBLE_EQ(s1.final_energy, s2.final_energy);
  EXPECT_DOUBLE_EQ(s1.initial_temperature, s2.initial_temperature);
  // 108 instances on 6 nodes: two seeds agreeing everywhere would be a broken RNG.
  EXPECT_NE(p1.node_of, p3.node_of);
}

TEST(Annealing, IterationLimitStopsItAndCounts) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("nfv-fin"));
  auto v = cluster_view::empty(c);
  sa_stats st;
  sa_place(d, v, {}, quick(3, 500), &st);
  EXPECT_EQ(st.stop, sa_stop::iteration_limit);
  EXPECT_EQ(st.iterations, 500u);
  EXPECT_GT(st.initial_temperature, 0);
  // Unlimited, it cools down until the temperature or the acceptance freezes.
  auto v2 = cluster_view::empty(c);
  sa_stats st2;
  sa_place(d, v2, {}, quick(3, 100'000'000), &st2);
  EXPECT_TRUE(st2.stop == sa_stop::converged || st2.stop == sa_stop::frozen) << to_string(st2.stop);
  EXPECT_LT(st2.final_temperature, st2.initial_temperature);
}

TEST(Annealing, ZeroTimeBudgetReturnsTheInitialAdmissibleState) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("iot-ts"));
  auto v = cluster_view::empty(c);
  auto o = quick();
  o.time_budget = std::chrono::nanoseconds(0);
  sa_stats st;
  auto p = sa_place(d, v, {}, o, &st);
  EXPECT_EQ(st.stop, sa_stop::time_budget);
  EXPECT_EQ(st.iterations, 0u);
  expect_constraints(d, c, p, {}, "budget 0");
  expect_accounted(d, c, p, v, "budget 0");
}

TEST(Annealing, SpreadsLoadMoreEvenlyThanHcm) {
  // SA minimises the spread of CPU and memory shares; HCM packs communicating services together.
  auto c = cluster::preset("3xType1-SmartNIC");
  for (auto name : paper_apps) {
    auto d = expand(e3::apps::load_app(name));
    auto vh = cluster_view::empty(c), vs = cluster_view::empty(c);
    hcm_place(d, vh);
    sa_place(d, vs, {}, quick());
    EXPECT_LT(load_spread(vs), load_spread(vh)) << name;
  }
}

TEST(Annealing, SpreadsACommunicatingChainThatHcmCoLocatesAndHcmHasLowerLatency) {
  // Three light services in a chain (0.1 Beefy cores each at 1 K req/s). HCM puts all three on
  // the first SmartNIC (same node, level 0). Spreading them over three nodes lowers the standard
  // deviation of CPU and memory shares, so SA puts each on a different node — paying a network
  // hop per edge, which the evaluation model charges in latency.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "count", 0.1), svc("b", "ema", 0.1), svc("c", "kvs", 0.1)}));
  auto vh = cluster_view::empty(c), vs = cluster_view::empty(c);
  auto ph = hcm_place(d, vh);
  auto ps = sa_place(d, vs, {}, quick());
  EXPECT_EQ(std::set<node_id>(ph.node_of.begin(), ph.node_of.end()).size(), 1u);
  EXPECT_EQ(std::set<node_id>(ps.node_of.begin(), ps.node_of.end()).size(), 3u);
  auto eh = evaluate(d, c, ph, 1000), es = evaluate(d, c, ps, 1000);
  EXPECT_EQ(eh.paths[std::size_t(path_kind::local)].edges, 2u);
  EXPECT_EQ(es.paths[std::size_t(path_kind::local)].edges, 0u);
  EXPECT_LT(eh.latency_us, es.latency_us);
}

TEST(Annealing, MoveCostKeepsARunningPlacement) {
  // Rebalancing from HCM's packed placement: with a prohibitive move cost nothing moves; with
  // none, SA spreads the instances out.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("rta-shm"));
  auto vh = cluster_view::empty(c);
  auto ph = hcm_place(d, vh);
  auto o = quick();
  o.previous = ph.node_of;
  o.move_cost = 100;
  auto v1 = cluster_view::empty(c);
  auto kept = sa_place(d, v1, {}, o);
  EXPECT_EQ(kept.node_of, ph.node_of);
  o.move_cost = 0;
  auto v2 = cluster_view::empty(c);
  auto moved = sa_place(d, v2, {}, o);
  EXPECT_NE(moved.node_of, ph.node_of);
  EXPECT_LT(load_spread(v2), load_spread(v1));
  o.previous.pop_back();
  auto v3 = cluster_view::empty(c);
  EXPECT_THROW(sa_place(d, v3, {}, o), std::invalid_argument);
}

TEST(Annealing, BadScheduleIsRefused) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "count", 0.1)}));
  auto v = cluster_view::empty(c);
  auto o = quick();
  o.cooling = 1.0;
  EXPECT_THROW(sa_place(d, v, {}, o), std::invalid_argument);
  o = quick();
  o.initial_accept = 0;
  EXPECT_THROW(sa_place(d, v, {}, o), std::invalid_argument);
}

TEST(Annealing, AnInstanceThatFitsNowhereIsOvercommittedOnAnAdmissibleNode) {
  // 30 Top ranker shards of 2 Beefy cores on 3xType1: a host takes at most 4 within the 80 %
  // headroom (9.6 of 12 cores) and a LiquidIO none (Top ranker runs ~50x slower there), so 12 fit
  // and 18 are overcommitted, each on the admissible node it overloads least; no move can rescue
  // them, and every node without an overcommitted instance stays within capacity.
  auto c = cluster::preset("3xType1-SmartNIC");
  app_spec a = chain({svc("t", "top_ranker", 2.0)});
  a.services[0].shards = 30;
  auto d = expand(a);
  auto v = cluster_view::empty(c);
  auto p = sa_place(d, v, {}, quick());
  EXPECT_EQ(p.overcommitted.size(), 18u);
  expect_constraints(d, c, p, {}, "top ranker");
  expect_accounted(d, c, p, v, "top ranker");
}

TEST(Annealing, NoAdmissibleNodeThrows) {
  auto c = cluster::preset("3xType1-SmartNIC");
  for (auto h : c.hosts())
    c.set_node_up(h, false);
  auto d = expand(chain({svc("s", "sql", 0.1)}));
  auto v = cluster_view::empty(c);
  EXPECT_THROW(sa_place(d, v, {}, quick()), placement_error);
}
