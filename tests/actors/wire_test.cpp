// The wire envelope: round trips, and every kind of malformed frame rejected and counted.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "actors/wire.hpp"

using namespace e3::wire;

namespace {

std::vector<std::uint8_t> sample(std::size_t payload = 5, std::size_t hops = 2) {
  header h;
  h.type = frame_type::request;
  h.flags = flag_replied;
  h.app = 7;
  h.dag_node = 42;
  h.src_node = 3;
  h.src_instance = 9;
  h.request_id = 0x1122334455667788ull;
  h.key = 99;
  h.credit = 1ull << 62;
  h.client_sent_ns = -1;
  h.sent_ns = 123456789;
  for (std::size_t i = 0; i < hops; ++i)
    h.hops.push_back({std::uint32_t(i), std::uint32_t(10 + i), std::int64_t(1000 * i)});
  std::vector<std::uint8_t> p(payload, 0xab), out;
  encode(h, p, out);
  return out;
}

decode_error why_of(const std::vector<std::uint8_t>& b) {
  decode_error why{};
  EXPECT_FALSE(decode(b, &why));
  return why;
}

}  // namespace

TEST(Wire, RoundTripsEveryField) {
  auto b = sample();
  EXPECT_EQ(b.size(), fixed_header_bytes + 2 * hop_bytes + 5);
  auto f = decode(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->h.type, frame_type::request);
  EXPECT_EQ(f->h.flags, flag_replied);
  EXPECT_EQ(f->h.app, 7u);
  EXPECT_EQ(f->h.dag_node, 42u);
  EXPECT_EQ(f->h.src_node, 3u);
  EXPECT_EQ(f->h.src_instance, 9u);
  EXPECT_EQ(f->h.request_id, 0x1122334455667788ull);
  EXPECT_EQ(f->h.key, 99u);
  EXPECT_EQ(f->h.credit, 1ull << 62);
  EXPECT_EQ(f->h.client_sent_ns, -1);
  EXPECT_EQ(f->h.sent_ns, 123456789);
  ASSERT_EQ(f->h.hops.size(), 2u);
  EXPECT_EQ(f->h.hops[1].instance, 11u);
  EXPECT_EQ(f->h.hops[1].done_ns, 1000);
  ASSERT_EQ(f->payload.size(), 5u);
  EXPECT_EQ(f->payload[4], 0xab);
}

TEST(Wire, EveryTruncationIsRejectedAsTruncated) {
  auto b = sample(20, 3);
  decode_stats stats;
  for (std::size_t n = 0; n < b.size(); ++n) {
    decode_error why{};
    EXPECT_FALSE(decode(std::span(b.data(), n), &why, &stats)) << n;
    EXPECT_EQ(why, decode_error::truncated) << n;
  }
  EXPECT_EQ(stats.rejected[std::size_t(decode_error::truncated)].load(), b.size());
  EXPECT_EQ(stats.total(), b.size());
}

TEST(Wire, EachMalformationHasItsReason) {
  auto b = sample();
  auto bad = b;
  bad[0] ^= 1;
  EXPECT_EQ(why_of(bad), decode_error::bad_magic);
  bad = b;
  bad[4] = 2;
  EXPECT_EQ(why_of(bad), decode_error::bad_version);
  bad = b;
  bad[5] = 9;
  EXPECT_EQ(why_of(bad), decode_error::bad_type);
  bad = b;
  bad[5] = 0;
  EXPECT_EQ(why_of(bad), decode_error::bad_type);
  bad = b;
  bad[6] = 200;
  EXPECT_EQ(why_of(bad), decode_error::too_many_hops);
  bad = b;
  bad[6] = 1;  // hop count disagrees with header_bytes
  EXPECT_EQ(why_of(bad), decode_error::bad_header_length);
  bad = b;
  bad[10] = 1;
  EXPECT_EQ(why_of(bad), decode_error::bad_reserved);
  bad = b;
  bad.push_back(0);  // a byte past the payload
  EXPECT_EQ(why_of(bad), decode_error::bad_payload_length);
  bad = b;
  bad[15] = 0x7f;  // a payload length of ~2 GB
  EXPECT_EQ(why_of(bad), decode_error::oversized);
}

TEST(Wire, EncoderRefusesWhatTheDecoderWouldReject) {
  header h;
  h.hops.resize(max_hops + 1);
  std::vector<std::uint8_t> out;
  EXPECT_THROW(encode(h, {}, out), std::length_error);
  h.hops.clear();
  std::vector<std::uint8_t> big(max_payload_bytes + 1);
  EXPECT_THROW(encode(h, big, out), std::length_error);
}

TEST(Wire, RandomBytesNeverCrashAndAreAlmostAlwaysRejected) {
  std::mt19937_64 rng(7);
  decode_stats stats;
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> b(rng() % 300);
    for (auto& x : b)
      x = std::uint8_t(rng());
    if (i % 2 && b.size() >= 8) {  // half with a valid magic and version, to get deeper
      std::memcpy(b.data(), &magic, 4);
      b[4] = version;
    }
    accepted += decode(b, nullptr, &stats).has_value();
  }
  EXPECT_EQ(stats.total() + accepted, 20000u);
  EXPECT_LT(accepted, 10u);
}
