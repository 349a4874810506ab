// Byte formats of the RocksDB store: key encoding inside an instance's column family, the
// replication message, and the packed snapshot (E3RSNAP1). Internal to state_store/, exposed
// so tests can check the formats directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace e3::state::rdb {

// ---- little-endian primitives -------------------------------------------------------------

/// Appends fixed-width little-endian integers and length-prefixed strings.
class byte_writer {
 public:
  /// Appends one byte.
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  /// Appends a 32-bit little-endian integer.
  void u32(std::uint32_t v);
  /// Appends a 64-bit little-endian integer.
  void u64(std::uint64_t v);
  /// Appends a 32-bit length, then the bytes.
  void str(std::string_view s);
  /// Appends raw bytes.
  void raw(std::string_view s) { out_.append(s); }
  /// The bytes so far.
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

/// Reads what byte_writer wrote, strictly: every read checks the bytes left, and every error
/// is a state_error "<what> at byte <offset>: <problem>".
class byte_reader {
 public:
  /// Reads `b`, whose offsets are reported relative to `base` (the reader of a sub-range can
  /// report offsets of the whole message); `what` names the format in errors.
  byte_reader(std::string_view b, std::string what, std::size_t base = 0)
      : b_(b), what_(std::move(what)), base_(base) {}
  /// One byte.
  std::uint8_t u8(const char* field);
  /// A 32-bit little-endian integer.
  std::uint32_t u32(const char* field);
  /// A 64-bit little-endian integer.
  std::uint64_t u64(const char* field);
  /// A string with a 32-bit length prefix, at most `max` bytes long.
  std::string_view str(const char* field, std::size_t max = 1u << 20);
  /// The next `n` raw bytes.
  std::string_view raw(std::uint64_t n, const char* field);
  /// Bytes left.
  std::size_t left() const { return b_.size() - pos_; }
  /// Offset in the whole message.
  std::size_t offset() const { return base_ + pos_; }
  /// Throws the reader's state_error at the current offset.
  [[noreturn]] void fail(const std::string& why) const;
  /// Throws the reader's state_error at the offset of the field read last (a bad value).
  [[noreturn]] void bad_field(const std::string& why) const;

 private:
  void need(std::uint64_t n, const char* field) const;
  std::string_view b_;
  std::string what_;
  std::size_t base_;
  std::size_t pos_ = 0;
  std::size_t last_ = 0;  ///< where the field read last starts
};

/// Bytes as lowercase hex (at most `max` bytes shown, then "…"): for keys in error messages.
std::string hex(std::string_view b, std::size_t max = 32);

// ---- state identity -------------------------------------------------------------------------

/// Names the committed state of an instance: a random epoch (new when an instance is created
/// or imports a snapshot) and the number of commits since. The backup applies a batch only
/// when its own state id equals the batch's base, so histories never mix.
struct state_id {
  std::uint64_t epoch = 0;  ///< random, per history
  std::uint64_t seq = 0;    ///< commits in this history; 0 = freshly created (empty)
  /// Equal epochs and sequence numbers.
  friend bool operator==(const state_id&, const state_id&) = default;
};

/// 16 bytes: epoch, seq (little-endian).
std::string encode_state(state_id s);
/// Decodes encode_state's output; false when the size is wrong.
bool decode_state(std::string_view v, state_id& out);

// ---- keys inside an instance's column family -------------------------------------------------
//
//   0x01 'S'                              -> state id (16 bytes)
//   0x02 kind name                        -> collection record: u64 count (table) / size (array)
//   'T'  u32be(len) name key              -> table entry value
//   'A'  u32be(len) name u64be(index)     -> array slot value (absent = empty slot)
//
// Big-endian lengths and indexes keep a table's keys in bytewise order and an array's slots in
// index order under RocksDB's bytewise comparator.

/// Kind byte of a table in collection records.
inline constexpr char table_kind = 'T';
/// Kind byte of an array in collection records.
inline constexpr char array_kind = 'A';

/// The key holding the instance's state id.
std::string_view state_key();
/// The prefix of every collection record.
std::string_view meta_prefix();
/// The collection record of table/array `name`.
std::string meta_key(char kind, std::string_view name);
/// The prefix shared by every entry of collection `name` of `kind`.
std::string entry_prefix(char kind, std::string_view name);
/// The key of `key` in table `name` (= entry_prefix('T', name) + key).
std::string table_key(std::string_view prefix, std::string_view key);
/// The key of slot `index` of an array whose entry prefix is `prefix`.
std::string array_key(std::string_view prefix, std::uint64_t index);
/// Reads the index back from an array key with that prefix.
std::uint64_t array_index(std::string_view key, std::size_t prefix_size);
/// The smallest key greater than every key starting with `prefix` (for iterator bounds).
std::string prefix_end(std::string_view prefix);

/// 8-byte little-endian count of a collection record.
std::string encode_count(std::uint64_t n);
/// Decodes encode_count's output; false on a wrong size.
bool decode_count(std::string_view v, std::uint64_t& out);

/// Why a put of `key`/`value` is not a well-formed record of an instance column family, or ""
/// when it is. The backup runs every replicated record through this before applying it.
std::string check_put(std::string_view key, std::string_view value);
/// Why deleting `key` is not a well-formed change (only table entries and array slots are ever
/// deleted), or "" when it is.
std::string check_delete(std::string_view key);

// ---- replication message ---------------------------------------------------------------------
//
//   "E3RM" u8 version=1 u8 kind ('B' batch | 'S' full state) str instance
//   u64 base.epoch u64 base.seq u64 next.epoch u64 next.seq u64 payload_len payload
//   u32 crc32c(everything before)
//
// 'B': payload is a RocksDB WriteBatch (WriteBatch::Data()) that moves the state from base to
//      next; 'S': payload is a snapshot (E3RSNAP1 or E3SNAP01) that sets the state to next.

/// A decoded replication message; views point into the decoded bytes.
struct repl_message {
  char kind = 0;                 ///< 'B' or 'S'
  std::string_view instance;     ///< instance name
  state_id base;                 ///< state a batch applies to ('B')
  state_id next;                 ///< state after applying
  std::string_view payload;      ///< WriteBatch data or snapshot bytes
};

/// Encodes a replication message.
std::string encode_message(const repl_message& m);
/// Decodes and checks a message (magic, version, kind, lengths, checksum, no trailing bytes);
/// throws state_error "corrupt replication message at byte N: …".
repl_message decode_message(std::string_view bytes);

// ---- packed snapshot E3RSNAP1 ----------------------------------------------------------------
//
//   "E3RSNAP1" u32 version=1 str comparator u64 epoch u64 seq u64 entries u64 collections
//   u32 file_count, per file: str name ("/NNNNNN.sst") u32 level u64 size u64 smallest_seqno
//   u64 largest_seqno str smallest_key str largest_key u32 crc32c(file bytes)
//   u32 crc32c(every header byte before it)
//   the files' bytes, one after the other, nothing after them.

/// Magic of the packed RocksDB snapshot.
inline constexpr std::string_view pack_magic = "E3RSNAP1";
/// Magic of the portable snapshot (snapshot.hpp).
inline constexpr std::string_view portable_magic = "E3SNAP01";
/// Magic of a replication message.
inline constexpr std::string_view message_magic = "E3RM";

/// One exported SST file.
struct pack_file {
  std::string name;                    ///< "/NNNNNN.sst"
  std::uint32_t level = 0;             ///< LSM level it sits on
  std::uint64_t smallest_seqno = 0;    ///< RocksDB sequence numbers the file spans
  std::uint64_t largest_seqno = 0;     ///< …
  std::string smallest_key;            ///< user keys the file spans
  std::string largest_key;             ///< …
  std::uint64_t size = 0;              ///< bytes (encode_pack_header; else bytes.size())
  std::uint32_t crc = 0;               ///< crc32c of the bytes (encode_pack_header)
  std::string_view bytes;              ///< the file (a view into the pack or the source)
};

/// What a pack holds besides the files.
struct pack_header {
  std::string comparator;              ///< RocksDB comparator name of the column family
  state_id state;                      ///< the instance's state id in the files
  std::uint64_t entries = 0;           ///< keys plus array slots over all collections
  std::uint64_t collections = 0;       ///< number of collection records
  std::vector<pack_file> files;        ///< the SST files
};

/// Packs header and files.
std::string encode_pack(const pack_header& h);
/// Only the header of a pack, with each file's `size` and `crc` as given: the files' bytes
/// follow it in order. Its length does not depend on the sizes and checksums, so a writer can
/// reserve it, append the files, then write the real header over it.
std::string encode_pack_header(const pack_header& h);
/// Unpacks and checks a pack (every length, level, file name, both checksums, no trailing
/// bytes); the files' views point into `bytes`. Throws state_error "corrupt RocksDB snapshot
/// at byte N: …".
pack_header decode_pack(std::string_view bytes);

/// Names the snapshot kind of `bytes` for error messages ("a portable E3SNAP01 snapshot", …).
std::string describe_kind(std::string_view bytes);

}  // namespace e3::state::rdb
