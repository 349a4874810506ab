// Readers of the reference answers for packet counting: tshark `-z conv,…` tables and nDPI
// `.pcap.out` flow lists, with endpoints normalised to services/count's endpoint text.
#pragma once

#include <arpa/inet.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace e3::test {

/// One row of a tshark conversation table.
struct tshark_conv {
  std::string a, b;          ///< endpoints as services/count prints them
  std::uint64_t a_to_b = 0;  ///< frames A->B (tshark's "->" column)
  std::uint64_t b_to_a = 0;  ///< frames B->A (tshark's "<-" column)
  std::uint64_t total = 0;   ///< frames in both directions
};

/// `addr` or `addr:port` (tshark prints IPv6 endpoints unbracketed: the port follows the last
/// colon) as `a.b.c.d`, `v6`, `a.b.c.d:port` or `[v6]:port`.
inline std::string normalise_endpoint(const std::string& text, bool with_port) {
  std::string addr = text, port;
  if (with_port) {
    auto colon = text.rfind(':');
    addr = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  bool v4 = inet_pton(AF_INET, addr.c_str(), buf) == 1;
  if (v4)
    inet_ntop(AF_INET, buf, out, sizeof out);
  else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1)
    inet_ntop(AF_INET6, buf, out, sizeof out);
  else
    throw std::runtime_error("bad endpoint '" + text + "'");
  if (!with_port)
    return out;
  return v4 ? std::string(out) + ":" + port : "[" + std::string(out) + "]:" + port;
}

/// Reads a `tshark -z conv,ip|tcp|udp` table.
inline std::vector<tshark_conv> read_tshark_conv(const std::string& path, bool with_ports) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(path + ": cannot open");
  std::vector<tshark_conv> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("<->") == std::string::npos)
      continue;
    std::istringstream s(line);
    std::vector<std::string> tok;
    for (std::string t; s >> t;)
      tok.push_back(t);
    // A <-> B  rx_frames rx_bytes unit  tx_frames tx_bytes unit  total_frames bytes unit  start duration
    if (tok.size() < 12 || tok[1] != "<->")
      throw std::runtime_error(path + ": unexpected line '" + line + "'");
    tshark_conv c;
    c.a = normalise_endpoint(tok[0], with_ports);
    c.b = normalise_endpoint(tok[2], with_ports);
    c.b_to_a = std::stoull(tok[3]);
    c.a_to_b = std::stoull(tok[6]);
    c.total = std::stoull(tok[9]);
    out.push_back(c);
  }
  return out;
}

/// One flow of an nDPI `.pcap.out` file.
struct ndpi_flow {
  std::string proto;        ///< "TCP", "UDP", …
  std::string a, b;         ///< endpoints as services/count prints them (with ports)
  std::uint64_t packets = 0;  ///< packets in both directions
  std::uint64_t bytes = 0;    ///< bytes in both directions
};

/// Reads the flow lines of an nDPI `.pcap.out` file (`\tN\tPROTO a:p <-> b:p [...][x pkts/y bytes <-> …]`).
inline std::vector<ndpi_flow> read_ndpi_flows(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(path + ": cannot open");
  std::vector<ndpi_flow> out;
  std::string line;
  auto endpoint = [](std::string t) {
    // "1.2.3.4:80" or "[fe80::1]:1900"
    if (!t.empty() && t[0] == '[') {
      auto close = t.find(']');
      return normalise_endpoint(t.substr(1, close - 1) + ":" + t.substr(close + 2), true);
    }
    return normalise_endpoint(t, true);
  };
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string idx, proto, a, arrow, b;
    if (line.empty() || line[0] != '\t' || !(s >> idx >> proto >> a >> arrow >> b))
      continue;
    if (arrow != "<->" && arrow != "->")
      continue;
    ndpi_flow f;
    f.proto = proto;
    f.a = endpoint(a);
    f.b = endpoint(b);
    // "[260 pkts/15070 bytes <-> 159 pkts/168623 bytes]" or "[16 pkts/8921 bytes -> 0 pkts/0 bytes]"
    static const std::regex counts(R"(\[(\d+) pkts/(\d+) bytes (<->|->) (\d+) pkts/(\d+) bytes\])");
    std::smatch m;
    if (!std::regex_search(line, m, counts))
      continue;
    f.packets = std::stoull(m[1]) + std::stoull(m[4]);
    f.bytes = std::stoull(m[2]) + std::stoull(m[5]);
    out.push_back(f);
  }
  return out;
}

}  // namespace e3::test
