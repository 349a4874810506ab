// The subcommands of the `e3` program. Each takes its own argv (argv[0] is the command name)
// and returns the process exit code: 0 success, 1 failure at run time, 2 bad usage or input.
#pragma once

namespace e3::cli {

/// `e3 svc <service> ...`: a microservice on files, without a cluster.
int svc(int argc, char** argv);
/// `e3 place --app FILE --cluster PRESET [--algo hcm] [--json]`: placement and its evaluation.
int place(int argc, char** argv);
/// `e3 run [--app FILE --cluster PRESET ...]`: an app on an emulated cluster; no arguments: the demo.
int run(int argc, char** argv);
/// `e3 bench <name> ...`: runs the benchmark program e3-bench-<name> next to this program.
int bench(const char* self, int argc, char** argv);

}  // namespace e3::cli
