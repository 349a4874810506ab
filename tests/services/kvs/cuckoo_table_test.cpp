// Tests of the MemC3 cuckoo table: map semantics, cuckoo paths, load factor, change tracking,
// and the optimistic read protocol under a concurrent writer.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "services/kvs/cuckoo_table.hpp"

using namespace e3::services::kvs;

namespace {

using string_map = std::map<std::string, std::string>;

std::string key_of(std::uint64_t i) { return "user" + std::to_string(i * 2654435761u % 1000003u) + ":" + std::to_string(i); }

std::map<std::string, std::string> contents(const cuckoo_table& t) {
  std::map<std::string, std::string> m;
  t.for_each([&](std::string_view k, std::string_view v) { m.emplace(k, v); });
  return m;
}

}  // namespace

TEST(CuckooTable, SetGetEraseLikeAMap) {
  cuckoo_table t;
  std::string v;
  EXPECT_FALSE(t.get("a", v));
  EXPECT_EQ(t.set("a", "1"), set_result::inserted);
  EXPECT_EQ(t.set("b", ""), set_result::inserted);
  EXPECT_EQ(t.set("a", "22"), set_result::updated);
  ASSERT_TRUE(t.get("a", v));
  EXPECT_EQ(v, "22");
  ASSERT_TRUE(t.get("b", v));
  EXPECT_EQ(v, "");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.erase("a"));
  EXPECT_FALSE(t.erase("a"));
  EXPECT_FALSE(t.contains("a"));
  EXPECT_EQ(t.size(), 1u);
  // Binary keys and values, embedded zeros, the largest key.
  std::string bk("\0k\xff", 3), bv("\0\0v", 3);
  EXPECT_EQ(t.set(bk, bv), set_result::inserted);
  ASSERT_TRUE(t.get(bk, v));
  EXPECT_EQ(v, bv);
  EXPECT_EQ(t.set(std::string(max_key_size, 'k'), "x"), set_result::inserted);
  EXPECT_EQ(t.set(std::string(max_key_size + 1, 'k'), "x"), set_result::too_large);
  EXPECT_EQ(t.set("big", std::string(max_value_size + 1, 'v')), set_result::too_large);
}

TEST(CuckooTable, ValuesGrowAndShrinkAcrossSizeClasses) {
  cuckoo_table t;
  std::string v;
  for (std::size_t n : {0u, 10u, 100u, 1000u, 70000u, 1u << 20, 5u, 300u}) {
    std::string val(n, char('a' + n % 26));
    t.set("k", val);
    ASSERT_TRUE(t.get("k", v));
    EXPECT_EQ(v, val) << n;
  }
  EXPECT_EQ(t.size(), 1u);
}

// 150 K random operations against std::unordered_map, through several grows.
TEST(CuckooTable, MatchesUnorderedMapOnRandomOperations) {
  for (auto mode : {search_mode::bfs, search_mode::dfs}) {
    table_options o;
    o.initial_buckets = 16;
    o.mode = mode;
    cuckoo_table t(o);
    std::unordered_map<std::string, std::string> ref;
    std::mt19937_64 rng(7);
    std::string v;
    for (int i = 0; i < 150000; ++i) {
      auto k = key_of(rng() % 40000);
      switch (rng() % 4) {
        case 0:
        case 1: {
          std::string val(rng() % 120, char('a' + i % 26));
          auto r = t.set(k, val);
          EXPECT_EQ(r, ref.count(k) ? set_result::updated : set_result::inserted);
          ref[k] = val;
          break;
        }
        case 2:
          EXPECT_EQ(t.erase(k), ref.erase(k) == 1);
          break;
        default: {
          bool hit = t.get(k, v);
          auto it = ref.find(k);
          ASSERT_EQ(hit, it != ref.end()) << k;
          if (hit) {
            ASSERT_EQ(v, it->second);
          }
        }
      }
    }
    EXPECT_EQ(t.size(), ref.size());
    EXPECT_GT(t.stats().grows, 0u);
    EXPECT_GT(t.stats().displacements, 0u);
    auto m = contents(t);
    EXPECT_EQ(m, string_map(ref.begin(), ref.end()));
  }
}

// MemC3 reports ~95 % occupancy with 4-way buckets before the first failed insertion.
TEST(CuckooTable, FillsBeyondNinetyPercentBeforeTheFirstFailure) {
  for (auto mode : {search_mode::bfs, search_mode::dfs}) {
    table_options o;
    o.initial_buckets = 1 << 14;
    o.grow = false;
    o.mode = mode;
    cuckoo_table t(o);
    std::uint64_t i = 0;
    while (t.set(key_of(i), "v") == set_result::inserted)
      ++i;
    double lf = t.load_factor();
    EXPECT_GT(lf, 0.90) << (mode == search_mode::bfs ? "bfs" : "dfs");
    // A failed insertion changes nothing: every key inserted so far is still there.
    EXPECT_EQ(t.size(), i);
    for (std::uint64_t j = 0; j < i; ++j)
      ASSERT_TRUE(t.contains(key_of(j))) << j;
    EXPECT_FALSE(t.contains(key_of(i)));
  }
}

TEST(CuckooTable, DrainedChangesReproduceTheTable) {
  table_options o;
  o.initial_buckets = 8;
  o.track_changes = true;
  cuckoo_table t(o);
  std::map<std::string, std::string, std::less<>> stored;  // what a reliable table would hold
  std::mt19937_64 rng(11);
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 500; ++i) {
      auto k = key_of(rng() % 3000);
      if (rng() % 3 == 0)
        t.erase(k);
      else
        t.set(k, std::string(rng() % 90 + 1, char('A' + round % 26)));
    }
    t.drain_changes([&](std::string_view k) { stored.erase(std::string(k)); },
                    [&](std::string_view k, std::string_view v) { stored[std::string(k)] = std::string(v); });
    auto m = contents(t);
    ASSERT_EQ(string_map(stored.begin(), stored.end()), m) << "round " << round;
  }
  // Nothing changed since the last drain: nothing reported.
  int reported = 0;
  t.drain_changes([&](std::string_view) { ++reported; }, [&](std::string_view, std::string_view) { ++reported; });
  EXPECT_EQ(reported, 0);
}

TEST(CuckooTable, ClearForgetsEverything) {
  cuckoo_table t;
  for (int i = 0; i < 5000; ++i)
    t.set(key_of(i), "x");
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.contains(key_of(1)));
  t.set("again", "y");
  EXPECT_TRUE(t.contains("again"));
}

// One writer displaces, overwrites, erases and grows while readers look up keys that are always
// present. A reader must never miss such a key and must only ever see a value that was written
// for it whole (each value embeds its key and a checksum), which is what the version counters
// guarantee.
TEST(CuckooTable, OptimisticReadersNeverSeeTornOrMissingValues) {
  table_options o;
  o.initial_buckets = 64;  // small, so the writer grows and displaces constantly
  cuckoo_table t(o);
  constexpr int stable = 2000;
  auto value_for = [](const std::string& k, std::uint64_t gen) {
    std::string v = k + "#" + std::to_string(gen) + "#";
    v.append(gen % 200, char('a' + gen % 26));
    std::uint32_t sum = 0;
    for (unsigned char c : v)
      sum = sum * 31 + c;
    return v + "|" + std::to_string(sum);
  };
  auto valid_for = [](const std::string& k, const std::string& v) {
    auto bar = v.rfind('|');
    if (bar == std::string::npos || v.compare(0, k.size() + 1, k + "#") != 0)
      return false;
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < bar; ++i)
      sum = sum * 31 + static_cast<unsigned char>(v[i]);
    return v.substr(bar + 1) == std::to_string(sum);
  };
  for (int i = 0; i < stable; ++i)
    t.set("s" + std::to_string(i), value_for("s" + std::to_string(i), 0));

  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(100 + r);
      std::string v;
      while (!stop.load(std::memory_order_relaxed)) {
        auto k = "s" + std::to_string(rng() % stable);
        if (!t.get(k, v) || !valid_for(k, v))
          bad.fetch_add(1);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  std::mt19937_64 rng(5);
  for (std::uint64_t gen = 1; gen <= 200000; ++gen) {
    auto i = rng() % stable;
    t.set("s" + std::to_string(i), value_for("s" + std::to_string(i), gen));  // overwrite, new size class
    auto filler = "f" + std::to_string(gen);
    t.set(filler, "x");  // displacements and grows
    if (gen % 3 == 0)
      t.erase("f" + std::to_string(gen - 2));
  }
  // Keep the writer alive until the readers have done real work alongside it.
  while (reads.load() < 100000)
    t.set("s0", value_for("s0", reads.load()));
  stop = true;
  for (auto& th : readers)
    th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(t.stats().displacements, 0u);
  EXPECT_GT(t.stats().grows, 0u);
}
