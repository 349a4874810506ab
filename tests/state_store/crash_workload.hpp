// The deterministic write stream of the crash tests: what commit i writes, and what the
// collections hold after commits 1..n.
#pragma once

#include <cstdint>
#include <string>

#include "state_store/snapshot.hpp"
#include "state_store/state_store.hpp"

namespace e3::state::test {

/// splitmix64: a seeded hash of the commit and write numbers.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// The writes of commit `i` (from 1) of the stream `seed`: puts of values up to ~2 KB that name
/// their commit, an erase every third commit, an array slot, and a "last" key, so a lost or
/// partly applied commit changes the contents.
inline void apply_commit(collections& c, std::uint64_t seed, std::uint64_t i) {
  auto& t = c.get_table("kv");
  auto& a = c.get_array("slots");
  if (a.size() < 64)
    a.resize(64);
  for (std::uint64_t j = 0; j < 4; ++j) {
    auto h = mix(seed * 1000003 + i * 8 + j);
    t.put("k" + std::to_string(h % 300),
          "c" + std::to_string(i) + "." + std::to_string(j) + std::string(h % 2000, char('a' + j)));
  }
  if (i % 3 == 0)
    t.erase("k" + std::to_string(mix(seed + i) % 300));
  a.set(i % 64, "c" + std::to_string(i));
  t.put("last", std::to_string(i));
}

/// The contents after commits 1..n of stream `seed`.
inline snapshot_contents reference_contents(std::uint64_t seed, std::uint64_t n) {
  auto c = make_memory_collections();
  for (std::uint64_t i = 1; i <= n; ++i)
    apply_commit(*c, seed, i);
  return decode_snapshot(c->export_snapshot());
}

}  // namespace e3::state::test
