// The measured-profile CSV (`kind,size_bytes,host_us,memory_mb,source`) that
// topology::build_service_profiles reads, and Table 1 as compiled into the topology library.
#pragma once

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace e3::embedded {
/// Table 1 (topology/data/table1_microservices.csv), compiled into e3_topology.
extern const std::string_view table1_csv;
}  // namespace e3::embedded

namespace e3::bench {

/// One measured point of a kind's profile.
struct measured_point {
  std::string kind;       ///< registry name, e.g. "nat"
  double size_bytes = 0;  ///< the request size measured (what synthetic_request produced)
  double host_us = 0;     ///< CPU µs per request on one core of this machine
  double memory_mb = 0;   ///< footprint of one instance (MiB)
};

/// `text` made safe for a cell of the comma-separated, unquoted table: commas become ';', line
/// breaks and other control characters become spaces.
inline std::string csv_cell(std::string_view text) {
  std::string out;
  for (char c : text)
    out += c == ',' ? ';' : (static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  return out;
}

/// The CSV text: a comment line, the header and one row per point, with `source` in every row.
/// Points of one kind whose size rounds to one already written are left out (the profile's
/// curve needs distinct sizes); the first such point is kept.
inline std::string profile_csv(const std::vector<measured_point>& points, std::string_view source) {
  std::string out =
      "# Measured service profiles, written by `e3 bench services --write-profiles`: CPU microseconds per request\n"
      "# on one core of the machine named in `source`, at the request sizes the kind's synthetic requests had;\n"
      "# memory_mb is one instance's footprint. topology/service_profile.cpp applies them over Table 1.\n"
      "kind,size_bytes,host_us,memory_mb,source\n";
  std::string src = csv_cell(source);
  std::map<std::string, std::set<long long>> seen;
  for (const auto& p : points) {
    long long size = (long long)(p.size_bytes + 0.5);
    if (!seen[p.kind].insert(size).second)
      continue;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s,%lld,%.6g,%.3f,", csv_cell(p.kind).c_str(), size, p.host_us, p.memory_mb);
    out += buf + src + "\n";
  }
  return out;
}

}  // namespace e3::bench
