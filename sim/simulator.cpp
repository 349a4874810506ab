// The discrete-event cluster simulator.
#include "sim/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "scheduler/annealing.hpp"
#include "scheduler/ilp.hpp"
#include "sim/event_queue.hpp"
#include "sim/random.hpp"
#include "sim/routing.hpp"
#include "topology/core_queue.hpp"

namespace e3::sim {
namespace {

// What an event means (event::kind).
enum ev_kind : std::uint32_t {
  ev_client,         // a = app: a client sends one request
  ev_net_arrive,     // node = ingress SmartNIC, a = instance, b = request: through the traffic manager
  ev_node_arrive,    // node = where the message arrives, a = instance, b = request: execute it
  ev_hb_tick,        // node = SmartNIC: take a report, send a heartbeat
  ev_hb_net_arrive,  // node = the controller's ingress SmartNIC, b = heartbeat: through its traffic manager
  ev_hb_arrive,      // b = heartbeat: queue at the orchestrator
  ev_hb_decide,      // b = heartbeat: the orchestrator digests it
  ev_mig_event,      // b = pending migration event
  ev_fault,          // a = fault
  ev_window,         // a = 0: the measured window opens, 1: it closes
};

std::int64_t us_to_ns(double us) { return std::int64_t(us * 1000.0 + 0.5); }

constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kinds = 16;

struct request_rec {
  std::uint64_t id = 0;
  std::uint64_t key = 0;
  std::int64_t sent = 0;
  std::int64_t done = 0;
  std::uint32_t app = 0;
  std::uint32_t outstanding = 0;
  bool lost = false;
};

struct node_rec {
  topo::core_queue cores{1};
  topo::core_queue tm{1};
  double slowdown = 1.0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  // Heartbeat interval baseline.
  std::int64_t hb_at = 0, hb_done = 0;
  std::uint64_t hb_in = 0, hb_out = 0;
  std::uint16_t seq = 0;
  // Measured window.
  std::int64_t win_done0 = 0, win_done1 = 0, win_tm0 = 0, win_tm1 = 0;
  std::array<double, kinds> kind_busy{}, kind_busy0{}, kind_busy1{};
  std::vector<std::uint32_t> instances;  // ascending ids
};

struct instance_rec {
  std::uint32_t app = 0;
  std::uint32_t dag = 0;
  std::uint32_t service = 0;
  topo::node_id node = 0;
  mig::kind_id kind = mig::no_kind;
  double exec_ns = 0;     // mean execution time on its node (without faults)
  double bytes = 0;       // bytes of a message to it on a link
  double state_bytes = 0; // snapshot size
  std::int32_t mig = -1;  // active migration
  bool down = false;      // a failed migration left it running nowhere
  std::uint32_t iv_requests = 0;
  std::int64_t iv_exec_ns = 0;
  std::int64_t last_end = 0;
  mig::exec_ema ema{0.2};
};

struct channel {
  std::uint32_t id;
  std::uint32_t to;
  double share;
};

struct app_rec {
  sched::app_spec spec;
  sched::app_dag dag;
  sched::placement placement;
  load_spec load;
  std::uint32_t base = 0;
  std::vector<std::uint32_t> shards, first;
  std::vector<std::vector<channel>> out;
  rng random{1};
  std::uint64_t seq = 0;
  std::uint64_t generated = 0, completed = 0, lost = 0, measured = 0, sent_in_window = 0;
  histogram latency;
};

struct heartbeat_rec {
  std::array<std::uint8_t, mig::heartbeat_size> bytes{};
  std::int64_t sent = 0, arrived = 0, started = 0;
};

struct held {
  std::uint32_t req;
};

struct migration_rec {
  migration_record rec;
  mig::cold_migration machine;
  mig::request_buffer<held> buffer;
  std::uint32_t instance;
};

struct pending_event {
  std::uint32_t migration;
  mig::migration_event e;
};

struct fault_rec {
  topo::node_id node;
  double factor;
};

}  // namespace

std::string_view to_string(placer p) {
  switch (p) {
    case placer::hcm: return "hcm";
    case placer::sa: return "sa";
    case placer::ilp: return "ilp";
  }
  return "?";
}

struct simulator::impl {
  const topo::cluster& c;
  config cfg;
  sched::cluster_view view;
  topo::node_id ctrl;
  std::vector<node_rec> nodes;
  std::vector<instance_rec> inst;
  std::vector<app_rec> apps;
  std::vector<request_rec> reqs;
  std::vector<std::uint32_t> free_reqs;
  std::vector<heartbeat_rec> hbs;
  std::vector<std::uint32_t> free_hbs;
  std::vector<std::unique_ptr<migration_rec>> migs;
  std::vector<pending_event> pending;
  std::vector<std::uint32_t> free_pending;
  std::vector<fault_rec> faults;
  std::vector<std::int64_t> fault_at;
  event_queue q;
  rng service_rng;
  std::unique_ptr<mig::orchestrator> orch;
  topo::core_queue orch_q{1};
  results res;
  mig::node_report scratch;
  std::int64_t w0 = 0, w1 = 0;
  bool ran = false;
  double measured_ns_sum = 0;
  std::uint64_t measured_calls = 0;
  std::uint64_t hb_in_window = 0;

  impl(const topo::cluster& cl, config cf)
      : c(cl), cfg(std::move(cf)), view(sched::cluster_view::empty(cl)), service_rng(mix64(cfg.seed ^ 0x5e41ce)) {
    if (cfg.warmup_ns < 0 || cfg.measure_ns <= 0)
      throw std::invalid_argument("sim config: warmup must be >= 0 and the measured time > 0");
    if (cfg.heartbeat_interval_ns <= 0)
      throw std::invalid_argument("sim config: heartbeat interval must be > 0");
    if (cfg.traffic_manager_ns < 0 || cfg.orchestrator_ns_per_heartbeat < 0)
      throw std::invalid_argument("sim config: traffic manager and orchestrator costs must be >= 0");
    if (!(cfg.wire_overhead_bytes >= 0) || !(cfg.heartbeat_frame_bytes > 0))
      throw std::invalid_argument("sim config: wire overhead must be >= 0 and the heartbeat frame > 0");
    const auto& m = cfg.migration;
    if (!(m.export_bytes_per_s > 0) || !(m.import_bytes_per_s > 0) || !(m.pcie_gbps > 0) || m.state_bytes_per_mb < 0 ||
        m.push_kind_ns < 0 || m.stop_ns < 0 || m.start_ns < 0)
      throw std::invalid_argument("sim config: migration costs must be positive rates and non-negative times");
    mig::validate(cfg.orchestrator);
    if (c.nodes().empty() || c.servers().empty())
      throw std::invalid_argument("sim: the cluster has no nodes");
    ctrl = cfg.controller ? *cfg.controller : c.servers().front().host;
    if (ctrl >= c.nodes().size())
      throw std::invalid_argument("sim config: controller node " + std::to_string(ctrl) + " is not in the cluster");
    nodes.resize(c.nodes().size());
    for (const auto& n : c.nodes())
      nodes[n.id].cores = topo::core_queue(n.cores);
    w0 = cfg.warmup_ns;
    w1 = cfg.warmup_ns + cfg.measure_ns;
  }

  // --- the network ------------------------------------------------------------------------

  std::int64_t lat_ns(topo::node_id a, topo::node_id b) const { return us_to_ns(c.one_way_latency_us(a, b)); }
  std::int64_t ser_ns(double bytes, topo::node_id n) const {
    return std::int64_t(bytes * 8.0 / std::max(1.0, c.node(n).network_gbps));
  }
  bool is_nic(topo::node_id n) const { return c.node(n).kind == topo::node_kind::smartnic; }
  // The node a packet for `dest` enters through: a SmartNIC IP its own card; a host IP one of its
  // server's SmartNIC ports by ECMP (§3.2); a host without SmartNICs its own NIC.
  topo::node_id ingress_of(topo::node_id dest, std::uint64_t flow) const {
    const auto& d = c.node(dest);
    if (d.kind == topo::node_kind::smartnic || c.servers()[std::size_t(d.server)].smartnics.empty())
      return dest;
    int port = c.ingress_port(d.ip, flow);
    return port < 0 ? dest : c.ports()[std::size_t(port)].owner;
  }

  void push(std::int64_t at, std::uint32_t kind, std::uint32_t node, std::uint32_t a, std::uint32_t b) {
    q.push({at, 0, kind, node, a, b});
  }

  // A message for instance `i` leaves node `from` at `at` towards node `to` (where the sender
  // believes `i` runs), as the runtime's links carry it.
  void send_to(topo::node_id from, topo::node_id to, std::uint32_t i, std::uint32_t r, std::int64_t at,
               std::uint64_t flow) {
    auto k = c.path(from, to);
    ++res.messages_by_path[std::size_t(k)];
    double bytes = inst[i].bytes;
    if (k == topo::path_kind::local) {
      push(at + lat_ns(from, to), ev_node_arrive, to, i, r);
      return;
    }
    auto b = std::uint64_t(bytes);
    nodes[from].bytes_out += b;
    if (k == topo::path_kind::pcie) {
      nodes[to].bytes_in += b;
      push(at + lat_ns(from, to), ev_node_arrive, to, i, r);
      return;
    }
    auto in = ingress_of(to, flow);
    nodes[in].bytes_in += b;
    auto t = at + lat_ns(from, in) + ser_ns(bytes, in);
    enter(in, to, i, r, t);
  }

  // A packet for instance `i` (at node `to`) reaches the network port of node `in` at `t`.
  void enter(topo::node_id in, topo::node_id to, std::uint32_t i, std::uint32_t r, std::int64_t t) {
    if (!is_nic(in))
      push(t, ev_node_arrive, to, i, r);
    else if (cfg.tm_books_at_send)
      after_tm(in, i, r, nodes[in].tm.run(t, cfg.traffic_manager_ns).end_ns);
    else
      push(t, ev_net_arrive, in, i, r);
  }

  // --- requests ---------------------------------------------------------------------------

  std::uint32_t alloc_request() {
    if (!free_reqs.empty()) {
      auto r = free_reqs.back();
      free_reqs.pop_back();
      return r;
    }
    reqs.emplace_back();
    return std::uint32_t(reqs.size() - 1);
  }

  void client_send(std::uint32_t a, std::int64_t now) {
    auto& A = apps[a];
    auto r = alloc_request();
    auto& R = reqs[r];
    R.id = (std::uint64_t(A.load.client_id) << 48) | ++A.seq;
    R.key = A.random.next();
    R.sent = now;
    R.done = now;
    R.app = a;
    R.outstanding = 1;
    R.lost = false;
    ++A.generated;
    if (now >= w0 && now < w1)
      ++A.sent_in_window;
    auto svc = std::uint32_t(A.spec.entries[A.load.entry]);
    auto i = A.base + A.first[svc] + shard_of(R.key, A.shards[svc]);
    auto to = inst[i].node;
    const auto& d = c.node(to);
    topo::node_id in = to;
    if (d.kind == topo::node_kind::host && !c.servers()[std::size_t(d.server)].smartnics.empty()) {
      int port = c.ingress_port(d.ip, topo::flow_hash(0xc0a80000u | A.load.client_id, d.ip, std::uint16_t(R.key), 5000, 17));
      if (port >= 0)
        in = c.ports()[std::size_t(port)].owner;
    }
    nodes[in].bytes_in += std::uint64_t(inst[i].bytes);
    enter(in, to, i, r, now + us_to_ns(c.client_one_way_latency_us(in)) + ser_ns(inst[i].bytes, in));
    if (A.load.process == arrivals::open_poisson) {
      auto next = now + std::max<std::int64_t>(1, std::int64_t(A.random.exponential(1e9 / A.load.rate_rps)));
      if (next < w1)
        push(next, ev_client, 0, a, 0);
    }
  }

  void complete(std::uint32_t r, std::int64_t now) {
    auto& R = reqs[r];
    auto& A = apps[R.app];
    if (R.lost) {
      ++A.lost;
    } else {
      ++A.completed;
      if (R.done >= w0 && R.done < w1) {
        ++A.measured;
        A.latency.record(R.done - R.sent);
      }
    }
    if (A.load.process == arrivals::closed_loop) {
      auto at = std::max(R.done, now);
      if (at < w1)
        push(at, ev_client, 0, R.app, 0);
    }
    free_reqs.push_back(r);
  }

  void finish_branch(std::uint32_t r, std::int64_t done, std::int64_t now) {
    auto& R = reqs[r];
    R.done = std::max(R.done, done);
    if (--R.outstanding == 0)
      complete(r, now);
  }

  void lose_branch(std::uint32_t r, std::int64_t now) {
    reqs[r].lost = true;
    finish_branch(r, now, now);
  }

  // --- execution --------------------------------------------------------------------------

  void execute(topo::node_id n, std::uint32_t i, std::uint32_t r, std::int64_t now) {
    auto& N = nodes[n];
    auto& I = inst[i];
    double mean = I.exec_ns * N.slowdown;
    auto svc = cfg.service == service_distribution::exponential ? std::int64_t(service_rng.exponential(mean) + 0.5)
                                                                : std::int64_t(mean + 0.5);
    auto s = N.cores.run(now, svc);
    ++I.iv_requests;
    I.iv_exec_ns += svc;
    I.last_end = std::max(I.last_end, s.end_ns);
    if (I.kind < kinds)
      N.kind_busy[I.kind] += double(svc);
    // Outputs: every channel the request takes, to the shard its key picks.
    auto& A = apps[I.app];
    const auto& R = reqs[r];
    std::uint32_t sent = 0;
    for (const auto& ch : A.out[I.service]) {
      if (!takes_channel(R.id, ch.id, ch.share))
        continue;
      auto d = A.base + A.first[ch.to] + shard_of(R.key, A.shards[ch.to]);
      send_to(n, inst[d].node, d, r, s.end_ns, R.key);
      ++sent;
    }
    if (sent == 0)
      finish_branch(r, s.end_ns + us_to_ns(c.client_one_way_latency_us(n)), now);
    else
      reqs[r].outstanding += sent - 1;
  }

  void on_net_arrive(topo::node_id n, std::uint32_t i, std::uint32_t r, std::int64_t now) {
    after_tm(n, i, r, nodes[n].tm.run(now, cfg.traffic_manager_ns).end_ns);
  }

  // The traffic manager of SmartNIC `n` steered a packet for instance `i` at `done`: to a local
  // core, over PCIe to its host, or (a stale route) on to where the instance runs now.
  void after_tm(topo::node_id n, std::uint32_t i, std::uint32_t r, std::int64_t done) {
    auto to = inst[i].node;
    if (to == n) {
      push(done, ev_node_arrive, n, i, r);
    } else if (c.node(to).server == c.node(n).server && !is_nic(to)) {
      nodes[to].bytes_in += std::uint64_t(inst[i].bytes);
      ++res.messages_by_path[std::size_t(topo::path_kind::pcie)];
      push(done + lat_ns(n, to), ev_node_arrive, to, i, r);
    } else {
      ++res.forwarded;  // a stale route: the card forwards it to where the instance is now
      send_to(n, to, i, r, done, reqs[r].key);
    }
  }

  void on_node_arrive(topo::node_id n, std::uint32_t i, std::uint32_t r, std::int64_t now) {
    auto& I = inst[i];
    if (I.mig >= 0) {
      auto& M = *migs[std::size_t(I.mig)];
      if (n == M.machine.plan().from) {
        switch (M.buffer.offer(held{r})) {
          case mig::admit::deliver: break;
          case mig::admit::buffered:
            ++res.buffered;
            ++M.rec.buffered;
            return;
          case mig::admit::forward:
            ++res.forwarded;
            send_to(n, M.buffer.forward_to(), i, r, now, reqs[r].key);
            return;
          case mig::admit::overflow:
          case mig::admit::refused: lose_branch(r, now); return;
        }
      }
    }
    if (I.down) {
      lose_branch(r, now);
      return;
    }
    if (I.node != n) {
      ++res.forwarded;
      send_to(n, I.node, i, r, now, reqs[r].key);
      return;
    }
    execute(n, i, r, now);
  }

  // --- heartbeats and the orchestrator ---------------------------------------------------

  void on_tick(topo::node_id n, std::int64_t now) {
    auto& N = nodes[n];
    const auto& cn = c.node(n);
    double interval = double(std::max<std::int64_t>(1, now - N.hb_at));
    auto done = N.cores.busy_ns() - N.cores.booked_after(now);
    auto& r = scratch;
    r.node = n;
    r.at_ns = now;
    r.tm_queue = std::uint32_t(N.tm.backlog_ns(now) / std::max<std::int64_t>(1, cfg.traffic_manager_ns));
    r.link_in_gbps = double(N.bytes_in - N.hb_in) * 8 / interval;
    r.link_out_gbps = double(N.bytes_out - N.hb_out) * 8 / interval;
    r.capacity_gbps = cn.network_gbps;
    r.utilisation = double(done - N.hb_done) / (interval * cn.cores);
    r.instances.clear();
    for (auto id : N.instances) {
      auto& I = inst[id];
      mig::instance_report ir;
      ir.instance = id;
      ir.kind = I.kind;
      ir.requests = I.iv_requests;
      ir.exec_us = I.iv_requests ? double(I.iv_exec_ns) / I.iv_requests / 1000.0 : 0;
      ir.ema_exec_us = I.ema.value();
      ir.cpu_share = double(I.iv_exec_ns) / (interval * cn.cores);
      if (I.iv_requests)
        I.ema.add(ir.exec_us);
      I.iv_requests = 0;
      I.iv_exec_ns = 0;
      r.instances.push_back(ir);
    }
    N.hb_at = now;
    N.hb_done = done;
    N.hb_in = N.bytes_in;
    N.hb_out = N.bytes_out;
    auto hb = mig::summarise(r, ++N.seq, cfg.orchestrator.overload.min_requests);
    std::uint32_t h;
    if (!free_hbs.empty()) {
      h = free_hbs.back();
      free_hbs.pop_back();
    } else {
      hbs.emplace_back();
      h = std::uint32_t(hbs.size() - 1);
    }
    hbs[h].bytes = mig::encode_heartbeat(hb);
    hbs[h].sent = now;
    ++res.heartbeats.sent;
    if (now >= w0 && now < w1)
      ++hb_in_window;
    // To the controller, like any packet: ECMP onto one of its server's SmartNICs, through that
    // card's traffic manager, then over PCIe to the host.
    auto path = c.path(n, ctrl);
    if (path == topo::path_kind::local) {
      push(now + lat_ns(n, ctrl), ev_hb_arrive, ctrl, 0, h);
    } else if (path == topo::path_kind::pcie) {
      nodes[n].bytes_out += std::uint64_t(cfg.heartbeat_frame_bytes);
      nodes[ctrl].bytes_in += std::uint64_t(cfg.heartbeat_frame_bytes);
      push(now + lat_ns(n, ctrl), ev_hb_arrive, ctrl, 0, h);
    } else {
      auto in = ingress_of(ctrl, topo::flow_hash(cn.ip, c.node(ctrl).ip, 5001, 5001, 17));
      nodes[n].bytes_out += std::uint64_t(cfg.heartbeat_frame_bytes);
      nodes[in].bytes_in += std::uint64_t(cfg.heartbeat_frame_bytes);
      auto t = now + lat_ns(n, in) + ser_ns(cfg.heartbeat_frame_bytes, in);
      push(t, is_nic(in) ? ev_hb_net_arrive : ev_hb_arrive, in, 0, h);
    }
    if (now + cfg.heartbeat_interval_ns < w1)
      push(now + cfg.heartbeat_interval_ns, ev_hb_tick, n, 0, 0);
  }

  void on_hb_net_arrive(topo::node_id n, std::uint32_t h, std::int64_t now) {
    auto s = nodes[n].tm.run(now, cfg.traffic_manager_ns);
    push(n == ctrl ? s.end_ns : s.end_ns + lat_ns(n, ctrl), ev_hb_arrive, ctrl, 0, h);
  }

  void on_hb_arrive(std::uint32_t h, std::int64_t now) {
    auto& H = hbs[h];
    H.arrived = now;
    auto s = orch_q.run(now, cfg.orchestrator_ns_per_heartbeat);
    H.started = s.start_ns;
    push(s.end_ns, ev_hb_decide, ctrl, 0, h);
  }

  void on_hb_decide(std::uint32_t h, std::int64_t now) {
    auto& H = hbs[h];
    std::optional<mig::decision> d;
    if (cfg.measure_orchestrator_cpu) {
      auto t0 = std::chrono::steady_clock::now();
      d = orch->on_heartbeat_bytes(H.bytes, now);
      auto t1 = std::chrono::steady_clock::now();
      measured_ns_sum += std::chrono::duration<double, std::nano>(t1 - t0).count();
      ++measured_calls;
    } else {
      d = orch->on_heartbeat_bytes(H.bytes, now);
    }
    if (cfg.record_heartbeats)
      res.heartbeat_log.push_back({now, H.bytes});
    auto& hr = res.heartbeats;
    ++hr.digested;
    hr.transmit_ns.record(H.arrived - H.sent);
    hr.queue_ns.record(H.started - H.arrived);
    hr.decide_ns.record(now - H.sent);
    free_hbs.push_back(h);
    if (!d)
      return;
    ++hr.decisions;
    hr.decision_ns.record(now - H.sent);
    if (cfg.migrations)
      start_migration(*d, now);
  }

  // --- cold migration ---------------------------------------------------------------------

  std::int64_t ctrl_ns(topo::node_id n) const { return n == ctrl ? 0 : lat_ns(ctrl, n); }

  void reply(std::uint32_t m, mig::migration_event e, std::int64_t at) {
    std::uint32_t p;
    if (!free_pending.empty()) {
      p = free_pending.back();
      free_pending.pop_back();
    } else {
      pending.emplace_back();
      p = std::uint32_t(pending.size() - 1);
    }
    pending[p] = {m, std::move(e)};
    push(at, ev_mig_event, 0, 0, p);
  }

  void start_migration(const mig::decision& d, std::int64_t now) {
    auto plan = orch->plan(d);
    auto m = std::uint32_t(migs.size());
    auto& I = inst[d.instance];
    migs.push_back(std::make_unique<migration_rec>(
        migration_rec{{}, mig::cold_migration(plan, cfg.migration_timeouts), mig::request_buffer<held>(), d.instance}));
    auto& M = *migs.back();
    M.rec.decision = d;
    M.rec.kind = plan.kind;
    M.rec.state_bytes = std::uint64_t(I.state_bytes);
    I.mig = std::int32_t(m);
    run_actions(m, M.machine.start(now), now);
  }

  void move_instance(std::uint32_t i, topo::node_id to) {
    auto& I = inst[i];
    auto& from = nodes[I.node].instances;
    from.erase(std::find(from.begin(), from.end(), i));
    auto& dest = nodes[to].instances;
    dest.insert(std::lower_bound(dest.begin(), dest.end(), i), i);
    I.node = to;
    set_exec(i);
  }

  void run_actions(std::uint32_t m, const std::vector<mig::migration_action>& actions, std::int64_t now) {
    auto& M = *migs[m];
    auto i = M.instance;
    auto& I = inst[i];
    const auto& plan = M.machine.plan();
    const auto& mm = cfg.migration;
    for (const auto& a : actions) {
      switch (a.kind) {
        case mig::action_kind::push_kind:
          reply(m, {mig::event_kind::kind_ready, a.node, 0, 0, 0, {}}, now + 2 * ctrl_ns(a.node) + mm.push_kind_ns);
          break;
        case mig::action_kind::hold_requests: M.buffer.hold(); break;
        case mig::action_kind::stop_instance:
          // Work already on the cores runs to completion, then the instance stops.
          reply(m, {mig::event_kind::stopped, a.node, 0, 0, 0, {}},
                std::max(now + ctrl_ns(a.node) + mm.stop_ns, I.last_end) + ctrl_ns(a.node));
          break;
        case mig::action_kind::ship_state: {
          double bytes = I.state_bytes;
          double gbps = c.path(a.node, a.peer) == topo::path_kind::pcie
                            ? mm.pcie_gbps
                            : std::max(1e-3, std::min(c.node(a.node).network_gbps, c.node(a.peer).network_gbps));
          auto t0 = now + ctrl_ns(a.node);
          auto exported = t0 + std::int64_t(bytes / mm.export_bytes_per_s * 1e9);
          auto arrived = exported + std::int64_t(bytes * 8 / gbps) + lat_ns(a.node, a.peer);
          auto imported = arrived + std::int64_t(bytes / mm.import_bytes_per_s * 1e9);
          std::uint64_t digest = mix64(std::uint64_t(i) * 0x9e3779b97f4a7c15ull ^ std::uint64_t(bytes));
          reply(m, {mig::event_kind::state_shipped, a.node, std::uint64_t(bytes), digest, 0, {}},
                arrived + ctrl_ns(a.node));
          reply(m, {mig::event_kind::state_confirmed, a.peer, std::uint64_t(bytes), digest, 0, {}},
                imported + ctrl_ns(a.peer));
          break;
        }
        case mig::action_kind::start_instance:
          reply(m, {mig::event_kind::started, a.node, 0, 0, 0, {}}, now + 2 * ctrl_ns(a.node) + mm.start_ns);
          break;
        case mig::action_kind::release_requests: {
          auto from = plan.from;
          auto to = a.node;
          M.buffer.release(to, [&](held&& h) {
            if (to == from)
              push(now, ev_node_arrive, from, i, h.req);
            else
              send_to(from, to, i, h.req, now, reqs[h.req].key);
          });
          break;
        }
        case mig::action_kind::update_routes:
          if (I.node != a.node)
            move_instance(i, a.node);
          break;
        case mig::action_kind::drop_source_state:
        case mig::action_kind::discard_at_destination: break;
        case mig::action_kind::fail_requests:
          M.buffer.fail([&](held&& h) { lose_branch(h.req, now); });
          I.down = true;
          break;
      }
    }
    if (M.machine.finished() && I.mig == std::int32_t(m)) {
      I.mig = -1;
      M.rec.result = M.machine.result();
      orch->migration_finished(i, M.machine.result().outcome, now);
    }
  }

  void on_mig_event(std::uint32_t p, std::int64_t now) {
    auto pe = std::move(pending[p]);
    free_pending.push_back(p);
    auto& M = *migs[pe.migration];
    if (M.machine.finished())
      return;
    run_actions(pe.migration, M.machine.on_event(pe.e, now), now);
  }

  // --- apps ---------------------------------------------------------------------------------

  void set_exec(std::uint32_t i) {
    auto& I = inst[i];
    const auto& A = apps[I.app];
    const auto& n = A.dag.nodes[I.dag];
    const auto& node = c.node(I.node);
    double us = 0;
    if (cfg.service_time) {
      us = cfg.service_time(n.kind, node, n.request_bytes);
    } else if (const auto* p = topo::find_service_profile(n.kind)) {
      us = p->cost_us(node.cores_type, node.clock_ghz, n.request_bytes);
    }
    if (!(us >= 0) || !std::isfinite(us))
      throw std::invalid_argument("sim: execution time of '" + n.kind + "' on " + node.name + " is not a finite µs value");
    I.exec_ns = us * 1000.0;
  }

  std::size_t add(const sched::app_spec& spec, sched::app_dag dag, sched::placement p, const load_spec& load) {
    if (ran)
      throw std::logic_error("sim: add_app after run()");
    if (load.entry >= spec.entries.size())
      throw std::invalid_argument("sim: app '" + spec.name + "' has no entry " + std::to_string(load.entry));
    if (load.process == arrivals::open_poisson && !(load.rate_rps > 0 && std::isfinite(load.rate_rps)))
      throw std::invalid_argument("sim: app '" + spec.name + "': an open-loop load needs a positive rate");
    if (load.process == arrivals::closed_loop && load.window == 0)
      throw std::invalid_argument("sim: app '" + spec.name + "': a closed-loop load needs a window of at least 1");
    if (load.start_ns < 0 || load.client_id >= (1u << 16))
      throw std::invalid_argument("sim: app '" + spec.name + "': start must be >= 0 and the client id < 65536");
    if (p.node_of.size() != dag.nodes.size())
      throw std::invalid_argument("sim: the placement of '" + spec.name + "' does not cover its instances");
    app_rec A;
    A.spec = spec;
    A.dag = std::move(dag);
    A.placement = std::move(p);
    A.load = load;
    A.base = std::uint32_t(inst.size());
    A.random = rng(mix64(cfg.seed + 0x9e3779b97f4a7c15ull * (apps.size() + 1)));
    A.shards.assign(spec.services.size(), 0);
    A.first.assign(spec.services.size(), none);
    for (const auto& n : A.dag.nodes) {
      if (n.replica_of >= 0)
        continue;
      A.shards[n.service] = std::max(A.shards[n.service], n.shard + 1);
      A.first[n.service] = std::min(A.first[n.service], n.id);
    }
    A.out.resize(spec.services.size());
    for (std::size_t k = 0; k < spec.channels.size(); ++k) {
      const auto& ch = spec.channels[k];
      A.out[ch.from].push_back({std::uint32_t(k), std::uint32_t(ch.to), ch.share});
    }
    auto a = apps.size();
    apps.push_back(std::move(A));
    auto& AA = apps.back();
    for (const auto& n : AA.dag.nodes) {
      instance_rec I;
      I.app = std::uint32_t(a);
      I.dag = n.id;
      I.service = n.service;
      I.node = AA.placement.node_of[n.id];
      if (I.node >= c.nodes().size())
        throw std::invalid_argument("sim: the placement of '" + spec.name + "' names a node outside the cluster");
      I.kind = mig::kind_of(n.kind);
      I.bytes = n.request_bytes + cfg.wire_overhead_bytes;
      const auto* prof = topo::find_service_profile(n.kind);
      I.state_bytes = prof && prof->stateful ? n.memory_mb * cfg.migration.state_bytes_per_mb : 0;
      auto id = std::uint32_t(inst.size());
      inst.push_back(I);
      nodes[I.node].instances.push_back(id);  // ids grow: the list stays sorted
      set_exec(id);
    }
    return a;
  }

  // --- the run ------------------------------------------------------------------------------

  std::unique_ptr<mig::orchestrator> make_orchestrator() const {
    auto o = std::make_unique<mig::orchestrator>(c, view, cfg.orchestrator);
    for (const auto& A : apps) {
      auto base = o->add_app(A.dag, A.placement, cfg.placed_at_ns);
      if (base != A.base)
        throw std::logic_error("sim: orchestrator ids disagree with the simulator's");
    }
    return o;
  }

  void window(bool open, std::int64_t t) {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      auto& N = nodes[n];
      auto done = N.cores.busy_ns() - N.cores.booked_after(t);
      auto tm = N.tm.busy_ns() - N.tm.booked_after(t);
      if (open) {
        N.win_done0 = done;
        N.win_tm0 = tm;
        N.kind_busy0 = N.kind_busy;
      } else {
        N.win_done1 = done;
        N.win_tm1 = tm;
        N.kind_busy1 = N.kind_busy;
      }
    }
  }

  results run() {
    if (ran)
      throw std::logic_error("sim: run() twice");
    ran = true;
    auto wall0 = std::chrono::steady_clock::now();
    orch = make_orchestrator();
    push(w0, ev_window, 0, 0, 0);
    push(w1, ev_window, 0, 1, 0);
    for (std::size_t a = 0; a < apps.size(); ++a) {
      const auto& L = apps[a].load;
      if (L.start_ns >= w1)
        continue;
      std::size_t first = L.process == arrivals::closed_loop ? L.window : 1;
      for (std::size_t k = 0; k < first; ++k)
        push(L.start_ns, ev_client, 0, std::uint32_t(a), 0);
    }
    if (cfg.heartbeats) {
      for (auto n : c.smartnics()) {
        // Agents start at a fixed offset within the interval, so heartbeats do not arrive in one burst.
        auto at = std::int64_t(mix64(cfg.seed ^ (std::uint64_t(n) << 20)) % std::uint64_t(cfg.heartbeat_interval_ns));
        if (at < w1)
          push(at, ev_hb_tick, n, 0, 0);
      }
    }
    for (std::size_t f = 0; f < faults.size(); ++f)
      push(fault_at[f], ev_fault, 0, std::uint32_t(f), 0);

    std::uint64_t events = 0;
    std::int64_t now = 0;
    while (!q.empty()) {
      if (!cfg.drain && q.top().at_ns >= w1)
        break;
      auto e = q.pop();
      now = e.at_ns;
      ++events;
      switch (e.kind) {
        case ev_client: client_send(e.a, now); break;
        case ev_net_arrive: on_net_arrive(e.node, e.a, e.b, now); break;
        case ev_node_arrive: on_node_arrive(e.node, e.a, e.b, now); break;
        case ev_hb_tick: on_tick(e.node, now); break;
        case ev_hb_net_arrive: on_hb_net_arrive(e.node, e.b, now); break;
        case ev_hb_arrive: on_hb_arrive(e.b, now); break;
        case ev_hb_decide: on_hb_decide(e.b, now); break;
        case ev_mig_event: on_mig_event(e.b, now); break;
        case ev_fault: nodes[faults[e.a].node].slowdown = faults[e.a].factor; break;
        case ev_window: window(e.a == 0, now); break;
      }
    }
    auto wall1 = std::chrono::steady_clock::now();
    finish(events, std::max(now, w1), std::chrono::duration<double>(wall1 - wall0).count());
    return std::move(res);
  }

  void finish(std::uint64_t events, std::int64_t end, double wall) {
    double secs = double(w1 - w0) * 1e-9;
    res.measured_seconds = secs;
    for (const auto& A : apps) {
      app_result ar;
      ar.app = A.spec.name;
      ar.algo = A.placement.algo;
      ar.generated = A.generated;
      ar.completed = A.completed;
      ar.lost = A.lost;
      ar.in_flight = A.generated - A.completed - A.lost;
      ar.measured = A.measured;
      ar.throughput_rps = double(A.measured) / secs;
      ar.offered_rps = double(A.sent_in_window) / secs;
      ar.latency_mean_us = A.latency.mean() / 1000.0;
      ar.latency_p50_us = double(A.latency.quantile(0.5)) / 1000.0;
      ar.latency_p99_us = double(A.latency.quantile(0.99)) / 1000.0;
      ar.latency_p999_us = double(A.latency.quantile(0.999)) / 1000.0;
      for (auto at : A.placement.node_of)
        (c.node(at).kind == topo::node_kind::smartnic ? ar.smartnic_instances : ar.host_instances)++;
      res.throughput_rps += ar.throughput_rps;
      res.apps.push_back(std::move(ar));
    }
    for (const auto& n : c.nodes()) {
      const auto& N = nodes[n.id];
      node_result nr;
      nr.node = n.id;
      nr.instances = N.instances.size();
      double busy_cores = double(N.win_done1 - N.win_done0) * 1e-9 / secs;
      nr.utilisation = busy_cores / n.cores;
      nr.messages = N.cores.bookings();
      nr.mean_wait_us = N.cores.bookings() ? double(N.cores.wait_ns()) / double(N.cores.bookings()) / 1000.0 : 0;
      nr.tm_utilisation = double(N.win_tm1 - N.win_tm0) * 1e-9 / secs;
      nr.tm_packets = N.tm.bookings();
      nr.tm_mean_wait_us = N.tm.bookings() ? double(N.tm.wait_ns()) / double(N.tm.bookings()) / 1000.0 : 0;
      topo::node_activity act;
      act.busy_cores = busy_cores;
      act.hosts_services = !N.instances.empty();
      if (n.kind == topo::node_kind::smartnic && act.hosts_services) {
        std::vector<std::pair<std::string, double>> kb;
        for (auto id : N.instances) {
          auto k = inst[id].kind;
          auto name = std::string(mig::kind_name(k));
          if (std::none_of(kb.begin(), kb.end(), [&](const auto& x) { return x.first == name; }))
            kb.emplace_back(name, k < kinds ? N.kind_busy1[k] - N.kind_busy0[k] : 0.0);
        }
        kb.erase(std::remove_if(kb.begin(), kb.end(), [](const auto& x) { return x.first == "?"; }), kb.end());
        act.smartnic_active_w = topo::smartnic_active_w(kb);
      }
      nr.power_w = topo::modelled_power_w(n, act);
      res.power_w += nr.power_w;
      res.nodes.push_back(nr);
    }
    res.requests_per_joule = res.power_w > 0 ? res.throughput_rps / res.power_w : 0;
    auto& hr = res.heartbeats;
    hr.payload_bps = double(hb_in_window) * mig::heartbeat_size * 8 / secs;
    hr.wire_bps = double(hb_in_window) * cfg.heartbeat_frame_bytes * 8 / secs;
    hr.orchestrator_utilisation = end > 0 ? double(orch_q.busy_ns()) / double(end) : 0;
    hr.measured_ns_per_heartbeat = measured_calls ? measured_ns_sum / double(measured_calls) : 0;
    for (const auto& m : migs) {
      auto r = m->rec;
      if (!m->machine.finished())
        r.result = m->machine.result();
      res.migrations.push_back(std::move(r));
    }
    res.orchestrator = orch->counters();
    res.events = events;
    res.simulated_seconds = double(end) * 1e-9;
    res.wall_seconds = wall;
    res.events_per_second = wall > 0 ? double(events) / wall : 0;
  }
};

simulator::simulator(const topo::cluster& cluster, config cfg) : impl_(std::make_unique<impl>(cluster, std::move(cfg))) {}
simulator::~simulator() = default;

std::size_t simulator::add_app(const sched::app_spec& app, const load_spec& load, placer algo) {
  auto dag = sched::expand(app);
  const auto& cons = impl_->cfg.orchestrator.constraints;
  sched::placement p;
  switch (algo) {
    case placer::hcm: p = sched::hcm_place(dag, impl_->view, cons); break;
    case placer::sa: {
      sched::sa_options o;
      o.seed = mix64(impl_->cfg.seed ^ 0x5a);
      p = sched::sa_place(dag, impl_->view, cons, o);
      break;
    }
    case placer::ilp: {
      auto r = sched::ilp_place(dag, impl_->view, cons);
      if (!sched::has_placement(r.status))
        throw sched::placement_error("ILP placed nothing for '" + app.name + "': " + to_string(r.status) + " (" +
                                     r.detail + ")");
      p = std::move(r.placed);
      break;
    }
  }
  return impl_->add(app, std::move(dag), std::move(p), load);
}

std::size_t simulator::add_app(const sched::app_spec& app, const sched::placement& p, const load_spec& load) {
  auto dag = sched::expand(app);
  if (p.node_of.size() != dag.nodes.size())
    throw std::invalid_argument("sim: the placement of '" + app.name + "' does not cover its instances");
  for (const auto& n : dag.nodes) {
    if (p.node_of[n.id] >= impl_->c.nodes().size())
      throw std::invalid_argument("sim: the placement of '" + app.name + "' names a node outside the cluster");
    sched::consume(impl_->view, n, p.node_of[n.id]);
  }
  return impl_->add(app, std::move(dag), p, load);
}

void simulator::slow_node(topo::node_id node, double factor, std::int64_t at_ns) {
  if (node >= impl_->c.nodes().size())
    throw std::invalid_argument("sim: slow_node: no node " + std::to_string(node));
  if (!(factor > 0) || !std::isfinite(factor) || at_ns < 0)
    throw std::invalid_argument("sim: slow_node: the factor must be positive and the time >= 0");
  impl_->faults.push_back({node, factor});
  impl_->fault_at.push_back(at_ns);
}

results simulator::run() { return impl_->run(); }
const sched::cluster_view& simulator::view() const { return impl_->view; }
const sched::placement& simulator::placement(std::size_t i) const { return impl_->apps.at(i).placement; }
const sched::app_dag& simulator::dag(std::size_t i) const { return impl_->apps.at(i).dag; }
std::uint32_t simulator::instance_id(std::size_t app, std::uint32_t dag_node) const {
  return impl_->apps.at(app).base + dag_node;
}
topo::node_id simulator::node_of(std::uint32_t id) const { return impl_->inst.at(id).node; }
topo::node_id simulator::controller() const { return impl_->ctrl; }
std::unique_ptr<mig::orchestrator> simulator::make_orchestrator() const { return impl_->make_orchestrator(); }

}  // namespace e3::sim
