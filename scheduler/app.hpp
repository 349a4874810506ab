// Apps as the scheduler sees them: a service-level spec (what a manifest says) and its
// expansion into the instance-level DAG that placement maps onto compute nodes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace e3::sched {

/// One service of an app: a microservice kind, sharded and replicated.
struct service_spec {
  std::string name;             ///< unique within the app, e.g. "sql"
  std::string kind;             ///< registry kind, e.g. "sql"
  int shards = 1;               ///< primary instances; a key picks one (hash mod shards)
  int replicas = 0;             ///< backup replicas per shard, each in another fault domain (§3.5)
  double memory_mb = 0;         ///< memory of one instance
  double cpu = 0;               ///< Beefy-core equivalents one primary needs at the app's design load
  double request_bytes = 512;   ///< mean request size
  bool host_only = false;       ///< constraint: never on a SmartNIC (SQL must be, §4)
  bool smartnic_only = false;   ///< constraint: only on a SmartNIC
  std::map<std::string, std::string, std::less<>> params;  ///< per-service settings for the instances
};

/// A DAG edge between two services: `share` of the messages leaving `from` also travel to
/// `to` (each channel independently; 1 = all of them). Within a channel the key picks the
/// destination shard: shard i of `from` reaches shard j of `to` iff i ≡ j (mod gcd(shards)).
struct channel_spec {
  std::size_t from = 0;  ///< index into app_spec::services
  std::size_t to = 0;    ///< index into app_spec::services
  double share = 1.0;    ///< in (0, 1]
};

/// A dataflow app (§3): services, channels, entry points and a design load.
struct app_spec {
  std::string name;                    ///< e.g. "iot-ts"
  std::string description;             ///< one line
  double rate_rps = 0;                 ///< design load at the entry points, requests/s
  std::vector<service_spec> services;  ///< the services
  std::vector<channel_spec> channels;  ///< the DAG edges
  std::vector<std::size_t> entries;    ///< services that receive client requests
};

/// Share of a primary's CPU demand its replica needs: a backup of a stateful service applies
/// the primary's writes; a stateless standby idles.
inline constexpr double replica_cpu_share_stateful = 0.1;

/// One instance: a primary shard or a backup replica of one.
struct dag_node {
  std::uint32_t id = 0;          ///< index in app_dag::nodes
  std::uint32_t service = 0;     ///< index into app_spec::services
  std::uint32_t shard = 0;       ///< shard index
  std::int32_t replica_of = -1;  ///< the primary instance's id for a backup, -1 for a primary
  std::string kind;              ///< the service's kind
  double cpu = 0;                ///< Beefy-core equivalents at the design load
  double memory_mb = 0;          ///< memory
  double gbps = 0;               ///< network bandwidth in + out at the design load
  double request_bytes = 512;    ///< mean message size
  bool host_only = false;        ///< constraint
  bool smartnic_only = false;    ///< constraint
  double visits = 0;             ///< messages this instance handles per app request
};

/// A data-flow edge between two primary instances.
struct dag_edge {
  std::uint32_t from = 0;  ///< instance id
  std::uint32_t to = 0;    ///< instance id
  double rate = 0;         ///< messages per app request
};

/// The instance-level DAG of an app. Primaries come first, in service order then shard order;
/// replicas follow. Edges connect primaries only; replicas hang off their primary.
struct app_dag {
  std::string app;                                  ///< app name
  std::vector<dag_node> nodes;                      ///< instances
  std::vector<dag_edge> edges;                      ///< data-flow edges
  std::vector<std::vector<std::uint32_t>> out;      ///< per instance: indices into edges leaving it
  std::vector<std::vector<std::uint32_t>> replicas; ///< per instance: its replicas' ids
  std::vector<std::uint32_t> sources;               ///< primaries of the entry services
  std::size_t primaries = 0;                        ///< number of primary instances
};

/// Expands a spec into its instance DAG. The spec must be valid (the manifest loader checks):
/// acyclic channels, indices in range, positive shards.
app_dag expand(const app_spec& spec);

}  // namespace e3::sched
