// Spike: z-score spike detectors over a data stream — the pure algorithms and the request format.
//
// Two modes (service param `mode`):
//
// * `windowed` (default): the Numenta Anomaly Benchmark's windowed-Gaussian detector. A window
//   holds up to `window` (6,400) past values. Until it is full, every value is appended and the
//   window's mean and population standard deviation are recomputed; after that values go to a
//   buffer, and each time the buffer holds `step` (100) values the window drops its oldest
//   `step` values, takes the buffer, and mean and deviation are recomputed. A deviation of 0 is
//   replaced by 1e-6. A value is scored BEFORE it is added: score = 1 − Q(z) with Q the normal
//   upper tail computed as NAB does (x below the mean is mirrored to 2·mean − x, then
//   Q = erfc(z/√2)/2, z = (x − mean)/std); the first value of a stream scores 0.
//   `windowed_gaussian` is the fast form used by the service: while the window grows it keeps
//   mean and deviation with Welford's update (O(1) per value); at each slide it recomputes them
//   from the window with numpy's summation order, as NAB's numpy.mean/numpy.std do.
//   `nab_reference` is NAB's procedure transcribed literally (full recomputation after every
//   append); tests and the benchmark compare the two.
//
// * `streaming`: a z-score against the running mean and population deviation of all earlier
//   values of the stream (Welford). Score = |z|; alarm when |z| > `threshold` (default 3). The
//   first `warmup` values (default 2, at least 2) score 0 and never alarm; a deviation of 0 is
//   replaced by 1e-6.
//
// In windowed mode the alarm is |z| > `threshold` too (score > 1 − Q(threshold)).
//
// Request (input_format::record): reads `key` (the stream) and `value` (finite).
// Emits (key = record.key) the same record with `value` replaced by the score and two numbers
// appended to `features`: the raw reading, then the alarm flag (1 or 0).
// Rejects: a malformed record, a non-finite value, a record with no room for two more features.
//
// State (stateful kind), written in flush():
//   windowed:  hashtable "spike_meta": key (u64) -> window_meta; hashtable "spike_chunks":
//              key ++ chunk index (2 × u64) -> up to `step` doubles. Value number s of a stream
//              lives in chunk s / step, so a flush rewrites only the chunks that changed and
//              erases the ones that left the window.
//   streaming: hashtable "spike_stream": key (u64) -> streaming_state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::spike {

/// Parameters of the windowed-Gaussian detector (NAB's values by default).
struct windowed_params {
  std::size_t window = 6400;  ///< values the window holds once full
  std::size_t step = 100;     ///< values buffered before the window slides
  double threshold = 3.0;     ///< alarm when |z| exceeds this
};

/// Parameters of the streaming z-score detector.
struct streaming_params {
  double threshold = 3.0;     ///< alarm when |z| exceeds this
  std::uint64_t warmup = 2;   ///< values scored 0 before z is used (at least 2)
};

/// One scored value.
struct result {
  double score = 0;    ///< windowed: NAB's anomaly score in [0, 1]; streaming: |z|
  double z = 0;        ///< (value − mean) / std against the past values (0 when unscored)
  bool alarm = false;  ///< |z| > threshold
};

/// numpy's pairwise summation of x[0..n) (numpy.add.reduce on a contiguous float64 array):
/// fewer than 8 values are added in order; up to 128 with 8 interleaved partial sums; above that
/// the range is split at half (rounded down to a multiple of 8) and both halves summed.
double numpy_sum(const double* x, std::size_t n);

/// numpy.mean and numpy.std (population) of x[0..n), computed as numpy does; n > 0.
void numpy_mean_std(const double* x, std::size_t n, double& mean, double& std);

/// NAB's normalProbability: the normal upper-tail probability of x (mirrored to the upper side
/// when x < mean), 0.5 * erfc(z / sqrt(2)).
double normal_tail(double x, double mean, double std);

/// Persistent summary of a windowed stream besides its values.
struct window_meta {
  std::uint64_t count = 0;  ///< values seen; value s (0-based) is the s-th of the stream
  std::uint64_t lo = 0;     ///< sequence number of the window's oldest value
  double mean = 0;          ///< current mean
  double std = 1;           ///< current deviation (1e-6 floor applied); NAB starts at 1
  double m2 = 0;            ///< Welford's sum of squared deviations while the window grows
};

/// NAB's windowed-Gaussian detector for one stream (fast form, see the file comment).
class windowed_gaussian {
 public:
  /// A detector with empty window. Throws std::invalid_argument when window or step is 0.
  explicit windowed_gaussian(windowed_params p = {});
  /// Scores x against the past, then adds it.
  result add(double x);
  /// What is persisted besides the values.
  window_meta meta() const;
  /// Values of the window (oldest first) followed by the buffer: sequence numbers
  /// [meta().lo, meta().count).
  void values(std::vector<double>& out) const;
  /// The value with sequence number `seq`, meta().lo <= seq < meta().count.
  double at(std::uint64_t seq) const {
    std::size_t i = std::size_t(seq - lo_);
    return i < window_.size() ? window_[i] : buffer_[i - window_.size()];
  }
  /// Values seen so far.
  std::uint64_t count() const { return count_; }
  /// Restores a state saved with meta() and values(); throws std::invalid_argument when the
  /// values do not fit the meta and parameters.
  void restore(const window_meta& m, const std::vector<double>& values);
  /// The parameters.
  const windowed_params& params() const { return p_; }

 private:
  windowed_params p_;
  std::vector<double> window_;
  std::vector<double> buffer_;
  std::uint64_t count_ = 0;
  std::uint64_t lo_ = 0;
  double mean_ = 0;
  double std_ = 1;
  double m2_ = 0;
};

/// NAB's detector transcribed literally: mean and deviation recomputed from the whole window
/// after every append (O(window) per value while it grows). The reference for tests and bench.
class nab_reference {
 public:
  /// A detector with NAB's parameters unless told otherwise.
  explicit nab_reference(windowed_params p = {}) : p_(p) {}
  /// NAB's handleRecord: the score of x, then x is added.
  double add(double x);

 private:
  windowed_params p_;
  std::vector<double> window_;
  std::vector<double> buffer_;
  double mean_ = 0;
  double std_ = 1;
};

/// Persistent state of a streaming stream (Welford).
struct streaming_state {
  std::uint64_t n = 0;  ///< values seen
  double mean = 0;      ///< their mean
  double m2 = 0;        ///< sum of squared deviations from the mean
};

/// Scores x against `s` (the past values), then folds x into `s`.
result streaming_add(streaming_state& s, double x, const streaming_params& p);

/// Parses the `mode` param: "windowed" or "streaming"; throws std::invalid_argument otherwise.
bool parse_windowed_mode(std::string_view mode);

}  // namespace e3::services::spike
