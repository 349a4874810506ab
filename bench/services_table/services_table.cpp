// `e3 bench services`: Table 1 on this platform. Measures every registered service kind here
// (thread CPU time per request at several request sizes, memory of one instance), derives the
// emulated SmartNIC figure from Table 1's SmartNIC-to-host ratio, models requests per joule for
// both with the topology power model, and prints the paper's Table 1 row beside. With
// --write-profiles FILE it writes the measured profile CSV that placement reads
// (topology/data/measured_profiles.csv). Every power and energy figure is MODELLED.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "bench/common/report.hpp"
#include "bench/services_table/profile_csv.hpp"
#include "bench/services_table/profiler.hpp"
#include "services/services.hpp"
#include "topology/cluster.hpp"
#include "topology/power.hpp"
#include "topology/service_profile.hpp"
#include "topology/table_csv.hpp"

namespace {

using namespace e3;
using nlohmann::json;

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    unsigned long v = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v == 0 || v > 65536)
      throw std::invalid_argument("--sizes: '" + item + "' is not a request size in 1..65536 bytes");
    out.push_back(v);
  }
  if (out.empty())
    throw std::invalid_argument("--sizes: no size given");
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto c = line.find(':');
      return c == std::string::npos ? "" : line.substr(c + 2);
    }
  return "unknown CPU";
}

std::string host_name() {
  char b[256] = {};
  if (::gethostname(b, sizeof b - 1) != 0)
    return "unknown host";
  return b;
}

/// The 1-minute load average (other work on this shared machine), or -1.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = -1;
  in >> v;
  return v;
}

std::string today_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d", &tm);
  return b;
}

/// Table 1's numbers for one row, by registry kind.
struct paper_row {
  double dpdk_rps = 0, dpdk_cores = 0, dpdk_rpj = 0, dpdk_w = 0, nic_rps = 0, nic_rpj = 0, nic_x = 0;
};

std::map<std::string, paper_row> paper_rows(const std::vector<topo::service_profile>& base) {
  std::map<std::string, paper_row> out;
  for (const auto& r : topo::parse_csv_table(embedded::table1_csv, "table1_microservices.csv")) {
    for (const auto& p : base)
      if (p.table1_name == r.at("service"))
        out[p.kind] = {r.number("dpdk_rps"), r.number("dpdk_cores"), r.number("dpdk_rpj"), r.number("dpdk_active_w"),
                       r.number("nic_rps"),  r.number("nic_rpj"),    r.number("nic_vs_dpdk_rpj_x")};
  }
  return out;
}

/// "0.123", or "0.123 @72B" when the requests were not the asked size.
std::string time_cell(const bench::timing& t) {
  std::ostringstream s;
  s << bench::report::text(t.us);
  if (std::abs(t.mean_bytes - double(t.target_bytes)) > 0.01 * double(t.target_bytes))
    s << " @" << std::llround(t.mean_bytes) << "B";
  return s.str();
}

json timing_json(const bench::timing& t) {
  return {{"target_bytes", t.target_bytes}, {"mean_bytes", t.mean_bytes},   {"min_bytes", t.min_bytes},
          {"max_bytes", t.max_bytes},       {"host_us", t.us},              {"host_us_median", t.us_median},
          {"flush_us", t.flush_us}, {"minor_faults_per_request", t.faults},         {"requests_per_batch", t.requests}, {"handled", t.handled},
          {"flushes", t.flushes},           {"replies", t.replies},         {"emits", t.emits},
          {"rejections", t.rejections},     {"first_rejection", t.first_rejection}};
}

/// Everything measured for one kind.
struct kind_result {
  const service_kind* kind = nullptr;
  bench::footprint mem;
  std::vector<bench::timing> timings;  // one per size, in --sizes order: the best round's
  std::vector<double> round_min, round_max;  // per size: µs of the best and the worst round
  std::uint64_t handled = 0, rejections = 0;  // over every round
  std::string error;                   // make()/on_start() failed
  bool usable() const { return error.empty(); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"e3 bench services: Table 1 on this platform (measured host time, modelled energy)"};
  bool json_out = false;
  std::string sizes_text = "64,256,512,1024,1500", only, write_profiles;
  bench::timing_options opt;
  std::size_t memory_warmup = 10000;
  int rounds = 3;
  app.add_flag("--json", json_out, "print JSON instead of tables");
  app.add_option("--sizes", sizes_text, "request sizes in bytes, comma-separated (512 must be among them)");
  app.add_option("--only", only, "measure only these kinds, comma-separated (registry names)");
  app.add_option("--batches", opt.batches, "timed batches per size; the best counts")->check(CLI::Range(1, 1000));
  app.add_option("--batch-ms", opt.batch_ms, "CPU time per batch (ms)")->check(CLI::Range(0.1, 10000.0));
  app.add_option("--warmup-ms", opt.warmup_ms, "warm-up CPU time per size (ms)")->check(CLI::Range(0.0, 100000.0));
  app.add_option("--rounds", rounds, "measure every kind and size this many times, interleaved; the best counts")
      ->check(CLI::Range(1, 100));
  app.add_option("--memory-warmup", memory_warmup, "requests of 512 B run before the footprint is read");
  app.add_option("--write-profiles", write_profiles, "write the measured profile CSV here");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::size_t> sizes;
  try {
    sizes = parse_sizes(sizes_text);
  } catch (const std::exception& e) {
    std::cerr << "e3 bench services: " << e.what() << "\n";
    return 2;
  }
  auto at512 = std::find(sizes.begin(), sizes.end(), std::size_t(512));
  if (at512 == sizes.end()) {
    std::cerr << "e3 bench services: --sizes must include 512 (Table 1's request size)\n";
    return 2;
  }
  std::size_t i512 = std::size_t(at512 - sizes.begin());

  service_registry reg;
  services::register_all(reg);
  auto base = topo::build_service_profiles(embedded::table1_csv, "");
  auto paper = paper_rows(base);

  // Kinds in Table 1 order, then any registered kind Table 1 lacks.
  std::vector<std::string> names;
  for (const auto& p : base)
    if (reg.find(p.kind))
      names.push_back(p.kind);
  for (const auto& n : reg.names())
    if (std::find(names.begin(), names.end(), n) == names.end())
      names.push_back(n);
  if (!only.empty()) {
    std::vector<std::string> wanted;
    std::stringstream in(only);
    std::string item;
    while (std::getline(in, item, ',')) {
      if (!reg.find(item)) {
        auto known = reg.names();
        std::string list;
        for (const auto& k : known)
          list += (list.empty() ? "" : ", ") + k;
        std::cerr << "e3 bench services: --only: unknown kind '" << item << "' (known: " << list << ")\n";
        return 2;
      }
      wanted.push_back(item);
    }
    std::erase_if(names, [&](const std::string& n) { return std::find(wanted.begin(), wanted.end(), n) == wanted.end(); });
  }

  double load_before = load_average();
  std::vector<kind_result> results;
  // Footprints first, each in a forked child, before timing grows this process's heap.
  for (const auto& n : names) {
    kind_result r;
    r.kind = &reg.at(n);
    std::cerr << "memory " << n << "...\n";
    r.mem = bench::measure_footprint(*r.kind, 512, memory_warmup, opt);
    results.push_back(std::move(r));
  }
  // Rounds interleave the kinds, so that a burst of load from others on this shared machine
  // hits one round of a kind, not all of them; per size the best round counts.
  for (int round = 0; round < rounds; ++round)
    for (auto& r : results) {
      if (!r.usable())
        continue;
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        std::cerr << "round " << round + 1 << "/" << rounds << ": " << r.kind->name << " @" << sizes[i] << " B...\n";
        bench::timing t;
        try {
          t = bench::time_requests_isolated(*r.kind, sizes[i], opt);
        } catch (const std::exception& e) {
          r.error = e.what();
          break;
        }
        r.handled += t.handled;
        r.rejections += t.rejections;
        if (i == r.timings.size()) {
          r.round_min.push_back(t.us);
          r.round_max.push_back(t.us);
          r.timings.push_back(std::move(t));
          continue;
        }
        r.round_min[i] = std::min(r.round_min[i], t.us);
        r.round_max[i] = std::max(r.round_max[i], t.us);
        if (t.us < r.timings[i].us)
          r.timings[i] = std::move(t);
      }
    }

  double load_after = load_average();
  // The measured profile of this run, and the profiles placement would build from it.
  std::string source = "e3 bench services " + today_utc() + " on " + host_name() + " (" + cpu_model() + ")";
  std::vector<bench::measured_point> points;
  std::vector<std::string> left_out;
  for (const auto& r : results) {
    bool rejecting = r.rejections > 0;
    if (!r.usable() || !r.mem.error.empty() || rejecting) {
      left_out.push_back(r.kind->name + (!r.usable()                ? ": " + r.error
                                         : !r.mem.error.empty() ? ": memory: " + r.mem.error
                                                                : ": rejected " + std::to_string(r.rejections) + " of " +
                                                                      std::to_string(r.handled) + " requests"));
      continue;
    }
    for (const auto& t : r.timings)
      points.push_back({r.kind->name, t.mean_bytes, t.us, r.mem.mb()});
  }
  std::string csv = bench::profile_csv(points, source);
  auto measured = topo::build_service_profiles(embedded::table1_csv, csv);
  auto measured_of = [&](const std::string& kind) -> const topo::service_profile* {
    for (const auto& p : measured)
      if (p.kind == kind && p.source.rfind("measured", 0) == 0)
        return &p;
    return nullptr;
  };
  auto beefy = topo::cluster::rack_of("bench", {"Beefy"});
  auto type1 = topo::cluster::rack_of("bench", {"Type1-SmartNIC"});
  const auto& host = beefy.node(beefy.hosts()[0]);
  const auto& nic = type1.node(type1.smartnics()[0]);

  // Table A: measured time per size and memory.
  std::vector<std::string> cols_a = {"kind", "stateful"};
  for (auto s : sizes)
    cols_a.push_back("us@" + std::to_string(s));
  cols_a.insert(cols_a.end(), {"flush_us@512", "faults/req@512", "rounds_max/min@512", "batch@512", "heap_MB", "rss_MB"});
  bench::report ta("Measured host CPU time per request (thread CPU µs, best of " + std::to_string(rounds) + " rounds x " +
                       std::to_string(opt.batches) + " batches, one core, warm, flush every " +
                       std::to_string(opt.group) + " included), and one instance's memory",
                   cols_a);
  // Table B: Table 1 on this platform at 512 B.
  bench::report tb("Table 1 on this platform, 512 B requests (host: measured here; SmartNIC: emulated; RPJ: MODELLED)",
                   {"kind", "host_rps/core", "paper_dpdk_rps/core", "ours/paper", "nic_slowdown", "nic_rps/card",
                    "paper_nic_rps", "host_rpj*", "paper_dpdk_rpj", "nic_rpj*", "paper_nic_rpj", "nic/host*",
                    "paper_x"});
  json j;
  j["title"] = "e3 bench services";
  j["source"] = source;
  j["sizes"] = sizes;
  j["method"] = {
      {"time", "thread CPU time (CLOCK_THREAD_CPUTIME_ID) per batch of requests, best of " +
                   std::to_string(rounds) + " interleaved rounds x " + std::to_string(opt.batches) + " batches of ~" + bench::report::text(opt.batch_ms) +
                   " ms after a " + bench::report::text(opt.warmup_ms) + " ms warm-up, each kind and size in a fresh forked child; one instance from make({}), " +
                   std::to_string(opt.pool) + " distinct synthetic requests cycled; flush()+commit() every " +
                   std::to_string(opt.group) + " requests inside the timed batch; in-memory collections; now_ns() a virtual clock "
                   "advancing " + std::to_string(opt.clock_step_ns) + " ns per request"},
      {"memory", "forked child per kind: growth of mallinfo2 in-use bytes and of RssAnon from before make() to after "
                 "on_start() and " + std::to_string(memory_warmup) + " requests of 512 B; footprint = the larger"},
      {"power", "MODELLED: host = a Beefy core's active power " + bench::report::text(host.power.active_w_per_core) +
                    " W per busy core (Table 4); SmartNIC = Table 1's active power of the kind / " +
                    std::to_string(nic.cores) + " cores (topology::active_joules_per_request)"}};
  j["services"] = json::array();

  std::vector<double> host_ratio;
  for (const auto& r : results) {
    const auto& k = *r.kind;
    json o = {{"kind", k.name}, {"table1_name", k.table1_name}, {"stateful", k.stateful}};
    o["memory"] = {{"heap_mb", r.mem.heap_mb}, {"rss_mb", r.mem.rss_mb}, {"footprint_mb", r.mem.mb()}};
    if (!r.mem.error.empty())
      o["memory"]["error"] = r.mem.error;
    o["timings"] = json::array();
    for (std::size_t i = 0; i < r.timings.size(); ++i) {
      auto tj = timing_json(r.timings[i]);
      tj["rounds_min_us"] = r.round_min[i];
      tj["rounds_max_us"] = r.round_max[i];
      o["timings"].push_back(tj);
    }
    o["handled_all_rounds"] = r.handled;
    o["rejections_all_rounds"] = r.rejections;
    if (!r.usable())
      o["error"] = r.error;
    std::vector<json> row = {k.name, k.stateful ? "yes" : "no"};
    for (std::size_t i = 0; i < sizes.size(); ++i)
      row.push_back(i < r.timings.size() ? json(time_cell(r.timings[i])) : json(nullptr));
    if (i512 < r.timings.size()) {
      const auto& t = r.timings[i512];
      row.push_back(k.stateful ? json(t.flush_us) : json("-"));
      row.push_back(t.faults);
      row.push_back(r.round_max[i512] / r.round_min[i512]);
      row.push_back(t.requests);
    } else {
      row.insert(row.end(), {nullptr, nullptr, nullptr, nullptr});
    }
    row.push_back(r.mem.error.empty() ? json(r.mem.heap_mb) : json("error"));
    row.push_back(r.mem.error.empty() ? json(r.mem.rss_mb) : json("error"));
    ta.row(row);

    const auto* m = measured_of(k.name);
    auto pr = paper.find(k.name);
    if (m) {
      double host_rps = 1e6 / m->host_us;
      double slow = m->slowdown(topo::core_type::cnmips, 1.2);
      double nic_rps = double(nic.cores) * 1e6 / m->nic_us;
      double host_rpj = 1.0 / topo::active_joules_per_request(*m, host, 512);
      double nic_rpj = 1.0 / topo::active_joules_per_request(*m, nic, 512);
      json ours = {{"host_us", m->host_us},  {"host_rps_per_core", host_rps}, {"nic_slowdown", slow},
                   {"nic_us", m->nic_us},    {"nic_rps_card_emulated", nic_rps}, {"host_rpj_modelled", host_rpj},
                   {"nic_rpj_modelled", nic_rpj}, {"nic_over_host_rpj_modelled", nic_rpj / host_rpj}};
      std::vector<json> b = {k.name, host_rps};
      if (pr != paper.end()) {
        const auto& p = pr->second;
        double paper_core = p.dpdk_rps / p.dpdk_cores;
        host_ratio.push_back(host_rps / paper_core);
        b.insert(b.end(), {paper_core, host_rps / paper_core, slow, nic_rps, p.nic_rps, host_rpj, p.dpdk_rpj, nic_rpj,
                           p.nic_rpj, nic_rpj / host_rpj, p.nic_x});
        o["paper"] = {{"dpdk_rps", p.dpdk_rps},          {"dpdk_cores", p.dpdk_cores},   {"dpdk_rps_per_core", paper_core},
                      {"dpdk_active_w", p.dpdk_w},       {"dpdk_rpj", p.dpdk_rpj},       {"nic_rps", p.nic_rps},
                      {"nic_rpj", p.nic_rpj},            {"nic_vs_dpdk_rpj_x", p.nic_x}};
        ours["host_rps_vs_paper"] = host_rps / paper_core;
        ours["nic_rps_vs_paper"] = nic_rps / p.nic_rps;
        ours["host_rpj_vs_paper"] = host_rpj / p.dpdk_rpj;
        ours["nic_rpj_vs_paper"] = nic_rpj / p.nic_rpj;
      } else {
        b.insert(b.end(), {nullptr, nullptr, slow, nic_rps, nullptr, host_rpj, nullptr, nic_rpj, nullptr,
                           nic_rpj / host_rpj, nullptr});
      }
      o["at_512"] = ours;
      tb.row(b);
    }
    j["services"].push_back(o);
  }

  std::vector<std::string> notes = {
      "Time: thread CPU time of whole batches (other processes on this shared 2-core machine are not counted; page "
      "faults are), each kind and size in a fresh forked child; best of " + std::to_string(opt.batches) + " batches per round, best of " + std::to_string(rounds) + " interleaved "
      "rounds; rounds_max/min shows how much the rounds differed (load from others). "
      "flush_us: of which flush()+commit() per request (steady clock around each flush, in separate batches, best of 3). "
      "faults/req: minor page faults per request (first-touch memory of a growing state; costly in this VM). '@NB': the kind's synthetic requests cannot be that size, N is "
      "their mean size. now_ns() is a virtual clock advancing " + std::to_string(opt.clock_step_ns) + " ns per request "
      "(an offered load independent of this machine's speed).",
      "Memory: forked child per kind; heap = mallinfo2 in-use growth, rss = RssAnon growth, after make(), on_start() "
      "and " + std::to_string(memory_warmup) + " requests of 512 B; the profile takes the larger.",
      "host_rps/core = 1e6 / measured µs: the service's own work only. The paper's DPDK figure (Table 1 RPS / cores) "
      "also pays the network stack, request parsing and the client per request, so cheap services differ most.",
      "nic_rps/card is EMULATED: measured host time × Table 1's per-core SmartNIC-to-host slowdown (nic_slowdown), "
      "12 cnMIPS cores. There is no SmartNIC here, so its ours/paper ratio equals the host's by construction.",
      "* MODELLED: host_rpj = 1 / (µs × " + bench::report::text(host.power.active_w_per_core) +
          " W, a Beefy core's active power, Table 4); nic_rpj = 1 / (SmartNIC µs × Table 1 SmartNIC active W / " +
          std::to_string(nic.cores) + "); topology::active_joules_per_request. paper_* RPJ are the paper's measured "
          "wall-power figures. nic/host* does not depend on the measured time (it cancels); it differs from paper_x "
          "because the model's host power per core (" + bench::report::text(host.power.active_w_per_core) +
          " W) is not the paper's DPDK active power / cores for that service.",
  };
  notes.push_back("Machine: " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs, 1-minute load average " +
                  bench::report::text(load_before) + " before and " + bench::report::text(load_after) +
                  " after the run (others share it).");
  j["load_average"] = {{"before", load_before}, {"after", load_after}};
  if (!host_ratio.empty()) {
    double g = 0;
    for (double v : host_ratio)
      g += std::log(v);
    g = std::exp(g / double(host_ratio.size()));
    notes.push_back("Geometric mean of ours/paper host requests/s per core over " + std::to_string(host_ratio.size()) +
                    " services: " + bench::report::text(g) + "x.");
    j["host_rps_vs_paper_geomean"] = g;
  }
  for (const auto& r : results)
    if (r.rejections > 0) {
      std::string first;
      for (const auto& t : r.timings)
        if (first.empty())
          first = t.first_rejection;
      notes.push_back("WARNING: " + r.kind->name + " rejected " + std::to_string(r.rejections) + " of " +
                      std::to_string(r.handled) + " synthetic requests" + (first.empty() ? "" : " (e.g. " + first + ")"));
    }
  for (const auto& l : left_out)
    notes.push_back("Left out of the measured profile: " + l);
  for (const auto& n : notes)
    tb.note(n);
  j["notes"] = notes;
  j["left_out_of_profile"] = left_out;

  if (!write_profiles.empty()) {
    std::ofstream f(write_profiles);
    f << csv;
    f.close();
    if (!f) {
      std::cerr << "e3 bench services: cannot write " << write_profiles << "\n";
      return 1;
    }
    std::cerr << "wrote " << points.size() << " measured points of " << (results.size() - left_out.size())
              << " kinds to " << write_profiles << "\n";
    j["profiles_written"] = write_profiles;
  }

  if (json_out) {
    std::cout << j.dump(2) << "\n";
  } else {
    ta.print(false);
    std::cout << "\n";
    tb.print(false);
    std::cout << "\nsource: " << source << "\n";
  }
  return 0;
}
