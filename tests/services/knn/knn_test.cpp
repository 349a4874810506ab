// Tests of the KNN service: leave-one-out accuracy against scikit-learn on iris, wine and
// breast_cancer, tie rules, the record binding and the harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/knn/knn.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_knn(service_registry& r);
}

using namespace e3;
using namespace e3::services;

namespace {

const std::string ml_dir = std::string(E3_TEST_DATA_DIR) + "/ml/";

const service_kind& kind() { return svc_test::registered_kind<register_knn>("knn"); }

svc_test::svc_run run_svc(std::vector<std::string> args) { return svc_test::run_svc(kind(), std::move(args)); }

ml::dataset tiny(std::vector<std::vector<double>> rows, std::vector<int> labels, std::size_t classes) {
  ml::dataset d;
  d.n_features = rows[0].size();
  for (auto& r : rows)
    d.x.insert(d.x.end(), r.begin(), r.end());
  d.y = std::move(labels);
  for (std::size_t c = 0; c < classes; ++c)
    d.class_names.push_back("c" + std::to_string(c));
  return d;
}

}  // namespace

TEST(Knn, LeaveOneOutMatchesScikitLearnWithinOneSample) {
  const std::pair<const char*, const char*> sets[] = {
      {"iris", "iris.csv"}, {"wine", "wine_data.csv"}, {"breast_cancer", "breast_cancer.csv"}};
  for (auto [set, file] : sets) {
    auto d = ml::read_sklearn_csv(ml_dir + file);
    const double n = double(d.size());
    for (unsigned k : {1u, 3u, 5u}) {
      double ref = svc_test::sklearn_loo_accuracy(set, "kNN(k=" + std::to_string(k) + ",euclid)");
      knn::classifier c(d, k);
      double ours = double(knn::loo_correct(c)) / n;
      // The reference is printed with 6 decimals: allow one sample plus that rounding.
      EXPECT_LE(std::abs(ours - ref), 1.0 / n + 5e-7) << set << " k=" << k << " ours " << ours << " sklearn " << ref;
      // The second method (brute force, sklearn-style distances) agrees on the accuracy too.
      knn::brute_reference b(d, k);
      std::size_t ok = 0, same = 0;
      for (std::size_t i = 0; i < d.size(); ++i) {
        int p = b.predict(d.row(i), i);
        ok += p == d.y[i];
        same += p == c.predict(d.row(i), i);
      }
      EXPECT_LE(std::abs(double(ok) / n - ref), 1.0 / n + 5e-7) << set << " k=" << k << " (brute)";
      EXPECT_GE(same + 1, d.size()) << set << " k=" << k;
      std::cout << "[ info ] " << set << " k=" << k << ": ours " << ours << ", sklearn " << ref << ", brute "
                << double(ok) / n << "\n";
    }
  }
}

TEST(Knn, VoteTiesGoToTheSmallestLabel) {
  // Query at 0: neighbours at distance 1 (label 2) and 2 (label 1), k = 2 -> one vote each.
  knn::classifier c(tiny({{1}, {2}, {10}}, {2, 1, 0}, 3), 2);
  double q = 0;
  EXPECT_EQ(c.predict(&q), 1);
}

TEST(Knn, EquidistantNeighboursKeepTrainingOrder) {
  // Query at 0, k = 1: samples at -1 (label 1) and +1 (label 0) are equidistant; the first wins.
  knn::classifier c(tiny({{-1}, {1}}, {1, 0}, 2), 1);
  double q = 0;
  EXPECT_EQ(c.predict(&q), 1);
  knn::classifier c2(tiny({{1}, {-1}}, {0, 1}, 2), 1);
  EXPECT_EQ(c2.predict(&q), 0);
}

TEST(Knn, FewerCandidatesThanKAllVote) {
  knn::classifier c(tiny({{1}, {2}, {3}}, {1, 1, 0}, 2), 10);
  double q = 3;
  EXPECT_EQ(c.predict(&q), 1);
  EXPECT_EQ(c.predict(&q, 0), 0);  // without sample 0: one vote each, smallest label
}

TEST(KnnService, ClassifiesARecordAndNamesTheClass) {
  service_config cfg;
  cfg.params["train"] = ml_dir + "iris.csv";
  cfg.params["k"] = "3";
  auto svc = kind().make(cfg);
  local_context ctx;
  record r;
  r.key = 77;
  r.ts_ns = 5;
  r.features = {6.7, 3.0, 5.2, 2.3};  // an iris virginica row
  svc->handle({1, 77, encode(r)}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  EXPECT_EQ(ctx.emits[0].key, 77u);
  auto out = decode_record(ctx.emits[0].payload);
  EXPECT_EQ(out.value, 2.0);
  EXPECT_EQ(out.text, "virginica");
  EXPECT_EQ(out.ts_ns, 5);
  r.features = {5.0, 3.4, 1.5, 0.2};
  svc->handle({2, 77, encode(r)}, ctx);
  EXPECT_EQ(decode_record(ctx.emits.at(1).payload).text, "setosa");
}

TEST(KnnService, RefusesBadQueriesWithoutCrashing) {
  auto svc = kind().make({});
  local_context ctx;
  record r;
  r.features = {1, 2, 3};
  svc->handle({1, 1, encode(r)}, ctx);
  r.features = {1, 2, 3, NAN};
  svc->handle({1, 1, encode(r)}, ctx);
  std::mt19937_64 rng(2);
  for (int i = 0; i < 1000; ++i) {
    bytes junk(rng() % 120);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    svc->handle({1, 1, junk}, ctx);
  }
  EXPECT_TRUE(ctx.emits.empty());
  EXPECT_EQ(ctx.rejections.size(), 1002u);
}

TEST(KnnService, BadParamsAreReported) {
  service_config cfg;
  cfg.params["k"] = "0";
  EXPECT_THROW(kind().make(cfg), std::invalid_argument);
  std::string path = testing::TempDir() + "knn_bad_train.csv";
  std::ofstream(path) << "2,2,a,b\n1,2,0\n1,x,1\n";
  cfg.params = {{"train", path}};
  try {
    kind().make(cfg);
    FAIL() << "no error";
  } catch (const ml::dataset_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: feature 2 'x'"), std::string::npos) << e.what();
  }
}

TEST(KnnService, SyntheticRequestsAreValidAndOfTheAskedSize) {
  std::mt19937_64 rng(3);
  auto svc = kind().make({});
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), std::max<std::size_t>(size, 72));
    local_context ctx;
    svc->handle({1, 1, req}, ctx);
    EXPECT_TRUE(ctx.rejections.empty());
    EXPECT_EQ(ctx.emits.size(), 1u);
  }
}

TEST(KnnSvc, PrintsLeaveOneOutAccuracy) {
  auto r = run_svc({"--csv", ml_dir + "iris.csv", "--loo", "--k", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(svc_test::accuracy_line(r.out)) << r.out;
  EXPECT_NEAR(std::stod(r.out.substr(9)), svc_test::sklearn_loo_accuracy("iris", "kNN(k=5,euclid)"), 1.0 / 150 + 5e-7);
}

TEST(KnnSvc, BadInputNamesFileAndLineAndExitsWith2) {
  std::string path = testing::TempDir() + "knn_bad.csv";
  std::ofstream(path) << "3,2,a,b\n1,2,0\n3,4,1\n5,6,7\n";
  auto r = run_svc({"--csv", path, "--loo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":4: label '7'"), std::string::npos) << r.err;
  r = run_svc({"--csv", ml_dir + "iris.csv"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--loo"), std::string::npos);
  r = run_svc({"--csv", ml_dir + "iris.csv", "--loo", "--k", "-1"});
  EXPECT_EQ(r.code, 2);
}
