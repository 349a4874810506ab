// e3 bench starvation: Fig. 7 (§5.2) on the emulated cluster. RTA-PTC, RTA-SF, IOT-DH and IOT-TS,
// placed by HCM with SmartNICs packed by memory on 3xType1-SmartNIC, each run with the data-plane
// orchestrator off and then on at the same time dilation: throughput, latency, modelled energy
// efficiency, which services the orchestrator migrated and why (the detectors' inputs at the end).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apps/placement_report.hpp"
#include "apps/run.hpp"
#include "bench/common/report.hpp"
#include "bench/common/svg.hpp"
#include "migration/detectors.hpp"
#include "services/services.hpp"
#include "topology/topology.hpp"

namespace {

using namespace e3;

/// The service kind of paper_victim(app) ("" when none).
std::string paper_victim_kind(const std::string& app) {
  if (app == "rta-ptc")
    return "top_ranker";
  if (app == "rta-sf")
    return "spike";
  if (app == "iot-dh" || app == "iot-ts")
    return "api_gateway";
  return "";
}

/// What §5.2 says the orchestrator migrates in each app.
std::string paper_victim(const std::string& app) {
  if (app == "rta-ptc")
    return "Top Ranker";
  if (app == "rta-sf")
    return "Spike";
  if (app == "iot-dh" || app == "iot-ts")
    return "API gateway";
  return "-";
}

double p_us(const apps::run_report& r, double q) { return double(r.load.latency.quantile(q)) / 1000.0; }

/// "kind ×n (trigger)" per migrated kind, e.g. "top_ranker x2 (host starvation)".
std::string migrated(const apps::run_report& r) {
  std::map<std::string, std::map<std::string, int>> by_kind;  // kind -> trigger/outcome -> count
  for (const auto& m : r.migrations)
    by_kind[m.kind][m.trigger + (m.outcome == "completed" ? "" : ", " + m.outcome)]++;
  if (by_kind.empty())
    return "none";
  std::string out;
  for (const auto& [kind, why] : by_kind)
    for (const auto& [w, n] : why)
      out += (out.empty() ? "" : "; ") + kind + " x" + std::to_string(n) + " (" + w + ")";
  return out;
}

/// The detectors' inputs in a SmartNIC's last health report, and whether the real detectors
/// (migration/detectors.hpp, default thresholds) would count it as a hit.
struct nic_view {
  std::string node;
  double utilisation = 0, link_use = 0, worst_slowdown = 0, top_share = 0;
  double paper_kind_share = 0;  ///< highest CPU share of an instance of the paper's victim kind
  std::uint64_t tm_queue = 0;
  std::string top_kind;
  bool starvation_hit = false, overload_hit = false;
};

std::vector<nic_view> nic_views(const apps::run_report& r, const topo::cluster& c, const std::string& paper_kind) {
  std::vector<nic_view> out;
  mig::starvation_config sc;
  mig::overload_config oc;
  for (const auto& h : r.health) {
    const auto& n = c.node(h.node);
    if (n.kind != topo::node_kind::smartnic || h.instances.empty())
      continue;
    nic_view v;
    v.node = n.name;
    v.utilisation = h.utilisation;
    v.tm_queue = h.tm_queue;
    v.link_use = n.network_gbps > 0 ? std::max(h.link_in_gbps, h.link_out_gbps) / n.network_gbps : 0;
    mig::node_report nr;
    nr.node = h.node;
    nr.tm_queue = std::uint32_t(std::min<std::uint64_t>(h.tm_queue, 0xffffffffu));
    nr.link_in_gbps = h.link_in_gbps;
    nr.link_out_gbps = h.link_out_gbps;
    nr.capacity_gbps = n.network_gbps;
    v.starvation_hit = mig::starvation_hit(sc, nr);
    for (const auto& i : h.instances) {
      if (i.kind == paper_kind)
        v.paper_kind_share = std::max(v.paper_kind_share, i.cpu_share);
      if (i.cpu_share > v.top_share) {
        v.top_share = i.cpu_share;
        v.top_kind = i.kind;
      }
      if (i.interval_requests >= oc.min_requests && i.ema_prev_us > 0) {
        v.worst_slowdown = std::max(v.worst_slowdown, i.last_exec_us / i.ema_prev_us);
        mig::instance_report ir;
        ir.requests = std::uint32_t(std::min<std::uint64_t>(i.interval_requests, 0xffffffffu));
        ir.exec_us = i.last_exec_us;
        ir.ema_exec_us = i.ema_prev_us;
        v.overload_hit |= mig::overload_hit(oc, ir);
      }
    }
    out.push_back(v);
  }
  return out;
}

nlohmann::json run_summary(const apps::run_report& r, const topo::cluster& c, const std::string& paper_kind) {
  nlohmann::json j;
  j["throughput_rps"] = r.load.throughput_rps;
  j["latency_us"] = {{"p50", p_us(r, 0.5)}, {"p99", p_us(r, 0.99)}};
  j["requests_per_joule"] = r.requests_per_joule;
  j["power_w"] = r.power_w;
  j["dilation"] = r.dilation;
  j["machine_limited"] = r.machine_limited;
  j["machine_note"] = r.machine_note;
  j["placement"] = {{"smartnic_instances", r.smartnic_instances}, {"host_instances", r.host_instances}};
  auto ms = nlohmann::json::array();
  for (const auto& m : r.migrations)
    ms.push_back(apps::migration_json(m));
  j["migrations"] = ms;
  auto nics = nlohmann::json::array();
  for (const auto& v : nic_views(r, c, paper_kind))
    nics.push_back({{"node", v.node},
                    {"utilisation", v.utilisation},
                    {"tm_queue", v.tm_queue},
                    {"link_use", v.link_use},
                    {"worst_slowdown", v.worst_slowdown},
                    {"top_kind", v.top_kind},
                    {"top_cpu_share", v.top_share},
                    {"paper_victim_cpu_share", v.paper_kind_share},
                    {"starvation_hit", v.starvation_hit},
                    {"overload_hit", v.overload_hit}});
  j["smartnics_at_end"] = nics;
  return j;
}

std::string fmt(double v, int prec) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Fig. 7 (§5.2): avoiding host starvation with the data-plane orchestrator (e3 bench starvation)"};
  std::string apps_list = "rta-ptc,rta-sf,iot-dh,iot-ts", cluster = "3xType1-SmartNIC", load = "saturate", svg_path;
  double health_ms = 5, warmup_ms = 300, measure_ms = 300, dilation = 0;
  bool json = false;
  cli.add_option("--apps", apps_list, "comma-separated app manifests");
  cli.add_option("--cluster", cluster, "cluster preset");
  cli.add_option("--load", load, "saturate (closed loop, the paper's peak) or design (open loop at the manifest's rate)")
      ->check(CLI::IsMember({"saturate", "design"}));
  cli.add_option("--health-ms", health_ms, "EMULATED health-report interval, ms (§3.4: 50; default 5, see notes)")
      ->check(CLI::Range(0.5, 50.0));
  cli.add_option("--warmup-ms", warmup_ms, "EMULATED warm-up before measuring, ms (the orchestrator acts here)")
      ->check(CLI::Range(10.0, 60000.0));
  cli.add_option("--measure-ms", measure_ms, "EMULATED measurement, ms")->check(CLI::Range(10.0, 60000.0));
  cli.add_option("--dilation", dilation, "time dilation (default: chosen by the orchestrator-off run, reused on)")
      ->check(CLI::Range(1.0, 1e6));
  cli.add_option("--svg", svg_path, "also draw requests per joule, off and on, into this SVG file");
  cli.add_flag("--json", json, "one JSON object");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }

  service_registry reg;
  services::register_all(reg);
  std::vector<std::string> names;
  for (std::size_t p = 0; p <= apps_list.size();) {
    auto q = std::min(apps_list.find(',', p), apps_list.size());
    if (q > p)
      names.push_back(apps_list.substr(p, q - p));
    p = q + 1;
  }
  auto cl = topo::cluster::preset(cluster);

  bench::report runs("e3 bench starvation: orchestrator off vs on, SmartNICs packed by memory on " + cluster +
                         " (times EMULATED, power MODELLED)",
                     {"app", "orchestrator", "dilation", "throughput rps", "p50 us", "p99 us", "power W",
                      "requests/J", "migrated", "machine limited"});
  bench::report cmp("Fig. 7 beside the paper (on / off)",
                    {"app", "requests/J on/off", "p50 change", "p99 change", "migrated (ours)", "migrated (paper)"});
  bench::report diag("Detector inputs in each busy SmartNIC's last health report (orchestrator off run, then on run)",
                     {"app", "run", "node", "util", "tm queue", "link use", "worst exec/EMA", "hottest (cpu share)", "paper's victim",
                      "starvation hit", "overload hit"});
  nlohmann::json jruns = nlohmann::json::array();
  bench::svg::series s_off{"orchestrator off", {}, "#d62728", false};
  bench::svg::series s_on{"orchestrator on", {}, "#1f77b4", false};
  double best_ee = 0, best_lat = -1e300;
  int idx = 0;
  for (const auto& name : names) {
    ++idx;
    apps::run_options o;
    try {
      o.app = apps::load_app(name);
    } catch (const std::exception& e) {
      std::cerr << "e3 bench starvation: --apps " << name << ": " << e.what() << "\n";
      return 2;
    }
    o.cluster = cluster;
    o.pack_smartnics = true;
    o.saturate = load == "saturate";
    o.health_interval_ns = std::int64_t(health_ms * 1e6);
    o.emulated_durations = true;
    o.warmup_s = warmup_ms / 1000;
    o.duration_s = measure_ms / 1000;
    o.dilation = dilation;
    apps::run_report rep[2];
    try {
      for (int on = 0; on < 2; ++on) {
        o.orchestrator = on == 1;
        std::cerr << "starvation: " << name << ", orchestrator " << (on ? "on" : "off")
                  << (o.dilation > 0 ? " at dilation " + fmt(o.dilation, 1) + "x" : std::string()) << "...\n";
        rep[on] = apps::run_app(o, reg);
        o.dilation = rep[on].dilation;  // the on run at the off run's dilation
      }
    } catch (const std::exception& e) {
      std::cerr << "e3 bench starvation: " << name << ": " << e.what() << "\n";
      return 1;
    }
    nlohmann::json japp{{"app", name}, {"paper_victim", paper_victim(name)}};
    for (int on = 0; on < 2; ++on) {
      const auto& r = rep[on];
      runs.row({name, on ? "on" : "off", r.dilation, r.load.throughput_rps, p_us(r, 0.5), p_us(r, 0.99), r.power_w,
                r.requests_per_joule, migrated(r), r.machine_limited ? r.machine_note : "no"});
      for (const auto& v : nic_views(r, cl, paper_victim_kind(name)))
        diag.row({name, on ? "on" : "off", v.node, fmt(v.utilisation * 100, 0) + " %", v.tm_queue,
                  fmt(v.link_use * 100, 1) + " %", v.worst_slowdown, v.top_kind + " (" + fmt(v.top_share, 2) + ")", fmt(v.paper_kind_share, 2),
                  v.starvation_hit ? "yes" : "no", v.overload_hit ? "yes" : "no"});
      japp[on ? "on" : "off"] = run_summary(r, cl, paper_victim_kind(name));
    }
    double ee = rep[0].requests_per_joule > 0 ? rep[1].requests_per_joule / rep[0].requests_per_joule : 0;
    auto change = [](double off, double on) -> nlohmann::json {
      if (off <= 0)
        return nullptr;
      return fmt((on - off) / off * 100, 1) + " %";
    };
    double p50_red = p_us(rep[0], 0.5) > 0 ? 1 - p_us(rep[1], 0.5) / p_us(rep[0], 0.5) : 0;
    best_ee = std::max(best_ee, ee);
    best_lat = std::max(best_lat, p50_red);
    cmp.row({name, fmt(ee, 2) + "x", change(p_us(rep[0], 0.5), p_us(rep[1], 0.5)),
             change(p_us(rep[0], 0.99), p_us(rep[1], 0.99)), migrated(rep[1]), paper_victim(name)});
    japp["energy_efficiency_ratio"] = ee;
    japp["p50_reduction"] = p50_red;
    japp["p99_reduction"] = p_us(rep[0], 0.99) > 0 ? 1 - p_us(rep[1], 0.99) / p_us(rep[0], 0.99) : 0;
    jruns.push_back(japp);
    s_off.points.push_back({double(idx), rep[0].requests_per_joule});
    s_on.points.push_back({double(idx), rep[1].requests_per_joule});
  }
  cmp.row({"best", fmt(best_ee, 2) + "x", fmt(-best_lat * 100, 1) + " % (p50)", "", "", ""});
  cmp.row({"paper (Fig. 7)", "up to 29x", "up to -89 %", "", "", "Top Ranker / Spike / API gateway"});

  std::string setting = "health reports every " + fmt(health_ms, 1) + " ms EMULATED (§3.4: 50 ms), so the " +
                        "orchestrator's dwell/cool-down/settle (100/200/20 intervals) shrink alike; warm-up " +
                        fmt(warmup_ms, 0) + " ms and measurement " + fmt(measure_ms, 0) +
                        " ms EMULATED (wall = dilation x longer); migrations happen in the warm-up or the measurement";
  if (json) {
    nlohmann::json j;
    j["title"] = "e3 bench starvation (Fig. 7, §5.2)";
    j["cluster"] = cluster;
    j["load"] = load;
    j["health_interval_ms"] = health_ms;
    j["warmup_ms_emulated"] = warmup_ms;
    j["measure_ms_emulated"] = measure_ms;
    j["apps"] = jruns;
    j["paper"] = {{"energy_efficiency_up_to", 29.0},
                  {"latency_reduction_up_to", 0.89},
                  {"victims", {{"rta-ptc", "Top Ranker"}, {"rta-sf", "Spike"}, {"iot-dh", "API gateway"},
                               {"iot-ts", "API gateway"}}}};
    j["labels"] = {{"times", "emulated"}, {"power", "modelled (Tables 1 and 4)"}};
    j["notes"] = {setting};
    std::cout << j.dump(2) << "\n";
  } else {
    runs.note(setting);
    runs.note(std::string("load: ") + (load == "saturate" ? "closed loop at saturation (peak, as the paper measures)"
                                                        : "open loop at each manifest's design rate"));
    runs.print(false);
    std::cout << "\n";
    cmp.note("the paper's text gives Fig. 7 only as 'up to 29x better energy efficiency and up to 89 % latency "
             "reduction'; its per-app bars are not in the text");
    cmp.print(false);
    std::cout << "\n";
    diag.note("starvation hit: tm queue >= 64 packets with max(in, out) < 50 % of the ports; overload hit: an "
              "instance's exec >= 1.2 x its EMA over >= 20 requests (migration/detectors.hpp defaults); one report, "
              "the detectors need 3 and 2 in a row; the victim is the instance with the highest CPU share; 'paper's victim' "
              "is the highest CPU share of an instance of the kind §5.2 names");
    diag.print(false);
  }
  if (!svg_path.empty()) {
    bench::svg::chart ch;
    ch.title = "Fig. 7: requests per joule (MODELLED), orchestrator off vs on";
    ch.x_label = "app (" + apps_list + ")";
    ch.y_label = "requests per joule";
    ch.lines = {s_off, s_on};
    std::ofstream f(svg_path);
    f << bench::svg::line_chart(ch);
    if (!f) {
      std::cerr << "e3 bench starvation: cannot write " << svg_path << "\n";
      return 1;
    }
    std::cerr << "starvation: wrote " << svg_path << "\n";
  }
  return 0;
}
