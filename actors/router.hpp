// Location-transparent routing: where a message a service emits goes, and over which link.
// No CAF in here: the router is plain data and functions, one per compute node.
//
// A service emits on its DAG node's outgoing channels. For every channel, the router keeps the
// message with probability `share` (decided by a hash of the request id and the channel, so
// every node decides alike and a replay decides the same), then picks the destination shard from
// the key (hash(key) mod shards, the same rule the client uses at the entry), then the live copy
// of that shard (the primary, or a promoted backup after a failover), and finally the link from
// the two locations: the same node → a local message; host and SmartNIC of one server → the PCIe
// ring; anything else → the network (ZeroMQ through the ToR).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "scheduler/app.hpp"
#include "topology/cluster.hpp"

namespace e3::rt {

/// The link a message takes between two compute nodes.
enum class link_kind : std::uint8_t {
  local,  ///< same node: a message between actors
  pcie,   ///< host and SmartNIC of one server: the shared-memory ring
  zmq,    ///< through the ToR: ZeroMQ over TCP
};

/// Number of link kinds.
inline constexpr std::size_t link_kind_count = 3;

/// "local", "pcie", "zmq".
std::string_view to_string(link_kind k);

/// The link between two compute nodes of a cluster.
link_kind link_between(const topo::cluster& c, topo::node_id from, topo::node_id to);

/// The shard of `shards` a key belongs to (a 64-bit mix of the key, mod shards).
std::uint32_t shard_of(std::uint64_t key, std::uint32_t shards);

/// Whether a request takes a channel of the given share (deterministic in request and channel).
bool takes_channel(std::uint64_t request_id, std::uint32_t channel, double share);

/// One destination of an emitted message.
struct route {
  std::uint32_t instance = 0;  ///< destination instance (DAG node id)
  topo::node_id node = 0;      ///< where it runs now
  link_kind link = link_kind::local;  ///< how to get there from this node
};

/// The routing table of one compute node. Copies the plan it is built from: nodes never share
/// a routing table. Not thread-safe for concurrent updates; reads may be concurrent.
class router {
 public:
  /// Builds the table for node `self` from the app, its DAG and where every instance runs.
  router(const topo::cluster& c, const sched::app_spec& app, const sched::app_dag& dag,
         std::vector<topo::node_id> node_of, topo::node_id self);

  /// Appends to `out` the destinations of a message that instance `from` emits with `key` while
  /// serving `request_id`. Empty when `from` has no outgoing channel (the message is a reply).
  void destinations(std::uint32_t from, std::uint64_t key, std::uint64_t request_id, std::vector<route>& out) const;

  /// The entry instance a client request with `key` goes to, for entry service `entry` (index
  /// into the app's entries).
  std::uint32_t entry_instance(std::size_t entry, std::uint64_t key) const;

  /// The instance that serves shard `shard` of `service` now (its primary, or the promoted backup).
  std::uint32_t live_instance(std::uint32_t service, std::uint32_t shard) const;

  /// Where instance `i` runs now.
  topo::node_id node_of(std::uint32_t i) const { return node_of_[i]; }
  /// The route from this node to instance `i`.
  route route_to(std::uint32_t i) const;

  /// Moves instance `i` to `node` (cold migration).
  void move(std::uint32_t i, topo::node_id node);
  /// Makes backup `replica` serve its primary's shard (failover): later messages for the shard
  /// go to it.
  void promote(std::uint32_t replica);
  /// Whether instance `i` has no outgoing channel (its emits become replies).
  bool is_sink(std::uint32_t i) const;

  /// This node.
  topo::node_id self() const { return self_; }
  /// Instances placed on this node now.
  std::vector<std::uint32_t> local_instances() const;

 private:
  struct channel {
    std::uint32_t id;       // index in the app's channels
    std::uint32_t to;       // destination service
    double share;
  };
  const topo::cluster* cluster_;
  topo::node_id self_;
  std::vector<topo::node_id> node_of_;
  std::vector<std::uint32_t> service_of_;                 // per instance
  std::vector<std::uint32_t> shards_;                     // per service
  std::vector<std::uint32_t> first_;                      // per service: first primary instance id
  std::vector<std::vector<channel>> out_;                 // per service
  std::vector<std::uint32_t> entries_;                    // entry services
  std::vector<std::vector<std::uint32_t>> live_;          // per service, per shard: serving instance
  std::vector<std::int32_t> replica_of_;                  // per instance
};

}  // namespace e3::rt
