// KVS binding: registration of the "kvs" kind and its `e3 svc kvs` harness.
#pragma once

#include "actors/service.hpp"

namespace e3::services {

/// Registers the "kvs" kind (MemC3 optimistic cuckoo hashing; formats in services/kvs/kvs.hpp).
void register_kvs(service_registry& r);

/// `e3 svc kvs --ops FILE`: runs GET/SET/DEL lines through the service, one result line each.
int kvs_svc_main(int argc, char** argv);

}  // namespace e3::services
