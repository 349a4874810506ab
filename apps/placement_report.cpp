// Placement and evaluation reports.
#include "apps/placement_report.hpp"

#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "apps/manifest.hpp"

namespace e3::apps {

std::string manifest_dir() { return E3_MANIFEST_DIR; }

sched::app_spec load_app(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (!fs::exists(name_or_path) && name_or_path.find('/') == std::string::npos) {
    auto p = fs::path(manifest_dir()) / (name_or_path + ".yaml");
    if (fs::exists(p))
      return load_manifest(p.string());
  }
  return load_manifest(name_or_path);
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : sep) + s;
  return out;
}

nlohmann::json placements_json(const sched::app_spec& spec, const sched::app_dag& dag, const topo::cluster& c,
                               const sched::placement& p) {
  auto arr = nlohmann::json::array();
  for (const auto& n : dag.nodes) {
    const auto& cn = c.node(p.node_of[n.id]);
    nlohmann::json e;
    e["id"] = n.id;
    e["service"] = spec.services[n.service].name;
    e["shard"] = n.shard;
    e["kind"] = n.kind;
    e["node"] = cn.name;
    e["server"] = cn.server;
    e["node_type"] = std::string(topo::to_string(cn.kind));
    e["replica_of"] = n.replica_of >= 0 ? nlohmann::json(n.replica_of) : nlohmann::json(nullptr);
    e["level"] = p.level_used[n.id] >= 0 ? nlohmann::json(p.level_used[n.id]) : nlohmann::json(nullptr);
    arr.push_back(e);
  }
  return arr;
}

nlohmann::json evaluation_json(const sched::evaluation& ev, const topo::cluster& c) {
  nlohmann::json j;
  j["offered_rps"] = ev.offered_rps;
  j["throughput_rps"] = ev.throughput_rps;
  j["max_throughput_rps"] = ev.max_throughput_rps;
  j["bottleneck"] = ev.bottleneck;
  j["latency_us"] = ev.latency_us;
  j["power_w"] = ev.power_w;
  j["requests_per_joule"] = ev.requests_per_joule;
  j["modelled"] = true;
  j["smartnic_instances"] = ev.smartnic_instances;
  j["host_instances"] = ev.host_instances;
  j["overcommitted"] = ev.overcommitted;
  nlohmann::json paths;
  for (std::size_t k = 0; k < ev.paths.size(); ++k)
    paths[std::string(topo::to_string(topo::path_kind(k)))] = {{"edges", ev.paths[k].edges},
                                                                {"messages_per_s", ev.paths[k].messages_per_s}};
  j["paths"] = paths;
  auto nodes = nlohmann::json::array();
  for (const auto& n : ev.nodes) {
    const auto& cn = c.node(n.node);
    nodes.push_back({{"node", cn.name},
                     {"node_type", std::string(topo::to_string(cn.kind))},
                     {"instances", n.instances.size()},
                     {"cores_used", n.cores_used},
                     {"cores", cn.cores},
                     {"utilisation", n.utilisation},
                     {"memory_mb", n.memory_mb},
                     {"gbps", n.gbps},
                     {"power_w", n.power_w}});
  }
  j["nodes"] = nodes;
  return j;
}

void print_placement(std::ostream& out, const sched::app_spec& spec, const sched::app_dag& dag, const topo::cluster& c,
                     const sched::placement& p) {
  std::map<topo::node_id, std::vector<std::uint32_t>> by_node;
  for (const auto& n : dag.nodes)
    by_node[p.node_of[n.id]].push_back(n.id);
  out << "Placement of " << spec.name << " (" << dag.nodes.size() << " instances) on " << c.name() << " by "
      << p.algo << "\n";
  out << std::left << std::setw(16) << "node" << std::setw(10) << "type" << "instances (service/shard, b = backup)\n";
  for (const auto& [node, ids] : by_node) {
    const auto& cn = c.node(node);
    std::ostringstream line;
    for (auto id : ids) {
      const auto& n = dag.nodes[id];
      line << " " << spec.services[n.service].name << "/" << n.shard << (n.replica_of >= 0 ? "b" : "");
    }
    out << std::left << std::setw(16) << cn.name << std::setw(10) << topo::to_string(cn.kind) << ids.size() << ":"
        << line.str() << "\n";
  }
  if (!p.overcommitted.empty())
    out << "warning: " << p.overcommitted.size() << " instances did not fit anywhere and overcommit their node\n";
}

void print_evaluation(std::ostream& out, const sched::evaluation& ev, const topo::cluster& c) {
  out << "Evaluation at " << ev.offered_rps << " requests/s offered (power and energy MODELLED from Tables 1 and 4)\n";
  out << std::left << std::setw(16) << "node" << std::right << std::setw(10) << "instances" << std::setw(12)
      << "cores used" << std::setw(8) << "util" << std::setw(12) << "memory MB" << std::setw(10) << "Gb/s"
      << std::setw(10) << "power W" << "\n";
  out << std::fixed;
  for (const auto& n : ev.nodes) {
    const auto& cn = c.node(n.node);
    out << std::left << std::setw(16) << cn.name << std::right << std::setw(10) << n.instances.size()
        << std::setw(12) << std::setprecision(2) << n.cores_used << std::setw(7) << std::setprecision(0)
        << n.utilisation * 100 << "%" << std::setw(12) << std::setprecision(0) << n.memory_mb << std::setw(10)
        << std::setprecision(2) << n.gbps << std::setw(10) << std::setprecision(1) << n.power_w << "\n";
  }
  out << "edges by path:";
  for (std::size_t k = 0; k < ev.paths.size(); ++k)
    if (ev.paths[k].edges)
      out << " " << topo::to_string(topo::path_kind(k)) << "=" << ev.paths[k].edges;
  out << "\n" << std::setprecision(0);
  out << "instances: " << ev.smartnic_instances << " on SmartNICs, " << ev.host_instances << " on hosts\n";
  out << "throughput: " << ev.throughput_rps << " requests/s (saturates at " << ev.max_throughput_rps << ", "
      << ev.bottleneck << ")\n";
  out << std::setprecision(1) << "latency (modelled): " << ev.latency_us << " us mean end to end\n";
  out << "power (modelled): " << ev.power_w << " W   energy efficiency (modelled): " << std::setprecision(0)
      << ev.requests_per_joule << " requests/J\n";
  if (ev.overcommitted)
    out << "warning: the placement overcommits at least one node\n";
  out.unsetf(std::ios::fixed);
}

}  // namespace e3::apps
