// Emulated hardware: how the runtime makes a 2-core machine behave like a cluster of hosts and
// SmartNICs without pretending. No CAF in here.
//
// Time dilation (Gupta et al., NSDI 2006; DieCast, NSDI 2008): the emulated cluster runs D times
// slower than real time. Every message carries emulated timestamps. A node holds an arriving
// message until the wall clock reaches its emulated arrival time (sent + modelled link
// latency), then runs the real service code, measures the CPU time it took here, and charges
// the emulated core it was steered to (round robin, §3) with the runtime stack's per-message
// time on that core type plus that CPU time × the core's handler slowdown for the kind
// (service profiles, from Table 1: a LiquidIO core runs IPsec's handler far faster than a Xeon
// core, with its crypto unit, and Top ranker's ~55× slower). A node whose emulated cores are busy queues work in emulated time, so an
// emulated SmartNIC saturates and queues like the card. When the wall clock falls behind the
// emulated schedule (a message is handled later than its emulated arrival), it is THIS machine,
// not the emulated hardware, that limited the run: that lateness is measured and reported.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "topology/core_queue.hpp"

namespace e3::rt {

/// Maps wall time to emulated time: emulated = (wall − start) / dilation.
class dilation_clock {
 public:
  using wall = std::chrono::steady_clock;
  /// Starts emulated time 0 at wall time `start`, running `dilation` times slower than real.
  dilation_clock(wall::time_point start, double dilation) : start_(start), dilation_(dilation) {}
  /// The emulated nanoseconds at wall time `t`.
  std::int64_t emulated_ns(wall::time_point t) const {
    return std::int64_t(double(std::chrono::duration_cast<std::chrono::nanoseconds>(t - start_).count()) / dilation_);
  }
  /// The emulated nanoseconds now.
  std::int64_t now_ns() const { return emulated_ns(wall::now()); }
  /// The wall time at which emulated time reaches `ns`.
  wall::time_point wall_at(std::int64_t ns) const {
    return start_ + std::chrono::nanoseconds(std::int64_t(double(ns) * dilation_));
  }
  /// The dilation factor D.
  double dilation() const { return dilation_; }

 private:
  wall::time_point start_;
  double dilation_;
};

/// Where and when one request ran on an emulated node.
struct slot {
  int core = 0;              ///< the emulated core it was steered to
  std::int64_t start_ns = 0; ///< emulated start (after queueing)
  std::int64_t end_ns = 0;   ///< emulated completion
};

/// The emulated cores of one compute node: round-robin steering that is work-conserving (an idle
/// core takes the request; when all are busy, the first to free), run to completion — the rule of
/// topo::core_queue, which the simulator (sim/) uses too, behind a lock. Thread-safe (instances
/// of one node run on several worker threads).
class core_model {
 public:
  /// A node with `cores` emulated cores.
  explicit core_model(int cores);
  /// Steers a request that arrived at emulated time `arrival_ns` and needs `service_ns` of
  /// emulated core time to a core, and books it.
  slot run(std::int64_t arrival_ns, std::int64_t service_ns);
  /// Emulated core-nanoseconds of work booked so far.
  std::int64_t busy_ns() const;
  /// Largest backlog seen: how far a core's schedule ran ahead of an arrival (emulated ns).
  std::int64_t max_backlog_ns() const;
  /// The backlog at emulated time `now_ns`: how long until the least busy core is free (0 when
  /// one is idle).
  std::int64_t backlog_ns(std::int64_t now_ns) const;
  /// Cores.
  int cores() const;

 private:
  mutable std::mutex m_;
  topo::core_queue q_;
};

/// How far behind its emulated schedule this machine handled messages. Thread-safe.
class lateness_meter {
 public:
  /// Records that a message due at emulated `due_ns` was handled at emulated `now_ns`.
  void record(std::int64_t due_ns, std::int64_t now_ns);
  /// Messages recorded.
  std::uint64_t count() const;
  /// Messages handled later than `threshold_ns` after they were due.
  std::uint64_t late(std::int64_t threshold_ns) const;
  /// The largest lateness seen, emulated ns.
  std::int64_t max_ns() const;
  /// Mean lateness, emulated ns.
  double mean_ns() const;

 private:
  mutable std::mutex m_;
  std::vector<std::int64_t> samples_;  // bounded reservoir
  std::uint64_t n_ = 0;
  std::int64_t max_ = 0;
  double sum_ = 0;
};

/// Measures the CPU time the calling thread spends, in nanoseconds.
class cpu_stopwatch {
 public:
  /// Starts measuring.
  cpu_stopwatch();
  /// CPU nanoseconds since construction.
  std::int64_t elapsed_ns() const;

 private:
  std::int64_t start_;
};

}  // namespace e3::rt
