// Lookups in the generated unicode61 tables.
#include "services/bm25/unicode61.hpp"

#include <algorithm>

namespace e3::services::bm25::unicode61 {

int classify(std::uint32_t cp) {
  if (cp < 0x80) {
    bool alnum = (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return alnum ? 1 : 0;
  }
  const class_range* end = class_ranges + class_range_count;
  const class_range* r = std::upper_bound(class_ranges, end, cp, [](std::uint32_t c, const class_range& x) { return c < x.lo; });
  if (r == class_ranges)
    return 1;
  --r;
  return cp <= r->hi ? r->cls : 1;
}

std::uint32_t fold(std::uint32_t cp) {
  if (cp < 0x80)
    return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  const fold_entry* end = fold_table + fold_table_count;
  const fold_entry* f = std::lower_bound(fold_table, end, cp, [](const fold_entry& x, std::uint32_t c) { return x.from < c; });
  return f != end && f->from == cp ? f->to : cp;
}

}  // namespace e3::services::bm25::unicode61
