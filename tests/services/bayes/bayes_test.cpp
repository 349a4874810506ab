// Tests of the Bayes service: GaussianNB leave-one-out accuracy against scikit-learn, the
// multinomial model on a hand-worked corpus and on State of the Union passages, the binding and
// the harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <random>

#include "actors/local_context.hpp"
#include "services/bayes/bayes.hpp"
#include "services/common/record.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_bayes(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::bayes;

namespace {

const std::string ml_dir = std::string(E3_TEST_DATA_DIR) + "/ml/";

const service_kind& kind() { return svc_test::registered_kind<register_bayes>("bayes"); }

svc_test::svc_run run_svc(std::vector<std::string> args) { return svc_test::run_svc(kind(), std::move(args)); }

// The hand-worked corpus (alpha = 1). Words: ham {lunch 1, today 2, meeting 1} (N = 4);
// spam {win 2, money 1, now 1, prize 1} (N = 5; "a" is too short to be a word); |V| = 7.
const char* const hand_corpus =
    "ham\tLunch today?\n"
    "spam\tWin money now!\n"
    "ham\tmeeting TODAY\n"
    "spam\twin a prize\n";

// An independent multinomial NB for the leave-one-out cross-check: std::map counts, refit
// from scratch without document `skip`, words of 2+ word bytes lower-cased.
int refit_predict(const text_corpus& c, std::size_t skip, double alpha) {
  auto words = [](const std::string& s) {
    std::vector<std::string> out;
    std::string w;
    for (char ch : s + " ") {
      unsigned char u = static_cast<unsigned char>(ch);
      if (std::isalnum(u) || ch == '_' || u >= 0x80) {
        w += char(std::tolower(u));
      } else {
        if (w.size() >= 2)
          out.push_back(w);
        w.clear();
      }
    }
    return out;
  };
  const std::size_t nc = c.class_names.size();
  std::map<std::string, std::vector<double>> count;
  std::vector<double> total(nc, 0), docs(nc, 0);
  for (std::size_t i = 0; i < c.docs.size(); ++i) {
    if (i == skip)
      continue;
    auto y = std::size_t(c.labels[i]);
    docs[y] += 1;
    for (auto& w : words(c.docs[i])) {
      auto& v = count[w];
      v.resize(nc, 0);
      v[y] += 1;
      total[y] += 1;
    }
  }
  int best = -1;
  double best_s = 0;
  for (std::size_t k = 0; k < nc; ++k) {
    if (docs[k] == 0)
      continue;
    double s = std::log(docs[k] / double(c.docs.size() - 1));
    for (auto& w : words(c.docs[skip])) {
      auto it = count.find(w);
      if (it != count.end())
        s += std::log((it->second[k] + alpha) / (total[k] + alpha * double(count.size())));
    }
    if (best < 0 || s > best_s) {
      best = int(k);
      best_s = s;
    }
  }
  return best;
}

}  // namespace

TEST(BayesGaussian, LeaveOneOutMatchesScikitLearnWithinOneSample) {
  for (auto [set, file] : {std::pair{"iris", "iris.csv"}, {"wine", "wine_data.csv"}, {"breast_cancer", "breast_cancer.csv"}}) {
    auto d = ml::read_sklearn_csv(ml_dir + file);
    double ours = double(gaussian_loo_correct(d)) / double(d.size());
    double ref = svc_test::sklearn_loo_accuracy(set, "GaussianNB");
    EXPECT_LE(std::abs(ours - ref), 1.0 / double(d.size()) + 5e-7) << set << " ours " << ours << " sklearn " << ref;
    std::cout << "[ info ] " << set << " GaussianNB LOO: ours " << ours << ", sklearn " << ref << "\n";
  }
}

TEST(BayesGaussian, JointLogLikelihoodIsTheSmoothedNormalDensity) {
  // Class 0 = {0, 2}: mean 1, variance 1. Class 1 = {10}: variance 0, so only the smoothing
  // 1e-9 × var({0, 2, 10}) = 1e-9 × 56/3 remains.
  ml::dataset d;
  d.n_features = 1;
  d.x = {0, 2, 10};
  d.y = {0, 0, 1};
  d.class_names = {"a", "b"};
  gaussian_nb g;
  g.fit(d);
  const double eps = 1e-9 * 56.0 / 3.0;
  double x = 5;
  double want0 = std::log(2.0 / 3) - 0.5 * std::log(2 * std::numbers::pi * (1 + eps)) - 0.5 * 16 / (1 + eps);
  double want1 = std::log(1.0 / 3) - 0.5 * std::log(2 * std::numbers::pi * eps) - 0.5 * 25 / eps;
  EXPECT_NEAR(g.joint_log_likelihood(&x, 0), want0, 1e-12);
  EXPECT_NEAR(g.joint_log_likelihood(&x, 1), want1, 1e-6 * std::abs(want1));
  EXPECT_EQ(g.predict(&x), 0);
  x = 10;
  EXPECT_EQ(g.predict(&x), 1);
}

TEST(BayesMultinomial, HandWorkedCorpusGivesTheMapAnswer) {
  auto c = parse_labelled_text(hand_corpus, "hand");
  ASSERT_EQ(c.class_names, (std::vector<std::string>{"ham", "spam"}));
  multinomial_nb m(1.0);
  m.fit(c);
  EXPECT_EQ(m.vocabulary(), 7u);
  // "win today": ham 1/2 · (0+1)/11 · (2+1)/11 = 3/242; spam 1/2 · (2+1)/12 · (0+1)/12 = 3/288.
  // 3/242 > 3/288: ham, although "win" is a spam word.
  EXPECT_NEAR(m.log_posterior("win today", 0), std::log(3.0 / 242), 1e-12);
  EXPECT_NEAR(m.log_posterior("win today", 1), std::log(3.0 / 288), 1e-12);
  EXPECT_EQ(m.predict("win today"), 0);
  EXPECT_EQ(m.predict("WIN, Today!"), 0);  // case and punctuation do not matter
  // "win win today": ham 1/2 · (1/11)² · 3/11 = 3/2662; spam 1/2 · (3/12)² · 1/12 = 9/3456. spam.
  EXPECT_NEAR(m.log_posterior("win win today", 1), std::log(9.0 / 3456), 1e-12);
  EXPECT_EQ(m.predict("win win today"), 1);
  // Only unknown words: equal priors, the tie goes to the smallest class.
  EXPECT_EQ(m.predict("zebra quantum"), 0);
}

TEST(BayesMultinomial, StateOfTheUnionEraLeaveOneOut) {
  // 932 passages (the first four of each address 1790-2021); label: the address's era. The
  // exact leave-one-out (counts removed) must equal a from-scratch refit, and the model must
  // tell the eras apart far better than the majority class (492/932 = 0.528).
  auto c = read_labelled_text(ml_dir + "sotu_era.tsv");
  ASSERT_EQ(c.docs.size(), 932u);
  multinomial_nb m(1.0);
  m.fit(c);
  std::size_t ok = m.loo_correct(c);
  double acc = double(ok) / double(c.docs.size());
  std::cout << "[ info ] SOTU era LOO accuracy " << acc << " (" << ok << "/932), vocabulary " << m.vocabulary() << "\n";
  EXPECT_GT(acc, 0.9);
  // Cross-check 5 documents against the refit.
  text_corpus one = c;
  for (std::size_t i = 0; i < c.docs.size(); i += 191) {
    int want = refit_predict(c, i, 1.0);
    one.docs = {c.docs[i]};
    one.labels = {want};
    EXPECT_EQ(m.loo_correct(one), 1u) << "document " << i;
  }
}

TEST(BayesService, ClassifiesFeaturesAndText) {
  auto svc = kind().make({});
  local_context ctx;
  record r;
  r.key = 3;
  r.features = {6.7, 3.0, 5.2, 2.3};
  svc->handle({1, 3, encode(r)}, ctx);
  r.features.clear();
  r.text = "Claim your free prize now";
  svc->handle({2, 3, encode(r)}, ctx);
  r.text = "see you at lunch after the meeting";
  svc->handle({3, 3, encode(r)}, ctx);
  ASSERT_EQ(ctx.emits.size(), 3u);
  EXPECT_EQ(decode_record(ctx.emits[0].payload).text, "virginica");
  EXPECT_EQ(decode_record(ctx.emits[1].payload).text, "spam");
  EXPECT_EQ(decode_record(ctx.emits[1].payload).value, 1.0);
  EXPECT_EQ(decode_record(ctx.emits[2].payload).text, "ham");
}

TEST(BayesService, UsesTrainingFilesFromParams) {
  std::string path = testing::TempDir() + "bayes_hand.tsv";
  std::ofstream(path) << hand_corpus;
  service_config cfg;
  cfg.params = {{"text_train", path}, {"train", ml_dir + "wine_data.csv"}};
  auto svc = kind().make(cfg);
  local_context ctx;
  record r;
  r.text = "win win today";
  svc->handle({1, 1, encode(r)}, ctx);
  EXPECT_EQ(decode_record(ctx.emits.at(0).payload).text, "spam");
  r.text.clear();
  r.features = {13.2, 1.78, 2.14, 11.2, 100, 2.65, 2.76, 0.26, 1.28, 4.38, 1.05, 3.4, 1050};
  svc->handle({1, 1, encode(r)}, ctx);
  EXPECT_EQ(decode_record(ctx.emits.at(1).payload).text, "class_0");
}

TEST(BayesService, RefusesBadRequestsWithoutCrashing) {
  auto svc = kind().make({});
  local_context ctx;
  record r;
  svc->handle({1, 1, encode(r)}, ctx);  // neither features nor text
  r.features = {1, 2};
  svc->handle({1, 1, encode(r)}, ctx);
  r.features = {1, 2, 3, INFINITY};
  svc->handle({1, 1, encode(r)}, ctx);
  std::mt19937_64 rng(4);
  for (int i = 0; i < 1000; ++i) {
    bytes junk(rng() % 100);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    svc->handle({1, 1, junk}, ctx);
  }
  EXPECT_TRUE(ctx.emits.empty());
  EXPECT_EQ(ctx.rejections.size(), 1003u);
  service_config cfg;
  cfg.params["alpha"] = "0";
  EXPECT_THROW(kind().make(cfg), std::invalid_argument);
}

TEST(BayesService, SyntheticRequestsAreValidAndOfTheAskedSize) {
  std::mt19937_64 rng(3);
  auto svc = kind().make({});
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    local_context ctx;
    svc->handle({1, 1, req}, ctx);
    EXPECT_TRUE(ctx.rejections.empty());
    EXPECT_EQ(ctx.emits.size(), 1u);
  }
}

TEST(BayesSvc, PrintsLeaveOneOutAccuracy) {
  auto r = run_svc({"--csv", ml_dir + "iris.csv", "--loo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(svc_test::accuracy_line(r.out)) << r.out;
  EXPECT_NEAR(std::stod(r.out.substr(9)), svc_test::sklearn_loo_accuracy("iris", "GaussianNB"), 1.0 / 150 + 5e-7);
  r = run_svc({"--text", ml_dir + "sotu_era.tsv", "--loo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(svc_test::accuracy_line(r.out) && r.out[11] == '9') << r.out;
}

TEST(BayesSvc, BadInputNamesFileAndLineAndExitsWith2) {
  std::string path = testing::TempDir() + "bayes_bad.tsv";
  std::ofstream(path) << "ham\thello there\nspam no tab here\n";
  auto r = run_svc({"--text", path, "--loo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":2: no tab"), std::string::npos) << r.err;
  std::string csv = testing::TempDir() + "bayes_bad.csv";
  std::ofstream(csv) << "2,1,a\n1,0\n1,0,0\n";
  r = run_svc({"--csv", csv, "--loo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(csv + ":3: 3 fields"), std::string::npos) << r.err;
  r = run_svc({"--csv", csv, "--text", path, "--loo"});
  EXPECT_EQ(r.code, 2);
  r = run_svc({"--csv", ml_dir + "iris.csv"});
  EXPECT_EQ(r.code, 2);
}
