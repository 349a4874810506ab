// `e3 bench fig11`: the paper's Fig. 11 in the simulator — how long the data-plane orchestrator
// takes to hear of an overloaded SmartNIC and decide, as the cluster grows to 50 K SmartNICs.
//
// Each row is one simulation (e3_sim): a FatTree of Type2-SmartNIC servers (4 SmartNICs each, 40
// servers per rack), apps placed by HCM (nfv-fin, `--apps-per-rack` copies per rack) under open
// Poisson load, and every SmartNIC sending a 16-byte heartbeat every 50 ms over the simulated
// network (links, its traffic manager, the controller's SmartNIC and PCIe) to the REAL
// orchestrator, queued FIFO at the controller and digested there. 5 % of the SmartNICs that run
// services slow down 2.5x at a seeded time, so the detectors trip and the real cold-migration
// state machine moves services (with modelled state transfer).
//
// The orchestrator's time per heartbeat in simulated time is calibrated in the same run: a short
// first simulation of the same cluster records the heartbeat stream the orchestrator digested,
// which is replayed into an identical real orchestrator in a tight loop and timed; the row's
// simulation charges that mean per heartbeat. Decision time = heartbeat sent -> digested
// (transmit + queue + processing), simulated; migration time = decision to done of the
// migrations in the same run (and their blackout), simulated from modelled step costs.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "apps/manifest.hpp"
#include "bench/common/report.hpp"
#include "bench/common/svg.hpp"
#include "sim/sim.hpp"

namespace {

using namespace e3;

constexpr std::int64_t ms = 1'000'000;

struct row_input {
  int smartnics;
  int apps_per_rack;
};

struct world {
  topo::cluster cluster;
  explicit world(int smartnics)
      : cluster(topo::cluster::fat_tree({.servers = (smartnics + 3) / 4, .server_profile = "Type2-SmartNIC"})) {}
};

// Builds a simulator of `w` with the workload; returns it with the number of instances placed.
std::unique_ptr<sim::simulator> build(const world& w, const sched::app_spec& app, int apps_per_rack, double rate,
                                      sim::config cfg, double slow_share, std::size_t& instances,
                                      std::map<topo::node_id, std::int64_t>& slowed) {
  auto s = std::make_unique<sim::simulator>(w.cluster, cfg);
  std::size_t n = w.cluster.racks().size() * std::size_t(apps_per_rack);
  instances = 0;
  for (std::size_t k = 0; k < n; ++k) {
    auto a = app;
    a.name = app.name + "-" + std::to_string(k);
    sim::load_spec l;
    l.rate_rps = rate;
    l.client_id = std::uint32_t(1 + k % 65000);
    auto i = s->add_app(a, l);
    instances += s->dag(i).nodes.size();
  }
  // Overload a share of the SmartNICs that run services, each at its own seeded time.
  std::vector<topo::node_id> busy;
  for (auto nic : w.cluster.smartnics())
    if (s->view().nodes[nic].free_cores < w.cluster.node(nic).cores - 1e-9)
      busy.push_back(nic);
  sim::rng r(cfg.seed ^ 0xf1911);
  slowed.clear();
  std::int64_t lo = cfg.warmup_ns + 100 * ms, hi = cfg.warmup_ns + cfg.measure_ns - 400 * ms;
  for (auto nic : busy) {
    if (r.uniform() >= slow_share || hi <= lo)
      continue;
    auto at = lo + std::int64_t(r.next() % std::uint64_t(hi - lo));
    s->slow_node(nic, 2.5, at);
    slowed[nic] = at;
  }
  return s;
}

double us(double ns) { return std::round(ns / 10.0) / 100.0; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Fig. 11: orchestrator decision time vs cluster size, in the simulator (e3 bench fig11)"};
  std::vector<int> sizes = {1000, 5000, 10000, 20000, 40000, 50000};
  int dense_apps = 4;
  double seconds = 1.0, rate = 20000, slow_share = 0.01;
  std::uint64_t seed = 1;
  std::string manifest = "apps/manifests/nfv-fin.yaml";
  bool json_out = false;
  std::string svg_path;
  cli.add_option("--smartnics", sizes, "cluster sizes in SmartNICs (4 per Type2-SmartNIC server)")->delimiter(',');
  cli.add_option("--dense-apps", dense_apps, "apps per rack of the extra row at the largest size (0: no extra row)");
  cli.add_option("--sim-seconds", seconds, "simulated seconds measured per row")->check(CLI::Range(0.6, 60.0));
  cli.add_option("--rate", rate, "requests/s offered to each app")->check(CLI::PositiveNumber);
  cli.add_option("--slow-share", slow_share, "share of busy SmartNICs that slow down 2.5x")->check(CLI::Range(0.0, 1.0));
  cli.add_option("--app", manifest, "the app manifest deployed on every rack");
  cli.add_option("--seed", seed, "simulation seed");
  cli.add_option("--svg", svg_path, "also draw the figure into this SVG file");
  cli.add_flag("--json", json_out, "JSON output");
  CLI11_PARSE(cli, argc, argv);

  sched::app_spec app;
  try {
    app = apps::load_manifest(manifest);
  } catch (const std::exception& e) {
    std::cerr << "fig11: " << e.what() << "\n";
    return 1;
  }
  std::vector<row_input> rows;
  for (int n : sizes) {
    if (n < 4) {
      std::cerr << "fig11: a cluster needs at least 4 SmartNICs, got " << n << "\n";
      return 1;
    }
    rows.push_back({n, 1});
  }
  if (dense_apps > 1 && !sizes.empty())
    rows.push_back({*std::max_element(sizes.begin(), sizes.end()), dense_apps});

  bench::report rep("Fig. 11: orchestrator decision time vs cluster size (simulated; orchestrator cost measured)",
                    {"smartnics", "servers", "microservices", "heartbeats_per_s", "hb_payload_mbps", "hb_wire_mbps",
                     "orch_ns_per_hb", "orch_util", "transmit_us_mean", "queue_us_mean", "decide_us_mean",
                     "decide_us_p99", "decide_us_max", "decisions", "migrations", "migration_ms_mean", "blackout_ms_mean",
                     "decide_over_migration", "detect_ms_mean", "events", "events_per_s", "wall_s"});
  nlohmann::json decisions_detail = nlohmann::json::array();
  bench::svg::series decide_mean{"transmit + decide, mean (simulated)", {}, "#1f77b4", false};
  bench::svg::series decide_p99{"transmit + decide, p99 (simulated)", {}, "#1f77b4", true};
  bench::svg::series migrate{"migration, decision to done (simulated, modelled steps)", {}, "#d62728", false};
  for (const auto& in : rows) {
    std::cerr << "fig11: " << in.smartnics << " SmartNICs, " << in.apps_per_rack << " app(s) per rack\n";
    auto t0 = std::chrono::steady_clock::now();
    world w(in.smartnics);
    sim::config cfg;
    cfg.seed = seed;
    cfg.warmup_ns = 100 * ms;
    cfg.placed_at_ns = -3600'000 * ms;  // deployed long before: the minimum dwell does not hold the first moves back
    cfg.drain = false;
    // Calibration: the same cluster and apps for 0.3 s; the heartbeat stream the orchestrator
    // digested is then replayed into an identical orchestrator in a tight loop (best of 5).
    std::size_t instances = 0;
    std::map<topo::node_id, std::int64_t> slowed;
    double ns_per_hb = 0;
    std::size_t replayed = 0;
    {
      auto c = cfg;
      c.measure_ns = 300 * ms;
      c.record_heartbeats = true;
      auto s = build(w, app, in.apps_per_rack, rate / in.apps_per_rack, c, 0.0, instances, slowed);
      auto r = s->run();
      replayed = r.heartbeat_log.size();
      double best = 1e300;
      for (int rep = 0; rep < 5; ++rep) {
        auto o = s->make_orchestrator();
        std::size_t decided = 0;
        auto a = std::chrono::steady_clock::now();
        for (const auto& hb : r.heartbeat_log)
          decided += o->on_heartbeat_bytes(hb.bytes, hb.at_ns).has_value();
        auto b = std::chrono::steady_clock::now();
        bench::keep(decided);
        best = std::min(best, std::chrono::duration<double, std::nano>(b - a).count() / double(std::max<std::size_t>(1, replayed)));
      }
      ns_per_hb = best;
    }
    cfg.measure_ns = std::int64_t(seconds * 1e9);
    cfg.orchestrator_ns_per_heartbeat = std::int64_t(std::round(ns_per_hb));
    auto s = build(w, app, in.apps_per_rack, rate / in.apps_per_rack, cfg, slow_share, instances, slowed);
    auto r = s->run();
    auto t1 = std::chrono::steady_clock::now();
    const auto& h = r.heartbeats;
    double blackout = 0, took = 0, detect = 0;
    std::size_t done = 0, detected = 0;
    for (const auto& m : r.migrations) {
      if (auto it = slowed.find(m.decision.from); it != slowed.end() && m.decision.at_ns >= it->second) {
        detect += double(m.decision.at_ns - it->second);
        ++detected;
      }
      if (m.result.outcome == mig::migration_outcome::completed) {
        blackout += double(m.result.blackout_ns);
        took += double(m.result.finished_ns - m.result.started_ns);
        ++done;
      }
    }
    detect = detected ? detect / double(detected) : 0;
    blackout = done ? blackout / double(done) : 0;
    took = done ? took / double(done) : 0;
    double hb_per_s = h.payload_bps / (mig::heartbeat_size * 8);
    rep.row({in.smartnics, w.cluster.servers().size(), instances, std::round(hb_per_s),
             std::round(h.payload_bps / 1e4) / 100, std::round(h.wire_bps / 1e4) / 100, std::round(ns_per_hb),
             std::round(h.orchestrator_utilisation * 1000) / 1000, us(h.transmit_ns.mean()), us(h.queue_ns.mean()),
             us(h.decide_ns.mean()), us(double(h.decide_ns.quantile(0.99))), us(double(h.decide_ns.max())),
             h.decisions, done, std::round(took / 1e4) / 100, std::round(blackout / 1e4) / 100,
             took > 0 ? nlohmann::json(std::round(h.decision_ns.mean() / took * 1e5) / 1e5) : nlohmann::json("-"),
             std::round(detect / 1e4) / 100,
             r.events, std::round(r.events_per_second), std::round(std::chrono::duration<double>(t1 - t0).count() * 10) / 10});
    if (in.apps_per_rack == 1) {
      decide_mean.points.emplace_back(in.smartnics, h.decide_ns.mean() / 1000);
      decide_p99.points.emplace_back(in.smartnics, double(h.decide_ns.quantile(0.99)) / 1000);
      if (took > 0)
        migrate.points.emplace_back(in.smartnics, took / 1000);
    }
    decisions_detail.push_back({{"smartnics", in.smartnics},
                                {"apps_per_rack", in.apps_per_rack},
                                {"slowed_smartnics", slowed.size()},
                                {"calibration_heartbeats", replayed},
                                {"decision_us_mean", us(h.decision_ns.mean())},
                                {"decision_us_max", us(double(h.decision_ns.max()))},
                                {"transmit_us_p99", us(double(h.transmit_ns.quantile(0.99)))},
                                {"queue_us_p99", us(double(h.queue_ns.quantile(0.99)))},
                                {"orchestrator", {{"heartbeats", r.orchestrator.heartbeats},
                                                  {"stale", r.orchestrator.stale},
                                                  {"slot_mismatch", r.orchestrator.slot_mismatch},
                                                  {"no_destination", r.orchestrator.no_destination},
                                                  {"completed", r.orchestrator.completed}}},
                                {"apps_throughput_rps", std::round(r.throughput_rps)},
                                {"simulated_seconds", r.simulated_seconds}});
  }
  rep.note("simulated: every time above except orch_ns_per_hb (measured: the real orchestrator digesting the heartbeat "
           "stream of a 0.3 s calibration run of the same cluster, replayed in a tight loop, best of 5; the row's "
           "simulation charges that much per heartbeat), events_per_s and wall_s (this machine)");
  rep.note("decide = heartbeat sent -> digested: links + traffic managers + PCIe (transmit), FIFO wait at the "
           "orchestrator (queue), and its processing; migrations: real cold-migration state machine with modelled "
           "step costs (blackout = stop to restart)");
  rep.note("paper (§5.6): one 16 B heartbeat every 50 ms per SmartNIC; the time to transmit it and decide \"stays well "
           "below the time taken to migrate the service (on the order of 10s-100s of ms)\"; ours: decide_over_migration "
           "is the mean decision time of the heartbeats that made a decision over the mean migration time (decision "
           "to done), both simulated in the same run");
  rep.note("paper (§5.6): \"the heartbeat message contributes only 1Kbps of traffic, even with 50K servers\"; ours: 16 B "
           "every 50 ms is 2.56 kb/s per SmartNIC, " + std::to_string(int(2.56 * 50000 / 1000)) +
           " Mb/s of payload into the orchestrator at 50 K SmartNICs (hb_payload_mbps); the paper's 1 Kbps does not "
           "follow from its own 16 B / 50 ms");
  rep.note("detect = slowdown onset -> decision: the detectors need k = 2 heartbeats 50 ms apart over 1.2x the trailing "
           "EMA (migration/detectors.hpp), so it is bounded by the heartbeat period, not by the cluster size");
  rep.note("paper: decision time \"negligibly impacted by the number of deployed microservices\"; ours: the last row "
           "repeats the largest cluster with " + std::to_string(dense_apps) + "x the apps per rack (each at 1/" +
           std::to_string(dense_apps) + " of the rate, the same total load)");
  rep.extra()["rows_detail"] = decisions_detail;
  rep.extra()["app"] = app.name;
  rep.extra()["rate_rps_per_app"] = rate;
  rep.print(json_out);
  if (!svg_path.empty()) {
    bench::svg::chart chart;
    chart.title = "Fig. 11 in the simulator: orchestrator decision time vs cluster size";
    chart.x_label = "SmartNICs (Type2-SmartNIC servers, 4 each)";
    chart.y_label = "microseconds";
    chart.lines = {decide_mean, decide_p99, migrate};
    std::ofstream f(svg_path);
    f << bench::svg::line_chart(chart);
    f.close();
    if (!f) {
      std::cerr << "fig11: cannot write " << svg_path << "\n";
      return 1;
    }
    std::cerr << "fig11: wrote " << svg_path << "\n";
  }
  return 0;
}
