// The emulated cluster: actor system, supervisor tree, resource controller, clients, faults.
#include <caf/all.hpp>

#include <unistd.h>

#include <set>
#include <thread>

#include "actors/messages.hpp"
#include "actors/node_host.hpp"
#include "actors/runtime.hpp"
#include "actors/supervisor.hpp"

namespace e3::rt {
namespace {

constexpr std::uint32_t client_bit = 0x80000000u;

// --- the resource controller ---------------------------------------------------------------

struct controller_state {
  const topo::cluster* cluster = nullptr;
  std::unique_ptr<sched::cluster_view> view;
  std::optional<deployment> dep;
  std::vector<std::uint32_t> live;  // per primary: the instance serving its shard now
  std::set<int> down_servers;
  std::map<topo::node_id, health_report> latest;
};

caf::behavior controller(caf::stateful_actor<controller_state>* self, const topo::cluster* c) {
  self->state.cluster = c;
  self->state.view = std::make_unique<sched::cluster_view>(sched::cluster_view::empty(*c));
  return {
      // Places an app with HCM on the current view (the control-plane manager, §3.3).
      [self](place_atom, const sched::app_spec& app) -> caf::result<deployment> {
        auto& st = self->state;
        try {
          deployment d;
          d.app = app;
          d.dag = sched::expand(app);
          d.placement = sched::hcm_place(d.dag, *st.view);
          st.live.resize(d.dag.primaries);
          for (std::uint32_t i = 0; i < d.dag.primaries; ++i)
            st.live[i] = i;
          st.dep = d;
          return d;
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, e.what());
        }
      },
      // An orchestrator agent's health report.
      [self](health_report& r) { self->state.latest[r.node] = std::move(r); },
      [self](health_atom) {
        std::vector<health_report> out;
        for (const auto& [_, r] : self->state.latest)
          out.push_back(r);
        return out;
      },
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
          if (st.cluster->node(d.placement.node_of[serving]).server != server)
            continue;
          for (auto r : d.dag.replicas[p]) {
            if (r != serving && !st.down_servers.count(st.cluster->node(d.placement.node_of[r]).server)) {
              st.live[p] = r;
              promoted.push_back(r);
              break;
            }
          }
        }
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

  std::uint64_t send(std::size_t entry, std::uint64_t key, bytes_view payload, std::int64_t at_ns) override {
    if (at_ns == 0)
      at_ns = clock_.now_ns();
    std::uint32_t instance;
    topo::node_id node;
    {
      std::lock_guard g(lock_);
      instance = router_.entry_instance(entry, key);
      node = router_.node_of(instance);
    }
    // The ToR hashes the flow onto a port of the destination (ECMP for a host IP, §3.2).
    const auto& dn = cluster_.node(node);
    topo::node_id ingress = node;
    if (dn.kind == topo::node_kind::host && !cluster_.servers()[std::size_t(dn.server)].smartnics.empty()) {
      int port = cluster_.ingress_port(dn.ip, topo::flow_hash(0xc0a80000u | id_, dn.ip, std::uint16_t(key), 5000, 17));
      if (port >= 0)
        ingress = cluster_.ports()[std::size_t(port)].owner;
    }
    wire::header h;
    h.type = wire::frame_type::request;
    h.dag_node = instance;
    h.src_node = client_bit | id_;
    h.src_instance = ~0u;
    h.key = key;
    h.credit = full_credit;
    h.client_sent_ns = at_ns;
    h.sent_ns = at_ns;
    std::vector<std::uint8_t> out;
    std::uint64_t rid;
    {
      std::lock_guard g(lock_);
      rid = (std::uint64_t(id_) << 48) | ++seq_;
      h.request_id = rid;
      tracker_.sent(rid, at_ns);
    }
    wire::encode(h, payload, out);
    if (!links_->send({false, ingress}, link_kind::zmq, out)) {
      std::lock_guard g(lock_);
      tracker_.completed(rid, full_credit, at_ns, false, false, true);
      ++refused_;
      return 0;
    }
    return rid;
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
    std::lock_guard g(lock_);
    return tracker_.expire(clock_.now_ns() - timeout_ns);
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
  void on_frame(std::span<const std::uint8_t> b) {
    auto f = wire::decode(b, nullptr, &decode_stats_);
    if (!f || f->h.type != wire::frame_type::completion)
      return;
    const auto& h = f->h;
    double lat = cluster_.client_one_way_latency_us(h.src_node < cluster_.nodes().size() ? h.src_node : 0);
    auto done = h.sent_ns + std::int64_t(lat * 1000);
    std::lock_guard g(lock_);
    auto d = tracker_.completed(h.request_id, h.credit, done, h.flags & wire::flag_error, h.flags & wire::flag_replied,
                                h.flags & wire::flag_lost);
    if (d) {
      if (d->lost)
        ++lost_;
      done_.push_back({d->id, d->latency_ns, d->error, d->lost});
    }
  }

  topo::cluster cluster_;
  router router_;
  std::uint32_t id_;
  dilation_clock clock_;
  std::unique_ptr<node_links> links_;
  mutable std::mutex lock_;
  completion_tracker tracker_;
  std::vector<completion> done_;
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

    controller = sys->spawn(e3::rt::controller, &cluster);
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
