// `e3 run`: runs an app on an emulated cluster and reports throughput, latency, modelled energy
// efficiency, link usage and losses. Without arguments: the default demo.
#include <CLI/CLI.hpp>

#include <iostream>

#include "apps/e3/commands.hpp"
#include "apps/placement_report.hpp"
#include "apps/run.hpp"
#include "services/services.hpp"

namespace e3::cli {
namespace {

// The default demo: NFV-FIN on 3xType1-SmartNIC and on 3xBeefy, side by side (Fig. 5's
// comparison; the paper reports 3x better energy efficiency for NFV-FIN).
int demo(const service_registry& reg, bool json) {
  apps::run_options o;
  o.app = apps::load_app("nfv-fin");
  o.saturate = true;
  o.duration_s = 4;
  std::vector<apps::run_report> reports;
  for (auto c : {"3xType1-SmartNIC", "3xBeefy"}) {
    o.cluster = c;
    std::cerr << "running nfv-fin on " << c << " at saturation…\n";
    reports.push_back(apps::run_app(o, reg));
  }
  double ratio = reports[1].requests_per_joule > 0 ? reports[0].requests_per_joule / reports[1].requests_per_joule : 0;
  if (json) {
    nlohmann::json j;
    j["runs"] = {apps::run_json(reports[0]), apps::run_json(reports[1])};
    j["energy_efficiency_ratio"] = ratio;
    j["paper_ratio"] = 3.0;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const auto& r : reports) {
    apps::print_run(std::cout, r);
    std::cout << "\n";
  }
  std::cout << "Energy efficiency (modelled), 3xType1-SmartNIC over 3xBeefy: " << ratio
            << "x   (the paper, Fig. 5: 3x for NFV-FIN)\n";
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  service_registry reg;
  services::register_all(reg);
  CLI::App app{"Run an app on an emulated cluster (times emulated, power modelled)", "e3 run"};
  std::string manifest, preset = "3xType1-SmartNIC", trace;
  apps::run_options o;
  bool json = false;
  app.add_option("--app", manifest, "app manifest (a file, or a name from apps/manifests)");
  app.add_option("--cluster", preset, "cluster preset");
  app.add_option("--duration", o.duration_s, "wall-clock seconds of measurement")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", o.warmup_s, "wall-clock seconds of warm-up")->check(CLI::Range(0.0, 600.0));
  auto* rate = app.add_option("--rate", o.rate_rps, "open loop: emulated requests/s (Poisson)")->check(CLI::PositiveNumber);
  auto* sat = app.add_flag("--saturate", o.saturate, "closed loop at saturation");
  rate->excludes(sat);
  auto* size = app.add_option("--request-size", o.request_bytes, "synthetic request bytes")->check(CLI::Range(16, 65536));
  auto* tr = app.add_option("--trace", trace, "replay a .pcap/.pcapng (NFV) or sensor .csv (IoT) file")
                 ->check(CLI::ExistingFile);
  size->excludes(tr);
  app.add_option("--dilation", o.dilation, "time dilation factor (default: chosen to fit this machine)")
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--seed", o.seed, "load seed");
  std::string orchestrator = "off";
  app.add_option("--orchestrator", orchestrator,
                 "on|off: the data-plane orchestrator migrates services off overloaded SmartNICs (§3.4)")
      ->default_str("off");
  app.add_flag("--pack-smartnics", o.pack_smartnics, "HCM packs SmartNICs by memory (§5.2's set-up)");
  auto* state_dir = app.add_option("--state-dir", o.state_dir,
                                   "keep reliable collections in RocksDB under DIR (default: in memory)");
  app.add_flag("--json", json, "one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    o.orchestrator = apps::parse_on_off("--orchestrator", orchestrator);
    if (state_dir->count() > 0)
      o.state_dir = apps::check_state_dir("--state-dir", o.state_dir);
    if (manifest.empty() && (o.orchestrator || o.pack_smartnics || !o.state_dir.empty()))
      throw std::invalid_argument("--orchestrator, --pack-smartnics and --state-dir need --app");
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 run: " << e.what() << "\n";
    return 2;
  }
  try {
    if (manifest.empty())
      return demo(reg, json);
    o.app = apps::load_app(manifest);
    o.cluster = preset;
    o.trace = trace;
    auto r = apps::run_app(o, reg);
    if (json)
      std::cout << apps::run_json(r).dump(2) << "\n";
    else
      apps::print_run(std::cout, r);
    return 0;
  } catch (const unknown_kind& e) {
    std::cerr << "e3 run: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "e3 run: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace e3::cli
