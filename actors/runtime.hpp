// actors/: the CAF layer — an emulated E3 cluster of actors, and the clients that load it.
//
// It owns the wire envelope (wire.hpp), the service API (service.hpp), location-transparent
// routing (router.hpp), the links of a node (node_links.hpp), emulated hardware with time
// dilation (emulation.hpp), and the node runtime: per compute node an execution engine (its
// emulated cores, run to completion, round robin), an orchestrator agent (a health report every
// 50 ms of emulated time) and, on a SmartNIC, a traffic manager that steers each packet by
// destination to a local core or over PCIe to the host (§3.2). Every microservice instance, node
// agent and controller role is a CAF actor under a supervisor tree that mirrors the topology
// (cluster → rack → server → node → instances). The resource controller places apps with HCM.
//
// Guarantees: nodes share nothing but messages (each has its own routing table, links and
// collections); every message that cannot be delivered is counted, and its request is
// reported lost to the client, never dropped silently. Times in reports are EMULATED unless
// they say otherwise; power and energy are MODELLED. This header includes no CAF.
// Thread-safety: a cluster_runtime is driven from one thread; clients may be used from their
// own threads.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/credit.hpp"
#include "actors/emulation.hpp"
#include "actors/router.hpp"
#include "actors/service.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::rt {

/// How to run an emulated cluster.
struct runtime_options {
  std::string cluster = "3xType1-SmartNIC";  ///< a topology preset
  double dilation = 10;                      ///< emulated time runs this many times slower than real time
  unsigned caf_threads = 2;                  ///< CAF scheduler threads (this machine's cores)
  std::string run_id;                        ///< names shared-memory segments; unique per run (default: pid-based)
  int restart_intensity = 5;                 ///< supervisors give up after this many restarts …
  std::chrono::milliseconds restart_period{10000};  ///< … within this (wall) period
  /// Emulated per-packet cost of a SmartNIC's traffic manager, ns. The LiquidIO's two 10 GbE
  /// ports carry ~4.7 M packets/s of 512 B: ~0.2 µs per packet.
  std::int64_t traffic_manager_ns = 200;
  /// Emulated interval of the orchestrator agents' health reports, ns (§3.4: 50 ms).
  std::int64_t health_interval_ns = 50'000'000;
  /// A message due at most this much emulated time in the future is delivered at once instead
  /// of through a timer: it saves a timer per message, and the emulated cores still start it
  /// no earlier than its emulated arrival (only the order among messages this close may differ).
  std::int64_t early_delivery_ns = 5'000;
  /// Emulated head-of-line blocking on SmartNICs (§2.4): the traffic manager's per-packet cost
  /// grows by this factor times the card's core utilisation (a card whose cores are all busy
  /// forwards packets 1 + tm_contention times slower). 0 turns the effect off.
  double tm_contention = 20.0;
  /// Run the data-plane orchestrator (§3.4): detect host starvation and service overload from
  /// the health reports and cold-migrate the victim to a host.
  bool orchestrator = false;
  /// Place with HCM packing SmartNICs by memory only (§5.2's set-up).
  bool pack_smartnics = false;
  /// A message handled more than this much emulated time after it was due counts as late:
  /// this machine, not the emulated hardware, held it up.
  std::int64_t lateness_threshold_ns = 20'000;
  /// Where the nodes keep their reliable collections: empty for memory (fast, lost with the
  /// process); otherwise one durable RocksDB store per node under this directory, each commit
  /// applied on the instance's backup before the requests it covers are answered.
  std::string state_dir;
};

/// A fault a tester injects through the supervisors (issue: kill an instance, crash a node,
/// power off a server, cut a link, slow a node, drop a share of messages).
struct fault {
  /// Which fault.
  enum class kind {
    kill_instance,  ///< `a` = instance id: its node supervisor restarts it
    crash_node,     ///< `a` = node id: its server supervisor restarts the node (and its instances)
    power_off,      ///< `a` = server id: the server stops, its backups elsewhere take over
    power_on,       ///< `a` = server id: the server starts again
    cut_link,       ///< between nodes `a` and `b`: messages over it are refused and counted
    restore_link,   ///< between nodes `a` and `b`
    slow_node,      ///< node `a` runs `x` times slower
    drop_share,     ///< node `a` drops share `x` of the messages it sends (counted)
  };
  kind what = kind::kill_instance;  ///< the fault
  std::uint32_t a = 0;              ///< first argument
  std::uint32_t b = 0;              ///< second argument
  double x = 0;                     ///< factor or share
};

/// What one instance did, from its node's point of view.
struct instance_stats {
  std::uint32_t instance = 0;       ///< DAG node id
  std::string kind;                 ///< service kind
  topo::node_id node = 0;           ///< where it runs
  std::uint64_t requests = 0;       ///< messages handled
  std::uint64_t rejected = 0;       ///< messages the service rejected
  double mean_exec_us = 0;          ///< mean emulated execution time per message
  double ema_exec_us = 0;           ///< its exponential moving average (α = 0.2 per report)
  double last_exec_us = 0;          ///< mean over the last report interval
  std::uint64_t interval_requests = 0;  ///< messages handled in the last report interval
  double ema_prev_us = 0;           ///< the EMA before the last interval was folded in
  double cpu_share = 0;             ///< emulated core time / (cores × elapsed) over the last interval
  std::uint64_t restarts = 0;       ///< times its actor was (re)started
};

/// One orchestrator agent's health report (§3.4).
struct health_report {
  topo::node_id node = 0;            ///< reporting node
  std::int64_t at_ns = 0;            ///< emulated time
  std::vector<instance_stats> instances;  ///< its instances
  double utilisation = 0;            ///< emulated busy core time / (cores × interval)
  std::uint64_t tm_queue = 0;        ///< traffic manager queue depth (packets), SmartNICs only
  double link_in_gbps = 0;           ///< bytes received over the interval (network and PCIe)
  double link_out_gbps = 0;          ///< bytes sent over the interval
};

/// Everything a node counted since it started.
struct node_totals {
  topo::node_id node = 0;                  ///< node id
  std::int64_t busy_ns = 0;                ///< emulated core time used
  std::uint64_t handled = 0;               ///< messages handled by its instances
  std::array<std::uint64_t, link_kind_count> sent{};      ///< messages sent per link kind
  std::array<std::uint64_t, link_kind_count> received{};  ///< messages received per link kind
  std::uint64_t link_failed = 0;           ///< refused by a link (counted, not silent)
  std::uint64_t link_dropped = 0;          ///< dropped by fault injection
  std::uint64_t link_cut = 0;              ///< refused by a cut link
  std::uint64_t decode_errors = 0;         ///< malformed frames received
  std::uint64_t undeliverable = 0;         ///< messages for an instance that was not running (reported lost)
  std::uint64_t rejected = 0;              ///< requests services rejected
  std::uint64_t lateness_count = 0;        ///< messages whose lateness was measured
  std::uint64_t late = 0;                  ///< handled more than the lateness threshold after due
  std::int64_t max_late_ns = 0;            ///< worst lateness (emulated ns)
  std::uint64_t tm_packets = 0;            ///< packets through its traffic manager
  std::int64_t tm_max_backlog_ns = 0;      ///< worst traffic-manager backlog
  std::uint64_t restarts = 0;              ///< times the node itself was restarted
  std::uint64_t local_hops = 0;            ///< local hops timed (real time)
  std::int64_t local_hop_p50_ns = 0;       ///< REAL ns from a handler's end to the next local handler's start, median
  std::int64_t local_hop_p99_ns = 0;       ///< … 99th percentile
};

/// How one cold migration went (the `migrations` list of `e3 run --json`).
struct migration_report {
  std::uint32_t instance = 0;   ///< the instance
  std::string service;          ///< its service name in the app
  std::string kind;             ///< its kind
  std::string from, to;         ///< node names
  std::string trigger;          ///< "host starvation", "service overload" or "operator"
  std::string outcome;          ///< "completed", "rolled back" or "failed"
  std::string reason;           ///< why it did not complete
  double blackout_ms = 0;       ///< stop to restart, REAL milliseconds on this machine
  std::uint64_t keys = 0;       ///< keys plus array slots shipped
  std::uint64_t bytes = 0;      ///< snapshot bytes shipped
  std::int64_t decided_at_ns = 0;  ///< emulated time of the decision
  /// REAL milliseconds spent in each protocol step (migration/'s migration_step order: push
  /// kind, stop, ship state, await confirmation = import, restart); the blackout spans the last four.
  std::array<double, 5> step_ms{};
};

/// A completed (or lost) client request.
struct completion {
  std::uint64_t id = 0;          ///< request id
  std::int64_t latency_ns = 0;   ///< emulated end-to-end latency
  bool error = false;            ///< rejected by a service
  bool lost = false;             ///< some branch could not be delivered
  bytes reply;                   ///< the first reply payload received for it (empty when none)
  std::uint32_t answered_by = 0; ///< the compute node that sent the last completion
};

/// A client (load generator endpoint): sends requests into the cluster through the ToR's ECMP
/// hash and collects their completions. Thread-safe.
class client {
 public:
  virtual ~client() = default;
  /// Sends a request for the app's entry `entry` with shard `key`, at emulated time `at_ns`
  /// (the clock's now when 0). Returns its id, or 0 when the network refused it (counted).
  virtual std::uint64_t send(std::size_t entry, std::uint64_t key, bytes_view payload, std::int64_t at_ns = 0) = 0;
  /// Moves finished requests into `out` (appends); returns how many.
  virtual std::size_t drain(std::vector<completion>& out) = 0;
  /// Requests sent and not finished.
  virtual std::size_t outstanding() const = 0;
  /// Gives up on requests sent more than `timeout_ns` of emulated time ago: they count as lost.
  virtual std::size_t expire(std::int64_t timeout_ns) = 0;
  /// Requests given up on.
  virtual std::uint64_t lost() const = 0;
  /// Requests the network refused at send time.
  virtual std::uint64_t refused() const = 0;
};

/// A deployed app.
struct deployment {
  sched::app_spec app;          ///< what was deployed
  sched::app_dag dag;           ///< its instances
  sched::placement placement;   ///< where they run
};

/// An emulated cluster of actors.
class cluster_runtime {
 public:
  /// Starts the actor system, the supervisor tree, every node's links and the resource
  /// controller. `registry` lists the service kinds the nodes can run (must outlive this).
  cluster_runtime(const runtime_options& opts, const service_registry& registry);
  ~cluster_runtime();
  cluster_runtime(const cluster_runtime&) = delete;
  cluster_runtime& operator=(const cluster_runtime&) = delete;

  /// The resource controller places `app` with HCM and every node starts its instances.
  /// Throws unknown_kind when a kind is not implemented (naming it), placement_error when the
  /// app cannot be placed. One app per runtime.
  const deployment& deploy(const sched::app_spec& app);
  /// Connects a new client.
  std::unique_ptr<client> connect_client();
  /// Injects a fault.
  void inject(const fault& f);
  /// Cold-migrates `instance` to node `to` now (an operator's request; the orchestrator decides
  /// its own), waits until it finished (up to `timeout`), and returns how it went.
  migration_report migrate(std::uint32_t instance, topo::node_id to,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Every migration finished so far.
  std::vector<migration_report> migrations() const;
  /// The collections of `instance` on node `n` as a snapshot (for tests: state after a move).
  std::string export_state(topo::node_id n, std::uint32_t instance);
  /// Hands `bytes` to node `n` as if they had arrived from the network (a tester's corrupt or
  /// hand-made frame). Malformed frames are counted in the node's decode errors.
  void inject_frame(topo::node_id n, bytes_view frame);
  /// The most recent health report of every node (what the resource controller received).
  std::vector<health_report> health() const;
  /// Every node's totals.
  std::vector<node_totals> totals() const;
  /// Per instance statistics, now.
  std::vector<instance_stats> instances() const;
  /// The emulated clock.
  const dilation_clock& clock() const;
  /// The cluster.
  const topo::cluster& cluster() const;
  /// Restart events seen by the supervisors so far, as text lines (for tests and reports).
  std::vector<std::string> supervisor_events() const;
  /// Stops everything (also done by the destructor).
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace e3::rt
