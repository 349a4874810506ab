// e3 bench sql: NAB readings inserted and aggregate queries run through the sql service, against
// the raw sqlite3 API doing the same inserts and queries on its own :memory: database, in one run.
#include <sqlite3.h>

#include <time.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/local_context.hpp"
#include "bench/common/report.hpp"
#include "services/common/record.hpp"
#include "services/sql/service.hpp"
#include "services/sql/sql.hpp"

using namespace e3;
using namespace e3::services;

namespace {

// Thread CPU time in nanoseconds. This 2-core machine is shared: CPU time leaves out the time
// the thread spends descheduled, which wall time would charge to whichever run it hit.
double cpu_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}


struct null_context final : service_context {
  explicit null_context(state::collections& s) : s_(s) {}
  void reply(bytes_view p) override { n += p.size(); }
  void emit(std::uint64_t, bytes_view p) override { n += p.size(); }
  void reject(std::string_view r) override {
    ++rejected;
    last = r;
  }
  state::collections& state() override { return s_; }
  std::int64_t now_ns() const override { return 0; }
  state::collections& s_;
  std::size_t n = 0, rejected = 0;
  std::string last;
};

struct raw_db {
  sqlite3* db = nullptr;
  sqlite3_stmt* ins = nullptr;
  raw_db() {
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE TABLE readings(key INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, text TEXT)",
                 nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO readings(key, ts, value, text) VALUES(?1, ?2, ?3, ?4)", -1, &ins, nullptr);
  }
  ~raw_db() {
    sqlite3_finalize(ins);
    sqlite3_close(db);
  }
};

double seconds_since(double t0_ns) { return (cpu_now_ns() - t0_ns) / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark of the sql service against the raw sqlite3 API", "e3 bench sql"};
  std::string csv = E3_TEST_DATA_DIR "/timeseries/machine_temperature_system_failure.csv";
  int copies = 10, reps = 3, batch = 1000;
  bool json = false;
  app.add_option("--csv", csv, "NAB series (timestamp,value) to insert");
  app.add_option("--copies", copies, "times the series is inserted (as sensors 1..copies)");
  app.add_option("--batch", batch, "readings per transaction / flush");
  app.add_option("--reps", reps, "runs per figure (the best is kept)");
  app.add_flag("--json", json, "print JSON");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(csv);
  if (!in) {
    std::cerr << "e3 bench sql: cannot open " << csv << "\n";
    return 2;
  }
  std::vector<record> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    auto comma = line.find(',');
    record r;
    if (!sql_parse_timestamp(line.substr(0, comma), r.ts_ns)) {
      std::cerr << csv << ": bad timestamp in '" << line << "'\n";
      return 2;
    }
    r.value = std::stod(line.substr(comma + 1));
    rows.push_back(r);
  }
  std::vector<bytes> reqs;
  std::vector<record> all;
  for (int c = 1; c <= copies; ++c)
    for (auto r : rows) {
      r.key = std::uint64_t(c);
      reqs.push_back(encode(r));
      all.push_back(r);
    }
  std::size_t n = reqs.size();

  e3::bench::report ins("sql: inserting " + std::to_string(n) + " NAB readings (" + std::to_string(copies) +
                            " sensors), a transaction per " + std::to_string(batch),
                        {"implementation", "ns_per_insert", "inserts_per_s", "vs_raw_sqlite3"});
  double best_raw = 1e300, best_svc = 1e300, best_none = 1e300;
  std::unique_ptr<service> svc;
  local_context keep_ctx;
  for (int r = 0; r < reps; ++r) {
    std::cerr << "sql bench: inserts, run " << r + 1 << "\n";
    {
      raw_db raw;
      double t0 = cpu_now_ns();
      for (std::size_t i = 0; i < n; ++i) {
        if (i % std::size_t(batch) == 0)
          sqlite3_exec(raw.db, "BEGIN", nullptr, nullptr, nullptr);
        sqlite3_bind_int64(raw.ins, 1, sqlite3_int64(all[i].key));
        sqlite3_bind_int64(raw.ins, 2, all[i].ts_ns);
        sqlite3_bind_double(raw.ins, 3, all[i].value);
        sqlite3_bind_null(raw.ins, 4);
        sqlite3_step(raw.ins);
        sqlite3_reset(raw.ins);
        if (i % std::size_t(batch) == std::size_t(batch) - 1 || i + 1 == n)
          sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
      }
      best_raw = std::min(best_raw, seconds_since(t0));
    }
    service_registry reg;
    register_sql(reg);
    for (const char* durability : {"none", "log"}) {
      service_config cfg;
      cfg.params = {{"durability", durability}};
      auto s = reg.at("sql").make(cfg);
      auto ctx = std::make_unique<local_context>();
      null_context nctx(ctx->state());
      s->on_start(*ctx);
      double t0 = cpu_now_ns();
      for (std::size_t i = 0; i < n; ++i) {
        s->handle(request{i, 0, reqs[i]}, nctx);
        if (i % std::size_t(batch) == std::size_t(batch) - 1 || i + 1 == n)
          s->flush(nctx);
      }
      double t = seconds_since(t0);
      if (nctx.rejected) {
        std::cerr << "sql bench: " << nctx.rejected << " rejected: " << nctx.last << "\n";
        return 1;
      }
      if (std::string(durability) == "none") {
        best_none = std::min(best_none, t);
        svc = std::move(s);  // kept for the queries
      } else {
        best_svc = std::min(best_svc, t);
      }
    }
  }
  auto ins_row = [&](const char* name, double secs) {
    double ns = secs * 1e9 / double(n);
    ins.row({name, ns, double(n) / secs, best_raw / secs});
  };
  ins_row("raw sqlite3 (prepared insert)", best_raw);
  ins_row("sql service, durability=none", best_none);
  ins_row("sql service, durability=log (default)", best_svc);
  ins.note("times are thread CPU time, best of --reps runs");
  ins.note("durability=log also appends every reading to the reliable log (in-memory collections here) and "
           "checkpoints the database image every 100000 readings");

  // Queries on identical contents.
  raw_db raw;
  sqlite3_exec(raw.db, "BEGIN", nullptr, nullptr, nullptr);
  for (std::size_t i = 0; i < n; ++i) {
    sqlite3_bind_int64(raw.ins, 1, sqlite3_int64(all[i].key));
    sqlite3_bind_int64(raw.ins, 2, all[i].ts_ns);
    sqlite3_bind_double(raw.ins, 3, all[i].value);
    sqlite3_bind_null(raw.ins, 4);
    sqlite3_step(raw.ins);
    sqlite3_reset(raw.ins);
  }
  sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  std::vector<std::pair<std::string, std::string>> queries = {
      {"count", "SELECT count(*) FROM readings"},
      {"avg/min/max per sensor", "SELECT key, avg(value), min(value), max(value) FROM readings GROUP BY key"},
      {"daily avg of sensor 1",
       "SELECT ts / 86400000000000 AS day, avg(value) FROM readings WHERE key = 1 GROUP BY day"},
      {"top 10 readings", "SELECT key, ts, value FROM readings ORDER BY value DESC LIMIT 10"},
      {"range count", "SELECT count(*) FROM readings WHERE value > 90 AND ts > 1391212800000000000"},
  };
  e3::bench::report q("sql: queries over the " + std::to_string(n) + " readings",
                      {"query", "rows", "raw_sqlite3_us", "service_us", "service_vs_raw"});
  local_context qctx;
  null_context nq(qctx.state());
  for (const auto& [name, text] : queries) {
    std::cerr << "sql bench: query " << name << "\n";
    std::size_t rows_out = 0;
    double raw_best = 1e300, svc_best = 1e300;
    record qr;
    qr.op = sql::op_query;
    qr.text = text;
    auto qbytes = encode(qr);
    for (int r = 0; r < reps; ++r) {
      double t0 = cpu_now_ns();
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(raw.db, text.c_str(), -1, &st, nullptr);
      std::size_t got = 0;
      double sink = 0;
      while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); ++c)
          sink += sqlite3_column_double(st, c);
        ++got;
      }
      sqlite3_finalize(st);
      e3::bench::keep(sink);
      raw_best = std::min(raw_best, seconds_since(t0));
      rows_out = got;
      t0 = cpu_now_ns();
      svc->handle(request{1, 0, qbytes}, nq);
      svc_best = std::min(svc_best, seconds_since(t0));
    }
    if (nq.rejected) {
      std::cerr << "sql bench: query rejected: " << nq.last << "\n";
      return 1;
    }
    q.row({name, rows_out, raw_best * 1e6, svc_best * 1e6, raw_best / svc_best});
  }
  q.note("raw: prepare, step, read every column as a number, finalize; service: parse the query record, "
         "check it is one read-only SELECT, run it under the authorizer, format TSV, build the reply record");

  if (json) {
    nlohmann::json j;
    std::ostringstream a, b;
    ins.print(true, a);
    q.print(true, b);
    j["inserts"] = nlohmann::json::parse(a.str());
    j["queries"] = nlohmann::json::parse(b.str());
    std::cout << j.dump(2) << "\n";
  } else {
    ins.print(false);
    std::cout << "\n";
    q.print(false);
  }
  return 0;
}
