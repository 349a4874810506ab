// The simulator's random numbers: a seeded splitmix64 stream and the draws it needs, the same
// on every machine (no std:: distributions, whose algorithms differ between libraries).
#pragma once

#include <cmath>
#include <cstdint>

namespace e3::sim {

/// The splitmix64 finaliser: a fixed 64-bit mix (the same one the runtime's router uses).
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/// A seeded stream of 64-bit numbers (splitmix64). Two streams with the same seed give the same
/// numbers on any machine.
class rng {
 public:
  /// A stream starting from `seed`.
  explicit rng(std::uint64_t seed = 1) : s_(seed) {}
  /// The next 64 random bits.
  std::uint64_t next() { return mix64(s_ += 0x9e3779b97f4a7c15ull); }
  /// Uniform in [0, 1), 53 bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// Exponentially distributed with the given mean (inversion of a uniform in (0, 1]).
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }

 private:
  std::uint64_t s_;
};

}  // namespace e3::sim
