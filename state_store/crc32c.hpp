// CRC-32C (Castagnoli): the checksum of the RocksDB store's snapshot and replication formats.
#pragma once

#include <cstdint>
#include <string_view>

namespace e3::state {

/// Extends `crc` (0 to start) over `bytes`. Uses the SSE4.2 instruction where the CPU has it
/// (several GB/s, so checksumming a 1 M-key snapshot costs milliseconds) and a table otherwise;
/// both give the same value (crc32c("123456789") == 0xe3069283).
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

}  // namespace e3::state
