// The wire envelope: the versioned binary frame every message between compute nodes travels in
// (over the PCIe ring or ZeroMQ), and its strict decoder. No CAF in here.
//
// Layout, little-endian, fixed part 72 bytes:
//   u32 magic "E3W1" | u8 version (1) | u8 type | u8 hops | u8 flags
//   u16 header_bytes (72 + 16·hops) | u16 reserved (0) | u32 payload_bytes
//   u32 app | u32 dag_node | u32 src_node | u32 src_instance
//   u64 request_id | u64 key | u64 credit | i64 client_sent_ns | i64 sent_ns
//   hops × { u32 node | u32 instance | i64 done_ns }
//   payload
// Times are emulated nanoseconds (see the runtime's time dilation). A frame is rejected, and
// the rejection counted by reason, when it is truncated, has a bad magic or version, an unknown
// type, header or payload lengths that disagree with the frame, more hops than allowed, a
// payload larger than the maximum, or a non-zero reserved field.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace e3::wire {

/// "E3W1" read as a little-endian u32.
inline constexpr std::uint32_t magic = 0x31573345;
/// The only version this build speaks.
inline constexpr std::uint8_t version = 1;
/// Bytes of the fixed header.
inline constexpr std::size_t fixed_header_bytes = 72;
/// Bytes per hop stamp.
inline constexpr std::size_t hop_bytes = 16;
/// Most hop stamps a frame may carry (the longest DAG path plus ingress/egress hops).
inline constexpr std::size_t max_hops = 32;
/// Largest payload accepted (a jumbo request; services reject what they cannot parse).
inline constexpr std::size_t max_payload_bytes = 1u << 20;

/// What a frame carries.
enum class frame_type : std::uint8_t {
  request = 1,     ///< a message for a service instance (client request or DAG hop)
  completion = 2,  ///< a branch of a request finished: credit and, maybe, the reply payload
  health = 3,      ///< an orchestrator agent's health report
  control = 4,     ///< control-plane traffic (deploy, migrate, state batches)
};

/// Flags of a frame.
enum flag : std::uint8_t {
  flag_error = 1,     ///< a completion for a rejected request (payload = the reason)
  flag_replied = 2,   ///< a completion carrying a reply payload
  flag_lost = 4,      ///< a completion reporting a message the runtime could not deliver
};

/// Where and when one hop finished.
struct hop {
  std::uint32_t node = 0;      ///< compute node id
  std::uint32_t instance = 0;  ///< DAG node (instance) id
  std::int64_t done_ns = 0;    ///< emulated time the hop finished
};

/// The decoded header.
struct header {
  frame_type type = frame_type::request;
  std::uint8_t flags = 0;
  std::uint32_t app = 0;            ///< app id within the deployment
  std::uint32_t dag_node = 0;       ///< destination instance
  std::uint32_t src_node = 0;       ///< compute node that sent the frame
  std::uint32_t src_instance = 0;   ///< instance that sent it (~0 for a client)
  std::uint64_t request_id = 0;     ///< the client request
  std::uint64_t key = 0;            ///< shard key
  std::uint64_t credit = 0;         ///< completion credit this message carries
  std::int64_t client_sent_ns = 0;  ///< emulated time the client sent the request
  std::int64_t sent_ns = 0;         ///< emulated time this frame left its sender
  std::vector<hop> hops;            ///< hops so far
};

/// Why a frame was rejected.
enum class decode_error : std::uint8_t {
  truncated,          ///< shorter than its header says, or than the fixed header
  bad_magic,          ///< not an E3 frame
  bad_version,        ///< another protocol version
  bad_type,           ///< unknown frame type
  bad_header_length,  ///< header_bytes disagrees with the hop count
  bad_payload_length, ///< header + payload lengths disagree with the frame size
  too_many_hops,      ///< more than max_hops
  oversized,          ///< payload above max_payload_bytes
  bad_reserved,       ///< a reserved field is not zero
};

/// Number of decode_error values.
inline constexpr std::size_t decode_error_count = 9;

/// A short name of a decode error, e.g. "truncated".
std::string_view to_string(decode_error e);

/// Counters of rejected frames, by reason. Thread-safe.
struct decode_stats {
  std::array<std::atomic<std::uint64_t>, decode_error_count> rejected{};  ///< per decode_error
  /// Total rejected frames.
  std::uint64_t total() const;
};

/// A decoded frame: the header and a view of the payload inside the original bytes.
struct frame {
  header h;                              ///< decoded header
  std::span<const std::uint8_t> payload; ///< payload bytes (borrowed from the input)
};

/// Decodes `bytes`; on failure returns nullopt, stores the reason in `*why` when given, and
/// counts it in `*stats` when given. Never reads outside `bytes`.
std::optional<frame> decode(std::span<const std::uint8_t> bytes, decode_error* why = nullptr,
                            decode_stats* stats = nullptr);

/// Appends the encoding of (h, payload) to `out`. Throws std::length_error when the payload or
/// the hop list exceeds the limits (the sender's bug, never the network's).
void encode(const header& h, std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& out);

}  // namespace e3::wire
