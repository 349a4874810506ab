// `e3 svc sql`: loads readings from a CSV through the sql service, then runs queries through it
// and prints each result as the service replies it (TSV with a header line).
#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/local_context.hpp"
#include "services/common/cli.hpp"
#include "services/common/csv.hpp"
#include "services/common/record.hpp"
#include "services/sql/service.hpp"
#include "services/sql/sql.hpp"

namespace e3::services {
namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

}  // namespace

/// Parses a timestamp: integer nanoseconds, or "YYYY-MM-DD HH:MM:SS" (or with a T) read as UTC.
bool sql_parse_timestamp(const std::string& s, std::int64_t& ns) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ns);
  if (ec == std::errc() && end == s.data() + s.size() && !s.empty())
    return true;
  int y, mo, d, h, mi, sec;
  char sep;
  int used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &sec, &used) != 7 ||
      std::size_t(used) != s.size() || (sep != ' ' && sep != 'T') || mo < 1 || mo > 12 || d < 1 || d > 31 ||
      h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
    return false;
  ns = ((days_from_civil(y, unsigned(mo), unsigned(d)) * 24 + h) * 3600 + mi * 60 + sec) * 1000000000LL;
  return true;
}

int sql_svc_main(int argc, char** argv) {
  CLI::App app{"Runs the sql service: optional init SQL, readings from a CSV inserted through it, then\n"
               "each --query (a single SELECT) through it; prints each result as TSV (header line, then\n"
               "rows; NULL as \\N), results separated by an empty line.",
               "e3 svc sql"};
  std::string init, records, key_col, ts_col = "timestamp", value_col = "value", text_col;
  std::uint64_t key = 0;
  std::vector<std::string> queries;
  app.add_option("--db-init", init, "SQL file run once after the default schema");
  app.add_option("--records", records, "CSV of readings (header line) inserted into `readings`");
  app.add_option("--key", key, "sensor key of every reading (without --key-col)");
  app.add_option("--key-col", key_col, "column with each reading's key (unsigned integers)");
  app.add_option("--ts-col", ts_col, "timestamp column: nanoseconds or YYYY-MM-DD HH:MM:SS (UTC)");
  app.add_option("--value-col", value_col, "value column (numbers)");
  app.add_option("--text-col", text_col, "text column (optional)");
  app.add_option("--query", queries, "a SELECT to run after loading (repeatable)");
  if (auto code = parse_svc_args(app, argc, argv, "sql"))
    return *code;

  std::vector<record> rows;
  if (!records.empty()) {
    csv::file_reader in;
    std::string err;
    if (!in.open(records, err)) {
      std::cerr << err << "\n";
      return 2;
    }
    const auto& header = in.header();
    int kc = key_col.empty() ? -1 : csv::column_index(header, key_col);
    int tc = csv::column_index(header, ts_col);
    int vc = csv::column_index(header, value_col);
    int xc = text_col.empty() ? -1 : csv::column_index(header, text_col);
    for (auto [c, name] : {std::pair{kc, key_col}, {tc, ts_col}, {vc, value_col}, {xc, text_col}})
      if (c < 0 && !name.empty()) {
        std::cerr << records << ":1: no column '" << name << "' in the header\n";
        return 2;
      }
    std::vector<std::string> f;
    while (in.next(f, err)) {
      auto fail = [&](const std::string& what) {
        std::cerr << in.where() << what << "\n";
        return 2;
      };
      record r;
      r.key = key;
      if (kc >= 0 && !csv::read_unsigned(header, f, kc, r.key, err))
        return fail(err);
      if (!sql_parse_timestamp(f[std::size_t(tc)], r.ts_ns))
        return fail("column '" + header[std::size_t(tc)] + "': '" + f[std::size_t(tc)] +
                    "' is neither nanoseconds nor YYYY-MM-DD HH:MM:SS");
      if (!csv::read_number(header, f, vc, r.value, err))
        return fail(err);
      if (xc >= 0)
        r.text = f[std::size_t(xc)];
      if (r.text.size() > record_max_field)
        return fail("text longer than " + std::to_string(record_max_field) + " bytes");
      rows.push_back(std::move(r));
    }
    if (!err.empty()) {
      std::cerr << err << "\n";
      return 2;
    }
  }

  service_registry reg;
  register_sql(reg);
  service_config cfg;
  if (!init.empty())
    cfg.params["init_file"] = init;
  std::unique_ptr<service> svc;
  try {
    svc = reg.at("sql").make(cfg);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  local_context ctx;
  svc->on_start(ctx);
  bytes buf;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    buf.clear();
    encode(rows[i], buf);
    ctx.clear();
    svc->handle(request{i, rows[i].key, buf}, ctx);
    if (!ctx.rejections.empty()) {
      std::cerr << records << ": reading " << i + 1 << ": " << ctx.rejections[0] << "\n";
      return 2;
    }
  }
  svc->flush(ctx);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    record r;
    r.op = sql::op_query;
    r.text = queries[q];
    ctx.clear();
    svc->handle(request{q, 0, encode(r)}, ctx);
    if (!ctx.rejections.empty()) {
      std::cerr << "e3 svc sql: --query " << q + 1 << ": " << ctx.rejections[0] << "\n";
      return 2;
    }
    auto rep = decode_record(ctx.replies.at(0));
    std::cout << (q ? "\n" : "") << rep.text;
  }
  return 0;
}

}  // namespace e3::services
