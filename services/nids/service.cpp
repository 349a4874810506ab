// The NIDS binding: the service class, synthetic load, the `e3 svc nids` harness, registration.
#include "services/nids/service.hpp"

#include <charconv>
#include <cstring>
#include <iostream>
#include <string>

#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"

namespace e3::services {
namespace nids {
namespace {

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v >> 8);
  p[1] = std::uint8_t(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, std::uint16_t(v >> 16));
  put16(p + 2, std::uint16_t(v));
}
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += std::uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1)
    sum += std::uint32_t(p[n - 1]) << 8;
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return std::uint16_t(~sum);
}

std::size_t parse_min_len(const std::string& s, const std::string& what) {
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v == 0)
    throw nids_error(what + ": expected a positive integer, got '" + s + "'");
  return v;
}

int svc_main(int argc, char** argv) {
  std::string patterns, pcap, min_len = "1";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: e3 svc nids --patterns FILE --pcap FILE [--min-len N]\n"
                   "Scans the TCP/UDP payload of every frame and prints one line:\n"
                   "payload_pkts=… payload_bytes=… total_hits=… pkts_with_hit=… distinct_patterns_hit=…\n";
      return 0;
    }
    std::string* dst = a == "--patterns" ? &patterns : a == "--pcap" ? &pcap : a == "--min-len" ? &min_len : nullptr;
    if (!dst) {
      std::cerr << "e3 svc nids: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
    if (i + 1 >= argc) {
      std::cerr << "e3 svc nids: " << a << " needs a value\n";
      return 2;
    }
    *dst = argv[++i];
  }
  if (patterns.empty() || pcap.empty()) {
    std::cerr << "e3 svc nids: --patterns FILE and --pcap FILE are required\n";
    return 2;
  }
  try {
    automaton ac(load_patterns(patterns, parse_min_len(min_len, "--min-len")));
    auto packets = read_pcap(pcap);
    std::cout << to_string(scan_capture(ac, packets)) << "\n";
    return 0;
  } catch (const nids_error& e) {
    std::cerr << e.what() << "\n";
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
  }
  return 2;
}

}  // namespace

nids_service::nids_service(const service_config& cfg)
    : ac_(shared_automaton(cfg.param("patterns", ""), parse_min_len(cfg.param("min_len", "1"), "nids param min_len"))) {}

void nids_service::handle(const request& req, service_context& ctx) {
  if (req.payload.size() < 14) {
    ++stats_.rejected;
    ctx.reject("frame of " + std::to_string(req.payload.size()) + " bytes is shorter than an Ethernet header");
    return;
  }
  ++stats_.frames;
  auto p = parse_frame(req.payload);
  std::uint64_t key = p ? p->tuple.hash() : 0;
  if (p && (p->tcp || p->udp) && p->payload_size > 0) {
    ++stats_.scanned;
    stats_.payload_bytes += p->payload_size;
    std::uint64_t hits = ac_->count(req.payload.subspan(p->payload_offset, p->payload_size));
    stats_.hits += hits;
    stats_.alerted += hits > 0;
  } else {
    ++stats_.not_inspected;
  }
  ctx.emit(key, req.payload);
}

bytes build_tcp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                      std::size_t frame_size, std::string_view text) {
  frame_size = std::max<std::size_t>(frame_size, 54);
  bytes f(frame_size, 0);
  std::uint8_t* p = f.data();
  static const std::uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(p, macs, 12);
  put16(p + 12, 0x0800);
  std::uint8_t* ip = p + 14;
  std::size_t ip_len = frame_size - 14;
  ip[0] = 0x45;
  put16(ip + 2, std::uint16_t(ip_len));
  put16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  put32(ip + 12, src);
  put32(ip + 16, dst);
  put16(ip + 10, fold(sum16(ip, 20)));
  std::uint8_t* tcp = ip + 20;
  std::size_t tcp_len = ip_len - 20;
  put16(tcp, sport);
  put16(tcp + 2, dport);
  put32(tcp + 4, 1);
  put32(tcp + 8, 1);
  tcp[12] = 5 << 4;
  tcp[13] = 0x18;  // PSH, ACK
  put16(tcp + 14, 65535);
  for (std::size_t i = 20; i < tcp_len; ++i)
    tcp[i] = text.empty() ? 0 : std::uint8_t(text[(i - 20) % text.size()]);
  std::uint32_t pseudo = sum16(ip + 12, 8) + 6 + std::uint32_t(tcp_len);
  put16(tcp + 16, fold(sum16(tcp, tcp_len, pseudo)));
  return f;
}

}  // namespace nids

void register_nids(service_registry& r) {
  service_kind k;
  k.name = "nids";
  k.table1_name = "NIDS";
  k.summary = "Aho-Corasick over Snort content strings (nocase honoured); counts alerts, passes the frame on";
  k.stateful = false;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<nids::nids_service>(c); };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) {
    static const std::string_view texts[] = {
        "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
        "Accept: text/html,application/xhtml+xml\r\nConnection: keep-alive\r\n\r\n",
        "POST /login.php HTTP/1.1\r\nHost: shop.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
        "user=admin&pass=secret&redirect=%2Fhome%2F",
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><title>"
        "Welcome</title></head><body><p>Hello from the e3 synthetic load generator.</p></body></html>",
    };
    std::uint32_t src = 0x0a000000u | std::uint32_t(rng() & 0xffff);
    std::uint32_t dst = 0xc0a80000u | std::uint32_t(rng() & 0xff);
    auto sport = std::uint16_t(1024 + rng() % 60000);
    return nids::build_tcp_frame(src, dst, sport, 80, size, texts[rng() % 3]);
  };
  k.svc_main = nids::svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
