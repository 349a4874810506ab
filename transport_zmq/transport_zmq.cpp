// The ZeroMQ link: router/dealer endpoints, wire header, per-peer windows, acks and resends.
#include "transport_zmq/transport_zmq.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <random>
#include <unordered_map>

#include <unistd.h>
#include <zmq.hpp>

#if defined(__SANITIZE_THREAD__)
/// ThreadSanitizer: libzmq (and libsodium, its CURVE crypto) are not instrumented, so the
/// lock-free pipes between a socket's thread and ZeroMQ's I/O thread look like races on the
/// messages they carry (reported from the memcpy/memmove/free interceptors called inside those
/// libraries). Suppress exactly those, for every program that links this library.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libzmq.so.5\ncalled_from_lib:libsodium.so.23\n";
}
#endif

namespace e3::zmq_link {

namespace {

using clock_type = std::chrono::steady_clock;

static_assert(std::endian::native == std::endian::little, "the wire header is written in host order");

/// The header in front of every payload ("E3ZL", version 1), 48 bytes, little-endian.
struct wire_header {
  std::uint32_t magic;
  std::uint8_t version;
  std::uint8_t type;
  std::uint16_t reserved;
  std::uint64_t incarnation;      // the sender's incarnation (random, per endpoint lifetime)
  std::uint64_t seq;              // data: this message's sequence number
  std::uint64_t base;             // data: the sender's oldest unacknowledged sequence number
  std::uint64_t ack_incarnation;  // whose stream the ack is about (the receiver's incarnation)
  std::uint64_t ack_next;         // every seq below this was delivered
};
static_assert(sizeof(wire_header) == 48);
constexpr std::uint32_t wire_magic = 0x4C5A'3345u;  // "E3ZL"
constexpr std::uint8_t wire_version = 1;
constexpr std::size_t base_offset = offsetof(wire_header, base);
static_assert(offsetof(wire_header, ack_incarnation) == base_offset + 8 &&
              offsetof(wire_header, ack_next) == base_offset + 16);

enum frame_type : std::uint8_t {
  type_data = 1,   // header + payload
  type_ack = 2,    // header only: acknowledgement
  type_hello = 3,  // header only: "(re)connected / gap seen: send again what I have not acked"
};

/// A counter written by one thread and read by any.
struct counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(std::uint64_t n) noexcept { v.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

std::uint64_t new_incarnation() {
  std::random_device rd;
  std::uint64_t x = (std::uint64_t(rd()) << 32) ^ rd() ^
                    std::uint64_t(clock_type::now().time_since_epoch().count()) ^ (std::uint64_t(getpid()) << 16);
  return x ? x : 1;
}

void check_identity(const std::string& id) {
  if (id.empty() || id.size() > 255 || id[0] == '\0')
    throw zmq_link_error("zmq link identity '" + id +
                         "' is invalid: it must be 1..255 bytes and must not start with a zero byte");
}

void check_key(const std::string& key, const char* what) {
  if (key.size() != 40)
    throw zmq_link_error(std::string("zmq link: ") + what + " must be a 40-character Z85 CURVE key, got " +
                         std::to_string(key.size()) + " characters");
}

std::string z85_error(const char* what) { return std::string("zmq link: ") + what + ": " + zmq_strerror(zmq_errno()); }

enum class flush_result { done, blocked, unreachable };

struct pending_frame {
  std::string frame;   // header + payload; ack fields refreshed before each send
  bool sent_once = false;
};

struct peer_state {
  std::string id;
  bool known = false;  // heard from (router) / always (dealer)
  // Outgoing stream.
  std::uint64_t next_seq = 0;
  std::deque<pending_frame> pending;  // seq of pending[i] = next_seq - pending.size() + i
  std::size_t unsent = 0;             // the last `unsent` entries of pending wait to be (re)sent
  clock_type::time_point last_retry{};
  // Incoming stream.
  bool rx_known = false;
  std::uint64_t rx_incarnation = 0;
  std::uint64_t retired_incarnation = 0;  // the peer's previous incarnation: its frames are stale
  std::uint64_t expected = 0;
  std::size_t unacked_rx = 0;
  clock_type::time_point first_unacked{};
  bool ack_owed = false;
  bool resend_requested = false;

  std::uint64_t pending_base() const { return next_seq - pending.size(); }
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

std::atomic<std::uint64_t> monitor_counter{0};

}  // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::ok: return "ok";
    case status::would_block: return "would_block";
    case status::unroutable: return "unroutable";
    case status::oversize: return "oversize";
    case status::timeout: return "timeout";
    case status::closed: return "closed";
  }
  return "?";
}

bool curve_available() { return zmq_has("curve") != 0; }

curve_keypair curve_keypair::generate() {
  if (!curve_available())
    throw zmq_link_error("zmq link: this libzmq has no CURVE support (zmq_has(\"curve\") is false)");
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    throw zmq_link_error(z85_error("zmq_curve_keypair failed"));
  return {pub, sec};
}

curve_keypair curve_keypair::from_secret(const std::string& secret_key) {
  check_key(secret_key, "CURVE secret key");
  char pub[41];
  if (zmq_curve_public(pub, secret_key.c_str()) != 0)
    throw zmq_link_error(z85_error("zmq_curve_public failed (not a Z85 key?)"));
  return {pub, secret_key};
}

// ---- context ----

struct context::impl {
  zmq::context_t ctx;
  explicit impl(int io_threads) : ctx(io_threads) {}
};

context::context(int io_threads) : impl_(std::make_unique<impl>(io_threads)) {}
context::~context() = default;
void* context::native_handle() const noexcept { return impl_->ctx.handle(); }

// ---- endpoint ----

struct endpoint::impl {
  bool is_router = false;
  endpoint_options opt;
  std::string peer_label;  // dealer: the name callbacks see for the router
  std::uint64_t incarnation = new_incarnation();
  void* sock_handle = nullptr;
  void* monitor_handle = nullptr;
  zmq::socket_ref sock;
  zmq::socket_ref monitor;
  std::vector<std::string> bound;
  std::unordered_map<std::string, peer_state, string_hash, std::equal_to<>> peers;
  peer_state* dealer_peer = nullptr;
  struct inbox_item {
    std::string from;
    zmq::message_t body;
  };
  std::deque<inbox_item> inbox;  // data frames read while waiting for acks, not yet delivered
  bool hello_pending = false;    // dealer: announce ourselves after every (re)connect
  std::atomic<bool> connected{false};
  bool closed = false;
  std::size_t total_pending = 0;
  link_stats final_stats;
  counter sent, sent_bytes, received, received_bytes, would_block, unroutable, oversize, timeouts, failed,
      resent, duplicates, out_of_order, gaps, malformed, acks_sent, connects, disconnects, handshake_failures,
      peer_restarts, discarded_at_close, pending_now;

  impl(void* ctx, bool router, const endpoint_options& o) : is_router(router), opt(o) {
    check_identity(opt.identity);
    if (opt.window == 0)
      throw zmq_link_error(name() + ": window must be at least 1");
    if (opt.ack_every == 0)
      opt.ack_every = 1;
    sock_handle = zmq_socket(ctx, router ? ZMQ_ROUTER : ZMQ_DEALER);
    monitor_handle = sock_handle ? zmq_socket(ctx, ZMQ_PAIR) : nullptr;
    if (!sock_handle || !monitor_handle) {
      release_sockets();
      throw zmq_link_error(z85_error(("cannot create sockets for " + name()).c_str()));
    }
    sock = zmq::socket_ref(zmq::from_handle, sock_handle);
    monitor = zmq::socket_ref(zmq::from_handle, monitor_handle);
    try {
      int hwm = static_cast<int>(std::min<std::size_t>(opt.window * 4 + 1000, 1'000'000'000));
      sock.set(zmq::sockopt::sndhwm, hwm);
      sock.set(zmq::sockopt::rcvhwm, hwm);
      sock.set(zmq::sockopt::linger, static_cast<int>(opt.close_timeout.count()));
      sock.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opt.max_message + sizeof(wire_header)));
      sock.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(opt.heartbeat_interval.count()));
      sock.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(opt.heartbeat_timeout.count()));
      std::string addr = "inproc://e3-zmq-link-monitor-" + std::to_string(getpid()) + "-" +
                         std::to_string(monitor_counter.fetch_add(1));
      int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
      if (zmq_socket_monitor(sock.handle(), addr.c_str(), events) != 0)
        throw zmq_link_error(z85_error(("cannot monitor the socket of " + name()).c_str()));
      monitor.connect(addr);
    } catch (const zmq::error_t& e) {
      release_sockets();  // an open socket would block the context's destruction forever
      throw zmq_link_error(name() + ": cannot set up the socket: " + e.what());
    } catch (...) {
      release_sockets();
      throw;
    }
  }

  ~impl() { release_sockets(); }

  void release_sockets() noexcept {
    if (monitor_handle)
      zmq_close(monitor_handle);
    if (sock_handle)
      zmq_close(sock_handle);
    monitor_handle = sock_handle = nullptr;
    sock = zmq::socket_ref();
    monitor = zmq::socket_ref();
  }

  // ---- helpers ----

  std::string name() const { return "zmq link '" + opt.identity + "'"; }

  peer_state* find(std::string_view id) {
    if (!is_router)
      return dealer_peer;
    auto it = peers.find(id);
    return it == peers.end() ? nullptr : &it->second;
  }

  peer_state& get_or_add(std::string_view id) {
    if (!is_router)
      return *dealer_peer;
    auto it = peers.find(id);
    if (it == peers.end()) {
      it = peers.emplace(std::string(id), peer_state{}).first;
      it->second.id = std::string(id);
    }
    return it->second;
  }

  void set_pending(peer_state& ps, std::size_t before) {
    total_pending = total_pending + ps.pending.size() - before;
    pending_now.set(total_pending);
  }

  wire_header control_header(const peer_state& ps, std::uint8_t type) const {
    wire_header h{};
    h.magic = wire_magic;
    h.version = wire_version;
    h.type = type;
    h.incarnation = incarnation;
    h.seq = ps.next_seq;
    h.base = ps.pending_base();
    h.ack_incarnation = ps.rx_known ? ps.rx_incarnation : 0;
    h.ack_next = ps.rx_known ? ps.expected : 0;
    return h;
  }

  /// Sends one frame to `ps` without blocking.
  flush_result raw_send(const peer_state& ps, const void* data, std::size_t size) {
    if (is_router) {
      if (zmq_send(sock.handle(), ps.id.data(), ps.id.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        return err == EAGAIN ? flush_result::blocked : flush_result::unreachable;
      }
      // Once the routing frame is accepted, the rest of the message goes to the same pipe.
      if (zmq_send(sock.handle(), data, size, ZMQ_DONTWAIT) < 0)
        return flush_result::unreachable;
      return flush_result::done;
    }
    if (zmq_send(sock.handle(), data, size, ZMQ_DONTWAIT) < 0)
      return zmq_errno() == EAGAIN ? flush_result::blocked : flush_result::unreachable;
    return flush_result::done;
  }

  void acked_by_send(peer_state& ps) {
    ps.unacked_rx = 0;
    ps.ack_owed = false;
  }

  bool send_control(peer_state& ps, std::uint8_t type) {
    wire_header h = control_header(ps, type);
    if (raw_send(ps, &h, sizeof h) != flush_result::done)
      return false;
    acked_by_send(ps);
    if (type == type_ack)
      acks_sent.add();
    return true;
  }

  /// Sends the unsent suffix of `ps.pending`, in order, until the socket refuses.
  flush_result flush(peer_state& ps) {
    // A dealer holds everything while disconnected (rather than letting it pile up in ZeroMQ's
    // pipe, once per reconnection attempt) and sends it after the handshake.
    if (!is_router && !connected.load(std::memory_order_relaxed))
      return flush_result::blocked;
    if (!is_router && hello_pending) {
      if (!send_control(ps, type_hello))
        return flush_result::blocked;
      hello_pending = false;
    }
    while (ps.unsent > 0) {
      pending_frame& p = ps.pending[ps.pending.size() - ps.unsent];
      // Refresh what may have changed since the frame was built: the oldest unacknowledged
      // message (a receiver that does not know us yet starts there) and our acknowledgement.
      std::uint64_t fresh[3] = {ps.pending_base(), ps.rx_known ? ps.rx_incarnation : 0,
                                ps.rx_known ? ps.expected : 0};
      std::memcpy(p.frame.data() + base_offset, fresh, sizeof fresh);
      flush_result r = raw_send(ps, p.frame.data(), p.frame.size());
      if (r != flush_result::done) {
        ps.last_retry = clock_type::now();
        return r;
      }
      if (p.sent_once)
        resent.add();
      p.sent_once = true;
      --ps.unsent;
      acked_by_send(ps);
    }
    return flush_result::done;
  }

  void apply_ack(peer_state& ps, std::uint64_t ack_next) {
    std::size_t before = ps.pending.size();
    while (!ps.pending.empty() && ps.pending_base() < ack_next) {
      if (spare_frames.size() < max_spare_frames && ps.pending.front().frame.capacity() <= max_spare_bytes)
        spare_frames.push_back(std::move(ps.pending.front().frame));
      ps.pending.pop_front();
    }
    ps.unsent = std::min(ps.unsent, ps.pending.size());
    if (ps.pending.size() != before)
      set_pending(ps, before);
  }

  void mark_all_unsent(peer_state& ps) { ps.unsent = ps.pending.size(); }

  void send_ack(peer_state& ps) {
    send_control(ps, type_ack);  // if refused, it stays owed and is retried
  }

  // ---- receiving ----

  /// Reads one message from the socket: false if none. `from` gets the sender, `body` the frame;
  /// `ok` is false for a malformed multi-part shape (already counted).
  bool recv_frame(std::string& from, zmq::message_t& body, bool& ok, int timeout_ms = 0) {
    ok = true;
    // The first part may wait (timeout_ms > 0, a blocking read with ZMQ_RCVTIMEO: the same
    // system calls as a bare blocking recv); the rest of a message arrives with it.
    auto first = [&](zmq::message_t& m) -> bool {
      if (timeout_ms <= 0)
        return static_cast<bool>(sock.recv(m, zmq::recv_flags::dontwait));
      if (timeout_ms != rcvtimeo_ms) {
        sock.set(zmq::sockopt::rcvtimeo, timeout_ms);
        rcvtimeo_ms = timeout_ms;
      }
      try {
        return static_cast<bool>(sock.recv(m, zmq::recv_flags::none));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR)
          return false;
        throw;
      }
    };
    if (is_router) {
      zmq::message_t id;
      if (!first(id))
        return false;
      from.assign(static_cast<const char*>(id.data()), id.size());
      if (!id.more()) {
        malformed.add();
        ok = false;
        return true;
      }
      if (!sock.recv(body, zmq::recv_flags::dontwait)) {  // cannot happen: parts arrive together
        malformed.add();
        ok = false;
        return true;
      }
    } else {
      if (!first(body))
        return false;
      from = peer_label;
    }
    if (body.more()) {  // our frames are single-part: drain and drop the rest
      bool more = true;
      while (more) {
        zmq::message_t rest;
        if (!sock.recv(rest, zmq::recv_flags::dontwait))
          break;
        more = rest.more();
      }
      malformed.add();
      ok = false;
    }
    return true;
  }

  /// Parses a frame into `h` and applies its control part (acks, resend requests). Returns true
  /// if it carries data to deliver (to *ps_out); malformed frames are counted and dropped.
  bool control(std::string_view from, const zmq::message_t& body, wire_header& h, peer_state*& ps_out) {
    if (body.size() < sizeof(wire_header)) {
      malformed.add();
      return false;
    }
    std::memcpy(&h, body.data(), sizeof h);
    if (h.magic != wire_magic || h.version != wire_version ||
        (h.type != type_data && h.type != type_ack && h.type != type_hello) ||
        (h.type != type_data && body.size() != sizeof(wire_header))) {
      malformed.add();
      return false;
    }
    peer_state& ps = get_or_add(from);
    ps.known = true;
    ps_out = &ps;
    if (h.ack_incarnation == incarnation)
      apply_ack(ps, h.ack_next);
    if (h.type == type_hello) {
      // The peer (re)connected or saw a gap: everything it has not acknowledged goes again.
      mark_all_unsent(ps);
      flush(ps);
      return false;
    }
    return h.type == type_data;
  }

  /// Delivers a data frame in order (dropping duplicates and frames past a gap).
  bool deliver(peer_state& ps, const wire_header& h, const zmq::message_t& body, std::string_view from,
               const detail::message_sink* sink) {
    if (ps.rx_known && h.incarnation == ps.retired_incarnation) {
      duplicates.add();  // a late frame of the peer's previous life: its successor resends
      return false;
    }
    if (!ps.rx_known || ps.rx_incarnation != h.incarnation) {
      if (ps.rx_known) {
        peer_restarts.add();
        ps.retired_incarnation = ps.rx_incarnation;
      }
      ps.rx_known = true;
      ps.rx_incarnation = h.incarnation;
      ps.expected = h.base;
      ps.unacked_rx = 0;
      ps.resend_requested = false;
    }
    if (h.base > ps.expected) {  // the sender gave up on messages we never got
      gaps.add(h.base - ps.expected);
      ps.expected = h.base;
    }
    if (h.seq < ps.expected) {
      duplicates.add();
      ps.ack_owed = true;
      return false;
    }
    if (h.seq > ps.expected) {
      out_of_order.add();
      if (!ps.resend_requested && send_control(ps, type_hello))
        ps.resend_requested = true;
      return false;
    }
    ++ps.expected;
    ps.resend_requested = false;
    if (ps.unacked_rx++ == 0)
      ps.first_unacked = clock_type::now();
    std::size_t n = body.size() - sizeof(wire_header);
    received.add();
    received_bytes.add(n);
    if (sink)
      (*sink)(from, message_view(static_cast<const std::byte*>(body.data()) + sizeof(wire_header), n));
    if (ps.unacked_rx >= opt.ack_every)
      send_ack(ps);
    return true;
  }

  /// Waits up to `timeout_ms` for one frame: applies its acknowledgement, keeps data in the
  /// inbox. Returns true if a frame came.
  bool read_ahead(int timeout_ms) {
    std::string from;
    zmq::message_t body;
    bool ok;
    if (!recv_frame(from, body, ok, timeout_ms))
      return false;
    wire_header h;
    peer_state* ps = nullptr;
    if (ok && control(from, body, h, ps))
      inbox.push_back({std::move(from), std::move(body)});
    return true;
  }

  /// Reads every frame waiting on the socket: applies acks, keeps data in the inbox.
  void pump() {
    std::string from;
    for (;;) {
      zmq::message_t body;
      bool ok;
      if (!recv_frame(from, body, ok))
        return;
      if (!ok)
        continue;
      wire_header h;
      peer_state* ps = nullptr;
      if (control(from, body, h, ps))
        inbox.push_back({from, std::move(body)});
    }
  }

  /// Handles monitor events: connection state, counters, resend after a reconnect.
  void process_monitor() {
    for (;;) {
      zmq::message_t ev;
      if (!monitor.recv(ev, zmq::recv_flags::dontwait))
        return;
      bool first_part_ok = ev.size() >= 6;
      std::uint16_t event = 0;
      if (first_part_ok)
        std::memcpy(&event, ev.data(), sizeof event);
      while (ev.more()) {
        zmq::message_t rest;
        if (!monitor.recv(rest, zmq::recv_flags::dontwait))
          break;
        ev = std::move(rest);
      }
      switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
          connects.add();
          connected.store(true, std::memory_order_relaxed);
          if (!is_router)
            flush(*dealer_peer);
          break;
        case ZMQ_EVENT_DISCONNECTED:
          disconnects.add();
          if (!is_router) {
            connected.store(false, std::memory_order_relaxed);
            // Whatever was in flight may be lost with the connection: send it all again (the
            // receiver drops what it already has) after announcing ourselves.
            hello_pending = true;
            mark_all_unsent(*dealer_peer);
          }
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
          handshake_failures.add();
          break;
        default:
          break;
      }
    }
  }

  static constexpr auto retry_interval = std::chrono::milliseconds(5);
  clock_type::time_point next_monitor_check{};
  int rcvtimeo_ms = -1;  // the socket's current ZMQ_RCVTIMEO
  std::vector<std::string> spare_frames;  // buffers of acknowledged frames, for reuse
  static constexpr std::size_t max_spare_frames = 256, max_spare_bytes = 64 * 1024;

  /// Periodic work: monitor events, due acks, queued sends. Returns the next time it has work.
  clock_type::time_point service(clock_type::time_point now) {
    // An empty non-blocking read costs ZeroMQ a system call, so the monitor is read at most
    // once per millisecond.
    if (now >= next_monitor_check) {
      process_monitor();
      next_monitor_check = now + std::chrono::milliseconds(1);
    }
    auto next = clock_type::time_point::max();
    auto visit = [&](peer_state& ps) {
      if (ps.unacked_rx > 0 || ps.ack_owed) {
        auto due = ps.first_unacked + opt.ack_delay;
        if (ps.ack_owed || now >= due)
          send_ack(ps);
        else
          next = std::min(next, due);
        if (ps.ack_owed)
          next = std::min(next, now + retry_interval);
      }
      if (ps.unsent > 0 || (!is_router && hello_pending)) {
        if (!is_router || now >= ps.last_retry + retry_interval)
          flush(ps);
        if (ps.unsent > 0 && is_router)
          next = std::min(next, ps.last_retry + retry_interval);
      }
    };
    if (is_router) {
      for (auto& [id, ps] : peers)
        visit(ps);
    } else {
      visit(*dealer_peer);
    }
    return next;
  }

  std::size_t poll(detail::message_sink sink, std::size_t max) {
    if (closed)
      throw zmq_link_error(name() + " is closed");
    auto now = clock_type::now();
    service(now);
    std::size_t n = 0;
    std::string from;
    while (n < max) {
      // Frames read ahead (by a send waiting for acknowledgements, possibly from inside one of
      // our callbacks) come first: they arrived before anything still in the socket.
      if (!inbox.empty()) {
        auto item = std::move(inbox.front());
        inbox.pop_front();
        wire_header h;
        std::memcpy(&h, item.body.data(), sizeof h);
        peer_state* ps = find(item.from);
        if (ps && deliver(*ps, h, item.body, item.from, &sink))
          ++n;
        continue;
      }
      zmq::message_t body;
      bool ok;
      if (!recv_frame(from, body, ok))
        break;
      if (!ok)
        continue;
      wire_header h;
      peer_state* ps = nullptr;
      if (control(from, body, h, ps) && deliver(*ps, h, body, from, &sink))
        ++n;
    }
    return n;
  }

  status wait(std::chrono::nanoseconds timeout) {
    if (closed)
      return status::closed;
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      auto now = clock_type::now();
      auto next = std::min(service(now), deadline);
      if (!inbox.empty())
        return status::ok;
      // Only the data socket is polled (each extra socket costs ZeroMQ system calls per wait);
      // the monitor is read by service(). A dealer with something to (re)send wakes every
      // few milliseconds to notice a reconnection promptly.
      bool dealer_busy = !is_router && (hello_pending || !dealer_peer->pending.empty());
      if (dealer_busy)
        next = std::min(next, now + std::chrono::milliseconds(2));
      bool want_out = !is_router && connected.load(std::memory_order_relaxed) &&
                      (hello_pending || dealer_peer->unsent > 0);
      auto left = std::max<long>(0, static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(next - now).count()));
      if (!want_out && left > 0) {
        // Block reading the next frame: acknowledgements are applied, data is kept for poll().
        if (read_ahead(static_cast<int>(std::min<long>(left, 1'000'000'000)))) {
          if (!inbox.empty())
            return status::ok;
          continue;  // a control frame: applied; keep waiting
        }
      } else {
        zmq_pollitem_t item{sock.handle(), 0, static_cast<short>(ZMQ_POLLIN | (want_out ? ZMQ_POLLOUT : 0)), 0};
        int rc = zmq_poll(&item, 1, left);
        if (rc < 0 && zmq_errno() == ETERM)
          return status::closed;
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
          return status::ok;
        if (rc > 0 && (item.revents & ZMQ_POLLOUT))
          flush(*dealer_peer);
      }
      if (clock_type::now() >= deadline)
        return status::timeout;
    }
  }

  // ---- sending ----

  /// Tries to queue and send `msg` to `peer`; `count` says whether refusals are counted.
  status try_send(std::string_view peer, message_view msg, bool count) {
    if (closed)
      return status::closed;
    if (msg.size() > opt.max_message) {
      if (count)
        oversize.add();
      return status::oversize;
    }
    peer_state* ps = find(peer);
    if (!ps || !ps->known) {
      if (count)
        unroutable.add();
      return status::unroutable;
    }
    if (ps->unsent > 0 && flush(*ps) == flush_result::unreachable && is_router) {
      if (count)
        unroutable.add();
      return status::unroutable;
    }
    if (ps->pending.size() >= opt.window) {
      pump();  // acknowledgements may be waiting
      if (ps->pending.size() >= opt.window) {
        if (count)
          would_block.add();
        return status::would_block;
      }
    }
    std::size_t before = ps->pending.size();
    pending_frame p;
    if (!spare_frames.empty()) {  // reuse an acknowledged frame's buffer: no allocation
      p.frame = std::move(spare_frames.back());
      spare_frames.pop_back();
    }
    p.frame.resize(sizeof(wire_header) + msg.size());
    wire_header h = control_header(*ps, type_data);
    h.seq = ps->next_seq;
    h.base = ps->pending.empty() ? ps->next_seq : ps->pending_base();
    std::memcpy(p.frame.data(), &h, sizeof h);
    if (!msg.empty())
      std::memcpy(p.frame.data() + sizeof h, msg.data(), msg.size());
    ps->pending.push_back(std::move(p));
    ++ps->next_seq;
    ++ps->unsent;
    flush_result r = flush(*ps);
    if (r == flush_result::unreachable && is_router) {
      // Not queued: the router cannot know when (if ever) this peer comes back.
      ps->pending.pop_back();
      --ps->next_seq;
      --ps->unsent;
      if (count)
        unroutable.add();
      return status::unroutable;
    }
    set_pending(*ps, before);
    sent.add();
    sent_bytes.add(msg.size());
    return status::ok;
  }

  status send(std::string_view peer, message_view msg, std::chrono::nanoseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    for (;;) {
      status s = try_send(peer, msg, false);
      if (s != status::would_block) {
        count_refusal(s, 1);
        return s;
      }
      auto now = clock_type::now();
      if (now >= deadline) {
        timeouts.add();
        return status::timeout;
      }
      auto next = std::min(service(now), deadline);
      auto left = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
      read_ahead(static_cast<int>(std::clamp<long>(static_cast<long>(left), 1, 1'000'000'000)));
      pump();
    }
  }

  void count_refusal(status s, std::uint64_t n) {
    switch (s) {
      case status::would_block: would_block.add(n); break;
      case status::unroutable: unroutable.add(n); break;
      case status::oversize: oversize.add(n); break;
      default: break;
    }
  }

  /// Sends `msgs` in order until one is refused; that one and the rest are counted under the
  /// refusal's status.
  std::size_t send_batch(std::string_view peer, std::span<const message_view> msgs, status* why) {
    std::size_t n = 0;
    status s = status::ok;
    for (; n < msgs.size(); ++n) {
      s = try_send(peer, msgs[n], false);
      if (s != status::ok)
        break;
    }
    if (s != status::ok)
      count_refusal(s, msgs.size() - n);
    if (why)
      *why = s;
    return n;
  }

  std::size_t fail_pending(peer_state& ps) {
    std::size_t n = ps.pending.size();
    std::size_t before = n;
    ps.pending.clear();
    ps.unsent = 0;
    failed.add(n);
    set_pending(ps, before);
    return n;
  }

  // ---- closing ----

  link_stats snapshot() const {
    link_stats s;
    s.sent = sent.get();
    s.sent_bytes = sent_bytes.get();
    s.received = received.get();
    s.received_bytes = received_bytes.get();
    s.would_block = would_block.get();
    s.unroutable = unroutable.get();
    s.oversize = oversize.get();
    s.timeouts = timeouts.get();
    s.failed = failed.get();
    s.resent = resent.get();
    s.duplicates = duplicates.get();
    s.out_of_order = out_of_order.get();
    s.gaps = gaps.get();
    s.malformed = malformed.get();
    s.acks_sent = acks_sent.get();
    s.connects = connects.get();
    s.disconnects = disconnects.get();
    s.handshake_failures = handshake_failures.get();
    s.peer_restarts = peer_restarts.get();
    s.discarded_at_close = discarded_at_close.get();
    s.pending = pending_now.get();
    return s;
  }

  template <class F>
  void for_each_peer(F f) {
    if (is_router)
      for (auto& [id, ps] : peers)
        f(ps);
    else
      f(*dealer_peer);
  }

  link_stats close() {
    if (closed)
      return final_stats;
    // Acknowledge everything delivered, so peers do not resend it to a successor.
    discarded_at_close.add(inbox.size());
    inbox.clear();
    for_each_peer([&](peer_state& ps) {
      if (ps.unacked_rx > 0 || ps.ack_owed)
        send_ack(ps);
    });
    auto deadline = clock_type::now() + opt.close_timeout;
    process_monitor();
    bool hopeless = !is_router && !connected.load(std::memory_order_relaxed);  // no acks can come
    while (!hopeless && total_pending > 0 && clock_type::now() < deadline) {
      process_monitor();
      for_each_peer([&](peer_state& ps) {
        if (ps.unsent > 0 || (!is_router && hello_pending))
          flush(ps);
      });
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
      zmq_pollitem_t items[2] = {{sock.handle(), 0, ZMQ_POLLIN, 0}, {monitor.handle(), 0, ZMQ_POLLIN, 0}};
      zmq_poll(items, 2, std::clamp<long>(static_cast<long>(left.count()), 0, 5));
      pump();
      discarded_at_close.add(inbox.size());  // arrived too late: not acknowledged
      inbox.clear();
    }
    for_each_peer([&](peer_state& ps) { fail_pending(ps); });
    zmq_socket_monitor(sock.handle(), nullptr, 0);
    release_sockets();
    closed = true;
    final_stats = snapshot();
    return final_stats;
  }
};

endpoint::endpoint(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
endpoint::endpoint(endpoint&&) noexcept = default;
endpoint& endpoint::operator=(endpoint&&) noexcept = default;

endpoint::~endpoint() {
  if (!impl_ || impl_->closed)
    return;
  try {
    link_stats s = impl_->close();
    if (s.failed || s.discarded_at_close)
      std::cerr << impl_->name() << " closed with " << s.failed << " unacknowledged message(s) counted as failed and "
                << s.discarded_at_close << " late arrival(s) discarded\n";
  } catch (const std::exception& e) {
    std::cerr << impl_->name() << ": error while closing: " << e.what() << "\n";
  }
}

std::size_t endpoint::poll_impl(detail::message_sink sink, std::size_t max) { return impl_->poll(sink, max); }

bool endpoint::try_receive(std::string& from, std::vector<std::byte>& out) {
  return poll([&](std::string_view f, message_view m) {
    from.assign(f);
    out.assign(m.begin(), m.end());
  }, 1) == 1;
}

status endpoint::wait(std::chrono::nanoseconds timeout) { return impl_->wait(timeout); }
const std::string& endpoint::identity() const { return impl_->opt.identity; }
link_stats endpoint::stats() const { return impl_->closed ? impl_->final_stats : impl_->snapshot(); }

std::size_t endpoint::pending(std::string_view peer) const {
  if (impl_->closed)
    return 0;
  const peer_state* ps = impl_->is_router ? impl_->find(peer) : impl_->dealer_peer;
  return ps ? ps->pending.size() : 0;
}

void* endpoint::native_handle() const { return impl_->sock.handle(); }
link_stats endpoint::close() { return impl_->close(); }

// ---- router ----

router::router(context& ctx, const router_options& options)
    : endpoint(std::make_unique<impl>(ctx.native_handle(), true, options)) {
  try {
    setup(options);
  } catch (const zmq::error_t& e) {
    throw zmq_link_error(impl_->name() + ": " + e.what());
  }
}

void router::setup(const router_options& options) {
  impl& m = *impl_;
  m.sock.set(zmq::sockopt::router_mandatory, 1);  // a send to an unknown peer is an error, not a drop
  m.sock.set(zmq::sockopt::router_handover, 1);   // a restarted dealer takes over its identity
  if (options.curve_server) {
    if (!curve_available())
      throw zmq_link_error(m.name() + ": CURVE requested but this libzmq has no CURVE support");
    check_key(options.curve_server->secret_key, "CURVE server secret key");
    m.sock.set(zmq::sockopt::curve_server, 1);
    m.sock.set(zmq::sockopt::curve_secretkey, options.curve_server->secret_key);
  }
  if (options.bind.empty())
    throw zmq_link_error(m.name() + ": router_options::bind is empty");
  for (const auto& ep : options.bind) {
    if (zmq_bind(m.sock.handle(), ep.c_str()) != 0)
      throw zmq_link_error(m.name() + ": cannot bind '" + ep + "': " + zmq_strerror(zmq_errno()));
    m.bound.push_back(m.sock.get(zmq::sockopt::last_endpoint));
  }
}

status router::try_send(std::string_view peer, message_view msg) { return impl_->try_send(peer, msg, true); }

std::size_t router::try_send_batch(std::string_view peer, std::span<const message_view> msgs, status* why) {
  return impl_->send_batch(peer, msgs, why);
}

status router::send(std::string_view peer, message_view msg, std::chrono::nanoseconds timeout) {
  return impl_->send(peer, msg, timeout);
}

std::vector<std::string> router::peers() const {
  std::vector<std::string> out;
  for (const auto& [id, ps] : impl_->peers)
    if (ps.known)
      out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t router::fail_pending(std::string_view peer) {
  peer_state* ps = impl_->find(peer);
  return ps ? impl_->fail_pending(*ps) : 0;
}

const std::vector<std::string>& router::bound() const { return impl_->bound; }

// ---- dealer ----

dealer::dealer(context& ctx, const dealer_options& options)
    : endpoint(std::make_unique<impl>(ctx.native_handle(), false, options)) {
  try {
    setup(options);
  } catch (const zmq::error_t& e) {
    throw zmq_link_error(impl_->name() + ": " + e.what());
  }
}

void dealer::setup(const dealer_options& options) {
  impl& m = *impl_;
  m.peer_label = options.peer_name.empty() ? options.connect : options.peer_name;
  m.peers.emplace(m.peer_label, peer_state{});
  m.dealer_peer = &m.peers.begin()->second;
  m.dealer_peer->id = m.peer_label;
  m.dealer_peer->known = true;
  m.hello_pending = true;
  m.sock.set(zmq::sockopt::routing_id, options.identity);
  // Keep the pipe across reconnects (ZMQ_IMMEDIATE = 0): with 1, ZeroMQ discards frames that
  // arrived but were not read yet when a connection drops (e.g. a peer's last acknowledgement).
  // Frames queued while disconnected go out on reconnect; duplicates are dropped by sequence.
  m.sock.set(zmq::sockopt::immediate, 0);
  m.sock.set(zmq::sockopt::reconnect_ivl, static_cast<int>(options.reconnect_interval.count()));
  m.sock.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(options.reconnect_interval_max.count()));
  if (!options.curve_server_public.empty()) {
    if (!curve_available())
      throw zmq_link_error(m.name() + ": CURVE requested but this libzmq has no CURVE support");
    check_key(options.curve_server_public, "CURVE server public key");
    curve_keypair mine = options.curve_client ? *options.curve_client : curve_keypair::generate();
    check_key(mine.public_key, "CURVE client public key");
    check_key(mine.secret_key, "CURVE client secret key");
    m.sock.set(zmq::sockopt::curve_serverkey, options.curve_server_public);
    m.sock.set(zmq::sockopt::curve_publickey, mine.public_key);
    m.sock.set(zmq::sockopt::curve_secretkey, mine.secret_key);
  }
  if (options.connect.empty())
    throw zmq_link_error(m.name() + ": dealer_options::connect is empty");
  if (zmq_connect(m.sock.handle(), options.connect.c_str()) != 0)
    throw zmq_link_error(m.name() + ": cannot connect to '" + options.connect + "': " + zmq_strerror(zmq_errno()));
  if (options.connect.rfind("inproc://", 0) == 0)
    m.connected.store(true, std::memory_order_relaxed);  // inproc has no handshake events
  m.flush(*m.dealer_peer);  // the hello, if the pipe is already there
}

status dealer::try_send(message_view msg) { return impl_->try_send({}, msg, true); }

std::size_t dealer::try_send_batch(std::span<const message_view> msgs, status* why) {
  return impl_->send_batch({}, msgs, why);
}

status dealer::send(message_view msg, std::chrono::nanoseconds timeout) { return impl_->send({}, msg, timeout); }
bool dealer::connected() const { return !impl_->closed && impl_->connected.load(std::memory_order_relaxed); }
std::size_t dealer::fail_pending() { return impl_->closed ? 0 : impl_->fail_pending(*impl_->dealer_peer); }

}  // namespace e3::zmq_link
