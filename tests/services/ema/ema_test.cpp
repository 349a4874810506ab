// Tests of the EMA service on real NAB series: closed form, interleaved keys, migration, harness.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/ema/ema.hpp"
#include "services/ema/series_csv.hpp"
#include "tests/services/common/svc_test.hpp"

namespace e3::services {
void register_ema(service_registry& r);
}

using namespace e3;
using namespace e3::services;

namespace {

const std::string data_dir = std::string(E3_TEST_DATA_DIR) + "/timeseries/";

std::vector<double> load(const std::string& name) { return series::read_series_csv(data_dir + name).values; }

const service_kind& kind() { return svc_test::registered_kind<register_ema>("ema"); }

std::unique_ptr<service> make(double alpha) {
  service_config c;
  c.params["alpha"] = std::to_string(alpha);
  return kind().make(c);
}

bytes reading(std::uint64_t key, double v) {
  record r;
  r.key = key;
  r.value = v;
  return encode(r);
}

// The closed form sum_{i<t} a(1-a)^i x_{t-i} + (1-a)^t x_0, evaluated term by term.
double closed_form(const std::vector<double>& x, std::size_t t, double a) {
  double s = 0, w = a;
  for (std::size_t i = 0; i < t; ++i, w *= 1 - a)
    s += w * x[t - i];
  return s + std::pow(1 - a, double(t)) * x[0];
}

svc_test::svc_run run_svc(std::vector<std::string> args) { return svc_test::run_svc(kind(), std::move(args)); }

}  // namespace

TEST(Ema, MatchesTheClosedFormOnAmbientTemperature) {
  auto x = load("ambient_temperature_system_failure.csv");
  ASSERT_EQ(x.size(), 7267u);
  for (double alpha : {0.1, 0.5, 0.01}) {
    auto svc = make(alpha);
    local_context ctx;
    for (std::size_t t = 0; t < x.size(); ++t) {
      ctx.clear();
      svc->handle({t, 7, reading(7, x[t])}, ctx);
      ASSERT_EQ(ctx.emits.size(), 1u);
      auto out = decode_record(ctx.emits[0].payload);
      double want = closed_form(x, t, alpha);
      ASSERT_NEAR(out.value, want, 1e-9 * std::abs(want)) << "alpha " << alpha << " row " << t;
    }
  }
}

TEST(Ema, FirstValueInitialises) {
  auto svc = make(0.3);
  local_context ctx;
  svc->handle({1, 1, reading(1, 42.5)}, ctx);
  EXPECT_EQ(decode_record(ctx.emits.at(0).payload).value, 42.5);
}

TEST(Ema, InterleavedKeysAreIndependentStreams) {
  std::vector<std::vector<double>> s = {load("ambient_temperature_system_failure.csv"),
                                        load("ec2_request_latency_system_failure.csv"),
                                        load("machine_temperature_system_failure.csv")};
  // Each stream alone, through the pure update.
  std::vector<std::vector<double>> alone(3);
  for (int k = 0; k < 3; ++k) {
    ema::average a;
    for (double v : s[k])
      alone[k].push_back(ema::update(a, v, 0.2));
  }
  // Interleaved through one instance: key k+100 carries series k, round robin.
  auto svc = make(0.2);
  local_context ctx;
  std::vector<std::size_t> pos(3, 0);
  std::size_t left = s[0].size() + s[1].size() + s[2].size();
  for (std::size_t n = 0; left > 0; ++n) {
    int k = int(n % 3);
    if (pos[k] == s[k].size())
      continue;
    ctx.clear();
    svc->handle({n, 0, reading(100 + k, s[k][pos[k]])}, ctx);
    ASSERT_EQ(ctx.emits.size(), 1u);
    EXPECT_EQ(ctx.emits[0].key, std::uint64_t(100 + k));
    ASSERT_EQ(decode_record(ctx.emits[0].payload).value, alone[k][pos[k]]) << "key " << k << " row " << pos[k];
    ++pos[k];
    --left;
  }
}

TEST(Ema, KeepsTheRawReadingAsTheLastFeatureAndEveryOtherField) {
  auto svc = make(0.5);
  local_context ctx;
  record r;
  r.op = 9;
  r.key = 5;
  r.ts_ns = 123456789;
  r.value = 10;
  r.features = {1.5, -2};
  r.text = "sensor-5";
  r.aux = std::string("\0\1", 2);
  svc->handle({1, 5, encode(r)}, ctx);
  r.value = 20;
  svc->handle({2, 5, encode(r)}, ctx);
  auto out = decode_record(ctx.emits.at(1).payload);
  EXPECT_EQ(out.value, 15.0);
  EXPECT_EQ(out.features, (std::vector<double>{1.5, -2, 20}));
  EXPECT_EQ(out.op, 9);
  EXPECT_EQ(out.key, 5u);
  EXPECT_EQ(out.ts_ns, 123456789);
  EXPECT_EQ(out.text, "sensor-5");
  EXPECT_EQ(out.aux, r.aux);
}

TEST(Ema, MigratedInstanceContinuesExactlyAsTheOldOne) {
  auto x = load("ec2_request_latency_system_failure.csv");
  auto whole = make(0.1);
  auto first = make(0.1);
  local_context c_whole, c_first;
  whole->on_start(c_whole);
  first->on_start(c_first);
  std::size_t half = x.size() / 2;
  for (std::size_t t = 0; t < half; ++t) {
    whole->handle({t, 0, reading(t % 5, x[t])}, c_whole);
    first->handle({t, 0, reading(t % 5, x[t])}, c_first);
  }
  first->flush(c_first);
  c_first.state().commit();
  auto snap = c_first.state().export_snapshot();
  EXPECT_EQ(c_first.state().get_table("ema").size(), 5u);

  local_context c_second;
  c_second.state().import_snapshot(snap);
  auto second = make(0.1);
  second->on_start(c_second);
  c_whole.clear();
  for (std::size_t t = half; t < x.size(); ++t) {
    whole->handle({t, 0, reading(t % 5, x[t])}, c_whole);
    second->handle({t, 0, reading(t % 5, x[t])}, c_second);
  }
  ASSERT_EQ(c_whole.emits.size(), c_second.emits.size());
  for (std::size_t i = 0; i < c_whole.emits.size(); ++i)
    ASSERT_EQ(c_whole.emits[i].payload, c_second.emits[i].payload) << i;
}

TEST(Ema, RefusesMalformedAndNonFiniteRecordsWithoutCrashing) {
  auto svc = make(0.1);
  local_context ctx;
  auto good = reading(1, 3.0);
  for (std::size_t n = 0; n < good.size(); ++n)
    svc->handle({1, 1, bytes_view(good.data(), n)}, ctx);
  EXPECT_EQ(ctx.rejections.size(), good.size());
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2000; ++i) {
    bytes junk(rng() % 200);
    for (auto& b : junk)
      b = std::uint8_t(rng());
    if (!junk.empty())
      junk[0] = 1;
    svc->handle({1, 1, junk}, ctx);
  }
  ctx.clear();
  svc->handle({1, 1, reading(1, std::nan(""))}, ctx);
  svc->handle({1, 1, reading(1, INFINITY)}, ctx);
  EXPECT_EQ(ctx.rejections.size(), 2u);
  EXPECT_TRUE(ctx.emits.empty());
}

TEST(Ema, SyntheticRequestsAreValidAndOfTheAskedSize) {
  std::mt19937_64 rng(3);
  auto svc = make(0.1);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind().synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    local_context ctx;
    svc->handle({1, 1, req}, ctx);
    EXPECT_TRUE(ctx.rejections.empty());
    EXPECT_EQ(ctx.emits.size(), 1u);
  }
}

TEST(EmaSvc, PrintsTheAverageOfEveryRow) {
  auto r = run_svc({"--csv", data_dir + "ec2_request_latency_system_failure.csv", "--alpha", "0.25"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto x = load("ec2_request_latency_system_failure.csv");
  std::istringstream in(r.out);
  ema::average a;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(n, x.size());
    EXPECT_EQ(std::stod(line), ema::update(a, x[n], 0.25)) << n;
    ++n;
  }
  EXPECT_EQ(n, x.size());
}

TEST(EmaSvc, BadLineNamesFileAndLineAndExitsWith2) {
  std::string path = testing::TempDir() + "ema_bad.csv";
  std::ofstream(path) << "timestamp,value\n2020-01-01,1.5\n2020-01-02,abc\n";
  auto r = run_svc({"--csv", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(path + ":3: value 'abc'"), std::string::npos) << r.err;
  r = run_svc({"--csv", path, "--alpha", "1.5"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--alpha"), std::string::npos) << r.err;
  r = run_svc({"--csv", data_dir + "missing.csv"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing.csv: cannot open"), std::string::npos) << r.err;
  r = run_svc({});
  EXPECT_EQ(r.code, 2);
}
