// Count: conversation keys as tshark defines them, endpoint text, and the conversation counter.
#include "services/count/count.hpp"

#include <arpa/inet.h>

namespace e3::services::count {

bool parse_kind(std::string_view text, conv_kind& out) {
  if (text == "ip")
    out = conv_kind::ip;
  else if (text == "tcp")
    out = conv_kind::tcp;
  else if (text == "udp")
    out = conv_kind::udp;
  else
    return false;
  return true;
}

const char* to_string(conv_kind k) {
  switch (k) {
    case conv_kind::ip: return "ip";
    case conv_kind::tcp: return "tcp";
    case conv_kind::udp: return "udp";
  }
  return "?";
}

bool conversation_of(const parsed_packet& p, conv_kind kind, conv_key& key, bool& a_to_b) {
  if (!p.ip)
    return false;
  std::uint16_t sport = 0, dport = 0;
  if (kind == conv_kind::tcp) {
    if (!p.tcp)
      return false;
    sport = p.tuple.sport;
    dport = p.tuple.dport;
  } else if (kind == conv_kind::udp) {
    if (!p.udp)
      return false;
    sport = p.tuple.sport;
    dport = p.tuple.dport;
  }
  int c = std::memcmp(p.tuple.src, p.tuple.dst, 16);
  a_to_b = c < 0 || (c == 0 && sport <= dport);
  const std::uint8_t* a = a_to_b ? p.tuple.src : p.tuple.dst;
  const std::uint8_t* b = a_to_b ? p.tuple.dst : p.tuple.src;
  std::memcpy(key.a, a, 16);
  std::memcpy(key.b, b, 16);
  key.port_a = a_to_b ? sport : dport;
  key.port_b = a_to_b ? dport : sport;
  key.kind = std::uint8_t(kind);
  key.ipv4 = p.ipv4 ? 1 : 0;
  key.pad[0] = key.pad[1] = 0;
  return true;
}

std::string endpoint_text(const std::uint8_t addr[16], bool ipv4, std::uint16_t port, bool with_port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ipv4)
    inet_ntop(AF_INET, addr + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, addr, buf, sizeof buf);
  std::string s = buf;
  if (!with_port)
    return s;
  return ipv4 ? s + ":" + std::to_string(port) : "[" + s + "]:" + std::to_string(port);
}

bool conversation_counter::add(bytes_view frame) {
  auto p = parse_frame(frame);
  if (!p) {
    ++frames_;
    ++skipped_;
    return false;
  }
  return add(*p);
}

bool conversation_counter::add(const parsed_packet& p) {
  ++frames_;
  conv_key key;
  bool a_to_b = false;
  if (!conversation_of(p, kind_, key, a_to_b)) {
    ++skipped_;
    return false;
  }
  bool inserted = false;
  std::size_t s = table_.slot(key, inserted);
  if (s == table_.npos)
    return false;
  conv_counts& c = table_.value(s);
  if (inserted) {
    c.first_seen = frames_ - 1;
    c.first_from_a = a_to_b ? 1 : 0;
  }
  ++(a_to_b ? c.a_to_b : c.b_to_a);
  return true;
}

void conversation_counter::restore(const conv_key& key, const conv_counts& counts) {
  bool inserted = false;
  std::size_t s = table_.slot(key, inserted);
  if (s != table_.npos)
    table_.value(s) = counts;
}

std::string conversation_line(const conv_key& key, const conv_counts& c) {
  bool ports = conv_kind(key.kind) != conv_kind::ip;
  std::string a = endpoint_text(key.a, key.ipv4, key.port_a, ports);
  std::string b = endpoint_text(key.b, key.ipv4, key.port_b, ports);
  bool a_first = c.first_from_a != 0;
  const std::string& first = a_first ? a : b;
  const std::string& second = a_first ? b : a;
  std::uint64_t fwd = a_first ? c.a_to_b : c.b_to_a;
  std::uint64_t back = a_first ? c.b_to_a : c.a_to_b;
  return first + "\t" + second + "\t" + std::to_string(fwd) + "\t" + std::to_string(back) + "\t" +
         std::to_string(c.total());
}

}  // namespace e3::services::count
