// `e3 bench`: finds the benchmark program e3-bench-<name> beside e3 and runs it.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "apps/e3/commands.hpp"

namespace e3::cli {

namespace fs = std::filesystem;

int bench(const char* self, int argc, char** argv) {
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec)
    dir = fs::path(self).parent_path();
  if (argc < 2 || std::string(argv[1]) == "--list" || std::string(argv[1]) == "--help") {
    auto& out = argc < 2 ? std::cerr : std::cout;
    out << "usage: e3 bench <name> [--json] [options]\nbenchmarks:\n";
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      auto f = e.path().filename().string();
      if (f.rfind("e3-bench-", 0) == 0)
        names.push_back(f.substr(9));
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names)
      out << "  " << n << "\n";
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  if (name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
    std::cerr << "e3 bench: bad benchmark name '" << name << "'\n";
    return 2;
  }
  fs::path prog = dir / ("e3-bench-" + name);
  if (!fs::exists(prog)) {
    std::cerr << "e3 bench: no benchmark '" << name << "' (e3 bench --list shows them)\n";
    return 2;
  }
  std::vector<char*> args;
  std::string p = prog.string();
  args.push_back(p.data());
  for (int i = 2; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(p.c_str(), args.data());
  std::cerr << "e3 bench: cannot run " << p << "\n";
  return 1;
}

}  // namespace e3::cli
