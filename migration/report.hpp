// Health reports as the data-plane orchestrator reads them (§3.4), and the 16-byte per-SmartNIC
// heartbeat of the paper's scalability experiment (§5.6, Fig. 11) with its strict codec.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "topology/cluster.hpp"

namespace e3::mig {

/// A microservice kind as a small number: its index in topo::service_profiles() (Table 1
/// order). Reports carry kinds as numbers so digesting one allocates nothing.
using kind_id = std::uint16_t;

/// "No kind given": the orchestrator then takes the kind from its own placement view.
inline constexpr kind_id no_kind = 0xFFFF;

/// The kind_id of `kind` (a registry name such as "top_ranker"), or no_kind when unknown.
kind_id kind_of(std::string_view kind);

/// The registry name of `k`, or "?" for no_kind and out-of-range ids.
std::string_view kind_name(kind_id k);

/// What one service instance did during the last report interval.
struct instance_report {
  std::uint32_t instance = 0;  ///< orchestrator instance id (app base + DAG node id, orchestrator::add_app)
  kind_id kind = no_kind;      ///< its kind; checked against the placement view when given
  std::uint32_t requests = 0;  ///< requests it finished in the interval
  double exec_us = 0;          ///< mean execution time per request in the interval, µs
  /// Exponential moving average of the execution time over the PREVIOUS intervals, µs: the
  /// trailing EMA, which does not yet include this interval's exec_us (exec_ema::value() before
  /// exec_ema::add(exec_us)). 0 when there is no history yet.
  double ema_exec_us = 0;
  double cpu_share = 0;        ///< core time it used / (node cores × interval), in [0, 1]
};

/// One orchestrator agent's periodic health report (every 50 ms of emulated time, §3.4).
/// Times are ns of the caller's clock (emulated time in the runtime, simulated time in sim/).
struct node_report {
  topo::node_id node = 0;        ///< reporting compute node
  std::int64_t at_ns = 0;        ///< when it was taken; must increase from report to report
  std::uint32_t tm_queue = 0;    ///< traffic-manager queue depth, packets (SmartNICs; 0 on hosts)
  double link_in_gbps = 0;       ///< network bandwidth received over the interval, Gb/s
  double link_out_gbps = 0;      ///< network bandwidth sent over the interval, Gb/s
  double capacity_gbps = 0;      ///< the node's port bandwidth per direction, Gb/s
  double utilisation = 0;        ///< busy core time / (cores × interval), in [0, 1]
  std::vector<instance_report> instances;  ///< its service instances
};

/// The trailing exponential moving average of a service's execution time that
/// instance_report::ema_exec_us expects. Read value() BEFORE add()ing the new interval's mean.
class exec_ema {
 public:
  /// An EMA with weight `alpha` for the newest sample (the runtime uses 0.2 per report).
  explicit exec_ema(double alpha = 0.2) : alpha_(alpha) {}
  /// The average of the samples so far; 0 before the first one.
  double value() const { return value_; }
  /// Folds in one interval's mean; the first sample starts the average.
  void add(double sample) {
    value_ = primed_ ? value_ + alpha_ * (sample - value_) : sample;
    primed_ = true;
  }

 private:
  double alpha_;
  double value_ = 0;
  bool primed_ = false;
};

/// Size of an encoded heartbeat, bytes (§5.6: "one heartbeat message (16B) every 50ms from
/// each SmartNIC").
inline constexpr std::size_t heartbeat_size = 16;
/// The heartbeat format version this code writes and accepts.
inline constexpr std::uint8_t heartbeat_version = 1;
/// A slot field that names no instance.
inline constexpr std::uint8_t no_slot = 0xFF;
/// Largest value of the half-percent fields (100 %).
inline constexpr std::uint8_t half_percent_max = 200;

/// The summary a SmartNIC sends instead of a full report when the cluster is large: its
/// traffic-manager queue and a summary of its services' execution times (§5.6). Slots name the
/// node's instances by their rank in ascending instance-id order, which the orchestrator knows
/// from its placement view.
///
/// Byte layout (integers little-endian):
/// | off | size | field |
/// |  0  | 1 | version (1) |
/// |  1  | 1 | services: instances on the node, saturating at 255 |
/// |  2  | 2 | seq: sender's sequence number, wrapping |
/// |  4  | 4 | node id |
/// |  8  | 2 | traffic-manager queue, packets, saturating at 65535 |
/// | 10  | 1 | link use: max(in, out) / capacity in 0.5 % steps, rounded down, 0..200 |
/// | 11  | 1 | utilisation in 0.5 % steps, rounded down, 0..200 |
/// | 12  | 2 | worst slowdown: max over services of exec / EMA in 1/1000, rounded down, saturating; 0 = none measured |
/// | 14  | 1 | slot of the instance with the highest CPU share (255 = none) |
/// | 15  | 1 | slot of the instance with the second-highest CPU share (255 = none) |
struct heartbeat {
  std::uint8_t services = 0;         ///< instances on the node (saturating at 255)
  std::uint16_t seq = 0;             ///< sequence number (wraps; older or repeated ones are stale)
  topo::node_id node = 0;            ///< sending SmartNIC
  std::uint16_t tm_queue = 0;        ///< traffic-manager queue, packets (saturating)
  std::uint8_t link_use = 0;         ///< max(in, out) / capacity, 0.5 % steps (0..200)
  std::uint8_t utilisation = 0;      ///< node utilisation, 0.5 % steps (0..200)
  std::uint16_t worst_slowdown = 0;  ///< max exec/EMA over measured services, 1/1000 (0: none)
  std::uint8_t hottest = no_slot;    ///< slot of the highest-CPU instance
  std::uint8_t second = no_slot;     ///< slot of the second-highest-CPU instance

  /// Field-by-field equality.
  friend bool operator==(const heartbeat&, const heartbeat&) = default;
};

/// Why a heartbeat did not decode. Every rejected heartbeat is counted by the orchestrator.
enum class heartbeat_error : std::uint8_t {
  ok,           ///< decoded
  bad_length,   ///< not exactly heartbeat_size bytes
  bad_version,  ///< byte 0 is not heartbeat_version
  bad_field,    ///< a field is out of its range (a half-percent above 200, a slot past the
                ///< services count, the same slot twice, a second slot without a first)
};

/// Number of heartbeat_error values (for per-error counters).
inline constexpr std::size_t heartbeat_error_count = 4;

/// "ok", "bad length", "bad version", "bad field".
std::string_view to_string(heartbeat_error e);

/// Writes `hb` as its 16 bytes. `hb` must be valid (decode_heartbeat accepts the result).
std::array<std::uint8_t, heartbeat_size> encode_heartbeat(const heartbeat& hb);

/// Decodes 16 bytes strictly: any other length, another version or a field out of range is an
/// error and leaves `out` unspecified. Never reads past `bytes`.
heartbeat_error decode_heartbeat(std::span<const std::uint8_t> bytes, heartbeat& out);

/// A message naming what is wrong with `bytes` and at which byte offset (for logs and CLI
/// errors), or "ok".
std::string describe_heartbeat_error(std::span<const std::uint8_t> bytes);

/// The heartbeat an agent sends for `r` (a SmartNIC's full report) with sequence number `seq`.
/// Services with fewer than `min_requests` requests or no EMA yet are not measured, as the
/// overload detector ignores them (overload_config::min_requests). Ties in CPU share go to the
/// lower instance id. Only the first 255 slots can be named.
heartbeat summarise(const node_report& r, std::uint16_t seq, std::uint32_t min_requests);

/// `x` (a share, nominally in [0, 1]) in 0.5 % steps, rounded down, clamped to 0..200.
std::uint8_t to_half_percent(double x);

/// exec / ema in 1/1000, rounded down, clamped to 1..65535; 0 when ema <= 0.
std::uint16_t to_slowdown_milli(double exec_us, double ema_us);

}  // namespace e3::mig
