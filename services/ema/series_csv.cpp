// NAB-style time-series CSV reading with errors that name the file and line.
#include "services/ema/series_csv.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace e3::services::series {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (true) {
    auto comma = line.find(',', at);
    out.push_back(line.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
    if (comma == std::string_view::npos)
      return out;
    at = comma + 1;
  }
}

[[noreturn]] void fail(std::string_view name, std::size_t line, const std::string& what) {
  throw series_error(std::string(name) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

bool parse_number(std::string_view text, double& out) {
  if (text.empty())
    return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

series parse_series_csv(std::string_view text, std::string_view name) {
  series s;
  std::size_t line_no = 0;
  std::size_t value_col = std::string_view::npos;
  std::size_t time_col = std::string_view::npos;
  std::size_t columns = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto fields = split(line);
    if (line_no == 1) {
      for (std::size_t c = 0; c < fields.size(); ++c) {
        if (fields[c] == "value")
          value_col = c;
        else if (fields[c] == "timestamp")
          time_col = c;
      }
      if (value_col == std::string_view::npos)
        fail(name, line_no, "header has no 'value' column (expected e.g. 'timestamp,value')");
      columns = fields.size();
      continue;
    }
    if (line.empty())
      fail(name, line_no, "empty line");
    if (fields.size() != columns)
      fail(name, line_no, std::to_string(fields.size()) + " fields, the header has " + std::to_string(columns));
    double v;
    if (!parse_number(fields[value_col], v))
      fail(name, line_no, "value '" + std::string(fields[value_col]) + "' is not a finite number");
    s.values.push_back(v);
    s.timestamps.emplace_back(time_col == std::string_view::npos ? std::string_view() : fields[time_col]);
  }
  if (line_no == 0)
    fail(name, 1, "empty file (expected a header line such as 'timestamp,value')");
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw series_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream b;
  b << in.rdbuf();
  if (in.bad())
    throw series_error(path + ": read error");
  return std::move(b).str();
}

series read_series_csv(const std::string& path) { return parse_series_csv(read_file(path), path); }

}  // namespace e3::services::series
