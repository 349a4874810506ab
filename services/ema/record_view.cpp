// Zero-copy record header reading and value rewriting.
#include "services/ema/record_view.hpp"

#include <cstring>

namespace e3::services::record_view {
namespace {

template <class T>
T load(bytes_view b, std::size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

}  // namespace

const char* read_head(bytes_view b, head& h) {
  if (b.size() < record_header_size)
    return "record truncated (shorter than its 40-byte header)";
  if (b[0] != 1)
    return "record version is not 1";
  auto nf = load<std::uint32_t>(b, 4);
  auto nt = load<std::uint32_t>(b, 32);
  auto na = load<std::uint32_t>(b, 36);
  if (nf > record_max_field || nt > record_max_field || na > record_max_field)
    return "record field length over the limit";
  if (b.size() != record_header_size + std::size_t(nf) * 8 + nt + na)
    return "record length does not match its header";
  h.op = b[1];
  h.n_features = nf;
  h.key = load<std::uint64_t>(b, 8);
  h.ts_ns = load<std::int64_t>(b, 16);
  h.value = load<double>(b, 24);
  h.features_end = record_header_size + std::size_t(nf) * 8;
  return nullptr;
}

void rewrite(bytes_view in, const head& h, double value, std::initializer_list<double> extra, bytes& out) {
  std::size_t add = extra.size() * 8;
  out.resize(in.size() + add);
  std::uint8_t* o = out.data();
  std::memcpy(o, in.data(), h.features_end);
  std::uint32_t nf = h.n_features + static_cast<std::uint32_t>(extra.size());
  std::memcpy(o + 4, &nf, 4);
  std::memcpy(o + 24, &value, 8);
  std::size_t at = h.features_end;
  for (double x : extra) {
    std::memcpy(o + at, &x, 8);
    at += 8;
  }
  std::memcpy(o + at, in.data() + h.features_end, in.size() - h.features_end);
}

}  // namespace e3::services::record_view
