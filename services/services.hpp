// The microservices of Table 2, each in services/<name>/, registered by kind name.
//
// Every service is pure request-handling logic behind the service API (actors/service.hpp):
// it runs the same in the node runtime, in `e3 svc` on files, and in unit tests. Stateful
// services keep their state in reliable collections (state_store/), so they can migrate.
#pragma once

#include "actors/service.hpp"

namespace e3::services {

/// Registers every service kind built into this program.
void register_all(service_registry& r);

}  // namespace e3::services
