// Simulated annealing placement, modelled on Service Fabric's Placement and Load Balancer (PLB):
// the baseline HCM is compared with in §5.4 and Table 6.
//
// Like the PLB it ignores network topology and favours spreading load (§3.3): the energy of a
// state is the standard deviation, across the cluster's live nodes, of each node's CPU share
// (busy cores / cores, pre-existing load included) and memory share (used / memory), weighted,
// plus a move cost for instances that leave the node a `previous` placement gave them (a
// rebalancing; a fresh placement moves nothing that already runs, so it pays none), plus a
// penalty per instance left overcommitted. States are always admissible: every move and swap is
// checked with admissible() (capacity, host-only, replicas apart) and accounted with
// consume()/release(), so the constraints HCM obeys hold at every step.
//
// The search: a random admissible initial state (an instance that fits nowhere takes the node it
// overcommits least and is penalised until a move frees it); the initial temperature from probe
// moves, set so that the mean worsening probe is accepted with probability `initial_accept`;
// then `steps_per_temperature` proposals per stage (a share of them swaps), Metropolis
// acceptance, geometric cooling by `cooling`. It stops when the temperature falls below
// `min_temperature_ratio` of the initial one, when `frozen_stages` stages in a row accept
// nothing, after `max_iterations` proposals, or when the caller's time budget runs out; it
// returns the best state seen. With a fixed seed and an iteration limit (no budget) the result
// is deterministic on any machine.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/placement.hpp"

namespace e3::sched {

/// The load-spread cost SA and the ILP both minimise: weights of each node's CPU share and memory
/// share in the spread (SA: standard deviation; ILP: its linear counterpart, the mean absolute
/// deviation). CPU counts most: co-execution interference is mostly contention for cores.
struct spread_weights {
  double cpu = 1.0;     ///< weight of the spread of CPU shares
  double memory = 0.5;  ///< weight of the spread of memory shares
};

/// Knobs of sa_place. The defaults suit app-sized problems (tens to hundreds of instances).
struct sa_options {
  std::uint64_t seed = 1;             ///< the only source of randomness
  spread_weights weights;             ///< energy weights of the load spread
  double move_cost = 0.05;            ///< energy per instance away from `previous` (share of instances moved × this)
  double overcommit_penalty = 10.0;   ///< energy per overcommitted instance (share of instances × this)
  /// The current node of each instance when rebalancing a running app (move cost counts moves
  /// away from it, and the search starts there); empty for a fresh placement.
  std::vector<topo::node_id> previous;
  int probe_moves = 100;              ///< probe moves that set the initial temperature
  double initial_accept = 0.8;        ///< acceptance probability of the mean worsening probe
  double cooling = 0.95;              ///< temperature factor per stage (geometric decay)
  int steps_per_temperature = 0;      ///< proposals per stage; 0: max(100, 4 × instances)
  double min_temperature_ratio = 1e-4;  ///< stop when T < T0 × this
  int frozen_stages = 8;              ///< stop after this many stages in a row without an accepted move
  double swap_share = 0.3;            ///< share of proposals that swap two instances instead of moving one
  std::uint64_t max_iterations = 1'000'000;  ///< proposals at most (probes excluded)
  /// Wall-clock budget of the search (measured with steady_clock from the call); nullopt: none.
  /// Tests leave it unset and bound the work by max_iterations, so results do not depend on speed.
  std::optional<std::chrono::nanoseconds> time_budget;
};

/// Why the annealing stopped.
enum class sa_stop {
  converged,        ///< the temperature fell below min_temperature_ratio × T0
  frozen,           ///< frozen_stages stages in a row accepted nothing
  iteration_limit,  ///< max_iterations proposals made
  time_budget,      ///< the caller's time budget ran out
  trivial,          ///< nothing to search (no instance, or a single candidate node)
};

/// "converged", "frozen", "iteration limit", "time budget", "trivial".
std::string to_string(sa_stop s);

/// What one annealing run did, for reports and tests.
struct sa_stats {
  std::uint64_t iterations = 0;    ///< proposals made (probes excluded)
  std::uint64_t accepted = 0;      ///< proposals accepted
  std::uint64_t inadmissible = 0;  ///< proposals refused: a constraint (capacity, host-only, replicas apart) or a no-op
  int stages = 0;                  ///< temperature stages run
  double initial_temperature = 0;  ///< T0 from the probes
  double final_temperature = 0;    ///< T when it stopped
  double initial_energy = 0;       ///< energy of the initial state
  double final_energy = 0;         ///< energy of the returned (best) state
  sa_stop stop = sa_stop::trivial; ///< why it stopped
};

/// Places every instance of `dag` by simulated annealing, consuming resources from `view`.
/// Same inputs and constraints as hcm_place; returns a placement with algo "sa" (level_used is
/// -1 everywhere: SA does not search levels; overcommitted lists instances that fit nowhere).
/// Deterministic for a fixed seed when no time budget cuts it short. Throws placement_error
/// when an instance has no admissible node even ignoring capacity, and std::invalid_argument
/// when `previous` is given with the wrong size or initial_accept / cooling is outside (0, 1).
placement sa_place(const app_dag& dag, cluster_view& view, const constraints& c = {}, const sa_options& o = {},
                   sa_stats* stats = nullptr);

/// The load-spread part of SA's energy for a view (weighted standard deviations of the live
/// nodes' CPU and memory shares): how evenly the view's load is spread. For reports and tests.
double load_spread(const cluster_view& view, const spread_weights& w = {});

}  // namespace e3::sched
