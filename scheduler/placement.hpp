// The placement problem (§3.3): an app DAG, a view of the cluster's free resources and
// runtime statistics, and constraints; and what a placement algorithm returns.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "scheduler/app.hpp"
#include "topology/cluster.hpp"
#include "topology/service_profile.hpp"

namespace e3::sched {

/// What the control plane knows of one compute node right now.
struct node_state {
  double free_cores = 0;      ///< cores of the node not promised to instances (its own cores)
  double free_memory_mb = 0;  ///< memory not promised
  double free_gbps = 0;       ///< port bandwidth not promised
  double outstanding = 0;     ///< runtime statistic: requests queued at the node (health reports)
  bool up = true;             ///< alive per the failover manager
};

/// The cluster as the control plane sees it: topology plus per-node state. Placement
/// algorithms consume resources from it as they place, so several apps can be placed in turn.
struct cluster_view {
  const topo::cluster* cluster = nullptr;  ///< the topology (must outlive the view)
  std::vector<node_state> nodes;           ///< indexed by node id

  /// A view of an empty cluster: every resource free, every node up (liveness from the cluster).
  static cluster_view empty(const topo::cluster& c);
};

/// Which constraints placement enforces (Service Fabric's, plus E3's, §3.3 and §3.5).
struct constraints {
  bool capacity = true;          ///< cores, memory and bandwidth of a node are not overcommitted
  bool honour_host_only = true;  ///< host-only services (SQL) never go to a SmartNIC
  bool replicas_apart = true;    ///< no replica shares a server (fault domain) with its primary or siblings
  double max_outstanding = std::numeric_limits<double>::infinity();  ///< skip nodes with more queued requests
  /// Use at most this share of a node's cores at the design load, so queues stay short (a node
  /// at 80 % utilisation queues ~4 requests; at 95 % ~19).
  double core_headroom = 0.8;
  /// Pack SmartNICs (§5.2's set-up): on a SmartNIC only memory limits placement, not cores, so
  /// as many services go there as fit in its memory.
  bool pack_smartnics = false;
};

/// A placement: the node of every instance, plus how it was found.
struct placement {
  std::string algo;                     ///< "hcm", "sa", "ilp"
  std::vector<topo::node_id> node_of;   ///< per instance id
  std::vector<std::uint32_t> overcommitted;  ///< instances placed where they do not fit (last resort)
  std::vector<int> level_used;          ///< per instance: the hierarchy level MS_PLACE used, -1 first fit
};

/// Raised when an instance has no admissible node at all (e.g. host-only and no host is up).
class placement_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// CPU demand of instance `n` on `node`, in that node's own cores: its Beefy-core demand times
/// how much slower the node's cores run its kind (Table 1 / measured profile).
double core_demand(const dag_node& n, const topo::compute_node& node);

/// True when instance `i` of `dag` may go to `node` under `c` given the current view and the
/// placement so far (`node_of` entries of unplaced instances are ignored when `placed` is false).
bool admissible(const app_dag& dag, std::uint32_t i, topo::node_id node, const cluster_view& view,
                const constraints& c, const std::vector<topo::node_id>& node_of,
                const std::vector<char>& placed, bool check_capacity);

/// Takes instance `n`'s resources from `node` in the view.
void consume(cluster_view& view, const dag_node& n, topo::node_id node);
/// Gives instance `n`'s resources back to `node` in the view.
void release(cluster_view& view, const dag_node& n, topo::node_id node);

}  // namespace e3::sched
