// A node's links: one ZeroMQ I/O thread, one thread per PCIe segment.
#include "actors/node_links.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "transport_pcie/transport_pcie.hpp"
#include "transport_zmq/transport_zmq.hpp"

namespace e3::rt {
namespace {

constexpr auto pcie_send_timeout = std::chrono::milliseconds(200);
constexpr std::uint32_t pcie_queue_pairs = 8;
// Messages queued for the ZeroMQ I/O thread beyond which senders wait (back-pressure).
constexpr std::size_t max_zmq_queued = 1u << 16;
constexpr auto zmq_queue_timeout = std::chrono::milliseconds(200);

std::span<const std::byte> as_bytes(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const std::byte*>(b.data()), b.size()};
}
std::span<const std::uint8_t> as_u8(std::span<const std::byte> b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

struct node_links::impl {
  struct pcie_end {
    std::uint32_t peer_node = 0;                 // the other end of the segment
    e3::pcie::endpoint ep;
    std::array<std::mutex, pcie_queue_pairs> qp_lock;
    std::thread rx;
    explicit pcie_end(e3::pcie::endpoint e) : ep(std::move(e)) {}
  };
  struct outgoing {
    std::string identity;  // destination identity
    std::string address;   // its router address
    std::vector<std::uint8_t> bytes;
  };

  node_links& owner;
  receive_fn on_receive;
  std::uint32_t self;
  bool is_client;
  std::string identity;

  mutable std::mutex dir_lock;
  directory dir;

  // ZeroMQ: owned by the I/O thread after construction.
  std::unique_ptr<e3::zmq_link::context> ctx;
  std::unique_ptr<e3::zmq_link::router> router;
  std::string bound_address;
  std::unordered_map<std::string, std::unique_ptr<e3::zmq_link::dealer>> dealers;
  std::mutex out_lock;
  std::condition_variable room;   // signalled when queued messages leave
  std::size_t queued = 0;         // in `out` and `retry` (guarded by out_lock)
  std::deque<outgoing> out;       // queued by send(), drained by the I/O thread
  std::deque<outgoing> retry;     // refused for back-pressure; retried (I/O thread only)
  int wake_fd = -1;
  std::atomic<bool> io_sleeping{false};  // the I/O thread is (about to be) blocked in zmq_poll
  std::thread io;

  std::vector<std::unique_ptr<pcie_end>> pcie;
  std::atomic<bool> stopping{false};
  std::vector<std::atomic<bool>> cut;
  std::atomic<std::uint64_t> drop_ppm{0};
  std::atomic<std::uint64_t> sends{0};

  impl(node_links& o, receive_fn f, std::uint32_t s, bool client, std::size_t nodes)
      : owner(o), on_receive(std::move(f)), self(s), is_client(client), cut(nodes) {}

  void deliver(std::span<const std::byte> m, link_kind via) {
    owner.counters_.received[std::size_t(via)].fetch_add(1, std::memory_order_relaxed);
    owner.counters_.received_bytes[std::size_t(via)].fetch_add(m.size(), std::memory_order_relaxed);
    on_receive(as_u8(m), via);
  }

  void io_loop() {
    std::vector<zmq_pollitem_t> items;
    std::vector<e3::zmq_link::endpoint*> eps;
    auto handle = [this](std::string_view, std::span<const std::byte> m) { deliver(m, link_kind::zmq); };
    while (!stopping.load()) {
      items.clear();
      eps.clear();
      if (router) {
        items.push_back({router->native_handle(), 0, ZMQ_POLLIN, 0});
        eps.push_back(router.get());
      }
      for (auto& [_, d] : dealers) {
        items.push_back({d->native_handle(), 0, ZMQ_POLLIN, 0});
        eps.push_back(d.get());
      }
      items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
      // Senders write the eventfd only while this thread sleeps (one system call saved per
      // message on the hot path); it re-checks the queue after announcing it, so no wake-up is
      // lost. 1 ms: acknowledgements and resends are due on that scale even when idle.
      io_sleeping.store(true);
      bool work;
      {
        std::lock_guard g(out_lock);
        work = !out.empty();
      }
      zmq_poll(items.data(), int(items.size()), (retry.empty() && !work) ? 1 : 0);
      io_sleeping.store(false);
      if (items.back().revents & ZMQ_POLLIN) {
        std::uint64_t v;
        (void)!::read(wake_fd, &v, sizeof v);
      }
      {
        std::lock_guard g(out_lock);
        while (!out.empty()) {
          retry.push_back(std::move(out.front()));
          out.pop_front();
        }
      }
      std::size_t left = 0;
      while (!retry.empty()) {
        auto& m = retry.front();
        auto& d = dealers[m.identity];
        if (!d) {
          e3::zmq_link::dealer_options o;
          o.identity = identity;
          o.connect = m.address;
          o.peer_name = m.identity;
          d = std::make_unique<e3::zmq_link::dealer>(*ctx, o);
        }
        auto st = d->try_send(as_bytes(m.bytes));
        if (st == e3::zmq_link::status::would_block)
          break;  // back-pressure: keep it (and everything after it, in order) for later
        if (st != e3::zmq_link::status::ok)
          owner.counters_.failed.fetch_add(1, std::memory_order_relaxed);
        retry.pop_front();
        ++left;
      }
      if (left) {
        std::lock_guard g(out_lock);
        queued -= left;
        room.notify_all();
      }
      for (auto* e : eps)
        e->poll(handle);
    }
    // Whatever is still queued will not be sent: count it, then close (which waits for
    // outstanding acknowledgements and counts the unacknowledged as failed in the link stats).
    {
      std::lock_guard g(out_lock);
      owner.counters_.failed.fetch_add(out.size() + retry.size(), std::memory_order_relaxed);
      out.clear();
      retry.clear();
      queued = 0;
      room.notify_all();
    }
    for (auto& [_, d] : dealers)
      d->close();
    if (router)
      router->close();
  }

  void pcie_loop(pcie_end* p) {
    auto handle = [this](std::span<const std::byte> m) { deliver(m, link_kind::pcie); };
    while (!stopping.load()) {
      auto st = p->ep.wait_readable(std::chrono::milliseconds(20));
      if (st == e3::pcie::status::closed)
        break;
      p->ep.poll_all(handle);
    }
  }
};

node_links::node_links(const topo::cluster& c, directory dir, std::uint32_t self, bool is_client, receive_fn on_receive)
    : impl_(std::make_unique<impl>(*this, std::move(on_receive), self, is_client, c.nodes().size())) {
  auto& m = *impl_;
  m.dir = std::move(dir);
  m.identity = is_client ? directory::client_identity(self) : directory::node_identity(self);
  m.ctx = std::make_unique<e3::zmq_link::context>(1);
  const std::string& addr = is_client ? m.dir.clients.at(self) : m.dir.zmq.at(self);
  if (!addr.empty()) {
    e3::zmq_link::router_options o;
    o.identity = m.identity;
    o.bind = {addr};
    m.router = std::make_unique<e3::zmq_link::router>(*m.ctx, o);
    m.bound_address = m.router->bound().front();
  }
  if (!is_client) {
    const auto& n = c.node(self);
    const auto& s = c.servers()[std::size_t(n.server)];
    e3::pcie::link_config cfg;
    cfg.queue_pairs = pcie_queue_pairs;
    cfg.ring_bytes = 1u << 20;
    for (auto nic : s.smartnics) {
      if (n.kind == topo::node_kind::host) {
        std::string name = m.dir.pcie_prefix.at(std::size_t(n.server)) + "." + std::to_string(c.node(nic).nic_index);
        e3::pcie::create_options co;
        co.replace_existing = true;
        m.pcie.push_back(std::make_unique<impl::pcie_end>(e3::pcie::endpoint::create(name, cfg, co)));
        m.pcie.back()->peer_node = nic;
      } else if (nic == self) {
        std::string name = m.dir.pcie_prefix.at(std::size_t(n.server)) + "." + std::to_string(n.nic_index);
        e3::pcie::attach_options ao;
        ao.timeout = std::chrono::seconds(5);
        m.pcie.push_back(std::make_unique<impl::pcie_end>(e3::pcie::endpoint::attach(name, ao)));
        m.pcie.back()->peer_node = s.host;
      }
    }
  }
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m.io = std::thread([&m] { m.io_loop(); });
  for (auto& p : m.pcie)
    p->rx = std::thread([&m, raw = p.get()] { m.pcie_loop(raw); });
}

node_links::~node_links() { stop(); }

void node_links::stop() {
  auto& m = *impl_;
  if (m.stopping.exchange(true))
    return;
  std::uint64_t one = 1;
  (void)!::write(m.wake_fd, &one, sizeof one);
  if (m.io.joinable())
    m.io.join();
  for (auto& p : m.pcie) {
    if (p->rx.joinable())
      p->rx.join();
    p->ep.close();
  }
  m.dealers.clear();
  m.router.reset();
  m.ctx.reset();  // destroyed before the process exits, so nothing queued is lost silently
  ::close(m.wake_fd);
}

void node_links::set_directory(directory dir) {
  std::lock_guard g(impl_->dir_lock);
  impl_->dir = std::move(dir);
}

std::string node_links::bound() const { return impl_->bound_address; }

void node_links::set_cut(std::uint32_t n, bool cut) {
  if (n < impl_->cut.size())
    impl_->cut[n].store(cut);
}

void node_links::set_drop_share(double share) {
  impl_->drop_ppm.store(std::uint64_t(std::clamp(share, 0.0, 1.0) * 1e6));
}

bool node_links::send(peer to, link_kind kind, std::span<const std::uint8_t> bytes, std::uint64_t lane) {
  auto& m = *impl_;
  auto& c = counters_;
  if (!to.client && to.id < m.cut.size() && m.cut[to.id].load(std::memory_order_relaxed)) {
    c.cut.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (auto ppm = m.drop_ppm.load(std::memory_order_relaxed)) {
    if (mix(m.sends.fetch_add(1, std::memory_order_relaxed) + 0x1234) % 1000000 < ppm) {
      c.dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  if (kind == link_kind::pcie) {
    for (auto& p : m.pcie) {
      if (to.client || p->peer_node != to.id)
        continue;
      auto qp = std::uint32_t(lane % pcie_queue_pairs);
      std::lock_guard g(p->qp_lock[qp]);
      auto st = p->ep.send(qp, as_bytes(bytes), pcie_send_timeout);
      if (st != e3::pcie::status::ok) {
        c.failed.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      c.sent[std::size_t(kind)].fetch_add(1, std::memory_order_relaxed);
      c.sent_bytes[std::size_t(kind)].fetch_add(bytes.size(), std::memory_order_relaxed);
      return true;
    }
    c.failed.fetch_add(1, std::memory_order_relaxed);  // no such ring from this node
    return false;
  }
  impl::outgoing o;
  {
    std::lock_guard g(m.dir_lock);
    if (to.client) {
      o.identity = directory::client_identity(to.id);
      o.address = to.id < m.dir.clients.size() ? m.dir.clients[to.id] : "";
    } else {
      o.identity = directory::node_identity(to.id);
      o.address = to.id < m.dir.zmq.size() ? m.dir.zmq[to.id] : "";
    }
  }
  if (o.address.empty() || o.address.find('*') != std::string::npos) {
    c.failed.fetch_add(1, std::memory_order_relaxed);  // the peer has no network endpoint
    return false;
  }
  o.bytes.assign(bytes.begin(), bytes.end());
  {
    std::unique_lock g(m.out_lock);
    if (!m.room.wait_for(g, zmq_queue_timeout, [&] { return m.queued < max_zmq_queued || m.stopping.load(); }) ||
        m.stopping.load()) {
      c.failed.fetch_add(1, std::memory_order_relaxed);  // the I/O thread cannot keep up: refused, counted
      return false;
    }
    m.out.push_back(std::move(o));
    ++m.queued;
  }
  if (m.io_sleeping.exchange(false)) {
    std::uint64_t one = 1;
    (void)!::write(m.wake_fd, &one, sizeof one);
  }
  c.sent[std::size_t(kind)].fetch_add(1, std::memory_order_relaxed);
  c.sent_bytes[std::size_t(kind)].fetch_add(bytes.size(), std::memory_order_relaxed);
  return true;
}

}  // namespace e3::rt
