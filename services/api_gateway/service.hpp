// The API gateway runtime binding: a stateful service keeping its buckets in reliable collections.
#pragma once

#include <string>

#include "actors/service.hpp"
#include "services/api_gateway/api_gateway.hpp"
#include "services/common/record.hpp"

namespace e3::services::api_gateway {

/// The reliable hashtable holding the buckets: subject -> bucket (as bytes).
inline constexpr std::string_view buckets_table = "buckets";

/// Rate and burst from params `rate` and `burst`; throws std::invalid_argument naming a bad one.
limiter_config limiter_from_params(const service_config& cfg);
/// The signing secret from param `secret` (a demo secret when absent: synthetic load only).
std::string secret_from_params(const service_config& cfg);

/// One gateway instance (see api_gateway.hpp for the request format and the rules).
class api_gateway_service final : public service {
 public:
  /// Reads the params; throws std::invalid_argument on a bad one.
  explicit api_gateway_service(const service_config& cfg);
  /// Authenticates, rate-limits and forwards one record.
  void handle(const request& req, service_context& ctx) override;
  /// Rebuilds the buckets from the `buckets` table.
  void on_start(service_context& ctx) override;
  /// Writes changed buckets to the `buckets` table; drops full ones from both.
  void flush(service_context& ctx) override;

 private:
  token_verifier verifier_;
  rate_limiter limiter_;
  record rec_;
  bytes out_;
};

}  // namespace e3::services::api_gateway

namespace e3::services {
/// Registers the `api_gateway` kind (called by the generated register_all()).
void register_api_gateway(service_registry& r);
}  // namespace e3::services
