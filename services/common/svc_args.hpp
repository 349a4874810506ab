// The argument reader of the small `e3 svc <name>` harnesses that take `--option value` pairs
// (count, ddos, flowmon, nat), so they all answer --help and bad arguments the same way.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace e3::services {

/// The values read by read_svc_args, by option name without the leading "--".
using svc_args = std::map<std::string, std::string, std::less<>>;

/// Reads the arguments of `e3 svc <svc>` (argv[1..]): each of `options` (e.g. "--pcap") followed
/// by its value, stored in `values` under the option's name without "--" (a repeated option
/// keeps its last value), and each of `flags` stored with an empty value. Values already in
/// `values` act as defaults. Returns the exit code when the command ends here: 0 after printing
/// `usage` on stdout for --help or -h; 2 after "e3 svc <svc>: unknown argument '<a>'" and `usage`,
/// or "e3 svc <svc>: <option> needs a value", on stderr. Returns std::nullopt to go on.
std::optional<int> read_svc_args(int argc, char** argv, std::string_view svc, std::string_view usage,
                                 std::initializer_list<std::string_view> options, svc_args& values,
                                 std::initializer_list<std::string_view> flags = {});

}  // namespace e3::services
