// Expansion of app specs into instance DAGs: shard edges, visit rates, replicas.
#include <gtest/gtest.h>

#include "scheduler/scheduler.hpp"

using namespace e3::sched;

namespace {

service_spec svc(std::string name, std::string kind, int shards, int replicas = 0, double cpu = 0.1) {
  service_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.shards = shards;
  s.replicas = replicas;
  s.cpu = cpu;
  s.memory_mb = 10;
  return s;
}

}  // namespace

TEST(Expand, ShardEdgesFollowKeyCompatibility) {
  app_spec a;
  a.name = "t";
  a.rate_rps = 1000;
  a.services = {svc("a", "count", 4), svc("b", "ema", 6)};
  a.channels = {{0, 1, 1.0}};
  a.entries = {0};
  auto d = expand(a);
  ASSERT_EQ(d.primaries, 10u);
  // gcd(4, 6) = 2: shard i of a reaches the b shards j with j ≡ i (mod 2): three each.
  ASSERT_EQ(d.edges.size(), 12u);
  for (const auto& e : d.edges)
    EXPECT_EQ(d.nodes[e.from].shard % 2, d.nodes[e.to].shard % 2);
  double into_b = 0;
  for (std::size_t i = 4; i < 10; ++i)
    into_b += d.nodes[i].visits;
  EXPECT_NEAR(into_b, 1.0, 1e-12);  // every request reaches exactly one b shard
  for (std::size_t i = 4; i < 10; ++i)
    EXPECT_NEAR(d.nodes[i].visits, 1.0 / 6, 1e-12);
}

TEST(Expand, SharesScaleVisitsAndReplicasFollowPrimaries) {
  app_spec a;
  a.name = "t";
  a.rate_rps = 1000;
  a.services = {svc("a", "api_gateway", 2, 1), svc("b", "sql", 2, 1), svc("c", "knn", 1, 2)};
  a.channels = {{0, 1, 1.0}, {1, 2, 0.25}};
  a.entries = {0};
  auto d = expand(a);
  EXPECT_EQ(d.primaries, 5u);
  EXPECT_EQ(d.nodes.size(), 5u + 2 + 2 + 2);
  EXPECT_NEAR(d.nodes[4].visits, 0.25, 1e-12);
  ASSERT_EQ(d.replicas[4].size(), 2u);
  for (auto r : d.replicas[4]) {
    EXPECT_EQ(d.nodes[r].replica_of, 4);
    EXPECT_EQ(d.nodes[r].cpu, 0);  // knn is stateless: a standby needs no CPU
  }
  for (auto r : d.replicas[2])  // sql is stateful: its backup applies writes
    EXPECT_NEAR(d.nodes[r].cpu, 0.1 * replica_cpu_share_stateful, 1e-12);
  EXPECT_EQ(d.sources, (std::vector<std::uint32_t>{0, 1}));
}

TEST(Expand, CyclesAreRefused) {
  app_spec a;
  a.name = "t";
  a.services = {svc("a", "count", 1), svc("b", "ema", 1)};
  a.channels = {{0, 1, 1.0}, {1, 0, 1.0}};
  a.entries = {0};
  EXPECT_THROW(expand(a), std::invalid_argument);
}
