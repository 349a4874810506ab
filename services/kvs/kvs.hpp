// KVS (Table 2, "Hashtable-based in-memory key-value store (MemC3)"): request and reply formats.
//
// Requests are records (services/common/record.hpp). The service reads:
//   record.op    1 = GET, 2 = SET, 3 = DEL (kvs::op_*); any other op is a stream record to store
//   record.text  the key bytes (1..250); when empty, the key is record.key in decimal ASCII
//   record.aux   the value of a SET (0..1 MiB)
//   record.key   the key when text is empty; echoed in the reply
// and answers with ctx.reply(a reply record):
//   op    the status (kvs::status_*): 1 HIT, 2 MISS, 3 STORED, 4 DELETED, 5 NOT_FOUND
//   key   the request's record.key; ts_ns the request's ts_ns
//   value the number of keys stored after the operation
//   aux   the value (HIT only); text and features empty.
//
// Stream records (chained apps RTA-SF and IOT-DH): a record whose op is not 1..3 (or any record,
// with params["mode"] == "store") is stored whole, its encoded bytes as the value, under the
// key record.key in decimal ASCII (a GET with empty text and that record.key reads it back), and
// is then emitted downstream unchanged with key record.key. Nothing is replied for it.
//
// Rejections (ctx.reject, nothing stored): a malformed record; a key longer than 250 bytes; a
// value or stored record longer than 1 MiB; a new key beyond params["max_keys"].
//
// Params: mode (auto | store; default auto), buckets (initial bucket count, default 1024),
// search (bfs | dfs cuckoo path search, default bfs), max_keys (0 = no limit, the default).
//
// State: every key and value lives in the reliable hashtable "kvs" (key bytes -> value bytes,
// exactly). handle() works on the in-memory cuckoo table and records which keys changed;
// flush() writes those changes; on_start() reloads the cuckoo table from the hashtable, so a
// migrated or restarted instance holds byte-identical contents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "actors/service.hpp"

namespace e3::services::kvs {

/// GET: reply HIT with the value, or MISS.
inline constexpr std::uint8_t op_get = 1;
/// SET: store record.aux under the key; reply STORED.
inline constexpr std::uint8_t op_set = 2;
/// DEL: remove the key; reply DELETED or NOT_FOUND.
inline constexpr std::uint8_t op_del = 3;

/// GET found the key; aux holds the value.
inline constexpr std::uint8_t status_hit = 1;
/// GET did not find the key.
inline constexpr std::uint8_t status_miss = 2;
/// SET stored the value.
inline constexpr std::uint8_t status_stored = 3;
/// DEL removed the key.
inline constexpr std::uint8_t status_deleted = 4;
/// DEL did not find the key.
inline constexpr std::uint8_t status_not_found = 5;

/// The name of a status code ("HIT", "MISS", "STORED", "DELETED", "NOT_FOUND", or "?").
std::string_view status_name(std::uint8_t status);

/// A record's fields as views into its encoding, parsed without copies (the per-request path).
struct record_view {
  std::uint8_t op = 0;         ///< record.op
  std::uint64_t key = 0;       ///< record.key
  std::int64_t ts_ns = 0;      ///< record.ts_ns
  double value = 0;            ///< record.value
  std::uint32_t features = 0;  ///< number of features (not read by the kvs)
  std::string_view text;       ///< record.text
  std::string_view aux;        ///< record.aux
};

/// Parses a record as services/common/record.hpp lays it out, with the same checks as
/// decode_record. Returns false and sets `error` (which field, which byte) on a malformation.
bool parse_record(bytes_view b, record_view& out, std::string& error);

/// Space for the decimal form of a record key.
using key_buffer = char[24];
/// The key a request addresses: record.text, or record.key in decimal written into `buf`.
std::string_view request_key(const record_view& r, key_buffer& buf);

/// A request record: op, key bytes in text, value in aux.
bytes make_request(std::uint8_t op, std::string_view key, std::string_view value = {});

/// Writes a reply record into `out` (replacing its contents, reusing its capacity).
void write_reply(bytes& out, std::uint8_t status, std::uint64_t key, std::int64_t ts_ns, double value,
                 std::string_view aux);

/// A decoded reply.
struct reply {
  std::uint8_t status = 0;  ///< status_*
  double keys = 0;          ///< number of keys stored after the operation
  std::string value;        ///< the value, for HIT
};

/// Decodes a reply record; throws record_error when it is malformed.
reply parse_reply(bytes_view b);

}  // namespace e3::services::kvs
