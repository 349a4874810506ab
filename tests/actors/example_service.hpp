// The README's "Write a service" example, compiled and tested (keep the two identical).
#pragma once

#include <memory>
#include <string>

#include "actors/service.hpp"
#include "state_store/typed.hpp"

// Counts the requests of every key in a reliable hashtable and replies with the count.
class hit_counter final : public e3::service {
 public:
  void handle(const e3::request& req, e3::service_context& ctx) override {
    if (req.payload.empty()) {
      ctx.reject("empty request");  // counted and answered with the reason, never dropped
      return;
    }
    e3::state::typed_table<std::uint64_t, std::uint64_t> hits(ctx.state().get_table("hits"));
    std::uint64_t n = 0;
    hits.get(req.key, n);
    hits.put(req.key, ++n);  // durable once the runtime commits, before the reply leaves
    std::string reply = std::to_string(n);
    ctx.reply(e3::as_bytes_view(reply));
  }
};

// Registers the kind; manifests then name it `kind: hit_counter`.
inline void register_hit_counter(e3::service_registry& r) {
  e3::service_kind k;
  k.name = "hit_counter";
  k.summary = "counts requests per key and replies with the count";
  k.stateful = true;
  k.make = [](const e3::service_config&) { return std::make_unique<hit_counter>(); };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) {
    return e3::bytes(size, std::uint8_t(rng()));
  };
  r.add(std::move(k));
}
