// EMA: an exponential moving average per stream key — the pure algorithm and its request format.
//
// Algorithm: for a stream x_0, x_1, … and a smoothing factor alpha in (0, 1], the average is
//   s_0 = x_0 (the first value initialises),  s_t = alpha * x_t + (1 − alpha) * s_{t−1},
// which equals sum_{i<t} alpha (1−alpha)^i x_{t−i} + (1−alpha)^t x_0.
//
// Request (input_format::record, services/common/record.hpp): reads `key` (the stream: sensor,
// thermostat…) and `value` (the reading, which must be finite). Every other field is carried
// through untouched.
// Emits (key = record.key) the same record with `value` replaced by the stream's average after
// this reading, and the raw reading appended as one extra, last element of `features`
// (n_features grows by one). A record that already carries record_max_field features is refused.
// Rejects: a malformed record, a non-finite value.
//
// Params: `alpha` — smoothing factor in (0, 1], default 0.1 (default_alpha).
// State (stateful kind): the hashtable "ema" maps the stream key (u64) to an `average`; the
// service keeps a hash map in memory and writes the keys that changed in flush().
#pragma once

#include <cstdint>
#include <string_view>

namespace e3::services::ema {

/// The smoothing factor used when the `alpha` param is absent.
inline constexpr double default_alpha = 0.1;

/// The state of one stream: its current average and how many readings it has seen. Trivially
/// copyable, so it is stored as its bytes in the reliable hashtable.
struct average {
  double value = 0;         ///< the current average (meaningless while count == 0)
  std::uint64_t count = 0;  ///< readings seen
};

/// Folds reading `x` into `a` with smoothing factor `alpha` and returns the new average. The
/// first reading of a stream becomes its average.
inline double update(average& a, double x, double alpha) {
  a.value = a.count == 0 ? x : alpha * x + (1.0 - alpha) * a.value;
  ++a.count;
  return a.value;
}

/// Parses a smoothing factor: a number in (0, 1]. Throws std::invalid_argument saying what is
/// wrong with `text`.
double parse_alpha(std::string_view text);

}  // namespace e3::services::ema
