// Traffic and timing helpers shared by the count, flowmon and ddos benchmarks: captures and a
// synthetic Zipf flow mix held in one buffer, and round-robin best-of timing of rival variants.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "actors/service.hpp"
#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "state_store/state_store.hpp"

namespace e3::bench::traffic {

/// Frames kept back to back in one buffer.
struct frame_set {
  std::string name;                                    ///< what the frames are
  std::vector<std::uint8_t> buf;                       ///< all frames
  std::vector<std::pair<std::size_t, std::size_t>> at; ///< (offset, size) per frame
  std::vector<std::int64_t> ts;                        ///< timestamps (ns)
  /// Number of frames.
  std::size_t size() const { return at.size(); }
  /// Frame i.
  bytes_view frame(std::size_t i) const { return {buf.data() + at[i].first, at[i].second}; }
  /// Appends a frame.
  void add(bytes_view f, std::int64_t t) {
    at.emplace_back(buf.size(), f.size());
    buf.insert(buf.end(), f.begin(), f.end());
    ts.push_back(t);
  }
};

/// The frames of the given captures, one after the other (later captures shifted in time).
inline frame_set captures(const std::vector<std::string>& paths) {
  frame_set s;
  std::int64_t shift = 0;
  for (const auto& p : paths) {
    auto packets = services::read_pcap(p);
    if (packets.empty())
      continue;
    std::int64_t base = packets.front().ts_ns;
    for (const auto& pk : packets)
      s.add(pk.data, pk.ts_ns - base + shift);
    shift = s.ts.back() + 1'000'000'000;
    s.name += (s.name.empty() ? "" : " + ") + p.substr(p.rfind('/') + 1);
  }
  return s;
}

/// `n` 64-byte UDP frames of `flows` flows (both directions) drawn from Zipf(`skew`), one per µs.
inline frame_set zipf_udp(std::size_t n, std::size_t flows, double skew, std::uint64_t seed) {
  frame_set s;
  s.name = std::to_string(n / 1000) + "K x 64 B UDP, " + std::to_string(flows / 1000) + "K flows, Zipf " +
           std::to_string(skew).substr(0, 4);
  std::vector<double> cdf(flows);
  double sum = 0;
  for (std::size_t i = 0; i < flows; ++i)
    cdf[i] = sum += 1.0 / std::pow(double(i + 1), skew);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, sum);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t f = std::size_t(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    std::uint32_t client = 0x0a000000u + std::uint32_t(f * 2654435761u % 0xffffff);
    std::uint32_t server = 0xc6336400u + std::uint32_t(f % 251);
    auto cport = std::uint16_t(1024 + f % 60000), sport = std::uint16_t(443);
    bytes fr = rng() & 1 ? services::build_udp_frame(client, server, cport, sport, 64)
                         : services::build_udp_frame(server, client, sport, cport, 64);
    s.add(fr, std::int64_t(i) * 1000);
  }
  return s;
}

/// Best nanoseconds per item of each variant, running them round-robin `reps` times so that a
/// load burst on a shared machine hits every variant alike. Each variant processes `items` items.
inline std::vector<double> contest(const std::vector<std::function<void()>>& variants, std::size_t items,
                                   int reps = 7) {
  std::vector<double> best(variants.size(), 1e300);
  for (int r = 0; r < reps; ++r)
    for (std::size_t v = 0; v < variants.size(); ++v) {
      auto t0 = std::chrono::steady_clock::now();
      variants[v]();
      auto t1 = std::chrono::steady_clock::now();
      best[v] = std::min(best[v], std::chrono::duration<double, std::nano>(t1 - t0).count() / double(items));
    }
  return best;
}

/// A service context that only counts what a service does (no allocation per request).
class counting_context final : public service_context {
 public:
  void reply(bytes_view) override { ++replies; }
  void emit(std::uint64_t key, bytes_view p) override {
    ++emits;
    sink ^= key + p.size();
  }
  void reject(std::string_view) override { ++rejects; }
  state::collections& state() override { return *state_; }
  std::int64_t now_ns() const override { return now; }
  std::uint64_t replies = 0, emits = 0, rejects = 0, sink = 0;  ///< counters
  std::int64_t now = 0;                                           ///< what now_ns() returns

 private:
  std::unique_ptr<state::collections> state_ = state::make_memory_collections();
};

/// The value of `--name V` among the arguments, or `fallback`.
inline std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name)
      return argv[i + 1];
  return fallback;
}

}  // namespace e3::bench::traffic
