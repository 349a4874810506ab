// The placement workload of Table 6 (§5.6), shared by `e3 bench placement` and `e3 bench table6`:
// the paper's 8 apps repeated until there are M microservices, a Type2-SmartNIC FatTree of
// 40-server racks, and an optional seeded pre-booking of every node.
#pragma once

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "apps/placement_report.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::bench {

/// The 8 apps of Table 3, in the paper's order.
inline const std::vector<std::string>& paper_app_names() {
  static const std::vector<std::string> names = {"nfv-fin", "nfv-din", "nfv-ifid", "rta-ptc",
                                                 "rta-sf",  "rta-shm", "iot-dh",   "iot-ts"};
  return names;
}

/// The instance DAGs of the 8 paper apps (loaded from apps/manifests). Throws manifest_error.
inline std::vector<sched::app_dag> paper_app_dags() {
  std::vector<sched::app_dag> out;
  for (const auto& name : paper_app_names())
    out.push_back(sched::expand(apps::load_app(name)));
  return out;
}

/// Copies of `templates`, in turn (each copy a separate app deployment), until they hold at least
/// `services` instances.
inline std::vector<sched::app_dag> repeat_apps(const std::vector<sched::app_dag>& templates, std::size_t services) {
  std::vector<sched::app_dag> dags;
  std::size_t total = 0;
  for (std::size_t i = 0; total < services; ++i) {
    dags.push_back(templates[i % templates.size()]);
    total += dags.back().nodes.size();
  }
  return dags;
}

/// Table 6's cluster: `servers` Type2-SmartNIC servers (4 SmartNICs each) in a FatTree of
/// 40-server racks.
inline topo::cluster table6_cluster(int servers) {
  return topo::cluster::fat_tree({.servers = servers, .server_profile = "Type2-SmartNIC"});
}

/// An empty view of `cluster`, optionally with a random share of every node's cores and memory
/// pre-booked (uniform in [0, 2 × preload], capped at 1, seeded with 42), so placement has to
/// search farther levels, as in a busy cluster.
inline sched::cluster_view preloaded_view(const topo::cluster& cluster, double preload) {
  auto view = sched::cluster_view::empty(cluster);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 2 * preload);
  for (auto& st : view.nodes) {
    double f = std::min(1.0, u(rng));
    st.free_cores *= 1 - f;
    st.free_memory_mb *= 1 - f;
  }
  return view;
}

}  // namespace e3::bench
