// A portable snapshot of an instance's collections: the byte format cold migration ships.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace e3::state {

/// The contents of every collection of an instance, by name.
struct snapshot_contents {
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> tables;  ///< name -> entries
  std::map<std::string, std::vector<std::string>, std::less<>> arrays;            ///< name -> slots
};

/// Encodes contents as: magic "E3SNAP01", then per collection a kind byte ('T' or 'A'), a
/// length-prefixed name, an entry count and length-prefixed entries; lengths are 64-bit LE.
std::string encode_snapshot(const snapshot_contents& c);

/// Decodes encode_snapshot's output. Throws state_error naming the byte offset and the problem
/// (bad magic, truncated, length past the end, duplicate name, trailing bytes); a RocksDB-store
/// snapshot (E3RSNAP1, rocksdb_store.hpp) is named as such.
snapshot_contents decode_snapshot(std::string_view bytes);

}  // namespace e3::state
