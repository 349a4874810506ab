// Emulated cores, lateness, and CPU time measurement.
#include "actors/emulation.hpp"

#include <time.h>

#include <algorithm>
#include <stdexcept>

namespace e3::rt {

core_model::core_model(int cores) : q_(cores) {}

slot core_model::run(std::int64_t arrival, std::int64_t service) {
  std::lock_guard g(m_);
  auto s = q_.run(arrival, service);
  return {s.core, s.start_ns, s.end_ns};
}

std::int64_t core_model::busy_ns() const {
  std::lock_guard g(m_);
  return q_.busy_ns();
}

std::int64_t core_model::backlog_ns(std::int64_t now) const {
  std::lock_guard g(m_);
  return q_.backlog_ns(now);
}

std::int64_t core_model::max_backlog_ns() const {
  std::lock_guard g(m_);
  return q_.max_backlog_ns();
}

int core_model::cores() const {
  std::lock_guard g(m_);
  return q_.cores();
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
