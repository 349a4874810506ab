// Ethernet/IPv4/IPv6/TCP/UDP parsing and building: the request format of the NFV services.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "actors/service.hpp"

namespace e3::services {

/// The transport-level identity of a packet, addresses as 16 bytes (IPv4 mapped to ::ffff:a.b.c.d).
struct five_tuple {
  std::uint8_t src[16] = {};  ///< source address
  std::uint8_t dst[16] = {};  ///< destination address
  std::uint16_t sport = 0;    ///< source port (0 when not TCP/UDP)
  std::uint16_t dport = 0;    ///< destination port
  std::uint8_t proto = 0;     ///< IP protocol number
  bool operator==(const five_tuple&) const = default;
  /// A 64-bit hash of the tuple (FNV-1a over its fields); the same in every process.
  std::uint64_t hash() const;
  /// The hash of the tuple with source and destination swapped into a canonical order, so
  /// both directions of a conversation get the same value.
  std::uint64_t conversation_hash() const;
};

/// What parse_frame found in an Ethernet frame. Offsets index the frame.
struct parsed_packet {
  bool ipv4 = false;            ///< IPv4 (else IPv6 when `ip` is true)
  bool ip = false;              ///< an IP packet was found
  bool tcp = false;             ///< TCP segment
  bool udp = false;             ///< UDP datagram
  std::uint8_t tcp_flags = 0;   ///< TCP flags byte (FIN=1, SYN=2, RST=4, PSH=8, ACK=16)
  std::uint32_t src4 = 0;       ///< IPv4 source, host order
  std::uint32_t dst4 = 0;       ///< IPv4 destination, host order
  std::size_t l3_offset = 0;    ///< start of the IP header
  std::size_t l4_offset = 0;    ///< start of the TCP/UDP header
  std::size_t payload_offset = 0;  ///< start of the TCP/UDP payload
  std::size_t payload_size = 0;    ///< payload bytes, bounded by the IP length (no Ethernet padding)
  std::size_t ip_size = 0;         ///< IP datagram bytes per its header
  five_tuple tuple;                ///< addresses, ports, protocol
};

/// Parses an Ethernet II frame (with up to two 802.1Q/802.1ad tags). Returns nullopt for
/// frames that are not IP or are malformed (truncated headers, lengths past the end); never
/// reads past `frame`.
std::optional<parsed_packet> parse_frame(bytes_view frame);

/// Builds an Ethernet/IPv4/UDP frame of exactly `frame_size` bytes (at least 42) whose UDP
/// payload is filled with `fill` repeated; checksums are valid.
bytes build_udp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                      std::size_t frame_size, std::string_view fill = "e3");

/// Dotted-quad text of a host-order IPv4 address.
std::string ipv4_to_string(std::uint32_t a);
/// Parses a dotted quad; nullopt when malformed.
std::optional<std::uint32_t> parse_ipv4(std::string_view s);

}  // namespace e3::services
