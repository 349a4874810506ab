// Peak placement search, load sweep, cost curve, Table 5's reference values and Fig. 9's port model.
#include "bench/cluster_model/cluster_model.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

#include "apps/placement_report.hpp"
#include "sim/simulator.hpp"

namespace e3::bench {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

double saturation_of(const peak_options& o, const sched::app_dag& dag, const topo::cluster& c,
                     const std::vector<sched::placement>& ps) {
  if (o.saturation_rps)
    return o.saturation_rps(dag, ps);
  std::vector<const sched::app_dag*> dags(ps.size(), &dag);
  std::vector<const sched::placement*> pls;
  for (const auto& p : ps)
    pls.push_back(&p);
  return sched::evaluate_many(dags, c, pls, std::vector<double>(ps.size(), 1.0)).max_throughput_rps;
}

}  // namespace

std::vector<sched::app_spec> load_apps(const std::vector<std::string>& names, std::string& error) {
  std::vector<sched::app_spec> out;
  error.clear();
  for (const auto& n : names) {
    try {
      out.push_back(apps::load_app(n));
    } catch (const std::exception& e) {
      error = e.what();
      break;
    }
  }
  return out;
}

std::string to_string(peak_objective o) { return o == peak_objective::throughput ? "throughput" : "rpj"; }

peak_objective parse_objective(const std::string& text) {
  if (text == "throughput")
    return peak_objective::throughput;
  if (text == "rpj")
    return peak_objective::requests_per_joule;
  throw std::invalid_argument("unknown peak objective '" + text + "' (known: throughput, rpj)");
}

sched::app_spec scale_load(const sched::app_spec& spec, double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw std::invalid_argument("scale_load: the factor must be positive, got " + std::to_string(factor));
  auto out = spec;
  out.rate_rps *= factor;
  for (auto& s : out.services)
    s.cpu *= factor;
  return out;
}

namespace {

// One pass of the search over multipliers (see peak_point) for `base` as given.
peak_point search_peak(const sched::app_spec& base, const topo::cluster& c, const peak_options& o,
                       const sched::constraints& cons, double& best_rps) {
  peak_point best;
  best.app = base.name;
  best.cluster = c.name();
  best_rps = -1;
  std::size_t least_over = std::numeric_limits<std::size_t>::max();
  int misses = 0;
  double best_score = -1;
  double factor = o.start;
  for (int step = 0; step < o.max_steps; ++step, factor *= o.step) {
    auto scaled = scale_load(base, factor);
    auto dag = sched::expand(scaled);
    auto view = sched::cluster_view::empty(c);
    for (std::size_t n = 0; n < o.gbps_override.size() && n < view.nodes.size(); ++n)
      view.nodes[n].free_gbps = o.gbps_override[n];
    std::vector<sched::placement> copies;
    sched::placement first_try;
    while (int(copies.size()) < o.max_copies) {
      sched::placement p;
      try {
        p = sched::hcm_place(dag, view, cons);
      } catch (const sched::placement_error&) {
        break;
      }
      if (!p.overcommitted.empty()) {  // this copy does not fit: the view is spoilt, stop here
        if (copies.empty())
          first_try = std::move(p);
        break;
      }
      copies.push_back(std::move(p));
    }
    if (copies.empty()) {
      // Keep the least overcommitted single copy in case nothing ever fits.
      if (!best.fits && !first_try.node_of.empty() && first_try.overcommitted.size() < least_over) {
        least_over = first_try.overcommitted.size();
        best.scale = factor;
        best.status = std::to_string(first_try.overcommitted.size()) + " of " + std::to_string(dag.nodes.size()) +
                      " instances overcommitted";
        best.spec = scaled;
        best.dag = dag;
        best.placements = {std::move(first_try)};
      }
      // Past the multiplier where one copy fits: a few more tries, then stop.
      if (best.fits && ++misses > 8)
        break;
      continue;
    }
    misses = 0;
    double rps = saturation_of(o, dag, c, copies);
    double score = rps;
    if (o.objective == peak_objective::requests_per_joule) {
      peak_point trial;
      trial.dag = dag;
      trial.placements = copies;
      score = evaluate_copies(trial, c, rps).requests_per_joule;
    }
    if (!best.fits || score > best_score) {
      best_score = score;
      best.fits = true;
      best.status = "ok";
      best_rps = rps;
      best.scale = factor;
      best.spec = std::move(scaled);
      best.dag = std::move(dag);
      best.placements = std::move(copies);
    }
  }
  return best;
}

}  // namespace

sched::evaluation evaluate_copies(const peak_point& p, const topo::cluster& c, double total_rps) {
  std::vector<const sched::app_dag*> dags(p.placements.size(), &p.dag);
  std::vector<const sched::placement*> pls;
  for (const auto& x : p.placements)
    pls.push_back(&x);
  double each = p.placements.empty() ? 0 : total_rps / double(p.placements.size());
  return sched::evaluate_many(dags, c, pls, std::vector<double>(p.placements.size(), each));
}

peak_point place_at_peak(const sched::app_spec& spec, const topo::cluster& c, const peak_options& o) {
  auto base = spec;
  if (o.entries_on_host)
    for (auto e : base.entries)
      base.services[e].host_only = true;
  auto cons = o.constraints;
  std::string note;
  if (c.servers().size() < 2 && cons.replicas_apart) {  // one fault domain: backups share it
    cons.replicas_apart = false;
    note = " (one server: backups on it)";
  }
  double rps = -1;
  auto best = search_peak(base, c, o, cons, rps);
  if (!best.fits) {  // memory too small at any load: try without backups
    auto bare = base;
    for (auto& s : bare.services)
      s.replicas = 0;
    double bare_rps = -1;
    auto without = search_peak(bare, c, o, cons, bare_rps);
    if (without.fits) {
      best = std::move(without);
      rps = bare_rps;
      note += " (fits only without backups)";
    }
  }
  if (best.placements.empty())
    throw sched::placement_error("no placement of '" + spec.name + "' on " + c.name());
  if (!best.fits)
    rps = saturation_of(o, best.dag, c, best.placements);
  best.status += note;
  best.peak = evaluate_copies(best, c, rps);
  return best;
}

double core_limited_rps(const sched::evaluation& ev, const topo::cluster& c) {
  if (!(ev.throughput_rps > 0))
    return inf;
  double limit = inf;
  for (const auto& n : ev.nodes)
    if (n.cores_used > 0)
      limit = std::min(limit, c.node(n.node).cores / (n.cores_used / ev.throughput_rps));
  return limit;
}

sched::evaluation at_load(const peak_point& p, const topo::cluster& c, double fraction) {
  if (!(fraction >= 0) || fraction > 1)
    throw std::invalid_argument("at_load: the fraction of peak must be in [0, 1], got " + std::to_string(fraction));
  return evaluate_copies(p, c, p.peak.throughput_rps * fraction);
}

sim_point simulate(const peak_point& p, const topo::cluster& c, double fraction, double measure_ms, std::uint64_t seed) {
  if (!(fraction > 0) || !(measure_ms > 0))
    throw std::invalid_argument("simulate: the load fraction and the measured time must be positive");
  sim::config cfg;
  cfg.seed = seed;
  cfg.measure_ns = std::int64_t(measure_ms * 1e6);
  cfg.warmup_ns = cfg.measure_ns / 5;
  cfg.heartbeats = false;
  cfg.migrations = false;
  sim::simulator s(c, cfg);
  double each = p.peak.throughput_rps * fraction / double(std::max<std::size_t>(1, p.placements.size()));
  for (std::size_t k = 0; k < p.placements.size(); ++k) {
    sim::load_spec load;
    load.process = sim::arrivals::open_poisson;
    load.rate_rps = each;
    load.client_id = std::uint32_t(k + 1);
    s.add_app(p.spec, p.placements[k], load);
  }
  auto r = s.run();
  sim_point out;
  double completed = 0;
  for (const auto& a : r.apps) {
    out.offered_rps += a.offered_rps;
    out.latency_mean_us += a.latency_mean_us * a.throughput_rps;
    completed += a.throughput_rps;
    out.latency_p99_us = std::max(out.latency_p99_us, a.latency_p99_us);
  }
  out.latency_mean_us = completed > 0 ? out.latency_mean_us / completed : 0;
  out.throughput_rps = r.throughput_rps;
  out.power_w = r.power_w;
  out.requests_per_joule = r.requests_per_joule;
  return out;
}

double diff_pct(double ours, double paper) {
  if (!(paper > 0))
    return std::numeric_limits<double>::quiet_NaN();
  return (ours / paper - 1) * 100;
}

std::string pct_text(double pct) {
  if (std::isnan(pct))
    return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f %%", pct);
  return b;
}

const std::vector<std::string>& table5_clusters() {
  static const std::vector<std::string> names = {"4xBeefy", "4xWimpy", "2xBeefy+2xWimpy", "2xType2-SmartNIC",
                                                 "1xSuperBeefy"};
  return names;
}

const std::vector<std::string>& table5_apps() {
  static const std::vector<std::string> names = {"nfv-fin", "rta-shm", "iot-ts"};
  return names;
}

double table5_krpj(const std::string& app, const std::string& cluster) {
  // Table 5 of the paper, thousand requests per joule (rows: clusters; columns: NFV-FIN, RTA-SHM, IOT-TS).
  static const std::map<std::string, std::vector<double>> rows = {
      {"4xBeefy", {5.1, 1.9, 2.7}},          {"4xWimpy", {29.9, 0.4, 0.1}},
      {"2xBeefy+2xWimpy", {8.2, 1.4, 1.9}},  {"2xType2-SmartNIC", {29.0, 4.5, 6.1}},
      {"1xSuperBeefy", {8.8, 2.9, 5.0}},
  };
  const auto& apps = table5_apps();
  auto r = rows.find(cluster);
  for (std::size_t a = 0; a < apps.size(); ++a)
    if (r != rows.end() && apps[a] == app)
      return r->second[a];
  return std::numeric_limits<double>::quiet_NaN();
}

std::vector<std::pair<double, double>> cost_curve(double throughput_rps, double power_w, double capex_usd,
                                                  const std::vector<double>& years) {
  std::vector<std::pair<double, double>> out;
  for (double y : years)
    out.emplace_back(y, topo::cost_efficiency(throughput_rps, y * topo::seconds_per_year, capex_usd, power_w));
  return out;
}

std::string to_string(host_nic h) { return h == host_nic::shared ? "shared (ECMP)" : "dedicated NIC"; }

std::vector<double> ecmp_port_shares(const topo::cluster& c, std::uint32_t dst_ip, int flows) {
  std::vector<double> share(c.ports().size(), 0);
  if (flows <= 0)
    return share;
  const std::uint32_t src = (10u << 24) | (1u << 16) | 1u;
  int routed = 0;
  for (int f = 0; f < flows; ++f) {
    int port = c.ingress_port(dst_ip, topo::flow_hash(src, dst_ip, std::uint16_t(1024 + f), 80, 6));
    if (port < 0)
      continue;
    share[std::size_t(port)] += 1;
    ++routed;
  }
  if (routed > 0)
    for (auto& s : share)
      s /= routed;
  return share;
}

std::vector<double> switch_gbit_per_request(const sched::app_dag& dag, const topo::cluster& c,
                                            const sched::placement& p) {
  std::vector<double> gbit(c.nodes().size(), 0);
  auto crosses_switch = [&](topo::node_id a, topo::node_id b) {
    auto k = c.path(a, b);
    return k != topo::path_kind::local && k != topo::path_kind::pcie;
  };
  for (auto s : dag.sources)  // client requests arrive from the network
    gbit[p.node_of[s]] += dag.nodes[s].visits * dag.nodes[s].request_bytes * 8 / 1e9;
  for (std::size_t i = 0; i < dag.primaries; ++i) {
    const auto& n = dag.nodes[i];
    double leaving = 0;
    for (auto ei : dag.out[i])
      leaving += dag.edges[ei].rate;
    if (dag.out[i].empty())  // a sink replies to the client
      gbit[p.node_of[i]] += n.visits * n.request_bytes * 8 / 1e9;
    const auto* prof = topo::find_service_profile(n.kind);
    if (prof && prof->stateful)
      for (auto r : dag.replicas[i])
        if (crosses_switch(p.node_of[i], p.node_of[r])) {
          double bits = n.visits * n.request_bytes * 8 / 1e9;
          gbit[p.node_of[i]] += bits;
          gbit[p.node_of[r]] += bits;
        }
  }
  for (const auto& e : dag.edges) {
    auto x = p.node_of[e.from], y = p.node_of[e.to];
    if (!crosses_switch(x, y))
      continue;
    double bits = e.rate * dag.nodes[e.to].request_bytes * 8 / 1e9;
    gbit[x] += bits;
    gbit[y] += bits;
  }
  return gbit;
}

std::vector<double> switch_gbit_per_request(const sched::app_dag& dag, const topo::cluster& c,
                                            const std::vector<sched::placement>& ps) {
  std::vector<double> sum(c.nodes().size(), 0);
  for (const auto& p : ps) {
    auto one = switch_gbit_per_request(dag, c, p);
    for (std::size_t n = 0; n < sum.size(); ++n)
      sum[n] += one[n] / double(ps.size());
  }
  return sum;
}

std::vector<port_load> port_loads(const topo::cluster& c, const std::vector<double>& node_gbit, host_nic mode,
                                  const std::vector<std::vector<double>>& host_shares, int host_nic_ports,
                                  double host_nic_gbps) {
  std::vector<port_load> out;
  for (const auto& pi : c.ports()) {
    const auto& owner = c.node(pi.owner);
    port_load l;
    l.port = pi.id;
    l.gbps = pi.gbps;
    int own_ports = 0;
    for (const auto& q : c.ports())
      own_ports += q.owner == pi.owner;
    l.gbit_per_request = node_gbit[pi.owner] / std::max(1, own_ports);
    if (owner.kind == topo::node_kind::host)  // a plain NIC's ports carry only host traffic
      l.gbit_per_request = node_gbit[pi.owner] * (mode == host_nic::shared && std::size_t(pi.server) < host_shares.size()
                                                      ? host_shares[std::size_t(pi.server)][std::size_t(pi.id)]
                                                      : 1.0 / std::max(1, own_ports));
    else if (mode == host_nic::shared && std::size_t(pi.server) < host_shares.size())
      l.gbit_per_request +=
          node_gbit[c.servers()[std::size_t(pi.server)].host] * host_shares[std::size_t(pi.server)][std::size_t(pi.id)];
    l.name = owner.name + " port " + std::to_string(pi.id);
    out.push_back(std::move(l));
  }
  if (mode == host_nic::dedicated)
    for (const auto& s : c.servers()) {
      bool own = false;  // a server without SmartNICs already has its host's ports above
      for (const auto& pi : c.ports())
        own |= pi.server == s.id && pi.owner == s.host;
      if (own)
        continue;
      for (int k = 0; k < host_nic_ports; ++k) {
        port_load l;
        l.port = -1;
        l.gbps = host_nic_gbps;
        l.gbit_per_request = node_gbit[s.host] / std::max(1, host_nic_ports);
        l.name = c.node(s.host).name + " nic port " + std::to_string(k);
        out.push_back(std::move(l));
      }
    }
  return out;
}

double port_limited_rps(const std::vector<port_load>& ports, std::string* bottleneck) {
  double limit = inf;
  for (const auto& p : ports)
    if (p.gbit_per_request > 0 && p.gbps / p.gbit_per_request < limit) {
      limit = p.gbps / p.gbit_per_request;
      if (bottleneck)
        *bottleneck = p.name;
    }
  return limit;
}

}  // namespace e3::bench
