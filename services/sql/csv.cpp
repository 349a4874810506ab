// CSV line splitting and column lookup for the sql harness.
#include "services/sql/csv.hpp"

#include <charconv>

namespace e3::services::sql {

bool split_csv(std::string_view line, std::vector<std::string>& fields, std::string& error) {
  fields.clear();
  std::string cur;
  std::size_t i = 0;
  for (;;) {
    cur.clear();
    if (i < line.size() && line[i] == '"') {
      std::size_t start = i++;
      for (;;) {
        if (i >= line.size()) {
          error = "unterminated quoted field starting at column " + std::to_string(start + 1);
          return false;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cur.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cur.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        error = "unexpected character after a closing quote at column " + std::to_string(i + 1);
        return false;
      }
    } else {
      while (i < line.size() && line[i] != ',')
        cur.push_back(line[i++]);
    }
    fields.push_back(cur);
    if (i >= line.size())
      return true;
    ++i;  // the comma
  }
}

int column_index(const std::vector<std::string>& header, const std::string& spec) {
  for (std::size_t c = 0; c < header.size(); ++c)
    if (header[c] == spec)
      return int(c);
  unsigned n = 0;
  auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), n);
  if (ec == std::errc() && end == spec.data() + spec.size() && n >= 1 && n <= header.size())
    return int(n - 1);
  return -1;
}

}  // namespace e3::services::sql
