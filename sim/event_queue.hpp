// The simulator's event queue: events ordered by time, ties broken by the order they were
// scheduled, so a run is a deterministic function of its inputs.
#pragma once

#include <cstdint>
#include <vector>

namespace e3::sim {

/// One scheduled event: a time, a sequence number, and a small payload the simulator interprets.
struct event {
  std::int64_t at_ns = 0;   ///< simulated time it happens
  std::uint64_t seq = 0;    ///< scheduling order (tie-break: earlier scheduled first)
  std::uint32_t kind = 0;   ///< what happens (the simulator's enumeration)
  std::uint32_t node = 0;   ///< where
  std::uint32_t a = 0;      ///< first argument (e.g. an instance)
  std::uint32_t b = 0;      ///< second argument (e.g. a request slot)
};

/// A min-heap of events by (time, scheduling order): events at the same simulated time pop in the
/// order they were pushed (FIFO), whatever the heap's internal layout. A 4-ary heap, so a pop
/// touches fewer cache lines than a binary one.
class event_queue {
 public:
  /// Schedules `e` (its seq is assigned here).
  void push(event e) {
    e.seq = seq_++;
    heap_.push_back(e);
    sift_up(heap_.size() - 1);
  }
  /// True when nothing is scheduled.
  bool empty() const { return heap_.empty(); }
  /// Events scheduled now.
  std::size_t size() const { return heap_.size(); }
  /// The earliest event (the queue must not be empty).
  const event& top() const { return heap_.front(); }
  /// Removes and returns the earliest event (the queue must not be empty).
  event pop() {
    event e = heap_.front();
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty())
      sift_down(0);
    return e;
  }
  /// Events ever scheduled.
  std::uint64_t scheduled() const { return seq_; }

 private:
  static bool before(const event& x, const event& y) {
    return x.at_ns < y.at_ns || (x.at_ns == y.at_ns && x.seq < y.seq);
  }
  void sift_up(std::size_t i) {
    event e = heap_[i];
    while (i > 0) {
      std::size_t p = (i - 1) / 4;
      if (!before(e, heap_[p]))
        break;
      heap_[i] = heap_[p];
      i = p;
    }
    heap_[i] = e;
  }
  void sift_down(std::size_t i) {
    event e = heap_[i];
    std::size_t n = heap_.size();
    for (;;) {
      std::size_t c = 4 * i + 1;
      if (c >= n)
        break;
      std::size_t best = c;
      std::size_t end = c + 4 < n ? c + 4 : n;
      for (std::size_t k = c + 1; k < end; ++k)
        if (before(heap_[k], heap_[best]))
          best = k;
      if (!before(heap_[best], e))
        break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = e;
  }

  std::vector<event> heap_;
  std::uint64_t seq_ = 0;
};

}  // namespace e3::sim
