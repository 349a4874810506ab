// DPDK's rte_lpm (DIR-24-8) behind a DPDK-free interface: the reference the NATv4 LPM is measured against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace e3::dpdk {

/// Raised when the DPDK environment (EAL) cannot start or rte_lpm refuses an operation.
class lpm_reference_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One rte_lpm table. The first object created in a process initialises DPDK's EAL once
/// (`--no-huge --no-pci -m 512 -l 0 --file-prefix=e3lpm<pid>`; needs root) and cleans it up at exit.
/// Lookups run inside this library so rte_lpm's inline lookup code is compiled as DPDK intends;
/// the loops below are what a benchmark times. Not thread-safe for writes; lookups are const.
class lpm_reference {
 public:
  /// Creates an empty table for up to `max_rules` prefixes and `tbl8_groups` second-level
  /// blocks (one per /24 holding a prefix longer than /24). Throws lpm_reference_error.
  lpm_reference(std::uint32_t max_rules, std::uint32_t tbl8_groups);
  ~lpm_reference();
  lpm_reference(const lpm_reference&) = delete;
  lpm_reference& operator=(const lpm_reference&) = delete;

  /// Adds prefix `ip`/`depth` (host order, depth 1..32) with `next_hop` (< 2^24).
  /// Throws lpm_reference_error when rte_lpm refuses it (e.g. out of tbl8 groups).
  void add(std::uint32_t ip, std::uint8_t depth, std::uint32_t next_hop);
  /// The next hop of the longest prefix matching `ip`, or `miss` when none matches.
  std::uint32_t lookup(std::uint32_t ip, std::uint32_t miss = 0xffffffffu) const;
  /// rte_lpm_lookup() on each of `n` addresses in turn; out[i] = next hop or `miss`.
  void lookup_each(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                   std::uint32_t miss = 0xffffffffu) const;
  /// rte_lpm_lookup_bulk() over `n` addresses in batches of 64; out[i] = next hop or `miss`.
  void lookup_bulk(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                   std::uint32_t miss = 0xffffffffu) const;
  /// rte_lpm_lookupx4() (DPDK's SSE path) over `n` addresses, 4 at a time; out[i] = next hop or `miss`.
  void lookup_x4(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                 std::uint32_t miss = 0xffffffffu) const;

 private:
  void* lpm_ = nullptr;  // struct rte_lpm*
};

}  // namespace e3::dpdk
