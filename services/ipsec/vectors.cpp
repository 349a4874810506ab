// Parsing and running NIST CAVP / RFC 2202 known-answer files through the IPsec primitives.
#include "services/ipsec/vectors.hpp"

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "services/ipsec/ipsec.hpp"

namespace e3::services::ipsec {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// One vector: its fields and where each was read.
struct record {
  std::size_t line = 0;  ///< first line
  std::map<std::string, std::pair<std::string, std::size_t>, std::less<>> fields;
  bool has(std::string_view f) const { return fields.count(f) != 0; }
};

class runner {
 public:
  explicit runner(const std::string& name) : name_(name) { result_.file = name; }

  void line(std::size_t no, std::string_view raw) {
    std::string_view l = trim(raw);
    if (l.empty()) {
      finish();
      return;
    }
    if (l[0] == '#')
      return;
    if (l[0] == '[') {
      finish();
      if (l.back() != ']')
        fail(no, "section header without a closing ']'");
      section(no, trim(l.substr(1, l.size() - 2)));
      return;
    }
    auto eq = l.find('=');
    if (eq == std::string_view::npos)
      fail(no, "expected 'NAME = value', a [section], a # comment or a blank line");
    std::string key(trim(l.substr(0, eq)));
    std::string value(trim(l.substr(eq + 1)));
    static const std::set<std::string, std::less<>> known = {"COUNT", "KEY", "IV", "PLAINTEXT", "CIPHERTEXT",
                                                             "Len",   "Msg", "MD", "Seed",      "Key"};
    if (!known.count(key))
      fail(no, "unknown field '" + key + "'");
    if (cur_.fields.empty())
      cur_.line = no;
    if (!cur_.fields.emplace(key, std::pair{value, no}).second)
      fail(no, "field '" + key + "' given twice in one vector");
  }

  vector_result done() {
    finish();
    if (result_.passed + result_.failed == 0)
      throw vector_error(name_ + ": no test vectors found");
    std::string k;
    for (const auto& x : kinds_)
      k += (k.empty() ? "" : ", ") + x;
    result_.kinds = k;
    return result_;
  }

 private:
  [[noreturn]] void fail(std::size_t line, const std::string& what) const {
    throw vector_error(name_ + ":" + std::to_string(line) + ": " + what);
  }

  void section(std::size_t no, std::string_view s) {
    if (s == "ENCRYPT" || s == "DECRYPT") {
      encrypt_ = s == "ENCRYPT";
      return;
    }
    if (s.substr(0, 1) == "L") {
      auto v = trim(s.substr(1));
      if (!v.empty() && v[0] == '=' && trim(v.substr(1)) == "20")
        return;
    }
    fail(no, "unsupported section [" + std::string(s) + "] (expected ENCRYPT, DECRYPT or L = 20)");
  }

  byte_buffer hex(const record& r, const char* field, std::optional<std::size_t> size = std::nullopt) const {
    const auto& [text, line] = r.fields.at(field);
    auto b = from_hex(text);
    if (!b)
      fail(line, std::string("bad hex in ") + field);
    if (size && b->size() != *size)
      fail(line, std::string(field) + " has " + std::to_string(b->size()) + " bytes, expected " + std::to_string(*size));
    return *b;
  }

  std::size_t number(const record& r, const char* field) const {
    const auto& [text, line] = r.fields.at(field);
    std::size_t v = 0;
    if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
      fail(line, std::string(field) + " is not a number: '" + text + "'");
    v = std::stoull(text);
    return v;
  }

  void require(const record& r, std::initializer_list<const char*> fields, const char* kind) const {
    for (const char* f : fields)
      if (!r.has(f))
        fail(r.line, std::string("incomplete ") + kind + " vector: no " + f);
  }

  void verdict(const record& r, bool ok, const char* kind) {
    kinds_.insert(kind);
    if (ok) {
      ++result_.passed;
    } else {
      ++result_.failed;
      result_.failures.push_back(name_ + ":" + std::to_string(r.line) + ": " + kind + " vector failed");
    }
  }

  /// Message bytes of a SHA/HMAC vector, checking Len (bits) against Msg.
  byte_buffer message(const record& r) const {
    std::size_t bits = number(r, "Len");
    byte_buffer msg = hex(r, "Msg");
    if (bits == 0 && msg.size() <= 1)
      return {};
    if (bits % 8)
      fail(r.fields.at("Len").second, "Len = " + std::to_string(bits) + " is not a whole number of bytes");
    if (msg.size() != bits / 8)
      fail(r.fields.at("Msg").second,
           "Msg has " + std::to_string(msg.size()) + " bytes but Len = " + std::to_string(bits) + " bits");
    return msg;
  }

  void finish() {
    if (cur_.fields.empty())
      return;
    record r = std::move(cur_);
    cur_ = {};
    if (r.has("KEY") || r.has("PLAINTEXT") || r.has("CIPHERTEXT") || r.has("IV")) {
      require(r, {"KEY", "IV", "PLAINTEXT", "CIPHERTEXT"}, "AES-128-CBC");
      if (!encrypt_)
        fail(r.line, "AES vector outside an [ENCRYPT] or [DECRYPT] section");
      auto key = hex(r, "KEY", 16), iv = hex(r, "IV", 16);
      auto pt = hex(r, "PLAINTEXT"), ct = hex(r, "CIPHERTEXT");
      if (pt.size() != ct.size() || pt.size() % 16)
        fail(r.line, "PLAINTEXT and CIPHERTEXT must be the same whole number of 16-byte blocks");
      byte_buffer out(pt.size());
      std::span<const std::uint8_t, 16> k(key.data(), 16), v(iv.data(), 16);
      bool ok = *encrypt_ ? aes_.encrypt(k, v, pt, out.data()) && out == ct : aes_.decrypt(k, v, ct, out.data()) && out == pt;
      verdict(r, ok, *encrypt_ ? "AES-128-CBC encrypt" : "AES-128-CBC decrypt");
    } else if (r.has("Seed")) {
      if (r.fields.size() != 1)
        fail(r.line, "a Monte Carlo Seed stands alone, followed by COUNT/MD checkpoints");
      seed_ = hex(r, "Seed", 20);
      monte_next_ = 0;
    } else if (r.has("Key")) {
      require(r, {"Len", "Key", "Msg", "MD"}, "HMAC-SHA1");
      auto key = hex(r, "Key");
      auto msg = message(r);
      auto md = hex(r, "MD", 20);
      hmac_.set_key(key);
      auto got = hmac_.mac(msg);
      verdict(r, byte_buffer(got.begin(), got.end()) == md, "HMAC-SHA1");
    } else if (r.has("Msg") || r.has("Len")) {
      require(r, {"Len", "Msg", "MD"}, "SHA-1");
      auto msg = message(r);
      auto md = hex(r, "MD", 20);
      auto got = sha_.digest(msg);
      verdict(r, byte_buffer(got.begin(), got.end()) == md, "SHA-1");
    } else if (r.has("MD") && r.has("COUNT")) {
      if (!seed_)
        fail(r.line, "Monte Carlo checkpoint before any Seed");
      std::size_t count = number(r, "COUNT");
      if (count != monte_next_)
        fail(r.fields.at("COUNT").second,
             "Monte Carlo checkpoint COUNT = " + std::to_string(count) + ", expected " + std::to_string(monte_next_));
      auto md = hex(r, "MD", 20);
      verdict(r, monte_step() == md, "SHA-1 Monte Carlo");
      ++monte_next_;
    } else {
      fail(r.line, "incomplete vector (fields do not form an AES, SHA-1, Monte Carlo or HMAC case)");
    }
  }

  /// One Monte Carlo checkpoint from seed_; the result becomes the next seed.
  byte_buffer monte_step() {
    std::array<std::array<std::uint8_t, 20>, 3> md;
    for (auto& m : md)
      std::copy(seed_->begin(), seed_->end(), m.begin());
    std::uint8_t msg[60];
    for (int i = 3; i <= 1002; ++i) {
      std::copy(md[0].begin(), md[0].end(), msg);
      std::copy(md[1].begin(), md[1].end(), msg + 20);
      std::copy(md[2].begin(), md[2].end(), msg + 40);
      md[0] = md[1];
      md[1] = md[2];
      md[2] = sha_.digest(byte_view(msg, 60));
    }
    seed_ = byte_buffer(md[2].begin(), md[2].end());
    return *seed_;
  }

  std::string name_;
  vector_result result_;
  record cur_;
  std::optional<bool> encrypt_;
  std::optional<byte_buffer> seed_;
  std::size_t monte_next_ = 0;
  std::set<std::string> kinds_;
  aes128_cbc aes_;
  sha1 sha_;
  hmac_sha1 hmac_{byte_view{}};
};

}  // namespace

vector_result run_vectors(std::string_view text, const std::string& name) {
  runner r(name);
  std::size_t no = 0;
  while (!text.empty()) {
    ++no;
    auto nl = text.find('\n');
    r.line(no, text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return r.done();
}

vector_result run_vector_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw vector_error(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return run_vectors(s.str(), path);
}

}  // namespace e3::services::ipsec
