// Helpers shared by the tests that run the emulated cluster end to end: the registry of every
// built-in service kind, record requests, and waiting for a client's requests to finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "actors/runtime.hpp"
#include "services/common/record.hpp"
#include "services/services.hpp"

namespace e3::test {

/// Every built-in service kind.
inline const service_registry& registry() {
  static const service_registry reg = [] {
    service_registry r;
    services::register_all(r);
    return r;
  }();
  return reg;
}

/// A record request (services/common/record.hpp): `op`, `key`, and optional text fields.
inline bytes record_bytes(std::uint8_t op, std::uint64_t key, std::string text = {}, std::string aux = {}) {
  services::record r;
  r.op = op;
  r.key = key;
  r.text = std::move(text);
  r.aux = std::move(aux);
  return services::encode(r);
}

/// Waits until `c` has no request outstanding, or `timeout` passed.
inline void wait_idle(rt::client& c, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (c.outstanding() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace e3::test
