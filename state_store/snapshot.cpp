// Encoding and strict decoding of collection snapshots.
#include "state_store/snapshot.hpp"

#include <cstdint>
#include <cstring>

#include "state_store/state_store.hpp"

namespace e3::state {
namespace {

constexpr std::string_view magic = "E3SNAP01";

void put_u64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

class reader {
 public:
  explicit reader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ == b_.size(); }
  std::size_t pos() const { return pos_; }
  char byte() {
    need(1, "kind byte");
    return b_[pos_++];
  }
  std::uint64_t u64(const char* what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= std::uint64_t(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string_view str(const char* what) {
    auto n = u64(what);
    need(n, what);
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw state_error("corrupt snapshot at byte " + std::to_string(pos_) + ": " + why);
  }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > b_.size() - pos_)
      fail(std::string("truncated ") + what + " (needs " + std::to_string(n) + " bytes, " +
           std::to_string(b_.size() - pos_) + " left)");
  }
  std::string_view b_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode_snapshot(const snapshot_contents& c) {
  // One allocation: the exact size first (a large instance's snapshot is ~100 MB).
  std::size_t size = magic.size() + 8;
  for (const auto& [name, entries] : c.tables) {
    size += 1 + 8 + name.size() + 8;
    for (const auto& [k, v] : entries)
      size += 16 + k.size() + v.size();
  }
  for (const auto& [name, slots] : c.arrays) {
    size += 1 + 8 + name.size() + 8;
    for (const auto& v : slots)
      size += 8 + v.size();
  }
  std::string out;
  out.reserve(size);
  out.append(magic);
  put_u64(out, c.tables.size() + c.arrays.size());
  for (const auto& [name, entries] : c.tables) {
    out.push_back('T');
    put_str(out, name);
    put_u64(out, entries.size());
    for (const auto& [k, v] : entries) {
      put_str(out, k);
      put_str(out, v);
    }
  }
  for (const auto& [name, slots] : c.arrays) {
    out.push_back('A');
    put_str(out, name);
    put_u64(out, slots.size());
    for (const auto& s : slots)
      put_str(out, s);
  }
  return out;
}

snapshot_contents decode_snapshot(std::string_view bytes) {
  if (bytes.substr(0, magic.size()) != magic) {
    if (bytes.substr(0, 8) == "E3RSNAP1")
      throw state_error("snapshot at byte 0: this is a RocksDB-store snapshot (E3RSNAP1); the "
                        "memory store imports only portable E3SNAP01 snapshots (made by "
                        "rocksdb_collections::export_portable_snapshot)");
    if (bytes.substr(0, 4) == "E3RM")
      throw state_error("snapshot at byte 0: this is a replication message (E3RM), not a snapshot");
    throw state_error("corrupt snapshot at byte 0: bad magic (not an E3 snapshot)");
  }
  reader r(bytes.substr(magic.size()));
  snapshot_contents c;
  auto n = r.u64("collection count");
  for (std::uint64_t i = 0; i < n; ++i) {
    char kind = r.byte();
    std::string name(r.str("collection name"));
    auto entries = r.u64("entry count");
    if (kind == 'T') {
      if (c.tables.count(name))
        r.fail("duplicate table '" + name + "'");
      auto& t = c.tables[name];
      // Keys come in order (encode_snapshot walks the map), so each goes at the end in O(1).
      for (std::uint64_t e = 0; e < entries; ++e) {
        auto k = r.str("key");
        auto v = r.str("value");
        auto before = t.size();
        t.emplace_hint(t.end(), k, v);
        if (t.size() == before)
          r.fail("duplicate key in table '" + name + "'");
      }
    } else if (kind == 'A') {
      if (c.arrays.count(name))
        r.fail("duplicate array '" + name + "'");
      auto& a = c.arrays[name];
      // Each slot takes at least 8 bytes, which bounds a lying count before we allocate.
      if (entries > (bytes.size() / 8))
        r.fail("array '" + name + "' claims " + std::to_string(entries) + " slots");
      a.reserve(entries);
      for (std::uint64_t e = 0; e < entries; ++e)
        a.emplace_back(r.str("slot"));
    } else {
      r.fail(std::string("unknown collection kind byte 0x") +
             "0123456789abcdef"[(static_cast<unsigned char>(kind) >> 4) & 0xf] +
             "0123456789abcdef"[static_cast<unsigned char>(kind) & 0xf]);
    }
  }
  if (!r.done())
    r.fail("trailing bytes after the last collection");
  return c;
}

}  // namespace e3::state
