// Labelled numeric data sets in scikit-learn's bundled CSV layout (shared by knn and bayes).
//
// Layout: the first line is `n_samples,n_features,class name 0,class name 1,…`; then n_samples
// rows of n_features numbers followed by an integer label in [0, number of class names).
// Lines may end in "\r\n".
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace e3::services::ml {

/// Raised on an unreadable or malformed file; the message is "FILE:LINE: what is wrong".
class dataset_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A labelled data set: samples as rows of a row-major matrix.
struct dataset {
  std::size_t n_features = 0;            ///< numbers per sample
  std::vector<std::string> class_names;  ///< label i is class_names[i]
  std::vector<double> x;                 ///< size() × n_features values, row-major
  std::vector<int> y;                    ///< label of each sample

  /// Number of samples.
  std::size_t size() const { return y.size(); }
  /// The features of sample i.
  const double* row(std::size_t i) const { return x.data() + i * n_features; }
};

/// Parses CSV text in the layout above; `name` is the file name used in error messages.
dataset parse_sklearn_csv(std::string_view text, std::string_view name);

/// Reads and parses the file at `path`. Throws dataset_error ("FILE:LINE: what").
dataset read_sklearn_csv(const std::string& path);

/// Reads a whole file; throws dataset_error naming the file when it cannot.
std::string read_whole_file(const std::string& path);

}  // namespace e3::services::ml
