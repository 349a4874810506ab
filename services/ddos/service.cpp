// The DDoS detection service binding (kind "ddos") and its `e3 svc ddos` file harness.
//
// Request: one Ethernet frame. IP packets feed the detector (ddos.hpp); every frame is emitted
// unchanged (key: its five-tuple hash; 0 when not IP). Alarms are counted in the state, not
// sent: the frame goes on either way. Params (defaults in ddos.hpp): window (packets),
// window_ms (windows by time instead, using the runtime clock), min_packets, lo, hi, history,
// warmup, k, sigma_min.
// State (reliable collections):
//   table "ddos.meta":    "saved" -> detector::saved, "skipped" -> u64 (frames that were not IP)
//   array "ddos.history": the baseline ring, one slot of 4 doubles per window
//   array "ddos.window":  the open window's packet features (appended at each flush)
//
// `e3 svc ddos --pcap FILE [--window N | --window-ms MS] [--min-packets N]` prints one line per
// window (capture timestamps drive time windows):
//   window<TAB>index<TAB>start_s<TAB>packets<TAB>H_src<TAB>H_dst<TAB>H_sport<TAB>H_dport<TAB>max_z<TAB>t<TAB>alarm
// (normalised entropies; the largest change score and the t threshold it is compared with, "-"
// before warm-up; alarm "-", "not judged" or the rules that fired), then a summary line
// `# windows=… judged=… alarms=… first_alarm=… verdict=ALARM|no alarm`.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "actors/service.hpp"
#include "services/common/pcap.hpp"
#include "services/common/svc_args.hpp"
#include "services/ddos/ddos.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace e3::services::ddos;

template <class T>
T number_param(const service_config& c, const char* name, T fallback) {
  auto i = c.params.find(name);
  if (i == c.params.end())
    return fallback;
  const std::string& t = i->second;
  T v{};
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size())
    throw std::invalid_argument(std::string("ddos: param ") + name + "='" + t + "' is not a number");
  return v;
}

ddos_config config_from(const service_config& c) {
  ddos_config d;
  d.window = number_param<std::uint32_t>(c, "window", d.window);
  d.window_ns = number_param<std::int64_t>(c, "window_ms", 0) * 1'000'000;
  d.min_packets = number_param<std::uint32_t>(c, "min_packets", d.min_packets);
  d.lo = number_param<double>(c, "lo", d.lo);
  d.hi = number_param<double>(c, "hi", d.hi);
  d.history = number_param<std::uint32_t>(c, "history", d.history);
  d.warmup = number_param<std::uint32_t>(c, "warmup", d.warmup);
  d.k = number_param<double>(c, "k", d.k);
  d.sigma_min = number_param<double>(c, "sigma_min", d.sigma_min);
  return d;
}

class ddos_service final : public service {
 public:
  explicit ddos_service(const service_config& c) : det_(config_from(c)) {}

  void handle(const request& req, service_context& ctx) override {
    auto p = parse_frame(req.payload);
    if (!p || !p->ip) {
      ++skipped_;
      ctx.emit(0, req.payload);
      return;
    }
    det_.add(features_of(*p), ctx.now_ns());
    ctx.emit(p->tuple.hash(), req.payload);
  }

  void flush(service_context& ctx) override {
    auto& st = ctx.state();
    auto s = det_.save();
    auto& win = st.get_array("ddos.window");
    const auto& open = det_.open_window();
    if (s.windows != flushed_windows_ || win.size() > open.size()) {
      // A window closed since the last flush: the baseline moved and the open window restarted.
      auto& hist = st.get_array("ddos.history");
      hist.resize(det_.history().size());
      for (std::size_t i = 0; i < det_.history().size(); ++i)
        hist.set(i, state::as_bytes(det_.history()[i]));
      win.resize(0);
      flushed_windows_ = s.windows;
    }
    std::size_t from = win.size();
    win.resize(open.size());
    for (std::size_t i = from; i < open.size(); ++i)
      win.set(i, state::as_bytes(open[i]));
    auto& meta = st.get_table("ddos.meta");
    meta.put("saved", state::as_bytes(s));
    meta.put("skipped", state::as_bytes(skipped_));
  }

  void on_start(service_context& ctx) override {
    auto& st = ctx.state();
    auto& meta = st.get_table("ddos.meta");
    auto saved_bytes = meta.get("saved");
    if (!saved_bytes)
      return;  // fresh instance
    auto s = state::from_bytes<detector::saved>(*saved_bytes);
    auto& hist = st.get_array("ddos.history");
    std::vector<std::array<double, 4>> history(det_.history().size());
    if (hist.size() != 0 && hist.size() != history.size())
      throw state::state_error("ddos: stored baseline has " + std::to_string(hist.size()) +
                               " windows, this configuration keeps " + std::to_string(history.size()));
    std::string buf;
    for (std::size_t i = 0; i < hist.size(); ++i) {
      hist.get(i, buf);
      if (!buf.empty())
        history[i] = state::from_bytes<std::array<double, 4>>(buf);
    }
    auto& win = st.get_array("ddos.window");
    std::vector<packet_features> open(win.size());
    for (std::size_t i = 0; i < win.size(); ++i) {
      win.get(i, buf);
      open[i] = state::from_bytes<packet_features>(buf);
    }
    try {
      det_.restore(s, history, open);
    } catch (const std::invalid_argument& e) {
      throw state::state_error(e.what());
    }
    auto sk = meta.get("skipped");
    skipped_ = sk ? state::from_bytes<std::uint64_t>(*sk) : 0;
    flushed_windows_ = s.windows;
  }

 private:
  detector det_;
  std::uint64_t skipped_ = 0;
  std::uint64_t flushed_windows_ = 0;
};

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // Client traffic: 1024 clients talking to 16 servers on a few service ports.
  static const std::uint16_t ports[] = {80, 443, 53, 8080};
  std::uint32_t client = 0x0a000000u + std::uint32_t(rng() % 1024);
  std::uint32_t server = 0xc6336400u + std::uint32_t(rng() % 16);
  return build_udp_frame(client, server, std::uint16_t(20000 + rng() % 20000), ports[rng() % 4],
                         std::max<std::size_t>(size, 42));
}

const char* usage =
    "usage: e3 svc ddos --pcap FILE [--window N | --window-ms MS] [--min-packets N]\n"
    "  prints per window its normalised entropies (src, dst, sport, dport), the largest change\n"
    "  against the baseline in standard deviations, and the alarm, then a summary line\n";

std::string fixed(double v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string line(const window_report& r, std::int64_t t0) {
  std::string s = "window\t" + std::to_string(r.index) + "\t" + fixed(double(r.start_ns - t0) / 1e9, 3) + "\t" +
                  std::to_string(r.packets);
  for (double e : r.entropy)
    s += "\t" + fixed(e, 3);
  bool warm = r.threshold > 0;
  s += "\t" + (warm ? fixed(r.max_z, 2) : "-") + "\t" + (warm ? fixed(r.threshold, 2) : "-") + "\t" +
       (r.judged ? alarm_text(r.alarm, r.changed) : "not judged");
  return s;
}

int svc_main(int argc, char** argv) {
  svc_args args;
  if (auto code = read_svc_args(argc, argv, "ddos", usage, {"--pcap", "--window", "--window-ms", "--min-packets"}, args))
    return *code;
  service_config c;
  for (auto [option, param] : {std::pair{"window", "window"}, {"window-ms", "window_ms"}, {"min-packets", "min_packets"}})
    if (auto it = args.find(option); it != args.end())
      c.params[param] = it->second;
  std::string pcap = args["pcap"];
  if (pcap.empty()) {
    std::cerr << "e3 svc ddos: --pcap FILE is required\n" << usage;
    return 2;
  }
  std::unique_ptr<detector> det;
  std::vector<captured_packet> packets;
  try {
    det = std::make_unique<detector>(config_from(c));
    packets = read_pcap(pcap);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc ddos: " << e.what() << "\n";
    return 2;
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::int64_t t0 = packets.empty() ? 0 : packets.front().ts_ns;
  std::ostringstream out;
  std::int64_t first_alarm = -1;
  auto report = [&](const window_report& r) {
    out << line(r, t0) << "\n";
    if (r.alarm && first_alarm < 0)
      first_alarm = std::int64_t(r.index);
  };
  std::uint64_t skipped = 0;
  for (const auto& pk : packets) {
    auto p = parse_frame(pk.data);
    if (!p || !p->ip) {
      ++skipped;
      continue;
    }
    if (auto r = det->add(features_of(*p), pk.ts_ns))
      report(*r);
  }
  if (auto r = det->close())
    report(*r);
  out << "# windows=" << det->windows() << " judged=" << det->judged() << " alarms=" << det->alarms()
      << " first_alarm=" << (first_alarm < 0 ? std::string("-") : std::to_string(first_alarm))
      << " skipped_non_ip=" << skipped << " verdict=" << (det->alarms() ? "ALARM" : "no alarm") << "\n";
  std::cout << "# window\tindex\tstart_s\tpackets\tH_src\tH_dst\tH_sport\tH_dport\tmax_z\tt\talarm\n" << out.str();
  return 0;
}

}  // namespace

void register_ddos(service_registry& r) {
  service_kind k;
  k.name = "ddos";
  k.table1_name = "DDoS";
  k.summary = "entropy-based DDoS detection over address/port distributions in windows; passes frames on";
  k.stateful = true;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<ddos_service>(c); };
  k.synthetic_request = synthetic;
  k.svc_main = svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
