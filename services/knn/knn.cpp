// k-nearest-neighbour search with early abandoning, and a brute-force second method.
#include "services/knn/knn.hpp"

#include <algorithm>
#include <stdexcept>

namespace e3::services::knn {

classifier::classifier(ml::dataset train, unsigned k) : d_(std::move(train)), k_(k) {
  if (k_ == 0)
    throw std::invalid_argument("knn: k must be at least 1");
  if (d_.size() == 0)
    throw std::invalid_argument("knn: the training set is empty");
  best_d_.resize(k_);
  best_i_.resize(k_);
  votes_.resize(d_.class_names.size());
}

int classifier::predict(const double* q, std::size_t skip) const {
  const std::size_t n = d_.size(), nf = d_.n_features;
  const double* x = d_.x.data();
  std::size_t m = 0;  // candidates held, sorted by (distance, index)
  double worst = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i, x += nf) {
    if (i == skip)
      continue;
    double d = 0;
    std::size_t j = 0;
    // Blocks of 8 features, then a check against the current k-th distance.
    for (; j + 8 <= nf; j += 8) {
      for (std::size_t u = 0; u < 8; ++u) {
        double t = x[j + u] - q[j + u];
        d += t * t;
      }
      if (d >= worst)
        break;
    }
    if (d >= worst)
      continue;
    for (; j < nf; ++j) {
      double t = x[j] - q[j];
      d += t * t;
    }
    if (d >= worst)
      continue;  // equal distance: the earlier sample stays nearer
    std::size_t p = m < k_ ? m++ : k_ - 1;
    while (p > 0 && best_d_[p - 1] > d) {
      best_d_[p] = best_d_[p - 1];
      best_i_[p] = best_i_[p - 1];
      --p;
    }
    best_d_[p] = d;
    best_i_[p] = std::uint32_t(i);
    if (m == k_)
      worst = best_d_[k_ - 1];
  }
  return majority(best_i_.data(), m, d_, votes_);
}

int majority(const std::uint32_t* idx, std::size_t n, const ml::dataset& d, std::vector<unsigned>& votes) {
  std::fill(votes.begin(), votes.end(), 0u);
  for (std::size_t i = 0; i < n; ++i)
    ++votes[std::size_t(d.y[idx[i]])];
  int best = 0;
  for (std::size_t c = 1; c < votes.size(); ++c)
    if (votes[c] > votes[std::size_t(best)])
      best = int(c);
  return best;
}

std::size_t loo_correct(const classifier& c) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < c.data().size(); ++i)
    ok += c.predict(c.data().row(i), i) == c.data().y[i];
  return ok;
}

brute_reference::brute_reference(const ml::dataset& d, unsigned k) : d_(&d), k_(k) {
  const std::size_t n = d.size(), nf = d.n_features;
  t_.resize(n * nf);
  norms_.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < nf; ++j) {
      t_[j * n + i] = d.row(i)[j];
      norms_[i] += d.row(i)[j] * d.row(i)[j];
    }
  dist_.resize(n);
  order_.resize(n);
  votes_.resize(d.class_names.size());
}

int brute_reference::predict(const double* q, std::size_t skip) const {
  const std::size_t n = d_->size(), nf = d_->n_features;
  double qn = 0;
  for (std::size_t j = 0; j < nf; ++j)
    qn += q[j] * q[j];
  for (std::size_t i = 0; i < n; ++i)
    dist_[i] = norms_[i] + qn;
  for (std::size_t j = 0; j < nf; ++j) {
    const double* col = t_.data() + j * n;
    const double qj = -2.0 * q[j];
    for (std::size_t i = 0; i < n; ++i)
      dist_[i] += qj * col[i];
  }
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (i != skip)
      order_[m++] = std::uint32_t(i);
  std::size_t k = std::min<std::size_t>(k_, m);
  auto less = [&](std::uint32_t a, std::uint32_t b) { return dist_[a] < dist_[b] || (dist_[a] == dist_[b] && a < b); };
  std::nth_element(order_.begin(), order_.begin() + std::ptrdiff_t(k - 1), order_.begin() + std::ptrdiff_t(m), less);
  return majority(order_.data(), k, *d_, votes_);
}

}  // namespace e3::services::knn
