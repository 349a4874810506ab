// Simulated annealing placement (Service Fabric PLB-like).
#include "scheduler/annealing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <stdexcept>

namespace e3::sched {
namespace {

// Running sums of one metric's per-node shares, so a move updates the spread in O(1).
struct spread_sums {
  double s1 = 0, s2 = 0;
  void add(double x) {
    s1 += x;
    s2 += x * x;
  }
  void remove(double x) {
    s1 -= x;
    s2 -= x * x;
  }
  double stddev(double n) const {
    if (n <= 0)
      return 0;
    double m = s1 / n;
    return std::sqrt(std::max(0.0, s2 / n - m * m));
  }
};

double cpu_share(const topo::compute_node& cn, const node_state& st) {
  return (double(cn.cores) - st.free_cores) / double(cn.cores);
}
double mem_share(const topo::compute_node& cn, const node_state& st) {
  return cn.memory_mb > 0 ? (cn.memory_mb - st.free_memory_mb) / cn.memory_mb : 0;
}

class annealer {
 public:
  annealer(const app_dag& dag, cluster_view& view, const constraints& c, const sa_options& o)
      : dag_(dag), view_(view), c_(c), o_(o), rng_(o.seed), n_(dag.nodes.size()), node_of_(n_, 0),
        placed_(n_, 0), over_(n_, 0), cpu_(view.nodes.size(), 0), mem_(view.nodes.size(), 0) {
    if (!(o.initial_accept > 0 && o.initial_accept < 1) || !(o.cooling > 0 && o.cooling < 1))
      throw std::invalid_argument("sa_place: initial_accept and cooling must lie strictly between 0 and 1");
    if (!o.previous.empty() && o.previous.size() != n_)
      throw std::invalid_argument("sa_place: `previous` has " + std::to_string(o.previous.size()) +
                                  " entries for " + std::to_string(n_) + " instances");
    for (const auto& cn : view_.cluster->nodes()) {
      if (!view_.nodes[cn.id].up)
        continue;
      up_.push_back(cn.id);
      (cn.kind == topo::node_kind::host ? up_hosts_ : up_nics_).push_back(cn.id);
      cpu_[cn.id] = cpu_share(cn, view_.nodes[cn.id]);
      mem_[cn.id] = mem_share(cn, view_.nodes[cn.id]);
      cpu_sum_.add(cpu_[cn.id]);
      mem_sum_.add(mem_[cn.id]);
    }
  }

  placement run(sa_stats& st) {
    auto t0 = std::chrono::steady_clock::now();
    initial_state();
    double e = energy();
    st.initial_energy = e;
    best_ = node_of_;
    best_over_ = over_;
    double best_e = e;

    if (n_ == 0 || up_.size() < 2) {
      st.stop = sa_stop::trivial;
      st.final_energy = e;
      return finish();
    }

    // Initial temperature: the mean worsening of random admissible probe moves (always undone).
    double worse_sum = 0;
    int worse_n = 0, probes = 0;
    for (int tries = 0; probes < o_.probe_moves && tries < 10 * std::max(1, o_.probe_moves); ++tries) {
      double d = 0;
      if (!propose(d))
        continue;
      ++probes;
      if (d > 0) {
        worse_sum += d;
        ++worse_n;
      }
      undo();
    }
    double t_init = worse_n > 0 ? (worse_sum / worse_n) / -std::log(o_.initial_accept) : 0;
    st.initial_temperature = t_init;
    if (t_init <= 0) {  // no probe could worsen anything: nothing to anneal
      st.stop = sa_stop::trivial;
      st.final_energy = e;
      return finish();
    }
    double t = t_init;
    int steps = o_.steps_per_temperature > 0 ? o_.steps_per_temperature : int(std::max<std::size_t>(100, 4 * n_));
    int idle_stages = 0;
    st.stop = sa_stop::converged;
    bool done = false;
    while (!done) {
      std::uint64_t accepted_before = st.accepted;
      for (int k = 0; k < steps; ++k) {
        if (st.iterations >= o_.max_iterations) {
          st.stop = sa_stop::iteration_limit;
          done = true;
          break;
        }
        if (o_.time_budget && (st.iterations & 127) == 0 &&
            std::chrono::steady_clock::now() - t0 >= *o_.time_budget) {
          st.stop = sa_stop::time_budget;
          done = true;
          break;
        }
        ++st.iterations;
        double d = 0;
        if (!propose(d)) {
          ++st.inadmissible;
          continue;
        }
        if (d <= 0 || uniform() < std::exp(-d / t)) {
          ++st.accepted;
          e += d;
          if (e < best_e - 1e-12) {
            best_e = e;
            best_ = node_of_;
            best_over_ = over_;
          }
        } else {
          undo();
        }
      }
      ++st.stages;
      if (done)
        break;
      idle_stages = st.accepted == accepted_before ? idle_stages + 1 : 0;
      if (idle_stages >= o_.frozen_stages) {
        st.stop = sa_stop::frozen;
        break;
      }
      t *= o_.cooling;
      if (t < t_init * o_.min_temperature_ratio) {
        st.stop = sa_stop::converged;
        break;
      }
    }
    st.final_temperature = t;
    restore_best();
    st.final_energy = energy();
    return finish();
  }

 private:
  double uniform() { return double(rng_() >> 11) * 0x1.0p-53; }
  std::size_t pick(std::size_t n) { return std::size_t(rng_() % n); }

  const std::vector<topo::node_id>& candidates(std::uint32_t i) const {
    const auto& d = dag_.nodes[i];
    if (d.smartnic_only)
      return up_nics_;
    if (d.host_only && c_.honour_host_only)
      return up_hosts_;
    return up_;
  }

  bool fits(std::uint32_t i, topo::node_id n, bool capacity) const {
    return admissible(dag_, i, n, view_, c_, node_of_, placed_, capacity);
  }

  void refresh(topo::node_id n) {
    const auto& cn = view_.cluster->node(n);
    const auto& s = view_.nodes[n];
    cpu_sum_.remove(cpu_[n]);
    mem_sum_.remove(mem_[n]);
    cpu_[n] = cpu_share(cn, s);
    mem_[n] = mem_share(cn, s);
    cpu_sum_.add(cpu_[n]);
    mem_sum_.add(mem_[n]);
  }

  // Takes instance i off its node (it stays recorded in node_of_ but unplaced).
  void lift(std::uint32_t i) {
    release(view_, dag_.nodes[i], node_of_[i]);
    placed_[i] = 0;
    refresh(node_of_[i]);
  }
  // Puts instance i on node n.
  void drop(std::uint32_t i, topo::node_id n, bool over) {
    node_of_[i] = n;
    placed_[i] = 1;
    if (over_[i] != char(over)) {
      over_count_ += over ? 1 : -1;
      over_[i] = char(over);
    }
    consume(view_, dag_.nodes[i], n);
    refresh(n);
  }

  double energy() const {
    double n = double(up_.size());
    double e = o_.weights.cpu * cpu_sum_.stddev(n) + o_.weights.memory * mem_sum_.stddev(n);
    if (n_ > 0) {
      e += o_.overcommit_penalty * double(over_count_) / double(n_);
      if (!o_.previous.empty())
        e += o_.move_cost * double(moved()) / double(n_);
    }
    return e;
  }

  long moved() const { return moved_count_; }
  void note_move(std::uint32_t i, topo::node_id from, topo::node_id to) {
    if (o_.previous.empty())
      return;
    moved_count_ += long(to != o_.previous[i]) - long(from != o_.previous[i]);
  }

  // Places instance i at the start: its previous node when that is admissible, else a random
  // admissible node, else a scan from a random offset, else the node it overcommits least.
  void place_initially(std::uint32_t i) {
    const auto& cand = candidates(i);
    if (!o_.previous.empty() && fits(i, o_.previous[i], true)) {
      drop(i, o_.previous[i], false);
      return;
    }
    if (!cand.empty()) {
      for (int k = 0; k < 32; ++k) {
        auto n = cand[pick(cand.size())];
        if (fits(i, n, true)) {
          drop(i, n, false);
          return;
        }
      }
      std::size_t off = pick(cand.size());
      for (std::size_t k = 0; k < cand.size(); ++k) {
        auto n = cand[(off + k) % cand.size()];
        if (fits(i, n, true)) {
          drop(i, n, false);
          return;
        }
      }
    }
    const auto& d = dag_.nodes[i];
    double best = 0;
    long found = -1;
    for (auto n : up_) {
      if (!fits(i, n, false))
        continue;
      const auto& cn = view_.cluster->node(n);
      const auto& s = view_.nodes[n];
      auto ratio = [](double need, double have) { return need <= 0 ? 0.0 : need / std::max(have, 1e-9); };
      double r = std::max({ratio(core_demand(d, cn), s.free_cores), ratio(d.memory_mb, s.free_memory_mb),
                           ratio(d.gbps, s.free_gbps)});
      if (found < 0 || r < best) {
        best = r;
        found = long(n);
      }
    }
    if (found < 0)
      throw placement_error("instance " + std::to_string(i) + " (" + d.kind +
                            ") has no admissible node: every candidate breaks a constraint other than capacity");
    drop(i, topo::node_id(found), true);
  }

  void initial_state() {
    for (std::uint32_t i = 0; i < n_; ++i) {
      place_initially(i);
      if (!o_.previous.empty() && node_of_[i] != o_.previous[i])
        ++moved_count_;
    }
  }

  // One random admissible proposal, applied; `delta` gets its energy change. Returns false (and
  // changes nothing) when the proposal breaks a constraint. undo() reverts an applied proposal.
  bool propose(double& delta) {
    double before = energy();
    bool ok = n_ >= 2 && uniform() < o_.swap_share ? swap() : move();
    if (ok)
      delta = energy() - before;
    return ok;
  }

  bool move() {
    auto i = std::uint32_t(pick(n_));
    const auto& cand = candidates(i);
    if (cand.empty())
      return false;
    auto b = cand[pick(cand.size())];
    auto a = node_of_[i];
    if (a == b)
      return false;
    lift(i);
    if (!fits(i, b, true)) {
      drop(i, a, over_[i]);
      return false;
    }
    log_[0] = {i, a, over_[i]};
    log_size_ = 1;
    drop(i, b, false);
    note_move(i, a, b);
    return true;
  }

  bool swap() {
    auto i = std::uint32_t(pick(n_));
    auto j = std::uint32_t(pick(n_));
    auto a = node_of_[i], b = node_of_[j];
    if (i == j || a == b)
      return false;
    char oi = over_[i], oj = over_[j];
    lift(i);
    lift(j);
    bool ok = fits(i, b, true);
    if (ok) {
      drop(i, b, false);
      ok = fits(j, a, true);
      if (!ok) {
        lift(i);
        node_of_[i] = a;
      }
    }
    if (!ok) {
      drop(i, a, oi);
      drop(j, b, oj);
      return false;
    }
    drop(j, a, false);
    note_move(i, a, b);
    note_move(j, b, a);
    log_[0] = {i, a, oi};
    log_[1] = {j, b, oj};
    log_size_ = 2;
    return true;
  }

  void undo() {
    for (std::size_t k = 0; k < log_size_; ++k)
      lift(log_[k].i);
    for (std::size_t k = 0; k < log_size_; ++k) {
      const auto& u = log_[k];
      note_move(u.i, node_of_[u.i], u.from);
      drop(u.i, u.from, u.over);
    }
    log_size_ = 0;
  }

  void restore_best() {
    if (best_ == node_of_ && best_over_ == over_)
      return;
    for (std::uint32_t i = 0; i < n_; ++i)
      if (node_of_[i] != best_[i])
        lift(i);
    for (std::uint32_t i = 0; i < n_; ++i) {
      if (!placed_[i]) {
        note_move(i, node_of_[i], best_[i]);
        drop(i, best_[i], best_over_[i]);
      } else if (over_[i] != best_over_[i]) {
        over_count_ += best_over_[i] ? 1 : -1;
        over_[i] = best_over_[i];
      }
    }
  }

  placement finish() {
    placement p;
    p.algo = "sa";
    p.node_of = node_of_;
    p.level_used.assign(n_, -1);
    for (std::uint32_t i = 0; i < n_; ++i)
      if (over_[i])
        p.overcommitted.push_back(i);
    return p;
  }

  struct undo_entry {
    std::uint32_t i;
    topo::node_id from;
    char over;
  };

  const app_dag& dag_;
  cluster_view& view_;
  const constraints& c_;
  const sa_options& o_;
  std::mt19937_64 rng_;
  std::size_t n_;
  std::vector<topo::node_id> node_of_;
  std::vector<char> placed_, over_;
  std::vector<topo::node_id> best_;
  std::vector<char> best_over_;
  std::vector<topo::node_id> up_, up_hosts_, up_nics_;
  std::vector<double> cpu_, mem_;
  spread_sums cpu_sum_, mem_sum_;
  long over_count_ = 0, moved_count_ = 0;
  std::array<undo_entry, 2> log_{};
  std::size_t log_size_ = 0;
};

}  // namespace

std::string to_string(sa_stop s) {
  switch (s) {
    case sa_stop::converged: return "converged";
    case sa_stop::frozen: return "frozen";
    case sa_stop::iteration_limit: return "iteration limit";
    case sa_stop::time_budget: return "time budget";
    case sa_stop::trivial: return "trivial";
  }
  return "?";
}

placement sa_place(const app_dag& dag, cluster_view& view, const constraints& c, const sa_options& o,
                   sa_stats* stats) {
  sa_stats local;
  auto p = annealer(dag, view, c, o).run(stats ? *stats : local);
  return p;
}

double load_spread(const cluster_view& view, const spread_weights& w) {
  spread_sums cpu, mem;
  double n = 0;
  for (const auto& cn : view.cluster->nodes()) {
    const auto& s = view.nodes[cn.id];
    if (!s.up)
      continue;
    cpu.add(cpu_share(cn, s));
    mem.add(mem_share(cn, s));
    n += 1;
  }
  return w.cpu * cpu.stddev(n) + w.memory * mem.stddev(n);
}

}  // namespace e3::sched
