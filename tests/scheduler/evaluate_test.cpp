// The placement evaluation model on hand-computed cases.
#include <gtest/gtest.h>

#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

using namespace e3::sched;
using namespace e3::topo;

namespace {

app_spec one(std::string kind, int shards) {
  app_spec a;
  a.name = "one";
  a.rate_rps = 1000;
  service_spec s;
  s.name = "s";
  s.kind = std::move(kind);
  s.shards = shards;
  s.cpu = 0.1;
  s.memory_mb = 10;
  a.services = {s};
  a.entries = {0};
  return a;
}

}  // namespace

TEST(Evaluate, ThroughputPowerAndRequestsPerJouleByHand) {
  // One IPsec shard on a Beefy host of 3xBeefy at 100 K req/s: 100 K × (stack + handler) µs
  // busy cores; that host draws 83 + busy × 9.833 W; the other two idle at 83 W each. It
  // saturates at its 12 cores or its 20 Gb/s of ports, whichever comes first.
  auto c = cluster::preset("3xBeefy");
  auto d = expand(one("ipsec", 1));
  placement p{"hand", {c.servers()[0].host}, {}, {-1}};
  auto ev = evaluate(d, c, p, 100000);
  double us = service_profile_of("ipsec").cost_us(core_type::xeon, 2.5);
  double busy = 1e5 * us * 1e-6;
  EXPECT_NEAR(ev.nodes[c.servers()[0].host].cores_used, busy, 1e-9);
  double w = 83 + busy * (201.0 - 83) / 12 + 2 * 83;
  EXPECT_NEAR(ev.power_w, w, 1e-6);
  EXPECT_NEAR(ev.requests_per_joule, 1e5 / w, 1e-6);
  double ports = 20e9 / (512 * 8);  // the request enters over the network
  EXPECT_NEAR(ev.max_throughput_rps, std::min(12 / (us * 1e-6), ports), 1e-3);
  // Beyond saturation, throughput stops at the maximum.
  auto ev2 = evaluate(d, c, p, 1e7);
  EXPECT_NEAR(ev2.throughput_rps, ev.max_throughput_rps, 1e-3);
}

TEST(Evaluate, SmartNicPowerIsFlatAndPathsAreCounted) {
  auto c = cluster::preset("3xType1-SmartNIC");
  app_spec a = one("ipsec", 1);
  service_spec b = a.services[0];
  b.name = "t";
  b.kind = "count";
  a.services.push_back(b);
  a.channels = {{0, 1, 1.0}};
  auto d = expand(a);
  node_id nic = c.servers()[0].smartnics[0];
  placement p{"hand", {nic, c.servers()[0].host}, {}, {-1, -1}};
  auto lo = evaluate(d, c, p, 1000);
  auto hi = evaluate(d, c, p, 100000);
  EXPECT_DOUBLE_EQ(lo.nodes[nic].power_w, hi.nodes[nic].power_w);  // no per-core sleep on the card
  EXPECT_EQ(lo.paths[std::size_t(path_kind::pcie)].edges, 1u);
  EXPECT_NEAR(hi.paths[std::size_t(path_kind::pcie)].messages_per_s, 1e5, 1e-6);
  EXPECT_EQ(lo.smartnic_instances, 1u);
  EXPECT_EQ(lo.host_instances, 1u);
}

TEST(Evaluate, CloserPlacementHasLowerLatency) {
  auto c = cluster::preset("3xType1-SmartNIC");
  app_spec a = one("count", 1);
  service_spec b = a.services[0];
  b.name = "t";
  a.services.push_back(b);
  a.channels = {{0, 1, 1.0}};
  auto d = expand(a);
  node_id nic0 = c.servers()[0].smartnics[0];
  placement same{"hand", {nic0, nic0}, {}, {-1, -1}};
  placement far{"hand", {nic0, c.servers()[1].host}, {}, {-1, -1}};
  EXPECT_LT(evaluate(d, c, same, 1000).latency_us, evaluate(d, c, far, 1000).latency_us);
}
