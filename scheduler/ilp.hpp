// ILP placement (GLPK): the exact baseline HCM is compared with in §5.4 and Table 6.
//
// The model, for one app on the current cluster view: a binary x[i][n] for every instance i and
// every live node n it may use on its own (host-only, SmartNIC-only, up, not over
// max_outstanding, and, with capacity on, fitting the node's free cores, memory and bandwidth);
// each instance on exactly one node; per node, the instances' core demand in the node's own
// cores (core_demand, keeping constraints::core_headroom free), memory and bandwidth within what
// is free; per primary and server, at most one of the primary and its replicas (replicas apart).
// Objective: like SA (annealing.hpp), load spread, ignoring topology as Service Fabric does
// (§3.3): the weighted mean absolute deviation, across live nodes, of the CPU share and the
// memory share (pre-existing load included) — the linear counterpart of SA's standard
// deviation, linearised with one deviation variable per node and metric.
//
// Solved by GLPK's branch and cut (MIP presolve on; Gomory, MIR, cover and clique cuts; the
// feasibility pump) under a wall-clock limit that covers building the model too. On the limit
// the best integer solution found is returned and the status says so. GLPK checks its limit
// only between LP solves and cut rounds, so a large model can overrun it: the detail says by
// how much. A model larger than `max_nonzeros` is not built at all: the status says
// "over limit" with its size.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "scheduler/annealing.hpp"
#include "scheduler/placement.hpp"

namespace e3::sched {

/// Knobs of ilp_place.
struct ilp_options {
  spread_weights weights;  ///< objective weights (the same meaning as SA's)
  /// Wall-clock limit of the whole call: model building plus branch and cut.
  std::chrono::milliseconds time_limit{10'000};
  double mip_gap = 0.0;    ///< stop when the relative gap to the best bound is at most this (0: prove optimality)
  /// Stop after this many branch-and-bound subproblems (0: no limit). Unlike the time limit it
  /// does not depend on the machine's speed: tests use it (with a generous time limit).
  std::uint64_t max_nodes = 0;
  /// Size guard: models with more constraint-matrix nonzeros are reported over limit unsolved.
  /// Measured here: the root LP relaxation of one app on 100 Type2 servers (~230 K nonzeros)
  /// takes GLPK 2–4 s of CPU and grows superlinearly, so beyond ~2 M it cannot finish in a limit
  /// of tens of seconds.
  std::size_t max_nonzeros = 2'000'000;
  bool cuts = true;        ///< Gomory, MIR, cover and clique cuts (Gomory and MIR only up to cut_max_nonzeros)
  /// Largest model on which Gomory and MIR cuts run: on larger ones GLPK's rounds of them ignore
  /// the time limit for tens of seconds, so only cover and clique cuts are generated.
  std::size_t cut_max_nonzeros = 200'000;
  bool presolve = true;    ///< GLPK's MIP presolver
};

/// How the solve ended.
enum class ilp_status {
  optimal,           ///< proven optimal
  within_gap,        ///< an integer solution within ilp_options::mip_gap of the best bound
  feasible_timeout,  ///< the time limit stopped the search; the best integer solution found is returned
  feasible_node_limit,  ///< max_nodes stopped the search; the best integer solution found is returned
  no_solution,       ///< the time (or node) limit stopped the search before any integer solution
  infeasible,        ///< no placement satisfies the constraints (e.g. an instance fits no node)
  over_limit,        ///< the model exceeds max_nonzeros (or its building took the whole limit): not solved
  solver_error,      ///< GLPK failed (numerical trouble); detail says how
};

/// "optimal", "optimal within gap", "feasible (time limit)", "feasible (node limit)",
/// "no solution within the limit", "infeasible", "over limit", "solver error".
std::string to_string(ilp_status s);

/// True when `s` comes with a placement.
inline bool has_placement(ilp_status s) {
  return s == ilp_status::optimal || s == ilp_status::within_gap || s == ilp_status::feasible_timeout ||
         s == ilp_status::feasible_node_limit;
}

/// What ilp_place returns: the status, the placement when there is one, and the solve's size
/// and timing for reports.
struct ilp_result {
  ilp_status status = ilp_status::no_solution;  ///< how it ended
  placement placed;             ///< algo "ilp"; node_of empty unless has_placement(status)
  double objective = 0;         ///< spread cost of the returned solution (weighted mean absolute deviations)
  double gap = -1;              ///< relative gap to the best bound at the end (0 when optimal; -1 unknown)
  std::size_t variables = 0;    ///< binaries x[i][n] (plus the deviation variables)
  std::size_t rows = 0;         ///< constraints
  std::size_t nonzeros = 0;     ///< constraint-matrix entries (estimated when over_limit)
  double build_ms = 0;          ///< time to build the model
  double solve_ms = 0;          ///< time in GLPK
  std::string detail;           ///< one line for people: what happened and why
};

/// Places every instance of `dag` by the ILP above. When a placement is returned its resources
/// are consumed from `view`; otherwise `view` is unchanged. Same constraints as hcm_place.
/// Deterministic for a given model when the search ends before the time limit.
ilp_result ilp_place(const app_dag& dag, cluster_view& view, const constraints& c = {}, const ilp_options& o = {});

}  // namespace e3::sched
