// The cores of a compute node as a round-robin, work-conserving booking schedule.
#include "topology/core_queue.hpp"

#include <algorithm>

namespace e3::topo {

core_queue::core_queue(int cores) : free_at_(std::size_t(std::max(1, cores)), 0) {}

core_slot core_queue::run(std::int64_t arrival, std::int64_t service) {
  // Round robin over the cores, work-conserving (§3): the next idle core in round-robin order,
  // or, when every core is busy, the one that frees first.
  std::size_t n = free_at_.size(), pick = n;
  for (std::size_t k = 0, c = next_; k < n; ++k, c = c + 1 == n ? 0 : c + 1) {
    if (free_at_[c] <= arrival) {
      pick = c;
      break;
    }
  }
  if (pick == n)
    pick = std::size_t(std::min_element(free_at_.begin(), free_at_.end()) - free_at_.begin());
  next_ = pick + 1 == n ? 0 : pick + 1;
  core_slot s;
  s.core = int(pick);
  auto& f = free_at_[pick];
  s.start_ns = std::max(arrival, f);
  s.end_ns = s.start_ns + std::max<std::int64_t>(service, 0);
  max_backlog_ = std::max(max_backlog_, s.start_ns - arrival);
  wait_ += s.start_ns - arrival;
  ++bookings_;
  f = s.end_ns;
  busy_ += s.end_ns - s.start_ns;
  return s;
}

std::int64_t core_queue::backlog_ns(std::int64_t now) const {
  auto f = *std::min_element(free_at_.begin(), free_at_.end());
  return std::max<std::int64_t>(0, f - now);
}

std::int64_t core_queue::booked_after(std::int64_t t) const {
  std::int64_t s = 0;
  for (auto f : free_at_)
    s += std::max<std::int64_t>(0, f - t);
  return s;
}

}  // namespace e3::topo
