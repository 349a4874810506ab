// Helpers of the state store tests: temporary directories and comparing collection contents.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "state_store/snapshot.hpp"
#include "state_store/state_store.hpp"

namespace e3::state::test {

/// A fresh directory under the system's temporary folder, removed with everything in it when
/// the object goes.
class temp_dir {
 public:
  temp_dir() {
    auto tmpl = (std::filesystem::temp_directory_path() / "e3-state-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// The directory.
  const std::string& path() const { return path_; }
  /// A path inside it.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// True when both hold the same collections with the same contents, byte for byte.
inline bool same(const snapshot_contents& a, const snapshot_contents& b) {
  return a.tables == b.tables && a.arrays == b.arrays;
}

/// A short description of the first difference between two contents, for failure messages.
inline std::string first_difference(const snapshot_contents& a, const snapshot_contents& b) {
  if (a.tables.size() != b.tables.size())
    return "table count " + std::to_string(a.tables.size()) + " vs " + std::to_string(b.tables.size());
  for (const auto& [name, t] : a.tables) {
    auto i = b.tables.find(name);
    if (i == b.tables.end())
      return "table '" + name + "' missing";
    if (t.size() != i->second.size())
      return "table '" + name + "' size " + std::to_string(t.size()) + " vs " + std::to_string(i->second.size());
    for (const auto& [k, v] : t) {
      auto j = i->second.find(k);
      if (j == i->second.end())
        return "table '" + name + "' key '" + k + "' missing";
      if (j->second != v)
        return "table '" + name + "' key '" + k + "' value '" + v + "' vs '" + j->second + "'";
    }
  }
  if (a.arrays.size() != b.arrays.size())
    return "array count differs";
  for (const auto& [name, s] : a.arrays) {
    auto i = b.arrays.find(name);
    if (i == b.arrays.end())
      return "array '" + name + "' missing";
    if (s != i->second)
      return "array '" + name + "' differs";
  }
  return "none";
}

/// The contents of a memory collections object, through its (portable) snapshot.
inline snapshot_contents contents_of(const collections& c) { return decode_snapshot(c.export_snapshot()); }

}  // namespace e3::state::test
