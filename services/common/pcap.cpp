// Capture file readers: classic pcap and pcapng.
#include "services/common/pcap.hpp"

#include <cstring>
#include <fstream>
#include <iterator>

namespace e3::services {
namespace {

struct cursor {
  const std::string& path;
  const std::vector<std::uint8_t>& b;
  bool swap = false;

  [[noreturn]] void fail(std::size_t at, const std::string& why) const {
    throw pcap_error(path + ": byte " + std::to_string(at) + ": " + why);
  }
  void need(std::size_t at, std::size_t n, const char* what) const {
    if (at > b.size() || n > b.size() - at)
      fail(at, std::string("truncated ") + what);
  }
  std::uint32_t u32(std::size_t at) const {
    std::uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return swap ? __builtin_bswap32(v) : v;
  }
  std::uint16_t u16(std::size_t at) const {
    std::uint16_t v;
    std::memcpy(&v, b.data() + at, 2);
    return swap ? __builtin_bswap16(v) : v;
  }
};

std::vector<captured_packet> read_classic(cursor& c) {
  c.need(0, 24, "file header");
  std::uint32_t magic;
  std::memcpy(&magic, c.b.data(), 4);
  bool nanos = false;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    nanos = magic == 0xa1b23c4d;
  } else {
    c.swap = true;
    nanos = __builtin_bswap32(magic) == 0xa1b23c4d;
  }
  std::uint32_t snap = c.u32(16);
  std::uint32_t link = c.u32(20) & 0x0fffffff;
  if (link != 1)
    c.fail(20, "link type " + std::to_string(link) + " is not Ethernet (1)");
  std::vector<captured_packet> out;
  std::size_t at = 24;
  while (at < c.b.size()) {
    c.need(at, 16, "packet record header");
    std::uint32_t sec = c.u32(at), frac = c.u32(at + 4), incl = c.u32(at + 8), orig = c.u32(at + 12);
    if (incl > snap && incl > 262144)
      c.fail(at + 8, "captured length " + std::to_string(incl) + " exceeds the snap length " + std::to_string(snap));
    c.need(at + 16, incl, "packet data");
    captured_packet p;
    p.ts_ns = std::int64_t(sec) * 1000000000 + (nanos ? frac : std::int64_t(frac) * 1000);
    p.wire_length = orig;
    p.data.assign(c.b.begin() + at + 16, c.b.begin() + at + 16 + incl);
    out.push_back(std::move(p));
    at += 16 + incl;
  }
  return out;
}

std::vector<captured_packet> read_ng(cursor& c) {
  std::vector<captured_packet> out;
  struct iface {
    std::uint32_t link;
    std::int64_t ns_per_tick;
  };
  std::vector<iface> ifaces;
  std::size_t at = 0;
  while (at < c.b.size()) {
    c.need(at, 12, "block header");
    std::uint32_t type;
    std::memcpy(&type, c.b.data() + at, 4);
    if (type == 0x0a0d0d0a) {  // section header: its byte-order magic sets the order
      std::uint32_t bom;
      std::memcpy(&bom, c.b.data() + at + 8, 4);
      if (bom == 0x1a2b3c4d)
        c.swap = false;
      else if (bom == 0x4d3c2b1a)
        c.swap = true;
      else
        c.fail(at + 8, "bad pcapng byte-order magic");
      ifaces.clear();
    } else {
      type = c.u32(at);
    }
    std::uint32_t len = c.u32(at + 4);
    if (len < 12 || len % 4 != 0)
      c.fail(at + 4, "bad pcapng block length " + std::to_string(len));
    c.need(at, len, "pcapng block");
    if (type == 1) {  // interface description
      iface f{std::uint32_t(c.u16(at + 8)), 1000};
      // Options: if_tsresol (code 9) changes the tick.
      std::size_t o = at + 16;
      while (o + 4 <= at + len - 4) {
        std::uint16_t code = c.u16(o), olen = c.u16(o + 2);
        if (code == 0)
          break;
        if (code == 9 && olen >= 1 && o + 4 < at + len) {
          std::uint8_t r = c.b[o + 4];
          double tick_s = (r & 0x80) ? 1.0 / double(1ull << (r & 0x7f)) : [&] {
            double t = 1;
            for (int i = 0; i < (r & 0x7f); ++i)
              t /= 10;
            return t;
          }();
          f.ns_per_tick = std::int64_t(tick_s * 1e9 + 0.5);
          if (f.ns_per_tick == 0)
            f.ns_per_tick = 1;
        }
        o += 4 + ((olen + 3u) & ~3u);
      }
      ifaces.push_back(f);
    } else if (type == 6 || type == 3) {  // enhanced / simple packet
      captured_packet p;
      std::size_t data_at;
      std::uint32_t incl;
      std::uint32_t ifid = 0;
      if (type == 6) {
        c.need(at, 28, "enhanced packet block");
        ifid = c.u32(at + 8);
        std::uint64_t ticks = (std::uint64_t(c.u32(at + 12)) << 32) | c.u32(at + 16);
        incl = c.u32(at + 20);
        p.wire_length = c.u32(at + 24);
        data_at = at + 28;
        if (ifid >= ifaces.size())
          c.fail(at + 8, "packet names interface " + std::to_string(ifid) + " which was not described");
        p.ts_ns = std::int64_t(ticks) * ifaces[ifid].ns_per_tick;
      } else {
        c.need(at, 16, "simple packet block");
        p.wire_length = c.u32(at + 8);
        incl = std::min<std::uint32_t>(p.wire_length, len - 16);
        data_at = at + 12;
        if (ifaces.empty())
          c.fail(at, "simple packet block before any interface description");
      }
      if (data_at + incl > at + len)
        c.fail(at, "packet data longer than its block");
      if (ifaces[ifid].link != 1)
        c.fail(at, "link type " + std::to_string(ifaces[ifid].link) + " is not Ethernet (1)");
      p.data.assign(c.b.begin() + data_at, c.b.begin() + data_at + incl);
      out.push_back(std::move(p));
    }
    at += len;
  }
  return out;
}

}  // namespace

std::vector<captured_packet> read_pcap(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw pcap_error(path + ": cannot open");
  std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  cursor c{path, b};
  if (b.size() < 4)
    throw pcap_error(path + ": byte 0: too short to be a capture");
  std::uint32_t magic;
  std::memcpy(&magic, b.data(), 4);
  if (magic == 0x0a0d0d0a)
    return read_ng(c);
  if (magic == 0xa1b2c3d4 || magic == 0xd4c3b2a1 || magic == 0xa1b23c4d || magic == 0x4d3cb2a1)
    return read_classic(c);
  throw pcap_error(path + ": byte 0: not a pcap or pcapng file (bad magic)");
}

}  // namespace e3::services
