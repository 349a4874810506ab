// Host-starvation and service-overload hit tests, and threshold validation.
#include "migration/detectors.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace e3::mig {

bool network_underused(double share, double in_gbps, double out_gbps, double capacity_gbps) {
  if (!(capacity_gbps > 0))
    return false;
  return std::max(in_gbps, out_gbps) < share * capacity_gbps;
}

bool starvation_hit(const starvation_config& c, const node_report& r) {
  return r.tm_queue >= c.queue_threshold &&
         network_underused(c.underuse_share, r.link_in_gbps, r.link_out_gbps, r.capacity_gbps);
}

bool starvation_hit(const starvation_config& c, const heartbeat& h) {
  return h.tm_queue >= c.queue_threshold && double(h.link_use) < c.underuse_share * half_percent_max;
}

bool overload_hit(const overload_config& c, const instance_report& r) {
  return r.requests >= c.min_requests && r.ema_exec_us > 0 && r.exec_us >= r.ema_exec_us * (1.0 + c.max_slowdown);
}

std::uint16_t overload_threshold_milli(const overload_config& c) {
  // 1e-9 absorbs the binary representation error of a decimal threshold (1.2 × 1000 must give
  // 1200, not 1201).
  double t = std::ceil((1.0 + c.max_slowdown) * 1000.0 - 1e-9);
  return t >= 65535 ? std::uint16_t(65535) : std::uint16_t(t);
}

bool overload_hit(const overload_config& c, const heartbeat& h) {
  return h.worst_slowdown != 0 && h.worst_slowdown >= overload_threshold_milli(c);
}

namespace {

void check_k(int k, const char* which) {
  if (k < 1 || k > 65535)
    throw std::invalid_argument(std::string(which) + ".k must be in 1..65535, got " + std::to_string(k));
}

}  // namespace

void validate(const starvation_config& c) {
  check_k(c.k, "starvation");
  if (c.queue_threshold < 1 || c.queue_threshold > 65535)
    throw std::invalid_argument("starvation.queue_threshold must be in 1..65535 packets (the heartbeat's range), got " +
                                std::to_string(c.queue_threshold));
  if (!(c.underuse_share > 0 && c.underuse_share <= 1))
    throw std::invalid_argument("starvation.underuse_share must be in (0, 1], got " + std::to_string(c.underuse_share));
}

void validate(const overload_config& c) {
  check_k(c.k, "overload");
  if (!(c.max_slowdown >= 0 && c.max_slowdown < 64))
    throw std::invalid_argument("overload.max_slowdown must be in [0, 64), got " + std::to_string(c.max_slowdown));
}

}  // namespace e3::mig
