// IPsec tests: NIST CAVP and RFC 2202 vectors through the service's crypto, the ESP layout checked
// independently, round trips on real captures, refusals, the `e3 svc ipsec` harness and the binding.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "services/ipsec/ipsec.hpp"
#include "services/ipsec/service.hpp"
#include "services/ipsec/vectors.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3::services;
using namespace e3::services::ipsec;

namespace {

const std::string crypto_dir = E3_TEST_DATA_DIR "/crypto";

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_ipsec>("ipsec"), std::move(args));
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string error_of(const std::string& text) {
  try {
    run_vectors(text, "v.rsp");
  } catch (const vector_error& e) {
    return e.what();
  }
  return "no error";
}

/// AES-128-ECB of one block with a fresh context (an independent check of the IV rule).
std::array<std::uint8_t, 16> aes_ecb(const std::array<std::uint8_t, 16>& key, const std::uint8_t* block) {
  std::array<std::uint8_t, 16> out{};
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), nullptr, key.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(c, 0);
  EVP_EncryptUpdate(c, out.data(), &n, block, 16);
  EVP_CIPHER_CTX_free(c);
  return out;
}

}  // namespace

class CavpFile : public ::testing::TestWithParam<std::tuple<const char*, std::size_t>> {};

TEST_P(CavpFile, EveryVectorPasses) {
  auto [file, count] = GetParam();
  auto r = run_vector_file(crypto_dir + "/" + file);
  EXPECT_EQ(r.passed, count);
  EXPECT_EQ(r.failed, 0u);
  for (const auto& f : r.failures)
    ADD_FAILURE() << f;
}

INSTANTIATE_TEST_SUITE_P(
    NistAndRfc, CavpFile,
    ::testing::Values(std::tuple{"CBCGFSbox128.rsp", 14}, std::tuple{"CBCKeySbox128.rsp", 42},
                      std::tuple{"CBCMMT128.rsp", 20}, std::tuple{"CBCVarKey128.rsp", 256},
                      std::tuple{"CBCVarTxt128.rsp", 256}, std::tuple{"SHA1ShortMsg.rsp", 65},
                      std::tuple{"SHA1LongMsg.rsp", 64}, std::tuple{"SHA1Monte.rsp", 100},
                      std::tuple{"rfc-2202-sha1.txt", 7}));

TEST(Vectors, AWrongExpectedAnswerIsCountedAsFailed) {
  auto text = read(crypto_dir + "/CBCGFSbox128.rsp");
  auto at = text.find("CIPHERTEXT = ") + 13;
  text[at] = text[at] == '0' ? '1' : '0';
  auto r = run_vectors(text, "CBCGFSbox128.rsp");
  EXPECT_EQ(r.passed, 13u);
  EXPECT_EQ(r.failed, 1u);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0], "CBCGFSbox128.rsp:10: AES-128-CBC encrypt vector failed");

  auto rfc = read(crypto_dir + "/rfc-2202-sha1.txt");
  rfc.replace(rfc.find("b617318655057264"), 4, "0000");
  EXPECT_EQ(run_vectors(rfc, "rfc").failed, 1u);
}

TEST(Vectors, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(error_of("[ENCRYPT]\n\nCOUNT = 0\nKEY 00\n"), "v.rsp:4: expected 'NAME = value', a [section], a # comment or a blank line");
  EXPECT_EQ(error_of("[ENCRYPT]\nFOO = 1\n"), "v.rsp:2: unknown field 'FOO'");
  EXPECT_EQ(error_of("[ENCRYPT]\nCOUNT = 0\nKEY = 0g\n"), "v.rsp:2: incomplete AES-128-CBC vector: no IV");
  EXPECT_EQ(error_of("[ENCRYPT]\nKEY = 0g000000000000000000000000000000\nIV = 00000000000000000000000000000000\n"
                     "PLAINTEXT = 00000000000000000000000000000000\nCIPHERTEXT = 00000000000000000000000000000000\n"),
            "v.rsp:2: bad hex in KEY");
  EXPECT_EQ(error_of("[ENCRYPT]\nKEY = 0000\nIV = 00000000000000000000000000000000\n"
                     "PLAINTEXT = 00000000000000000000000000000000\nCIPHERTEXT = 00000000000000000000000000000000\n"),
            "v.rsp:2: KEY has 2 bytes, expected 16");
  EXPECT_EQ(error_of("Len = 16\nMsg = 36\nMD = da39a3ee5e6b4b0d3255bfef95601890afd80709\n"),
            "v.rsp:2: Msg has 1 bytes but Len = 16 bits");
  EXPECT_EQ(error_of("[L = 32]\n"), "v.rsp:1: unsupported section [L = 32] (expected ENCRYPT, DECRYPT or L = 20)");
  EXPECT_EQ(error_of("COUNT = 0\nMD = da39a3ee5e6b4b0d3255bfef95601890afd80709\n"), "v.rsp:1: Monte Carlo checkpoint before any Seed");
  EXPECT_EQ(error_of("# nothing\n"), "v.rsp: no test vectors found");
}

TEST(Esp, LayoutIvAndIcvCheckIndependently) {
  sa_config sa = default_sa();
  sa.spi = 0x12345678;
  esp_tunnel t(sa, 0x0102030405060708ull);
  auto frame = build_udp_frame(0x0a000001, 0x0a000002, 1111, 2222, 100);
  byte_buffer esp;
  for (std::uint32_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(t.encapsulate(frame, esp).empty());
    auto p = parse_frame(esp);
    ASSERT_TRUE(p && p->ipv4);
    EXPECT_EQ(p->tuple.proto, 50);
    EXPECT_EQ(p->src4, sa.tunnel_src);
    EXPECT_EQ(p->dst4, sa.tunnel_dst);
    const std::size_t inner = frame.size() - 14;  // 86 bytes: pad to 96 = 86 + 8 + 2
    EXPECT_EQ(esp.size(), 14 + 20 + 8 + 16 + 96 + 12);
    EXPECT_EQ(p->ip_size, esp.size() - 14);
    std::uint32_t sum = 0;  // a valid IPv4 header sums to 0xffff
    for (int i = 0; i < 20; i += 2)
      sum += std::uint32_t(esp[14 + i] << 8 | esp[15 + i]);
    sum = (sum & 0xffff) + (sum >> 16);
    EXPECT_EQ(sum, 0xffffu);
    EXPECT_EQ(esp[15], frame[15]);  // DS field copied from the inner header
    const std::uint8_t* e = esp.data() + 34;
    EXPECT_EQ(e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3], 0x12345678);
    EXPECT_EQ(std::uint32_t(e[4] << 24 | e[5] << 16 | e[6] << 8 | e[7]), seq);
    EXPECT_EQ(t.last_sequence(), seq);
    // IV = AES_K(salt | 0 | seq).
    std::uint8_t nonce[16] = {};
    std::uint64_t salt = 0x0102030405060708ull;
    std::memcpy(nonce, &salt, 8);
    nonce[15] = std::uint8_t(seq);
    auto iv = aes_ecb(sa.enc_key, nonce);
    EXPECT_TRUE(std::equal(iv.begin(), iv.end(), e + 8));
    // ICV = first 96 bits of HMAC-SHA1 over SPI..ciphertext (one-shot OpenSSL call).
    std::uint8_t md[20];
    std::size_t md_len = 0;
    EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA1", nullptr, sa.auth_key.data(), 20, e, 8 + 16 + 96, md, sizeof md, &md_len);
    EXPECT_TRUE(std::equal(md, md + 12, e + 8 + 16 + 96));
    // Plaintext = inner packet | 1..8 | pad length 8 | next header 4.
    byte_buffer pt(96);
    aes128_cbc aes;
    ASSERT_TRUE(aes.decrypt(sa.enc_key, std::span<const std::uint8_t, 16>(e + 8, 16), byte_view(e + 24, 96), pt.data()));
    EXPECT_TRUE(std::equal(pt.begin(), pt.begin() + std::ptrdiff_t(inner), frame.begin() + 14));
    for (std::size_t i = 0; i < 8; ++i)
      EXPECT_EQ(pt[inner + i], i + 1);
    EXPECT_EQ(pt[94], 8);
    EXPECT_EQ(pt[95], 4);
  }
}

TEST(Esp, RealCapturesRoundTripExactly) {
  for (const char* cap : {"http.pcap", "1kxun.pcap", "synscan.pcap"}) {
    esp_tunnel enc(default_sa(), 99), dec(default_sa(), 7);
    byte_buffer esp, back;
    std::size_t ip = 0;
    for (const auto& pk : read_pcap(E3_TEST_DATA_DIR "/pcap/" + std::string(cap))) {
      auto p = parse_frame(pk.data);
      if (!p || !p->ip || p->l3_offset + p->ip_size > pk.data.size())
        continue;
      ++ip;
      ASSERT_TRUE(enc.encapsulate(pk.data, esp).empty());
      EXPECT_EQ((esp.size() - p->l3_offset - 20 - 8 - 16 - 12) % 16, 0u);
      ASSERT_EQ(dec.decapsulate(esp, back), "");
      ASSERT_EQ(back.size(), p->l3_offset + p->ip_size);
      EXPECT_TRUE(std::equal(back.begin(), back.end(), pk.data.begin())) << cap;
    }
    EXPECT_GT(ip, 40u) << cap;
  }
}

TEST(Esp, TamperedWrongKeyWrongSpiAndGarbageAreRefused) {
  esp_tunnel t(default_sa(), 1);
  auto frame = build_udp_frame(1, 2, 3, 4, 300);
  byte_buffer esp, out;
  ASSERT_TRUE(t.encapsulate(frame, esp).empty());
  for (std::size_t at : {std::size_t{40}, std::size_t{60}, esp.size() - 1}) {
    auto bad = esp;
    bad[at] ^= 0x01;
    EXPECT_EQ(t.decapsulate(bad, out), "ICV mismatch") << at;
  }
  sa_config other = default_sa();
  other.auth_key[0] ^= 1;
  esp_tunnel wrong_key(other, 1);
  EXPECT_EQ(wrong_key.decapsulate(esp, out), "ICV mismatch");
  other = default_sa();
  other.spi = 0x9999;
  esp_tunnel wrong_spi(other, 1);
  EXPECT_EQ(wrong_spi.decapsulate(esp, out), "unknown SPI");
  EXPECT_EQ(t.decapsulate(frame, out), "not an IPv4 ESP frame");
  EXPECT_EQ(t.decapsulate(byte_view(esp.data(), esp.size() - 5), out), "IP length exceeds the frame (truncated)");
  EXPECT_EQ(t.encapsulate(byte_view(frame.data(), 20), esp), "not an IPv4/IPv6 Ethernet frame");
  EXPECT_EQ(t.encapsulate(byte_view(frame.data(), 200), esp), "IP length exceeds the frame (truncated)");
  // Random bytes never crash either direction.
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    byte_buffer junk(rng() % 400);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    if (junk.size() > 40 && i % 2) {
      junk[12] = 0x08, junk[13] = 0, junk[14] = 0x45, junk[23] = 50;
      junk[16] = std::uint8_t((junk.size() - 14) >> 8), junk[17] = std::uint8_t(junk.size() - 14);
      junk[20] = junk[21] = 0;
    }
    (void)t.encapsulate(junk, esp);
    (void)t.decapsulate(junk, out);
  }
}

TEST(IpsecSvc, VectorsDirectoryAllPass) {
  auto r = run_svc({"--vectors", crypto_dir});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("CBCMMT128.rsp\tAES-128-CBC decrypt, AES-128-CBC encrypt\tpassed=20 failed=0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SHA1Monte.rsp\tSHA-1 Monte Carlo\tpassed=100 failed=0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total\tpassed=824 failed=0\n"), std::string::npos) << r.out;
}

TEST(IpsecSvc, FailedVectorExits1AndMalformedFileExits2) {
  namespace fs = std::filesystem;
  auto dir = fs::path(::testing::TempDir()) / "ipsec_vectors";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto text = read(crypto_dir + "/rfc-2202-sha1.txt");
  text.replace(text.find("b617318655057264"), 4, "0000");
  std::ofstream(dir / "rfc-2202-sha1.txt") << text;
  auto r = run_svc({"--vectors", dir.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("total\tpassed=6 failed=1"), std::string::npos) << r.out;
  std::ofstream(dir / "broken.rsp") << "[ENCRYPT]\n\nCOUNT = 0\nKEY: 00\n";
  r = run_svc({"--vectors", dir.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find((dir / "broken.rsp").string() + ":4: expected 'NAME = value'"), std::string::npos) << r.err;
  EXPECT_EQ(run_svc({"--vectors"}).code, 2);
  EXPECT_EQ(run_svc({"--bogus", "x"}).code, 2);
  EXPECT_EQ(run_svc({"--vectors", "/nonexistent"}).code, 2);
}

TEST(IpsecSvc, PcapRoundTrip) {
  auto r = run_svc({"--pcap", E3_TEST_DATA_DIR "/pcap/http.pcap"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "frames=43 encapsulated=43 roundtrip_ok=43 refused=0\n");
  EXPECT_EQ(run_svc({"--pcap", E3_TEST_DATA_DIR "/pcap/http.pcap", "--enc-key", "00"}).code, 2);
}

TEST(IpsecService, EncapAndDecapInstancesChain) {
  e3::service_registry reg;
  register_ipsec(reg);
  const auto& kind = reg.at("ipsec");
  EXPECT_EQ(kind.table1_name, "IPsec");
  EXPECT_FALSE(kind.stateful);
  e3::service_config enc_cfg, dec_cfg;
  enc_cfg.params = {{"enc_key", "000102030405060708090a0b0c0d0e0f"},
                    {"auth_key", "0001020304050607080910111213141516171819"},
                    {"spi", "0x2000"}};
  dec_cfg.params = enc_cfg.params;
  dec_cfg.params["mode"] = "decap";
  auto enc = kind.make(enc_cfg);
  auto dec = kind.make(dec_cfg);
  e3::local_context c1, c2;
  std::mt19937_64 rng(5);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto f = kind.synthetic_request(size, rng);
    EXPECT_EQ(f.size(), size);
    enc->handle({1, 0, f}, c1);
    ASSERT_EQ(c1.emits.size(), 1u);
    EXPECT_EQ(c1.emits[0].key, parse_frame(f)->tuple.hash());
    dec->handle({1, 0, c1.emits[0].payload}, c2);
    ASSERT_EQ(c2.emits.size(), 1u) << (c2.rejections.empty() ? "" : c2.rejections[0]);
    EXPECT_EQ(c2.emits[0].payload, f);
    c1.clear();
    c2.clear();
  }
  std::vector<std::uint8_t> junk(30, 0);
  enc->handle({1, 0, junk}, c1);
  dec->handle({1, 0, junk}, c2);
  EXPECT_EQ(c1.rejections.size(), 1u);
  EXPECT_EQ(c2.rejections.size(), 1u);
  e3::service_config bad;
  bad.params["auth_key"] = "xyz";
  EXPECT_THROW(kind.make(bad), std::invalid_argument);
  bad.params = {{"mode", "sideways"}};
  EXPECT_THROW(kind.make(bad), std::invalid_argument);
}
