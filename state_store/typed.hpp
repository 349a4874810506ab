// Typed views over reliable collections: fixed-width numbers and trivially copyable structs.
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "state_store/state_store.hpp"

namespace e3::state {

/// Encodes a trivially copyable value as its bytes (host byte order: snapshots move between
/// nodes of one cluster, which share the byte order).
template <class T>
std::string_view as_bytes(const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  return {reinterpret_cast<const char*>(&v), sizeof(T)};
}

/// Decodes bytes written by as_bytes; throws state_error when the size is wrong.
template <class T>
T from_bytes(std::string_view b) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (b.size() != sizeof(T))
    throw state_error("stored value has " + std::to_string(b.size()) + " bytes, expected " +
                      std::to_string(sizeof(T)));
  T v;
  std::memcpy(&v, b.data(), sizeof(T));
  return v;
}

/// An array of T; empty slots read as T{}.
template <class T>
class typed_array {
 public:
  /// Views `a`, which must outlive this view.
  explicit typed_array(array& a) : a_(&a) {}
  /// Number of slots.
  std::size_t size() const { return a_->size(); }
  /// Grows or shrinks to n slots.
  void resize(std::size_t n) { a_->resize(n); }
  /// Slot i, or T{} when never set.
  T get(std::size_t i) const {
    a_->get(i, buf_);
    return buf_.empty() ? T{} : from_bytes<T>(buf_);
  }
  /// Sets slot i.
  void set(std::size_t i, const T& v) { a_->set(i, as_bytes(v)); }

 private:
  array* a_;
  mutable std::string buf_;
};

/// A hashtable from K to V, both trivially copyable.
template <class K, class V>
class typed_table {
 public:
  /// Views `t`, which must outlive this view.
  explicit typed_table(hashtable& t) : t_(&t) {}
  /// The value of k, if present.
  bool get(const K& k, V& out) const {
    if (!t_->get(as_bytes(k), buf_))
      return false;
    out = from_bytes<V>(buf_);
    return true;
  }
  /// Inserts or overwrites.
  void put(const K& k, const V& v) { t_->put(as_bytes(k), as_bytes(v)); }
  /// Removes k; false when absent.
  bool erase(const K& k) { return t_->erase(as_bytes(k)); }
  /// Number of keys.
  std::size_t size() const { return t_->size(); }

 private:
  hashtable* t_;
  mutable std::string buf_;
};

}  // namespace e3::state
