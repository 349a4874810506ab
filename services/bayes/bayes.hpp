// Bayes: naive Bayes classifiers with maximum a posteriori decisions — the pure algorithms and
// the request format.
//
// * Gaussian (numeric features), as scikit-learn's GaussianNB: per class the mean and the
//   population variance of every feature; every variance is increased by var_smoothing (1e-9)
//   times the largest variance of any feature over the whole training set; priors are the class
//   frequencies; the decision maximises log prior − ½ Σ log(2π var) − ½ Σ (x − mean)² / var.
// * Multinomial (text), as scikit-learn's MultinomialNB over CountVectorizer counts: words are
//   maximal runs of ASCII letters, digits, '_' and bytes >= 0x80, lower-cased (ASCII), at least
//   2 bytes long (CountVectorizer's default `\b\w\w+\b`, approximated on bytes); the decision
//   maximises log prior + Σ_words count · log((N_cw + α) / (N_c + α |V|)) with Lidstone/Laplace
//   smoothing α (default 1) and V the training vocabulary; words outside V are ignored.
// Ties between classes go to the smallest class index (numpy.argmax). Text class names are
// sorted, as scikit-learn sorts its classes_.
//
// Request (input_format::record): a record with `features` is classified by the Gaussian model
// (exactly its feature count, all finite); otherwise a record with non-empty `text` by the
// multinomial model. Emits (key = record.key) a record with the same key, op and ts_ns, `value`
// = the class index and `text` = the class name. Rejects a malformed record, a wrong feature
// count, a non-finite feature, a record with neither features nor text.
//
// Params: `train` — numeric training set in scikit-learn's CSV layout (default: the built-in
// iris set); `text_train` — labelled text, one `label<TAB>text` line per document (default: a
// small built-in spam/ham corpus); `alpha` (1.0); `var_smoothing` (1e-9). Stateless kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/knn/dataset.hpp"

namespace e3::services::bayes {

/// No sample is left out.
inline constexpr std::size_t no_skip = std::numeric_limits<std::size_t>::max();

/// Gaussian naive Bayes (scikit-learn's GaussianNB).
class gaussian_nb {
 public:
  /// Fits on `d` without sample `skip`. Throws std::invalid_argument on an empty set.
  void fit(const ml::dataset& d, std::size_t skip = no_skip, double var_smoothing = 1e-9);
  /// The MAP class of x (n_features values).
  int predict(const double* x) const;
  /// log P(c) + log p(x | c), up to a constant shared by all classes; -inf for a class with
  /// no training sample.
  double joint_log_likelihood(const double* x, std::size_t c) const;
  /// Number of features the model expects.
  std::size_t n_features() const { return nf_; }
  /// Number of classes.
  std::size_t n_classes() const { return log_prior_.size(); }

 private:
  std::size_t nf_ = 0;
  std::vector<double> theta_;      // class × feature means
  std::vector<double> var_;        // class × feature variances (smoothed)
  std::vector<double> log_prior_;  // per class
  std::vector<double> log_norm_;   // per class: −½ Σ log(2π var)
};

/// Number of samples whose leave-one-out Gaussian prediction equals their label.
std::size_t gaussian_loo_correct(const ml::dataset& d, double var_smoothing = 1e-9);

/// Raised on an unreadable or malformed text file: "FILE:LINE: what is wrong".
class corpus_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Labelled documents.
struct text_corpus {
  std::vector<std::string> class_names;  ///< sorted; label i is class_names[i]
  std::vector<std::string> docs;         ///< document texts
  std::vector<int> labels;               ///< label of each document
};

/// Parses `label<TAB>text` lines (a final newline and "\r\n" endings are fine); `name` is used
/// in error messages. Throws corpus_error on a line without a tab or with an empty label.
text_corpus parse_labelled_text(std::string_view text, std::string_view name);
/// Reads and parses a file of `label<TAB>text` lines.
text_corpus read_labelled_text(const std::string& path);

/// Calls f(word) for every word of `text` (see the file comment); `buf` is scratch.
template <class F>
void for_each_word(std::string_view text, std::string& buf, F&& f) {
  auto word_byte = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
  };
  std::size_t i = 0, n = text.size();
  while (i < n) {
    while (i < n && !word_byte(static_cast<unsigned char>(text[i])))
      ++i;
    std::size_t s = i;
    while (i < n && word_byte(static_cast<unsigned char>(text[i])))
      ++i;
    if (i - s >= 2) {
      buf.assign(text.data() + s, i - s);
      for (auto& ch : buf)
        if (ch >= 'A' && ch <= 'Z')
          ch = char(ch - 'A' + 'a');
      f(std::string_view(buf));
    }
  }
}

/// Multinomial naive Bayes over word counts (scikit-learn's MultinomialNB + CountVectorizer).
/// predict() reuses scratch buffers: one object serves one thread.
class multinomial_nb {
 public:
  /// Smoothing alpha > 0; throws std::invalid_argument otherwise.
  explicit multinomial_nb(double alpha = 1.0);
  /// Fits on a corpus. Throws std::invalid_argument when it is empty.
  void fit(const text_corpus& c);
  /// The MAP class of `text`.
  int predict(std::string_view text) const;
  /// log P(c) + Σ count · log P(word | c) over the known words of `text`.
  double log_posterior(std::string_view text, std::size_t c) const;
  /// Leave-one-out: how many documents of `c` (the corpus fitted) are classified as labelled
  /// when each is left out; exact, by removing the document's counts from the model.
  std::size_t loo_correct(const text_corpus& c) const;
  /// Vocabulary size.
  std::size_t vocabulary() const { return vocab_.size(); }
  /// Number of classes.
  std::size_t n_classes() const { return class_docs_.size(); }

 private:
  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void count_words(std::string_view text) const;  // fills words_ with (word id, count)

  double alpha_;
  std::unordered_map<std::string, std::uint32_t, sv_hash, std::equal_to<>> vocab_;
  std::vector<std::uint64_t> counts_;       // word × class
  std::vector<std::uint64_t> totals_;       // per word, over classes
  std::vector<std::uint64_t> class_words_;  // N_c
  std::vector<std::uint64_t> class_docs_;   // documents per class
  std::uint64_t docs_ = 0;
  std::vector<double> log_prob_;   // word × class
  std::vector<double> log_prior_;  // per class
  mutable std::string buf_;
  mutable std::vector<std::pair<std::uint32_t, std::uint32_t>> words_;
  mutable std::vector<std::uint32_t> seen_;  // word -> position in words_ + 1 (scratch)
  mutable std::vector<double> score_;
};

}  // namespace e3::services::bayes
