// Count: item-frequency counting on a bitmap-indexed counter table (pure logic).
//
// The table (bitmap_counter) is an open-addressing array of (key, counters) slots with two
// bitmaps beside it, one bit per slot, in the spirit of Metron's bitmap-based Count element:
//   - the occupancy bitmap says which slots hold a key: a probe reads one bit to stop at a free
//     slot, and iterating over the counted items walks the set bits (64 slots per word),
//   - the dirty bitmap says which slots changed since the last drain: a stateful service writes
//     only those to its reliable collection when the runtime flushes it.
// Linear probing over a power-of-two capacity that doubles at 3/4 load; 64-bit hashes are kept
// per slot so growth never rehashes keys. A table refuses new keys past `max_entries` and counts
// them (overflow) instead of growing without bound.
//
// What is counted (the service's request format):
//   - packets (default): one Ethernet frame; the item is the frame's conversation of the
//     configured kind, as tshark's `-z conv,ip|tcp|udp` defines them: `ip` = the pair of IP
//     addresses (IPv4 and IPv6), `tcp` / `udp` = the pair of address:port endpoints of a TCP
//     segment / UDP datagram (IPv4 or IPv6; non-first fragments carry no ports and are not
//     counted). Both directions count for the same conversation; per direction too, with A = the
//     source of the conversation's first packet (tshark's A→B / B→A columns).
//   - records: the item is `record.key` (services/common/record.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "services/common/packet.hpp"

namespace e3::services::count {

/// Which conversation a packet is counted under.
enum class conv_kind : std::uint8_t { ip = 0, tcp = 1, udp = 2 };

/// Parses "ip" / "tcp" / "udp"; false when unknown.
bool parse_kind(std::string_view text, conv_kind& out);
/// "ip" / "tcp" / "udp".
const char* to_string(conv_kind k);

/// A conversation: two endpoints in canonical order (address bytes, then port: a < b).
struct conv_key {
  std::uint8_t a[16] = {};     ///< address of endpoint a (IPv4 as ::ffff:a.b.c.d)
  std::uint8_t b[16] = {};     ///< address of endpoint b
  std::uint16_t port_a = 0;    ///< port of a (0 for kind ip)
  std::uint16_t port_b = 0;    ///< port of b
  std::uint8_t kind = 0;       ///< conv_kind
  std::uint8_t ipv4 = 0;       ///< 1 for IPv4 addresses
  std::uint8_t pad[2] = {};    ///< zero
  bool operator==(const conv_key& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(conv_key) == 40);

/// The conversation of `p` for `kind`, and whether p travels from endpoint a to b.
/// False when the packet does not belong to a conversation of that kind.
bool conversation_of(const parsed_packet& p, conv_kind kind, conv_key& key, bool& a_to_b);

/// Text of one endpoint: `a.b.c.d`, an IPv6 address, or with a port `a.b.c.d:p` / `[v6]:p`.
std::string endpoint_text(const std::uint8_t addr[16], bool ipv4, std::uint16_t port, bool with_port);

/// Packet counters of one conversation.
struct conv_counts {
  std::uint64_t a_to_b = 0;       ///< packets from endpoint a to b
  std::uint64_t b_to_a = 0;       ///< packets from b to a
  std::uint64_t first_seen = 0;   ///< stream position of its first packet (for stable output)
  std::uint8_t first_from_a = 0;  ///< 1 when the first packet came from a (tshark's A is a)
  std::uint8_t pad[7] = {};       ///< zero
  /// Packets in both directions.
  std::uint64_t total() const { return a_to_b + b_to_a; }
};

/// 64-bit hash of a trivially copyable key (multiply-fold over its 8-byte words).
template <class K>
std::uint64_t hash_key(const K& k) {
  static_assert(sizeof(K) % 8 == 0 || sizeof(K) < 8);
  std::uint64_t h = 0x243f6a8885a308d3ull ^ sizeof(K);
  if constexpr (sizeof(K) < 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, &k, sizeof(K));
    h ^= w;
  } else {
    for (std::size_t i = 0; i < sizeof(K); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, reinterpret_cast<const char*>(&k) + i, 8);
      unsigned __int128 m = static_cast<unsigned __int128>(h ^ w) * 0x9e3779b97f4a7c15ull;
      h = std::uint64_t(m) ^ std::uint64_t(m >> 64);
    }
  }
  unsigned __int128 m = static_cast<unsigned __int128>(h) * 0xbf58476d1ce4e5b9ull;
  return std::uint64_t(m) ^ std::uint64_t(m >> 64);
}

/// The bitmap-indexed counter table: keys K, values V (both trivially copyable). A slot keeps
/// its hash, key and value together, so a hit touches one slot (and the bitmap word).
template <class K, class V>
class bitmap_counter {
 public:
  /// What slot() returns when a new key does not fit (max_entries reached).
  static constexpr std::size_t npos = ~std::size_t(0);

  /// An empty table that holds at most `max_entries` keys.
  explicit bitmap_counter(std::size_t max_entries = std::size_t(1) << 24) : max_(max_entries) { resize(1024); }

  /// The slot of `k` (inserting it with value V{} when absent, and setting `inserted`), marked
  /// dirty; npos when absent and the table is full (counted as overflow).
  std::size_t slot(const K& k, bool& inserted) {
    std::uint64_t h = hash_key(k);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (!test(occupied_, i)) {
        inserted = true;
        if (size_ >= max_) {
          ++overflow_;
          return npos;
        }
        if ((size_ + 1) * 4 > capacity() * 3) {
          resize(capacity() * 2);
          return slot(k, inserted);
        }
        set(occupied_, i);
        set(dirty_, i);
        slots_[i] = entry{h, k, V{}};
        ++size_;
        return i;
      }
      if (slots_[i].hash == h && std::memcmp(&slots_[i].key, &k, sizeof(K)) == 0) {
        inserted = false;
        set(dirty_, i);
        return i;
      }
    }
  }
  /// The value in slot i (from slot() or for_each()).
  V& value(std::size_t i) { return slots_[i].value; }
  /// The value in slot i.
  const V& value(std::size_t i) const { return slots_[i].value; }
  /// The key in slot i.
  const K& key(std::size_t i) const { return slots_[i].key; }
  /// The value of k, or nullptr.
  const V* find(const K& k) const {
    std::uint64_t h = hash_key(k);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (!test(occupied_, i))
        return nullptr;
      if (slots_[i].hash == h && std::memcmp(&slots_[i].key, &k, sizeof(K)) == 0)
        return &slots_[i].value;
    }
  }
  /// Calls f(slot) for every occupied slot (walking the occupancy bitmap).
  template <class F>
  void for_each(F&& f) const {
    walk(occupied_, f);
  }
  /// Calls f(slot) for every slot changed since the last drain, then clears the dirty bitmap.
  template <class F>
  void drain_dirty(F&& f) {
    walk(dirty_, f);
    std::fill(dirty_.begin(), dirty_.end(), 0);
  }
  /// Number of keys.
  std::size_t size() const { return size_; }
  /// Number of slots.
  std::size_t capacity() const { return slots_.size(); }
  /// New keys refused because the table was full.
  std::uint64_t overflow() const { return overflow_; }
  /// Bytes held by the table.
  std::size_t memory_bytes() const { return capacity() * sizeof(entry) + (occupied_.size() + dirty_.size()) * 8; }

 private:
  struct entry {
    std::uint64_t hash = 0;
    K key{};
    V value{};
  };
  static bool test(const std::vector<std::uint64_t>& b, std::size_t i) { return (b[i >> 6] >> (i & 63)) & 1; }
  static void set(std::vector<std::uint64_t>& b, std::size_t i) { b[i >> 6] |= std::uint64_t(1) << (i & 63); }
  template <class F>
  static void walk(const std::vector<std::uint64_t>& b, F&& f) {
    for (std::size_t w = 0; w < b.size(); ++w)
      for (std::uint64_t bits = b[w]; bits; bits &= bits - 1)
        f(w * 64 + std::size_t(__builtin_ctzll(bits)));
  }
  void resize(std::size_t cap) {
    std::vector<entry> slots(cap);
    std::vector<std::uint64_t> occupied(cap / 64), dirty(cap / 64);
    std::size_t mask = cap - 1;
    walk(occupied_, [&](std::size_t i) {
      std::size_t j = slots_[i].hash & mask;
      while (test(occupied, j))
        j = (j + 1) & mask;
      set(occupied, j);
      if (test(dirty_, i))
        set(dirty, j);
      slots[j] = slots_[i];
    });
    slots_.swap(slots);
    occupied_.swap(occupied);
    dirty_.swap(dirty);
    mask_ = mask;
  }

  std::vector<entry> slots_;
  std::vector<std::uint64_t> occupied_;
  std::vector<std::uint64_t> dirty_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t max_;
  std::uint64_t overflow_ = 0;
};

/// Counts packets per conversation of one kind.
class conversation_counter {
 public:
  /// Counts conversations of `kind`, at most `max_entries` of them.
  explicit conversation_counter(conv_kind kind, std::size_t max_entries = std::size_t(1) << 24)
      : kind_(kind), table_(max_entries) {}
  /// Counts one frame; false when it belongs to no conversation of this kind (counted as skipped)
  /// or its conversation did not fit (counted as overflow).
  bool add(bytes_view frame);
  /// Counts an already parsed frame (same rules as add).
  bool add(const parsed_packet& p);
  /// Adds `counts` to conversation `key` (used when restoring state).
  void restore(const conv_key& key, const conv_counts& counts);
  /// The counts of a conversation, or nullptr.
  const conv_counts* find(const conv_key& key) const { return table_.find(key); }
  /// Frames seen (counted, skipped or overflowed).
  std::uint64_t frames() const { return frames_; }
  /// Frames that belonged to no conversation of this kind.
  std::uint64_t skipped() const { return skipped_; }
  /// The kind counted.
  conv_kind kind() const { return kind_; }
  /// The table.
  bitmap_counter<conv_key, conv_counts>& table() { return table_; }
  /// The table.
  const bitmap_counter<conv_key, conv_counts>& table() const { return table_; }
  /// Restores the frame counters (state restore).
  void set_frames(std::uint64_t frames, std::uint64_t skipped) {
    frames_ = frames;
    skipped_ = skipped;
  }

 private:
  conv_kind kind_;
  bitmap_counter<conv_key, conv_counts> table_;
  std::uint64_t frames_ = 0;
  std::uint64_t skipped_ = 0;
};

/// One line of the `e3 svc count` output for a conversation (see service.cpp for the format).
std::string conversation_line(const conv_key& key, const conv_counts& c);

}  // namespace e3::services::count
