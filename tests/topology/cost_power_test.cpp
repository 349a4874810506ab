// The cost model of §5.5 and the power model.
#include <gtest/gtest.h>

#include "topology/topology.hpp"

using namespace e3::topo;

TEST(Cost, FormulaOfSection5_5) {
  // 1 M req/s for one year on a $10,000 cluster drawing 500 W at $0.0733/kWh:
  // energy = 0.5 kW × 8760 h = 4380 kWh → $321.054; requests = 3.1536e13.
  double ce = cost_efficiency(1e6, seconds_per_year, 10000, 500);
  EXPECT_NEAR(ce, 3.1536e13 / (10000 + 4380 * 0.0733), 1e-3);
  EXPECT_EQ(cost_efficiency(1e6, 0, 10000, 500), 0);
  EXPECT_THROW(cost_efficiency(-1, 1, 1, 1), std::invalid_argument);
}

TEST(Cost, LongOwnershipTendsToEnergyEfficiencyTimesPrice) {
  // As T grows, cost efficiency → throughput / (power × price per joule): energy efficiency.
  double rps = 2e6, w = 400;
  double limit = rps / (w * usd_per_kwh / 3.6e6);
  EXPECT_NEAR(cost_efficiency(rps, 1e6 * seconds_per_year, 13500, w) / limit, 1.0, 1e-3);
}

TEST(Power, HostsSleepIdleCoresSmartNicsDoNot) {
  auto c = cluster::preset("3xType1-SmartNIC");
  const auto& host = c.node(c.servers()[0].host);
  const auto& nic = c.node(c.servers()[0].smartnics[0]);
  EXPECT_DOUBLE_EQ(modelled_power_w(host, {}), 98 - 15);
  EXPECT_DOUBLE_EQ(modelled_power_w(host, {.busy_cores = 6, .hosts_services = true}), 83 + 6 * (222.0 - 98) / 12);
  EXPECT_DOUBLE_EQ(modelled_power_w(host, {.busy_cores = 12, .hosts_services = true}), 83 + 124);
  // A SmartNIC hosting IPsec draws Table 1's 23.4 W of active power at any load.
  double act = smartnic_active_w({{"ipsec", 0.0}});
  EXPECT_DOUBLE_EQ(act, 23.4);
  EXPECT_DOUBLE_EQ(modelled_power_w(nic, {.busy_cores = 0.1, .hosts_services = true, .smartnic_active_w = act}),
                   15 + 23.4);
  EXPECT_DOUBLE_EQ(modelled_power_w(nic, {.busy_cores = 12, .hosts_services = true, .smartnic_active_w = act}),
                   15 + 23.4);
  EXPECT_DOUBLE_EQ(modelled_power_w(nic, {}), 15);
  // Weighted by busy cores.
  EXPECT_DOUBLE_EQ(smartnic_active_w({{"ipsec", 3.0}, {"bm25", 1.0}}), (23.4 * 3 + 19.2) / 4);
}

TEST(Power, WimpyCoresCannotSleep) {
  auto c = cluster::preset("4xWimpy");
  const auto& n = c.node(c.servers()[0].host);
  EXPECT_DOUBLE_EQ(modelled_power_w(n, {.busy_cores = 1, .hosts_services = true}), 95);
  EXPECT_DOUBLE_EQ(modelled_power_w(n, {}), 79);
}
