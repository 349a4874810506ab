// A small SVG writer for the figure commands: a line chart with axes, ticks, a legend and a title.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace e3::bench::svg {

/// One line of a chart: its legend name and its (x, y) points, drawn in the given order.
struct series {
  std::string name;                               ///< legend text
  std::vector<std::pair<double, double>> points;  ///< data points (x, y)
  std::string color;                              ///< CSS colour; empty: the next colour of the palette
  bool dashed = false;                            ///< dashed line (e.g. a model next to a measurement)
};

/// A line chart: title, axis labels, lines; the axes span the data (y from 0 when asked).
struct chart {
  std::string title;            ///< printed above the plot
  std::string x_label;          ///< under the x axis
  std::string y_label;          ///< beside the y axis
  std::vector<series> lines;    ///< the data
  double width = 720;           ///< picture width in px
  double height = 440;          ///< picture height in px
  bool y_from_zero = true;      ///< start the y axis at 0 (unless data is negative)
};

/// `text` with the five XML special characters escaped, for text and attribute values.
inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

/// About `target` evenly spaced round tick values (steps of 1, 2 or 5 × 10^k), the first at or
/// below `lo` and the last at or above `hi`. Returns {lo} when lo == hi.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
  if (!(hi > lo))
    return {lo};
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  for (double i = first; i <= last; ++i)
    out.push_back(std::abs(i) < 0.5 ? 0.0 : i * step);
  return out;
}

/// A number as short tick text ("1500", "0.25", "2.5e+06").
inline std::string tick_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

/// The chart as a complete, standalone SVG document.
inline std::string line_chart(const chart& c) {
  static const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};
  double x_lo = 1e300, x_hi = -1e300, y_lo = 1e300, y_hi = -1e300;
  for (const auto& s : c.lines)
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y))
        continue;
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  if (x_lo > x_hi) {  // no data: a unit square
    x_lo = y_lo = 0;
    x_hi = y_hi = 1;
  }
  if (c.y_from_zero && y_lo > 0)
    y_lo = 0;
  if (x_hi == x_lo)
    x_hi = x_lo + 1;
  if (y_hi == y_lo)
    y_hi = y_lo + 1;
  auto xt = nice_ticks(x_lo, x_hi);
  auto yt = nice_ticks(y_lo, y_hi);
  x_lo = std::min(x_lo, xt.front());
  x_hi = std::max(x_hi, xt.back());
  y_lo = std::min(y_lo, yt.front());
  y_hi = std::max(y_hi, yt.back());

  // Plot area, leaving room for the title, the tick labels, the axis labels and the legend.
  const double left = 70, right = 230, top = 40, bottom = 55;
  const double pw = std::max(10.0, c.width - left - right), ph = std::max(10.0, c.height - top - bottom);
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * pw; };
  auto py = [&](double y) { return top + ph - (y - y_lo) / (y_hi - y_lo) * ph; };
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(c.width) + "\" height=\"" + num(c.height) +
       "\" viewBox=\"0 0 " + num(c.width) + " " + num(c.height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o += "<title>" + escape(c.title) + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + num(c.width) + "\" height=\"" + num(c.height) + "\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + escape(c.title) +
       "</text>\n";
  // Grid and ticks.
  o += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double v : xt)
    o += "<line x1=\"" + num(px(v)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(v)) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  for (double v : yt)
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(v)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(py(v)) + "\"/>\n";
  o += "</g>\n";
  o += "<g fill=\"black\">\n";
  for (double v : xt)
    o += "<text x=\"" + num(px(v)) + "\" y=\"" + num(top + ph + 16) + "\" text-anchor=\"middle\">" + escape(tick_text(v)) +
         "</text>\n";
  for (double v : yt)
    o += "<text x=\"" + num(left - 6) + "\" y=\"" + num(py(v) + 4) + "\" text-anchor=\"end\">" + escape(tick_text(v)) +
         "</text>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(top + ph + 40) + "\" text-anchor=\"middle\">" +
       escape(c.x_label) + "</text>\n";
  o += "<text x=\"16\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
       num(top + ph / 2) + ")\">" + escape(c.y_label) + "</text>\n";
  o += "</g>\n";
  // Axes.
  o += "<g stroke=\"black\" stroke-width=\"1.2\">\n";
  o += "<line x1=\"" + num(left) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  o += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  o += "</g>\n";
  // Lines, markers and legend.
  std::size_t next = 0;
  double ly = top + 8;
  for (const auto& s : c.lines) {
    std::string color = s.color.empty() ? palette[next++ % (sizeof palette / sizeof *palette)] : s.color;
    std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::string pts;
    for (auto [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y))
        pts += (pts.empty() ? "" : " ") + num(px(x)) + "," + num(py(y));
    o += "<g class=\"series\">\n<title>" + escape(s.name) + "</title>\n";
    if (!pts.empty())
      o += "<polyline fill=\"none\" stroke=\"" + escape(color) + "\" stroke-width=\"2\"" + dash + " points=\"" + pts + "\"/>\n";
    for (auto [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y))
        o += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3\" fill=\"" + escape(color) + "\"/>\n";
    o += "</g>\n";
    double lx = left + pw + 14;
    o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 24) + "\" y2=\"" + num(ly) + "\" stroke=\"" +
         escape(color) + "\" stroke-width=\"2\"" + dash + "/>\n";
    o += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(ly + 4) + "\">" + escape(s.name) + "</text>\n";
    ly += 18;
  }
  o += "</svg>\n";
  return o;
}

}  // namespace e3::bench::svg
