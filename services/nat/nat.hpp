// NATv4: routing by DIR-24-8 longest-prefix match plus a NAPT translation table (pure logic).
//
// Request: one Ethernet frame (IPv4 over Ethernet II, up to two VLAN tags). The engine rewrites
// it in place and says what it did:
//   - outbound (source inside, destination outside): the destination must have a route in the
//     routing table; the source address and TCP/UDP port are replaced by a public address and
//     port from the pool. Mappings are endpoint-independent (RFC 4787): one public address/port
//     per (protocol, inside address, inside port), whatever the destination.
//   - inbound (destination is a pool address): the destination address and port are restored to
//     the inside endpoint of the mapping that owns that public port.
//   - other IPv4 traffic is forwarded unchanged when its destination has a route (or is inside).
// Refused, each counted by reason: non-IPv4 frames, IPv4 fragments other than the first (no
// ports to translate), outbound protocols other than TCP/UDP, destinations without a route,
// inbound packets for a public port without a live mapping, and a pool with no free port.
//
// Checksums: the IPv4 header checksum is recomputed (it is a per-hop checksum). The TCP/UDP
// checksum is updated incrementally (RFC 1624) for the changed address and port, as routers do,
// so a segment that arrived with a valid checksum leaves with a valid one and a corrupted one
// stays detectably corrupted; a UDP checksum of 0 (none) stays 0. `full_checksum` recomputes the
// TCP/UDP checksum over the whole segment instead (when the frame holds all of it).
//
// State: the routing table is read-only data (shared between instances). The translation table
// is per-flow state kept in this object's memory only: NATv4 is stateless in the paper's Table 2,
// so mappings are not written to reliable collections and a restarted or migrated instance
// starts with an empty table (established flows get new public ports). Mappings idle longer than
// `idle_timeout_ns` are reclaimed when their public port is needed again.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "services/common/packet.hpp"
#include "services/nat/lpm.hpp"

namespace e3::services::nat {

/// Settings of one NAT instance.
struct nat_config {
  prefix pool{0xcb007101u, 32};  ///< public addresses (203.0.113.1/32 by default)
  std::uint16_t port_lo = 1024;  ///< first public port handed out
  std::uint16_t port_hi = 65535; ///< last public port handed out
  /// Inside networks (default: the RFC 1918 private ranges).
  std::vector<prefix> inside{{0x0a000000u, 8}, {0xac100000u, 12}, {0xc0a80000u, 16}};
  std::int64_t idle_timeout_ns = 300'000'000'000;  ///< a mapping idle this long may be reclaimed
  bool full_checksum = false;  ///< recompute TCP/UDP checksums instead of updating them
};

/// What the engine did with a frame.
enum class verdict : std::uint8_t {
  translated_out,  ///< source rewritten to a public address/port
  translated_in,   ///< destination restored to an inside address/port
  forwarded,       ///< routed unchanged
  rejected,        ///< refused; see reason
};

/// Why a frame was refused.
enum class reject_reason : std::uint8_t {
  none,
  not_ipv4,          ///< not an IPv4 frame (or malformed)
  truncated,         ///< a TCP/UDP header cut short by the frame or the IP length
  fragment,          ///< a non-first IPv4 fragment
  protocol,          ///< outbound protocol other than TCP/UDP
  no_route,          ///< destination has no route
  no_mapping,        ///< inbound to a public port without a live mapping
  pool_exhausted,    ///< no free public port
  count_             ///< number of reasons
};

/// Text of a reason.
const char* to_string(reject_reason r);

/// The outcome of process().
struct result {
  verdict what = verdict::rejected;            ///< what was done
  reject_reason why = reject_reason::none;     ///< set when rejected
  std::uint32_t route = lpm_table::no_route;   ///< matched route index (no_route when delivered inside)
  five_tuple tuple;  ///< the frame's five-tuple after the rewrite (set unless rejected)
};

/// Counters of an engine.
struct nat_stats {
  std::uint64_t translated_out = 0;  ///< outbound frames translated
  std::uint64_t translated_in = 0;   ///< inbound frames translated
  std::uint64_t forwarded = 0;       ///< frames forwarded unchanged
  std::uint64_t rejected[std::size_t(reject_reason::count_)] = {};  ///< refused frames by reason
  std::uint64_t mappings_created = 0;    ///< mappings allocated
  std::uint64_t mappings_reclaimed = 0;  ///< idle mappings reclaimed for reuse
};

/// A NAT: routing table plus translation table. One request at a time (not thread-safe).
class nat_engine {
 public:
  /// Uses `routes` (shared, read-only) and `cfg`. Throws std::invalid_argument on a bad config
  /// (port_lo > port_hi, or a pool of more than 2^22 address/port pairs).
  nat_engine(std::shared_ptr<const lpm_table> routes, nat_config cfg);

  /// Translates `frame` in place (`now_ns` drives idle expiry) and says what it did.
  result process(std::span<std::uint8_t> frame, std::int64_t now_ns);

  /// The public (address, port) mapped to an inside endpoint, if a mapping exists.
  bool lookup_mapping(std::uint8_t proto, std::uint32_t inside_addr, std::uint16_t inside_port,
                      std::uint32_t& public_addr, std::uint16_t& public_port) const;
  /// Number of live mappings.
  std::size_t mappings() const { return live_; }
  /// Counters so far.
  const nat_stats& stats() const { return stats_; }
  /// The routing table.
  const lpm_table& routes() const { return *routes_; }
  /// The configuration.
  const nat_config& config() const { return cfg_; }

 private:
  struct slot {
    std::uint64_t key = 0;        // (proto, inside address, inside port) packed; 0 = free
    std::int64_t last_used = 0;   // ns
  };
  bool inside(std::uint32_t a) const;
  std::uint32_t find(std::uint64_t key) const;  // slot index or npos
  void map_insert(std::uint64_t key, std::uint32_t slot_index);
  void map_erase(std::uint64_t key);
  std::uint32_t allocate(std::uint64_t key, std::int64_t now_ns);

  std::shared_ptr<const lpm_table> routes_;
  nat_config cfg_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> inside_;  // (network, mask)
  std::uint32_t pool_mask_ = 0;
  std::uint32_t ports_ = 0;        // ports per public address
  std::vector<slot> slots_;        // addresses x ports
  struct entry {
    std::uint64_t key = 0;   // packed inside endpoint, 0 = empty
    std::uint64_t slot = 0;  // index into slots_
  };
  std::vector<entry> map_;  // open addressing, linear probing, backward-shift deletion
  std::uint64_t map_mask_ = 0;
  std::uint32_t cursor_ = 0;       // next slot to try when allocating
  std::size_t live_ = 0;
  nat_stats stats_;
};

}  // namespace e3::services::nat
