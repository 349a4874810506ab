// Tests of the Spike service: NAB's windowed-Gaussian scores on three real NAB series, the
// streaming z-score against a direct computation, migration of the windows, and the harness.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/ema/series_csv.hpp"
#include "services/spike/spike.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_spike(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::spike;

namespace {

const std::string data_dir = std::string(E3_TEST_DATA_DIR) + "/timeseries/";
const char* const names[] = {"ambient_temperature_system_failure", "ec2_request_latency_system_failure",
                             "machine_temperature_system_failure"};

std::vector<double> load(const std::string& name) { return series::read_series_csv(data_dir + name + ".csv").values; }

// NAB's own output: the anomaly_score column of windowedGaussian_<name>.csv.gz.
std::vector<double> nab_scores(const std::string& name) {
  std::string path = data_dir + "windowedGaussian_" + name + ".csv.gz";
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    text.append(buf, std::size_t(n));
  gzclose(f);
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.substr(0, 32), "timestamp,value,anomaly_score,la");
  std::vector<double> out;
  while (std::getline(in, line)) {
    auto a = line.find(',');
    auto b = line.find(',', a + 1);
    auto c = line.find(',', b + 1);
    out.push_back(std::stod(line.substr(b + 1, c - b - 1)));
  }
  return out;
}

const service_kind& kind() { return svc_test::registered_kind<register_spike>("spike"); }

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params = {}) {
  service_config c;
  c.params = std::move(params);
  return kind().make(c);
}

bytes reading(std::uint64_t key, double v) {
  record r;
  r.key = key;
  r.value = v;
  return encode(r);
}

svc_test::svc_run run_svc(std::vector<std::string> args) { return svc_test::run_svc(kind(), std::move(args)); }

}  // namespace

TEST(SpikeWindowed, ReproducesNabScoresOnTheThreeNabSeries) {
  for (const char* name : names) {
    auto x = load(name);
    auto ref = nab_scores(name);
    ASSERT_EQ(x.size(), ref.size()) << name;
    windowed_gaussian fast;
    nab_reference literal;
    double worst_fast = 0, worst_literal = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      worst_fast = std::max(worst_fast, std::abs(fast.add(x[i]).score - ref[i]));
      worst_literal = std::max(worst_literal, std::abs(literal.add(x[i]) - ref[i]));
    }
    EXPECT_LE(worst_fast, 1e-9) << name;
    EXPECT_LE(worst_literal, 1e-9) << name;
    std::cout << "[ info ] " << name << ": " << x.size() << " rows, max |score - NAB| fast " << worst_fast
              << ", literal " << worst_literal << "\n";
  }
}

TEST(SpikeWindowed, NumpySumFollowsNumpysPairwiseOrder) {
  // 0.1 * k summed in numpy's order differs from a left-to-right sum; check against the split
  // rule by hand for n = 200: halves of 96 and 104, each summed with 8 accumulators.
  std::vector<double> x(200);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = 0.1 * double(i + 1);
  auto block = [&](std::size_t from, std::size_t n) {
    double r[8];
    for (int j = 0; j < 8; ++j)
      r[j] = x[from + j];
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; ++j)
        r[j] += x[from + i + j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i)
      s += x[from + i];
    return s;
  };
  EXPECT_EQ(numpy_sum(x.data(), 200), block(0, 96) + block(96, 104));
  EXPECT_EQ(numpy_sum(x.data(), 5), (((0.1 + 0.2) + 0.30000000000000004) + 0.4) + 0.5);
}

TEST(SpikeWindowed, FirstValueScoresZeroAndAConstantStartUsesTheFloor) {
  windowed_gaussian d;
  EXPECT_EQ(d.add(5.0).score, 0.0);
  // Window {5}: std 0 -> 1e-6, so 5 + 1e-6 is one deviation above the mean.
  EXPECT_NEAR(d.add(5.0 + 1e-6).score, 1 - 0.5 * std::erfc(1 / std::sqrt(2.0)), 1e-6);
}

TEST(SpikeService, ReproducesNabWithInterleavedKeys) {
  std::vector<std::vector<double>> x, ref;
  for (const char* name : names) {
    x.push_back(load(name));
    ref.push_back(nab_scores(name));
  }
  auto svc = make();
  local_context ctx;
  svc->on_start(ctx);
  std::vector<std::size_t> pos(3, 0);
  double worst = 0;
  std::size_t alarms = 0;
  for (std::size_t n = 0; pos[0] < x[0].size() || pos[1] < x[1].size() || pos[2] < x[2].size(); ++n) {
    std::size_t k = n % 3;
    if (pos[k] == x[k].size())
      continue;
    ctx.clear();
    svc->handle({n, k, reading(k, x[k][pos[k]])}, ctx);
    ASSERT_EQ(ctx.emits.size(), 1u);
    auto out = decode_record(ctx.emits[0].payload);
    ASSERT_EQ(out.features.size(), 2u);
    EXPECT_EQ(out.features[0], x[k][pos[k]]);
    alarms += out.features[1] == 1.0;
    worst = std::max(worst, std::abs(out.value - ref[k][pos[k]]));
    if (n % 1000 == 0)
      svc->flush(ctx);
    ++pos[k];
  }
  EXPECT_LE(worst, 1e-9);
  EXPECT_GT(alarms, 0u);  // the NAB failures include readings far outside the window
}

TEST(SpikeService, MigratedWindowsContinueExactly) {
  auto x = load("machine_temperature_system_failure");
  // Cut points: while the window grows, right at a slide, and mid-buffer after slides.
  for (std::size_t cut : {3000, 6400, 6500, 9050}) {
    auto a = make({{"window", "6400"}, {"step", "100"}});
    auto b = make();
    local_context ca, cb;
    a->on_start(ca);
    b->on_start(cb);
    for (std::size_t t = 0; t < cut; ++t) {
      a->handle({t, 0, reading(t % 2, x[t])}, ca);
      b->handle({t, 0, reading(t % 2, x[t])}, cb);
      if (t % 37 == 0)
        a->flush(ca);  // partial flushes on the way: chunks rewritten, old ones erased
    }
    a->flush(ca);
    ca.state().commit();
    // Only the chunks of the current window and buffer remain: at most 65 per key.
    EXPECT_LE(ca.state().get_table("spike_chunks").size(), 2u * 65u);
    local_context cc;
    cc.state().import_snapshot(ca.state().export_snapshot());
    auto c = make();
    c->on_start(cc);
    cb.clear();
    for (std::size_t t = cut; t < cut + 7000 && t < x.size(); ++t) {
      b->handle({t, 0, reading(t % 2, x[t])}, cb);
      c->handle({t, 0, reading(t % 2, x[t])}, cc);
    }
    ASSERT_EQ(cb.emits.size(), cc.emits.size());
    for (std::size_t i = 0; i < cb.emits.size(); ++i)
      ASSERT_EQ(cb.emits[i].payload, cc.emits[i].payload) << "cut " << cut << " message " << i;
  }
}

TEST(SpikeStreaming, MatchesADirectTwoPassZScore) {
  auto x = load("ec2_request_latency_system_failure");
  x.resize(3000);
  streaming_state s;
  streaming_params p;
  std::size_t alarms = 0;
  for (std::size_t t = 0; t < x.size(); ++t) {
    auto r = streaming_add(s, x[t], p);
    if (t < 2) {
      EXPECT_EQ(r.score, 0.0);
      continue;
    }
    long double sum = 0;
    for (std::size_t i = 0; i < t; ++i)
      sum += x[i];
    long double mean = sum / t, ss = 0;
    for (std::size_t i = 0; i < t; ++i)
      ss += (x[i] - mean) * (x[i] - mean);
    double sd = double(std::sqrt(ss / t));
    double z = double((x[t] - mean) / (sd == 0 ? 1e-6 : sd));
    ASSERT_NEAR(r.z, z, 1e-9 * std::max(1.0, std::abs(z))) << t;
    EXPECT_EQ(r.score, std::abs(r.z));
    if (std::abs(std::abs(z) - 3) > 1e-6) {
      EXPECT_EQ(r.alarm, std::abs(z) > 3) << t;
    }
    alarms += r.alarm;
  }
  EXPECT_GT(alarms, 0u);
}

TEST(SpikeStreaming, ServiceAlarmsOnAnInjectedSpikeAndMigrates) {
  auto x = load("ambient_temperature_system_failure");
  auto a = make({{"mode", "streaming"}, {"threshold", "4"}, {"warmup", "30"}});
  local_context ca;
  a->on_start(ca);
  for (std::size_t t = 0; t < 500; ++t)
    a->handle({t, 0, reading(9, x[t])}, ca);
  for (std::size_t t = 0; t < 30; ++t)
    EXPECT_EQ(decode_record(ca.emits[t].payload).value, 0.0);
  a->flush(ca);
  local_context cb;
  cb.state().import_snapshot(ca.state().export_snapshot());
  auto b = make({{"mode", "streaming"}, {"threshold", "4"}, {"warmup", "30"}});
  b->on_start(cb);
  ca.clear();
  a->handle({1, 0, reading(9, 1000.0)}, ca);  // far above every ambient temperature
  b->handle({1, 0, reading(9, 1000.0)}, cb);
  auto out = decode_record(ca.emits.at(0).payload);
  EXPECT_EQ(out.features.back(), 1.0);
  EXPECT_GT(out.value, 4.0);
  EXPECT_EQ(ca.emits.at(0).payload, cb.emits.back().payload);
}

TEST(SpikeService, RefusesMalformedRecordsAndBadParams) {
  auto svc = make();
  local_context ctx;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    bytes junk(rng() % 120);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    if (!junk.empty())
      junk[0] = 1;
    svc->handle({1, 1, junk}, ctx);
  }
  svc->handle({1, 1, reading(1, NAN)}, ctx);
  EXPECT_TRUE(ctx.emits.empty());
  EXPECT_EQ(ctx.rejections.size(), 2001u);
  EXPECT_THROW(make({{"mode", "sliding"}}), std::invalid_argument);
  EXPECT_THROW(make({{"window", "10"}, {"step", "20"}}), std::invalid_argument);
  EXPECT_THROW(make({{"threshold", "x"}}), std::invalid_argument);
}

TEST(SpikeService, SyntheticRequestsAreValidAndOfTheAskedSize) {
  std::mt19937_64 rng(3);
  auto svc = make();
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    local_context ctx;
    svc->handle({1, 1, req}, ctx);
    EXPECT_TRUE(ctx.rejections.empty());
    EXPECT_EQ(ctx.emits.size(), 1u);
  }
}

TEST(SpikeSvc, PrintsNabScoresOnePerRow) {
  const std::string name = "ec2_request_latency_system_failure";
  auto r = run_svc({"--csv", data_dir + name + ".csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto ref = nab_scores(name);
  std::istringstream in(r.out);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(n, ref.size());
    EXPECT_NEAR(std::stod(line), ref[n], 1e-9) << "row " << n;
    ++n;
  }
  EXPECT_EQ(n, ref.size());
  r = run_svc({"--csv", data_dir + name + ".csv", "--mode", "streaming", "--alarms"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), long(ref.size()));
  EXPECT_EQ(r.out.substr(0, 4), "0\t0\n");
}

TEST(SpikeSvc, BadInputNamesFileAndLineAndExitsWith2) {
  std::string path = testing::TempDir() + "spike_bad.csv";
  std::ofstream(path) << "timestamp,value\n2020-01-01,1.5\n2020-01-02,2\n2020-01-03\n";
  auto r = run_svc({"--csv", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":4: 1 fields, the header has 2"), std::string::npos) << r.err;
  r = run_svc({"--csv", path, "--mode", "sliding"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("mode 'sliding'"), std::string::npos) << r.err;
  r = run_svc({"--mode", "windowed"});
  EXPECT_EQ(r.code, 2);
}
