// The runtime of one compute node: its links, emulated cores, traffic manager, routing table,
// instance registry and counters, and the actors that run on it (internal to actors/).
#pragma once

#include <caf/actor.hpp>  // internal header: only the CAF translation units include it
#include <caf/actor_addr.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <functional>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "actors/emulation.hpp"
#include "actors/histogram.hpp"
#include "actors/node_links.hpp"
#include "actors/router.hpp"
#include "actors/runtime.hpp"
#include "actors/wire.hpp"
#include "state_store/rocksdb_store.hpp"
#include "state_store/state_store.hpp"

namespace e3::rt {

/// What a node needs to run its part of an app: a copy of the plan (nodes share nothing).
struct node_plan {
  sched::app_spec app;                   ///< the app
  sched::app_dag dag;                    ///< its instances
  std::vector<topo::node_id> node_of;    ///< where each instance runs
};

/// A message due at a local instance.
struct inbound {
  wire::header h;                  ///< its header
  std::vector<std::uint8_t> payload;  ///< its payload
  std::int64_t arrival_ns = 0;     ///< emulated arrival at the instance's node
  link_kind via = link_kind::local;   ///< the link it came over
  /// Real (steady clock) ns when the sending instance's handler finished, for a local hop;
  /// 0 otherwise. Measures the real cost of an actor-plus-router hop inside a node.
  std::int64_t wall_sent_ns = 0;
};

/// Per-instance counters, written by the instance actor, read by the agent.
struct instance_counters {
  std::string kind;                          ///< service kind
  std::atomic<std::uint64_t> requests{0};    ///< messages handled
  std::atomic<std::uint64_t> rejected{0};    ///< rejections
  std::atomic<std::int64_t> exec_ns{0};      ///< emulated execution time, total
  std::atomic<std::uint64_t> restarts{0};    ///< actor starts after the first
  bool started = false;                      ///< the actor started at least once
  // The agent's view at its last report.
  std::uint64_t last_requests = 0;
  std::int64_t last_exec_ns = 0;
  double ema_us = 0;
};

/// One compute node's runtime.
class node_host {
 public:
  /// Sets up the node's links; `dir` may still hold "*" ports (see set_directory).
  node_host(const topo::cluster& c, topo::node_id self, const runtime_options& opts, const service_registry& reg,
            const dilation_clock& clock, directory dir);
  ~node_host();

  /// The cluster (this node's own copy).
  const topo::cluster& cluster() const { return cluster_; }
  /// This node.
  topo::node_id id() const { return self_; }
  /// The node's description.
  const topo::compute_node& info() const { return cluster_.node(self_); }
  /// The links.
  node_links& links() { return *links_; }
  /// The clock.
  const dilation_clock& clock() const { return clock_; }
  /// Options.
  const runtime_options& options() const { return opts_; }
  /// The service kinds this node can run.
  const service_registry& registry() const { return registry_; }

  /// Installs the plan (from the controller) and its routing table.
  void install(node_plan plan);
  /// The plan, once installed.
  const node_plan* plan() const { return plan_ ? &*plan_ : nullptr; }
  /// Runs `f` with the routing table under a shared lock (none before install()).
  template <class F>
  auto with_router(F&& f) const {
    std::shared_lock g(router_lock_);
    return f(router_.get());
  }
  /// Failover: backup `replica` now serves its shard.
  void promote(std::uint32_t replica);

  /// Registers (or, with an invalid handle, unregisters) the actor of a local instance.
  void set_instance_actor(std::uint32_t instance, const caf::actor& a);
  /// Unregisters the actor of a local instance if it is still `addr` (a dying actor must not
  /// unregister its restarted successor).
  void forget_instance_actor(std::uint32_t instance, const caf::actor_addr& addr);
  /// Records that `instance` is starting; true when it had started before (a restart).
  bool instance_started(std::uint32_t instance);
  /// The collections of a local instance (created on first use). With a durable store
  /// (open_store), a shard's primary (and a promoted backup) uses the store's collections named
  /// after the shard, committing to the shard's backup first; a backup that has not taken over
  /// gets scratch memory (its service must not keep anything: its state arrives by replication).
  state::collections& collections(std::uint32_t instance);
  /// The committed state of a local instance as a portable snapshot (snapshot.hpp's E3SNAP01,
  /// the same bytes for the same contents in either store): what a migration ships and checks.
  std::string snapshot_of(std::uint32_t instance);
  /// Forgets every instance's open collections (a node crash): in memory, the state is gone;
  /// in a durable store, what was committed is there again at the next open.
  void lose_state();
  /// Keeps this node's reliable collections in a durable RocksDB store in `dir` (created when
  /// missing); `peer` finds another node, where a shard's backup replica lives. Call before
  /// any instance starts. Throws state::state_error naming `dir` when it cannot be opened.
  void open_store(const std::string& dir, std::function<node_host*(topo::node_id)> peer);
  /// The durable store, or nullptr (in-memory collections).
  state::rocksdb_store* store() const { return store_.get(); }
  /// Commits made while the shard's backup node was down: durable here only, until the backup
  /// returns and takes the full state.
  std::uint64_t unreplicated_commits() const { return unreplicated_.load(); }
  /// Counters of a local instance.
  instance_counters& counters(std::uint32_t instance);

  /// Handles a frame that arrived over a link (called on I/O threads).
  void on_frame(std::span<const std::uint8_t> bytes, link_kind via);
  /// Delivers a message to a local instance at its emulated arrival time (one due later waits
  /// in the agent's timer and comes back here, so it always finds the instance's current actor,
  /// or its migration buffer); if the instance is not running, reports the credit lost.
  void dispatch(inbound m, bool from_timer = false);
  /// The agent's timer fired for (instance, key): dispatch the oldest message waiting there.
  void deliver_due(std::uint32_t instance, std::uint64_t key);
  /// Sends a message from local instance `from` (finished at emulated `done_ns`) to instance
  /// `to` over the right link; reports it lost to the client when a link refuses it.
  void send_to_instance(const wire::header& h, bytes_view payload, const route& to, std::int64_t wall_sent_ns = 0);
  /// Sends a completion to the request's client.
  void send_completion(const wire::header& request, std::uint64_t credit, std::uint8_t flags, bytes_view payload,
                       std::int64_t done_ns);

  /// The emulated cores.
  core_model& cores() { return cores_; }
  /// Fault injection: run `factor` times slower.
  void set_slowdown(double factor) { slowdown_.store(factor); }
  /// The current slowdown factor.
  double slowdown() const { return slowdown_.load(); }
  /// Marks the node up or down (a powered-off server's nodes are down).
  void set_up(bool up) { up_.store(up); }
  /// Whether the node is up.
  bool up() const { return up_.load(); }

  /// Lateness of handled messages.
  lateness_meter& lateness() { return lateness_; }
  /// Records the real time of one local hop (handler end to the next handler's start).
  void record_local_hop(std::int64_t ns) {
    std::lock_guard g(hop_lock_);
    local_hop_.record(ns);
  }
  /// The real times of local hops so far (a copy).
  histogram local_hops() const {
    std::lock_guard g(hop_lock_);
    return local_hop_;
  }
  /// Totals since start.
  node_totals totals() const;
  /// Per-instance statistics now.
  std::vector<instance_stats> instance_snapshot() const;
  /// Builds a health report for the interval since the last one (called by the agent).
  health_report make_health_report();

  // --- cold migration (§3.4) ---
  /// Source: from now on keep every message for `instance` (the instance is being stopped).
  void hold(std::uint32_t instance);
  /// Destination: keep messages for `instance` until its actor registers (it is starting).
  void park(std::uint32_t instance);
  /// Forwards the messages held for `instance` to `dest`, in arrival order, and stops holding.
  std::size_t release_held(std::uint32_t instance, topo::node_id dest);
  /// Reports every message held for `instance` lost to its client, and stops holding.
  std::size_t fail_held(std::uint32_t instance);
  /// The routing table: `instance` now runs on `node`.
  void move(std::uint32_t instance, topo::node_id node);
  /// Forgets the state of `instance` held on this node.
  void drop_state(std::uint32_t instance);
  /// The actor of a local instance (invalid when none).
  caf::actor actor_of(std::uint32_t instance) const;
  /// Messages forwarded because they reached this node after their instance moved.
  std::uint64_t forwarded() const { return forwarded_.load(); }

  /// Counts a rejected request.
  void count_rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }
  /// Counts a handled message.
  void count_handled() { handled_.fetch_add(1, std::memory_order_relaxed); }
  /// Counts a node restart.
  void count_restart() { restarts_.fetch_add(1, std::memory_order_relaxed); }
  /// Counts a commit made while its backup's node was down.
  void count_unreplicated() { unreplicated_.fetch_add(1, std::memory_order_relaxed); }
  /// Another node of this process (nullptr without a store, or for an unknown id).
  node_host* peer(topo::node_id n) const;

  /// The node supervisor's current handle.
  caf::actor supervisor() const {
    std::lock_guard g(handles_lock_);
    return supervisor_;
  }
  /// Sets the node supervisor's handle (when it starts or restarts).
  void set_supervisor(caf::actor a) {
    std::lock_guard g(handles_lock_);
    supervisor_ = std::move(a);
  }
  /// The node's agent (it delivers messages that must wait for their emulated arrival).
  caf::actor agent() const {
    std::lock_guard g(handles_lock_);
    return agent_;
  }
  /// Sets the agent's handle (when it starts or restarts).
  void set_agent(caf::actor a) {
    std::lock_guard g(handles_lock_);
    agent_ = std::move(a);
  }
  /// The resource controller's handle.
  caf::actor controller() const {
    std::lock_guard g(handles_lock_);
    return controller_;
  }
  /// Sets the resource controller's handle.
  void set_controller(caf::actor a) {
    std::lock_guard g(handles_lock_);
    controller_ = std::move(a);
  }
  /// How many local instances have a running actor.
  std::size_t running_instances() const {
    std::lock_guard g(actors_lock_);
    return actors_.size();
  }

 private:
  topo::node_id ingress_for(topo::node_id dest, std::uint64_t flow) const;
  std::int64_t network_latency_ns(std::uint32_t src_node, std::size_t bytes) const;
  void lost(const wire::header& h, std::uint64_t credit);

  topo::cluster cluster_;
  topo::node_id self_;
  runtime_options opts_;
  const service_registry& registry_;
  dilation_clock clock_;
  core_model cores_;
  core_model tm_;
  std::atomic<std::uint64_t> tm_packets_{0};
  std::atomic<double> slowdown_{1.0};
  std::atomic<bool> up_{true};
  std::unique_ptr<node_links> links_;

  std::optional<node_plan> plan_;
  mutable std::shared_mutex router_lock_;
  std::unique_ptr<router> router_;

  mutable std::mutex actors_lock_;
  std::unordered_map<std::uint32_t, caf::actor> actors_;
  std::map<std::uint32_t, std::unique_ptr<state::collections>> state_;
  std::unique_ptr<state::rocksdb_store> store_;               // durable collections, when configured
  std::function<node_host*(topo::node_id)> peer_;             // other nodes (backups)
  std::map<std::uint32_t, std::unique_ptr<state::replication_target>> backups_;  // per local primary
  std::set<std::uint32_t> promoted_;                          // local backups that took over
  std::atomic<std::uint64_t> unreplicated_{0};
  std::map<std::uint32_t, std::vector<inbound>> held_;    // source of a migration
  struct timer_queue {
    dilation_clock::wall::time_point until{};  // latest due time scheduled
    std::uint32_t pending = 0;                 // messages in the timer or the agent's mailbox
    std::deque<inbound> waiting;               // those messages, oldest first
  };
  struct timer_key {
    std::uint32_t instance;
    std::uint64_t key;
    bool operator==(const timer_key&) const = default;
  };
  struct timer_key_hash {
    std::size_t operator()(const timer_key& k) const { return std::hash<std::uint64_t>{}(k.key * 0x9e3779b97f4a7c15ull ^ k.instance); }
  };
  std::unordered_map<timer_key, timer_queue, timer_key_hash> timers_;  // per instance and shard key
  std::map<std::uint32_t, std::vector<inbound>> parked_;  // destination, until the actor runs
  std::atomic<std::uint64_t> forwarded_{0};
  std::atomic<double> tm_contention_{1.0};  // traffic-manager cost multiplier (emulated HOL blocking)
  std::map<std::uint32_t, std::unique_ptr<instance_counters>> counters_;

  wire::decode_stats decode_stats_;
  std::atomic<std::uint64_t> local_sent_{0};
  std::atomic<std::uint64_t> undeliverable_{0}, rejected_{0}, handled_{0}, restarts_{0}, misrouted_{0};
  lateness_meter lateness_;
  mutable std::mutex hop_lock_;
  histogram local_hop_;
  std::int64_t last_report_ns_ = 0;
  std::int64_t last_busy_ns_ = 0;
  std::uint64_t last_bytes_in_ = 0, last_bytes_out_ = 0;
  mutable std::mutex handles_lock_;
  caf::actor supervisor_;
  caf::actor agent_;
  caf::actor controller_;
};

/// Spawns the actor of local instance `instance` of `node` (registered in the node) and
/// returns it: it runs the service, one message at a time.
caf::actor spawn_instance(caf::actor_system& sys, node_host& node, std::uint32_t instance);

/// Adds every instance the node's plan puts on it to the node supervisor (at deployment, and
/// when a crashed node restarts).
void start_local_instances(node_host& node);

/// Spawns the node's orchestrator agent: it installs plans, spawns the node's instances under
/// the node supervisor, and sends a health report to the controller every health interval.
caf::actor spawn_agent(caf::actor_system& sys, node_host& node);

}  // namespace e3::rt
