// ILP placement: an optimum worked out by hand, constraints on the paper's apps, determinism
// under a node limit, and honest reports of limits and infeasibility.
#include <gtest/gtest.h>

#include <set>

#include "apps/placement_report.hpp"
#include "scheduler/ilp.hpp"
#include "scheduler/scheduler.hpp"
#include "tests/scheduler/placement_check.hpp"
#include "topology/topology.hpp"

using namespace e3::sched;
using namespace e3::topo;
using e3::sched::testing::expect_accounted;
using e3::sched::testing::expect_constraints;

namespace {

const char* const paper_apps[] = {"nfv-fin", "nfv-din", "nfv-ifid", "rta-ptc", "rta-sf", "rta-shm", "iot-dh", "iot-ts"};

service_spec svc(std::string name, std::string kind, double cpu, double mem = 100, int shards = 1, int replicas = 0) {
  service_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.cpu = cpu;
  s.memory_mb = mem;
  s.shards = shards;
  s.replicas = replicas;
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

// A search bounded by subproblems, not by the clock: the same on any machine.
ilp_options bounded(std::uint64_t nodes = 2) {
  ilp_options o;
  o.max_nodes = nodes;
  o.time_limit = std::chrono::milliseconds(120'000);
  return o;
}

bool views_equal(const cluster_view& a, const cluster_view& b) {
  for (std::size_t n = 0; n < a.nodes.size(); ++n)
    if (a.nodes[n].free_cores != b.nodes[n].free_cores || a.nodes[n].free_memory_mb != b.nodes[n].free_memory_mb ||
        a.nodes[n].free_gbps != b.nodes[n].free_gbps)
      return false;
  return true;
}

}  // namespace

TEST(Ilp, OptimumWorkedOutByHand) {
  // Four IPsec instances needing 6, 3, 3 and 2 Beefy cores on 3xBeefy (three 12-core hosts at
  // 2.5 GHz: one Beefy core each), CPU spread only. CPU shares 0.5, 0.25, 0.25, 0.1667; whatever
  // the placement the mean share is 14/36 = 7/18. The partitions into three hosts:
  //   {6} {3,2} {3}: 0.5, 0.4167, 0.25 -> |dev| 4/36 + 1/36 + 5/36 = 10/36   <- the least
  //   {6} {3,3} {2}: 0.5, 0.5, 0.1667  -> 16/36;  {6,2} {3} {3}: 20/36;  {6,3} {3} {2}: 26/36;
  //   any with an empty host: >= 28/36.
  // Objective = mean absolute deviation = (10/36) / 3 = 5/54.
  auto c = cluster::preset("3xBeefy");
  app_spec a = chain({svc("big", "ipsec", 6), svc("m1", "ipsec", 3), svc("m2", "ipsec", 3), svc("s", "ipsec", 2)});
  a.channels.clear();
  a.entries = {0, 1, 2, 3};
  auto d = expand(a);
  auto v = cluster_view::empty(c);
  ilp_options o;
  o.weights.memory = 0;
  constraints k;
  k.core_headroom = 1.0;
  auto r = ilp_place(d, v, k, o);
  ASSERT_EQ(r.status, ilp_status::optimal) << r.detail;
  EXPECT_NEAR(r.objective, 5.0 / 54.0, 1e-6);
  EXPECT_EQ(r.gap, 0);
  const auto& at = r.placed.node_of;
  EXPECT_EQ(r.placed.algo, "ilp");
  EXPECT_NE(at[0], at[1]);  // the big one alone
  EXPECT_NE(at[0], at[2]);
  EXPECT_NE(at[0], at[3]);
  EXPECT_NE(at[1], at[2]);  // the two mediums apart, the small one with one of them
  EXPECT_TRUE(at[3] == at[1] || at[3] == at[2]);
  expect_accounted(d, c, r.placed, v, "hand");
}

TEST(Ilp, PaperAppsRespectEveryConstraint) {
  auto c = cluster::preset("3xType1-SmartNIC");
  for (auto name : paper_apps) {
    auto d = expand(e3::apps::load_app(name));
    auto v = cluster_view::empty(c);
    auto r = ilp_place(d, v, {}, bounded());
    ASSERT_TRUE(has_placement(r.status)) << name << ": " << to_string(r.status) << ": " << r.detail;
    EXPECT_TRUE(r.placed.overcommitted.empty());
    expect_constraints(d, c, r.placed, {}, name);
    expect_accounted(d, c, r.placed, v, name);
  }
}

TEST(Ilp, SameModelSameNodeLimitSameAnswer) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("iot-ts"));
  auto v1 = cluster_view::empty(c), v2 = cluster_view::empty(c);
  auto r1 = ilp_place(d, v1, {}, bounded(3));
  auto r2 = ilp_place(d, v2, {}, bounded(3));
  ASSERT_TRUE(has_placement(r1.status)) << r1.detail;
  EXPECT_EQ(r1.status, r2.status);
  EXPECT_EQ(r1.placed.node_of, r2.placed.node_of);
  EXPECT_DOUBLE_EQ(r1.objective, r2.objective);
  if (r1.status == ilp_status::feasible_node_limit) {
    EXPECT_EQ(to_string(r1.status), "feasible (node limit)");
  }
}

TEST(Ilp, SpreadsACommunicatingChainThatHcmCoLocatesAndHcmHasLowerLatency) {
  // The chain of annealing_test: HCM keeps it on one SmartNIC; the ILP's spread objective puts
  // each service on its own node (stacking two raises the deviation), so every edge crosses the
  // network and the evaluation model gives HCM the lower latency.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "count", 0.1), svc("b", "ema", 0.1), svc("c", "kvs", 0.1)}));
  auto vh = cluster_view::empty(c), vi = cluster_view::empty(c);
  auto ph = hcm_place(d, vh);
  auto r = ilp_place(d, vi, {}, bounded(1000));
  ASSERT_EQ(r.status, ilp_status::optimal) << r.detail;
  EXPECT_EQ(std::set<node_id>(ph.node_of.begin(), ph.node_of.end()).size(), 1u);
  EXPECT_EQ(std::set<node_id>(r.placed.node_of.begin(), r.placed.node_of.end()).size(), 3u);
  EXPECT_LT(evaluate(d, c, ph, 1000).latency_us, evaluate(d, c, r.placed, 1000).latency_us);
}

TEST(Ilp, SizeGuardReportsOverLimitWithoutSolving) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(e3::apps::load_app("iot-ts"));
  auto v = cluster_view::empty(c);
  auto before = v;
  ilp_options o;
  o.max_nonzeros = 1000;
  auto r = ilp_place(d, v, {}, o);
  EXPECT_EQ(r.status, ilp_status::over_limit);
  EXPECT_EQ(to_string(r.status), "over limit");
  EXPECT_GT(r.nonzeros, 1000u);
  EXPECT_EQ(r.rows, 0u);
  EXPECT_TRUE(r.placed.node_of.empty());
  EXPECT_NE(r.detail.find("not solved"), std::string::npos) << r.detail;
  EXPECT_TRUE(views_equal(v, before));
}

TEST(Ilp, TimeLimitIsReportedNotHidden) {
  // One IoT-TS copy on 40 Type2 servers (200 nodes, ~15 K binaries): its root LP alone takes
  // far longer than 20 ms, so the limit stops the search and the status says so.
  auto c = cluster::fat_tree({.servers = 40, .server_profile = "Type2-SmartNIC"});
  auto d = expand(e3::apps::load_app("iot-ts"));
  auto v = cluster_view::empty(c);
  auto before = v;
  ilp_options o;
  o.time_limit = std::chrono::milliseconds(20);
  auto r = ilp_place(d, v, {}, o);
  EXPECT_TRUE(r.status == ilp_status::no_solution || r.status == ilp_status::feasible_timeout ||
              r.status == ilp_status::over_limit)
      << to_string(r.status);
  EXPECT_NE(to_string(r.status).find("limit"), std::string::npos);
  EXPECT_NE(r.detail.find("limit"), std::string::npos) << r.detail;
  if (!has_placement(r.status)) {
    EXPECT_TRUE(r.placed.node_of.empty());
    EXPECT_TRUE(views_equal(v, before));
  }
}

TEST(Ilp, InfeasibleIsSaidSo) {
  auto c = cluster::preset("3xType1-SmartNIC");
  // A SQL shard needing more cores than any host has: no candidate at all.
  {
    auto d = expand(chain({svc("s", "sql", 20)}));
    auto v = cluster_view::empty(c);
    auto r = ilp_place(d, v, {}, bounded());
    EXPECT_EQ(r.status, ilp_status::infeasible);
    EXPECT_NE(r.detail.find("fits no node"), std::string::npos) << r.detail;
  }
  // A primary with three replicas needs four servers; the cluster has three.
  {
    auto d = expand(chain({svc("k", "kvs", 0.1, 100, 1, 3)}));
    auto v = cluster_view::empty(c);
    auto before = v;
    auto r = ilp_place(d, v, {}, bounded());
    EXPECT_EQ(r.status, ilp_status::infeasible) << to_string(r.status) << ": " << r.detail;
    EXPECT_TRUE(views_equal(v, before));
  }
}
