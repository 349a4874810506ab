// The node runtime: frame handling, the SmartNIC traffic manager, instance actors running the
// services on emulated cores, and the orchestrator agent.
#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/node_host.hpp"
#include "actors/supervisor.hpp"
#include "migration/cold_migration.hpp"
#include "topology/service_profile.hpp"

namespace e3::rt {
namespace {

constexpr std::uint32_t client_bit = 0x80000000u;  // src_node of a frame sent by a client

std::uint32_t client_of(std::uint64_t request_id) { return std::uint32_t(request_id >> 48); }

std::int64_t us_to_ns(double us) { return std::int64_t(us * 1000.0 + 0.5); }

/// The shard an instance serves, by its primary's id (a backup's replica_of).
std::uint32_t shard_primary(const node_plan& plan, std::uint32_t instance) {
  auto p = plan.dag.nodes.at(instance).replica_of;
  return p >= 0 ? std::uint32_t(p) : instance;
}

/// A shard's state in a durable store is named after the shard, so a backup that takes over
/// opens what its primary replicated to it.
std::string shard_state_name(std::uint32_t primary) { return "shard-" + std::to_string(primary); }

/// Sends a primary's commits to the store of the node where its shard's backup runs, and waits
/// until that store has applied them durably (rocksdb_store::apply_replica). In-process: the
/// emulated cluster's nodes share this process, so the batch is handed over directly rather
/// than over the emulated link. While the backup's node is down the commit is durable here
/// only and counted; the backup's store then no longer matches the next batch's base and
/// takes the full state first (rocksdb_store's resynchronisation).
class backup_node_target final : public state::replication_target {
 public:
  backup_node_target(node_host& self, topo::node_id backup) : self_(self), backup_(backup) {}
  state::replica_reply apply(std::string_view instance, std::string_view message) override;

 private:
  node_host& self_;
  topo::node_id backup_;
};


}  // namespace

node_host::node_host(const topo::cluster& c, topo::node_id self, const runtime_options& opts,
                     const service_registry& reg, const dilation_clock& clock, directory dir)
    : cluster_(c), self_(self), opts_(opts), registry_(reg), clock_(clock), cores_(c.node(self).cores), tm_(1) {
  links_ = std::make_unique<node_links>(cluster_, std::move(dir), self, false,
                                        [this](std::span<const std::uint8_t> b, link_kind via) { on_frame(b, via); });
}

node_host::~node_host() { links_->stop(); }

void node_host::install(node_plan plan) {
  auto r = std::make_unique<router>(cluster_, plan.app, plan.dag, plan.node_of, self_);
  std::unique_lock g(router_lock_);
  plan_ = std::move(plan);
  router_ = std::move(r);
}

void node_host::promote(std::uint32_t replica) {
  if (store_) {
    // A local backup taking over drops its scratch collections and reloads its service from
    // the replicated state (the actor handles the reload before anything routed to it now).
    caf::actor a;
    {
      std::lock_guard g(actors_lock_);
      bool local = with_router([&](const router* r) { return r && r->node_of(replica) == self_; });
      if (local && promoted_.insert(replica).second) {
        state_.erase(replica);
        if (auto i = actors_.find(replica); i != actors_.end())
          a = i->second;
      }
    }
    if (a)
      caf::anon_send(a, promote_atom::value, replica);
  }
  std::unique_lock g(router_lock_);
  if (router_)
    router_->promote(replica);
}

void node_host::set_instance_actor(std::uint32_t instance, const caf::actor& a) {
  std::lock_guard g(actors_lock_);
  if (!a) {
    actors_.erase(instance);
    return;
  }
  actors_[instance] = a;
  // Messages that waited for the start go first, under the lock: nothing dispatched after the
  // registration can overtake them.
  if (auto p = parked_.find(instance); p != parked_.end()) {
    for (auto& m : p->second)
      caf::anon_send(a, std::move(m));
    parked_.erase(p);
  }
}

caf::actor node_host::actor_of(std::uint32_t instance) const {
  std::lock_guard g(actors_lock_);
  auto i = actors_.find(instance);
  return i == actors_.end() ? caf::actor{} : i->second;
}

void node_host::hold(std::uint32_t instance) {
  std::lock_guard g(actors_lock_);
  held_.try_emplace(instance);
}

void node_host::park(std::uint32_t instance) {
  std::lock_guard g(actors_lock_);
  if (!actors_.count(instance))
    parked_.try_emplace(instance);
}

std::size_t node_host::release_held(std::uint32_t instance, topo::node_id dest) {
  // Forward the held messages in order; messages that arrive meanwhile are held too and go in
  // the next round. Only when nothing is left does this node's table point to the destination
  // (under the lock, so nothing can slip between the last held message and the switch).
  route r{instance, dest, link_between(cluster_, self_, dest)};
  std::size_t n = 0;
  while (true) {
    std::vector<inbound> msgs;
    {
      std::lock_guard g(actors_lock_);
      auto i = held_.find(instance);
      if (i == held_.end())
        return n;
      msgs = std::move(i->second);
      i->second.clear();
      if (msgs.empty()) {
        held_.erase(i);
        if (dest != self_) {
          std::unique_lock rg(router_lock_);
          if (router_)
            router_->move(instance, dest);
        }
        return n;
      }
    }
    n += msgs.size();
    auto now = clock_.now_ns();
    for (auto& m : msgs) {
      if (dest == self_) {  // a rollback: the instance runs here again
        std::lock_guard g(actors_lock_);
        if (auto a = actors_.find(instance); a != actors_.end())
          caf::anon_send(a->second, std::move(m));
        else
          parked_[instance].push_back(std::move(m));
        continue;
      }
      m.h.sent_ns = std::max(now, m.arrival_ns);
      m.h.src_node = self_;
      send_to_instance(m.h, m.payload, r);
    }
  }
}

std::size_t node_host::fail_held(std::uint32_t instance) {
  std::vector<inbound> msgs;
  {
    std::lock_guard g(actors_lock_);
    auto i = held_.find(instance);
    if (i == held_.end())
      return 0;
    msgs = std::move(i->second);
    held_.erase(i);
  }
  for (const auto& m : msgs)
    lost(m.h, m.h.credit);
  return msgs.size();
}

void node_host::move(std::uint32_t instance, topo::node_id node) {
  std::unique_lock g(router_lock_);
  if (router_)
    router_->move(instance, node);
}

void node_host::drop_state(std::uint32_t instance) {
  std::lock_guard g(actors_lock_);
  bool opened = state_.erase(instance) > 0;
  backups_.erase(instance);
  parked_.erase(instance);
  if (store_ && opened && plan_) {
    // The instance moved away: its shard's data here goes too (the destination has it now).
    auto name = shard_state_name(shard_primary(*plan_, instance));
    for (const auto& i : store_->instances())
      if (i.name == name && i.role == state::instance_role::primary)
        store_->drop_instance(name);
  }
}

void node_host::forget_instance_actor(std::uint32_t instance, const caf::actor_addr& addr) {
  std::lock_guard g(actors_lock_);
  auto i = actors_.find(instance);
  if (i != actors_.end() && i->second.address() == addr)
    actors_.erase(i);
}

bool node_host::instance_started(std::uint32_t instance) {
  auto& c = counters(instance);
  std::lock_guard g(actors_lock_);
  bool before = c.started;
  c.started = true;
  return before;
}


void node_host::open_store(const std::string& dir, std::function<node_host*(topo::node_id)> peer) {
  std::lock_guard g(actors_lock_);
  store_ = state::rocksdb_store::open(dir);
  peer_ = std::move(peer);
}

state::replica_reply backup_node_target::apply(std::string_view instance, std::string_view message) {
  node_host* b = self_.peer(backup_);
  if (!b || !b->up() || !b->store()) {
    self_.count_unreplicated();
    return state::replica_reply::applied;  // nothing to apply to: see the class comment
  }
  return b->store()->apply_replica(instance, message);
}

state::collections& node_host::collections(std::uint32_t instance) {
  std::lock_guard g(actors_lock_);
  auto& c = state_[instance];
  if (c)
    return *c;
  const auto* plan = plan_ ? &*plan_ : nullptr;
  if (!store_ || !plan || instance >= plan->dag.nodes.size() ||
      (plan->dag.nodes[instance].replica_of >= 0 && !promoted_.count(instance))) {
    c = state::make_memory_collections();
    return *c;
  }
  auto primary = shard_primary(*plan, instance);
  auto name = shard_state_name(primary);
  for (const auto& i : store_->instances())
    if (i.name == name && i.role == state::instance_role::replica)
      store_->promote(name);  // a backup taking over: what its primary acknowledged is here
  // Commits go first to the node of the shard's first backup other than this instance.
  state::replication_target* backup = nullptr;
  for (auto r : plan->dag.replicas.at(primary)) {
    if (r == instance)
      continue;
    auto where = with_router([&](const router* rt) { return rt ? rt->node_of(r) : plan->node_of.at(r); });
    if (where == self_)
      continue;
    auto& t = backups_[instance];
    t = std::make_unique<backup_node_target>(*this, where);
    backup = t.get();
    break;
  }
  c = store_->open_collections(name, backup);
  return *c;
}

std::string node_host::snapshot_of(std::uint32_t instance) {
  auto& c = collections(instance);
  if (auto* durable = dynamic_cast<state::rocksdb_collections*>(&c))
    return durable->export_portable_snapshot();
  return c.export_snapshot();  // the memory store's snapshot is the portable one
}

node_host* node_host::peer(topo::node_id n) const { return peer_ ? peer_(n) : nullptr; }

void node_host::lose_state() {
  std::lock_guard g(actors_lock_);
  state_.clear();
  backups_.clear();
}

instance_counters& node_host::counters(std::uint32_t instance) {
  std::lock_guard g(actors_lock_);
  auto& c = counters_[instance];
  if (!c)
    c = std::make_unique<instance_counters>();
  return *c;
}

std::int64_t node_host::network_latency_ns(std::uint32_t src, std::size_t bytes) const {
  double us = (src & client_bit) ? cluster_.client_one_way_latency_us(self_) : cluster_.one_way_latency_us(src, self_);
  double gbps = std::max(1.0, info().network_gbps);
  return us_to_ns(us) + std::int64_t(double(bytes) * 8.0 / gbps);  // bits / (Gb/s) = ns
}

topo::node_id node_host::ingress_for(topo::node_id dest, std::uint64_t flow) const {
  const auto& d = cluster_.node(dest);
  if (d.kind == topo::node_kind::smartnic)
    return dest;
  const auto& s = cluster_.servers()[std::size_t(d.server)];
  if (s.smartnics.empty())
    return dest;
  int port = cluster_.ingress_port(d.ip, flow);
  return port < 0 ? dest : cluster_.ports()[std::size_t(port)].owner;
}

void node_host::on_frame(std::span<const std::uint8_t> bytes, link_kind via) {
  auto f = wire::decode(bytes, nullptr, &decode_stats_);
  if (!f)
    return;  // counted by reason in decode_stats_
  if (!up_.load()) {
    undeliverable_.fetch_add(1, std::memory_order_relaxed);  // a powered-off node receives nothing
    return;
  }
  if (f->h.type != wire::frame_type::request) {
    misrouted_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  inbound m{std::move(f->h), std::vector<std::uint8_t>(f->payload.begin(), f->payload.end()), 0, via};
  m.arrival_ns = m.h.sent_ns + (via == link_kind::pcie ? us_to_ns(cluster_.one_way_latency_us(m.h.src_node, self_))
                                                       : network_latency_ns(m.h.src_node, bytes.size()));
  if (info().kind == topo::node_kind::smartnic && via == link_kind::zmq) {
    // The traffic manager: every packet from the network takes its turn on the TM block, then
    // goes to a local core or over PCIe to the host (§3.2).
    tm_packets_.fetch_add(1, std::memory_order_relaxed);
    auto slot = tm_.run(m.arrival_ns, std::int64_t(double(opts_.traffic_manager_ns) * tm_contention_.load()));
    m.arrival_ns = slot.end_ns;
    auto dest = with_router([&](const router* r) { return r ? r->node_of(m.h.dag_node) : self_; });
    if (dest != self_) {
      const auto& s = cluster_.servers()[std::size_t(info().server)];
      m.h.sent_ns = slot.end_ns;
      m.h.src_node = self_;
      std::vector<std::uint8_t> out;
      wire::encode(m.h, m.payload, out);
      bool ok = dest == s.host ? links_->send({false, s.host}, link_kind::pcie, out, m.h.key)
                               : links_->send({false, ingress_for(dest, m.h.key)}, link_kind::zmq, out);
      if (dest != s.host)
        misrouted_.fetch_add(1, std::memory_order_relaxed);  // stale route (e.g. mid-migration), forwarded
      if (!ok)
        lost(m.h, m.h.credit);
      return;
    }
  }
  dispatch(std::move(m));
}

void node_host::deliver_due(std::uint32_t instance, std::uint64_t key) {
  inbound m;
  {
    std::lock_guard g(actors_lock_);
    auto t = timers_.find({instance, key});
    if (t == timers_.end() || t->second.waiting.empty())
      return;
    m = std::move(t->second.waiting.front());
    t->second.waiting.pop_front();
  }
  // Still counted as pending: a newer message of this key keeps waiting behind it until
  // dispatch() has queued it.
  dispatch(std::move(m), true);
}

void node_host::dispatch(inbound m, bool from_timer) {
  if (!from_timer) {
    auto due = clock_.wall_at(m.arrival_ns - opts_.early_delivery_ns);
    auto now = dilation_clock::wall::now();
    caf::actor ag = agent();
    bool wait = false;
    auto instance = m.h.dag_node;
    auto key = m.h.key;
    if (ag) {
      // Not due yet: wait in the agent's timer, then come back here. A message whose key has an
      // earlier one on that path takes it too, behind it: messages of one key keep their order
      // (each key's waiting queue is first in, first out, and the agent handles its timers one
      // by one); other keys are not held up.
      std::lock_guard g(actors_lock_);
      auto busy = timers_.find({instance, key});
      if (due > now || busy != timers_.end()) {
        auto& t = timers_[{instance, key}];
        due = std::max(due, t.until);
        t.until = due;
        ++t.pending;
        // The timer carries only which queue to pop: two timers due at the same instant may
        // fire in either order (CAF adds its own clock reading to the delay); the queue keeps
        // the order.
        t.waiting.push_back(std::move(m));
        wait = true;
      }
    }
    if (wait) {
      caf::delayed_anon_send(ag, std::chrono::duration_cast<std::chrono::nanoseconds>(due - now), deliver_atom::value,
                             instance, key);
      return;
    }
  }
  bool forward = false;
  {
    // Under the lock: a hold() that follows sees this message either held or already in the
    // actor's mailbox ahead of the stop. A message back from the timer leaves the timer path
    // only here, once it is queued, so a newer one cannot overtake it meanwhile.
    std::lock_guard g(actors_lock_);
    if (from_timer) {
      auto t = timers_.find({m.h.dag_node, m.h.key});
      if (t != timers_.end() && --t->second.pending == 0)
        timers_.erase(t);
    }
    auto h = held_.find(m.h.dag_node);
    if (h != held_.end()) {  // the instance is being migrated away: keep it, in order
      h->second.push_back(std::move(m));
      return;
    }
    auto i = actors_.find(m.h.dag_node);
    if (i != actors_.end() && up_.load()) {
      caf::anon_send(i->second, std::move(m));
      return;
    }
    if (auto p = parked_.find(m.h.dag_node); p != parked_.end()) {
      p->second.push_back(std::move(m));  // starting here after a migration
      return;
    }
    forward = up_.load();
  }
  if (forward) {
    // Not here: if the instance moved, forward the message to where it runs now.
    auto where = with_router([&](const router* r) { return r ? r->node_of(m.h.dag_node) : self_; });
    if (where != self_) {
      forwarded_.fetch_add(1, std::memory_order_relaxed);
      wire::header h = m.h;
      h.sent_ns = std::max(m.arrival_ns, clock_.now_ns());
      h.src_node = self_;
      send_to_instance(h, m.payload, {m.h.dag_node, where, link_between(cluster_, self_, where)});
      return;
    }
  }
  undeliverable_.fetch_add(1, std::memory_order_relaxed);
  lost(m.h, m.h.credit);
}

void node_host::send_to_instance(const wire::header& h, bytes_view payload, const route& to,
                                 std::int64_t wall_sent_ns) {
  if (to.link == link_kind::local) {
    inbound m{h, std::vector<std::uint8_t>(payload.begin(), payload.end()),
              h.sent_ns + us_to_ns(cluster_.one_way_latency_us(self_, self_)), link_kind::local, wall_sent_ns};
    local_sent_.fetch_add(1, std::memory_order_relaxed);
    dispatch(std::move(m));
    return;
  }
  std::vector<std::uint8_t> out;
  wire::encode(h, payload, out);
  bool ok = to.link == link_kind::pcie ? links_->send({false, to.node}, link_kind::pcie, out, h.key)
                                       : links_->send({false, ingress_for(to.node, h.key)}, link_kind::zmq, out);
  if (!ok)
    lost(h, h.credit);
}

void node_host::send_completion(const wire::header& req, std::uint64_t credit, std::uint8_t flags, bytes_view payload,
                                std::int64_t done_ns) {
  wire::header c;
  c.type = wire::frame_type::completion;
  c.flags = flags;
  c.app = req.app;
  c.dag_node = ~0u;
  c.src_node = self_;
  c.src_instance = req.dag_node;
  c.request_id = req.request_id;
  c.key = req.key;
  c.credit = credit;
  c.client_sent_ns = req.client_sent_ns;
  c.sent_ns = done_ns;
  c.hops = req.hops;
  std::vector<std::uint8_t> out;
  wire::encode(c, payload, out);
  links_->send({true, client_of(req.request_id)}, link_kind::zmq, out);  // a failure is counted by the link
}

void node_host::lost(const wire::header& h, std::uint64_t credit) {
  send_completion(h, credit, wire::flag_lost, {}, clock_.now_ns());
}

node_totals node_host::totals() const {
  node_totals t;
  t.node = self_;
  t.busy_ns = cores_.busy_ns();
  t.handled = handled_.load();
  const auto& c = links_->counters();
  for (std::size_t k = 0; k < link_kind_count; ++k) {
    t.sent[k] = c.sent[k].load();
    t.received[k] = c.received[k].load();
  }
  t.sent[std::size_t(link_kind::local)] = local_sent_.load();
  t.received[std::size_t(link_kind::local)] = local_sent_.load();
  t.link_failed = c.failed.load();
  t.link_dropped = c.dropped.load();
  t.link_cut = c.cut.load();
  t.decode_errors = decode_stats_.total();
  t.undeliverable = undeliverable_.load();
  t.rejected = rejected_.load();
  t.lateness_count = lateness_.count();
  t.late = lateness_.late(opts_.lateness_threshold_ns);
  t.max_late_ns = lateness_.max_ns();
  t.tm_packets = tm_packets_.load();
  t.tm_max_backlog_ns = tm_.max_backlog_ns();
  t.restarts = restarts_.load();
  auto hops = local_hops();
  t.local_hops = hops.count();
  t.local_hop_p50_ns = hops.quantile(0.5);
  t.local_hop_p99_ns = hops.quantile(0.99);
  return t;
}

std::vector<instance_stats> node_host::instance_snapshot() const {
  std::vector<instance_stats> out;
  std::lock_guard g(actors_lock_);
  for (const auto& [id, c] : counters_) {
    instance_stats s;
    s.instance = id;
    s.kind = c->kind;
    s.node = self_;
    s.requests = c->requests.load();
    s.rejected = c->rejected.load();
    s.mean_exec_us = s.requests ? double(c->exec_ns.load()) / double(s.requests) / 1000.0 : 0;
    s.ema_exec_us = c->ema_us;
    s.restarts = c->restarts.load();
    out.push_back(s);
  }
  return out;
}

health_report node_host::make_health_report() {
  health_report r;
  r.node = self_;
  r.at_ns = clock_.now_ns();
  double interval = double(std::max<std::int64_t>(1, r.at_ns - last_report_ns_));
  auto busy = cores_.busy_ns();
  r.utilisation = double(busy - last_busy_ns_) / (interval * info().cores);
  last_busy_ns_ = busy;
  // Emulated head-of-line blocking (§2.4): services busy on a SmartNIC's cores contend with its
  // firmware for cache and memory bandwidth, which slows the traffic manager in proportion.
  if (info().kind == topo::node_kind::smartnic)
    tm_contention_.store(1.0 + opts_.tm_contention * std::clamp(r.utilisation, 0.0, 1.0));
  {
    std::lock_guard g(actors_lock_);
    for (auto& [id, c] : counters_) {
      instance_stats s;
      s.instance = id;
      s.kind = c->kind;
      s.node = self_;
      s.requests = c->requests.load();
      s.rejected = c->rejected.load();
      auto exec = c->exec_ns.load();
      auto dn = s.requests - c->last_requests;
      auto de = exec - c->last_exec_ns;
      s.last_exec_us = dn ? double(de) / double(dn) / 1000.0 : 0;
      s.interval_requests = dn;
      s.ema_prev_us = c->ema_us;
      if (dn)
        c->ema_us = c->ema_us == 0 ? s.last_exec_us : 0.8 * c->ema_us + 0.2 * s.last_exec_us;
      s.ema_exec_us = c->ema_us;
      s.mean_exec_us = s.requests ? double(exec) / double(s.requests) / 1000.0 : 0;
      s.cpu_share = double(de) / (interval * info().cores);
      s.restarts = c->restarts.load();
      c->last_requests = s.requests;
      c->last_exec_ns = exec;
      r.instances.push_back(s);
    }
  }
  r.tm_queue = std::uint64_t(double(std::max<std::int64_t>(0, tm_.backlog_ns(r.at_ns))) /
                            std::max(1.0, double(opts_.traffic_manager_ns) * tm_contention_.load()));
  const auto& c = links_->counters();
  std::uint64_t in = 0, out = 0;
  for (std::size_t k = 0; k < link_kind_count; ++k) {
    in += c.received_bytes[k].load();
    out += c.sent_bytes[k].load();
  }
  r.link_in_gbps = double(in - last_bytes_in_) * 8 / interval;
  r.link_out_gbps = double(out - last_bytes_out_) * 8 / interval;
  last_bytes_in_ = in;
  last_bytes_out_ = out;
  last_report_ns_ = r.at_ns;
  return r;
}

// --- the instance actor -------------------------------------------------------------------

namespace {

/// The context a handler runs in: it records what the handler asks for.
class instance_context final : public service_context {
 public:
  instance_context(state::collections& s, std::int64_t now) : state_(s), now_(now) {}
  void reply(bytes_view p) override { replies.emplace_back(p.begin(), p.end()); }
  void emit(std::uint64_t key, bytes_view p) override { emits.push_back({key, bytes(p.begin(), p.end())}); }
  void reject(std::string_view why) override { rejections.emplace_back(why); }
  state::collections& state() override { return state_; }
  std::int64_t now_ns() const override { return now_; }

  struct emitted {
    std::uint64_t key;
    bytes payload;
  };
  std::vector<bytes> replies;
  std::vector<emitted> emits;
  std::vector<std::string> rejections;

 private:
  state::collections& state_;
  std::int64_t now_;
};

/// An output held until the state it depends on is committed (group commit).
std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct pending_output {
  bool completion = false;     // to the client (else to an instance)
  std::int64_t wall_done_ns = 0;  // real time its handler finished
  wire::header h;              // its header (sent_ns = when its request finished)
  std::uint64_t credit = 0;    // completion: the credit it returns
  std::uint8_t flags = 0;      // completion: its flags
  bytes payload;
  route to;                    // instance: where it goes
};

struct instance_state {
  node_host* node = nullptr;
  std::uint32_t id = 0;
  std::unique_ptr<service> svc;
  std::function<std::unique_ptr<service>()> make;  // a fresh service of this instance's kind
  instance_counters* counters = nullptr;
  double factor = 1.0;       // emulated core time per CPU ns measured here
  double stack_ns = 0;       // the runtime stack's emulated time per message on this node
  bool stateful = false;     // outputs wait for the group commit
  bool flush_scheduled = false;
  std::int64_t last_end_ns = 0;
  std::vector<pending_output> pending;
  std::vector<route> dests;
  std::vector<std::uint64_t> credits;
};

/// Most messages one group commit covers.
constexpr std::size_t max_group = 64;

void release(instance_state& st, std::int64_t not_before) {
  auto& node = *st.node;
  for (auto& o : st.pending) {
    o.h.sent_ns = std::max(o.h.sent_ns, not_before);
    if (o.completion)
      node.send_completion(o.h, o.credit, o.flags, o.payload, o.h.sent_ns);
    else
      node.send_to_instance(o.h, o.payload, o.to, o.wall_done_ns);
  }
  st.pending.clear();
}

/// Writes the instance's changed state into its collections and commits them, then lets the
/// outputs of the messages handled since the last commit go (§3.5: acknowledged writes are
/// durable). The commit's CPU time is charged to an emulated core like any work.
void group_commit(instance_state& st) {
  auto& node = *st.node;
  st.flush_scheduled = false;
  instance_context ctx(node.collections(st.id), st.last_end_ns);
  cpu_stopwatch sw;
  try {
    st.svc->flush(ctx);
    ctx.state().commit();
  } catch (const std::exception&) {
    // The state could not be committed: nothing of this group may be acknowledged as done.
    for (auto& o : st.pending) {
      if (!o.completion)
        o.credit = o.h.credit;
      o.completion = true;
      o.flags = wire::flag_lost;
      o.payload.clear();
    }
  }
  auto ns = std::int64_t(double(sw.elapsed_ns()) * st.factor * node.slowdown());
  auto slot = node.cores().run(st.last_end_ns, ns);
  st.counters->exec_ns.fetch_add(slot.end_ns - slot.start_ns, std::memory_order_relaxed);
  release(st, slot.end_ns);
}

void run_message(instance_state& st, inbound& m) {
  auto& node = *st.node;
  if (m.wall_sent_ns)
    node.record_local_hop(wall_ns() - m.wall_sent_ns);
  node.lateness().record(m.arrival_ns, node.clock().now_ns());
  instance_context ctx(node.collections(st.id), m.arrival_ns);
  request req{m.h.request_id, m.h.key, m.payload};
  cpu_stopwatch sw;
  try {
    st.svc->handle(req, ctx);
  } catch (const std::exception& e) {
    ctx.rejections.emplace_back(std::string("service failed: ") + e.what());
  }
  auto cpu_ns = sw.elapsed_ns();
  // The emulated core's time: the stack's per-message work on this node's cores plus the
  // handler's measured CPU time scaled to them (see emulation.hpp).
  auto service_ns = std::int64_t((double(cpu_ns) * st.factor + st.stack_ns) * node.slowdown());
  auto slot = node.cores().run(m.arrival_ns, service_ns);
  st.last_end_ns = std::max(st.last_end_ns, slot.end_ns);
  st.counters->requests.fetch_add(1, std::memory_order_relaxed);
  st.counters->exec_ns.fetch_add(slot.end_ns - slot.start_ns, std::memory_order_relaxed);
  node.count_handled();

  // Where the outputs go.
  std::vector<std::pair<route, const instance_context::emitted*>> out;
  bool sink = node.with_router([&](const router* r) {
    if (!r)
      return true;
    for (const auto& e : ctx.emits) {
      st.dests.clear();
      r->destinations(st.id, e.key, m.h.request_id, st.dests);
      for (const auto& d : st.dests)
        out.emplace_back(d, &e);
    }
    return r->is_sink(st.id);
  });
  std::vector<const bytes*> replies;
  for (const auto& r : ctx.replies)
    replies.push_back(&r);
  if (sink)
    for (const auto& e : ctx.emits)
      replies.push_back(&e.payload);
  std::size_t parts = out.size() + replies.size() + (ctx.rejections.empty() ? 0 : 1);
  if (!ctx.rejections.empty()) {
    st.counters->rejected.fetch_add(1, std::memory_order_relaxed);
    node.count_rejected();
  }
  wire::header h = m.h;
  if (h.hops.size() >= wire::max_hops)
    h.hops.erase(h.hops.begin());
  h.hops.push_back({node.id(), st.id, slot.end_ns});
  h.sent_ns = slot.end_ns;
  auto completion = [&](std::uint64_t credit, std::uint8_t flags, bytes payload) {
    pending_output o;
    o.completion = true;
    o.h = h;
    o.credit = credit;
    o.flags = flags;
    o.payload = std::move(payload);
    st.pending.push_back(std::move(o));
  };
  if (parts == 0) {  // the branch ends here without output (e.g. filtered)
    completion(m.h.credit, 0, {});
  } else {
    split_credit(m.h.credit, parts, st.credits);
    std::size_t k = 0;
    for (const auto& [dest, e] : out) {
      pending_output o;
      o.h = h;
      o.h.dag_node = dest.instance;
      o.h.src_node = node.id();
      o.h.src_instance = st.id;
      o.h.key = e->key;
      o.h.credit = st.credits[k++];
      o.payload = e->payload;
      o.to = dest;
      o.wall_done_ns = wall_ns();
      st.pending.push_back(std::move(o));
    }
    for (const auto* r : replies)
      completion(st.credits[k++], wire::flag_replied, *r);
    if (!ctx.rejections.empty()) {
      const auto& why = ctx.rejections.front();
      completion(st.credits[k++], wire::flag_error, bytes(why.begin(), why.end()));
    }
  }
  if (!st.stateful)
    release(st, 0);
}

}  // namespace

caf::actor spawn_instance(caf::actor_system& sys, node_host& node, std::uint32_t instance) {
  // The instance id is passed as a spawn argument: CAF 0.17 dereferences a null argument tuple
  // for function actors spawned without arguments (UBSan reports it).
  auto a = sys.spawn([&node](caf::stateful_actor<instance_state>* self, std::uint32_t instance) -> caf::behavior {
    auto& st = self->state;
    st.node = &node;
    st.id = instance;
    const auto* plan = node.plan();
    const auto& n = plan->dag.nodes[instance];
    const auto& kind = node.registry().at(n.kind);
    service_config cfg;
    cfg.shard = n.shard;
    cfg.shards = std::uint32_t(plan->app.services[n.service].shards);
    cfg.params = plan->app.services[n.service].params;
    st.make = [&kind, cfg] { return kind.make(cfg); };
    st.svc = st.make();
    st.counters = &node.counters(instance);
    st.counters->kind = n.kind;
    // This machine's core stands in for a 2.5 GHz Beefy core (see emulation.hpp).
    if (const auto* prof = topo::find_service_profile(n.kind))
      st.factor = prof->handler_slowdown(node.info().cores_type, node.info().clock_ghz);
    st.stack_ns = topo::stack_us(node.info().cores_type, node.info().clock_ghz) * 1000.0;
    // Start-up work is not charged to the emulated cores: on_start, and a first flush so that
    // a service that sizes its collections on its first flush does so now, not on a request.
    instance_context ctx(node.collections(instance), node.clock().now_ns());
    st.svc->on_start(ctx);
    st.svc->flush(ctx);
    ctx.state().commit();
    self->attach_functor([&node, instance, addr = self->address()](const caf::error&) {
      node.forget_instance_actor(instance, addr);
    });
    st.stateful = topo::find_service_profile(n.kind) && topo::find_service_profile(n.kind)->stateful;
    return {
        [self](inbound& m) {
          auto& s = self->state;
          run_message(s, m);
          if (!s.stateful)
            return;
          // Group commit: once the messages queued now are handled (a flush message queued
          // behind them), or every max_group messages.
          if (s.pending.size() >= max_group) {
            group_commit(s);
          } else if (!s.flush_scheduled) {
            s.flush_scheduled = true;
            self->send(self, flush_atom::value);
          }
        },
        [self](flush_atom) {
          if (self->state.flush_scheduled)
            group_commit(self->state);
        },
        // A backup taking over (durable store): a fresh service starts from the state its
        // primary replicated here.
        [self](promote_atom, std::uint32_t) {
          auto& s = self->state;
          s.svc = s.make();
          instance_context ctx(s.node->collections(s.id), s.node->clock().now_ns());
          s.svc->on_start(ctx);
          s.svc->flush(ctx);
          ctx.state().commit();
        },
        // Cold migration: everything handled so far is committed and its outputs sent, then
        // the actor ends (normally: its supervisor does not restart it).
        [self](stop_atom) {
          auto& s = self->state;
          if (s.stateful)
            group_commit(s);
          self->quit();
          return true;
        },
    };
  }, instance);
  auto& c = node.counters(instance);
  if (node.instance_started(instance))
    c.restarts.fetch_add(1, std::memory_order_relaxed);
  node.set_instance_actor(instance, a);
  return a;
}

// --- the orchestrator agent ---------------------------------------------------------------

namespace {

std::string child_name(std::uint32_t instance) { return "i" + std::to_string(instance); }

void start_instance(node_host& node, std::uint32_t i) {
  child_spec c;
  c.name = child_name(i);
  c.start = [&node, i](caf::actor_system& sys) { return spawn_instance(sys, node, i); };
  add_child(node.supervisor(), std::move(c));
}

}  // namespace

void start_local_instances(node_host& node) {
  auto local = node.with_router([](const router* r) { return r ? r->local_instances() : std::vector<std::uint32_t>{}; });
  for (auto i : local)
    start_instance(node, i);
}

caf::actor spawn_agent(caf::actor_system& sys, node_host& node) {
  return sys.spawn([&node](caf::event_based_actor* self, topo::node_id) -> caf::behavior {
    auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::nanoseconds(node.options().health_interval_ns) * node.clock().dilation());
    self->delayed_send(self, interval, tick_atom::value);
    return {
        [&node](deploy_atom, node_plan& plan) -> bool {
          node.install(std::move(plan));
          start_local_instances(node);
          return true;
        },
        [&node](promote_atom, std::uint32_t replica) { node.promote(replica); },
        [&node](deliver_atom, std::uint32_t instance, std::uint64_t key) { node.deliver_due(instance, key); },
        // --- the cold-migration steps this node performs (§3.4) ---
        [&node](kind_atom, const std::string& kind) { return node.up() && node.registry().find(kind) != nullptr; },
        [&node](hold_atom, std::uint32_t i) { node.hold(i); },
        [self, &node](stop_atom, std::uint32_t i) -> caf::result<bool> {
          auto a = node.actor_of(i);
          if (!a)
            return false;
          auto rp = self->make_response_promise<bool>();
          self->request(a, std::chrono::seconds(10), stop_atom::value)
              .then(
                  [rp, &node, i](bool) mutable {
                    remove_child(node.supervisor(), child_name(i));
                    rp.deliver(true);
                  },
                  [rp](caf::error&) mutable { rp.deliver(false); });
          return rp;
        },
        [&node](export_atom, std::uint32_t i) -> caf::result<std::string, std::uint64_t> {
          try {
            auto& c = node.collections(i);
            return {node.snapshot_of(i), std::uint64_t(c.entry_count())};
          } catch (const std::exception& e) {
            return caf::make_error(caf::sec::runtime_error, e.what());
          }
        },
        [&node](import_atom, std::uint32_t i, const std::string& snapshot) -> caf::result<std::uint64_t> {
          try {
            auto& c = node.collections(i);
            c.import_snapshot(snapshot);
            return mig::state_digest(node.snapshot_of(i));  // what this node now holds
          } catch (const std::exception& e) {
            return caf::make_error(caf::sec::runtime_error, e.what());
          }
        },
        [&node](start_atom, std::uint32_t i) {
          if (!node.up())
            return false;
          if (!node.actor_of(i)) {
            node.park(i);  // messages wait until the actor runs
            start_instance(node, i);
          }
          return true;
        },
        [&node](release_atom, std::uint32_t i, topo::node_id dest) { node.release_held(i, dest); },
        [&node](move_atom, std::uint32_t i, topo::node_id where) { node.move(i, where); },
        [&node](drop_atom, std::uint32_t i) { node.drop_state(i); },
        [&node](fail_atom, std::uint32_t i) { node.fail_held(i); },
        [self, &node, interval](tick_atom) {
          if (node.up())
            self->send(node.controller(), node.make_health_report());
          self->delayed_send(self, interval, tick_atom::value);
        },
    };
  }, node.id());
}

}  // namespace e3::rt
