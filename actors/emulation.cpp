// Emulated cores, lateness, and CPU time measurement.
#include "actors/emulation.hpp"

#include <time.h>

#include <algorithm>
#include <stdexcept>

namespace e3::rt {

core_model::core_model(int cores) : free_at_(std::size_t(std::max(1, cores)), 0) {}

slot core_model::run(std::int64_t arrival, std::int64_t service) {
  std::lock_guard g(m_);
  // Round robin over the cores, work-conserving (§3): the next idle core in round-robin order,
  // or, when every core is busy, the one that frees first.
  std::size_t n = free_at_.size(), pick = n;
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t c = (next_ + k) % n;
    if (free_at_[c] <= arrival) {
      pick = c;
      break;
    }
  }
  if (pick == n)
    pick = std::size_t(std::min_element(free_at_.begin(), free_at_.end()) - free_at_.begin());
  next_ = (pick + 1) % n;
  slot s;
  s.core = int(pick);
  auto& f = free_at_[pick];
  s.start_ns = std::max(arrival, f);
  s.end_ns = s.start_ns + std::max<std::int64_t>(service, 0);
  max_backlog_ = std::max(max_backlog_, s.start_ns - arrival);
  f = s.end_ns;
  busy_ += s.end_ns - s.start_ns;
  return s;
}

std::int64_t core_model::busy_ns() const {
  std::lock_guard g(m_);
  return busy_;
}

std::int64_t core_model::backlog_ns(std::int64_t now) const {
  std::lock_guard g(m_);
  auto f = *std::min_element(free_at_.begin(), free_at_.end());
  return std::max<std::int64_t>(0, f - now);
}

std::int64_t core_model::max_backlog_ns() const {
  std::lock_guard g(m_);
  return max_backlog_;
}

void lateness_meter::record(std::int64_t due, std::int64_t now) {
  std::int64_t late = std::max<std::int64_t>(0, now - due);
  std::lock_guard g(m_);
  ++n_;
  sum_ += double(late);
  max_ = std::max(max_, late);
  // A deterministic bounded sample: every message until 64 K, then every 16th.
  if (samples_.size() < (1u << 16) || n_ % 16 == 0) {
    if (samples_.size() < (1u << 17))
      samples_.push_back(late);
    else
      samples_[n_ % samples_.size()] = late;
  }
}

std::uint64_t lateness_meter::count() const {
  std::lock_guard g(m_);
  return n_;
}

std::uint64_t lateness_meter::late(std::int64_t threshold) const {
  std::lock_guard g(m_);
  if (samples_.empty())
    return 0;
  auto over = std::count_if(samples_.begin(), samples_.end(), [&](std::int64_t x) { return x > threshold; });
  return std::uint64_t(double(over) / double(samples_.size()) * double(n_) + 0.5);
}

std::int64_t lateness_meter::max_ns() const {
  std::lock_guard g(m_);
  return max_;
}

double lateness_meter::mean_ns() const {
  std::lock_guard g(m_);
  return n_ ? sum_ / double(n_) : 0;
}

namespace {
std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

cpu_stopwatch::cpu_stopwatch() : start_(thread_cpu_ns()) {}

std::int64_t cpu_stopwatch::elapsed_ns() const { return thread_cpu_ns() - start_; }

}  // namespace e3::rt
