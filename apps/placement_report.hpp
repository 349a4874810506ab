// Printing placements and their evaluation, as tables for people and JSON for programs.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "scheduler/scheduler.hpp"
#include "topology/topology.hpp"

namespace e3::apps {

/// Loads an app: `name_or_path` is a manifest file, or the name of one in apps/manifests
/// (e.g. "iot-ts"). Throws manifest_error.
sched::app_spec load_app(const std::string& name_or_path);

/// The folder holding the paper's manifests.
std::string manifest_dir();

/// "a, b, c".
std::string join(const std::vector<std::string>& v, const std::string& sep = ", ");

/// One entry per instance: id, service, shard, kind, node, server, node_type, replica_of (the
/// primary's id, or null), level (the HCM level used, or null for first fit).
nlohmann::json placements_json(const sched::app_spec& spec, const sched::app_dag& dag, const topo::cluster& c,
                               const sched::placement& p);

/// The evaluation as JSON; power figures carry "modelled": true.
nlohmann::json evaluation_json(const sched::evaluation& ev, const topo::cluster& c);

/// A table of instances grouped by node.
void print_placement(std::ostream& out, const sched::app_spec& spec, const sched::app_dag& dag,
                     const topo::cluster& c, const sched::placement& p);

/// The evaluation: load per node, edges per path kind, throughput, latency, modelled power.
void print_evaluation(std::ostream& out, const sched::evaluation& ev, const topo::cluster& c);

}  // namespace e3::apps
