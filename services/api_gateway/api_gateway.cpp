// API gateway tokens (HMAC-SHA256 on OpenSSL EVP_MAC) and the token-bucket rate limiter.
#include "services/api_gateway/api_gateway.hpp"

#include <algorithm>
#include <charconv>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace e3::services::api_gateway {
namespace {

/// Hex digit values; 0xff for anything else.
constexpr auto hex_table = [] {
  struct table {
    std::uint8_t v[256];
  } t{};
  for (auto& x : t.v)
    x = 0xff;
  for (int c = 0; c < 10; ++c)
    t.v['0' + c] = std::uint8_t(c);
  for (int c = 0; c < 6; ++c)
    t.v['a' + c] = t.v['A' + c] = std::uint8_t(10 + c);
  return t;
}();

}  // namespace

hmac_sha256::hmac_sha256(std::string_view key) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac)
    throw crypto_error("OpenSSL: HMAC is not available");
  ctx_ = EVP_MAC_CTX_new(mac);
  if (!ctx_)
    throw crypto_error("OpenSSL: cannot create an HMAC context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  static const unsigned char empty = 0;
  if (EVP_MAC_init(ctx_, key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    throw crypto_error("OpenSSL: HMAC-SHA256 init failed");
  }
}

hmac_sha256::~hmac_sha256() { EVP_MAC_CTX_free(ctx_); }

std::array<std::uint8_t, 32> hmac_sha256::mac(std::string_view data) {
  std::array<std::uint8_t, 32> md{};
  std::size_t n = 0;
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx_, md.data(), &n, md.size()) != 1 || n != 32)
    throw crypto_error("OpenSSL: HMAC-SHA256 failed");
  return md;
}

std::string make_token(std::string_view secret, std::string_view subject, std::int64_t expiry_ns) {
  if (subject.empty())
    throw std::invalid_argument("token subject is empty");
  if (subject.find_first_of(" \t\r\n\v\f") != std::string_view::npos)
    throw std::invalid_argument("token subject '" + std::string(subject) + "' contains whitespace");
  if (expiry_ns < 0)
    throw std::invalid_argument("token expiry " + std::to_string(expiry_ns) + " is negative");
  std::string t(subject);
  t += ':';
  t += std::to_string(expiry_ns);
  hmac_sha256 mac(secret);
  auto md = mac.mac(t);
  static const char digits[] = "0123456789abcdef";
  t += ':';
  for (auto b : md) {
    t += digits[b >> 4];
    t += digits[b & 15];
  }
  return t;
}

std::string_view to_string(token_status s) {
  switch (s) {
    case token_status::ok:
      return "ok";
    case token_status::malformed:
      return "malformed token";
    case token_status::bad_signature:
      return "bad token signature";
    case token_status::expired:
      return "token expired";
  }
  return "unknown token status";
}

token_check token_verifier::verify(std::string_view token, std::int64_t now_ns) {
  token_check r;
  // The signature is the last 64 characters, after a ':'.
  if (token.size() < 68 || token[token.size() - 65] != ':')
    return r;
  const std::size_t sig_colon = token.size() - 65;
  const std::size_t exp_colon = token.rfind(':', sig_colon - 1);
  if (exp_colon == std::string_view::npos || exp_colon == 0)
    return r;
  const char* sig = token.data() + sig_colon + 1;
  std::string_view exp = token.substr(exp_colon + 1, sig_colon - exp_colon - 1);
  if (exp.empty() || exp.size() > 19)
    return r;
  std::int64_t expiry = 0;
  auto [p, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), expiry);
  if (ec != std::errc() || p != exp.data() + exp.size() || exp[0] == '-' || exp[0] == '+')
    return r;
  std::uint8_t given[32];
  std::uint8_t bad = 0;
  for (std::size_t i = 0; i < 32; ++i) {
    std::uint8_t hi = hex_table.v[std::uint8_t(sig[2 * i])], lo = hex_table.v[std::uint8_t(sig[2 * i + 1])];
    bad |= std::uint8_t(hi | lo);
    given[i] = std::uint8_t(hi << 4 | lo);
  }
  if (bad & 0xf0)
    return r;
  auto md = mac_.mac(token.substr(0, sig_colon));
  r.expiry_ns = expiry;
  if (CRYPTO_memcmp(md.data(), given, 32) != 0) {
    r.status = token_status::bad_signature;
    return r;
  }
  if (now_ns >= expiry) {
    r.status = token_status::expired;
    return r;
  }
  r.status = token_status::ok;
  r.subject = token.substr(0, exp_colon);
  return r;
}

bool take(bucket& b, std::int64_t now_ns, const limiter_config& c) {
  if (now_ns > b.last_ns) {
    b.level_nt = std::min(c.burst * 1e9, b.level_nt + double(now_ns - b.last_ns) * c.rate);
    b.last_ns = now_ns;
  }
  if (b.level_nt >= 1e9) {
    b.level_nt -= 1e9;
    return true;
  }
  return false;
}

bool rate_limiter::allow(std::string_view subject, std::int64_t now_ns) {
  key_.assign(subject);
  auto it = buckets_.find(key_);
  if (it == buckets_.end())
    it = buckets_.emplace(key_, entry{bucket{cfg_.burst * 1e9, now_ns}, false}).first;
  if (!it->second.dirty) {
    it->second.dirty = true;
    dirty_.push_back(&*it);
  }
  return take(it->second.b, now_ns, cfg_);
}

void rate_limiter::clear_dirty() {
  for (element* e : dirty_)
    e->second.dirty = false;
  dirty_.clear();
}

bool rate_limiter::full_at(const bucket& b, std::int64_t now_ns) const {
  double level = b.level_nt;
  if (now_ns > b.last_ns)
    level = std::min(cfg_.burst * 1e9, level + double(now_ns - b.last_ns) * cfg_.rate);
  return level >= cfg_.burst * 1e9;
}

}  // namespace e3::services::api_gateway
