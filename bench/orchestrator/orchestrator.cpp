// `e3 bench orchestrator`: how fast the data-plane orchestrator (§3.4) digests node health
// reports — issue 5's target is >= 1 M reports/s on one core — and how its decision time scales
// with the cluster, as in the paper's Fig. 11 (one 16-byte heartbeat per SmartNIC every 50 ms,
// up to 50 K SmartNICs).
//
// The stream: Type2-SmartNIC servers (4 SmartNICs each) in a FatTree of 40-server racks, S
// services per SmartNIC (Table 1 kinds that suit a SmartNIC). Every 50 ms round every SmartNIC
// and every host reports: queue depth, link use, utilisation and per-service request counts,
// execution times (with the trailing EMA the agents keep) and CPU shares, all noisy (seeded).
// 1 % of the SmartNICs go through a starvation episode (a standing queue with idle ports) and 1 %
// through an overload episode (one service 1.6× slower), each 4–8 rounds long at a seeded time;
// the orchestrator's decisions complete one round later, so the cluster changes as it runs.
// Everything single-threaded: one core.
//
// References measured in the same run on the same data: reading every field of every report
// once (the least any consumer of full reports must do), and decoding the 16-byte heartbeats
// without acting on them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "bench/common/report.hpp"
#include "migration/migration.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace {

using namespace e3;
using clk = std::chrono::steady_clock;
constexpr std::int64_t round_ns = 50'000'000;

double ns_between(clk::time_point a, clk::time_point b) { return std::chrono::duration<double, std::nano>(b - a).count(); }

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// splitmix64: a small seeded generator, the same everywhere.
struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
};

// The cluster, one app of S services per SmartNIC, its placement and the booked view.
struct world {
  topo::cluster cluster;
  sched::app_dag dag;
  sched::placement placement;
  sched::cluster_view view;

  world(int smartnics, int services)
      : cluster(topo::cluster::fat_tree({.servers = (smartnics + 3) / 4, .server_profile = "Type2-SmartNIC"})),
        view(sched::cluster_view::empty(cluster)) {
    static const char* kinds[] = {"count", "ema", "nat", "kvs", "flowmon", "ddos", "nids", "ipsec"};
    auto nics = cluster.smartnics();
    std::size_t n = nics.size() * std::size_t(services);
    dag.app = "bench";
    dag.nodes.reserve(n);
    placement.node_of.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      sched::dag_node d;
      d.id = i;
      d.kind = kinds[i % 8];
      d.cpu = 0.05;
      d.memory_mb = 32;
      dag.nodes.push_back(d);
      placement.node_of.push_back(nics[i / std::size_t(services)]);
      sched::consume(view, d, placement.node_of.back());
    }
    dag.out.resize(n);
    dag.replicas.resize(n);
    dag.primaries = n;
    placement.algo = "bench";
  }
};

// Report streams: round r of every SmartNIC and every host, listing the instances the
// orchestrator places there (as the agents would, running them).
class stream {
 public:
  stream(const world& w, int rounds, std::uint64_t seed) : w_(w), rng_{seed}, emas_(w.dag.nodes.size()) {
    auto nics = w.cluster.smartnics();
    nic_.resize(nics.size());
    for (auto& m : nic_) {
      double u = rng_.uniform();
      m.kind = u < 0.01 ? 1 : (u < 0.02 ? 2 : 0);
      m.start = 2 + int(rng_.next() % std::uint64_t(std::max(1, rounds - 6)));
      m.length = 4 + int(rng_.next() % 5);
      m.slow = int(rng_.next() % 8);
    }
    base_us_.resize(w.dag.nodes.size());
    cpu_.resize(w.dag.nodes.size());
    for (std::size_t i = 0; i < base_us_.size(); ++i) {
      const auto& prof = topo::service_profile_of(w.dag.nodes[i].kind);
      base_us_[i] = prof.nic_us * (0.8 + 0.4 * rng_.uniform());
      cpu_[i] = 0.02 + 0.18 * rng_.uniform();
    }
  }

  // Fills `out` with round r's reports: SmartNICs first (in cluster order), then hosts.
  void make_round(int r, const mig::orchestrator& o, std::vector<mig::node_report>& out) {
    auto nics = w_.cluster.smartnics();
    auto hosts = w_.cluster.hosts();
    out.resize(nics.size() + hosts.size());
    std::int64_t at = std::int64_t(r + 1) * round_ns;
    for (std::size_t k = 0; k < nics.size(); ++k) {
      const auto& m = nic_[k];
      bool on = r >= m.start && r < m.start + m.length;
      auto& rep = out[k];
      fill_node(rep, nics[k], at);
      double cap = rep.capacity_gbps;
      if (on && m.kind == 1) {
        rep.tm_queue = 200 + std::uint32_t(rng_.next() % 800);
        rep.link_in_gbps = cap * (0.05 + 0.05 * rng_.uniform());
      } else {
        rep.tm_queue = std::uint32_t(rng_.next() % 40);
        rep.link_in_gbps = cap * (0.2 + 0.4 * rng_.uniform());
      }
      rep.link_out_gbps = rep.link_in_gbps * (0.9 + 0.2 * rng_.uniform());
      rep.utilisation = 0.3 + 0.3 * rng_.uniform();
      // In an overload episode one of the node's services runs 1.6× slower.
      auto here = o.instances_on(nics[k]);
      int slow_slot = on && m.kind == 2 && !here.empty() ? m.slow % int(here.size()) : -1;
      int slot = 0;
      for (auto id : here)
        add_instance(rep, id, slot++ == slow_slot);
    }
    for (std::size_t k = 0; k < hosts.size(); ++k) {
      auto& rep = out[nics.size() + k];
      fill_node(rep, hosts[k], at);
      rep.tm_queue = 0;
      rep.link_in_gbps = rep.capacity_gbps * 0.1 * rng_.uniform();
      rep.link_out_gbps = rep.link_in_gbps;
      rep.utilisation = 0.1 + 0.2 * rng_.uniform();
      for (auto id : o.instances_on(hosts[k]))
        add_instance(rep, id, false);
    }
  }

 private:
  struct nic_model {
    int kind = 0;  // 0 healthy, 1 starvation episode, 2 overload episode
    int start = 0, length = 0, slow = 0;
  };

  void fill_node(mig::node_report& rep, topo::node_id n, std::int64_t at) {
    rep.node = n;
    rep.at_ns = at;
    rep.capacity_gbps = w_.cluster.node(n).network_gbps;
    rep.instances.clear();
  }

  void add_instance(mig::node_report& rep, std::uint32_t id, bool slow) {
    mig::instance_report ir;
    ir.instance = id;
    ir.requests = 200 + std::uint32_t(rng_.next() % 1800);
    ir.exec_us = base_us_[id] * (0.97 + 0.06 * rng_.uniform()) * (slow ? 1.6 : 1.0);
    ir.ema_exec_us = emas_[id].value();
    emas_[id].add(ir.exec_us);
    ir.cpu_share = cpu_[id] * (0.9 + 0.2 * rng_.uniform());
    rep.instances.push_back(ir);
  }

  const world& w_;
  rng rng_;
  std::vector<nic_model> nic_;
  std::vector<double> base_us_, cpu_;
  std::vector<mig::exec_ema> emas_;
};

// The least a consumer of full reports does: read every field once.
double read_every_field(const std::vector<mig::node_report>& reports) {
  double sum = 0;
  for (const auto& r : reports) {
    sum += double(r.tm_queue) + r.link_in_gbps + r.link_out_gbps + r.utilisation + r.capacity_gbps + double(r.node);
    for (const auto& i : r.instances)
      sum += double(i.requests) + i.exec_us + i.ema_exec_us + i.cpu_share + double(i.instance);
  }
  return sum;
}

// Decoding heartbeats without acting on them.
std::uint64_t decode_only(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t sum = 0;
  mig::heartbeat h;
  for (std::size_t off = 0; off + mig::heartbeat_size <= bytes.size(); off += mig::heartbeat_size) {
    if (mig::decode_heartbeat(std::span<const std::uint8_t>(bytes.data() + off, mig::heartbeat_size), h) ==
        mig::heartbeat_error::ok)
      sum += h.tm_queue + h.worst_slowdown + h.link_use + h.hottest;
  }
  return sum;
}

// What one run of a stream through one orchestrator measured.
struct run_result {
  std::uint64_t inputs = 0;          // reports or heartbeats digested
  double total_ns = 0;               // orchestrator time, all rounds
  double ref_total_ns = 0;           // reference time, all rounds
  std::vector<double> round_ns;      // orchestrator time per round
  std::vector<double> ref_round_ns;  // reference time per round
  std::vector<std::pair<int, std::size_t>> decided_at;  // (round, input index) of each decision
  std::vector<double> decision_ns;   // pass 2: time of each deciding call
  std::array<std::uint64_t, mig::trigger_count> decisions{};
  std::uint64_t errors = 0;          // inputs the orchestrator counted as bad (must be 0)
};

// Runs `rounds` rounds of the stream through a fresh orchestrator. With `timed_calls` (the
// decided_at of an earlier identical run), times each deciding call alone instead of rounds.
run_result run(const world& w, int rounds, bool heartbeats, std::uint64_t seed,
               const std::vector<std::pair<int, std::size_t>>* timed_calls, double timer_ns) {
  mig::orchestrator o(w.cluster, w.view);
  o.add_app(w.dag, w.placement, std::numeric_limits<std::int64_t>::min() / 4);
  stream s(w, rounds, seed);
  run_result res;
  std::vector<mig::node_report> reports;
  std::vector<std::uint8_t> bytes;
  std::vector<mig::decision> pending, next;
  const std::size_t nics = w.cluster.smartnics().size();
  std::size_t next_timed = 0;
  for (int r = 0; r < rounds; ++r) {
    const std::int64_t now = std::int64_t(r + 1) * round_ns;
    // Last round's migrations complete first, so the agents report them where they now run.
    auto f0 = clk::now();
    for (const auto& d : pending)
      o.migration_finished(d.instance, mig::migration_outcome::completed, now);
    double finish_ns = ns_between(f0, clk::now());
    s.make_round(r, o, reports);
    if (heartbeats) {
      bytes.resize(nics * mig::heartbeat_size);
      for (std::size_t k = 0; k < nics; ++k) {
        auto b = mig::encode_heartbeat(mig::summarise(reports[k], std::uint16_t(r), o.config().overload.min_requests));
        std::copy(b.begin(), b.end(), bytes.begin() + std::ptrdiff_t(k * mig::heartbeat_size));
      }
    }
    const std::size_t n = heartbeats ? nics : reports.size();
    auto input = [&](std::size_t i) -> std::optional<mig::decision> {
      if (heartbeats)
        return o.on_heartbeat_bytes(std::span<const std::uint8_t>(bytes.data() + i * mig::heartbeat_size,
                                                                  mig::heartbeat_size),
                                    now);
      return o.on_report(reports[i]);
    };
    auto reference = [&] {
      auto t0 = clk::now();
      if (heartbeats)
        bench::keep(decode_only(bytes));
      else
        bench::keep(read_every_field(reports));
      return ns_between(t0, clk::now());
    };
    // The reference runs before the orchestrator on even rounds and after it on odd ones, so
    // neither always finds the round's data warm in the cache.
    double ref = 0;
    if (!timed_calls && r % 2 == 0)
      ref = reference();
    auto t0 = clk::now();
    next.clear();
    for (std::size_t i = 0; i < n; ++i) {
      std::optional<mig::decision> d;
      if (timed_calls && next_timed < timed_calls->size() && (*timed_calls)[next_timed] == std::pair{r, i}) {
        auto a = clk::now();
        d = input(i);
        res.decision_ns.push_back(std::max(0.0, ns_between(a, clk::now()) - timer_ns));
        ++next_timed;
      } else {
        d = input(i);
      }
      if (d) {
        next.push_back(*d);
        res.decided_at.push_back({r, i});
        ++res.decisions[std::size_t(d->why)];
      }
    }
    double t = ns_between(t0, clk::now()) + finish_ns;
    if (!timed_calls && r % 2 == 1)
      ref = reference();
    pending.swap(next);
    res.inputs += n;
    res.total_ns += t;
    res.round_ns.push_back(t);
    res.ref_total_ns += ref;
    res.ref_round_ns.push_back(ref);
  }
  const auto& c = o.counters();
  res.errors = c.unknown_node + c.stale + c.invalid_reports + c.invalid_instances + c.unknown_instance +
               c.misplaced_instance + c.slot_mismatch;
  for (auto e : c.decode_errors)
    res.errors += e;
  return res;
}

// Timer overhead: the median of back-to-back clock reads.
double timer_overhead_ns() {
  std::vector<double> v;
  for (int i = 0; i < 20001; ++i) {
    auto a = clk::now();
    v.push_back(ns_between(a, clk::now()));
  }
  return median(v);
}

nlohmann::json as_json(const bench::report& r) {
  std::ostringstream s;
  r.print(true, s);
  return nlohmann::json::parse(s.str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Data-plane orchestrator: health reports digested per second, and decision time vs cluster size (Fig. 11)",
               "e3 bench orchestrator"};
  int smartnics = 50000, services = 4, rounds = 20, fig_rounds = 10;
  std::vector<int> sizes = {1000, 5000, 10000, 20000, 50000};
  std::vector<int> fig_services = {2, 8};
  std::uint64_t seed = 1;
  bool json = false;
  app.add_option("--smartnics", smartnics, "SmartNICs of the throughput run (4 per Type2-SmartNIC server)")
      ->check(CLI::Range(4, 1000000));
  app.add_option("--services", services, "services per SmartNIC in the throughput run")->check(CLI::Range(1, 64));
  app.add_option("--rounds", rounds, "50 ms report rounds in the throughput run")->check(CLI::Range(8, 100000));
  app.add_option("--fig11-sizes", sizes, "SmartNIC counts of the Fig. 11 rows")->delimiter(',')->check(CLI::Range(4, 1000000));
  app.add_option("--fig11-services", fig_services, "services per SmartNIC of the Fig. 11 rows")->delimiter(',')->check(CLI::Range(1, 64));
  app.add_option("--fig11-rounds", fig_rounds, "rounds per Fig. 11 row")->check(CLI::Range(8, 100000));
  app.add_option("--seed", seed, "seed of the report streams");
  app.add_flag("--json", json, "machine-readable output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const double timer = timer_overhead_ns();

  // Throughput: full reports and heartbeats through the orchestrator, next to their references.
  std::cerr << "building " << smartnics << " SmartNICs × " << services << " services…\n";
  world w(smartnics, services);
  const std::size_t nics = w.cluster.smartnics().size();
  bench::report main_rep("Orchestrator throughput: " + std::to_string(nics) + " SmartNICs + " +
                             std::to_string(w.cluster.hosts().size()) + " hosts, " + std::to_string(services) +
                             " services per SmartNIC, " + std::to_string(rounds) + " rounds of 50 ms, one core",
                         {"path", "inputs", "ns_per_input", "M_per_s", "best_round_M_per_s", "decisions",
                          "decision_us_p50", "reference", "ref_ns_per_input", "ref_M_per_s"});
  bool ok = true;
  for (bool hb : {false, true}) {
    std::cerr << (hb ? "heartbeat" : "full-report") << " path…\n";
    auto r1 = run(w, rounds, hb, seed, nullptr, timer);
    auto r2 = run(w, rounds, hb, seed, &r1.decided_at, timer);
    if (r2.decided_at != r1.decided_at) {
      std::cerr << "error: the timed rerun decided differently (the orchestrator must be deterministic)\n";
      ok = false;
    }
    if (r1.errors) {
      std::cerr << "error: the orchestrator rejected " << r1.errors << " inputs of a well-formed stream\n";
      ok = false;
    }
    double per = r1.total_ns / double(r1.inputs);
    double best = 1e300;
    std::size_t per_round = r1.inputs / std::size_t(rounds);
    for (double t : r1.round_ns)
      best = std::min(best, t / double(per_round));
    std::uint64_t decisions = 0;
    for (auto d : r1.decisions)
      decisions += d;
    double ref = r1.ref_total_ns / double(r1.inputs);
    main_rep.row({hb ? "heartbeats: on_heartbeat_bytes" : "full reports: on_report", r1.inputs, per, 1e3 / per,
                  1e3 / best, decisions, median(r2.decision_ns) / 1e3,
                  hb ? "decode the 16 B only" : "read every field once", ref, 1e3 / ref});
    if (!hb) {
      main_rep.extra()["reports_per_s"] = 1e9 / per;
      main_rep.extra()["target_reports_per_s"] = 1e6;
      main_rep.extra()["target_met"] = 1e9 / per >= 1e6;
    }
  }
  main_rep.note("inputs: every SmartNIC and host reports each round (full reports); SmartNICs only (heartbeats)");
  main_rep.note("ns_per_input includes completing the previous round's migrations; decision_us_p50: median time of a");
  main_rep.note("  call that decided (detection, victim, closest host, booking), each timed alone in an identical rerun,");
  main_rep.note("  clock overhead (" + std::to_string(int(timer)) + " ns) subtracted");
  main_rep.note("target (issue 5): >= 1 M health reports/s on one core");

  // Fig. 11: decision time vs cluster size, heartbeats of 16 B every 50 ms per SmartNIC.
  bench::report fig("Fig. 11: orchestrator decision time vs cluster size (Type2-SmartNIC FatTree, 16 B heartbeat per "
                    "SmartNIC every 50 ms, one core)",
                    {"smartnics", "servers", "services_per_nic", "heartbeat_Mbps", "round_ms_p50", "share_of_50ms",
                     "ns_per_heartbeat", "decode_only_ns", "decisions", "decision_us_p50", "decision_us_p90"});
  for (int size : sizes) {
    for (int s : fig_services) {
      std::cerr << "Fig. 11: " << size << " SmartNICs × " << s << " services…\n";
      world fw(size, s);
      auto r1 = run(fw, fig_rounds, true, seed, nullptr, timer);
      auto r2 = run(fw, fig_rounds, true, seed, &r1.decided_at, timer);
      ok = ok && r2.decided_at == r1.decided_at && r1.errors == 0;
      std::size_t n = fw.cluster.smartnics().size();
      double round_ms = median(r1.round_ns) / 1e6;
      std::uint64_t decisions = 0;
      for (auto d : r1.decisions)
        decisions += d;
      auto p90 = r2.decision_ns;
      std::sort(p90.begin(), p90.end());
      double tail = p90.empty() ? 0 : p90[p90.size() * 9 / 10];
      fig.row({int(n), int(fw.cluster.servers().size()), s, double(n) * 16 * 8 / 0.05 / 1e6, round_ms,
               round_ms / 50.0, r1.total_ns / double(r1.inputs), r1.ref_total_ns / double(r1.inputs), decisions,
               median(r2.decision_ns) / 1e3, tail / 1e3});
    }
  }
  fig.note("round_ms_p50: median time to digest one round (every SmartNIC's heartbeat) — the longest a decision");
  fig.note("  waits when a whole round arrives at once; decision_us: one deciding call, timed alone (p90, not the");
  fig.note("  maximum: a single call on this shared 2-core machine is sometimes preempted for milliseconds)");
  fig.note("paper (§5.6): decision time stays well below the migration time (10s–100s of ms) and barely depends on");
  fig.note("  the services deployed; 16 B per 50 ms is 2.56 Kb/s per SmartNIC (heartbeat_Mbps is that times N)");

  if (json) {
    auto j = as_json(main_rep);
    j["fig11"] = as_json(fig);
    std::cout << j.dump(2) << "\n";
  } else {
    main_rep.print(false);
    std::cout << "\n";
    fig.print(false);
  }
  return ok ? 0 : 1;
}
