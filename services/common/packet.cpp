// Packet parsing and building.
#include "services/common/packet.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace e3::services {
namespace {

std::uint16_t be16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v >> 8);
  p[1] = std::uint8_t(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, std::uint16_t(v >> 16));
  put16(p + 2, std::uint16_t(v));
}

std::uint64_t fnv(std::uint64_t h, const void* data, std::size_t n) {
  auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void map4(std::uint8_t* out, std::uint32_t a) {
  std::memset(out, 0, 10);
  out[10] = out[11] = 0xff;
  put32(out + 12, a);
}

std::uint16_t checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += be16(p + i);
  if (n & 1)
    sum += std::uint32_t(p[n - 1]) << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return std::uint16_t(~sum);
}

}  // namespace

std::uint64_t five_tuple::hash() const {
  std::uint64_t h = 0xcbf29ce484222325ull;
  h = fnv(h, src, 16);
  h = fnv(h, dst, 16);
  h = fnv(h, &sport, 2);
  h = fnv(h, &dport, 2);
  return fnv(h, &proto, 1);
}

std::uint64_t five_tuple::conversation_hash() const {
  five_tuple c = *this;
  bool swap = std::memcmp(src, dst, 16) > 0 || (std::memcmp(src, dst, 16) == 0 && sport > dport);
  if (swap) {
    std::memcpy(c.src, dst, 16);
    std::memcpy(c.dst, src, 16);
    c.sport = dport;
    c.dport = sport;
  }
  return c.hash();
}

std::optional<parsed_packet> parse_frame(bytes_view f) {
  const std::uint8_t* p = f.data();
  std::size_t n = f.size();
  if (n < 14)
    return std::nullopt;
  std::size_t off = 12;
  std::uint16_t type = be16(p + off);
  for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; ++tags) {
    if (n < off + 6)
      return std::nullopt;
    off += 4;
    type = be16(p + off);
  }
  off += 2;
  parsed_packet r;
  r.l3_offset = off;
  std::size_t l4 = 0, ip_end = 0;
  std::uint8_t proto = 0;
  if (type == 0x0800) {
    if (n < off + 20 || (p[off] >> 4) != 4)
      return std::nullopt;
    std::size_t ihl = std::size_t(p[off] & 0x0f) * 4;
    std::size_t total = be16(p + off + 2);
    if (ihl < 20 || total < ihl || n < off + ihl)
      return std::nullopt;
    ip_end = std::min(n, off + total);
    r.ipv4 = true;
    proto = p[off + 9];
    r.src4 = be32(p + off + 12);
    r.dst4 = be32(p + off + 16);
    map4(r.tuple.src, r.src4);
    map4(r.tuple.dst, r.dst4);
    // Only the first fragment carries the transport header.
    bool later_fragment = (be16(p + off + 6) & 0x1fff) != 0;
    l4 = later_fragment ? 0 : off + ihl;
    r.ip_size = total;
  } else if (type == 0x86dd) {
    if (n < off + 40 || (p[off] >> 4) != 6)
      return std::nullopt;
    std::size_t plen = be16(p + off + 4);
    ip_end = std::min(n, off + 40 + plen);
    proto = p[off + 6];
    std::memcpy(r.tuple.src, p + off + 8, 16);
    std::memcpy(r.tuple.dst, p + off + 24, 16);
    l4 = off + 40;
    // Skip hop-by-hop, routing and destination-options extension headers.
    while (proto == 0 || proto == 43 || proto == 60) {
      if (ip_end < l4 + 8)
        return std::nullopt;
      proto = p[l4];
      l4 += (std::size_t(p[l4 + 1]) + 1) * 8;
    }
    r.ip_size = 40 + plen;
  } else {
    return std::nullopt;
  }
  r.ip = true;
  r.tuple.proto = proto;
  if (l4 == 0 || l4 > ip_end)
    return r;
  r.l4_offset = l4;
  if (proto == 6 && ip_end >= l4 + 20) {
    std::size_t doff = std::size_t(p[l4 + 12] >> 4) * 4;
    if (doff < 20 || l4 + doff > ip_end)
      return r;
    r.tcp = true;
    r.tcp_flags = p[l4 + 13];
    r.tuple.sport = be16(p + l4);
    r.tuple.dport = be16(p + l4 + 2);
    r.payload_offset = l4 + doff;
    r.payload_size = ip_end - r.payload_offset;
  } else if (proto == 17 && ip_end >= l4 + 8) {
    r.udp = true;
    r.tuple.sport = be16(p + l4);
    r.tuple.dport = be16(p + l4 + 2);
    r.payload_offset = l4 + 8;
    r.payload_size = ip_end - r.payload_offset;
  }
  return r;
}

bytes build_udp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                      std::size_t frame_size, std::string_view fill) {
  frame_size = std::max<std::size_t>(frame_size, 42);
  bytes f(frame_size, 0);
  std::uint8_t* p = f.data();
  static const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(p, dmac, 6);
  std::memcpy(p + 6, smac, 6);
  put16(p + 12, 0x0800);
  std::uint8_t* ip = p + 14;
  std::size_t ip_len = frame_size - 14;
  ip[0] = 0x45;
  put16(ip + 2, std::uint16_t(ip_len));
  ip[8] = 64;
  ip[9] = 17;
  put32(ip + 12, src);
  put32(ip + 16, dst);
  put16(ip + 10, checksum(ip, 20));
  std::uint8_t* udp = ip + 20;
  std::size_t udp_len = ip_len - 20;
  put16(udp, sport);
  put16(udp + 2, dport);
  put16(udp + 4, std::uint16_t(udp_len));
  for (std::size_t i = 8; i < udp_len; ++i)
    udp[i] = fill.empty() ? 0 : std::uint8_t(fill[(i - 8) % fill.size()]);
  // UDP checksum over the pseudo header.
  std::uint32_t pseudo = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + std::uint32_t(udp_len);
  std::uint16_t c = checksum(udp, udp_len, pseudo);
  put16(udp + 6, c == 0 ? 0xffff : c);
  return f;
}

std::string ipv4_to_string(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) +
         "." + std::to_string(a & 0xff);
}

std::optional<std::uint32_t> parse_ipv4(std::string_view s) {
  std::uint32_t out = 0;
  const char* it = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    auto [next, ec] = std::from_chars(it, end, v);
    if (ec != std::errc() || v > 255 || next == it || next - it > 3)
      return std::nullopt;
    out = out << 8 | v;
    it = next;
    if (i < 3) {
      if (it == end || *it != '.')
        return std::nullopt;
      ++it;
    }
  }
  if (it != end)
    return std::nullopt;
  return out;
}

}  // namespace e3::services
