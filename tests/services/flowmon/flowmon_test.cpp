// Tests of the flow monitor: flow identity exact against nDPI and tshark, the count-min (ε, δ)
// bound measured on real captures over many hash seeds, state migration, and the harness.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <map>
#include <random>

#include "actors/local_context.hpp"
#include "services/common/pcap.hpp"
#include "services/flowmon/flowmon.hpp"
#include "tests/services/count/tshark_reference.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_flowmon(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::flowmon;

namespace {

const std::string pcap_dir = E3_TEST_DATA_DIR "/pcap/";

std::string text(const std::uint8_t* a, std::uint16_t port) {
  bool v4 = std::all_of(a, a + 10, [](auto b) { return b == 0; }) && a[10] == 0xff && a[11] == 0xff;
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, buf, sizeof buf);
  return v4 ? std::string(buf) + ":" + std::to_string(port) : "[" + std::string(buf) + "]:" + std::to_string(port);
}

/// Exact per-flow packet counts of a capture, by flow_key, with the flow's text identity
/// ("TCP a <-> b", endpoints sorted as text so direction does not matter).
struct exact_counts {
  std::map<std::uint64_t, std::uint64_t> packets, bytes;
  std::map<std::string, std::uint64_t> key_of;  // text identity -> flow_key
  std::uint64_t n = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> stream;  // (key, bytes) per IP packet
};

std::string identity(const std::string& proto, std::string a, std::string b) {
  if (b < a)
    std::swap(a, b);
  return proto + " " + a + " <-> " + b;
}

exact_counts exact(const std::string& capture) {
  exact_counts e;
  for (const auto& pk : read_pcap(pcap_dir + capture)) {
    auto p = parse_frame(pk.data);
    if (!p || !p->ip)
      continue;
    std::uint64_t k = flow_key(p->tuple);
    ++e.packets[k];
    e.bytes[k] += p->ip_size;
    ++e.n;
    e.stream.emplace_back(k, p->ip_size);
    if (p->tcp || p->udp)
      e.key_of[identity(p->tcp ? "TCP" : "UDP", text(p->tuple.src, p->tuple.sport), text(p->tuple.dst, p->tuple.dport))] = k;
  }
  return e;
}

}  // namespace

TEST(FlowKey, IsTheSameForBothDirectionsAndDiffersAcrossFlows) {
  auto a = parse_frame(build_udp_frame(1, 2, 10, 20, 64))->tuple;
  auto b = parse_frame(build_udp_frame(2, 1, 20, 10, 64))->tuple;
  auto c = parse_frame(build_udp_frame(1, 2, 10, 21, 64))->tuple;
  EXPECT_EQ(flow_key(a), flow_key(b));
  EXPECT_NE(flow_key(a), flow_key(c));
}

TEST(FlowKey, ExactCountsPerFlowEqualNdpiAndTshark) {
  for (const char* name : {"1kxun", "synscan"}) {
    SCOPED_TRACE(name);
    auto e = exact(std::string(name) + ".pcap");
    auto flows = test::read_ndpi_flows(pcap_dir + name + ".pcap.out");
    ASSERT_GT(flows.size(), 100u);
    for (const auto& f : flows) {
      auto it = e.key_of.find(identity(f.proto, f.a, f.b));
      ASSERT_NE(it, e.key_of.end()) << f.proto << " " << f.a << " <-> " << f.b;
      EXPECT_EQ(e.packets[it->second], f.packets) << f.a << " <-> " << f.b;
    }
    for (const char* kind : {"tcp", "udp"}) {
      auto convs = test::read_tshark_conv(pcap_dir + "tshark_reference/" + name + ".conv_" + kind + ".txt", true);
      for (const auto& c : convs) {
        auto it = e.key_of.find(identity(kind == std::string("tcp") ? "TCP" : "UDP", c.a, c.b));
        ASSERT_NE(it, e.key_of.end()) << c.a << " <-> " << c.b;
        EXPECT_EQ(e.packets[it->second], c.total) << c.a << " <-> " << c.b;
      }
    }
  }
}

TEST(CountMin, SizesFollowEpsilonAndDelta) {
  count_min s(0.01, 0.01);
  EXPECT_EQ(s.width(), 272u);  // ceil(e / 0.01)
  EXPECT_EQ(s.depth(), 5u);    // ceil(ln 100)
  EXPECT_EQ(count_min(0.001, 0.05).width(), 2719u);
  EXPECT_EQ(count_min(0.001, 0.05).depth(), 3u);
  EXPECT_THROW(count_min(0, 0.1), std::invalid_argument);
  EXPECT_THROW(count_min(0.1, 1), std::invalid_argument);
}

TEST(CountMin, ErrorStaysWithinTheEpsilonDeltaBoundOnRealCapturesOverManySeeds) {
  struct setting {
    const char* capture;
    double eps, delta;
  };
  for (const setting& s : {setting{"1kxun.pcap", 0.01, 0.05}, setting{"1kxun.pcap", 0.05, 0.1},
                           setting{"synscan.pcap", 0.001, 0.01}, setting{"synscan.pcap", 0.002, 0.1}}) {
    SCOPED_TRACE(std::string(s.capture) + " eps=" + std::to_string(s.eps) + " delta=" + std::to_string(s.delta));
    auto e = exact(s.capture);
    double share_sum = 0, max_share = 0, mean_err_sum = 0;
    std::uint64_t max_err = 0;
    std::size_t seeds = 20, nonzero = 0;
    for (std::size_t seed = 1; seed <= seeds; ++seed) {
      count_min sk(s.eps, s.delta, seed * 0x9e3779b97f4a7c15ull);
      for (auto [k, b] : e.stream)
        sk.add(k, b);
      ASSERT_EQ(sk.total_packets(), e.n);
      double bound = s.eps * double(e.n);
      std::size_t over = 0;
      double err_sum = 0;
      for (auto [k, truth] : e.packets) {
        std::uint64_t est = sk.packets(k);
        ASSERT_GE(est, truth);  // count-min never underestimates
        ASSERT_GE(sk.bytes(k), e.bytes[k]);
        std::uint64_t err = est - truth;
        over += double(err) > bound;
        err_sum += double(err);
        max_err = std::max(max_err, err);
        nonzero += err > 0;
      }
      double share = double(over) / double(e.packets.size());
      EXPECT_LE(share, s.delta) << "seed " << seed;
      share_sum += share;
      max_share = std::max(max_share, share);
      mean_err_sum += err_sum / double(e.packets.size());
    }
    EXPECT_LE(share_sum / double(seeds), s.delta);
    EXPECT_GT(nonzero, 0u);  // the sketch is small enough to err: the bound is not vacuous
    RecordProperty(std::string(s.capture) + "_eps" + std::to_string(s.eps) + "_max_error", int(max_err));
    std::cout << "  " << s.capture << " eps=" << s.eps << " delta=" << s.delta << " flows=" << e.packets.size()
              << " N=" << e.n << " bound=" << s.eps * double(e.n) << ": max error " << max_err
              << ", mean error " << mean_err_sum / double(seeds) << ", share over bound mean "
              << share_sum / double(seeds) << " max " << max_share << "\n";
  }
}

namespace {

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params) {
  service_registry reg;
  register_flowmon(reg);
  service_config c;
  c.params = std::move(params);
  return reg.at("flowmon").make(c);
}

}  // namespace

TEST(FlowmonService, PassesFramesOnAndMigratesItsSketchExactly) {
  auto packets = read_pcap(pcap_dir + "1kxun.pcap");
  auto old_svc = make({{"eps", "0.01"}, {"delta", "0.01"}});
  local_context old_ctx;
  old_svc->on_start(old_ctx);
  std::size_t half = packets.size() / 2;
  for (std::size_t i = 0; i < half; ++i) {
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    ASSERT_EQ(old_ctx.emits.back().payload, packets[i].data);
    if (i % 50 == 0)
      old_svc->flush(old_ctx);
  }
  old_svc->flush(old_ctx);
  local_context new_ctx;
  new_ctx.state().import_snapshot(old_ctx.state().export_snapshot());
  auto new_svc = make({{"eps", "0.01"}, {"delta", "0.01"}});
  new_svc->on_start(new_ctx);
  for (std::size_t i = half; i < packets.size(); ++i) {
    old_svc->handle(request{i, 0, packets[i].data}, old_ctx);
    new_svc->handle(request{i, 0, packets[i].data}, new_ctx);
  }
  old_svc->flush(old_ctx);
  new_svc->flush(new_ctx);
  EXPECT_EQ(new_ctx.state().export_snapshot(), old_ctx.state().export_snapshot());
  EXPECT_EQ(new_ctx.state().get_array("flowmon.cells").size(), 272u * 5u);

  // A sketch of another size cannot take this state.
  auto other = make({{"eps", "0.02"}});
  local_context other_ctx;
  other_ctx.state().import_snapshot(old_ctx.state().export_snapshot());
  EXPECT_THROW(other->on_start(other_ctx), state::state_error);
}

TEST(FlowmonService, KindFieldsSyntheticRequestsAndBadParams) {
  service_registry reg;
  register_flowmon(reg);
  const auto& k = reg.at("flowmon");
  EXPECT_EQ(k.table1_name, "Flow mon.");
  EXPECT_TRUE(k.stateful);
  auto svc = k.make(service_config{});
  local_context ctx;
  std::mt19937_64 rng(2);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = k.synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    svc->handle(request{1, 0, req}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 5u);
  EXPECT_THROW(make({{"eps", "abc"}}), std::invalid_argument);
  EXPECT_THROW(make({{"delta", "2"}}), std::invalid_argument);
}

namespace {

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_flowmon>("flowmon"), std::move(args));
}

}  // namespace

TEST(FlowmonHarness, PrintsEstimateExactAndErrorPerFlowAndTheBound) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap", "--eps", "0.01", "--delta", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "# eps=0.01 delta=0.01 width=272 depth=5 N=43 bound=eps*N=0.430\n"
            "TCP\t145.254.160.237:3372\t65.208.228.223:80\t34\t34\t0\n"
            "TCP\t145.254.160.237:3371\t216.239.59.99:80\t7\t7\t0\n"
            "UDP\t145.254.160.237:3009\t145.253.2.203:53\t2\t2\t0\n"
            "# flows=3 max_error=0 mean_error=0.000 over_bound=0 share_over_bound=0.0000 allowed_share=delta=0.0100"
            " skipped_non_ip=0\n");
}

TEST(FlowmonHarness, BadArgumentsExitWith2) {
  auto r = run_svc({"--pcap", pcap_dir + "http.pcap", "--eps", "1.5"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("eps"), std::string::npos);
  r = run_svc({"--pcap", pcap_dir + "missing.pcap"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing.pcap: cannot open"), std::string::npos);
  r = run_svc({"--eps", "0.1"});
  EXPECT_EQ(r.code, 2);
}
