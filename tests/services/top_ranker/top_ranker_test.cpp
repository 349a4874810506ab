// Tests of the top ranker: partial quicksort and quickselect against a full sort, windowed top-K
// on MovieLens ratings and a NAB series against brute force, the service format, its state
// across a migration, and the harness.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/top_ranker/service.hpp"
#include "services/top_ranker/top_ranker.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3;
using namespace e3::services;
using namespace e3::services::top_ranker;

namespace {

std::vector<entry> brute_top(std::vector<entry> v, std::size_t k) {
  std::sort(v.begin(), v.end(), ranks_before);
  v.resize(std::min(k, v.size()));
  return v;
}

struct rating {
  std::uint64_t user, movie;
  double stars;
  std::int64_t ts;
};

const std::vector<rating>& ratings() {
  static std::vector<rating> rows = [] {
    std::ifstream in(E3_TEST_DATA_DIR "/recommend/ratings.csv");
    EXPECT_TRUE(in) << "MovieLens ratings missing from tests/data/recommend";
    std::vector<rating> out;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      rating r;
      char c;
      std::istringstream s(line);
      s >> r.user >> c >> r.movie >> c >> r.stars >> c >> r.ts;
      out.push_back(r);
    }
    return out;
  }();
  return rows;
}

// Brute force: per window of `n` records, aggregate per movie in a std::map, full sort, top k.
std::vector<std::vector<entry>> brute_windows(std::size_t n, std::size_t k, aggregate agg) {
  std::vector<std::vector<entry>> out;
  std::map<std::uint64_t, double> acc;
  std::size_t count = 0;
  auto flush = [&] {
    std::vector<entry> v;
    for (auto [m, s] : acc)
      v.push_back({m, s});
    out.push_back(brute_top(v, k));
    acc.clear();
    count = 0;
  };
  for (const auto& r : ratings()) {
    auto it = acc.find(r.movie);
    double s = agg == aggregate::count ? 1.0 : r.stars;
    if (it == acc.end())
      acc[r.movie] = s;
    else if (agg == aggregate::sum || agg == aggregate::count)
      it->second += s;
    else if (agg == aggregate::max)
      it->second = std::max(it->second, s);
    else
      it->second = s;
    if (++count == n)
      flush();
  }
  if (count)
    flush();
  return out;
}

}  // namespace

TEST(TopRankerTopK, PartialQuicksortAndQuickselectMatchAFullSort) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    std::size_t n = trial < 40 ? trial : rng() % 3000;
    std::vector<entry> v(n);
    int shape = trial % 5;
    for (std::size_t i = 0; i < n; ++i) {
      double s = shape == 0 ? double(rng() % 5)                  // heavy ties, broken by key
                 : shape == 1 ? double(i)                          // ascending
                 : shape == 2 ? -double(i)                         // descending
                 : shape == 3 ? 7.0                                // all equal
                              : std::ldexp(double(rng() % 1000000), int(rng() % 40) - 20);
      v[i] = {rng() % 2 ? i * 7919 + 3 : (n - i) * 104729, s};
    }
    // keys must be distinct within a window
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.key < b.key; });
    v.erase(std::unique(v.begin(), v.end(), [](auto& a, auto& b) { return a.key == b.key; }), v.end());
    std::shuffle(v.begin(), v.end(), rng);
    for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(10), v.size() / 2, v.size(), v.size() + 5}) {
      auto want = brute_top(v, k);
      auto a = v;
      partial_quicksort(a, k);
      ASSERT_EQ(std::vector<entry>(a.begin(), a.begin() + std::ptrdiff_t(want.size())), want) << trial << " k=" << k;
      auto b = v;
      quickselect(b, k);
      std::vector<entry> prefix(b.begin(), b.begin() + std::ptrdiff_t(want.size()));
      std::sort(prefix.begin(), prefix.end(), ranks_before);
      ASSERT_EQ(prefix, want) << trial << " k=" << k;
      // Everything after the selected prefix ranks below it; both keep the multiset.
      for (std::size_t i = want.size(); i < b.size() && !want.empty(); ++i)
        ASSERT_TRUE(ranks_before(want.back(), b[i]));
      std::sort(a.begin(), a.end(), ranks_before);
      std::sort(b.begin(), b.end(), ranks_before);
      ASSERT_EQ(a, brute_top(v, v.size()));
      ASSERT_EQ(b, a);
    }
  }
}

// Large arrays with small k take the Floyd–Rivest sampling step first; results stay exact,
// including on sorted, reversed and all-tied inputs and with many seeds.
TEST(TopRankerTopK, SamplingStepKeepsLargeArraysExact) {
  std::mt19937_64 rng(5);
  for (std::size_t n : {2048u, 5000u, 60000u, 100000u}) {
    for (int shape = 0; shape < 4; ++shape) {
      std::vector<entry> v(n);
      for (std::size_t i = 0; i < n; ++i)
        v[i] = {(i * 2654435761u) % 4294967311u,
                shape == 0 ? double(rng() % 1000) : shape == 1 ? double(i) : shape == 2 ? -double(i) : 1.0};
      auto sorted = brute_top(v, n);
      for (std::size_t k : {1u, 10u, 100u, 250u}) {
        std::vector<entry> want(sorted.begin(), sorted.begin() + std::ptrdiff_t(k));
        for (std::uint64_t seed : {1u, 12345u}) {
          auto a = v;
          partial_quicksort(a, k, seed);
          ASSERT_TRUE(std::equal(want.begin(), want.end(), a.begin())) << n << " " << shape << " " << k;
          auto b = v;
          quickselect(b, k, seed);
          std::sort(b.begin(), b.begin() + std::ptrdiff_t(k), ranks_before);
          ASSERT_TRUE(std::equal(want.begin(), want.end(), b.begin())) << n << " " << shape << " " << k;
        }
      }
    }
  }
}

TEST(TopRankerTopK, InfinitiesAndSignedZerosRankConsistently) {
  double inf = std::numeric_limits<double>::infinity();
  std::vector<entry> v = {{5, 0.0}, {3, -0.0}, {9, inf}, {1, -inf}, {2, 1e308}, {8, inf}};
  auto want = brute_top(v, v.size());
  partial_quicksort(v, v.size());
  EXPECT_EQ(v, want);
  EXPECT_EQ(v[0].key, 8u);
  EXPECT_EQ(v[1].key, 9u);
  EXPECT_EQ(v[3].key, 3u);  // -0.0 == 0.0: smaller key first
}

// MovieLens latest-small ratings as a stream: key = movie, windows of 5,000 ratings.
TEST(TopRankerWindows, MovieLensWindowsMatchBruteForceForEveryAggregate) {
  ASSERT_GT(ratings().size(), 100000u);
  for (auto agg : {aggregate::count, aggregate::sum, aggregate::max, aggregate::last}) {
    for (auto algo : {algorithm::partial_quicksort, algorithm::quickselect_then_sort}) {
      options o;
      o.k = 10;
      o.window_records = 5000;
      o.agg = agg;
      o.algo = algo;
      ranker rk(o);
      std::vector<window_result> got;
      for (const auto& r : ratings()) {
        ASSERT_TRUE(rk.add(r.movie, r.stars, r.ts));
        for (auto& w : rk.closed())
          got.push_back(w);
        rk.clear_closed();
      }
      rk.close();
      for (auto& w : rk.closed())
        got.push_back(w);
      auto want = brute_windows(5000, 10, agg);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].seq, i + 1);
        EXPECT_EQ(got[i].records, i + 1 < got.size() ? 5000u : ratings().size() % 5000);
        ASSERT_EQ(got[i].top, want[i]) << "window " << i + 1 << " aggregate " << int(agg);
      }
    }
  }
}

// A NAB series with time windows of one day: item = hour of the day, score = the hottest reading
// of that hour; brute force groups by the date text instead of by arithmetic on timestamps.
TEST(TopRankerWindows, NabDailyTimeWindowsMatchBruteForce) {
  std::ifstream in(E3_TEST_DATA_DIR "/timeseries/machine_temperature_system_failure.csv");
  ASSERT_TRUE(in) << "NAB series missing from tests/data/timeseries";
  std::string line;
  std::getline(in, line);
  auto days_from_civil = [](int y, unsigned m, unsigned d) {  // Howard Hinnant's algorithm
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int>(doe) - 719468;
  };
  options o;
  o.k = 5;
  o.window_records = 0;
  o.window_ns = 86400LL * 1000000000LL;
  o.agg = aggregate::max;
  ranker rk(o);
  std::vector<window_result> got;
  std::vector<std::pair<std::string, std::map<std::uint64_t, double>>> days;
  while (std::getline(in, line)) {
    int y, mo, d, h, mi, s;
    double v;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d-%d-%d %d:%d:%d,%lf", &y, &mo, &d, &h, &mi, &s, &v), 7) << line;
    std::int64_t ts = (std::int64_t(days_from_civil(y, unsigned(mo), unsigned(d))) * 86400 + h * 3600 + mi * 60 + s) *
                      1000000000LL;
    ASSERT_TRUE(rk.add(std::uint64_t(h), v, ts));
    for (auto& w : rk.closed())
      got.push_back(w);
    rk.clear_closed();
    auto date = line.substr(0, 10);
    if (days.empty() || days.back().first != date)
      days.push_back({date, {}});
    auto& m = days.back().second;
    auto it = m.find(std::uint64_t(h));
    if (it == m.end())
      m[std::uint64_t(h)] = v;
    else
      it->second = std::max(it->second, v);
  }
  rk.close();
  for (auto& w : rk.closed())
    got.push_back(w);
  ASSERT_EQ(got.size(), days.size());
  ASSERT_GT(days.size(), 60u);
  for (std::size_t i = 0; i < days.size(); ++i) {
    std::vector<entry> v;
    for (auto [hour, t] : days[i].second)
      v.push_back({hour, t});
    ASSERT_EQ(got[i].top, brute_top(v, 5)) << days[i].first;
  }
}

TEST(TopRankerWindows, RejectsNaNAndInfinitySumsWithoutChangingAnything) {
  options o;
  o.window_records = 3;
  ranker rk(o);
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(rk.add(1, std::nan(""), 0));
  EXPECT_TRUE(rk.add(1, inf, 0));
  EXPECT_FALSE(rk.add(1, -inf, 0));
  EXPECT_EQ(rk.state().records, 1u);
  EXPECT_TRUE(rk.add(2, -inf, 0));
  EXPECT_TRUE(rk.add(1, 5, 0));
  ASSERT_EQ(rk.closed().size(), 1u);
  EXPECT_EQ(rk.closed()[0].top, (std::vector<entry>{{1, inf}, {2, -inf}}));
}

TEST(TopRankerWindows, TimeWindowsCloseBeforeTheRecordThatOpensTheNextPeriod) {
  options o;
  o.k = 2;
  o.window_records = 0;
  o.window_ns = 100;
  ranker rk(o);
  rk.add(1, 1, -50);  // period -1
  rk.add(2, 2, -1);
  EXPECT_TRUE(rk.closed().empty());
  rk.add(3, 3, 0);  // period 0: closes [-100, 0)
  ASSERT_EQ(rk.closed().size(), 1u);
  EXPECT_EQ(rk.closed()[0].records, 2u);
  EXPECT_EQ(rk.closed()[0].top, (std::vector<entry>{{2, 2}, {1, 1}}));
  rk.add(4, 4, -500);  // late: counted into the open window
  rk.add(5, 5, 250);   // closes period 0
  ASSERT_EQ(rk.closed().size(), 2u);
  EXPECT_EQ(rk.closed()[1].records, 2u);
  EXPECT_EQ(rk.closed()[1].first_ts, 0);
  EXPECT_EQ(rk.closed()[1].last_ts, -500);
}

namespace {

const service_kind& kind() { return svc_test::registered_kind<register_top_ranker>("top_ranker"); }

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params = {}) {
  service_config cfg;
  cfg.params = std::move(params);
  return kind().make(cfg);
}

bytes item(std::uint64_t key, double value, std::int64_t ts = 0) {
  record r;
  r.key = key;
  r.value = value;
  r.ts_ns = ts;
  return encode(r);
}

std::vector<entry> decode_top(const bytes& b) {
  auto r = decode_record(b);
  EXPECT_EQ(r.aux.size(), r.features.size() * 8);
  std::vector<entry> v;
  for (std::size_t i = 0; i < r.features.size(); ++i) {
    std::uint64_t k;
    std::memcpy(&k, r.aux.data() + 8 * i, 8);
    v.push_back({k, r.features[i]});
  }
  return v;
}

}  // namespace

TEST(TopRankerService, EmitsTheTopKRecordWhenAWindowClosesAndAcksTheRest) {
  EXPECT_EQ(kind().table1_name, "Top ranker");
  EXPECT_TRUE(kind().stateful);
  auto s = make({{"k", "2"}, {"window", "4"}});
  local_context ctx;
  s->on_start(ctx);
  std::vector<std::pair<std::uint64_t, double>> in = {{7, 1}, {3, 5}, {7, 4.5}, {9, 5}};
  for (std::size_t i = 0; i < in.size(); ++i) {
    ctx.clear();
    s->handle(request{i, 0, item(in[i].first, in[i].second, std::int64_t(i) * 10)}, ctx);
    if (i < 3) {
      ASSERT_EQ(ctx.replies.size(), 1u);
      EXPECT_TRUE(ctx.replies[0].empty());
      EXPECT_TRUE(ctx.emits.empty());
    }
  }
  ASSERT_EQ(ctx.emits.size(), 1u);
  EXPECT_TRUE(ctx.replies.empty());
  EXPECT_EQ(ctx.emits[0].key, 1u);
  auto r = decode_record(ctx.emits[0].payload);
  EXPECT_EQ(r.key, 1u);
  EXPECT_EQ(r.ts_ns, 30);
  EXPECT_EQ(r.value, 4.0);
  EXPECT_EQ(decode_top(ctx.emits[0].payload), (std::vector<entry>{{7, 5.5}, {3, 5}}));
}

TEST(TopRankerService, RejectsBadInputAndBadParams) {
  EXPECT_THROW(make({{"k", "0"}}), std::invalid_argument);
  EXPECT_THROW(make({{"window", "0"}}), std::invalid_argument);
  EXPECT_THROW(make({{"aggregate", "avg"}}), std::invalid_argument);
  EXPECT_THROW(make({{"algorithm", "heap"}}), std::invalid_argument);
  auto s = make();
  local_context ctx;
  s->handle(request{1, 0, item(1, std::nan(""))}, ctx);
  ASSERT_EQ(ctx.rejections.size(), 1u);
  EXPECT_NE(ctx.rejections[0].find("NaN"), std::string::npos);
  auto good = item(1, 2);
  for (std::size_t n = 0; n < good.size(); ++n) {
    ctx.clear();
    s->handle(request{1, 0, bytes_view(good.data(), n)}, ctx);
    ASSERT_EQ(ctx.rejections.size(), 1u) << n;
  }
  std::mt19937_64 rng(2);
  for (int i = 0; i < 20000; ++i) {
    bytes b(rng() % 64);
    for (auto& x : b)
      x = std::uint8_t(rng());
    if (!b.empty())
      b[0] = 1;
    ctx.clear();
    s->handle(request{1, 0, b}, ctx);
    EXPECT_EQ(ctx.rejections.size() + ctx.replies.size() + ctx.emits.size(), 1u);
  }
}

// Half the MovieLens stream, flush, export, import into a fresh instance, on_start; then the
// rest of the stream goes to both instances and they emit the same windows.
TEST(TopRankerService, MigratedInstanceContinuesTheOpenWindowExactly) {
  std::map<std::string, std::string, std::less<>> p = {{"k", "10"}, {"window", "7000"}, {"aggregate", "sum"}};
  auto a = make(p);
  local_context actx;
  a->on_start(actx);
  const auto& rs = ratings();
  std::size_t half = rs.size() / 2 + 1234;  // in the middle of a window
  for (std::size_t i = 0; i < half; ++i) {
    a->handle(request{i, 0, item(rs[i].movie, rs[i].stars, rs[i].ts)}, actx);
    if (i % 5000 == 0)
      a->flush(actx);  // flushes across window closes too
  }
  a->flush(actx);
  // The reliable table holds exactly the open window's items.
  std::map<std::uint64_t, double> open;
  for (std::size_t i = half - (half % 7000); i < half; ++i)
    open[rs[i].movie] += rs[i].stars;
  EXPECT_EQ(actx.state().get_table("top_ranker.items").size(), open.size());

  local_context bctx;
  bctx.state().import_snapshot(actx.state().export_snapshot());
  auto b = make(p);
  b->on_start(bctx);
  actx.clear();
  for (std::size_t i = half; i < rs.size(); ++i) {
    auto req = item(rs[i].movie, rs[i].stars, rs[i].ts);
    a->handle(request{i, 0, req}, actx);
    b->handle(request{i, 0, req}, bctx);
  }
  ASSERT_EQ(actx.emits.size(), bctx.emits.size());
  ASSERT_GT(actx.emits.size(), 5u);
  for (std::size_t i = 0; i < actx.emits.size(); ++i)
    EXPECT_EQ(actx.emits[i].payload, bctx.emits[i].payload) << i;
  // And the first window after the migration matches brute force.
  auto want = brute_windows(7000, 10, aggregate::sum);
  EXPECT_EQ(decode_top(bctx.emits[0].payload), want[half / 7000]);
}

TEST(TopRankerService, SyntheticRequestsAreAcceptedAtEverySize) {
  auto s = make();
  local_context ctx;
  std::mt19937_64 rng(4);
  for (std::size_t size : {64u, 256u, 512u, 1024u, 1500u}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    ctx.clear();
    s->handle(request{1, 0, req}, ctx);
    EXPECT_TRUE(ctx.rejections.empty());
  }
}

namespace {

svc_test::svc_run run_harness(std::vector<std::string> args) {
  return svc_test::run_svc_main(top_ranker_svc_main, "top_ranker", std::move(args));
}

}  // namespace

TEST(TopRankerHarness, PrintsEachWindowsTopK) {
  auto path = svc_test::write_temp("tr_small.csv", "item,score\n5,1.5\n2,3\n5,2\n9,0.25\n1,3\n");
  auto r = run_harness({"--csv", path, "--key-col", "item", "--value-col", "2", "--k", "2", "--window", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "window 1 records=3 items=2\n1\t5\t3.5\n2\t2\t3\n"
            "window 2 records=2 items=2\n1\t1\t3\n2\t9\t0.25\n");
}

TEST(TopRankerHarness, MovieLensCountsMatchBruteForce) {
  auto r = run_harness({"--csv", E3_TEST_DATA_DIR "/recommend/ratings.csv", "--key-col", "movieId", "--aggregate",
                        "count", "--k", "5", "--window", "20000"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto want = brute_windows(20000, 5, aggregate::count);
  std::ostringstream expect;
  for (std::size_t w = 0; w < want.size(); ++w) {
    std::size_t records = w + 1 < want.size() ? 20000 : ratings().size() - 20000 * w;
    std::map<std::uint64_t, int> distinct;
    for (std::size_t i = 20000 * w; i < 20000 * w + records; ++i)
      distinct[ratings()[i].movie]++;
    expect << "window " << w + 1 << " records=" << records << " items=" << distinct.size() << "\n";
    for (std::size_t i = 0; i < want[w].size(); ++i)
      expect << i + 1 << "\t" << want[w][i].key << "\t" << want[w][i].score << "\n";
  }
  EXPECT_EQ(r.out, expect.str());
}

TEST(TopRankerHarness, BadRowsNameFileAndLineAndExitTwo) {
  auto path = svc_test::write_temp("tr_bad.csv", "item,score\n5,1.5\nx7,2\n");
  auto r = run_harness({"--csv", path, "--key-col", "item", "--value-col", "score"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, path + ":3: column 'item': 'x7' is not an unsigned integer\n");
  EXPECT_EQ(r.out, "");
  path = svc_test::write_temp("tr_bad2.csv", "item,score\n5,1.5,9\n");
  r = run_harness({"--csv", path, "--key-col", "item", "--value-col", "score"});
  EXPECT_EQ(r.err, path + ":2: 3 fields, the header has 2\n");
  path = svc_test::write_temp("tr_bad3.csv", "item,score\n5,abc\n");
  r = run_harness({"--csv", path, "--key-col", "item", "--value-col", "score"});
  EXPECT_EQ(r.err, path + ":2: column 'score': 'abc' is not a number\n");
  r = run_harness({"--csv", path, "--key-col", "nope", "--value-col", "score"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, path + ":1: no column 'nope' in the header\n");
  r = run_harness({"--csv", path, "--key-col", "item"});
  EXPECT_EQ(r.code, 2);
  r = run_harness({"--csv", "/nonexistent.csv", "--key-col", "item", "--value-col", "score"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent.csv: cannot open"), std::string::npos);
}
