// Running an app on an emulated cluster end to end: deploy with HCM, load it, and report
// throughput, latency, utilisation, modelled power and energy efficiency, link usage and losses.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "actors/runtime.hpp"
#include "apps/loadgen.hpp"

namespace e3::apps {

/// What to run.
struct run_options {
  sched::app_spec app;                  ///< the app
  std::string cluster = "3xType1-SmartNIC";  ///< topology preset
  double duration_s = 5;                ///< wall seconds of measurement
  double warmup_s = 1;                  ///< wall seconds before measuring
  double rate_rps = 0;                  ///< open loop at this emulated rate; 0 with !saturate: the manifest's design rate
  bool saturate = false;                ///< closed loop at saturation
  std::size_t window = 0;               ///< closed-loop window (0: chosen from the app's size)
  std::size_t request_bytes = 512;      ///< synthetic request size
  std::string trace;                    ///< replay a .pcap/.pcapng or a sensor .csv instead
  double dilation = 0;                  ///< time dilation factor; 0 = chosen to fit this machine
  std::uint64_t seed = 1;               ///< load seed
  bool orchestrator = false;            ///< run the data-plane orchestrator (§3.4)
  bool pack_smartnics = false;          ///< HCM packs SmartNICs by memory (§5.2's set-up)
  std::string state_dir;                ///< runtime_options::state_dir: empty = collections in memory
  /// Emulated interval of the health reports, ns; 0 = the runtime's (§3.4: 50 ms). The
  /// orchestrator's dwell, cool-down and settle times are multiples of it.
  std::int64_t health_interval_ns = 0;
  /// duration_s and warmup_s are EMULATED seconds (the wall clock takes dilation times longer),
  /// e.g. so the orchestrator sees the same number of health reports at any dilation.
  bool emulated_durations = false;
};

/// Per compute node, over the measurement.
struct node_report {
  std::string name;            ///< e.g. "r0/s1/nic0"
  std::string type;            ///< "host" or "smartnic"
  std::size_t instances = 0;   ///< instances placed there
  double utilisation = 0;      ///< emulated busy cores / cores
  double power_w = 0;          ///< modelled wall power
  std::uint64_t tm_packets = 0;  ///< packets through its traffic manager
};

/// Per service kind on one node, over the measurement.
struct kind_report {
  std::string node;            ///< node name
  std::string kind;            ///< service kind
  std::uint64_t messages = 0;  ///< messages its instances handled
  double mean_exec_us = 0;     ///< mean emulated execution time per message
};

/// What a run measured. Times EMULATED, power MODELLED.
struct run_report {
  std::string app, cluster, source;
  double dilation = 0;                   ///< emulated time ran this many times slower than real
  load_result load;                      ///< the load generator's measurements
  std::vector<node_report> nodes;        ///< per node
  std::vector<kind_report> kinds;        ///< per node and kind
  double power_w = 0;                    ///< modelled cluster wall power
  double requests_per_joule = 0;         ///< throughput / power
  std::array<std::uint64_t, 3> links{};  ///< messages by link kind: local, pcie, zmq
  std::uint64_t errors = 0;              ///< rejected by services
  std::uint64_t lost = 0;                ///< lost (undeliverable, dropped, timed out)
  std::uint64_t link_failures = 0;       ///< refused by links, cut or dropped
  std::uint64_t decode_errors = 0;       ///< malformed frames
  std::size_t smartnic_instances = 0, host_instances = 0;  ///< placement summary
  sched::evaluation model;               ///< HCM's modelled evaluation of the placement at the offered load
  bool orchestrator = false;             ///< the data-plane orchestrator ran
  bool pack_smartnics = false;           ///< HCM packed SmartNICs by memory
  std::string state_dir;                 ///< where collections were kept (empty: memory)
  std::int64_t health_interval_ns = 0;   ///< emulated health-report interval used
  std::vector<rt::migration_report> migrations;  ///< every migration of the run (warm-up included)
  std::vector<rt::health_report> health;  ///< each node's last health report at the end of the measurement
  // Honesty about this machine:
  double late_share = 0;                 ///< share of messages handled later than the threshold
  double max_late_us = 0;                ///< worst lateness, emulated µs
  double real_cpu_cores = 0;             ///< CPU this process used, cores (wall)
  bool machine_limited = false;          ///< this machine, not the emulated hardware, limited the run
  std::string machine_note;              ///< why, when it did
};

/// Runs `opts` with the service kinds of `registry`. Throws unknown_kind for a kind without an
/// implementation (naming it), and std::invalid_argument for bad options or trace files.
run_report run_app(const run_options& opts, const service_registry& registry);

/// Reads an on|off option value; throws std::invalid_argument naming `option` for anything else.
bool parse_on_off(const std::string& option, const std::string& value);

/// Checks a --state-dir value: not empty, and a directory this process can write (created with
/// its parents when missing). Returns it; throws std::invalid_argument naming `option` and why.
std::string check_state_dir(const std::string& option, const std::string& dir);

/// A migration as JSON: service ("name#instance (kind)"), instance, kind, from, to,
/// blackout_ms, keys, bytes, trigger, outcome, reason, decided_at_ms (emulated).
nlohmann::json migration_json(const rt::migration_report& m);

/// The report as JSON: throughput_rps, latency_us {p50, p99, p999}, requests_per_joule,
/// power_w, links {local, pcie, zmq}, errors, lost, migrations (see migration_json), and more.
nlohmann::json run_json(const run_report& r);

/// The report as tables for people.
void print_run(std::ostream& out, const run_report& r);

}  // namespace e3::apps
