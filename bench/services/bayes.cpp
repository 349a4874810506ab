// e3 bench bayes: decisions per second of the Gaussian and multinomial models next to
// straightforward second implementations (densities evaluated directly; words in a std::map),
// on breast_cancer and the State of the Union passages, plus the service path.
#include <cctype>
#include <cmath>
#include <map>
#include <numbers>
#include <string>

#include "actors/local_context.hpp"
#include "bench/common/report.hpp"
#include "services/bayes/bayes.hpp"
#include "services/common/record.hpp"

namespace e3::services {
void register_bayes(service_registry& r);
}
namespace e3::embedded {
extern const std::string_view bayes_default_corpus;
}

using namespace e3;
using namespace e3::services;

namespace {

/// A context that only counts: measures the service, not the recording of its output.
class null_context final : public service_context {
 public:
  void reply(bytes_view) override { ++out; }
  void emit(std::uint64_t, bytes_view p) override { out += p.size(); }
  void reject(std::string_view) override { ++rejected; }
  state::collections& state() override { return *state_; }
  std::int64_t now_ns() const override { return 0; }
  std::size_t out = 0, rejected = 0;

 private:
  std::unique_ptr<state::collections> state_ = state::make_memory_collections();
};

/// GaussianNB written the direct way: per class, the product of normal densities in log space
/// through std::exp/std::log, with means and variances kept per class.
struct direct_gaussian {
  std::vector<std::vector<double>> mean, var;
  std::vector<double> prior;
  explicit direct_gaussian(const ml::dataset& d) {
    std::size_t nc = d.class_names.size(), nf = d.n_features;
    mean.assign(nc, std::vector<double>(nf, 0));
    var.assign(nc, std::vector<double>(nf, 0));
    prior.assign(nc, 0);
    for (std::size_t i = 0; i < d.size(); ++i) {
      prior[std::size_t(d.y[i])] += 1;
      for (std::size_t j = 0; j < nf; ++j)
        mean[std::size_t(d.y[i])][j] += d.row(i)[j];
    }
    for (std::size_t c = 0; c < nc; ++c)
      for (auto& m : mean[c])
        m /= prior[c];
    double all_max = 0;
    for (std::size_t j = 0; j < nf; ++j) {
      double mu = 0, s = 0;
      for (std::size_t i = 0; i < d.size(); ++i)
        mu += d.row(i)[j];
      mu /= double(d.size());
      for (std::size_t i = 0; i < d.size(); ++i)
        s += (d.row(i)[j] - mu) * (d.row(i)[j] - mu);
      all_max = std::max(all_max, s / double(d.size()));
    }
    for (std::size_t i = 0; i < d.size(); ++i)
      for (std::size_t j = 0; j < nf; ++j) {
        auto c = std::size_t(d.y[i]);
        var[c][j] += (d.row(i)[j] - mean[c][j]) * (d.row(i)[j] - mean[c][j]) / prior[c];
      }
    for (std::size_t c = 0; c < nc; ++c) {
      for (auto& v : var[c])
        v += 1e-9 * all_max;
      prior[c] /= double(d.size());
    }
  }
  int predict(const double* x) const {
    int best = 0;
    double best_s = -INFINITY;
    for (std::size_t c = 0; c < prior.size(); ++c) {
      double s = std::log(prior[c]);
      for (std::size_t j = 0; j < mean[c].size(); ++j) {
        double t = x[j] - mean[c][j];
        s += std::log(std::exp(-t * t / (2 * var[c][j])) / std::sqrt(2 * std::numbers::pi * var[c][j]) + 1e-300);
      }
      if (s > best_s) {
        best_s = s;
        best = int(c);
      }
    }
    return best;
  }
};

/// MultinomialNB written the direct way: words split into std::strings, looked up in a std::map.
struct map_multinomial {
  std::map<std::string, std::vector<double>> log_prob;
  std::vector<double> log_prior;
  static std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::string w;
    for (std::size_t i = 0; i <= s.size(); ++i) {
      unsigned char u = i < s.size() ? static_cast<unsigned char>(s[i]) : ' ';
      if (std::isalnum(u) || u == '_' || u >= 0x80) {
        w += char(std::tolower(u));
      } else {
        if (w.size() >= 2)
          out.push_back(w);
        w.clear();
      }
    }
    return out;
  }
  explicit map_multinomial(const bayes::text_corpus& c) {
    std::size_t nc = c.class_names.size();
    std::map<std::string, std::vector<double>> count;
    std::vector<double> total(nc, 0);
    log_prior.assign(nc, 0);
    for (std::size_t i = 0; i < c.docs.size(); ++i) {
      log_prior[std::size_t(c.labels[i])] += 1;
      for (auto& w : words(c.docs[i])) {
        auto& v = count[w];
        v.resize(nc, 0);
        v[std::size_t(c.labels[i])] += 1;
        total[std::size_t(c.labels[i])] += 1;
      }
    }
    for (auto& p : log_prior)
      p = std::log(p / double(c.docs.size()));
    for (auto& [w, v] : count) {
      auto& lp = log_prob[w];
      for (std::size_t k = 0; k < nc; ++k)
        lp.push_back(std::log((v[k] + 1) / (total[k] + double(count.size()))));
    }
  }
  int predict(std::string_view text) const {
    std::vector<double> s = log_prior;
    for (auto& w : words(text)) {
      auto it = log_prob.find(w);
      if (it != log_prob.end())
        for (std::size_t k = 0; k < s.size(); ++k)
          s[k] += it->second[k];
    }
    return int(std::max_element(s.begin(), s.end()) - s.begin());
  }
};

}  // namespace

int main(int argc, char** argv) {
  bool json = bench::wants_json(argc, argv);
  const std::string dir = std::string(E3_SOURCE_DIR) + "/tests/data/ml/";
  bench::report rep("Bayes: MAP decisions per second (models fitted on the whole set, every sample queried)",
                    {"model / data", "path", "K decisions/s", "reference", "ref K decisions/s", "speedup", "same labels"});

  auto d = ml::read_sklearn_csv(dir + "breast_cancer.csv");
  bayes::gaussian_nb g;
  g.fit(d);
  direct_gaussian dg(d);
  std::size_t same = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    same += g.predict(d.row(i)) == dg.predict(d.row(i));
  double ns_g = bench::ns_per_op([&](std::size_t i) { bench::keep(g.predict(d.row(i))); }, d.size(), 20);
  double ns_dg = bench::ns_per_op([&](std::size_t i) { bench::keep(dg.predict(d.row(i))); }, d.size(), 20);
  rep.row({"Gaussian, breast_cancer 569 x 30", "gaussian_nb::predict", 1e6 / ns_g, "direct densities (exp/log)",
           1e6 / ns_dg, ns_dg / ns_g, std::to_string(same) + "/" + std::to_string(d.size())});

  auto c = bayes::read_labelled_text(dir + "sotu_era.tsv");
  bayes::multinomial_nb m(1.0);
  m.fit(c);
  map_multinomial mm(c);
  same = 0;
  double bytes_total = 0;
  for (std::size_t i = 0; i < c.docs.size(); ++i) {
    same += m.predict(c.docs[i]) == mm.predict(c.docs[i]);
    bytes_total += double(c.docs[i].size());
  }
  double ns_m = bench::ns_per_op([&](std::size_t i) { bench::keep(m.predict(c.docs[i])); }, c.docs.size(), 5);
  double ns_mm = bench::ns_per_op([&](std::size_t i) { bench::keep(mm.predict(c.docs[i])); }, c.docs.size(), 5);
  rep.row({"multinomial, SOTU 932 passages (" + std::to_string(int(bytes_total / double(c.docs.size()))) + " B avg)",
           "multinomial_nb::predict", 1e6 / ns_m, "std::string words in a std::map", 1e6 / ns_mm, ns_mm / ns_m,
           std::to_string(same) + "/" + std::to_string(c.docs.size())});

  // The service path: 512 B text records on the built-in spam/ham model.
  service_registry reg;
  register_bayes(reg);
  const auto& kind = reg.at("bayes");
  auto svc = kind.make({});
  std::mt19937_64 rng(1);
  std::vector<bytes> reqs;
  for (int i = 0; i < 1000; ++i)
    reqs.push_back(kind.synthetic_request(512, rng));
  null_context ctx;
  double ns_s = bench::ns_per_op([&](std::size_t i) { svc->handle({i, 1, reqs[i]}, ctx); }, reqs.size(), 10);
  std::vector<std::string> texts;
  for (auto& r : reqs)
    texts.push_back(decode_record(r).text);
  // The reference for this row: the same model (the built-in corpus) in the std::map form,
  // on the texts alone (no record decoding or encoding).
  map_multinomial mref(bayes::parse_labelled_text(embedded::bayes_default_corpus, "built-in corpus"));
  double ns_r = bench::ns_per_op([&](std::size_t i) { bench::keep(mref.predict(texts[i])); }, texts.size(), 10);
  rep.row({"multinomial, 512 B records", "service handle (built-in corpus)", 1e6 / ns_s, "std::map words, 472 B text",
           1e6 / ns_r, ns_r / ns_s, nullptr});
  if (ctx.rejected)
    rep.note("WARNING: " + std::to_string(ctx.rejected) + " requests rejected");
  rep.note("paper Table 1 Bayes (host, Linux): 12.1 K req/s with 12 active cores (its model is not stated)");
  rep.print(json);
  return 0;
}
