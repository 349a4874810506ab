// Deterministic keys and values for the state benchmarks (e3 bench state, e3 bench migration):
// the same key count gives the same bytes in every run and every benchmark.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace e3::bench {

/// Key number `i`: "key" and 12 digits, so keys sort in number order.
inline std::string key_of(std::uint64_t i) {
  char b[24];
  std::snprintf(b, sizeof b, "key%012llu", static_cast<unsigned long long>(i));
  return b;
}

/// A value of `n` lowercase letters from an xorshift stream seeded by `i`.
inline std::string value_of(std::uint64_t i, std::size_t n) {
  std::string v(n, '\0');
  std::uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
  for (auto& c : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>('a' + x % 26);
  }
  return v;
}

}  // namespace e3::bench
