// Envelope encoding and strict decoding.
#include "actors/wire.hpp"

#include <cstring>
#include <stdexcept>

namespace e3::wire {
namespace {

template <class T>
void put(std::vector<std::uint8_t>& out, T v) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T get(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::optional<frame> reject(decode_error e, decode_error* why, decode_stats* stats) {
  if (why)
    *why = e;
  if (stats)
    stats->rejected[std::size_t(e)].fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(decode_error e) {
  switch (e) {
    case decode_error::truncated: return "truncated";
    case decode_error::bad_magic: return "bad magic";
    case decode_error::bad_version: return "bad version";
    case decode_error::bad_type: return "bad type";
    case decode_error::bad_header_length: return "bad header length";
    case decode_error::bad_payload_length: return "bad payload length";
    case decode_error::too_many_hops: return "too many hops";
    case decode_error::oversized: return "oversized";
    case decode_error::bad_reserved: return "bad reserved field";
  }
  return "?";
}

std::uint64_t decode_stats::total() const {
  std::uint64_t n = 0;
  for (const auto& r : rejected)
    n += r.load(std::memory_order_relaxed);
  return n;
}

std::optional<frame> decode(std::span<const std::uint8_t> b, decode_error* why, decode_stats* stats) {
  if (b.size() < fixed_header_bytes)
    return reject(decode_error::truncated, why, stats);
  const std::uint8_t* p = b.data();
  if (get<std::uint32_t>(p) != magic)
    return reject(decode_error::bad_magic, why, stats);
  if (p[4] != version)
    return reject(decode_error::bad_version, why, stats);
  std::uint8_t type = p[5];
  if (type < std::uint8_t(frame_type::request) || type > std::uint8_t(frame_type::control))
    return reject(decode_error::bad_type, why, stats);
  std::size_t hops = p[6];
  if (hops > max_hops)
    return reject(decode_error::too_many_hops, why, stats);
  std::size_t header_bytes = get<std::uint16_t>(p + 8);
  if (header_bytes != fixed_header_bytes + hops * hop_bytes)
    return reject(decode_error::bad_header_length, why, stats);
  if (get<std::uint16_t>(p + 10) != 0)
    return reject(decode_error::bad_reserved, why, stats);
  std::size_t payload_bytes = get<std::uint32_t>(p + 12);
  if (payload_bytes > max_payload_bytes)
    return reject(decode_error::oversized, why, stats);
  if (b.size() < header_bytes)
    return reject(decode_error::truncated, why, stats);
  if (b.size() != header_bytes + payload_bytes)
    return reject(b.size() < header_bytes + payload_bytes ? decode_error::truncated : decode_error::bad_payload_length,
                  why, stats);
  frame f;
  auto& h = f.h;
  h.type = frame_type(type);
  h.flags = p[7];
  h.app = get<std::uint32_t>(p + 16);
  h.dag_node = get<std::uint32_t>(p + 20);
  h.src_node = get<std::uint32_t>(p + 24);
  h.src_instance = get<std::uint32_t>(p + 28);
  h.request_id = get<std::uint64_t>(p + 32);
  h.key = get<std::uint64_t>(p + 40);
  h.credit = get<std::uint64_t>(p + 48);
  h.client_sent_ns = get<std::int64_t>(p + 56);
  h.sent_ns = get<std::int64_t>(p + 64);
  h.hops.resize(hops);
  for (std::size_t i = 0; i < hops; ++i) {
    const std::uint8_t* q = p + fixed_header_bytes + i * hop_bytes;
    h.hops[i] = {get<std::uint32_t>(q), get<std::uint32_t>(q + 4), get<std::int64_t>(q + 8)};
  }
  f.payload = b.subspan(header_bytes, payload_bytes);
  return f;
}

void encode(const header& h, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out) {
  if (h.hops.size() > max_hops)
    throw std::length_error("envelope: " + std::to_string(h.hops.size()) + " hops, at most " +
                            std::to_string(max_hops));
  if (payload.size() > max_payload_bytes)
    throw std::length_error("envelope: payload of " + std::to_string(payload.size()) + " bytes, at most " +
                            std::to_string(max_payload_bytes));
  out.reserve(out.size() + fixed_header_bytes + h.hops.size() * hop_bytes + payload.size());
  put<std::uint32_t>(out, magic);
  put<std::uint8_t>(out, version);
  put<std::uint8_t>(out, std::uint8_t(h.type));
  put<std::uint8_t>(out, std::uint8_t(h.hops.size()));
  put<std::uint8_t>(out, h.flags);
  put<std::uint16_t>(out, std::uint16_t(fixed_header_bytes + h.hops.size() * hop_bytes));
  put<std::uint16_t>(out, 0);
  put<std::uint32_t>(out, std::uint32_t(payload.size()));
  put<std::uint32_t>(out, h.app);
  put<std::uint32_t>(out, h.dag_node);
  put<std::uint32_t>(out, h.src_node);
  put<std::uint32_t>(out, h.src_instance);
  put<std::uint64_t>(out, h.request_id);
  put<std::uint64_t>(out, h.key);
  put<std::uint64_t>(out, h.credit);
  put<std::int64_t>(out, h.client_sent_ns);
  put<std::int64_t>(out, h.sent_ns);
  for (const auto& x : h.hops) {
    put<std::uint32_t>(out, x.node);
    put<std::uint32_t>(out, x.instance);
    put<std::int64_t>(out, x.done_ns);
  }
  out.insert(out.end(), payload.begin(), payload.end());
}

}  // namespace e3::wire
