// The IPsec runtime binding: params, registration.
#pragma once

#include "actors/service.hpp"
#include "services/ipsec/ipsec.hpp"

namespace e3::services::ipsec {

/// The SA named by a service config: params `enc_key` (32 hex digits), `auth_key` (40 hex
/// digits), `spi` (decimal or 0x hex), `tunnel_src`, `tunnel_dst` (dotted quads); default_sa()
/// for what is absent. Throws std::invalid_argument naming the bad param.
sa_config sa_from_params(const service_config& cfg);

}  // namespace e3::services::ipsec

namespace e3::services {
/// Registers the `ipsec` kind (called by the generated register_all()). Param `mode`:
/// `encap` (default: Ethernet/IP frame in, ESP frame emitted) or `decap` (ESP frame in,
/// inner frame emitted). Refused frames are rejected with the reason.
void register_ipsec(service_registry& r);
}  // namespace e3::services
