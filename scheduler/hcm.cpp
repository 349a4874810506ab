// HCM placement (Algorithm 1).
#include "scheduler/hcm.hpp"

#include <algorithm>
#include <deque>

#include "topology/power.hpp"

namespace e3::sched {
namespace {

class hcm {
 public:
  hcm(const app_dag& dag, cluster_view& view, const constraints& c)
      : dag_(dag), view_(view), c_(c), node_of_(dag.nodes.size(), 0), placed_(dag.nodes.size(), 0),
        level_(dag.nodes.size(), -1) {}

  placement run() {
    std::deque<std::uint32_t> q;
    std::vector<char> queued(dag_.primaries, 0);
    for (auto s : dag_.sources) {
      if (!queued[s]) {
        queued[s] = 1;
        q.push_back(s);
      }
    }
    auto drain = [&] {
      while (!q.empty()) {
        auto v = q.front();
        q.pop_front();
        if (!placed_[v])
          set(v, find_first_fit(v), -1);
        for (auto e : dag_.out[v]) {
          auto w = dag_.edges[e].to;
          if (!placed_[w]) {
            auto [n, lvl] = ms_place(w, node_of_[v]);
            set(w, n, lvl);
          }
          if (!queued[w]) {
            queued[w] = 1;
            q.push_back(w);
          }
        }
      }
    };
    drain();
    // Primaries no source reaches (a DAG may have several roots): start a traversal at each.
    for (std::uint32_t i = 0; i < dag_.primaries; ++i) {
      if (!queued[i]) {
        queued[i] = 1;
        q.push_back(i);
        drain();
      }
    }
    for (std::uint32_t i = std::uint32_t(dag_.primaries); i < dag_.nodes.size(); ++i) {
      auto [n, lvl] = ms_place(i, node_of_[std::uint32_t(dag_.nodes[i].replica_of)]);
      set(i, n, lvl);
    }
    placement p;
    p.algo = "hcm";
    p.node_of = std::move(node_of_);
    p.overcommitted = std::move(over_);
    p.level_used = std::move(level_);
    return p;
  }

 private:
  bool fits(std::uint32_t i, topo::node_id n, bool capacity) const {
    return admissible(dag_, i, n, view_, c_, node_of_, placed_, capacity);
  }

  void set(std::uint32_t i, topo::node_id n, int lvl) {
    node_of_[i] = n;
    placed_[i] = 1;
    level_[i] = lvl;
    consume(view_, dag_.nodes[i], n);
  }

  // First fit scans SmartNICs before hosts (each in cluster order): the paper leaves the order
  // open, and E3 prefers the energy-efficient SmartNICs wherever an instance fits.
  topo::node_id find_first_fit(std::uint32_t i) {
    for (auto list : {view_.cluster->smartnics(), view_.cluster->hosts()})
      for (auto n : list)
        if (fits(i, n, true))
          return n;
    const auto& nodes = view_.cluster->nodes();
    // Nothing fits: the admissible node that violates capacity least.
    const auto& d = dag_.nodes[i];
    double best = 0;
    long found = -1;
    for (const auto& n : nodes) {
      if (!fits(i, n.id, false))
        continue;
      const auto& st = view_.nodes[n.id];
      auto ratio = [](double need, double have) { return need <= 0 ? 0.0 : need / std::max(have, 1e-9); };
      double r = std::max({ratio(core_demand(d, n), st.free_cores), ratio(d.memory_mb, st.free_memory_mb),
                           ratio(d.gbps, st.free_gbps)});
      if (found < 0 || r < best) {
        best = r;
        found = long(n.id);
      }
    }
    if (found < 0)
      throw placement_error("instance " + std::to_string(i) + " (" + d.kind +
                            ") has no admissible node: every candidate breaks a constraint other than capacity");
    over_.push_back(i);
    return topo::node_id(found);
  }

  // find_best_fit on one level; returns false when no node of the level fits.
  bool find_best_fit(std::uint32_t i, const topo::level& l, topo::node_id& out) const {
    const auto& d = dag_.nodes[i];
    const auto* prof = topo::find_service_profile(d.kind);
    bool found = false;
    double best_j = 0, best_left = 0;
    for (auto m : l.candidates) {
      if (!view_.cluster->in_level(l, m) || !fits(i, m, true))
        continue;
      const auto& cn = view_.cluster->node(m);
      double j = prof ? topo::active_joules_per_request(*prof, cn, d.request_bytes) : 0;
      double left = (view_.nodes[m].free_cores - core_demand(d, cn)) / cn.cores;
      bool better = !found || j < best_j * (1 - 1e-9) ||
                    (j <= best_j * (1 + 1e-9) && (left < best_left - 1e-12 || (left <= best_left + 1e-12 && m < out)));
      if (better) {
        found = true;
        best_j = j;
        best_left = left;
        out = m;
      }
    }
    return found;
  }

  std::pair<topo::node_id, int> ms_place(std::uint32_t i, topo::node_id parent) {
    auto levels = view_.cluster->levels(parent);
    for (std::size_t k = 0; k < levels.size(); ++k) {
      topo::node_id n = 0;
      if (find_best_fit(i, levels[k], n))
        return {n, int(k)};
    }
    return {find_first_fit(i), -1};
  }

  const app_dag& dag_;
  cluster_view& view_;
  const constraints& c_;
  std::vector<topo::node_id> node_of_;
  std::vector<char> placed_;
  std::vector<int> level_;
  std::vector<std::uint32_t> over_;
};

}  // namespace

placement hcm_place(const app_dag& dag, cluster_view& view, const constraints& c) {
  return hcm(dag, view, c).run();
}

}  // namespace e3::sched
