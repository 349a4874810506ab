// Top ranker binding: registration of the "top_ranker" kind and its `e3 svc top_ranker` harness.
#pragma once

#include "actors/service.hpp"

namespace e3::services {

/// Registers the "top_ranker" kind (formats in services/top_ranker/top_ranker.hpp).
void register_top_ranker(service_registry& r);

/// `e3 svc top_ranker --csv FILE --key-col C --value-col C --k K [--window N]`: prints the top-K
/// of every window of a CSV stream.
int top_ranker_svc_main(int argc, char** argv);

}  // namespace e3::services
