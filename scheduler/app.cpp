// Expansion of an app spec into its instance-level DAG.
#include "scheduler/app.hpp"

#include <numeric>
#include <queue>
#include <stdexcept>

#include "topology/service_profile.hpp"

namespace e3::sched {
namespace {

// Services in topological order of the channels (Kahn); the spec is known to be acyclic.
std::vector<std::size_t> topo_order(const app_spec& s) {
  std::vector<int> indeg(s.services.size(), 0);
  for (const auto& c : s.channels)
    ++indeg[c.to];
  std::queue<std::size_t> q;
  for (std::size_t i = 0; i < s.services.size(); ++i)
    if (indeg[i] == 0)
      q.push(i);
  std::vector<std::size_t> order;
  while (!q.empty()) {
    auto v = q.front();
    q.pop();
    order.push_back(v);
    for (const auto& c : s.channels)
      if (c.from == v && --indeg[c.to] == 0)
        q.push(c.to);
  }
  if (order.size() != s.services.size())
    throw std::invalid_argument("app '" + s.name + "': its channels form a cycle");
  return order;
}

}  // namespace

app_dag expand(const app_spec& s) {
  app_dag d;
  d.app = s.name;
  std::vector<std::uint32_t> first(s.services.size());
  for (std::size_t i = 0; i < s.services.size(); ++i) {
    const auto& sv = s.services[i];
    if (sv.shards < 1)
      throw std::invalid_argument("service '" + sv.name + "': shards must be at least 1");
    first[i] = std::uint32_t(d.nodes.size());
    for (int k = 0; k < sv.shards; ++k) {
      dag_node n;
      n.id = std::uint32_t(d.nodes.size());
      n.service = std::uint32_t(i);
      n.shard = std::uint32_t(k);
      n.kind = sv.kind;
      n.cpu = sv.cpu;
      n.memory_mb = sv.memory_mb;
      n.request_bytes = sv.request_bytes;
      n.host_only = sv.host_only;
      n.smartnic_only = sv.smartnic_only;
      d.nodes.push_back(n);
    }
  }
  d.primaries = d.nodes.size();
  d.out.assign(d.primaries, {});

  // Visits: the entries share the app's requests evenly over their shards; a channel carries
  // `share` of its source's messages, split over the destination shards the key can reach.
  for (auto e : s.entries)
    for (int k = 0; k < s.services[e].shards; ++k)
      d.nodes[first[e] + k].visits += 1.0 / s.services[e].shards;
  for (auto v : topo_order(s)) {
    for (const auto& c : s.channels) {
      if (c.from != v)
        continue;
      int a = s.services[c.from].shards, b = s.services[c.to].shards;
      int g = std::gcd(a, b);
      for (int i = 0; i < a; ++i) {
        auto src = first[c.from] + i;
        double per_dest = d.nodes[src].visits * c.share * g / b;
        for (int j = i % g; j < b; j += g) {
          auto dst = first[c.to] + j;
          d.out[src].push_back(std::uint32_t(d.edges.size()));
          d.edges.push_back({src, dst, per_dest});
          d.nodes[dst].visits += per_dest;
        }
      }
    }
  }
  for (auto e : s.entries)
    for (int k = 0; k < s.services[e].shards; ++k)
      d.sources.push_back(first[e] + k);

  // Bandwidth at the design load: every message in and out crosses the node's ports at most once.
  for (std::size_t i = 0; i < d.primaries; ++i) {
    auto& n = d.nodes[i];
    double out_rate = 0;
    for (auto e : d.out[i])
      out_rate += d.edges[e].rate;
    n.gbps = (n.visits + out_rate) * s.rate_rps * n.request_bytes * 8 / 1e9;
  }

  // Replicas: same memory; a stateful backup applies the writes (a share of the CPU and the
  // inbound bandwidth), a stateless standby only waits.
  d.replicas.assign(d.primaries, {});
  for (std::size_t i = 0; i < d.primaries; ++i) {
    const auto& sv = s.services[d.nodes[i].service];
    const auto* prof = topo::find_service_profile(sv.kind);
    bool stateful = prof && prof->stateful;
    for (int r = 0; r < sv.replicas; ++r) {
      dag_node n = d.nodes[i];
      n.id = std::uint32_t(d.nodes.size());
      n.replica_of = std::int32_t(i);
      n.cpu = stateful ? d.nodes[i].cpu * replica_cpu_share_stateful : 0;
      n.gbps = stateful ? d.nodes[i].visits * s.rate_rps * n.request_bytes * 8 / 1e9 : 0;
      n.visits = 0;
      d.replicas[i].push_back(n.id);
      d.nodes.push_back(n);
    }
  }
  d.replicas.resize(d.nodes.size());
  return d;
}

}  // namespace e3::sched
