// A service_context that keeps everything in memory: for unit tests, `e3 svc` and profiling.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/service.hpp"

namespace e3 {

/// Records replies, emits and rejections; owns in-memory collections; a settable clock.
class local_context final : public service_context {
 public:
  /// One emitted message.
  struct emitted {
    std::uint64_t key;  ///< downstream shard key
    bytes payload;      ///< message bytes
  };

  local_context() : state_(state::make_memory_collections()) {}
  /// Uses `state` as the instance's collections.
  explicit local_context(std::unique_ptr<state::collections> s) : state_(std::move(s)) {}

  void reply(bytes_view payload) override { replies.emplace_back(payload.begin(), payload.end()); }
  void emit(std::uint64_t key, bytes_view payload) override {
    emits.push_back({key, bytes(payload.begin(), payload.end())});
  }
  void reject(std::string_view reason) override { rejections.emplace_back(reason); }
  state::collections& state() override { return *state_; }
  std::int64_t now_ns() const override { return now; }

  /// Forgets recorded output (keeps state and clock).
  void clear() {
    replies.clear();
    emits.clear();
    rejections.clear();
  }

  std::vector<bytes> replies;            ///< reply payloads, in order
  std::vector<emitted> emits;            ///< emitted messages, in order
  std::vector<std::string> rejections;   ///< rejection reasons, in order
  std::int64_t now = 0;                  ///< what now_ns() returns

 private:
  std::unique_ptr<state::collections> state_;
};

}  // namespace e3
