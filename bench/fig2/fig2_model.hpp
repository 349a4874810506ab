// Fig. 2's quantity on this platform: the SmartNIC's energy-efficiency benefit over the host at
// one request size, from a (measured) service profile and the topology power model. Modelled.
#pragma once

#include <algorithm>

#include "topology/cluster.hpp"
#include "topology/power.hpp"
#include "topology/service_profile.hpp"

namespace e3::bench {

/// One point of the figure; every figure except the host time is modelled.
struct fig2_point {
  double size_bytes = 0;  ///< request size
  /// Per-request model, on the measured profile (how placement scores nodes,
  /// topology::active_joules_per_request): µs and requests per joule of active power on one
  /// host core and on one SmartNIC core, and their ratio. Each is the stack's fixed per-message
  /// time plus the handler's (measured on the host, × the kind's Table 1 handler ratio on the
  /// card), so the ratio moves with size as the handler's share of a request grows.
  double host_us = 0;
  double nic_us = 0;    ///< see host_us: the card's stack + handler × the kind's Table 1 handler ratio
  double host_rpj = 0;  ///< see host_us
  double nic_rpj = 0;   ///< see host_us
  double benefit = 0;   ///< nic_rpj / host_rpj
  /// Card at peak, how Table 1 defines RPJ (peak throughput / active power), on the Table 1
  /// level profile (see table1_level()): the card serves the lesser of its cores' rate and its
  /// ports' line rate for this size and draws its full active power whatever it serves (its
  /// cores cannot sleep, §2.3); idle host cores sleep, so the host's requests per joule are
  /// its per-request figure.
  double t1_host_rpj = 0;      ///< host requests per joule at Table 1's level
  double nic_compute_rps = 0;  ///< all SmartNIC cores busy, at Table 1's level
  double nic_line_rps = 0;     ///< the card's ports at line rate (frame + 20 B preamble and gap)
  double nic_peak_rps = 0;     ///< the lesser of the two
  double nic_peak_rpj = 0;     ///< nic_peak_rps / the kind's Table 1 SmartNIC active power
  double benefit_at_peak = 0;  ///< nic_peak_rpj / t1_host_rpj
  bool line_limited = false;   ///< the ports, not the cores, limit the card
};

/// Bytes a frame occupies on the wire beyond its own: 8 B preamble and a 12 B inter-frame gap.
inline constexpr double ethernet_wire_overhead_bytes = 20;

/// A profile at Table 1's level with the measured profile's shape over sizes: `t1` (a Table 1
/// profile, whose handler time is Table 1's per-core time minus the stack) with a handler curve
/// that is `measured`'s scaled so that it passes through t1.host_us at 512 B. Our measured
/// handler is this machine's, on a different CPU and code; the level comes from the paper, the
/// shape over sizes from us.
inline topo::service_profile table1_level(const topo::service_profile& t1, const topo::service_profile& measured) {
  topo::service_profile c = t1;
  double scale = measured.host_us > 0 ? t1.host_us / measured.host_us : 1.0;
  c.size_curve.clear();
  for (auto [size, us] : measured.size_curve)
    c.size_curve.emplace_back(size, us * scale);
  return c;
}

/// Fig. 2's point at `size_bytes`: per-request figures from `measured`, card-at-peak figures
/// from `level` (table1_level()); `host` is a host compute node (its per-core active power) and
/// `nic` a SmartNIC compute node (its cores, clock and ports).
inline fig2_point fig2_at(const topo::service_profile& measured, const topo::service_profile& level,
                          const topo::compute_node& host, const topo::compute_node& nic, double size_bytes) {
  fig2_point f;
  f.size_bytes = size_bytes;
  f.host_us = measured.cost_us(host.cores_type, host.clock_ghz, size_bytes);
  f.nic_us = measured.cost_us(nic.cores_type, nic.clock_ghz, size_bytes);
  f.host_rpj = 1.0 / topo::active_joules_per_request(measured, host, size_bytes);
  f.nic_rpj = 1.0 / topo::active_joules_per_request(measured, nic, size_bytes);
  f.benefit = f.nic_rpj / f.host_rpj;
  f.t1_host_rpj = 1.0 / topo::active_joules_per_request(level, host, size_bytes);
  f.nic_compute_rps = double(nic.cores) * 1e6 / level.cost_us(nic.cores_type, nic.clock_ghz, size_bytes);
  f.nic_line_rps = nic.network_gbps * 1e9 / ((size_bytes + ethernet_wire_overhead_bytes) * 8.0);
  f.line_limited = f.nic_line_rps < f.nic_compute_rps;
  f.nic_peak_rps = std::min(f.nic_compute_rps, f.nic_line_rps);
  f.nic_peak_rpj = f.nic_peak_rps / level.nic_active_w;
  f.benefit_at_peak = f.nic_peak_rpj / f.t1_host_rpj;
  return f;
}

}  // namespace e3::bench
