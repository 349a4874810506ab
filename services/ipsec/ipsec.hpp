// IPsec: ESP tunnel-mode encapsulation (RFC 4303) with AES-128-CBC and HMAC-SHA1-96, on OpenSSL EVP.
//
// The pure algorithm, usable without the runtime. An `esp_tunnel` is one security association
// (SA) in one direction pair: it turns an Ethernet frame carrying an IPv4 (or IPv6) packet into
// an Ethernet frame carrying a new outer IPv4 header (protocol 50) and the ESP packet, and back.
//
// ESP packet layout (RFC 4303 §2, RFC 3602, RFC 2404):
//   SPI (4) | sequence number (4) | IV (16) | AES-128-CBC( inner IP packet | padding 1,2,3… |
//   pad length (1) | next header (1: 4 = IPv4, 41 = IPv6) ) | ICV (12)
// The ICV is HMAC-SHA1 over SPI..ciphertext, truncated to 96 bits. Padding fills the plaintext
// to a multiple of 16 bytes.
//
// IV: CBC needs an unpredictable IV. We use NIST SP 800-38A appendix C's method, IV =
// AES_K(nonce), with nonce = a random 64-bit per-tunnel salt | 0 | sequence number, so nonces never
// repeat within a tunnel and (with overwhelming probability) never across tunnels sharing a key.
// The nonce block is encrypted as the first block of the payload's CBC call, whose first output
// block is then exactly AES_K(nonce) and the rest is CBC under that IV: one EVP call per packet,
// no extra cipher context. The encryption context is never re-initialised per packet: its CBC
// chain still holds the previous packet's last ciphertext block, which we XOR into the nonce
// block first. Decryption likewise feeds the packet's IV through the chain as a discarded block.
//
// Sequence numbers: a per-`esp_tunnel` counter starting at 1 (32-bit, no extended sequence
// numbers). The service is stateless (Table 2): the counter is not kept in reliable
// collections, so a restarted or migrated instance starts again at 1, and several shards of one
// SA number their packets independently. A receiver that enforces RFC 4303 anti-replay would
// need a new SA (SPI) per instance start; decapsulation here verifies the ICV and decrypts but
// keeps no replay window. When the counter would wrap, encapsulation refuses (re-key needed).
//
// Contexts: every object owns its OpenSSL contexts (EVP_CIPHER_CTX, EVP_MAC_CTX, EVP_MD_CTX),
// created once and reused for every packet. Objects are not thread-safe; use one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

namespace e3::services::ipsec {

/// Owned bytes.
using byte_buffer = std::vector<std::uint8_t>;
/// Read-only bytes.
using byte_view = std::span<const std::uint8_t>;

/// Raised when OpenSSL cannot set up a context (out of memory, algorithm not available).
class crypto_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// AES-128-CBC without padding on one reused EVP_CIPHER_CTX.
class aes128_cbc {
 public:
  /// Creates the encryption and decryption contexts (throws crypto_error on failure).
  aes128_cbc();
  ~aes128_cbc();
  aes128_cbc(const aes128_cbc&) = delete;
  aes128_cbc& operator=(const aes128_cbc&) = delete;

  /// Encrypts `in` (a multiple of 16 bytes) into `out` (in.size() bytes; may equal in.data()).
  /// False when the length is not a multiple of 16 or OpenSSL fails.
  bool encrypt(std::span<const std::uint8_t, 16> key, std::span<const std::uint8_t, 16> iv, byte_view in,
               std::uint8_t* out);
  /// Decrypts, as encrypt.
  bool decrypt(std::span<const std::uint8_t, 16> key, std::span<const std::uint8_t, 16> iv, byte_view in,
               std::uint8_t* out);

 private:
  EVP_CIPHER_CTX* enc_;
  EVP_CIPHER_CTX* dec_;
};

/// SHA-1 on one reused EVP_MD_CTX.
class sha1 {
 public:
  /// Creates the digest context (throws crypto_error on failure).
  sha1();
  ~sha1();
  sha1(const sha1&) = delete;
  sha1& operator=(const sha1&) = delete;
  /// The digest of `data`.
  std::array<std::uint8_t, 20> digest(byte_view data);

 private:
  EVP_MD_CTX* ctx_;
};

/// HMAC-SHA1 on one reused EVP_MAC_CTX (the key is set once; each MAC re-initialises it).
class hmac_sha1 {
 public:
  /// A MAC under `key` (any length, RFC 2104).
  explicit hmac_sha1(byte_view key);
  ~hmac_sha1();
  hmac_sha1(const hmac_sha1&) = delete;
  hmac_sha1& operator=(const hmac_sha1&) = delete;
  /// Replaces the key.
  void set_key(byte_view key);
  /// The full 20-byte MAC of `data`.
  std::array<std::uint8_t, 20> mac(byte_view data);

 private:
  EVP_MAC_CTX* ctx_;
};

/// The parameters of one SA (service params in brackets; defaults are for synthetic load only).
struct sa_config {
  std::array<std::uint8_t, 16> enc_key{};   ///< [enc_key] AES-128 key, 32 hex digits
  std::array<std::uint8_t, 20> auth_key{};  ///< [auth_key] HMAC-SHA1 key, 40 hex digits
  std::uint32_t spi = 0x1000;               ///< [spi] security parameter index (decimal or 0x…)
  std::uint32_t tunnel_src = 0xc0000201;    ///< [tunnel_src] outer source, 192.0.2.1
  std::uint32_t tunnel_dst = 0xc6336401;    ///< [tunnel_dst] outer destination, 198.51.100.1
};

/// The built-in SA used when the params give no keys (fixed, published keys: test load only).
sa_config default_sa();

/// Decodes an even-length hex string (either case); nullopt on a bad digit or an odd length.
std::optional<byte_buffer> from_hex(std::string_view hex);
/// Lower-case hex of `b`.
std::string to_hex(byte_view b);

/// Sizes of the ESP framing.
inline constexpr std::size_t esp_header_size = 8;   ///< SPI + sequence number
inline constexpr std::size_t esp_iv_size = 16;      ///< AES block
inline constexpr std::size_t esp_icv_size = 12;     ///< HMAC-SHA1-96
inline constexpr std::size_t outer_ipv4_size = 20;  ///< outer header, no options

/// One ESP tunnel SA: encapsulation and decapsulation with reused contexts.
class esp_tunnel {
 public:
  /// An SA with the given keys; `salt` makes this tunnel's IV nonces unique (pass a random
  /// value; tests pass a fixed one).
  esp_tunnel(const sa_config& sa, std::uint64_t salt);
  ~esp_tunnel();
  esp_tunnel(const esp_tunnel&) = delete;
  esp_tunnel& operator=(const esp_tunnel&) = delete;

  /// Encapsulates the IP packet of Ethernet `frame` into `out` (resized; its capacity is
  /// reused): the frame's Ethernet header (ethertype set to IPv4), the outer IPv4 header and
  /// the ESP packet. Returns an empty view on success, else why the frame was refused (not
  /// IP, truncated, too large, sequence numbers exhausted).
  std::string_view encapsulate(byte_view frame, byte_buffer& out);

  /// Verifies and decrypts an ESP frame made by a tunnel with the same keys and SPI into `out`:
  /// the Ethernet header with the inner packet. Returns an empty view on success, else why it
  /// was refused (not ESP, wrong SPI, bad length, ICV mismatch, bad padding).
  std::string_view decapsulate(byte_view frame, byte_buffer& out);

  /// The sequence number of the last encapsulated packet (0 before the first).
  std::uint32_t last_sequence() const { return seq_; }
  /// The SA.
  const sa_config& sa() const { return sa_; }

 private:
  /// Restarts the encryption chain from a zero IV (after an OpenSSL failure).
  void reset_encrypt_chain();

  sa_config sa_;
  std::uint64_t salt_;
  std::uint32_t seq_ = 0;
  std::array<std::uint8_t, 16> chain_{};            ///< the encryption context's CBC chaining value
  std::array<std::uint8_t, 20> outer_template_{};   ///< constant fields of the outer IPv4 header
  std::uint32_t outer_sum_ = 0;                      ///< their one's-complement sum
  EVP_CIPHER_CTX* enc_;
  EVP_CIPHER_CTX* dec_;
  EVP_MAC_CTX* mac_;
};

}  // namespace e3::services::ipsec
