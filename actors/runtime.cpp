// The emulated cluster: actor system, supervisor tree, resource controller, clients, faults.
#include <caf/all.hpp>

#include <filesystem>

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_set>
#include <thread>

#include "actors/messages.hpp"
#include "actors/node_host.hpp"
#include "actors/runtime.hpp"
#include "actors/supervisor.hpp"
#include "migration/migration.hpp"

namespace e3::rt {
namespace {

constexpr std::uint32_t client_bit = 0x80000000u;

// --- the resource controller ---------------------------------------------------------------

/// What the controller needs from the process it runs in.
struct controller_hooks {
  std::function<caf::actor(topo::node_id)> agent;                     ///< a node's agent, now
  std::function<void(std::uint32_t, topo::node_id)> route_changed;   ///< tell the clients
  std::function<std::int64_t()> emulated_now;                         ///< the emulated clock
  runtime_options opts;
};

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One cold migration the controller drives.
struct flight {
  mig::cold_migration m;
  migration_report report;
  caf::response_promise waiter;  // an operator's migrate request, if any
  bool has_waiter = false;
};

struct controller_state {
  const topo::cluster* cluster = nullptr;
  const controller_hooks* hooks = nullptr;
  std::unique_ptr<sched::cluster_view> view;
  std::optional<deployment> dep;
  std::vector<std::uint32_t> live;      // per primary: the instance serving its shard now
  std::vector<topo::node_id> location;  // per instance: where it runs now
  std::set<int> down_servers;
  std::map<topo::node_id, health_report> latest;
  std::optional<mig::orchestrator> orch;
  std::map<std::uint32_t, flight> flights;
  std::vector<migration_report> done;
  bool ticking = false;
};

using controller_actor = caf::stateful_actor<controller_state>;

void drive(controller_actor* self, std::uint32_t inst, const std::vector<mig::migration_action>& acts);

void finish_if_done(controller_actor* self, std::uint32_t inst) {
  auto& st = self->state;
  auto it = st.flights.find(inst);
  if (it == st.flights.end() || !it->second.m.finished())
    return;
  auto& f = it->second;
  const auto& res = f.m.result();
  f.report.outcome = std::string(mig::to_string(res.outcome));
  f.report.reason = res.reason;
  f.report.blackout_ms = double(res.blackout_ns) / 1e6;
  f.report.keys = res.state_entries;
  f.report.bytes = res.state_bytes;
  for (std::size_t k = 0; k < f.report.step_ms.size() && k < res.step_ns.size(); ++k)
    f.report.step_ms[k] = double(res.step_ns[k]) / 1e6;
  if (res.outcome == mig::migration_outcome::completed)
    st.location[inst] = f.m.plan().to;
  if (st.orch && f.report.trigger != "operator")
    st.orch->migration_finished(inst, res.outcome, st.hooks->emulated_now());
  st.done.push_back(f.report);
  if (f.has_waiter)
    f.waiter.deliver(f.report);
  st.flights.erase(it);
}

void feed(controller_actor* self, std::uint32_t inst, mig::migration_event ev) {
  auto& st = self->state;
  auto it = st.flights.find(inst);
  if (it == st.flights.end())
    return;
  auto acts = it->second.m.on_event(ev, wall_now_ns());
  drive(self, inst, acts);
  finish_if_done(self, inst);
}

mig::migration_event event(mig::event_kind k, topo::node_id n, std::string reason = {}) {
  mig::migration_event e;
  e.kind = k;
  e.node = n;
  e.reason = std::move(reason);
  return e;
}

void drive(controller_actor* self, std::uint32_t inst, const std::vector<mig::migration_action>& acts) {
  auto& st = self->state;
  const auto& hooks = *st.hooks;
  auto it = st.flights.find(inst);
  if (it == st.flights.end())
    return;
  auto plan = it->second.m.plan();
  constexpr auto step_timeout = std::chrono::seconds(30);
  for (const auto& a : acts) {
    auto agent = hooks.agent(a.node);
    auto node = a.node;
    switch (a.kind) {
      case mig::action_kind::push_kind:
        self->request(agent, step_timeout, kind_atom::value, plan.kind)
            .then([self, inst, node](bool ok) {
                    feed(self, inst, event(ok ? mig::event_kind::kind_ready : mig::event_kind::kind_refused, node,
                                           ok ? "" : "the node cannot run this kind now"));
                  },
                  [self, inst, node](caf::error& e) {
                    feed(self, inst, event(mig::event_kind::kind_refused, node, self->system().render(e)));
                  });
        break;
      case mig::action_kind::hold_requests:
        self->send(agent, hold_atom::value, inst);
        break;
      case mig::action_kind::stop_instance:
        self->request(agent, step_timeout, stop_atom::value, inst)
            .then([self, inst, node](bool ok) {
                    feed(self, inst, event(ok ? mig::event_kind::stopped : mig::event_kind::stop_failed, node,
                                           ok ? "" : "the instance was not running"));
                  },
                  [self, inst, node](caf::error& e) {
                    feed(self, inst, event(mig::event_kind::stop_failed, node, self->system().render(e)));
                  });
        break;
      case mig::action_kind::ship_state: {
        auto peer = a.peer;
        self->request(agent, step_timeout, export_atom::value, inst)
            .then(
                [self, inst, node, peer](std::string& snap, std::uint64_t entries) {
                  auto shipped = event(mig::event_kind::state_shipped, node);
                  shipped.bytes = snap.size();
                  shipped.digest = mig::state_digest(snap);
                  shipped.entries = entries;
                  auto bytes = snap.size();
                  feed(self, inst, shipped);
                  self->request(self->state.hooks->agent(peer), std::chrono::seconds(30), import_atom::value, inst,
                                std::move(snap))
                      .then(
                          [self, inst, peer, bytes](std::uint64_t digest) {
                            auto confirmed = event(mig::event_kind::state_confirmed, peer);
                            confirmed.bytes = bytes;
                            confirmed.digest = digest;
                            feed(self, inst, confirmed);
                          },
                          [self, inst, peer](caf::error& e) {
                            feed(self, inst, event(mig::event_kind::state_rejected, peer, self->system().render(e)));
                          });
                },
                [self, inst, node](caf::error& e) {
                  feed(self, inst, event(mig::event_kind::ship_failed, node, self->system().render(e)));
                });
        break;
      }
      case mig::action_kind::start_instance:
        self->request(agent, step_timeout, start_atom::value, inst)
            .then([self, inst, node](bool ok) {
                    feed(self, inst, event(ok ? mig::event_kind::started : mig::event_kind::start_failed, node,
                                           ok ? "" : "the node is down"));
                  },
                  [self, inst, node](caf::error& e) {
                    feed(self, inst, event(mig::event_kind::start_failed, node, self->system().render(e)));
                  });
        break;
      case mig::action_kind::release_requests:
        self->send(hooks.agent(plan.from), release_atom::value, inst, node);
        break;
      case mig::action_kind::update_routes:
        for (std::size_t n = 0; n < st.cluster->nodes().size(); ++n)
          if (auto ag = hooks.agent(topo::node_id(n)))
            self->send(ag, move_atom::value, inst, node);
        hooks.route_changed(inst, node);
        break;
      case mig::action_kind::drop_source_state:
      case mig::action_kind::discard_at_destination:
        self->send(agent, drop_atom::value, inst);
        break;
      case mig::action_kind::fail_requests:
        self->send(hooks.agent(plan.from), fail_atom::value, inst);
        break;
    }
  }
}

void start_migration(controller_actor* self, const mig::migration_plan& plan, std::string trigger,
                     std::int64_t decided_ns, caf::response_promise* waiter) {
  auto& st = self->state;
  const auto& d = *st.dep;
  flight f{mig::cold_migration(plan), {}, {}, false};
  f.report.instance = plan.instance;
  f.report.service = d.app.services[d.dag.nodes[plan.instance].service].name;
  f.report.kind = plan.kind;
  f.report.from = st.cluster->node(plan.from).name;
  f.report.to = st.cluster->node(plan.to).name;
  f.report.trigger = std::move(trigger);
  f.report.decided_at_ns = decided_ns;
  if (waiter) {
    f.waiter = *waiter;
    f.has_waiter = true;
  }
  auto [it, fresh] = st.flights.emplace(plan.instance, std::move(f));
  if (!fresh)
    return;
  drive(self, plan.instance, it->second.m.start(wall_now_ns()));
  if (!st.ticking) {  // timeouts need time to pass
    st.ticking = true;
    self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
  }
}

/// An agent's health report as the data-plane orchestrator reads it.
mig::node_report to_mig(const health_report& h, const topo::cluster& c) {
  mig::node_report r;
  r.node = h.node;
  r.at_ns = h.at_ns;
  r.tm_queue = std::uint32_t(std::min<std::uint64_t>(h.tm_queue, 0xffffffffu));
  r.link_in_gbps = h.link_in_gbps;
  r.link_out_gbps = h.link_out_gbps;
  r.capacity_gbps = c.node(h.node).network_gbps;
  r.utilisation = std::clamp(h.utilisation, 0.0, 1.0);
  for (const auto& i : h.instances) {
    mig::instance_report ir;
    ir.instance = i.instance;
    ir.kind = mig::kind_of(i.kind);
    ir.requests = std::uint32_t(std::min<std::uint64_t>(i.interval_requests, 0xffffffffu));
    ir.exec_us = i.last_exec_us;
    ir.ema_exec_us = i.ema_prev_us;
    ir.cpu_share = std::clamp(i.cpu_share, 0.0, 1.0);
    r.instances.push_back(ir);
  }
  return r;
}

caf::behavior controller(controller_actor* self, const topo::cluster* c, const controller_hooks* hooks) {
  self->state.cluster = c;
  self->state.hooks = hooks;
  self->state.view = std::make_unique<sched::cluster_view>(sched::cluster_view::empty(*c));
  return {
      // Places an app with HCM on the current view (the control-plane manager, §3.3).
      [self](place_atom, const sched::app_spec& app) -> caf::result<deployment> {
        auto& st = self->state;
        try {
          deployment d;
          d.app = app;
          d.dag = sched::expand(app);
          sched::constraints cons;
          cons.pack_smartnics = st.hooks->opts.pack_smartnics;
          d.placement = sched::hcm_place(d.dag, *st.view, cons);
          st.live.resize(d.dag.primaries);
          for (std::uint32_t i = 0; i < d.dag.primaries; ++i)
            st.live[i] = i;
          st.location = d.placement.node_of;
          // The data-plane orchestrator starts from the view HCM left. Its time constants are
          // in report intervals (§3.4's 50 ms): dwell 100, cool-down 200, settle 20.
          mig::orchestrator_config oc;
          auto iv = st.hooks->opts.health_interval_ns;
          oc.hysteresis.min_dwell_ns = 100 * iv;
          oc.hysteresis.cooldown_ns = 200 * iv;
          oc.hysteresis.node_settle_ns = 20 * iv;
          st.orch.emplace(*st.cluster, *st.view, oc);
          st.orch->add_app(d.dag, d.placement, st.hooks->emulated_now() - oc.hysteresis.min_dwell_ns);
          for (const auto& n : d.dag.nodes)
            if (const auto* p = topo::find_service_profile(n.kind); p && p->host_only)
              st.orch->set_migratable(n.id, false);  // SQL's engine cannot move (§4)
          st.dep = d;
          return d;
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, e.what());
        }
      },
      // An orchestrator agent's health report; with the orchestrator on, it may decide a
      // migration (§3.4).
      [self](health_report& r) {
        auto& st = self->state;
        if (st.orch && st.hooks->opts.orchestrator) {
          if (auto d = st.orch->on_report(to_mig(r, *st.cluster)))
            start_migration(self, st.orch->plan(*d), std::string(mig::to_string(d->why)), d->at_ns, nullptr);
        }
        st.latest[r.node] = std::move(r);
      },
      [self](health_atom) {
        std::vector<health_report> out;
        for (const auto& [_, r] : self->state.latest)
          out.push_back(r);
        return out;
      },
      [self](tick_atom) {
        auto& st = self->state;
        std::vector<std::uint32_t> ids;
        for (const auto& [i, _] : st.flights)
          ids.push_back(i);
        for (auto i : ids) {
          auto it = st.flights.find(i);
          if (it == st.flights.end())
            continue;
          drive(self, i, it->second.m.on_tick(wall_now_ns()));
          finish_if_done(self, i);
        }
        st.ticking = !st.flights.empty();
        if (st.ticking)
          self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
      },
      // An operator's migration: the same protocol, started by hand.
      [self](migrate_atom, std::uint32_t inst, topo::node_id to) -> caf::result<migration_report> {
        auto& st = self->state;
        if (!st.dep || inst >= st.dep->dag.nodes.size())
          return caf::make_error(caf::sec::runtime_error, "no instance " + std::to_string(inst));
        if (to >= st.cluster->nodes().size())
          return caf::make_error(caf::sec::runtime_error, "no node " + std::to_string(to));
        if (st.flights.count(inst))
          return caf::make_error(caf::sec::runtime_error, "instance " + std::to_string(inst) + " is migrating");
        mig::migration_plan plan{inst, st.dep->dag.nodes[inst].kind, st.location[inst], to};
        auto rp = self->make_response_promise();
        start_migration(self, plan, "operator", st.hooks->emulated_now(), &rp);
        return caf::delegated<migration_report>();
      },
      [self](migrations_atom) { return self->state.done; },
      // The failover manager: a server went down; every shard it served moves to a backup on
      // a live server (§3.5). Returns the promoted backups.
      [self](down_atom, int server) {
        auto& st = self->state;
        st.down_servers.insert(server);
        std::vector<std::uint32_t> promoted;
        if (!st.dep)
          return promoted;
        const auto& d = *st.dep;
        for (std::uint32_t p = 0; p < d.dag.primaries; ++p) {
          auto serving = st.live[p];
          if (st.cluster->node(st.location[serving]).server != server)
            continue;
          for (auto r : d.dag.replicas[p]) {
            if (r != serving && !st.down_servers.count(st.cluster->node(st.location[r]).server)) {
              st.live[p] = r;
              promoted.push_back(r);
              break;
            }
          }
        }
        for (const auto& srv : std::vector<int>{server})
          for (const auto& n : st.cluster->nodes())
            if (n.server == srv && st.orch)
              st.orch->set_node_up(n.id, false);
        return promoted;
      },
  };
}

}  // namespace

// --- clients -------------------------------------------------------------------------------

class client_impl final : public client {
 public:
  client_impl(const topo::cluster& c, const deployment& d, const directory& dir, std::uint32_t id,
              const dilation_clock& clock, const std::vector<std::uint32_t>& promoted)
      : cluster_(c), router_(cluster_, d.app, d.dag, d.placement.node_of, 0), id_(id), clock_(clock) {
    for (auto r : promoted)
      router_.promote(r);
    links_ = std::make_unique<node_links>(cluster_, dir, id, true,
                                          [this](std::span<const std::uint8_t> b, link_kind) { on_frame(b); });
  }
  ~client_impl() override {
    links_->stop();
    if (on_close_)
      on_close_(this);
  }
  /// Called when the client goes away (the runtime forgets it).
  std::function<void(client_impl*)> on_close_;

  node_links& links() { return *links_; }

  /// Failover: requests for the backup's shard go to it from now on (the traffic control role).
  void promote(std::uint32_t replica) {
    std::lock_guard g(lock_);
    router_.promote(replica);
  }
  /// Migration: requests for `instance` go to `node` from now on, once those already sent to
  /// its old place are done (a fence keeps the order per key).
  void move(std::uint32_t instance, topo::node_id node) {
    std::lock_guard g(lock_);
    router_.move(instance, node);
    fence f;
    for (const auto& [rid, inst] : entry_of_)
      if (inst == instance)
        f.waiting.insert(rid);
    if (!f.waiting.empty())
      fences_[instance] = std::move(f);
  }

  std::uint64_t send(std::size_t entry, std::uint64_t key, bytes_view payload, std::int64_t at_ns) override {
    if (at_ns == 0)
      at_ns = clock_.now_ns();
    outgoing o;
    {
      std::lock_guard g(lock_);
      o.instance = router_.entry_instance(entry, key);
      o.node = router_.node_of(o.instance);  // decided with the fence check, under one lock
      o.rid = (std::uint64_t(id_) << 48) | ++seq_;
      tracker_.sent(o.rid, at_ns);
      entry_of_[o.rid] = o.instance;
      o.key = key;
      o.at_ns = at_ns;
      o.payload.assign(payload.begin(), payload.end());
      // The instance moved while requests sent to its old place were in flight: new ones wait
      // until those are done, so no request overtakes an older one of the same key.
      if (auto f = fences_.find(o.instance); f != fences_.end()) {
        f->second.queued.push_back(std::move(o));
        return (std::uint64_t(id_) << 48) | seq_;
      }
    }
    return transmit(o) ? o.rid : 0;
  }

  std::size_t drain(std::vector<completion>& out) override {
    std::lock_guard g(lock_);
    std::size_t n = done_.size();
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
    return n;
  }
  std::size_t outstanding() const override {
    std::lock_guard g(lock_);
    return tracker_.outstanding();
  }
  std::size_t expire(std::int64_t timeout_ns) override {
    std::vector<std::uint32_t> lifted;
    std::size_t n;
    {
      std::lock_guard g(lock_);
      n = tracker_.expire(clock_.now_ns() - timeout_ns);
      if (n && tracker_.outstanding() == 0) {
        replies_.clear();
        entry_of_.clear();
        for (auto& [inst, f] : fences_) {  // nothing is in flight any more: what waited may go
          f.waiting.clear();
          lifted.push_back(inst);
        }
      }
    }
    for (auto inst : lifted)
      drain_fence(inst);
    return n;
  }
  std::uint64_t lost() const override {
    std::lock_guard g(lock_);
    return tracker_.lost() + lost_;
  }
  std::uint64_t refused() const override {
    std::lock_guard g(lock_);
    return refused_;
  }

 private:
  struct outgoing {
    std::uint64_t rid = 0;
    std::uint32_t instance = 0;
    topo::node_id node = 0;  // where to send it
    std::uint64_t key = 0;
    std::int64_t at_ns = 0;
    bytes payload;
  };
  struct fence {
    std::unordered_set<std::uint64_t> waiting;  // requests sent to the old place, not done yet
    std::vector<outgoing> queued;               // requests held until they are
  };

  // Sends one request through the ToR's ECMP hash to where its instance runs now.
  bool transmit(const outgoing& o) {
    auto node = o.node;
    const auto& dn = cluster_.node(node);
    topo::node_id ingress = node;
    if (dn.kind == topo::node_kind::host && !cluster_.servers()[std::size_t(dn.server)].smartnics.empty()) {
      int port = cluster_.ingress_port(dn.ip, topo::flow_hash(0xc0a80000u | id_, dn.ip, std::uint16_t(o.key), 5000, 17));
      if (port >= 0)
        ingress = cluster_.ports()[std::size_t(port)].owner;
    }
    wire::header h;
    h.type = wire::frame_type::request;
    h.dag_node = o.instance;
    h.src_node = client_bit | id_;
    h.src_instance = ~0u;
    h.request_id = o.rid;
    h.key = o.key;
    h.credit = full_credit;
    h.client_sent_ns = o.at_ns;
    h.sent_ns = o.at_ns;
    std::vector<std::uint8_t> out;
    wire::encode(h, o.payload, out);
    if (links_->send({false, ingress}, link_kind::zmq, out))
      return true;
    std::lock_guard g(lock_);
    tracker_.completed(o.rid, full_credit, o.at_ns, false, false, true);
    replies_.erase(o.rid);
    entry_of_.erase(o.rid);
    ++refused_;
    return false;
  }

  // A request finished (lock held): returns the instance whose fence it lifted, if any.
  std::optional<std::uint32_t> finished(std::uint64_t rid) {
    auto e = entry_of_.find(rid);
    if (e == entry_of_.end())
      return std::nullopt;
    auto inst = e->second;
    entry_of_.erase(e);
    auto f = fences_.find(inst);
    if (f == fences_.end() || !f->second.waiting.erase(rid) || !f->second.waiting.empty())
      return std::nullopt;
    return inst;
  }

  // Sends what waited behind a lifted fence, in order; requests sent meanwhile queue behind
  // them, so the fence goes only once its queue is empty (under the lock).
  void drain_fence(std::uint32_t inst) {
    while (true) {
      std::vector<outgoing> batch;
      {
        std::lock_guard g(lock_);
        auto f = fences_.find(inst);
        if (f == fences_.end())
          return;
        if (f->second.queued.empty()) {
          fences_.erase(f);
          return;
        }
        batch = std::move(f->second.queued);
        f->second.queued.clear();
        for (auto& o : batch)
          o.node = router_.node_of(o.instance);  // the new place
      }
      for (const auto& o : batch)
        transmit(o);
    }
  }

  void on_frame(std::span<const std::uint8_t> b) {
    auto f = wire::decode(b, nullptr, &decode_stats_);
    if (!f || f->h.type != wire::frame_type::completion)
      return;
    const auto& h = f->h;
    double lat = cluster_.client_one_way_latency_us(h.src_node < cluster_.nodes().size() ? h.src_node : 0);
    auto done = h.sent_ns + std::int64_t(lat * 1000);
    std::optional<std::uint32_t> lifted;
    std::unique_lock g(lock_);
    if ((h.flags & wire::flag_replied) && !f->payload.empty() && !replies_.count(h.request_id))
      replies_[h.request_id].assign(f->payload.begin(), f->payload.end());
    auto d = tracker_.completed(h.request_id, h.credit, done, h.flags & wire::flag_error, h.flags & wire::flag_replied,
                                h.flags & wire::flag_lost);
    if (d) {
      if (d->lost)
        ++lost_;
      bytes reply;
      if (auto r = replies_.find(d->id); r != replies_.end()) {
        reply = std::move(r->second);
        replies_.erase(r);
      }
      done_.push_back({d->id, d->latency_ns, d->error, d->lost, std::move(reply), h.src_node});
      lifted = finished(d->id);
    }
    g.unlock();
    if (lifted)
      drain_fence(*lifted);
  }

  topo::cluster cluster_;
  router router_;
  std::uint32_t id_;
  dilation_clock clock_;
  std::unique_ptr<node_links> links_;
  mutable std::mutex lock_;
  completion_tracker tracker_;
  std::vector<completion> done_;
  std::unordered_map<std::uint64_t, bytes> replies_;
  std::unordered_map<std::uint64_t, std::uint32_t> entry_of_;  // outstanding request -> entry instance
  std::map<std::uint32_t, fence> fences_;
  std::uint64_t seq_ = 0, refused_ = 0, lost_ = 0;
  wire::decode_stats decode_stats_;
};

// --- the runtime -----------------------------------------------------------------------------

struct cluster_runtime::impl {
  runtime_options opts;
  const service_registry& registry;
  topo::cluster cluster;
  dilation_clock clock;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  directory dir;
  std::vector<std::unique_ptr<node_host>> nodes;
  caf::actor controller;
  controller_hooks hooks;
  caf::actor top;
  std::optional<deployment> dep;

  mutable std::mutex lock;  // guards the handles below and events
  std::vector<caf::actor> rack_sup, server_sup, agents;
  std::vector<char> node_started;
  std::vector<std::string> events;
  std::vector<std::uint32_t> promoted;   // every backup promoted so far
  std::set<client_impl*> live_clients;   // to tell them of promotions
  std::uint32_t clients = 0;
  bool stopped = false;

  impl(const runtime_options& o, const service_registry& r)
      : opts(o), registry(r), cluster(topo::cluster::preset(o.cluster)),
        clock(dilation_clock::wall::now(), o.dilation) {
    if (opts.run_id.empty())
      opts.run_id = "e3-" + std::to_string(::getpid()) + "-" + std::to_string(std::uintptr_t(this) & 0xffff);
    cfg.set("scheduler.max-threads", std::size_t(std::max(1u, opts.caf_threads)));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    add_supervisor_error_category(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  void record(const supervisor_event& e) {
    std::lock_guard g(lock);
    events.push_back(to_string(e));
  }

  supervisor_spec sup_spec(std::string name, restart_strategy s) {
    supervisor_spec spec;
    spec.name = std::move(name);
    spec.strategy = s;
    spec.limits = {opts.restart_intensity, opts.restart_period};
    spec.on_event = [this](const supervisor_event& e) { record(e); };
    return spec;
  }

  child_spec node_child(topo::node_id n) {
    child_spec c;
    c.name = "node" + std::to_string(n);
    c.shutdown = shutdown_infinity;  // a nested supervisor stops its subtree first
    c.start = [this, n](caf::actor_system& s) {
      auto& node = *nodes[n];
      bool restart;
      {
        std::lock_guard g(lock);
        restart = node_started[n];
        node_started[n] = 1;
      }
      if (restart) {  // a crashed node lost what it held in memory
        node.lose_state();
        node.count_restart();
      }
      auto spec = sup_spec("node" + std::to_string(n), restart_strategy::one_for_one);
      child_spec agent;
      agent.name = "agent";
      agent.start = [this, n](caf::actor_system& s2) {
        auto a = spawn_agent(s2, *nodes[n]);
        nodes[n]->set_agent(a);
        std::lock_guard g(lock);
        agents[n] = a;
        return a;
      };
      spec.children.push_back(std::move(agent));
      auto sup = spawn_supervisor(s, std::move(spec));
      node.set_supervisor(sup);
      if (node.plan())
        start_local_instances(node);
      return sup;
    };
    return c;
  }

  child_spec server_child(int s) {
    child_spec c;
    c.name = "server" + std::to_string(s);
    c.shutdown = shutdown_infinity;
    c.start = [this, s](caf::actor_system& sy) {
      auto spec = sup_spec("server" + std::to_string(s), restart_strategy::one_for_one);
      const auto& srv = cluster.servers()[std::size_t(s)];
      for (auto nic : srv.smartnics)
        spec.children.push_back(node_child(nic));
      spec.children.push_back(node_child(srv.host));
      for (auto nic : srv.smartnics)
        nodes[nic]->set_up(true);
      nodes[srv.host]->set_up(true);
      auto a = spawn_supervisor(sy, std::move(spec));
      std::lock_guard g(lock);
      server_sup[std::size_t(s)] = a;
      return a;
    };
    return c;
  }

  child_spec rack_child(int r) {
    child_spec c;
    c.name = "rack" + std::to_string(r);
    c.shutdown = shutdown_infinity;
    c.start = [this, r](caf::actor_system& sy) {
      auto spec = sup_spec("rack" + std::to_string(r), restart_strategy::one_for_one);
      for (int s : cluster.racks()[std::size_t(r)].servers)
        spec.children.push_back(server_child(s));
      auto a = spawn_supervisor(sy, std::move(spec));
      std::lock_guard g(lock);
      rack_sup[std::size_t(r)] = a;
      return a;
    };
    return c;
  }

  void start() {
    // Links first: hosts create their PCIe segments before their SmartNICs attach.
    dir.zmq.resize(cluster.nodes().size());
    for (const auto& n : cluster.nodes()) {
      bool network = n.kind == topo::node_kind::smartnic ||
                     cluster.servers()[std::size_t(n.server)].smartnics.empty();
      dir.zmq[n.id] = network ? "tcp://127.0.0.1:*" : "";
    }
    for (const auto& s : cluster.servers())
      dir.pcie_prefix.push_back("/" + opts.run_id + "-s" + std::to_string(s.id));
    nodes.resize(cluster.nodes().size());
    for (const auto& s : cluster.servers())
      nodes[s.host] = std::make_unique<node_host>(cluster, s.host, opts, registry, clock, dir);
    for (const auto& s : cluster.servers())
      for (auto nic : s.smartnics)
        nodes[nic] = std::make_unique<node_host>(cluster, nic, opts, registry, clock, dir);
    for (const auto& n : cluster.nodes())
      if (!dir.zmq[n.id].empty())
        dir.zmq[n.id] = nodes[n.id]->links().bound();
    for (auto& n : nodes)
      n->links().set_directory(dir);
    if (!opts.state_dir.empty()) {
      // One durable store per node, in a folder named after it (r0/s1/nic0 -> r0-s1-nic0).
      std::filesystem::create_directories(opts.state_dir);
      for (auto& n : nodes) {
        auto name = cluster.node(n->id()).name;
        std::replace(name.begin(), name.end(), '/', '-');
        n->open_store((std::filesystem::path(opts.state_dir) / name).string(), [this](topo::node_id p) {
          return p < nodes.size() ? nodes[p].get() : nullptr;
        });
      }
    }

    hooks.opts = opts;
    hooks.agent = [this](topo::node_id n) { return agent_of(n); };
    hooks.route_changed = [this](std::uint32_t i, topo::node_id n) {
      std::lock_guard g(lock);
      for (auto* c : live_clients)
        c->move(i, n);
    };
    hooks.emulated_now = [this] { return clock.now_ns(); };
    controller = sys->spawn(e3::rt::controller, &cluster, &hooks);
    for (auto& n : nodes)
      n->set_controller(controller);
    rack_sup.resize(cluster.racks().size());
    server_sup.resize(cluster.servers().size());
    agents.resize(cluster.nodes().size());
    node_started.assign(cluster.nodes().size(), 0);
    auto spec = sup_spec("cluster", restart_strategy::one_for_one);
    for (const auto& r : cluster.racks())
      spec.children.push_back(rack_child(r.id));
    top = spawn_supervisor(*sys, std::move(spec));
    // The tree starts asynchronously: wait until every node's agent runs.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      while (!agent_of(topo::node_id(n))) {
        if (std::chrono::steady_clock::now() > deadline)
          throw std::runtime_error("node " + std::to_string(n) + "'s agent did not start");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }

  caf::actor agent_of(topo::node_id n) {
    std::lock_guard g(lock);
    return agents[n];
  }

  void broadcast_promote(const std::vector<std::uint32_t>& now) {
    {
      std::lock_guard g(lock);
      promoted.insert(promoted.end(), now.begin(), now.end());
      for (auto* c : live_clients)
        for (auto r : now)
          c->promote(r);
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      for (auto r : now) {
        nodes[n]->promote(r);  // the node's table changes now; its agent hears it too
        if (auto a = agent_of(topo::node_id(n)))
          caf::anon_send(a, promote_atom::value, r);
      }
    }
  }
};

cluster_runtime::cluster_runtime(const runtime_options& opts, const service_registry& registry)
    : impl_(std::make_unique<impl>(opts, registry)) {
  impl_->start();
}

cluster_runtime::~cluster_runtime() { stop(); }

void cluster_runtime::stop() {
  auto& m = *impl_;
  if (m.stopped)
    return;
  m.stopped = true;
  for (auto& n : m.nodes)
    n->links().stop();
  caf::anon_send_exit(m.top, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(m.controller, caf::exit_reason::user_shutdown);
  m.sys->await_all_actors_done();
  m.nodes.clear();
}

const deployment& cluster_runtime::deploy(const sched::app_spec& app) {
  auto& m = *impl_;
  if (m.dep)
    throw std::logic_error("cluster_runtime: one app per runtime");
  for (const auto& s : app.services)
    m.registry.at(s.kind);  // throws unknown_kind naming the kind
  caf::scoped_actor self{*m.sys};
  std::optional<deployment> d;
  std::string failure;
  self->request(m.controller, caf::infinite, place_atom::value, app)
      .receive([&](deployment& x) { d = std::move(x); },
               [&](caf::error& e) { failure = m.sys->render(e); });
  if (!d)
    throw sched::placement_error("cannot place " + app.name + ": " + failure);
  m.dep = std::move(d);
  for (std::size_t n = 0; n < m.nodes.size(); ++n) {
    node_plan plan{m.dep->app, m.dep->dag, m.dep->placement.node_of};
    self->request(m.agent_of(topo::node_id(n)), std::chrono::seconds(10), deploy_atom::value, std::move(plan))
        .receive([](bool) {}, [&](caf::error& e) { failure = m.sys->render(e); });
  }
  // Wait until every instance actor runs (the agents add them to their supervisors).
  std::vector<std::size_t> want(m.nodes.size(), 0);
  for (auto node : m.dep->placement.node_of)
    ++want[node];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (std::size_t n = 0; n < m.nodes.size(); ++n)
    while (m.nodes[n]->running_instances() < want[n] && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!failure.empty())
    throw std::runtime_error("deployment failed: " + failure);
  return *m.dep;
}

std::unique_ptr<client> cluster_runtime::connect_client() {
  auto& m = *impl_;
  if (!m.dep)
    throw std::logic_error("cluster_runtime: deploy an app before connecting clients");
  std::uint32_t id;
  {
    std::lock_guard g(m.lock);
    id = m.clients++;
  }
  m.dir.clients.resize(id + 1);
  m.dir.clients[id] = "tcp://127.0.0.1:*";
  std::vector<std::uint32_t> promoted;
  {
    std::lock_guard g(m.lock);
    promoted = m.promoted;
  }
  auto c = std::make_unique<client_impl>(m.cluster, *m.dep, m.dir, id, m.clock, promoted);
  {
    std::lock_guard g(m.lock);
    m.live_clients.insert(c.get());
  }
  c->on_close_ = [&m](client_impl* self) {
    std::lock_guard g(m.lock);
    m.live_clients.erase(self);
  };
  m.dir.clients[id] = c->links().bound();
  for (auto& n : m.nodes)
    n->links().set_directory(m.dir);
  c->links().set_directory(m.dir);
  return c;
}

void cluster_runtime::inject(const fault& f) {
  auto& m = *impl_;
  auto check_node = [&](std::uint32_t n) {
    if (n >= m.nodes.size())
      throw std::invalid_argument("fault: no node " + std::to_string(n));
  };
  auto check_server = [&](std::uint32_t s) {
    if (s >= m.cluster.servers().size())
      throw std::invalid_argument("fault: no server " + std::to_string(s));
  };
  switch (f.what) {
    case fault::kind::kill_instance: {
      if (!m.dep || f.a >= m.dep->dag.nodes.size())
        throw std::invalid_argument("fault: no instance " + std::to_string(f.a));
      auto node = m.nodes[0]->with_router([&](const router* r) { return r->node_of(f.a); });
      kill_child(m.nodes[node]->supervisor(), "i" + std::to_string(f.a));
      break;
    }
    case fault::kind::crash_node: {
      check_node(f.a);
      auto s = m.cluster.node(f.a).server;
      caf::actor sup;
      {
        std::lock_guard g(m.lock);
        sup = m.server_sup[std::size_t(s)];
      }
      kill_child(sup, "node" + std::to_string(f.a));
      break;
    }
    case fault::kind::power_off:
    case fault::kind::power_on: {
      check_server(f.a);
      const auto& srv = m.cluster.servers()[f.a];
      caf::actor rack;
      {
        std::lock_guard g(m.lock);
        rack = m.rack_sup[std::size_t(srv.rack)];
      }
      if (f.what == fault::kind::power_off) {
        for (auto nic : srv.smartnics)
          m.nodes[nic]->set_up(false);
        m.nodes[srv.host]->set_up(false);
        stop_child(rack, "server" + std::to_string(f.a));
        caf::scoped_actor self{*m.sys};
        std::vector<std::uint32_t> promoted;
        self->request(m.controller, caf::infinite, down_atom::value, int(f.a))
            .receive([&](std::vector<std::uint32_t>& p) { promoted = std::move(p); }, [](caf::error&) {});
        m.broadcast_promote(promoted);
      } else {
        start_child(rack, "server" + std::to_string(f.a));
      }
      break;
    }
    case fault::kind::cut_link:
    case fault::kind::restore_link:
      check_node(f.a);
      check_node(f.b);
      m.nodes[f.a]->links().set_cut(f.b, f.what == fault::kind::cut_link);
      m.nodes[f.b]->links().set_cut(f.a, f.what == fault::kind::cut_link);
      break;
    case fault::kind::slow_node:
      check_node(f.a);
      if (!(f.x >= 1.0))
        throw std::invalid_argument("fault: slow factor must be at least 1");
      m.nodes[f.a]->set_slowdown(f.x);
      break;
    case fault::kind::drop_share:
      check_node(f.a);
      if (!(f.x >= 0 && f.x <= 1))
        throw std::invalid_argument("fault: drop share must be in [0, 1]");
      m.nodes[f.a]->links().set_drop_share(f.x);
      break;
  }
}

migration_report cluster_runtime::migrate(std::uint32_t instance, topo::node_id to, std::chrono::milliseconds timeout) {
  auto& m = *impl_;
  caf::scoped_actor self{*m.sys};
  migration_report out;
  std::string failure;
  self->request(m.controller, timeout, migrate_atom::value, instance, to)
      .receive([&](migration_report& r) { out = std::move(r); }, [&](caf::error& e) { failure = m.sys->render(e); });
  if (!failure.empty())
    throw std::runtime_error("migration of instance " + std::to_string(instance) + ": " + failure);
  return out;
}

std::vector<migration_report> cluster_runtime::migrations() const {
  auto& m = *impl_;
  caf::scoped_actor self{*m.sys};
  std::vector<migration_report> out;
  self->request(m.controller, std::chrono::seconds(5), migrations_atom::value)
      .receive([&](std::vector<migration_report>& r) { out = std::move(r); }, [](caf::error&) {});
  return out;
}

std::string cluster_runtime::export_state(topo::node_id n, std::uint32_t instance) {
  if (n >= impl_->nodes.size())
    throw std::invalid_argument("no node " + std::to_string(n));
  return impl_->nodes[n]->snapshot_of(instance);
}

void cluster_runtime::inject_frame(topo::node_id n, bytes_view frame) {
  if (n >= impl_->nodes.size())
    throw std::invalid_argument("no node " + std::to_string(n));
  impl_->nodes[n]->on_frame(frame, link_kind::zmq);
}

std::vector<health_report> cluster_runtime::health() const {
  auto& m = *impl_;
  caf::scoped_actor self{*m.sys};
  std::vector<health_report> out;
  self->request(m.controller, std::chrono::seconds(5), health_atom::value)
      .receive([&](std::vector<health_report>& r) { out = std::move(r); }, [](caf::error&) {});
  return out;
}

std::vector<node_totals> cluster_runtime::totals() const {
  std::vector<node_totals> out;
  for (const auto& n : impl_->nodes)
    out.push_back(n->totals());
  return out;
}

std::vector<instance_stats> cluster_runtime::instances() const {
  std::vector<instance_stats> out;
  for (const auto& n : impl_->nodes) {
    auto v = n->instance_snapshot();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

const dilation_clock& cluster_runtime::clock() const { return impl_->clock; }

const topo::cluster& cluster_runtime::cluster() const { return impl_->cluster; }

std::vector<std::string> cluster_runtime::supervisor_events() const {
  std::lock_guard g(impl_->lock);
  return impl_->events;
}

}  // namespace e3::rt
