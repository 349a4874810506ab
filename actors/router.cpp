// The per-node routing table.
#include "actors/router.hpp"

#include <stdexcept>

namespace e3::rt {
namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::string_view to_string(link_kind k) {
  switch (k) {
    case link_kind::local: return "local";
    case link_kind::pcie: return "pcie";
    case link_kind::zmq: return "zmq";
  }
  return "?";
}

link_kind link_between(const topo::cluster& c, topo::node_id from, topo::node_id to) {
  switch (c.path(from, to)) {
    case topo::path_kind::local: return link_kind::local;
    case topo::path_kind::pcie: return link_kind::pcie;
    default: return link_kind::zmq;
  }
}

std::uint32_t shard_of(std::uint64_t key, std::uint32_t shards) {
  return shards <= 1 ? 0 : std::uint32_t(mix(key) % shards);
}

bool takes_channel(std::uint64_t request_id, std::uint32_t channel, double share) {
  if (share >= 1.0)
    return true;
  std::uint64_t h = mix(request_id ^ mix(0x5bd1e995ull + channel));
  return double(h >> 11) * 0x1.0p-53 < share;
}

router::router(const topo::cluster& c, const sched::app_spec& app, const sched::app_dag& dag,
               std::vector<topo::node_id> node_of, topo::node_id self)
    : cluster_(&c), self_(self), node_of_(std::move(node_of)) {
  if (node_of_.size() != dag.nodes.size())
    throw std::invalid_argument("router: the placement does not cover the app's instances");
  service_of_.resize(dag.nodes.size());
  replica_of_.resize(dag.nodes.size());
  shards_.resize(app.services.size());
  first_.assign(app.services.size(), ~0u);
  for (const auto& n : dag.nodes) {
    service_of_[n.id] = n.service;
    replica_of_[n.id] = n.replica_of;
    if (n.replica_of < 0) {
      shards_[n.service] = std::max(shards_[n.service], n.shard + 1);
      first_[n.service] = std::min(first_[n.service], n.id);
    }
  }
  out_.resize(app.services.size());
  for (std::size_t k = 0; k < app.channels.size(); ++k) {
    const auto& ch = app.channels[k];
    out_[ch.from].push_back({std::uint32_t(k), std::uint32_t(ch.to), ch.share});
  }
  for (auto e : app.entries)
    entries_.push_back(std::uint32_t(e));
  live_.resize(app.services.size());
  for (std::size_t s = 0; s < app.services.size(); ++s)
    for (std::uint32_t k = 0; k < shards_[s]; ++k)
      live_[s].push_back(first_[s] + k);
}

route router::route_to(std::uint32_t i) const {
  return {i, node_of_[i], link_between(*cluster_, self_, node_of_[i])};
}

std::uint32_t router::live_instance(std::uint32_t service, std::uint32_t shard) const {
  return live_[service][shard];
}

void router::destinations(std::uint32_t from, std::uint64_t key, std::uint64_t request_id,
                          std::vector<route>& out) const {
  for (const auto& ch : out_[service_of_[from]]) {
    if (!takes_channel(request_id, ch.id, ch.share))
      continue;
    auto dest = live_[ch.to][shard_of(key, shards_[ch.to])];
    out.push_back(route_to(dest));
  }
}

std::uint32_t router::entry_instance(std::size_t entry, std::uint64_t key) const {
  auto s = entries_.at(entry);
  return live_[s][shard_of(key, shards_[s])];
}

void router::move(std::uint32_t i, topo::node_id node) { node_of_.at(i) = node; }

void router::promote(std::uint32_t replica) {
  auto p = replica_of_.at(replica);
  if (p < 0)
    throw std::invalid_argument("router: instance " + std::to_string(replica) + " is not a backup");
  auto s = service_of_[std::size_t(p)];
  live_[s][std::size_t(p) - first_[s]] = replica;
}

bool router::is_sink(std::uint32_t i) const { return out_[service_of_.at(i)].empty(); }

std::vector<std::uint32_t> router::local_instances() const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < node_of_.size(); ++i)
    if (node_of_[i] == self_)
      out.push_back(i);
  return out;
}

}  // namespace e3::rt
