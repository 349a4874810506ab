// Hardware profiles: the servers of Table 4, the LiquidIO II SmartNIC, and the compute nodes
// (host or SmartNIC) derived from them, with their power model.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace e3::topo {

/// The two kinds of compute node (§3): a host CPU, or the cores of one SmartNIC.
enum class node_kind { host, smartnic };

/// "host" or "smartnic".
std::string_view to_string(node_kind k);

/// The micro-architecture of a node's cores, which sets its speed per service kind.
enum class core_type {
  xeon,    ///< a beefy x86 core (Beefy, Type1/Type2 hosts, SuperBeefy)
  cnmips,  ///< a wimpy cnMIPS64 core at 1.2 GHz (LiquidIO II SmartNIC, Wimpy server)
};

/// One row of Table 4 for a single server, plus what the paper's text adds (§5).
struct server_profile {
  std::string name;          ///< "Beefy", "Wimpy", "Type1-SmartNIC", "Type2-SmartNIC", "SuperBeefy"
  double cost_usd = 0;       ///< purchase price (CAPEX)
  int beefy_cores = 0;       ///< Xeon cores of the host
  int wimpy_cores = 0;       ///< cnMIPS cores (host cores for Wimpy, SmartNIC cores otherwise)
  double memory_gb = 0;      ///< host plus SmartNIC memory
  double idle_w = 0;         ///< wall power when idle
  double peak_w = 0;         ///< wall power at peak load (see power model notes)
  double network_gbps = 0;   ///< aggregate port bandwidth of the server
  int smartnics = 0;         ///< LiquidIO II cards in the server
  double host_clock_ghz = 0; ///< clock of the host cores (§5 setup)
};

/// The LiquidIO II SmartNIC (§2.2, §5): 12 cnMIPS cores at 1.2 GHz, 4 GB, 2×10 GbE.
struct smartnic_profile {
  std::string name = "LiquidIO II";  ///< product
  int cores = 12;                    ///< cnMIPS64 cores
  double clock_ghz = 1.2;            ///< core clock
  double memory_gb = 4;              ///< on-board memory
  int ports = 2;                     ///< Ethernet ports
  double port_gbps = 10;             ///< speed of one port
  /// Idle wall power of one card: Type1-SmartNIC idle (98 W) minus Beefy idle (83 W); a Type1
  /// server is a Beefy with its X710 NIC swapped for a LiquidIO (§5).
  double idle_w = 15;
};

/// The LiquidIO II as the paper describes it.
const smartnic_profile& liquidio2();

/// The server profiles of Table 4: Beefy, Wimpy, Type1-SmartNIC, Type2-SmartNIC, SuperBeefy.
const std::vector<server_profile>& server_profiles();

/// The server profile called `name`; throws std::invalid_argument listing the known names.
const server_profile& server_profile_named(std::string_view name);

/// The price Table 4 lists for the cluster row called `name` (e.g. "4xWimpy"), or 0 when the
/// table has no such row.
double table4_cluster_cost(std::string_view name);

/// How one compute node draws power (all figures are modelled, never measured here).
///
/// Derivation (Tables 1 and 4, §2.3, §5.1):
/// - SmartNIC: idle 15 W (see smartnic_profile::idle_w). Its cnMIPS cores have no per-core sleep
///   states, so while it hosts any service all 12 cores are active and it draws its active power,
///   whatever the load: the Table 1 SmartNIC active power of the hosted kinds (18.8–24.7 W),
///   weighted by their CPU use. That is why NFV-FIN is not power proportional (Fig. 8).
/// - Host: idle = server idle − its SmartNICs' idle. Table 4's peak is read as the server at full
///   host load with idle SmartNICs, so each busy host core adds (server peak − server idle) / cores
///   (Beefy: (201 − 83) / 12 = 9.83 W; Type1: 10.3 W; Type2: 6.7 W; SuperBeefy: 7.5 W). Xeon hosts
///   put idle cores to sleep, so host power follows the number of busy cores.
/// - Wimpy server: its host cores are cnMIPS without sleep states: all active while it runs
///   anything, drawing (peak − idle) = 16 W on top of its 79 W idle.
struct power_profile {
  double idle_w = 0;              ///< draw with nothing running
  double active_w_per_core = 0;   ///< extra draw per busy core (cores that can sleep)
  double active_w_full = 0;       ///< extra draw with all cores active (cores that cannot sleep)
  bool sleeps_idle_cores = true;  ///< idle cores sleep (Xeon) or stay active (cnMIPS)
};

/// The compute-node template of a server's host.
struct host_template {
  core_type cores_type = core_type::xeon;  ///< its cores
  int cores = 0;                           ///< its cores
  double clock_ghz = 0;                    ///< their clock
  double memory_mb = 0;                    ///< host memory (server memory minus the SmartNICs')
  power_profile power;                     ///< its power model
};

/// The host of a server of the given profile, derived as power_profile describes.
host_template host_of(const server_profile& s);

/// The power model of one SmartNIC (idle only: active power depends on the hosted kinds).
power_profile smartnic_power();

}  // namespace e3::topo
