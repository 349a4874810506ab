// The service API: what a programmer writes a microservice against. No CAF in here.
//
// A service is a class with a request handler. The runtime creates one object per DAG node
// instance, feeds it one request at a time (run to completion), and gives the handler a
// context through which it replies to the client, emits messages down the app's DAG edges and
// reaches its reliable collections. The handler never learns where its peers run: the router
// picks the instance and the link (same node, PCIe ring, ZeroMQ) from the placement.
//
// Kinds register by name in a service_registry; an app manifest names kinds, and the runtime
// refuses an app whose kind is not registered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "state_store/state_store.hpp"

namespace e3 {

/// A read-only view of message bytes.
using bytes_view = std::span<const std::uint8_t>;
/// Owned message bytes.
using bytes = std::vector<std::uint8_t>;

/// Views the bytes of a string.
inline bytes_view as_bytes_view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// One message delivered to a service instance.
struct request {
  std::uint64_t id = 0;   ///< the client request this message belongs to
  std::uint64_t key = 0;  ///< shard key (flow hash, sensor id, user id); picks the instance
  bytes_view payload;     ///< the service's input format (see the kind's documentation)
};

/// What a handler may do while it runs one request.
class service_context {
 public:
  virtual ~service_context() = default;
  /// Answers the client for this branch of the request with `payload`.
  virtual void reply(bytes_view payload) = 0;
  /// Sends `payload` down this DAG node's outgoing edges; `key` selects the downstream shard.
  /// A node without outgoing edges treats emit like reply.
  virtual void emit(std::uint64_t key, bytes_view payload) = 0;
  /// Marks the request as rejected (bad input, denied): counted per reason, answered with an
  /// error, never silently dropped.
  virtual void reject(std::string_view reason) = 0;
  /// This instance's reliable collections.
  virtual state::collections& state() = 0;
  /// The runtime clock in nanoseconds (an injected, deterministic clock in tests).
  virtual std::int64_t now_ns() const = 0;
};

/// Parameters of one service instance.
struct service_config {
  std::uint32_t shard = 0;                                  ///< this instance's shard index
  std::uint32_t shards = 1;                                 ///< number of shards of this DAG node
  std::map<std::string, std::string, std::less<>> params;  ///< per-service settings from the manifest

  /// A parameter, or `fallback` when absent.
  std::string param(std::string_view name, std::string_view fallback) const {
    auto i = params.find(name);
    return i == params.end() ? std::string(fallback) : i->second;
  }
};

/// A microservice implementation: one object per instance, one request at a time.
class service {
 public:
  virtual ~service() = default;
  /// Runs one request to completion.
  virtual void handle(const request& req, service_context& ctx) = 0;
  /// Called once before the first request, and again after the instance was restarted or
  /// migrated with its collections restored: rebuild in-memory caches from ctx.state() here,
  /// and do every one-time set-up (allocating and touching tables, building automata) here or
  /// in the constructor. The runtime charges handle() and flush() to the emulated cores, not
  /// start-up, so set-up done lazily in the first request would distort emulated time.
  virtual void on_start(service_context& ctx) { (void)ctx; }
  /// Writes in-memory state that changed since the last flush into ctx.state(). The runtime
  /// calls it before it commits the collections, that is before it acknowledges the requests
  /// handled since the last flush, and before a migration exports the state. Services that
  /// write their collections directly in handle() need not override it.
  virtual void flush(service_context& ctx) { (void)ctx; }
};

/// What a kind expects as request payload.
enum class input_format {
  packet,  ///< an Ethernet frame as a pcap holds it (NFV services)
  record,  ///< a services/common/record.hpp record (stream and storage services)
};

/// Everything the platform knows about one kind of microservice.
struct service_kind {
  std::string name;          ///< registry name used in manifests, e.g. "nat"
  std::string table1_name;   ///< the paper's row name in Tables 1 and 2, e.g. "NATv4"
  std::string summary;       ///< one line: what it does, its request and its reply
  bool stateful = false;     ///< keeps state in reliable collections (Table 2)
  input_format input = input_format::record;
  /// Creates an instance.
  std::function<std::unique_ptr<service>(const service_config&)> make;
  /// A valid request of about `size` bytes for synthetic load and profiling.
  std::function<bytes(std::size_t size, std::mt19937_64& rng)> synthetic_request;
  /// `e3 svc <name> ...`: runs the service on files without a cluster; argv[0] is the name.
  /// Returns the process exit code; writes results to stdout and errors to stderr.
  std::function<int(int argc, char** argv)> svc_main;
};

/// Raised when a kind is not registered or registered twice.
class unknown_kind : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The kinds a process can run, by name.
class service_registry {
 public:
  /// Registers a kind. Throws unknown_kind when the name is taken.
  void add(service_kind k);
  /// The kind called `name`, or nullptr.
  const service_kind* find(std::string_view name) const;
  /// The kind called `name`; throws unknown_kind naming it and listing the known kinds.
  const service_kind& at(std::string_view name) const;
  /// Every registered name, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, service_kind, std::less<>> kinds_;
};

}  // namespace e3
