// Service profiles: per microservice kind, how much CPU a request costs on each kind of core,
// how much power the SmartNIC draws running it, and its memory footprint.
//
// A request's cost on a core is the runtime stack's per-message work (receive, steer, send with
// kernel-bypass networking; see stack_us) plus the service's own work, the handler. The
// starting profile of every kind is its row of Table 1 (random 512 B requests at peak
// throughput): its per-core time minus the stack is the handler. A measured profile (handler
// time per request at several sizes and memory footprint, measured on this machine by
// `e3 bench services --write-profiles`) replaces the host handler time and the memory when
// present; the SmartNIC handler then keeps Table 1's SmartNIC-to-host handler ratio, since
// there is no SmartNIC here to measure.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "topology/hardware.hpp"

namespace e3::topo {

/// One kind's profile. Times are CPU microseconds per request on ONE core.
struct service_profile {
  std::string kind;         ///< registry name, e.g. "nat"
  std::string table1_name;  ///< Table 1 row, e.g. "NATv4"
  bool stateful = false;    ///< Table 2
  bool host_only = false;   ///< must run on a host (SQL: its engine cannot live in reliable collections, §4)
  /// Handler µs per 512 B request on one Beefy Xeon core (2.5 GHz): Table 1 DPDK cores / DPDK
  /// RPS minus the stack, or measured here.
  double host_us = 0;
  /// Handler µs per 512 B request on one LiquidIO cnMIPS core: 12 cores / Table 1 SmartNIC RPS
  /// minus the stack (it includes the card's accelerators), scaled like host_us when measured.
  double nic_us = 0;
  double nic_active_w = 0;   ///< Table 1 SmartNIC active power running this kind (W)
  double host_active_w = 0;  ///< Table 1 DPDK host active power at peak (W), for reference
  int host_cores = 0;        ///< Table 1 DPDK active cores, for reference
  double memory_mb = 0;      ///< footprint of one instance (estimate, or measured)
  /// Measured host µs per request at request sizes (bytes), ascending; empty for Table 1 only.
  std::vector<std::pair<double, double>> size_curve;
  std::string source;        ///< "Table 1" or "measured: …"

  /// Handler µs per request of `size_bytes` on one core of the given type and clock. With a
  /// measured curve, interpolates it linearly (clamped at the ends); otherwise the 512 B figure.
  double handler_us(core_type t, double clock_ghz, double size_bytes = 512) const;
  /// Total µs per request on one such core: the stack plus the handler.
  double cost_us(core_type t, double clock_ghz, double size_bytes = 512) const;
  /// How many times slower one core of that type runs this kind's handler than a 2.5 GHz Xeon
  /// core (Table 1's ratio; the runtime scales measured handler CPU time by it).
  double handler_slowdown(core_type t, double clock_ghz) const;
  /// How many times longer a whole request (stack and handler) takes on one core of that type
  /// than on a 2.5 GHz Xeon core: what a placement's core demand scales by.
  double slowdown(core_type t, double clock_ghz, double size_bytes = 512) const;
};

/// The runtime stack's per-message cost on one core, µs: receiving, steering and sending a
/// message with kernel-bypass networking, without the service's work. From Table 1's lightest
/// service, KVS, whose hashtable work is a few percent of a request: 2 DPDK host cores serve
/// 2.005 M requests/s (1.0 µs per request on a 2.5 GHz Beefy core; other Xeon clocks scale by
/// clock) and the LiquidIO's 12 cores 2.033 M/s (5.9 µs per request per cnMIPS core).
double stack_us(core_type t, double clock_ghz);

/// Where the process's service profiles come from.
enum class profile_source {
  measured,  ///< Table 1 with this machine's measured handler times and memory (the default)
  table1,    ///< Table 1 alone: the paper's testbed, for comparing with the paper's figures
};

/// Selects the profiles every later placement, evaluation and emulation of this process uses.
/// A program sets it once, from its command line, before placing anything.
void use_service_profiles(profile_source s);
/// The selected source.
profile_source service_profile_source();
/// "measured" or "table1".
std::string_view to_string(profile_source s);
/// Parses "measured" or "table1"; throws std::invalid_argument naming the value otherwise.
profile_source parse_profile_source(std::string_view s);

/// Every kind's profile from the selected source (use_service_profiles), in Table 1 order.
const std::vector<service_profile>& service_profiles();

/// The profile of `kind`, or nullptr.
const service_profile* find_service_profile(std::string_view kind);

/// The profile of `kind`; throws std::invalid_argument naming it and listing the known kinds.
const service_profile& service_profile_of(std::string_view kind);

/// Builds profiles from Table 1's CSV text and an optional measured-profile CSV
/// (`kind,size_bytes,host_us,memory_mb,source`). Exposed for tests.
std::vector<service_profile> build_service_profiles(std::string_view table1_csv, std::string_view measured_csv);

}  // namespace e3::topo
