// The IPsec binding: the service class, synthetic load, the `e3 svc ipsec` harness, registration.
#include "services/ipsec/service.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "services/ipsec/vectors.hpp"

namespace e3::services {
namespace ipsec {
namespace {

std::uint64_t random_salt() {
  std::uint64_t s = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s) != 1)
    throw crypto_error("OpenSSL RAND_bytes failed: cannot draw an IV salt");
  return s;
}

class ipsec_service final : public service {
 public:
  explicit ipsec_service(const service_config& cfg) : tunnel_(sa_from_params(cfg), random_salt()) {
    auto mode = cfg.param("mode", "encap");
    if (mode != "encap" && mode != "decap")
      throw std::invalid_argument("ipsec param mode: expected 'encap' or 'decap', got '" + mode + "'");
    decap_ = mode == "decap";
  }

  void handle(const request& req, service_context& ctx) override {
    auto why = decap_ ? tunnel_.decapsulate(req.payload, out_) : tunnel_.encapsulate(req.payload, out_);
    if (!why.empty()) {
      ctx.reject(why);
      return;
    }
    // Shard downstream by the inner flow.
    auto inner = parse_frame(decap_ ? byte_view(out_) : req.payload);
    ctx.emit(inner ? inner->tuple.hash() : req.key, out_);
  }

 private:
  esp_tunnel tunnel_;
  bool decap_ = false;
  byte_buffer out_;
};

template <std::size_t N>
std::array<std::uint8_t, N> key_param(const service_config& cfg, const char* name, const std::array<std::uint8_t, N>& dflt) {
  auto v = cfg.params.find(name);
  if (v == cfg.params.end())
    return dflt;
  auto b = from_hex(v->second);
  if (!b || b->size() != N)
    throw std::invalid_argument(std::string("ipsec param ") + name + ": expected " + std::to_string(2 * N) +
                                " hex digits, got '" + v->second + "'");
  std::array<std::uint8_t, N> out;
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

std::uint32_t spi_value(const std::string& s, const std::string& what) {
  std::uint32_t v = 0;
  bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const char* b = s.data() + (hex ? 2 : 0);
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), v, hex ? 16 : 10);
  if (ec != std::errc() || p != s.data() + s.size() || b == s.data() + s.size() || v < 256)
    throw std::invalid_argument(what + ": expected an SPI of at least 256 (decimal or 0x hex), got '" + s + "'");
  return v;
}

int run_vectors_cmd(const std::string& where) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(where, ec)) {
    for (const auto& e : fs::directory_iterator(where, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".rsp" || ext == ".txt"))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::cerr << where << ": no .rsp or .txt vector files\n";
      return 2;
    }
  } else if (fs::is_regular_file(where, ec)) {
    files.push_back(where);
  } else {
    std::cerr << where << ": no such file or directory\n";
    return 2;
  }
  std::size_t passed = 0, failed = 0;
  bool malformed = false;
  for (const auto& f : files) {
    try {
      auto r = run_vector_file(f);
      std::cout << fs::path(f).filename().string() << "\t" << r.kinds << "\tpassed=" << r.passed
                << " failed=" << r.failed << "\n";
      for (const auto& x : r.failures)
        std::cerr << x << "\n";
      passed += r.passed;
      failed += r.failed;
    } catch (const vector_error& e) {
      std::cerr << e.what() << "\n";
      malformed = true;
    }
  }
  std::cout << "total\tpassed=" << passed << " failed=" << failed << "\n";
  return malformed ? 2 : failed ? 1 : 0;
}

int run_pcap_cmd(const std::string& path, const service_config& cfg) {
  esp_tunnel tunnel(sa_from_params(cfg), random_salt());
  std::size_t frames = 0, encapsulated = 0, roundtrip_ok = 0, refused = 0;
  byte_buffer esp, back;
  for (const auto& pk : read_pcap(path)) {
    ++frames;
    if (!tunnel.encapsulate(pk.data, esp).empty()) {
      ++refused;
      continue;
    }
    ++encapsulated;
    auto p = parse_frame(pk.data);
    std::size_t used = p->l3_offset + p->ip_size;  // the frame without Ethernet padding
    if (tunnel.decapsulate(esp, back).empty() && back.size() == used && std::equal(back.begin(), back.end(), pk.data.begin()))
      ++roundtrip_ok;
  }
  std::cout << "frames=" << frames << " encapsulated=" << encapsulated << " roundtrip_ok=" << roundtrip_ok
            << " refused=" << refused << "\n";
  return roundtrip_ok == encapsulated ? 0 : 1;
}

int svc_main(int argc, char** argv) {
  std::string vectors, pcap;
  service_config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: e3 svc ipsec --vectors DIR|FILE\n"
                   "       e3 svc ipsec --pcap FILE [--enc-key HEX32] [--auth-key HEX40] [--spi N]\n"
                   "--vectors runs every NIST CAVP AES-CBC-128 / SHA-1 (.rsp) and RFC 2202 HMAC-SHA1 (.txt)\n"
                   "vector through the service's crypto and prints, per file and in total, passed=N failed=M\n"
                   "(exit 1 if any failed, 2 on a malformed file). --pcap encapsulates every IP frame of a\n"
                   "capture into ESP, decapsulates it again and counts exact round trips.\n";
      return 0;
    }
    const char* param = a == "--enc-key" ? "enc_key" : a == "--auth-key" ? "auth_key" : a == "--spi" ? "spi" : nullptr;
    if (a != "--vectors" && a != "--pcap" && !param) {
      std::cerr << "e3 svc ipsec: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
    if (i + 1 >= argc) {
      std::cerr << "e3 svc ipsec: " << a << " needs a value\n";
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--vectors")
      vectors = v;
    else if (a == "--pcap")
      pcap = v;
    else
      cfg.params[param] = v;
  }
  if (vectors.empty() == pcap.empty()) {
    std::cerr << "e3 svc ipsec: give exactly one of --vectors DIR|FILE and --pcap FILE\n";
    return 2;
  }
  try {
    return vectors.empty() ? run_pcap_cmd(pcap, cfg) : run_vectors_cmd(vectors);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc ipsec: " << e.what() << "\n";
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
  }
  return 2;
}

}  // namespace

sa_config sa_from_params(const service_config& cfg) {
  sa_config sa = default_sa();
  sa.enc_key = key_param(cfg, "enc_key", sa.enc_key);
  sa.auth_key = key_param(cfg, "auth_key", sa.auth_key);
  if (auto v = cfg.params.find("spi"); v != cfg.params.end())
    sa.spi = spi_value(v->second, "ipsec param spi");
  for (auto [name, field] : {std::pair{"tunnel_src", &sa.tunnel_src}, std::pair{"tunnel_dst", &sa.tunnel_dst}}) {
    if (auto v = cfg.params.find(name); v != cfg.params.end()) {
      auto a = parse_ipv4(v->second);
      if (!a)
        throw std::invalid_argument(std::string("ipsec param ") + name + ": expected a dotted quad, got '" + v->second + "'");
      *field = *a;
    }
  }
  return sa;
}

}  // namespace ipsec

void register_ipsec(service_registry& r) {
  service_kind k;
  k.name = "ipsec";
  k.table1_name = "IPsec";
  k.summary = "ESP tunnel mode, AES-128-CBC + HMAC-SHA1-96 (OpenSSL EVP); emits the ESP frame (mode=decap: the inner frame)";
  k.stateful = false;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<ipsec::ipsec_service>(c); };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) {
    std::uint32_t src = 0x0a000000u | std::uint32_t(rng() & 0xffffff);
    std::uint32_t dst = 0x0a800000u | std::uint32_t(rng() & 0xffff);
    return build_udp_frame(src, dst, std::uint16_t(1024 + rng() % 60000), 4500, size);
  };
  k.svc_main = ipsec::svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
