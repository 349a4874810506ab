// Flow monitor: flow keys, count-min sizing and hash functions, and point queries.
#include "services/flowmon/flowmon.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace e3::services::flowmon {
namespace {

std::uint64_t fold_mul(std::uint64_t h, std::uint64_t w) {
  unsigned __int128 m = static_cast<unsigned __int128>(h ^ w) * 0x9e3779b97f4a7c15ull;
  return std::uint64_t(m) ^ std::uint64_t(m >> 64);
}

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t flow_key(const five_tuple& t) {
  // Canonical order: the smaller (address, port) endpoint first.
  int c = std::memcmp(t.src, t.dst, 16);
  bool keep = c < 0 || (c == 0 && t.sport <= t.dport);
  const std::uint8_t* a = keep ? t.src : t.dst;
  const std::uint8_t* b = keep ? t.dst : t.src;
  std::uint16_t pa = keep ? t.sport : t.dport, pb = keep ? t.dport : t.sport;
  std::uint64_t w[5];
  std::memcpy(&w[0], a, 8);
  std::memcpy(&w[1], a + 8, 8);
  std::memcpy(&w[2], b, 8);
  std::memcpy(&w[3], b + 8, 8);
  w[4] = std::uint64_t(pa) | std::uint64_t(pb) << 16 | std::uint64_t(t.proto) << 32;
  std::uint64_t h = 0x243f6a8885a308d3ull;
  for (std::uint64_t x : w)
    h = fold_mul(h, x);
  return fold_mul(h, 0x13198a2e03707344ull);
}

std::size_t count_min::width_for(double eps) { return std::size_t(std::ceil(std::exp(1.0) / eps)); }
std::size_t count_min::depth_for(double delta) { return std::size_t(std::ceil(std::log(1.0 / delta))); }

count_min::count_min(double eps, double delta, std::uint64_t seed) : eps_(eps), delta_(delta) {
  if (!(eps > 0 && eps < 1))
    throw std::invalid_argument("count-min: eps " + std::to_string(eps) + " is not in (0, 1)");
  if (!(delta > 0 && delta < 1))
    throw std::invalid_argument("count-min: delta " + std::to_string(delta) + " is not in (0, 1)");
  width_ = width_for(eps);
  depth_ = std::max<std::size_t>(1, depth_for(delta));
  if (double(width_) * double(depth_) > double(std::size_t(1) << 28))
    throw std::invalid_argument("count-min: eps " + std::to_string(eps) + " and delta " + std::to_string(delta) +
                                " need more than 2^28 cells");
  constexpr std::uint64_t p = (std::uint64_t(1) << 61) - 1;
  std::uint64_t s = seed;
  for (std::size_t r = 0; r < depth_; ++r) {
    a_.push_back(1 + splitmix(s) % (p - 1));
    b_.push_back(splitmix(s) % p);
  }
  cells_.resize(width_ * depth_);
  dirty_.resize((cells_.size() + 63) / 64);
}

std::uint64_t count_min::packets(std::uint64_t key) const {
  std::uint64_t m = ~std::uint64_t(0);
  for (std::size_t r = 0; r < depth_; ++r)
    m = std::min(m, cells_[r * width_ + column(r, key)].packets);
  return m;
}

std::uint64_t count_min::bytes(std::uint64_t key) const {
  std::uint64_t m = ~std::uint64_t(0);
  for (std::size_t r = 0; r < depth_; ++r)
    m = std::min(m, cells_[r * width_ + column(r, key)].bytes);
  return m;
}

}  // namespace e3::services::flowmon
