// Tests of Count: the bitmap-indexed table, per-conversation counts exact against tshark on real
// captures (totals and both directions), record counting, state migration, and the harness.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <unordered_map>

#include "actors/local_context.hpp"
#include "services/common/pcap.hpp"
#include "services/common/record.hpp"
#include "services/count/count.hpp"
#include "tests/services/count/tshark_reference.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_count(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::count;

namespace {

const std::string pcap_dir = E3_TEST_DATA_DIR "/pcap/";

/// Our conversations as text lines keyed by "A B" in the printed (A = first source) order.
std::map<std::pair<std::string, std::string>, std::array<std::uint64_t, 3>> ours(const std::string& capture,
                                                                               conv_kind kind, bool ipv4_only) {
  conversation_counter c(kind);
  for (const auto& p : read_pcap(pcap_dir + capture))
    c.add(p.data);
  std::map<std::pair<std::string, std::string>, std::array<std::uint64_t, 3>> out;
  const auto& t = c.table();
  t.for_each([&](std::size_t i) {
    const conv_key& k = t.key(i);
    if (ipv4_only && !k.ipv4)
      return;
    std::string line = conversation_line(k, t.value(i));
    std::istringstream s(line);
    std::string a, b;
    std::uint64_t f, r, tot;
    s >> a >> b >> f >> r >> tot;
    out[{a, b}] = {f, r, tot};
  });
  return out;
}

void expect_exact_against_tshark(const std::string& name, conv_kind kind) {
  SCOPED_TRACE(name + " by " + to_string(kind));
  bool ports = kind != conv_kind::ip;
  auto ref = test::read_tshark_conv(pcap_dir + "tshark_reference/" + name + ".conv_" + to_string(kind) + ".txt", ports);
  // tshark's conv,ip table is IPv4 only; tcp and udp cover IPv4 and IPv6.
  auto got = ours(name + ".pcap", kind, kind == conv_kind::ip);
  EXPECT_EQ(got.size(), ref.size());
  std::size_t directions_match = 0;
  for (const auto& r : ref) {
    auto it = got.find({r.a, r.b});
    auto rev = got.find({r.b, r.a});
    ASSERT_TRUE(it != got.end() || rev != got.end()) << r.a << " <-> " << r.b;
    if (it != got.end()) {
      EXPECT_EQ(it->second[2], r.total) << r.a << " <-> " << r.b;
      EXPECT_EQ(it->second[0], r.a_to_b) << r.a << " -> " << r.b;
      EXPECT_EQ(it->second[1], r.b_to_a) << r.b << " -> " << r.a;
      ++directions_match;
    } else {
      ADD_FAILURE() << "A/B swapped against tshark: " << r.a << " <-> " << r.b;
    }
  }
  EXPECT_EQ(directions_match, ref.size());
}

}  // namespace

TEST(BitmapCounter, AgreesWithAnUnorderedMapThroughGrowthAndDrainsOnlyDirtySlots) {
  bitmap_counter<std::uint64_t, std::uint64_t> t;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  std::mt19937_64 rng(9);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t k = rng() % 50000;
    bool inserted = false;
    std::size_t s = t.slot(k, inserted);
    ASSERT_NE(s, t.npos);
    EXPECT_EQ(inserted, ref.count(k) == 0);
    ++t.value(s);
    ++ref[k];
  }
  EXPECT_EQ(t.size(), ref.size());
  EXPECT_LE(t.size() * 4, t.capacity() * 3);
  std::size_t visited = 0;
  t.for_each([&](std::size_t i) {
    ++visited;
    EXPECT_EQ(t.value(i), ref.at(t.key(i)));
  });
  EXPECT_EQ(visited, ref.size());
  std::size_t dirty = 0;
  t.drain_dirty([&](std::size_t) { ++dirty; });
  EXPECT_EQ(dirty, ref.size());
  bool inserted;
  ++t.value(t.slot(7, inserted));
  ++t.value(t.slot(7, inserted));
  ++t.value(t.slot(123456789, inserted));
  std::vector<std::uint64_t> changed;
  t.drain_dirty([&](std::size_t i) { changed.push_back(t.key(i)); });
  std::sort(changed.begin(), changed.end());
  EXPECT_EQ(changed, (std::vector<std::uint64_t>{7, 123456789}));
  EXPECT_EQ(*t.find(7), ref[7] + 2);
  EXPECT_EQ(t.find(999999999), nullptr);
}

TEST(BitmapCounter, RefusesNewKeysPastItsBoundAndCountsThem) {
  bitmap_counter<std::uint64_t, std::uint64_t> t(3);
  bool inserted;
  for (std::uint64_t k : {1, 2, 3})
    EXPECT_NE(t.slot(k, inserted), t.npos);
  EXPECT_EQ(t.slot(4, inserted), t.npos);
  EXPECT_NE(t.slot(2, inserted), t.npos);  // existing keys still count
  EXPECT_EQ(t.overflow(), 1u);
}

TEST(Count, IpConversationsAreExactAgainstTshark) {
  for (const char* name : {"http", "1kxun", "synscan"})
    expect_exact_against_tshark(name, conv_kind::ip);
}

TEST(Count, TcpConversationsAreExactAgainstTshark) {
  for (const char* name : {"http", "1kxun", "synscan"})
    expect_exact_against_tshark(name, conv_kind::tcp);
}

TEST(Count, UdpConversationsAreExactAgainstTsharkIncludingIpv6) {
  for (const char* name : {"http", "1kxun", "synscan"})
    expect_exact_against_tshark(name, conv_kind::udp);
}

namespace {

service_config config(std::map<std::string, std::string, std::less<>> params) {
  service_config c;
  c.params = std::move(params);
  return c;
}

std::unique_ptr<service> make(const service_config& c) {
  service_registry reg;
  register_count(reg);
  return reg.at("count").make(c);
}

}  // namespace

TEST(CountService, PassesFramesOnUnchangedAndMigratesItsCountsExactly) {
  auto packets = read_pcap(pcap_dir + "1kxun.pcap");
  auto c = config({{"by", "tcp"}});
  auto old_svc = make(c);
  local_context old_ctx;
  old_svc->on_start(old_ctx);
  std::size_t half = packets.size() / 2;
  for (std::size_t i = 0; i < half; ++i) {
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    ASSERT_EQ(old_ctx.emits.back().payload, packets[i].data);
    if (i % 100 == 0)
      old_svc->flush(old_ctx);  // flushes in between: only changed slots are written
  }
  old_svc->flush(old_ctx);
  std::string snapshot = old_ctx.state().export_snapshot();

  local_context new_ctx;
  new_ctx.state().import_snapshot(snapshot);
  auto new_svc = make(c);
  new_svc->on_start(new_ctx);
  for (std::size_t i = half; i < packets.size(); ++i) {
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    new_svc->handle(request{i, 0, packets[i].data}, new_ctx);
  }
  old_svc->flush(old_ctx);
  new_svc->flush(new_ctx);
  EXPECT_EQ(new_ctx.state().export_snapshot(), old_ctx.state().export_snapshot());
  // And the state holds tshark's answer.
  auto ref = test::read_tshark_conv(pcap_dir + "tshark_reference/1kxun.conv_tcp.txt", true);
  EXPECT_EQ(new_ctx.state().get_table("count.conv").size(), ref.size());
}

TEST(CountService, CountsRecordKeysEmitsTheCountAndMigrates) {
  auto c = config({{"input", "record"}});
  auto old_svc = make(c);
  local_context old_ctx;
  std::mt19937_64 rng(4);
  std::vector<bytes> reqs;
  std::unordered_map<std::uint64_t, std::uint64_t> ref;
  for (int i = 0; i < 2000; ++i) {
    record r;
    r.key = rng() % 97;
    r.text = "item";
    reqs.push_back(encode(r));
  }
  for (int i = 0; i < 1000; ++i) {
    old_svc->handle(request{std::uint64_t(i), 0, reqs[i]}, old_ctx);
    auto out = decode_record(old_ctx.emits.back().payload);
    EXPECT_EQ(out.value, double(++ref[out.key]));
    EXPECT_EQ(out.text, "item");
    EXPECT_EQ(old_ctx.emits.back().key, out.key);
  }
  old_svc->flush(old_ctx);
  local_context new_ctx;
  new_ctx.state().import_snapshot(old_ctx.state().export_snapshot());
  auto new_svc = make(c);
  new_svc->on_start(new_ctx);
  for (int i = 1000; i < 2000; ++i) {
    old_svc->handle(request{std::uint64_t(i), 0, reqs[i]}, old_ctx);
    new_svc->handle(request{std::uint64_t(i), 0, reqs[i]}, new_ctx);
    EXPECT_EQ(new_ctx.emits.back().payload, old_ctx.emits.back().payload);
  }
  bytes garbage = {1, 2, 3};
  new_svc->handle(request{9, 0, garbage}, new_ctx);
  ASSERT_EQ(new_ctx.rejections.size(), 1u);
  EXPECT_NE(new_ctx.rejections[0].find("bad record"), std::string::npos);
}

TEST(CountService, KindFieldsAndSyntheticRequestsAreValid) {
  service_registry reg;
  register_count(reg);
  const auto& k = reg.at("count");
  EXPECT_EQ(k.table1_name, "Count");
  EXPECT_TRUE(k.stateful);
  auto svc = k.make(service_config{});
  std::mt19937_64 rng(1);
  local_context ctx;
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = k.synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    EXPECT_TRUE(parse_frame(req).has_value());
    svc->handle(request{1, 0, req}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 5u);
  EXPECT_THROW(k.make(config({{"by", "icmp"}})), std::invalid_argument);
  EXPECT_THROW(k.make(config({{"input", "json"}})), std::invalid_argument);
}

namespace {

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_count>("count"), std::move(args));
}

}  // namespace

TEST(CountHarness, PrintsOneLinePerConversationBusiestFirst) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap", "--by", "tcp"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "145.254.160.237:3372\t65.208.228.223:80\t16\t18\t34\n"
            "145.254.160.237:3371\t216.239.59.99:80\t3\t4\t7\n"
            "# by=tcp frames=43 counted=41 skipped=2 conversations=2\n");
}

TEST(CountHarness, BadArgumentsAndBadCapturesExitWith2NamingTheProblem) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap", "--by", "icmp"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--by 'icmp'"), std::string::npos);
  std::string bad = testing::TempDir() + "truncated.pcap";
  {
    std::ifstream in(pcap_dir + "http.pcap", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(bad, std::ios::binary) << all.substr(0, 100);
  }
  r = run_svc({"--pcap", bad});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind(bad + ": byte ", 0), 0u) << r.err;
  r = run_svc({});
  EXPECT_EQ(r.code, 2);
}
