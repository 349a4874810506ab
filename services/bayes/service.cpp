// The Bayes service binding: read-only Gaussian and multinomial models from params.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "services/bayes/bayes.hpp"
#include "services/common/cli.hpp"
#include "services/common/record.hpp"

namespace e3::embedded {
extern const std::string_view knn_default_train;
extern const std::string_view bayes_default_corpus;
}  // namespace e3::embedded

namespace e3::services {
namespace {

double parse_positive(std::string_view name, const std::string& text, bool allow_zero) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v) || v < 0 || (!allow_zero && v == 0))
    throw std::invalid_argument(std::string(name) + " '" + text + "' is not a " + (allow_zero ? "non-negative" : "positive") +
                                " number");
  return v;
}

class bayes_service final : public service {
 public:
  bayes_service(bayes::gaussian_nb g, std::vector<std::string> g_names, bayes::multinomial_nb m,
                std::vector<std::string> m_names)
      : g_(std::move(g)), g_names_(std::move(g_names)), m_(std::move(m)), m_names_(std::move(m_names)) {}

  void handle(const request& req, service_context& ctx) override {
    try {
      r_ = decode_record(req.payload);
    } catch (const record_error&) {
      ctx.reject("bayes: malformed record");
      return;
    }
    int label;
    const std::string* name;
    if (!r_.features.empty()) {
      if (r_.features.size() != g_.n_features()) {
        ctx.reject("bayes: feature count differs from the Gaussian training set's");
        return;
      }
      for (double f : r_.features)
        if (!std::isfinite(f)) {
          ctx.reject("bayes: feature is not finite");
          return;
        }
      label = g_.predict(r_.features.data());
      name = &g_names_[std::size_t(label)];
    } else if (!r_.text.empty()) {
      label = m_.predict(r_.text);
      name = &m_names_[std::size_t(label)];
    } else {
      ctx.reject("bayes: record has neither features nor text");
      return;
    }
    record out;
    out.op = r_.op;
    out.key = r_.key;
    out.ts_ns = r_.ts_ns;
    out.value = label;
    out.text = *name;
    out_.clear();
    encode(out, out_);
    ctx.emit(r_.key, out_);
  }

 private:
  bayes::gaussian_nb g_;
  std::vector<std::string> g_names_;
  bayes::multinomial_nb m_;
  std::vector<std::string> m_names_;
  record r_;
  bytes out_;
};

int bayes_main(int argc, char** argv) {
  CLI::App app{"e3 svc bayes: naive Bayes (MAP) leave-one-out accuracy; Gaussian (as scikit-learn's GaussianNB) on\n"
               "a data set in scikit-learn's CSV layout, or multinomial on 'label<TAB>text' lines"};
  std::string csv, text, alpha = "1", smoothing = "1e-9";
  bool loo = false;
  auto* o_csv = app.add_option("--csv", csv, "numeric data set: 'n_samples,n_features,class names...' then rows");
  auto* o_text = app.add_option("--text", text, "labelled text: one 'label<TAB>text' line per document");
  o_csv->excludes(o_text);
  app.add_flag("--loo", loo, "print accuracy=<leave-one-out accuracy> (6 decimals)");
  app.add_option("--alpha", alpha, "multinomial: additive smoothing (default 1)");
  app.add_option("--var-smoothing", smoothing, "Gaussian: share of the largest variance added to all (default 1e-9)");
  if (auto code = parse_svc_args(app, argc, argv, "bayes"))
    return *code;
  double a, vs;
  try {
    a = parse_positive("--alpha", alpha, false);
    vs = parse_positive("--var-smoothing", smoothing, true);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc bayes: " << e.what() << "\n";
    return 2;
  }
  if (csv.empty() == text.empty()) {
    std::cerr << "e3 svc bayes: give --csv FILE or --text FILE\n";
    return 2;
  }
  if (!loo) {
    std::cerr << "e3 svc bayes: nothing to do: give --loo (leave-one-out accuracy)\n";
    return 2;
  }
  double acc;
  try {
    if (!csv.empty()) {
      auto d = ml::read_sklearn_csv(csv);
      acc = double(bayes::gaussian_loo_correct(d, vs)) / double(d.size());
    } else {
      auto c = bayes::read_labelled_text(text);
      bayes::multinomial_nb m(a);
      m.fit(c);
      acc = double(m.loo_correct(c)) / double(c.docs.size());
    }
  } catch (const ml::dataset_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const bayes::corpus_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  char line[64];
  std::snprintf(line, sizeof line, "accuracy=%.6f\n", acc);
  std::cout << line;
  return 0;
}

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // A text message made of words of the built-in corpus, filling the requested size.
  static const char* const words[] = {"free",   "prize", "meeting", "lunch",   "claim", "now",   "report",
                                      "money",  "today", "click",   "project", "offer", "train", "bonus",
                                      "slides", "win",   "dinner",  "cash",    "notes", "gift"};
  record r;
  r.key = rng() % 1024;
  std::size_t want = size > record_header_size ? size - record_header_size : 1;
  while (r.text.size() < want) {
    if (!r.text.empty())
      r.text += ' ';
    r.text += words[rng() % (sizeof words / sizeof *words)];
  }
  r.text.resize(want, ' ');
  return encode(r);
}

}  // namespace

void register_bayes(service_registry& r) {
  service_kind k;
  k.name = "bayes";
  k.table1_name = "Bayes";
  k.summary = "naive Bayes (MAP): Gaussian on record.features, multinomial on record.text; emits value = class, text = class name";
  k.stateful = false;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    double a, vs;
    try {
      a = parse_positive("alpha", c.param("alpha", "1"), false);
      vs = parse_positive("var_smoothing", c.param("var_smoothing", "1e-9"), true);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("bayes: param ") + e.what());
    }
    auto train = c.param("train", "");
    ml::dataset d = train.empty() ? ml::parse_sklearn_csv(embedded::knn_default_train, "built-in iris.csv")
                                  : ml::read_sklearn_csv(train);
    bayes::gaussian_nb g;
    g.fit(d, bayes::no_skip, vs);
    auto text_train = c.param("text_train", "");
    bayes::text_corpus corpus = text_train.empty()
                                    ? bayes::parse_labelled_text(embedded::bayes_default_corpus, "built-in corpus")
                                    : bayes::read_labelled_text(text_train);
    bayes::multinomial_nb m(a);
    m.fit(corpus);
    return std::make_unique<bayes_service>(std::move(g), std::move(d.class_names), std::move(m),
                                           std::move(corpus.class_names));
  };
  k.synthetic_request = synthetic;
  k.svc_main = bayes_main;
  r.add(std::move(k));
}

}  // namespace e3::services
