// Tests of the DIR-24-8-BASIC table: the 10 K reference lookups on the 2010 RIB, an independent
// per-length hash-set LPM on random tables, and the routes/address file readers.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unordered_set>

#include "services/common/packet.hpp"
#include "services/nat/lpm.hpp"

using namespace e3::services;
using namespace e3::services::nat;

namespace {

const std::string rib = E3_TEST_DATA_DIR "/routes/rib2010_v4_prefixes.txt.gz";
const std::string ref = E3_TEST_DATA_DIR "/routes/lpm_reference_rib2010_10k.tsv";

/// The RIB table, built once for the whole suite.
const lpm_table& rib_table() {
  static lpm_table t(read_routes(rib));
  return t;
}

/// Longest match by trying every length from 32 down, each in a hash set: independent of DIR-24-8.
struct slow_lpm {
  std::unordered_set<std::uint64_t> sets;
  explicit slow_lpm(const std::vector<prefix>& ps) {
    for (const auto& p : ps)
      sets.insert(std::uint64_t(p.addr) << 8 | p.len);
  }
  std::optional<prefix> lookup(std::uint32_t a) const {
    for (int len = 32; len >= 0; --len) {
      std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t(0) << (32 - len);
      if (sets.count(std::uint64_t(a & mask) << 8 | std::uint64_t(len)))
        return prefix{a & mask, std::uint8_t(len)};
    }
    return std::nullopt;
  }
};

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Lpm, RibLoadsEveryPrefixAndBuildsLongBlocks) {
  const auto& t = rib_table();
  EXPECT_EQ(t.routes().size(), 323487u);  // the data README's count of unique prefixes
  EXPECT_GT(t.long_blocks(), 0u);         // prefixes longer than /24 exercise TBLlong
}

TEST(Lpm, AllTenThousandReferenceLookupsOnTheRib2010TableAreRight) {
  const auto& t = rib_table();
  std::ifstream in(ref);
  ASSERT_TRUE(in) << ref;
  std::string line;
  std::size_t checked = 0, matched = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    auto addr = parse_ipv4(line.substr(0, tab));
    ASSERT_TRUE(addr) << line;
    std::string want = line.substr(tab + 1);
    std::uint32_t r = t.lookup(*addr);
    std::string got = r == lpm_table::no_route ? "-" : to_string(t.routes()[r]);
    EXPECT_EQ(got, want) << "address " << line.substr(0, tab);
    ++checked;
    matched += want != "-";
  }
  EXPECT_EQ(checked, 10000u);
  EXPECT_EQ(matched, 5265u);  // the data README: 5,265 of the 10,000 match
}

TEST(Lpm, BulkLookupEqualsSingleLookups) {
  const auto& t = rib_table();
  std::mt19937_64 rng(7);
  std::vector<std::uint32_t> addrs(100000), bulk(addrs.size());
  for (auto& a : addrs)
    a = std::uint32_t(rng());
  t.lookup_bulk(addrs.data(), bulk.data(), addrs.size());
  for (std::size_t i = 0; i < addrs.size(); ++i)
    ASSERT_EQ(bulk[i], t.lookup(addrs[i])) << i;
}

TEST(Lpm, RibAgreesWithAnIndependentHashSetLpmOnRandomAndNearBoundaryAddresses) {
  const auto& t = rib_table();
  slow_lpm slow(t.routes());
  std::mt19937_64 rng(11);
  std::vector<std::uint32_t> addrs;
  for (int i = 0; i < 20000; ++i)
    addrs.push_back(std::uint32_t(rng()));
  // Addresses at and next to the edges of long prefixes, where TBLlong blocks inherit routes.
  for (const auto& p : t.routes())
    if (p.len > 24 && addrs.size() < 40000) {
      std::uint32_t size = std::uint32_t(1) << (32 - p.len);
      for (std::uint32_t a : {p.addr, p.addr - 1, p.addr + size - 1, p.addr + size})
        addrs.push_back(a);
    }
  for (std::uint32_t a : addrs) {
    auto want = slow.lookup(a);
    std::uint32_t r = t.lookup(a);
    if (!want) {
      EXPECT_EQ(r, lpm_table::no_route) << ipv4_to_string(a);
    } else {
      ASSERT_NE(r, lpm_table::no_route) << ipv4_to_string(a);
      EXPECT_EQ(t.routes()[r], *want) << ipv4_to_string(a);
    }
  }
}

TEST(Lpm, RandomTablesWithNestedLongPrefixesAgreeWithTheHashSetLpm) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 2; ++round) {
    std::vector<prefix> ps;
    // Cluster prefixes under a few /16s so they nest and share /24 blocks.
    for (int i = 0; i < 3000; ++i) {
      std::uint32_t base = 0x0a000000u | std::uint32_t(rng() % 4) << 16;
      auto len = std::uint8_t(rng() % 2 ? 16 + rng() % 17 : rng() % 33);
      std::uint32_t a = base | std::uint32_t(rng() & 0xffff);
      std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t(0) << (32 - len);
      ps.push_back(prefix{a & mask, len});
    }
    lpm_table t(ps, /*huge_pages=*/false);
    slow_lpm slow(ps);
    for (int i = 0; i < 30000; ++i) {
      std::uint32_t a = 0x0a000000u | std::uint32_t(rng() % 4) << 16 | std::uint32_t(rng() & 0xffff);
      if (i % 3 == 0)
        a = std::uint32_t(rng());
      auto want = slow.lookup(a);
      std::uint32_t r = t.lookup(a);
      ASSERT_EQ(r == lpm_table::no_route, !want) << ipv4_to_string(a);
      if (want) {
        ASSERT_EQ(t.routes()[r], *want) << ipv4_to_string(a);
      }
    }
  }
}

TEST(Lpm, DefaultRouteHostRoutesAndDuplicates) {
  lpm_table t({{0, 0}, {0x0a000000u, 8}, {0x0a010200u, 24}, {0x0a010280u, 25}, {0x0a010281u, 32}, {0x0a000000u, 8}});
  EXPECT_EQ(t.routes().size(), 5u);  // the duplicate /8 is dropped, keeping its first index
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x08080808u)]), "0.0.0.0/0");
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x0a7f0000u)]), "10.0.0.0/8");
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x0a01027fu)]), "10.1.2.0/24");
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x0a010280u)]), "10.1.2.128/25");
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x0a010281u)]), "10.1.2.129/32");
  EXPECT_EQ(to_string(t.routes()[t.lookup(0x0a0102ffu)]), "10.1.2.128/25");
  lpm_table empty({});
  EXPECT_EQ(empty.lookup(0x01020304u), lpm_table::no_route);
}

TEST(Lpm, PrefixParserNamesWhatIsWrong) {
  prefix p;
  EXPECT_EQ(parse_prefix("10.0.0.0/8", p), "");
  EXPECT_EQ(p, (prefix{0x0a000000u, 8}));
  EXPECT_NE(parse_prefix("10.0.0.1/8", p).find("host bits set"), std::string::npos);
  EXPECT_NE(parse_prefix("10.0.0.0/33", p).find("bad prefix length"), std::string::npos);
  EXPECT_NE(parse_prefix("10.0.0/8", p).find("bad IPv4 address"), std::string::npos);
  EXPECT_NE(parse_prefix("10.0.0.0", p).find("expected a.b.c.d/len"), std::string::npos);
  EXPECT_THROW(lpm_table({{0x0a000001u, 8}}), std::invalid_argument);
}

TEST(Lpm, RoutesReaderReportsFileAndLineOfABadLine) {
  auto path = write_temp("bad_routes.txt", "# comment\n10.0.0.0/8\n\n10.1.0.0/16x\n");
  try {
    read_routes(path);
    FAIL() << "no error";
  } catch (const file_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":4: bad prefix length", 0), 0u) << e.what();
  }
  EXPECT_THROW(read_routes(testing::TempDir() + "does_not_exist.txt"), file_error);
}

TEST(Lpm, AddressReaderTakesPlainListsAndTheReferenceTsvLayout) {
  auto plain = write_temp("addrs.txt", "1.2.3.4\n  5.6.7.8\r\n\n# x\n");
  EXPECT_EQ(read_addresses(plain), (std::vector<std::uint32_t>{0x01020304u, 0x05060708u}));
  auto tsv = read_addresses(ref);
  EXPECT_EQ(tsv.size(), 10000u);
  auto bad = write_temp("bad_addrs.txt", "1.2.3.4\n1.2.3\n");
  try {
    read_addresses(bad);
    FAIL() << "no error";
  } catch (const file_error& e) {
    EXPECT_EQ(std::string(e.what()), bad + ":2: bad IPv4 address '1.2.3'");
  }
}
