// HCM on small hand-made DAGs whose right answers are worked out by hand in the comments.
#include <gtest/gtest.h>

#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

using namespace e3::sched;
using namespace e3::topo;

namespace {

service_spec svc(std::string name, std::string kind, int shards, double cpu, double mem = 100, int replicas = 0) {
  service_spec s;
  s.name = std::move(name);
  s.kind = std::move(kind);
  s.shards = shards;
  s.cpu = cpu;
  s.memory_mb = mem;
  s.replicas = replicas;
  s.host_only = find_service_profile(s.kind)->host_only;
  return s;
}

app_spec chain(std::vector<service_spec> services) {
  app_spec a;
  a.name = "hand";
  a.rate_rps = 1000;
  for (std::size_t i = 0; i + 1 < services.size(); ++i)
    a.channels.push_back({i, i + 1, 1.0});
  a.services = std::move(services);
  a.entries = {0};
  return a;
}

constraints no_headroom() {
  constraints c;
  c.core_headroom = 1.0;
  return c;
}

}  // namespace

TEST(Hcm, CommunicatingServicesShareANodeWhenTheyFit) {
  // Three light services (0.1 Beefy cores each; on a LiquidIO core count, ema 0.1×1.6 …) fit on
  // one SmartNIC: first fit puts the source on the first SmartNIC, MS_PLACE keeps both
  // descendants there (level 0, the same node).
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "count", 1, 0.1), svc("b", "ema", 1, 0.1), svc("c", "kvs", 1, 0.1)}));
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, no_headroom());
  node_id nic0 = c.servers()[0].smartnics[0];
  EXPECT_EQ(p.node_of, (std::vector<node_id>{nic0, nic0, nic0}));
  EXPECT_EQ(p.level_used, (std::vector<int>{-1, 0, 0}));
  EXPECT_TRUE(p.overcommitted.empty());
}

TEST(Hcm, NextLevelWhenTheClosestIsFull) {
  // count on nic0 takes 10 of its 12 cores (cpu 10 / slowdown 1.0 — we give count a demand
  // measured in LiquidIO cores by dividing by its slowdown). ema then needs more than the 2 left:
  // level 1 of nic0 is its own server's host, which fits.
  auto c = cluster::preset("3xType1-SmartNIC");
  double count_slow = service_profile_of("count").slowdown(core_type::cnmips, 1.2);
  double ema_slow = service_profile_of("ema").slowdown(core_type::cnmips, 1.2);
  auto d = expand(chain({svc("a", "count", 1, 10 / count_slow), svc("b", "ema", 1, 3 / ema_slow)}));
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, no_headroom());
  EXPECT_EQ(p.node_of[0], c.servers()[0].smartnics[0]);
  EXPECT_EQ(p.node_of[1], c.servers()[0].host);
  EXPECT_EQ(p.level_used[1], 1);
  // Remaining capacity is accounted: nic0 has 2 LiquidIO cores left.
  EXPECT_NEAR(v.nodes[c.servers()[0].smartnics[0]].free_cores, 2, 1e-9);
}

TEST(Hcm, SmartNicOnAnotherServerBeforeAHostThere) {
  // Fill server 0 (nic0 by the source, the host by a pre-booked load): the descendant must go to
  // level 2, a SmartNIC on another server of the rack (s1's card, the first in cluster order).
  auto c = cluster::preset("3xType1-SmartNIC");
  auto v = cluster_view::empty(c);
  v.nodes[c.servers()[0].host].free_cores = 0;
  double slow = service_profile_of("count").slowdown(core_type::cnmips, 1.2);
  auto d = expand(chain({svc("a", "count", 1, 11 / slow), svc("b", "count", 1, 5 / slow)}));
  auto p = hcm_place(d, v, no_headroom());
  EXPECT_EQ(p.node_of[1], c.servers()[1].smartnics[0]);
  EXPECT_EQ(p.level_used[1], 2);
  // With every SmartNIC busy, level 3: a host on another server.
  auto v2 = cluster_view::empty(c);
  v2.nodes[c.servers()[0].host].free_cores = 0;
  v2.nodes[c.servers()[1].smartnics[0]].free_cores = 0;
  v2.nodes[c.servers()[2].smartnics[0]].free_cores = 0;
  auto p2 = hcm_place(d, v2, no_headroom());
  EXPECT_EQ(p2.level_used[1], 3);
  EXPECT_EQ(c.node(p2.node_of[1]).kind, node_kind::host);
  EXPECT_NE(c.node(p2.node_of[1]).server, 0);
}

TEST(Hcm, CapacityIsNeverExceeded) {
  // 30 shards of a heavy service on 3xType1: each needs 2 Beefy cores; everything that fits is
  // placed within capacity, the rest is reported overcommitted.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto a = chain({svc("a", "top_ranker", 30, 2.0)});
  auto d = expand(a);
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, no_headroom());
  // Top ranker is ~52x slower on a LiquidIO core: never fits a card; 3 hosts × 12 cores → 18 fit.
  std::size_t ok = 0;
  for (std::size_t i = 0; i < d.nodes.size(); ++i) {
    bool over = std::find(p.overcommitted.begin(), p.overcommitted.end(), i) != p.overcommitted.end();
    if (!over) {
      ++ok;
      EXPECT_EQ(c.node(p.node_of[i]).kind, node_kind::host);
    }
  }
  EXPECT_EQ(ok, 18u);
  EXPECT_EQ(p.overcommitted.size(), 12u);
}

TEST(Hcm, SqlNeverLandsOnASmartNic) {
  // api on nic0; sql is host-only: level 0 (nic0) is refused, level 1 (the host) is taken.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("api", "api_gateway", 2, 0.05), svc("sql", "sql", 4, 0.2), svc("ema", "ema", 4, 0.05)}));
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, no_headroom());
  for (const auto& n : d.nodes) {
    if (n.kind == "sql") {
      EXPECT_EQ(c.node(p.node_of[n.id]).kind, node_kind::host) << n.id;
    }
  }
  EXPECT_EQ(p.node_of[2], c.servers()[0].host);
  EXPECT_EQ(p.level_used[2], 1);
  // Same on clusters of other shapes.
  for (auto name : {"2xType2-SmartNIC", "3xBeefy"}) {
    auto cc = cluster::preset(name);
    auto vv = cluster_view::empty(cc);
    auto pp = hcm_place(d, vv, no_headroom());
    for (const auto& n : d.nodes) {
      if (n.kind == "sql") {
        EXPECT_EQ(cc.node(pp.node_of[n.id]).kind, node_kind::host);
      }
    }
  }
}

TEST(Hcm, NoReplicaSharesItsPrimarysServer) {
  // Every shard has two replicas: each lands on a different server from its primary and from
  // its sibling, as close as that allows (level 2 or 3: the same rack).
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "count", 3, 0.1, 100, 2), svc("b", "kvs", 3, 0.1, 100, 2)}));
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, no_headroom());
  for (const auto& n : d.nodes) {
    if (n.replica_of < 0)
      continue;
    int primary_server = c.node(p.node_of[std::size_t(n.replica_of)]).server;
    EXPECT_NE(c.node(p.node_of[n.id]).server, primary_server) << n.id;
    for (auto sib : d.replicas[std::size_t(n.replica_of)]) {
      if (sib != n.id) {
        EXPECT_NE(c.node(p.node_of[n.id]).server, c.node(p.node_of[sib]).server);
      }
    }
    EXPECT_TRUE(p.level_used[n.id] == 2 || p.level_used[n.id] == 3) << p.level_used[n.id];
  }
  // A single-server cluster cannot keep a replica apart: the placement fails loudly.
  auto one = cluster::preset("1xSuperBeefy");
  auto v1 = cluster_view::empty(one);
  EXPECT_THROW(hcm_place(d, v1, no_headroom()), placement_error);
}

TEST(Hcm, BestFitPrefersTheEnergyEfficientThenTheTightestNode) {
  // Type2 server: the source fills nic0; the level-1 candidates are nic1..nic3 and the host.
  // IPsec spends far less active energy per request on a LiquidIO (Table 1: 79 K vs 8.1 K
  // requests/J), so a SmartNIC wins; among the cards, the tightest fit: nic2, pre-loaded.
  auto c = cluster::rack_of("t2", {"Type2-SmartNIC"}, 4);
  auto v = cluster_view::empty(c);
  const auto& s = c.servers()[0];
  v.nodes[s.smartnics[2]].free_cores = 4;
  double slow = service_profile_of("count").slowdown(core_type::cnmips, 1.2);
  auto d = expand(chain({svc("a", "count", 1, 12 / slow), svc("b", "ipsec", 1, 0.5)}));
  auto p = hcm_place(d, v, no_headroom());
  EXPECT_EQ(p.node_of[0], s.smartnics[0]);
  EXPECT_EQ(p.node_of[1], s.smartnics[2]);
  EXPECT_EQ(p.level_used[1], 1);
  // Bayes is the other way round (Table 1: 0.1 K vs 0.08 K requests/J): the host wins at level 1.
  auto d2 = expand(chain({svc("a", "count", 1, 12 / slow), svc("b", "bayes", 1, 0.01)}));
  auto v2 = cluster_view::empty(c);
  auto p2 = hcm_place(d2, v2, no_headroom());
  EXPECT_EQ(p2.node_of[1], s.host);
}

TEST(Hcm, DeterministicAndConsumesTheView) {
  auto c = cluster::fat_tree({.servers = 80});
  auto d = expand(chain({svc("a", "count", 12, 0.3, 100, 1), svc("b", "nat", 12, 0.5, 100, 1)}));
  auto v1 = cluster_view::empty(c);
  auto v2 = cluster_view::empty(c);
  auto p1 = hcm_place(d, v1);
  auto p2 = hcm_place(d, v2);
  EXPECT_EQ(p1.node_of, p2.node_of);
  double used = 0;
  for (std::size_t n = 0; n < c.nodes().size(); ++n)
    used += c.node(node_id(n)).memory_mb - v1.nodes[n].free_memory_mb;
  EXPECT_NEAR(used, 48 * 100, 1e-6);
}

TEST(Hcm, DownNodesAreAvoided) {
  auto c = cluster::preset("3xType1-SmartNIC");
  auto v = cluster_view::empty(c);
  v.nodes[c.servers()[0].smartnics[0]].up = false;
  auto d = expand(chain({svc("a", "count", 1, 0.1)}));
  auto p = hcm_place(d, v);
  EXPECT_EQ(p.node_of[0], c.servers()[1].smartnics[0]);
}

TEST(Hcm, PackingSmartNicsIgnoresTheirCoresButNotTheirMemory) {
  // Top ranker never fits a LiquidIO by cores (~52x slower); packed, only memory counts: 3
  // instances of 1.5 GB fill a 4 GB card with 2, the third goes to the next card.
  auto c = cluster::preset("3xType1-SmartNIC");
  auto d = expand(chain({svc("a", "top_ranker", 3, 2.0, 1536)}));
  constraints packed = no_headroom();
  packed.pack_smartnics = true;
  auto v = cluster_view::empty(c);
  auto p = hcm_place(d, v, packed);
  EXPECT_EQ(p.node_of[0], c.servers()[0].smartnics[0]);
  EXPECT_EQ(p.node_of[1], c.servers()[0].smartnics[0]);
  EXPECT_EQ(p.node_of[2], c.servers()[1].smartnics[0]);
  auto v2 = cluster_view::empty(c);
  auto q = hcm_place(d, v2, no_headroom());
  for (auto n : q.node_of)
    EXPECT_EQ(c.node(n).kind, node_kind::host);
}
