// SQL binding: the service over the SQLite database, its log-and-checkpoint durability in
// reliable collections, and the kind registration.
#include "services/sql/service.hpp"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "services/common/params.hpp"
#include "services/common/record.hpp"
#include "services/sql/sql.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace sql;

constexpr std::string_view log_table = "sql.log";
constexpr std::string_view image_table = "sql.image";
constexpr std::size_t row_header = 24;  // key, ts, value

template <class T>
T load(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
void append(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

std::string seq_key(std::uint64_t seq) {  // big-endian, so the log iterates in order
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i)
    k[std::size_t(i)] = char(seq >> (56 - 8 * i));
  return k;
}

std::uint64_t seq_of(std::string_view k) {
  if (k.size() != 8)
    throw state::state_error("sql: log key of " + std::to_string(k.size()) + " bytes, expected 8");
  std::uint64_t s = 0;
  for (char c : k)
    s = (s << 8) | static_cast<unsigned char>(c);
  return s;
}

db_options options_from(const service_config& cfg) {
  db_options o;
  o.init_sql = cfg.param("init_sql", "");
  auto file = cfg.param("init_file", "");
  if (!file.empty()) {
    if (!o.init_sql.empty())
      throw std::invalid_argument("sql: give init_sql or init_file, not both");
    std::ifstream in(file, std::ios::binary);
    if (!in)
      throw std::invalid_argument("sql: param init_file: cannot open " + file);
    std::ostringstream s;
    s << in.rdbuf();
    o.init_sql = s.str();
    o.init_name = file;
  }
  o.max_steps = static_cast<std::int64_t>(std::min<std::uint64_t>(param_u64(cfg, "sql", "max_steps", 50'000'000), INT64_MAX));
  o.max_reply_bytes = param_u64(cfg, "sql", "max_reply_bytes", 1u << 20);
  if (o.max_reply_bytes > record_max_field)
    throw std::invalid_argument("sql: param max_reply_bytes is larger than a record's text (1 MiB)");
  return o;
}

class sql_service final : public service {
 public:
  explicit sql_service(const service_config& cfg)
      : opts_(options_from(cfg)), checkpoint_rows_(param_u64(cfg, "sql", "checkpoint_rows", 100000)) {
    auto d = cfg.param("durability", "log");
    if (d != "log" && d != "none")
      throw std::invalid_argument("sql: param durability='" + d + "' must be log or none");
    log_ = d == "log";
    try {
      db_ = std::make_unique<database>(opts_);
    } catch (const sql_error& e) {
      throw std::invalid_argument(e.what());
    }
  }

  void handle(const request& req, service_context& ctx) override {
    record_fields f;
    if (!read_record_fields(req.payload, f, error_)) {
      ctx.reject(error_);
      return;
    }
    if (f.op == op_query) {
      std::size_t rows = 0;
      if (!db_->query(f.text, result_, rows, error_)) {
        ctx.reject(error_);
        return;
      }
      reply_.clear();
      record r;
      r.op = status_rows;
      r.key = f.key;
      r.ts_ns = f.ts_ns;
      r.value = double(rows);
      r.text = std::move(result_);
      encode(r, reply_);
      result_ = std::move(r.text);
      ctx.reply(reply_);
      return;
    }
    if (!db_->insert(f.key, f.ts_ns, f.value, f.text, error_)) {
      ctx.reject(error_);
      return;
    }
    if (log_) {
      append<std::uint32_t>(pending_, static_cast<std::uint32_t>(row_header + f.text.size()));
      append(pending_, f.key);
      append(pending_, f.ts_ns);
      append(pending_, f.value);
      pending_.append(f.text);
      ++pending_rows_;
    }
    ctx.emit(f.key, req.payload);
  }

  void flush(service_context& ctx) override {
    db_->commit();
    if (!log_)
      return;
    auto& log = ctx.state().get_table(log_table);
    for (std::size_t at = 0; at < pending_.size();) {
      auto n = load<std::uint32_t>(pending_.data() + at);
      log.put(seq_key(next_seq_++), std::string_view(pending_).substr(at + 4, n));
      at += 4 + n;
    }
    rows_since_checkpoint_ += pending_rows_;
    pending_.clear();
    pending_rows_ = 0;
    if (checkpoint_rows_ && rows_since_checkpoint_ >= checkpoint_rows_) {
      auto& img = ctx.state().get_table(image_table);
      img.put("db", db_->serialize());
      img.put("next_seq", state::as_bytes(next_seq_));
      for (auto s = first_log_seq_; s < next_seq_; ++s)
        log.erase(seq_key(s));
      first_log_seq_ = next_seq_;
      rows_since_checkpoint_ = 0;
    }
  }

  void on_start(service_context& ctx) override {
    pending_.clear();
    pending_rows_ = 0;
    auto& img = ctx.state().get_table(image_table);
    auto image = img.get("db");
    try {
      db_ = image ? std::make_unique<database>(opts_, *image) : std::make_unique<database>(opts_);
    } catch (const sql_error& e) {
      throw state::state_error(e.what());
    }
    auto stored_next = img.get("next_seq");
    next_seq_ = stored_next ? state::from_bytes<std::uint64_t>(*stored_next) : 0;
    first_log_seq_ = next_seq_;
    rows_since_checkpoint_ = 0;
    bool first = true;
    ctx.state().get_table(log_table).for_each([&](std::string_view k, std::string_view v) {
      auto s = seq_of(k);
      if (v.size() < row_header)
        throw state::state_error("sql: log entry " + std::to_string(s) + " has " + std::to_string(v.size()) +
                                 " bytes, fewer than a reading's 24");
      if (first)
        first_log_seq_ = s;
      first = false;
      next_seq_ = s + 1;
      ++rows_since_checkpoint_;
      if (!db_->insert(load<std::uint64_t>(v.data()), load<std::int64_t>(v.data() + 8), load<double>(v.data() + 16),
                       v.substr(row_header), error_))
        throw state::state_error("sql: replaying log entry " + std::to_string(s) + ": " + error_);
    });
    db_->commit();
  }

 private:
  db_options opts_;
  std::uint64_t checkpoint_rows_;
  bool log_ = true;
  std::unique_ptr<database> db_;
  std::string pending_;
  std::size_t pending_rows_ = 0;
  std::uint64_t next_seq_ = 0, first_log_seq_ = 0, rows_since_checkpoint_ = 0;
  std::string result_;
  bytes reply_;
  std::string error_;
};

// A reading of sensor rng() % 100 whose text fills `size` bytes (the insert path of IOT-TS).
bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  record r;
  r.key = rng() % 100;
  r.ts_ns = static_cast<std::int64_t>(rng() >> 1);
  r.value = double(rng() % 100000) / 1000.0;
  r.text.assign(size > record_header_size ? size - record_header_size : 0, 's');
  return encode(r);
}

}  // namespace

void register_sql(service_registry& r) {
  service_kind k;
  k.name = "sql";
  k.table1_name = "SQL";
  k.summary =
      "in-memory SQLite (pinned to hosts): records insert (key, ts, value, text) into `readings` and are forwarded; "
      "op 'Q' runs one read-only SELECT from text and replies the rows as TSV";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& cfg) -> std::unique_ptr<service> { return std::make_unique<sql_service>(cfg); };
  k.synthetic_request = synthetic;
  k.svc_main = sql_svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
