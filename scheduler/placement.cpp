// Admissibility and resource accounting shared by every placement algorithm.
#include "scheduler/placement.hpp"

namespace e3::sched {

cluster_view cluster_view::empty(const topo::cluster& c) {
  cluster_view v;
  v.cluster = &c;
  v.nodes.reserve(c.nodes().size());
  for (const auto& n : c.nodes())
    v.nodes.push_back({double(n.cores), n.memory_mb, n.network_gbps, 0, c.node_up(n.id)});
  return v;
}

double core_demand(const dag_node& n, const topo::compute_node& node) {
  if (n.cpu == 0)
    return 0;
  const auto* p = topo::find_service_profile(n.kind);
  double slow = p ? p->slowdown(node.cores_type, node.clock_ghz, n.request_bytes) : 1.0;
  return n.cpu * slow;
}

bool admissible(const app_dag& dag, std::uint32_t i, topo::node_id node, const cluster_view& view,
                const constraints& c, const std::vector<topo::node_id>& node_of, const std::vector<char>& placed,
                bool check_capacity) {
  const auto& n = dag.nodes[i];
  const auto& cn = view.cluster->node(node);
  const auto& st = view.nodes[node];
  if (!st.up)
    return false;
  if (c.honour_host_only && n.host_only && cn.kind != topo::node_kind::host)
    return false;
  if (n.smartnic_only && cn.kind != topo::node_kind::smartnic)
    return false;
  if (st.outstanding > c.max_outstanding)
    return false;
  if (c.replicas_apart) {
    // A replica avoids its primary's server and its sibling replicas' servers; a primary
    // avoids the servers of replicas already placed (when placed in another order).
    std::uint32_t primary = n.replica_of >= 0 ? std::uint32_t(n.replica_of) : i;
    auto clash = [&](std::uint32_t other) {
      return other != i && placed[other] && view.cluster->node(node_of[other]).server == cn.server;
    };
    if (clash(primary))
      return false;
    for (auto r : dag.replicas[primary])
      if (clash(r))
        return false;
  }
  if (check_capacity && c.capacity) {
    double reserved = double(cn.cores) * (1.0 - c.core_headroom);
    bool cores_count = !(c.pack_smartnics && cn.kind == topo::node_kind::smartnic);
    if (cores_count && core_demand(n, cn) > st.free_cores - reserved + 1e-9)
      return false;
    if (n.memory_mb > st.free_memory_mb + 1e-9)
      return false;
    if (n.gbps > st.free_gbps + 1e-9)
      return false;
  }
  return true;
}

void consume(cluster_view& view, const dag_node& n, topo::node_id node) {
  auto& st = view.nodes[node];
  st.free_cores -= core_demand(n, view.cluster->node(node));
  st.free_memory_mb -= n.memory_mb;
  st.free_gbps -= n.gbps;
}

void release(cluster_view& view, const dag_node& n, topo::node_id node) {
  auto& st = view.nodes[node];
  st.free_cores += core_demand(n, view.cluster->node(node));
  st.free_memory_mb += n.memory_mb;
  st.free_gbps += n.gbps;
}

}  // namespace e3::sched
