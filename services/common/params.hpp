// Reading the params of a service instance (service_config::params) with errors that name the
// service and the param.
#pragma once

#include <cstdint>
#include <string_view>

#include "actors/service.hpp"

namespace e3::services {

/// Param `name` of `cfg` as an unsigned integer, or `fallback` when it is absent or empty.
/// Throws std::invalid_argument ("<svc>: param <name>='<text>' is not an unsigned integer")
/// when it is anything else.
std::uint64_t param_u64(const service_config& cfg, std::string_view svc, std::string_view name,
                        std::uint64_t fallback);

}  // namespace e3::services
