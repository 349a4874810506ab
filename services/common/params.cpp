// Typed reading of service params.
#include "services/common/params.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace e3::services {

std::uint64_t param_u64(const service_config& cfg, std::string_view svc, std::string_view name,
                        std::uint64_t fallback) {
  auto text = cfg.param(name, "");
  if (text.empty())
    return fallback;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(std::string(svc) + ": param " + std::string(name) + "='" + text +
                                "' is not an unsigned integer");
  return v;
}

}  // namespace e3::services
