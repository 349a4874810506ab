// `e3 bench table5` (Table 5 and Fig. 10, §5.5): energy efficiency of NFV-FIN, RTA-SHM and IOT-TS on
// the five clusters of Table 5 (each app placed by HCM at the peak load the cluster carries, scored
// by the evaluation model), beside the paper's KRPJ; and cost efficiency over 0–5 years of
// ownership (topology/cost.hpp). Power, energy and cost figures are MODELLED.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <map>

#include "bench/cluster_model/charts.hpp"
#include "bench/cluster_model/cluster_model.hpp"
#include "bench/common/profiles_option.hpp"
#include "bench/common/report.hpp"

namespace {

using namespace e3;
using nlohmann::json;

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct cell {
  double rpj = 0, throughput = 0, power = 0, capex = 0;
  double cost_at(double years) const {
    return topo::cost_efficiency(throughput, years * topo::seconds_per_year, capex, power);
  }
};

// The best cluster for `app` other than `except` by `score`, and its score.
template <class F>
std::pair<std::string, double> best_other(const std::map<std::string, cell>& by_cluster, const std::string& except,
                                          F score) {
  std::pair<std::string, double> best{"", -1};
  for (const auto& [name, c] : by_cluster)
    if (name != except && score(c) > best.second)
      best = {name, score(c)};
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Table 5 and Fig. 10: energy and cost efficiency across clusters, modelled", "e3 bench table5"};
  std::vector<std::string> app_names = bench::table5_apps();
  std::vector<std::string> clusters = bench::table5_clusters();
  double max_years = 5, year_step = 0.25;
  std::string svg_path;
  bool json_out = false;
  cli.add_option("--apps", app_names, "apps (manifest names or files)");
  cli.add_option("--clusters", clusters, "cluster presets");
  cli.add_option("--years", max_years, "cost efficiency up to this many years of ownership")->check(CLI::Range(0.25, 50.0));
  cli.add_option("--year-step", year_step, "step of the cost curve (years)")->check(CLI::Range(0.01, 10.0));
  cli.add_option("--svg", svg_path, "write Fig. 10 (one panel per app) as SVG here");
  bench::add_profiles_option(cli);
  cli.add_flag("--json", json_out, "machine-readable output");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  std::vector<double> years;
  for (int k = 0; k * year_step <= max_years + 1e-9; ++k)
    years.push_back(k * year_step);

  std::vector<topo::cluster> cs;
  for (const auto& name : clusters) {
    try {
      cs.push_back(topo::cluster::preset(name));
    } catch (const std::exception& e) {
      std::cerr << "e3 bench table5: --clusters: " << e.what() << "\n";
      return 2;
    }
  }

  bench::report rep("Table 5: energy efficiency across clusters, each app placed by HCM at the cluster's peak load "
                    "(requests per joule MODELLED; paper: measured KRPJ)",
                    {"app", "cluster", "status", "krpj", "paper_krpj", "diff_pct", "requests_per_joule",
                     "copies", "throughput_rps", "power_w", "latency_us", "on_smartnics", "on_hosts", "bottleneck", "capex_usd",
                     "mreq_per_usd_1y", "mreq_per_usd_" + bench::report::text(max_years) + "y"});
  json cost = json::array();
  std::vector<std::string> panels;
  std::map<std::string, std::map<std::string, cell>> cells;  // app -> cluster -> figures
  std::string bad;
  auto specs = bench::load_apps(app_names, bad);
  if (!bad.empty()) {
    std::cerr << "e3 bench table5: " << bad << "\n";
    return 2;
  }
  for (const auto& spec : specs) {
    bench::svg::chart chart;
    chart.title = "Fig. 10: " + spec.name + " cost efficiency (MODELLED)";
    chart.x_label = "years of ownership";
    chart.y_label = "M requests per $";
    for (const auto& c : cs) {
      std::cerr << "table5: " << spec.name << " on " << c.name() << "…\n";
      bench::peak_point pk;
      try {
        pk = bench::place_at_peak(spec, c);
      } catch (const std::exception& e) {
        rep.row({spec.name, c.name(), std::string("no placement: ") + e.what()});
        continue;
      }
      const auto& ev = pk.peak;
      cell x{ev.requests_per_joule, ev.throughput_rps, ev.power_w, c.capex_usd()};
      cells[spec.name][c.name()] = x;
      double paper = bench::table5_krpj(spec.name, c.name());
      auto curve = bench::cost_curve(x.throughput, x.power, x.capex, years);
      bench::svg::series line{c.name(), {}, "", false};
      json pts = json::array();
      for (auto [y, v] : curve) {
        line.points.emplace_back(y, v / 1e6);
        pts.push_back({{"years", y}, {"requests_per_usd", v}});
      }
      chart.lines.push_back(std::move(line));
      cost.push_back({{"app", spec.name}, {"cluster", c.name()}, {"throughput_rps", x.throughput},
                      {"power_w", x.power}, {"capex_usd", x.capex}, {"points", pts}, {"modelled", true}});
      rep.row({spec.name, c.name(), pk.status, ev.requests_per_joule / 1e3, num_or_null(paper),
               num_or_null(bench::diff_pct(ev.requests_per_joule / 1e3, paper)), ev.requests_per_joule,
               pk.placements.size(), ev.throughput_rps, ev.power_w, ev.latency_us, ev.smartnic_instances, ev.host_instances, ev.bottleneck,
               x.capex, x.cost_at(1) / 1e6, x.cost_at(max_years) / 1e6});
    }
    panels.push_back(bench::svg::line_chart(chart));
  }

  // The paper's comparisons (§5.5), ours beside.
  json claims = json::array();
  auto claim = [&](std::string what, double paper, double ours, std::string unit) {
    rep.note(what + ": paper " + bench::report::text(paper) + unit + ", ours " +
             (std::isfinite(ours) ? bench::report::text(ours) + unit : std::string("n/a")) + " (" +
             bench::pct_text(bench::diff_pct(ours, paper)) + ")");
    claims.push_back({{"claim", what}, {"paper", paper}, {"ours", num_or_null(ours)}, {"unit", unit}});
  };
  auto get = [&](const std::string& a, const std::string& c) -> const cell* {
    auto i = cells.find(a);
    if (i == cells.end())
      return nullptr;
    auto j = i->second.find(c);
    return j == i->second.end() ? nullptr : &j->second;
  };
  const double nan = std::nan("");
  if (auto *w = get("nfv-fin", "4xWimpy"), *t = get("nfv-fin", "2xType2-SmartNIC"); w && t) {
    claim("NFV-FIN energy efficiency, 4xWimpy / 2xType2-SmartNIC", 29.9 / 29.0, w->rpj / t->rpj, "x");
    claim("NFV-FIN cost efficiency after 5 years, 4xWimpy / 2xType2-SmartNIC", 1.141, w->cost_at(5) / t->cost_at(5),
          "x");
  }
  {
    double sum = 0;
    int n = 0;
    for (const auto& a : bench::table5_apps())
      if (auto *t = get(a, "2xType2-SmartNIC"), *s = get(a, "1xSuperBeefy"); t && s && s->rpj > 0) {
        sum += t->rpj / s->rpj;
        ++n;
      }
    claim("energy efficiency 2xType2-SmartNIC / 1xSuperBeefy, mean over the 3 apps (text; Table 5 itself gives 2.02x)",
          2.37, n ? sum / n : nan, "x");
  }
  for (const auto* a : {"rta-shm", "iot-ts"}) {
    auto i = cells.find(a);
    const auto* t = get(a, "2xType2-SmartNIC");
    if (i == cells.end() || !t)
      continue;
    auto next = best_other(i->second, "2xType2-SmartNIC", [](const cell& c) { return c.cost_at(5); });
    claim(std::string(a) + " cost efficiency after 5 years, 2xType2-SmartNIC / next best (paper: 4xBeefy, 'up to')", 1.9,
          next.second > 0 ? t->cost_at(5) / next.second : nan, "x");
    rep.note(std::string("  ours: next best for ") + a + " after 5 years is " + next.first);
  }
  for (const auto& [app, by_cluster] : cells) {
    std::string best, best_paper;
    double b = -1, bp = -1;
    for (const auto& [cl, c] : by_cluster) {
      if (c.rpj > b) {
        b = c.rpj;
        best = cl;
      }
      double p = bench::table5_krpj(app, cl);
      if (std::isfinite(p) && p > bp) {
        bp = p;
        best_paper = cl;
      }
    }
    rep.note("most energy-efficient cluster for " + app + ": ours " + best + ", paper " +
             (best_paper.empty() ? "-" : best_paper));
  }
  rep.note("krpj = thousand requests per joule of MODELLED wall power (topology power model from Tables 1 and 4, every "
           "server's idle power included) at the placement's saturation; paper_krpj = Table 5 (measured)");
  rep.note("peak (§5.1): copies of the app at its design load x m are placed by HCM until the next does not fit; over "
           "m = 1/16, x1.05, ... the m whose copies saturate at the highest throughput is kept, evaluated at saturation");
  rep.note("mreq_per_usd = cost efficiency (MODELLED): throughput x T / (CAPEX (Table 4) + modelled power x T x "
           "$0.0733/kWh), million requests per dollar");
  rep.extra()["cost"] = cost;
  rep.extra()["claims"] = claims;
  rep.extra()["years"] = years;
  rep.extra()["modelled"] = true;
  rep.extra()["profiles"] = bench::profiles_in_use();
  rep.note("service profiles: " + bench::profiles_in_use() + " (--profiles measured|table1)");
  if (!svg_path.empty()) {
    if (!bench::svg::write_file(svg_path, bench::svg::panels(panels, 720, 440, 3), "e3 bench table5"))
      return 1;
    rep.extra()["svg"] = svg_path;
  }
  rep.print(json_out);
  return 0;
}
