// DDoS: entropy-based detection over windows of packets (pure logic).
//
// Features. For each window the detector measures the Shannon entropy of four distributions:
// source address, destination address, source port and destination port (ports 0 for packets
// without them), and normalises each by log2(n), n = packets in the window, the largest entropy
// n packets can have. A normalised entropy H is an exponent: the distribution is as spread as
// n^H equally likely values, so 0 means one value and 1 means every packet different.
//
// Rules (an alarm needs either; Mirkovic and Reiher's taxonomy of DDoS attacks and defences,
// and Lakhina, Crovella, Diot, "Mining anomalies using traffic feature distributions",
// SIGCOMM 2005, who show that floods and scans are exactly the anomalies that move these four
// entropies in opposite directions):
//  1. Signature: attack traffic dominates a window and has a shape ordinary traffic does not —
//     one side of the exchange collapses to (almost) a single value while the other disperses:
//       flood      destination address concentrated and source address dispersed (many → one),
//       port scan  destination address concentrated and destination port dispersed,
//       host scan  source address concentrated and destination address dispersed.
//     Concentrated means H ≤ lo, dispersed H ≥ hi, with lo = 0.2 and hi = 0.8 by default: at
//     most n^0.2 effective values (≤ 3 of 256 packets) against at least n^0.8 (≥ 84 of 256).
//     In ordinary traffic addresses and ports move together, because a port belongs to a
//     connection and a connection to a host pair. This rule needs no history, so it also
//     catches an attack that is under way when monitoring starts.
//  2. Change: each feature's normalised entropy is compared with a baseline, the last
//     `history` judged windows that did not alarm. With n baseline windows of mean μ and sample
//     standard deviation s, a new window is expected inside the normal prediction interval
//       |H − μ| ≤ t(n − 1) · max(s, σ_min) · sqrt(1 + 1/n),
//     t(n − 1) being Student's t quantile for the two-sided level of k standard deviations
//     (k = 3: 99.73 %). The t quantile and the sqrt(1 + 1/n) term account for a baseline of few
//     windows (t(3) ≈ 9.2 for n = 4, t(15) ≈ 3.6 for n = 16), so a young baseline is not
//     trusted more than its size allows; σ_min = 0.05 floors s, so a very steady baseline does
//     not turn small wobbles into alarms. The rule applies once `warmup` (≥ 2) windows are in
//     the baseline; alarming windows stay out of it, so an attack does not become the normal.
// Windows close every `window` IP packets (default 256), or, when `window_ns` > 0, at the
// first packet `window_ns` or more after the window opened. Windows with fewer than
// `min_packets` packets (default 32) are reported but not judged: the entropy of a handful of
// packets says nothing about the traffic.
//
// Known limit: a capture of one direction only at a single busy server (many clients → one
// address and port) has the flood shape; any detector based on these entropies sees it so.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/common/packet.hpp"

namespace e3::services::ddos {

/// The four features, in report order.
enum feature : std::size_t { src_addr = 0, dst_addr = 1, src_port = 2, dst_port = 3 };
/// Short names of the features: "src", "dst", "sport", "dport".
extern const char* const feature_names[4];

/// Student's t distribution function P(T ≤ t) with `df` degrees of freedom.
double student_t_cdf(double t, double df);
/// The q-quantile of Student's t with `df` degrees of freedom (0 < q < 1).
double student_t_quantile(double q, double df);

/// Detector settings (see the header comment).
struct ddos_config {
  std::uint32_t window = 256;        ///< packets per window (when window_ns == 0)
  std::int64_t window_ns = 0;        ///< window length in ns; 0 = windows by packet count
  std::uint32_t min_packets = 32;    ///< fewer packets: the window is not judged
  double lo = 0.2;                   ///< concentrated: normalised entropy at most this
  double hi = 0.8;                   ///< dispersed: normalised entropy at least this
  std::uint32_t history = 16;        ///< baseline windows kept
  std::uint32_t warmup = 4;          ///< baseline windows (≥ 2) needed before the change rule applies
  double k = 3.0;                    ///< change level in standard deviations of a normal law
  double sigma_min = 0.05;           ///< floor of the standard deviation
};

/// Why a window alarmed (bit set).
enum alarm_bits : std::uint32_t {
  alarm_flood = 1,       ///< signature: many sources to one destination
  alarm_port_scan = 2,   ///< signature: one destination, many destination ports
  alarm_host_scan = 4,   ///< signature: one source, many destinations
  alarm_change = 8,      ///< change against the baseline
};

/// Text of alarm bits: "-" or e.g. "port-scan,change(dport)".
std::string alarm_text(std::uint32_t bits, std::uint32_t changed_features);

/// What the detector found in one closed window.
struct window_report {
  std::uint64_t index = 0;            ///< window number, from 0
  std::uint64_t packets = 0;          ///< IP packets in it
  std::int64_t start_ns = 0;          ///< time of its first packet
  std::array<double, 4> entropy{};    ///< normalised entropies, by feature
  bool judged = false;                ///< enough packets to judge
  double max_z = 0;      ///< largest |H − μ| / (max(s, σ_min)·sqrt(1 + 1/n)) (0 before warm-up)
  double threshold = 0;  ///< the t quantile max_z was compared with (0 before warm-up)
  std::uint32_t alarm = 0;            ///< alarm_bits
  std::uint32_t changed = 0;          ///< features (bit per feature) beyond the change threshold
};

/// The per-packet features the detector keeps for the open window (also its saved state).
struct packet_features {
  std::uint64_t src = 0;      ///< hash of the source address
  std::uint64_t dst = 0;      ///< hash of the destination address
  std::uint16_t sport = 0;    ///< source port (0 when none)
  std::uint16_t dport = 0;    ///< destination port (0 when none)
  std::uint32_t pad = 0;      ///< zero
};

/// Features of a parsed IP packet.
packet_features features_of(const parsed_packet& p);

/// Streaming entropy of one discrete distribution: counts values and keeps S = Σ c·log2 c, so
/// the entropy log2 n − S/n is available at any time. reset() forgets the values touched.
class entropy_counter {
 public:
  /// Counts one occurrence of `value`.
  void add(std::uint64_t value);
  /// Values counted since the last reset.
  std::uint64_t count() const { return n_; }
  /// Shannon entropy in bits.
  double bits() const;
  /// Entropy divided by log2(count) (0 for fewer than two values).
  double normalised() const;
  /// Forgets everything counted (cost proportional to the distinct values seen).
  void reset();

 private:
  std::uint32_t& slot(std::uint64_t value);
  std::vector<std::uint64_t> keys_;   // open addressing; value+1 (0 = empty)
  std::vector<std::uint32_t> counts_;
  std::vector<std::uint32_t> used_;   // slots in use, for reset
  std::uint64_t mask_ = 0;
  std::uint64_t n_ = 0;
  double s_ = 0;  // Σ c·log2 c
};

/// The detector: windows, entropies and both rules. One packet at a time (not thread-safe).
class detector {
 public:
  /// A detector with settings `cfg` (throws std::invalid_argument on nonsense: window 0,
  /// lo ≥ hi, history < warmup, ...).
  explicit detector(ddos_config cfg = {});

  /// Counts a packet seen at `now_ns`; returns the report of the window it closed, if any
  /// (by time, the packet belongs to the next window; by count, the packet completes it).
  std::optional<window_report> add(const packet_features& f, std::int64_t now_ns);
  /// Closes the open window (end of input) and returns its report, if it has packets.
  std::optional<window_report> close();

  /// Settings.
  const ddos_config& config() const { return cfg_; }
  /// Windows closed so far.
  std::uint64_t windows() const { return windows_; }
  /// Windows judged so far.
  std::uint64_t judged() const { return judged_; }
  /// Windows that alarmed so far.
  std::uint64_t alarms() const { return alarms_; }

  /// Everything needed to resume exactly (for reliable collections).
  struct saved {
    std::uint64_t windows = 0, judged = 0, alarms = 0;
    std::int64_t window_start = 0;
    std::uint32_t history_size = 0, history_next = 0;
  };
  /// The scalar state.
  saved save() const;
  /// The baseline ring (history slots; the first history_size of them are meaningful, oldest at
  /// history_next when full).
  const std::vector<std::array<double, 4>>& history() const { return history_; }
  /// The open window's packets, in order.
  const std::vector<packet_features>& open_window() const { return open_; }
  /// Restores the state saved by save(), history() and open_window().
  void restore(const saved& s, const std::vector<std::array<double, 4>>& history,
               const std::vector<packet_features>& open);

 private:
  window_report finish();
  void count(const packet_features& f);

  ddos_config cfg_;
  std::array<entropy_counter, 4> h_;
  std::vector<packet_features> open_;
  std::int64_t window_start_ = 0;
  std::vector<std::array<double, 4>> history_;
  std::uint32_t history_size_ = 0, history_next_ = 0;
  std::uint64_t windows_ = 0, judged_ = 0, alarms_ = 0;
  std::vector<double> t_quantile_;  // by baseline size n: t(n − 1) at the level of k sigmas
};

}  // namespace e3::services::ddos
