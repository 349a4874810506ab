// The flow monitor service binding (kind "flowmon") and its `e3 svc flowmon` file harness.
//
// Request: one Ethernet frame, counted into the count-min sketch under its flow (see
// flowmon.hpp) and emitted unchanged (key: its five-tuple hash; 0 when not IP). Frames that are
// not IP are passed on and counted as skipped. Params: `eps` (default 0.001), `delta` (default
// 0.01), `seed` (default fixed; instances that share state must share it).
// State (reliable collections; only cells changed since the last flush are written):
//   array "flowmon.cells": w·d slots, each a cell {u64 packets, u64 bytes}
//   table "flowmon.meta":  "packets", "bytes", "skipped" -> u64
//
// `e3 svc flowmon --pcap FILE [--eps E] [--delta D] [--seed S]` prints, for every flow, busiest
// first: PROTO<TAB>A<TAB>B<TAB>estimate<TAB>exact<TAB>error (A = source of the flow's first
// packet; exact from a hash map run beside the sketch), after a '#' line with the sketch's size
// and bound, and ends with a '#' summary: flows, max and mean error, and how many flows have an
// error above ε·N (the bound allows a share δ of them).
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unordered_map>

#include "actors/service.hpp"
#include "services/common/pcap.hpp"
#include "services/common/svc_args.hpp"
#include "services/flowmon/flowmon.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace e3::services::flowmon;

double double_param(const service_config& c, const char* name, const char* fallback) {
  std::string t = c.param(name, fallback);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size())
    throw std::invalid_argument(std::string("flowmon: param ") + name + "='" + t + "' is not a number");
  return v;
}

std::uint64_t seed_param(const service_config& c) {
  std::string t = c.param("seed", "");
  if (t.empty())
    return 0x5eed'0f'f10e'0000ull;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size())
    throw std::invalid_argument("flowmon: param seed='" + t + "' is not a number");
  return v;
}

class flowmon_service final : public service {
 public:
  explicit flowmon_service(const service_config& c)
      : mon_(double_param(c, "eps", "0.001"), double_param(c, "delta", "0.01"), seed_param(c)) {}

  void handle(const request& req, service_context& ctx) override {
    auto p = parse_frame(req.payload);
    mon_.add(p);
    ctx.emit(p ? p->tuple.hash() : 0, req.payload);
  }

  void flush(service_context& ctx) override {
    auto& st = ctx.state();
    auto& cells = st.get_array("flowmon.cells");
    const auto& sk = mon_.sketch();
    if (cells.size() != sk.cells().size())
      cells.resize(sk.cells().size());
    mon_.sketch().drain_dirty([&](std::size_t i) { cells.set(i, state::as_bytes(sk.cells()[i])); });
    auto& meta = st.get_table("flowmon.meta");
    meta.put("packets", state::as_bytes(sk.total_packets()));
    meta.put("bytes", state::as_bytes(sk.total_bytes()));
    meta.put("skipped", state::as_bytes(mon_.skipped()));
  }

  void on_start(service_context& ctx) override {
    auto& st = ctx.state();
    auto& cells = st.get_array("flowmon.cells");
    auto& sk = mon_.sketch();
    if (cells.size() != 0 && cells.size() != sk.cells().size())
      throw state::state_error("flowmon: stored sketch has " + std::to_string(cells.size()) +
                               " cells, this configuration (eps, delta) needs " + std::to_string(sk.cells().size()));
    std::string buf;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      cells.get(i, buf);
      if (!buf.empty())
        sk.restore_cell(i, state::from_bytes<cell>(buf));
    }
    auto& meta = st.get_table("flowmon.meta");
    auto u64 = [&](const char* name) {
      auto v = meta.get(name);
      return v ? state::from_bytes<std::uint64_t>(*v) : 0;
    };
    sk.restore_totals(u64("packets"), u64("bytes"));
    mon_.set_skipped(u64("skipped"));
  }

 private:
  flow_monitor mon_;
};

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  std::uint64_t flow = rng() % 4096;
  return build_udp_frame(0x0a000000u + std::uint32_t(flow), 0xc6336400u + std::uint32_t(flow % 64),
                         std::uint16_t(20000 + flow), 443, std::max<std::size_t>(size, 42));
}

const char* usage =
    "usage: e3 svc flowmon --pcap FILE [--eps E] [--delta D] [--seed S]\n"
    "  prints PROTO<TAB>A<TAB>B<TAB>estimate<TAB>exact<TAB>error per flow, busiest first, and '#' lines\n"
    "  with the sketch size, the bound eps*N and the measured max/mean error\n";

struct exact_flow {
  five_tuple first;       // the flow's first packet's tuple (its source is A)
  std::uint64_t packets = 0;
  std::uint64_t order = 0;
};

std::string endpoint(const std::uint8_t* a, std::uint16_t port, bool ipv4, bool ports) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ipv4)
    inet_ntop(AF_INET, a + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, a, buf, sizeof buf);
  std::string s = buf;
  if (!ports)
    return s;
  return ipv4 ? s + ":" + std::to_string(port) : "[" + s + "]:" + std::to_string(port);
}

int svc_main(int argc, char** argv) {
  svc_args args;
  if (auto code = read_svc_args(argc, argv, "flowmon", usage, {"--pcap", "--eps", "--delta", "--seed"}, args))
    return *code;
  service_config c;
  for (const auto& [name, value] : args)  // eps, delta and seed are params of the same name
    if (name != "pcap")
      c.params[name] = value;
  std::string pcap = args["pcap"];
  if (pcap.empty()) {
    std::cerr << "e3 svc flowmon: --pcap FILE is required\n" << usage;
    return 2;
  }
  std::unique_ptr<flow_monitor> mon;
  std::vector<captured_packet> packets;
  try {
    mon = std::make_unique<flow_monitor>(double_param(c, "eps", "0.001"), double_param(c, "delta", "0.01"),
                                         seed_param(c));
    packets = read_pcap(pcap);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc flowmon: " << e.what() << "\n";
    return 2;
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::unordered_map<std::uint64_t, exact_flow> exact;
  std::uint64_t n = 0;
  for (const auto& pk : packets) {
    auto p = parse_frame(pk.data);
    if (!mon->add(p))
      continue;
    auto [it, fresh] = exact.try_emplace(flow_key(p->tuple));
    if (fresh) {
      it->second.first = p->tuple;
      it->second.order = n;
    }
    ++it->second.packets;
    ++n;
  }
  const count_min& sk = mon->sketch();
  std::vector<const std::pair<const std::uint64_t, exact_flow>*> flows;
  for (const auto& f : exact)
    flows.push_back(&f);
  std::sort(flows.begin(), flows.end(), [](auto* x, auto* y) {
    return x->second.packets != y->second.packets ? x->second.packets > y->second.packets
                                                  : x->second.order < y->second.order;
  });
  double bound = sk.packet_bound();
  std::uint64_t max_err = 0, over = 0;
  double sum_err = 0;
  std::ostringstream out;
  out << "# eps=" << sk.eps() << " delta=" << sk.delta() << " width=" << sk.width() << " depth=" << sk.depth()
      << " N=" << sk.total_packets() << " bound=eps*N=" << std::fixed << std::setprecision(3) << bound << "\n";
  for (const auto* f : flows) {
    const five_tuple& t = f->second.first;
    std::uint64_t est = sk.packets(f->first), truth = f->second.packets, err = est - truth;
    max_err = std::max(max_err, err);
    sum_err += double(err);
    over += double(err) > bound;
    bool ipv4 = t.src[10] == 0xff && t.src[11] == 0xff && t.dst[10] == 0xff && t.dst[11] == 0xff &&
                std::all_of(t.src, t.src + 10, [](auto b) { return b == 0; });
    bool ports = t.proto == 6 || t.proto == 17;
    std::string proto = t.proto == 6 ? "TCP" : t.proto == 17 ? "UDP" : "IP/" + std::to_string(t.proto);
    out << proto << "\t" << endpoint(t.src, t.sport, ipv4, ports) << "\t" << endpoint(t.dst, t.dport, ipv4, ports)
        << "\t" << est << "\t" << truth << "\t" << err << "\n";
  }
  double mean = flows.empty() ? 0 : sum_err / double(flows.size());
  out << "# flows=" << flows.size() << " max_error=" << max_err << " mean_error=" << std::setprecision(3) << mean
      << " over_bound=" << over << " share_over_bound=" << std::setprecision(4)
      << (flows.empty() ? 0.0 : double(over) / double(flows.size())) << " allowed_share=delta=" << sk.delta()
      << " skipped_non_ip=" << mon->skipped() << "\n";
  std::cout << out.str();
  return 0;
}

}  // namespace

void register_flowmon(service_registry& r) {
  service_kind k;
  k.name = "flowmon";
  k.table1_name = "Flow mon.";
  k.summary = "per-flow packet/byte counts in a count-min sketch (eps, delta); passes frames on";
  k.stateful = true;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<flowmon_service>(c); };
  k.synthetic_request = synthetic;
  k.svc_main = svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
