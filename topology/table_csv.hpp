// A minimal reader for the comma-separated tables compiled into the library (no quoting).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::topo {

/// One data row, by column name.
struct csv_row {
  std::string source;                                  ///< file name, for errors
  int line = 0;                                        ///< 1-based line in the file
  std::map<std::string, std::string, std::less<>> cells;  ///< column -> text

  /// The text of `column`; throws std::runtime_error naming file, line and column when absent.
  const std::string& at(std::string_view column) const;
  /// The number in `column`; throws naming file, line and column when absent or not a number.
  double number(std::string_view column) const;
};

/// Parses a header line and data rows; blank lines and lines starting with '#' are skipped.
/// Throws std::runtime_error naming `source` and the line on a row with the wrong cell count.
std::vector<csv_row> parse_csv_table(std::string_view text, const std::string& source);

}  // namespace e3::topo
