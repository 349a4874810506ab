// Tests of the Recommend service: held-out RMSE on MovieLens against the item-mean baseline,
// the SGD step by hand, top-N against a full sort, the record binding, migration, the harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <cstdio>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/recommend/recommend.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_recommend(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::recommend;

namespace {

const std::string ratings_csv = std::string(E3_TEST_DATA_DIR) + "/recommend/ratings.csv";

const service_kind& kind() { return svc_test::registered_kind<register_recommend>("recommend"); }

bytes rate(std::uint64_t user, std::uint64_t item, double value) {
  record r;
  r.op = op_rate;
  r.key = user;
  r.features = {double(item)};
  r.value = value;
  return encode(r);
}

bytes ask(std::uint64_t user) {
  record r;
  r.op = op_recommend;
  r.key = user;
  return encode(r);
}

svc_test::svc_run run_svc(std::vector<std::string> args) { return svc_test::run_svc(kind(), std::move(args)); }

}  // namespace

TEST(Recommend, MovieLensHeldOutRmseBeatsTheItemMeanBaseline) {
  auto all = read_movielens_ratings(ratings_csv);
  ASSERT_EQ(all.size(), 100836u);
  std::vector<rating> train, test;
  split(all, 0.8, 1, train, test);
  mf_params p;
  p.factors = 16;
  p.epochs = 15;
  mf_model m(p);
  m.train(train);
  item_mean base;
  base.fit(train);
  double r_model = rmse(test, [&](const rating& r) { return m.predict(r.user, r.item); });
  double r_base = rmse(test, [&](const rating& r) { return base.predict(r.item); });
  std::cout << "[ info ] MovieLens latest-small, 80/20 split seed 1: train " << train.size() << ", test " << test.size()
            << "; RMSE biased MF (16 factors, 15 epochs) " << r_model << ", item mean " << r_base << "\n";
  EXPECT_LT(r_model, r_base);
  EXPECT_LT(r_model, 0.9);
}

TEST(Recommend, SplitIsSeededAndProportional) {
  auto all = read_movielens_ratings(ratings_csv);
  std::vector<rating> a, b, c, d;
  split(all, 0.8, 7, a, b);
  split(all, 0.8, 7, c, d);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), c.begin(), [](const rating& x, const rating& y) {
    return x.user == y.user && x.item == y.item && x.value == y.value;
  }));
  EXPECT_EQ(a.size() + b.size(), all.size());
  EXPECT_NEAR(double(a.size()) / double(all.size()), 0.8, 0.01);
}

TEST(Recommend, OnlineUpdateIsOneSgdStepByHand) {
  mf_params p;
  p.factors = 2;
  p.lr = 0.01;
  p.reg = 0.05;
  mf_model m(p);
  const double pu[] = {0.1, 0.2, 0.3}, qi[] = {-0.2, 0.5, -0.1};  // bias, then factors
  m.set_user(1, pu);
  m.set_item(2, qi);
  m.set_mean_state(3.0, 1);
  m.update(1, 2, 4.0);
  // mu = (3 + 4) / 2 = 3.5; r̂ = 3.5 + 0.1 - 0.2 + (0.2·0.5 + 0.3·-0.1) = 3.47; e = 0.53.
  const double* u = m.user_row(m.user_index(1));
  const double* i = m.item_row(m.item_index(2));
  EXPECT_NEAR(u[0], 0.1 + 0.01 * (0.53 - 0.05 * 0.1), 1e-15);
  EXPECT_NEAR(i[0], -0.2 + 0.01 * (0.53 + 0.05 * 0.2), 1e-15);
  EXPECT_NEAR(u[1], 0.2 + 0.01 * (0.53 * 0.5 - 0.05 * 0.2), 1e-15);
  EXPECT_NEAR(i[1], 0.5 + 0.01 * (0.53 * 0.2 - 0.05 * 0.5), 1e-15);
  EXPECT_NEAR(u[2], 0.3 + 0.01 * (0.53 * -0.1 - 0.05 * 0.3), 1e-15);
  EXPECT_NEAR(i[2], -0.1 + 0.01 * (0.53 * 0.3 + 0.05 * 0.1), 1e-15);
  EXPECT_EQ(m.mean_state().second, 2u);
}

TEST(Recommend, TopNEqualsAFullSortOfAllPredictions) {
  mf_model m;
  auto data = synthetic_ratings();
  m.train(data);
  std::vector<std::pair<std::uint64_t, double>> top;
  for (std::uint64_t user : {1u, 17u, 300u, 999u /* unknown */}) {
    auto skip = [&](std::uint64_t item) { return item % 3 == 0; };
    m.top_n(user, 25, skip, top);
    std::vector<std::pair<std::uint64_t, double>> all;
    for (std::size_t i = 0; i < m.items(); ++i)
      if (!skip(m.item_id(i)))
        all.emplace_back(m.item_id(i), m.predict(user, m.item_id(i)));
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
    all.resize(25);
    ASSERT_EQ(top.size(), 25u);
    for (std::size_t k = 0; k < 25; ++k) {
      EXPECT_EQ(top[k].first, all[k].first) << "user " << user << " rank " << k;
      EXPECT_NEAR(top[k].second, all[k].second, 1e-12);
    }
  }
}

TEST(RecommendService, RatesAndRecommendsThroughRecords) {
  service_config cfg;
  cfg.params["top"] = "5";
  auto svc = kind().make(cfg);
  local_context ctx;
  svc->on_start(ctx);
  svc->handle({1, 42, ask(42)}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  auto before = decode_record(ctx.emits[0].payload);
  EXPECT_EQ(before.op, op_recommend);
  EXPECT_EQ(before.value, 5.0);
  ASSERT_EQ(before.features.size(), 10u);
  for (std::size_t k = 2; k < 10; k += 2)
    EXPECT_GE(before.features[k - 1], before.features[k + 1]);  // best first
  // Rating the best item removes it from the recommendations.
  auto best = std::uint64_t(before.features[0]);
  svc->handle({2, 42, rate(42, best, 5.0)}, ctx);
  auto ack = decode_record(ctx.emits.at(1).payload);
  EXPECT_EQ(ack.op, op_rate);
  EXPECT_EQ(ack.features, (std::vector<double>{double(best)}));
  EXPECT_GE(ack.value, 0.5);
  EXPECT_LE(ack.value, 5.0);
  svc->handle({3, 42, ask(42)}, ctx);
  auto after = decode_record(ctx.emits.at(2).payload);
  for (std::size_t k = 0; k < after.features.size(); k += 2)
    EXPECT_NE(std::uint64_t(after.features[k]), best);
  // A new user and a new item are created by a rating.
  svc->handle({4, 100000, rate(100000, 5000000, 4.5)}, ctx);
  EXPECT_TRUE(ctx.rejections.empty());
}

TEST(RecommendService, RefusesBadRequestsWithoutCrashing) {
  auto svc = kind().make({});
  local_context ctx;
  svc->on_start(ctx);
  record r;
  r.op = op_rate;
  r.key = 1;
  r.value = 3;
  svc->handle({1, 1, encode(r)}, ctx);  // no item
  r.features = {-1};
  svc->handle({1, 1, encode(r)}, ctx);
  r.features = {2.5};
  svc->handle({1, 1, encode(r)}, ctx);
  r.features = {2};
  r.value = 7;
  svc->handle({1, 1, encode(r)}, ctx);
  r.value = NAN;
  svc->handle({1, 1, encode(r)}, ctx);
  std::mt19937_64 rng(6);
  for (int i = 0; i < 1000; ++i) {
    bytes junk(rng() % 100);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    svc->handle({1, 1, junk}, ctx);
  }
  EXPECT_TRUE(ctx.emits.empty());
  EXPECT_EQ(ctx.rejections.size(), 1005u);
  service_config cfg;
  cfg.params["factors"] = "0";
  EXPECT_THROW(kind().make(cfg), std::invalid_argument);
}

TEST(RecommendService, MigratedInstanceAnswersExactlyAsTheOldOne) {
  service_config cfg;
  cfg.params = {{"factors", "8"}, {"epochs", "5"}};
  auto a = kind().make(cfg);
  auto b = kind().make(cfg);
  local_context ca, cb;
  a->on_start(ca);
  b->on_start(cb);
  std::mt19937_64 rng(11);
  auto traffic = [&](int n, auto&& fn) {
    for (int k = 0; k < n; ++k) {
      std::uint64_t user = 1 + rng() % 320;  // some users beyond the built-in 300
      if (rng() % 3)
        fn(rate(user, 1 + rng() % 1100, 0.5 * double(1 + rng() % 10)), user);
      else
        fn(ask(user), user);
    }
  };
  traffic(3000, [&](const bytes& req, std::uint64_t user) {
    a->handle({1, user, req}, ca);
    b->handle({1, user, req}, cb);
  });
  a->flush(ca);
  ca.state().commit();
  local_context cc;
  cc.state().import_snapshot(ca.state().export_snapshot());
  auto c = kind().make(cfg);
  c->on_start(cc);
  cb.clear();
  traffic(3000, [&](const bytes& req, std::uint64_t user) {
    b->handle({1, user, req}, cb);
    c->handle({1, user, req}, cc);
  });
  ASSERT_EQ(cb.emits.size(), 3000u);
  ASSERT_EQ(cc.emits.size(), 3000u);
  for (std::size_t i = 0; i < cb.emits.size(); ++i)
    ASSERT_EQ(cb.emits[i].payload, cc.emits[i].payload) << "message " << i;
}

TEST(RecommendService, SyntheticRequestsAreValidAndOfTheAskedSize) {
  std::mt19937_64 rng(3);
  auto svc = kind().make({});
  local_context ctx;
  svc->on_start(ctx);
  for (int rep = 0; rep < 4; ++rep)
    for (std::size_t size : {64, 256, 512, 1024, 1500}) {
      auto req = kind().synthetic_request(size, rng);
      EXPECT_EQ(req.size(), size);
      ctx.clear();
      svc->handle({1, 1, req}, ctx);
      EXPECT_TRUE(ctx.rejections.empty());
      EXPECT_EQ(ctx.emits.size(), 1u);
    }
}

TEST(RecommendSvc, PrintsBothRmses) {
  auto r = run_svc({"--ratings", ratings_csv, "--split", "0.8", "--seed", "1", "--factors", "8", "--epochs", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::size_t n_train = 0, n_test = 0;
  double r_model = 0, r_base = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "train=%zu test=%zu rmse_model=%lf rmse_item_mean=%lf", &n_train, &n_test, &r_model,
                        &r_base),
            4)
      << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(n_train + n_test, 100836u);
  EXPECT_LT(r_model, r_base);
}

TEST(RecommendSvc, BadInputNamesFileAndLineAndExitsWith2) {
  std::string path = testing::TempDir() + "ratings_bad.csv";
  std::ofstream(path) << "userId,movieId,rating,timestamp\r\n1,2,4.0,100\r\n1,x,3.0,101\r\n";
  auto r = run_svc({"--ratings", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":3: movieId 'x'"), std::string::npos) << r.err;
  r = run_svc({"--ratings", ratings_csv, "--split", "1.5"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--split"), std::string::npos) << r.err;
  r = run_svc({});
  EXPECT_EQ(r.code, 2);
}
