// `e3 bench fig5` (Fig. 5, §5.1): the 8 apps on 3xType1-SmartNIC against 3xBeefy at peak
// utilisation. Each app is placed by HCM at the peak load each cluster carries (bench/cluster_model);
// energy efficiency and throughput from the evaluation model at saturation, latency (mean and p99)
// from the discrete-event simulator at a share of each cluster's peak. Power and energy figures are
// MODELLED; the paper's ratios are printed beside ours.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <map>

#include "bench/cluster_model/charts.hpp"
#include "bench/cluster_model/cluster_model.hpp"
#include "bench/common/profiles_option.hpp"
#include "bench/common/report.hpp"
#include "bench/placement/workload.hpp"

namespace {

using namespace e3;
using nlohmann::json;

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// The paper's per-app energy-efficiency ratios the text states (§5.1).
double paper_app_ratio(const std::string& app) {
  if (app == "nfv-fin")
    return 3.0;
  if (app == "rta-ptc")
    return 1.12;
  return std::nan("");
}

// The paper's per-class averages (§5.1): energy-efficiency ratio, mean and p99 latency saving (%).
struct class_ref {
  double ratio, mean_saving, p99_saving;
};
const std::map<std::string, class_ref>& paper_classes() {
  static const std::map<std::string, class_ref> m = {
      {"NFV", {2.5, 43.3, 35.5}}, {"RTA", {1.3, 92.3, 90.4}}, {"IOT", {1.3, 80.4, 88.6}}};
  return m;
}

std::string class_of(const std::string& app) {
  std::string c = app.substr(0, app.find('-'));
  for (auto& ch : c)
    ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return c;
}

struct side {
  bench::peak_point pk;
  sched::evaluation at;  // evaluation model at the latency load
  bench::sim_point sim;
  bool simulated = false;
  double mean_us() const { return simulated ? sim.latency_mean_us : at.latency_us; }
  double p99_us() const { return simulated ? sim.latency_p99_us : std::nan(""); }
};

double saving_pct(double nic, double base) { return base > 0 ? (1 - nic / base) * 100 : std::nan(""); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Fig. 5: 3xType1-SmartNIC vs 3xBeefy at peak, modelled", "e3 bench fig5"};
  std::vector<std::string> names = bench::paper_app_names();
  std::string nic_name = "3xType1-SmartNIC", base_name = "3xBeefy", svg_path;
  double latency_load = 0.8, measure_ms = 20;
  bool json_out = false, no_sim = false;
  cli.add_option("--apps", names, "apps (manifest names or files)");
  cli.add_option("--smartnic-cluster", nic_name, "the SmartNIC cluster preset");
  cli.add_option("--baseline-cluster", base_name, "the baseline cluster preset");
  cli.add_option("--latency-load", latency_load, "latency measured at this share of each cluster's peak")
      ->check(CLI::Range(0.01, 1.0));
  cli.add_option("--measure-ms", measure_ms, "simulated milliseconds measured per latency point")
      ->check(CLI::Range(0.1, 10000.0));
  cli.add_flag("--no-sim", no_sim, "latency from the evaluation model only (no p99)");
  cli.add_option("--svg", svg_path, "write the figure (energy efficiency, mean and p99 latency) as SVG here");
  bench::add_profiles_option(cli);
  cli.add_flag("--json", json_out, "machine-readable output");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  topo::cluster nic_c, base_c;
  try {
    nic_c = topo::cluster::preset(nic_name);
    base_c = topo::cluster::preset(base_name);
  } catch (const std::exception& e) {
    std::cerr << "e3 bench fig5: " << e.what() << "\n";
    return 2;
  }

  bench::report rep("Fig. 5: " + nic_name + " vs " + base_name + " at peak, each app placed by HCM at each cluster's "
                        "peak load (energy efficiency MODELLED)",
                    {"app", "status", "krpj_nic", "krpj_base", "ee_ratio", "paper_ee_ratio", "diff_pct",
                     "throughput_nic", "throughput_base", "on_smartnics", "mean_us_nic", "mean_us_base",
                     "mean_saving_pct", "p99_us_nic", "p99_us_base", "p99_saving_pct"});
  struct acc {
    double ratio = 0, mean = 0, p99 = 0;
    int n = 0, n_p99 = 0;
  };
  std::map<std::string, acc> classes;
  bench::svg::bar_chart_spec ee{"Fig. 5: energy efficiency at peak (MODELLED)", "KRPJ", {}, {nic_name, base_name}, {{}, {}}};
  auto mean_chart = ee, p99_chart = ee;
  mean_chart.title = "mean latency at " + bench::report::text(latency_load * 100) + " % of peak";
  mean_chart.y_label = "µs";
  mean_chart.log_y = true;
  p99_chart.title = "p99 latency at " + bench::report::text(latency_load * 100) + " % of peak (simulated)";
  p99_chart.y_label = "µs";
  p99_chart.log_y = true;
  json per_app = json::array();
  std::string bad;
  auto specs = bench::load_apps(names, bad);
  if (!bad.empty()) {
    std::cerr << "e3 bench fig5: " << bad << "\n";
    return 2;
  }
  for (const auto& spec : specs) {
    side nic, base;
    for (auto* s : {&nic, &base}) {
      const auto& c = s == &nic ? nic_c : base_c;
      std::cerr << "fig5: " << spec.name << " on " << c.name() << "…\n";
      s->pk = bench::place_at_peak(spec, c);
      s->at = bench::at_load(s->pk, c, latency_load);
      if (!no_sim) {
        s->sim = bench::simulate(s->pk, c, latency_load, measure_ms);
        s->simulated = true;
      }
    }
    double rn = nic.pk.peak.requests_per_joule, rb = base.pk.peak.requests_per_joule;
    double ratio = rb > 0 ? rn / rb : std::nan("");
    double paper = paper_app_ratio(spec.name);
    double ms = saving_pct(nic.mean_us(), base.mean_us()), ps = saving_pct(nic.p99_us(), base.p99_us());
    std::string status = nic.pk.status == "ok" && base.pk.status == "ok" ? "ok" : nic.pk.status + " / " + base.pk.status;
    rep.row({spec.name, status, rn / 1e3, rb / 1e3, num_or_null(ratio), num_or_null(paper),
             num_or_null(bench::diff_pct(ratio, paper)), nic.pk.peak.throughput_rps, base.pk.peak.throughput_rps,
             nic.pk.peak.smartnic_instances, nic.mean_us(), base.mean_us(), num_or_null(ms), num_or_null(nic.p99_us()),
             num_or_null(base.p99_us()), num_or_null(ps)});
    auto& a = classes[class_of(spec.name)];
    if (std::isfinite(ratio)) {
      a.ratio += ratio;
      a.mean += ms;
      ++a.n;
    }
    if (std::isfinite(ps)) {
      a.p99 += ps;
      ++a.n_p99;
    }
    ee.categories.push_back(spec.name);
    ee.values[0].push_back(rn / 1e3);
    ee.values[1].push_back(rb / 1e3);
    mean_chart.categories.push_back(spec.name);
    mean_chart.values[0].push_back(nic.mean_us());
    mean_chart.values[1].push_back(base.mean_us());
    p99_chart.categories.push_back(spec.name);
    p99_chart.values[0].push_back(nic.p99_us());
    p99_chart.values[1].push_back(base.p99_us());
    auto side_json = [&](const side& s) {
      json j = {{"status", s.pk.status},
                {"copies", s.pk.placements.size()},
                {"requests_per_joule", s.pk.peak.requests_per_joule},
                {"throughput_rps", s.pk.peak.throughput_rps},
                {"power_w", s.pk.peak.power_w},
                {"bottleneck", s.pk.peak.bottleneck},
                {"smartnic_instances", s.pk.peak.smartnic_instances},
                {"host_instances", s.pk.peak.host_instances},
                {"model_latency_us", s.at.latency_us},
                {"modelled", true}};
      if (s.simulated)
        j["simulated"] = {{"offered_rps", s.sim.offered_rps},
                          {"throughput_rps", s.sim.throughput_rps},
                          {"latency_mean_us", s.sim.latency_mean_us},
                          {"latency_p99_us", s.sim.latency_p99_us},
                          {"power_w", s.sim.power_w}};
      return j;
    };
    per_app.push_back({{"app", spec.name}, {"smartnic", side_json(nic)}, {"baseline", side_json(base)}});
  }

  json class_json = json::array();
  for (const auto& [cls, a] : classes) {
    auto ref = paper_classes().find(cls);
    if (a.n == 0)
      continue;
    double r = a.ratio / a.n, m = a.mean / a.n, p = a.n_p99 ? a.p99 / a.n_p99 : std::nan("");
    json j = {{"class", cls}, {"apps", a.n}, {"ee_ratio", r}, {"mean_saving_pct", m}, {"p99_saving_pct", num_or_null(p)}};
    std::string line = cls + " (" + std::to_string(a.n) + " apps): energy efficiency " + bench::report::text(r) + "x";
    if (ref != paper_classes().end()) {
      const auto& x = ref->second;
      j["paper"] = {{"ee_ratio", x.ratio}, {"mean_saving_pct", x.mean_saving}, {"p99_saving_pct", x.p99_saving}};
      line += " (paper " + bench::report::text(x.ratio) + "x, " + bench::pct_text(bench::diff_pct(r, x.ratio)) +
              "); mean latency saving " + bench::report::text(m) + " % (paper " + bench::report::text(x.mean_saving) +
              " %); p99 saving " + (std::isfinite(p) ? bench::report::text(p) + " %" : std::string("n/a")) +
              " (paper " + bench::report::text(x.p99_saving) + " %)";
    }
    rep.note(line);
    class_json.push_back(j);
  }
  rep.note("ee_ratio = " + nic_name + " / " + base_name + " requests per joule of MODELLED wall power at each cluster's "
           "saturation; paper_ee_ratio: §5.1 states NFV-FIN 3x and RTA-PTC +12 % (at 4 % latency cost)");
  rep.note("peak (§5.1): copies of the app at its design load x m placed by HCM until the next does not fit; the m "
           "whose copies saturate at the highest throughput is kept");
  rep.note(no_sim ? "latency: evaluation model at " + bench::report::text(latency_load * 100) + " % of each cluster's peak"
                  : "latency: discrete-event simulator (open-loop Poisson, fixed execution times) at " +
                        bench::report::text(latency_load * 100) + " % of each cluster's peak, " +
                        bench::report::text(measure_ms) + " simulated ms; saving = 1 - nic / base");
  rep.extra()["apps"] = per_app;
  rep.extra()["classes"] = class_json;
  rep.extra()["latency_load"] = latency_load;
  rep.extra()["modelled"] = true;
  rep.extra()["profiles"] = bench::profiles_in_use();
  rep.note("service profiles: " + bench::profiles_in_use() + " (--profiles measured|table1)");
  if (!svg_path.empty()) {
    std::vector<std::string> docs = {bench::svg::bar_chart(ee), bench::svg::bar_chart(mean_chart)};
    if (!no_sim)
      docs.push_back(bench::svg::bar_chart(p99_chart));
    if (!bench::svg::write_file(svg_path, bench::svg::panels(docs, 760, 440, 1), "e3 bench fig5"))
      return 1;
    rep.extra()["svg"] = svg_path;
  }
  rep.print(json_out);
  return 0;
}
