// The data-plane orchestrator: report digestion, victim and destination choice, hysteresis.
#include "migration/orchestrator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "topology/service_profile.hpp"

namespace e3::mig {

std::string_view to_string(trigger t) {
  switch (t) {
    case trigger::host_starvation: return "host starvation";
    case trigger::service_overload: return "service overload";
    case trigger::reclaim: return "reclaim";
  }
  return "?";
}

void validate(const orchestrator_config& c) {
  validate(c.starvation);
  validate(c.overload);
  const auto& h = c.hysteresis;
  if (h.min_dwell_ns < 0 || h.cooldown_ns < 0 || h.node_settle_ns < 0)
    throw std::invalid_argument("hysteresis: min_dwell_ns, cooldown_ns and node_settle_ns must be >= 0, got " +
                                std::to_string(h.min_dwell_ns) + ", " + std::to_string(h.cooldown_ns) + ", " +
                                std::to_string(h.node_settle_ns));
  if (c.reclaim.quiet_reports < 1)
    throw std::invalid_argument("reclaim.quiet_reports must be at least 1");
  if (!(c.reclaim.max_utilisation > 0 && c.reclaim.max_utilisation <= 1))
    throw std::invalid_argument("reclaim.max_utilisation must be in (0, 1], got " +
                                std::to_string(c.reclaim.max_utilisation));
  if (!(c.constraints.core_headroom > 0 && c.constraints.core_headroom <= 1))
    throw std::invalid_argument("constraints.core_headroom must be in (0, 1], got " +
                                std::to_string(c.constraints.core_headroom));
}

std::optional<destination> closest_host(const sched::app_dag& dag, std::uint32_t i, topo::node_id from,
                                        const sched::cluster_view& view, const sched::constraints& c,
                                        const std::vector<topo::node_id>& node_of, const std::vector<char>& placed) {
  const auto& cl = *view.cluster;
  auto levels = cl.levels(from);
  for (std::size_t k = 0; k < levels.size(); ++k) {
    const auto& l = levels[k];
    bool found = false;
    topo::node_id best = 0;
    double best_free = 0;
    for (topo::node_id m : l.candidates) {
      if (cl.node(m).kind != topo::node_kind::host || !cl.in_level(l, m))
        continue;
      if (!sched::admissible(dag, i, m, view, c, node_of, placed, true))
        continue;
      double f = view.nodes[m].free_cores;
      if (!found || f > best_free || (f == best_free && m < best)) {
        found = true;
        best = m;
        best_free = f;
      }
    }
    if (found)
      return destination{best, int(k)};
  }
  return std::nullopt;
}

void orchestrator::peak_window::add(double x, std::uint32_t len) {
  if (n >= len) {
    prev = cur;
    cur = 0;
    n = 0;
  }
  cur = std::max(cur, x);
  ++n;
  if (total != std::numeric_limits<std::uint32_t>::max())
    ++total;
}

orchestrator::orchestrator(const topo::cluster& cluster, sched::cluster_view view, orchestrator_config config)
    : cluster_(&cluster), view_(std::move(view)), cfg_(config) {
  validate(cfg_);
  if (view_.nodes.size() != cluster.nodes().size())
    throw std::invalid_argument("orchestrator: the cluster view has " + std::to_string(view_.nodes.size()) +
                                " nodes, the cluster " + std::to_string(cluster.nodes().size()));
  view_.cluster = &cluster;
  overload_milli_ = overload_threshold_milli(cfg_.overload);
  nodes_.resize(cluster.nodes().size());
  for (const auto& n : cluster.nodes())
    nodes_[n.id].smartnic = n.kind == topo::node_kind::smartnic;
  on_node_.resize(nodes_.size());
  evicted_from_.resize(nodes_.size());
}

std::uint32_t orchestrator::add_app(const sched::app_dag& dag, const sched::placement& p, std::int64_t placed_at_ns) {
  if (p.node_of.size() != dag.nodes.size())
    throw std::invalid_argument("orchestrator::add_app: app '" + dag.app + "' has " + std::to_string(dag.nodes.size()) +
                                " instances, its placement " + std::to_string(p.node_of.size()));
  for (std::size_t i = 0; i < p.node_of.size(); ++i)
    if (p.node_of[i] >= nodes_.size())
      throw std::invalid_argument("orchestrator::add_app: app '" + dag.app + "' instance " + std::to_string(i) +
                                  " is placed on node " + std::to_string(p.node_of[i]) + ", the cluster has " +
                                  std::to_string(nodes_.size()));
  if (inst_.size() + dag.nodes.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("orchestrator::add_app: more than 2^32 instances");
  auto base = std::uint32_t(inst_.size());
  auto app = std::uint32_t(apps_.size());
  apps_.push_back({dag, p.node_of, std::vector<char>(dag.nodes.size(), 1)});
  inst_.reserve(inst_.size() + dag.nodes.size());
  for (std::uint32_t i = 0; i < dag.nodes.size(); ++i) {
    inst_rec r;
    r.app = app;
    r.dag = i;
    r.node = p.node_of[i];
    r.kind = kind_of(dag.nodes[i].kind);
    r.host_ok = !dag.nodes[i].smartnic_only;
    r.arrived_at = placed_at_ns;
    inst_.push_back(r);
    on_node_[r.node].push_back(base + i);  // ids grow, so every list stays ascending
  }
  return base;
}

void orchestrator::set_migratable(std::uint32_t instance, bool migratable) {
  if (instance < inst_.size())
    inst_[instance].migratable = migratable;
}

void orchestrator::set_node_up(topo::node_id node, bool up) {
  if (node < nodes_.size())
    view_.nodes[node].up = up;
}

bool orchestrator::node_known(topo::node_id n) {
  if (n < nodes_.size())
    return true;
  ++counters_.unknown_node;
  return false;
}

bool orchestrator::eligible(const inst_rec& I, std::int64_t now) const {
  return I.migratable && !I.migrating && now >= I.cooldown_until && now - I.arrived_at >= cfg_.hysteresis.min_dwell_ns;
}

void orchestrator::commit(std::uint32_t id, const destination& d, node_rec& N) {
  auto& I = inst_[id];
  I.migrating = true;
  I.target = d.node;
  sched::consume(view_, apps_[I.app].dag.nodes[I.dag], d.node);
  // The node settles: its streaks start again once the move had its effect.
  N.starve.reset();
  N.overload.reset();
  N.quiet = 0;
  for (auto other : on_node_[I.node])
    inst_[other].overload.reset();
}

std::optional<decision> orchestrator::act(topo::node_id node, std::int64_t now, bool starving, bool overloaded,
                                          std::span<const candidate> candidates, decision evidence) {
  auto& N = nodes_[node];
  counters_.starvation_trips += starving;
  counters_.overload_trips += overloaded;
  if (!N.smartnic) {
    ++counters_.host_trips;
    return std::nullopt;
  }
  if (now < N.settle_until) {
    ++counters_.settling;
    return std::nullopt;
  }
  // Candidates in order of CPU share (descending), then id (ascending), without sorting: each
  // round picks the best one ordered after the previous pick.
  auto after = [](const candidate& a, const candidate& b) {  // a comes after b in the order
    return a.cpu < b.cpu || (a.cpu == b.cpu && a.id > b.id);
  };
  bool any_eligible = false;
  const candidate* prev = nullptr;
  for (;;) {
    const candidate* best = nullptr;
    for (const auto& c : candidates)
      if ((!prev || after(c, *prev)) && (!best || after(*best, c)))
        best = &c;
    if (!best)
      break;
    prev = best;
    auto& I = inst_[best->id];
    if (!I.host_ok || !eligible(I, now))
      continue;
    any_eligible = true;
    const auto& app = apps_[I.app];
    auto dest = closest_host(app.dag, I.dag, node, view_, cfg_.constraints, app.node_of, app.placed);
    if (!dest)
      continue;
    commit(best->id, *dest, N);
    N.settle_until = now + cfg_.hysteresis.node_settle_ns;
    evidence.instance = best->id;
    evidence.from = node;
    evidence.to = dest->node;
    evidence.level = dest->level;
    evidence.why = starving ? trigger::host_starvation : trigger::service_overload;
    ++counters_.decisions[std::size_t(evidence.why)];
    return evidence;
  }
  if (any_eligible)
    ++counters_.no_destination;
  else
    ++counters_.no_eligible_victim;
  return std::nullopt;
}

namespace {

bool bad(double x) { return !(x >= 0) || !std::isfinite(x); }

}  // namespace

std::optional<decision> orchestrator::on_report(const node_report& r) {
  ++counters_.reports;
  if (!node_known(r.node))
    return std::nullopt;
  if (bad(r.link_in_gbps) || bad(r.link_out_gbps) || bad(r.capacity_gbps) || bad(r.utilisation)) {
    ++counters_.invalid_reports;
    return std::nullopt;
  }
  auto& N = nodes_[r.node];
  if (N.seen && r.at_ns <= N.last_at) {
    ++counters_.stale;
    return std::nullopt;
  }
  N.seen = true;
  N.last_at = r.at_ns;
  view_.nodes[r.node].outstanding = double(r.tm_queue);

  const bool reclaiming = cfg_.reclaim.enabled;
  const auto window = cfg_.reclaim.quiet_reports;
  bool overloaded = false, any_hit = false;
  double worst = 0;
  scratch_.clear();
  for (const auto& ir : r.instances) {
    if (ir.instance >= inst_.size()) {
      ++counters_.unknown_instance;
      continue;
    }
    if (bad(ir.exec_us) || bad(ir.ema_exec_us) || bad(ir.cpu_share)) {
      ++counters_.invalid_instances;
      continue;
    }
    auto& I = inst_[ir.instance];
    if (I.node != r.node || (ir.kind != no_kind && ir.kind != I.kind)) {
      ++counters_.misplaced_instance;
      continue;
    }
    bool hit = overload_hit(cfg_.overload, ir);
    any_hit |= hit;
    overloaded |= I.overload.step(hit, cfg_.overload.k);
    if (ir.requests >= cfg_.overload.min_requests && ir.ema_exec_us > 0)
      worst = std::max(worst, ir.exec_us / ir.ema_exec_us);
    if (reclaiming)
      I.cpu.add(ir.cpu_share, window);
    scratch_.push_back({ir.instance, ir.cpu_share});
  }
  bool starve_hit = starvation_hit(cfg_.starvation, r);
  bool starving = N.starve.step(starve_hit, cfg_.starvation.k);
  if (reclaiming && N.smartnic) {
    bool quiet = !starve_hit && !any_hit && r.utilisation <= cfg_.reclaim.max_utilisation;
    N.quiet = quiet ? N.quiet + 1 : 0;
    N.util.add(r.utilisation, window);
  }
  if (!starving && !overloaded) {
    if (reclaiming && N.smartnic && N.quiet >= window && !evicted_from_[r.node].empty())
      return try_reclaim(r.node, r.at_ns);
    return std::nullopt;
  }
  decision ev;
  ev.at_ns = r.at_ns;
  ev.tm_queue = r.tm_queue;
  ev.link_use = r.capacity_gbps > 0 ? std::max(r.link_in_gbps, r.link_out_gbps) / r.capacity_gbps : 0;
  ev.slowdown = worst;
  auto d = act(r.node, r.at_ns, starving, overloaded, scratch_, ev);
  if (d)
    for (const auto& c : scratch_)
      if (c.id == d->instance)
        d->cpu_share = c.cpu;
  return d;
}

std::optional<decision> orchestrator::on_heartbeat(const heartbeat& hb, std::int64_t now_ns) {
  ++counters_.heartbeats;
  if (!node_known(hb.node))
    return std::nullopt;
  auto& N = nodes_[hb.node];
  if (N.seen && std::int16_t(std::uint16_t(hb.seq - N.last_seq)) <= 0) {
    ++counters_.stale;
    return std::nullopt;
  }
  N.seen = true;
  N.last_seq = hb.seq;
  N.last_at = now_ns;
  view_.nodes[hb.node].outstanding = double(hb.tm_queue);
  bool starving = N.starve.step(starvation_hit(cfg_.starvation, hb), cfg_.starvation.k);
  bool overloaded = N.overload.step(hb.worst_slowdown != 0 && hb.worst_slowdown >= overload_milli_, cfg_.overload.k);
  if (!starving && !overloaded)
    return std::nullopt;
  const auto& here = on_node_[hb.node];
  std::array<candidate, 2> cands{};
  std::size_t n = 0;
  if (hb.services != std::min<std::size_t>(here.size(), 255)) {
    ++counters_.slot_mismatch;
  } else {
    // Slots rank the node's instances by id; the hottest ranks first in the victim order.
    if (hb.hottest != no_slot)
      cands[n++] = {here[hb.hottest], 2.0};
    if (hb.second != no_slot)
      cands[n++] = {here[hb.second], 1.0};
  }
  decision ev;
  ev.at_ns = now_ns;
  ev.tm_queue = hb.tm_queue;
  ev.link_use = hb.link_use / double(half_percent_max);
  ev.slowdown = hb.worst_slowdown / 1000.0;
  return act(hb.node, now_ns, starving, overloaded, std::span<const candidate>(cands.data(), n), ev);
}

std::optional<decision> orchestrator::on_heartbeat_bytes(std::span<const std::uint8_t> bytes, std::int64_t now_ns) {
  heartbeat hb;
  auto e = decode_heartbeat(bytes, hb);
  if (e != heartbeat_error::ok) {
    ++counters_.decode_errors[std::size_t(e)];
    return std::nullopt;
  }
  return on_heartbeat(hb, now_ns);
}

double orchestrator::projected_share(const inst_rec& I, topo::node_id nic) const {
  const auto* prof = topo::find_service_profile(apps_[I.app].dag.nodes[I.dag].kind);
  if (!prof)
    return -1;
  const auto& h = cluster_->node(I.node);
  const auto& x = cluster_->node(nic);
  if (h.cores <= 0 || x.cores <= 0)
    return -1;
  double busy_here = I.cpu.peak() * h.cores;
  double nic_cores = busy_here * prof->slowdown(x.cores_type, x.clock_ghz) / prof->slowdown(h.cores_type, h.clock_ghz);
  return nic_cores / x.cores;
}

std::optional<decision> orchestrator::try_reclaim(topo::node_id nic, std::int64_t now) {
  auto& N = nodes_[nic];
  if (now < N.settle_until)
    return std::nullopt;
  for (auto id : evicted_from_[nic]) {
    auto& I = inst_[id];
    if (!eligible(I, now) || nodes_[I.node].smartnic || I.cpu.total < cfg_.reclaim.quiet_reports)
      continue;
    double share = projected_share(I, nic);
    if (share < 0 || N.util.peak() + share > cfg_.reclaim.max_utilisation)
      continue;
    const auto& app = apps_[I.app];
    if (!sched::admissible(app.dag, I.dag, nic, view_, cfg_.constraints, app.node_of, app.placed, true))
      continue;
    int level = -1;
    auto levels = cluster_->levels(I.node);
    for (std::size_t k = 0; k < levels.size() && level < 0; ++k)
      if (cluster_->in_level(levels[k], nic) &&
          std::find(levels[k].candidates.begin(), levels[k].candidates.end(), nic) != levels[k].candidates.end())
        level = int(k);
    decision d;
    d.instance = id;
    d.from = I.node;
    d.to = nic;
    d.why = trigger::reclaim;
    d.at_ns = now;
    d.level = level;
    d.cpu_share = I.cpu.peak();
    commit(id, {nic, level}, N);
    // The destination settles too: no eviction from it right after it took the instance back.
    N.settle_until = now + cfg_.hysteresis.node_settle_ns;
    ++counters_.decisions[std::size_t(trigger::reclaim)];
    return d;
  }
  return std::nullopt;
}

void orchestrator::insert_sorted(std::vector<std::uint32_t>& v, std::uint32_t id) {
  v.insert(std::lower_bound(v.begin(), v.end(), id), id);
}

void orchestrator::erase_value(std::vector<std::uint32_t>& v, std::uint32_t id) {
  auto it = std::lower_bound(v.begin(), v.end(), id);
  if (it != v.end() && *it == id)
    v.erase(it);
}

bool orchestrator::migration_finished(std::uint32_t instance, migration_outcome outcome, std::int64_t now_ns) {
  if (instance >= inst_.size() || !inst_[instance].migrating || outcome == migration_outcome::in_progress) {
    ++counters_.unexpected_finish;
    return false;
  }
  auto& I = inst_[instance];
  auto& app = apps_[I.app];
  const auto& dn = app.dag.nodes[I.dag];
  I.migrating = false;
  I.cooldown_until = now_ns + cfg_.hysteresis.cooldown_ns;
  if (outcome != migration_outcome::completed) {
    sched::release(view_, dn, I.target);
    ++(outcome == migration_outcome::rolled_back ? counters_.rolled_back : counters_.failed);
    return true;
  }
  ++counters_.completed;
  const auto from = I.node, to = I.target;
  sched::release(view_, dn, from);
  erase_value(on_node_[from], instance);
  insert_sorted(on_node_[to], instance);
  app.node_of[I.dag] = to;
  if (to == I.home) {
    erase_value(evicted_from_[I.home], instance);
    I.home = no_node;
  } else if (nodes_[from].smartnic && !nodes_[to].smartnic && I.home == no_node) {
    I.home = from;
    insert_sorted(evicted_from_[from], instance);
  }
  I.node = to;
  I.arrived_at = now_ns;
  I.overload.reset();
  I.cpu.reset();
  return true;
}

migration_plan orchestrator::plan(const decision& d) const {
  migration_plan p;
  p.instance = d.instance;
  if (d.instance < inst_.size()) {
    const auto& I = inst_[d.instance];
    p.kind = apps_[I.app].dag.nodes[I.dag].kind;
  }
  p.from = d.from;
  p.to = d.to;
  return p;
}

}  // namespace e3::mig
