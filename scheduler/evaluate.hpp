// Evaluation of a placement: load per node, link kind and latency of every edge, and the
// modelled power, throughput and requests per joule at an offered load.
//
// The model: instance i handles visits_i messages per app request and each costs its kind's
// CPU time on its node's cores (service profiles). A node's demand per app request is the sum
// over its instances; the app saturates when the first node runs out of cores (or port
// bandwidth): that gives the maximum throughput. At the served load every node's utilisation
// sets its modelled power (power model); requests per joule = throughput / cluster wall power,
// idle servers included. Latency is the critical path from the client: per instance its
// service time inflated by its node's queueing (M/M/1-like, 1/(1−ρ), ρ capped at 0.95), plus
// a synchronous replication round trip for stateful instances with a backup (§3.5, the write
// is acknowledged after the backup applied it), plus the modelled one-way latency of each edge
// (topology latency model); for a fan-out the slowest channel counts.
// All power and energy figures are MODELLED.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "scheduler/placement.hpp"

namespace e3::sched {

/// Load and modelled power of one compute node.
struct node_eval {
  topo::node_id node = 0;          ///< node id
  std::vector<std::uint32_t> instances;  ///< instances placed there
  double cores_used = 0;           ///< busy cores at the served load
  double utilisation = 0;          ///< cores_used / cores
  double memory_mb = 0;            ///< memory of its instances
  double gbps = 0;                 ///< bandwidth at the served load
  double power_w = 0;              ///< modelled wall power
};

/// Per path kind: data-flow edges and messages/s at the served load.
struct path_count {
  std::size_t edges = 0;   ///< instance edges of this kind
  double messages_per_s = 0;  ///< messages per second on them
};

/// The evaluation of one placement at one offered load.
struct evaluation {
  double offered_rps = 0;        ///< the load asked for
  double max_throughput_rps = 0; ///< where the first node saturates
  double throughput_rps = 0;     ///< min(offered, max)
  double latency_us = 0;         ///< modelled mean end-to-end latency at the served load
  double power_w = 0;            ///< modelled cluster wall power (all servers)
  double requests_per_joule = 0; ///< throughput / power
  std::string bottleneck;        ///< the node (or port) that limits throughput
  std::size_t smartnic_instances = 0;  ///< instances on SmartNICs
  std::size_t host_instances = 0;      ///< instances on hosts
  std::array<path_count, 5> paths{};   ///< by topo::path_kind
  std::vector<node_eval> nodes;        ///< every node of the cluster
  bool overcommitted = false;          ///< some node's cores or memory are overcommitted
};

/// Evaluates `p` for `dag` on cluster `c` at `offered_rps` app requests per second.
evaluation evaluate(const app_dag& dag, const topo::cluster& c, const placement& p, double offered_rps);

/// Evaluates several apps placed together on one cluster (each with its own offered load):
/// nodes and power are shared, throughput and latency are summed / request-weighted.
evaluation evaluate_many(const std::vector<const app_dag*>& dags, const topo::cluster& c,
                         const std::vector<const placement*>& ps, const std::vector<double>& offered_rps);

}  // namespace e3::sched
