// e3 bench spike: per-reading cost of NAB's windowed Gaussian (our fast form, and the service
// path) next to NAB's procedure transcribed literally, and the streaming z-score, on real series.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "actors/local_context.hpp"
#include "bench/common/report.hpp"
#include "services/common/record.hpp"
#include "services/ema/series_csv.hpp"
#include "services/spike/spike.hpp"

namespace e3::services {
void register_spike(service_registry& r);
}

using namespace e3;
using namespace e3::services;

namespace {

/// A context that only counts: measures the service, not the recording of its output.
class null_context final : public service_context {
 public:
  void reply(bytes_view) override { ++out; }
  void emit(std::uint64_t, bytes_view p) override { out += p.size(); }
  void reject(std::string_view) override { ++rejected; }
  state::collections& state() override { return *state_; }
  std::int64_t now_ns() const override { return 0; }
  std::size_t out = 0, rejected = 0;

 private:
  std::unique_ptr<state::collections> state_ = state::make_memory_collections();
};

template <class F>
double time_ns(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  bool json = bench::wants_json(argc, argv);
  const std::string dir = std::string(E3_SOURCE_DIR) + "/tests/data/timeseries/";
  bench::report rep("Spike: ns per reading, whole series, best of 3 (NAB windowed Gaussian: window 6400, step 100)",
                    {"series", "rows", "path", "ns/reading", "reference", "ref ns/reading", "speedup", "max |diff|"});
  for (const char* name : {"ambient_temperature_system_failure", "ec2_request_latency_system_failure",
                           "machine_temperature_system_failure"}) {
    auto x = series::read_series_csv(dir + name + ".csv").values;
    const double n = double(x.size());
    double best_fast = 1e300, best_ref = 1e300, diff = 0;
    for (int rep_i = 0; rep_i < 3; ++rep_i) {
      std::vector<double> a(x.size()), b(x.size());
      best_fast = std::min(best_fast, time_ns([&] {
                             spike::windowed_gaussian d;
                             for (std::size_t i = 0; i < x.size(); ++i)
                               a[i] = d.add(x[i]).score;
                           }));
      best_ref = std::min(best_ref, time_ns([&] {
                            spike::nab_reference d;
                            for (std::size_t i = 0; i < x.size(); ++i)
                              b[i] = d.add(x[i]);
                          }));
      for (std::size_t i = 0; i < x.size(); ++i)
        diff = std::max(diff, std::abs(a[i] - b[i]));
    }
    char d[32];
    std::snprintf(d, sizeof d, "%.2g", diff);
    rep.row({name, x.size(), "windowed_gaussian (Welford while growing)", best_fast / n,
             "NAB literal (recompute per append)", best_ref / n, best_ref / best_fast, std::string(d)});
  }

  // The service path on the longest series, 64 interleaved streams, 512 B records.
  auto x = series::read_series_csv(dir + "machine_temperature_system_failure.csv").values;
  service_registry reg;
  register_spike(reg);
  const auto& kind = reg.at("spike");
  constexpr std::uint64_t keys = 64;
  std::vector<bytes> reqs(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    record r;
    r.key = i % keys;
    r.value = x[i];
    r.text.assign(512 - record_header_size, 's');
    reqs[i] = encode(r);
  }
  for (const char* mode : {"windowed", "streaming"}) {
    service_config cfg;
    cfg.params["mode"] = mode;
    null_context ctx;
    double best = 1e300;
    for (int k = 0; k < 3; ++k) {
      auto svc = kind.make(cfg);
      svc->on_start(ctx);
      best = std::min(best, time_ns([&] {
                        for (std::size_t i = 0; i < reqs.size(); ++i)
                          svc->handle({i, i % keys, reqs[i]}, ctx);
                      }));
    }
    double ref = 1e300;
    for (int k = 0; k < 3; ++k) {
      std::vector<spike::streaming_state> st(keys);
      std::vector<spike::nab_reference> lit(keys);
      ref = std::min(ref, time_ns([&] {
                       for (std::size_t i = 0; i < x.size(); ++i) {
                         if (mode[0] == 'w')
                           bench::keep(lit[i % keys].add(x[i]));
                         else
                           bench::keep(spike::streaming_add(st[i % keys], x[i], {}).score);
                       }
                     }));
    }
    rep.row({std::string("machine_temperature, 64 keys"), x.size(), std::string("service handle, ") + mode + ", 512 B",
             best / double(x.size()), mode[0] == 'w' ? "NAB literal per key, no records" : "streaming_add, no records",
             ref / double(x.size()), ref / best, nullptr});
    if (ctx.rejected)
      rep.note(std::string("WARNING: ") + std::to_string(ctx.rejected) + " requests rejected in " + mode + " mode");
  }
  rep.note("max |diff|: largest score difference between the fast form and the literal transcription");
  rep.note("paper Table 1 Spike (host, Linux): 91.9 K req/s with 12 active cores");
  rep.print(json);
  return 0;
}
