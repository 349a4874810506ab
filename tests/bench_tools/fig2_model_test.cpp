// The Fig. 2 model: the per-request benefit is flat over sizes, the card-at-peak figure reproduces
// Table 1's SmartNIC RPJ at 512 B and falls once the card's ports are the limit.
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

TEST_F(Fig2Model, PerRequestBenefitIsTheSameAtEverySize) {
  // Host time that grows with size, as IPsec's does.
  auto m = measured("ipsec", {{"ipsec", 64, 0.4, 1}, {"ipsec", 512, 1.2, 1}, {"ipsec", 1500, 2.6, 1}});
  auto level = bench::table1_level(t1("ipsec"), m);
  double first = bench::fig2_at(m, level, host, nic, 64).benefit;
  for (double s : {128.0, 256.0, 512.0, 1024.0, 1500.0})
    EXPECT_NEAR(bench::fig2_at(m, level, host, nic, s).benefit, first, first * 1e-12) << s;
  // And it is the Table 1 slowdown and powers alone: 12 × host W per core / (slowdown × nic W).
  const auto& p = t1("ipsec");
  EXPECT_NEAR(first, host.power.active_w_per_core * nic.cores / (p.nic_us / p.host_us * p.nic_active_w), 1e-9);
}

TEST_F(Fig2Model, CardAtPeakReproducesTable1AtHalfAKilobyte) {
  for (const char* kind : {"ipsec", "nids", "ddos"}) {
    const auto& p = t1(kind);
    auto m = measured(kind, {{kind, 64, 0.1, 1}, {kind, 512, 0.5, 1}, {kind, 1500, 0.9, 1}});
    auto level = bench::table1_level(p, m);
    EXPECT_NEAR(level.cost_us(topo::core_type::xeon, 2.5, 512), p.host_us, p.host_us * 1e-12) << kind;
    auto f = bench::fig2_at(m, level, host, nic, 512);
    EXPECT_FALSE(f.line_limited) << kind;
    // nic_rps / nic_active_w: Table 1's own SmartNIC RPJ column, up to its rounding (79.0K etc.).
    EXPECT_NEAR(f.nic_peak_rps, double(nic.cores) * 1e6 / p.nic_us, 1e-6 * f.nic_peak_rps) << kind;
    EXPECT_NEAR(f.nic_peak_rpj, double(nic.cores) * 1e6 / p.nic_us / p.nic_active_w, 1e-9 * f.nic_peak_rpj) << kind;
    // Compute-bound: the peak figure equals the per-request one.
    EXPECT_NEAR(f.benefit_at_peak, f.benefit, 1e-9 * f.benefit) << kind;
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
