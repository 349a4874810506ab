// Running an app end to end on an emulated cluster.
#include "apps/run.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <stdexcept>

#include "services/api_gateway/service.hpp"
#include "topology/topology.hpp"

namespace e3::apps {
namespace {

// Real CPU per message the runtime itself spends here (CAF delivery, envelope, links, timers,
// and the system calls, which are expensive in this virtual machine), on top of the service's
// own work: measured ~30 µs with `e3 run --saturate` under perf; used only to choose the
// dilation factor.
constexpr double runtime_overhead_us = 30.0;
// Cores of this machine the emulation may plan to use (the rest: I/O threads, load generator).
constexpr double cpu_budget_cores = 0.8;

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Real CPU µs one app request costs here: every message's service time on a Beefy-like core
// (what this machine's core stands for) plus the runtime's overhead.
double real_us_per_request(const sched::app_dag& dag) {
  double us = 0;
  for (const auto& n : dag.nodes) {
    if (n.replica_of >= 0)
      continue;
    const auto* p = topo::find_service_profile(n.kind);
    us += n.visits * ((p ? p->host_us : 10.0) + runtime_overhead_us);
  }
  return us;
}

// "name#instance (kind)": a migrated instance, for people and JSON.
std::string migration_label(const rt::migration_report& m) {
  return m.service + "#" + std::to_string(m.instance) + " (" + m.kind + ")";
}

}  // namespace

namespace {

run_report run_once(const run_options& o, const service_registry& registry, double dilation_override);

}  // namespace

run_report run_app(const run_options& o, const service_registry& registry) {
  if (o.duration_s <= 0 || o.warmup_s < 0)
    throw std::invalid_argument("duration must be positive and warm-up not negative");
  // With an automatic dilation, a run this machine could not keep up with is repeated with
  // emulated time slowed down further (twice at most); the report says what happened.
  auto r = run_once(o, registry, o.dilation);
  for (int retry = 0; retry < 2 && r.machine_limited && o.dilation <= 0; ++retry) {
    std::cerr << "e3: this machine fell behind at dilation " << r.dilation << "x (" << r.machine_note
              << "); running again at " << r.dilation * 2.5 << "x\n";
    r = run_once(o, registry, r.dilation * 2.5);
  }
  return r;
}

namespace {

run_report run_once(const run_options& o, const service_registry& registry, double dilation_override) {
  auto cluster = topo::cluster::preset(o.cluster);
  auto dag = sched::expand(o.app);
  // The offered (or expected saturation) rate, from HCM's placement model, sizes the dilation.
  auto view = sched::cluster_view::empty(cluster);
  auto model_placement = sched::hcm_place(dag, view);
  double rate = o.saturate ? 0 : (o.rate_rps > 0 ? o.rate_rps : o.app.rate_rps);
  auto model = sched::evaluate(dag, cluster, model_placement, rate > 0 ? rate : o.app.rate_rps);
  double expected = o.saturate ? model.max_throughput_rps : std::min(rate, model.max_throughput_rps * 1.5);
  double dilation = dilation_override > 0
                        ? dilation_override
                        : std::max(1.0, expected * real_us_per_request(dag) / 1e6 / cpu_budget_cores);

  rt::runtime_options ro;
  ro.cluster = o.cluster;
  ro.dilation = dilation;
  ro.orchestrator = o.orchestrator;
  ro.pack_smartnics = o.pack_smartnics;
  ro.state_dir = o.state_dir;
  if (o.health_interval_ns > 0)
    ro.health_interval_ns = o.health_interval_ns;
  rt::cluster_runtime runtime(ro, registry);
  const auto& dep = runtime.deploy(o.app);
  auto client = runtime.connect_client();

  const auto& entry = o.app.services[o.app.entries.at(0)];
  const auto& entry_kind = registry.at(entry.kind);
  // An API gateway entry needs tokens signed with the gateway's own secret.
  std::function<std::string(std::uint64_t)> signer;
  if (entry.kind == "api_gateway") {
    service_config cfg;
    cfg.params = entry.params;
    signer = [secret = services::api_gateway::secret_from_params(cfg)](std::uint64_t key) {
      return services::api_gateway::make_token(secret, "client-" + std::to_string(key % 1024), std::int64_t(4e18));
    };
  }
  std::unique_ptr<request_source> src;
  if (o.trace.empty() && entry.params.count("input") && entry.params.at("input") == "record") {
    src = record_source(o.request_bytes, o.seed);  // e.g. count configured for records
  } else if (o.trace.empty()) {
    src = synthetic_source(entry_kind, o.request_bytes, o.seed);
    if (signer)
      src = signed_source(std::move(src), signer);
  } else if (o.trace.ends_with(".pcap") || o.trace.ends_with(".pcapng")) {
    src = pcap_source(o.trace);
  } else if (o.trace.ends_with(".csv")) {
    src = csv_source(o.trace, 64, signer);
  } else {
    throw std::invalid_argument("--trace " + o.trace + ": expected a .pcap, .pcapng or .csv file");
  }

  load_options lo;
  lo.rate_rps = rate;
  lo.saturate = o.saturate;
  // Closed loop: enough requests in flight to saturate (Little's law on the model's maximum
  // throughput and latency, doubled), so the emulated hardware, not the window, sets the rate.
  lo.window = o.window ? o.window
                       : std::size_t(std::clamp(2.0 * model.max_throughput_rps * std::max(model.latency_us, 100.0) * 1e-6,
                                                256.0, 16384.0));
  double wall_per_second = o.emulated_durations ? dilation : 1.0;
  lo.duration_s = o.duration_s * wall_per_second;
  lo.warmup_s = o.warmup_s * wall_per_second;
  lo.seed = o.seed;
  std::vector<rt::node_totals> before, after;
  std::vector<rt::instance_stats> inst_before, inst_after;
  double cpu_before = 0, cpu_after = 0;
  lo.on_measure_start = [&] {
    before = runtime.totals();
    inst_before = runtime.instances();
    cpu_before = process_cpu_seconds();
  };
  std::vector<rt::health_report> health_after;
  lo.on_measure_end = [&] {
    after = runtime.totals();
    inst_after = runtime.instances();
    health_after = runtime.health();
    cpu_after = process_cpu_seconds();
  };
  run_report r;
  r.app = o.app.name;
  r.cluster = o.cluster;
  r.dilation = dilation;
  r.orchestrator = o.orchestrator;
  r.pack_smartnics = o.pack_smartnics;
  r.state_dir = o.state_dir;
  r.health_interval_ns = ro.health_interval_ns;
  r.load = run_load(runtime, *client, *src, lo);
  r.source = r.load.source;
  r.model = model;
  if (after.empty())
    lo.on_measure_end();

  // Per node: emulated utilisation over the measurement, modelled power.
  double secs = std::max(1e-9, r.load.emulated_seconds);
  std::map<topo::node_id, std::map<std::string, double>> busy_by_kind;
  std::map<std::uint32_t, double> exec_before;
  for (const auto& s : inst_before)
    exec_before[s.instance] = s.mean_exec_us * double(s.requests);
  std::map<std::uint32_t, std::uint64_t> req_before;
  for (const auto& s : inst_before)
    req_before[s.instance] = s.requests;
  std::map<std::pair<topo::node_id, std::string>, std::pair<std::uint64_t, double>> per_kind;
  for (const auto& s : inst_after) {
    double exec_us = s.mean_exec_us * double(s.requests) - exec_before[s.instance];
    busy_by_kind[s.node][s.kind] += exec_us * 1e-6 / secs;
    auto& k = per_kind[{s.node, s.kind}];
    k.first += s.requests - req_before[s.instance];
    k.second += exec_us;
  }
  for (const auto& [key, v] : per_kind)
    if (v.first)
      r.kinds.push_back({cluster.node(key.first).name, key.second, v.first, v.second / double(v.first)});
  for (const auto& n : cluster.nodes()) {
    node_report nr;
    nr.name = n.name;
    nr.type = std::string(topo::to_string(n.kind));
    for (auto at : dep.placement.node_of)
      nr.instances += at == n.id;
    double busy_cores = double(after[n.id].busy_ns - before[n.id].busy_ns) * 1e-9 / secs;
    nr.utilisation = busy_cores / n.cores;
    nr.tm_packets = after[n.id].tm_packets - before[n.id].tm_packets;
    topo::node_activity act;
    act.busy_cores = busy_cores;
    act.hosts_services = nr.instances > 0;
    if (n.kind == topo::node_kind::smartnic) {
      std::vector<std::pair<std::string, double>> kinds(busy_by_kind[n.id].begin(), busy_by_kind[n.id].end());
      act.smartnic_active_w = topo::smartnic_active_w(kinds);
    }
    nr.power_w = topo::modelled_power_w(n, act);
    r.power_w += nr.power_w;
    r.nodes.push_back(nr);
  }
  r.requests_per_joule = r.power_w > 0 ? r.load.throughput_rps / r.power_w : 0;
  std::uint64_t lateness_n = 0, late = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    for (std::size_t k = 0; k < 3; ++k)
      r.links[k] += after[i].sent[k] - before[i].sent[k];
    r.errors += after[i].rejected - before[i].rejected;
    r.link_failures += (after[i].link_failed - before[i].link_failed) + (after[i].link_dropped - before[i].link_dropped) +
                       (after[i].link_cut - before[i].link_cut);
    r.decode_errors += after[i].decode_errors - before[i].decode_errors;
    lateness_n += after[i].lateness_count - before[i].lateness_count;
    late += after[i].late - before[i].late;
    r.max_late_us = std::max(r.max_late_us, double(after[i].max_late_ns) / 1000.0);
  }
  r.lost = r.load.lost;
  for (auto at : dep.placement.node_of)
    (cluster.node(at).kind == topo::node_kind::smartnic ? r.smartnic_instances : r.host_instances)++;
  r.late_share = lateness_n ? double(late) / double(lateness_n) : 0;
  r.real_cpu_cores = (cpu_after - cpu_before) / std::max(1e-9, lo.duration_s);
  if (r.late_share > 0.01) {
    r.machine_limited = true;
    r.machine_note = std::to_string(int(r.late_share * 1000) / 10.0).substr(0, 4) +
                     " % of messages were handled later than their emulated arrival (this machine fell behind)";
  } else if (r.real_cpu_cores > 1.8) {
    r.machine_limited = true;
    r.machine_note = "this machine's 2 cores were busy (" + std::to_string(r.real_cpu_cores).substr(0, 4) + " cores used)";
  }
  r.health = std::move(health_after);
  r.migrations = runtime.migrations();
  client.reset();
  runtime.stop();
  return r;
}

}  // namespace

bool parse_on_off(const std::string& option, const std::string& value) {
  if (value == "on")
    return true;
  if (value == "off")
    return false;
  throw std::invalid_argument(option + ": expected on or off, got '" + value + "'");
}

std::string check_state_dir(const std::string& option, const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty())
    throw std::invalid_argument(option + ": expected a directory, got an empty value");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw std::invalid_argument(option + " " + dir + ": exists and is not a directory");
  if (!fs::exists(dir, ec) && !fs::create_directories(dir, ec))
    throw std::invalid_argument(option + " " + dir + ": cannot create it (" +
                                (ec ? ec.message() : std::string("unknown error")) + ")");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::invalid_argument(option + " " + dir + ": not writable");
  return dir;
}

nlohmann::json migration_json(const rt::migration_report& m) {
  return {{"service", migration_label(m)},
          {"instance", m.instance},
          {"kind", m.kind},
          {"from", m.from},
          {"to", m.to},
          {"blackout_ms", m.blackout_ms},
          {"keys", m.keys},
          {"bytes", m.bytes},
          {"trigger", m.trigger},
          {"outcome", m.outcome},
          {"reason", m.reason},
          {"decided_at_ms", double(m.decided_at_ns) / 1e6}};
}

nlohmann::json run_json(const run_report& r) {
  nlohmann::json j;
  j["app"] = r.app;
  j["cluster"] = r.cluster;
  j["source"] = r.source;
  j["throughput_rps"] = r.load.throughput_rps;
  j["offered_rps"] = r.load.offered_rps;
  j["latency_us"] = {{"p50", double(r.load.latency.quantile(0.5)) / 1000.0},
                     {"p99", double(r.load.latency.quantile(0.99)) / 1000.0},
                     {"p999", double(r.load.latency.quantile(0.999)) / 1000.0},
                     {"mean", r.load.latency.mean() / 1000.0}};
  j["requests_per_joule"] = r.requests_per_joule;
  j["power_w"] = r.power_w;
  j["links"] = {{"local", r.links[0]}, {"pcie", r.links[1]}, {"zmq", r.links[2]}};
  j["errors"] = r.errors;
  j["lost"] = r.lost;
  j["sent"] = r.load.sent;
  j["completed"] = r.load.completed;
  j["link_failures"] = r.link_failures;
  j["decode_errors"] = r.decode_errors;
  j["placement"] = {{"smartnic_instances", r.smartnic_instances}, {"host_instances", r.host_instances}};
  auto nodes = nlohmann::json::array();
  for (const auto& n : r.nodes)
    nodes.push_back({{"node", n.name}, {"type", n.type}, {"instances", n.instances}, {"utilisation", n.utilisation},
                     {"power_w", n.power_w}, {"tm_packets", n.tm_packets}});
  j["nodes"] = nodes;
  auto kinds = nlohmann::json::array();
  for (const auto& k : r.kinds)
    kinds.push_back({{"node", k.node}, {"kind", k.kind}, {"messages", k.messages}, {"mean_exec_us", k.mean_exec_us}});
  j["kinds"] = kinds;
  j["emulation"] = {{"dilation", r.dilation},
                    {"emulated_seconds", r.load.emulated_seconds},
                    {"wall_seconds", r.load.wall_seconds},
                    {"late_share", r.late_share},
                    {"max_late_us", r.max_late_us},
                    {"real_cpu_cores", r.real_cpu_cores},
                    {"machine_limited", r.machine_limited},
                    {"note", r.machine_note}};
  j["labels"] = {{"times", "emulated"},
                 {"power", "modelled (Tables 1 and 4)"},
                 {"blackout_ms", "real milliseconds on this machine"}};
  j["options"] = {{"orchestrator", r.orchestrator},
                  {"pack_smartnics", r.pack_smartnics},
                  {"state_dir", r.state_dir},
                  {"health_interval_ms", double(r.health_interval_ns) / 1e6}};
  auto migrations = nlohmann::json::array();
  for (const auto& m : r.migrations)
    migrations.push_back(migration_json(m));
  j["migrations"] = migrations;
  j["model"] = {{"throughput_rps", r.model.throughput_rps},
                {"max_throughput_rps", r.model.max_throughput_rps},
                {"latency_us", r.model.latency_us},
                {"requests_per_joule", r.model.requests_per_joule}};
  return j;
}

void print_run(std::ostream& out, const run_report& r) {
  auto f = out.flags();
  out << std::fixed;
  out << r.app << " on " << r.cluster << " (emulated hardware, time dilation " << std::setprecision(1) << r.dilation
      << "x)\n";
  out << "  load: " << r.source << "\n";
  out << "  placement: " << r.smartnic_instances << " instances on SmartNICs, " << r.host_instances << " on hosts\n";
  out << std::setprecision(0);
  out << "  throughput (emulated): " << r.load.throughput_rps << " requests/s   offered " << r.load.offered_rps << "\n";
  out << std::setprecision(1);
  out << "  latency (emulated): p50 " << double(r.load.latency.quantile(0.5)) / 1000 << " us  p99 "
      << double(r.load.latency.quantile(0.99)) / 1000 << " us  p99.9 " << double(r.load.latency.quantile(0.999)) / 1000
      << " us\n";
  out << "  power (modelled): " << r.power_w << " W   energy efficiency (modelled): " << std::setprecision(0)
      << r.requests_per_joule << " requests/J\n";
  out << "  messages: local " << r.links[0] << "  pcie " << r.links[1] << "  zmq " << r.links[2] << "\n";
  out << "  requests: sent " << r.load.sent << "  completed " << r.load.completed << "  errors " << r.errors << "  lost "
      << r.lost << "  (link failures " << r.link_failures << ", malformed frames " << r.decode_errors << ")\n";
  out << "  " << std::left << std::setw(14) << "node" << std::setw(10) << "type" << std::right << std::setw(10)
      << "instances" << std::setw(8) << "util" << std::setw(10) << "power W" << "\n";
  for (const auto& n : r.nodes)
    out << "  " << std::left << std::setw(14) << n.name << std::setw(10) << n.type << std::right << std::setw(10)
        << n.instances << std::setw(7) << std::setprecision(0) << n.utilisation * 100 << "%" << std::setw(10)
        << std::setprecision(1) << n.power_w << "\n";
  for (const auto& k : r.kinds)
    out << "  " << std::left << std::setw(14) << k.node << std::setw(12) << k.kind << std::right << std::setw(10)
        << k.messages << " messages, " << std::setprecision(2) << k.mean_exec_us << " us each (emulated)\n";
  out << "  orchestrator " << (r.orchestrator ? "on" : "off") << ", SmartNICs "
      << (r.pack_smartnics ? "packed by memory" : "placed by HCM") << ", state "
      << (r.state_dir.empty() ? std::string("in memory") : "under " + r.state_dir) << "\n";
  if (r.migrations.empty())
    out << "  migrations: none\n";
  else
    out << "  migrations (blackout in REAL ms on this machine):\n  " << std::left << std::setw(28) << "service"
        << std::setw(14) << "from" << std::setw(14) << "to" << std::setw(18) << "trigger" << std::setw(12)
        << "outcome" << std::right << std::setw(12) << "blackout ms" << std::setw(10) << "keys" << "\n";
  for (const auto& m : r.migrations)
    out << "  " << std::left << std::setw(28) << migration_label(m)
        << std::setw(14) << m.from << std::setw(14) << m.to << std::setw(18) << m.trigger << std::setw(12)
        << m.outcome << std::right << std::setw(12) << std::setprecision(1) << m.blackout_ms << std::setw(10)
        << m.keys << (m.reason.empty() ? std::string() : "  (" + m.reason + ")") << "\n";
  out << std::setprecision(2) << "  this machine: " << r.real_cpu_cores << " cores used, "
      << r.late_share * 100 << " % of messages late (worst " << r.max_late_us << " us emulated)"
      << (r.machine_limited ? "\n  WARNING: this machine limited the run: " + r.machine_note : std::string()) << "\n";
  out.flags(f);
}

}  // namespace e3::apps
