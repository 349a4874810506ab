// Tests of DDoS detection: streaming entropy against a two-pass computation, Student's t, the
// alarm on synscan and none on http / 1kxun over many window settings, the change rule on a
// spliced capture, state migration mid-window, and the harness.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "actors/local_context.hpp"
#include "services/common/pcap.hpp"
#include "services/ddos/ddos.hpp"
#include "state_store/typed.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_ddos(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::ddos;

namespace {

const std::string pcap_dir = E3_TEST_DATA_DIR "/pcap/";

struct timed {
  packet_features f;
  std::int64_t ts;
};

std::vector<timed> features(const std::string& capture) {
  std::vector<timed> out;
  for (const auto& pk : read_pcap(pcap_dir + capture))
    if (auto p = parse_frame(pk.data); p && p->ip)
      out.push_back({features_of(*p), pk.ts_ns});
  return out;
}

std::vector<window_report> run(const std::vector<timed>& in, ddos_config cfg) {
  detector d(cfg);
  std::vector<window_report> out;
  for (const auto& t : in)
    if (auto r = d.add(t.f, t.ts))
      out.push_back(*r);
  if (auto r = d.close())
    out.push_back(*r);
  return out;
}

std::size_t alarms(const std::vector<window_report>& rs) {
  std::size_t n = 0;
  for (const auto& r : rs)
    n += r.alarm != 0;
  return n;
}

}  // namespace

TEST(Entropy, StreamingEntropyEqualsATwoPassComputation) {
  std::mt19937_64 rng(3);
  entropy_counter h;
  for (int round = 0; round < 3; ++round) {
    std::map<std::uint64_t, std::uint64_t> counts;
    std::size_t n = 100 + 3000 * std::size_t(round);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t v = round == 2 ? rng() : rng() % (10 + 40 * std::size_t(round));  // round 2: growth
      h.add(v);
      ++counts[v];
    }
    double ref = 0;
    for (auto [v, c] : counts)
      ref -= double(c) / double(n) * std::log2(double(c) / double(n));
    EXPECT_NEAR(h.bits(), ref, 1e-9);
    EXPECT_NEAR(h.normalised(), ref / std::log2(double(n)), 1e-9);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
  }
}

TEST(Entropy, StudentTQuantilesMatchTables) {
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.032, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.95, 30), 1.697, 1e-3);
  EXPECT_NEAR(student_t_cdf(0, 7), 0.5, 1e-12);
}

TEST(Ddos, AlarmsOnSynscanAndNotOnHttpOr1kxunWithDefaultSettings) {
  auto syn = run(features("synscan.pcap"), ddos_config{});
  EXPECT_EQ(alarms(syn), syn.size());  // every window of the scan
  for (const auto& r : syn)
    EXPECT_TRUE(r.alarm & alarm_port_scan) << r.index;
  EXPECT_EQ(alarms(run(features("http.pcap"), ddos_config{})), 0u);
  EXPECT_EQ(alarms(run(features("1kxun.pcap"), ddos_config{})), 0u);
}

TEST(Ddos, TheVerdictsHoldForWindowsOf64To1024PacketsAndOf1To10Seconds) {
  auto syn = features("synscan.pcap"), http = features("http.pcap"), kxun = features("1kxun.pcap");
  std::vector<ddos_config> settings;
  for (std::uint32_t w : {64, 128, 256, 512, 1024}) {
    ddos_config c;
    c.window = w;
    settings.push_back(c);
  }
  for (std::int64_t ms : {1000, 2000, 5000, 10000}) {
    ddos_config c;
    c.window_ns = ms * 1'000'000;
    settings.push_back(c);
  }
  for (const auto& c : settings) {
    SCOPED_TRACE("window " + std::to_string(c.window) + " window_ns " + std::to_string(c.window_ns));
    EXPECT_GT(alarms(run(syn, c)), 0u);
    EXPECT_EQ(alarms(run(http, c)), 0u);
    EXPECT_EQ(alarms(run(kxun, c)), 0u);
  }
}

TEST(Ddos, TheChangeRuleFiresWhenAScanFollowsOrdinaryTraffic) {
  // 1kxun's ordinary traffic builds the baseline; synscan's packets follow (timestamps shifted
  // after it). The change rule must flag the scan's windows, not only the signature.
  auto in = features("1kxun.pcap");
  std::int64_t shift = in.back().ts + 1'000'000'000;
  auto syn = features("synscan.pcap");
  std::int64_t t0 = syn.front().ts;
  for (auto t : syn)
    in.push_back({t.f, t.ts - t0 + shift});
  ddos_config c;
  c.window = 64;
  auto rs = run(in, c);
  std::size_t kxun_windows = 1375 / 64;  // about the IP packets of 1kxun
  std::size_t changed = 0;
  for (const auto& r : rs) {
    if (r.index < kxun_windows)
      EXPECT_EQ(r.alarm, 0u) << r.index;
    else if (r.alarm & alarm_change)
      ++changed;
  }
  EXPECT_GT(changed, 20u);
}

TEST(Ddos, TheChangeRuleAloneFlagsAShiftThatIsNoSignature) {
  // Synthetic windows: 64 clients to 8 servers on 4 ports; then destination ports spread to
  // about half the packets (not a signature: the destination addresses stay spread too).
  std::mt19937_64 rng(8);
  ddos_config c;
  c.window = 256;
  detector d(c);
  std::vector<window_report> rs;
  for (int w = 0; w < 20; ++w)
    for (int i = 0; i < 256; ++i) {
      packet_features f;
      f.src = rng() % 64;
      f.dst = 1000 + rng() % 8;
      f.sport = std::uint16_t(30000 + rng() % 512);
      f.dport = std::uint16_t(w < 16 ? 80 + rng() % 4 : 1 + rng() % 256);
      if (auto r = d.add(f, 0))
        rs.push_back(*r);
    }
  ASSERT_EQ(rs.size(), 20u);
  for (int w = 0; w < 16; ++w)
    EXPECT_EQ(rs[w].alarm, 0u) << w;
  for (int w = 16; w < 20; ++w) {
    EXPECT_EQ(rs[w].alarm, std::uint32_t(alarm_change)) << w;
    EXPECT_EQ(rs[w].changed, 1u << dst_port) << w;
  }
}

TEST(Ddos, ConfigurationIsChecked) {
  ddos_config c;
  c.lo = 0.9;
  EXPECT_THROW(detector{c}, std::invalid_argument);
  c = {};
  c.warmup = 1;
  EXPECT_THROW(detector{c}, std::invalid_argument);
  c = {};
  c.window = 0;
  EXPECT_THROW(detector{c}, std::invalid_argument);
}

namespace {

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params = {}) {
  service_registry reg;
  register_ddos(reg);
  service_config c;
  c.params = std::move(params);
  return reg.at("ddos").make(c);
}

}  // namespace

TEST(DdosService, PassesFramesOnAndMigratesMidWindowExactly) {
  std::vector<captured_packet> packets = read_pcap(pcap_dir + "1kxun.pcap");
  for (auto& p : read_pcap(pcap_dir + "synscan.pcap"))
    packets.push_back(std::move(p));
  auto old_svc = make({{"window", "100"}});
  local_context old_ctx;
  old_svc->on_start(old_ctx);
  std::size_t cut = 1850;  // inside a window
  for (std::size_t i = 0; i < cut; ++i) {
    old_ctx.now = packets[i].ts_ns;
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    ASSERT_EQ(old_ctx.emits.back().payload, packets[i].data);
    if (i % 37 == 0)
      old_svc->flush(old_ctx);
  }
  old_svc->flush(old_ctx);
  local_context new_ctx;
  new_ctx.state().import_snapshot(old_ctx.state().export_snapshot());
  auto new_svc = make({{"window", "100"}});
  new_svc->on_start(new_ctx);
  for (std::size_t i = cut; i < packets.size(); ++i) {
    old_ctx.now = new_ctx.now = packets[i].ts_ns;
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    new_svc->handle(request{i, 0, packets[i].data}, new_ctx);
    if (i % 41 == 0) {
      old_svc->flush(old_ctx);
      new_svc->flush(new_ctx);
    }
  }
  old_svc->flush(old_ctx);
  new_svc->flush(new_ctx);
  EXPECT_EQ(new_ctx.state().export_snapshot(), old_ctx.state().export_snapshot());
  auto saved = state::from_bytes<detector::saved>(*new_ctx.state().get_table("ddos.meta").get("saved"));
  EXPECT_GT(saved.alarms, 10u);  // the scan part alarmed
  EXPECT_EQ(saved.windows, (1439 + 2011 - 0) / 100);
}

TEST(DdosService, KindFieldsSyntheticTrafficDoesNotAlarmAndBadParams) {
  service_registry reg;
  register_ddos(reg);
  const auto& k = reg.at("ddos");
  EXPECT_EQ(k.table1_name, "DDoS");
  EXPECT_TRUE(k.stateful);
  auto svc = k.make(service_config{});
  local_context ctx;
  std::mt19937_64 rng(6);
  for (int i = 0; i < 256 * 12; ++i) {
    auto req = k.synthetic_request(std::size_t(64 + (i % 5) * 300), rng);
    svc->handle(request{1, 0, req}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 256u * 12u);
  svc->flush(ctx);
  auto saved = state::from_bytes<detector::saved>(*ctx.state().get_table("ddos.meta").get("saved"));
  EXPECT_EQ(saved.windows, 12u);
  EXPECT_EQ(saved.alarms, 0u);
  EXPECT_THROW(make({{"window", "x"}}), std::invalid_argument);
  EXPECT_THROW(make({{"lo", "0.9"}}), std::invalid_argument);
}

namespace {

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_ddos>("ddos"), std::move(args));
}

}  // namespace

TEST(DdosHarness, PrintsOneLinePerWindowAndTheVerdict) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "# window\tindex\tstart_s\tpackets\tH_src\tH_dst\tH_sport\tH_dport\tmax_z\tt\talarm\n"
            "window\t0\t0.000\t43\t0.274\t0.259\t0.285\t0.298\t-\t-\t-\n"
            "# windows=1 judged=1 alarms=0 first_alarm=- skipped_non_ip=0 verdict=no alarm\n");
  r = run_svc({"--pcap", pcap_dir + "synscan.pcap"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("verdict=ALARM"), std::string::npos);
  EXPECT_NE(r.out.find("first_alarm=0 "), std::string::npos);
}

TEST(DdosHarness, BadArgumentsExitWith2) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap", "--window", "0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("window"), std::string::npos);
  r = run_svc({"--pcap", pcap_dir + "nope.pcap"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope.pcap: cannot open"), std::string::npos);
  r = run_svc({"--window", "10"});
  EXPECT_EQ(r.code, 2);
}
