// A zero-copy reader and rewriter of record headers, for the light stream services (ema, spike)
// whose per-request work is a few arithmetic operations: no decoding into strings and vectors.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "actors/service.hpp"
#include "services/common/record.hpp"

namespace e3::services::record_view {

/// The fixed fields of a record and where its feature block ends.
struct head {
  std::uint8_t op = 0;             ///< record.op
  std::uint32_t n_features = 0;    ///< number of features
  std::uint64_t key = 0;           ///< record.key
  std::int64_t ts_ns = 0;          ///< record.ts_ns
  double value = 0;                ///< record.value
  std::size_t features_end = 0;    ///< byte offset just past the last feature
};

/// Validates `b` exactly as decode_record does (version, field limits, total length) and fills
/// `h`. Returns nullptr when valid, else a fixed reason string (suitable for ctx.reject, whose
/// reasons are counted: it carries no numbers).
const char* read_head(bytes_view b, head& h);

/// Writes into `out` (cleared first; its capacity is reused) the record `in`, described by `h`,
/// with `value` replaced and the numbers `extra` appended after its features. The caller must
/// ensure h.n_features + extra.size() <= record_max_field.
void rewrite(bytes_view in, const head& h, double value, std::initializer_list<double> extra, bytes& out);

}  // namespace e3::services::record_view
