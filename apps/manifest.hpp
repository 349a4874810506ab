// App manifests: the YAML files that describe a dataflow app (apps/manifests/*.yaml), and their
// strict loader.
//
// Layout (every key is checked; unknown keys are errors):
//   app: <name>                 description: <text>          rate_rps: <design load, > 0>
//   services:                   # one entry per service
//     - name: <unique name>     kind: <one of the 16 kinds>  shards: <int ≥ 1>
//       replicas: <int ≥ 0>     memory_mb: <> 0>             cpu: <Beefy cores ≥ 0>
//       request_bytes: <1..65536, default 512>
//       constraints: [host_only | smartnic_only]   (optional)
//       params: {key: scalar, …}                    (optional, handed to the instances)
//   channels:                   # DAG edges
//     - {from: <service>, to: <service>, share: <(0, 1], default 1>}
//   entry: [<service>, …]       # services that receive client requests
#pragma once

#include <stdexcept>
#include <string>

#include "scheduler/app.hpp"

namespace e3::apps {

/// A manifest that cannot be loaded: the message names the file, the line and the problem,
/// as "FILE:LINE:COLUMN: problem".
class manifest_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Loads and validates the manifest at `path`. Checks: YAML syntax; required and unknown keys;
/// numbers (types, ranges, finiteness); kinds (must be one of Table 1's); duplicate service
/// names; channels naming unknown services (dangling edges), self-loops, duplicate channels and
/// cycles; entries (known, at least one, without incoming channels); services no entry reaches;
/// impossible constraints (unknown names, host_only with smartnic_only, smartnic_only on a kind
/// that must run on a host). Host-only kinds (SQL) get host_only set even when the file omits it.
sched::app_spec load_manifest(const std::string& path);

/// The same, from text; `source` names it in errors.
sched::app_spec parse_manifest(const std::string& text, const std::string& source);

}  // namespace e3::apps
