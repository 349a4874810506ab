// `e3 svc top_ranker --csv FILE --key-col C --value-col C --k K [--window N]`: top-K per window
// of a CSV stream, one block per window.
#include <charconv>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "services/common/cli.hpp"
#include "services/common/csv.hpp"
#include "services/top_ranker/service.hpp"
#include "services/top_ranker/top_ranker.hpp"

namespace e3::services {
namespace {

std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  return {buf, end};
}

void print(const top_ranker::window_result& w) {
  std::cout << "window " << w.seq << " records=" << w.records << " items=" << w.items << "\n";
  for (std::size_t i = 0; i < w.top.size(); ++i)
    std::cout << i + 1 << "\t" << w.top[i].key << "\t" << number(w.top[i].score) << "\n";
}

}  // namespace

int top_ranker_svc_main(int argc, char** argv) {
  CLI::App app{"Ranks the items of a CSV stream per tumbling window and prints, for each window,\n"
               "`window <n> records=<r> items=<i>` and then `rank<TAB>item<TAB>score` lines, best first\n"
               "(ties by smaller item). Columns are header names or 1-based numbers; the key column\n"
               "holds unsigned integers.",
               "e3 svc top_ranker"};
  std::string path, key_col, value_col, agg_name = "sum", algo = "pqs";
  std::size_t k = 10;
  std::uint64_t window = 0;
  app.add_option("--csv", path, "CSV file with a header line")->required();
  app.add_option("--key-col", key_col, "item column (unsigned integers)")->required();
  app.add_option("--value-col", value_col, "score column (numbers); not needed with --aggregate count");
  app.add_option("--k", k, "items per window")->check(CLI::Range(std::size_t(1), std::size_t(100000)));
  app.add_option("--window", window, "records per window (0 = the whole file, the default)");
  app.add_option("--aggregate", agg_name, "per-item score in a window: sum, max, last or count")
      ->check(CLI::IsMember({"sum", "max", "last", "count"}));
  app.add_option("--algorithm", algo, "pqs (partial quicksort) or select (quickselect + sort)")
      ->check(CLI::IsMember({"pqs", "select"}));
  if (auto code = parse_svc_args(app, argc, argv, "top_ranker"))
    return *code;
  top_ranker::options opt;
  opt.k = k;
  opt.window_records = window;
  top_ranker::parse_aggregate(agg_name, opt.agg);
  opt.algo = algo == "pqs" ? top_ranker::algorithm::partial_quicksort : top_ranker::algorithm::quickselect_then_sort;
  if (value_col.empty() && opt.agg != top_ranker::aggregate::count) {
    std::cerr << "e3 svc top_ranker: --value-col is required unless --aggregate count\n";
    return 2;
  }

  csv::file_reader in;
  std::string err;
  if (!in.open(path, err)) {
    std::cerr << err << "\n";
    return 2;
  }
  const auto& header = in.header();
  int kc = csv::column_index(header, key_col);
  int vc = value_col.empty() ? -1 : csv::column_index(header, value_col);
  if (kc < 0 || (!value_col.empty() && vc < 0)) {
    std::cerr << path << ":1: no column '" << (kc < 0 ? key_col : value_col) << "' in the header\n";
    return 2;
  }

  struct row {
    std::uint64_t key;
    double value;
    std::size_t line;
  };
  std::vector<row> rows;
  std::vector<std::string> fields;
  while (in.next(fields, err)) {
    auto fail = [&](const std::string& what) {
      std::cerr << in.where() << what << "\n";
      return 2;
    };
    row r{0, 1.0, in.line_no()};
    if (!csv::read_unsigned(header, fields, kc, r.key, err))
      return fail(err);
    if (vc >= 0) {
      if (!csv::read_number(header, fields, vc, r.value, err))
        return fail(err);
      if (std::isnan(r.value))
        return fail("column '" + header[std::size_t(vc)] + "': NaN is not a score");
    }
    rows.push_back(r);
  }
  if (!err.empty()) {
    std::cerr << err << "\n";
    return 2;
  }

  top_ranker::ranker rk(opt);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rk.add(rows[i].key, rows[i].value, 0)) {
      std::cerr << path << ":" << rows[i].line << ": item " << rows[i].key << ": +inf and -inf scores sum to NaN\n";
      return 2;
    }
    for (const auto& w : rk.closed())
      print(w);
    rk.clear_closed();
  }
  rk.close();
  for (const auto& w : rk.closed())
    print(w);
  return 0;
}

}  // namespace e3::services
