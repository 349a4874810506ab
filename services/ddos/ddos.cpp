// DDoS detector: streaming window entropies, the signature and change rules.
#include "services/ddos/ddos.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace e3::services::ddos {
namespace {

/// (c+1)·log2(c+1) − c·log2(c): what one more occurrence adds to Σ c·log2 c; tabulated for small c.
const std::vector<double> step_table = [] {
  std::vector<double> t(4096);
  for (std::size_t c = 0; c < t.size(); ++c)
    t[c] = double(c + 1) * std::log2(double(c + 1)) - (c ? double(c) * std::log2(double(c)) : 0.0);
  return t;
}();

double step(std::uint64_t c) {
  if (c < step_table.size())
    return step_table[c];
  return double(c + 1) * std::log2(double(c + 1)) - double(c) * std::log2(double(c));
}

std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
  unsigned __int128 m = static_cast<unsigned __int128>(h ^ w) * 0x9e3779b97f4a7c15ull;
  return std::uint64_t(m) ^ std::uint64_t(m >> 64);
}

std::uint64_t address_hash(const std::uint8_t* a) {
  std::uint64_t w0, w1;
  std::memcpy(&w0, a, 8);
  std::memcpy(&w1, a + 8, 8);
  return mix(mix(0x243f6a8885a308d3ull, w0), w1);
}

/// Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz).
double incomplete_beta(double x, double a, double b) {
  if (x <= 0)
    return 0;
  if (x >= 1)
    return 1;
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x > (a + 1) / (a + b + 2))
    return 1 - incomplete_beta(1 - x, b, a);
  constexpr double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::abs(d) < tiny ? tiny : d);
  double f = d;
  for (int m = 1; m < 500; ++m) {
    for (int step = 0; step < 2; ++step) {
      double num = step == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                             : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      d = 1 / (std::abs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (std::abs(c) < tiny)
        c = tiny;
      f *= c * d;
    }
    if (std::abs(c * d - 1) < 1e-15)
      break;
  }
  return front * f / a;
}

}  // namespace

double student_t_cdf(double t, double df) {
  double tail = 0.5 * incomplete_beta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double q, double df) {
  double lo = -1e6, hi = 1e6;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

const char* const feature_names[4] = {"src", "dst", "sport", "dport"};

std::string alarm_text(std::uint32_t bits, std::uint32_t changed) {
  std::string s;
  auto add = [&](const std::string& t) { s += (s.empty() ? "" : ",") + t; };
  if (bits & alarm_flood)
    add("flood");
  if (bits & alarm_port_scan)
    add("port-scan");
  if (bits & alarm_host_scan)
    add("host-scan");
  if (bits & alarm_change) {
    std::string f;
    for (std::size_t i = 0; i < 4; ++i)
      if (changed & (1u << i))
        f += (f.empty() ? "" : "+") + std::string(feature_names[i]);
    add("change(" + f + ")");
  }
  return s.empty() ? "-" : s;
}

packet_features features_of(const parsed_packet& p) {
  packet_features f;
  f.src = address_hash(p.tuple.src);
  f.dst = address_hash(p.tuple.dst);
  f.sport = p.tuple.sport;
  f.dport = p.tuple.dport;
  return f;
}

std::uint32_t& entropy_counter::slot(std::uint64_t value) {
  if ((used_.size() + 1) * 2 > keys_.size()) {
    // Grow (and rehash) at half load.
    std::size_t cap = keys_.empty() ? 512 : keys_.size() * 2;
    std::vector<std::uint64_t> keys(cap);
    std::vector<std::uint32_t> counts(cap, 0), used;
    used.reserve(cap / 2);
    std::uint64_t mask = cap - 1;
    for (std::uint32_t i : used_) {
      std::uint64_t j = mix(0, keys_[i]) & mask;
      while (counts[j])
        j = (j + 1) & mask;
      keys[j] = keys_[i];
      counts[j] = counts_[i];
      used.push_back(std::uint32_t(j));
    }
    keys_.swap(keys);
    counts_.swap(counts);
    used_.swap(used);
    mask_ = mask;
  }
  for (std::uint64_t i = mix(0, value) & mask_;; i = (i + 1) & mask_) {
    if (counts_[i] == 0) {
      keys_[i] = value;
      used_.push_back(std::uint32_t(i));
      return counts_[i];
    }
    if (keys_[i] == value)
      return counts_[i];
  }
}

void entropy_counter::add(std::uint64_t value) {
  std::uint32_t& c = slot(value);
  s_ += step(c);
  ++c;
  ++n_;
}

double entropy_counter::bits() const {
  if (n_ < 2)
    return 0;
  double h = std::log2(double(n_)) - s_ / double(n_);
  return h < 0 ? 0 : h;
}

double entropy_counter::normalised() const {
  if (n_ < 2)
    return 0;
  double h = bits() / std::log2(double(n_));
  return h > 1 ? 1 : h;
}

void entropy_counter::reset() {
  for (std::uint32_t i : used_)
    counts_[i] = 0;
  used_.clear();
  n_ = 0;
  s_ = 0;
}

detector::detector(ddos_config cfg) : cfg_(cfg) {
  if (cfg_.window == 0 && cfg_.window_ns <= 0)
    throw std::invalid_argument("ddos: window must be at least one packet (or window_ns > 0)");
  if (!(cfg_.lo >= 0 && cfg_.lo < cfg_.hi && cfg_.hi <= 1))
    throw std::invalid_argument("ddos: need 0 <= lo < hi <= 1");
  if (cfg_.warmup < 2 || cfg_.warmup > cfg_.history)
    throw std::invalid_argument("ddos: need 2 <= warmup <= history");
  if (!(cfg_.k > 0) || !(cfg_.sigma_min > 0))
    throw std::invalid_argument("ddos: k and sigma_min must be positive");
  history_.resize(cfg_.history);
  // Two-sided level of k standard deviations of a normal law: q = Φ(k).
  double q = 0.5 * std::erfc(-cfg_.k / std::sqrt(2.0));
  t_quantile_.assign(cfg_.history + 1, 0);
  for (std::uint32_t n = 2; n <= cfg_.history; ++n)
    t_quantile_[n] = student_t_quantile(q, n - 1);
}

void detector::count(const packet_features& f) {
  h_[src_addr].add(f.src);
  h_[dst_addr].add(f.dst);
  h_[src_port].add(f.sport);
  h_[dst_port].add(f.dport);
}

std::optional<window_report> detector::add(const packet_features& f, std::int64_t now_ns) {
  std::optional<window_report> r;
  if (cfg_.window_ns > 0 && !open_.empty() && now_ns - window_start_ >= cfg_.window_ns)
    r = finish();
  if (open_.empty())
    window_start_ = now_ns;
  count(f);
  open_.push_back(f);
  if (cfg_.window_ns <= 0 && open_.size() >= cfg_.window)
    r = finish();
  return r;
}

std::optional<window_report> detector::close() {
  if (open_.empty())
    return std::nullopt;
  return finish();
}

window_report detector::finish() {
  window_report r;
  r.index = windows_++;
  r.packets = open_.size();
  r.start_ns = window_start_;
  for (std::size_t i = 0; i < 4; ++i)
    r.entropy[i] = h_[i].normalised();
  r.judged = r.packets >= cfg_.min_packets;
  if (r.judged) {
    ++judged_;
    const auto& e = r.entropy;
    if (e[dst_addr] <= cfg_.lo && e[src_addr] >= cfg_.hi)
      r.alarm |= alarm_flood;
    if (e[dst_addr] <= cfg_.lo && e[dst_port] >= cfg_.hi)
      r.alarm |= alarm_port_scan;
    if (e[src_addr] <= cfg_.lo && e[dst_addr] >= cfg_.hi)
      r.alarm |= alarm_host_scan;
    if (history_size_ >= cfg_.warmup) {
      double n = history_size_;
      r.threshold = t_quantile_[history_size_];
      for (std::size_t f = 0; f < 4; ++f) {
        double mean = 0, var = 0;
        for (std::uint32_t i = 0; i < history_size_; ++i)
          mean += history_[i][f];
        mean /= n;
        for (std::uint32_t i = 0; i < history_size_; ++i)
          var += (history_[i][f] - mean) * (history_[i][f] - mean);
        double s = std::max(std::sqrt(var / (n - 1)), cfg_.sigma_min);
        double z = std::abs(e[f] - mean) / (s * std::sqrt(1 + 1 / n));
        r.max_z = std::max(r.max_z, z);
        if (z > r.threshold)
          r.changed |= 1u << f;
      }
      if (r.changed)
        r.alarm |= alarm_change;
    }
    if (r.alarm) {
      ++alarms_;
    } else {
      history_[history_next_] = e;
      history_next_ = (history_next_ + 1) % cfg_.history;
      history_size_ = std::min(history_size_ + 1, cfg_.history);
    }
  }
  for (auto& h : h_)
    h.reset();
  open_.clear();
  return r;
}

detector::saved detector::save() const {
  return saved{windows_, judged_, alarms_, window_start_, history_size_, history_next_};
}

void detector::restore(const saved& s, const std::vector<std::array<double, 4>>& history,
                       const std::vector<packet_features>& open) {
  if (history.size() != history_.size() || s.history_size > history_.size() || s.history_next >= history_.size())
    throw std::invalid_argument("ddos: saved baseline does not fit this configuration's history of " +
                                std::to_string(history_.size()));
  windows_ = s.windows;
  judged_ = s.judged;
  alarms_ = s.alarms;
  window_start_ = s.window_start;
  history_size_ = s.history_size;
  history_next_ = s.history_next;
  history_ = history;
  for (auto& h : h_)
    h.reset();
  open_.clear();
  for (const auto& f : open) {
    count(f);
    open_.push_back(f);
  }
}

}  // namespace e3::services::ddos
