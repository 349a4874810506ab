// Reading packet captures (classic pcap, both byte orders, µs or ns; and pcapng).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/service.hpp"

namespace e3::services {

/// Raised on an unreadable or malformed capture; names the file and the byte offset.
class pcap_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One captured frame.
struct captured_packet {
  std::int64_t ts_ns = 0;         ///< capture time
  std::uint32_t wire_length = 0;  ///< length on the wire (may exceed data.size() when snapped)
  bytes data;                     ///< captured bytes, starting at the link-layer header
};

/// Reads every packet of an Ethernet capture (link type 1). Throws pcap_error naming the file
/// and offset for a bad magic, a truncated record, a non-Ethernet link type or a length beyond
/// the snap length.
std::vector<captured_packet> read_pcap(const std::string& path);

}  // namespace e3::services
