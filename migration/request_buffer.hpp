// The buffer that holds a migrating instance's requests from the moment it stops until it runs
// again (at its destination, or back at its source after a rollback), then delivers them in
// arrival order: none lost, none duplicated, order kept per key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

#include "topology/cluster.hpp"

namespace e3::mig {

/// What the runtime must do with a request it offered to a request_buffer.
enum class admit : std::uint8_t {
  deliver,   ///< the buffer is not holding: deliver the request as usual (it was not taken)
  buffered,  ///< taken; it will be delivered by release() (or handed to fail())
  forward,   ///< the buffer was released: deliver it to forward_to() (it was not taken)
  overflow,  ///< the buffer is full: not taken; the runtime must report the request lost (counted here)
  refused,   ///< the buffer failed (the instance is down): not taken; report it lost
};

/// Where a request_buffer is in its life.
enum class buffer_state : std::uint8_t {
  passthrough,  ///< not holding yet: requests go their usual way
  holding,      ///< the instance is stopped: requests are kept
  released,     ///< delivered; later arrivals are forwarded to the new location
  failed,       ///< the migration failed and the instance is not running anywhere
};

/// Holds one migrating instance's requests. It lives where every request for the instance
/// arrives while it is stopped — the old location, which all routers still point to until the
/// migration is done — so one FIFO sees every request in the order it arrived.
///
/// Order: release() delivers first the requests the stopped instance handed back unprocessed
/// (push_returned, in the order given: they arrived before the hold began), then the requests
/// that arrived during the hold, in arrival order. Since each group is FIFO and every returned
/// request arrived before every held one, the order of requests with the same key is kept.
/// After release() the runtime forwards late arrivals to forward_to() itself, synchronously in
/// the same handler, so they follow the released ones on the same link.
///
/// Nothing is dropped silently: an offer the buffer does not take says why (admit), and
/// overflows are counted. T is the runtime's message type (movable). Not thread-safe: it belongs
/// to one actor.
template <class T>
class request_buffer {
 public:
  /// A buffer that takes at most `capacity` requests (default 1 M) before it overflows.
  explicit request_buffer(std::size_t capacity = std::size_t(1) << 20) : capacity_(capacity) {}

  /// Starts holding (the state machine's hold_requests action). Only from passthrough.
  /// Returns false (and does nothing) in any other state.
  bool hold() {
    if (state_ != buffer_state::passthrough)
      return false;
    state_ = buffer_state::holding;
    return true;
  }

  /// Offers a request that arrived for the instance. Takes it (moves from `m`) only when the
  /// answer is admit::buffered; otherwise `m` is untouched and the answer says what to do.
  admit offer(T&& m) {
    switch (state_) {
      case buffer_state::passthrough: return admit::deliver;
      case buffer_state::released: return admit::forward;
      case buffer_state::failed: return admit::refused;
      case buffer_state::holding: break;
    }
    if (size() >= capacity_) {
      ++overflowed_;
      return admit::overflow;
    }
    held_.push_back(std::move(m));
    ++buffered_;
    peak_ = std::max(peak_, size());
    return admit::buffered;
  }

  /// Hands back a request the stopped instance had received but not processed (its mailbox at
  /// stop time), in the order it received them. These go ahead of everything offer()ed.
  /// Same answers as offer().
  admit push_returned(T&& m) {
    if (state_ != buffer_state::holding)
      return offer(std::move(m));
    if (size() >= capacity_) {
      ++overflowed_;
      return admit::overflow;
    }
    returned_.push_back(std::move(m));
    ++returned_count_;
    peak_ = std::max(peak_, size());
    return admit::buffered;
  }

  /// Delivers every held request to `deliver(T&&)` in order (returned first, then arrivals) and
  /// switches to forwarding to `to` (the state machine's release_requests action). Returns how
  /// many were delivered; 0 and nothing done unless holding.
  template <class F>
  std::size_t release(topo::node_id to, F&& deliver) {
    if (state_ != buffer_state::holding)
      return 0;
    std::size_t n = drain(deliver);
    delivered_ += n;
    state_ = buffer_state::released;
    to_ = to;
    return n;
  }

  /// Hands every held request to `lost(T&&)`, in order, so the runtime reports each one lost to
  /// its client (the fail_requests action: the instance could not be restarted anywhere).
  /// Later offers are refused. Returns how many.
  template <class F>
  std::size_t fail(F&& lost) {
    if (state_ != buffer_state::holding && state_ != buffer_state::passthrough)
      return 0;
    std::size_t n = drain(lost);
    failed_ += n;
    state_ = buffer_state::failed;
    return n;
  }

  /// Where released() requests go now.
  topo::node_id forward_to() const { return to_; }
  /// The current state.
  buffer_state state() const { return state_; }
  /// Requests held now.
  std::size_t size() const { return returned_.size() + held_.size(); }
  /// Requests taken by offer() so far.
  std::uint64_t buffered() const { return buffered_; }
  /// Requests taken by push_returned() so far.
  std::uint64_t returned() const { return returned_count_; }
  /// Requests delivered by release().
  std::uint64_t delivered() const { return delivered_; }
  /// Requests handed to fail().
  std::uint64_t failed() const { return failed_; }
  /// Offers refused because the buffer was full.
  std::uint64_t overflowed() const { return overflowed_; }
  /// Most requests held at once.
  std::size_t peak() const { return peak_; }

 private:
  template <class F>
  std::size_t drain(F& f) {
    std::size_t n = 0;
    for (auto* q : {&returned_, &held_}) {
      while (!q->empty()) {
        T m = std::move(q->front());
        q->pop_front();
        f(std::move(m));
        ++n;
      }
    }
    return n;
  }

  std::size_t capacity_;
  buffer_state state_ = buffer_state::passthrough;
  std::deque<T> returned_, held_;
  topo::node_id to_ = 0;
  std::uint64_t buffered_ = 0, returned_count_ = 0, delivered_ = 0, failed_ = 0, overflowed_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace e3::mig
