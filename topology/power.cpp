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

}  // namespace e3::topo
