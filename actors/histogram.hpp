// A log-linear latency histogram (HDR-like: 3 significant decimal digits over 1 ns .. ~1 h) with
// percentiles, since Debian packages no HDR histogram. No CAF in here.
#pragma once

#include <cstdint>
#include <vector>

namespace e3::rt {

/// Records non-negative values (nanoseconds) with ≤ 0.1 % relative error; O(1) record.
class histogram {
 public:
  histogram();
  /// Records one value (negative values count as 0).
  void record(std::int64_t v);
  /// Adds every value of `other`.
  void merge(const histogram& other);
  /// Values recorded.
  std::uint64_t count() const { return count_; }
  /// The value at quantile q in [0, 1] (e.g. 0.99), within the bucket's resolution; 0 if empty.
  std::int64_t quantile(double q) const;
  /// Mean of the recorded values (exact).
  double mean() const { return count_ ? sum_ / double(count_) : 0; }
  /// Largest value recorded (exact).
  std::int64_t max() const { return max_; }
  /// Smallest value recorded (exact); 0 if empty.
  std::int64_t min() const { return count_ ? min_ : 0; }

 private:
  static std::size_t bucket_of(std::uint64_t v);
  static std::uint64_t bucket_value(std::size_t b);
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  std::int64_t max_ = 0, min_ = 0;
};

}  // namespace e3::rt
