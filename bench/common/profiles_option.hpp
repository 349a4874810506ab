// `--profiles measured|table1` for the commands that place or model apps: which service
// profiles (topology/service_profile.hpp) the whole run uses. `measured` (the default) is this
// machine's handler times; `table1` is the paper's testbed alone, to compare with its figures.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "topology/service_profile.hpp"

namespace e3::bench {

/// Adds --profiles to `cli`; the choice takes effect while the command line is parsed.
inline CLI::Option* add_profiles_option(CLI::App& cli) {
  return cli
      .add_option_function<std::string>(
          "--profiles", [](const std::string& v) { topo::use_service_profiles(topo::parse_profile_source(v)); },
          "service profiles: measured (this machine's handler times, default) or table1 (the paper's Table 1 alone)")
      ->check(CLI::IsMember({"measured", "table1"}));
}

/// "measured" or "table1": what the run used, for its output.
inline std::string profiles_in_use() { return std::string(topo::to_string(topo::service_profile_source())); }

}  // namespace e3::bench
