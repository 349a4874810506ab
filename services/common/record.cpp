// Record encoding and strict decoding.
#include "services/common/record.hpp"

#include <cstring>

namespace e3::services {
namespace {

template <class T>
void put(bytes& out, T v) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, cnMIPS in LE mode)
  out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T get(bytes_view b, std::size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

}  // namespace

void encode(const record& r, bytes& out) {
  out.reserve(out.size() + record_header_size + r.features.size() * 8 + r.text.size() + r.aux.size());
  put<std::uint8_t>(out, 1);
  put<std::uint8_t>(out, r.op);
  put<std::uint16_t>(out, 0);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(r.features.size()));
  put<std::uint64_t>(out, r.key);
  put<std::int64_t>(out, r.ts_ns);
  put<double>(out, r.value);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(r.text.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(r.aux.size()));
  for (double f : r.features)
    put<double>(out, f);
  out.insert(out.end(), r.text.begin(), r.text.end());
  out.insert(out.end(), r.aux.begin(), r.aux.end());
}

bytes encode(const record& r) {
  bytes out;
  encode(r, out);
  return out;
}

record decode_record(bytes_view b) {
  if (b.size() < record_header_size)
    throw record_error("record truncated: " + std::to_string(b.size()) + " bytes, header needs " +
                       std::to_string(record_header_size));
  if (b[0] != 1)
    throw record_error("record version " + std::to_string(b[0]) + " at byte 0, expected 1");
  record r;
  r.op = b[1];
  auto nf = get<std::uint32_t>(b, 4);
  r.key = get<std::uint64_t>(b, 8);
  r.ts_ns = get<std::int64_t>(b, 16);
  r.value = get<double>(b, 24);
  auto nt = get<std::uint32_t>(b, 32);
  auto na = get<std::uint32_t>(b, 36);
  if (nf > record_max_field || nt > record_max_field || na > record_max_field)
    throw record_error("record field too long at byte 4..39 (features " + std::to_string(nf) + ", text " +
                       std::to_string(nt) + ", aux " + std::to_string(na) + ")");
  std::size_t want = record_header_size + std::size_t(nf) * 8 + nt + na;
  if (b.size() != want)
    throw record_error("record length " + std::to_string(b.size()) + " does not match its header (" +
                       std::to_string(want) + " bytes)");
  std::size_t at = record_header_size;
  r.features.resize(nf);
  for (std::uint32_t i = 0; i < nf; ++i, at += 8)
    r.features[i] = get<double>(b, at);
  r.text.assign(reinterpret_cast<const char*>(b.data() + at), nt);
  at += nt;
  r.aux.assign(reinterpret_cast<const char*>(b.data() + at), na);
  return r;
}

bool read_record_fields(bytes_view b, record_fields& f, std::string& error) {
  if (b.size() < record_header_size) {
    error = "record truncated: " + std::to_string(b.size()) + " bytes, header needs " +
            std::to_string(record_header_size);
    return false;
  }
  if (b[0] != 1) {
    error = "record version " + std::to_string(b[0]) + " at byte 0, expected 1";
    return false;
  }
  auto nf = get<std::uint32_t>(b, 4);
  auto nt = get<std::uint32_t>(b, 32);
  auto na = get<std::uint32_t>(b, 36);
  if (nf > record_max_field || nt > record_max_field || na > record_max_field) {
    error = "record field too long at byte 4..39";
    return false;
  }
  if (b.size() != record_header_size + std::size_t(nf) * 8 + nt + na) {
    error = "record length " + std::to_string(b.size()) + " does not match its header";
    return false;
  }
  f.op = b[1];
  f.key = get<std::uint64_t>(b, 8);
  f.ts_ns = get<std::int64_t>(b, 16);
  f.value = get<double>(b, 24);
  f.text = {reinterpret_cast<const char*>(b.data() + record_header_size + std::size_t(nf) * 8), nt};
  return true;
}

bytes synthetic_record(std::size_t size, std::mt19937_64& rng) {
  record r;
  r.key = rng() % (1u << 20);
  r.ts_ns = std::int64_t(rng() % 1000000000);
  r.value = double(rng() % 100000) / 100.0;
  std::size_t text = size > record_header_size ? size - record_header_size : 0;
  r.text.resize(text);
  for (auto& ch : r.text)
    ch = char('a' + rng() % 26);
  return encode(r);
}

}  // namespace e3::services
