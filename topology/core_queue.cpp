// The cores of a compute node as a round-robin, work-conserving booking schedule with gap filling.
#include "topology/core_queue.hpp"

#include <algorithm>
#include <limits>

namespace e3::topo {

core_queue::core_queue(int cores) : cores_(std::size_t(std::max(1, cores))) {}

std::int64_t core_queue::earliest_fit(const core& c, std::int64_t arrival, std::int64_t service) {
  std::int64_t t = std::max(arrival, c.floor);
  for (const auto& iv : c.booked) {
    if (iv.end <= t)
      continue;
    if (iv.start >= t + service)
      return t;
    t = iv.end;
  }
  return t;
}

core_slot core_queue::run(std::int64_t arrival, std::int64_t service) {
  service = std::max<std::int64_t>(service, 0);
  // Round robin over the cores, work-conserving (§3): the next core in round-robin order that is
  // idle at the arrival, or, when every core is busy then, the one that can take it first.
  std::size_t n = cores_.size(), pick = n;
  std::int64_t best = std::numeric_limits<std::int64_t>::max();
  for (std::size_t k = 0, c = next_; k < n; ++k, c = c + 1 == n ? 0 : c + 1) {
    auto start = earliest_fit(cores_[c], arrival, service);
    if (start == arrival) {
      pick = c;
      best = start;
      break;
    }
    if (start < best) {
      best = start;
      pick = c;
    }
  }
  next_ = pick + 1 == n ? 0 : pick + 1;
  auto& c = cores_[pick];
  core_slot s{int(pick), best, best + service};
  auto at = std::upper_bound(c.booked.begin(), c.booked.end(), s.start_ns,
                             [](std::int64_t v, const interval& iv) { return v < iv.start; });
  c.booked.insert(at, interval{s.start_ns, s.end_ns});
  if (c.booked.size() > max_intervals) {  // fold the oldest into the floor
    c.floor = std::max(c.floor, c.booked.front().end);
    c.booked.erase(c.booked.begin());
  }
  max_backlog_ = std::max(max_backlog_, s.start_ns - arrival);
  wait_ += s.start_ns - arrival;
  ++bookings_;
  busy_ += service;
  return s;
}

std::int64_t core_queue::backlog_ns(std::int64_t now) const {
  std::int64_t best = std::numeric_limits<std::int64_t>::max();
  for (const auto& c : cores_)
    best = std::min(best, earliest_fit(c, now, 1));
  return std::max<std::int64_t>(0, best - now);
}

std::int64_t core_queue::booked_after(std::int64_t t) const {
  std::int64_t s = 0;
  for (const auto& c : cores_)
    for (const auto& iv : c.booked)
      s += std::max<std::int64_t>(0, iv.end - std::max(iv.start, t));
  return s;
}

}  // namespace e3::topo
