// The log-linear histogram: values below 2048 exact; above, 1024 linear buckets per power of two.
#include "actors/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace e3::rt {
namespace {
constexpr int sub_bits = 11;                       // 1024 buckets per octave: < 0.1 % relative error
constexpr std::uint64_t sub = 1ull << sub_bits;
constexpr int max_exp = 42;                        // up to 2^53 ns (~104 days)
}  // namespace

histogram::histogram() : buckets_(std::size_t((max_exp + 1) * sub), 0) {}

std::size_t histogram::bucket_of(std::uint64_t v) {
  if (v < sub)
    return std::size_t(v);
  int e = std::bit_width(v) - sub_bits;  // ≥ 1
  if (e > max_exp)
    return std::size_t((max_exp + 1) * sub - 1);
  return std::size_t(std::uint64_t(e) * sub + (v >> e));  // v >> e lies in [sub/2, sub)
}

std::uint64_t histogram::bucket_value(std::size_t b) {
  if (b < sub)
    return b;
  std::uint64_t e = b / sub;
  std::uint64_t m = b % sub;
  return (m << e) + ((1ull << e) >> 1);  // the bucket's midpoint
}

void histogram::record(std::int64_t v) {
  if (v < 0)
    v = 0;
  auto b = bucket_of(std::uint64_t(v));
  ++buckets_[b];
  if (count_ == 0) {
    min_ = max_ = v;
  } else {
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  ++count_;
  sum_ += double(v);
}

void histogram::merge(const histogram& o) {
  if (o.count_ == 0)
    return;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i] += o.buckets_[i];
  min_ = count_ ? std::min(min_, o.min_) : o.min_;
  max_ = count_ ? std::max(max_, o.max_) : o.max_;
  count_ += o.count_;
  sum_ += o.sum_;
}

std::int64_t histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = std::uint64_t(std::ceil(q * double(count_)));
  if (rank == 0)
    rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank)
      return std::clamp<std::int64_t>(std::int64_t(bucket_value(b)), min_, max_);
  }
  return max_;
}

}  // namespace e3::rt
