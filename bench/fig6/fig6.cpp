// `e3 bench fig6` (Fig. 6, §5.4): communication-aware placement. HCM vs simulated annealing vs the
// ILP on the 8 paper apps on 3xType1-SmartNIC, without the orchestrator: each app placed alone on
// the empty cluster and scored by the evaluation model at its design load and at saturation.
// Power and energy figures are MODELLED (topology power model, Tables 1 and 4).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/manifest.hpp"
#include "apps/placement_report.hpp"
#include "bench/common/profiles_option.hpp"
#include "bench/common/report.hpp"
#include "bench/fig6/compare.hpp"
#include "bench/placement/workload.hpp"

namespace {

using namespace e3;
using nlohmann::json;

json point(const sched::evaluation& ev) {
  std::size_t remote = 0;
  for (std::size_t k = 1; k < ev.paths.size(); ++k)
    remote += ev.paths[k].edges;
  return {{"requests_per_joule", ev.requests_per_joule},
          {"latency_us", ev.latency_us},
          {"throughput_rps", ev.throughput_rps},
          {"power_w", ev.power_w},
          {"edges_local", ev.paths[std::size_t(topo::path_kind::local)].edges},
          {"edges_remote", remote}};
}

json outcome(const bench::algo_outcome& o) {
  json j = {{"status", o.status}, {"place_ms", o.place_ms}};
  if (!o.placed) {
    j["requests_per_joule"] = nullptr;
    j["latency_us"] = nullptr;
    return j;
  }
  auto d = point(o.design);
  for (auto& [k, v] : d.items())
    j[k] = v;
  j["smartnic_instances"] = o.design.smartnic_instances;
  j["host_instances"] = o.design.host_instances;
  j["load_spread"] = o.spread;
  j["saturation"] = point(o.saturation);
  j["modelled"] = true;
  return j;
}

// HCM against one baseline over the apps: its best relative gain in requests per joule and in
// latency (+ = HCM better), and in how many apps it is better at all.
struct gains {
  double rpj = -1e300, latency = -1e300;
  std::string rpj_app, latency_app;
  int apps = 0, rpj_wins = 0, latency_wins = 0;
  void add(const std::string& app, const sched::evaluation& hcm, const sched::evaluation& base) {
    ++apps;
    if (base.requests_per_joule > 0) {
      double g = hcm.requests_per_joule / base.requests_per_joule - 1;
      rpj_wins += g > 0;
      if (g > rpj) {
        rpj = g;
        rpj_app = app;
      }
    }
    if (base.latency_us > 0) {
      double g = 1 - hcm.latency_us / base.latency_us;
      latency_wins += g > 0;
      if (g > latency) {
        latency = g;
        latency_app = app;
      }
    }
  }
  json to_json() const {
    auto num = [](double v) { return v > -1e299 ? json(100 * v) : json(nullptr); };
    return {{"requests_per_joule_pct", num(rpj)},     {"requests_per_joule_app", rpj_app},
            {"latency_reduction_pct", num(latency)},  {"latency_app", latency_app},
            {"apps", apps},                           {"apps_hcm_more_requests_per_joule", rpj_wins},
            {"apps_hcm_lower_latency", latency_wins}};
  }
  std::string text() const {
    return "requests per joule " + pct(rpj) + " (" + rpj_app + "; HCM ahead in " + std::to_string(rpj_wins) + " of " +
           std::to_string(apps) + " apps), latency " + pct(latency < -1e299 ? latency : -latency) + " (" +
           latency_app + "; HCM lower in " + std::to_string(latency_wins) + " of " + std::to_string(apps) + ")";
  }
  static std::string pct(double v) {
    if (v < -1e299)
      return "n/a";
    std::ostringstream s;
    s << std::showpos << std::fixed << std::setprecision(1) << 100 * v << " %";
    return s.str();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fig. 6: HCM vs simulated annealing vs ILP, modelled, per app", "e3 bench fig6"};
  std::vector<std::string> names = bench::paper_app_names();
  std::string cluster_name = "3xType1-SmartNIC";
  bool json_out = false;
  bench::compare_options o;
  std::uint64_t sa_iterations = 400'000;
  double ilp_seconds = 5;
  app.add_option("--apps", names, "apps (manifest names or files)");
  app.add_option("--cluster", cluster_name, "cluster preset");
  app.add_option("--seed", o.sa.seed, "annealing seed");
  app.add_option("--sa-iterations", sa_iterations, "annealing iteration limit")->check(CLI::Range(1, 1'000'000'000));
  app.add_option("--ilp-seconds", ilp_seconds, "ILP time limit per app (s)")->check(CLI::Range(0.01, 3600.0));
  app.add_flag("--json", json_out, "machine-readable output");
  bench::add_profiles_option(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.sa.max_iterations = sa_iterations;
  o.ilp.time_limit = std::chrono::milliseconds(std::int64_t(ilp_seconds * 1000));

  topo::cluster cluster = [&] {
    try {
      return topo::cluster::preset(cluster_name);
    } catch (const std::exception& e) {
      std::cerr << "e3 bench fig6: --cluster: " << e.what() << "\n";
      std::exit(2);
    }
  }();

  bench::report rep("Fig. 6: HCM vs simulated annealing (SA) vs ILP, each app alone on " + cluster_name +
                        ", evaluation model (power and requests per joule MODELLED)",
                    {"app", "algo", "status", "rpj_design", "latency_us_design", "rpj_saturation",
                     "latency_us_saturation", "throughput_saturation", "on_smartnics", "local_edges",
                     "remote_edges", "place_ms"});
  json apps_json = json::array();
  gains vs_sa_design, vs_ilp_design, vs_sa_sat, vs_ilp_sat;
  for (const auto& name : names) {
    sched::app_spec spec;
    try {
      spec = apps::load_app(name);
    } catch (const std::exception& e) {
      std::cerr << "e3 bench fig6: " << e.what() << "\n";
      return 2;
    }
    std::cerr << "fig6: " << spec.name << ": placing with hcm, sa, ilp (limit " << ilp_seconds << " s)…\n";
    auto cmp = bench::compare_placements(spec, cluster, o);
    json aj = {{"app", cmp.app},
               {"design_rps", cmp.design_rps},
               {"hcm", outcome(cmp.hcm)},
               {"sa", outcome(cmp.sa)},
               {"ilp", outcome(cmp.ilp)}};
    apps_json.push_back(aj);
    for (const auto* a : {&cmp.hcm, &cmp.sa, &cmp.ilp}) {
      if (!a->placed) {
        rep.row({cmp.app, a->algo, a->status, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                 a->place_ms});
        continue;
      }
      auto d = point(a->design);
      rep.row({cmp.app, a->algo, a->status, a->design.requests_per_joule, a->design.latency_us,
               a->saturation.requests_per_joule, a->saturation.latency_us, a->saturation.throughput_rps,
               a->design.smartnic_instances, d["edges_local"], d["edges_remote"], a->place_ms});
    }
    vs_sa_design.add(cmp.app, cmp.hcm.design, cmp.sa.design);
    vs_sa_sat.add(cmp.app, cmp.hcm.saturation, cmp.sa.saturation);
    if (cmp.ilp.placed) {
      vs_ilp_design.add(cmp.app, cmp.hcm.design, cmp.ilp.design);
      vs_ilp_sat.add(cmp.app, cmp.hcm.saturation, cmp.ilp.saturation);
    }
  }

  json headline = {
      {"paper", {{"vs_sa", {{"requests_per_joule_pct", 35.2}, {"latency_reduction_pct", 24.0}}},
                 {"vs_ilp", {{"requests_per_joule_pct", 22.0}, {"latency_reduction_pct", 18.6}}}}},
      {"ours_design_load", {{"vs_sa", vs_sa_design.to_json()}, {"vs_ilp", vs_ilp_design.to_json()}}},
      {"ours_saturation", {{"vs_sa", vs_sa_sat.to_json()}, {"vs_ilp", vs_ilp_sat.to_json()}}},
      {"modelled", true}};
  rep.note("rpj = requests per joule of MODELLED wall power (topology power model from Tables 1 and 4, all " +
           std::to_string(cluster.servers().size()) + " servers' idle power included); latency from the evaluation model");
  rep.note("design = the manifest's rate_rps; saturation = the load at which the placement's first node runs out "
           "(queueing there capped at rho 0.95)");
  rep.note("paper (Fig. 6): HCM up to +35.2 % / +22.0 % requests per joule and -24.0 % / -18.6 % latency vs SA / ILP");
  rep.note("ours at design load, HCM's best app vs SA: " + vs_sa_design.text());
  rep.note("ours at design load, HCM's best app vs ILP: " + vs_ilp_design.text());
  rep.note("ours at saturation,  HCM's best app vs SA: " + vs_sa_sat.text());
  rep.note("ours at saturation,  HCM's best app vs ILP: " + vs_ilp_sat.text());
  rep.note("(latency change: - = HCM lower, as the paper's -24.0 %; + = HCM higher even in its best app)");
  rep.note("SA: seed " + std::to_string(o.sa.seed) + ", at most " + std::to_string(sa_iterations) +
           " iterations; ILP: GLPK, " + bench::report::text(ilp_seconds) +
           " s limit per app (status column; a time-limited solution depends on this machine's speed)");
  rep.extra()["apps"] = apps_json;
  rep.extra()["headline"] = headline;
  rep.extra()["cluster"] = cluster_name;
  rep.extra()["profiles"] = bench::profiles_in_use();
  rep.note("service profiles: " + bench::profiles_in_use() + " (--profiles measured|table1)");
  rep.print(json_out);
  return 0;
}
