// The placement evaluation model.
#include "scheduler/evaluate.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "topology/power.hpp"

namespace e3::sched {
namespace {

constexpr double max_rho = 0.95;

double msg_cost_us(const dag_node& n, const topo::compute_node& node) {
  const auto* p = topo::find_service_profile(n.kind);
  if (!p)
    return 0;
  return p->cost_us(node.cores_type, node.clock_ghz, n.request_bytes);
}

}  // namespace

evaluation evaluate(const app_dag& dag, const topo::cluster& c, const placement& p, double offered_rps) {
  return evaluate_many({&dag}, c, {&p}, {offered_rps});
}

evaluation evaluate_many(const std::vector<const app_dag*>& dags, const topo::cluster& c,
                         const std::vector<const placement*>& ps, const std::vector<double>& offered) {
  if (dags.size() != ps.size() || dags.size() != offered.size())
    throw std::invalid_argument("evaluate: one placement and one load per app");
  evaluation ev;
  const auto& nodes = c.nodes();
  std::vector<double> core_s(nodes.size(), 0), gbit(nodes.size(), 0);  // per second at the offered loads
  ev.nodes.resize(nodes.size());
  for (const auto& n : nodes)
    ev.nodes[n.id].node = n.id;
  std::vector<std::map<std::string, double>> nic_kinds(nodes.size());

  for (std::size_t a = 0; a < dags.size(); ++a) {
    const auto& d = *dags[a];
    const auto& pl = *ps[a];
    if (pl.node_of.size() != d.nodes.size())
      throw std::invalid_argument("evaluate: placement of '" + d.app + "' does not cover its DAG");
    double rate = offered[a];
    ev.offered_rps += rate;
    for (const auto& n : d.nodes) {
      auto at = pl.node_of[n.id];
      auto& ne = ev.nodes[at];
      ne.instances.push_back(n.id);
      ne.memory_mb += n.memory_mb;
      double busy = 0;
      if (n.replica_of < 0) {
        busy = rate * n.visits * msg_cost_us(n, nodes[at]) * 1e-6;
      } else if (n.cpu > 0) {  // a stateful backup applies its primary's writes
        const auto& prim = d.nodes[std::size_t(n.replica_of)];
        busy = replica_cpu_share_stateful * rate * prim.visits * msg_cost_us(prim, nodes[at]) * 1e-6;
        double bits = rate * prim.visits * prim.request_bytes * 8;
        gbit[at] += bits / 1e9;
        gbit[pl.node_of[prim.id]] += bits / 1e9;
      }
      core_s[at] += busy;
      nic_kinds[at][n.kind] += busy;
      (nodes[at].kind == topo::node_kind::smartnic ? ev.smartnic_instances : ev.host_instances)++;
    }
    for (auto s : d.sources)  // client requests arrive from the network
      gbit[pl.node_of[s]] += rate * d.nodes[s].visits * d.nodes[s].request_bytes * 8 / 1e9;
    for (const auto& e : d.edges) {
      auto x = pl.node_of[e.from], y = pl.node_of[e.to];
      auto k = c.path(x, y);
      ev.paths[std::size_t(k)].edges++;
      // Host-SmartNIC messages of one server cross PCIe, not the card's Ethernet ports.
      if (k != topo::path_kind::local && k != topo::path_kind::pcie) {
        double bits = rate * e.rate * d.nodes[e.to].request_bytes * 8 / 1e9;
        gbit[x] += bits;
        gbit[y] += bits;
      }
    }
  }

  // Saturation: the first node out of cores or port bandwidth.
  double scale = 1e300;
  for (const auto& n : nodes) {
    if (core_s[n.id] > 0 && n.cores / core_s[n.id] < scale) {
      scale = n.cores / core_s[n.id];
      ev.bottleneck = n.name + " cores";
    }
    if (gbit[n.id] > 0 && n.network_gbps / gbit[n.id] < scale) {
      scale = n.network_gbps / gbit[n.id];
      ev.bottleneck = n.name + " ports";
    }
  }
  double served = std::min(1.0, scale);
  ev.max_throughput_rps = scale >= 1e299 ? 0 : ev.offered_rps * scale;
  ev.throughput_rps = ev.offered_rps * served;

  for (const auto& n : nodes) {
    auto& ne = ev.nodes[n.id];
    ne.cores_used = core_s[n.id] * served;
    ne.utilisation = ne.cores_used / n.cores;
    ne.gbps = gbit[n.id] * served;
    if (ne.memory_mb > n.memory_mb + 1e-9)
      ev.overcommitted = true;
    topo::node_activity act;
    act.busy_cores = ne.cores_used;
    act.hosts_services = !ne.instances.empty();
    if (n.kind == topo::node_kind::smartnic) {
      std::vector<std::pair<std::string, double>> kinds(nic_kinds[n.id].begin(), nic_kinds[n.id].end());
      act.smartnic_active_w = topo::smartnic_active_w(kinds);
    }
    ne.power_w = topo::modelled_power_w(n, act);
    ev.power_w += ne.power_w;
  }
  for (const auto& ps_ : ps)
    if (!ps_->overcommitted.empty())
      ev.overcommitted = true;
  ev.requests_per_joule = ev.power_w > 0 ? ev.throughput_rps / ev.power_w : 0;

  // Latency: critical path per app, request-weighted over apps.
  double weighted = 0;
  for (std::size_t a = 0; a < dags.size(); ++a) {
    const auto& d = *dags[a];
    const auto& pl = *ps[a];
    for (const auto& e : d.edges)
      ev.paths[std::size_t(c.path(pl.node_of[e.from], pl.node_of[e.to]))].messages_per_s +=
          offered[a] * served * e.rate;
    std::vector<double> memo(d.primaries, -1);
    std::function<double(std::uint32_t)> path_us = [&](std::uint32_t v) -> double {
      if (memo[v] >= 0)
        return memo[v];
      const auto& n = d.nodes[v];
      auto at = pl.node_of[v];
      double rho = std::min(ev.nodes[at].utilisation, max_rho);
      double t = msg_cost_us(n, nodes[at]) / (1 - rho);
      double repl = 0;
      const auto* prof = topo::find_service_profile(n.kind);
      if (prof && prof->stateful)
        for (auto r : d.replicas[v])
          repl = std::max(repl, 2 * c.one_way_latency_us(at, pl.node_of[r]));
      // Group out-edges by destination service (one channel each); the slowest channel counts.
      std::map<std::uint32_t, std::pair<double, double>> channel;  // service -> (sum rate×latency, sum rate)
      for (auto ei : d.out[v]) {
        const auto& e = d.edges[ei];
        double l = c.one_way_latency_us(at, pl.node_of[e.to]) + path_us(e.to);
        auto& ch = channel[d.nodes[e.to].service];
        ch.first += e.rate * l;
        ch.second += e.rate;
      }
      double down = 0;
      for (const auto& [_, ch] : channel)
        down = std::max(down, ch.second > 0 ? ch.first / ch.second : 0);
      if (channel.empty())
        down = c.client_one_way_latency_us(at);  // the reply goes back to the client
      return memo[v] = t + repl + down;
    };
    double sum = 0, wsum = 0;
    for (auto s : d.sources) {
      double w = d.nodes[s].visits;
      sum += w * (c.client_one_way_latency_us(pl.node_of[s]) + path_us(s));
      wsum += w;
    }
    double app_latency = wsum > 0 ? sum / wsum : 0;
    weighted += app_latency * offered[a];
  }
  ev.latency_us = ev.offered_rps > 0 ? weighted / ev.offered_rps : 0;
  return ev;
}

}  // namespace e3::sched
