// The cost model of §5.5: requests served per dollar of ownership.
#pragma once

namespace e3::topo {

/// Average U.S. electricity price the paper uses (§5.5), $/kWh.
inline constexpr double usd_per_kwh = 0.0733;

/// Seconds in a (365-day) year.
inline constexpr double seconds_per_year = 365.0 * 24 * 3600;

/// Cost efficiency = Throughput×T / (CAPEX + Power×T×Electricity), in requests per dollar:
/// throughput in requests/s, T in seconds, CAPEX in $, power in W (modelled), price in $/kWh.
/// With T = 0 it is 0 (nothing served yet).
double cost_efficiency(double throughput_rps, double seconds, double capex_usd, double power_w,
                       double price_usd_per_kwh = usd_per_kwh);

}  // namespace e3::topo
