// API gateway: authentication with HMAC-SHA256-signed tokens plus a per-client token-bucket rate
// limiter in double precision.
//
// The pure algorithm, usable without the runtime.
//
// Tokens: `<subject>:<expiry_ns>:<signature>` where signature is the 64 hex digits of
// HMAC-SHA256(secret, "<subject>:<expiry_ns>") (OpenSSL). The subject is any non-empty text
// without whitespace (it may contain ':'; the token is split at its last two ':'); expiry_ns is a
// non-negative decimal time in ns on the gateway's clock. A token is refused when malformed, when
// its signature does not verify (checked first, in constant time) and when now_ns >= expiry_ns.
//
// Rate limiting: one bucket per authenticated subject with capacity `burst` tokens, refilled at
// `rate` tokens per second; a request takes one token or is refused. A bucket's level is kept in
// nano-tokens as a double: refill adds elapsed_ns * rate (exact while rate is a whole number of
// tokens/s and levels stay below 2^53 nano-tokens, i.e. bursts below ~9 million), capped at
// burst * 1e9; a request passes when the level is >= 1e9 and then takes 1e9. So decisions are
// exactly reproducible from the clock: a test can predict each one with integer arithmetic. A new
// subject starts with a full bucket. A clock that goes backwards refills nothing (last time kept).
//
// Request format in the runtime (service kind `api_gateway`, input_format::record): a record
// whose `text` is `<token>` or `<token> <body>`. On acceptance the record is emitted downstream
// with `text` = body (the token removed; every other field unchanged, key = record key). Refused
// requests are rejected with the reason ("malformed token", "bad token signature",
// "token expired", "rate limited", or the record decoding error). State: the buckets, in the
// reliable hashtable `buckets` (subject -> bucket), written by flush(); full buckets are dropped
// there, since a full bucket and an absent one behave the same. Params: `secret` (a built-in
// demo secret when absent: synthetic load only), `rate` (tokens/s, default 1000), `burst`
// (default 100).
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <openssl/types.h>

namespace e3::services::api_gateway {

/// Raised when OpenSSL cannot set up HMAC-SHA256.
class crypto_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// HMAC-SHA256 under one key on one reused EVP_MAC_CTX. Not thread-safe.
class hmac_sha256 {
 public:
  /// A MAC keyed with `key`.
  explicit hmac_sha256(std::string_view key);
  ~hmac_sha256();
  hmac_sha256(const hmac_sha256&) = delete;
  hmac_sha256& operator=(const hmac_sha256&) = delete;
  /// The 32-byte MAC of `data`.
  std::array<std::uint8_t, 32> mac(std::string_view data);

 private:
  EVP_MAC_CTX* ctx_;
};

/// A token for `subject` valid until `expiry_ns` (exclusive), signed with `secret`. Throws
/// std::invalid_argument for an empty subject, one with whitespace, or a negative expiry.
std::string make_token(std::string_view secret, std::string_view subject, std::int64_t expiry_ns);

/// Why a token was refused (or not).
enum class token_status { ok, malformed, bad_signature, expired };

/// The reason text used in rejections.
std::string_view to_string(token_status s);

/// A verified (or refused) token. `subject` views the verified token's text.
struct token_check {
  token_status status = token_status::malformed;  ///< the verdict
  std::string_view subject;                        ///< the subject, when ok
  std::int64_t expiry_ns = 0;                      ///< the expiry, when parsed
};

/// Verifies tokens signed with one secret (reuses its HMAC context). Not thread-safe.
class token_verifier {
 public:
  /// A verifier for tokens signed with `secret`.
  explicit token_verifier(std::string_view secret) : mac_(secret) {}
  /// Checks `token` at time `now_ns`.
  token_check verify(std::string_view token, std::int64_t now_ns);

 private:
  hmac_sha256 mac_;
};

/// One client's bucket.
struct bucket {
  double level_nt = 0;      ///< tokens available, in nano-tokens (1e9 = one request)
  std::int64_t last_ns = 0; ///< time of the last refill
};

/// Rate and burst of every bucket.
struct limiter_config {
  double rate = 1000;  ///< tokens per second
  double burst = 100;  ///< bucket capacity in tokens
};

/// Refills `b` up to `now_ns` and takes one token if there is one. Returns whether it passed.
bool take(bucket& b, std::int64_t now_ns, const limiter_config& c);

/// The per-subject buckets with change tracking (for flushing into reliable collections).
class rate_limiter {
 public:
  /// A bucket and whether it changed since the last clear_dirty().
  struct entry {
    bucket b;            ///< the bucket
    bool dirty = false;  ///< listed in dirty()
  };

  /// Buckets with the given rate and burst.
  explicit rate_limiter(limiter_config c) : cfg_(c) {}
  /// Decides a request of `subject` at `now_ns`.
  bool allow(std::string_view subject, std::int64_t now_ns);
  /// Whether a bucket is full at `now_ns` (then it is equivalent to an absent one).
  bool full_at(const bucket& b, std::int64_t now_ns) const;
  /// The buckets.
  const std::unordered_map<std::string, entry>& buckets() const { return buckets_; }
  /// The map's element type: subject and entry.
  using element = std::pair<const std::string, entry>;
  /// The buckets changed since the last clear_dirty() (pointers into the map).
  const std::vector<element*>& dirty() const { return dirty_; }
  /// Forgets the change set.
  void clear_dirty();
  /// Drops a bucket (e.g. a full one). Invalidates its entry in dirty().
  void erase(const std::string& subject) { buckets_.erase(subject); }
  /// Installs a bucket (restoring state); not marked dirty.
  void put(std::string subject, const bucket& b) { buckets_[std::move(subject)] = {b, false}; }
  /// The configuration.
  const limiter_config& config() const { return cfg_; }

 private:
  limiter_config cfg_;
  std::unordered_map<std::string, entry> buckets_;
  std::vector<element*> dirty_;
  std::string key_;  ///< scratch for lookups without allocation
};

}  // namespace e3::services::api_gateway
