// The discrete-event cluster simulator: apps placed by the real scheduler run on a modelled
// cluster (node cores, SmartNIC traffic managers, links), SmartNICs send 16-byte heartbeats to
// the real data-plane orchestrator, and its decisions run as real cold migrations.
//
// The model, hop by hop (the same rules as the live runtime's emulation, actors/node.cpp):
// - A client request enters at its entry shard's node: a SmartNIC IP directly, a host IP through
//   one of its server's SmartNIC ports by ECMP (§3.2). Arrival = send + the topology's client
//   latency + serialisation at the receiving port's bandwidth. Links add latency and
//   serialisation only; they are not queues (neither are the runtime's).
// - Every network packet into a SmartNIC takes `traffic_manager_ns` on that card's traffic
//   manager (a one-server FIFO queue), then goes to a local core or over PCIe to the host.
// - A node's cores are a topo::core_queue: round robin, work-conserving, run to completion. A
//   message's execution time is its kind's mean on that node (service profiles, at the service's
//   request size, or config::service_time) times the node's injected slowdown, fixed or
//   exponentially drawn.
// - When it finishes, the message goes on every outgoing channel the request takes (share), to
//   the shard its key picks (routing.hpp), over the path between the two nodes: the same node,
//   PCIe, or the network (topology latency model, Fig. 3's ratios). A service with no channel
//   taken ends its branch: the reply reaches the client after the topology's client latency. A
//   request completes when all its branches have.
// - Backups are placed (and reported in heartbeats) but get no traffic, as in the live runtime.
//   Not modelled: group commit of stateful services (their commit cost is part of the execution
//   time when it is calibrated from the runtime), link contention, packet loss.
// - Every SmartNIC's agent takes a report every `heartbeat_interval_ns` (utilisation, traffic
//   manager queue, link use, per-instance execution times with their trailing EMA and CPU share),
//   summarises it into the 16-byte heartbeat (migration/report.hpp) and sends it over the network
//   to the controller's node, where the real orchestrator digests it after waiting in a FIFO
//   queue, `orchestrator_ns_per_heartbeat` each. A decision starts the real cold-migration state
//   machine; each action takes the modelled time of migration_model plus the one-way latency
//   from the controller and back; requests for the instance are held in the real request buffer
//   from the stop until the restart (the blackout), then delivered in order.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "migration/migration.hpp"
#include "scheduler/scheduler.hpp"
#include "sim/histogram.hpp"
#include "topology/topology.hpp"

namespace e3::sim {

/// How a client sends requests.
enum class arrivals {
  open_poisson,  ///< open loop: Poisson arrivals at `rate_rps`, whatever the cluster does
  closed_loop,   ///< closed loop: `window` requests outstanding; each completion sends the next
};

/// The load on one app.
struct load_spec {
  arrivals process = arrivals::open_poisson;  ///< arrival process
  double rate_rps = 0;          ///< open loop: requests per simulated second
  std::size_t window = 0;       ///< closed loop: requests outstanding
  std::size_t entry = 0;        ///< which entry service of the app receives the requests
  std::int64_t start_ns = 0;    ///< first request at this simulated time
  std::uint32_t client_id = 1;  ///< the client's number: its ECMP flow hash, and request ids (id << 48 | seq)
};

/// How a message's execution time is drawn around its mean.
enum class service_distribution {
  deterministic,  ///< always the mean
  exponential,    ///< exponentially distributed with that mean (for M/M/c checks)
};

/// Placement algorithm for simulator::add_app.
enum class placer {
  hcm,  ///< HCM (scheduler/hcm.hpp), as E3's control-plane manager
  sa,   ///< simulated annealing (scheduler/annealing.hpp)
  ilp,  ///< the ILP (scheduler/ilp.hpp); throws placement_error when it returns no placement
};

/// "hcm", "sa", "ilp".
std::string_view to_string(placer p);

/// Mean execution time of one message of `kind` on `node`, in µs on one core, for a message of
/// `bytes`; an override of the service profiles (e.g. execution times measured by the live
/// runtime). Called when an instance is placed or moved, never per message.
using service_time_fn = std::function<double(const std::string& kind, const topo::compute_node& node, double bytes)>;

/// Modelled costs of a cold migration's steps (§3.4). The orchestrator's control messages take
/// the modelled one-way latency between the controller and the node, each way.
struct migration_model {
  std::int64_t push_kind_ns = 2'000'000;  ///< loading the kind at the destination (assumed: 2 ms)
  std::int64_t stop_ns = 100'000;         ///< stopping the instance once its booked work is done (assumed)
  std::int64_t start_ns = 1'000'000;      ///< starting it at the destination (assumed: 1 ms)
  /// Snapshot export and import rates, bytes/s (state_store measured ~6 ms to import 10 K keys
  /// of ~100 B: ~0.2 GB/s; export is ~10x faster).
  double export_bytes_per_s = 2e9;
  double import_bytes_per_s = 0.2e9;      ///< see export_bytes_per_s
  double pcie_gbps = 32;                  ///< PCIe bandwidth host<->SmartNIC for the state (assumed: Gen3 x8, effective)
  /// State bytes of a stateful instance per MB of its memory footprint (the manifest's memory_mb);
  /// stateless instances ship nothing. 1 MiB per MB: the whole footprint is state.
  double state_bytes_per_mb = 1 << 20;
};

/// Everything a simulation is configured with. Times are simulated ns.
struct config {
  std::uint64_t seed = 1;                    ///< the only source of randomness
  std::int64_t warmup_ns = 100'000'000;      ///< simulated time before measuring
  std::int64_t measure_ns = 1'000'000'000;   ///< simulated time measured
  /// After the measured time, stop sending and run until every request finished (completed or
  /// lost), so generated = completed + lost. Off: requests still in flight are counted as such.
  bool drain = true;
  service_distribution service = service_distribution::deterministic;  ///< execution-time draw
  service_time_fn service_time;              ///< override of the service profiles (empty: profiles)
  std::int64_t traffic_manager_ns = 200;     ///< SmartNIC traffic manager per packet (as the runtime: 0.2 µs)
  /// Book each packet on the traffic manager when it is SENT instead of when it arrives. Not a
  /// model of hardware: it reproduces what the live runtime does (it books the traffic manager at
  /// frame reception, in real time, while frames carry future emulated arrival times, so a packet
  /// can wait behind one that arrives later), to tell its effect apart when validating against
  /// the runtime. Off by default.
  bool tm_books_at_send = false;
  double wire_overhead_bytes = 64;           ///< added to each message's request bytes on a link
  bool heartbeats = true;                    ///< SmartNICs send 16-byte heartbeats to the orchestrator
  std::int64_t heartbeat_interval_ns = 50'000'000;  ///< §5.6: every 50 ms
  double heartbeat_frame_bytes = 64;         ///< on the wire: 16 B payload in a minimum Ethernet frame
  bool migrations = true;                    ///< carry out the orchestrator's decisions
  mig::orchestrator_config orchestrator;     ///< detectors, hysteresis, constraints
  /// Where the controller (orchestrator) runs; empty: the host of server 0.
  std::optional<topo::node_id> controller;
  /// Simulated time the orchestrator spends on one heartbeat (decode + detectors + decision).
  /// Benchmarks calibrate it from the measured cost of the real code (see results).
  std::int64_t orchestrator_ns_per_heartbeat = 250;
  migration_model migration;                 ///< cold-migration costs
  mig::migration_timeouts migration_timeouts;  ///< the state machine's step timeouts
  bool measure_orchestrator_cpu = false;     ///< time the real orchestrator calls (wall clock; results only)
  /// Keep every heartbeat the orchestrator digests (bytes and time) in results::heartbeat_log, so a
  /// benchmark can replay the stream into an orchestrator of the same cluster and time it.
  bool record_heartbeats = false;
  /// When the apps were placed, for the orchestrator's minimum dwell (hysteresis_config): 0 =
  /// at the start of the run; a negative time = long before it.
  std::int64_t placed_at_ns = 0;
};

/// One app's figures. Times are SIMULATED.
struct app_result {
  std::string app;                 ///< app name
  std::string algo;                ///< placement algorithm
  std::uint64_t generated = 0;     ///< requests sent over the whole run
  std::uint64_t completed = 0;     ///< requests completed over the whole run
  std::uint64_t lost = 0;          ///< requests lost (a held request of a failed migration, a full buffer)
  std::uint64_t in_flight = 0;     ///< requests neither completed nor lost at the end (0 with drain)
  std::uint64_t measured = 0;      ///< requests completed inside the measured window
  double throughput_rps = 0;       ///< measured / measured seconds
  double offered_rps = 0;          ///< requests sent inside the measured window / measured seconds
  double latency_mean_us = 0;      ///< end-to-end latency of measured requests
  double latency_p50_us = 0;       ///< median
  double latency_p99_us = 0;       ///< 99th percentile
  double latency_p999_us = 0;      ///< 99.9th percentile
  std::size_t smartnic_instances = 0, host_instances = 0;  ///< where it was placed
};

/// One compute node's figures over the measured window. Power is MODELLED.
struct node_result {
  topo::node_id node = 0;        ///< node id
  std::size_t instances = 0;     ///< instances on it at the end
  double utilisation = 0;        ///< busy core time / (cores × measured time)
  double power_w = 0;            ///< modelled wall power (topology's power model)
  std::uint64_t messages = 0;    ///< messages executed (whole run)
  double mean_wait_us = 0;       ///< mean wait for a core (whole run)
  double tm_utilisation = 0;     ///< busy share of its traffic manager over the measured window
  std::uint64_t tm_packets = 0;  ///< packets through its traffic manager (whole run)
  double tm_mean_wait_us = 0;    ///< mean wait at the traffic manager (whole run)
};

/// Heartbeats and orchestrator decisions (§5.6, Fig. 11). Times are SIMULATED unless named
/// measured.
struct heartbeat_result {
  std::uint64_t sent = 0;           ///< heartbeats SmartNICs sent
  std::uint64_t digested = 0;       ///< heartbeats the orchestrator digested
  std::uint64_t decisions = 0;      ///< migration decisions made
  double payload_bps = 0;           ///< heartbeat payload into the orchestrator (16 B each), bits per simulated second
  double wire_bps = 0;              ///< the same on the wire (heartbeat_frame_bytes each)
  histogram transmit_ns;            ///< SmartNIC to the orchestrator's queue (links, traffic manager, PCIe)
  histogram queue_ns;               ///< waiting at the orchestrator
  histogram decide_ns;              ///< sent to digested: transmit + queue + processing
  histogram decision_ns;            ///< decide_ns of the heartbeats that produced a decision
  double orchestrator_utilisation = 0;  ///< busy share of the orchestrator's core
  /// Measured wall-clock ns per orchestrator call (measure_orchestrator_cpu; includes two clock
  /// reads); 0 when not measured.
  double measured_ns_per_heartbeat = 0;
};

/// One migration: the decision and how the real cold-migration state machine ran it.
struct migration_record {
  mig::decision decision;        ///< what the orchestrator decided
  std::string kind;              ///< the instance's kind
  std::uint64_t state_bytes = 0; ///< modelled snapshot size
  mig::migration_result result;  ///< the state machine's result (blackout, step times)
  std::uint64_t buffered = 0;    ///< requests held during the blackout
};

/// One heartbeat as the orchestrator digested it.
struct logged_heartbeat {
  std::int64_t at_ns = 0;                                  ///< simulated time it was digested
  std::array<std::uint8_t, mig::heartbeat_size> bytes{};  ///< its 16 bytes
};

/// Everything a run produced.
struct results {
  std::vector<app_result> apps;          ///< per app, in add_app order
  std::vector<node_result> nodes;        ///< per node, in cluster order
  double measured_seconds = 0;           ///< length of the measured window (simulated)
  double throughput_rps = 0;             ///< all apps
  double power_w = 0;                    ///< modelled cluster wall power over the measured window
  double requests_per_joule = 0;         ///< throughput / power (modelled)
  heartbeat_result heartbeats;           ///< heartbeats and decisions
  std::vector<migration_record> migrations;  ///< every migration started
  std::vector<logged_heartbeat> heartbeat_log;  ///< config::record_heartbeats: every heartbeat digested, in order
  mig::orchestrator_counters orchestrator;   ///< the real orchestrator's counters
  std::uint64_t forwarded = 0;           ///< messages that reached a node their instance had left (forwarded)
  std::uint64_t buffered = 0;            ///< messages held during migrations
  std::array<std::uint64_t, 5> messages_by_path{};  ///< messages sent, by topo::path_kind
  std::uint64_t events = 0;              ///< events processed
  double simulated_seconds = 0;          ///< simulated time at the end (drain included)
  double wall_seconds = 0;               ///< wall-clock time of run() (measured, varies)
  double events_per_second = 0;          ///< events / wall seconds (measured, varies)
};

/// A discrete-event simulation of apps on a cluster. Build it, add apps (each placed by the real
/// scheduler on the simulator's cluster view, or with a placement you made), optionally inject
/// slowdowns, then run() once.
///
/// Deterministic: a run is a function of the cluster, the config (seed included), the apps and
/// the injected faults; only wall_seconds, events_per_second and measured_ns_per_heartbeat vary.
/// Not thread-safe; one simulator per thread.
class simulator {
 public:
  /// A simulator of `cluster` (which must outlive it). Throws std::invalid_argument on a bad config.
  simulator(const topo::cluster& cluster, config cfg);
  ~simulator();
  simulator(const simulator&) = delete;
  simulator& operator=(const simulator&) = delete;

  /// Expands `app`, places it with `algo` on the simulator's cluster view (consuming its
  /// resources, so apps are placed in turn) and adds it with its load. Returns its index. Throws
  /// sched::placement_error when it cannot be placed, std::invalid_argument on a bad load.
  std::size_t add_app(const sched::app_spec& app, const load_spec& load, placer algo = placer::hcm);
  /// Adds `app` with a placement made elsewhere (its resources are consumed from the view).
  std::size_t add_app(const sched::app_spec& app, const sched::placement& p, const load_spec& load);

  /// Fault: from simulated time `at_ns`, every message on `node` takes `factor` times longer
  /// (the runtime's slow_node fault): a SmartNIC that can no longer keep up.
  void slow_node(topo::node_id node, double factor, std::int64_t at_ns);

  /// Runs the simulation (once). Throws std::logic_error when called twice.
  results run();

  /// The cluster view after the placements so far.
  const sched::cluster_view& view() const;
  /// The placement of app `i`.
  const sched::placement& placement(std::size_t i) const;
  /// The instance DAG of app `i`.
  const sched::app_dag& dag(std::size_t i) const;
  /// The orchestrator id of instance `dag_node` of app `i` (the app's base plus the DAG node id).
  std::uint32_t instance_id(std::size_t app, std::uint32_t dag_node) const;
  /// The node instance `id` runs on now (after run(): at the end).
  topo::node_id node_of(std::uint32_t id) const;
  /// The controller's node.
  topo::node_id controller() const;
  /// A fresh orchestrator as run() starts it: the view after every placement, the apps added in
  /// order (at config::placed_at_ns), the config's orchestrator settings. For replaying a
  /// recorded heartbeat stream into an identical orchestrator.
  std::unique_ptr<mig::orchestrator> make_orchestrator() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace e3::sim
