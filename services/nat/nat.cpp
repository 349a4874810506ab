// NATv4 engine: classification, endpoint-independent mappings, in-place rewrite and checksums.
#include "services/nat/nat.hpp"

#include <bit>
#include <stdexcept>

#include "services/common/packet.hpp"

namespace e3::services::nat {
namespace {

constexpr std::uint32_t npos = 0xffffffffu;

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

/// One's-complement sum of 16-bit big-endian words (odd byte padded with zero), unfolded.
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += be16(p + i);
  if (n & 1)
    sum += std::uint32_t(p[n - 1]) << 8;
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return std::uint16_t(sum);
}

/// RFC 1624 eqn. 3: the checksum after 16-bit word `old_word` became `new_word`.
std::uint16_t adjust(std::uint16_t check, std::uint16_t old_word, std::uint16_t new_word) {
  std::uint32_t sum = std::uint32_t(std::uint16_t(~check)) + std::uint16_t(~old_word) + new_word;
  return std::uint16_t(~fold(sum));
}

std::uint64_t pack(std::uint8_t proto, std::uint32_t addr, std::uint16_t port) {
  return std::uint64_t(proto) << 48 | std::uint64_t(addr) << 16 | port;
}

void set_v4(std::uint8_t* mapped, std::uint32_t a) { put32(mapped + 12, a); }

std::uint64_t mix(std::uint64_t k) {
  k *= 0x9e3779b97f4a7c15ull;
  return k ^ (k >> 29);
}

/// Rewrites one address (at `addr_at`) and one port (at `port_at`) of the frame and fixes the
/// checksums: IPv4 header recomputed, TCP/UDP updated (or recomputed when `full`).
void rewrite(std::uint8_t* frame, std::size_t frame_size, const parsed_packet& p, std::size_t addr_off,
             std::size_t port_off, std::uint32_t new_addr, std::uint16_t new_port, bool full) {
  std::uint8_t* ip = frame + p.l3_offset;
  bool more_fragments = (ip[6] & 0x20) != 0;  // the segment continues in later fragments
  std::uint8_t* l4 = frame + p.l4_offset;
  std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
  std::uint32_t old_addr = be32(ip + addr_off);
  std::uint16_t old_port = be16(l4 + port_off);
  put32(ip + addr_off, new_addr);
  put16(l4 + port_off, new_port);
  put16(ip + 10, 0);
  put16(ip + 10, std::uint16_t(~fold(sum16(ip, ihl))));

  std::size_t check_off = p.tcp ? 16 : 6;
  std::uint16_t check = be16(l4 + check_off);
  if (p.udp && check == 0)
    return;  // UDP over IPv4 without a checksum
  std::size_t seg_len = p.ip_size - ihl;
  if (full && !more_fragments && p.l4_offset + seg_len <= frame_size) {
    put16(l4 + check_off, 0);
    std::uint32_t sum = sum16(ip + 12, 8) + p.tuple.proto + std::uint32_t(seg_len);
    check = std::uint16_t(~fold(sum16(l4, seg_len, sum)));
  } else {
    check = adjust(check, std::uint16_t(old_addr >> 16), std::uint16_t(new_addr >> 16));
    check = adjust(check, std::uint16_t(old_addr), std::uint16_t(new_addr));
    check = adjust(check, old_port, new_port);
  }
  if (p.udp && check == 0)
    check = 0xffff;
  put16(l4 + check_off, check);
}

}  // namespace

const char* to_string(reject_reason r) {
  switch (r) {
    case reject_reason::none: return "none";
    case reject_reason::not_ipv4: return "not an IPv4 frame";
    case reject_reason::truncated: return "TCP/UDP header cut short";
    case reject_reason::fragment: return "non-first IPv4 fragment";
    case reject_reason::protocol: return "outbound protocol not translated (only TCP/UDP)";
    case reject_reason::no_route: return "no route to destination";
    case reject_reason::no_mapping: return "no mapping for public address/port";
    case reject_reason::pool_exhausted: return "NAT pool exhausted";
    case reject_reason::count_: break;
  }
  return "?";
}

nat_engine::nat_engine(std::shared_ptr<const lpm_table> routes, nat_config cfg)
    : routes_(std::move(routes)), cfg_(std::move(cfg)) {
  if (!routes_)
    throw std::invalid_argument("nat_engine needs a routing table");
  if (cfg_.port_lo > cfg_.port_hi || cfg_.port_lo == 0)
    throw std::invalid_argument("bad NAT port range " + std::to_string(cfg_.port_lo) + "-" +
                                std::to_string(cfg_.port_hi));
  if (cfg_.pool.len > 32 || cfg_.pool.len < 10)
    throw std::invalid_argument("NAT pool " + to_string(cfg_.pool) + " is too large");
  pool_mask_ = cfg_.pool.len == 0 ? 0 : ~std::uint32_t(0) << (32 - cfg_.pool.len);
  ports_ = std::uint32_t(cfg_.port_hi) - cfg_.port_lo + 1;
  std::uint64_t addrs = std::uint64_t(1) << (32 - cfg_.pool.len);
  if (addrs * ports_ > (std::uint64_t(1) << 22))
    throw std::invalid_argument("NAT pool " + to_string(cfg_.pool) + " x ports " + std::to_string(ports_) +
                                " exceeds 2^22 address/port pairs");
  slots_.resize(addrs * ports_);
  std::uint64_t cap = std::bit_ceil(slots_.size() * 2);
  map_.assign(cap, entry{});
  map_mask_ = cap - 1;
  for (const auto& p : cfg_.inside)
    inside_.emplace_back(p.addr, p.len == 0 ? 0 : ~std::uint32_t(0) << (32 - p.len));
}

bool nat_engine::inside(std::uint32_t a) const {
  for (const auto& [net, mask] : inside_)
    if ((a & mask) == net)
      return true;
  return false;
}

std::uint32_t nat_engine::find(std::uint64_t key) const {
  for (std::uint64_t i = mix(key) & map_mask_;; i = (i + 1) & map_mask_) {
    if (map_[i].key == key)
      return std::uint32_t(map_[i].slot);
    if (map_[i].key == 0)
      return npos;
  }
}

void nat_engine::map_insert(std::uint64_t key, std::uint32_t slot_index) {
  std::uint64_t i = mix(key) & map_mask_;
  while (map_[i].key != 0)
    i = (i + 1) & map_mask_;
  map_[i] = entry{key, slot_index};
}

void nat_engine::map_erase(std::uint64_t key) {
  std::uint64_t i = mix(key) & map_mask_;
  while (map_[i].key != key) {
    if (map_[i].key == 0)
      return;
    i = (i + 1) & map_mask_;
  }
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  for (std::uint64_t j = (i + 1) & map_mask_;; j = (j + 1) & map_mask_) {
    if (map_[j].key == 0)
      break;
    std::uint64_t home = mix(map_[j].key) & map_mask_;
    // Move j into the hole at i when its home position is not in (i, j] cyclically.
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      map_[i] = map_[j];
      i = j;
    }
  }
  map_[i] = entry{};
}

std::uint32_t nat_engine::allocate(std::uint64_t key, std::int64_t now_ns) {
  // Round-robin over the pool; a slot held by an idle mapping is reclaimed. Bounded work per
  // packet: after max_probe busy slots the pool counts as exhausted for this packet.
  constexpr std::uint32_t max_probe = 256;
  auto n = std::uint32_t(slots_.size());
  for (std::uint32_t probe = 0; probe < max_probe && probe < n; ++probe) {
    std::uint32_t s = cursor_;
    cursor_ = cursor_ + 1 == n ? 0 : cursor_ + 1;
    slot& sl = slots_[s];
    if (sl.key != 0) {
      if (now_ns - sl.last_used <= cfg_.idle_timeout_ns)
        continue;
      map_erase(sl.key);
      --live_;
      ++stats_.mappings_reclaimed;
    }
    sl.key = key;
    sl.last_used = now_ns;
    map_insert(key, s);
    ++live_;
    ++stats_.mappings_created;
    return s;
  }
  return npos;
}

bool nat_engine::lookup_mapping(std::uint8_t proto, std::uint32_t inside_addr, std::uint16_t inside_port,
                                std::uint32_t& public_addr, std::uint16_t& public_port) const {
  std::uint32_t s = find(pack(proto, inside_addr, inside_port));
  if (s == npos)
    return false;
  public_addr = cfg_.pool.addr + s / ports_;
  public_port = std::uint16_t(cfg_.port_lo + s % ports_);
  return true;
}

result nat_engine::process(std::span<std::uint8_t> frame, std::int64_t now_ns) {
  auto refuse = [&](reject_reason why) {
    ++stats_.rejected[std::size_t(why)];
    return result{verdict::rejected, why, lpm_table::no_route, {}};
  };
  auto parsed = parse_frame(frame);
  if (!parsed || !parsed->ipv4)
    return refuse(reject_reason::not_ipv4);
  const parsed_packet& p = *parsed;
  const std::uint8_t* ip = frame.data() + p.l3_offset;
  bool later_fragment = (be16(ip + 6) & 0x1fff) != 0;
  std::uint8_t proto = p.tuple.proto;
  bool ported = proto == 6 || proto == 17;

  if ((p.dst4 & pool_mask_) == cfg_.pool.addr) {  // inbound to a public address
    if (later_fragment)
      return refuse(reject_reason::fragment);
    if (!ported)
      return refuse(reject_reason::no_mapping);
    if (!p.tcp && !p.udp)
      return refuse(reject_reason::truncated);
    std::uint16_t dport = p.tuple.dport;
    if (dport < cfg_.port_lo || dport > cfg_.port_hi)
      return refuse(reject_reason::no_mapping);
    std::uint32_t s = (p.dst4 - cfg_.pool.addr) * ports_ + (dport - cfg_.port_lo);
    slot& sl = slots_[s];
    if (sl.key == 0 || std::uint8_t(sl.key >> 48) != proto)
      return refuse(reject_reason::no_mapping);
    if (now_ns - sl.last_used > cfg_.idle_timeout_ns) {
      map_erase(sl.key);
      sl.key = 0;
      --live_;
      ++stats_.mappings_reclaimed;
      return refuse(reject_reason::no_mapping);
    }
    sl.last_used = now_ns;
    auto in_addr = std::uint32_t(sl.key >> 16);
    auto in_port = std::uint16_t(sl.key);
    rewrite(frame.data(), frame.size(), p, 16, 2, in_addr, in_port, cfg_.full_checksum);
    ++stats_.translated_in;
    result r{verdict::translated_in, reject_reason::none, lpm_table::no_route, p.tuple};
    set_v4(r.tuple.dst, in_addr);
    r.tuple.dport = in_port;
    return r;
  }

  bool dst_inside = inside(p.dst4);
  std::uint32_t route = dst_inside ? lpm_table::no_route : routes_->lookup(p.dst4);
  if (!dst_inside && route == lpm_table::no_route)
    return refuse(reject_reason::no_route);

  if (!dst_inside && inside(p.src4)) {  // outbound
    if (later_fragment)
      return refuse(reject_reason::fragment);
    if (!ported)
      return refuse(reject_reason::protocol);
    if (!p.tcp && !p.udp)
      return refuse(reject_reason::truncated);
    std::uint64_t key = pack(proto, p.src4, p.tuple.sport);
    std::uint32_t s = find(key);
    if (s == npos) {
      s = allocate(key, now_ns);
      if (s == npos)
        return refuse(reject_reason::pool_exhausted);
    }
    slots_[s].last_used = now_ns;
    std::uint32_t pub_addr = cfg_.pool.addr + s / ports_;
    auto pub_port = std::uint16_t(cfg_.port_lo + s % ports_);
    rewrite(frame.data(), frame.size(), p, 12, 0, pub_addr, pub_port, cfg_.full_checksum);
    ++stats_.translated_out;
    result r{verdict::translated_out, reject_reason::none, route, p.tuple};
    set_v4(r.tuple.src, pub_addr);
    r.tuple.sport = pub_port;
    return r;
  }

  ++stats_.forwarded;
  return {verdict::forwarded, reject_reason::none, route, p.tuple};
}

}  // namespace e3::services::nat
