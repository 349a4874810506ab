// The `e3` command line: dispatches to its subcommands.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "apps/e3/commands.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: e3 <command> [options]\n"
         "commands:\n"
         "  run [--app FILE --cluster PRESET]   run an app on an emulated cluster (no arguments: demo)\n"
         "  place --app FILE --cluster PRESET   place an app with HCM and evaluate it\n"
         "  svc <service> ...   run one microservice on files, without a cluster (e3 svc --list)\n"
         "  bench <name> ...    run a benchmark (e3 bench --list)\n"
         "Run `e3 <command> --help` for a command's options.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") {
    usage(std::cout);
    return 0;
  }
  if (cmd == "run")
    return e3::cli::run(argc - 1, argv + 1);
  if (cmd == "place")
    return e3::cli::place(argc - 1, argv + 1);
  if (cmd == "svc")
    return e3::cli::svc(argc - 1, argv + 1);
  if (cmd == "bench")
    return e3::cli::bench(argv[0], argc - 1, argv + 1);
  std::cerr << "e3: unknown command '" << cmd << "'\n";
  usage(std::cerr);
  return 2;
}
