// The cluster as data: racks, servers, compute nodes (host or SmartNIC), ports and the paths
// between nodes; the hierarchical levels HCM searches (§3.3); ECMP addressing (§3.2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "topology/hardware.hpp"

namespace e3::topo {

/// Index of a compute node in cluster::nodes().
using node_id = std::uint32_t;

/// A host CPU or a SmartNIC: the unit a microservice instance is placed on. Each has its own
/// IP address (§3.2).
struct compute_node {
  node_id id = 0;              ///< index in cluster::nodes()
  node_kind kind = node_kind::host;
  int server = 0;              ///< index in cluster::servers(): the fault domain (§3.5)
  int rack = 0;                ///< index in cluster::racks()
  int pod = 0;                 ///< FatTree pod of the rack
  int nic_index = -1;          ///< which SmartNIC of its server (-1 for the host)
  std::uint32_t ip = 0;        ///< IPv4 address, host order
  core_type cores_type = core_type::xeon;
  int cores = 0;               ///< cores that run services
  double clock_ghz = 0;        ///< core clock
  double memory_mb = 0;        ///< memory for services
  double network_gbps = 0;     ///< bandwidth of its ports (a host: every port of its server, by ECMP)
  power_profile power;         ///< how it draws power (modelled)
  std::string name;            ///< e.g. "r0/s2/host", "r0/s2/nic1"
};

/// A switch port of a server (a SmartNIC port, or the host NIC's port on a server without
/// SmartNICs).
struct port_info {
  int id = 0;           ///< index in cluster::ports()
  node_id owner = 0;    ///< the SmartNIC (or host) the port belongs to
  int server = 0;       ///< its server
  double gbps = 0;      ///< its speed
};

/// One physical server: a host and zero or more SmartNICs sharing power (one fault domain).
struct server_info {
  int id = 0;                        ///< index in cluster::servers()
  int rack = 0;                      ///< its rack
  std::string profile;               ///< Table 4 name
  node_id host = 0;                  ///< its host node
  std::vector<node_id> smartnics;    ///< its SmartNIC nodes, by nic_index
  std::vector<int> ports;            ///< its switch ports (the host IP's ECMP group)
  double cost_usd = 0;               ///< purchase price
};

/// A rack under one ToR switch.
struct rack_info {
  int id = 0;                  ///< index in cluster::racks()
  int pod = 0;                 ///< its FatTree pod
  std::vector<int> servers;    ///< its servers
  std::vector<node_id> smartnics;  ///< every SmartNIC node in the rack
  std::vector<node_id> hosts;      ///< every host node in the rack
};

/// The physical path between two compute nodes.
enum class path_kind {
  local,        ///< the same node
  pcie,         ///< host and SmartNIC of one server, over PCIe
  tor,          ///< through the rack's ToR switch (includes two SmartNICs of one server, §3.1)
  aggregation,  ///< between racks of one pod
  core,         ///< between pods
};

/// "local", "pcie", "tor", "aggregation", "core".
std::string_view to_string(path_kind k);

/// Round-trip latencies of the paths, in µs (modelled). The paper gives ratios only (Fig. 3):
/// SmartNIC–host over PCIe and SmartNIC–SmartNIC through the ToR are up to 83.3 % and 86.2 %
/// lower than host–host through the ToR with kernel bypass. The host–host figure is our
/// assumption; the others follow from the ratios.
struct latency_model {
  double host_host_tor_rtt_us = 16.0;   ///< assumed: a kernel-bypass host-to-host round trip via the ToR
  double pcie_rtt_ratio = 1 - 0.833;    ///< Fig. 3
  double nic_nic_tor_rtt_ratio = 1 - 0.862;  ///< Fig. 3
  double local_rtt_us = 2.0;            ///< two in-process message hops
  double per_switch_hop_rtt_us = 2.0;   ///< each extra switch traversal (aggregation, core), both ways
};

/// One level of the hierarchical topology of a node: candidate nodes, minus the nodes an
/// `excluded_*` field rules out (those belong to closer levels).
struct level {
  std::string_view name;              ///< e.g. "same server"
  std::span<const node_id> candidates;  ///< nodes to consider, in a fixed order
  int excluded_server = -1;           ///< skip nodes on this server
  int excluded_rack = -1;             ///< skip nodes in this rack
  int excluded_pod = -1;              ///< skip nodes in this pod
  node_id excluded_node = ~node_id(0);  ///< skip this node
};

/// Parameters of a generated FatTree cluster (§5.6).
struct fat_tree_spec {
  int servers = 100;                             ///< total servers
  std::string server_profile = "Type2-SmartNIC"; ///< Table 4 server
  int smartnics_per_server = -1;                 ///< -1: as the profile has (Type2: 4)
  int servers_per_rack = 40;                     ///< §5.6
  int racks_per_pod = 8;                         ///< ToR switches under one aggregation layer
};

/// A cluster. Built once; read-only afterwards except for port and node liveness, which ECMP
/// routing consults. Not thread-safe for concurrent liveness changes.
class cluster {
 public:
  /// The preset called `name`: 3xBeefy, 3xType1-SmartNIC, 4xBeefy, 4xWimpy, 2xBeefy+2xWimpy,
  /// 2xType2-SmartNIC, 1xSuperBeefy (one rack each). Throws std::invalid_argument listing them.
  static cluster preset(std::string_view name);
  /// The names preset() knows.
  static std::vector<std::string> preset_names();
  /// A FatTree of racks; throws std::invalid_argument on bad parameters.
  static cluster fat_tree(const fat_tree_spec& spec);
  /// A single rack with the given servers (Table 4 names) — for presets and hand-made tests.
  static cluster rack_of(std::string name, const std::vector<std::string>& server_profiles,
                         int smartnics_per_server = -1);

  const std::string& name() const { return name_; }                  ///< preset or generated name
  const std::vector<compute_node>& nodes() const { return nodes_; }  ///< all compute nodes
  const compute_node& node(node_id n) const { return nodes_[n]; }    ///< one node
  const std::vector<server_info>& servers() const { return servers_; }  ///< all servers
  const std::vector<rack_info>& racks() const { return racks_; }        ///< all racks
  const std::vector<port_info>& ports() const { return ports_; }        ///< all switch ports
  int pods() const { return pods_; }                                     ///< FatTree pods
  /// Every SmartNIC node, in cluster order.
  std::span<const node_id> smartnics() const { return all_smartnics_; }
  /// Every host node, in cluster order.
  std::span<const node_id> hosts() const { return all_hosts_; }

  /// The physical path between two nodes.
  path_kind path(node_id a, node_id b) const;
  /// Modelled one-way latency between two nodes, µs (half the round trip of latency_model).
  double one_way_latency_us(node_id a, node_id b) const;
  /// Modelled one-way latency between a client (a host on another server of the rack, as the
  /// paper's client machines) and node `n`, µs.
  double client_one_way_latency_us(node_id n) const;
  /// The latency model in use.
  const latency_model& latencies() const { return latency_; }

  /// The hierarchical levels of `n` (§3.3), closest first: the same node; the other nodes of its
  /// server; SmartNICs on other servers of its rack; hosts on other servers of its rack; then
  /// SmartNICs and hosts of other racks in its pod; then SmartNICs and hosts of other pods.
  /// Levels never overlap and together hold every node. Views into the cluster: no copies.
  std::vector<level> levels(node_id n) const;
  /// levels(n) with the members of each level listed (skipping excluded nodes): for tests and
  /// reports; O(cluster size).
  std::vector<std::vector<node_id>> level_members(node_id n) const;
  /// True when `level` admits node m.
  bool in_level(const level& l, node_id m) const;

  /// The node whose IP is `ip`, or nullptr.
  const compute_node* node_by_ip(std::uint32_t ip) const;
  /// Purchase price (CAPEX): the Table 4 cluster row's price for a preset that has one, else
  /// the sum of the servers' prices. (Table 4 lists 2×Beefy+2×Wimpy at $13,018 although its
  /// servers sum to $13,418; we keep the table's figure, as the paper's Fig. 10 used it.)
  double capex_usd() const;

  /// Marks a port up or down (a failed link).
  void set_port_up(int port, bool up);
  /// Marks a node up or down; a SmartNIC going down takes its ports down with it.
  void set_node_up(node_id n, bool up);
  /// Whether a port is up.
  bool port_up(int port) const { return port_up_[port]; }
  /// Whether a node is up.
  bool node_up(node_id n) const { return node_up_[n]; }

  /// The switch port a flow with this hash enters through to reach destination `ip` (§3.2): a
  /// SmartNIC IP uses that card's own ports; a host IP is an ECMP group over every port of its
  /// server. Among the live ports the flow takes the one with the highest rendezvous hash, so
  /// when a port fails only the flows on that port move. Returns -1 when no port is up or the IP
  /// is unknown.
  int ingress_port(std::uint32_t dst_ip, std::uint64_t flow_hash) const;

 private:
  void add_server(const server_profile& p, int rack, int smartnics);
  void finish();

  std::string name_;
  std::vector<compute_node> nodes_;
  std::vector<server_info> servers_;
  std::vector<rack_info> racks_;
  std::vector<port_info> ports_;
  std::vector<std::vector<node_id>> pod_smartnics_, pod_hosts_;
  std::vector<node_id> all_smartnics_, all_hosts_;
  std::vector<std::vector<node_id>> server_nodes_;  // per server: SmartNICs then host
  std::vector<char> port_up_, node_up_;
  int pods_ = 1;
  double listed_cost_usd_ = 0;  // Table 4 cluster row price, 0 when none
  latency_model latency_;
};

/// The 64-bit rendezvous weight of (flow, port): a fixed mix, the same in every process.
std::uint64_t rendezvous_weight(std::uint64_t flow_hash, int port);

/// Hash of an IPv4 5-tuple, as the ToR's ECMP hashes it (fixed, the same in every process).
std::uint64_t flow_hash(std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t sport, std::uint16_t dport,
                        std::uint8_t proto);

/// Dotted-quad text of a host-order IPv4 address.
std::string ip_to_string(std::uint32_t ip);

}  // namespace e3::topo
