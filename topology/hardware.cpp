// Server and SmartNIC profiles, read from the paper's Table 4 (compiled into the library).
#include "topology/hardware.hpp"

#include <map>
#include <sstream>
#include <stdexcept>

#include "topology/table_csv.hpp"

namespace e3::embedded {
extern const std::string_view table4_csv;
}

namespace e3::topo {

std::string_view to_string(node_kind k) { return k == node_kind::host ? "host" : "smartnic"; }

const smartnic_profile& liquidio2() {
  static const smartnic_profile p;
  return p;
}

const std::vector<server_profile>& server_profiles() {
  static const std::vector<server_profile> profiles = [] {
    // What Table 4 does not say, §5's setup does: SmartNICs per server and host clocks.
    struct extra {
      int smartnics;
      double clock;
    };
    const std::map<std::string, extra, std::less<>> extras = {
        {"Beefy", {0, 2.5}},          // 12-core E5-2680 v3 at 2.5 GHz
        {"Wimpy", {0, 1.2}},          // CN6880: 32 cnMIPS64 cores at 1.2 GHz
        {"Type1-SmartNIC", {1, 2.5}}, // a Beefy with one LiquidIO II
        {"Type2-SmartNIC", {4, 2.1}}, // two 8-core E5-2620 at 2.1 GHz, four LiquidIO II
        {"SuperBeefy", {0, 2.1}},     // 24-core Xeon Platinum 8160 at 2.1 GHz
    };
    std::vector<server_profile> out;
    for (const auto& row : parse_csv_table(embedded::table4_csv, "table4_clusters.csv")) {
      auto e = extras.find(row.at("system"));
      if (e == extras.end())
        continue;  // cluster rows (4xBeefy, …) are sums of server rows
      server_profile s;
      s.name = row.at("system");
      s.cost_usd = row.number("cost_usd");
      s.beefy_cores = int(row.number("beefy_cores"));
      s.wimpy_cores = int(row.number("wimpy_cores"));
      s.memory_gb = row.number("memory_gb");
      s.idle_w = row.number("idle_w");
      s.peak_w = row.number("peak_w");
      s.network_gbps = row.number("network_gbps");
      s.smartnics = e->second.smartnics;
      s.host_clock_ghz = e->second.clock;
      out.push_back(s);
    }
    return out;
  }();
  return profiles;
}

const server_profile& server_profile_named(std::string_view name) {
  std::string known;
  for (const auto& s : server_profiles()) {
    if (s.name == name)
      return s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  throw std::invalid_argument("unknown server profile '" + std::string(name) + "' (known: " + known + ")");
}

double table4_cluster_cost(std::string_view name) {
  for (const auto& row : parse_csv_table(embedded::table4_csv, "table4_clusters.csv"))
    if (row.at("system") == name)
      return row.number("cost_usd");
  return 0;
}

host_template host_of(const server_profile& s) {
  const auto& nic = liquidio2();
  host_template h;
  h.clock_ghz = s.host_clock_ghz;
  if (s.beefy_cores > 0) {
    h.cores_type = core_type::xeon;
    h.cores = s.beefy_cores;
  } else {
    h.cores_type = core_type::cnmips;
    h.cores = s.wimpy_cores;
  }
  h.memory_mb = (s.memory_gb - s.smartnics * nic.memory_gb) * 1024;
  h.power.idle_w = s.idle_w - s.smartnics * nic.idle_w;
  double active = s.peak_w - s.idle_w;
  if (h.cores_type == core_type::xeon) {
    h.power.sleeps_idle_cores = true;
    h.power.active_w_per_core = active / h.cores;
    h.power.active_w_full = active;
  } else {
    h.power.sleeps_idle_cores = false;
    h.power.active_w_per_core = active / h.cores;
    h.power.active_w_full = active;
  }
  return h;
}

power_profile smartnic_power() {
  power_profile p;
  p.idle_w = liquidio2().idle_w;
  p.sleeps_idle_cores = false;
  return p;
}

}  // namespace e3::topo
