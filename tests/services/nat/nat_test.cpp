// Tests of the NAT engine on real captures (translation, reversal, checksums, refusals), of the
// service binding, and of the `e3 svc nat` harness.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "services/nat/nat.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_nat(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::nat;

namespace {

const std::string rib = E3_TEST_DATA_DIR "/routes/rib2010_v4_prefixes.txt.gz";
const std::string ref = E3_TEST_DATA_DIR "/routes/lpm_reference_rib2010_10k.tsv";

std::uint16_t be16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    s += be16(p + i);
  if (n & 1)
    s += std::uint32_t(p[n - 1]) << 8;
  return s;
}
std::uint16_t fold(std::uint32_t s) {
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return std::uint16_t(s);
}

/// The IPv4 header checksum verifies.
bool ip_checksum_ok(const bytes& f, const parsed_packet& p) {
  const std::uint8_t* ip = f.data() + p.l3_offset;
  return fold(sum16(ip, std::size_t(ip[0] & 15) * 4)) == 0xffff;
}

/// The TCP/UDP checksum verifies (nullopt: the frame does not hold the whole segment, or a UDP
/// datagram without checksum).
std::optional<bool> l4_checksum_ok(const bytes& f, const parsed_packet& p) {
  const std::uint8_t* ip = f.data() + p.l3_offset;
  std::size_t ihl = std::size_t(ip[0] & 15) * 4, seg = p.ip_size - ihl;
  if (p.l4_offset + seg > f.size() || (ip[6] & 0x3f) || (ip[7]))
    return std::nullopt;
  if (p.udp && be16(f.data() + p.l4_offset + 6) == 0)
    return std::nullopt;
  std::uint32_t s = sum16(ip + 12, 8) + p.tuple.proto + std::uint32_t(seg);
  return fold(sum16(f.data() + p.l4_offset, seg, s)) == 0xffff;
}

/// Rewrites the destination address/port and recomputes both checksums from scratch (an
/// implementation independent of the engine's incremental update).
void set_destination(bytes& f, std::uint32_t addr, std::uint16_t port) {
  auto p = parse_frame(f).value();
  std::uint8_t* ip = f.data() + p.l3_offset;
  std::uint8_t* l4 = f.data() + p.l4_offset;
  for (int i = 0; i < 4; ++i)
    ip[16 + i] = std::uint8_t(addr >> (24 - 8 * i));
  l4[2] = std::uint8_t(port >> 8);
  l4[3] = std::uint8_t(port);
  std::size_t ihl = std::size_t(ip[0] & 15) * 4;
  ip[10] = ip[11] = 0;
  std::uint16_t c = std::uint16_t(~fold(sum16(ip, ihl)));
  ip[10] = std::uint8_t(c >> 8);
  ip[11] = std::uint8_t(c);
  std::size_t off = p.tcp ? 16 : 6, seg = p.ip_size - ihl;
  l4[off] = l4[off + 1] = 0;
  c = std::uint16_t(~fold(sum16(l4, seg, sum16(ip + 12, 8) + p.tuple.proto + std::uint32_t(seg))));
  if (p.udp && c == 0)
    c = 0xffff;
  l4[off] = std::uint8_t(c >> 8);
  l4[off + 1] = std::uint8_t(c);
}

/// The 2010 RIB plus a default route, as a NAT gateway has (the 2016 capture's peers are not
/// all in the 2010 table).
std::shared_ptr<const lpm_table> rib_table() {
  static auto t = [] {
    auto routes = read_routes(rib);
    routes.push_back(prefix{0, 0});
    return std::make_shared<const lpm_table>(std::move(routes));
  }();
  return t;
}

/// A table holding only the default route, shared by the tests that need any route.
std::shared_ptr<const lpm_table> default_table() {
  static auto t = std::make_shared<const lpm_table>(std::vector<prefix>{{0, 0}});
  return t;
}

bool in_rfc1918(std::uint32_t a) {
  return (a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8;
}

}  // namespace

TEST(Nat, OutboundFramesOf1kxunGetPoolSourcesAndValidChecksumsAndOneMappingPerEndpoint) {
  nat_config cfg;
  cfg.pool = prefix{0xcb007100u, 30};  // 203.0.113.0/30
  nat_engine e(rib_table(), cfg);
  auto packets = read_pcap(E3_TEST_DATA_DIR "/pcap/1kxun.pcap");
  std::map<std::tuple<int, std::uint32_t, std::uint16_t>, std::pair<std::uint32_t, std::uint16_t>> seen;
  std::size_t out = 0, valid_in = 0, valid_out = 0;
  for (auto& pk : packets) {
    auto before = parse_frame(pk.data);
    bytes original = pk.data;
    result r = e.process(pk.data, pk.ts_ns);
    if (r.what != verdict::translated_out)
      continue;
    ++out;
    auto after = parse_frame(pk.data).value();
    ASSERT_TRUE(before && in_rfc1918(before->src4));
    EXPECT_EQ(after.src4 & ~3u, 0xcb007100u);  // a pool address
    EXPECT_EQ(after.dst4, before->dst4);
    EXPECT_EQ(after.tuple.dport, before->tuple.dport);
    EXPECT_EQ(r.tuple, after.tuple);
    EXPECT_TRUE(ip_checksum_ok(pk.data, after));
    // Endpoint-independent: one public endpoint per inside endpoint, whatever the destination.
    auto key = std::tuple(int(before->tuple.proto), before->src4, before->tuple.sport);
    auto [it, fresh] = seen.emplace(key, std::pair(after.src4, after.tuple.sport));
    EXPECT_EQ(it->second, std::pair(after.src4, after.tuple.sport));
    // Incremental update: a segment that arrived valid leaves valid; every byte outside the
    // rewritten fields is unchanged.
    auto ok_before = l4_checksum_ok(original, *before);
    if (ok_before && *ok_before) {
      ++valid_in;
      valid_out += l4_checksum_ok(pk.data, after).value_or(false);
    }
    for (std::size_t i = after.payload_offset; i < pk.data.size(); ++i)
      ASSERT_EQ(pk.data[i], original[i]);
  }
  EXPECT_GT(out, 300u);
  EXPECT_GT(valid_in, 100u);
  EXPECT_EQ(valid_out, valid_in);
  EXPECT_EQ(e.mappings(), seen.size());
  EXPECT_EQ(e.stats().translated_out, out);
}

TEST(Nat, RepliesToThePublicEndpointAreRestoredToTheInsideHost) {
  nat_engine e(rib_table(), nat_config{});
  auto packets = read_pcap(E3_TEST_DATA_DIR "/pcap/1kxun.pcap");
  std::size_t restored = 0;
  for (auto& pk : packets) {
    auto p = parse_frame(pk.data);
    if (!p || !p->ipv4 || !(p->tcp || p->udp))
      continue;
    if (in_rfc1918(p->src4) && !in_rfc1918(p->dst4)) {
      e.process(pk.data, pk.ts_ns);  // outbound: creates the mapping
      continue;
    }
    if (in_rfc1918(p->src4) || !in_rfc1918(p->dst4))
      continue;
    // A reply from outside: as it would arrive at the NAT, addressed to the public endpoint.
    std::uint32_t pub = 0;
    std::uint16_t port = 0;
    if (!e.lookup_mapping(p->tuple.proto, p->dst4, p->tuple.dport, pub, port))
      continue;
    bytes original = pk.data;
    bytes arriving = pk.data;
    set_destination(arriving, pub, port);
    result r = e.process(arriving, pk.ts_ns);
    ASSERT_EQ(r.what, verdict::translated_in);
    auto back = parse_frame(arriving).value();
    EXPECT_EQ(back.dst4, p->dst4);
    EXPECT_EQ(back.tuple.dport, p->tuple.dport);
    EXPECT_TRUE(ip_checksum_ok(arriving, back));
    EXPECT_EQ(l4_checksum_ok(arriving, back).value_or(true), true);
    if (ip_checksum_ok(original, *p) && l4_checksum_ok(original, *p).value_or(false)) {
      EXPECT_EQ(arriving, original);  // byte for byte the frame the inside host would get
    }
    ++restored;
  }
  EXPECT_GT(restored, 300u);
  EXPECT_EQ(e.stats().translated_in, restored);
}

TEST(Nat, FullChecksumModeRepairsSegmentsWhoseChecksumWasOffloaded) {
  nat_config cfg;
  cfg.full_checksum = true;
  nat_engine e(rib_table(), cfg);
  auto packets = read_pcap(E3_TEST_DATA_DIR "/pcap/1kxun.pcap");
  std::size_t checked = 0;
  for (auto& pk : packets) {
    if (e.process(pk.data, pk.ts_ns).what != verdict::translated_out)
      continue;
    auto p = parse_frame(pk.data).value();
    if (auto ok = l4_checksum_ok(pk.data, p)) {
      EXPECT_TRUE(*ok);
      ++checked;
    }
  }
  EXPECT_GT(checked, 300u);
}

TEST(Nat, UnroutedNonIpFragmentsAndOtherProtocolsAreRefusedAndCounted) {
  nat_engine e(std::make_shared<const lpm_table>(std::vector<prefix>{{0x08000000u, 8}}), nat_config{});
  auto f = build_udp_frame(0x0a000001u, 0x09000001u, 1000, 53, 64);  // 9.0.0.1: no route
  EXPECT_EQ(e.process(f, 0).why, reject_reason::no_route);
  f = build_udp_frame(0x0a000001u, 0x08080808u, 1000, 53, 64);
  f[14 + 7] = 8;  // fragment offset 64: a later fragment
  EXPECT_EQ(e.process(f, 0).why, reject_reason::fragment);
  f = build_udp_frame(0x0a000001u, 0x08080808u, 1000, 53, 64);
  f[14 + 9] = 1;  // ICMP
  EXPECT_EQ(e.process(f, 0).why, reject_reason::protocol);
  f = build_udp_frame(0x0a000001u, 0x08080808u, 1000, 53, 64);
  f[12] = 0x86;  // EtherType 0x86dd without an IPv6 header
  f[13] = 0xdd;
  EXPECT_EQ(e.process(f, 0).why, reject_reason::not_ipv4);
  f = build_udp_frame(0x08080808u, 0xcb007101u, 53, 5555, 64);  // to the pool, no mapping
  EXPECT_EQ(e.process(f, 0).why, reject_reason::no_mapping);
  bytes tiny(10, 0);
  EXPECT_EQ(e.process(tiny, 0).why, reject_reason::not_ipv4);
  const auto& s = e.stats();
  EXPECT_EQ(s.rejected[std::size_t(reject_reason::no_route)], 1u);
  EXPECT_EQ(s.rejected[std::size_t(reject_reason::fragment)], 1u);
  EXPECT_EQ(s.rejected[std::size_t(reject_reason::protocol)], 1u);
  EXPECT_EQ(s.rejected[std::size_t(reject_reason::not_ipv4)], 2u);
  EXPECT_EQ(s.rejected[std::size_t(reject_reason::no_mapping)], 1u);
  // Forwarded unchanged: outside to outside, routed.
  f = build_udp_frame(0x09000001u, 0x08080808u, 1, 2, 64);
  bytes copy = f;
  EXPECT_EQ(e.process(f, 0).what, verdict::forwarded);
  EXPECT_EQ(f, copy);
}

TEST(Nat, PoolExhaustionIsRefusedUntilAnIdleMappingIsReclaimed) {
  nat_config cfg;
  cfg.port_lo = 2000;
  cfg.port_hi = 2003;  // four public ports
  cfg.idle_timeout_ns = 1000;
  nat_engine e(default_table(), cfg);
  for (std::uint16_t i = 0; i < 4; ++i) {
    auto f = build_udp_frame(0x0a000001u, 0x08080808u, std::uint16_t(5000 + i), 53, 64);
    EXPECT_EQ(e.process(f, 0).what, verdict::translated_out);
  }
  auto f = build_udp_frame(0x0a000001u, 0x08080808u, 6000, 53, 64);
  EXPECT_EQ(e.process(f, 500).why, reject_reason::pool_exhausted);
  // Flow 5000 stays active; the others go idle.
  f = build_udp_frame(0x0a000001u, 0x08080808u, 5000, 53, 64);
  EXPECT_EQ(e.process(f, 900).what, verdict::translated_out);
  f = build_udp_frame(0x0a000001u, 0x08080808u, 6000, 53, 64);
  EXPECT_EQ(e.process(f, 1800).what, verdict::translated_out);
  EXPECT_EQ(e.stats().mappings_reclaimed, 1u);
  std::uint32_t a;
  std::uint16_t p;
  EXPECT_TRUE(e.lookup_mapping(17, 0x0a000001u, 5000, a, p));  // the active one survived
  EXPECT_TRUE(e.lookup_mapping(17, 0x0a000001u, 6000, a, p));
  EXPECT_EQ(e.mappings(), 4u);
}

TEST(NatService, EmitsTranslatedFramesRejectsBadOnesAndSyntheticRequestsTranslate) {
  service_registry reg;
  register_nat(reg);
  const service_kind& k = reg.at("nat");
  EXPECT_EQ(k.table1_name, "NATv4");
  EXPECT_FALSE(k.stateful);
  EXPECT_EQ(k.input, input_format::packet);
  service_config c;
  c.params["routes"] = rib;
  c.params["pool"] = "198.51.100.0/31";
  auto svc = k.make(c);
  local_context ctx;
  auto f = build_udp_frame(0x0a000001u, 0x08080808u, 4000, 53, 128);  // 8.8.8.8 is routed in 2010
  svc->handle(request{1, 0, f}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  auto p = parse_frame(ctx.emits[0].payload).value();
  EXPECT_EQ(p.src4 & ~1u, 0xc6336400u);
  EXPECT_EQ(ctx.emits[0].key, p.tuple.hash());
  bytes garbage(7, 0xff);
  svc->handle(request{2, 0, garbage}, ctx);
  ASSERT_EQ(ctx.rejections.size(), 1u);
  EXPECT_EQ(ctx.rejections[0], "not an IPv4 frame");

  auto plain = k.make(service_config{});  // default table: 0.0.0.0/0
  std::mt19937_64 rng(1);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    local_context c2;
    auto req = k.synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    plain->handle(request{3, 0, req}, c2);
    EXPECT_EQ(c2.emits.size(), 1u) << size;
  }
  service_config bad;
  bad.params["pool"] = "1.2.3.4/40";
  EXPECT_THROW(k.make(bad), std::invalid_argument);
}

namespace {

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_nat>("nat"), std::move(args));
}

}  // namespace

TEST(NatHarness, LookupPrintsTheReferenceAnswerForEveryAddress) {
  auto r = run_svc({"--routes", rib, "--lookup", ref});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(ref);
  std::stringstream want;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#')
      want << line << "\n";
  EXPECT_EQ(r.out, want.str());
}

TEST(NatHarness, ABadLineNamesFileAndLineAndExitsWith2) {
  std::string routes = testing::TempDir() + "nat_routes.txt";
  std::ofstream(routes) << "10.0.0.0/8\n192.168.0.0/16\n300.1.0.0/16\n";
  auto r = run_svc({"--routes", routes, "--lookup", ref});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, routes + ":3: bad IPv4 address '300.1.0.0'\n");
  EXPECT_TRUE(r.out.empty());

  std::string small = testing::TempDir() + "nat_small_routes.txt";
  std::ofstream(small) << "10.0.0.0/8\n";
  std::string addrs = testing::TempDir() + "nat_addrs.txt";
  std::ofstream(addrs) << "10.1.1.1\nbanana\n";
  r = run_svc({"--routes", small, "--lookup", addrs});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, addrs + ":2: bad IPv4 address 'banana'\n");

  r = run_svc({"--routes", small});
  EXPECT_EQ(r.code, 2);
  r = run_svc({"--routes", small, "--lookup", ref, "--bogus", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown argument '--bogus'"), std::string::npos);
}

TEST(NatHarness, PcapModeCountsWhatHappenedToEachFrame) {
  std::string routes = testing::TempDir() + "nat_default_route.txt";
  std::ofstream(routes) << "0.0.0.0/0\n";
  auto r = run_svc({"--routes", routes, "--pcap", E3_TEST_DATA_DIR "/pcap/http.pcap"});
  ASSERT_EQ(r.code, 0) << r.err;
  // http.pcap: 145.254.160.237 is not inside (RFC 1918), so every frame is forwarded unchanged.
  EXPECT_EQ(r.out.rfind("frames=43 translated_out=0 translated_in=0 forwarded=43 mappings=0\n", 0), 0u) << r.out;
}

TEST(Nat, MappingsStayConsistentThroughThousandsOfReclaims) {
  // A 16-port pool, 200 inside endpoints, a short idle timeout: mappings are created and
  // reclaimed all the time, exercising the table's deletion. Every translation must agree with
  // lookup_mapping, and a reply to the public endpoint must come back to the same inside endpoint.
  nat_config cfg;
  cfg.port_lo = 3000;
  cfg.port_hi = 3015;
  cfg.idle_timeout_ns = 40;
  nat_engine e(default_table(), cfg);
  std::mt19937_64 rng(5);
  std::size_t translated = 0, refused = 0;
  for (std::int64_t now = 0; now < 20000; ++now) {
    std::uint32_t host = 0x0a000000u + std::uint32_t(rng() % 20);
    auto port = std::uint16_t(1000 + rng() % 10);
    auto f = build_udp_frame(host, 0x08080808u, port, 53, 64);
    result r = e.process(f, now);
    if (r.what == verdict::rejected) {
      ASSERT_EQ(r.why, reject_reason::pool_exhausted);
      ++refused;
      continue;
    }
    ++translated;
    auto out = parse_frame(f).value();
    std::uint32_t pub = 0;
    std::uint16_t pub_port = 0;
    ASSERT_TRUE(e.lookup_mapping(17, host, port, pub, pub_port));
    ASSERT_EQ(pub, out.src4);
    ASSERT_EQ(pub_port, out.tuple.sport);
    auto reply = build_udp_frame(0x08080808u, pub, 53, pub_port, 64);
    ASSERT_EQ(e.process(reply, now).what, verdict::translated_in);
    auto back = parse_frame(reply).value();
    ASSERT_EQ(back.dst4, host);
    ASSERT_EQ(back.tuple.dport, port);
    ASSERT_LE(e.mappings(), 16u);
  }
  EXPECT_GT(e.stats().mappings_reclaimed, 1000u);
  EXPECT_GT(translated, 5000u);
  EXPECT_GT(refused, 0u);
}
