// SVG pieces the modelled cluster figures need beside bench/common/svg.hpp's line chart: a grouped
// bar chart (linear or log y) and several standalone charts laid side by side in one document.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/common/svg.hpp"

namespace e3::bench::svg {

/// A grouped bar chart: one group per category, one bar per series in each group.
struct bar_chart_spec {
  std::string title;                       ///< printed above the plot
  std::string y_label;                     ///< beside the y axis
  std::vector<std::string> categories;     ///< group labels under the x axis
  std::vector<std::string> series;         ///< legend names, one bar per group each
  std::vector<std::vector<double>> values; ///< values[series][category]; NaN or ≤ 0 on a log axis: no bar
  bool log_y = false;                      ///< logarithmic y axis (decades)
  double width = 760;                      ///< picture width in px
  double height = 440;                     ///< picture height in px
};

/// The bar chart as a complete, standalone SVG document.
inline std::string bar_chart(const bar_chart_spec& c) {
  static const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  double lo = 1e300, hi = -1e300;
  for (const auto& s : c.values)
    for (double v : s)
      if (std::isfinite(v) && (!c.log_y || v > 0)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (lo > hi) {
    lo = c.log_y ? 1 : 0;
    hi = c.log_y ? 10 : 1;
  }
  std::vector<double> ticks;
  auto tr = [&](double v) { return c.log_y ? std::log10(v) : v; };
  if (c.log_y) {
    double a = std::floor(std::log10(lo)), b = std::ceil(std::log10(hi));
    if (b <= a)
      b = a + 1;
    for (double e = a; e <= b; ++e)
      ticks.push_back(std::pow(10.0, e));
  } else {
    ticks = nice_ticks(std::min(0.0, lo), hi);
  }
  double y_lo = tr(ticks.front()), y_hi = tr(ticks.back());
  if (y_hi == y_lo)
    y_hi = y_lo + 1;
  const double left = 70, right = 190, top = 40, bottom = 60;
  const double pw = std::max(10.0, c.width - left - right), ph = std::max(10.0, c.height - top - bottom);
  auto py = [&](double v) { return top + ph - (tr(v) - y_lo) / (y_hi - y_lo) * ph; };
  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(c.width) + "\" height=\"" + num(c.height) +
       "\" viewBox=\"0 0 " + num(c.width) + " " + num(c.height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<title>" + escape(c.title) + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + num(c.width) + "\" height=\"" + num(c.height) + "\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + escape(c.title) +
       "</text>\n";
  o += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double t : ticks)
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(t)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(py(t)) + "\"/>\n";
  o += "</g>\n<g fill=\"black\">\n";
  for (double t : ticks)
    o += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" + escape(tick_text(t)) +
         "</text>\n";
  o += "<text x=\"16\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
       num(top + ph / 2) + ")\">" + escape(c.y_label) + "</text>\n";
  double gw = pw / std::max<std::size_t>(1, c.categories.size());
  for (std::size_t k = 0; k < c.categories.size(); ++k)
    o += "<text x=\"" + num(left + gw * (double(k) + 0.5)) + "\" y=\"" + num(top + ph + 16) +
         "\" text-anchor=\"middle\">" + escape(c.categories[k]) + "</text>\n";
  o += "</g>\n";
  double base = c.log_y ? ticks.front() : 0.0;
  double bw = gw * 0.8 / std::max<std::size_t>(1, c.series.size());
  for (std::size_t s = 0; s < c.series.size(); ++s) {
    std::string color = palette[s % (sizeof palette / sizeof *palette)];
    o += "<g class=\"series\" fill=\"" + color + "\">\n<title>" + escape(c.series[s]) + "</title>\n";
    for (std::size_t k = 0; k < c.categories.size() && s < c.values.size() && k < c.values[s].size(); ++k) {
      double v = c.values[s][k];
      if (!std::isfinite(v) || (c.log_y && v <= 0))
        continue;
      double x = left + gw * double(k) + gw * 0.1 + bw * double(s);
      double y0 = py(base), y1 = py(v);
      o += "<rect x=\"" + num(x) + "\" y=\"" + num(std::min(y0, y1)) + "\" width=\"" + num(bw * 0.92) + "\" height=\"" +
           num(std::abs(y0 - y1)) + "\"><title>" + escape(c.series[s] + " " + c.categories[k] + ": " + tick_text(v)) +
           "</title></rect>\n";
    }
    o += "</g>\n";
    double ly = top + 8 + 18 * double(s);
    o += "<rect x=\"" + num(left + pw + 14) + "\" y=\"" + num(ly - 6) + "\" width=\"16\" height=\"12\" fill=\"" + color +
         "\"/>\n<text x=\"" + num(left + pw + 36) + "\" y=\"" + num(ly + 4) + "\">" + escape(c.series[s]) + "</text>\n";
  }
  o += "<g stroke=\"black\" stroke-width=\"1.2\">\n";
  o += "<line x1=\"" + num(left) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  o += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  o += "</g>\n</svg>\n";
  return o;
}

/// Standalone SVG documents (as line_chart and bar_chart write them), `columns` per row, in one
/// document: each becomes a nested <svg> at its place. Every panel gets the size of the first.
inline std::string panels(const std::vector<std::string>& docs, double panel_width, double panel_height,
                          int columns = 3) {
  columns = std::max(1, columns);
  std::size_t rows = (docs.size() + std::size_t(columns) - 1) / std::size_t(columns);
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  double w = panel_width * double(std::min<std::size_t>(docs.size(), std::size_t(columns)));
  double h = panel_height * double(rows);
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  num(w) + "\" height=\"" + num(h) + "\" viewBox=\"0 0 " + num(w) + " " + num(h) + "\">\n";
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::string d = docs[i];
    auto decl = d.find("?>");
    if (d.rfind("<?xml", 0) == 0 && decl != std::string::npos)
      d = d.substr(decl + 2);
    auto at = d.find("<svg ");
    if (at == std::string::npos)
      continue;
    double x = panel_width * double(i % std::size_t(columns)), y = panel_height * double(i / std::size_t(columns));
    d.insert(at + 5, "x=\"" + num(x) + "\" y=\"" + num(y) + "\" ");
    o += d;
  }
  o += "</svg>\n";
  return o;
}

/// Writes `doc` to `path`; on failure says so on stderr, prefixed by `who`, and returns false.
inline bool write_file(const std::string& path, const std::string& doc, const std::string& who) {
  std::ofstream f(path);
  f << doc;
  f.close();
  if (!f) {
    std::cerr << who << ": cannot write " << path << "\n";
    return false;
  }
  std::cerr << "wrote " << path << "\n";
  return true;
}

}  // namespace e3::bench::svg
