// NIDS tests: the reference hit counts on real captures, the automaton against a brute-force
// matcher, pattern-file errors, the `e3 svc nids` harness and the runtime binding.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/common/packet.hpp"
#include "services/nids/nids.hpp"
#include "services/nids/service.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3::services;
using namespace e3::services::nids;

namespace {

const std::string data_dir = E3_TEST_DATA_DIR;
const std::string patterns_file = data_dir + "/nids/snort_community_content_patterns.tsv";

/// The reference line for (min_len, pcap name) from ac_reference_results.tsv, as the svc prints it.
std::string reference(int min_len, const std::string& pcap) {
  std::ifstream in(data_dir + "/nids/ac_reference_results.tsv");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string ml, name, rest, cell;
    std::getline(f, ml, '\t');
    std::getline(f, name, '\t');
    while (std::getline(f, cell, '\t'))
      rest += (rest.empty() ? "" : " ") + cell;
    if (ml == "MINLEN=" + std::to_string(min_len) && name == "pcap/" + pcap)
      return rest;
  }
  return "no reference for " + pcap;
}

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_nids>("nids"), std::move(args));
}

/// Every (pattern, end) occurrence by brute force.
std::uint64_t brute_force(const std::vector<pattern>& pats, const std::string& data) {
  std::string low = data;
  for (auto& c : low)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  std::uint64_t n = 0;
  for (const auto& p : pats) {
    const std::string& hay = p.nocase ? low : data;
    for (std::size_t at = hay.find(p.bytes); at != std::string::npos; at = hay.find(p.bytes, at + 1))
      ++n;
  }
  return n;
}

}  // namespace

class NidsReference : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

TEST_P(NidsReference, ReproducesPyahocorasickCountsExactly) {
  auto [min_len, pcap] = GetParam();
  automaton ac(load_patterns(patterns_file, std::size_t(min_len)));
  auto stats = scan_capture(ac, read_pcap(data_dir + "/pcap/" + pcap));
  EXPECT_EQ(to_string(stats), reference(min_len, pcap));
}

INSTANTIATE_TEST_SUITE_P(HttpAnd1kxun, NidsReference,
                         ::testing::Combine(::testing::Values(1, 4), ::testing::Values("http.pcap", "1kxun.pcap")));

TEST(Nids, PatternFileNormalisesNocaseAndMergesDuplicates) {
  auto pats = parse_patterns("#sid\tnocase\thex_pattern\n1\t1\t414243\n2\t1\t616263\n3\t0\t414243\n4\t0\t41\n", "t.tsv");
  ASSERT_EQ(pats.size(), 3u);
  EXPECT_EQ(pats[0].bytes, "abc");
  EXPECT_TRUE(pats[0].nocase);
  EXPECT_EQ(pats[0].sids, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(pats[1].bytes, "ABC");
  EXPECT_FALSE(pats[1].nocase);
  EXPECT_EQ(parse_patterns("4\t0\t41\n5\t0\t41424344\n", "t.tsv", 4).size(), 1u);
  EXPECT_EQ(load_patterns(patterns_file).size(), 4673u);  // 4,680 rows; 7 nocase rows coincide once lower-cased
}

TEST(Nids, AutomatonAgreesWithBruteForceOnRandomPatternsAndPayloads) {
  std::mt19937_64 rng(42);
  // A small alphabet makes overlaps, shared prefixes and case variants frequent.
  const std::string alphabet("aAbBcC\0\xff-", 9);
  auto random_string = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
      s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int round = 0; round < 20; ++round) {
    std::string tsv;
    for (int i = 0; i < 60; ++i) {
      std::string p = random_string(1 + rng() % 6);
      std::string hex;
      for (unsigned char c : p) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", c);
        hex += b;
      }
      tsv += std::to_string(i) + "\t" + std::to_string(rng() % 2) + "\t" + hex + "\n";
    }
    auto pats = parse_patterns(tsv, "random");
    automaton ac(pats);
    automaton all_sparse(pats, {0, 1000}), all_dense(pats, {1000, 0});
    for (int k = 0; k < 20; ++k) {
      std::string data = random_string(rng() % 300);
      auto view = e3::as_bytes_view(data);
      ASSERT_EQ(ac.count(view), brute_force(pats, data)) << "round " << round;
      ASSERT_EQ(all_sparse.count(view), ac.count(view));
      ASSERT_EQ(all_dense.count(view), ac.count(view));
      std::uint64_t listed = 0;
      ac.scan(view, [&](std::uint32_t id, std::size_t end) {
        const auto& p = pats[id];
        std::string got = data.substr(end - p.bytes.size(), p.bytes.size());
        if (p.nocase)
          for (auto& c : got)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(got, p.bytes);
        ++listed;
      });
      EXPECT_EQ(listed, ac.count(view));
    }
  }
}

TEST(Nids, CompactTablesOnTheSnortSet) {
  automaton ac(load_patterns(patterns_file));
  EXPECT_GT(ac.state_count(), 48000u);
  EXPECT_LT(ac.dense_state_count() * 10, ac.state_count());
  EXPECT_LT(ac.memory_bytes(), 64u << 20);
}

TEST(Nids, MalformedPatternLinesNameFileAndLine) {
  auto err = [](const std::string& text) {
    try {
      parse_patterns(text, "p.tsv");
    } catch (const nids_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(err("#h\n1\t0\t41\n2\t0\n"), "p.tsv:3: expected 3 tab-separated fields (sid, nocase, hex_pattern), got 2");
  EXPECT_EQ(err("1\t2\t41\n"), "p.tsv:1: nocase must be 0 or 1, got '2'");
  EXPECT_EQ(err("x\t0\t41\n"), "p.tsv:1: bad sid 'x'");
  EXPECT_EQ(err("1\t0\t4\n"), "p.tsv:1: hex_pattern has an odd number of digits (1)");
  EXPECT_EQ(err("1\t0\t4g\n"), "p.tsv:1: bad hex digit 'g' in hex_pattern");
  EXPECT_EQ(err("1\t0\t\n"), "p.tsv:1: empty hex_pattern");
}

TEST(NidsSvc, PrintsTheReferenceLine) {
  auto r = run_svc({"--patterns", patterns_file, "--pcap", data_dir + "/pcap/http.pcap", "--min-len", "4"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, reference(4, "http.pcap") + "\n");
}

TEST(NidsSvc, BadPatternLineGivesFileLineAndExitCode2) {
  auto bad = svc_test::write_temp("bad_patterns.tsv", "#sid\tnocase\thex_pattern\n1\t0\t4142\n2\t0\tzz\n");
  auto r = run_svc({"--patterns", bad, "--pcap", data_dir + "/pcap/http.pcap"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, bad + ":3: bad hex digit 'z' in hex_pattern\n");
  EXPECT_EQ(r.out, "");
}

TEST(NidsSvc, BadArgumentsExitWith2) {
  EXPECT_EQ(run_svc({"--patterns", patterns_file}).code, 2);
  EXPECT_EQ(run_svc({"--bogus", "1"}).code, 2);
  auto r = run_svc({"--patterns", patterns_file, "--pcap", data_dir + "/pcap/http.pcap", "--min-len", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--min-len"), std::string::npos) << r.err;
  r = run_svc({"--patterns", patterns_file, "--pcap", patterns_file});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(patterns_file), std::string::npos) << r.err;
}

TEST(NidsService, EmitsEveryFrameUnchangedAndCountsHitsOnRealTraffic) {
  e3::service_config cfg;
  cfg.params["patterns"] = patterns_file;
  cfg.params["min_len"] = "4";
  nids_service svc(cfg);
  e3::local_context ctx;
  auto packets = read_pcap(data_dir + "/pcap/http.pcap");
  for (const auto& p : packets)
    svc.handle({0, 0, p.data}, ctx);
  ASSERT_EQ(ctx.emits.size(), packets.size());
  for (std::size_t i = 0; i < packets.size(); ++i)
    EXPECT_EQ(ctx.emits[i].payload, packets[i].data);
  // Reference for http.pcap with MINLEN=4: 21 payload packets, 839 hits, 20 with a hit.
  EXPECT_EQ(svc.stats().scanned, 21u);
  EXPECT_EQ(svc.stats().payload_bytes, 22777u);
  EXPECT_EQ(svc.stats().hits, 839u);
  EXPECT_EQ(svc.stats().alerted, 20u);
  EXPECT_EQ(svc.stats().not_inspected, packets.size() - 21);
  EXPECT_TRUE(ctx.rejections.empty());
}

TEST(NidsService, RejectsRuntFramesAndSurvivesGarbage) {
  nids_service svc({});
  e3::local_context ctx;
  std::vector<std::uint8_t> runt(10, 0xff);
  svc.handle({0, 0, runt}, ctx);
  EXPECT_EQ(ctx.rejections.size(), 1u);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> junk(15 + rng() % 200);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    if (i % 2) {  // make half of them look like IPv4 so the parser goes deeper
      junk[12] = 0x08;
      junk[13] = 0x00;
      junk[14] = 0x45;
    }
    svc.handle({0, 0, junk}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 2000u);
}

TEST(NidsService, SyntheticRequestsAreTcpFramesOfTheAskedSize) {
  e3::service_registry reg;
  register_nids(reg);
  const auto& kind = reg.at("nids");
  EXPECT_EQ(kind.table1_name, "NIDS");
  EXPECT_FALSE(kind.stateful);
  std::mt19937_64 rng(1);
  auto svc = kind.make({});
  e3::local_context ctx;
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto f = kind.synthetic_request(size, rng);
    EXPECT_EQ(f.size(), size);
    auto p = parse_frame(f);
    ASSERT_TRUE(p && p->tcp);
    EXPECT_EQ(p->payload_size, size - 54);
    svc->handle({0, 0, f}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 5u);
  EXPECT_GT(static_cast<nids_service&>(*svc).stats().hits, 0u);
}
