// The two SmartNIC overload detectors of §3.4: host starvation (a standing traffic-manager queue
// while the network is under-used) and service overload (execution time above its EMA), each
// required to stay tripped for k consecutive reports.
#pragma once

#include <cstdint>

#include "migration/report.hpp"

namespace e3::mig {

/// Host starvation (§3.4): compute-heavy services interfere with the SmartNIC's traffic
/// manager, so packets queue at it although the ports are far from busy (head-of-line
/// blocking). One report is a HIT when BOTH hold:
///   tm_queue >= queue_threshold                                (a queue, counted AT the threshold)
///   max(link_in, link_out) < underuse_share × capacity          (under-used, strictly below)
/// and the detector TRIPS on the k-th consecutive hit (the queue is standing, not a burst).
///
/// Defaults, and why:
/// - queue_threshold = 64 packets: at the LiquidIO's ~4.7 M packets/s (2×10 GbE, 512 B) a healthy
///   traffic manager drains 64 packets in ~14 µs, so a sample that still finds 64 waiting, with
///   the ports under-used, catches a traffic manager that is not draining rather than a burst.
/// - underuse_share = 0.5: the bandwidth test separates starvation from honest network load;
///   with the ports above half their capacity a queue can come from the traffic itself.
/// - k = 3: three samples 50 ms apart (150 ms) make the queue standing; a burst that drains in
///   microseconds cannot be caught three times in a row by chance.
struct starvation_config {
  std::uint32_t queue_threshold = 64;  ///< packets; a hit needs at least this many queued
  double underuse_share = 0.5;         ///< a hit needs max(in, out) below this share of capacity
  int k = 3;                           ///< consecutive hits to trip (>= 1)
};

/// Service overload (§3.4): "we periodically monitor the execution time of each microservice and
/// compare to its exponential moving average. When the difference is negative and larger than
/// 20%, we assume a microservice overload". Our reading: the difference is EMA − exec, taken
/// relative to the EMA; it is negative when the service got SLOWER than its trailing average,
/// and "larger than 20 %" is then exec > 1.2 × EMA. (A faster service is never an overload, and
/// the EMA trails a slowdown, so this is when a slowdown shows.) One report of an instance is a
/// HIT when
///   requests >= min_requests  and  ema_exec_us > 0  and  exec_us >= ema_exec_us × (1 + max_slowdown)
/// (the threshold itself counts as a hit; the product is computed in double), and the instance's
/// detector TRIPS on the k-th consecutive hit.
///
/// Defaults, and why:
/// - max_slowdown = 0.2: the paper's empirically determined threshold.
/// - k = 2: with the EMA weighting each new report by 0.2, a sustained step to 1.5× stays above
///   1.2× the trailing EMA for four reports (1.5, 1.36, 1.27, 1.21), so k = 2 still catches it
///   while a single slow interval (a GC pause, one expensive request) does not migrate anything.
/// - min_requests = 20: the mean of fewer requests in 50 ms is dominated by the request mix, not
///   by the node; such a report is not a hit (and breaks the streak).
struct overload_config {
  double max_slowdown = 0.2;       ///< trip when exec >= EMA × (1 + this)
  int k = 2;                       ///< consecutive hits to trip (>= 1)
  std::uint32_t min_requests = 20; ///< fewer requests in the interval: not a hit
};

/// Consecutive-hit counter behind both detectors (saturates; a miss resets it).
class streak {
 public:
  /// Adds one report's verdict; true when the last `k` verdicts were all hits.
  bool step(bool hit, int k) {
    if (!hit)
      n_ = 0;
    else if (n_ != 0xFFFF)
      ++n_;
    return n_ >= k;
  }
  /// Forgets the hits so far (after a migration decision).
  void reset() { n_ = 0; }
  /// Consecutive hits so far.
  int count() const { return n_; }

 private:
  std::uint16_t n_ = 0;
};

/// True when the ports are under-used: max(in, out) < share × capacity. A non-positive
/// capacity is never under-used (there is nothing to compare against).
bool network_underused(double share, double in_gbps, double out_gbps, double capacity_gbps);

/// Whether one full report is a host-starvation hit (see starvation_config).
bool starvation_hit(const starvation_config& c, const node_report& r);

/// Whether one heartbeat is a host-starvation hit: the same test at the heartbeat's 0.5 %
/// resolution (link_use < underuse_share × 200).
bool starvation_hit(const starvation_config& c, const heartbeat& h);

/// Whether one instance's report is a service-overload hit (see overload_config).
bool overload_hit(const overload_config& c, const instance_report& r);

/// The heartbeat form of the overload threshold: (1 + max_slowdown) × 1000 rounded up.
std::uint16_t overload_threshold_milli(const overload_config& c);

/// Whether one heartbeat is an overload hit: worst_slowdown >= overload_threshold_milli(c) (the
/// agent already left out services with too few requests, see summarise()).
bool overload_hit(const overload_config& c, const heartbeat& h);

/// Host-starvation detector of one SmartNIC, fed its reports in order.
class starvation_detector {
 public:
  /// A detector with the given thresholds.
  explicit starvation_detector(starvation_config c = {}) : c_(c) {}
  /// Adds a report; true while the detector is tripped (k consecutive hits).
  bool add(const node_report& r) { return s_.step(starvation_hit(c_, r), c_.k); }
  /// Adds a heartbeat; true while tripped.
  bool add(const heartbeat& h) { return s_.step(starvation_hit(c_, h), c_.k); }
  /// Forgets the streak.
  void reset() { s_.reset(); }
  /// Consecutive hits so far.
  int hits() const { return s_.count(); }

 private:
  starvation_config c_;
  streak s_;
};

/// Service-overload detector of one instance, fed that instance's reports in order.
class overload_detector {
 public:
  /// A detector with the given thresholds.
  explicit overload_detector(overload_config c = {}) : c_(c) {}
  /// Adds one interval of the instance; true while tripped (k consecutive hits).
  bool add(const instance_report& r) { return s_.step(overload_hit(c_, r), c_.k); }
  /// Forgets the streak.
  void reset() { s_.reset(); }
  /// Consecutive hits so far.
  int hits() const { return s_.count(); }

 private:
  overload_config c_;
  streak s_;
};

/// Throws std::invalid_argument naming the field when a threshold is out of range (k < 1 or
/// > 65535, a share outside (0, 1], a negative slowdown or one not below 64).
void validate(const starvation_config& c);
/// See validate(const starvation_config&).
void validate(const overload_config& c);

}  // namespace e3::mig
