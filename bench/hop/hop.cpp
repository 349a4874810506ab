// `e3 bench hop`: the real time of one hop between two service instances on the same node
// (router lookup, the runtime's hand-over, CAF mailbox and scheduling), next to a bare CAF
// message between two actors, measured in the same run. Target (issue 3): ≤ 2 µs p50.
#include <caf/all.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "actors/histogram.hpp"
#include "actors/runtime.hpp"
#include "apps/manifest.hpp"
#include "bench/common/report.hpp"
#include "services/services.hpp"

namespace {

using namespace e3;
using clk = std::chrono::steady_clock;
using stamp_atom = caf::atom_constant<caf::atom("stamp")>;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch()).count();
}

// Bare CAF: a sends b a timestamp, b records the one-way time and answers; one at a time.
rt::histogram bare_caf(std::size_t n) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t(2));
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys(cfg);
  rt::histogram h;
  std::mutex m;
  auto b = sys.spawn(
      [&](caf::event_based_actor*, int) -> caf::behavior {
        return {[&](stamp_atom, std::int64_t t) {
          auto d = now_ns() - t;
          std::lock_guard g(m);
          h.record(d);
          return true;
        }};
      },
      0);
  caf::scoped_actor self{sys};
  for (std::size_t i = 0; i < n; ++i)
    self->request(b, caf::infinite, stamp_atom::value, now_ns()).receive([](bool) {}, [](caf::error&) {});
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 20000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--messages")
      n = std::stoul(argv[i + 1]);
  bool json = bench::wants_json(argc, argv);

  std::cerr << "bare CAF messages…\n";
  auto caf_h = bare_caf(n);

  std::cerr << "instance-to-instance hops in the runtime…\n";
  service_registry reg;
  services::register_all(reg);
  // Two stateless stages on the single host of 1xSuperBeefy: every hop between them is local.
  auto app = apps::parse_manifest(R"(app: hop
rate_rps: 1000
services:
  - {name: a, kind: ipsec, shards: 1, memory_mb: 10, cpu: 0.01}
  - {name: b, kind: nids, shards: 1, memory_mb: 10, cpu: 0.01}
channels:
  - {from: a, to: b}
entry: [a]
)",
                                  "hop.yaml");
  rt::runtime_options o;
  o.cluster = "1xSuperBeefy";
  o.dilation = 1;
  rt::cluster_runtime runtime(o, reg);
  runtime.deploy(app);
  auto c = runtime.connect_client();
  std::mt19937_64 rng(1);
  auto req = reg.at("ipsec").synthetic_request(512, rng);
  std::vector<rt::completion> done;
  for (std::size_t i = 0; i < n; ++i) {
    c->send(0, i, req);
    auto deadline = clk::now() + std::chrono::seconds(5);
    while (c->outstanding() > 0 && clk::now() < deadline)
      std::this_thread::yield();
    c->drain(done);
  }
  auto totals = runtime.totals();
  std::int64_t p50 = 0, p99 = 0;
  std::uint64_t hops = 0;
  for (const auto& t : totals)
    if (t.local_hops > hops) {
      hops = t.local_hops;
      p50 = t.local_hop_p50_ns;
      p99 = t.local_hop_p99_ns;
    }
  runtime.stop();

  bench::report r("One hop inside a node (real time, 2 CAF threads on this 2-core machine)",
                  {"path", "messages", "p50_us", "p99_us", "target_p50_us", "met"});
  r.row({"bare CAF message (reference)", caf_h.count(), double(caf_h.quantile(0.5)) / 1000,
         double(caf_h.quantile(0.99)) / 1000, nullptr, nullptr});
  r.row({"instance -> router -> instance", hops, double(p50) / 1000, double(p99) / 1000, 2.0, p50 <= 2000});
  r.note("hop = from the sending handler's end to the receiving handler's start (router lookup, hand-over, mailbox)");
  r.note("requests completed: " + std::to_string(done.size()) + " of " + std::to_string(n));
  r.extra()["hop_p50_us"] = double(p50) / 1000;
  r.extra()["caf_p50_us"] = double(caf_h.quantile(0.5)) / 1000;
  r.print(json);
  return 0;
}
