// MemC3's optimistic cuckoo hash table: 4-way tagged buckets, partial-key cuckoo hashing,
// bounded cuckoo-path search, version counters for lock-free readers, and a slab item store.
//
// The design follows Fan, Andersen and Kaminsky, "MemC3: Compact and Concurrent MemCache with
// Dumber Caching and Smarter Hashing" (NSDI'13):
// - The index is an array of buckets, each with 4 slots; a slot holds a 1-byte tag (8 bits of
//   the key's hash, never 0: 0 marks an empty slot) and a reference to the item (key and value
//   bytes in a slab arena). A lookup compares tags first and touches an item only on a tag match.
// - Partial-key cuckoo hashing: a key may live in bucket b1 = hash & mask or in
//   b2 = alt(b1, tag), where alt(b, tag) = (b XOR f(tag)) & mask. alt is an involution, so an
//   item can be displaced to its other bucket from its tag alone, without reading its key.
// - Insertion into two full buckets first searches a cuckoo path (a chain of displacements that
//   ends at an empty slot): breadth-first up to `max_path` displacements (the default), or as
//   MemC3's original random walk up to `max_path` displacements. The moves then run backwards
//   from the empty slot, so every key stays findable during an insertion.
// - Optimistic concurrency: one writer, any number of readers without locks. Each key maps to
//   one of 8192 version counters; the writer makes a key's counter odd before it moves, updates
//   or removes the key, and even again afterwards. A reader snapshots the counter (retrying while
//   it is odd), reads, and retries when the counter changed. Item memory is never returned to the
//   system while the table lives (freed chunks are reused, as memcached's slabs are), and index
//   arrays replaced by a grow are retired, not freed, until clear() or destruction, so a racing
//   reader never touches freed memory; what it copies is discarded unless its counter validates.
//   (The copy of item bytes inside the read window is a seqlock-style racy memcpy, validated
//   afterwards, as in MemC3 and the Linux kernel's seqlocks.)
// - When no path exists, the table doubles its buckets (unless `grow` is off, as in the
//   load-factor benchmark, where insert() then reports `full`).
//
// The table can also record which keys changed since the last drain (`track_changes`), so a
// service writes only those to its reliable collections.
//
// Thread-safety: one writer thread (set, erase, clear, drain_changes) and concurrent readers
// (get, read, contains). An e3 service instance runs one request at a time, so the readers and
// the writer are the same thread there; the protocol is still followed and tested.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::kvs {

/// The 64-bit hash of a key (our own mix of 8-byte words with a murmur3-style finaliser).
std::uint64_t hash_key(std::string_view key);

/// How an insertion into two full buckets looks for a cuckoo path.
enum class search_mode {
  bfs,  ///< breadth-first over both buckets' slots, shortest path first (libcuckoo's choice)
  dfs,  ///< MemC3's original: a seeded random walk of displacements
};

/// Table parameters.
struct table_options {
  std::size_t initial_buckets = 1024;    ///< rounded up to a power of two (≥ 2)
  search_mode mode = search_mode::bfs;   ///< cuckoo path search
  std::size_t max_path = 0;              ///< most displacements per insert; 0 = default (bfs 5, dfs 500)
  bool grow = true;                      ///< double the buckets when no path is found
  bool track_changes = false;            ///< record changed keys for drain_changes()
  std::uint64_t seed = 0x5eed;           ///< random walk seed (dfs)
};

/// Outcome of set().
enum class set_result {
  inserted,   ///< a new key
  updated,    ///< an existing key got the new value
  full,       ///< no cuckoo path and growing is off: nothing changed
  too_large,  ///< key longer than max_key_size or value longer than max_value_size
};

/// Largest key, in bytes (memcached's limit).
inline constexpr std::size_t max_key_size = 250;
/// Largest value, in bytes (a record's largest field).
inline constexpr std::size_t max_value_size = std::size_t(1) << 20;

/// Counters that explain the table's behaviour.
struct table_stats {
  std::uint64_t displacements = 0;  ///< items moved along cuckoo paths
  std::uint64_t path_searches = 0;  ///< inserts that found both buckets full
  std::uint64_t grows = 0;          ///< times the index doubled
  std::uint64_t read_retries = 0;   ///< optimistic reads that saw a version change
};

/// A key-value table: MemC3 optimistic cuckoo hashing over a slab item store.
class cuckoo_table {
 public:
  /// An empty table.
  explicit cuckoo_table(table_options opt = {});
  ~cuckoo_table();
  cuckoo_table(const cuckoo_table&) = delete;
  cuckoo_table& operator=(const cuckoo_table&) = delete;

  /// Looks `key` up with the optimistic read protocol and calls `consume(value)` for the value
  /// found. `consume` may run more than once when a concurrent writer forces a retry; only the
  /// last call counts, and only when read() returns true. Returns false when the key is absent.
  template <class F>
  bool read(std::string_view key, F&& consume) const {
    auto h = hash_key(key);
    for (;;) {
      std::uint32_t v1;
      auto found = probe(key, h, v1);
      if (found.ref != no_item) {
        consume(found.value);
      }
      if (validate(h, v1))
        return found.ref != no_item;
      read_retries_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// Copies the value of `key` into `out`; false when absent.
  bool get(std::string_view key, std::string& out) const;
  /// True when `key` is present.
  bool contains(std::string_view key) const;
  /// Inserts or overwrites `key`.
  set_result set(std::string_view key, std::string_view value);
  /// Removes `key`; false when it was absent.
  bool erase(std::string_view key);
  /// Removes every key and releases all memory (retired indexes too). Not with concurrent readers.
  void clear();

  /// Number of keys.
  std::size_t size() const { return size_; }
  /// Number of slots (4 per bucket).
  std::size_t slots() const { return (index_.load(std::memory_order_acquire)->mask + 1) * 4; }
  /// size() / slots().
  double load_factor() const { return double(size_) / double(slots()); }
  /// Bytes held: index arrays, version counters, slab pages.
  std::size_t memory_bytes() const;
  /// Counters since construction or clear().
  table_stats stats() const;
  /// Frees the index arrays retired by grows. Only when no reader runs concurrently (an e3
  /// instance, which reads and writes on one thread, may call it at any time).
  void reclaim();

  /// Visits every entry (in index order, not key order).
  void for_each(const std::function<void(std::string_view key, std::string_view value)>& f) const;

  /// Reports the keys changed since the last drain (needs track_changes): first every removed
  /// key through `erased`, then every key whose current value was written through `put`.
  /// Applying them in that order to a copy of the table as of the last drain reproduces it.
  void drain_changes(const std::function<void(std::string_view key)>& erased,
                     const std::function<void(std::string_view key, std::string_view value)>& put);
  /// Forgets the changes recorded so far (after loading the table from its stored copy).
  void discard_changes();

 private:
  static constexpr std::uint32_t no_item = 0xffffffffu;

  struct bucket {
    std::atomic<std::uint32_t> tags{0};  // tag of slot i in byte i; 0 = empty
    std::atomic<std::uint32_t> refs[4] = {no_item, no_item, no_item, no_item};
  };
  struct index {
    std::size_t mask = 0;  // buckets - 1
    std::unique_ptr<bucket[]> buckets;
  };
  struct found_item {
    std::uint32_t ref = no_item;
    std::size_t bucket = 0;
    int slot = 0;
    std::string_view value;
  };
  struct path_step {
    std::size_t bucket;
    int slot;
  };
  class slab;

  found_item probe(std::string_view key, std::uint64_t h, std::uint32_t& version) const;
  bool validate(std::uint64_t h, std::uint32_t v1) const;
  found_item find_for_write(const index& ix, std::string_view key, std::uint64_t h) const;
  std::atomic<std::uint32_t>& version_of(std::uint64_t h) const;
  bool place(index& ix, std::uint32_t ref, std::uint64_t h, bool count_moves);
  bool find_path_bfs(const index& ix, std::size_t b1, std::size_t b2, std::vector<path_step>& path) const;
  bool find_path_dfs(index& ix, std::size_t b1, std::size_t b2, std::vector<path_step>& path);
  void move_along(index& ix, const std::vector<path_step>& path, bool count_moves);
  void grow();
  void mark_dirty(std::uint32_t ref);

  table_options opt_;
  std::atomic<index*> index_{nullptr};
  std::unique_ptr<index> current_;
  std::vector<std::unique_ptr<index>> retired_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> versions_;
  std::unique_ptr<slab> slab_;
  std::size_t size_ = 0;
  table_stats stats_;
  mutable std::atomic<std::uint64_t> read_retries_{0};
  std::uint64_t rng_;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::string> erased_;
  std::vector<path_step> path_;  // scratch
};

}  // namespace e3::services::kvs
