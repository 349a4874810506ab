// The record: the request format of stream and storage services (IoT and analytics apps).
//
// A record is a small tuple, like a Storm tuple: a key, a timestamp, a number, optional
// numeric features, a text field and an operation code. Each service documents which fields it
// reads and what it emits. The binary layout is little-endian:
//   u8 version(=1) | u8 op | u16 reserved | u32 n_features | u64 key | i64 ts_ns | f64 value |
//   u32 text_len | u32 aux_len | f64 features[n_features] | text | aux
#pragma once

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "actors/service.hpp"

namespace e3::services {

/// Raised by decode on a malformed record; says which field and at which byte.
class record_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A stream tuple.
struct record {
  std::uint8_t op = 0;            ///< service-specific operation (e.g. KVS get/set/del)
  std::uint64_t key = 0;          ///< the entity: sensor, user, sender, item
  std::int64_t ts_ns = 0;         ///< event time
  double value = 0;               ///< the measurement or score
  std::vector<double> features;   ///< numeric features (classifiers)
  std::string text;               ///< text (queries, messages, SQL, tokens)
  std::string aux;                ///< a second byte field (values, signatures)
};

/// Fixed part of the encoding, in bytes.
inline constexpr std::size_t record_header_size = 40;
/// Largest number of features or text/aux bytes a record may carry.
inline constexpr std::size_t record_max_field = 1u << 20;

/// Appends the encoding of r to out.
void encode(const record& r, bytes& out);
/// The encoding of r.
bytes encode(const record& r);
/// Decodes a record; throws record_error on any malformation (never reads past the end).
record decode_record(bytes_view b);

/// The fixed fields and the text of an encoded record, viewed in place: for services that read
/// a few fields per request and need no copies of the features, text or aux.
struct record_fields {
  std::uint8_t op = 0;    ///< record.op
  std::uint64_t key = 0;  ///< record.key
  std::int64_t ts_ns = 0; ///< record.ts_ns
  double value = 0;       ///< record.value
  std::string_view text;  ///< record.text, pointing into the encoded bytes
};

/// Checks `b` as decode_record does (header size, version, field limits, total length) and
/// fills `f`. Returns false, with `error` naming the failed check and its bytes, on a malformed
/// record (never reads past the end).
bool read_record_fields(bytes_view b, record_fields& f, std::string& error);

/// A synthetic stream record of about `size` bytes (random key among 2^20, value, a text field
/// filling the rest): the load of a record service whose kind has no generator of its own for
/// this configuration (e.g. count with input=record).
bytes synthetic_record(std::size_t size, std::mt19937_64& rng);

}  // namespace e3::services
