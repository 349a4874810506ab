// The ToR link between hosts: ZeroMQ DEALER/ROUTER over TCP (inproc inside one process), with
// node identities, optional CURVE authentication, acknowledgements and resend across restarts.
//
// What it owns: a `router` endpoint binds and talks to many peers, each addressed by its node
// identity (a string); a `dealer` endpoint connects to one router under its own identity. Messages
// are byte strings. On the wire each message is one frame: a 48-byte header (magic, version, type,
// the sender's incarnation, sequence number, oldest unacknowledged sequence number, and a
// piggybacked cumulative acknowledgement) followed by the payload.
//
// Guarantees:
// - Order: messages between two endpoints arrive in the order they were sent, without duplicates,
//   while neither restarts.
// - Nothing is lost silently. A sent message stays in a per-peer window until the peer
//   acknowledges it. When a connection breaks, unacknowledged messages are sent again after the
//   reconnect (to the same peer, or to its restarted successor under the same identity, so across
//   a restart delivery is at-least-once). A message that cannot be delivered is refused with a
//   status and counted: `unroutable` (router: unknown peer, or peer not connected now),
//   `would_block` (the peer's window is full: back-pressure), `oversize`; and messages still
//   unacknowledged when an endpoint closes or calls fail_pending() are counted as `failed`.
// - Back-pressure: at most `window` unacknowledged messages per peer; beyond that try_send returns
//   would_block (counted) and send(…, timeout) waits.
// - A dealer reconnects by itself after its router restarts (and a router accepts a restarted
//   dealer under the same identity: ZMQ_ROUTER_HANDOVER); messages sent by a dealer while its
//   router is away are kept (up to the window) and delivered after the reconnect.
// - CURVE (optional): a router with a server key pair only talks to dealers that know its public
//   key; handshake failures are counted.
// - Malformed frames (wrong size, magic, version or type, unexpected parts) are counted and
//   dropped; they never crash the process.
//
// Acknowledgements travel inside outgoing data; when there is none, an endpoint sends a small ack
// every `ack_every` messages or `ack_delay` after the first unacknowledged one, from poll() and
// wait(). So an endpoint must be polled (or waited on) regularly, also by a process that only
// sends.
//
// Thread-safety: an endpoint is used by one thread at a time (a ZeroMQ socket is not thread-safe);
// stats() may be read from any thread. A `context` must outlive its endpoints, and must be
// destroyed before the process exits (else its last messages are lost).
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

namespace e3::zmq_link {

/// Raised when an endpoint cannot be set up (bad identity or key, bind/connect failure) and on
/// misuse of a closed endpoint.
class zmq_link_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A received message: valid only during the callback that receives it.
using message_view = std::span<const std::byte>;

/// The result of a send.
enum class status : std::uint8_t {
  ok,           ///< accepted: it will be delivered or, at worst, counted as failed
  would_block,  ///< the peer's window is full (back-pressure); retry later
  unroutable,   ///< router: no such peer, or the peer is not connected now
  oversize,     ///< larger than max_message
  timeout,      ///< a blocking call's timeout passed first
  closed,       ///< the endpoint is closed
};

/// A short name for `s` ("ok", "would_block", …).
const char* to_string(status s) noexcept;

/// True if this libzmq supports CURVE (zmq_has("curve")).
bool curve_available();

/// A CURVE key pair, each key in Z85 text (40 characters).
struct curve_keypair {
  std::string public_key;  ///< give to peers
  std::string secret_key;  ///< keep
  /// A fresh random key pair. Throws zmq_link_error if CURVE is unavailable.
  static curve_keypair generate();
  /// The key pair of a known secret key.
  static curve_keypair from_secret(const std::string& secret_key);
};

/// The ZeroMQ context endpoints live in (its I/O threads). Destroy it after every endpoint made
/// from it has closed, and before the process exits.
class context {
 public:
  /// A context with `io_threads` I/O threads.
  explicit context(int io_threads = 1);
  /// Terminates ZeroMQ: blocks until every socket made from it has closed and lingered.
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;
  /// The libzmq context (void* for zmq_socket), for sockets of the caller's own.
  void* native_handle() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Options common to both endpoint kinds.
struct endpoint_options {
  /// This node's identity: 1..255 bytes, not starting with a zero byte. A dealer is addressed by
  /// it; a router uses it in logs.
  std::string identity;
  /// Unacknowledged messages per peer before try_send returns would_block.
  std::size_t window = 2000;
  /// Send a standalone ack after this many messages received without sending anything back.
  std::size_t ack_every = 256;
  /// … or this long after the first of them.
  std::chrono::microseconds ack_delay = std::chrono::milliseconds(1);
  /// Largest payload, both ways (ZMQ_MAXMSGSIZE protects the receiver).
  std::size_t max_message = 64u << 20;
  /// close() waits this long for outstanding acknowledgements before counting them as failed.
  std::chrono::milliseconds close_timeout = std::chrono::milliseconds(500);
  /// ZMTP heartbeats: a silent peer is declared disconnected after `heartbeat_timeout`.
  std::chrono::milliseconds heartbeat_interval = std::chrono::milliseconds(1000);
  /// See heartbeat_interval.
  std::chrono::milliseconds heartbeat_timeout = std::chrono::milliseconds(5000);
};

/// Options of a router (the side that binds).
struct router_options : endpoint_options {
  /// Endpoints to bind, e.g. "tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "inproc://name".
  std::vector<std::string> bind;
  /// With a key pair, the router is a CURVE server: only dealers that know its public key talk.
  std::optional<curve_keypair> curve_server;
};

/// Options of a dealer (the side that connects).
struct dealer_options : endpoint_options {
  /// The router's endpoint, e.g. "tcp://127.0.0.1:5555" or "inproc://name".
  std::string connect;
  /// How callbacks name the router ("from"); the connect endpoint if empty.
  std::string peer_name;
  /// The router's CURVE public key; empty = no CURVE.
  std::string curve_server_public;
  /// This dealer's CURVE key pair; a fresh one if unset (and curve_server_public is set).
  std::optional<curve_keypair> curve_client;
  /// First and largest delay between reconnection attempts.
  std::chrono::milliseconds reconnect_interval = std::chrono::milliseconds(10);
  /// See reconnect_interval.
  std::chrono::milliseconds reconnect_interval_max = std::chrono::milliseconds(500);
};

/// Counters of an endpoint (all peers together).
struct link_stats {
  std::uint64_t sent = 0;               ///< messages accepted by try_send/send
  std::uint64_t sent_bytes = 0;         ///< their payload bytes
  std::uint64_t received = 0;           ///< messages delivered to callbacks
  std::uint64_t received_bytes = 0;     ///< their payload bytes
  std::uint64_t would_block = 0;        ///< sends refused: window full
  std::uint64_t unroutable = 0;         ///< sends refused: unknown or disconnected peer
  std::uint64_t oversize = 0;           ///< sends refused: too large
  std::uint64_t timeouts = 0;           ///< blocking sends that gave up
  std::uint64_t failed = 0;             ///< accepted messages never acknowledged (close, fail_pending)
  std::uint64_t resent = 0;             ///< frames sent again after a reconnect or a resend request
  std::uint64_t duplicates = 0;         ///< received frames dropped: already delivered, or stale
                                        ///< (from a restarted peer's previous incarnation)
  std::uint64_t out_of_order = 0;       ///< received frames dropped ahead of a gap (resend requested)
  std::uint64_t gaps = 0;               ///< messages a peer gave up on before we received them
  std::uint64_t malformed = 0;          ///< received frames dropped as malformed
  std::uint64_t acks_sent = 0;          ///< standalone acknowledgement frames
  std::uint64_t connects = 0;           ///< successful handshakes
  std::uint64_t disconnects = 0;        ///< connections lost
  std::uint64_t handshake_failures = 0; ///< failed handshakes (e.g. wrong CURVE key)
  std::uint64_t peer_restarts = 0;      ///< peers seen with a new incarnation
  std::uint64_t discarded_at_close = 0; ///< frames that arrived while closing (not acknowledged)
  std::uint64_t pending = 0;            ///< messages awaiting acknowledgement now
};

namespace detail {
/// A non-owning reference to a callable `void(std::string_view from, message_view)` (or
/// `void(message_view)`).
class message_sink {
 public:
  /// Refers to `f`, which must outlive the sink.
  template <class F>
  explicit message_sink(F& f) noexcept
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, std::string_view from, message_view m) {
          auto& fn = *static_cast<F*>(o);
          if constexpr (std::is_invocable_v<F&, std::string_view, message_view>)
            fn(from, m);
          else
            fn(m);
        }) {}
  /// Calls the referred callable.
  void operator()(std::string_view from, message_view m) const { call_(obj_, from, m); }

 private:
  void* obj_;
  void (*call_)(void*, std::string_view, message_view);
};
}  // namespace detail

/// What routers and dealers share: receiving, waiting, counters, closing.
class endpoint {
 public:
  /// Moves the endpoint (the moved-from one may only be destroyed).
  endpoint(endpoint&&) noexcept;
  /// Moves the endpoint (the moved-from one may only be destroyed).
  endpoint& operator=(endpoint&&) noexcept;
  /// Closes (see close()) if not closed yet.
  virtual ~endpoint();

  /// Hands up to `max` received messages, in order, to `on_message(std::string_view from,
  /// message_view)` (or `on_message(message_view)`); also sends due acknowledgements and
  /// retries queued sends. Never blocks. Returns how many were delivered.
  template <class F>
  std::size_t poll(F&& on_message, std::size_t max = SIZE_MAX) {
    return poll_impl(detail::message_sink(on_message), max);
  }
  /// Copies the next message into `out` (and its sender into `from`); false if none.
  bool try_receive(std::string& from, std::vector<std::byte>& out);
  /// Waits up to `timeout` until a frame arrives (poll() may then still deliver nothing: it
  /// may have been an acknowledgement). Services acks, reconnects and queued sends meanwhile.
  /// Returns ok, timeout or closed.
  status wait(std::chrono::nanoseconds timeout);

  /// This endpoint's identity.
  const std::string& identity() const;
  /// A snapshot of the counters.
  link_stats stats() const;
  /// Messages to `peer` awaiting acknowledgement (0 for an unknown peer; a dealer's peer is
  /// its router, any name).
  std::size_t pending(std::string_view peer = {}) const;
  /// The libzmq socket (void*), e.g. for the caller's own zmq_poll; poll() after it is readable.
  void* native_handle() const;
  /// Closes: sends owed acknowledgements, waits up to close_timeout for outstanding ones
  /// (frames arriving meanwhile are discarded unacknowledged, so their senders resend them to a
  /// successor), counts what is still unacknowledged as failed, closes the socket. Returns the
  /// final counters. Idempotent; the destructor calls it and reports failures on stderr.
  link_stats close();

  /// The implementation (private to transport_zmq.cpp).
  struct impl;

 protected:
  explicit endpoint(std::unique_ptr<impl> p) noexcept;
  std::size_t poll_impl(detail::message_sink sink, std::size_t max);
  std::unique_ptr<impl> impl_;
};

/// The binding side: many dealers, each addressed by its identity.
class router : public endpoint {
 public:
  /// Binds `options.bind` in `ctx`. Throws zmq_link_error on a bad identity/key or bind failure.
  router(context& ctx, const router_options& options);

  /// Sends `msg` to the dealer `peer`. Never blocks: ok, would_block, unroutable (never heard of
  /// `peer`, or not connected now), oversize; refusals are counted.
  status try_send(std::string_view peer, message_view msg);
  /// try_send for text.
  status try_send(std::string_view peer, std::string_view msg) {
    return try_send(peer, std::as_bytes(std::span(msg.data(), msg.size())));
  }
  /// Sends `msgs` in order until one is refused; returns how many were sent and the stopping
  /// status in `why`. The refused rest are counted.
  std::size_t try_send_batch(std::string_view peer, std::span<const message_view> msgs,
                             status* why = nullptr);
  /// Sends `msg`, waiting up to `timeout` for window space (reading acknowledgements meanwhile;
  /// data that arrives is kept for the next poll()).
  status send(std::string_view peer, message_view msg, std::chrono::nanoseconds timeout);
  /// send for text.
  status send(std::string_view peer, std::string_view msg, std::chrono::nanoseconds timeout) {
    return send(peer, std::as_bytes(std::span(msg.data(), msg.size())), timeout);
  }
  /// Identities of every dealer heard from.
  std::vector<std::string> peers() const;
  /// Gives up on every message to `peer` awaiting acknowledgement: counts them as failed.
  /// Returns how many.
  std::size_t fail_pending(std::string_view peer);
  /// The endpoints actually bound (a "*" port resolved), in bind order.
  const std::vector<std::string>& bound() const;

 private:
  void setup(const router_options& options);
};

/// The connecting side: one router, reconnecting by itself.
class dealer : public endpoint {
 public:
  /// Connects to `options.connect` in `ctx` (returns at once; the connection is made in the
  /// background). Throws zmq_link_error on a bad identity, key or endpoint.
  dealer(context& ctx, const dealer_options& options);

  /// Sends `msg` to the router. Never blocks: ok (kept until acknowledged, sent as soon as
  /// connected), would_block (window full), oversize; refusals are counted.
  status try_send(message_view msg);
  /// try_send for text.
  status try_send(std::string_view msg) { return try_send(std::as_bytes(std::span(msg.data(), msg.size()))); }
  /// Sends `msgs` in order until one is refused; returns how many were sent.
  std::size_t try_send_batch(std::span<const message_view> msgs, status* why = nullptr);
  /// Sends `msg`, waiting up to `timeout` for window space.
  status send(message_view msg, std::chrono::nanoseconds timeout);
  /// send for text.
  status send(std::string_view msg, std::chrono::nanoseconds timeout) {
    return send(std::as_bytes(std::span(msg.data(), msg.size())), timeout);
  }
  /// True while a handshake with the router has succeeded and the connection has not dropped
  /// (as last reported by ZeroMQ's monitor; inproc connections count as connected).
  bool connected() const;
  /// Gives up on every message awaiting acknowledgement: counts them as failed.
  std::size_t fail_pending();

 private:
  void setup(const dealer_options& options);
};

}  // namespace e3::zmq_link
