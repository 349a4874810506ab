// The node power model.
#include "topology/power.hpp"

#include <algorithm>

#include "topology/service_profile.hpp"

namespace e3::topo {

double smartnic_active_w(const std::vector<std::pair<std::string, double>>& kinds) {
  double w = 0, total = 0, plain = 0;
  for (const auto& [kind, busy] : kinds) {
    double a = service_profile_of(kind).nic_active_w;
    w += a * busy;
    total += busy;
    plain += a;
  }
  if (kinds.empty())
    return 0;
  return total > 0 ? w / total : plain / double(kinds.size());
}

double modelled_power_w(const compute_node& n, const node_activity& a) {
  const auto& p = n.power;
  double busy = std::clamp(a.busy_cores, 0.0, double(n.cores));
  if (n.kind == node_kind::smartnic)
    return p.idle_w + (a.hosts_services ? a.smartnic_active_w : 0.0);
  if (p.sleeps_idle_cores)
    return p.idle_w + busy * p.active_w_per_core;
  return p.idle_w + (a.hosts_services ? p.active_w_full : 0.0);
}

double active_joules_per_request(const service_profile& kind, const compute_node& n, double request_bytes) {
  double seconds = kind.cost_us(n.cores_type, n.clock_ghz, request_bytes) * 1e-6;
  double watts_per_core = 0;
  if (n.kind == node_kind::smartnic)
    watts_per_core = kind.nic_active_w / n.cores;
  else if (n.power.sleeps_idle_cores)
    watts_per_core = n.power.active_w_per_core;
  else
    watts_per_core = n.power.active_w_full / n.cores;
  return seconds * watts_per_core;
}

}  // namespace e3::topo
