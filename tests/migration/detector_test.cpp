// The §3.4 detectors trip exactly at their thresholds and not below them: queue depth, link
// use, execution-time ratio, minimum requests, and the k consecutive reports.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "migration/migration.hpp"

using namespace e3::mig;

namespace {

// A SmartNIC report: 20 Gb/s ports, `queue` packets queued, `in` Gb/s received.
node_report nic(std::uint32_t queue, double in, double out = 0) {
  node_report r;
  r.node = 1;
  r.tm_queue = queue;
  r.link_in_gbps = in;
  r.link_out_gbps = out;
  r.capacity_gbps = 20;
  return r;
}

instance_report svc(double exec, double ema, std::uint32_t requests = 100) {
  instance_report r;
  r.instance = 1;
  r.exec_us = exec;
  r.ema_exec_us = ema;
  r.requests = requests;
  return r;
}

// Feeds `n` copies of `r` and returns the 1-based index of the report on which the detector
// first reported tripped, or 0 when it never did.
template <class D, class R>
int first_trip(D& d, const R& r, int n) {
  for (int i = 1; i <= n; ++i)
    if (d.add(r))
      return i;
  return 0;
}

}  // namespace

// Defaults: queue >= 64 packets, max(in, out) < 50 % of capacity, k = 3.
TEST(Starvation, TripsOnTheKthReportAtTheQueueThreshold) {
  starvation_detector d;
  EXPECT_EQ(first_trip(d, nic(64, 1), 10), 3);
}

TEST(Starvation, NeverTripsOnePacketBelowTheQueueThreshold) {
  starvation_detector d;
  EXPECT_EQ(first_trip(d, nic(63, 1), 100), 0);
}

TEST(Starvation, BandwidthAtTheShareIsNotUnderUsed) {
  // 50 % of 20 Gb/s = 10 Gb/s exactly: not below the share, so not starvation however long the queue.
  starvation_detector at;
  EXPECT_EQ(first_trip(at, nic(1000, 10.0), 100), 0);
  starvation_detector below;
  EXPECT_EQ(first_trip(below, nic(1000, std::nextafter(10.0, 0.0)), 100), 3);
}

TEST(Starvation, TheBusierDirectionCounts) {
  // Little received but the ports send at 60 %: the queue may be honest traffic.
  starvation_detector d;
  EXPECT_EQ(first_trip(d, nic(1000, 1, 12), 100), 0);
}

TEST(Starvation, AnInterruptedQueueIsNotStanding) {
  starvation_detector d;
  // k-1 hits, a miss, k-1 hits, a miss ... never trips.
  for (int round = 0; round < 20; ++round) {
    EXPECT_FALSE(d.add(nic(500, 1)));
    EXPECT_FALSE(d.add(nic(500, 1)));
    EXPECT_FALSE(d.add(nic(0, 1)));
  }
  // Then k in a row trips on the k-th and stays tripped while the hits continue.
  EXPECT_FALSE(d.add(nic(500, 1)));
  EXPECT_FALSE(d.add(nic(500, 1)));
  EXPECT_TRUE(d.add(nic(500, 1)));
  EXPECT_TRUE(d.add(nic(500, 1)));
  EXPECT_FALSE(d.add(nic(500, 15)));  // the ports got busy: streak broken
  EXPECT_EQ(d.hits(), 0);
}

TEST(Starvation, ConfiguredThresholdsAreExact) {
  starvation_config c;
  c.queue_threshold = 10;
  c.underuse_share = 0.25;
  c.k = 1;
  starvation_detector d(c);
  EXPECT_TRUE(d.add(nic(10, std::nextafter(5.0, 0.0))));
  EXPECT_FALSE(d.add(nic(9, 0)));
  EXPECT_FALSE(d.add(nic(10, 5.0)));
}

TEST(Starvation, UnknownCapacityIsNeverUnderUsed) {
  auto r = nic(1000, 0);
  r.capacity_gbps = 0;
  starvation_detector d;
  EXPECT_EQ(first_trip(d, r, 10), 0);
}

TEST(Starvation, HeartbeatBoundariesMatchTheReport) {
  heartbeat h;
  h.tm_queue = 64;
  h.link_use = 99;  // 49.5 %
  starvation_detector d;
  EXPECT_EQ(first_trip(d, h, 10), 3);
  h.link_use = 100;  // exactly 50 %
  starvation_detector at;
  EXPECT_EQ(first_trip(at, h, 10), 0);
  h.link_use = 0;
  h.tm_queue = 63;
  starvation_detector low;
  EXPECT_EQ(first_trip(low, h, 10), 0);
}

// Defaults: exec >= 1.2 × EMA, at least 20 requests, k = 2.
TEST(Overload, TripsOnTheKthReportAtTwentyPercentSlower) {
  overload_detector d;
  EXPECT_EQ(first_trip(d, svc(120, 100), 10), 2);
  overload_detector d2;
  EXPECT_EQ(first_trip(d2, svc(60, 50), 10), 2);
}

TEST(Overload, NeverTripsJustBelowTwentyPercent) {
  overload_detector d;
  EXPECT_EQ(first_trip(d, svc(std::nextafter(120.0, 0.0), 100), 100), 0);
  overload_detector d2;
  EXPECT_EQ(first_trip(d2, svc(std::nextafter(60.0, 0.0), 50), 100), 0);
}

TEST(Overload, FasterIsNeverOverload) {
  // "The difference is negative": EMA − exec < 0, i.e. slower. Twice as fast is a difference of
  // +50 % of the EMA, which must not trip.
  overload_detector d;
  EXPECT_EQ(first_trip(d, svc(50, 100), 100), 0);
}

TEST(Overload, TooFewRequestsOrNoHistoryIsNotAHit) {
  overload_detector few;
  EXPECT_EQ(first_trip(few, svc(500, 100, 19), 100), 0);
  overload_detector enough;
  EXPECT_EQ(first_trip(enough, svc(500, 100, 20), 100), 2);
  overload_detector fresh;
  EXPECT_EQ(first_trip(fresh, svc(500, 0), 100), 0);
}

TEST(Overload, ASingleSlowIntervalDoesNotTrip) {
  overload_detector d;
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(d.add(svc(300, 100)));
    EXPECT_FALSE(d.add(svc(100, 100)));
  }
}

TEST(Overload, ASustainedStepIsCaughtAgainstTheTrailingEma) {
  // A service goes from 100 µs to 150 µs and stays there; the runtime's EMA (0.2) trails it.
  // Ratios: 1.5, 1.364, 1.271, 1.206, 1.158 …: four hits, so k = 2 trips on the second report.
  overload_detector d;
  exec_ema ema;
  for (int i = 0; i < 50; ++i)
    ema.add(100);
  int tripped = 0;
  for (int i = 1; i <= 20 && !tripped; ++i) {
    if (d.add(svc(150, ema.value())))
      tripped = i;
    ema.add(150);
  }
  EXPECT_EQ(tripped, 2);
}

TEST(Overload, HeartbeatThresholdIsTheSameTwentyPercent) {
  overload_config c;
  EXPECT_EQ(overload_threshold_milli(c), 1200);
  c.max_slowdown = 0.15;  // 1.15 × 1000 is 1149.999… in binary: still 1150
  EXPECT_EQ(overload_threshold_milli(c), 1150);
  heartbeat h;
  h.worst_slowdown = 1199;
  EXPECT_FALSE(overload_hit(overload_config{}, h));
  h.worst_slowdown = 1200;
  EXPECT_TRUE(overload_hit(overload_config{}, h));
  h.worst_slowdown = 0;  // nothing measured
  c.max_slowdown = 0;
  EXPECT_FALSE(overload_hit(c, h));
}

TEST(Overload, ReportAndHeartbeatAgreeAtTheBoundary) {
  // The agent's summary of exec = 1.2 × EMA is 1200 ‰, which trips; just below is 1199 ‰.
  node_report r;
  r.capacity_gbps = 20;
  r.instances = {svc(120, 100)};
  EXPECT_TRUE(overload_hit(overload_config{}, summarise(r, 0, 20)));
  EXPECT_TRUE(overload_hit(overload_config{}, r.instances[0]));
  r.instances = {svc(std::nextafter(120.0, 0.0), 100)};
  EXPECT_FALSE(overload_hit(overload_config{}, summarise(r, 0, 20)));
  EXPECT_FALSE(overload_hit(overload_config{}, r.instances[0]));
}

TEST(DetectorConfig, OutOfRangeSettingsAreRejectedByName) {
  starvation_config s;
  s.k = 0;
  EXPECT_THROW(validate(s), std::invalid_argument);
  s = {};
  s.underuse_share = 1.5;
  try {
    validate(s);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("underuse_share"), std::string::npos);
  }
  s = {};
  s.queue_threshold = 70000;
  EXPECT_THROW(validate(s), std::invalid_argument);
  overload_config o;
  o.max_slowdown = -0.1;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.k = 70000;
  EXPECT_THROW(validate(o), std::invalid_argument);
  EXPECT_NO_THROW(validate(starvation_config{}));
  EXPECT_NO_THROW(validate(overload_config{}));
}
