// The routing rules the simulator shares with the live runtime's router (actors/router.hpp),
// restated here because sim/ may not include actors/: key sharding and channel shares.
//
// - Key sharding: a message with key k goes to shard mix64(k) mod shards of the destination
//   service (shard 0 when it has one shard); a client request picks its entry shard the same way.
//   Every message a request causes carries the request's key, so shard i of a service reaches
//   shard j of the next iff i ≡ j (mod gcd(shards)), as the scheduler's DAG expansion assumes.
// - Channel shares: a service's output travels on each of its outgoing channels independently;
//   channel c (its index in the app's channel list) with share s is taken iff
//   mix64(request_id XOR mix64(0x5bd1e995 + c)) / 2^64 < s (always when s >= 1), so every node
//   decides alike for a request and a replay decides the same.
// tests/sim checks both against the runtime's functions.
#pragma once

#include <cstdint>

#include "sim/random.hpp"

namespace e3::sim {

/// The shard of `shards` a key belongs to (see the file comment).
inline std::uint32_t shard_of(std::uint64_t key, std::uint32_t shards) {
  return shards <= 1 ? 0 : std::uint32_t(mix64(key) % shards);
}

/// Whether a request takes channel `channel` of the given share (see the file comment).
inline bool takes_channel(std::uint64_t request_id, std::uint32_t channel, double share) {
  if (share >= 1.0)
    return true;
  std::uint64_t h = mix64(request_id ^ mix64(0x5bd1e995ull + channel));
  return double(h >> 11) * 0x1.0p-53 < share;
}

}  // namespace e3::sim
