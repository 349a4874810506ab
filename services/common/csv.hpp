// A small CSV reader for the `e3 svc` harnesses (sql, top_ranker): one record per line,
// RFC 4180 quoting, a header line naming the columns, errors that name the file and line.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::csv {

/// Splits one CSV line into fields (quotes removed, "" inside quotes read as one quote).
/// Returns false and sets `error` when a quoted field is not terminated on the line or a quote
/// is followed by something other than a comma.
bool split(std::string_view line, std::vector<std::string>& fields, std::string& error);

/// The index of column `spec` in `header`: a header name, or else a 1-based column number.
/// Returns -1 when neither matches.
int column_index(const std::vector<std::string>& header, const std::string& spec);

/// Reads field `col` of `fields` as an unsigned integer into `out`; false (with `error`
/// "column '<name>': '<text>' is not an unsigned integer") when it is not one.
bool read_unsigned(const std::vector<std::string>& header, const std::vector<std::string>& fields, int col,
                   std::uint64_t& out, std::string& error);

/// Reads field `col` of `fields` as a number into `out`; false (with `error`
/// "column '<name>': '<text>' is not a number") when it is not one.
bool read_number(const std::vector<std::string>& header, const std::vector<std::string>& fields, int col,
                 double& out, std::string& error);

/// A CSV file with a header line, read row by row. Every error it reports starts with the
/// file's path and, where there is one, the line number ("path:12: ..."), ready to print.
/// A trailing '\r' is dropped from every line; empty lines after the header are skipped.
class file_reader {
 public:
  /// Opens `path` and reads its header line. False, with `error` set, when the file cannot be
  /// opened, is empty or its header is not valid CSV.
  bool open(const std::string& path, std::string& error);

  /// The header's column names.
  const std::vector<std::string>& header() const { return header_; }

  /// Reads the next non-empty row into `fields`. False at the end of the file (with `error`
  /// empty) or on a malformed row, a row whose field count differs from the header's, or a read
  /// error (with `error` set).
  bool next(std::vector<std::string>& fields, std::string& error);

  /// The number of the line `next` read last (1 for the header).
  std::size_t line_no() const { return line_no_; }

  /// "path:<line_no>: ", the prefix of an error about the row read last.
  std::string where() const;

 private:
  std::string path_;
  std::ifstream in_;
  std::vector<std::string> header_;
  std::string line_;
  std::size_t line_no_ = 0;
};

}  // namespace e3::services::csv
