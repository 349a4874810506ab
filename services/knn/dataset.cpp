// scikit-learn CSV layout parsing with errors that name the file and line.
#include "services/knn/dataset.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace e3::services::ml {
namespace {

[[noreturn]] void fail(std::string_view name, std::size_t line, const std::string& what) {
  throw dataset_error(std::string(name) + ":" + std::to_string(line) + ": " + what);
}

template <class T>
bool parse(std::string_view s, T& out) {
  if (s.empty())
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

dataset parse_sklearn_csv(std::string_view text, std::string_view name) {
  dataset d;
  std::size_t line_no = 0, at = 0, n_samples = 0;
  std::vector<std::string_view> f;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    f.clear();
    for (std::size_t p = 0;;) {
      auto c = line.find(',', p);
      f.push_back(line.substr(p, c == std::string_view::npos ? std::string_view::npos : c - p));
      if (c == std::string_view::npos)
        break;
      p = c + 1;
    }
    if (line_no == 1) {
      if (f.size() < 3 || !parse(f[0], n_samples) ||
          !parse(f[1], d.n_features) || d.n_features == 0)
        fail(name, 1, "header must be 'n_samples,n_features,class names...' with positive counts");
      for (std::size_t c = 2; c < f.size(); ++c)
        d.class_names.emplace_back(f[c]);
      d.x.reserve(n_samples * d.n_features);
      d.y.reserve(n_samples);
      continue;
    }
    if (line.empty() && at >= text.size())
      break;  // a final empty line
    if (f.size() != d.n_features + 1)
      fail(name, line_no, std::to_string(f.size()) + " fields, expected " + std::to_string(d.n_features) +
                              " features and a label");
    for (std::size_t c = 0; c < d.n_features; ++c) {
      double v;
      if (!parse(f[c], v) || !std::isfinite(v))
        fail(name, line_no, "feature " + std::to_string(c + 1) + " '" + std::string(f[c]) + "' is not a finite number");
      d.x.push_back(v);
    }
    int label;
    if (!parse(f.back(), label) || label < 0 || std::size_t(label) >= d.class_names.size())
      fail(name, line_no, "label '" + std::string(f.back()) + "' is not an integer in [0, " +
                              std::to_string(d.class_names.size()) + ")");
    d.y.push_back(label);
  }
  if (line_no == 0)
    fail(name, 1, "empty file (expected the header 'n_samples,n_features,class names...')");
  if (d.size() != n_samples)
    fail(name, line_no, "the header announces " + std::to_string(n_samples) + " samples, the file has " +
                            std::to_string(d.size()));
  return d;
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw dataset_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream b;
  b << in.rdbuf();
  if (in.bad())
    throw dataset_error(path + ": read error");
  return std::move(b).str();
}

dataset read_sklearn_csv(const std::string& path) { return parse_sklearn_csv(read_whole_file(path), path); }

}  // namespace e3::services::ml
