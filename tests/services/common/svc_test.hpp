// Helpers the service test suites share: a kind from a registry, `e3 svc <name>` run in-process
// with its output captured, temporary input files, and the leave-one-out accuracy references
// of the classifiers (bayes, knn).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "actors/service.hpp"

namespace e3::services::svc_test {

/// The kind `name` that `Register` adds to a registry, from a registry made on first use and
/// kept for the whole test program.
template <void (*Register)(service_registry&)>
const service_kind& registered_kind(std::string_view name) {
  static const service_registry reg = [] {
    service_registry r;
    Register(r);
    return r;
  }();
  return reg.at(name);
}

/// The exit code and the captured stdout and stderr of one run of an `e3 svc` command.
struct svc_run {
  int code;
  std::string out, err;
};

/// Runs `main` with argv = {argv0, args...} and captures what it writes to stdout and stderr.
inline svc_run run_svc_main(const std::function<int(int, char**)>& main, std::string argv0,
                            std::vector<std::string> args) {
  args.insert(args.begin(), std::move(argv0));
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int code = main(int(argv.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  std::string err = testing::internal::GetCapturedStderr();
  return {code, out, err};
}

/// Runs `e3 svc <k.name> args...` through the kind's svc_main.
inline svc_run run_svc(const service_kind& k, std::vector<std::string> args) {
  return run_svc_main(k.svc_main, k.name, std::move(args));
}

/// Writes `content` to the file `name` in the test's temporary directory; returns its path.
inline std::string write_temp(const std::string& name, const std::string& content) {
  std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

/// scikit-learn's leave-one-out accuracy of `model` (e.g. "GaussianNB", "kNN(k=3,euclid)") on
/// the data set `set` (iris, wine, breast_cancer), from tests/data/ml/sklearn_reference_results.txt.
inline double sklearn_loo_accuracy(const std::string& set, const std::string& model) {
  std::ifstream in(std::string(E3_TEST_DATA_DIR) + "/ml/sklearn_reference_results.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(set + " (", 0) != 0)
      continue;
    auto at = line.find(model + " LOO acc=");
    if (at == std::string::npos)
      break;
    return std::stod(line.substr(at + model.size() + 9));
  }
  throw std::runtime_error("no reference for " + set + " " + model);
}

/// True when `out` is exactly "accuracy=0.dddddd\n" (6 decimals), as `e3 svc bayes|knn --loo`
/// prints it.
inline bool accuracy_line(const std::string& out) {
  if (out.size() != 18 || out.rfind("accuracy=0.", 0) != 0 || out.back() != '\n')
    return false;
  return std::all_of(out.begin() + 11, out.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace e3::services::svc_test
