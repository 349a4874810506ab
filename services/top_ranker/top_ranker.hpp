// Top ranker (Table 2, "Top-K ranker using quicksort"): top-K items over tumbling windows,
// ranked with our own quickselect and partial quicksort.
//
// Requests are records (services/common/record.hpp). The service reads record.key (the item),
// record.value (its score, or ignored with aggregate=count) and record.ts_ns (event time, for
// time windows); op, features, text and aux are ignored. Within a window an item's score is the
// aggregate of its records' values: sum (default), max, last, or count (number of records).
//
// Windows are tumbling: a window closes after `window` records (count windows) and/or when a
// record's ts_ns falls in a later period [n*window_ns, (n+1)*window_ns) than the window's first
// record (time windows; that record then opens the next window; records with an earlier period
// than the open window's are counted into the open window). When a window closes, the service
// emits (key = window sequence number, starting at 1) one record:
//   op 0, key = window sequence number, ts_ns = ts of the window's last record,
//   value    = number of records in the window,
//   features = the top-K scores, best first (K' = min(K, distinct items) of them),
//   aux      = the K' item keys in the same order, each a little-endian u64.
// Ranking: higher score first; equal scores by smaller item key (a strict total order, as items
// are distinct within a window). A record that does not close a window gets an empty reply (an
// acknowledgement). A NaN value, or one that would turn the item's aggregate into NaN (+inf plus
// -inf), is rejected and changes nothing; so is a malformed record.
//
// Params: k (default 10), window (records per window, default 1000; 0 = no count limit),
// window_ns (0 = no time limit, the default), aggregate (sum | max | last | count),
// algorithm (pqs = partial quicksort, the default | select = quickselect then quicksort of the K).
//
// State (reliable collections): the open window's aggregates in hashtable "top_ranker.items"
// (u64 item -> f64 score, 8 + 8 bytes little-endian) and its bookkeeping in hashtable
// "top_ranker.window" (key "open"). handle() updates an in-memory flat hash map and remembers the
// changed items; flush() writes them (erasing the previous window's items after a close);
// on_start() rebuilds the map from the collections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::top_ranker {

/// An item and its score in the current window.
struct entry {
  std::uint64_t key = 0;  ///< item
  double score = 0;       ///< aggregated score (never NaN)
  bool operator==(const entry&) const = default;
};

/// The ranking order: higher score first, then smaller key. A strict weak order for NaN-free
/// scores, and total when keys are distinct.
inline bool ranks_before(const entry& a, const entry& b) {
  return a.score > b.score || (a.score == b.score && a.key < b.key);
}

/// Partial quicksort (Martínez): rearranges `v` so that v[0..min(k, n)) holds the top k in
/// ranking order; the rest is left in some order. Hoare partitioning around a pivot drawn from a
/// seeded generator (deterministic; expected O(n + k log k)), insertion sort below 16 elements,
/// recursion on the smaller side only (O(log n) stack). When k is much smaller than n (n ≥ 2048,
/// k ≤ n/8), a Floyd–Rivest sampling step first picks a pivot from a seeded sample that almost
/// surely ranks just below the k-th item and moves the few items at or above it to the front in
/// one pass; the quicksort then runs on that front part only.
void partial_quicksort(std::span<entry> v, std::size_t k, std::uint64_t seed = 0x70b5eed);

/// Quickselect (Hoare): rearranges `v` so that v[0..min(k, n)) holds the top k, unordered, and
/// everything after ranks below them. Same pivot rule and sampling step as partial_quicksort.
void quickselect(std::span<entry> v, std::size_t k, std::uint64_t seed = 0x70b5eed);

/// How a window's items are aggregated.
enum class aggregate { sum, max, last, count };
/// How the top K are extracted.
enum class algorithm { partial_quicksort, quickselect_then_sort };

/// Parses "sum", "max", "last", "count"; false when unknown.
bool parse_aggregate(std::string_view s, aggregate& out);

/// Window and ranking parameters.
struct options {
  std::size_t k = 10;                            ///< items per result
  std::uint64_t window_records = 1000;           ///< records per window; 0 = unlimited
  std::int64_t window_ns = 0;                    ///< time period per window; 0 = unlimited
  aggregate agg = aggregate::sum;                ///< per-item aggregation
  algorithm algo = algorithm::partial_quicksort; ///< top-K extraction
};

/// The outcome of one window.
struct window_result {
  std::uint64_t seq = 0;       ///< window number, from 1
  std::int64_t first_ts = 0;   ///< ts_ns of the window's first record
  std::int64_t last_ts = 0;    ///< ts_ns of its last record
  std::uint64_t records = 0;   ///< records counted
  std::size_t items = 0;       ///< distinct items
  std::vector<entry> top;      ///< top-K, best first
};

/// Bookkeeping of the open window (what must survive a migration besides the items).
struct window_state {
  std::uint64_t seq = 1;        ///< number of the open window
  std::uint64_t records = 0;    ///< records in it so far
  std::int64_t period = 0;      ///< its time period (ts / window_ns), when time windows are on
  std::int64_t first_ts = 0;    ///< first record's ts
  std::int64_t last_ts = 0;     ///< last record's ts
};

/// Streaming top-K over tumbling windows. Single-threaded.
class ranker {
 public:
  /// A ranker with the given options (k ≥ 1 is enforced by clamping 0 to 1).
  explicit ranker(options opt);

  /// Adds one record. Windows it closes are appended to closed(). Returns false, changing
  /// nothing, when `value` is NaN or would make the item's aggregate NaN.
  bool add(std::uint64_t key, double value, std::int64_t ts_ns);
  /// Closes the open window now, if it holds any record (e.g. at the end of a file).
  void close();
  /// Windows closed since the last clear_closed(), oldest first.
  const std::vector<window_result>& closed() const { return closed_; }
  /// Forgets closed().
  void clear_closed() { closed_.clear(); }

  /// The open window's bookkeeping.
  const window_state& state() const { return state_; }
  /// The open window's items (unordered).
  std::span<const entry> items() const { return entries_; }
  /// Replaces the open window by `s` and `items` (from the reliable collections).
  void restore(const window_state& s, std::span<const entry> items);

  /// Reports changes since the last call: returns true when the window was reset (a close) in
  /// between, in which case every previously reported item is gone; `changed` receives every
  /// item of the open window written since then.
  bool take_changes(std::vector<entry>& changed);

 private:
  struct slot {
    std::uint64_t key;
    std::uint32_t index;  // into entries_
    std::uint32_t gen;    // slot is live when gen == gen_
  };
  static constexpr std::uint32_t not_found = 0xffffffffu;
  std::uint32_t find(std::uint64_t key) const;
  std::uint32_t find_or_insert(std::uint64_t key, bool& inserted);
  void rehash(std::size_t capacity);
  void finish_window();

  options opt_;
  window_state state_;
  std::vector<entry> entries_;
  std::vector<std::uint8_t> dirty_flag_;
  std::vector<std::uint32_t> dirty_;
  std::vector<slot> slots_;
  std::uint32_t gen_ = 1;
  int shift_ = 0;
  bool reset_since_take_ = false;
  std::vector<window_result> closed_;
};

}  // namespace e3::services::top_ranker
