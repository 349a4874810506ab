// Tests of the sql service: NAB readings inserted through it and aggregate queries checked
// against values computed here, the result format, the read-only guard, durability across a
// restart (image + log replay), and the harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/sql/service.hpp"
#include "services/sql/sql.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3;
using namespace e3::services;

namespace {

const service_kind& kind() { return svc_test::registered_kind<register_sql>("sql"); }

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params = {}) {
  service_config cfg;
  cfg.params = std::move(params);
  return kind().make(cfg);
}

struct reading {
  std::int64_t ts;
  double value;
};

std::vector<reading> nab(const char* name) {
  std::ifstream in(std::string(E3_TEST_DATA_DIR "/timeseries/") + name);
  EXPECT_TRUE(in) << name << " missing from tests/data/timeseries";
  std::vector<reading> out;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    auto comma = line.find(',');
    reading r;
    EXPECT_TRUE(sql_parse_timestamp(line.substr(0, comma), r.ts)) << line;
    auto v = line.substr(comma + 1);
    std::from_chars(v.data(), v.data() + v.size(), r.value);
    out.push_back(r);
  }
  return out;
}

bytes reading_record(std::uint64_t key, const reading& r, std::string text = {}) {
  record rec;
  rec.key = key;
  rec.ts_ns = r.ts;
  rec.value = r.value;
  rec.text = std::move(text);
  return encode(rec);
}

bytes query_record(std::string sql) {
  record r;
  r.op = sql::op_query;
  r.text = std::move(sql);
  return encode(r);
}

// Runs a query through the service; returns the rows (header dropped) split into fields.
std::vector<std::vector<std::string>> ask(service& s, local_context& ctx, const std::string& q) {
  ctx.clear();
  s.handle(request{1, 0, query_record(q)}, ctx);
  EXPECT_TRUE(ctx.rejections.empty()) << q << ": " << (ctx.rejections.empty() ? "" : ctx.rejections[0]);
  std::vector<std::vector<std::string>> rows;
  if (ctx.replies.size() != 1)
    return rows;
  auto rep = decode_record(ctx.replies[0]);
  EXPECT_EQ(rep.op, sql::status_rows);
  std::istringstream in(rep.text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t at = 0;
    for (;;) {
      auto tab = line.find('\t', at);
      f.push_back(line.substr(at, tab - at));
      if (tab == std::string::npos)
        break;
      at = tab + 1;
    }
    rows.push_back(f);
  }
  EXPECT_EQ(double(rows.size()), rep.value);
  return rows;
}

double num(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  EXPECT_TRUE(ec == std::errc() && end == s.data() + s.size()) << s;
  return v;
}

std::string reject_reason(service& s, local_context& ctx, const bytes& req) {
  ctx.clear();
  s.handle(request{1, 0, req}, ctx);
  EXPECT_EQ(ctx.rejections.size(), 1u);
  EXPECT_TRUE(ctx.replies.empty() && ctx.emits.empty());
  return ctx.rejections.empty() ? "" : ctx.rejections[0];
}

}  // namespace

TEST(SqlService, KindIsRegisteredCompletely) {
  const auto& k = kind();
  EXPECT_EQ(k.table1_name, "SQL");
  EXPECT_TRUE(k.stateful);
  EXPECT_EQ(k.input, input_format::record);
  EXPECT_TRUE(k.make && k.synthetic_request && k.svc_main);
}

// Three NAB series inserted as readings of sensors 1, 2, 3; every aggregate is recomputed here.
TEST(SqlService, AggregatesOverNabReadingsMatchIndependentComputation) {
  auto s = make();
  local_context ctx;
  s->on_start(ctx);
  std::map<std::uint64_t, std::vector<reading>> series = {
      {1, nab("ambient_temperature_system_failure.csv")},
      {2, nab("ec2_request_latency_system_failure.csv")},
      {3, nab("machine_temperature_system_failure.csv")}};
  std::size_t n = 0;
  for (const auto& [key, rows] : series)
    for (const auto& r : rows) {
      ctx.clear();
      auto req = reading_record(key, r);
      s->handle(request{n++, key, req}, ctx);
      ASSERT_TRUE(ctx.rejections.empty());
      ASSERT_EQ(ctx.emits.size(), 1u);  // forwarded unchanged
      ASSERT_EQ(ctx.emits[0].payload, req);
      ASSERT_EQ(ctx.emits[0].key, key);
    }
  s->flush(ctx);

  auto per_key = ask(*s, ctx, "SELECT key, count(*), sum(value), avg(value), min(value), max(value), min(ts), max(ts) "
                              "FROM readings GROUP BY key ORDER BY key");
  ASSERT_EQ(per_key.size(), 3u);
  for (const auto& row : per_key) {
    const auto& rows = series.at(std::uint64_t(num(row[0])));
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    std::int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    for (const auto& r : rows) {
      sum += r.value;
      mn = std::min(mn, r.value);
      mx = std::max(mx, r.value);
      t0 = std::min(t0, r.ts);
      t1 = std::max(t1, r.ts);
    }
    EXPECT_EQ(num(row[1]), double(rows.size()));
    EXPECT_NEAR(num(row[2]), sum, std::abs(sum) * 1e-12);
    EXPECT_NEAR(num(row[3]), sum / double(rows.size()), std::abs(sum / double(rows.size())) * 1e-12);
    EXPECT_EQ(num(row[4]), mn);
    EXPECT_EQ(num(row[5]), mx);
    EXPECT_EQ(row[6], std::to_string(t0));
    EXPECT_EQ(row[7], std::to_string(t1));
  }

  // Daily averages and counts of the machine temperature (days as the date text would give).
  auto daily = ask(*s, ctx,
                   "SELECT ts / 86400000000000 AS day, count(*), avg(value), max(value) FROM readings "
                   "WHERE key = 3 GROUP BY day ORDER BY day");
  std::map<std::int64_t, std::vector<double>> by_day;
  for (const auto& r : series[3])
    by_day[r.ts / 86400000000000LL].push_back(r.value);
  ASSERT_EQ(daily.size(), by_day.size());
  std::size_t i = 0;
  for (const auto& [day, values] : by_day) {
    double sum = 0;
    for (double v : values)
      sum += v;
    EXPECT_EQ(daily[i][0], std::to_string(day));
    EXPECT_EQ(num(daily[i][1]), double(values.size()));
    EXPECT_NEAR(num(daily[i][2]), sum / double(values.size()), 1e-9);
    EXPECT_EQ(num(daily[i][3]), *std::max_element(values.begin(), values.end()));
    ++i;
  }

  // The five hottest readings (ties by time) and a range count.
  auto top = ask(*s, ctx, "SELECT ts, value FROM readings WHERE key = 3 ORDER BY value DESC, ts LIMIT 5");
  auto sorted = series[3];
  std::sort(sorted.begin(), sorted.end(),
            [](auto& a, auto& b) { return a.value > b.value || (a.value == b.value && a.ts < b.ts); });
  ASSERT_EQ(top.size(), 5u);
  for (std::size_t j = 0; j < 5; ++j) {
    EXPECT_EQ(top[j][0], std::to_string(sorted[j].ts));
    EXPECT_EQ(num(top[j][1]), sorted[j].value);
  }
  auto above = ask(*s, ctx, "SELECT count(*) FROM readings WHERE key = 1 AND value > 80");
  EXPECT_EQ(num(above[0][0]),
            double(std::count_if(series[1].begin(), series[1].end(), [](auto& r) { return r.value > 80; })));
}

TEST(SqlService, ResultFormatEscapesTextAndMarksNull) {
  auto s = make();
  local_context ctx;
  ctx.clear();
  s->handle(request{1, 0, query_record("SELECT NULL AS n, 'a\tb\\c' || char(10) AS t, x'00ff' AS b, 0.1 AS r, "
                                       "-42 AS i, 1e308 * 10 AS inf")},
            ctx);
  ASSERT_EQ(ctx.replies.size(), 1u);
  EXPECT_EQ(decode_record(ctx.replies[0]).text, "n\tt\tb\tr\ti\tinf\n\\N\ta\\tb\\\\c\\n\t\\x00ff\t0.1\t-42\tinf\n");
}

TEST(SqlService, QueriesThatCouldWriteOrRunAwayAreRefusedWithAReason) {
  auto s = make({{"max_steps", "200000"}, {"max_reply_bytes", "4096"}});
  local_context ctx;
  for (int i = 0; i < 300; ++i)
    s->handle(request{1, 0, reading_record(1, {i, double(i)}, "t" + std::to_string(i))}, ctx);
  auto reason = [&](const std::string& q) { return reject_reason(*s, ctx, query_record(q)); };
  EXPECT_NE(reason("DELETE FROM readings").find("only a single SELECT"), std::string::npos);
  EXPECT_NE(reason("  -- c\n drop table readings").find("only a single SELECT"), std::string::npos);
  EXPECT_NE(reason("SELECT 1; DELETE FROM readings").find("more than one statement"), std::string::npos);
  EXPECT_NE(reason("WITH x AS (SELECT 1) DELETE FROM readings").find("not authorized"), std::string::npos);
  EXPECT_NE(reason("WITH x AS (SELECT 1) INSERT INTO readings SELECT 1,2,3,4").find("not authorized"),
            std::string::npos);
  EXPECT_NE(reason("ATTACH ':memory:' AS other").find("only a single SELECT"), std::string::npos);
  EXPECT_NE(reason("SELECT load_extension('/tmp/x.so')").find("not authorized"), std::string::npos);
  EXPECT_NE(reason("SELECT * FROM no_such_table").find("no such table"), std::string::npos);
  EXPECT_NE(reason("SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                   "SELECT x FROM c)")
                .find("virtual machine steps"),
            std::string::npos);
  EXPECT_NE(reason("SELECT * FROM readings").find("larger than 4096 bytes"), std::string::npos);
  EXPECT_NE(reason("SELECT length(randomblob(100000000))").find("too big"), std::string::npos);
  // Trailing semicolons and comments are fine; nothing above changed the table.
  auto rows = ask(*s, ctx, "/* hi */ SELECT count(*) FROM readings ; -- done");
  EXPECT_EQ(rows.at(0).at(0), "300");
}

TEST(SqlService, RejectsMalformedRecordsAndSurvivesGarbage) {
  auto s = make();
  local_context ctx;
  auto good = reading_record(5, {1, 2.5});
  for (std::size_t n = 0; n < good.size(); ++n)
    reject_reason(*s, ctx, bytes(good.begin(), good.begin() + std::ptrdiff_t(n)));
  std::mt19937_64 rng(8);
  for (int i = 0; i < 3000; ++i) {
    record r;
    r.op = rng() % 2 ? sql::op_query : 0;
    r.text.resize(rng() % 40);
    for (auto& c : r.text)
      c = "SELECT *FROM();,'\"x1 readings\n\0"[rng() % 30];
    if (rng() % 4 == 0)
      r.text = "SELECT " + r.text;
    ctx.clear();
    s->handle(request{1, 0, encode(r)}, ctx);
    EXPECT_EQ(ctx.rejections.size() + ctx.replies.size() + ctx.emits.size(), 1u);
  }
}

TEST(SqlService, InitSqlCustomisesTheSchemaAndBadInitNamesTheLine) {
  auto s = make({{"init_sql",
                  "DROP TABLE readings;\nCREATE TABLE readings(key INTEGER, ts INTEGER UNIQUE, value REAL CHECK "
                  "(value >= 0), text TEXT, unit TEXT DEFAULT 'C');\nCREATE VIEW hot AS SELECT * FROM readings "
                  "WHERE value > 50;"}});
  local_context ctx;
  s->handle(request{1, 0, reading_record(1, {10, 60})}, ctx);
  EXPECT_NE(reject_reason(*s, ctx, reading_record(1, {10, 70})).find("UNIQUE constraint failed"), std::string::npos);
  EXPECT_NE(reject_reason(*s, ctx, reading_record(1, {11, -1})).find("CHECK constraint failed"), std::string::npos);
  auto rows = ask(*s, ctx, "SELECT ts, unit FROM hot");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"10", "C"}));
  try {
    make({{"init_sql", "CREATE INDEX i ON readings(ts);\n\nCREATE TABL x(a);"}});
    FAIL() << "bad init accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "init_sql:3: near \"TABL\": syntax error");
  }
  EXPECT_THROW(make({{"init_sql", "DROP TABLE readings;"}}), std::invalid_argument);
  EXPECT_THROW(make({{"durability", "fsync"}}), std::invalid_argument);
  EXPECT_THROW(make({{"init_file", "/nonexistent.sql"}}), std::invalid_argument);
}

// Readings survive a restart: checkpoints (sqlite3_serialize images) plus the log since the
// last one, replayed in order by on_start; what was not flushed is not acknowledged and is gone.
TEST(SqlService, RestartRecoversFlushedReadingsFromImageAndLog) {
  auto rows = nab("ec2_request_latency_system_failure.csv");
  std::map<std::string, std::string, std::less<>> p = {{"checkpoint_rows", "1000"},
                                                       {"init_sql", "CREATE INDEX by_ts ON readings(ts);"}};
  auto a = make(p);
  local_context actx;
  a->on_start(actx);
  std::size_t flushed = 2500;
  for (std::size_t i = 0; i < flushed; ++i) {
    a->handle(request{i, 0, reading_record(i % 3, rows[i], i % 10 ? "" : "tag\t" + std::to_string(i))}, actx);
    if (i % 300 == 299)
      a->flush(actx);
  }
  a->flush(actx);
  EXPECT_TRUE(actx.state().get_table("sql.image").get("db").has_value());
  EXPECT_EQ(actx.state().get_table("sql.log").size(), 100u);  // checkpoints at 1200 and 2400 rows
  for (std::size_t i = flushed; i < flushed + 50; ++i)  // never flushed
    a->handle(request{i, 0, reading_record(9, rows[i])}, actx);

  auto snapshot = actx.state().export_snapshot();
  local_context bctx;
  bctx.state().import_snapshot(snapshot);
  auto b = make(p);
  b->on_start(bctx);
  const std::string q = "SELECT key, count(*), sum(value), group_concat(text, '|') FROM readings GROUP BY key ORDER BY key";
  a->flush(actx);  // now a has the 50 extra rows committed; compare without them
  auto want = ask(*a, actx, q + "");
  auto got = ask(*b, bctx, q);
  ASSERT_EQ(got.size(), 3u);  // key 9 (unflushed) is gone
  ASSERT_EQ(want.size(), 4u);
  want.pop_back();
  EXPECT_EQ(got, want);
  EXPECT_EQ(ask(*b, bctx, "SELECT count(*) FROM readings").at(0).at(0), std::to_string(flushed));
  // The index made by the init SQL came back with the image.
  EXPECT_EQ(ask(*b, bctx, "SELECT name FROM sqlite_master WHERE type = 'index'").at(0).at(0), "by_ts");
  // The restored instance keeps logging after the replayed entries, and restarts again.
  for (std::size_t i = 0; i < 700; ++i)
    b->handle(request{i, 0, reading_record(4, rows[i])}, bctx);
  b->flush(bctx);
  local_context cctx;
  cctx.state().import_snapshot(bctx.state().export_snapshot());
  auto c = make(p);
  c->on_start(cctx);
  EXPECT_EQ(ask(*c, cctx, "SELECT count(*) FROM readings").at(0).at(0), std::to_string(flushed + 700));
  EXPECT_EQ(ask(*c, cctx, q), ask(*b, bctx, q));
}

TEST(SqlService, CorruptStoredStateIsAClearErrorNotACrash) {
  local_context ctx;
  ctx.state().get_table("sql.image").put("db", "this is not an SQLite database image at all, not even close");
  auto s = make();
  EXPECT_THROW(s->on_start(ctx), state::state_error);
  local_context ctx2;
  ctx2.state().get_table("sql.log").put("short", "x");
  EXPECT_THROW(s->on_start(ctx2), state::state_error);
}

TEST(SqlService, DurabilityNoneWritesNoState) {
  auto s = make({{"durability", "none"}});
  local_context ctx;
  s->on_start(ctx);
  s->handle(request{1, 0, reading_record(1, {1, 1})}, ctx);
  s->flush(ctx);
  EXPECT_EQ(ctx.state().entry_count(), 0u);
}

TEST(SqlService, SyntheticRequestsAreInsertsOfTheRequestedSize) {
  auto s = make();
  local_context ctx;
  std::mt19937_64 rng(3);
  for (std::size_t size : {64u, 256u, 512u, 1024u, 1500u}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    ctx.clear();
    s->handle(request{1, 0, req}, ctx);
    EXPECT_EQ(ctx.emits.size(), 1u);
  }
  EXPECT_EQ(ask(*s, ctx, "SELECT count(*) FROM readings").at(0).at(0), "5");
}

TEST(SqlTimestamps, ParsesNanosecondsAndNabDates) {
  std::int64_t ns = 0;
  ASSERT_TRUE(sql_parse_timestamp("2013-07-04 00:00:00", ns));
  EXPECT_EQ(ns, 1372896000000000000LL);
  ASSERT_TRUE(sql_parse_timestamp("1970-01-01T00:00:01", ns));
  EXPECT_EQ(ns, 1000000000LL);
  ASSERT_TRUE(sql_parse_timestamp("-5", ns));
  EXPECT_EQ(ns, -5);
  EXPECT_FALSE(sql_parse_timestamp("2013-07-04", ns));
  EXPECT_FALSE(sql_parse_timestamp("2013-13-04 00:00:00", ns));
  EXPECT_FALSE(sql_parse_timestamp("2013-07-04 00:00:00x", ns));
}

namespace {

svc_test::svc_run run_harness(std::vector<std::string> args) {
  return svc_test::run_svc_main(sql_svc_main, "sql", std::move(args));
}

}  // namespace

TEST(SqlHarness, LoadsNabAndPrintsQueryResults) {
  auto r = run_harness({"--records", E3_TEST_DATA_DIR "/timeseries/ambient_temperature_system_failure.csv", "--key",
                        "7", "--query", "SELECT count(*) AS n, min(ts) FROM readings", "--query",
                        "SELECT DISTINCT key FROM readings"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "n\tmin(ts)\n7267\t1372896000000000000\n\nkey\n7\n");
}

TEST(SqlHarness, BadInputsNameFileAndLineAndExitTwo) {
  auto csv = svc_test::write_temp("sql_bad.csv", "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:00:00,x\n");
  auto r = run_harness({"--records", csv, "--query", "SELECT 1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, csv + ":3: column 'value': 'x' is not a number\n");
  EXPECT_EQ(r.out, "");
  auto init = svc_test::write_temp("sql_bad.sql", "CREATE INDEX i ON readings(ts);\n\nCREATE TABL x(a);\n");
  r = run_harness({"--db-init", init, "--query", "SELECT 1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, init + ":3: near \"TABL\": syntax error\n");
  r = run_harness({"--query", "DROP TABLE readings"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--query 1: sql: only a single SELECT"), std::string::npos);
  r = run_harness({"--records", "/nonexistent.csv"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent.csv: cannot open"), std::string::npos);
}
