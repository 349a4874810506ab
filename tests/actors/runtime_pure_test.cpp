// The runtime's pure parts: routing, emulated cores and dilation, credit recovery, histogram.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "actors/credit.hpp"
#include "actors/emulation.hpp"
#include "actors/histogram.hpp"
#include "actors/router.hpp"
#include "scheduler/scheduler.hpp"

using namespace e3;
using namespace e3::rt;

namespace {

sched::app_spec two_stage(int a, int b, double share) {
  sched::app_spec s;
  s.name = "t";
  s.rate_rps = 1000;
  sched::service_spec x;
  x.name = "x";
  x.kind = "count";
  x.shards = a;
  x.replicas = 1;
  x.memory_mb = 1;
  sched::service_spec y = x;
  y.name = "y";
  y.kind = "ema";
  y.shards = b;
  s.services = {x, y};
  s.channels = {{0, 1, share}};
  s.entries = {0};
  return s;
}

}  // namespace

TEST(Router, LinksFollowLocations) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  const auto& s0 = c.servers()[0];
  const auto& s1 = c.servers()[1];
  EXPECT_EQ(link_between(c, s0.host, s0.host), link_kind::local);
  EXPECT_EQ(link_between(c, s0.host, s0.smartnics[0]), link_kind::pcie);
  EXPECT_EQ(link_between(c, s0.smartnics[0], s1.host), link_kind::zmq);
}

TEST(Router, KeysPickTheSameShardEverywhereAndSharesSample) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto app = two_stage(4, 6, 0.25);
  auto dag = sched::expand(app);
  auto v = sched::cluster_view::empty(c);
  auto p = sched::hcm_place(dag, v);
  router r(c, app, dag, p.node_of, c.servers()[0].host);
  std::vector<route> out;
  std::size_t taken = 0, n = 40000;
  for (std::uint64_t id = 0; id < n; ++id) {
    out.clear();
    std::uint64_t key = id * 7919;
    auto entry = r.entry_instance(0, key);
    EXPECT_EQ(entry, shard_of(key, 4));
    r.destinations(entry, key, id, out);
    if (!out.empty()) {
      ++taken;
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].instance, 4 + shard_of(key, 6));
      EXPECT_EQ(out[0].node, p.node_of[out[0].instance]);
      EXPECT_EQ(out[0].link, link_between(c, c.servers()[0].host, out[0].node));
      // The key-compatibility rule of the DAG holds: i ≡ j (mod gcd(4, 6) = 2).
      EXPECT_EQ(entry % 2, (out[0].instance - 4) % 2);
    }
  }
  EXPECT_NEAR(double(taken) / double(n), 0.25, 0.01);
  EXPECT_TRUE(r.is_sink(5));
  EXPECT_FALSE(r.is_sink(0));
}

TEST(Router, FailoverAndMigrationReroute) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto app = two_stage(1, 1, 1.0);
  auto dag = sched::expand(app);
  auto v = sched::cluster_view::empty(c);
  auto p = sched::hcm_place(dag, v);
  router r(c, app, dag, p.node_of, p.node_of[0]);
  std::vector<route> out;
  r.destinations(0, 1, 1, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].instance, 1u);
  auto backup = dag.replicas[1][0];
  r.promote(backup);
  out.clear();
  r.destinations(0, 1, 1, out);
  EXPECT_EQ(out[0].instance, backup);
  EXPECT_EQ(out[0].node, p.node_of[backup]);
  r.move(backup, c.servers()[2].host);
  out.clear();
  r.destinations(0, 1, 1, out);
  EXPECT_EQ(out[0].node, c.servers()[2].host);
  EXPECT_THROW(r.promote(0), std::invalid_argument);
}

TEST(CoreModel, RoundRobinAndQueueingInEmulatedTime) {
  core_model m(2);
  auto a = m.run(0, 100);    // core 0: 0..100
  auto b = m.run(10, 100);   // core 1: 10..110
  auto c = m.run(20, 100);   // both busy: core 0 frees first, waits until 100
  EXPECT_EQ(a.core, 0);
  EXPECT_EQ(b.core, 1);
  EXPECT_EQ(c.core, 0);
  EXPECT_EQ(c.start_ns, 100);
  EXPECT_EQ(c.end_ns, 200);
  EXPECT_EQ(m.busy_ns(), 300);
  EXPECT_EQ(m.max_backlog_ns(), 80);
}

TEST(CoreModel, WorkConservingNeverQueuesBehindALongJobWhileACoreIdles) {
  core_model m(3);
  m.run(0, 1000000);          // core 0 busy for 1 ms
  auto b = m.run(10, 100);    // core 1
  auto c = m.run(500, 100);   // round robin would pick core 2: idle, fine
  auto d = m.run(1000, 100);  // round robin's next is core 0 (busy): an idle core takes it
  EXPECT_EQ(b.core, 1);
  EXPECT_EQ(c.core, 2);
  EXPECT_EQ(d.start_ns, 1000);
  EXPECT_NE(d.core, 0);
}

TEST(CoreModel, SaturatesAtItsCapacity) {
  // 4 cores, 1 µs per request, arrivals every 0.2 µs (5 M/s offered vs 4 M/s capacity): the
  // completion rate is the capacity and the backlog grows.
  core_model m(4);
  std::int64_t last = 0;
  for (int i = 0; i < 100000; ++i)
    last = m.run(std::int64_t(i) * 200, 1000).end_ns;
  double rate = 100000.0 / (double(last) * 1e-9);
  EXPECT_NEAR(rate, 4e6, 4e6 * 0.001);
  EXPECT_GT(m.max_backlog_ns(), 1000000);
}

TEST(Dilation, MapsWallToEmulatedTime) {
  auto t0 = dilation_clock::wall::now();
  dilation_clock c(t0, 10);
  EXPECT_EQ(c.emulated_ns(t0 + std::chrono::milliseconds(10)), 1000000);
  EXPECT_EQ(c.wall_at(1000000), t0 + std::chrono::milliseconds(10));
}

TEST(Lateness, CountsLateMessages) {
  lateness_meter m;
  for (int i = 0; i < 100; ++i)
    m.record(1000, 1000 + (i < 10 ? 50000 : 0));
  EXPECT_EQ(m.count(), 100u);
  EXPECT_EQ(m.late(10000), 10u);
  EXPECT_EQ(m.max_ns(), 50000);
}

TEST(Credit, SplitsSumExactly) {
  std::vector<std::uint64_t> parts;
  split_credit(full_credit, 12, parts);
  std::uint64_t sum = 0;
  for (auto p : parts)
    sum += p;
  EXPECT_EQ(sum, full_credit);
  split_credit(5, 3, parts);
  EXPECT_EQ(parts, (std::vector<std::uint64_t>{2, 2, 1}));
}

TEST(Credit, RequestCompletesWhenEveryBranchHasReturned) {
  // A request fans out 3 ways; the middle branch fans out 2 more ways. Completions arrive in a
  // random order; the request completes exactly at the last one, with the latest time.
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    completion_tracker t;
    t.sent(9, 100);
    std::vector<std::uint64_t> top, mid;
    split_credit(full_credit, 3, top);
    split_credit(top[1], 2, mid);
    std::vector<std::pair<std::uint64_t, std::int64_t>> parts = {{top[0], 500}, {mid[0], 900}, {mid[1], 700}, {top[2], 300}};
    std::shuffle(parts.begin(), parts.end(), rng);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto d = t.completed(9, parts[i].first, parts[i].second, false, i == 0);
      if (i + 1 < parts.size()) {
        EXPECT_FALSE(d);
      } else {
        ASSERT_TRUE(d);
        EXPECT_EQ(d->latency_ns, 800);
        EXPECT_TRUE(d->replied);
      }
    }
    EXPECT_EQ(t.outstanding(), 0u);
  }
}

TEST(Credit, ExpiryCountsLostAndLateCompletionsAreStrays) {
  completion_tracker t;
  t.sent(1, 0);
  t.sent(2, 1000);
  EXPECT_EQ(t.expire(500), 1u);
  EXPECT_EQ(t.lost(), 1u);
  EXPECT_FALSE(t.completed(1, full_credit, 2000, false, false));
  EXPECT_EQ(t.strays(), 1u);
  EXPECT_TRUE(t.completed(2, full_credit, 2000, true, false)->error);
}

TEST(Histogram, PercentilesWithinATenthOfAPercent) {
  histogram h;
  for (int i = 1; i <= 100000; ++i)
    h.record(i * 100);  // 100 ns .. 10 ms uniformly
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_NEAR(double(h.quantile(0.5)), 5e6, 5e6 * 0.001);
  EXPECT_NEAR(double(h.quantile(0.99)), 9.9e6, 9.9e6 * 0.001);
  EXPECT_NEAR(double(h.quantile(0.999)), 9.99e6, 9.99e6 * 0.001);
  EXPECT_EQ(h.max(), 10000000);
  EXPECT_EQ(h.min(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 5000050.0);
  histogram g;
  g.record(3);
  g.merge(h);
  EXPECT_EQ(g.count(), 100001u);
  EXPECT_EQ(g.min(), 3);
}
