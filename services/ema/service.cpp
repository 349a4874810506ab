// The EMA service binding: per-key averages in memory, flushed to the reliable hashtable "ema".
#include <charconv>
#include <cmath>
#include <iostream>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "services/common/cli.hpp"
#include "services/ema/ema.hpp"
#include "services/ema/record_view.hpp"
#include "services/ema/series_csv.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

constexpr std::string_view table_name = "ema";

class ema_service final : public service {
 public:
  explicit ema_service(double alpha) : alpha_(alpha) {}

  void handle(const request& req, service_context& ctx) override {
    record_view::head h;
    if (const char* err = record_view::read_head(req.payload, h)) {
      ctx.reject(err);
      return;
    }
    if (!std::isfinite(h.value)) {
      ctx.reject("ema: value is not finite");
      return;
    }
    if (h.n_features >= record_max_field) {
      ctx.reject("ema: no room to append the raw reading (features at the limit)");
      return;
    }
    auto& s = streams_[h.key];
    double avg = ema::update(s.avg, h.value, alpha_);
    if (!s.dirty) {
      s.dirty = true;
      dirty_.push_back(h.key);
    }
    record_view::rewrite(req.payload, h, avg, {h.value}, out_);
    ctx.emit(h.key, out_);
  }

  void flush(service_context& ctx) override {
    state::typed_table<std::uint64_t, ema::average> t(ctx.state().get_table(table_name));
    for (auto k : dirty_) {
      auto& s = streams_[k];
      t.put(k, s.avg);
      s.dirty = false;
    }
    dirty_.clear();
  }

  void on_start(service_context& ctx) override {
    streams_.clear();
    dirty_.clear();
    ctx.state().get_table(table_name).for_each([&](std::string_view k, std::string_view v) {
      streams_[state::from_bytes<std::uint64_t>(k)].avg = state::from_bytes<ema::average>(v);
    });
  }

 private:
  struct stream {
    ema::average avg;
    bool dirty = false;
  };
  double alpha_;
  std::unordered_map<std::uint64_t, stream> streams_;
  std::vector<std::uint64_t> dirty_;
  bytes out_;
};

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
  out.append(buf, r.ptr);
}

int ema_main(int argc, char** argv) {
  CLI::App app{"e3 svc ema: the exponential moving average of a NAB-style CSV series (one stream);\n"
               "prints the average after each data row, one per line (%.17g)"};
  std::string csv;
  std::string alpha_text = "0.1";
  app.add_option("--csv", csv, "CSV file with a header and a 'value' column (NAB layout)")->required();
  app.add_option("--alpha", alpha_text, "smoothing factor in (0, 1] (default 0.1)");
  if (auto code = parse_svc_args(app, argc, argv, "ema"))
    return *code;
  double alpha;
  try {
    alpha = ema::parse_alpha(alpha_text);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc ema: --alpha: " << e.what() << "\n";
    return 2;
  }
  series::series s;
  try {
    s = series::read_series_csv(csv);
  } catch (const series::series_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  ema::average a;
  std::string out;
  out.reserve(s.values.size() * 20);
  for (double x : s.values) {
    append_number(out, ema::update(a, x, alpha));
    out += '\n';
  }
  std::cout << out << std::flush;
  return 0;
}

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  record r;
  r.key = rng() % 1024;
  r.ts_ns = static_cast<std::int64_t>(rng() >> 1);
  r.value = 20.0 + double(rng() % 10000) / 500.0;
  if (size > record_header_size)
    r.text.assign(size - record_header_size, 't');
  return encode(r);
}

}  // namespace

void register_ema(service_registry& r) {
  service_kind k;
  k.name = "ema";
  k.table1_name = "EMA";
  k.summary = "exponential moving average per record.key; emits the record with value = average, raw reading appended to features";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    double alpha;
    try {
      alpha = ema::parse_alpha(c.param("alpha", "0.1"));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("ema: param alpha: ") + e.what());
    }
    return std::make_unique<ema_service>(alpha);
  };
  k.synthetic_request = synthetic;
  k.svc_main = ema_main;
  r.add(std::move(k));
}

}  // namespace e3::services
