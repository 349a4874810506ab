// The 16-byte heartbeat: exact layout, strict decoding (length, version, field ranges), and the
// summary an agent computes from a full report (quantisation, saturation, slots).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "migration/migration.hpp"

using namespace e3::mig;

namespace {

heartbeat sample() {
  heartbeat h;
  h.services = 3;
  h.seq = 0x1234;
  h.node = 0xA0B0C0D0;
  h.tm_queue = 0x0102;
  h.link_use = 150;
  h.utilisation = 200;
  h.worst_slowdown = 1200;
  h.hottest = 2;
  h.second = 0;
  return h;
}

instance_report inst(std::uint32_t id, double cpu, std::uint32_t requests = 100, double exec = 10, double ema = 10) {
  instance_report r;
  r.instance = id;
  r.cpu_share = cpu;
  r.requests = requests;
  r.exec_us = exec;
  r.ema_exec_us = ema;
  return r;
}

}  // namespace

TEST(Heartbeat, LayoutIsLittleEndianSixteenBytes) {
  auto b = encode_heartbeat(sample());
  ASSERT_EQ(b.size(), 16u);
  std::array<std::uint8_t, 16> want{1, 3, 0x34, 0x12, 0xD0, 0xC0, 0xB0, 0xA0, 0x02, 0x01, 150, 200, 0xB0, 0x04, 2, 0};
  EXPECT_EQ(b, want);
}

TEST(Heartbeat, RoundTrips) {
  auto b = encode_heartbeat(sample());
  heartbeat out;
  ASSERT_EQ(decode_heartbeat(b, out), heartbeat_error::ok);
  EXPECT_EQ(out, sample());
}

TEST(Heartbeat, RejectsEveryOtherLength) {
  auto b = encode_heartbeat(sample());
  std::vector<std::uint8_t> v(b.begin(), b.end());
  heartbeat out;
  for (std::size_t n : {0u, 1u, 15u}) {
    EXPECT_EQ(decode_heartbeat(std::span<const std::uint8_t>(v.data(), n), out), heartbeat_error::bad_length) << n;
  }
  v.push_back(0);
  EXPECT_EQ(decode_heartbeat(v, out), heartbeat_error::bad_length);
  EXPECT_EQ(describe_heartbeat_error(v), "heartbeat: 17 bytes, expected 16");
}

TEST(Heartbeat, RejectsOtherVersions) {
  auto b = encode_heartbeat(sample());
  heartbeat out;
  for (std::uint8_t v : {0, 2, 255}) {
    b[0] = v;
    EXPECT_EQ(decode_heartbeat(b, out), heartbeat_error::bad_version) << int(v);
  }
  EXPECT_EQ(describe_heartbeat_error(b), "heartbeat byte 0: version 255, expected 1");
}

TEST(Heartbeat, RejectsFieldsOutOfRangeNamingTheByte) {
  heartbeat out;
  struct bad_case {
    std::size_t offset;
    std::uint8_t value;
    const char* text;
  };
  // Each case breaks exactly one rule of the layout.
  for (auto c : {bad_case{10, 201, "heartbeat byte 10: link use above 200"},
                 bad_case{11, 201, "heartbeat byte 11: utilisation above 200"},
                 bad_case{14, 3, "heartbeat byte 14: hottest slot not below the services count"},
                 bad_case{15, 3, "heartbeat byte 15: second slot not below the services count"},
                 bad_case{15, 2, "heartbeat byte 15: second slot equals the hottest slot"}}) {
    auto b = encode_heartbeat(sample());
    b[c.offset] = c.value;
    EXPECT_EQ(decode_heartbeat(b, out), heartbeat_error::bad_field) << c.text;
    EXPECT_EQ(describe_heartbeat_error(b).rfind(c.text, 0), 0u) << describe_heartbeat_error(b);
  }
  auto b = encode_heartbeat(sample());
  b[14] = no_slot;  // a second slot without a hottest one
  EXPECT_EQ(decode_heartbeat(b, out), heartbeat_error::bad_field);
  b = encode_heartbeat(sample());
  b[1] = 0;  // no services, yet slots named
  EXPECT_EQ(decode_heartbeat(b, out), heartbeat_error::bad_field);
  // At the limits the fields are fine.
  b = encode_heartbeat(sample());
  b[10] = 200;
  b[11] = 0;
  EXPECT_EQ(decode_heartbeat(b, out), heartbeat_error::ok);
  EXPECT_EQ(describe_heartbeat_error(b), "ok");
}

TEST(Heartbeat, AnythingThatDecodesReencodesToTheSameBytes) {
  // Strictness: a decoded heartbeat has exactly one byte form, so no two byte strings mean the
  // same thing and nothing is silently normalised. Random bytes, seeded; version byte fixed so
  // a good share of them decode.
  std::mt19937_64 rng(7);
  int decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    std::array<std::uint8_t, 16> b;
    for (auto& x : b)
      x = std::uint8_t(rng());
    b[0] = heartbeat_version;
    heartbeat h;
    if (decode_heartbeat(b, h) != heartbeat_error::ok)
      continue;
    ++decoded;
    ASSERT_EQ(encode_heartbeat(h), b);
  }
  EXPECT_GT(decoded, 1000);
}

TEST(Heartbeat, SummaryQuantisesDownAndSaturates) {
  node_report r;
  r.node = 42;
  r.tm_queue = 70000;  // beyond 16 bits
  r.capacity_gbps = 20;
  r.link_in_gbps = 9.999;  // 49.995 % -> 99 half-percent steps (rounded down)
  r.link_out_gbps = 1;
  r.utilisation = 1.3;  // clamps at 100 %
  r.instances = {inst(5, 0.2, 100, 120, 100)};
  auto h = summarise(r, 9, 20);
  EXPECT_EQ(h.node, 42u);
  EXPECT_EQ(h.seq, 9);
  EXPECT_EQ(h.tm_queue, 65535);
  EXPECT_EQ(h.link_use, 99);
  EXPECT_EQ(h.utilisation, 200);
  EXPECT_EQ(h.worst_slowdown, 1200);  // 120 / 100 exactly
  EXPECT_EQ(h.services, 1);
  EXPECT_EQ(h.hottest, 0);
  EXPECT_EQ(h.second, no_slot);
  r.link_in_gbps = 10;  // exactly 50 % -> 100
  EXPECT_EQ(summarise(r, 9, 20).link_use, 100);
  EXPECT_EQ(to_slowdown_milli(119.99, 100), 1199);
  EXPECT_EQ(to_slowdown_milli(1e9, 1), 65535);
  EXPECT_EQ(to_slowdown_milli(0, 100), 1);  // measured, just fast: not "none"
  EXPECT_EQ(to_slowdown_milli(5, 0), 0);
  EXPECT_EQ(to_half_percent(std::nan("")), 0);
}

TEST(Heartbeat, SummarySlotsRankInstancesByIdAndBreakTiesLow) {
  node_report r;
  r.capacity_gbps = 20;
  // Listed out of id order: slots are ranks among ids {3, 8, 11, 20} -> 3:0, 8:1, 11:2, 20:3.
  r.instances = {inst(20, 0.5), inst(3, 0.1), inst(11, 0.7), inst(8, 0.7)};
  auto h = summarise(r, 0, 20);
  EXPECT_EQ(h.services, 4);
  EXPECT_EQ(h.hottest, 1);  // ids 8 and 11 tie at 0.7: the lower id is hottest
  EXPECT_EQ(h.second, 2);
  EXPECT_EQ(decode_heartbeat(encode_heartbeat(h), h), heartbeat_error::ok);
}

TEST(Heartbeat, SummaryLeavesOutServicesWithTooFewRequests) {
  node_report r;
  r.capacity_gbps = 20;
  r.instances = {inst(1, 0.5, 19, 500, 100), inst(2, 0.1, 20, 110, 100)};
  EXPECT_EQ(summarise(r, 0, 20).worst_slowdown, 1100);
  EXPECT_EQ(summarise(r, 0, 19).worst_slowdown, 5000);
  r.instances = {inst(1, 0.5, 100, 500, 0)};  // no EMA yet
  EXPECT_EQ(summarise(r, 0, 20).worst_slowdown, 0);
  r.instances.clear();
  auto h = summarise(r, 0, 20);
  EXPECT_EQ(h.services, 0);
  EXPECT_EQ(h.hottest, no_slot);
  EXPECT_EQ(decode_heartbeat(encode_heartbeat(h), h), heartbeat_error::ok);
}

TEST(Heartbeat, KindIdsFollowTable1) {
  EXPECT_NE(kind_of("top_ranker"), no_kind);
  EXPECT_EQ(kind_name(kind_of("top_ranker")), "top_ranker");
  EXPECT_EQ(kind_of("no such kind"), no_kind);
  EXPECT_EQ(kind_name(no_kind), "?");
}

TEST(Heartbeat, TrailingEmaStartsAtTheFirstSample) {
  exec_ema e(0.2);
  EXPECT_EQ(e.value(), 0);
  e.add(100);
  EXPECT_EQ(e.value(), 100);
  e.add(150);
  EXPECT_DOUBLE_EQ(e.value(), 110);
}
