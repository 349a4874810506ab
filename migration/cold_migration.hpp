// The cold-migration protocol of §3.4 as a pure state machine: events in, actions out, time
// passed in. The runtime executes the actions and reports back events; requests that arrive
// meanwhile wait in a request_buffer (request_buffer.hpp) that the actions drive.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "topology/cluster.hpp"

namespace e3::mig {

/// Where a migration is. Steps 1–5 are the protocol of §3.4; the rest are how it ends.
enum class migration_step : std::uint8_t {
  push_kind,           ///< (1) the destination loads the kind and checks it can run it
  stop_source,         ///< (2) the source stops the instance, frees its execution resources, and
                       ///< hands its unprocessed requests to the buffer
  ship_state,          ///< (3) the source exports the state snapshot and sends it to the destination
  await_confirmation,  ///< (4) the destination imports the snapshot and confirms what it imported
  restart,             ///< (5) the destination starts the instance; then requests and routes follow
  done,                ///< finished: the instance runs at the destination
  rolling_back,        ///< a step failed after the stop: restarting the instance at the source
  rolled_back,         ///< finished: the instance runs at the source again
  failed,              ///< finished: it could not be restarted anywhere; held requests were reported lost
};

/// Number of protocol steps (push_kind … restart).
inline constexpr std::size_t protocol_steps = 5;

/// "push kind", "stop source", "ship state", "await confirmation", "restart", "done",
/// "rolling back", "rolled back", "failed".
std::string_view to_string(migration_step s);

/// How a migration ended.
enum class migration_outcome : std::uint8_t {
  in_progress,  ///< not finished
  completed,    ///< the instance runs at the destination
  rolled_back,  ///< a step failed; the instance runs at the source with its state
  failed,       ///< the rollback failed too; the instance is down (its state is kept at the source)
};

/// "in progress", "completed", "rolled back", "failed".
std::string_view to_string(migration_outcome o);

/// What the runtime reports to the state machine. `node` says who reports: events from the
/// wrong node, in the wrong step or after the end are ignored and counted.
enum class event_kind : std::uint8_t {
  kind_ready,       ///< destination: the kind is loaded and the node can run it (capacity, kind available)
  kind_refused,     ///< destination: it cannot run the kind (reason)
  stopped,          ///< source: stopped, execution resources freed, unprocessed requests handed back
  stop_failed,      ///< source: could not stop it (reason)
  state_shipped,    ///< source: snapshot exported and sent (bytes, digest, entries)
  ship_failed,      ///< source: export or send failed (reason)
  state_confirmed,  ///< destination: snapshot imported (bytes and digest of what it imported)
  state_rejected,   ///< destination: import failed, e.g. a corrupt snapshot (reason)
  started,          ///< the node runs the instance (destination; the source during a rollback)
  start_failed,     ///< the node could not start it (reason)
};

/// "kind ready", "kind refused", … (the enumerator with spaces).
std::string_view to_string(event_kind k);

/// One event from the runtime.
struct migration_event {
  event_kind kind = event_kind::kind_ready;  ///< what happened
  topo::node_id node = 0;                    ///< the node that reports it
  std::uint64_t bytes = 0;    ///< state_shipped / state_confirmed: snapshot size
  std::uint64_t digest = 0;   ///< state_shipped / state_confirmed: state_digest() of the snapshot
  std::uint64_t entries = 0;  ///< state_shipped: keys plus array slots in the snapshot
  std::string reason;         ///< failures: what went wrong, for the result
};

/// What the state machine asks the runtime to do. Actions come in the order they must run.
enum class action_kind : std::uint8_t {
  push_kind,               ///< `node` (destination): load the kind, check it can run it, answer kind_ready/kind_refused
  hold_requests,           ///< `node` (source): request_buffer::hold(): keep every request for the instance from now on
  stop_instance,           ///< `node` (source): stop the instance, free its cores, push_returned() its mailbox; keep its state; answer stopped
  ship_state,              ///< `node` (source): export the snapshot, send it to `peer`, answer state_shipped; `peer` imports and answers state_confirmed
  start_instance,          ///< `node`: start the instance (idempotent: a running instance stays running); answer started
  release_requests,        ///< request_buffer::release(`node`, …): deliver the held requests to `node` in order, forward later ones there
  update_routes,           ///< every router: the instance now lives at `node` (router::move)
  drop_source_state,       ///< `node` (old source): delete the instance's state; the destination's copy is confirmed
  discard_at_destination,  ///< `node` (destination): drop the pushed kind and any imported state
  fail_requests,           ///< request_buffer::fail(…): report every held request lost to its client
};

/// "push kind", "hold requests", … (the enumerator with spaces).
std::string_view to_string(action_kind k);

/// One action for the runtime.
struct migration_action {
  action_kind kind = action_kind::push_kind;  ///< what to do
  topo::node_id node = 0;                     ///< where (see action_kind)
  topo::node_id peer = 0;                     ///< ship_state: the destination
  /// Field-by-field equality (tests compare action lists).
  friend bool operator==(const migration_action&, const migration_action&) = default;
};

/// What to migrate and where.
struct migration_plan {
  std::uint32_t instance = 0;  ///< the instance (orchestrator id)
  std::string kind;            ///< its service kind (what push_kind loads)
  topo::node_id from = 0;      ///< where it runs now
  topo::node_id to = 0;        ///< where it goes
};

/// How long each step may take before it counts as failed, ns of the caller's clock. A step
/// times out AT start + timeout: an event arriving at that instant is too late.
///
/// Defaults: the paper measures migrations at tens to hundreds of ms (§5.6) and issue 5 targets
/// a blackout of at most 1 s for 1 M keys. Stopping, starting and loading a kind are local
/// operations of milliseconds: 1 s is a generous bound that still detects a dead node quickly.
/// Shipping and importing scale with the state: 10 s is ten times the 1 M-key target.
struct migration_timeouts {
  std::int64_t push_kind_ns = 1'000'000'000;  ///< step 1
  std::int64_t stop_ns = 1'000'000'000;       ///< step 2
  std::int64_t ship_ns = 10'000'000'000;      ///< step 3
  std::int64_t confirm_ns = 10'000'000'000;   ///< step 4
  std::int64_t start_ns = 1'000'000'000;      ///< step 5, and the restart at the source in a rollback
};

/// How a migration went, for reports (`e3 run --json` "migrations").
struct migration_result {
  migration_outcome outcome = migration_outcome::in_progress;  ///< how it ended
  migration_step failed_step = migration_step::done;  ///< the step that failed (outcome rolled_back or failed)
  std::string reason;              ///< why it failed, empty when it completed
  std::int64_t started_ns = 0;     ///< when start() was called
  std::int64_t finished_ns = -1;   ///< when it reached done, rolled_back or failed; -1 before
  std::int64_t stopped_ns = -1;    ///< when requests began to be held (the stop); -1 when never stopped
  std::int64_t restarted_ns = -1;  ///< when the instance ran again (destination or source); -1 when it did not
  /// Blackout: from the stop to the restart, ns (the instance served nothing in between). 0 when
  /// it was never stopped; for a failed migration, from the stop to the end (it is still down).
  std::int64_t blackout_ns = 0;
  std::array<std::int64_t, protocol_steps> step_ns{};  ///< time spent in each protocol step
  std::uint64_t state_bytes = 0;    ///< snapshot size the source shipped
  std::uint64_t state_entries = 0;  ///< keys plus array slots the source shipped
  std::uint64_t state_digest = 0;   ///< digest of the shipped snapshot
  topo::node_id serving_node = 0;   ///< where the instance runs at the end (meaningless when failed)
};

/// A 64-bit digest of a state snapshot, so a corrupted transfer is caught even when the
/// snapshot still decodes: the source digests what it ships, the destination what it imported
/// (e.g. its own export after the import), and the state machine compares. Not cryptographic.
/// Reads 8 bytes at a time (several GB/s).
std::uint64_t state_digest(std::string_view bytes);

/// One cold migration (§3.4). Pure and deterministic: the same plan, events and times give the
/// same actions and result. Drive it with start(), then on_event() for each runtime event and
/// on_tick() whenever time passes (so a silent node times out). Every call returns the actions
/// to run, in order.
///
/// The protocol, and its rollback:
///   start:                    push_kind(to)
///   kind_ready(to):           hold_requests(from), stop_instance(from)
///   stopped(from):            ship_state(from → to)
///   state_shipped(from) and state_confirmed(to) (either order), digests and sizes equal:
///                             start_instance(to)
///   started(to):              release_requests(to), update_routes(to), drop_source_state(from) — done
///   a failure before the stop (kind refused, timeout): discard_at_destination(to) — rolled back
///   a failure after the stop (stop/ship/import failed, digest mismatch, start failed, timeout):
///                             discard_at_destination(to), start_instance(from)
///     then started(from):     release_requests(from) — rolled back
///     or start_failed(from) / timeout: fail_requests — failed
/// The source keeps the instance's state until the destination confirmed its copy and the
/// instance started there, so a rollback always restarts with the state intact. Routes change
/// only after the held requests were released, so every request reaches the instance through
/// the buffer's single FIFO.
class cold_migration {
 public:
  /// A migration of `plan` with the given step timeouts. Nothing happens until start().
  explicit cold_migration(migration_plan plan, migration_timeouts timeouts = {});

  /// Begins at `now_ns`: step 1. Calling it twice does nothing the second time.
  std::vector<migration_action> start(std::int64_t now_ns);
  /// Applies one runtime event at `now_ns` (first checking whether the step timed out).
  std::vector<migration_action> on_event(const migration_event& e, std::int64_t now_ns);
  /// Lets time pass: a step whose deadline is <= now_ns fails with a timeout.
  std::vector<migration_action> on_tick(std::int64_t now_ns);

  /// The current step.
  migration_step step() const { return step_; }
  /// True once done, rolled back or failed.
  bool finished() const { return result_.outcome != migration_outcome::in_progress; }
  /// When the current step times out; INT64_MAX when finished or not started.
  std::int64_t deadline_ns() const { return deadline_; }
  /// The result so far (final once finished()).
  const migration_result& result() const { return result_; }
  /// The plan.
  const migration_plan& plan() const { return plan_; }
  /// Events ignored: from the wrong node, in the wrong step, repeated, or after the end.
  std::uint64_t unexpected_events() const { return unexpected_; }

 private:
  void enter(migration_step s, std::int64_t now, std::int64_t timeout);
  void finish(migration_outcome o, std::int64_t now);
  std::vector<migration_action> fail(std::string reason, std::int64_t now);
  std::vector<migration_action> maybe_confirmed(std::int64_t now);
  std::vector<migration_action> unexpected();

  migration_plan plan_;
  migration_timeouts timeouts_;
  migration_step step_ = migration_step::push_kind;
  bool started_ = false;
  std::int64_t deadline_;
  std::int64_t step_began_ = 0;
  bool shipped_ = false, confirmed_ = false;
  std::uint64_t confirmed_bytes_ = 0, confirmed_digest_ = 0;
  std::uint64_t unexpected_ = 0;
  migration_result result_;
};

}  // namespace e3::mig
