// The host<->SmartNIC link: queue pairs of lock-free SPSC byte rings in POSIX shared memory.
//
// What it owns: one shared-memory segment (shm_open + mmap) holding N queue pairs, like the DMA
// engines of a NIC. Each queue pair is two single-producer/single-consumer rings, one per
// direction, carrying variable-length messages (length-prefixed records). One process creates the
// segment (and unlinks it on close); one other process (or thread) attaches to it.
//
// Guarantees:
// - Order: messages on one queue pair and direction arrive in the order they were published.
// - No silent drops: a send that cannot be done (ring full, message too big, peer closed, corrupt
//   peer indices, timeout) returns a status and is counted in stats(); nothing is discarded
//   without a count.
// - Back-pressure: a full ring refuses try_send with status::full; send(…, timeout) waits.
// - A misbehaving peer cannot make this side read or write outside the segment: every length and
//   index read from shared memory is validated; a bad one is counted, reported (queue pair,
//   direction, byte position, value, reason: last_corruption()) and the ring is resynchronised
//   by skipping what the peer published.
// - Attach checks the segment's magic, layout version and sizes, with a clear error on mismatch.
//
// Thread-safety: per queue pair and direction, one thread at a time may send and one thread at a
// time may receive (the rings are SPSC); different queue pairs may be used from different threads
// concurrently. stats() and last_corruption() may be called from any thread. Creating, attaching,
// moving and closing an endpoint are not concurrent with anything else on it.
//
// Waiting: wait_readable / wait_writable / send spin for `spin` (create/attach option), then sleep
// on a futex doorbell in the shared segment, so an idle I/O thread costs no CPU. Senders only make
// a system call when the peer is actually asleep.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace e3::pcie {

/// Raised when a segment cannot be created or attached (system error, bad name, bad config,
/// magic/version/size mismatch), and on misuse (queue pair out of range, closed endpoint).
class pcie_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A received message: valid only during the callback that receives it (it points into the ring,
/// which the peer reuses afterwards). Copy it to keep it.
using message_view = std::span<const std::byte>;

/// The result of a send or receive operation.
enum class status : std::uint8_t {
  ok,         ///< done
  full,       ///< the ring has no room now (back-pressure); retry later or wait
  oversize,   ///< the message is larger than max_message(); it will never fit
  timeout,    ///< a blocking call's timeout passed first
  empty,      ///< nothing to receive
  corrupt,    ///< the peer wrote an invalid length or index; see last_corruption()
  closed,     ///< the peer (or this endpoint) has closed its end
};

/// A short name for `s` ("ok", "full", …) for messages and logs.
const char* to_string(status s) noexcept;

/// Sizes of a link, fixed by its creator.
struct link_config {
  /// Queue pairs (like the NIC's DMA engines), 1..1024.
  std::uint32_t queue_pairs = 8;
  /// Bytes of each ring (each direction of each queue pair); a power of two, 4 KiB..1 GiB.
  std::uint32_t ring_bytes = 1u << 20;
  /// Largest message payload; 0 means ring_bytes / 4. At most ring_bytes / 2 - 16 (so that a
  /// message always fits once the ring drains, whatever the wrap position).
  std::uint32_t max_message = 0;
};

/// Options of the creating side.
struct create_options {
  /// Remove an existing segment of the same name first (e.g. left by a crashed process);
  /// otherwise an existing name is an error.
  bool replace_existing = false;
  /// How long waits spin before sleeping on the doorbell.
  std::chrono::nanoseconds spin = std::chrono::microseconds(20);
};

/// Options of the attaching side.
struct attach_options {
  /// If set, its non-zero fields must equal the creator's, or attach fails with a clear error.
  std::optional<link_config> expect;
  /// Keep retrying this long while the segment does not exist yet or is not initialised.
  std::chrono::nanoseconds timeout = std::chrono::nanoseconds(0);
  /// How long waits spin before sleeping on the doorbell.
  std::chrono::nanoseconds spin = std::chrono::microseconds(20);
};

/// Which ring of a queue pair, seen from the segment (not from an endpoint).
enum class direction : std::uint8_t {
  creator_to_attacher = 0,  ///< written by the creator
  attacher_to_creator = 1,  ///< written by the attacher
};

/// Where and how the peer broke the ring protocol.
struct corruption {
  /// Queue pair of the ring.
  std::uint32_t queue_pair = 0;
  /// Ring direction.
  direction dir = direction::creator_to_attacher;
  /// Free-running byte index where the bad value was found (head for records, the index itself
  /// for a bad head/tail).
  std::uint64_t position = 0;
  /// position & (ring_bytes - 1): byte offset inside the ring's data.
  std::uint64_t ring_offset = 0;
  /// The offending value (record length, or head/tail index).
  std::uint64_t value = 0;
  /// What was wrong, in words.
  std::string reason;
  /// One line naming all of the above.
  std::string to_string() const;
};

/// Counters of the outgoing ring of one queue pair, as seen by this endpoint.
struct tx_stats {
  std::uint64_t messages = 0;  ///< messages published
  std::uint64_t bytes = 0;     ///< payload bytes published
  std::uint64_t publishes = 0; ///< tail publications (a batch counts once)
  std::uint64_t full = 0;      ///< messages refused by try_send/try_reserve/batch: ring full
  std::uint64_t oversize = 0;  ///< messages refused: larger than max_message
  std::uint64_t closed = 0;    ///< messages refused: peer closed
  std::uint64_t corrupt = 0;   ///< messages refused: the peer's head index was invalid
  std::uint64_t blocked = 0;   ///< blocking sends that had to wait for room
  std::uint64_t timeouts = 0;  ///< blocking sends that gave up (message not sent)
};

/// Counters of the incoming ring of one queue pair, as seen by this endpoint.
struct rx_stats {
  std::uint64_t messages = 0;       ///< messages delivered
  std::uint64_t bytes = 0;          ///< payload bytes delivered
  std::uint64_t corrupt = 0;        ///< protocol violations detected
  std::uint64_t skipped_bytes = 0;  ///< bytes discarded to resynchronise after a violation
};

/// Counters of one queue pair.
struct queue_stats {
  tx_stats tx;  ///< outgoing ring
  rx_stats rx;  ///< incoming ring
};

/// Counters of a whole endpoint.
struct link_stats {
  /// One entry per queue pair.
  std::vector<queue_stats> queues;
  /// The sum over all queue pairs.
  queue_stats total() const;
};

/// The result of a receive call: how many messages were delivered, and ok / empty / corrupt /
/// closed (closed only when nothing was delivered and the peer has closed its end).
struct recv_result {
  std::size_t messages = 0;  ///< messages handed to the callback
  status st = status::ok;    ///< ok if any were delivered
};

namespace detail {
/// A non-owning reference to a callable `void(uint32_t queue_pair, message_view)`.
class message_sink {
 public:
  /// Refers to `f`, which must outlive the sink.
  template <class F>
  explicit message_sink(F& f) noexcept
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, std::uint32_t q, message_view m) {
          auto& fn = *static_cast<F*>(o);
          if constexpr (std::is_invocable_v<F&, std::uint32_t, message_view>)
            fn(q, m);
          else
            fn(m);
        }) {}
  /// Calls the referred callable.
  void operator()(std::uint32_t q, message_view m) const { call_(obj_, q, m); }

 private:
  void* obj_;
  void (*call_)(void*, std::uint32_t, message_view);
};
}  // namespace detail

/// One end of a PCIe link. Movable, not copyable; closes on destruction.
class endpoint {
 public:
  /// Creates the segment `name` ("/name": a POSIX shm name) with `config` and returns the
  /// creator's end. Throws pcie_error (existing name, bad config, system error).
  static endpoint create(const std::string& name, const link_config& config = {},
                         const create_options& options = {});
  /// Attaches to the segment `name` made by another endpoint::create, checking its magic,
  /// version and sizes (and `options.expect`). Throws pcie_error naming the mismatch.
  static endpoint attach(const std::string& name, const attach_options& options = {});

  /// Moves the endpoint (the moved-from one may only be destroyed).
  endpoint(endpoint&&) noexcept;
  /// Moves the endpoint (the moved-from one may only be destroyed).
  endpoint& operator=(endpoint&&) noexcept;
  /// Closes (see close()).
  ~endpoint();

  /// Closes this end: marks it closed for the peer, wakes the peer's waiters, unmaps, and (on
  /// the creator) unlinks the name. Idempotent.
  void close() noexcept;

  /// The segment name.
  const std::string& name() const;
  /// True on the creating side.
  bool is_creator() const;
  /// Number of queue pairs.
  std::uint32_t queue_pairs() const;
  /// Bytes of each ring.
  std::uint32_t ring_bytes() const;
  /// Largest message payload.
  std::uint32_t max_message() const;
  /// True once the peer has closed its end (the attacher may re-attach later).
  bool peer_closed() const;
  /// True if a peer is attached (on the creator) / always true on the attacher.
  bool peer_attached() const;

  // --- sending (on this endpoint's outgoing ring of queue pair `qp`) ---

  /// Copies `msg` into the ring and publishes it. Never blocks: ok, full, oversize, closed or
  /// corrupt (the last four counted in stats()).
  status try_send(std::uint32_t qp, message_view msg);
  /// try_send for text.
  status try_send(std::uint32_t qp, std::string_view msg) {
    return try_send(qp, std::as_bytes(std::span(msg.data(), msg.size())));
  }
  /// Sends as many of `msgs` as fit, in order, publishing the tail once. Returns how many were
  /// sent; `why` (if given) receives the status that stopped it (ok if all were sent). The
  /// refused rest are counted in stats().
  std::size_t try_send_batch(std::uint32_t qp, std::span<const message_view> msgs,
                             status* why = nullptr);
  /// Sends `msg`, waiting up to `timeout` for room (spin, then sleep on the doorbell). Returns
  /// ok, timeout, oversize, closed or corrupt; refusals are counted.
  status send(std::uint32_t qp, message_view msg, std::chrono::nanoseconds timeout);
  /// Zero-copy send, part 1: reserves room for an `n`-byte message and returns where to write
  /// it. Nothing is visible to the peer until publish(qp); several reservations may be
  /// published at once. On refusal returns an empty span and sets `why` (counted).
  std::span<std::byte> try_reserve(std::uint32_t qp, std::size_t n, status* why = nullptr);
  /// Zero-copy send, part 2: makes every message reserved on `qp` since the last publish
  /// visible to the peer at once (one store and one doorbell check).
  void publish(std::uint32_t qp);

  // --- receiving (from this endpoint's incoming ring of queue pair `qp`) ---

  /// Hands up to `max` waiting messages of `qp`, in order, to `on_message(message_view)` (or
  /// `on_message(uint32_t qp, message_view)`), then frees their room in one store. Never blocks.
  /// If `on_message` throws, the message it threw on counts as consumed and the exception
  /// propagates.
  template <class F>
  recv_result poll(std::uint32_t qp, F&& on_message, std::size_t max = SIZE_MAX) {
    return poll_impl(qp, detail::message_sink(on_message), max);
  }
  /// poll() over every queue pair in turn (up to `max_per_queue` each); `on_message` is called
  /// as `on_message(uint32_t qp, message_view)` or `on_message(message_view)`.
  template <class F>
  recv_result poll_all(F&& on_message, std::size_t max_per_queue = SIZE_MAX) {
    return poll_all_impl(detail::message_sink(on_message), max_per_queue);
  }
  /// Copies the next message of `qp` into `out`: ok, empty, corrupt or closed.
  status try_receive(std::uint32_t qp, std::vector<std::byte>& out);
  /// True if `qp`'s incoming ring has something to read.
  bool readable(std::uint32_t qp) const;

  // --- waiting ---

  /// Waits up to `timeout` until any incoming ring has data: ok, timeout, or closed (peer
  /// closed and nothing left to read). Spins first, then sleeps on this side's doorbell.
  status wait_readable(std::chrono::nanoseconds timeout);
  /// wait_readable for one queue pair.
  status wait_readable(std::uint32_t qp, std::chrono::nanoseconds timeout);
  /// Waits up to `timeout` until `qp`'s outgoing ring has room for an `n`-byte message: ok,
  /// timeout, oversize, closed or corrupt.
  status wait_writable(std::uint32_t qp, std::size_t n, std::chrono::nanoseconds timeout);

  // --- observation ---

  /// A snapshot of every counter.
  link_stats stats() const;
  /// The most recent protocol violation by the peer, if any.
  std::optional<corruption> last_corruption() const;

  /// The implementation (private to transport_pcie.cpp).
  struct impl;

 private:
  explicit endpoint(std::unique_ptr<impl> p) noexcept;
  recv_result poll_impl(std::uint32_t qp, detail::message_sink sink, std::size_t max);
  recv_result poll_all_impl(detail::message_sink sink, std::size_t max_per_queue);
  std::unique_ptr<impl> impl_;
};

}  // namespace e3::pcie
