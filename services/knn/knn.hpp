// KNN: k-nearest-neighbour classification — the pure algorithm and the request format.
//
// Algorithm: Euclidean distance to every training sample; the k nearest vote, each with one
// vote; the label with most votes wins. Ties:
//   * between labels with equal votes: the smallest label wins (as scikit-learn's
//     KNeighborsClassifier, whose vote is scipy's mode);
//   * between equidistant neighbours at the k-th place: the sample that comes first in the
//     training set is nearer (scikit-learn leaves this order to its tree or sort algorithm, so
//     the two may differ there).
// The search computes squared distances and abandons a sample as soon as its partial sum
// reaches the current k-th best distance.
//
// Request (input_format::record): reads `features` (the query; exactly as many as the training
// set has, all finite). Emits (key = record.key) a record with the same key, op and ts_ns,
// `value` = the predicted label, `text` = its class name, and no features. Rejects a malformed
// record, a wrong feature count, a non-finite feature.
//
// Params: `train` — a training set in scikit-learn's CSV layout (services/knn/dataset.hpp);
// default: the built-in iris set (150 samples, 4 features), which synthetic_request matches.
// `k` — neighbours, default 5. Stateless kind: the training set is read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "services/knn/dataset.hpp"

namespace e3::services::knn {

/// Neighbours when the `k` param is absent.
inline constexpr unsigned default_k = 5;

/// A k-NN classifier over a training set it owns. predict() reuses scratch buffers: one object
/// serves one thread.
class classifier {
 public:
  /// No sample is skipped.
  static constexpr std::size_t no_skip = std::numeric_limits<std::size_t>::max();

  /// Throws std::invalid_argument when k is 0 or the set is empty.
  classifier(ml::dataset train, unsigned k);
  /// The label of query q (n_features values), ignoring training sample `skip` (for
  /// leave-one-out). With fewer than k candidates, all of them vote.
  int predict(const double* q, std::size_t skip = no_skip) const;
  /// The training set.
  const ml::dataset& data() const { return d_; }
  /// Neighbours that vote.
  unsigned k() const { return k_; }

 private:
  ml::dataset d_;
  unsigned k_;
  mutable std::vector<double> best_d_;
  mutable std::vector<std::uint32_t> best_i_;
  mutable std::vector<unsigned> votes_;
};

/// Number of samples whose leave-one-out prediction equals their label.
std::size_t loo_correct(const classifier& c);

/// The vote of the labels of `n` neighbours: most votes, smallest label on ties. `votes` is
/// scratch of at least n_classes entries.
int majority(const std::uint32_t* idx, std::size_t n, const ml::dataset& d, std::vector<unsigned>& votes);

/// A second method, for the benchmark: brute force as scikit-learn's 'brute' algorithm does it
/// (‖t‖² − 2 t·q + ‖q‖² for all samples with feature-major loops, then a partial sort of the
/// distances), the same votes and ties.
class brute_reference {
 public:
  /// Copies `d` transposed; k as in classifier.
  brute_reference(const ml::dataset& d, unsigned k);
  /// As classifier::predict.
  int predict(const double* q, std::size_t skip = classifier::no_skip) const;

 private:
  const ml::dataset* d_;
  unsigned k_;
  std::vector<double> t_;      // feature-major: t_[j * n + i]
  std::vector<double> norms_;  // ‖t_i‖²
  mutable std::vector<double> dist_;
  mutable std::vector<std::uint32_t> order_;
  mutable std::vector<unsigned> votes_;
};

}  // namespace e3::services::knn
