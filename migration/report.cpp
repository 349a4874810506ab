// Kind ids, the heartbeat codec and the heartbeat summary of a full report.
#include "migration/report.hpp"

#include <cmath>

#include "topology/service_profile.hpp"

namespace e3::mig {

kind_id kind_of(std::string_view kind) {
  const auto& ps = topo::service_profiles();
  for (std::size_t i = 0; i < ps.size(); ++i)
    if (ps[i].kind == kind)
      return kind_id(i);
  return no_kind;
}

std::string_view kind_name(kind_id k) {
  const auto& ps = topo::service_profiles();
  return k < ps.size() ? std::string_view(ps[k].kind) : std::string_view("?");
}

std::string_view to_string(heartbeat_error e) {
  switch (e) {
    case heartbeat_error::ok: return "ok";
    case heartbeat_error::bad_length: return "bad length";
    case heartbeat_error::bad_version: return "bad version";
    case heartbeat_error::bad_field: return "bad field";
  }
  return "?";
}

std::uint8_t to_half_percent(double x) {
  if (!(x > 0))  // also NaN
    return 0;
  double q = std::floor(x * 200.0);
  return q >= half_percent_max ? half_percent_max : std::uint8_t(q);
}

std::uint16_t to_slowdown_milli(double exec_us, double ema_us) {
  if (!(ema_us > 0) || !(exec_us >= 0))
    return 0;
  double q = std::floor(exec_us * 1000.0 / ema_us);
  if (q >= 65535.0)
    return 65535;
  return q < 1.0 ? 1 : std::uint16_t(q);
}

namespace {

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v);
  p[1] = std::uint8_t(v >> 8);
}

void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = std::uint8_t(v >> (8 * i));
}

std::uint16_t get16(const std::uint8_t* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

// The first problem of a 16-byte heartbeat, with its byte offset; offset -1 when none.
struct field_problem {
  int offset = -1;
  std::string what;
};

// Checks the field ranges of a decoded heartbeat (the byte offsets are the layout's).
template <bool with_text>
bool fields_valid(const heartbeat& h, field_problem* why) {
  auto fail = [&](int off, const char* text, unsigned value) {
    if constexpr (with_text) {
      why->offset = off;
      why->what = std::string(text) + " (" + std::to_string(value) + ")";
    }
    return false;
  };
  if (h.link_use > half_percent_max)
    return fail(10, "link use above 200 half-percent steps", h.link_use);
  if (h.utilisation > half_percent_max)
    return fail(11, "utilisation above 200 half-percent steps", h.utilisation);
  if (h.hottest != no_slot && h.hottest >= h.services)
    return fail(14, "hottest slot not below the services count", h.hottest);
  if (h.second != no_slot) {
    if (h.hottest == no_slot)
      return fail(15, "second slot set without a hottest slot", h.second);
    if (h.second >= h.services)
      return fail(15, "second slot not below the services count", h.second);
    if (h.second == h.hottest)
      return fail(15, "second slot equals the hottest slot", h.second);
  }
  return true;
}

heartbeat unpack(const std::uint8_t* p) {
  heartbeat h;
  h.services = p[1];
  h.seq = get16(p + 2);
  h.node = get32(p + 4);
  h.tm_queue = get16(p + 8);
  h.link_use = p[10];
  h.utilisation = p[11];
  h.worst_slowdown = get16(p + 12);
  h.hottest = p[14];
  h.second = p[15];
  return h;
}

}  // namespace

std::array<std::uint8_t, heartbeat_size> encode_heartbeat(const heartbeat& hb) {
  std::array<std::uint8_t, heartbeat_size> b{};
  b[0] = heartbeat_version;
  b[1] = hb.services;
  put16(&b[2], hb.seq);
  put32(&b[4], hb.node);
  put16(&b[8], hb.tm_queue);
  b[10] = hb.link_use;
  b[11] = hb.utilisation;
  put16(&b[12], hb.worst_slowdown);
  b[14] = hb.hottest;
  b[15] = hb.second;
  return b;
}

heartbeat_error decode_heartbeat(std::span<const std::uint8_t> bytes, heartbeat& out) {
  if (bytes.size() != heartbeat_size)
    return heartbeat_error::bad_length;
  if (bytes[0] != heartbeat_version)
    return heartbeat_error::bad_version;
  out = unpack(bytes.data());
  return fields_valid<false>(out, nullptr) ? heartbeat_error::ok : heartbeat_error::bad_field;
}

std::string describe_heartbeat_error(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != heartbeat_size)
    return "heartbeat: " + std::to_string(bytes.size()) + " bytes, expected " + std::to_string(heartbeat_size);
  if (bytes[0] != heartbeat_version)
    return "heartbeat byte 0: version " + std::to_string(bytes[0]) + ", expected " +
           std::to_string(heartbeat_version);
  field_problem why;
  if (!fields_valid<true>(unpack(bytes.data()), &why))
    return "heartbeat byte " + std::to_string(why.offset) + ": " + why.what;
  return "ok";
}

heartbeat summarise(const node_report& r, std::uint16_t seq, std::uint32_t min_requests) {
  heartbeat h;
  h.seq = seq;
  h.node = r.node;
  h.services = std::uint8_t(std::min<std::size_t>(r.instances.size(), 255));
  h.tm_queue = std::uint16_t(std::min<std::uint32_t>(r.tm_queue, 65535));
  h.link_use = r.capacity_gbps > 0 ? to_half_percent(std::max(r.link_in_gbps, r.link_out_gbps) / r.capacity_gbps)
                                   : std::uint8_t(0);
  h.utilisation = to_half_percent(r.utilisation);
  // A slot is the rank of the instance id among the node's instance ids.
  auto slot_of = [&](std::uint32_t id) {
    std::size_t rank = 0;
    for (const auto& o : r.instances)
      rank += o.instance < id;
    return rank;
  };
  long best = -1, next = -1;  // indices into r.instances, by (cpu share desc, id asc)
  auto before = [&](std::size_t a, std::size_t b) {
    const auto &x = r.instances[a], &y = r.instances[b];
    return x.cpu_share > y.cpu_share || (x.cpu_share == y.cpu_share && x.instance < y.instance);
  };
  for (std::size_t i = 0; i < r.instances.size(); ++i) {
    const auto& s = r.instances[i];
    if (s.requests >= min_requests && s.ema_exec_us > 0)
      h.worst_slowdown = std::max(h.worst_slowdown, to_slowdown_milli(s.exec_us, s.ema_exec_us));
    if (slot_of(s.instance) >= 255)
      continue;
    if (best < 0 || before(i, std::size_t(best))) {
      next = best;
      best = long(i);
    } else if (next < 0 || before(i, std::size_t(next))) {
      next = long(i);
    }
  }
  if (best >= 0)
    h.hottest = std::uint8_t(slot_of(r.instances[std::size_t(best)].instance));
  if (next >= 0)
    h.second = std::uint8_t(slot_of(r.instances[std::size_t(next)].instance));
  return h;
}

}  // namespace e3::mig
