// e3 bench knn: queries per second of the KNN search (early abandoning) next to a vectorised
// brute-force second method (scikit-learn's 'brute' formulation), on the real ML data sets.
#include <string>

#include "actors/local_context.hpp"
#include "bench/common/report.hpp"
#include "services/common/record.hpp"
#include "services/knn/knn.hpp"

namespace e3::services {
void register_knn(service_registry& r);
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

}  // namespace

int main(int argc, char** argv) {
  bool json = bench::wants_json(argc, argv);
  const std::string dir = std::string(E3_SOURCE_DIR) + "/tests/data/ml/";
  bench::report rep("KNN: leave-one-out queries (every sample against the others), k = 5, Euclidean",
                    {"data set", "samples x features", "path", "K queries/s", "reference", "ref K queries/s",
                     "speedup", "same labels"});
  for (auto [name, file] : {std::pair{"iris", "iris.csv"}, {"wine", "wine_data.csv"}, {"breast_cancer", "breast_cancer.csv"}}) {
    auto d = ml::read_sklearn_csv(dir + file);
    const std::size_t n = d.size();
    knn::classifier c(d, 5);
    knn::brute_reference b(d, 5);
    std::size_t same = 0;
    for (std::size_t i = 0; i < n; ++i)
      same += c.predict(d.row(i), i) == b.predict(d.row(i), i);
    double ns_c = bench::ns_per_op([&](std::size_t i) { bench::keep(c.predict(d.row(i), i)); }, n, 20);
    double ns_b = bench::ns_per_op([&](std::size_t i) { bench::keep(b.predict(d.row(i), i)); }, n, 20);
    rep.row({name, std::to_string(n) + " x " + std::to_string(d.n_features), "classifier (early abandon)", 1e6 / ns_c,
             "brute force, vectorised", 1e6 / ns_b, ns_b / ns_c, std::to_string(same) + "/" + std::to_string(n)});
  }
  // The whole service path on breast_cancer (30 features: 280 B records).
  service_registry reg;
  register_knn(reg);
  service_config cfg;
  cfg.params = {{"train", dir + "breast_cancer.csv"}, {"k", "5"}};
  auto svc = reg.at("knn").make(cfg);
  auto d = ml::read_sklearn_csv(dir + "breast_cancer.csv");
  std::vector<bytes> reqs;
  for (std::size_t i = 0; i < d.size(); ++i) {
    record r;
    r.key = i;
    r.features.assign(d.row(i), d.row(i) + d.n_features);
    reqs.push_back(encode(r));
  }
  null_context ctx;
  knn::classifier c(d, 5);
  double ns_s = bench::ns_per_op([&](std::size_t i) { svc->handle({i, i, reqs[i]}, ctx); }, reqs.size(), 20);
  double ns_c = bench::ns_per_op([&](std::size_t i) { bench::keep(c.predict(d.row(i))); }, d.size(), 20);
  rep.row({"breast_cancer", std::to_string(d.size()) + " x 30", "service handle (record in, record out)", 1e6 / ns_s,
           "classifier::predict alone", 1e6 / ns_c, ns_c / ns_s, nullptr});
  if (ctx.rejected)
    rep.note("WARNING: " + std::to_string(ctx.rejected) + " requests rejected");
  rep.note("paper Table 1 KNN (host, Linux): 42.2 K req/s with 12 active cores (its training set is not stated)");
  rep.print(json);
  return 0;
}
