// e3 bench ema: per-reading cost of the EMA (pure update and whole service path) next to a plain
// loop doing the same arithmetic, measured in the same run on a real NAB series.
#include <cmath>
#include <string>
#include <unordered_map>

#include "actors/local_context.hpp"
#include "bench/common/report.hpp"
#include "services/common/record.hpp"
#include "services/ema/ema.hpp"
#include "services/ema/series_csv.hpp"

namespace e3::services {
void register_ema(service_registry& r);
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

}  // namespace

int main(int argc, char** argv) {
  bool json = bench::wants_json(argc, argv);
  std::string path = std::string(E3_SOURCE_DIR) + "/tests/data/timeseries/machine_temperature_system_failure.csv";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--csv")
      path = argv[i + 1];
  auto x = series::read_series_csv(path).values;
  const double alpha = ema::default_alpha;
  const std::size_t n = x.size();
  constexpr std::uint64_t keys = 1024;

  bench::report rep("EMA: ns per reading on " + std::to_string(n) + " NAB readings (machine_temperature), alpha 0.1",
                    {"path", "ns/reading", "M readings/s", "reference", "ref ns/reading", "ratio"});

  // 1. One stream: the pure update against the plain recurrence, each a whole pass over the
  //    series (best of 20 passes).
  double ns_pure = bench::ns_per_op(
                       [&](std::size_t) {
                         ema::average a;
                         for (double v : x)
                           ema::update(a, v, alpha);
                         bench::keep(a);
                       },
                       1, 20) /
                   double(n);
  double ns_loop = bench::ns_per_op(
                       [&](std::size_t) {
                         double s = x[0];
                         for (double v : x)
                           s = alpha * v + (1 - alpha) * s;
                         bench::keep(s);
                       },
                       1, 20) /
                   double(n);
  rep.row({"ema::update, 1 stream", ns_pure, 1e3 / ns_pure, "plain loop s=a*x+(1-a)*s", ns_loop, ns_pure / ns_loop});

  // 2. 1024 interleaved streams: the whole service path (record parse, per-key state, rewritten
  //    record emitted) against a plain loop over an unordered_map doing only the arithmetic.
  service_registry reg;
  register_ema(reg);
  const auto& kind = reg.at("ema");
  std::vector<bytes> reqs(n);
  for (std::size_t i = 0; i < n; ++i) {
    record r;
    r.key = i % keys;
    r.ts_ns = std::int64_t(i) * 300'000'000'000;
    r.value = x[i];
    r.text.assign(512 - record_header_size, 's');
    reqs[i] = encode(r);
  }
  service_config cfg;
  auto svc = kind.make(cfg);
  null_context ctx;
  svc->on_start(ctx);
  double ns_svc = bench::ns_per_op([&](std::size_t i) { svc->handle({i, i % keys, reqs[i]}, ctx); }, n, 10);
  std::unordered_map<std::uint64_t, ema::average> plain;
  double ns_map = bench::ns_per_op([&](std::size_t i) { bench::keep(ema::update(plain[i % keys], x[i], alpha)); }, n, 10);
  rep.row({"service handle, 512 B records, 1024 keys", ns_svc, 1e3 / ns_svc, "plain loop, unordered_map", ns_map,
           ns_svc / ns_map});

  // 3. The same with a flush (state written to the reliable hashtable) every 100 requests.
  double ns_flush = bench::ns_per_op(
      [&](std::size_t i) {
        svc->handle({i, i % keys, reqs[i]}, ctx);
        if (i % 100 == 99)
          svc->flush(ctx);
      },
      n, 10);
  rep.row({"service handle + flush every 100", ns_flush, 1e3 / ns_flush, "plain loop, unordered_map", ns_map,
           ns_flush / ns_map});
  rep.note("reference: the same arithmetic with no record parsing, no output record, no reliable state");
  rep.note("paper Table 1 EMA (host, Linux): 1.97 M req/s with 8 active cores");
  if (ctx.rejected)
    rep.note("WARNING: " + std::to_string(ctx.rejected) + " requests rejected");
  rep.print(json);
  return 0;
}
