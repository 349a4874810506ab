// The power model: modelled wall power of a compute node from what runs on it (see
// power_profile for how the figures derive from Tables 1 and 4). Every figure is modelled.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "topology/cluster.hpp"
#include "topology/service_profile.hpp"

namespace e3::topo {

/// What runs on a node over an interval, as the power model needs it.
struct node_activity {
  double busy_cores = 0;        ///< average busy cores over the interval (utilisation × cores)
  bool hosts_services = false;  ///< at least one service instance lives there
  /// For a SmartNIC: the active power its cores draw (see smartnic_active_w()).
  double smartnic_active_w = 0;
};

/// The Table 1 SmartNIC active power of the kinds a card runs, weighted by each kind's busy
/// cores; when nothing is busy, the plain mean over the kinds; 0 with no kinds.
double smartnic_active_w(const std::vector<std::pair<std::string, double>>& kind_busy_cores);

/// Modelled wall power of node `n` (W): its idle draw plus, for cores that sleep when idle, the
/// per-core active power of its busy cores; for cores that cannot sleep (SmartNIC, Wimpy), the
/// full active power whenever it hosts a service.
double modelled_power_w(const compute_node& n, const node_activity& a);

/// Modelled active energy (J) one request of `kind` costs on node `n`: its CPU time there times
/// the active power of one busy core (a SmartNIC core: Table 1's active power of the kind / 12).
/// Lower is more energy-efficient; HCM's best fit prefers such nodes.
double active_joules_per_request(const service_profile& kind, const compute_node& n, double request_bytes = 512);

}  // namespace e3::topo
