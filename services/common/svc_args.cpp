// `--option value` argument reading for the `e3 svc` harnesses.
#include "services/common/svc_args.hpp"

#include <algorithm>
#include <iostream>

namespace e3::services {

std::optional<int> read_svc_args(int argc, char** argv, std::string_view svc, std::string_view usage,
                                 std::initializer_list<std::string_view> options, svc_args& values,
                                 std::initializer_list<std::string_view> flags) {
  auto listed = [](std::initializer_list<std::string_view> names, const std::string& a) {
    return std::find(names.begin(), names.end(), a) != names.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    }
    if (listed(flags, a)) {
      values[a.substr(2)] = "";
      continue;
    }
    if (!listed(options, a)) {
      std::cerr << "e3 svc " << svc << ": unknown argument '" << a << "'\n" << usage;
      return 2;
    }
    if (i + 1 >= argc) {
      std::cerr << "e3 svc " << svc << ": " << a << " needs a value\n";
      return 2;
    }
    values[a.substr(2)] = argv[++i];
  }
  return std::nullopt;
}

}  // namespace e3::services
