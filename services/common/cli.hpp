// Command-line parsing for the `e3 svc <name>` harnesses built on CLI11 (header-only, as CLI11).
#pragma once

#include <iostream>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace e3::services {

/// Parses the arguments of `e3 svc <svc>` with `app`. Returns the exit code when the command
/// ends here: 0 after printing the help for --help, 2 after printing the parse error on stderr
/// as "e3 svc <svc>: <error>". Returns std::nullopt when the command goes on.
inline std::optional<int> parse_svc_args(CLI::App& app, int argc, char** argv, std::string_view svc) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "e3 svc " << svc << ": " << e.what() << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace e3::services
