// The KNN service binding: a read-only training set from params, one query per record.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "services/common/cli.hpp"
#include "services/common/record.hpp"
#include "services/knn/knn.hpp"

namespace e3::embedded {
extern const std::string_view knn_default_train;
}

namespace e3::services {
namespace {

unsigned parse_k(std::string_view text) {
  unsigned k = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (ec != std::errc() || end != text.data() + text.size() || k == 0)
    throw std::invalid_argument("k '" + std::string(text) + "' is not a positive integer");
  return k;
}

class knn_service final : public service {
 public:
  explicit knn_service(knn::classifier c) : c_(std::move(c)) {}

  void handle(const request& req, service_context& ctx) override {
    record r;
    try {
      r = decode_record(req.payload);
    } catch (const record_error&) {
      ctx.reject("knn: malformed record");
      return;
    }
    if (r.features.size() != c_.data().n_features) {
      ctx.reject("knn: query feature count differs from the training set's");
      return;
    }
    for (double f : r.features)
      if (!std::isfinite(f)) {
        ctx.reject("knn: query feature is not finite");
        return;
      }
    int label = c_.predict(r.features.data());
    record out;
    out.op = r.op;
    out.key = r.key;
    out.ts_ns = r.ts_ns;
    out.value = label;
    out.text = c_.data().class_names[std::size_t(label)];
    out_.clear();
    encode(out, out_);
    ctx.emit(r.key, out_);
  }

 private:
  knn::classifier c_;
  bytes out_;
};

int knn_main(int argc, char** argv) {
  CLI::App app{"e3 svc knn: k-nearest-neighbour classification (Euclidean, majority vote, smallest label on ties)\n"
               "on a data set in scikit-learn's CSV layout; --loo prints the leave-one-out accuracy"};
  std::string csv, k_text = "5";
  bool loo = false;
  app.add_option("--csv", csv, "data set: 'n_samples,n_features,class names...' then rows of features and a label")
      ->required();
  app.add_flag("--loo", loo, "print accuracy=<leave-one-out accuracy> (6 decimals)");
  app.add_option("--k", k_text, "neighbours that vote (default 5)");
  if (auto code = parse_svc_args(app, argc, argv, "knn"))
    return *code;
  unsigned k;
  try {
    k = parse_k(k_text);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc knn: --k: " << e.what() << "\n";
    return 2;
  }
  if (!loo) {
    std::cerr << "e3 svc knn: nothing to do: give --loo (leave-one-out accuracy)\n";
    return 2;
  }
  ml::dataset d;
  try {
    d = ml::read_sklearn_csv(csv);
  } catch (const ml::dataset_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  std::size_t n = d.size();
  knn::classifier c(std::move(d), k);
  char line[64];
  std::snprintf(line, sizeof line, "accuracy=%.6f\n", double(knn::loo_correct(c)) / double(n));
  std::cout << line;
  return 0;
}

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // A query like an iris flower (the built-in training set): 4 measurements in cm.
  record r;
  r.key = rng() % 1024;
  r.features = {4.3 + double(rng() % 360) / 100.0, 2.0 + double(rng() % 240) / 100.0,
                1.0 + double(rng() % 590) / 100.0, 0.1 + double(rng() % 240) / 100.0};
  std::size_t used = record_header_size + r.features.size() * 8;
  if (size > used)
    r.text.assign(size - used, 'q');
  return encode(r);
}

}  // namespace

void register_knn(service_registry& r) {
  service_kind k;
  k.name = "knn";
  k.table1_name = "KNN";
  k.summary = "k-nearest-neighbour classifier: record.features = query; emits value = label, text = class name";
  k.stateful = false;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    unsigned kk;
    try {
      kk = parse_k(c.param("k", "5"));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("knn: param ") + e.what());
    }
    auto train = c.param("train", "");
    ml::dataset d = train.empty() ? ml::parse_sklearn_csv(embedded::knn_default_train, "built-in iris.csv")
                                  : ml::read_sklearn_csv(train);
    return std::make_unique<knn_service>(knn::classifier(std::move(d), kk));
  };
  k.synthetic_request = synthetic;
  k.svc_main = knn_main;
  r.add(std::move(k));
}

}  // namespace e3::services
