// `e3 place`: places an app on a cluster and prints where every instance goes and the
// evaluation of the placement.
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/e3/commands.hpp"
#include "apps/placement_report.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::cli {

int place(int argc, char** argv) {
  CLI::App app{"Place an app on a cluster and evaluate the placement (power figures are modelled)", "e3 place"};
  std::string manifest, preset, algo = "hcm";
  double rate = 0;
  bool json = false;
  app.add_option("--app", manifest, "app manifest (a file, or a name from apps/manifests)")->required();
  app.add_option("--cluster", preset, "cluster preset: " + apps::join(topo::cluster::preset_names()))->required();
  app.add_option("--algo", algo, "placement algorithm")->check(CLI::IsMember({"hcm"}));
  app.add_option("--rate", rate, "offered load in requests/s for the evaluation (default: the manifest's rate_rps)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", json, "print one JSON object with placements and evaluation");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    auto spec = apps::load_app(manifest);
    auto cluster = topo::cluster::preset(preset);
    auto dag = sched::expand(spec);
    auto view = sched::cluster_view::empty(cluster);
    auto p = sched::hcm_place(dag, view);
    auto ev = sched::evaluate(dag, cluster, p, rate > 0 ? rate : spec.rate_rps);
    if (json) {
      nlohmann::json j;
      j["app"] = spec.name;
      j["cluster"] = preset;
      j["algo"] = algo;
      j["placements"] = apps::placements_json(spec, dag, cluster, p);
      j["evaluation"] = apps::evaluation_json(ev, cluster);
      std::cout << j.dump(2) << "\n";
    } else {
      apps::print_placement(std::cout, spec, dag, cluster, p);
      std::cout << "\n";
      apps::print_evaluation(std::cout, ev, cluster);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "e3 place: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace e3::cli
