// How a compute node's cores take work: round robin over the cores, work-conserving, run to
// completion (§3). The one rule the live runtime's emulated cores and the simulator both use.
#pragma once

#include <cstdint>
#include <vector>

namespace e3::topo {

/// Where and when one piece of work ran on a node's cores.
struct core_slot {
  int core = 0;              ///< the core it was steered to
  std::int64_t start_ns = 0; ///< when it started (after waiting for a core)
  std::int64_t end_ns = 0;   ///< when it finished
};

/// The cores of one compute node as a booking schedule. Each arrival is steered at once: to the
/// next core in round-robin order that is idle at its arrival, or, when every core is busy, to
/// the core that can take it first; it then runs to completion. Booked in non-decreasing arrival
/// order this is exactly a first-come-first-served queue in front of `cores` identical servers
/// (the G/G/c queue), so its waiting times match the M/M/c closed forms under Poisson arrivals
/// and exponential work.
///
/// The live runtime books slightly out of arrival order (messages reach a node before their
/// emulated arrival; a group commit is booked after the requests it covers). So a core keeps its
/// booked intervals, and work may take an idle gap between them: a later booking of an earlier
/// arrival does not wait behind work that had not started yet. (With in-order bookings every gap
/// lies before the current arrival, so this changes nothing there.) Intervals more than
/// `max_intervals` back on a core are folded into a floor nothing can start before.
///
/// Times are ns of the caller's clock (emulated in the runtime, simulated in sim/). Not
/// thread-safe: the runtime wraps it in a lock. Pure and deterministic.
class core_queue {
 public:
  /// A node with `cores` cores (at least one is kept).
  explicit core_queue(int cores);

  /// Steers work that arrived at `arrival_ns` and needs `service_ns` of one core to a core, and
  /// books it. A negative `service_ns` counts as 0.
  core_slot run(std::int64_t arrival_ns, std::int64_t service_ns);

  /// Core-nanoseconds of work booked so far.
  std::int64_t busy_ns() const { return busy_; }
  /// Largest wait seen: how long an arrival waited for a core (ns).
  std::int64_t max_backlog_ns() const { return max_backlog_; }
  /// How long work arriving at `now_ns` would wait for a core (0 when one is idle).
  std::int64_t backlog_ns(std::int64_t now_ns) const;
  /// Core-nanoseconds of booked work that lies after `t_ns`. With every arrival up to `t_ns`
  /// booked, busy_ns() − booked_after(t) is the work done by `t_ns`, so utilisation over an
  /// interval needs no per-booking bookkeeping.
  std::int64_t booked_after(std::int64_t t_ns) const;
  /// Pieces of work booked so far.
  std::uint64_t bookings() const { return bookings_; }
  /// Total time booked work waited for a core, ns.
  std::int64_t wait_ns() const { return wait_; }
  /// Cores.
  int cores() const { return int(cores_.size()); }

  /// Booked intervals a core remembers for gap filling.
  static constexpr std::size_t max_intervals = 64;

 private:
  struct interval {
    std::int64_t start, end;
  };
  struct core {
    std::int64_t floor = 0;           // nothing starts before this
    std::vector<interval> booked;     // after the floor, by start
    std::int64_t free_at() const { return booked.empty() ? floor : std::max(floor, booked.back().end); }
  };
  // Earliest start >= arrival on core `c` where `service` fits.
  static std::int64_t earliest_fit(const core& c, std::int64_t arrival, std::int64_t service);
  std::vector<core> cores_;
  std::size_t next_ = 0;
  std::int64_t busy_ = 0;
  std::int64_t max_backlog_ = 0;
  std::int64_t wait_ = 0;
  std::uint64_t bookings_ = 0;
};

}  // namespace e3::topo
