// Test helper: checks a placement against the constraints from scratch (not through the
// algorithms' own bookkeeping) and the view's accounting against the placement.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::sched::testing {

/// Expects that `p` places every instance of `dag` on `c`: host-only instances on hosts, no
/// replica on the server of its primary or of a sibling replica, and — for every node that holds
/// no overcommitted instance — the summed core demand within core_headroom of its cores, memory
/// and bandwidth within the node's.
inline void expect_constraints(const app_dag& dag, const topo::cluster& c, const placement& p,
                               const constraints& k = {}, const std::string& what = "") {
  ASSERT_EQ(p.node_of.size(), dag.nodes.size()) << what;
  std::vector<double> cores(c.nodes().size(), 0), mem(c.nodes().size(), 0), gbps(c.nodes().size(), 0);
  std::vector<char> has_over(c.nodes().size(), 0);
  for (auto i : p.overcommitted)
    has_over[p.node_of[i]] = 1;
  for (const auto& n : dag.nodes) {
    const auto& cn = c.node(p.node_of[n.id]);
    if (n.host_only) {
      EXPECT_EQ(cn.kind, topo::node_kind::host) << what << ": host-only instance " << n.id << " (" << n.kind << ")";
    }
    if (n.replica_of >= 0) {
      auto prim = std::uint32_t(n.replica_of);
      EXPECT_NE(cn.server, c.node(p.node_of[prim]).server)
          << what << ": replica " << n.id << " on its primary's server";
      for (auto sib : dag.replicas[prim]) {
        if (sib != n.id) {
          EXPECT_NE(cn.server, c.node(p.node_of[sib]).server) << what << ": replicas " << n.id << " and " << sib;
        }
      }
    }
    cores[cn.id] += core_demand(n, cn);
    mem[cn.id] += n.memory_mb;
    gbps[cn.id] += n.gbps;
  }
  for (const auto& cn : c.nodes()) {
    if (has_over[cn.id])
      continue;
    EXPECT_LE(cores[cn.id], cn.cores * k.core_headroom + 1e-6) << what << ": cores of " << cn.name;
    EXPECT_LE(mem[cn.id], cn.memory_mb + 1e-6) << what << ": memory of " << cn.name;
    EXPECT_LE(gbps[cn.id], cn.network_gbps + 1e-6) << what << ": bandwidth of " << cn.name;
  }
}

/// Expects that `view` (empty before the placement) accounts exactly for `p`: free = total −
/// the placed instances' demands on every node.
inline void expect_accounted(const app_dag& dag, const topo::cluster& c, const placement& p,
                             const cluster_view& view, const std::string& what = "") {
  std::vector<double> cores(c.nodes().size(), 0), mem(c.nodes().size(), 0), gbps(c.nodes().size(), 0);
  for (const auto& n : dag.nodes) {
    const auto& cn = c.node(p.node_of[n.id]);
    cores[cn.id] += core_demand(n, cn);
    mem[cn.id] += n.memory_mb;
    gbps[cn.id] += n.gbps;
  }
  for (const auto& cn : c.nodes()) {
    EXPECT_NEAR(view.nodes[cn.id].free_cores, cn.cores - cores[cn.id], 1e-6) << what << ": " << cn.name;
    EXPECT_NEAR(view.nodes[cn.id].free_memory_mb, cn.memory_mb - mem[cn.id], 1e-6) << what << ": " << cn.name;
    EXPECT_NEAR(view.nodes[cn.id].free_gbps, cn.network_gbps - gbps[cn.id], 1e-6) << what << ": " << cn.name;
  }
}

}  // namespace e3::sched::testing
