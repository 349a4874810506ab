// `e3 bench fig8` (Fig. 8, §5.1 "Power proportionality"): cluster power of NFV-FIN, RTA-SHM and
// IOT-TS on 3xType1-SmartNIC as the offered load goes from idle to peak, normalised to the cluster's
// idle power. Each app is placed by HCM at the cluster's peak (bench/cluster_model) and kept there;
// power at each load from the evaluation model and, as a cross-check, from the discrete-event
// simulator's measured utilisation. SmartNIC cores never sleep (flat power while they host
// services); host cores sleep when idle. Every power figure is MODELLED.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>

#include "bench/cluster_model/charts.hpp"
#include "bench/cluster_model/cluster_model.hpp"
#include "bench/common/profiles_option.hpp"
#include "bench/common/report.hpp"

namespace {

using namespace e3;
using nlohmann::json;

// Power of the SmartNIC nodes and of the host nodes in an evaluation.
std::pair<double, double> split_power(const sched::evaluation& ev, const topo::cluster& c) {
  double nic = 0, host = 0;
  for (const auto& n : ev.nodes)
    (c.node(n.node).kind == topo::node_kind::smartnic ? nic : host) += n.power_w;
  return {nic, host};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Fig. 8: power against load on 3xType1-SmartNIC, modelled", "e3 bench fig8"};
  std::vector<std::string> names = bench::table5_apps();
  std::string cluster_name = "3xType1-SmartNIC", svg_path, objective = "throughput";
  int steps = 10;
  double measure_ms = 10;
  bool json_out = false, no_sim = false;
  cli.add_option("--apps", names, "apps (manifest names or files)");
  cli.add_option("--cluster", cluster_name, "cluster preset");
  cli.add_option("--steps", steps, "load steps between idle and peak")->check(CLI::Range(1, 100));
  cli.add_option("--measure-ms", measure_ms, "simulated milliseconds per load point")->check(CLI::Range(0.1, 10000.0));
  cli.add_option("--objective", objective, "what the peak placement maximises: throughput (§5.1) or rpj")
      ->check(CLI::IsMember({"throughput", "rpj"}));
  cli.add_flag("--no-sim", no_sim, "skip the simulator cross-check");
  cli.add_option("--svg", svg_path, "write the figure (normalised power against load) as SVG here");
  bench::add_profiles_option(cli);
  cli.add_flag("--json", json_out, "machine-readable output");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  topo::cluster c;
  try {
    c = topo::cluster::preset(cluster_name);
  } catch (const std::exception& e) {
    std::cerr << "e3 bench fig8: --cluster: " << e.what() << "\n";
    return 2;
  }
  // The cluster's idle power: every node with nothing deployed (the paper normalises to it).
  double idle_w = 0;
  for (const auto& n : c.nodes())
    idle_w += topo::modelled_power_w(n, {});

  bench::report rep("Fig. 8: power against offered load on " + cluster_name + ", normalised to its idle power (" +
                        bench::report::text(idle_w) + " W, MODELLED)",
                    {"app", "load_pct", "offered_rps", "power_w", "normalised", "smartnic_w", "host_w", "sim_power_w",
                     "sim_normalised", "sim_throughput_rps"});
  bench::svg::chart chart;
  chart.title = "Fig. 8: power vs load, " + cluster_name + " (MODELLED)";
  chart.x_label = "offered load (% of peak)";
  chart.y_label = "power / idle power";
  json summary = json::array();
  std::string bad;
  auto specs = bench::load_apps(names, bad);
  if (!bad.empty()) {
    std::cerr << "e3 bench fig8: " << bad << "\n";
    return 2;
  }
  for (const auto& spec : specs) {
    std::cerr << "fig8: " << spec.name << "…\n";
    bench::peak_options po;
    po.objective = bench::parse_objective(objective);
    auto pk = bench::place_at_peak(spec, c, po);
    bench::svg::series model{spec.name + " (model)", {}, "", false};
    bench::svg::series simulated{spec.name + " (simulated)", {}, "", true};
    double p0 = 0, p100 = 0, nic0 = 0, nic100 = 0;
    for (int k = 0; k <= steps; ++k) {
      double f = double(k) / steps;
      auto ev = bench::at_load(pk, c, f);
      auto [nic_w, host_w] = split_power(ev, c);
      json sim_w = nullptr, sim_norm = nullptr, sim_rps = nullptr;
      if (!no_sim && k > 0) {
        auto s = bench::simulate(pk, c, f, measure_ms);
        sim_w = s.power_w;
        sim_norm = s.power_w / idle_w;
        sim_rps = s.throughput_rps;
        simulated.points.emplace_back(100 * f, s.power_w / idle_w);
      }
      rep.row({spec.name, 100 * f, ev.offered_rps, ev.power_w, ev.power_w / idle_w, nic_w, host_w, sim_w, sim_norm,
               sim_rps});
      model.points.emplace_back(100 * f, ev.power_w / idle_w);
      if (k == 0) {
        p0 = ev.power_w;
        nic0 = nic_w;
      }
      if (k == steps) {
        p100 = ev.power_w;
        nic100 = nic_w;
      }
    }
    // Power proportionality: how much of the power at peak the load adds on top of the deployed-idle draw.
    double dynamic = p100 > 0 ? (p100 - p0) / p100 : 0;
    std::string word = dynamic < 0.05 ? "not power proportional (flat)" : "power proportional";
    rep.note(spec.name + ": " + std::to_string(pk.peak.smartnic_instances) + " instances on SmartNICs, " +
             std::to_string(pk.peak.host_instances) + " on hosts; power " + bench::report::text(p0 / idle_w) +
             "x idle at no load -> " + bench::report::text(p100 / idle_w) + "x at peak (load adds " +
             bench::report::text(100 * dynamic) + " % of peak power): " + word + "; SmartNIC power " +
             bench::report::text(nic0) + " -> " + bench::report::text(nic100) + " W");
    summary.push_back({{"app", spec.name},
                       {"smartnic_instances", pk.peak.smartnic_instances},
                       {"host_instances", pk.peak.host_instances},
                       {"peak_rps", pk.peak.throughput_rps},
                       {"normalised_no_load", p0 / idle_w},
                       {"normalised_peak", p100 / idle_w},
                       {"dynamic_share", dynamic},
                       {"smartnic_w_no_load", nic0},
                       {"smartnic_w_peak", nic100},
                       {"proportional", dynamic >= 0.05}});
    chart.lines.push_back(std::move(model));
    if (!simulated.points.empty())
      chart.lines.push_back(std::move(simulated));
  }
  rep.note("paper (Fig. 8): RTA-SHM and IOT-TS are power proportional; NFV-FIN is not (all on SmartNICs, whose "
           "cnMIPS cores have no per-core sleep states) but draws little power");
  rep.note("load_pct = offered load as % of the placement's modelled peak (HCM, copies at the cluster's peak, kept "
           "fixed); 0 % = deployed, no requests");
  rep.note("power: evaluation model (host: idle + busy cores x per-core active power; SmartNIC: idle + full active "
           "power whenever it hosts a service); sim_*: the simulator's measured utilisation through the same power "
           "model, " + bench::report::text(measure_ms) + " simulated ms per point");
  rep.extra()["apps"] = summary;
  rep.extra()["idle_w"] = idle_w;
  rep.extra()["cluster"] = cluster_name;
  rep.extra()["modelled"] = true;
  rep.extra()["profiles"] = bench::profiles_in_use();
  rep.note("service profiles: " + bench::profiles_in_use() + " (--profiles measured|table1)");
  if (!svg_path.empty()) {
    if (!bench::svg::write_file(svg_path, bench::svg::line_chart(chart), "e3 bench fig8"))
      return 1;
    rep.extra()["svg"] = svg_path;
  }
  rep.print(json_out);
  return 0;
}
