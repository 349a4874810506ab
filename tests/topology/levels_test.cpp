// The hierarchical levels of §3.3 on hand-made clusters: order and membership.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "topology/topology.hpp"

using namespace e3::topo;

namespace {

std::vector<std::string> names(const cluster& c, const std::vector<node_id>& ids) {
  std::vector<std::string> out;
  for (auto id : ids)
    out.push_back(c.node(id).name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(Levels, OneRackOfTwoSmartNicServers) {
  // r0/s0: nic0 nic1 host ; r0/s1: nic0 nic1 host
  auto c = cluster::rack_of("hand", {"Type2-SmartNIC", "Type2-SmartNIC"}, 2);
  node_id nic0 = c.servers()[0].smartnics[0];
  auto lv = c.level_members(nic0);
  ASSERT_GE(lv.size(), 4u);
  EXPECT_EQ(names(c, lv[0]), (std::vector<std::string>{"r0/s0/nic0"}));
  EXPECT_EQ(names(c, lv[1]), (std::vector<std::string>{"r0/s0/host", "r0/s0/nic1"}));
  EXPECT_EQ(names(c, lv[2]), (std::vector<std::string>{"r0/s1/nic0", "r0/s1/nic1"}));
  EXPECT_EQ(names(c, lv[3]), (std::vector<std::string>{"r0/s1/host"}));
  auto lvh = c.level_members(c.servers()[1].host);
  EXPECT_EQ(names(c, lvh[0]), (std::vector<std::string>{"r0/s1/host"}));
  EXPECT_EQ(names(c, lvh[1]), (std::vector<std::string>{"r0/s1/nic0", "r0/s1/nic1"}));
  EXPECT_EQ(names(c, lvh[2]), (std::vector<std::string>{"r0/s0/nic0", "r0/s0/nic1"}));
  EXPECT_EQ(names(c, lvh[3]), (std::vector<std::string>{"r0/s0/host"}));
}

TEST(Levels, FatTreeLevelsPartitionTheClusterClosestFirst) {
  auto c = cluster::fat_tree({.servers = 200, .server_profile = "Type2-SmartNIC", .smartnics_per_server = 1,
                              .servers_per_rack = 40, .racks_per_pod = 2});
  // 5 racks in 3 pods: pods {0,1}, {2,3}, {4}.
  ASSERT_EQ(c.pods(), 3);
  node_id n = c.servers()[45].smartnics[0];  // rack 1, pod 0
  auto lv = c.level_members(n);
  ASSERT_EQ(lv.size(), 8u);
  std::set<node_id> seen;
  std::size_t total = 0;
  for (const auto& l : lv) {
    total += l.size();
    seen.insert(l.begin(), l.end());
  }
  EXPECT_EQ(total, c.nodes().size());
  EXPECT_EQ(seen.size(), c.nodes().size());
  EXPECT_EQ(lv[0], std::vector<node_id>{n});
  EXPECT_EQ(lv[1].size(), 1u);    // its host
  EXPECT_EQ(lv[2].size(), 39u);   // SmartNICs of the 39 other servers of rack 1
  EXPECT_EQ(lv[3].size(), 39u);   // their hosts
  EXPECT_EQ(lv[4].size(), 40u);   // SmartNICs of rack 0 (same pod)
  EXPECT_EQ(lv[5].size(), 40u);
  EXPECT_EQ(lv[6].size(), 120u);  // racks 2, 3, 4
  EXPECT_EQ(lv[7].size(), 120u);
  for (auto m : lv[2])
    EXPECT_EQ(c.node(m).kind, node_kind::smartnic);
  for (auto m : lv[3])
    EXPECT_EQ(c.node(m).kind, node_kind::host);
  // Among levels of the same node kind, distance grows level by level.
  for (int first : {2, 3}) {
    double prev = -1;
    for (std::size_t i = first; i < lv.size(); i += 2) {
      double best = 1e9;
      for (auto m : lv[i])
        best = std::min(best, c.one_way_latency_us(n, m));
      EXPECT_GT(best, prev) << "level " << i;
      prev = best;
    }
  }
}

TEST(Paths, KindsAndFig3Ratios) {
  auto c = cluster::rack_of("hand", {"Type2-SmartNIC", "Type2-SmartNIC"}, 2);
  const auto& s0 = c.servers()[0];
  const auto& s1 = c.servers()[1];
  EXPECT_EQ(c.path(s0.host, s0.host), path_kind::local);
  EXPECT_EQ(c.path(s0.host, s0.smartnics[0]), path_kind::pcie);
  EXPECT_EQ(c.path(s0.smartnics[0], s0.smartnics[1]), path_kind::tor);
  EXPECT_EQ(c.path(s0.host, s1.host), path_kind::tor);
  double hh = c.one_way_latency_us(s0.host, s1.host);
  EXPECT_NEAR(c.one_way_latency_us(s0.host, s0.smartnics[0]) / hh, 1 - 0.833, 1e-12);
  EXPECT_NEAR(c.one_way_latency_us(s0.smartnics[0], s1.smartnics[0]) / hh, 1 - 0.862, 1e-12);
}

#include "topology/core_queue.hpp"

TEST(CoreQueue, AnEarlierArrivalBookedLateFillsAGapInsteadOfWaiting) {
  // One core. Work arriving at 1000 is booked first (1000..1100); then work that arrived at 0
  // is booked: the core is idle over 0..1000, so it runs at once instead of after 1100.
  e3::topo::core_queue q(1);
  auto late = q.run(1000, 100);
  auto early = q.run(0, 50);
  EXPECT_EQ(late.start_ns, 1000);
  EXPECT_EQ(early.start_ns, 0);
  EXPECT_EQ(early.end_ns, 50);
  // A gap too small for the work is skipped: 950 units do not fit in 50..1000 (950 do, exactly).
  auto fits = q.run(10, 950);
  EXPECT_EQ(fits.start_ns, 50);
  auto after = q.run(20, 10);
  EXPECT_EQ(after.start_ns, 1100);
  EXPECT_EQ(q.busy_ns(), 100 + 50 + 950 + 10);
}

TEST(CoreQueue, InOrderBookingsAreFirstComeFirstServed) {
  e3::topo::core_queue q(2);
  EXPECT_EQ(q.run(0, 100).start_ns, 0);
  EXPECT_EQ(q.run(10, 100).start_ns, 10);
  auto third = q.run(20, 100);  // both busy: the first to free (core 0 at 100)
  EXPECT_EQ(third.start_ns, 100);
  EXPECT_EQ(third.core, 0);
  EXPECT_EQ(q.backlog_ns(50), 60);  // core 1 frees at 110
}
