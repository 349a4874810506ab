// The NATv4 service binding (kind "nat") and its `e3 svc nat` file harness.
//
// Request: one Ethernet frame. Emits the translated frame (key: its five-tuple hash after the
// rewrite); refused frames are rejected with the reason (see nat.hpp). Config params:
//   routes        routing table file, `a.b.c.d/len` per line, plain or .gz (default: only 0.0.0.0/0)
//   pool          public addresses as a prefix (default 203.0.113.1/32)
//   port_lo, port_hi   public port range (default 1024-65535)
//   inside        comma-separated inside prefixes (default 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16)
//   idle_timeout_s     seconds before an idle mapping may be reclaimed (default 300)
//   checksum      "incremental" (default) or "full" TCP/UDP checksum after a rewrite
// Instances of one process that name the same routes file share one table (read-only).
#include <charconv>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>

#include "actors/service.hpp"
#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "services/common/svc_args.hpp"
#include "services/nat/lpm.hpp"
#include "services/nat/nat.hpp"

namespace e3::services {
namespace {

using namespace e3::services::nat;

/// Routing tables by file name ("" = the default route only), shared by the instances of a process.
std::shared_ptr<const lpm_table> shared_routes(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const lpm_table>> cache;
  std::lock_guard lock(mu);
  if (auto t = cache[path].lock())
    return t;
  std::vector<prefix> routes = path.empty() ? std::vector<prefix>{prefix{0, 0}} : read_routes(path);
  auto t = std::make_shared<const lpm_table>(std::move(routes));
  cache[path] = t;
  return t;
}

std::uint64_t parse_number(const std::string& name, const std::string& text, std::uint64_t max) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v > max)
    throw std::invalid_argument("nat: param " + name + "='" + text + "' is not a number in 0.." + std::to_string(max));
  return v;
}

prefix parse_prefix_param(const std::string& name, std::string_view text) {
  prefix p;
  std::string err = parse_prefix(text, p);
  if (!err.empty())
    throw std::invalid_argument("nat: param " + name + ": " + err);
  return p;
}

/// Builds a nat_config from service params; throws std::invalid_argument naming the param.
nat_config config_from(const service_config& c) {
  nat_config cfg;
  if (auto v = c.param("pool", ""); !v.empty())
    cfg.pool = parse_prefix_param("pool", v);
  cfg.port_lo = std::uint16_t(parse_number("port_lo", c.param("port_lo", "1024"), 65535));
  cfg.port_hi = std::uint16_t(parse_number("port_hi", c.param("port_hi", "65535"), 65535));
  if (auto v = c.param("inside", ""); !v.empty()) {
    cfg.inside.clear();
    std::string_view rest = v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      cfg.inside.push_back(parse_prefix_param("inside", rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  cfg.idle_timeout_ns = std::int64_t(parse_number("idle_timeout_s", c.param("idle_timeout_s", "300"), 1u << 30)) *
                        1'000'000'000;
  auto cs = c.param("checksum", "incremental");
  if (cs != "incremental" && cs != "full")
    throw std::invalid_argument("nat: param checksum='" + cs + "' (expected incremental or full)");
  cfg.full_checksum = cs == "full";
  return cfg;
}

class nat_service final : public service {
 public:
  explicit nat_service(const service_config& c)
      : engine_(shared_routes(c.param("routes", "")), config_from(c)) {}

  void handle(const request& req, service_context& ctx) override {
    buf_.assign(req.payload.begin(), req.payload.end());
    result r = engine_.process(buf_, ctx.now_ns());
    if (r.what == verdict::rejected) {
      ctx.reject(to_string(r.why));
      return;
    }
    ctx.emit(r.tuple.hash(), buf_);
  }

 private:
  nat_engine engine_;
  bytes buf_;
};

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // An inside host talking to a public address (routed by the default table's 0.0.0.0/0).
  std::uint32_t src = 0x0a000000u | std::uint32_t(rng() & 0xffffff);
  std::uint32_t dst = 0x01000000u + std::uint32_t(rng() % 0xdf000000u);  // 1.0.0.0 - 223.255.255.255
  auto sport = std::uint16_t(1024 + rng() % 64000);
  return build_udp_frame(src, dst, sport, 53, std::max<std::size_t>(size, 42));
}

const char* usage =
    "usage: e3 svc nat --routes FILE[.gz] --lookup FILE\n"
    "         prints addr<TAB>prefix for each address (- when no route matches)\n"
    "       e3 svc nat --routes FILE[.gz] --pcap FILE [--pool PREFIX] [--inside P1,P2,...] [--full-checksum]\n"
    "         translates a capture and prints what happened to its frames (a routes file without\n"
    "         0.0.0.0/0 refuses destinations it does not cover: add it for a default route)\n";

int svc_main(int argc, char** argv) {
  svc_args opt;
  if (auto code = read_svc_args(argc, argv, "nat", usage, {"--routes", "--lookup", "--pcap", "--pool", "--inside"}, opt,
                                {"--full-checksum"}))
    return *code;
  bool full = opt.count("full-checksum") > 0;
  if (!opt.count("routes") || opt.count("lookup") == opt.count("pcap")) {
    std::cerr << "e3 svc nat: give --routes and exactly one of --lookup or --pcap\n" << usage;
    return 2;
  }
  try {
    auto table = std::make_shared<const lpm_table>(read_routes(opt["routes"]));
    if (opt.count("lookup")) {
      auto addrs = read_addresses(opt["lookup"]);
      std::vector<std::string> text(table->routes().size());
      std::string out;
      out.reserve(addrs.size() * 32);
      for (std::uint32_t a : addrs) {
        std::uint32_t r = table->lookup(a);
        out += ipv4_to_string(a);
        out += '\t';
        if (r == lpm_table::no_route) {
          out += '-';
        } else {
          if (text[r].empty())
            text[r] = to_string(table->routes()[r]);
          out += text[r];
        }
        out += '\n';
      }
      std::cout << out;
      return 0;
    }
    service_config sc;
    if (opt.count("pool"))
      sc.params["pool"] = opt["pool"];
    if (opt.count("inside"))
      sc.params["inside"] = opt["inside"];
    nat_config cfg = config_from(sc);
    cfg.full_checksum = full;
    nat_engine engine(table, cfg);
    auto packets = read_pcap(opt["pcap"]);
    for (auto& pk : packets)
      engine.process(pk.data, pk.ts_ns);
    const auto& s = engine.stats();
    std::cout << "frames=" << packets.size() << " translated_out=" << s.translated_out
              << " translated_in=" << s.translated_in << " forwarded=" << s.forwarded
              << " mappings=" << engine.mappings() << "\n";
    for (std::size_t i = 1; i < std::size_t(reject_reason::count_); ++i)
      std::cout << "rejected\t" << to_string(reject_reason(i)) << "\t" << s.rejected[i] << "\n";
    return 0;
  } catch (const file_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc nat: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace

void register_nat(service_registry& r) {
  service_kind k;
  k.name = "nat";
  k.table1_name = "NATv4";
  k.summary = "NAPT with DIR-24-8 routing: frame in, translated frame emitted";
  k.stateful = false;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<nat_service>(c); };
  k.synthetic_request = synthetic;
  k.svc_main = svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
