// Byte formats of the RocksDB store: encoding and strict decoding.
#include "state_store/rocksdb_format.hpp"

#include <set>

#include "state_store/crc32c.hpp"
#include "state_store/state_store.hpp"

namespace e3::state::rdb {
namespace {

std::uint64_t load_le(std::string_view b, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v |= std::uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
  return v;
}

void store_be(std::string& out, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t load_be(std::string_view b, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

constexpr char state_key_bytes[] = {'\x01', 'S'};
constexpr char meta_prefix_byte = '\x02';

}  // namespace

void byte_writer::u32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void byte_writer::u64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void byte_writer::str(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  out_.append(s);
}

void byte_reader::fail(const std::string& why) const {
  throw state_error(what_ + " at byte " + std::to_string(offset()) + ": " + why);
}

void byte_reader::bad_field(const std::string& why) const {
  throw state_error(what_ + " at byte " + std::to_string(base_ + last_) + ": " + why);
}

void byte_reader::need(std::uint64_t n, const char* field) const {
  if (n > left())
    fail(std::string("truncated ") + field + " (needs " + std::to_string(n) + " bytes, " +
         std::to_string(left()) + " left)");
}

std::uint8_t byte_reader::u8(const char* field) {
  last_ = pos_;
  need(1, field);
  return static_cast<std::uint8_t>(b_[pos_++]);
}

std::uint32_t byte_reader::u32(const char* field) {
  last_ = pos_;
  need(4, field);
  auto v = static_cast<std::uint32_t>(load_le(b_.substr(pos_), 4));
  pos_ += 4;
  return v;
}

std::uint64_t byte_reader::u64(const char* field) {
  last_ = pos_;
  need(8, field);
  auto v = load_le(b_.substr(pos_), 8);
  pos_ += 8;
  return v;
}

std::string_view byte_reader::str(const char* field, std::size_t max) {
  auto start = pos_;
  auto n = u32(field);
  if (n > max)
    bad_field(std::string(field) + " length " + std::to_string(n) + " exceeds the limit of " +
              std::to_string(max));
  auto s = raw(n, field);
  last_ = start;
  return s;
}

std::string_view byte_reader::raw(std::uint64_t n, const char* field) {
  last_ = pos_;
  need(n, field);
  auto s = b_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::string hex(std::string_view b, std::size_t max) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(b[i]);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  if (b.size() > max)
    out += "...";
  return out;
}

std::string encode_state(state_id s) {
  byte_writer w;
  w.u64(s.epoch);
  w.u64(s.seq);
  return std::move(w.bytes());
}

bool decode_state(std::string_view v, state_id& out) {
  if (v.size() != 16)
    return false;
  out.epoch = load_le(v, 8);
  out.seq = load_le(v.substr(8), 8);
  return true;
}

std::string_view state_key() { return {state_key_bytes, sizeof state_key_bytes}; }

std::string_view meta_prefix() { return {&meta_prefix_byte, 1}; }

std::string meta_key(char kind, std::string_view name) {
  std::string k;
  k.reserve(2 + name.size());
  k.push_back(meta_prefix_byte);
  k.push_back(kind);
  k.append(name);
  return k;
}

std::string entry_prefix(char kind, std::string_view name) {
  std::string k;
  k.reserve(5 + name.size());
  k.push_back(kind);
  store_be(k, name.size(), 4);
  k.append(name);
  return k;
}

std::string table_key(std::string_view prefix, std::string_view key) {
  std::string k;
  k.reserve(prefix.size() + key.size());
  k.append(prefix);
  k.append(key);
  return k;
}

std::string array_key(std::string_view prefix, std::uint64_t index) {
  std::string k;
  k.reserve(prefix.size() + 8);
  k.append(prefix);
  store_be(k, index, 8);
  return k;
}

std::uint64_t array_index(std::string_view key, std::size_t prefix_size) {
  return load_be(key.substr(prefix_size), 8);
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c != 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return end;  // every key is below "" only as an unbounded marker; callers never pass all-0xff
}

std::string encode_count(std::uint64_t n) {
  byte_writer w;
  w.u64(n);
  return std::move(w.bytes());
}

bool decode_count(std::string_view v, std::uint64_t& out) {
  if (v.size() != 8)
    return false;
  out = load_le(v, 8);
  return true;
}

namespace {

/// Checks the part of a key after its kind byte for an entry key; "" when well-formed.
std::string check_entry_key(std::string_view key) {
  if (key.size() < 5)
    return "entry key of " + std::to_string(key.size()) + " bytes is shorter than its header";
  auto len = load_be(key.substr(1), 4);
  if (len > key.size() - 5)
    return "entry key names a collection of " + std::to_string(len) + " bytes but has only " +
           std::to_string(key.size() - 5) + " after its header";
  if (key[0] == array_kind && key.size() - 5 - len != 8)
    return "array slot key has " + std::to_string(key.size() - 5 - len) +
           " index bytes, expected 8";
  return "";
}

}  // namespace

std::string check_put(std::string_view key, std::string_view value) {
  if (key.empty())
    return "empty key";
  switch (key[0]) {
    case '\x01':
      if (key != state_key())
        return "unknown instance record key " + hex(key);
      if (value.size() != 16)
        return "state record has " + std::to_string(value.size()) + " bytes, expected 16";
      return "";
    case meta_prefix_byte:
      if (key.size() < 2 || (key[1] != table_kind && key[1] != array_kind))
        return "collection record key " + hex(key) + " has no valid kind byte";
      if (value.size() != 8)
        return "collection record has " + std::to_string(value.size()) + " bytes, expected 8";
      return "";
    case table_kind:
    case array_kind:
      return check_entry_key(key);
    default:
      return "key " + hex(key) + " starts with unknown kind byte 0x" + hex(key.substr(0, 1));
  }
}

std::string check_delete(std::string_view key) {
  if (key.empty() || (key[0] != table_kind && key[0] != array_kind))
    return "delete of key " + hex(key) + ", which is not a table entry or an array slot";
  return check_entry_key(key);
}

std::string encode_message(const repl_message& m) {
  byte_writer w;
  w.bytes().reserve(64 + m.instance.size() + m.payload.size());
  w.raw(message_magic);
  w.u8(1);
  w.u8(static_cast<std::uint8_t>(m.kind));
  w.str(m.instance);
  w.u64(m.base.epoch);
  w.u64(m.base.seq);
  w.u64(m.next.epoch);
  w.u64(m.next.seq);
  w.u64(m.payload.size());
  w.raw(m.payload);
  w.u32(crc32c(w.bytes()));
  return std::move(w.bytes());
}

repl_message decode_message(std::string_view bytes) {
  byte_reader r(bytes, "corrupt replication message");
  if (bytes.substr(0, message_magic.size()) != message_magic)
    r.fail("bad magic: " + describe_kind(bytes));
  r.raw(message_magic.size(), "magic");
  repl_message m;
  if (auto v = r.u8("version"); v != 1)
    r.bad_field("unsupported version " + std::to_string(v));
  m.kind = static_cast<char>(r.u8("kind"));
  if (m.kind != 'B' && m.kind != 'S')
    r.bad_field("unknown kind byte 0x" + hex(std::string_view(&m.kind, 1)));
  m.instance = r.str("instance name", 4096);
  m.base.epoch = r.u64("base epoch");
  m.base.seq = r.u64("base seq");
  m.next.epoch = r.u64("next epoch");
  m.next.seq = r.u64("next seq");
  auto n = r.u64("payload length");
  m.payload = r.raw(n, "payload");
  auto covered = r.offset();
  auto crc = r.u32("checksum");
  if (r.left() != 0)
    r.fail(std::to_string(r.left()) + " trailing bytes after the checksum");
  if (crc != crc32c(bytes.substr(0, covered)))
    throw state_error("corrupt replication message: checksum mismatch over bytes [0, " +
                      std::to_string(covered) + ")");
  return m;
}

std::string encode_pack_header(const pack_header& h) {
  byte_writer w;
  w.bytes().reserve(256 + h.files.size() * 128);
  w.raw(pack_magic);
  w.u32(1);
  w.str(h.comparator);
  w.u64(h.state.epoch);
  w.u64(h.state.seq);
  w.u64(h.entries);
  w.u64(h.collections);
  w.u32(static_cast<std::uint32_t>(h.files.size()));
  for (const auto& f : h.files) {
    w.str(f.name);
    w.u32(f.level);
    w.u64(f.size);
    w.u64(f.smallest_seqno);
    w.u64(f.largest_seqno);
    w.str(f.smallest_key);
    w.str(f.largest_key);
    w.u32(f.crc);
  }
  w.u32(crc32c(w.bytes()));
  return std::move(w.bytes());
}

std::string encode_pack(const pack_header& h) {
  auto with_sums = h;
  std::size_t total = 0;
  for (auto& f : with_sums.files) {
    f.size = f.bytes.size();
    f.crc = crc32c(f.bytes);
    total += f.size;
  }
  auto out = encode_pack_header(with_sums);
  out.reserve(out.size() + total);
  for (const auto& f : h.files)
    out.append(f.bytes);
  return out;
}

namespace {

bool valid_sst_name(std::string_view n) {
  // "/" digits ".sst", as RocksDB names table files.
  if (n.size() < 6 || n.size() > 32 || n[0] != '/' || n.substr(n.size() - 4) != ".sst")
    return false;
  for (std::size_t i = 1; i + 4 < n.size(); ++i)
    if (n[i] < '0' || n[i] > '9')
      return false;
  return true;
}

}  // namespace

pack_header decode_pack(std::string_view bytes) {
  byte_reader r(bytes, "corrupt RocksDB snapshot");
  if (bytes.substr(0, pack_magic.size()) != pack_magic)
    r.fail("bad magic: " + describe_kind(bytes));
  r.raw(pack_magic.size(), "magic");
  if (auto v = r.u32("version"); v != 1)
    r.bad_field("unsupported version " + std::to_string(v));
  pack_header h;
  h.comparator = r.str("comparator name", 256);
  h.state.epoch = r.u64("epoch");
  h.state.seq = r.u64("seq");
  h.entries = r.u64("entry count");
  h.collections = r.u64("collection count");
  auto n = r.u32("file count");
  // A file header takes at least 44 bytes: bounds a lying count before anything is allocated.
  if (n > r.left() / 44)
    r.bad_field("file count " + std::to_string(n) + " does not fit in the " + std::to_string(r.left()) +
           " bytes left");
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint32_t> crcs;
  std::set<std::string, std::less<>> names;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    pack_file f;
    f.name = r.str("file name", 64);
    if (!valid_sst_name(f.name))
      r.bad_field("file name '" + hex(f.name) + "' is not an SST file name");
    if (!names.insert(f.name).second)
      r.bad_field("duplicate file " + f.name);
    f.level = r.u32("level");
    if (f.level > 6)
      r.bad_field("file " + f.name + " on level " + std::to_string(f.level) + " (at most 6)");
    auto size = r.u64("file size");
    if (size == 0 || size > bytes.size())
      r.bad_field("file " + f.name + " has impossible size " + std::to_string(size));
    f.smallest_seqno = r.u64("smallest seqno");
    f.largest_seqno = r.u64("largest seqno");
    if (f.smallest_seqno > f.largest_seqno)
      r.bad_field("file " + f.name + " has smallest seqno above its largest");
    f.smallest_key = r.str("smallest key");
    f.largest_key = r.str("largest key");
    crcs.push_back(r.u32("file checksum"));
    sizes.push_back(size);
    total += size;
    h.files.push_back(std::move(f));
  }
  auto covered = r.offset();
  auto crc = r.u32("header checksum");
  if (crc != crc32c(bytes.substr(0, covered)))
    throw state_error("corrupt RocksDB snapshot: header checksum mismatch over bytes [0, " +
                      std::to_string(covered) + ")");
  if (total != r.left())
    r.fail("the files' sizes add up to " + std::to_string(total) + " bytes but " +
           std::to_string(r.left()) + " follow the header");
  for (std::size_t i = 0; i < h.files.size(); ++i) {
    auto at = r.offset();
    h.files[i].bytes = r.raw(sizes[i], "file bytes");
    if (crc32c(h.files[i].bytes) != crcs[i])
      throw state_error("corrupt RocksDB snapshot: checksum mismatch in file " + h.files[i].name +
                        " (bytes [" + std::to_string(at) + ", " + std::to_string(at + sizes[i]) +
                        "))");
  }
  return h;
}

std::string describe_kind(std::string_view bytes) {
  if (bytes.substr(0, pack_magic.size()) == pack_magic)
    return "a RocksDB-store snapshot (E3RSNAP1)";
  if (bytes.substr(0, portable_magic.size()) == portable_magic)
    return "a portable snapshot (E3SNAP01)";
  if (bytes.substr(0, message_magic.size()) == message_magic)
    return "a replication message (E3RM), not a snapshot";
  if (bytes.size() < 8)
    return "only " + std::to_string(bytes.size()) + " bytes, no known magic";
  return "unknown magic " + hex(bytes.substr(0, 8));
}

}  // namespace e3::state::rdb
