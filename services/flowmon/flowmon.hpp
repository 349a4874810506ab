// Flow monitor: per-flow packet and byte counts in a count-min sketch (pure logic).
//
// Count-min (Cormode and Muthukrishnan, J. Algorithms 2005): d rows of w counters; an item
// increments one counter per row, chosen by that row's hash; its estimate is the minimum of its
// d counters. With w = ceil(e/ε) and d = ceil(ln(1/δ)), for every item
//   true ≤ estimate, and estimate ≤ true + ε·N with probability ≥ 1 − δ,
// N being the total count. Row hashes are drawn from the pairwise-independent family
// h(x) = ((a·x + b) mod p) reduced to [0, w) (by multiply-shift instead of mod w: both split
// [0, p) into w nearly equal parts), p = 2^61 − 1, with a, b from a seeded generator: the same
// seed gives the same sketch in every process (needed to migrate it).
//
// The item is a flow: the bidirectional five-tuple (addresses and ports in canonical order, and
// the protocol) of an IPv4/IPv6 packet, ports 0 for protocols other than TCP/UDP and for
// non-first fragments; both directions of a connection are one flow, as nDPI and tshark count.
// Each cell holds a packet counter and a byte counter (IP length); the two estimates are taken
// independently (each is a valid count-min estimate). A dirty bitmap over the cells lets a
// stateful service write only the cells changed since its last flush.
#pragma once

#include <cstdint>
#include <vector>

#include "services/common/packet.hpp"

namespace e3::services::flowmon {

/// A flow's identity: 64-bit hash of its canonical five-tuple (direction-free).
std::uint64_t flow_key(const five_tuple& t);

/// One counter cell: packets and bytes.
struct cell {
  std::uint64_t packets = 0;  ///< packets counted into this cell
  std::uint64_t bytes = 0;    ///< bytes counted into this cell
};

/// A count-min sketch of packets and bytes per key.
class count_min {
 public:
  /// Width for ε: ceil(e / ε).
  static std::size_t width_for(double eps);
  /// Depth for δ: ceil(ln(1 / δ)).
  static std::size_t depth_for(double delta);

  /// A sketch with bound (ε, δ): 0 < ε < 1, 0 < δ < 1 (throws std::invalid_argument otherwise,
  /// or when w·d would exceed 2^28 cells). `seed` picks the row hash functions.
  count_min(double eps, double delta, std::uint64_t seed = 0x5eed'0f'f10e'0000ull);

  /// Counts one occurrence of `key` carrying `bytes`.
  void add(std::uint64_t key, std::uint64_t bytes) {
    for (std::size_t r = 0; r < depth_; ++r) {
      std::size_t i = r * width_ + column(r, key);
      cells_[i].packets += 1;
      cells_[i].bytes += bytes;
      dirty_[i >> 6] |= std::uint64_t(1) << (i & 63);
    }
    ++packets_;
    bytes_ += bytes;
  }
  /// Estimated packets of `key` (never below the true count).
  std::uint64_t packets(std::uint64_t key) const;
  /// Estimated bytes of `key` (never below the true count).
  std::uint64_t bytes(std::uint64_t key) const;

  /// ε the sketch was sized for.
  double eps() const { return eps_; }
  /// δ the sketch was sized for.
  double delta() const { return delta_; }
  /// Counters per row.
  std::size_t width() const { return width_; }
  /// Rows.
  std::size_t depth() const { return depth_; }
  /// N: packets counted so far.
  std::uint64_t total_packets() const { return packets_; }
  /// Bytes counted so far.
  std::uint64_t total_bytes() const { return bytes_; }
  /// The additive error bound on packet estimates, ε·N.
  double packet_bound() const { return eps_ * double(packets_); }

  /// All cells, row-major (for saving state).
  const std::vector<cell>& cells() const { return cells_; }
  /// Calls f(index) for each cell changed since the last drain, then forgets them.
  template <class F>
  void drain_dirty(F&& f) {
    for (std::size_t w = 0; w < dirty_.size(); ++w) {
      for (std::uint64_t bits = dirty_[w]; bits; bits &= bits - 1)
        f(w * 64 + std::size_t(__builtin_ctzll(bits)));
      dirty_[w] = 0;
    }
  }
  /// Restores a cell and the totals (state restore); does not mark anything dirty.
  void restore_cell(std::size_t i, const cell& c) { cells_.at(i) = c; }
  /// Restores the totals.
  void restore_totals(std::uint64_t packets, std::uint64_t bytes) {
    packets_ = packets;
    bytes_ = bytes;
  }

 private:
  std::size_t column(std::size_t row, std::uint64_t key) const {
    constexpr std::uint64_t p = (std::uint64_t(1) << 61) - 1;
    std::uint64_t x = (key & p) + (key >> 61);  // key mod p (up to one subtraction)
    if (x >= p)
      x -= p;
    unsigned __int128 v = static_cast<unsigned __int128>(a_[row]) * x + b_[row];
    std::uint64_t r = std::uint64_t(v & p) + std::uint64_t(v >> 61);  // mod p
    r = (r & p) + (r >> 61);
    if (r >= p)
      r -= p;
    // r is uniform on [0, p); floor(r·w / 2^61) maps it onto [0, w) with preimages that differ
    // in size by at most one, as r mod w does, without a division.
    return std::size_t((static_cast<unsigned __int128>(r) * width_) >> 61);
  }

  double eps_, delta_;
  std::size_t width_, depth_;
  std::vector<std::uint64_t> a_, b_;
  std::vector<cell> cells_;
  std::vector<std::uint64_t> dirty_;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
};

/// Counts frames into a sketch: parses, keys by flow, skips what is not IP (counted).
class flow_monitor {
 public:
  /// A monitor with an (ε, δ) sketch.
  flow_monitor(double eps, double delta, std::uint64_t seed = 0x5eed'0f'f10e'0000ull) : sketch_(eps, delta, seed) {}
  /// Counts a parsed frame; false when it is not IP (counted as skipped).
  bool add(const std::optional<parsed_packet>& p) {
    if (!p || !p->ip) {
      ++skipped_;
      return false;
    }
    sketch_.add(flow_key(p->tuple), p->ip_size);
    return true;
  }
  /// Frames that were not IP.
  std::uint64_t skipped() const { return skipped_; }
  /// Restores the skipped counter.
  void set_skipped(std::uint64_t n) { skipped_ = n; }
  /// The sketch.
  count_min& sketch() { return sketch_; }
  /// The sketch.
  const count_min& sketch() const { return sketch_; }

 private:
  count_min sketch_;
  std::uint64_t skipped_ = 0;
};

}  // namespace e3::services::flowmon
