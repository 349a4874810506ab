// A small CSV reader for the sql harness: one record per line, RFC 4180 quoting.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace e3::services::sql {

/// Splits one CSV line into fields (quotes removed, "" inside quotes read as one quote).
/// Returns false and sets `error` when a quoted field is not terminated on the line or a quote
/// is followed by something other than a comma.
bool split_csv(std::string_view line, std::vector<std::string>& fields, std::string& error);

/// The index of column `spec` in `header`: a header name, or else a 1-based column number.
/// Returns -1 when neither matches.
int column_index(const std::vector<std::string>& header, const std::string& spec);

}  // namespace e3::services::sql
