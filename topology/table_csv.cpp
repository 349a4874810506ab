// The minimal CSV table reader.
#include "topology/table_csv.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace e3::topo {
namespace {

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto comma = line.find(',', start);
    auto cell = line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' '))
      cell.remove_suffix(1);
    while (!cell.empty() && cell.front() == ' ')
      cell.remove_prefix(1);
    out.emplace_back(cell);
    if (comma == std::string_view::npos)
      return out;
    start = comma + 1;
  }
}

}  // namespace

const std::string& csv_row::at(std::string_view column) const {
  auto i = cells.find(column);
  if (i == cells.end())
    throw std::runtime_error(source + ":" + std::to_string(line) + ": no column '" + std::string(column) + "'");
  return i->second;
}

double csv_row::number(std::string_view column) const {
  const auto& t = at(column);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v))
    throw std::runtime_error(source + ":" + std::to_string(line) + ": column '" + std::string(column) +
                             "' is not a number: '" + t + "'");
  return v;
}

std::vector<csv_row> parse_csv_table(std::string_view text, const std::string& source) {
  std::vector<csv_row> rows;
  std::vector<std::string> header;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (line.empty() || line == "\r" || line.front() == '#')
      continue;
    auto cells = split(line);
    if (header.empty()) {
      header = std::move(cells);
      continue;
    }
    if (cells.size() != header.size())
      throw std::runtime_error(source + ":" + std::to_string(line_no) + ": " + std::to_string(cells.size()) +
                               " cells, the header has " + std::to_string(header.size()));
    csv_row r{source, line_no, {}};
    for (std::size_t i = 0; i < cells.size(); ++i)
      r.cells[header[i]] = cells[i];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace e3::topo
