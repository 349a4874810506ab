// HCM: the hierarchical, communication-aware placement of Algorithm 1 (§3.3).
//
// A breadth-first traversal of the app DAG from its source instances. An unplaced instance
// goes to find_first_fit (the first admissible node, SmartNICs before hosts, each in cluster
// order, ignoring topology); each
// of its direct descendants goes to MS_PLACE: the hierarchical levels of its parent's node,
// closest first (same node, same server, SmartNIC in the rack, host in the rack, then farther),
// taking find_best_fit on the first level where any node fits, and find_first_fit when none
// does. Replicas are placed last, by MS_PLACE from their primary's node, so they land as close
// as the fault-domain rule allows.
//
// "Best fit" here: among the admissible nodes of a level, the node where the instance's kind
// spends the least active energy per request (Table 1: a SmartNIC for offload-friendly kinds,
// the host for branch-heavy ones), then the tightest fit (least free cores left after placing,
// as in best-fit bin packing: it consolidates load, so unused hosts keep their cores asleep),
// then the lowest node id. Energy first, because E3's objective is requests per joule;
// tightness second, because a consolidated cluster draws less idle-core power.
//
// Deviations from Algorithm 1 as printed: a descendant that is already placed keeps its node
// (the printed loop would move it each time another parent reaches it), and each instance is
// enqueued once. When no node fits at all, find_first_fit returns the admissible node that
// violates capacity least, and the placement lists the instance as overcommitted.
#pragma once

#include "scheduler/placement.hpp"

namespace e3::sched {

/// Places every instance of `dag` with HCM, consuming resources from `view`. Deterministic.
/// Throws placement_error when an instance has no admissible node even ignoring capacity.
placement hcm_place(const app_dag& dag, cluster_view& view, const constraints& c = {});

}  // namespace e3::sched
