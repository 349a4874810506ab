// Top ranker binding: the service over the windowed ranker, its reliable state, registration.
#include "services/top_ranker/service.hpp"

#include <cstring>
#include <stdexcept>

#include "services/common/params.hpp"
#include "services/common/record.hpp"
#include "services/top_ranker/top_ranker.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace top_ranker;

constexpr std::string_view items_table = "top_ranker.items";
constexpr std::string_view window_table = "top_ranker.window";

options options_from(const service_config& cfg) {
  options o;
  o.k = param_u64(cfg, "top_ranker", "k", 10);
  if (o.k == 0 || o.k > 100000)
    throw std::invalid_argument("top_ranker: param k must be 1..100000");
  o.window_records = param_u64(cfg, "top_ranker", "window", 1000);
  auto wns = param_u64(cfg, "top_ranker", "window_ns", 0);
  if (wns > std::uint64_t(INT64_MAX))
    throw std::invalid_argument("top_ranker: param window_ns is too large");
  o.window_ns = static_cast<std::int64_t>(wns);
  if (o.window_records == 0 && o.window_ns == 0)
    throw std::invalid_argument("top_ranker: window and window_ns are both 0: a window would never close");
  auto agg = cfg.param("aggregate", "sum");
  if (!parse_aggregate(agg, o.agg))
    throw std::invalid_argument("top_ranker: param aggregate='" + agg + "' must be sum, max, last or count");
  auto algo = cfg.param("algorithm", "pqs");
  if (algo == "pqs")
    o.algo = algorithm::partial_quicksort;
  else if (algo == "select")
    o.algo = algorithm::quickselect_then_sort;
  else
    throw std::invalid_argument("top_ranker: param algorithm='" + algo + "' must be pqs or select");
  return o;
}

class top_ranker_service final : public service {
 public:
  explicit top_ranker_service(const service_config& cfg) : ranker_(options_from(cfg)) {}

  void handle(const request& req, service_context& ctx) override {
    record_fields f;
    if (!read_record_fields(req.payload, f, error_)) {
      ctx.reject(error_);
      return;
    }
    if (!ranker_.add(f.key, f.value, f.ts_ns)) {
      ctx.reject("top_ranker: value of item " + std::to_string(f.key) + " is NaN or would make its score NaN");
      return;
    }
    if (ranker_.closed().empty()) {
      ctx.reply({});
      return;
    }
    for (const auto& w : ranker_.closed()) {
      out_.features.clear();
      out_.aux.clear();
      out_.key = w.seq;
      out_.ts_ns = w.last_ts;
      out_.value = double(w.records);
      for (const auto& e : w.top) {
        out_.features.push_back(e.score);
        char k8[8];
        std::memcpy(k8, &e.key, 8);
        out_.aux.append(k8, 8);
      }
      buf_.clear();
      encode(out_, buf_);
      ctx.emit(w.seq, buf_);
    }
    ranker_.clear_closed();
  }

  void on_start(service_context& ctx) override {
    window_state s;
    auto open = ctx.state().get_table(window_table).get("open");
    if (open)
      s = state::from_bytes<window_state>(*open);
    std::vector<entry> items;
    ctx.state().get_table(items_table).for_each([&](std::string_view k, std::string_view v) {
      items.push_back({state::from_bytes<std::uint64_t>(k), state::from_bytes<double>(v)});
    });
    ranker_.restore(s, items);
  }

  void flush(service_context& ctx) override {
    auto& items = ctx.state().get_table(items_table);
    if (ranker_.take_changes(changed_)) {
      std::vector<std::string> old;
      items.for_each([&](std::string_view k, std::string_view) { old.emplace_back(k); });
      for (const auto& k : old)
        items.erase(k);
    }
    for (const auto& e : changed_)
      items.put(state::as_bytes(e.key), state::as_bytes(e.score));
    ctx.state().get_table(window_table).put("open", state::as_bytes(ranker_.state()));
  }

 private:
  ranker ranker_;
  std::vector<entry> changed_;
  record out_;
  bytes buf_;
  std::string error_;
};

// An item record over 1,000 items with a score in [0, 100); text pads it to `size` bytes.
bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  record r;
  r.key = rng() % 1000;
  r.value = double(rng() % 10000) / 100.0;
  r.text.assign(size > record_header_size ? size - record_header_size : 0, 't');
  return encode(r);
}

}  // namespace

void register_top_ranker(service_registry& r) {
  service_kind k;
  k.name = "top_ranker";
  k.table1_name = "Top ranker";
  k.summary =
      "top-K items per tumbling window (partial quicksort): record key = item, value = score; emits the "
      "window's top-K (features = scores, aux = item keys) when it closes";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& cfg) -> std::unique_ptr<service> {
    return std::make_unique<top_ranker_service>(cfg);
  };
  k.synthetic_request = synthetic;
  k.svc_main = top_ranker_svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
