// DIR-24-8-BASIC longest-prefix match (Gupta, Lin, McKeown, INFOCOM'98) and the routes file reader.
//
// The table is the paper's two-level layout: TBL24, one entry for each of the 2^24 /24 blocks
// (indexed by the top 24 address bits), and TBLlong, 256-entry blocks allocated for each /24
// that holds a prefix longer than /24 (indexed by the block number and the low 8 bits). A lookup
// is one memory access, two when the TBL24 entry points to a block. Entries are 32 bits (the
// paper's are 16; 323 K routes need more than 15 bits of result):
//   bit 31 = 0: bits 0..30 hold (route index + 1), 0 meaning "no route";
//   bit 31 = 1: bits 0..30 hold the TBLlong block number.
// TBLlong entries hold (route index + 1), 0 meaning "no route". The result of a lookup is the
// index of the matched route in routes(), so callers can keep whatever they associate with a
// route (a next hop, the prefix text) in a parallel vector.
//
// Construction inserts routes shortest first, so a longer prefix overwrites the entries of the
// shorter ones it refines; the table is then read-only (the routing table is read-only data that
// only the control plane replaces: build a new table and swap it). TBL24 is 64 MiB, mapped with
// transparent huge pages where the kernel allows (madvise), which keeps the page-table walks of
// random lookups out of the way. Thread-safety: const methods may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::nat {

/// An IPv4 prefix, address in host order with its host bits clear.
struct prefix {
  std::uint32_t addr = 0;  ///< network address
  std::uint8_t len = 0;    ///< prefix length, 0..32
  bool operator==(const prefix&) const = default;
};

/// `a.b.c.d/len` text of a prefix.
std::string to_string(const prefix& p);

/// Parses `a.b.c.d/len`; returns an empty string on success, or says what is wrong (bad address,
/// bad length, host bits set).
std::string parse_prefix(std::string_view text, prefix& out);

/// Raised when a routes or address file cannot be read or has a bad line; the message is
/// `FILE:LINE: what` (or `FILE: what` when the file cannot be opened).
class file_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a routes file: one `a.b.c.d/len` per line, blank lines and `#` comments skipped, plain
/// or gzip-compressed (detected by content). Throws file_error naming the file and line.
std::vector<prefix> read_routes(const std::string& path);

/// Reads an address file: one dotted quad per line, or the first tab-separated column of each
/// line (the reference TSV layout); blank lines and `#` comments skipped. Throws file_error.
std::vector<std::uint32_t> read_addresses(const std::string& path);

/// A DIR-24-8-BASIC table over a fixed set of routes.
class lpm_table {
 public:
  /// What lookup() returns when no route matches.
  static constexpr std::uint32_t no_route = 0xffffffffu;

  /// Builds the table. Duplicate prefixes keep their first index; throws std::invalid_argument
  /// on a prefix with host bits set or a length above 32, or more than 2^31 routes.
  /// `huge_pages` = false keeps TBL24 on ordinary 4 KiB pages (to measure what huge pages buy).
  explicit lpm_table(std::vector<prefix> routes, bool huge_pages = true);
  ~lpm_table();
  lpm_table(const lpm_table&) = delete;
  lpm_table& operator=(const lpm_table&) = delete;

  /// Index in routes() of the longest prefix containing `addr` (host order), or no_route.
  std::uint32_t lookup(std::uint32_t addr) const noexcept {
    std::uint32_t e = tbl24_[addr >> 8];
    if (__builtin_expect(e >> 31, 0))
      e = tbl_long_[std::size_t(e & 0x7fffffffu) << 8 | (addr & 0xffu)];
    return e - 1;  // 0 ("no route") wraps to no_route
  }

  /// lookup() of n addresses, in blocks whose TBL24 loads are issued together.
  void lookup_bulk(const std::uint32_t* addrs, std::uint32_t* out, std::size_t n) const noexcept;

  /// The routes, deduplicated, in input order; lookup() indexes this vector.
  const std::vector<prefix>& routes() const { return routes_; }
  /// Number of TBLlong blocks (one per /24 holding a prefix longer than /24).
  std::size_t long_blocks() const { return tbl_long_.size() / 256; }
  /// Bytes held by the two tables.
  std::size_t memory_bytes() const { return tbl24_bytes + tbl_long_.size() * sizeof(std::uint32_t); }
  /// Whether TBL24 was advised to use transparent huge pages.
  bool huge_pages() const { return huge_; }

 private:
  static constexpr std::size_t tbl24_bytes = (std::size_t(1) << 24) * sizeof(std::uint32_t);
  std::vector<prefix> routes_;
  std::uint32_t* tbl24_ = nullptr;      // 2^24 entries, mmap'd
  std::vector<std::uint32_t> tbl_long_;  // 256 entries per block
  bool huge_ = false;
};

}  // namespace e3::services::nat
