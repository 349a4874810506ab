// ILP placement with GLPK's branch and cut.
#include "scheduler/ilp.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

namespace e3::sched {
namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// The objective is scaled so typical spreads (a few percent) are numbers near 1 for GLPK.
constexpr double objective_scale = 100.0;

// One candidate: instance i on node n, with its demands there.
struct candidate {
  std::uint32_t inst;
  topo::node_id node;
  double cores;  // core_demand on that node
};

// Triplets of the constraint matrix, 1-based as GLPK wants them (index 0 unused).
struct matrix {
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0.0};
  void add(int row, int col, double v) {
    if (v == 0)
      return;
    ia.push_back(row);
    ja.push_back(col);
    ar.push_back(v);
  }
  std::size_t size() const { return ia.size() - 1; }
};

// The model under construction: rows are added with their bounds, columns are known up front.
struct model {
  glp_prob* p = glp_create_prob();
  matrix m;
  std::vector<std::pair<int, std::pair<double, double>>> row_bounds;  // type, (lo, hi)
  ~model() { glp_delete_prob(p); }
  model() = default;
  model(const model&) = delete;
  model& operator=(const model&) = delete;
  int row(int type, double lo, double hi) {
    row_bounds.push_back({type, {lo, hi}});
    return int(row_bounds.size());
  }
};

struct search_info {
  clock_type::time_point start;
  double limit_ms = 0;
  std::uint64_t max_nodes = 0;  // 0: none
  double gap = -1;
  std::uint64_t nodes = 0;      // subproblems started
  bool node_limit_hit = false;
  bool time_limit_hit = false;
};

void callback(glp_tree* t, void* info) {
  auto* s = static_cast<search_info*>(info);
  double g = glp_ios_mip_gap(t);
  if (g < 1e300)
    s->gap = g;
  if (glp_ios_reason(t) == GLP_IPREPRO && s->max_nodes > 0 && ++s->nodes > s->max_nodes) {
    s->node_limit_hit = true;
    glp_ios_terminate(t);
    return;
  }
  // GLPK checks tm_lim itself between nodes; this also stops it when the root took the time.
  if (ms_since(s->start) > s->limit_ms) {
    s->time_limit_hit = true;
    glp_ios_terminate(t);
  }
}

}  // namespace

std::string to_string(ilp_status s) {
  switch (s) {
    case ilp_status::optimal: return "optimal";
    case ilp_status::within_gap: return "optimal within gap";
    case ilp_status::feasible_timeout: return "feasible (time limit)";
    case ilp_status::feasible_node_limit: return "feasible (node limit)";
    case ilp_status::no_solution: return "no solution within the limit";
    case ilp_status::infeasible: return "infeasible";
    case ilp_status::over_limit: return "over limit";
    case ilp_status::solver_error: return "solver error";
  }
  return "?";
}

ilp_result ilp_place(const app_dag& dag, cluster_view& view, const constraints& c, const ilp_options& o) {
  auto t0 = clock_type::now();
  const double limit_ms = double(o.time_limit.count());
  ilp_result r;
  r.placed.algo = "ilp";
  const auto& cl = *view.cluster;
  const std::size_t n_inst = dag.nodes.size();

  std::vector<topo::node_id> up;
  for (const auto& cn : cl.nodes())
    if (view.nodes[cn.id].up)
      up.push_back(cn.id);
  const double n_up = double(up.size());

  // Candidates: every node an instance may use on its own (replicas apart needs the others).
  std::vector<candidate> cand;
  std::vector<std::size_t> first(n_inst + 1, 0);
  {
    std::vector<topo::node_id> dummy(n_inst, 0);
    std::vector<char> none(n_inst, 0);
    for (std::uint32_t i = 0; i < n_inst; ++i) {
      first[i] = cand.size();
      for (auto n : up)
        if (admissible(dag, i, n, view, c, dummy, none, true))
          cand.push_back({i, n, core_demand(dag.nodes[i], cl.node(n))});
      if (cand.size() == first[i]) {
        r.status = ilp_status::infeasible;
        r.detail = "instance " + std::to_string(i) + " (" + dag.nodes[i].kind + ") fits no node on its own";
        r.build_ms = ms_since(t0);
        return r;
      }
    }
    first[n_inst] = cand.size();
  }
  const std::size_t nx = cand.size();
  const bool cpu_spread = o.weights.cpu > 0, mem_spread = o.weights.memory > 0;
  // Per binary: assignment, cpu/mem/bw capacity, replicas apart, and per spread metric the mean
  // row and its node's excess row; plus two entries per excess variable.
  std::size_t est = nx * (5 + 2 * (int(cpu_spread) + int(mem_spread))) + 2 * up.size() * 2;
  r.variables = nx;
  if (est > o.max_nonzeros) {
    r.status = ilp_status::over_limit;
    r.nonzeros = est;
    r.detail = "model too large to solve within the limit: " + std::to_string(nx) + " binaries, ~" +
               std::to_string(est) + " nonzeros (guard " + std::to_string(o.max_nonzeros) + "); not solved";
    r.build_ms = ms_since(t0);
    return r;
  }

  // Candidates by node, for the per-node rows.
  std::vector<std::uint32_t> node_pos(cl.nodes().size(), ~0u);
  for (std::size_t k = 0; k < up.size(); ++k)
    node_pos[up[k]] = std::uint32_t(k);
  std::vector<std::size_t> by_node_first(up.size() + 1, 0);
  std::vector<std::uint32_t> by_node(nx);
  for (const auto& x : cand)
    ++by_node_first[node_pos[x.node] + 1];
  for (std::size_t k = 0; k < up.size(); ++k)
    by_node_first[k + 1] += by_node_first[k];
  {
    auto fill = by_node_first;
    for (std::size_t j = 0; j < nx; ++j)
      by_node[fill[node_pos[cand[j].node]]++] = std::uint32_t(j);
  }

  model md;
  glp_set_obj_dir(md.p, GLP_MIN);
  // Columns: x (1..nx), then per spread metric: the mean, and one deviation per live node.
  const int col_x = 1;
  int ncols = int(nx);
  int col_cpu_mean = 0, col_cpu_dev = 0, col_mem_mean = 0, col_mem_dev = 0;
  if (cpu_spread) {
    col_cpu_mean = ++ncols;
    col_cpu_dev = ncols + 1;
    ncols += int(up.size());
  }
  if (mem_spread) {
    col_mem_mean = ++ncols;
    col_mem_dev = ncols + 1;
    ncols += int(up.size());
  }
  glp_add_cols(md.p, ncols);
  for (std::size_t j = 0; j < nx; ++j)
    glp_set_col_kind(md.p, col_x + int(j), GLP_BV);
  auto continuous = [&](int col, double obj) {
    glp_set_col_bnds(md.p, col, GLP_LO, 0, 0);
    glp_set_obj_coef(md.p, col, obj);
  };
  if (cpu_spread) {
    continuous(col_cpu_mean, 0);
    for (std::size_t k = 0; k < up.size(); ++k)
      continuous(col_cpu_dev + int(k), 2 * objective_scale * o.weights.cpu / n_up);
  }
  if (mem_spread) {
    continuous(col_mem_mean, 0);
    for (std::size_t k = 0; k < up.size(); ++k)
      continuous(col_mem_dev + int(k), 2 * objective_scale * o.weights.memory / n_up);
  }

  // Each instance on exactly one node.
  for (std::uint32_t i = 0; i < n_inst; ++i) {
    int row = md.row(GLP_FX, 1, 1);
    for (auto j = first[i]; j < first[i + 1]; ++j)
      md.m.add(row, col_x + int(j), 1);
  }
  // Capacity per node, only where the candidates together could exceed it.
  if (c.capacity) {
    for (std::size_t k = 0; k < up.size(); ++k) {
      const auto& cn = cl.node(up[k]);
      const auto& st = view.nodes[up[k]];
      double sum_c = 0, sum_m = 0, sum_g = 0;
      for (auto q = by_node_first[k]; q < by_node_first[k + 1]; ++q) {
        const auto& x = cand[by_node[q]];
        sum_c += x.cores;
        sum_m += dag.nodes[x.inst].memory_mb;
        sum_g += dag.nodes[x.inst].gbps;
      }
      double cap_c = st.free_cores - double(cn.cores) * (1.0 - c.core_headroom) + 1e-9;
      auto add_cap = [&](double sum, double cap, auto coef) {
        if (sum <= cap)
          return;
        int row = md.row(GLP_UP, 0, cap);
        for (auto q = by_node_first[k]; q < by_node_first[k + 1]; ++q)
          md.m.add(row, col_x + int(by_node[q]), coef(cand[by_node[q]]));
      };
      add_cap(sum_c, cap_c, [](const candidate& x) { return x.cores; });
      add_cap(sum_m, st.free_memory_mb + 1e-9, [&](const candidate& x) { return dag.nodes[x.inst].memory_mb; });
      add_cap(sum_g, st.free_gbps + 1e-9, [&](const candidate& x) { return dag.nodes[x.inst].gbps; });
    }
  }
  // Replicas apart: per primary with replicas and per server, at most one of the group.
  if (c.replicas_apart) {
    std::vector<std::vector<int>> on_server(cl.servers().size());
    std::vector<int> touched;
    for (std::uint32_t i = 0; i < dag.primaries && i < n_inst; ++i) {
      if (dag.replicas[i].empty())
        continue;
      auto collect = [&](std::uint32_t g) {
        for (auto j = first[g]; j < first[g + 1]; ++j) {
          int s = cl.node(cand[j].node).server;
          if (on_server[std::size_t(s)].empty())
            touched.push_back(s);
          on_server[std::size_t(s)].push_back(col_x + int(j));
        }
      };
      collect(i);
      for (auto rep : dag.replicas[i])
        collect(rep);
      std::sort(touched.begin(), touched.end());
      for (int s : touched) {
        auto& cols = on_server[std::size_t(s)];
        if (cols.size() >= 2) {
          int row = md.row(GLP_UP, 0, 1);
          for (int col : cols)
            md.m.add(row, col, 1);
        }
        cols.clear();
      }
      touched.clear();
    }
  }
  // Spread: the mean share M = (1/N) Σ_n u_n, with u_n = base_n + Σ_i a_in x_in, and one excess
  // variable per node, e_n ≥ u_n − M (e_n ≥ 0). Since Σ_n (u_n − M) = 0, Σ_n |u_n − M| = 2 Σ_n e_n at
  // the optimum: the mean absolute deviation with one row per node instead of two.
  auto spread = [&](int col_mean, int col_dev, auto base_of, auto coef_of) {
    double base_sum = 0;
    std::vector<double> base(up.size());
    for (std::size_t k = 0; k < up.size(); ++k) {
      base[k] = base_of(cl.node(up[k]), view.nodes[up[k]]);
      base_sum += base[k];
    }
    int mean_row = md.row(GLP_FX, base_sum / n_up, base_sum / n_up);
    md.m.add(mean_row, col_mean, 1);
    for (std::size_t j = 0; j < nx; ++j)
      md.m.add(mean_row, col_x + int(j), -coef_of(cand[j]) / n_up);
    for (std::size_t k = 0; k < up.size(); ++k) {
      int above = md.row(GLP_LO, base[k], 0);  // e_n − Σ a x + M ≥ base_n
      md.m.add(above, col_dev + int(k), 1);
      md.m.add(above, col_mean, 1);
      for (auto q = by_node_first[k]; q < by_node_first[k + 1]; ++q)
        md.m.add(above, col_x + int(by_node[q]), -coef_of(cand[by_node[q]]));
    }
  };
  if (cpu_spread)
    spread(
        col_cpu_mean, col_cpu_dev,
        [](const topo::compute_node& cn, const node_state& st) {
          return (double(cn.cores) - st.free_cores) / double(cn.cores);
        },
        [&](const candidate& x) { return x.cores / double(cl.node(x.node).cores); });
  if (mem_spread)
    spread(
        col_mem_mean, col_mem_dev,
        [](const topo::compute_node& cn, const node_state& st) {
          return cn.memory_mb > 0 ? (cn.memory_mb - st.free_memory_mb) / cn.memory_mb : 0;
        },
        [&](const candidate& x) {
          double mem = cl.node(x.node).memory_mb;
          return mem > 0 ? dag.nodes[x.inst].memory_mb / mem : 0;
        });

  glp_add_rows(md.p, int(md.row_bounds.size()));
  for (std::size_t k = 0; k < md.row_bounds.size(); ++k) {
    const auto& [type, b] = md.row_bounds[k];
    glp_set_row_bnds(md.p, int(k) + 1, type, b.first, b.second);
  }
  glp_load_matrix(md.p, int(md.m.size()), md.m.ia.data(), md.m.ja.data(), md.m.ar.data());
  r.variables = std::size_t(ncols);
  r.rows = md.row_bounds.size();
  r.nonzeros = md.m.size();
  r.build_ms = ms_since(t0);
  if (r.build_ms >= limit_ms) {
    r.status = ilp_status::over_limit;
    r.detail = "building the model (" + std::to_string(r.nonzeros) + " nonzeros) took the whole limit; not solved";
    return r;
  }

  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.presolve = o.presolve ? GLP_ON : GLP_OFF;
  // GMI and MIR rounds ignore the time limit on large models (measured: 58 s of MIR under a 10 s
  // limit at 300 K nonzeros): above cut_max_nonzeros only the cover and clique cuts run.
  bool all_cuts = o.cuts && r.nonzeros <= o.cut_max_nonzeros;
  parm.gmi_cuts = parm.mir_cuts = all_cuts ? GLP_ON : GLP_OFF;
  parm.cov_cuts = parm.clq_cuts = o.cuts ? GLP_ON : GLP_OFF;
  parm.fp_heur = GLP_ON;
  parm.mip_gap = o.mip_gap;
  parm.tm_lim = int(std::max(1.0, limit_ms - r.build_ms));
  search_info info{t0, limit_ms, o.max_nodes};
  parm.cb_func = callback;
  parm.cb_info = &info;
  // GLPK prints some cut-generator messages whatever msg_lev says: silence its terminal output
  // for the calls (per thread in GLPK 5) and restore the caller's setting.
  int term = glp_term_out(GLP_OFF);
  if (!o.presolve) {  // without the MIP presolver glp_intopt starts from an optimal LP basis
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    sp.tm_lim = parm.tm_lim;
    glp_scale_prob(md.p, GLP_SF_AUTO);
    glp_adv_basis(md.p, 0);
    glp_simplex(md.p, &sp);
    parm.tm_lim = int(std::max(1.0, limit_ms - ms_since(t0)));
  }
  glp_term_out(term);
  auto ts = clock_type::now();
  term = glp_term_out(GLP_OFF);
  int ret = glp_intopt(md.p, &parm);
  glp_term_out(term);
  r.solve_ms = ms_since(ts);
  double over_ms = ms_since(t0) - limit_ms;
  int ms = glp_mip_status(md.p);
  bool have = ms == GLP_OPT || ms == GLP_FEAS;
  std::string limit_text = std::to_string(o.time_limit.count()) + " ms";
  if (ret == 0 && ms == GLP_OPT) {
    r.status = ilp_status::optimal;
    r.gap = 0;
    r.detail = "optimal";
  } else if (ret == GLP_EMIPGAP && have) {
    r.status = ilp_status::within_gap;
    r.gap = info.gap;
    r.detail = "within the " + std::to_string(o.mip_gap) + " relative gap";
  } else if (ret == GLP_ESTOP && info.node_limit_hit && have) {
    r.status = ilp_status::feasible_node_limit;
    r.gap = info.gap;
    r.detail = "stopped after " + std::to_string(o.max_nodes) + " subproblems with an integer solution, not proven optimal";
  } else if ((ret == GLP_ETMLIM || ret == GLP_ESTOP) && have) {
    r.status = ilp_status::feasible_timeout;
    r.gap = info.gap;
    r.detail = "stopped at the " + limit_text + " limit with an integer solution, not proven optimal";
  } else if (ret == GLP_ESTOP && info.node_limit_hit) {
    r.status = ilp_status::no_solution;
    r.detail = "stopped after " + std::to_string(o.max_nodes) + " subproblems before any integer solution";
  } else if (ret == GLP_ETMLIM || ret == GLP_ESTOP || (ret == GLP_EROOT && ms_since(t0) >= limit_ms)) {
    r.status = ilp_status::no_solution;
    r.detail = "stopped at the " + limit_text + " limit before any integer solution";
  } else if (ret == GLP_ENOPFS || ms == GLP_NOFEAS) {
    r.status = ilp_status::infeasible;
    r.detail = "no placement satisfies capacity, host-only and replicas-apart together";
  } else {
    r.status = ilp_status::solver_error;
    r.detail = "GLPK glp_intopt returned " + std::to_string(ret) + ", MIP status " + std::to_string(ms);
  }
  if (over_ms > 0.1 * limit_ms)
    r.detail += "; GLPK overran the limit by " + std::to_string(std::int64_t(over_ms)) +
                " ms (it checks it only between LP solves and cut rounds)";
  if (!all_cuts && o.cuts)
    r.detail += "; Gomory and MIR cuts off (model over " + std::to_string(o.cut_max_nonzeros) + " nonzeros)";
  if (!has_placement(r.status))
    return r;

  r.objective = glp_mip_obj_val(md.p) / objective_scale;
  r.placed.node_of.assign(n_inst, 0);
  r.placed.level_used.assign(n_inst, -1);
  for (std::uint32_t i = 0; i < n_inst; ++i) {
    std::size_t pick = first[i];
    double best = -1;
    for (auto j = first[i]; j < first[i + 1]; ++j) {
      double v = glp_mip_col_val(md.p, col_x + int(j));
      if (v > best) {
        best = v;
        pick = j;
      }
    }
    r.placed.node_of[i] = cand[pick].node;
    consume(view, dag.nodes[i], cand[pick].node);
  }
  return r;
}

}  // namespace e3::sched
