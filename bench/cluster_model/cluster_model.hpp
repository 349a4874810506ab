// The modelled cluster results of §5.1, §5.3 and §5.5 (Table 5, Figs. 5, 8, 9, 10): an app placed by
// HCM at the peak load a cluster can carry, scored by the evaluation model (scheduler/evaluate.hpp),
// its power at lower loads, its cost efficiency over years of ownership, and the port model of
// Fig. 9 (host traffic shared over the SmartNICs' ports by ECMP, or on a dedicated host NIC).
// Every power, energy and cost figure here is MODELLED (topology power and cost models).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::bench {

/// The apps called `names` (manifest names or files), in order. On a bad manifest returns what was
/// loaded so far and sets `error` to what was wrong (the loader's message); `error` stays empty
/// otherwise.
std::vector<sched::app_spec> load_apps(const std::vector<std::string>& names, std::string& error);

/// `spec` with its design load multiplied by `factor`: rate_rps and every service's CPU demand
/// (bandwidth follows the rate when the spec is expanded). Throws std::invalid_argument when
/// factor is not positive.
sched::app_spec scale_load(const sched::app_spec& spec, double factor);

/// What the peak search maximises over the design-load multipliers.
enum class peak_objective {
  throughput,          ///< requests per second at saturation (§5.1's peak utilisation)
  requests_per_joule,  ///< requests per joule at saturation (E3's own objective)
};

/// "throughput" or "rpj".
std::string to_string(peak_objective o);
/// Parses "throughput" or "rpj"; throws std::invalid_argument otherwise.
peak_objective parse_objective(const std::string& text);

/// How the peak search runs.
struct peak_options {
  peak_objective objective = peak_objective::throughput;  ///< what is maximised
  sched::constraints constraints;  ///< HCM's constraints (capacity with its core headroom)
  double step = 1.05;              ///< the design-load multiplier grows by this factor per step
  double start = 1.0 / 16;         ///< first multiplier tried
  int max_steps = 400;             ///< give up after this many steps
  bool entries_on_host = false;    ///< pin the client-facing services to hosts (Fig. 9's set-up)
  /// Per node: the bandwidth the control plane may promise (Gb/s), overriding the node's ports in
  /// the view; empty: the cluster's own. Fig. 9's dedicated host NIC narrows the host's.
  std::vector<double> gbps_override;
  int max_copies = 256;            ///< at most this many copies of the app per multiplier
  /// The total throughput (requests/s, all copies at the same rate) at which copies of `dag` placed
  /// as `ps` saturate; empty: the evaluation model's (sched::evaluation::max_throughput_rps).
  /// Fig. 9 adds its port model.
  std::function<double(const sched::app_dag& dag, const std::vector<sched::placement>& ps)> saturation_rps;
};

/// The app at the peak load a cluster carries (§5.1: "as many instances of each application and as
/// much client load as necessary to maximise request throughput without overloading the cluster").
///
/// The search: for each design-load multiplier start, start×step, …, copies of the scaled app are
/// placed by HCM in turn on one empty view (capacity constraints on, so every node keeps its core
/// headroom at the scaled load) until the next copy no longer fits. Among the multipliers where at
/// least one copy fits, the one whose copies together saturate at the highest throughput (or requests
/// per joule, as peak_options::objective says) is kept.
/// When no copy fits at any multiplier (memory too small), the search is repeated without backups;
/// when that fails too, the least overcommitted single copy is kept and `fits` is false. On a
/// one-server cluster backups may share the server (there is no other fault domain).
struct peak_point {
  std::string app;             ///< app name
  std::string cluster;         ///< cluster name
  bool fits = false;           ///< a placement without overcommitted instances was found
  std::string status;          ///< "ok" or what is overcommitted / relaxed
  double scale = 0;            ///< the design-load multiplier of the kept placement
  sched::app_spec spec;        ///< the app at that multiplier (one copy, as placed)
  sched::app_dag dag;          ///< its instance DAG (the same for every copy)
  std::vector<sched::placement> placements;  ///< HCM's placement of each copy
  sched::evaluation peak;      ///< the evaluation of all copies at their joint saturation
};

/// Evaluates every copy of `p` together at `total_rps` (shared evenly between the copies).
sched::evaluation evaluate_copies(const peak_point& p, const topo::cluster& c, double total_rps);

/// Searches the peak placement of `spec` on `c` (see peak_point).
peak_point place_at_peak(const sched::app_spec& spec, const topo::cluster& c, const peak_options& o = {});

/// The request rate at which the busiest node's cores run out, from an evaluation below saturation
/// (cores / busy cores per request); infinity when no core is busy.
double core_limited_rps(const sched::evaluation& ev, const topo::cluster& c);

/// The evaluation of `p`'s placements at `fraction` of its peak throughput (0 ≤ fraction ≤ 1; 0 =
/// deployed but idle).
sched::evaluation at_load(const peak_point& p, const topo::cluster& c, double fraction);

/// What the discrete-event simulator (sim/simulator.hpp) measured for a peak placement at a load.
struct sim_point {
  double offered_rps = 0;     ///< requests per simulated second sent (all copies)
  double throughput_rps = 0;  ///< completed per simulated second
  double latency_mean_us = 0; ///< request-weighted over the copies
  double latency_p99_us = 0;  ///< the worst copy's p99 (copies are alike; a conservative merge)
  double power_w = 0;         ///< modelled wall power from the simulated utilisation
  double requests_per_joule = 0;  ///< throughput / power (MODELLED)
};

/// Runs every copy of `p` in the simulator (open-loop Poisson clients, fixed execution times, no
/// heartbeats or migrations: the placement stays as placed) at `fraction` of its peak throughput,
/// for `measure_ms` simulated milliseconds after a warm-up of a fifth of that. Deterministic for a seed.
sim_point simulate(const peak_point& p, const topo::cluster& c, double fraction, double measure_ms = 20,
                   std::uint64_t seed = 1);

/// Relative difference of ours to the paper's, in % ((ours / paper − 1) × 100); NaN when the paper's
/// value is not positive.
double diff_pct(double ours, double paper);

/// "+12.3 %" / "-4.0 %" / "n/a" (for NaN).
std::string pct_text(double pct);

/// Table 5 (KRPJ, thousand requests per joule of wall power): the paper's value for `app`
/// ("nfv-fin", "rta-shm", "iot-ts") on `cluster` (a preset name), or NaN when it lists none.
double table5_krpj(const std::string& app, const std::string& cluster);

/// The clusters of Table 5, in its order.
const std::vector<std::string>& table5_clusters();

/// The apps of Table 5 and Figs. 8 and 10, in the paper's order.
const std::vector<std::string>& table5_apps();

/// Cost efficiency (requests per $, topology/cost.hpp) at each of `years` of ownership, for a
/// cluster that serves `throughput_rps` at `power_w` (MODELLED) and cost `capex_usd`.
std::vector<std::pair<double, double>> cost_curve(double throughput_rps, double power_w, double capex_usd,
                                                  const std::vector<double>& years);

/// Fig. 9's two ways to give a Type2-SmartNIC server's host its network bandwidth (§5.3).
enum class host_nic {
  shared,     ///< ECMP spreads the host IP's flows over every SmartNIC port of its server
  dedicated,  ///< one SmartNIC is swapped for a plain NIC whose ports carry only host traffic
};

/// "shared (ECMP)" or "dedicated NIC".
std::string to_string(host_nic h);

/// The share of `flows` client flows to `dst_ip` that the ToR's ECMP (the topology's rendezvous
/// hashing) sends through each of the cluster's ports (0 for ports not in the IP's group). The
/// flows are src 10.1.0.1 with source ports 1024, 1025, …, TCP to port 80.
std::vector<double> ecmp_port_shares(const topo::cluster& c, std::uint32_t dst_ip, int flows = 4096);

/// Traffic through one switch port per app request (Gbit), and what the port carries.
struct port_load {
  int port = 0;               ///< index in cluster::ports(), or -1 for a dedicated host NIC port
  std::string name;           ///< e.g. "r0/s1/nic2 port 0", "r0/s1/host nic port 1"
  double gbps = 0;            ///< the port's speed
  double gbit_per_request = 0;  ///< modelled traffic per app request through it, in + out
};

/// Per node: Gbit per app request crossing the switch (ToR and beyond) in and out of it: client
/// requests into the entry instances, replies out of the sinks, data-flow edges to another server,
/// replication to a backup on another server. PCIe (host ↔ its own SmartNIC) and local messages
/// do not touch a switch port.
std::vector<double> switch_gbit_per_request(const sched::app_dag& dag, const topo::cluster& c,
                                            const sched::placement& p);
/// The same summed over copies of `dag` placed as `ps`, per request of all copies together (each
/// copy carries an equal share).
std::vector<double> switch_gbit_per_request(const sched::app_dag& dag, const topo::cluster& c,
                                            const std::vector<sched::placement>& ps);

/// The ports of `c` and their load per app request when a host's switch traffic enters and leaves
/// as `mode` says: shared: by `host_shares` (the ECMP share of each port for that host, see
/// ecmp_port_shares; a server's shares sum to 1); dedicated: `host_nic_ports` extra ports of
/// `host_nic_gbps` each per server, evenly. A SmartNIC's own traffic splits evenly over its ports.
std::vector<port_load> port_loads(const topo::cluster& c, const std::vector<double>& node_gbit, host_nic mode,
                                  const std::vector<std::vector<double>>& host_shares, int host_nic_ports = 2,
                                  double host_nic_gbps = 0);

/// The highest app request rate the ports carry: min over ports of speed / traffic per request
/// (infinity when no port carries anything); `bottleneck` names that port.
double port_limited_rps(const std::vector<port_load>& ports, std::string* bottleneck = nullptr);

}  // namespace e3::bench
