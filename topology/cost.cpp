// The cost model.
#include "topology/cost.hpp"

#include <stdexcept>

namespace e3::topo {

double cost_efficiency(double throughput_rps, double seconds, double capex_usd, double power_w, double price) {
  if (throughput_rps < 0 || seconds < 0 || capex_usd < 0 || power_w < 0 || price < 0)
    throw std::invalid_argument("cost efficiency: inputs must not be negative");
  double energy_kwh = power_w * seconds / 3600.0 / 1000.0;
  double dollars = capex_usd + energy_kwh * price;
  if (dollars <= 0)
    return 0;
  return throughput_rps * seconds / dollars;
}

}  // namespace e3::topo
