// ECMP ingress (§3.2): spreading over a server's ports, and flows moving on a port failure.
#include <gtest/gtest.h>

#include <map>

#include "topology/topology.hpp"

using namespace e3::topo;

namespace {

std::vector<std::uint64_t> flows(int n) {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(flow_hash(0xc0a80000u + std::uint32_t(i), 0x0a000001u, std::uint16_t(1024 + i % 5000), 80, 6));
  return out;
}

}  // namespace

TEST(Ecmp, HostIpSpreadsFlowsEvenlyOverEverySmartNicPort) {
  auto c = cluster::preset("2xType2-SmartNIC");
  const auto& s = c.servers()[0];
  ASSERT_EQ(s.ports.size(), 8u);  // four LiquidIO cards, two ports each
  std::map<int, int> per_port;
  auto fs = flows(80000);
  for (auto f : fs)
    per_port[c.ingress_port(c.node(s.host).ip, f)]++;
  ASSERT_EQ(per_port.size(), 8u);
  for (auto [port, n] : per_port) {
    EXPECT_EQ(c.ports()[port].server, s.id);
    EXPECT_NEAR(n, 10000, 500) << "port " << port;  // within 5 % of an even share
  }
}

TEST(Ecmp, SmartNicIpUsesOnlyItsOwnPorts) {
  auto c = cluster::preset("2xType2-SmartNIC");
  node_id nic = c.servers()[1].smartnics[2];
  for (auto f : flows(1000))
    EXPECT_EQ(c.ports()[c.ingress_port(c.node(nic).ip, f)].owner, nic);
}

TEST(Ecmp, OnlyFlowsOfAFailedPortMove) {
  auto c = cluster::preset("2xType2-SmartNIC");
  const auto& s = c.servers()[0];
  auto ip = c.node(s.host).ip;
  auto fs = flows(20000);
  std::vector<int> before;
  for (auto f : fs)
    before.push_back(c.ingress_port(ip, f));
  int failed = s.ports[3];
  c.set_port_up(failed, false);
  int moved = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    int now = c.ingress_port(ip, fs[i]);
    EXPECT_NE(now, failed);
    if (before[i] == failed) {
      ++moved;
    } else {
      EXPECT_EQ(now, before[i]) << "flow " << i << " moved although its port is up";
    }
  }
  EXPECT_GT(moved, 0);
  // A whole SmartNIC failing takes both its ports; other flows stay.
  c.set_port_up(failed, true);
  node_id nic = s.smartnics[1];
  c.set_node_up(nic, false);
  for (std::size_t i = 0; i < fs.size(); ++i) {
    int now = c.ingress_port(ip, fs[i]);
    EXPECT_NE(c.ports()[now].owner, nic);
    if (c.ports()[before[i]].owner != nic) {
      EXPECT_EQ(now, before[i]);
    }
  }
  // The SmartNIC's own IP is unreachable while it is down.
  EXPECT_EQ(c.ingress_port(c.node(nic).ip, fs[0]), -1);
}

TEST(Ecmp, ServerWithoutSmartNicsUsesTheHostNicPorts) {
  auto c = cluster::preset("3xBeefy");
  const auto& s = c.servers()[2];
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(c.ports()[c.ingress_port(c.node(s.host).ip, 42)].owner, s.host);
}
