// Fig. 6's per-app comparison (§5.4): one app placed by HCM, simulated annealing and the ILP on
// an empty cluster, each placement scored by the evaluation model (scheduler/evaluate.hpp) at
// the app's design load and at saturation. A function, so a live-runtime variant can reuse it.
#pragma once

#include <string>

#include "scheduler/annealing.hpp"
#include "scheduler/ilp.hpp"
#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::bench {

/// Settings of the three placements.
struct compare_options {
  sched::constraints constraints;  ///< the same for every algorithm
  sched::sa_options sa;            ///< annealing knobs (seed, iteration limit, budget)
  sched::ilp_options ilp;          ///< ILP knobs (time limit)
};

/// One algorithm's placement of one app and its evaluation.
struct algo_outcome {
  std::string algo;              ///< "hcm", "sa" or "ilp"
  bool placed = false;           ///< false when the algorithm returned no placement (ILP status says why)
  std::string status;            ///< "ok", "N overcommitted", or the ILP's status
  double place_ms = 0;           ///< wall time of the placement call
  sched::placement placement;    ///< where each instance went
  double spread = 0;             ///< load spread of the cluster afterwards (SA's energy without penalties)
  sched::evaluation design;      ///< the evaluation at the manifest's rate_rps
  sched::evaluation saturation;  ///< the evaluation at design.max_throughput_rps
};

/// HCM, SA and ILP on one app.
struct app_comparison {
  std::string app;         ///< the app's name
  double design_rps = 0;   ///< its manifest's rate_rps
  algo_outcome hcm;        ///< HCM (Algorithm 1)
  algo_outcome sa;         ///< simulated annealing
  algo_outcome ilp;        ///< the ILP
};

/// Places `spec` on an empty view of `c` with each algorithm in turn (each on its own fresh view)
/// and evaluates every placement.
app_comparison compare_placements(const sched::app_spec& spec, const topo::cluster& c, const compare_options& o);

}  // namespace e3::bench
