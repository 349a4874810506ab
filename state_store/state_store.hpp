// Reliable collections: the only place a service keeps state that must survive a move or a crash.
//
// A service instance owns one `collections` object holding named hashtables and arrays. Keys
// and values are byte strings; `typed.hpp` adds typed views. Reads are local. Writes are
// durable once `commit()` returns (the runtime calls it before it acknowledges the requests
// whose handlers wrote). An instance's collections can be exported as a snapshot and imported
// elsewhere: that is how cold migration moves state.
//
// Thread-safety: a `collections` object and everything it hands out belong to one instance,
// which runs one request at a time; they are not safe for concurrent use.
//
// Stores: make_memory_collections() below; the durable, replicated RocksDB store (one per
// node, with snapshots for migration) is rocksdb_store in state_store/rocksdb_store.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::state {

/// Raised on corrupt or unreadable stored data, and on misuse (e.g. an index out of range).
class state_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A reliable map from byte-string keys to byte-string values.
class hashtable {
 public:
  virtual ~hashtable() = default;
  /// Copies the value of `key` into `out`; false when absent.
  virtual bool get(std::string_view key, std::string& out) const = 0;
  /// The value of `key`, if present.
  std::optional<std::string> get(std::string_view key) const {
    std::string v;
    if (!get(key, v))
      return std::nullopt;
    return v;
  }
  /// Inserts or overwrites.
  virtual void put(std::string_view key, std::string_view value) = 0;
  /// Removes `key`; false when it was absent.
  virtual bool erase(std::string_view key) = 0;
  /// Number of keys.
  virtual std::size_t size() const = 0;
  /// Visits every entry in key order.
  virtual void for_each(const std::function<void(std::string_view key, std::string_view value)>& f) const = 0;
};

/// A reliable, resizable array of byte-string slots (empty until set).
class array {
 public:
  virtual ~array() = default;
  /// Number of slots.
  virtual std::size_t size() const = 0;
  /// Grows or shrinks to `n` slots; new slots are empty.
  virtual void resize(std::size_t n) = 0;
  /// Copies slot `i` into `out`. Throws state_error when i >= size().
  virtual void get(std::size_t i, std::string& out) const = 0;
  /// Slot `i`. Throws state_error when i >= size().
  std::string get(std::size_t i) const {
    std::string v;
    get(i, v);
    return v;
  }
  /// Sets slot `i`. Throws state_error when i >= size().
  virtual void set(std::size_t i, std::string_view value) = 0;
};

/// The reliable collections of one service instance.
class collections {
 public:
  virtual ~collections() = default;
  /// The hashtable called `name`, created empty on first use.
  virtual hashtable& get_table(std::string_view name) = 0;
  /// The array called `name`, created empty on first use.
  virtual array& get_array(std::string_view name) = 0;
  /// Makes every write so far durable (and replicated, where the store replicates).
  virtual void commit() = 0;
  /// Serialises every collection into one self-describing byte string (for migration).
  virtual std::string export_snapshot() const = 0;
  /// Replaces every collection by the contents of a snapshot from export_snapshot().
  /// Throws state_error on a corrupt snapshot and then leaves the collections unchanged.
  virtual void import_snapshot(std::string_view snapshot) = 0;
  /// Number of keys plus array slots, over all collections.
  virtual std::size_t entry_count() const = 0;
};

/// Collections held in memory only: fast, not durable. Used by unit tests and by the
/// in-process runtime when no data directory is configured.
std::unique_ptr<collections> make_memory_collections();

}  // namespace e3::state
