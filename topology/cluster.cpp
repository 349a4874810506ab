// Building clusters (presets, FatTrees), paths, levels and ECMP.
#include "topology/cluster.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

namespace e3::topo {
namespace {

constexpr std::uint32_t ip_base = 0x0a000000;  // 10.0.0.0/8: node n gets 10.0.0.0 + n + 1

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// Half a round trip's worth of stack cost at one end of a switched path: a SmartNIC end is
// as cheap as Fig. 3's SmartNIC-SmartNIC case, a host end as the host-host case.
double end_rtt_us(const latency_model& L, const compute_node& n) {
  return n.kind == node_kind::smartnic ? L.host_host_tor_rtt_us * L.nic_nic_tor_rtt_ratio / 2
                                       : L.host_host_tor_rtt_us / 2;
}

struct preset_def {
  const char* name;
  std::vector<std::string> servers;
};

const std::vector<preset_def>& preset_defs() {
  static const std::vector<preset_def> defs = {
      {"3xBeefy", {"Beefy", "Beefy", "Beefy"}},
      {"3xType1-SmartNIC", {"Type1-SmartNIC", "Type1-SmartNIC", "Type1-SmartNIC"}},
      {"4xBeefy", {"Beefy", "Beefy", "Beefy", "Beefy"}},
      {"4xWimpy", {"Wimpy", "Wimpy", "Wimpy", "Wimpy"}},
      {"2xBeefy+2xWimpy", {"Beefy", "Beefy", "Wimpy", "Wimpy"}},
      {"2xType2-SmartNIC", {"Type2-SmartNIC", "Type2-SmartNIC"}},
      {"1xSuperBeefy", {"SuperBeefy"}},
  };
  return defs;
}

}  // namespace

std::string_view to_string(path_kind k) {
  switch (k) {
    case path_kind::local: return "local";
    case path_kind::pcie: return "pcie";
    case path_kind::tor: return "tor";
    case path_kind::aggregation: return "aggregation";
    case path_kind::core: return "core";
  }
  return "?";
}

std::string ip_to_string(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) +
         "." + std::to_string(a & 0xff);
}

std::uint64_t rendezvous_weight(std::uint64_t flow, int port) {
  return mix(flow ^ mix(std::uint64_t(port) + 0x9e3779b97f4a7c15ull));
}

std::uint64_t flow_hash(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                        std::uint8_t proto) {
  std::uint64_t h = mix(std::uint64_t(src) << 32 | dst);
  return mix(h ^ (std::uint64_t(sport) << 24 | std::uint64_t(dport) << 8 | proto));
}

void cluster::add_server(const server_profile& p, int rack, int smartnics) {
  const auto& nic = liquidio2();
  server_info s;
  s.id = int(servers_.size());
  s.rack = rack;
  s.profile = p.name;
  s.cost_usd = p.cost_usd;
  std::string prefix = "r" + std::to_string(rack) + "/s" + std::to_string(s.id);
  double port_gbps = smartnics > 0 ? p.network_gbps / std::max(1, p.smartnics) / nic.ports : p.network_gbps / 2;
  std::vector<node_id> order;
  for (int k = 0; k < smartnics; ++k) {
    compute_node n;
    n.id = node_id(nodes_.size());
    n.kind = node_kind::smartnic;
    n.server = s.id;
    n.rack = rack;
    n.nic_index = k;
    n.cores_type = core_type::cnmips;
    n.cores = nic.cores;
    n.clock_ghz = nic.clock_ghz;
    n.memory_mb = nic.memory_gb * 1024;
    n.network_gbps = port_gbps * nic.ports;
    n.power = smartnic_power();
    n.name = prefix + "/nic" + std::to_string(k);
    s.smartnics.push_back(n.id);
    for (int q = 0; q < nic.ports; ++q) {
      ports_.push_back({int(ports_.size()), n.id, s.id, port_gbps});
      s.ports.push_back(ports_.back().id);
    }
    order.push_back(n.id);
    nodes_.push_back(std::move(n));
  }
  auto h = host_of(p);
  compute_node n;
  n.id = node_id(nodes_.size());
  n.kind = node_kind::host;
  n.server = s.id;
  n.rack = rack;
  n.cores_type = h.cores_type;
  n.cores = h.cores;
  n.clock_ghz = h.clock_ghz;
  n.memory_mb = h.memory_mb;
  n.power = h.power;
  n.name = prefix + "/host";
  s.host = n.id;
  if (smartnics == 0) {  // the plain NIC's two ports belong to the host
    for (int q = 0; q < 2; ++q) {
      ports_.push_back({int(ports_.size()), n.id, s.id, port_gbps});
      s.ports.push_back(ports_.back().id);
    }
  }
  n.network_gbps = 0;
  for (int q : s.ports)
    n.network_gbps += ports_[q].gbps;
  order.push_back(n.id);
  nodes_.push_back(std::move(n));
  server_nodes_.push_back(std::move(order));
  servers_.push_back(std::move(s));
}

void cluster::finish() {
  for (auto& n : nodes_) {
    n.pod = racks_[n.rack].pod;
    n.ip = ip_base + n.id + 1;
  }
  pods_ = racks_.empty() ? 0 : racks_.back().pod + 1;
  pod_smartnics_.assign(pods_, {});
  pod_hosts_.assign(pods_, {});
  for (auto& r : racks_) {
    for (int s : r.servers) {
      for (node_id k : servers_[s].smartnics) {
        r.smartnics.push_back(k);
        pod_smartnics_[r.pod].push_back(k);
        all_smartnics_.push_back(k);
      }
      r.hosts.push_back(servers_[s].host);
      pod_hosts_[r.pod].push_back(servers_[s].host);
      all_hosts_.push_back(servers_[s].host);
    }
  }
  port_up_.assign(ports_.size(), 1);
  node_up_.assign(nodes_.size(), 1);
}

cluster cluster::rack_of(std::string name, const std::vector<std::string>& profiles, int smartnics_per_server) {
  cluster c;
  c.name_ = std::move(name);
  c.racks_.push_back({0, 0, {}, {}, {}});
  for (const auto& pn : profiles) {
    const auto& p = server_profile_named(pn);
    c.racks_[0].servers.push_back(int(c.servers_.size()));
    c.add_server(p, 0, smartnics_per_server < 0 ? p.smartnics : smartnics_per_server);
  }
  c.finish();
  return c;
}

cluster cluster::preset(std::string_view name) {
  for (const auto& d : preset_defs()) {
    if (d.name != name)
      continue;
    auto c = rack_of(d.name, d.servers);
    c.listed_cost_usd_ = table4_cluster_cost(d.name);
    return c;
  }
  std::string known;
  for (const auto& d : preset_defs())
    known += (known.empty() ? "" : ", ") + std::string(d.name);
  throw std::invalid_argument("unknown cluster preset '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<std::string> cluster::preset_names() {
  std::vector<std::string> out;
  for (const auto& d : preset_defs())
    out.emplace_back(d.name);
  return out;
}

cluster cluster::fat_tree(const fat_tree_spec& spec) {
  if (spec.servers < 1)
    throw std::invalid_argument("fat tree: servers must be at least 1, got " + std::to_string(spec.servers));
  if (spec.servers_per_rack < 1)
    throw std::invalid_argument("fat tree: servers per rack must be at least 1");
  if (spec.racks_per_pod < 1)
    throw std::invalid_argument("fat tree: racks per pod must be at least 1");
  if (spec.smartnics_per_server < -1 || spec.smartnics_per_server > 64)
    throw std::invalid_argument("fat tree: SmartNICs per server must be in 0..64, got " +
                                std::to_string(spec.smartnics_per_server));
  const auto& p = server_profile_named(spec.server_profile);
  int nics = spec.smartnics_per_server < 0 ? p.smartnics : spec.smartnics_per_server;
  long long nodes = (long long)spec.servers * (nics + 1);
  if (nodes >= (1ll << 24) - 2)
    throw std::invalid_argument("fat tree: " + std::to_string(nodes) + " compute nodes do not fit in 10.0.0.0/8");
  cluster c;
  c.name_ = "fattree-" + std::to_string(spec.servers) + "x" + spec.server_profile;
  c.nodes_.reserve(std::size_t(nodes));
  for (int s = 0; s < spec.servers; ++s) {
    int rack = s / spec.servers_per_rack;
    if (rack == int(c.racks_.size()))
      c.racks_.push_back({rack, rack / spec.racks_per_pod, {}, {}, {}});
    c.racks_[rack].servers.push_back(s);
    c.add_server(p, rack, nics);
  }
  c.finish();
  return c;
}

path_kind cluster::path(node_id a, node_id b) const {
  const auto& x = nodes_[a];
  const auto& y = nodes_[b];
  if (a == b)
    return path_kind::local;
  if (x.server == y.server)
    return x.kind != y.kind ? path_kind::pcie : path_kind::tor;  // two SmartNICs talk via the ToR (§3.1)
  if (x.rack == y.rack)
    return path_kind::tor;
  return x.pod == y.pod ? path_kind::aggregation : path_kind::core;
}

double cluster::one_way_latency_us(node_id a, node_id b) const {
  const auto& L = latency_;
  const auto& x = nodes_[a];
  const auto& y = nodes_[b];
  auto k = path(a, b);
  if (k == path_kind::local)
    return L.local_rtt_us / 2;
  if (k == path_kind::pcie)
    return L.host_host_tor_rtt_us * L.pcie_rtt_ratio / 2;
  double rtt = end_rtt_us(L, x) + end_rtt_us(L, y);
  if (k == path_kind::aggregation)
    rtt += 2 * L.per_switch_hop_rtt_us;
  else if (k == path_kind::core)
    rtt += 4 * L.per_switch_hop_rtt_us;
  return rtt / 2;
}

double cluster::client_one_way_latency_us(node_id n) const {
  return (latency_.host_host_tor_rtt_us / 2 + end_rtt_us(latency_, nodes_[n])) / 2;
}

std::vector<level> cluster::levels(node_id n) const {
  const auto& x = nodes_[n];
  std::vector<level> out;
  out.reserve(8);
  const auto& sn = server_nodes_[x.server];
  auto self = std::find(sn.begin(), sn.end(), n);
  out.push_back({"same node", std::span<const node_id>(&*self, 1), -1, -1, -1, ~node_id(0)});
  out.push_back({"same server", std::span<const node_id>(sn), -1, -1, -1, n});
  const auto& r = racks_[x.rack];
  out.push_back({"SmartNIC in rack", std::span<const node_id>(r.smartnics), x.server, -1, -1, ~node_id(0)});
  out.push_back({"host in rack", std::span<const node_id>(r.hosts), x.server, -1, -1, ~node_id(0)});
  if (racks_.size() > 1) {
    out.push_back({"SmartNIC in pod", std::span<const node_id>(pod_smartnics_[x.pod]), -1, x.rack, -1, ~node_id(0)});
    out.push_back({"host in pod", std::span<const node_id>(pod_hosts_[x.pod]), -1, x.rack, -1, ~node_id(0)});
  }
  if (pods_ > 1) {
    out.push_back({"SmartNIC in other pods", std::span<const node_id>(all_smartnics_), -1, -1, x.pod, ~node_id(0)});
    out.push_back({"host in other pods", std::span<const node_id>(all_hosts_), -1, -1, x.pod, ~node_id(0)});
  }
  return out;
}

bool cluster::in_level(const level& l, node_id m) const {
  const auto& y = nodes_[m];
  return m != l.excluded_node && y.server != l.excluded_server && y.rack != l.excluded_rack &&
         y.pod != l.excluded_pod;
}

std::vector<std::vector<node_id>> cluster::level_members(node_id n) const {
  std::vector<std::vector<node_id>> out;
  for (const auto& l : levels(n)) {
    std::vector<node_id> members;
    for (node_id m : l.candidates)
      if (in_level(l, m))
        members.push_back(m);
    out.push_back(std::move(members));
  }
  return out;
}

const compute_node* cluster::node_by_ip(std::uint32_t ip) const {
  if (ip <= ip_base || ip - ip_base - 1 >= nodes_.size())
    return nullptr;
  return &nodes_[ip - ip_base - 1];
}

double cluster::capex_usd() const {
  if (listed_cost_usd_ > 0)
    return listed_cost_usd_;
  double c = 0;
  for (const auto& s : servers_)
    c += s.cost_usd;
  return c;
}

void cluster::set_port_up(int port, bool up) {
  if (port < 0 || std::size_t(port) >= ports_.size())
    throw std::out_of_range("no port " + std::to_string(port));
  port_up_[port] = up;
}

void cluster::set_node_up(node_id n, bool up) {
  if (n >= nodes_.size())
    throw std::out_of_range("no node " + std::to_string(n));
  node_up_[n] = up;
  if (nodes_[n].kind == node_kind::smartnic)
    for (const auto& p : ports_)
      if (p.owner == n)
        port_up_[p.id] = up;
}

int cluster::ingress_port(std::uint32_t dst_ip, std::uint64_t flow) const {
  const compute_node* d = node_by_ip(dst_ip);
  if (!d || !node_up_[d->id])
    return -1;
  const auto& s = servers_[d->server];
  int best = -1;
  std::uint64_t best_w = 0;
  for (int p : s.ports) {
    if (!port_up_[p])
      continue;
    // A SmartNIC IP is reached only through that card's own ports.
    if (d->kind == node_kind::smartnic && ports_[p].owner != d->id)
      continue;
    auto w = rendezvous_weight(flow, p);
    if (best < 0 || w > best_w) {
      best = p;
      best_w = w;
    }
  }
  return best;
}

}  // namespace e3::topo
