// The PCIe-link endpoint: segment creation/attach, SPSC ring send/receive, futex doorbells.
#include "transport_pcie/transport_pcie.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transport_pcie/shm_layout.hpp"

namespace e3::pcie {

namespace {

using clock_type = std::chrono::steady_clock;

/// A counter written by one thread and read by any: relaxed load+store (no locked instruction).
struct counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

constexpr std::uint64_t align_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) & ~(a - 1); }

/// Bytes a record of `n` payload bytes takes in the ring.
constexpr std::uint64_t record_bytes(std::uint64_t n) {
  return layout::record_header_bytes + align_up(n, layout::record_align);
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

/// Sleeps while `*word == expected`, at most `timeout` (shared, not process-private: the word is
/// in shared memory and the waker is another process).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero())
    return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

/// Rings a doorbell: bumps it and wakes every sleeper.
void ring_bell(std::atomic<std::uint32_t>& bell) {
  bell.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(bell);
}

std::string sys_error(const std::string& what, const std::string& name, int err) {
  return what + " '" + name + "': " + std::strerror(err);
}

void check_name(const std::string& name) {
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos || name.size() > NAME_MAX)
    throw pcie_error("pcie link name '" + name +
                     "' is not a POSIX shared-memory name: it must be '/' followed by 1..254 "
                     "characters without '/'");
}

bool is_pow2(std::uint64_t x) { return x && !(x & (x - 1)); }

std::uint32_t max_allowed_message(std::uint32_t ring_bytes) { return ring_bytes / 2 - 16; }

/// Checks a configuration and fills in defaults; throws naming the bad field.
link_config normalise(link_config c) {
  if (c.queue_pairs < 1 || c.queue_pairs > layout::max_queue_pairs)
    throw pcie_error("pcie link config: queue_pairs = " + std::to_string(c.queue_pairs) +
                     ", must be 1.." + std::to_string(layout::max_queue_pairs));
  if (!is_pow2(c.ring_bytes) || c.ring_bytes < layout::min_ring_bytes || c.ring_bytes > layout::max_ring_bytes)
    throw pcie_error("pcie link config: ring_bytes = " + std::to_string(c.ring_bytes) +
                     ", must be a power of two in [4096, 2^30]");
  if (c.max_message == 0)
    c.max_message = c.ring_bytes / 4;
  if (c.max_message > max_allowed_message(c.ring_bytes))
    throw pcie_error("pcie link config: max_message = " + std::to_string(c.max_message) +
                     " is larger than ring_bytes / 2 - 16 = " +
                     std::to_string(max_allowed_message(c.ring_bytes)));
  return c;
}

/// Process-local state of the ring this endpoint writes. Its own cache lines.
struct alignas(64) tx_ring {
  layout::ring_control* ctl = nullptr;
  std::byte* data = nullptr;
  std::uint64_t pos = 0;          // next byte to write (reserved, maybe not yet published)
  std::uint64_t published = 0;    // last tail stored
  std::uint64_t cached_head = 0;  // last head read from the consumer
  std::uint32_t reserved = 0;     // messages reserved since the last publish
  std::uint64_t reserved_bytes = 0;
  counter messages, bytes, publishes, full, oversize, closed, corrupt, blocked, timeouts;
};

/// Process-local state of the ring this endpoint reads. Its own cache lines.
struct alignas(64) rx_ring {
  layout::ring_control* ctl = nullptr;
  const std::byte* data = nullptr;
  std::uint64_t head = 0;         // next byte to read
  std::uint64_t cached_tail = 0;  // last tail read from the producer
  counter messages, bytes, corrupt, skipped_bytes;
};

}  // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::ok: return "ok";
    case status::full: return "full";
    case status::oversize: return "oversize";
    case status::timeout: return "timeout";
    case status::empty: return "empty";
    case status::corrupt: return "corrupt";
    case status::closed: return "closed";
  }
  return "?";
}

std::string corruption::to_string() const {
  std::ostringstream s;
  s << "queue pair " << queue_pair << " ring "
    << (dir == direction::creator_to_attacher ? "creator->attacher" : "attacher->creator")
    << " at byte " << position << " (ring offset " << ring_offset << "): " << reason
    << " (value " << value << ")";
  return s.str();
}

queue_stats link_stats::total() const {
  queue_stats t;
  for (const auto& q : queues) {
    t.tx.messages += q.tx.messages;
    t.tx.bytes += q.tx.bytes;
    t.tx.publishes += q.tx.publishes;
    t.tx.full += q.tx.full;
    t.tx.oversize += q.tx.oversize;
    t.tx.closed += q.tx.closed;
    t.tx.corrupt += q.tx.corrupt;
    t.tx.blocked += q.tx.blocked;
    t.tx.timeouts += q.tx.timeouts;
    t.rx.messages += q.rx.messages;
    t.rx.bytes += q.rx.bytes;
    t.rx.corrupt += q.rx.corrupt;
    t.rx.skipped_bytes += q.rx.skipped_bytes;
  }
  return t;
}

struct endpoint::impl {
  std::string name;
  bool creator = false;
  void* base = nullptr;
  std::size_t size = 0;
  layout::header* hdr = nullptr;
  std::uint32_t qps = 0, ring_bytes = 0, mask = 0, max_message = 0;
  std::uint32_t side = 0;  // 0 creator, 1 attacher
  std::chrono::nanoseconds spin{0};
  std::unique_ptr<tx_ring[]> tx;
  std::unique_ptr<rx_ring[]> rx;
  mutable std::mutex corruption_mutex;
  std::optional<corruption> last_corruption;
  bool closed = false;

  ~impl() { close(); }

  layout::doorbell& my_bell() { return hdr->bells[side]; }
  layout::doorbell& peer_bell() { return hdr->bells[1 - side]; }
  bool peer_closed() const { return hdr->closed[1 - side].load(std::memory_order_acquire) != 0; }

  void check_qp(std::uint32_t qp) const {
    if (closed)
      throw pcie_error("pcie link '" + name + "': endpoint is closed");
    if (qp >= qps)
      throw pcie_error("pcie link '" + name + "': queue pair " + std::to_string(qp) +
                       " out of range (the link has " + std::to_string(qps) + ")");
  }

  direction tx_dir() const { return side == 0 ? direction::creator_to_attacher : direction::attacher_to_creator; }
  direction rx_dir() const { return side == 0 ? direction::attacher_to_creator : direction::creator_to_attacher; }

  void report(std::uint32_t qp, direction d, std::uint64_t pos, std::uint64_t value, std::string reason) {
    std::lock_guard lock(corruption_mutex);
    last_corruption = corruption{qp, d, pos, pos & mask, value, std::move(reason)};
  }

  void map_rings() {
    tx = std::make_unique<tx_ring[]>(qps);
    rx = std::make_unique<rx_ring[]>(qps);
    auto* bytes = static_cast<std::byte*>(base);
    for (std::uint32_t q = 0; q < qps; ++q) {
      std::uint32_t out = side == 0 ? layout::creator_to_attacher : layout::attacher_to_creator;
      std::uint32_t in = 1 - out;
      std::byte* o = bytes + layout::ring_offset(q, out, hdr->ring_stride);
      std::byte* i = bytes + layout::ring_offset(q, in, hdr->ring_stride);
      tx[q].ctl = reinterpret_cast<layout::ring_control*>(o);
      tx[q].data = o + layout::control_bytes;
      tx[q].pos = tx[q].published = tx[q].ctl->tail.load(std::memory_order_relaxed);
      tx[q].cached_head = tx[q].ctl->head.load(std::memory_order_acquire);
      rx[q].ctl = reinterpret_cast<layout::ring_control*>(i);
      rx[q].data = i + layout::control_bytes;
      rx[q].head = rx[q].ctl->head.load(std::memory_order_relaxed);
      rx[q].cached_tail = rx[q].head;
    }
  }

  void close() noexcept {
    if (closed || !hdr)
      return;
    closed = true;
    hdr->closed[side].store(1, std::memory_order_seq_cst);
    if (side == 1)
      hdr->attacher_pid.store(0, std::memory_order_seq_cst);
    ring_bell(peer_bell().rx_bell);
    ring_bell(peer_bell().tx_bell);
    munmap(base, size);
    base = nullptr;
    hdr = nullptr;
    if (creator)
      shm_unlink(name.c_str());
  }

  // ---- sending ----

  /// Validates a head index read from the consumer; false (counted, reported) if impossible.
  bool valid_head(std::uint32_t qp, tx_ring& r, std::uint64_t head) {
    if (r.published - head <= ring_bytes && head - r.cached_head <= ring_bytes)
      return true;
    r.corrupt.add();
    report(qp, tx_dir(), head, head,
           "consumer head index is not between the previous head and the published tail " +
               std::to_string(r.published));
    return false;
  }

  /// Bytes needed to write an `n`-byte record at `pos` (including a wrap marker if needed).
  std::uint64_t need_at(std::uint64_t pos, std::uint64_t rec) const {
    std::uint64_t contig = ring_bytes - (pos & mask);
    return rec <= contig ? rec : contig + rec;
  }

  /// Checks room for an n-byte message without counting a refusal.
  status room(std::uint32_t qp, std::size_t n) {
    tx_ring& r = tx[qp];
    if (n > max_message)
      return status::oversize;
    if (peer_closed())
      return status::closed;
    std::uint64_t need = need_at(r.pos, record_bytes(n));
    if (r.pos + need - r.cached_head > ring_bytes) {
      std::uint64_t h = r.ctl->head.load(std::memory_order_seq_cst);  // pairs with wait_on
      if (!valid_head(qp, r, h))
        return status::corrupt;
      r.cached_head = h;
      if (r.pos + need - r.cached_head > ring_bytes)
        return status::full;
    }
    return status::ok;
  }

  void count_refusal(tx_ring& r, status s, std::uint64_t n = 1) {
    switch (s) {
      case status::full: r.full.add(n); break;
      case status::oversize: r.oversize.add(n); break;
      case status::closed: r.closed.add(n); break;
      case status::corrupt: break;  // counted where detected
      default: break;
    }
  }

  /// Writes the record header (after room() said ok) and returns the payload span.
  std::span<std::byte> place(tx_ring& r, std::size_t n) {
    std::uint64_t off = r.pos & mask;
    std::uint64_t contig = ring_bytes - off;
    std::uint64_t rec = record_bytes(n);
    if (rec > contig) {
      layout::record_header wrap{layout::wrap_marker, ~layout::wrap_marker};
      std::memcpy(r.data + off, &wrap, sizeof wrap);
      r.pos += contig;
      off = 0;
    }
    layout::record_header h{static_cast<std::uint32_t>(n), ~static_cast<std::uint32_t>(n)};
    std::memcpy(r.data + off, &h, sizeof h);
    r.pos += rec;
    ++r.reserved;
    r.reserved_bytes += n;
    return {r.data + off + layout::record_header_bytes, n};
  }

  std::span<std::byte> try_reserve(std::uint32_t qp, std::size_t n, status* why) {
    check_qp(qp);
    status s = room(qp, n);
    if (why)
      *why = s;
    if (s != status::ok) {
      count_refusal(tx[qp], s);
      return {};
    }
    return place(tx[qp], n);
  }

  void publish(std::uint32_t qp) {
    check_qp(qp);
    tx_ring& r = tx[qp];
    if (r.pos == r.published)
      return;
    // seq_cst store, then seq_cst load of the waiter count: pairs with the consumer's
    // waiter increment then tail load, so one of the two always sees the other (no lost wake-up).
    r.ctl->tail.store(r.pos, std::memory_order_seq_cst);
    r.published = r.pos;
    r.messages.add(r.reserved);
    r.bytes.add(r.reserved_bytes);
    r.publishes.add();
    r.reserved = 0;
    r.reserved_bytes = 0;
    if (peer_bell().rx_waiters.load(std::memory_order_seq_cst) != 0)
      ring_bell(peer_bell().rx_bell);
  }

  status try_send(std::uint32_t qp, message_view msg) {
    status s;
    auto dst = try_reserve(qp, msg.size(), &s);
    if (s != status::ok)
      return s;
    if (!msg.empty())
      std::memcpy(dst.data(), msg.data(), msg.size());
    publish(qp);
    return status::ok;
  }

  std::size_t try_send_batch(std::uint32_t qp, std::span<const message_view> msgs, status* why) {
    check_qp(qp);
    tx_ring& r = tx[qp];
    std::size_t sent = 0;
    status s = status::ok;
    for (const auto& m : msgs) {
      s = room(qp, m.size());
      if (s != status::ok)
        break;
      auto dst = place(r, m.size());
      if (!m.empty())
        std::memcpy(dst.data(), m.data(), m.size());
      ++sent;
    }
    if (s != status::ok)
      count_refusal(r, s, msgs.size() - sent);
    publish(qp);
    if (why)
      *why = s;
    return sent;
  }

  // ---- receiving ----

  /// Records a protocol violation on qp's incoming ring at `pos` and skips to the tail.
  void corrupt_rx(std::uint32_t qp, rx_ring& r, std::uint64_t pos, std::uint64_t value, std::string why,
                  std::uint64_t tail) {
    r.corrupt.add();
    report(qp, rx_dir(), pos, value, std::move(why));
    std::uint64_t avail = tail - r.head;
    r.skipped_bytes.add(avail <= ring_bytes ? avail : 0);
    r.head = tail;
    r.cached_tail = tail;
  }

  /// Loads and validates the producer's tail; false if corrupt (already handled).
  bool refresh_tail(std::uint32_t qp, rx_ring& r) {
    std::uint64_t t = r.ctl->tail.load(std::memory_order_acquire);
    std::uint64_t avail = t - r.head;
    if (avail > ring_bytes || avail % layout::record_align != 0) {
      corrupt_rx(qp, r, t, t,
                 avail > ring_bytes ? "producer tail index is more than a ring ahead of the head (or behind it)"
                                    : "producer tail index is not record-aligned",
                 t);
      return false;
    }
    r.cached_tail = t;
    return true;
  }

  void release_head(rx_ring& r) {
    r.ctl->head.store(r.head, std::memory_order_seq_cst);
    if (peer_bell().tx_waiters.load(std::memory_order_seq_cst) != 0)
      ring_bell(peer_bell().tx_bell);
  }

  recv_result poll(std::uint32_t qp, detail::message_sink sink, std::size_t max) {
    check_qp(qp);
    rx_ring& r = rx[qp];
    recv_result res;
    if (max == 0)
      return res;
    std::uint64_t start = r.head;
    bool bad = false;
    if (r.head == r.cached_tail && !refresh_tail(qp, r))
      bad = true;
    struct publish_guard {
      impl* self;
      rx_ring& r;
      std::uint64_t start;
      ~publish_guard() {
        if (r.head != start)
          self->release_head(r);
      }
    } guard{this, r, start};
    while (!bad && res.messages < max) {
      if (r.head == r.cached_tail) {
        if (!refresh_tail(qp, r)) {
          bad = true;
          break;
        }
        if (r.head == r.cached_tail)
          break;
      }
      std::uint64_t off = r.head & mask;
      std::uint64_t avail = r.cached_tail - r.head;
      layout::record_header h;
      std::memcpy(&h, r.data + off, sizeof h);  // read once: the peer may change it under us
      if (h.check != ~h.length) {
        corrupt_rx(qp, r, r.head, h.length, "record length check word does not match", r.cached_tail);
        bad = true;
        break;
      }
      if (h.length == layout::wrap_marker) {
        std::uint64_t skip = ring_bytes - off;
        if (skip > avail) {
          corrupt_rx(qp, r, r.head, h.length, "wrap marker past the published tail", r.cached_tail);
          bad = true;
          break;
        }
        r.head += skip;
        continue;
      }
      if (h.length > max_message) {
        corrupt_rx(qp, r, r.head, h.length,
                   "record length exceeds max_message " + std::to_string(max_message), r.cached_tail);
        bad = true;
        break;
      }
      std::uint64_t rec = record_bytes(h.length);
      if (off + rec > ring_bytes) {
        corrupt_rx(qp, r, r.head, h.length, "record crosses the end of the ring", r.cached_tail);
        bad = true;
        break;
      }
      if (rec > avail) {
        corrupt_rx(qp, r, r.head, h.length, "record extends past the published tail", r.cached_tail);
        bad = true;
        break;
      }
      r.head += rec;  // consumed even if the callback throws
      r.messages.add();
      r.bytes.add(h.length);
      ++res.messages;
      sink(qp, message_view(r.data + off + layout::record_header_bytes, h.length));
    }
    if (bad)
      res.st = status::corrupt;
    else if (res.messages == 0)
      res.st = peer_closed() && !readable(qp) ? status::closed : status::empty;
    return res;
  }

  bool readable(std::uint32_t qp) const {
    const rx_ring& r = rx[qp];
    // seq_cst (a plain load on x86): pairs with the waiter count in wait_on (no lost wake-up).
    return r.head != r.cached_tail || r.ctl->tail.load(std::memory_order_seq_cst) != r.head;
  }

  bool any_readable() const {
    for (std::uint32_t q = 0; q < qps; ++q)
      if (readable(q))
        return true;
    return false;
  }

  // ---- waiting ----

  /// Spins then sleeps on `bell` until `ready()` or `timeout`; `waiters` counts sleepers.
  template <class Ready>
  bool wait_on(std::atomic<std::uint32_t>& bell, std::atomic<std::uint32_t>& waiters, Ready ready,
               std::chrono::nanoseconds timeout) {
    if (ready())
      return true;
    auto now = clock_type::now();
    auto deadline = now + timeout;
    auto spin_until = now + std::min(spin, timeout);
    for (unsigned i = 1;; ++i) {
      if (ready())
        return true;
      cpu_relax();
      if ((i & 63) == 0 && clock_type::now() >= spin_until)
        break;
    }
    for (;;) {
      std::uint32_t b = bell.load(std::memory_order_seq_cst);
      waiters.fetch_add(1, std::memory_order_seq_cst);
      bool r = ready();
      if (!r) {
        auto left = deadline - clock_type::now();
        if (left > std::chrono::nanoseconds::zero())
          futex_wait(bell, b, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
        r = ready();
      }
      waiters.fetch_sub(1, std::memory_order_seq_cst);
      if (r)
        return true;
      if (clock_type::now() >= deadline)
        return false;
    }
  }

  status wait_readable(std::uint32_t qp, std::chrono::nanoseconds timeout, bool any) {
    if (closed)
      return status::closed;
    auto ready = [&] { return (any ? any_readable() : readable(qp)) || peer_closed(); };
    if (!wait_on(my_bell().rx_bell, my_bell().rx_waiters, ready, timeout))
      return status::timeout;
    if (any ? any_readable() : readable(qp))
      return status::ok;
    return status::closed;
  }

  status wait_writable(std::uint32_t qp, std::size_t n, std::chrono::nanoseconds timeout) {
    check_qp(qp);
    status s = status::ok;
    auto ready = [&] {
      s = room(qp, n);
      return s != status::full;
    };
    if (!wait_on(my_bell().tx_bell, my_bell().tx_waiters, ready, timeout))
      return status::timeout;
    return s;
  }
};

endpoint::endpoint(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
endpoint::endpoint(endpoint&&) noexcept = default;
endpoint& endpoint::operator=(endpoint&&) noexcept = default;
endpoint::~endpoint() = default;

endpoint endpoint::create(const std::string& name, const link_config& config_in, const create_options& options) {
  check_name(name);
  link_config config = normalise(config_in);
  std::uint64_t stride = layout::control_bytes + std::uint64_t(config.ring_bytes);
  std::uint64_t total = layout::header_bytes + std::uint64_t(config.queue_pairs) * 2 * stride;
  if (options.replace_existing)
    shm_unlink(name.c_str());
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST)
      throw pcie_error("pcie link '" + name +
                       "' already exists (another link, or left by a crashed process; "
                       "create_options::replace_existing removes it)");
    throw pcie_error(sys_error("cannot create pcie link", name, err));
  }
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    int err = errno;
    ::close(fd);
    shm_unlink(name.c_str());
    throw pcie_error(sys_error("cannot size pcie link (" + std::to_string(total) + " bytes)", name, err));
  }
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    shm_unlink(name.c_str());
    throw pcie_error(sys_error("cannot map pcie link", name, err));
  }
  auto* hdr = new (base) layout::header{};
  hdr->version = layout::version;
  hdr->header_bytes = layout::header_bytes;
  hdr->queue_pairs = config.queue_pairs;
  hdr->ring_bytes = config.ring_bytes;
  hdr->max_message = config.max_message;
  hdr->ring_stride = static_cast<std::uint32_t>(stride);
  hdr->total_bytes = total;
  hdr->creator_pid = static_cast<std::int32_t>(getpid());
  hdr->attacher_pid.store(0, std::memory_order_relaxed);
  for (std::uint32_t q = 0; q < config.queue_pairs; ++q)
    for (std::uint32_t d = 0; d < 2; ++d)
      new (static_cast<std::byte*>(base) + layout::ring_offset(q, d, hdr->ring_stride)) layout::ring_control{};
  hdr->magic.store(layout::magic, std::memory_order_release);

  auto p = std::make_unique<impl>();
  p->name = name;
  p->creator = true;
  p->base = base;
  p->size = total;
  p->hdr = hdr;
  p->qps = config.queue_pairs;
  p->ring_bytes = config.ring_bytes;
  p->mask = config.ring_bytes - 1;
  p->max_message = config.max_message;
  p->side = 0;
  p->spin = options.spin;
  p->map_rings();
  return endpoint(std::move(p));
}

endpoint endpoint::attach(const std::string& name, const attach_options& options) {
  check_name(name);
  auto deadline = clock_type::now() + options.timeout;
  auto retry_or_throw = [&](const std::string& message) {
    if (clock_type::now() >= deadline)
      throw pcie_error(message);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  for (;;) {
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) {
        retry_or_throw("pcie link '" + name + "' does not exist (has the creator started?)");
        continue;
      }
      throw pcie_error(sys_error("cannot open pcie link", name, err));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      throw pcie_error(sys_error("cannot stat pcie link", name, err));
    }
    auto size = static_cast<std::size_t>(st.st_size);
    if (size < layout::header_bytes) {
      ::close(fd);
      retry_or_throw("pcie link '" + name + "' is " + std::to_string(size) +
                     " bytes, smaller than its header (" + std::to_string(layout::header_bytes) +
                     "): not an E3 pcie link, or not initialised yet");
      continue;
    }
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    ::close(fd);
    if (base == MAP_FAILED)
      throw pcie_error(sys_error("cannot map pcie link", name, err));
    auto* hdr = static_cast<layout::header*>(base);
    auto fail = [&](const std::string& what) {
      munmap(base, size);
      throw pcie_error("cannot attach pcie link '" + name + "': " + what);
    };
    std::uint64_t magic = hdr->magic.load(std::memory_order_acquire);
    if (magic == 0) {
      munmap(base, size);
      retry_or_throw("pcie link '" + name + "' is not initialised (magic is 0)");
      continue;
    }
    if (magic != layout::magic) {
      std::ostringstream s;
      s << "bad magic 0x" << std::hex << magic << " at byte 0 (expected 0x" << layout::magic
        << "): not an E3 pcie link";
      fail(s.str());
    }
    if (hdr->version != layout::version)
      fail("layout version " + std::to_string(hdr->version) + " in the segment, this build speaks version " +
           std::to_string(layout::version));
    if (hdr->header_bytes != layout::header_bytes)
      fail("header size " + std::to_string(hdr->header_bytes) + " in the segment, expected " +
           std::to_string(layout::header_bytes));
    link_config c{hdr->queue_pairs, hdr->ring_bytes, hdr->max_message};
    if (c.max_message == 0)
      fail("max_message is 0 in the segment");
    try {
      normalise(c);
    } catch (const pcie_error& e) {
      fail(std::string("segment header is invalid: ") + e.what());
    }
    std::uint64_t stride = layout::control_bytes + std::uint64_t(c.ring_bytes);
    std::uint64_t total = layout::header_bytes + std::uint64_t(c.queue_pairs) * 2 * stride;
    if (hdr->ring_stride != stride)
      fail("ring stride " + std::to_string(hdr->ring_stride) + " in the segment, expected " + std::to_string(stride));
    if (hdr->total_bytes != total || size != total)
      fail("segment is " + std::to_string(size) + " bytes and its header says " + std::to_string(hdr->total_bytes) +
           ", but " + std::to_string(c.queue_pairs) + " queue pairs of " + std::to_string(c.ring_bytes) +
           "-byte rings need " + std::to_string(total));
    const link_config e = options.expect.value_or(link_config{0, 0, 0});
    if (e.queue_pairs && e.queue_pairs != c.queue_pairs)
      fail("queue_pairs is " + std::to_string(c.queue_pairs) + ", expected " + std::to_string(e.queue_pairs));
    if (e.ring_bytes && e.ring_bytes != c.ring_bytes)
      fail("ring_bytes is " + std::to_string(c.ring_bytes) + ", expected " + std::to_string(e.ring_bytes));
    if (e.max_message && e.max_message != c.max_message)
      fail("max_message is " + std::to_string(c.max_message) + ", expected " + std::to_string(e.max_message));

    // One attacher at a time (the rings are single-producer/single-consumer). A dead one's
    // claim is taken over, so a restarted peer can re-attach.
    auto me = static_cast<std::int32_t>(getpid());
    for (;;) {
      std::int32_t cur = hdr->attacher_pid.load(std::memory_order_seq_cst);
      if (cur != 0 && cur != me && !(kill(cur, 0) != 0 && errno == ESRCH))
        fail("already attached by process " + std::to_string(cur));
      if (cur == me)
        fail("already attached by this process");
      if (hdr->attacher_pid.compare_exchange_strong(cur, me, std::memory_order_seq_cst))
        break;
    }
    hdr->closed[1].store(0, std::memory_order_seq_cst);

    auto p = std::make_unique<impl>();
    p->name = name;
    p->creator = false;
    p->base = base;
    p->size = size;
    p->hdr = hdr;
    p->qps = c.queue_pairs;
    p->ring_bytes = c.ring_bytes;
    p->mask = c.ring_bytes - 1;
    p->max_message = c.max_message;
    p->side = 1;
    p->spin = options.spin;
    p->map_rings();
    return endpoint(std::move(p));
  }
}

void endpoint::close() noexcept {
  if (impl_)
    impl_->close();
}

const std::string& endpoint::name() const { return impl_->name; }
bool endpoint::is_creator() const { return impl_->creator; }
std::uint32_t endpoint::queue_pairs() const { return impl_->qps; }
std::uint32_t endpoint::ring_bytes() const { return impl_->ring_bytes; }
std::uint32_t endpoint::max_message() const { return impl_->max_message; }

bool endpoint::peer_closed() const {
  return impl_->closed || impl_->peer_closed();
}

bool endpoint::peer_attached() const {
  if (impl_->closed)
    return false;
  if (!impl_->creator)
    return true;
  return impl_->hdr->attacher_pid.load(std::memory_order_acquire) != 0;
}

status endpoint::try_send(std::uint32_t qp, message_view msg) { return impl_->try_send(qp, msg); }

std::size_t endpoint::try_send_batch(std::uint32_t qp, std::span<const message_view> msgs, status* why) {
  return impl_->try_send_batch(qp, msgs, why);
}

status endpoint::send(std::uint32_t qp, message_view msg, std::chrono::nanoseconds timeout) {
  impl_->check_qp(qp);
  tx_ring& r = impl_->tx[qp];
  status s = impl_->room(qp, msg.size());
  if (s == status::full) {
    r.blocked.add();
    s = impl_->wait_writable(qp, msg.size(), timeout);
    if (s == status::timeout) {
      r.timeouts.add();
      return s;
    }
  }
  if (s != status::ok) {
    impl_->count_refusal(r, s);
    return s;
  }
  auto dst = impl_->place(r, msg.size());
  if (!msg.empty())
    std::memcpy(dst.data(), msg.data(), msg.size());
  impl_->publish(qp);
  return status::ok;
}

std::span<std::byte> endpoint::try_reserve(std::uint32_t qp, std::size_t n, status* why) {
  return impl_->try_reserve(qp, n, why);
}

void endpoint::publish(std::uint32_t qp) { impl_->publish(qp); }

recv_result endpoint::poll_impl(std::uint32_t qp, detail::message_sink sink, std::size_t max) {
  return impl_->poll(qp, sink, max);
}

recv_result endpoint::poll_all_impl(detail::message_sink sink, std::size_t max_per_queue) {
  if (impl_->closed)
    throw pcie_error("pcie link '" + impl_->name + "': endpoint is closed");
  recv_result total;
  total.st = status::empty;
  bool corrupt = false, all_closed = true;
  for (std::uint32_t q = 0; q < impl_->qps; ++q) {
    recv_result r = impl_->poll(q, sink, max_per_queue);
    total.messages += r.messages;
    corrupt |= r.st == status::corrupt;
    all_closed &= r.st == status::closed;
  }
  if (corrupt)
    total.st = status::corrupt;
  else if (total.messages > 0)
    total.st = status::ok;
  else if (all_closed)
    total.st = status::closed;
  return total;
}

status endpoint::try_receive(std::uint32_t qp, std::vector<std::byte>& out) {
  impl_->check_qp(qp);
  recv_result res = poll(qp, [&](message_view m) { out.assign(m.begin(), m.end()); }, 1);
  return res.st;
}

bool endpoint::readable(std::uint32_t qp) const {
  impl_->check_qp(qp);
  return impl_->readable(qp);
}

status endpoint::wait_readable(std::chrono::nanoseconds timeout) { return impl_->wait_readable(0, timeout, true); }

status endpoint::wait_readable(std::uint32_t qp, std::chrono::nanoseconds timeout) {
  impl_->check_qp(qp);
  return impl_->wait_readable(qp, timeout, false);
}

status endpoint::wait_writable(std::uint32_t qp, std::size_t n, std::chrono::nanoseconds timeout) {
  return impl_->wait_writable(qp, n, timeout);
}

link_stats endpoint::stats() const {
  link_stats s;
  s.queues.resize(impl_->qps);
  for (std::uint32_t q = 0; q < impl_->qps; ++q) {
    const tx_ring& t = impl_->tx[q];
    const rx_ring& r = impl_->rx[q];
    auto& o = s.queues[q];
    o.tx = {t.messages.get(), t.bytes.get(), t.publishes.get(), t.full.get(), t.oversize.get(),
            t.closed.get(), t.corrupt.get(), t.blocked.get(), t.timeouts.get()};
    o.rx = {r.messages.get(), r.bytes.get(), r.corrupt.get(), r.skipped_bytes.get()};
  }
  return s;
}

std::optional<corruption> endpoint::last_corruption() const {
  std::lock_guard lock(impl_->corruption_mutex);
  return impl_->last_corruption;
}

}  // namespace e3::pcie
