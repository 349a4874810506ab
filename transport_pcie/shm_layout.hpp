// The byte layout of a PCIe-link shared-memory segment: header, doorbells, ring controls, records.
//
// This is the wire format between the two processes of a link (the "ABI" of the emulated DMA
// rings), so it is public: both sides must agree on it byte for byte, `version` names it, and
// tests use it to play a misbehaving peer. Offsets from the start of the segment:
//
//   [0, header_bytes)                      header (magic, version, sizes, pids, doorbells)
//   ring(q, d) = header_bytes + (2q + d) * ring_stride, for queue pair q and direction d:
//     [ring, ring + control_bytes)         ring_control (producer tail, consumer head)
//     [ring + control_bytes, + ring_bytes) the byte ring of records
//
// A record is an 8-byte record_header {length, ~length} and `length` payload bytes, padded to
// 8 bytes. A record never straddles the ring's end: a producer that cannot fit one before the end
// writes a wrap marker (length = wrap_marker) and continues at offset 0. Head and tail are
// free-running byte counts (never wrapped); the offset in the ring is `index & (ring_bytes - 1)`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace e3::pcie::layout {

/// Identifies an E3 PCIe-link segment (the bytes "E3PCIERG" in little-endian order).
inline constexpr std::uint64_t magic = 0x4752'4549'4350'3345ull;
/// Version of this layout; bumped on any incompatible change, checked on attach.
inline constexpr std::uint32_t version = 1;
/// Cache-line size: head, tail and doorbells each get their own lines (no false sharing).
inline constexpr std::size_t cache_line = 64;
/// Bytes reserved for the header at the start of the segment.
inline constexpr std::size_t header_bytes = 4096;
/// Bytes reserved for each ring's control block before its data.
inline constexpr std::size_t control_bytes = 256;
/// Bytes of a record header: the payload length, then its bitwise complement as a check.
inline constexpr std::size_t record_header_bytes = 8;
/// Records start on multiples of this many bytes.
inline constexpr std::size_t record_align = 8;
/// The length value of a wrap marker: the rest of the ring up to its end is padding.
inline constexpr std::uint32_t wrap_marker = 0xFFFF'FFFFu;
/// Smallest and largest ring sizes (bytes, powers of two).
inline constexpr std::uint32_t min_ring_bytes = 4096;
/// Largest ring size (1 GiB).
inline constexpr std::uint32_t max_ring_bytes = 1u << 30;
/// Largest number of queue pairs in one segment.
inline constexpr std::uint32_t max_queue_pairs = 1024;

/// Direction of a ring inside a queue pair: index `d` in ring(q, d).
enum ring_direction : std::uint32_t {
  /// Written by the creator, read by the attacher.
  creator_to_attacher = 0,
  /// Written by the attacher, read by the creator.
  attacher_to_creator = 1,
};

/// The header of one record in a ring.
struct record_header {
  /// Payload bytes, or wrap_marker.
  std::uint32_t length;
  /// Always ~length; anything else means the ring is corrupt.
  std::uint32_t check;
};
static_assert(sizeof(record_header) == record_header_bytes);

/// Futex words one side sleeps on: one doorbell per side, shared by all its queue pairs, so a
/// single I/O thread can sleep until any of its rings changes.
struct alignas(cache_line) doorbell {
  /// Bumped (and futex-woken) when a ring into this side gains data while it has waiters.
  std::atomic<std::uint32_t> rx_bell{0};
  /// Number of this side's threads sleeping (or about to) for incoming data.
  std::atomic<std::uint32_t> rx_waiters{0};
  /// Bumped (and woken) when a ring out of this side gains space while it has waiters.
  alignas(cache_line) std::atomic<std::uint32_t> tx_bell{0};
  /// Number of this side's threads sleeping for outgoing space.
  std::atomic<std::uint32_t> tx_waiters{0};
};

/// The segment header. Written by the creator; `magic` is stored last (release), so an
/// attacher that reads the right magic (acquire) sees every other field initialised.
struct header {
  /// layout::magic once initialised, 0 before.
  std::atomic<std::uint64_t> magic;
  /// layout::version of the creator.
  std::uint32_t version;
  /// layout::header_bytes of the creator.
  std::uint32_t header_bytes;
  /// Number of queue pairs.
  std::uint32_t queue_pairs;
  /// Bytes of each ring's data (power of two).
  std::uint32_t ring_bytes;
  /// Largest payload a sender may put in one record.
  std::uint32_t max_message;
  /// control_bytes + ring_bytes.
  std::uint32_t ring_stride;
  /// Total bytes of the segment.
  std::uint64_t total_bytes;
  /// Process id of the creator.
  std::int32_t creator_pid;
  /// Process id of the attached peer, 0 when none (one attacher at a time: rings are SPSC).
  std::atomic<std::int32_t> attacher_pid;
  /// closed[side] is 1 once that side (0 creator, 1 attacher) has closed its end.
  std::atomic<std::uint32_t> closed[2];
  /// bells[side]: the doorbells side 0 (creator) and side 1 (attacher) sleep on.
  doorbell bells[2];
};
static_assert(sizeof(header) <= header_bytes);

/// The control block of one ring: free-running byte indices, each on its own cache line.
struct alignas(cache_line) ring_control {
  /// Bytes ever published by the producer (written by the producer only).
  std::atomic<std::uint64_t> tail{0};
  /// Bytes ever consumed by the consumer (written by the consumer only).
  alignas(cache_line) std::atomic<std::uint64_t> head{0};
};
static_assert(sizeof(ring_control) <= control_bytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
              std::atomic<std::uint32_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free to work across processes");

/// Byte offset of ring(q, d)'s control block from the start of the segment.
constexpr std::size_t ring_offset(std::uint32_t q, std::uint32_t d, std::uint32_t ring_stride) {
  return header_bytes + (std::size_t(q) * 2 + d) * ring_stride;
}

}  // namespace e3::pcie::layout
