// Erlang/OTP-style supervisors for CAF 0.17 actors: restart strategies, intensity, escalation.
//
// A supervisor is an actor that starts its children in order, watches them (CAF monitors, no
// links), restarts them by its strategy, and gives up when they fail too often: it then stops its
// children and exits with an "escalated" reason, so its own supervisor applies its strategy. The
// cluster tree (cluster → rack → server → node → service instances) is built from these.
//
// Usage (a server supervising one node supervisor that supervises one engine actor):
//
//   e3::rt::supervisor_spec node;
//   node.name = "node-3";
//   node.strategy = e3::rt::restart_strategy::rest_for_one;
//   node.limits = {.intensity = 3, .period = std::chrono::seconds(5)};  // more: escalate
//   node.children.push_back({.name = "engine",
//                            .start = [](auto& s) { return s.spawn(engine, 3); }});
//   node.on_event = [](const e3::rt::supervisor_event& e) { std::cerr << to_string(e) << '\n'; };
//   e3::rt::supervisor_spec server;
//   server.name = "server-1";
//   server.children.push_back(e3::rt::supervisor_child(node));
//   caf::actor top = e3::rt::spawn_supervisor(sys, server);
//   e3::rt::kill_child(top, "node-3");                    // fault injection: the subtree restarts
//   auto kids = e3::rt::which_children(sys, top);         // name, actor, running, restarts
//   e3::rt::shutdown_supervisor(top);                     // orderly: children first, then itself
//
// Guarantees:
// - Strategies as in OTP. one_for_one restarts the dead child; one_for_all stops every other
//   running child and restarts all in order; rest_for_one stops the children after the dead one
//   and restarts it and them in order. Restarts wait until every child being stopped is gone, so
//   an old incarnation never overlaps its replacement. Deaths the supervisor causes itself are
//   never counted as failures.
// - Intensity: more than `intensity` restarts within a sliding `period` (on the actor clock, so
//   CAF's deterministic test scheduler controls it) escalate. One failure counts once, whatever
//   the strategy restarts; a start function that throws or returns no actor counts as one
//   failed restart and is retried (through the mailbox) until it starts or the limit escalates.
// - Stopping a child (stop_child, remove_child, a sibling's restart, shutdown) sends it
//   `user_shutdown`, waits for its down message, and kills it after `child_spec::shutdown`.
//   Several stops run concurrently (sent in reverse start order). User-stopped children stay
//   down through their siblings' restarts until start_child.
// - Children that exit normally are done and are not restarted; temporary children are never
//   restarted and their deaths never trigger the strategy (OTP's `temporary`).
// - Bad control messages (unknown names, duplicates, unexpected messages) are reported as
//   `rejected` events and ignored; the supervisor never crashes on them.
// - Killing a supervisor with `exit_reason::kill` kills its whole subtree (every child gets
//   `kill`); an exit message with any other non-normal reason (e.g. `user_shutdown`) is an
//   orderly shutdown: children are stopped first, then the supervisor exits with that reason.
// - Thread-safety: all state lives in the supervisor actor; the free functions below only send
//   messages and may be called from any thread. `on_event` runs inside the supervisor actor, i.e.
//   on a CAF worker thread, one call at a time per supervisor but concurrently with other
//   supervisors: a callback shared by several supervisors must synchronise what it writes.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace e3::rt {

/// Which children a supervisor restarts when one of its permanent children dies abnormally.
enum class restart_strategy : std::uint8_t {
  one_for_one,   ///< only the dead child
  one_for_all,   ///< all children: the others are stopped, then all restart in order
  rest_for_one,  ///< the dead child and the children started after it, in order
};

/// "one_for_one", "one_for_all", "rest_for_one".
std::string_view to_string(restart_strategy s);

/// How often children may fail before the supervisor gives up and escalates to its parent.
struct restart_limits {
  /// More than this many restarts within `period` escalate (0: the first failure escalates).
  int intensity = 5;
  /// Length of the sliding window; a restart older than `period` no longer counts.
  std::chrono::milliseconds period{10000};
};

/// `child_spec::shutdown` value meaning "wait for the child to stop, however long it takes"
/// (OTP's `infinity`, the right choice for a child that is itself a supervisor).
inline constexpr std::chrono::milliseconds shutdown_infinity = std::chrono::milliseconds::max();

/// How to start one child and how to treat its death.
struct child_spec {
  /// Unique name among the supervisor's children; control functions address children by it.
  std::string name;
  /// Spawns a new incarnation of the child. Called inside the supervisor actor. A throw or an
  /// invalid handle counts as a failed (re)start.
  std::function<caf::actor(caf::actor_system&)> start;
  /// Permanent children are restarted after an abnormal death; temporary ones never.
  bool permanent = true;
  /// How long a stop (user_shutdown exit message) may take before the child is killed; 0 kills
  /// at once, `shutdown_infinity` waits for ever.
  std::chrono::milliseconds shutdown{5000};
};

/// What happened to a child (or to the supervisor itself), as reported to `on_event`.
enum class supervisor_event_kind : std::uint8_t {
  started,       ///< a child started (initially, or by start_child / add_child)
  restarted,     ///< a child started again by the restart strategy
  stopped,       ///< a child the supervisor stopped has terminated (reason says why it was stopped)
  exited,        ///< a child exited normally on its own: done, not restarted
  died,          ///< a child terminated abnormally (reason: its exit reason)
  start_failed,  ///< a start function threw or returned no actor (reason: the exception text)
  escalated,     ///< restart intensity exceeded: the supervisor stops everything and exits
  removed,       ///< a child was removed from the supervisor (remove_child)
  rejected,      ///< a control message was ignored: unknown name, duplicate, unexpected message
};

/// "started", "restarted", ... "rejected".
std::string_view to_string(supervisor_event_kind k);

/// One event of a supervisor, for logs, tests and the fault-injection reports.
struct supervisor_event {
  /// Name of the supervisor that reports it.
  std::string supervisor;
  /// The child concerned (for `escalated`: the child whose failure exceeded the limit; for
  /// `rejected`: the name given in the control message, if any).
  std::string child;
  /// What happened.
  supervisor_event_kind what = supervisor_event_kind::started;
  /// Human-readable detail: exit reason, stop cause, exception text, rejection cause.
  std::string reason;
};

/// "supervisor 'x': child 'y' died (reason)" — one line for logs.
std::string to_string(const supervisor_event& e);

/// A supervisor: its children in start order, how it restarts them, and who hears about it.
struct supervisor_spec {
  /// Name used in events and in the escalation reason.
  std::string name;
  /// Restart strategy for permanent children that die abnormally.
  restart_strategy strategy = restart_strategy::one_for_one;
  /// When to give up and escalate.
  restart_limits limits;
  /// Initial children, started in this order (an invalid or duplicate entry is rejected).
  std::vector<child_spec> children;
  /// Called inside the supervisor actor for every event (see the thread-safety note above).
  /// An exception it throws terminates the supervisor, which its parent sees as a failure.
  std::function<void(const supervisor_event&)> on_event;
};

/// A snapshot of one child, answered by `which_children`.
struct child_info {
  /// The child's name.
  std::string name;
  /// The running incarnation, or an invalid handle when not running.
  caf::actor actor;
  /// Whether an incarnation is running.
  bool running = false;
  /// Whether the child waits to be (re)started (siblings still stopping, or a start retry).
  bool pending_start = false;
  /// Whether the child is permanent.
  bool permanent = true;
  /// How many times the restart strategy started this child again.
  int restarts = 0;
};

/// Spawns a supervisor; it starts `spec.children` in order, then supervises them.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec);

/// A child_spec that starts a nested supervisor from `spec` (permanent, shutdown_infinity).
child_spec supervisor_child(supervisor_spec spec);

/// Fault injection: the supervisor kills `child` (exit_reason::kill) and then applies its
/// strategy to the death like to any crash (it counts toward the intensity limit).
void kill_child(const caf::actor& sup, const std::string& child);

/// Stops `child` for good (e.g. a powered-off server): it is not restarted until start_child.
void stop_child(const caf::actor& sup, const std::string& child);

/// Starts a stopped or finished child again (a `started` event; not counted as a restart).
void start_child(const caf::actor& sup, const std::string& child);

/// Adds a child at the end of the start order and starts it (e.g. an instance deployed later).
void add_child(const caf::actor& sup, child_spec spec);

/// Stops `child` if it runs and forgets it.
void remove_child(const caf::actor& sup, const std::string& child);

/// Orderly shutdown: the supervisor stops its children, then exits with user_shutdown.
void shutdown_supervisor(const caf::actor& sup);

/// The children of `sup` in start order. Blocks the calling thread (not an actor's: it would
/// hold a worker) for at most `timeout`; throws std::runtime_error when the supervisor is gone or
/// does not answer. Under CAF's deterministic test scheduler it first runs the pending jobs (not
/// timers) until idle, since nothing else would run the supervisor.
std::vector<child_info> which_children(caf::actor_system& sys, const caf::actor& sup,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Whether an exit reason is a supervisor's escalation (restart intensity exceeded). The reason
/// is a caf::error of category atom "e3_sup", code 1, whose context holds the supervisor's name.
bool is_escalation(const caf::error& reason);

/// Exit reason text: "escalated by supervisor 'x'" for escalations, the system's rendering else.
std::string describe_exit_reason(const caf::actor_system& sys, const caf::error& reason);

/// Lets `sys.render(reason)` print escalations readably (optional; before creating the system).
void add_supervisor_error_category(caf::actor_system_config& cfg);

}  // namespace e3::rt
