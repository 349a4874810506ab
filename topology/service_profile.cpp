// Service profiles from Table 1 and from measurements on this machine.
#include "topology/service_profile.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>

#include "topology/table_csv.hpp"

namespace e3::embedded {
extern const std::string_view table1_csv;
extern const std::string_view measured_profiles_csv;
}  // namespace e3::embedded

namespace e3::topo {
namespace {

struct kind_facts {
  const char* kind;
  bool stateful;       // Table 2
  bool host_only;      // §4: SQL is pinned to hosts
  double memory_mb;    // estimate of one instance's footprint until measured (Table 1 has none)
};

// Table 1 row name -> registry kind and the facts Table 1 lacks. Memory estimates come from each
// algorithm's main structure at its default size (e.g. DIR-24-8's 2^24-entry first level, an
// Aho-Corasick DFA over the Snort patterns, SQLite's page cache); measured profiles replace them.
const std::map<std::string, kind_facts, std::less<>> facts = {
    {"IPsec", {"ipsec", false, false, 8}},
    {"BM25", {"bm25", false, false, 96}},
    {"NIDS", {"nids", false, false, 96}},
    {"Recommend", {"recommend", true, false, 128}},
    {"NATv4", {"nat", false, false, 80}},
    {"Count", {"count", true, false, 32}},
    {"EMA", {"ema", true, false, 16}},
    {"KVS", {"kvs", true, false, 256}},
    {"Flow mon.", {"flowmon", true, false, 16}},
    {"DDoS", {"ddos", true, false, 16}},
    {"KNN", {"knn", false, false, 32}},
    {"Spike", {"spike", true, false, 64}},
    {"Bayes", {"bayes", false, false, 32}},
    {"API gw", {"api_gateway", true, false, 32}},
    {"Top ranker", {"top_ranker", true, false, 64}},
    {"SQL", {"sql", true, true, 512}},
};

}  // namespace

// Table 1, KVS: DPDK 2 cores at 2,005,000 requests/s; SmartNIC 12 cores at 2,033,400 requests/s.
constexpr double host_stack_us = 2.0 / 2005000.0 * 1e6;
constexpr double nic_stack_us = 12.0 / 2033400.0 * 1e6;
// A handler never costs less than this share of a request's Table 1 time (KVS's handler is
// not free; the subtraction would otherwise leave nothing).
constexpr double min_handler_share = 0.05;

double stack_us(core_type t, double clock_ghz) {
  return t == core_type::cnmips ? nic_stack_us : host_stack_us * 2.5 / clock_ghz;
}

double service_profile::handler_slowdown(core_type t, double clock_ghz) const {
  if (t == core_type::cnmips)
    return nic_us / host_us;
  return 2.5 / clock_ghz;
}

double service_profile::handler_us(core_type t, double clock_ghz, double size_bytes) const {
  double host = host_us;
  if (!size_curve.empty()) {
    if (size_bytes <= size_curve.front().first) {
      host = size_curve.front().second;
    } else if (size_bytes >= size_curve.back().first) {
      host = size_curve.back().second;
    } else {
      auto hi = std::lower_bound(size_curve.begin(), size_curve.end(), std::make_pair(size_bytes, 0.0));
      auto lo = hi - 1;
      double f = (size_bytes - lo->first) / (hi->first - lo->first);
      host = lo->second + f * (hi->second - lo->second);
    }
  }
  return host * handler_slowdown(t, clock_ghz);
}

double service_profile::cost_us(core_type t, double clock_ghz, double size_bytes) const {
  return stack_us(t, clock_ghz) + handler_us(t, clock_ghz, size_bytes);
}

double service_profile::slowdown(core_type t, double clock_ghz, double size_bytes) const {
  return cost_us(t, clock_ghz, size_bytes) / cost_us(core_type::xeon, 2.5, size_bytes);
}

std::vector<service_profile> build_service_profiles(std::string_view table1_csv, std::string_view measured_csv) {
  std::vector<service_profile> out;
  for (const auto& row : parse_csv_table(table1_csv, "table1_microservices.csv")) {
    const auto& name = row.at("service");
    auto f = facts.find(name);
    if (f == facts.end())
      throw std::runtime_error("table1_microservices.csv:" + std::to_string(row.line) + ": unknown service '" + name + "'");
    service_profile p;
    p.kind = f->second.kind;
    p.table1_name = name;
    p.stateful = f->second.stateful;
    p.host_only = f->second.host_only;
    p.host_cores = int(row.number("dpdk_cores"));
    double host_total = p.host_cores / row.number("dpdk_rps") * 1e6;
    double nic_total = liquidio2().cores / row.number("nic_rps") * 1e6;
    p.host_us = std::max(host_total - host_stack_us, min_handler_share * host_total);
    p.nic_us = std::max(nic_total - nic_stack_us, min_handler_share * nic_total);
    p.nic_active_w = row.number("nic_active_w");
    p.host_active_w = row.number("dpdk_active_w");
    p.memory_mb = f->second.memory_mb;
    p.source = "Table 1";
    out.push_back(p);
  }
  if (measured_csv.empty())
    return out;
  std::map<std::string, std::vector<csv_row>> measured;
  for (auto& row : parse_csv_table(measured_csv, "measured_profiles.csv"))
    measured[row.at("kind")].push_back(std::move(row));
  for (auto& p : out) {
    auto m = measured.find(p.kind);
    if (m == measured.end())
      continue;
    double ratio = p.nic_us / p.host_us;  // keep Table 1's SmartNIC-to-host handler ratio
    for (const auto& row : m->second)
      p.size_curve.emplace_back(row.number("size_bytes"), row.number("host_us"));
    std::sort(p.size_curve.begin(), p.size_curve.end());
    p.host_us = p.handler_us(core_type::xeon, 2.5, 512);
    p.nic_us = p.host_us * ratio;
    p.memory_mb = m->second.front().number("memory_mb");
    p.source = "measured: " + m->second.front().at("source");
  }
  return out;
}

namespace {
std::atomic<profile_source> selected{profile_source::measured};
}  // namespace

void use_service_profiles(profile_source s) { selected.store(s); }

profile_source service_profile_source() { return selected.load(); }

std::string_view to_string(profile_source s) { return s == profile_source::table1 ? "table1" : "measured"; }

profile_source parse_profile_source(std::string_view s) {
  if (s == "measured")
    return profile_source::measured;
  if (s == "table1")
    return profile_source::table1;
  throw std::invalid_argument("unknown profile source '" + std::string(s) + "' (known: measured, table1)");
}

const std::vector<service_profile>& service_profiles() {
  static const std::vector<service_profile> measured =
      build_service_profiles(embedded::table1_csv, embedded::measured_profiles_csv);
  static const std::vector<service_profile> table1 = build_service_profiles(embedded::table1_csv, "");
  return selected.load() == profile_source::table1 ? table1 : measured;
}

const service_profile* find_service_profile(std::string_view kind) {
  for (const auto& p : service_profiles())
    if (p.kind == kind)
      return &p;
  return nullptr;
}

const service_profile& service_profile_of(std::string_view kind) {
  if (auto* p = find_service_profile(kind))
    return *p;
  std::string known;
  for (const auto& p : service_profiles())
    known += (known.empty() ? "" : ", ") + p.kind;
  throw std::invalid_argument("unknown service kind '" + std::string(kind) + "' (known: " + known + ")");
}

}  // namespace e3::topo
