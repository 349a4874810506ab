// The links of one compute node (or client): its ZeroMQ router and dealers (the ToR) and its
// PCIe rings (host ↔ SmartNIC of one server), behind one send call and one receive callback.
// No CAF in here: the node runtime plugs it into its actors.
//
// A node reaches another through the directory: every network-facing endpoint (SmartNICs,
// hosts without SmartNICs, clients) binds a ZeroMQ router at its address; senders keep one
// dealer per destination. The host of a SmartNIC server creates one PCIe segment per card and
// the card attaches to it.
//
// Threads: one I/O thread owns every ZeroMQ socket (they are single-threaded) and wakes on an
// eventfd when another thread queues a message; one thread per PCIe segment waits for incoming
// messages. The receive callback runs on those threads. send() is thread-safe.
// Nothing is dropped silently: every refused, failed or deliberately dropped (fault injection)
// message is counted in the stats.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "actors/router.hpp"

namespace e3::rt {

/// How to reach every endpoint of a deployment: plain data, copied into every node.
struct directory {
  /// Per compute node id: the ZeroMQ address its router binds ("" when it has none: a host
  /// whose network traffic arrives through its SmartNICs).
  std::vector<std::string> zmq;
  /// Per compute node id: ZeroMQ addresses of clients (index = client id).
  std::vector<std::string> clients;
  /// Per server: prefix of its PCIe segment names ("<prefix>.<nic index>").
  std::vector<std::string> pcie_prefix;
  /// The ZeroMQ identity of node `n`.
  static std::string node_identity(std::uint32_t n) { return "n" + std::to_string(n); }
  /// The ZeroMQ identity of client `c`.
  static std::string client_identity(std::uint32_t c) { return "c" + std::to_string(c); }
};

/// Where a message goes: a compute node, or a client.
struct peer {
  bool client = false;   ///< a client (load generator) rather than a compute node
  std::uint32_t id = 0;  ///< node id or client id
};

/// Counters per link kind, in each direction. Thread-safe.
struct link_counters {
  std::array<std::atomic<std::uint64_t>, link_kind_count> sent{};      ///< messages handed to the link
  std::array<std::atomic<std::uint64_t>, link_kind_count> sent_bytes{};
  std::array<std::atomic<std::uint64_t>, link_kind_count> received{};  ///< messages received
  std::array<std::atomic<std::uint64_t>, link_kind_count> received_bytes{};
  std::atomic<std::uint64_t> failed{0};   ///< refused by a link or unroutable (counted, not silent)
  std::atomic<std::uint64_t> dropped{0};  ///< dropped on purpose by fault injection
  std::atomic<std::uint64_t> cut{0};      ///< refused because the link was cut by fault injection
};

/// The links of one endpoint.
class node_links {
 public:
  /// Called for every received message (on an I/O thread) with the link it came over.
  using receive_fn = std::function<void(std::span<const std::uint8_t>, link_kind)>;

  /// The links of compute node `self` of `c` (or of client `self` when `is_client`), using
  /// `dir` to find peers. PCIe: a host creates its segments, a SmartNIC attaches (waiting up to
  /// a few seconds for the host). Starts the I/O threads; `on_receive` must be callable at once.
  node_links(const topo::cluster& c, directory dir, std::uint32_t self, bool is_client, receive_fn on_receive);
  ~node_links();
  node_links(const node_links&) = delete;
  node_links& operator=(const node_links&) = delete;

  /// Sends `bytes` to `to` over `kind` (pcie: the ring to the other end of this server; zmq: a
  /// dealer to `to`'s router). `lane` picks the PCIe queue pair (messages of one lane stay in
  /// order; use the shard key). Thread-safe. Returns false (and counts it) when the message was
  /// refused, dropped or the link is cut. A full ring or window makes the caller wait (up to a
  /// timeout, then the message counts as failed): back-pressure reaches the sender.
  bool send(peer to, link_kind kind, std::span<const std::uint8_t> bytes, std::uint64_t lane = 0);

  /// Replaces the directory (e.g. once every router has bound its port). Thread-safe.
  void set_directory(directory dir);

  /// Fault injection: cuts (or restores) every link between this endpoint and compute node `n`.
  void set_cut(std::uint32_t n, bool cut);
  /// Fault injection: drops this share (0..1) of outgoing messages, deterministically.
  void set_drop_share(double share);

  /// The counters.
  const link_counters& counters() const { return counters_; }
  /// The address this endpoint's router bound ("" when none); with "tcp://…:*" in the
  /// directory, the port actually chosen.
  std::string bound() const;
  /// Stops the I/O threads and closes the links (waits briefly for acknowledgements).
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  link_counters counters_;
};

}  // namespace e3::rt
