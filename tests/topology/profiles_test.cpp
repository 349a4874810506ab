// Hardware profiles, presets and service profiles against the paper's tables.
#include <gtest/gtest.h>

#include "topology/topology.hpp"

using namespace e3::topo;

namespace e3::embedded {
/// Table 1 as compiled into e3_topology (topology/data/table1_microservices.csv).
extern const std::string_view table1_csv;
}  // namespace e3::embedded

TEST(Profiles, ServerProfilesAreTable4) {
  const auto& b = server_profile_named("Beefy");
  EXPECT_EQ(b.cost_usd, 4500);
  EXPECT_EQ(b.beefy_cores, 12);
  EXPECT_EQ(b.idle_w, 83);
  EXPECT_EQ(b.peak_w, 201);
  const auto& t2 = server_profile_named("Type2-SmartNIC");
  EXPECT_EQ(t2.smartnics, 4);
  EXPECT_EQ(t2.wimpy_cores, 48);
  EXPECT_EQ(t2.memory_gb, 144);
  EXPECT_EQ(server_profile_named("Wimpy").wimpy_cores, 32);
  EXPECT_EQ(server_profile_named("SuperBeefy").network_gbps, 80);
  EXPECT_THROW(server_profile_named("Huge"), std::invalid_argument);
}

TEST(Profiles, SmartNicIsLiquidIO2) {
  const auto& n = liquidio2();
  EXPECT_EQ(n.cores, 12);
  EXPECT_DOUBLE_EQ(n.clock_ghz, 1.2);
  EXPECT_EQ(n.memory_gb, 4);
  EXPECT_EQ(n.ports, 2);
  EXPECT_EQ(n.port_gbps, 10);
  // Type1 idle minus Beefy idle.
  EXPECT_EQ(n.idle_w, 98 - 83);
}

TEST(Profiles, HostsSubtractTheirSmartNics) {
  auto h = host_of(server_profile_named("Type2-SmartNIC"));
  EXPECT_EQ(h.cores, 16);
  EXPECT_DOUBLE_EQ(h.memory_mb, 128 * 1024);
  EXPECT_DOUBLE_EQ(h.power.idle_w, 145 - 4 * 15);
  EXPECT_DOUBLE_EQ(h.power.active_w_per_core, (252.0 - 145) / 16);
  auto w = host_of(server_profile_named("Wimpy"));
  EXPECT_EQ(w.cores_type, core_type::cnmips);
  EXPECT_FALSE(w.power.sleeps_idle_cores);
}

TEST(Presets, EveryPresetHasTheServersItsNameSays) {
  struct expect {
    const char* name;
    std::size_t servers, smartnics;
    double cost;
  };
  // Costs from Table 4's cluster rows (3x rows: three times the server).
  for (auto e : {expect{"3xBeefy", 3, 0, 13500}, expect{"3xType1-SmartNIC", 3, 3, 13950},
                 expect{"4xBeefy", 4, 0, 18000}, expect{"4xWimpy", 4, 0, 8836},
                 expect{"2xBeefy+2xWimpy", 4, 0, 13018}, expect{"2xType2-SmartNIC", 2, 8, 13500},
                 expect{"1xSuperBeefy", 1, 0, 12550}}) {
    auto c = cluster::preset(e.name);
    EXPECT_EQ(c.servers().size(), e.servers) << e.name;
    std::size_t nics = 0;
    for (const auto& n : c.nodes())
      nics += n.kind == node_kind::smartnic;
    EXPECT_EQ(nics, e.smartnics) << e.name;
    EXPECT_DOUBLE_EQ(c.capex_usd(), e.cost) << e.name;
    EXPECT_EQ(c.nodes().size(), e.servers + e.smartnics) << e.name;
  }
  EXPECT_EQ(cluster::preset_names().size(), 7u);
  EXPECT_THROW(cluster::preset("5xBeefy"), std::invalid_argument);
}

TEST(Presets, IdlePowerOfAClusterIsTable4) {
  // Table 4: 2xType2-SmartNIC idles at 290 W, 4xWimpy at 316 W.
  for (auto [name, idle] : {std::pair{"2xType2-SmartNIC", 290.0}, std::pair{"4xWimpy", 316.0},
                            std::pair{"2xBeefy+2xWimpy", 324.0}, std::pair{"1xSuperBeefy", 77.0}}) {
    auto c = cluster::preset(name);
    double w = 0;
    for (const auto& n : c.nodes())
      w += modelled_power_w(n, {});
    EXPECT_NEAR(w, idle, 1e-9) << name;
  }
}

TEST(Presets, NodesHaveDistinctIps) {
  auto c = cluster::preset("2xType2-SmartNIC");
  for (const auto& n : c.nodes()) {
    ASSERT_NE(c.node_by_ip(n.ip), nullptr);
    EXPECT_EQ(c.node_by_ip(n.ip)->id, n.id);
  }
  EXPECT_EQ(c.node_by_ip(0), nullptr);
}

TEST(FatTree, RacksOfFortyAndAnySmartNicCount) {
  auto c = cluster::fat_tree({.servers = 100, .server_profile = "Type2-SmartNIC", .smartnics_per_server = 2});
  EXPECT_EQ(c.servers().size(), 100u);
  EXPECT_EQ(c.racks().size(), 3u);
  EXPECT_EQ(c.racks()[0].servers.size(), 40u);
  EXPECT_EQ(c.racks()[2].servers.size(), 20u);
  EXPECT_EQ(c.nodes().size(), 300u);
  EXPECT_THROW(cluster::fat_tree({.servers = 0}), std::invalid_argument);
  auto big = cluster::fat_tree({.servers = 1000, .racks_per_pod = 8});
  EXPECT_EQ(big.racks().size(), 25u);
  EXPECT_EQ(big.pods(), 4);
  EXPECT_EQ(big.nodes().size(), 5000u);
}

namespace {

const service_profile& profile_in(const std::vector<service_profile>& all, std::string_view kind) {
  for (const auto& p : all)
    if (p.kind == kind)
      return p;
  throw std::invalid_argument(std::string(kind));
}

}  // namespace

TEST(ServiceProfiles, StartFromTable1) {
  // The starting profiles, before the measured ones (topology/data/measured_profiles.csv) apply.
  auto all = build_service_profiles(e3::embedded::table1_csv, "");
  ASSERT_EQ(all.size(), 16u);
  // A whole request costs Table 1's per-core time on each kind of core: the stack plus the
  // handler (the handler being the rest).
  const auto& ipsec = profile_in(all, "ipsec");
  EXPECT_NEAR(ipsec.cost_us(core_type::xeon, 2.5), 12 / 911900.0 * 1e6, 1e-9);
  EXPECT_NEAR(ipsec.cost_us(core_type::cnmips, 1.2), 12 / 1851100.0 * 1e6, 1e-9);
  EXPECT_NEAR(ipsec.host_us, 12 / 911900.0 * 1e6 - stack_us(core_type::xeon, 2.5), 1e-9);
  // The stack is KVS's whole request; its handler keeps a floor of 5 % of it.
  EXPECT_NEAR(stack_us(core_type::xeon, 2.5), 2 / 2005000.0 * 1e6, 1e-12);
  EXPECT_NEAR(stack_us(core_type::cnmips, 1.2), 12 / 2033400.0 * 1e6, 1e-12);
  EXPECT_NEAR(stack_us(core_type::xeon, 2.1), stack_us(core_type::xeon, 2.5) * 2.5 / 2.1, 1e-12);
  EXPECT_NEAR(profile_in(all, "kvs").host_us, 0.05 * 2 / 2005000.0 * 1e6, 1e-12);
  EXPECT_DOUBLE_EQ(ipsec.nic_active_w, 23.4);
  EXPECT_EQ(ipsec.source, "Table 1");
  EXPECT_TRUE(profile_in(all, "sql").host_only);
  EXPECT_FALSE(profile_in(all, "kvs").host_only);
  EXPECT_TRUE(profile_in(all, "kvs").stateful);
  EXPECT_FALSE(profile_in(all, "knn").stateful);
  // Top ranker is ~52x slower per core on the SmartNIC (Table 1), its handler ~55x.
  const auto& tr = profile_in(all, "top_ranker");
  EXPECT_NEAR(tr.slowdown(core_type::cnmips, 1.2), (12 / 14800.0) / (12 / 771900.0), 1e-9);
  EXPECT_NEAR(tr.handler_slowdown(core_type::cnmips, 1.2),
              (12 / 14800.0 * 1e6 - stack_us(core_type::cnmips, 1.2)) / (12 / 771900.0 * 1e6 - stack_us(core_type::xeon, 2.5)),
              1e-9);
}

TEST(ServiceProfiles, CompiledProfilesKeepTable1FactsAndRatios) {
  // Whatever was measured, every kind keeps its Table 1/2 facts and its SmartNIC-to-host ratio.
  auto table1 = build_service_profiles(e3::embedded::table1_csv, "");
  ASSERT_EQ(service_profiles().size(), table1.size());
  for (const auto& t : table1) {
    const auto& p = service_profile_of(t.kind);
    EXPECT_EQ(p.stateful, t.stateful) << t.kind;
    EXPECT_EQ(p.host_only, t.host_only) << t.kind;
    EXPECT_DOUBLE_EQ(p.nic_active_w, t.nic_active_w) << t.kind;
    EXPECT_NEAR(p.handler_slowdown(core_type::cnmips, 1.2), t.handler_slowdown(core_type::cnmips, 1.2), 1e-9)
        << t.kind;
    EXPECT_GT(p.host_us, 0) << t.kind;
  }
  EXPECT_THROW(service_profile_of("blockchain"), std::invalid_argument);
}

TEST(ServiceProfiles, TheSelectedSourceIsWhatEveryLookupSees) {
  auto table1 = build_service_profiles(e3::embedded::table1_csv, "");
  ASSERT_EQ(service_profile_source(), profile_source::measured);
  use_service_profiles(profile_source::table1);
  for (const auto& t : table1) {
    EXPECT_DOUBLE_EQ(service_profile_of(t.kind).host_us, t.host_us) << t.kind;
    EXPECT_EQ(service_profile_of(t.kind).source, t.source) << t.kind;
  }
  use_service_profiles(profile_source::measured);
  bool any_measured = false;
  for (const auto& p : service_profiles())
    any_measured |= p.source.rfind("measured", 0) == 0;
  EXPECT_TRUE(any_measured);
  EXPECT_EQ(parse_profile_source("table1"), profile_source::table1);
  EXPECT_EQ(to_string(parse_profile_source("measured")), "measured");
  try {
    parse_profile_source("Table1");
    FAIL() << "a wrong spelling was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'Table1'"), std::string::npos) << e.what();
  }
}

TEST(ServiceProfiles, MeasuredCurveReplacesHostTimeAndKeepsSmartNicRatio) {
  std::string t1 = "service,dpdk_rps,dpdk_cores,dpdk_active_w,nic_rps,nic_active_w\n"
                   "EMA,1000000,4,50,1200000,22\n";
  std::string m = "kind,size_bytes,host_us,memory_mb,source\n"
                  "ema,64,1.0,3,bench\nema,1024,3.0,3,bench\n";
  auto p = build_service_profiles(t1, m);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NEAR(p[0].host_us, 1.0 + (512.0 - 64) / (1024 - 64) * 2.0, 1e-12);
  double ratio_handlers = (12 / 1.2e6 * 1e6 - stack_us(core_type::cnmips, 1.2)) / (4 / 1e6 * 1e6 - stack_us(core_type::xeon, 2.5));
  EXPECT_NEAR(p[0].nic_us / p[0].host_us, ratio_handlers, 1e-12);
  EXPECT_DOUBLE_EQ(p[0].handler_us(core_type::xeon, 2.5, 64), 1.0);
  EXPECT_DOUBLE_EQ(p[0].cost_us(core_type::xeon, 2.5, 64), 1.0 + stack_us(core_type::xeon, 2.5));
  EXPECT_DOUBLE_EQ(p[0].handler_us(core_type::xeon, 2.5, 9000), 3.0);
  EXPECT_DOUBLE_EQ(p[0].memory_mb, 3);
  EXPECT_EQ(p[0].source, "measured: bench");
}

TEST(ServiceProfiles, BadTablesNameFileAndLine) {
  try {
    build_service_profiles("service,dpdk_rps\nEMA,abc\n", "");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("table1_microservices.csv:2"), std::string::npos) << e.what();
  }
}
