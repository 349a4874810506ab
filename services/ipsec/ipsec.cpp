// ESP tunnel encapsulation/decapsulation and the crypto primitives it is built from (OpenSSL EVP).
#include "services/ipsec/ipsec.hpp"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>


namespace e3::services::ipsec {
namespace {

const EVP_CIPHER* aes_cipher() {
  static const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  if (!c)
    throw crypto_error("OpenSSL: AES-128-CBC is not available");
  return c;
}

const EVP_MD* sha1_md() {
  static const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  if (!m)
    throw crypto_error("OpenSSL: SHA1 is not available");
  return m;
}

EVP_MAC_CTX* new_hmac_sha1(byte_view key) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac)
    throw crypto_error("OpenSSL: HMAC is not available");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (!ctx)
    throw crypto_error("OpenSSL: cannot create an HMAC context");
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  static const std::uint8_t empty = 0;
  if (EVP_MAC_init(ctx, key.empty() ? &empty : key.data(), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    throw crypto_error("OpenSSL: HMAC-SHA1 init failed");
  }
  return ctx;
}

EVP_CIPHER_CTX* new_cipher_ctx() {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (!c)
    throw crypto_error("OpenSSL: cannot create a cipher context");
  return c;
}

bool cbc(EVP_CIPHER_CTX* ctx, bool encrypt, std::span<const std::uint8_t, 16> key, std::span<const std::uint8_t, 16> iv,
         byte_view in, std::uint8_t* out) {
  if (in.size() % 16)
    return false;
  if (EVP_CipherInit_ex(ctx, aes_cipher(), nullptr, key.data(), iv.data(), encrypt ? 1 : 0) != 1)
    return false;
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  int n = 0;
  if (!in.empty() && (EVP_CipherUpdate(ctx, out, &n, in.data(), int(in.size())) != 1 || std::size_t(n) != in.size()))
    return false;
  return true;
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v >> 8);
  p[1] = std::uint8_t(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, std::uint16_t(v >> 16));
  put16(p + 2, std::uint16_t(v));
}
std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

constexpr std::uint8_t zero_iv[16] = {};

/// Where the IP packet of an Ethernet frame starts and how long it says it is: the part of
/// parse_frame that encapsulation needs (no transport parsing, no tuple), for speed.
struct ip_location {
  std::size_t l3 = 0;        ///< offset of the IP header
  std::size_t len = 0;       ///< IP datagram length per its header
  std::size_t hdr = 0;       ///< IPv4 header length (IPv6: 40)
  bool ipv4 = false;         ///< else IPv6
  std::uint8_t proto = 0;    ///< IPv4 protocol (IPv6: next header)
  bool fragment = false;     ///< IPv4 fragment (MF set or non-zero offset)
};

std::optional<ip_location> locate_ip(byte_view f) {
  const std::size_t n = f.size();
  if (n < 14)
    return std::nullopt;
  std::size_t off = 12;
  std::uint16_t type = std::uint16_t(f[off] << 8 | f[off + 1]);
  for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; ++tags) {
    if (n < off + 6)
      return std::nullopt;
    off += 4;
    type = std::uint16_t(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  if (type == 0x0800) {
    if (n < off + 20 || (f[off] >> 4) != 4)
      return std::nullopt;
    std::size_t ihl = std::size_t(f[off] & 0x0f) * 4, total = std::size_t(f[off + 2] << 8 | f[off + 3]);
    if (ihl < 20 || total < ihl || n < off + ihl)
      return std::nullopt;
    return ip_location{off, total, ihl, true, f[off + 9], (std::uint16_t(f[off + 6] << 8 | f[off + 7]) & 0x3fff) != 0};
  }
  if (type == 0x86dd) {
    if (n < off + 40 || (f[off] >> 4) != 6)
      return std::nullopt;
    return ip_location{off, 40 + std::size_t(f[off + 4] << 8 | f[off + 5]), 40, false, f[off + 6], false};
  }
  return std::nullopt;
}

}  // namespace

aes128_cbc::aes128_cbc() : enc_(new_cipher_ctx()), dec_(nullptr) {
  try {
    dec_ = new_cipher_ctx();
  } catch (...) {
    EVP_CIPHER_CTX_free(enc_);
    throw;
  }
}

aes128_cbc::~aes128_cbc() {
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

bool aes128_cbc::encrypt(std::span<const std::uint8_t, 16> key, std::span<const std::uint8_t, 16> iv, byte_view in,
                         std::uint8_t* out) {
  return cbc(enc_, true, key, iv, in, out);
}

bool aes128_cbc::decrypt(std::span<const std::uint8_t, 16> key, std::span<const std::uint8_t, 16> iv, byte_view in,
                         std::uint8_t* out) {
  return cbc(dec_, false, key, iv, in, out);
}

sha1::sha1() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_)
    throw crypto_error("OpenSSL: cannot create a digest context");
}

sha1::~sha1() { EVP_MD_CTX_free(ctx_); }

std::array<std::uint8_t, 20> sha1::digest(byte_view data) {
  std::array<std::uint8_t, 20> md{};
  unsigned n = 0;
  if (EVP_DigestInit_ex(ctx_, sha1_md(), nullptr) != 1 || EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, md.data(), &n) != 1 || n != 20)
    throw crypto_error("OpenSSL: SHA-1 failed");
  return md;
}

hmac_sha1::hmac_sha1(byte_view key) : ctx_(new_hmac_sha1(key)) {}

hmac_sha1::~hmac_sha1() { EVP_MAC_CTX_free(ctx_); }

void hmac_sha1::set_key(byte_view key) {
  static const std::uint8_t empty = 0;
  if (EVP_MAC_init(ctx_, key.empty() ? &empty : key.data(), key.size(), nullptr) != 1)
    throw crypto_error("OpenSSL: HMAC-SHA1 key setup failed");
}

std::array<std::uint8_t, 20> hmac_sha1::mac(byte_view data) {
  std::array<std::uint8_t, 20> md{};
  std::size_t n = 0;
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 || EVP_MAC_update(ctx_, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx_, md.data(), &n, md.size()) != 1 || n != 20)
    throw crypto_error("OpenSSL: HMAC-SHA1 failed");
  return md;
}

sa_config default_sa() {
  sa_config sa;
  for (std::size_t i = 0; i < sa.enc_key.size(); ++i)
    sa.enc_key[i] = std::uint8_t(0xe3 ^ i);
  for (std::size_t i = 0; i < sa.auth_key.size(); ++i)
    sa.auth_key[i] = std::uint8_t(0x3e + 7 * i);
  return sa;
}

std::optional<byte_buffer> from_hex(std::string_view hex) {
  if (hex.size() % 2)
    return std::nullopt;
  byte_buffer out(hex.size() / 2);
  auto v = [](char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = v(hex[2 * i]), lo = v(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out[i] = std::uint8_t(hi << 4 | lo);
  }
  return out;
}

std::string to_hex(byte_view b) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

esp_tunnel::esp_tunnel(const sa_config& sa, std::uint64_t salt)
    : sa_(sa), salt_(salt), enc_(new_cipher_ctx()), dec_(nullptr), mac_(nullptr) {
  try {
    dec_ = new_cipher_ctx();
    mac_ = new_hmac_sha1(sa_.auth_key);
    if (EVP_EncryptInit_ex(enc_, aes_cipher(), nullptr, sa_.enc_key.data(), zero_iv) != 1 ||
        EVP_DecryptInit_ex(dec_, aes_cipher(), nullptr, sa_.enc_key.data(), zero_iv) != 1)
      throw crypto_error("OpenSSL: AES-128-CBC key setup failed");
    EVP_CIPHER_CTX_set_padding(enc_, 0);
    EVP_CIPHER_CTX_set_padding(dec_, 0);
    chain_.fill(0);
    // Outer IPv4 header fields that never change: version/IHL, TTL, protocol, addresses.
    outer_template_.fill(0);
    outer_template_[0] = 0x45;
    outer_template_[8] = 64;
    outer_template_[9] = 50;  // ESP
    put32(outer_template_.data() + 12, sa_.tunnel_src);
    put32(outer_template_.data() + 16, sa_.tunnel_dst);
    outer_sum_ = 0;
    for (int i = 0; i < 20; i += 2)
      outer_sum_ += std::uint32_t(outer_template_[i] << 8 | outer_template_[i + 1]);
  } catch (...) {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
    EVP_MAC_CTX_free(mac_);
    throw;
  }
}

esp_tunnel::~esp_tunnel() {
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
  EVP_MAC_CTX_free(mac_);
}

void esp_tunnel::reset_encrypt_chain() {
  EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, zero_iv);
  chain_.fill(0);
}

std::string_view esp_tunnel::encapsulate(byte_view frame, byte_buffer& out) {
  auto p = locate_ip(frame);
  if (!p)
    return "not an IPv4/IPv6 Ethernet frame";
  const std::size_t l3 = p->l3;
  const std::size_t ip_len = p->len;
  if (l3 + ip_len > frame.size())
    return "IP length exceeds the frame (truncated)";
  if (seq_ == UINT32_MAX)
    return "ESP sequence numbers exhausted: the SA must be re-keyed";
  const std::size_t pad = (16 - (ip_len + 2) % 16) % 16;
  const std::size_t pt_len = ip_len + pad + 2;
  const std::size_t esp_len = esp_header_size + esp_iv_size + pt_len + esp_icv_size;
  const std::size_t outer_len = outer_ipv4_size + esp_len;
  if (outer_len > 65535)
    return "ESP packet would exceed 65535 bytes";
  const std::uint32_t seq = seq_ + 1;

  out.resize(l3 + outer_len);
  std::uint8_t* o = out.data();
  std::memcpy(o, frame.data(), l3);
  o[l3 - 2] = 0x08;
  o[l3 - 1] = 0x00;
  std::uint8_t* ip = o + l3;
  // The outer header: constant fields precomputed, checksum finished incrementally.
  std::memcpy(ip, outer_template_.data(), outer_ipv4_size);
  const std::uint8_t tos = p->ipv4 ? frame[l3 + 1] : 0;  // copy the DS field
  ip[1] = tos;
  put16(ip + 2, std::uint16_t(outer_len));
  put16(ip + 4, std::uint16_t(seq));
  std::uint32_t sum = outer_sum_ + tos + std::uint32_t(outer_len) + (seq & 0xffff);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, std::uint16_t(~sum));

  std::uint8_t* esp = ip + outer_ipv4_size;
  put32(esp, sa_.spi);
  put32(esp + 4, seq);
  std::uint8_t* iv = esp + esp_header_size;
  std::uint8_t nonce[16];
  std::memcpy(nonce, &salt_, 8);
  put32(nonce + 8, 0);
  put32(nonce + 12, seq);
  // The context's CBC chain holds the previous packet's last ciphertext block (chain_):
  // encrypting nonce ^ chain_ as the first block yields AES_K(nonce), the packet's IV, and
  // chains the payload from it, without re-initialising the context per packet.
  std::uint64_t a[2], b[2];
  std::memcpy(a, nonce, 16);
  std::memcpy(b, chain_.data(), 16);
  a[0] ^= b[0];
  a[1] ^= b[1];
  std::memcpy(iv, a, 16);
  std::uint8_t* pt = iv + esp_iv_size;
  std::memcpy(pt, frame.data() + l3, ip_len);
  for (std::size_t i = 0; i < pad; ++i)
    pt[ip_len + i] = std::uint8_t(i + 1);
  pt[ip_len + pad] = std::uint8_t(pad);
  pt[ip_len + pad + 1] = p->ipv4 ? 4 : 41;

  int n = 0;
  if (EVP_EncryptUpdate(enc_, iv, &n, iv, int(esp_iv_size + pt_len)) != 1 || std::size_t(n) != esp_iv_size + pt_len) {
    reset_encrypt_chain();
    return "OpenSSL AES-128-CBC encryption failed";
  }
  std::memcpy(chain_.data(), pt + pt_len - 16, 16);
  std::uint8_t md[EVP_MAX_MD_SIZE];
  std::size_t md_len = 0;
  const std::size_t auth_len = esp_header_size + esp_iv_size + pt_len;
  if (EVP_MAC_init(mac_, nullptr, 0, nullptr) != 1 || EVP_MAC_update(mac_, esp, auth_len) != 1 ||
      EVP_MAC_final(mac_, md, &md_len, sizeof md) != 1 || md_len != 20)
    return "OpenSSL HMAC-SHA1 failed";
  std::memcpy(esp + auth_len, md, esp_icv_size);
  seq_ = seq;
  return {};
}

std::string_view esp_tunnel::decapsulate(byte_view frame, byte_buffer& out) {
  auto p = locate_ip(frame);
  if (!p || !p->ipv4 || p->proto != 50)
    return "not an IPv4 ESP frame";
  if (p->fragment)
    return "fragmented ESP packet (reassembly is not supported)";
  const std::size_t l3 = p->l3;
  if (l3 + p->len > frame.size())
    return "IP length exceeds the frame (truncated)";
  const std::size_t esp_off = l3 + p->hdr;
  const std::size_t esp_len = l3 + p->len - esp_off;
  const std::size_t overhead = esp_header_size + esp_iv_size + esp_icv_size;
  if (p->len < p->hdr + overhead + 16 || (esp_len - overhead) % 16)
    return "ESP payload length is not a whole number of AES blocks";
  const std::uint8_t* esp = frame.data() + esp_off;
  if (get32(esp) != sa_.spi)
    return "unknown SPI";
  const std::size_t ct_len = esp_len - overhead;
  const std::size_t auth_len = esp_len - esp_icv_size;
  std::uint8_t md[EVP_MAX_MD_SIZE];
  std::size_t md_len = 0;
  if (EVP_MAC_init(mac_, nullptr, 0, nullptr) != 1 || EVP_MAC_update(mac_, esp, auth_len) != 1 ||
      EVP_MAC_final(mac_, md, &md_len, sizeof md) != 1 || md_len != 20)
    return "OpenSSL HMAC-SHA1 failed";
  if (CRYPTO_memcmp(md, esp + auth_len, esp_icv_size) != 0)
    return "ICV mismatch";

  out.resize(l3 + ct_len);
  std::uint8_t* inner = out.data() + l3;
  int n = 0;
  // Feeding the IV as one ciphertext block (output discarded) sets the context's CBC chain to
  // the IV without re-initialising the context per packet.
  std::uint8_t discard[16];
  if (EVP_DecryptUpdate(dec_, discard, &n, esp + esp_header_size, int(esp_iv_size)) != 1 || n != int(esp_iv_size) ||
      EVP_DecryptUpdate(dec_, inner, &n, esp + esp_header_size + esp_iv_size, int(ct_len)) != 1 ||
      std::size_t(n) != ct_len) {
    EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, zero_iv);
    out.clear();
    return "OpenSSL AES-128-CBC decryption failed";
  }
  const std::size_t pad = inner[ct_len - 2];
  const std::uint8_t next = inner[ct_len - 1];
  bool padding_ok = pad + 2 <= ct_len;
  for (std::size_t i = 0; padding_ok && i < pad; ++i)
    padding_ok = inner[ct_len - 2 - pad + i] == std::uint8_t(i + 1);
  if (!padding_ok || (next != 4 && next != 41)) {
    out.clear();
    return "bad ESP trailer (padding or next header)";
  }
  std::memcpy(out.data(), frame.data(), l3);
  out[l3 - 2] = next == 4 ? 0x08 : 0x86;
  out[l3 - 1] = next == 4 ? 0x00 : 0xdd;
  out.resize(l3 + ct_len - 2 - pad);
  return {};
}

}  // namespace e3::services::ipsec
