// Known-answer tests for the IPsec crypto: NIST CAVP response files and RFC 2202 cases, run
// through the service's own primitives (aes128_cbc, sha1, hmac_sha1).
//
// Accepted input: CAVP `.rsp` files and the RFC 2202 text in the same `NAME = value` form.
// Lines are `# comment`, `[section]`, `NAME = value` or blank (a blank line ends a vector).
//   - AES-128-CBC (`CBC*128.rsp`): `[ENCRYPT]`/`[DECRYPT]` sections; COUNT, KEY, IV, PLAINTEXT,
//     CIPHERTEXT. Encrypt vectors check PLAINTEXT → CIPHERTEXT, decrypt vectors the reverse.
//   - SHA-1 (`SHA1ShortMsg.rsp`, `SHA1LongMsg.rsp`): Len (bits), Msg, MD; Len = 0 means the
//     empty message (Msg = 00).
//   - SHA-1 Monte Carlo (`SHA1Monte.rsp`): Seed, then COUNT/MD checkpoints, computed as the
//     CAVP SHAVS document defines (MD0 = MD1 = MD2 = Seed; MDi = SHA1(MDi-3 | MDi-2 | MDi-1)
//     for i = 3…1002; checkpoint j is MD1002, the next Seed).
//   - HMAC-SHA1 (RFC 2202 §3): Len (bits of Msg), Key, Msg, MD (the full 160-bit MAC).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::ipsec {

/// Raised on a malformed vector file; the message is `FILE:LINE: what`.
class vector_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The outcome of one vector file.
struct vector_result {
  std::string file;                   ///< the name it was read under
  std::string kinds;                  ///< what it held, e.g. "AES-128-CBC" or "SHA-1 Monte Carlo"
  std::size_t passed = 0;             ///< vectors whose answer matched
  std::size_t failed = 0;             ///< vectors whose answer differed
  std::vector<std::string> failures;  ///< `FILE:LINE: …` of each failed vector
};

/// Runs every vector in `text`; `name` is used in messages. Throws vector_error on a
/// malformed line or an incomplete vector.
vector_result run_vectors(std::string_view text, const std::string& name);
/// Reads and runs a file; throws vector_error naming the file when it cannot be read.
vector_result run_vector_file(const std::string& path);

}  // namespace e3::services::ipsec
