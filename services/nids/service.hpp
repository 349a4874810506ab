// The NIDS runtime binding: scans each frame's payload, counts alerts, passes the frame on.
#pragma once

#include <cstdint>
#include <memory>

#include "actors/service.hpp"
#include "services/nids/nids.hpp"

namespace e3::services::nids {

/// What one NIDS instance has seen (stateless service: instance statistics, not state).
struct counters {
  std::uint64_t frames = 0;          ///< frames handled (emitted downstream)
  std::uint64_t scanned = 0;         ///< frames with a TCP/UDP payload, scanned
  std::uint64_t payload_bytes = 0;   ///< payload bytes scanned
  std::uint64_t hits = 0;            ///< pattern occurrences found
  std::uint64_t alerted = 0;         ///< scanned frames with at least one hit
  std::uint64_t not_inspected = 0;   ///< frames passed on without a payload to scan (non-IP, no L4 payload)
  std::uint64_t rejected = 0;        ///< frames too short to be Ethernet, refused
};

/// One NIDS instance. Params: `patterns` (TSV path; built-in set when absent), `min_len`.
class nids_service final : public service {
 public:
  /// Loads (or shares) the automaton named by the params; throws nids_error on a bad file.
  explicit nids_service(const service_config& cfg);
  /// Scans the payload of the frame in req.payload and emits the frame unchanged.
  void handle(const request& req, service_context& ctx) override;
  /// The instance's statistics.
  const counters& stats() const { return stats_; }

 private:
  std::shared_ptr<const automaton> ac_;
  counters stats_;
};

/// An Ethernet/IPv4/TCP frame of `frame_size` bytes (at least 54) whose payload repeats
/// `text`; checksums are valid. Used for NIDS synthetic load.
bytes build_tcp_frame(std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
                      std::size_t frame_size, std::string_view text);

}  // namespace e3::services::nids

namespace e3::services {
/// Registers the `nids` kind (called by the generated register_all()).
void register_nids(service_registry& r);
}  // namespace e3::services
