// CSV line splitting, column lookup and a file reader with a header line.
#include "services/common/csv.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>

namespace e3::services::csv {

bool split(std::string_view line, std::vector<std::string>& fields, std::string& error) {
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

bool read_unsigned(const std::vector<std::string>& header, const std::vector<std::string>& fields, int col,
                   std::uint64_t& out, std::string& error) {
  const auto& s = fields[std::size_t(col)];
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    error = "column '" + header[std::size_t(col)] + "': '" + s + "' is not an unsigned integer";
    return false;
  }
  return true;
}

bool read_number(const std::vector<std::string>& header, const std::vector<std::string>& fields, int col,
                 double& out, std::string& error) {
  const auto& s = fields[std::size_t(col)];
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    error = "column '" + header[std::size_t(col)] + "': '" + s + "' is not a number";
    return false;
  }
  return true;
}

bool file_reader::open(const std::string& path, std::string& error) {
  path_ = path;
  line_no_ = 1;
  in_.open(path, std::ios::binary);
  if (!in_) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  if (!std::getline(in_, line_)) {
    error = path + ":1: empty file (a header line is needed)";
    return false;
  }
  if (!line_.empty() && line_.back() == '\r')
    line_.pop_back();
  std::string err;
  if (!split(line_, header_, err)) {
    error = where() + err;
    return false;
  }
  return true;
}

bool file_reader::next(std::vector<std::string>& fields, std::string& error) {
  error.clear();
  while (std::getline(in_, line_)) {
    ++line_no_;
    if (!line_.empty() && line_.back() == '\r')
      line_.pop_back();
    if (line_.empty())
      continue;
    std::string err;
    if (!split(line_, fields, err)) {
      error = where() + err;
      return false;
    }
    if (fields.size() != header_.size()) {
      error = where() + std::to_string(fields.size()) + " fields, the header has " + std::to_string(header_.size());
      return false;
    }
    return true;
  }
  if (in_.bad())
    error = path_ + ": read error";
  return false;
}

std::string file_reader::where() const { return path_ + ":" + std::to_string(line_no_) + ": "; }

}  // namespace e3::services::csv
