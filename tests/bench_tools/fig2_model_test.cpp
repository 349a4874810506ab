// The Fig. 2 model: the per-request benefit is the stack-plus-handler split worked out by hand, the
// card-at-peak figure reproduces Table 1's SmartNIC RPJ at 512 B and falls once the card's ports
// are the limit.
#include <gtest/gtest.h>

#include "bench/fig2/fig2_model.hpp"
#include "bench/services_table/profile_csv.hpp"

namespace {

using namespace e3;

struct fixture : ::testing::Test {
  topo::cluster beefy = topo::cluster::rack_of("t", {"Beefy"});
  topo::cluster type1 = topo::cluster::rack_of("t", {"Type1-SmartNIC"});
  const topo::compute_node& host = beefy.node(beefy.hosts()[0]);
  const topo::compute_node& nic = type1.node(type1.smartnics()[0]);
  std::vector<topo::service_profile> table1 = topo::build_service_profiles(embedded::table1_csv, "");

  const topo::service_profile& t1(const std::string& kind) {
    for (const auto& p : table1)
      if (p.kind == kind)
        return p;
    throw std::runtime_error(kind);
  }
  topo::service_profile measured(const std::string& kind, std::vector<bench::measured_point> pts) {
    for (const auto& p : topo::build_service_profiles(embedded::table1_csv, bench::profile_csv(pts, "test")))
      if (p.kind == kind)
        return p;
    throw std::runtime_error(kind);
  }
};

using Fig2Model = fixture;

TEST_F(Fig2Model, PerRequestBenefitIsTheStackAndHandlerSplitByHand) {
  // Host time that grows with size, as IPsec's does.
  auto m = measured("ipsec", {{"ipsec", 64, 0.4, 1}, {"ipsec", 512, 1.2, 1}, {"ipsec", 1500, 2.6, 1}});
  auto level = bench::table1_level(t1("ipsec"), m);
  const auto& p = t1("ipsec");
  double host_stack = topo::stack_us(host.cores_type, host.clock_ghz);
  double nic_stack = topo::stack_us(nic.cores_type, nic.clock_ghz);
  double previous = 0;
  for (auto [s, handler] : std::vector<std::pair<double, double>>{{64, 0.4}, {512, 1.2}, {1500, 2.6}}) {
    auto f = bench::fig2_at(m, level, host, nic, s);
    // Per request: (stack + handler) on each core type, the card's handler at Table 1's ratio.
    double host_us = host_stack + handler;
    double nic_us = nic_stack + handler * p.nic_us / p.host_us;
    EXPECT_NEAR(f.host_us, host_us, 1e-9) << s;
    EXPECT_NEAR(f.nic_us, nic_us, 1e-9) << s;
    double by_hand = (host_us * host.power.active_w_per_core) / (nic_us * p.nic_active_w / nic.cores);
    EXPECT_NEAR(f.benefit, by_hand, by_hand * 1e-12) << s;
    // IPsec's handler runs far faster on the card (its crypto unit) than the stack does, so the
    // card gains as the handler's share grows with size.
    EXPECT_GT(f.benefit, previous) << s;
    previous = f.benefit;
  }
}

TEST_F(Fig2Model, CardAtPeakReproducesTable1AtHalfAKilobyte) {
  for (const char* kind : {"ipsec", "nids", "ddos"}) {
    const auto& p = t1(kind);
    auto m = measured(kind, {{kind, 64, 0.1, 1}, {kind, 512, 0.5, 1}, {kind, 1500, 0.9, 1}});
    auto level = bench::table1_level(p, m);
    // Table 1's per-core time at 512 B is the stack plus the handler.
    double t1_host_us = topo::stack_us(host.cores_type, host.clock_ghz) + p.host_us;
    double t1_nic_us = topo::stack_us(nic.cores_type, nic.clock_ghz) + p.nic_us;
    EXPECT_NEAR(level.cost_us(topo::core_type::xeon, 2.5, 512), t1_host_us, t1_host_us * 1e-12) << kind;
    auto f = bench::fig2_at(m, level, host, nic, 512);
    EXPECT_FALSE(f.line_limited) << kind;
    // nic_rps / nic_active_w: Table 1's own SmartNIC RPJ column, up to its rounding (79.0K etc.).
    EXPECT_NEAR(f.nic_peak_rps, double(nic.cores) * 1e6 / t1_nic_us, 1e-6 * f.nic_peak_rps) << kind;
    EXPECT_NEAR(f.nic_peak_rpj, double(nic.cores) * 1e6 / t1_nic_us / p.nic_active_w, 1e-9 * f.nic_peak_rpj) << kind;
    // Compute-bound: the peak figure equals the per-request one on the same (Table 1 level) profile.
    auto at_level = bench::fig2_at(level, level, host, nic, 512);
    EXPECT_NEAR(f.benefit_at_peak, at_level.benefit, 1e-9 * f.benefit_at_peak) << kind;
  }
}

TEST_F(Fig2Model, LineRateCapsTheCardForLargeRequests) {
  // DDoS reads headers only: a flat host time. At Table 1's 1.95 M requests/s the card's
  // 2×10 GbE carry 1500 B frames at 20e9 / (1520 × 8) = 1.64 M/s, so the ports bind there.
  auto m = measured("ddos", {{"ddos", 64, 0.13, 1}, {"ddos", 512, 0.13, 1}, {"ddos", 1500, 0.13, 1}});
  auto level = bench::table1_level(t1("ddos"), m);
  auto small = bench::fig2_at(m, level, host, nic, 512);
  auto large = bench::fig2_at(m, level, host, nic, 1500);
  EXPECT_NEAR(large.nic_line_rps, 20e9 / (1520 * 8.0), 1);
  EXPECT_TRUE(large.line_limited);
  EXPECT_FALSE(small.line_limited);
  EXPECT_NEAR(large.benefit_at_peak / small.benefit_at_peak, large.nic_line_rps / small.nic_compute_rps, 1e-9);
  EXPECT_LT(large.benefit_at_peak, small.benefit_at_peak);
  EXPECT_DOUBLE_EQ(large.benefit, small.benefit);  // the per-request model cannot see it
}

}  // namespace
