// Spike detectors: NAB's windowed Gaussian (fast form and literal reference) and streaming z-score.
#include "services/spike/spike.hpp"

#include <cmath>
#include <stdexcept>

namespace e3::services::spike {
namespace {

constexpr double min_std = 1e-6;  // NAB: a deviation of 0 becomes 0.000001

double floor_std(double s) { return s == 0.0 ? min_std : s; }

}  // namespace

double numpy_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = -0.0;  // numpy starts from -0.0 so that a sum of -0.0 stays -0.0
    for (std::size_t i = 0; i < n; ++i)
      res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j)
      r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j)
        r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i)
      res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_sum(a, n2) + numpy_sum(a + n2, n - n2);
}

void numpy_mean_std(const double* x, std::size_t n, double& mean, double& std) {
  // numpy.add.reduce starts from the identity 0.0 and adds the pairwise sum of all values.
  mean = (0.0 + numpy_sum(x, n)) / double(n);
  // numpy._var: (x - mean)**2 as a temporary array, summed the same way, divided by n.
  constexpr std::size_t block = 512;
  double sq[block];
  if (n <= block) {
    for (std::size_t i = 0; i < n; ++i) {
      double d = x[i] - mean;
      sq[i] = d * d;
    }
    std = std::sqrt((0.0 + numpy_sum(sq, n)) / double(n));
    return;
  }
  std::vector<double> tmp(n);
  for (std::size_t i = 0; i < n; ++i) {
    double d = x[i] - mean;
    tmp[i] = d * d;
  }
  std = std::sqrt((0.0 + numpy_sum(tmp.data(), n)) / double(n));
}

double normal_tail(double x, double mean, double std) {
  if (x < mean)
    x = 2 * mean - x;  // the Gaussian is symmetric: mirror to the upper tail, as NAB does
  double z = (x - mean) / std;
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

windowed_gaussian::windowed_gaussian(windowed_params p) : p_(p) {
  if (p_.window == 0 || p_.step == 0 || p_.step > p_.window)
    throw std::invalid_argument("spike: window and step must be positive with step <= window (window " +
                                std::to_string(p_.window) + ", step " + std::to_string(p_.step) + ")");
  buffer_.reserve(p_.step);
}

result windowed_gaussian::add(double x) {
  result r;
  if (!window_.empty()) {
    r.score = 1.0 - normal_tail(x, mean_, std_);
    r.z = (x - mean_) / std_;
    r.alarm = std::abs(r.z) > p_.threshold;
  }
  ++count_;
  if (window_.size() < p_.window) {
    window_.push_back(x);
    double d = x - mean_;
    if (window_.size() == 1)
      mean_ = x;
    else
      mean_ += d / double(window_.size());
    m2_ += d * (x - mean_);
    std_ = floor_std(std::sqrt(m2_ / double(window_.size())));
    return r;
  }
  buffer_.push_back(x);
  if (buffer_.size() == p_.step) {
    window_.erase(window_.begin(), window_.begin() + std::ptrdiff_t(p_.step));
    window_.insert(window_.end(), buffer_.begin(), buffer_.end());
    buffer_.clear();
    lo_ += p_.step;
    double s;
    numpy_mean_std(window_.data(), window_.size(), mean_, s);
    std_ = floor_std(s);
  }
  return r;
}

window_meta windowed_gaussian::meta() const { return {count_, lo_, mean_, std_, m2_}; }

void windowed_gaussian::values(std::vector<double>& out) const {
  out.assign(window_.begin(), window_.end());
  out.insert(out.end(), buffer_.begin(), buffer_.end());
}

void windowed_gaussian::restore(const window_meta& m, const std::vector<double>& v) {
  bool ok = m.lo <= m.count && v.size() == m.count - m.lo && m.lo % p_.step == 0 &&
            (m.lo == 0 ? true : v.size() >= p_.window) &&
            (v.size() <= p_.window || v.size() - p_.window < p_.step);
  if (!ok)
    throw std::invalid_argument("spike: stored window state does not fit (count " + std::to_string(m.count) +
                                ", lo " + std::to_string(m.lo) + ", " + std::to_string(v.size()) + " values)");
  std::size_t w = std::min(v.size(), p_.window);
  window_.assign(v.begin(), v.begin() + std::ptrdiff_t(w));
  buffer_.assign(v.begin() + std::ptrdiff_t(w), v.end());
  count_ = m.count;
  lo_ = m.lo;
  mean_ = m.mean;
  std_ = m.std;
  m2_ = m.m2;
}

double nab_reference::add(double x) {
  double score = 0.0;
  if (!window_.empty())
    score = 1.0 - normal_tail(x, mean_, std_);
  bool update = false;
  if (window_.size() < p_.window) {
    window_.push_back(x);
    update = true;
  } else {
    buffer_.push_back(x);
    if (buffer_.size() == p_.step) {
      window_.erase(window_.begin(), window_.begin() + std::ptrdiff_t(p_.step));
      window_.insert(window_.end(), buffer_.begin(), buffer_.end());
      buffer_.clear();
      update = true;
    }
  }
  if (update) {
    double s;
    numpy_mean_std(window_.data(), window_.size(), mean_, s);
    std_ = floor_std(s);
  }
  return score;
}

result streaming_add(streaming_state& s, double x, const streaming_params& p) {
  result r;
  if (s.n >= std::max<std::uint64_t>(p.warmup, 2)) {
    double sd = floor_std(std::sqrt(s.m2 / double(s.n)));
    r.z = (x - s.mean) / sd;
    r.score = std::abs(r.z);
    r.alarm = r.score > p.threshold;
  }
  ++s.n;
  double d = x - s.mean;
  s.mean += d / double(s.n);
  s.m2 += d * (x - s.mean);
  return r;
}

bool parse_windowed_mode(std::string_view mode) {
  if (mode == "windowed")
    return true;
  if (mode == "streaming")
    return false;
  throw std::invalid_argument("mode '" + std::string(mode) + "' is neither 'windowed' nor 'streaming'");
}

}  // namespace e3::services::spike
