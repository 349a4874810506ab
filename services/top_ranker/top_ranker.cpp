// Top-K over tumbling windows: Hoare partitioning, partial quicksort, quickselect, and the
// windowed aggregation on a flat hash map.
#include "services/top_ranker/top_ranker.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>

namespace e3::services::top_ranker {
namespace {

constexpr std::ptrdiff_t small_range = 16;

struct xorshift {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void insertion_sort(entry* a, std::ptrdiff_t n) {
  for (std::ptrdiff_t i = 1; i < n; ++i) {
    entry x = a[i];
    std::ptrdiff_t j = i;
    for (; j > 0 && ranks_before(x, a[j - 1]); --j)
      a[j] = a[j - 1];
    a[j] = x;
  }
}

// Hoare partition of a[lo, hi), hi - lo >= 2, around a randomly drawn pivot moved to a[lo].
// Returns m, lo < m < hi: nothing in [lo, m) ranks after anything in [m, hi).
std::ptrdiff_t partition(entry* a, std::ptrdiff_t lo, std::ptrdiff_t hi, xorshift& rng) {
  std::ptrdiff_t p = lo + static_cast<std::ptrdiff_t>(rng.next() % std::uint64_t(hi - lo));
  std::swap(a[lo], a[p]);
  const entry pivot = a[lo];
  std::ptrdiff_t i = lo - 1, j = hi;
  for (;;) {
    do
      ++i;
    while (ranks_before(a[i], pivot));
    do
      --j;
    while (ranks_before(pivot, a[j]));
    if (i >= j)
      return j + 1;
    std::swap(a[i], a[j]);
  }
}

void pqs(entry* a, std::ptrdiff_t lo, std::ptrdiff_t hi, std::ptrdiff_t k, xorshift& rng) {
  while (hi - lo > small_range) {
    if (lo >= k)
      return;  // nothing here belongs to the top k
    std::ptrdiff_t m = partition(a, lo, hi, rng);
    if (m - lo < hi - m) {
      pqs(a, lo, m, k, rng);
      lo = m;
    } else {
      if (m < k)
        pqs(a, m, hi, k, rng);
      hi = m;
    }
  }
  if (lo < k)
    insertion_sort(a + lo, hi - lo);
}

// Floyd and Rivest's sampling step (CACM 1975), for k much smaller than n: picks from a seeded
// random sample the element whose rank in the sample puts it, with overwhelming probability, just
// below the k-th best of the whole array, then moves everything ranking at or above it to the
// front in one pass (a branch that is rarely taken). Returns the size c of that front part, which
// then holds the top k whenever c >= k; returns n when the step does not apply (small arrays,
// large k) or, rarely, when the sample put the pivot above the k-th (the caller then works on
// the whole array, which is still a permutation of the input).
std::ptrdiff_t sample_prefilter(entry* a, std::ptrdiff_t n, std::ptrdiff_t k, xorshift& rng) {
  if (n < 2048 || k > n / 8)
    return n;
  auto s = static_cast<std::ptrdiff_t>(std::clamp(0.5 * std::cbrt(double(n) * double(n)), 64.0, double(n) / 4));
  thread_local std::vector<entry> sample;
  sample.resize(std::size_t(s));
  for (auto& e : sample)
    e = a[rng.next() % std::uint64_t(n)];
  // The pivot's sample rank: mean number of sampled top-(k-1) elements plus a 3-sigma margin.
  double mu = double(s) * double(k - 1) / double(n);
  auto r = std::min<std::ptrdiff_t>(s - 1, static_cast<std::ptrdiff_t>(mu + 3 * std::sqrt(mu) + 3));
  quickselect(sample, std::size_t(r) + 1, rng.next());
  entry pivot = sample[0];
  for (std::ptrdiff_t i = 1; i <= r; ++i)
    if (ranks_before(pivot, sample[std::size_t(i)]))
      pivot = sample[std::size_t(i)];
  std::ptrdiff_t c = 0;
  for (std::ptrdiff_t i = 0; i < n; ++i)
    if (!ranks_before(pivot, a[i]))
      std::swap(a[i], a[c++]);
  return c >= k ? c : n;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

void partial_quicksort(std::span<entry> v, std::size_t k, std::uint64_t seed) {
  xorshift rng{seed ? seed : 1};
  auto n = static_cast<std::ptrdiff_t>(v.size());
  auto kk = static_cast<std::ptrdiff_t>(std::min<std::size_t>(k, v.size()));
  if (kk == 0)
    return;
  n = sample_prefilter(v.data(), n, kk, rng);
  pqs(v.data(), 0, n, kk, rng);
}

void quickselect(std::span<entry> v, std::size_t k, std::uint64_t seed) {
  if (k == 0 || k >= v.size())
    return;
  xorshift rng{seed ? seed : 1};
  entry* a = v.data();
  std::ptrdiff_t kk = static_cast<std::ptrdiff_t>(k);
  std::ptrdiff_t lo = 0, hi = sample_prefilter(a, static_cast<std::ptrdiff_t>(v.size()), kk, rng);
  if (hi == kk)
    return;
  // Invariant: [0, lo) ranks before [lo, n), [0, hi) before [hi, n), and lo <= k <= hi.
  while (hi - lo > small_range) {
    std::ptrdiff_t m = partition(a, lo, hi, rng);
    if (kk < m)
      hi = m;
    else if (kk > m)
      lo = m;
    else
      return;
  }
  insertion_sort(a + lo, hi - lo);
}

bool parse_aggregate(std::string_view s, aggregate& out) {
  if (s == "sum")
    out = aggregate::sum;
  else if (s == "max")
    out = aggregate::max;
  else if (s == "last")
    out = aggregate::last;
  else if (s == "count")
    out = aggregate::count;
  else
    return false;
  return true;
}

ranker::ranker(options opt) : opt_(opt) {
  if (opt_.k == 0)
    opt_.k = 1;
  if (opt_.window_ns < 0)
    opt_.window_ns = 0;
  rehash(64);
}

void ranker::rehash(std::size_t capacity) {
  slots_.assign(capacity, slot{0, 0, 0});
  gen_ = 1;
  shift_ = 64 - std::countr_zero(capacity);
  for (std::uint32_t i = 0; i < entries_.size(); ++i) {
    std::size_t h = (entries_[i].key * 0x9e3779b97f4a7c15ull) >> shift_;
    while (slots_[h].gen == gen_)
      h = (h + 1) & (capacity - 1);
    slots_[h] = {entries_[i].key, i, gen_};
  }
}

std::uint32_t ranker::find(std::uint64_t key) const {
  std::size_t mask = slots_.size() - 1;
  for (std::size_t h = (key * 0x9e3779b97f4a7c15ull) >> shift_;; h = (h + 1) & mask) {
    const slot& s = slots_[h];
    if (s.gen != gen_)
      return not_found;
    if (s.key == key)
      return s.index;
  }
}

std::uint32_t ranker::find_or_insert(std::uint64_t key, bool& inserted) {
  if ((entries_.size() + 1) * 2 > slots_.size())
    rehash(slots_.size() * 2);
  std::size_t mask = slots_.size() - 1;
  std::size_t h = (key * 0x9e3779b97f4a7c15ull) >> shift_;
  for (;; h = (h + 1) & mask) {
    slot& s = slots_[h];
    if (s.gen != gen_) {
      s = {key, static_cast<std::uint32_t>(entries_.size()), gen_};
      entries_.push_back({key, 0});
      dirty_flag_.push_back(0);
      inserted = true;
      return s.index;
    }
    if (s.key == key) {
      inserted = false;
      return s.index;
    }
  }
}

bool ranker::add(std::uint64_t key, double value, std::int64_t ts_ns) {
  if (std::isnan(value))
    return false;
  bool time_close = false;
  std::int64_t period = 0;
  if (opt_.window_ns > 0) {
    period = floor_div(ts_ns, opt_.window_ns);
    time_close = state_.records > 0 && period > state_.period;
  }
  auto combine = [&](double old) {
    switch (opt_.agg) {
      case aggregate::sum:
        return old + value;
      case aggregate::max:
        return std::max(old, value);
      case aggregate::last:
        return value;
      case aggregate::count:
        break;
    }
    return old + 1;
  };
  if (!time_close && opt_.agg == aggregate::sum && std::isinf(value)) {
    // +inf + -inf would be NaN: refuse before changing anything.
    auto i = find(key);
    if (i != not_found && std::isnan(combine(entries_[i].score)))
      return false;
  }
  if (time_close)
    close();
  if (state_.records == 0) {
    state_.period = period;
    state_.first_ts = ts_ns;
  }
  bool inserted = false;
  auto i = find_or_insert(key, inserted);
  entries_[i].score = inserted ? (opt_.agg == aggregate::count ? 1.0 : value) : combine(entries_[i].score);
  if (!dirty_flag_[i]) {
    dirty_flag_[i] = 1;
    dirty_.push_back(i);
  }
  ++state_.records;
  state_.last_ts = ts_ns;
  if (opt_.window_records && state_.records >= opt_.window_records)
    close();
  return true;
}

void ranker::close() {
  if (state_.records == 0)
    return;
  finish_window();
}

void ranker::finish_window() {
  window_result r;
  r.seq = state_.seq;
  r.first_ts = state_.first_ts;
  r.last_ts = state_.last_ts;
  r.records = state_.records;
  r.items = entries_.size();
  std::size_t k = std::min(opt_.k, entries_.size());
  if (opt_.algo == algorithm::partial_quicksort) {
    partial_quicksort(entries_, k);
  } else {
    quickselect(entries_, k);
    partial_quicksort(std::span<entry>(entries_).first(k), k);
  }
  r.top.assign(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(k));
  closed_.push_back(std::move(r));

  entries_.clear();
  dirty_flag_.clear();
  dirty_.clear();
  if (++gen_ == 0)
    rehash(slots_.size());
  state_ = window_state{state_.seq + 1, 0, 0, 0, 0};
  reset_since_take_ = true;
}

void ranker::restore(const window_state& s, std::span<const entry> items) {
  state_ = s;
  entries_.clear();
  dirty_flag_.clear();
  dirty_.clear();
  rehash(std::bit_ceil(std::max<std::size_t>(64, items.size() * 2 + 2)));
  for (const auto& e : items) {
    bool ins = false;
    auto i = find_or_insert(e.key, ins);
    entries_[i].score = e.score;
  }
  reset_since_take_ = false;
}

bool ranker::take_changes(std::vector<entry>& changed) {
  changed.clear();
  for (auto i : dirty_) {
    changed.push_back(entries_[i]);
    dirty_flag_[i] = 0;
  }
  dirty_.clear();
  bool reset = reset_since_take_;
  reset_since_take_ = false;
  return reset;
}

}  // namespace e3::services::top_ranker
