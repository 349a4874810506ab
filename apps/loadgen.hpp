// The load generator: open-loop (Poisson) and closed-loop clients that send synthetic requests
// or replay real data (a pcap for the NFV apps, a sensor CSV for the IoT apps) into an emulated
// cluster, and measure throughput and latency (in emulated time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "actors/histogram.hpp"
#include "actors/runtime.hpp"
#include "actors/service.hpp"

namespace e3::apps {

/// Produces the requests a client sends: a shard key and a payload.
class request_source {
 public:
  virtual ~request_source() = default;
  /// The next request: sets `key` and fills `payload`.
  virtual void next(std::uint64_t& key, bytes& payload) = 0;
  /// What it sends, for reports (e.g. "synthetic 512 B", "trace 1kxun.pcap (1439 packets)").
  virtual std::string describe() const = 0;
};

/// Synthetic requests of about `bytes` bytes made by the entry kind's own generator, with
/// uniformly random keys (seeded).
std::unique_ptr<request_source> synthetic_source(const service_kind& entry, std::size_t bytes, std::uint64_t seed);

/// Synthetic stream records of about `bytes` bytes (services/common/record.hpp), seeded.
std::unique_ptr<request_source> record_source(std::size_t bytes, std::uint64_t seed);

/// Replays the Ethernet frames of a pcap/pcapng file in a loop; the key is the flow's 5-tuple
/// hash, so a flow always reaches the same shard. Throws services::pcap_error for a bad file
/// and std::invalid_argument when it holds no frame.
std::unique_ptr<request_source> pcap_source(const std::string& path);

/// Replays a sensor series (a NAB-style CSV: a header line, then `timestamp,value` rows) in a
/// loop as records (key = sensor id among `sensors`, ts, value); when `token_signer` is set, the
/// record's text carries a token it signs for the sensor (for an API gateway entry). Throws
/// std::invalid_argument naming the file and line for a malformed row.
std::unique_ptr<request_source> csv_source(const std::string& path, std::uint32_t sensors,
                                           std::function<std::string(std::uint64_t sensor)> token_signer = {});

/// Wraps a source of records whose text starts with a token (an API gateway's input): the
/// token is replaced by one `signer` makes for the record's key, the rest of the text kept.
std::unique_ptr<request_source> signed_source(std::unique_ptr<request_source> inner,
                                              std::function<std::string(std::uint64_t key)> signer);

/// How to load the cluster.
struct load_options {
  double rate_rps = 0;         ///< open loop: emulated requests per second (Poisson arrivals)
  bool saturate = false;       ///< closed loop: keep `window` requests outstanding
  std::size_t window = 256;    ///< outstanding requests in closed loop
  double duration_s = 5;       ///< wall-clock seconds of measurement
  double warmup_s = 1;         ///< wall-clock seconds before measuring
  std::size_t entry = 0;       ///< which entry service of the app
  std::uint64_t seed = 1;      ///< arrival process seed
  double timeout_s = 1;        ///< emulated seconds after which an unfinished request is lost
  std::function<void()> on_measure_start;  ///< called when measurement starts (after warm-up)
  std::function<void()> on_measure_end;    ///< called when it ends (before the stragglers drain)
};

/// What the load generator measured (times and rates EMULATED).
struct load_result {
  std::uint64_t sent = 0;            ///< requests sent during measurement
  std::uint64_t completed = 0;       ///< requests completed during measurement
  std::uint64_t errors = 0;          ///< completed with a service rejection
  std::uint64_t lost = 0;            ///< reported lost or timed out
  std::uint64_t refused = 0;         ///< refused by the network at send time
  double emulated_seconds = 0;       ///< emulated length of the measurement
  double wall_seconds = 0;           ///< its wall-clock length
  double throughput_rps = 0;         ///< completed / emulated seconds
  double offered_rps = 0;            ///< sent / emulated seconds
  rt::histogram latency;             ///< end-to-end latency, emulated ns
  std::string source;                ///< what was sent
};

/// Runs load against `rt` through `client`, for warm-up plus measurement, then waits for the
/// outstanding requests (up to the timeout) so that every request is accounted for.
load_result run_load(rt::cluster_runtime& rt, rt::client& client, request_source& src, const load_options& opts);

}  // namespace e3::apps
