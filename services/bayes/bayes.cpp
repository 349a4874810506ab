// Gaussian and multinomial naive Bayes with MAP decisions, and exact leave-one-out helpers.
#include "services/bayes/bayes.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>

namespace e3::services::bayes {

namespace {
constexpr double neg_inf = -std::numeric_limits<double>::infinity();
}

void gaussian_nb::fit(const ml::dataset& d, std::size_t skip, double var_smoothing) {
  const std::size_t nf = d.n_features, nc = d.class_names.size();
  const std::size_t n = d.size() - (skip < d.size() ? 1 : 0);
  if (n == 0)
    throw std::invalid_argument("bayes: the training set is empty");
  nf_ = nf;
  // The smoothing: var_smoothing times the largest per-feature variance of the whole set.
  std::vector<double> mean(nf, 0.0);
  for (std::size_t i = 0; i < d.size(); ++i)
    if (i != skip)
      for (std::size_t j = 0; j < nf; ++j)
        mean[j] += d.row(i)[j];
  for (auto& m : mean)
    m /= double(n);
  double max_var = 0;
  for (std::size_t j = 0; j < nf; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < d.size(); ++i)
      if (i != skip) {
        double t = d.row(i)[j] - mean[j];
        s += t * t;
      }
    max_var = std::max(max_var, s / double(n));
  }
  const double epsilon = var_smoothing * max_var;

  std::vector<std::size_t> count(nc, 0);
  theta_.assign(nc * nf, 0.0);
  var_.assign(nc * nf, 0.0);
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i == skip)
      continue;
    auto c = std::size_t(d.y[i]);
    ++count[c];
    for (std::size_t j = 0; j < nf; ++j)
      theta_[c * nf + j] += d.row(i)[j];
  }
  for (std::size_t c = 0; c < nc; ++c)
    for (std::size_t j = 0; j < nf; ++j)
      theta_[c * nf + j] = count[c] ? theta_[c * nf + j] / double(count[c]) : 0.0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i == skip)
      continue;
    auto c = std::size_t(d.y[i]);
    for (std::size_t j = 0; j < nf; ++j) {
      double t = d.row(i)[j] - theta_[c * nf + j];
      var_[c * nf + j] += t * t;
    }
  }
  log_prior_.assign(nc, neg_inf);
  log_norm_.assign(nc, 0.0);
  for (std::size_t c = 0; c < nc; ++c) {
    for (std::size_t j = 0; j < nf; ++j) {
      double& v = var_[c * nf + j];
      v = (count[c] ? v / double(count[c]) : 0.0) + epsilon;
      log_norm_[c] -= 0.5 * std::log(2.0 * std::numbers::pi * v);
    }
    if (count[c])
      log_prior_[c] = std::log(double(count[c]) / double(n));
  }
}

double gaussian_nb::joint_log_likelihood(const double* x, std::size_t c) const {
  if (log_prior_[c] == neg_inf)
    return neg_inf;
  const double* th = theta_.data() + c * nf_;
  const double* va = var_.data() + c * nf_;
  double s = 0;
  for (std::size_t j = 0; j < nf_; ++j) {
    double t = x[j] - th[j];
    s += t * t / va[j];
  }
  return log_prior_[c] + log_norm_[c] - 0.5 * s;
}

int gaussian_nb::predict(const double* x) const {
  int best = 0;
  double best_v = neg_inf;
  for (std::size_t c = 0; c < log_prior_.size(); ++c) {
    double v = joint_log_likelihood(x, c);
    if (v > best_v) {
      best_v = v;
      best = int(c);
    }
  }
  return best;
}

std::size_t gaussian_loo_correct(const ml::dataset& d, double var_smoothing) {
  gaussian_nb m;
  std::size_t ok = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    m.fit(d, i, var_smoothing);
    ok += m.predict(d.row(i)) == d.y[i];
  }
  return ok;
}

text_corpus parse_labelled_text(std::string_view text, std::string_view name) {
  std::vector<std::pair<std::string, std::string_view>> rows;
  std::size_t at = 0, line_no = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0)
      throw corpus_error(std::string(name) + ":" + std::to_string(line_no) +
                         (line.empty() ? ": empty line" : tab == 0 ? ": empty label" : ": no tab between label and text"));
    rows.emplace_back(std::string(line.substr(0, tab)), line.substr(tab + 1));
  }
  if (rows.empty())
    throw corpus_error(std::string(name) + ":1: no documents");
  text_corpus c;
  for (auto& r : rows)
    c.class_names.push_back(r.first);
  std::sort(c.class_names.begin(), c.class_names.end());
  c.class_names.erase(std::unique(c.class_names.begin(), c.class_names.end()), c.class_names.end());
  for (auto& r : rows) {
    c.labels.push_back(int(std::lower_bound(c.class_names.begin(), c.class_names.end(), r.first) - c.class_names.begin()));
    c.docs.emplace_back(r.second);
  }
  return c;
}

text_corpus read_labelled_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw corpus_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream b;
  b << in.rdbuf();
  return parse_labelled_text(b.str(), path);
}

multinomial_nb::multinomial_nb(double alpha) : alpha_(alpha) {
  if (!(alpha > 0) || !std::isfinite(alpha))
    throw std::invalid_argument("bayes: alpha must be a positive number");
}

void multinomial_nb::fit(const text_corpus& c) {
  if (c.docs.empty())
    throw std::invalid_argument("bayes: the text corpus is empty");
  const std::size_t nc = c.class_names.size();
  vocab_.clear();
  counts_.clear();
  totals_.clear();
  class_words_.assign(nc, 0);
  class_docs_.assign(nc, 0);
  docs_ = c.docs.size();
  for (std::size_t i = 0; i < c.docs.size(); ++i) {
    auto y = std::size_t(c.labels[i]);
    ++class_docs_[y];
    for_each_word(c.docs[i], buf_, [&](std::string_view w) {
      auto it = vocab_.find(w);
      if (it == vocab_.end()) {
        it = vocab_.emplace(std::string(w), std::uint32_t(totals_.size())).first;
        totals_.push_back(0);
        counts_.resize(counts_.size() + nc, 0);
      }
      ++counts_[it->second * nc + y];
      ++totals_[it->second];
      ++class_words_[y];
    });
  }
  const double v = double(vocab_.size());
  log_prob_.resize(counts_.size());
  for (std::size_t w = 0; w < totals_.size(); ++w)
    for (std::size_t k = 0; k < nc; ++k)
      log_prob_[w * nc + k] = std::log(double(counts_[w * nc + k]) + alpha_) - std::log(double(class_words_[k]) + alpha_ * v);
  log_prior_.assign(nc, neg_inf);
  for (std::size_t k = 0; k < nc; ++k)
    if (class_docs_[k])
      log_prior_[k] = std::log(double(class_docs_[k])) - std::log(double(docs_));
  seen_.assign(totals_.size(), 0);
  score_.resize(nc);
}

void multinomial_nb::count_words(std::string_view text) const {
  words_.clear();
  for_each_word(text, buf_, [&](std::string_view w) {
    auto it = vocab_.find(w);
    if (it == vocab_.end())
      return;
    auto& s = seen_[it->second];
    if (s == 0) {
      words_.emplace_back(it->second, 0);
      s = std::uint32_t(words_.size());
    }
    ++words_[s - 1].second;
  });
  for (auto& [w, n] : words_)
    seen_[w] = 0;
}

double multinomial_nb::log_posterior(std::string_view text, std::size_t c) const {
  count_words(text);
  const std::size_t nc = class_docs_.size();
  double s = log_prior_[c];
  for (auto [w, n] : words_)
    s += double(n) * log_prob_[w * nc + c];
  return s;
}

int multinomial_nb::predict(std::string_view text) const {
  count_words(text);
  const std::size_t nc = class_docs_.size();
  for (std::size_t c = 0; c < nc; ++c)
    score_[c] = log_prior_[c];
  for (auto [w, n] : words_) {
    const double* lp = log_prob_.data() + w * nc;
    for (std::size_t c = 0; c < nc; ++c)
      score_[c] += double(n) * lp[c];
  }
  int best = 0;
  double best_v = neg_inf;
  for (std::size_t c = 0; c < nc; ++c)
    if (score_[c] > best_v) {
      best_v = score_[c];
      best = int(c);
    }
  return best;
}

std::size_t multinomial_nb::loo_correct(const text_corpus& corpus) const {
  if (docs_ < 2)
    return 0;
  const std::size_t nc = class_docs_.size();
  const double log_n1 = std::log(double(docs_ - 1));
  std::size_t ok = 0;
  for (std::size_t i = 0; i < corpus.docs.size(); ++i) {
    const auto y = std::size_t(corpus.labels[i]);
    count_words(corpus.docs[i]);
    std::uint64_t len = 0, only_here = 0;
    for (auto [w, n] : words_) {
      len += n;
      only_here += totals_[w] == n;
    }
    const double v = double(vocab_.size() - only_here);
    int best = 0;
    double best_v = neg_inf;
    for (std::size_t c = 0; c < nc; ++c) {
      std::uint64_t docs_c = class_docs_[c] - (c == y);
      if (docs_c == 0)
        continue;
      double denom = std::log(double(class_words_[c] - (c == y ? len : 0)) + alpha_ * v);
      double s = std::log(double(docs_c)) - log_n1;
      for (auto [w, n] : words_) {
        if (totals_[w] == n)
          continue;  // the word occurs only in the left-out document: unknown to the fold
        double cnt = double(counts_[w * nc + c] - (c == y ? n : 0));
        s += double(n) * (std::log(cnt + alpha_) - denom);
      }
      if (s > best_v) {
        best_v = s;
        best = int(c);
      }
    }
    ok += best == corpus.labels[i];
  }
  return ok;
}

}  // namespace e3::services::bayes
