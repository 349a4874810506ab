// API gateway tests: HMAC-SHA256 (RFC 4231), token signing and refusals, rate-limit decisions
// against an exact integer model on a driven clock, the record path, state migration and the
// `e3 svc api_gateway` harness.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/api_gateway/api_gateway.hpp"
#include "services/api_gateway/service.hpp"
#include "services/common/record.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3::services;
using namespace e3::services::api_gateway;

namespace {

std::string hex(const std::array<std::uint8_t, 32>& b) {
  static const char d[] = "0123456789abcdef";
  std::string s;
  for (auto c : b)
    s += d[c >> 4], s += d[c & 15];
  return s;
}

e3::bytes request_record(std::string text, std::uint64_t key = 1) {
  record r;
  r.key = key;
  r.ts_ns = 5;
  r.value = 21.5;
  r.text = std::move(text);
  r.aux = "aux";
  return encode(r);
}

/// The decision of an instance for one request: "accept" or the rejection reason.
std::string decide(e3::service& svc, e3::local_context& ctx, std::int64_t now, const std::string& text) {
  ctx.clear();
  ctx.now = now;
  svc.handle({1, 1, request_record(text)}, ctx);
  if (!ctx.emits.empty())
    return "accept";
  return ctx.rejections.empty() ? "nothing" : ctx.rejections[0];
}

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_api_gateway>("api_gateway"), std::move(args));
}

}  // namespace

TEST(Hmac, Rfc4231TestCase2) {
  hmac_sha256 m("Jefe");
  EXPECT_EQ(hex(m.mac("what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(m.mac("what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Token, SignsSubjectAndExpiryWithHmacSha256) {
  auto t = make_token("s3cret", "alice", 1000);
  ASSERT_EQ(t.size(), std::string("alice:1000:").size() + 64);
  EXPECT_EQ(t.substr(0, 11), "alice:1000:");
  std::uint8_t md[32];
  std::size_t n = 0;
  std::string msg = "alice:1000";
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, "s3cret", 6, reinterpret_cast<const unsigned char*>(msg.data()),
            msg.size(), md, sizeof md, &n);
  std::array<std::uint8_t, 32> a;
  std::copy(md, md + 32, a.begin());
  EXPECT_EQ(t.substr(11), hex(a));
  EXPECT_THROW(make_token("k", "", 1), std::invalid_argument);
  EXPECT_THROW(make_token("k", "a b", 1), std::invalid_argument);
  EXPECT_THROW(make_token("k", "a", -1), std::invalid_argument);
}

TEST(Token, VerificationRefusesForgedExpiredAndMalformed) {
  token_verifier v("s3cret");
  auto t = make_token("s3cret", "svc:reader", 1000);  // the subject may contain ':'
  auto ok = v.verify(t, 999);
  EXPECT_EQ(ok.status, token_status::ok);
  EXPECT_EQ(ok.subject, "svc:reader");
  EXPECT_EQ(v.verify(t, 1000).status, token_status::expired);  // expiry is exclusive
  EXPECT_EQ(token_verifier("other").verify(t, 0).status, token_status::bad_signature);
  auto forged = t;
  forged.replace(forged.find(":1000:") + 1, 4, "9999");  // extend the expiry
  EXPECT_EQ(v.verify(forged, 0).status, token_status::bad_signature);
  auto flipped = t;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(v.verify(flipped, 0).status, token_status::bad_signature);
  for (std::string bad : {std::string(""), std::string("alice"), std::string("alice:1000"), t.substr(0, t.size() - 1),
                          "alice:-5:" + t.substr(t.size() - 64), "alice::" + t.substr(t.size() - 64),
                          ":1000:" + t.substr(t.size() - 64), "alice:10x0:" + t.substr(t.size() - 64),
                          "alice:1000:" + std::string(64, 'g')})
    EXPECT_EQ(v.verify(bad, 0).status, token_status::malformed) << bad;
}

TEST(RateLimit, BurstThenOneTokenPerIntervalOnADrivenClock) {
  limiter_config c{10, 5};  // 10/s: one token every 100 ms
  rate_limiter l(c);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(l.allow("a", 0)) << i;
  EXPECT_FALSE(l.allow("a", 0));
  EXPECT_TRUE(l.allow("b", 0));  // buckets are per subject
  EXPECT_FALSE(l.allow("a", 99'999'999));
  EXPECT_TRUE(l.allow("a", 100'000'000));
  EXPECT_FALSE(l.allow("a", 100'000'000));
  EXPECT_FALSE(l.allow("a", 50'000'000));  // the clock went back: no refill
  EXPECT_TRUE(l.allow("a", 200'000'000));
  // After a long idle time the bucket holds `burst` tokens, not more.
  int passed = 0;
  for (int i = 0; i < 10; ++i)
    passed += l.allow("a", 100'000'000'000);
  EXPECT_EQ(passed, 5);
}

TEST(RateLimit, DecisionsMatchAnExactIntegerModel) {
  std::mt19937_64 rng(11);
  for (std::int64_t rate : {1, 3, 7, 1000, 250000}) {
    for (std::int64_t burst : {1, 2, 5, 40}) {
      limiter_config c{double(rate), double(burst)};
      rate_limiter l(c);
      struct model {
        std::int64_t level, last;
      };
      std::map<int, model> m;
      std::int64_t now = 0;
      for (int i = 0; i < 3000; ++i) {
        // Mostly forward steps around the refill interval, sometimes bursts and steps back.
        std::int64_t interval = 1'000'000'000 / rate;
        switch (rng() % 5) {
          case 0: break;
          case 1: now += interval; break;
          case 2: now += std::int64_t(rng() % std::uint64_t(2 * interval + 1)); break;
          case 3: now += std::int64_t(rng() % 3) * interval / 3; break;
          case 4: now -= std::int64_t(rng() % std::uint64_t(interval + 1)); break;
        }
        int subject = int(rng() % 3);
        auto [it, fresh] = m.try_emplace(subject, model{burst * 1'000'000'000, now});
        model& b = it->second;
        if (now > b.last) {
          b.level = std::min(burst * 1'000'000'000, b.level + (now - b.last) * rate);
          b.last = now;
        }
        bool expect = b.level >= 1'000'000'000;
        if (expect)
          b.level -= 1'000'000'000;
        ASSERT_EQ(l.allow("s" + std::to_string(subject), now), expect)
            << "rate " << rate << " burst " << burst << " request " << i;
      }
    }
  }
}

TEST(ApiGatewayService, ForwardsWithoutTokenAndRejectsWithReasons) {
  e3::service_config cfg;
  cfg.params = {{"secret", "k3y"}, {"rate", "2"}, {"burst", "2"}};
  api_gateway_service svc(cfg);
  e3::local_context ctx;
  svc.on_start(ctx);
  auto tok = make_token("k3y", "sensor-17", 10'000'000'000);
  ctx.now = 1000;
  svc.handle({1, 9, request_record(tok + " temp=21.5 unit=C", 9)}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  EXPECT_EQ(ctx.emits[0].key, 9u);
  auto out = decode_record(ctx.emits[0].payload);
  EXPECT_EQ(out.text, "temp=21.5 unit=C");
  EXPECT_EQ(out.key, 9u);
  EXPECT_EQ(out.ts_ns, 5);
  EXPECT_EQ(out.value, 21.5);
  EXPECT_EQ(out.aux, "aux");
  EXPECT_EQ(decide(svc, ctx, 1000, tok), "accept");
  EXPECT_EQ(decide(svc, ctx, 1000, tok), "rate limited");
  EXPECT_EQ(decide(svc, ctx, 500'001'000, tok), "accept");
  EXPECT_EQ(decide(svc, ctx, 10'000'000'000, tok), "token expired");
  EXPECT_EQ(decide(svc, ctx, 0, make_token("wrong", "sensor-17", 10'000'000'000)), "bad token signature");
  EXPECT_EQ(decide(svc, ctx, 0, "sensor-17"), "malformed token");
  EXPECT_EQ(decide(svc, ctx, 0, ""), "malformed token");
  ctx.clear();
  std::vector<std::uint8_t> junk(12, 0xff);
  svc.handle({1, 1, junk}, ctx);
  ASSERT_EQ(ctx.rejections.size(), 1u);
  EXPECT_NE(ctx.rejections[0].find("record"), std::string::npos);
}

TEST(ApiGatewayService, MigratedStateAnswersExactlyAsTheOriginal) {
  e3::service_config cfg;
  cfg.params = {{"secret", "k3y"}, {"rate", "5"}, {"burst", "3"}};
  api_gateway_service a(cfg);
  e3::local_context ca;
  a.on_start(ca);
  std::vector<std::string> tokens;
  for (int s = 0; s < 20; ++s)
    tokens.push_back(make_token("k3y", "client-" + std::to_string(s), 1'000'000'000'000));
  std::mt19937_64 rng(5);
  std::int64_t now = 0;
  for (int i = 0; i < 500; ++i) {
    now += std::int64_t(rng() % 100'000'000);
    decide(a, ca, now, tokens[rng() % tokens.size()]);
  }
  ca.now = now;
  a.flush(ca);
  ca.state().commit();
  auto snapshot = ca.state().export_snapshot();

  api_gateway_service b(cfg);
  e3::local_context cb;
  cb.state().import_snapshot(snapshot);
  b.on_start(cb);
  EXPECT_LE(cb.state().get_table(buckets_table).size(), 20u);
  for (int i = 0; i < 500; ++i) {
    now += std::int64_t(rng() % 100'000'000);
    const auto& t = tokens[rng() % tokens.size()];
    ASSERT_EQ(decide(b, cb, now, t), decide(a, ca, now, t)) << "request " << i;
  }
}

TEST(ApiGatewayService, FlushDropsFullBuckets) {
  e3::service_config cfg;
  cfg.params = {{"secret", "k"}, {"rate", "1"}, {"burst", "2"}};
  api_gateway_service svc(cfg);
  e3::local_context ctx;
  svc.on_start(ctx);
  auto ta = make_token("k", "a", 1'000'000'000'000), tb = make_token("k", "b", 1'000'000'000'000);
  decide(svc, ctx, 0, ta);
  decide(svc, ctx, 0, tb);
  svc.flush(ctx);
  auto& table = ctx.state().get_table(buckets_table);
  EXPECT_EQ(table.size(), 2u);
  decide(svc, ctx, 5'000'000'000, ta);  // a: refilled to 2, takes 1: not full
  ctx.now = 5'000'000'000;
  svc.flush(ctx);  // b untouched: stays stored (only changed buckets are examined)
  EXPECT_EQ(table.size(), 2u);
  decide(svc, ctx, 6'000'000'000, tb);  // b: full again before this request, takes 1
  ctx.now = 60'000'000'000;               // by the flush both are full again
  svc.flush(ctx);
  EXPECT_EQ(table.size(), 1u);  // b (dirty, full) dropped; a (not dirty) kept
}

TEST(ApiGatewaySvc, RequestsFilePrintsDecisions) {
  std::string path = ::testing::TempDir() + "gw_requests.tsv";
  auto expired = make_token("sekret", "carol", 100);
  std::ofstream(path) << "# time_ns\ttoken_or_subject\n"
                      << "0\talice\n0\talice\n0\talice\n"
                      << "1000000000\talice\n"
                      << "150\t" << expired << "\n"
                      << "500\t" << make_token("other", "mallory", 1000) << "\n"
                      << "600\tbob:1:zz\n";
  auto r = run_svc({"--requests", path, "--secret", "sekret", "--rate", "1", "--burst", "2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "0\taccept\talice\n0\taccept\talice\n0\treject\trate limited\n1000000000\taccept\talice\n"
            "150\treject\ttoken expired\n500\treject\tbad token signature\n600\treject\tmalformed token\n"
            "accepted=3 rejected=4\n");
  std::ofstream(path) << "0\talice\nnot-a-time\tbob\n";
  r = run_svc({"--requests", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, path + ":2: bad time_ns 'not-a-time'\n");
  std::ofstream(path) << "0 alice\n";
  EXPECT_EQ(run_svc({"--requests", path}).err, path + ":1: expected time_ns<TAB>token_or_subject\n");
  EXPECT_EQ(run_svc({"--requests", path, "--rate", "-1"}).code, 2);
  EXPECT_EQ(run_svc({"--bogus"}).code, 2);
  auto s = run_svc({"--sign", "dave", "--expiry", "77", "--secret", "sekret"});
  EXPECT_EQ(s.out, make_token("sekret", "dave", 77) + "\n");
}

TEST(ApiGatewayService, SyntheticRequestsAreAccepted) {
  e3::service_registry reg;
  register_api_gateway(reg);
  const auto& kind = reg.at("api_gateway");
  EXPECT_EQ(kind.table1_name, "API gw");
  EXPECT_TRUE(kind.stateful);
  auto svc = kind.make({});
  e3::local_context ctx;
  svc->on_start(ctx);
  std::mt19937_64 rng(3);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind.synthetic_request(size, rng);
    EXPECT_LE(req.size(), std::max<std::size_t>(size, 160));
    ctx.now += 1'000'000;
    svc->handle({1, 1, req}, ctx);
  }
  EXPECT_EQ(ctx.emits.size(), 5u);
  EXPECT_TRUE(ctx.rejections.empty());
}
