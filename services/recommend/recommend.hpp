// Recommend: collaborative filtering by biased matrix factorisation trained with SGD — the pure
// algorithm, the MovieLens reader, the item-mean baseline and the request format.
//
// Model: r̂(u, i) = μ + b_u + b_i + p_u · q_i, clamped to [min_rating, max_rating], with μ the
// mean of all ratings seen, b the biases and p, q vectors of `factors` numbers. Training runs
// `epochs` passes over the ratings in a seeded shuffled order; each rating takes one SGD step
// (Funk / Koren):  e = r − (μ + b_u + b_i + p_u·q_i);  b_u += lr (e − reg b_u);
// b_i += lr (e − reg b_i);  p_u += lr (e q_i − reg p_u);  q_i += lr (e p_u − reg q_i).
// An online rating takes the same single step, so the model keeps learning while it serves.
// A new user or item starts with bias 0 and factors drawn uniformly from ±init·√3 by a
// generator seeded with its id, so every instance creates it identically.
//
// Request (input_format::record):
//   op == op_rate (1): key = user, features[0] = item id (an integer in [0, 2^53)), value = the
//     rating (in [min_rating, max_rating]). One online update. Emits (key = user) a record with
//     op = op_rate, features = {item}, value = the model's prediction after the update.
//   any other op (op_recommend = 2 by convention): key = user. Emits (key = user) a record with
//     op = op_recommend, value = N (items returned) and features = {item_1, r̂_1, item_2, r̂_2, …}:
//     the `top` items the user has not rated, best predicted first (ties: smaller item id).
//   Rejects a malformed record, a rate without an item, a bad item id, a bad rating.
//
// Params: `ratings` — MovieLens ratings.csv to train the initial model on (default: a built-in
// synthetic set of 300 users × 1,000 items, 12,000 ratings, for synthetic load); `factors` (32),
// `epochs` (20), `lr` (0.01), `reg` (0.05), `top` (10).
// State (stateful kind), written in flush() for what changed: hashtable "rec_meta" ("mu" ->
// {sum, count} of all ratings); "rec_users" and "rec_items": id (u64) -> bias and factors
// (1 + factors doubles); "rec_rated": user ++ item (2 × u64) -> the rating (double). on_start
// rebuilds the model from them; with empty collections it trains the initial model instead.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace e3::services::recommend {

/// record.op of a rating.
inline constexpr std::uint8_t op_rate = 1;
/// record.op of a recommendation request (any op other than op_rate is one).
inline constexpr std::uint8_t op_recommend = 2;

/// One rating.
struct rating {
  std::uint64_t user = 0;  ///< user id
  std::uint64_t item = 0;  ///< item (movie) id
  double value = 0;        ///< the rating
};

/// Raised on an unreadable or malformed ratings file: "FILE:LINE: what is wrong".
class ratings_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses MovieLens ratings.csv text (header `userId,movieId,rating,timestamp`, "\r\n" allowed).
std::vector<rating> parse_movielens_ratings(std::string_view text, std::string_view name);
/// Reads and parses a MovieLens ratings.csv file.
std::vector<rating> read_movielens_ratings(const std::string& path);

/// A seeded split: each rating, in order, goes to `train` with probability `train_fraction`.
void split(const std::vector<rating>& all, double train_fraction, std::uint64_t seed, std::vector<rating>& train,
           std::vector<rating>& test);

/// The built-in synthetic ratings: 300 users × 1,000 items, 40 ratings per user from a rank-3
/// model with biases and noise, in half stars; deterministic.
std::vector<rating> synthetic_ratings();

/// Hyperparameters.
struct mf_params {
  std::size_t factors = 32;  ///< length of p_u and q_i
  unsigned epochs = 20;      ///< passes over the training ratings
  double lr = 0.01;          ///< SGD step size
  double reg = 0.05;         ///< L2 regularisation
  double init = 0.1;         ///< standard deviation of initial factors
  double min_rating = 0.5;   ///< predictions are clamped to [min_rating, max_rating]
  double max_rating = 5.0;   ///< upper clamp
  std::uint64_t seed = 1;    ///< shuffling and initialisation seed
};

/// A biased matrix-factorisation model. Not thread-safe.
class mf_model {
 public:
  /// Index meaning "absent".
  static constexpr std::size_t none = std::size_t(-1);

  /// An empty model. Throws std::invalid_argument on bad parameters.
  explicit mf_model(mf_params p = {});
  /// Forgets everything, then trains on `r`: μ is their mean, then `epochs` SGD passes.
  void train(const std::vector<rating>& r);
  /// The clamped prediction; unknown users or items contribute nothing beyond μ and the biases
  /// that are known.
  double predict(std::uint64_t user, std::uint64_t item) const;
  /// One online SGD step on a new rating (creating the user or item if new); μ includes it.
  void update(std::uint64_t user, std::uint64_t item, double r);
  /// The best `n` items for `user` by predicted rating, skipping items for which
  /// skip(item) is true; best first, ties to the smaller item id. Unknown users get μ + b_i.
  template <class Skip>
  void top_n(std::uint64_t user, std::size_t n, Skip&& skip, std::vector<std::pair<std::uint64_t, double>>& out) const;

  /// The parameters.
  const mf_params& params() const { return p_; }
  /// Sum and count of all ratings that form μ.
  std::pair<double, std::uint64_t> mean_state() const { return {sum_, count_}; }
  /// Restores μ's state.
  void set_mean_state(double sum, std::uint64_t count) {
    sum_ = sum;
    count_ = count;
  }
  /// Number of users.
  std::size_t users() const { return user_ids_.size(); }
  /// Number of items.
  std::size_t items() const { return item_ids_.size(); }
  /// Id of user number `idx` (indices are stable until clear() or train()).
  std::uint64_t user_id(std::size_t idx) const { return user_ids_[idx]; }
  /// Id of item number `idx`.
  std::uint64_t item_id(std::size_t idx) const { return item_ids_[idx]; }
  /// Index of a user, or none.
  std::size_t user_index(std::uint64_t id) const;
  /// Index of an item, or none.
  std::size_t item_index(std::uint64_t id) const;
  /// Bias then factors of user number `idx` (1 + factors values).
  const double* user_row(std::size_t idx) const { return urows_.data() + idx * stride(); }
  /// Bias then factors of item number `idx` (1 + factors values).
  const double* item_row(std::size_t idx) const { return irows_.data() + idx * stride(); }
  /// Sets a user's bias and factors (1 + factors values), creating the user if new.
  void set_user(std::uint64_t id, const double* row);
  /// Sets an item's bias and factors (1 + factors values), creating the item if new.
  void set_item(std::uint64_t id, const double* row);
  /// Forgets every user, item and rating.
  void clear();

 private:
  std::size_t stride() const { return p_.factors + 1; }
  std::size_t add_user(std::uint64_t id);
  std::size_t add_item(std::uint64_t id);
  double raw(std::size_t u, std::size_t i) const;  // unclamped, both known
  void step(std::size_t u, std::size_t i, double r);

  mf_params p_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
  std::vector<std::uint64_t> user_ids_, item_ids_;
  std::unordered_map<std::uint64_t, std::size_t> user_idx_, item_idx_;
  std::vector<double> urows_, irows_;
  mutable std::vector<double> scores_;
};

/// The baseline: the mean training rating of the item (the global mean for unseen items).
class item_mean {
 public:
  /// Fits on `r`.
  void fit(const std::vector<rating>& r);
  /// The item's mean.
  double predict(std::uint64_t item) const;

 private:
  double global_ = 0;
  std::unordered_map<std::uint64_t, std::pair<double, std::uint64_t>> items_;
};

/// Root mean squared error of predict(rating) over `test`.
template <class Predict>
double rmse(const std::vector<rating>& test, Predict&& predict);

// ---- templates ----

template <class Skip>
void mf_model::top_n(std::uint64_t user, std::size_t n, Skip&& skip,
                     std::vector<std::pair<std::uint64_t, double>>& out) const {
  out.clear();
  if (n == 0)
    return;
  const std::size_t k = p_.factors, s = stride();
  const double mu = count_ ? sum_ / double(count_) : 0.0;
  std::size_t u = user_index(user);
  const double* pu = u == none ? nullptr : user_row(u);
  const double base = mu + (pu ? pu[0] : 0.0);
  // A heap of the best n so far whose front is the worst of them (heap order = "better":
  // higher score, or equal score and smaller id).
  auto better = [](const std::pair<std::uint64_t, double>& a, const std::pair<std::uint64_t, double>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  for (std::size_t i = 0; i < item_ids_.size(); ++i) {
    const double* qi = irows_.data() + i * s;
    double r = base + qi[0];
    if (pu)
      for (std::size_t f = 0; f < k; ++f)
        r += pu[1 + f] * qi[1 + f];
    r = r < p_.min_rating ? p_.min_rating : r > p_.max_rating ? p_.max_rating : r;
    std::pair<std::uint64_t, double> c{item_ids_[i], r};
    if (out.size() == n && !better(c, out.front()))
      continue;
    if (skip(c.first))
      continue;
    if (out.size() == n) {
      std::pop_heap(out.begin(), out.end(), better);
      out.back() = c;
    } else {
      out.push_back(c);
    }
    std::push_heap(out.begin(), out.end(), better);
  }
  std::sort_heap(out.begin(), out.end(), better);
}

template <class Predict>
double rmse(const std::vector<rating>& test, Predict&& predict) {
  double s = 0;
  for (const auto& r : test) {
    double e = predict(r) - r.value;
    s += e * e;
  }
  return test.empty() ? 0.0 : std::sqrt(s / double(test.size()));
}

}  // namespace e3::services::recommend
