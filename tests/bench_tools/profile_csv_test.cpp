// The measured-profile CSV: what `e3 bench services --write-profiles` writes is what
// topology::build_service_profiles reads back, and the profiles compiled in are measured ones.
#include <gtest/gtest.h>

#include "bench/services_table/profile_csv.hpp"
#include "topology/service_profile.hpp"

namespace {

using namespace e3;

const topo::service_profile& of(const std::vector<topo::service_profile>& all, const std::string& kind) {
  for (const auto& p : all)
    if (p.kind == kind)
      return p;
  throw std::runtime_error("no profile " + kind);
}

TEST(ProfileCsv, RoundTripsThroughBuildServiceProfiles) {
  std::vector<bench::measured_point> pts = {
      {"ema", 64, 0.05, 0.25}, {"ema", 512, 0.08, 0.25}, {"ema", 1500, 0.11, 0.25},
      {"knn", 72.4, 0.8, 0.01}, {"knn", 512, 0.9, 0.01},
  };
  auto csv = bench::profile_csv(pts, "e3 bench services 2026-01-01 on box (CPU, 2 cores)");
  auto table1 = topo::build_service_profiles(embedded::table1_csv, "");
  auto p = topo::build_service_profiles(embedded::table1_csv, csv);
  ASSERT_EQ(p.size(), table1.size());
  const auto& ema = of(p, "ema");
  ASSERT_EQ(ema.size_curve.size(), 3u);
  EXPECT_DOUBLE_EQ(ema.size_curve[0].first, 64);
  EXPECT_DOUBLE_EQ(ema.size_curve[2].second, 0.11);
  EXPECT_DOUBLE_EQ(ema.host_us, 0.08);
  EXPECT_DOUBLE_EQ(ema.memory_mb, 0.25);
  // The SmartNIC keeps Table 1's per-core ratio.
  const auto& t1 = of(table1, "ema");
  EXPECT_NEAR(ema.nic_us / ema.host_us, t1.nic_us / t1.host_us, 1e-12);
  // Sizes are written as whole bytes; the source's commas would break the table and become ';'.
  const auto& knn = of(p, "knn");
  EXPECT_DOUBLE_EQ(knn.size_curve[0].first, 72);
  EXPECT_EQ(knn.source, "measured: e3 bench services 2026-01-01 on box (CPU; 2 cores)");
  // Kinds without measurements keep Table 1.
  EXPECT_EQ(of(p, "sql").source, "Table 1");
  EXPECT_DOUBLE_EQ(of(p, "sql").host_us, of(table1, "sql").host_us);
}

TEST(ProfileCsv, KeepsOnePointPerSize) {
  // A kind whose requests cannot be small gives the same size twice: the curve needs distinct x.
  auto csv = bench::profile_csv({{"kvs", 71.2, 0.04, 1}, {"kvs", 70.9, 0.05, 1}, {"kvs", 126, 0.06, 1}}, "s");
  auto p = topo::build_service_profiles(embedded::table1_csv, csv);
  const auto& kvs = of(p, "kvs");
  ASSERT_EQ(kvs.size_curve.size(), 2u);
  EXPECT_DOUBLE_EQ(kvs.size_curve[0].second, 0.04);  // the first point of that size is kept
}

TEST(ProfileCsv, CellsNeverBreakTheTable) {
  EXPECT_EQ(bench::csv_cell("a,b\nc\rd"), "a;b c d");
  auto csv = bench::profile_csv({{"ema", 512, 1, 1}}, "line\nbreak, comma");
  EXPECT_NO_THROW(topo::build_service_profiles(embedded::table1_csv, csv));
}

TEST(ProfileCsv, CompiledProfilesAreMeasuredHere) {
  // topology/data/measured_profiles.csv is committed: placement uses measured profiles (issue 4).
  for (const auto& p : topo::service_profiles()) {
    EXPECT_EQ(p.source.rfind("measured: e3 bench services", 0), 0u) << p.kind << ": " << p.source;
    EXPECT_GE(p.size_curve.size(), 4u) << p.kind;
    EXPECT_GT(p.memory_mb, 0) << p.kind;
    EXPECT_GT(p.host_us, 0) << p.kind;
  }
}

}  // namespace
