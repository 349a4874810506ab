// KVS request parsing and reply building, without allocations on the request path.
#include "services/kvs/kvs.hpp"

#include <charconv>
#include <cstring>

#include "services/common/record.hpp"

namespace e3::services::kvs {
namespace {

template <class T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
std::uint8_t* store(std::uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
  return p + sizeof(T);
}

}  // namespace

std::string_view status_name(std::uint8_t status) {
  switch (status) {
    case status_hit:
      return "HIT";
    case status_miss:
      return "MISS";
    case status_stored:
      return "STORED";
    case status_deleted:
      return "DELETED";
    case status_not_found:
      return "NOT_FOUND";
    default:
      return "?";
  }
}

bool parse_record(bytes_view b, record_view& out, std::string& error) {
  if (b.size() < record_header_size) {
    error = "record truncated: " + std::to_string(b.size()) + " bytes, header needs " +
            std::to_string(record_header_size);
    return false;
  }
  const std::uint8_t* p = b.data();
  if (p[0] != 1) {
    error = "record version " + std::to_string(p[0]) + " at byte 0, expected 1";
    return false;
  }
  auto nf = load<std::uint32_t>(p + 4);
  auto nt = load<std::uint32_t>(p + 32);
  auto na = load<std::uint32_t>(p + 36);
  if (nf > record_max_field || nt > record_max_field || na > record_max_field) {
    error = "record field too long at byte 4..39 (features " + std::to_string(nf) + ", text " +
            std::to_string(nt) + ", aux " + std::to_string(na) + ")";
    return false;
  }
  std::size_t want = record_header_size + std::size_t(nf) * 8 + nt + na;
  if (b.size() != want) {
    error = "record length " + std::to_string(b.size()) + " does not match its header (" + std::to_string(want) +
            " bytes)";
    return false;
  }
  out.op = p[1];
  out.features = nf;
  out.key = load<std::uint64_t>(p + 8);
  out.ts_ns = load<std::int64_t>(p + 16);
  out.value = load<double>(p + 24);
  const char* text = reinterpret_cast<const char*>(p + record_header_size + std::size_t(nf) * 8);
  out.text = {text, nt};
  out.aux = {text + nt, na};
  return true;
}

std::string_view request_key(const record_view& r, key_buffer& buf) {
  if (!r.text.empty())
    return r.text;
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), r.key);
  (void)ec;  // 20 digits always fit
  return {buf, std::size_t(end - buf)};
}

bytes make_request(std::uint8_t op, std::string_view key, std::string_view value) {
  record r;
  r.op = op;
  r.text.assign(key);
  r.aux.assign(value);
  return encode(r);
}

void write_reply(bytes& out, std::uint8_t status, std::uint64_t key, std::int64_t ts_ns, double value,
                 std::string_view aux) {
  out.resize(record_header_size + aux.size());
  std::uint8_t* p = out.data();
  p = store<std::uint8_t>(p, 1);
  p = store<std::uint8_t>(p, status);
  p = store<std::uint16_t>(p, 0);
  p = store<std::uint32_t>(p, 0);
  p = store<std::uint64_t>(p, key);
  p = store<std::int64_t>(p, ts_ns);
  p = store<double>(p, value);
  p = store<std::uint32_t>(p, 0);
  p = store<std::uint32_t>(p, static_cast<std::uint32_t>(aux.size()));
  if (!aux.empty())
    std::memcpy(p, aux.data(), aux.size());
}

reply parse_reply(bytes_view b) {
  auto r = decode_record(b);
  return {r.op, r.value, std::move(r.aux)};
}

}  // namespace e3::services::kvs
