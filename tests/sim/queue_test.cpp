// The queue model (topo::core_queue, shared by the runtime and the simulator) against the M/M/1
// and M/M/c closed forms, and the simulator's building blocks: the event queue's deterministic
// tie-breaking, the histogram's quantiles, the routing rules shared with the runtime's router.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "actors/router.hpp"
#include "sim/sim.hpp"
#include "topology/core_queue.hpp"

namespace {

using e3::sim::rng;

// Mean wait in queue of an M/M/c queue (Erlang C): arrival rate `lambda`, service rate `mu` per
// server, `c` servers.
double erlang_c_wait(int c, double lambda, double mu) {
  double a = lambda / mu;  // offered load in servers
  double term = 1, sum = 0;
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  double last = term * c / (c - a);  // a^c / c! × c / (c − a)
  double pc = last / (sum + last);
  return pc / (c * mu - lambda);
}

// Poisson arrivals, exponential work, `n` customers on a `cores` queue: the mean wait.
double simulated_wait(int cores, double lambda, double mean_service_ns, std::uint64_t n, std::uint64_t seed) {
  e3::topo::core_queue q(cores);
  rng r(seed);
  double t = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    t += r.exponential(1e9 / lambda);
    q.run(std::int64_t(t), std::int64_t(r.exponential(mean_service_ns)));
  }
  return double(q.wait_ns()) / double(q.bookings());
}

TEST(QueueModel, MatchesMM1MeanWait) {
  // ρ = 0.7 with 1 µs mean work: Wq = ρ / (μ − λ) = 2.333 µs.
  double lambda = 0.7e6, mu = 1e6;
  double expect_ns = erlang_c_wait(1, lambda, mu) * 1e9;
  EXPECT_NEAR(expect_ns, 0.7 / (mu - lambda) * 1e9, 1e-6);
  double got = simulated_wait(1, lambda, 1000, 2'000'000, 7);
  EXPECT_NEAR(got / expect_ns, 1.0, 0.04) << "simulated " << got << " ns, closed form " << expect_ns << " ns";
}

TEST(QueueModel, MatchesMMcMeanWait) {
  struct point {
    int c;
    double rho;
  };
  for (auto p : {point{4, 0.8}, point{12, 0.85}}) {
    double mu = 1e5;  // 10 µs per request
    double lambda = p.rho * p.c * mu;
    double expect_ns = erlang_c_wait(p.c, lambda, mu) * 1e9;
    double got = simulated_wait(p.c, lambda, 10'000, 2'000'000, 11 + std::uint64_t(p.c));
    EXPECT_NEAR(got / expect_ns, 1.0, 0.05) << p.c << " cores at " << p.rho << ": simulated " << got
                                            << " ns, Erlang C " << expect_ns << " ns";
  }
}

TEST(QueueModel, BookedAfterGivesTheWorkDoneByATime) {
  e3::topo::core_queue q(2);
  q.run(0, 100);    // core 0: 0..100
  q.run(10, 100);   // core 1: 10..110
  q.run(20, 100);   // waits for core 0: 100..200
  EXPECT_EQ(q.busy_ns(), 300);
  EXPECT_EQ(q.booked_after(50), 50 + 60 + 100);
  EXPECT_EQ(q.busy_ns() - q.booked_after(150), 100 + 100 + 50);
  EXPECT_EQ(q.wait_ns(), 80);
  EXPECT_EQ(q.bookings(), 3u);
}

TEST(EventQueue, PopsByTimeThenSchedulingOrder) {
  e3::sim::event_queue q;
  // Many events at few distinct times: equal times must come out in push order.
  rng r(3);
  std::vector<std::pair<std::int64_t, std::uint32_t>> pushed;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    std::int64_t t = std::int64_t(r.next() % 7);
    q.push({t, 0, 0, 0, i, 0});
    pushed.emplace_back(t, i);
  }
  std::stable_sort(pushed.begin(), pushed.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [t, i] : pushed) {
    auto e = q.pop();
    ASSERT_EQ(e.at_ns, t);
    ASSERT_EQ(e.a, i);
  }
  EXPECT_TRUE(q.empty());
}

TEST(Histogram, QuantilesWithinItsBucketWidth) {
  e3::sim::histogram h;
  for (std::int64_t v = 1; v <= 100000; ++v)
    h.record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50000.5);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100000);
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    double exact = q * 100000;
    EXPECT_NEAR(double(h.quantile(q)) / exact, 1.0, 0.02) << q;
  }
}

TEST(Routing, SameRulesAsTheRuntimeRouter) {
  rng r(5);
  for (int i = 0; i < 100000; ++i) {
    auto key = r.next();
    auto shards = std::uint32_t(1 + r.next() % 24);
    ASSERT_EQ(e3::sim::shard_of(key, shards), e3::rt::shard_of(key, shards));
    auto id = r.next();
    auto ch = std::uint32_t(r.next() % 8);
    double share = r.uniform();
    ASSERT_EQ(e3::sim::takes_channel(id, ch, share), e3::rt::takes_channel(id, ch, share));
  }
}

TEST(Random, SameSeedSameStream) {
  rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    auto x = a.next();
    ASSERT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
  rng e(9);
  double sum = 0;
  for (int i = 0; i < 200000; ++i)
    sum += e.exponential(3.0);
  EXPECT_NEAR(sum / 200000, 3.0, 0.03);
}

}  // namespace
