// What every benchmark uses: a timer that measures ns per operation and a report that prints
// a table on stdout or JSON with --json.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace e3::bench {

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
template <class T>
inline void keep(const T& v) {
  asm volatile("" : : "g"(&v) : "memory");
}

/// Runs `op(i)` for i in [0, n) `reps` times and returns the best run's nanoseconds per
/// operation (best-of-k filters out this noisy 2-core machine's interruptions).
template <class F>
double ns_per_op(F&& op, std::size_t n, int reps = 5) {
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
      op(i);
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(n));
  }
  return best;
}

/// A result table: printed aligned on stdout, or as JSON (`{"title":…, "rows":[{col:value}]}`
/// plus any extra fields) with --json.
class report {
 public:
  /// A table titled `title` with the given column names.
  report(std::string title, std::vector<std::string> columns)
      : title_(std::move(title)), columns_(std::move(columns)) {}

  /// Appends a row; cells are JSON values (numbers stay numbers in --json).
  void row(std::vector<nlohmann::json> cells) { rows_.push_back(std::move(cells)); }
  /// Adds a line printed under the table (and a "notes" entry in JSON).
  void note(std::string text) { notes_.push_back(std::move(text)); }
  /// Extra top-level JSON fields.
  nlohmann::json& extra() { return extra_; }

  /// Prints as a table or as JSON.
  void print(bool json, std::ostream& out = std::cout) const {
    if (json) {
      nlohmann::json j = extra_;
      j["title"] = title_;
      auto& rows = j["rows"] = nlohmann::json::array();
      for (const auto& r : rows_) {
        nlohmann::json o;
        for (std::size_t c = 0; c < columns_.size() && c < r.size(); ++c)
          o[columns_[c]] = r[c];
        rows.push_back(o);
      }
      if (!notes_.empty())
        j["notes"] = notes_;
      out << j.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> cells;
    std::vector<std::size_t> width(columns_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c)
      width[c] = columns_[c].size();
    for (const auto& r : rows_) {
      std::vector<std::string> line;
      for (std::size_t c = 0; c < columns_.size(); ++c) {
        line.push_back(c < r.size() ? text(r[c]) : "");
        width[c] = std::max(width[c], line.back().size());
      }
      cells.push_back(std::move(line));
    }
    out << title_ << "\n";
    auto print_line = [&](const std::vector<std::string>& l) {
      for (std::size_t c = 0; c < l.size(); ++c)
        out << (c ? "  " : "") << std::setw(int(width[c])) << (c ? std::right : std::left) << l[c];
      out << "\n";
    };
    print_line(columns_);
    for (const auto& l : cells)
      print_line(l);
    for (const auto& n : notes_)
      out << "  " << n << "\n";
  }

  /// A cell as text: numbers with up to 4 significant decimals.
  static std::string text(const nlohmann::json& v) {
    if (v.is_string())
      return v.get<std::string>();
    if (v.is_number_float()) {
      std::ostringstream s;
      double d = v.get<double>();
      s << std::fixed << std::setprecision(d != 0 && std::abs(d) < 10 ? 3 : (std::abs(d) < 1000 ? 1 : 0)) << d;
      return s.str();
    }
    if (v.is_null())
      return "-";
    return v.dump();
  }

 private:
  std::string title_;
  std::vector<std::string> columns_;
  std::vector<std::vector<nlohmann::json>> rows_;
  std::vector<std::string> notes_;
  nlohmann::json extra_ = nlohmann::json::object();
};

/// True when `--json` is among the arguments.
inline bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--json")
      return true;
  return false;
}

}  // namespace e3::bench
