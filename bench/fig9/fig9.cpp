// `e3 bench fig9` (Fig. 9, §5.3): sharing SmartNIC ports with the host. Two 2xType2-SmartNIC set-ups:
// (1) shared: ECMP spreads the host IP's flows over every SmartNIC port of its server (the
// topology's rendezvous hashing); (2) dedicated: one SmartNIC per server is swapped for a plain NIC
// whose ports carry only host traffic. The client-facing services are pinned to the hosts (as in
// the paper). Each app is placed by HCM at the peak it carries in each set-up; saturation is the
// evaluation model's, further limited by the port model (traffic through each switch port against
// its speed). Power and energy figures are MODELLED.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>

#include "bench/cluster_model/charts.hpp"
#include "bench/cluster_model/cluster_model.hpp"
#include "bench/common/profiles_option.hpp"
#include "bench/common/report.hpp"
#include "bench/placement/workload.hpp"

namespace {

using namespace e3;
using nlohmann::json;

json num_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// One set-up of Fig. 9: its cluster and how the host reaches the network.
struct setup {
  bench::host_nic mode;
  topo::cluster cluster;
  std::vector<std::vector<double>> host_shares;  // per server: ECMP share of each port (shared)
  double host_nic_gbps = 0;                      // per port of the dedicated NIC
  double host_gbps = 0;                          // what one host may use

  std::vector<bench::port_load> ports(const sched::app_dag& dag, const std::vector<sched::placement>& ps) const {
    return bench::port_loads(cluster, bench::switch_gbit_per_request(dag, cluster, ps), mode, host_shares, 2,
                             host_nic_gbps);
  }
};

setup make_setup(bench::host_nic mode, const std::string& profile, int servers, int ecmp_flows) {
  setup s{mode, {}, {}, 0, 0};
  const auto& p = topo::server_profile_named(profile);
  std::vector<std::string> list(std::size_t(servers), profile);
  int cards = mode == bench::host_nic::shared ? p.smartnics : p.smartnics - 1;
  s.cluster = topo::cluster::rack_of(std::to_string(servers) + "x" + profile + " (" + bench::to_string(mode) + ")",
                                     list, cards);
  // One card's share of the server's bandwidth: what the plain NIC that replaces a card offers.
  double card_gbps = p.network_gbps / std::max(1, p.smartnics);
  s.host_nic_gbps = card_gbps / 2;
  for (const auto& sv : s.cluster.servers())
    s.host_shares.push_back(bench::ecmp_port_shares(s.cluster, s.cluster.node(sv.host).ip, ecmp_flows));
  s.host_gbps = mode == bench::host_nic::shared ? s.cluster.node(s.cluster.servers()[0].host).network_gbps : card_gbps;
  return s;
}

struct outcome {
  bench::peak_point pk;
  std::string bottleneck;
};

outcome run(const sched::app_spec& spec, const setup& s) {
  bench::peak_options o;
  o.entries_on_host = true;
  if (s.mode == bench::host_nic::dedicated) {
    o.gbps_override.resize(s.cluster.nodes().size());
    for (const auto& n : s.cluster.nodes())
      o.gbps_override[n.id] = n.kind == topo::node_kind::host ? s.host_gbps : n.network_gbps;
  }
  o.saturation_rps = [&](const sched::app_dag& dag, const std::vector<sched::placement>& ps) {
    std::vector<const sched::app_dag*> dags(ps.size(), &dag);
    std::vector<const sched::placement*> pls;
    for (const auto& p : ps)
      pls.push_back(&p);
    double model = sched::evaluate_many(dags, s.cluster, pls, std::vector<double>(ps.size(), 1.0)).max_throughput_rps;
    return std::min(model, bench::port_limited_rps(s.ports(dag, ps)));
  };
  outcome out{bench::place_at_peak(spec, s.cluster, o), ""};
  std::string port;
  double port_rps = bench::port_limited_rps(s.ports(out.pk.dag, out.pk.placements), &port);
  out.bottleneck = port_rps <= out.pk.peak.throughput_rps * (1 + 1e-9) ? port : out.pk.peak.bottleneck;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Fig. 9: ECMP sharing of SmartNIC ports with the host vs a dedicated host NIC, modelled",
               "e3 bench fig9"};
  std::vector<std::string> names = bench::paper_app_names();
  std::string svg_path;
  int ecmp_flows = 4096;
  bool json_out = false;
  cli.add_option("--apps", names, "apps (manifest names or files)");
  cli.add_option("--ecmp-flows", ecmp_flows, "client flows hashed to find each port's ECMP share")
      ->check(CLI::Range(1, 1'000'000));
  cli.add_option("--svg", svg_path, "write the figure (throughput and energy efficiency, log y) as SVG here");
  bench::add_profiles_option(cli);
  cli.add_flag("--json", json_out, "machine-readable output");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  const setup shared = make_setup(bench::host_nic::shared, "Type2-SmartNIC", 2, ecmp_flows);
  const setup dedicated = make_setup(bench::host_nic::dedicated, "Type2-SmartNIC", 2, ecmp_flows);

  bench::report rep("Fig. 9: 2xType2-SmartNIC, host traffic shared over the SmartNIC ports by ECMP vs a dedicated host "
                    "NIC, client-facing services on the hosts (power and energy MODELLED)",
                    {"app", "setup", "status", "copies", "throughput_rps", "krpj", "power_w", "latency_us",
                     "on_smartnics", "on_hosts", "bottleneck", "throughput_ratio", "ee_ratio", "paper_throughput_ratio",
                     "paper_ee_ratio"});
  bench::svg::bar_chart_spec thr{"Fig. 9: throughput at peak", "requests/s", {}, {to_string(shared.mode),
                                 to_string(dedicated.mode)}, {{}, {}}, true};
  auto ee = thr;
  ee.title = "Fig. 9: energy efficiency at peak (MODELLED)";
  ee.y_label = "requests per joule";
  double best_thr = 0, best_ee = 0;
  std::string best_thr_app, best_ee_app;
  json ratios = json::array();
  std::string bad;
  auto specs = bench::load_apps(names, bad);
  if (!bad.empty()) {
    std::cerr << "e3 bench fig9: " << bad << "\n";
    return 2;
  }
  for (const auto& spec : specs) {
    std::cerr << "fig9: " << spec.name << "…\n";
    auto a = run(spec, shared), b = run(spec, dedicated);
    const auto &ea = a.pk.peak, &eb = b.pk.peak;
    double tr = eb.throughput_rps > 0 ? ea.throughput_rps / eb.throughput_rps : std::nan("");
    double er = eb.requests_per_joule > 0 ? ea.requests_per_joule / eb.requests_per_joule : std::nan("");
    bool fin = spec.name == "nfv-fin";
    for (const auto* o : {&a, &b}) {
      const auto& ev = o->pk.peak;
      bool first = o == &a;
      rep.row({spec.name, to_string(first ? shared.mode : dedicated.mode), o->pk.status, o->pk.placements.size(),
               ev.throughput_rps, ev.requests_per_joule / 1e3, ev.power_w, ev.latency_us, ev.smartnic_instances,
               ev.host_instances, o->bottleneck, first ? num_or_null(tr) : json(nullptr),
               first ? num_or_null(er) : json(nullptr), first && fin ? json(2.9) : json(nullptr),
               first && fin ? json(2.7) : json(nullptr)});
    }
    if (tr > best_thr) {
      best_thr = tr;
      best_thr_app = spec.name;
    }
    if (er > best_ee) {
      best_ee = er;
      best_ee_app = spec.name;
    }
    ratios.push_back({{"app", spec.name}, {"throughput_ratio", num_or_null(tr)}, {"ee_ratio", num_or_null(er)},
                      {"shared_bottleneck", a.bottleneck}, {"dedicated_bottleneck", b.bottleneck}});
    thr.categories.push_back(spec.name);
    thr.values[0].push_back(ea.throughput_rps);
    thr.values[1].push_back(eb.throughput_rps);
    ee.categories.push_back(spec.name);
    ee.values[0].push_back(ea.requests_per_joule);
    ee.values[1].push_back(eb.requests_per_joule);
  }
  rep.note("paper (§5.3): sharing improves throughput up to 2.9x and energy efficiency up to 2.7x (NFV-FIN); IOT-TS "
           "(compute-bound) gains least; host bandwidth when sharing up to 4x the dedicated NIC's");
  rep.note("ours: throughput up to " + bench::report::text(best_thr) + "x (" + best_thr_app + ", " +
           bench::pct_text(bench::diff_pct(best_thr, 2.9)) + " vs 2.9x), energy efficiency up to " +
           bench::report::text(best_ee) + "x (" + best_ee_app + ", " + bench::pct_text(bench::diff_pct(best_ee, 2.7)) +
           " vs 2.7x); host bandwidth shared " + bench::report::text(shared.host_gbps) + " Gb/s vs dedicated " +
           bench::report::text(dedicated.host_gbps) + " Gb/s (" + bench::report::text(shared.host_gbps / dedicated.host_gbps) +
           "x, paper up to 4x)");
  {
    double lo = 1, hi = 0;
    for (const auto& s : shared.host_shares[0])
      if (s > 0) {
        lo = std::min(lo, s);
        hi = std::max(hi, s);
      }
    rep.note("ECMP (rendezvous hashing, " + std::to_string(ecmp_flows) + " client flows): each of a server's " +
             std::to_string(shared.cluster.servers()[0].ports.size()) + " ports takes " + bench::report::text(100 * lo) +
             "-" + bench::report::text(100 * hi) + " % of the host's flows");
  }
  rep.note("saturation = min(evaluation model, port model); port model: per switch port, client requests and replies, "
           "data-flow edges and backup writes crossing the switch (PCIe and local messages excluded), a SmartNIC's own "
           "traffic split over its 2 ports, the host's by its ECMP shares (shared) or over the plain NIC's 2 ports "
           "(dedicated: " + bench::report::text(2 * dedicated.host_nic_gbps) + " Gb/s, one card's share of Table 4's " +
           "40 Gb/s); the plain NIC's power is not modelled (the removed card's 15 W idle is simply gone)");
  rep.extra()["ratios"] = ratios;
  rep.extra()["paper"] = {{"throughput_ratio", 2.9}, {"ee_ratio", 2.7}, {"app", "nfv-fin"}, {"host_bandwidth_ratio", 4}};
  rep.extra()["host_gbps"] = {{"shared", shared.host_gbps}, {"dedicated", dedicated.host_gbps}};
  rep.extra()["modelled"] = true;
  rep.extra()["profiles"] = bench::profiles_in_use();
  rep.note("service profiles: " + bench::profiles_in_use() + " (--profiles measured|table1)");
  if (!svg_path.empty()) {
    if (!bench::svg::write_file(svg_path,
                                bench::svg::panels({bench::svg::bar_chart(thr), bench::svg::bar_chart(ee)}, 760, 440, 1),
                                "e3 bench fig9"))
      return 1;
    rep.extra()["svg"] = svg_path;
  }
  rep.print(json_out);
  return 0;
}
