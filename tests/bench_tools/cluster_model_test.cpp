// The model parts of e3 bench table5/fig5/fig8/fig9 (bench/cluster_model): cost efficiency worked
// out by hand, SmartNIC power flat under load while host power grows, the peak search's invariants,
// ECMP port shares and the port model, the paper's Table 5 lookup, and the bar/panel SVG as XML.
#include <expat.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "apps/placement_report.hpp"
#include "bench/cluster_model/charts.hpp"
#include "bench/cluster_model/cluster_model.hpp"

namespace {

using namespace e3;

TEST(CostCurve, MatchesTheFormulaWorkedOutByHand) {
  // 1 M requests/s at 500 W on a $10,000 cluster. One year: 3.1536e13 requests; energy 500 W x
  // 8760 h = 4380 kWh x $0.0733 = $321.054; cost $10,321.054 -> 3.05550e9 requests per $.
  auto c = bench::cost_curve(1e6, 500, 10'000, {0, 1, 5});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_DOUBLE_EQ(c[0].second, 0);
  EXPECT_NEAR(c[1].second, 3.1536e13 / 10'321.054, 1e3);
  EXPECT_NEAR(c[2].second, 5 * 3.1536e13 / (10'000 + 5 * 321.054), 1e3);
  // Energy dominates with time: the curve rises towards throughput / (power x price per second).
  double limit = 1e6 / (0.5 * 0.0733 / 3600);
  EXPECT_LT(c[1].second, c[2].second);
  EXPECT_LT(c[2].second, limit);
  auto far = bench::cost_curve(1e6, 500, 10'000, {1e4});
  EXPECT_GT(far[0].second, 0.99 * limit);
}

TEST(CostCurve, CheaperClusterWinsEarlyFrugalOneLate) {
  // Same throughput: A costs $5,000 and draws 600 W, B costs $12,000 and draws 200 W. A is ahead
  // after a month, B after 5 years (the crossing of §5.5's first observation).
  auto a = bench::cost_curve(1e6, 600, 5'000, {1.0 / 12, 30});
  auto b = bench::cost_curve(1e6, 200, 12'000, {1.0 / 12, 30});
  EXPECT_GT(a[0].second, b[0].second);
  EXPECT_LT(a[1].second, b[1].second);
}

TEST(Power, SmartNicPowerIsFlatUnderLoadWhileHostPowerGrows) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto pk = bench::place_at_peak(apps::load_app("rta-shm"), c);
  ASSERT_TRUE(pk.fits) << pk.status;
  auto low = bench::at_load(pk, c, 0.1), high = bench::at_load(pk, c, 1.0);
  int nics = 0, hosts = 0;
  for (std::size_t n = 0; n < c.nodes().size(); ++n) {
    const auto& node = c.node(topo::node_id(n));
    if (high.nodes[n].instances.empty())
      continue;
    if (node.kind == topo::node_kind::smartnic) {
      ++nics;
      EXPECT_NEAR(low.nodes[n].power_w, high.nodes[n].power_w, 0.05 * high.nodes[n].power_w) << node.name;
      EXPECT_GT(low.nodes[n].power_w, node.power.idle_w) << node.name << ": a card hosting services is active";
    } else {
      ++hosts;
      EXPECT_GT(high.nodes[n].power_w, low.nodes[n].power_w + 1) << node.name;
    }
  }
  EXPECT_GT(nics, 0);
  EXPECT_GT(hosts, 0);  // SQL is host-only
  // Power rises with load overall and sits between idle and every node at full active power.
  EXPECT_GT(high.power_w, low.power_w);
  auto idle = bench::at_load(pk, c, 0);
  EXPECT_DOUBLE_EQ(idle.throughput_rps, 0);
  EXPECT_LE(idle.power_w, low.power_w);
}

TEST(PeakSearch, PeakIsTheSaturationOfPlacementsThatFit) {
  auto c = topo::cluster::preset("3xType1-SmartNIC");
  auto spec = apps::load_app("nfv-fin");
  auto pk = bench::place_at_peak(spec, c);
  ASSERT_TRUE(pk.fits);
  EXPECT_EQ(pk.status, "ok");
  ASSERT_GE(pk.placements.size(), 1u);
  for (const auto& p : pk.placements)
    EXPECT_TRUE(p.overcommitted.empty());
  EXPECT_FALSE(pk.peak.overcommitted);
  // At the peak the bottleneck runs at full utilisation and no node beyond it.
  double top = 0;
  for (const auto& n : pk.peak.nodes)
    top = std::max(top, n.utilisation);
  EXPECT_LE(top, 1 + 1e-9);
  EXPECT_NEAR(pk.peak.throughput_rps, pk.peak.max_throughput_rps, 1e-6 * pk.peak.max_throughput_rps);
  // It beats one copy at the manifest's design load.
  auto dag = sched::expand(spec);
  auto view = sched::cluster_view::empty(c);
  auto one = sched::hcm_place(dag, view);
  EXPECT_GE(pk.peak.throughput_rps, sched::evaluate(dag, c, one, 1).max_throughput_rps);
  // The multiplier scales rate and CPU together.
  auto s = bench::scale_load(spec, 2);
  EXPECT_DOUBLE_EQ(s.rate_rps, 2 * spec.rate_rps);
  EXPECT_DOUBLE_EQ(s.services[0].cpu, 2 * spec.services[0].cpu);
  EXPECT_THROW(bench::scale_load(spec, 0), std::invalid_argument);
}

TEST(PeakSearch, OneServerClusterKeepsBackupsOnIt) {
  auto c = topo::cluster::preset("1xSuperBeefy");
  auto pk = bench::place_at_peak(apps::load_app("iot-ts"), c);
  EXPECT_TRUE(pk.fits);
  EXPECT_NE(pk.status.find("one server"), std::string::npos);
}

TEST(Ecmp, HostFlowsSpreadOverEveryPortOfItsServerOnly) {
  auto c = topo::cluster::preset("2xType2-SmartNIC");
  const auto& s0 = c.servers()[0];
  auto shares = bench::ecmp_port_shares(c, c.node(s0.host).ip, 8192);
  ASSERT_EQ(shares.size(), c.ports().size());
  EXPECT_NEAR(std::accumulate(shares.begin(), shares.end(), 0.0), 1.0, 1e-12);
  ASSERT_EQ(s0.ports.size(), 8u);  // 4 cards x 2 ports
  for (const auto& p : c.ports()) {
    double want = p.server == s0.id ? 1.0 / 8 : 0;
    EXPECT_NEAR(shares[std::size_t(p.id)], want, p.server == s0.id ? 0.03 : 0) << "port " << p.id;
  }
  // A SmartNIC IP only uses its own two ports.
  auto nic = s0.smartnics[1];
  auto ns = bench::ecmp_port_shares(c, c.node(nic).ip, 4096);
  for (const auto& p : c.ports()) {
    if (p.owner != nic) {
      EXPECT_EQ(ns[std::size_t(p.id)], 0);
    }
  }
  // A failed port takes no flows; the others take them all.
  c.set_port_up(s0.ports[0], false);
  auto after = bench::ecmp_port_shares(c, c.node(s0.host).ip, 8192);
  EXPECT_EQ(after[std::size_t(s0.ports[0])], 0);
  EXPECT_NEAR(std::accumulate(after.begin(), after.end(), 0.0), 1.0, 1e-12);
}

TEST(PortModel, SharedSpreadsHostTrafficDedicatedConfinesIt) {
  auto c = topo::cluster::rack_of("1xType2 (2 cards)", {"Type2-SmartNIC"}, 2);
  const auto& s = c.servers()[0];
  ASSERT_EQ(s.ports.size(), 4u);
  std::vector<double> gbit(c.nodes().size(), 0);
  gbit[s.host] = 8e-6;         // 8 kbit per request through the host
  gbit[s.smartnics[0]] = 2e-6;  // 2 kbit through card 0
  // Even ECMP shares by hand: each of the 4 ports takes a quarter of the host's traffic.
  std::vector<std::vector<double>> shares{std::vector<double>(c.ports().size(), 0.25)};
  auto shared = bench::port_loads(c, gbit, bench::host_nic::shared, shares);
  ASSERT_EQ(shared.size(), 4u);
  for (const auto& p : shared) {
    bool card0 = c.ports()[std::size_t(p.port)].owner == s.smartnics[0];
    EXPECT_NEAR(p.gbit_per_request, (card0 ? 1e-6 : 0) + 2e-6, 1e-15) << p.name;
  }
  // Ports of 5 Gb/s: the busiest carries 3 kbit per request -> 5e9 / 3e3 requests/s.
  std::string where;
  EXPECT_NEAR(bench::port_limited_rps(shared, &where), 5e9 / 3e3, 1);
  EXPECT_NE(where.find("nic0"), std::string::npos);
  // Dedicated: the host's 8 kbit go over the plain NIC's 2 ports only (4 kbit each, 5 Gb/s).
  auto dedicated = bench::port_loads(c, gbit, bench::host_nic::dedicated, shares, 2, 5);
  ASSERT_EQ(dedicated.size(), 6u);
  for (const auto& p : dedicated) {
    double want = p.port < 0 ? 4e-6 : (c.ports()[std::size_t(p.port)].owner == s.smartnics[0] ? 1e-6 : 0);
    EXPECT_NEAR(p.gbit_per_request, want, 1e-15) << p.name;
  }
  EXPECT_NEAR(bench::port_limited_rps(dedicated, &where), 5e9 / 4e3, 1);
  EXPECT_NE(where.find("nic port"), std::string::npos);
  EXPECT_TRUE(std::isinf(bench::port_limited_rps({})));
}

TEST(PortModel, OnlyTrafficThroughTheSwitchCounts) {
  // flowmon -> nids on one Type2 server: over PCIe (host and its card) no port sees the edge;
  // across two servers both ends do.
  sched::app_spec spec;
  spec.name = "pair";
  spec.rate_rps = 1000;
  spec.services = {{"a", "nids", 1, 0, 10, 0.01, 512, false, false, {}},
                   {"b", "ipsec", 1, 0, 10, 0.01, 512, false, false, {}}};
  spec.channels = {{0, 1, 1.0}};
  spec.entries = {0};
  auto dag = sched::expand(spec);
  auto c = topo::cluster::preset("2xType2-SmartNIC");
  const double msg = 512 * 8 / 1e9;
  sched::placement pcie;
  pcie.node_of = {c.servers()[0].host, c.servers()[0].smartnics[0]};
  auto g = bench::switch_gbit_per_request(dag, c, pcie);
  EXPECT_NEAR(g[c.servers()[0].host], msg, 1e-15);         // the client's request in
  EXPECT_NEAR(g[c.servers()[0].smartnics[0]], msg, 1e-15);  // the reply out; the edge is PCIe
  sched::placement remote;
  remote.node_of = {c.servers()[0].host, c.servers()[1].smartnics[0]};
  auto r = bench::switch_gbit_per_request(dag, c, remote);
  EXPECT_NEAR(r[c.servers()[0].host], 2 * msg, 1e-15);
  EXPECT_NEAR(r[c.servers()[1].smartnics[0]], 2 * msg, 1e-15);
}

TEST(PaperValues, Table5LookupAndDifferences) {
  EXPECT_DOUBLE_EQ(bench::table5_krpj("nfv-fin", "4xWimpy"), 29.9);
  EXPECT_DOUBLE_EQ(bench::table5_krpj("iot-ts", "1xSuperBeefy"), 5.0);
  EXPECT_DOUBLE_EQ(bench::table5_krpj("rta-shm", "2xType2-SmartNIC"), 4.5);
  EXPECT_TRUE(std::isnan(bench::table5_krpj("rta-ptc", "4xBeefy")));
  EXPECT_TRUE(std::isnan(bench::table5_krpj("nfv-fin", "3xBeefy")));
  EXPECT_EQ(bench::table5_clusters().size(), 5u);
  EXPECT_DOUBLE_EQ(bench::diff_pct(6, 4), 50);
  EXPECT_TRUE(std::isnan(bench::diff_pct(1, 0)));
  EXPECT_EQ(bench::pct_text(-12.34), "-12.3 %");
  EXPECT_EQ(bench::pct_text(std::nan("")), "n/a");
  EXPECT_EQ(bench::parse_objective("rpj"), bench::peak_objective::requests_per_joule);
  EXPECT_THROW(bench::parse_objective("speed"), std::invalid_argument);
}

bool well_formed(const std::string& doc, int* rects = nullptr, int* nested = nullptr) {
  struct counts {
    int rects = 0, svgs = 0;
  } n;
  XML_Parser x = XML_ParserCreate("UTF-8");
  XML_SetUserData(x, &n);
  XML_SetElementHandler(
      x,
      [](void* u, const XML_Char* name, const XML_Char**) {
        auto& k = *static_cast<counts*>(u);
        k.rects += std::string(name) == "rect";
        k.svgs += std::string(name) == "svg";
      },
      [](void*, const XML_Char*) {});
  bool ok = XML_Parse(x, doc.data(), int(doc.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(x);
  if (rects)
    *rects = n.rects;
  if (nested)
    *nested = n.svgs;
  return ok;
}

TEST(Charts, BarChartAndPanelsAreWellFormed) {
  bench::svg::bar_chart_spec b{"a & b", "KRPJ", {"nfv-fin", "<x>"}, {"nic", "beefy"}, {{1, 2}, {3, std::nan("")}}};
  int rects = 0, svgs = 0;
  auto doc = bench::svg::bar_chart(b);
  ASSERT_TRUE(well_formed(doc, &rects));
  EXPECT_EQ(rects, 1 + 3 + 2);  // background, three finite bars, two legend keys
  b.log_y = true;
  b.values[0][0] = -1;  // no bar on a log axis
  ASSERT_TRUE(well_formed(bench::svg::bar_chart(b), &rects));
  EXPECT_EQ(rects, 1 + 2 + 2);
  auto both = bench::svg::panels({doc, bench::svg::bar_chart(b)}, 760, 440, 2);
  ASSERT_TRUE(well_formed(both, nullptr, &svgs));
  EXPECT_EQ(svgs, 3);  // the outer document and two panels
  EXPECT_EQ(both.find("<?xml", 5), std::string::npos);  // inner declarations dropped
}

}  // namespace
