// Completion tracking by credit recovery: how a client knows that a request whose messages fan
// out over the DAG has finished everywhere, without any central bookkeeping. No CAF in here.
//
// A request starts with full_credit. Whenever a hop emits messages it splits the credit it holds
// among them; a branch that ends (a reply, a sink, a filtered or rejected message) returns its
// credit to the client in a completion. The request is complete when the client has recovered
// full_credit (Mattern's credit-recovery termination detection). Its latency is the latest
// completion time minus the send time.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace e3::rt {

/// The credit a request starts with: 2^62 leaves room for ~60 binary splits.
inline constexpr std::uint64_t full_credit = std::uint64_t(1) << 62;

/// Splits `credit` into `n` parts that sum to it exactly; parts differ by at most one. When
/// credit < n some parts are 0 (the fan-out is too deep to track exactly; see exhausted()).
void split_credit(std::uint64_t credit, std::size_t n, std::vector<std::uint64_t>& out);

/// The client's side: outstanding requests and their recovered credit. Not thread-safe.
class completion_tracker {
 public:
  /// A finished request.
  struct done {
    std::uint64_t id = 0;          ///< request id
    std::int64_t latency_ns = 0;   ///< last completion − send
    bool error = false;            ///< some branch was rejected
    bool replied = false;          ///< some branch carried a reply payload
    bool lost = false;             ///< some branch could not be delivered
  };
  /// Starts tracking request `id` sent at `sent_ns`.
  void sent(std::uint64_t id, std::int64_t sent_ns);
  /// Records a completion carrying `credit` at `done_ns`; returns the request once all its credit
  /// is back. Completions for unknown (expired or never sent) ids are counted as strays.
  std::optional<done> completed(std::uint64_t id, std::uint64_t credit, std::int64_t done_ns, bool error,
                                bool replied, bool lost = false);
  /// Gives up on requests sent before `before_ns`: they count as lost. Returns how many.
  std::size_t expire(std::int64_t before_ns);
  /// Requests not complete yet.
  std::size_t outstanding() const { return open_.size(); }
  /// Completions that matched no outstanding request.
  std::uint64_t strays() const { return strays_; }
  /// Completions that returned more credit than the request had (a runtime bug if ever seen).
  std::uint64_t overflows() const { return overflows_; }
  /// Requests given up on so far.
  std::uint64_t lost() const { return lost_; }

 private:
  struct open_request {
    std::int64_t sent_ns;
    std::int64_t last_ns;
    std::uint64_t credit;
    bool error;
    bool replied;
    bool lost;
  };
  std::unordered_map<std::uint64_t, open_request> open_;
  std::uint64_t strays_ = 0, overflows_ = 0, lost_ = 0;
};

}  // namespace e3::rt
