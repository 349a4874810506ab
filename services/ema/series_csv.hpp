// Reads time-series CSV files in the Numenta Anomaly Benchmark layout (shared by ema and spike).
//
// Layout: a header line naming the columns, one of which is `value` (NAB: `timestamp,value`),
// then one row per reading with as many comma-separated fields as the header. Lines may end in
// "\r\n". Empty lines are refused, like any other malformed row.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::series {

/// Raised on an unreadable or malformed file; the message is "FILE:LINE: what is wrong".
class series_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The readings of one file, in file order.
struct series {
  std::vector<std::string> timestamps;  ///< the `timestamp` column (empty strings when absent)
  std::vector<double> values;           ///< the `value` column
};

/// Parses a whole decimal number (std::from_chars syntax, no surrounding spaces) that is
/// finite; false otherwise.
bool parse_number(std::string_view text, double& out);

/// Parses CSV text; `name` is the file name used in error messages.
series parse_series_csv(std::string_view text, std::string_view name);

/// Reads and parses the file at `path`. Throws series_error ("FILE:LINE: what").
series read_series_csv(const std::string& path);

/// Reads a whole file into a string. Throws series_error naming the file when it cannot.
std::string read_file(const std::string& path);

}  // namespace e3::services::series
