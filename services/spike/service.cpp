// The Spike service binding: per-key detectors in memory, flushed to reliable hashtables.
#include <charconv>
#include <cmath>
#include <cstring>
#include <iostream>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "services/common/cli.hpp"
#include "services/ema/record_view.hpp"
#include "services/ema/series_csv.hpp"
#include "services/spike/spike.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace spike;

constexpr std::string_view meta_table = "spike_meta";
constexpr std::string_view chunk_table = "spike_chunks";
constexpr std::string_view stream_table = "spike_stream";

/// The detector settings of one instance, from its params.
struct settings {
  bool windowed = true;
  windowed_params wp;
  streaming_params sp;
};

std::uint64_t parse_count(std::string_view name, std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0)
    throw std::invalid_argument("spike: param " + std::string(name) + " '" + std::string(text) +
                                "' is not a positive integer");
  return v;
}

settings parse_settings(const service_config& c) {
  settings s;
  try {
    s.windowed = parse_windowed_mode(c.param("mode", "windowed"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("spike: param ") + e.what());
  }
  s.wp.window = parse_count("window", c.param("window", "6400"));
  s.wp.step = parse_count("step", c.param("step", "100"));
  auto t = c.param("threshold", "3");
  double th;
  if (!series::parse_number(t, th) || th < 0)
    throw std::invalid_argument("spike: param threshold '" + t + "' is not a non-negative number");
  s.wp.threshold = s.sp.threshold = th;
  s.sp.warmup = parse_count("warmup", c.param("warmup", "2"));
  windowed_gaussian check(s.wp);  // validates window and step
  return s;
}

std::string chunk_key(std::uint64_t key, std::uint64_t chunk) {
  std::string k(16, '\0');
  std::memcpy(k.data(), &key, 8);
  std::memcpy(k.data() + 8, &chunk, 8);
  return k;
}

class spike_service final : public service {
 public:
  explicit spike_service(settings s) : s_(s) {}

  void handle(const request& req, service_context& ctx) override {
    record_view::head h;
    if (const char* err = record_view::read_head(req.payload, h)) {
      ctx.reject(err);
      return;
    }
    if (!std::isfinite(h.value)) {
      ctx.reject("spike: value is not finite");
      return;
    }
    if (h.n_features + 2 > record_max_field) {
      ctx.reject("spike: no room to append the reading and the alarm (features at the limit)");
      return;
    }
    result res;
    if (s_.windowed) {
      auto it = windows_.find(h.key);
      if (it == windows_.end())
        it = windows_.emplace(h.key, wstream{windowed_gaussian(s_.wp)}).first;
      auto& w = it->second;
      if (!w.dirty) {
        w.dirty = true;
        w.dirty_from = w.det.count();
        dirty_.push_back(h.key);
      }
      res = w.det.add(h.value);
    } else {
      auto& st = streams_[h.key];
      if (!st.dirty) {
        st.dirty = true;
        dirty_.push_back(h.key);
      }
      res = streaming_add(st.state, h.value, s_.sp);
    }
    record_view::rewrite(req.payload, h, res.score, {h.value, res.alarm ? 1.0 : 0.0}, out_);
    ctx.emit(h.key, out_);
  }

  void flush(service_context& ctx) override {
    if (s_.windowed)
      flush_windows(ctx);
    else
      flush_streams(ctx);
    dirty_.clear();
  }

  void on_start(service_context& ctx) override {
    windows_.clear();
    streams_.clear();
    dirty_.clear();
    if (s_.windowed)
      load_windows(ctx);
    else
      ctx.state().get_table(stream_table).for_each([&](std::string_view k, std::string_view v) {
        streams_[state::from_bytes<std::uint64_t>(k)].state = state::from_bytes<streaming_state>(v);
      });
  }

 private:
  struct wstream {
    windowed_gaussian det;
    std::uint64_t dirty_from = 0;  // first sequence number not yet written
    std::uint64_t flushed_lo = 0;  // window start at the last flush: chunks below it are erased
    bool dirty = false;
  };
  struct sstream {
    streaming_state state;
    bool dirty = false;
  };

  void flush_windows(service_context& ctx) {
    auto& metas = ctx.state().get_table(meta_table);
    auto& chunks = ctx.state().get_table(chunk_table);
    const std::uint64_t step = s_.wp.step;
    for (auto k : dirty_) {
      auto& w = windows_.at(k);
      auto m = w.det.meta();
      for (std::uint64_t j = w.flushed_lo / step; j < m.lo / step; ++j)
        chunks.erase(chunk_key(k, j));
      for (std::uint64_t j = std::max(w.dirty_from, m.lo) / step; j * step < m.count; ++j) {
        std::uint64_t end = std::min((j + 1) * step, m.count);
        buf_.resize((end - j * step) * 8);
        for (std::uint64_t q = j * step; q < end; ++q) {
          double v = w.det.at(q);
          std::memcpy(buf_.data() + (q - j * step) * 8, &v, 8);
        }
        chunks.put(chunk_key(k, j), buf_);
      }
      metas.put(state::as_bytes(k), state::as_bytes(m));
      w.flushed_lo = m.lo;
      w.dirty = false;
    }
  }

  void flush_streams(service_context& ctx) {
    state::typed_table<std::uint64_t, streaming_state> t(ctx.state().get_table(stream_table));
    for (auto k : dirty_) {
      auto& st = streams_.at(k);
      t.put(k, st.state);
      st.dirty = false;
    }
  }

  void load_windows(service_context& ctx) {
    auto& chunks = ctx.state().get_table(chunk_table);
    const std::uint64_t step = s_.wp.step;
    std::vector<double> vals;
    std::string c;
    ctx.state().get_table(meta_table).for_each([&](std::string_view kb, std::string_view vb) {
      auto k = state::from_bytes<std::uint64_t>(kb);
      auto m = state::from_bytes<window_meta>(vb);
      vals.clear();
      for (std::uint64_t j = m.lo / step; j * step < m.count; ++j) {
        std::uint64_t want = std::min((j + 1) * step, m.count) - j * step;
        if (!chunks.get(chunk_key(k, j), c) || c.size() != want * 8)
          throw state::state_error("spike: stream " + std::to_string(k) + ": chunk " + std::to_string(j) +
                                   " is missing or has the wrong size");
        for (std::uint64_t q = 0; q < want; ++q) {
          double v;
          std::memcpy(&v, c.data() + q * 8, 8);
          vals.push_back(v);
        }
      }
      wstream w{windowed_gaussian(s_.wp)};
      try {
        w.det.restore(m, vals);
      } catch (const std::invalid_argument& e) {
        throw state::state_error(e.what());
      }
      w.flushed_lo = m.lo;
      windows_.emplace(k, std::move(w));
    });
  }

  settings s_;
  std::unordered_map<std::uint64_t, wstream> windows_;
  std::unordered_map<std::uint64_t, sstream> streams_;
  std::vector<std::uint64_t> dirty_;
  bytes out_;
  std::string buf_;
};

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
  out.append(buf, r.ptr);
}

int spike_main(int argc, char** argv) {
  CLI::App app{"e3 svc spike: z-score spike detection over a NAB-style CSV series (one stream);\n"
               "prints one score per data row, in order (%.17g); windowed: NAB's anomaly score, streaming: |z|"};
  std::string csv, mode = "windowed";
  service_config cfg;
  std::string window = "6400", step = "100", threshold = "3", warmup = "2";
  bool alarms = false;
  app.add_option("--csv", csv, "CSV file with a header and a 'value' column (NAB layout)")->required();
  app.add_option("--mode", mode, "windowed (NAB's windowed Gaussian, default) or streaming (Welford z-score)");
  app.add_option("--threshold", threshold, "alarm when |z| exceeds this (default 3)");
  app.add_option("--window", window, "windowed: values in the full window (default 6400)");
  app.add_option("--step", step, "windowed: values buffered per slide (default 100)");
  app.add_option("--warmup", warmup, "streaming: values scored 0 before z is used (default 2)");
  app.add_flag("--alarms", alarms, "add a second column: 1 when the row raised an alarm, else 0");
  if (auto code = parse_svc_args(app, argc, argv, "spike"))
    return *code;
  cfg.params = {{"mode", mode}, {"window", window}, {"step", step}, {"threshold", threshold}, {"warmup", warmup}};
  settings s;
  try {
    s = parse_settings(cfg);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc spike: " << e.what() << "\n";
    return 2;
  }
  series::series data;
  try {
    data = series::read_series_csv(csv);
  } catch (const series::series_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  windowed_gaussian det(s.wp);
  streaming_state st;
  std::string out;
  out.reserve(data.values.size() * 24);
  for (double x : data.values) {
    result r = s.windowed ? det.add(x) : streaming_add(st, x, s.sp);
    append_number(out, r.score);
    if (alarms)
      out += r.alarm ? "\t1" : "\t0";
    out += '\n';
  }
  std::cout << out << std::flush;
  return 0;
}

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  record r;
  r.key = rng() % 1024;
  r.ts_ns = static_cast<std::int64_t>(rng() >> 1);
  // A reading around 70 with an occasional spike.
  r.value = 70.0 + double(rng() % 2000) / 200.0 + (rng() % 100 == 0 ? 60.0 : 0.0);
  if (size > record_header_size)
    r.text.assign(size - record_header_size, 's');
  return encode(r);
}

}  // namespace

void register_spike(service_registry& r) {
  service_kind k;
  k.name = "spike";
  k.table1_name = "Spike";
  k.summary = "z-score spike detector per record.key (NAB windowed Gaussian or streaming); emits the record with value = score, reading and alarm appended to features";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    return std::make_unique<spike_service>(parse_settings(c));
  };
  k.synthetic_request = synthetic;
  k.svc_main = spike_main;
  r.add(std::move(k));
}

}  // namespace e3::services
