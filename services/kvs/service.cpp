// KVS binding: the service over the cuckoo table, its reliable state, and the kind registration.
#include "services/kvs/service.hpp"

#include <charconv>
#include <stdexcept>

#include "services/common/params.hpp"
#include "services/common/record.hpp"
#include "services/kvs/cuckoo_table.hpp"
#include "services/kvs/kvs.hpp"

namespace e3::services {
namespace {

using namespace kvs;

constexpr std::string_view state_table = "kvs";

table_options options_from(const service_config& cfg) {
  table_options o;
  o.track_changes = true;
  o.initial_buckets = param_u64(cfg, "kvs", "buckets", 1024);
  auto search = cfg.param("search", "bfs");
  if (search == "bfs")
    o.mode = search_mode::bfs;
  else if (search == "dfs")
    o.mode = search_mode::dfs;
  else
    throw std::invalid_argument("kvs: param search='" + search + "' must be bfs or dfs");
  return o;
}

class kvs_service final : public service {
 public:
  explicit kvs_service(const service_config& cfg)
      : table_(options_from(cfg)), max_keys_(param_u64(cfg, "kvs", "max_keys", 0)) {
    auto mode = cfg.param("mode", "auto");
    if (mode != "auto" && mode != "store")
      throw std::invalid_argument("kvs: param mode='" + mode + "' must be auto or store");
    store_all_ = mode == "store";
  }

  void handle(const request& req, service_context& ctx) override {
    record_view r;
    if (!parse_record(req.payload, r, error_)) {
      ctx.reject(error_);
      return;
    }
    if (store_all_ || r.op < op_get || r.op > op_del) {
      store_record(req, r, ctx);
      return;
    }
    key_buffer buf;
    auto key = request_key(r, buf);
    if (key.size() > max_key_size) {
      ctx.reject("kvs: key of " + std::to_string(key.size()) + " bytes is longer than " +
                 std::to_string(max_key_size));
      return;
    }
    switch (r.op) {
      case op_get: {
        bool hit = table_.read(key, [&](std::string_view v) {
          write_reply(reply_, status_hit, r.key, r.ts_ns, double(table_.size()), v);
        });
        if (!hit)
          write_reply(reply_, status_miss, r.key, r.ts_ns, double(table_.size()), {});
        break;
      }
      case op_set:
        if (!put(key, r.aux, ctx))
          return;
        write_reply(reply_, status_stored, r.key, r.ts_ns, double(table_.size()), {});
        break;
      default: {
        bool erased = table_.erase(key);
        write_reply(reply_, erased ? status_deleted : status_not_found, r.key, r.ts_ns, double(table_.size()), {});
        break;
      }
    }
    ctx.reply(reply_);
  }

  void on_start(service_context& ctx) override {
    table_.clear();
    ctx.state().get_table(state_table).for_each([&](std::string_view k, std::string_view v) {
      if (table_.set(k, v) == set_result::too_large)
        throw state::state_error("kvs: stored entry with a " + std::to_string(k.size()) + "-byte key and a " +
                                 std::to_string(v.size()) + "-byte value exceeds the kvs limits");
    });
    table_.discard_changes();
  }

  void flush(service_context& ctx) override {
    auto& t = ctx.state().get_table(state_table);
    table_.drain_changes([&](std::string_view k) { t.erase(k); },
                         [&](std::string_view k, std::string_view v) { t.put(k, v); });
    table_.reclaim();
  }

 private:
  // Stores key -> value; false (and rejected) when a limit forbids it.
  bool put(std::string_view key, std::string_view value, service_context& ctx) {
    if (value.size() > max_value_size) {
      ctx.reject("kvs: value of " + std::to_string(value.size()) + " bytes is longer than " +
                 std::to_string(max_value_size));
      return false;
    }
    if (max_keys_ && table_.size() >= max_keys_ && !table_.contains(key)) {
      ctx.reject("kvs: store full (max_keys " + std::to_string(max_keys_) + ")");
      return false;
    }
    auto res = table_.set(key, value);
    if (res == set_result::full || res == set_result::too_large) {
      ctx.reject("kvs: the table could not take the key");
      return false;
    }
    return true;
  }

  void store_record(const request& req, const record_view& r, service_context& ctx) {
    key_buffer buf;
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), r.key);
    (void)ec;
    std::string_view value(reinterpret_cast<const char*>(req.payload.data()), req.payload.size());
    if (!put({buf, std::size_t(end - buf)}, value, ctx))
      return;
    ctx.emit(r.key, req.payload);
  }

  cuckoo_table table_;
  std::size_t max_keys_;
  bool store_all_ = false;
  bytes reply_;
  std::string error_;
};

// YCSB-B-like synthetic load: 95 % GET / 5 % SET over 16 keys per request size. A SET carries a
// value that fills `size`; a GET reads it back (a hit once the key has been set), so its reply
// is about `size` bytes.
bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  auto idx = rng() % 16;
  bool write = rng() % 20 == 0;
  std::string key = "ycsb:" + std::to_string(size) + ":" + std::to_string(idx);
  if (!write)
    return make_request(op_get, key);
  std::size_t overhead = record_header_size + key.size();
  std::string value(size > overhead ? size - overhead : 1, 'v');
  return make_request(op_set, key, value);
}

}  // namespace

void register_kvs(service_registry& r) {
  service_kind k;
  k.name = "kvs";
  k.table1_name = "KVS";
  k.summary =
      "MemC3 optimistic cuckoo-hash key-value store: record op 1 GET / 2 SET / 3 DEL (key in text, value in "
      "aux) replies HIT/MISS/STORED/DELETED; other records are stored by key and forwarded";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& cfg) -> std::unique_ptr<service> { return std::make_unique<kvs_service>(cfg); };
  k.synthetic_request = synthetic;
  k.svc_main = kvs_svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
