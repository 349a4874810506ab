// Tests of the record format.
#include <gtest/gtest.h>

#include "services/common/record.hpp"

using namespace e3::services;

TEST(Record, RoundTripsEveryField) {
  record r;
  r.op = 3;
  r.key = 0xdeadbeef;
  r.ts_ns = -5;
  r.value = 2.5;
  r.features = {1.0, -2.0};
  r.text = "hello";
  r.aux = std::string("\0z", 2);
  auto b = encode(r);
  EXPECT_EQ(b.size(), record_header_size + 16 + 5 + 2);
  auto d = decode_record(b);
  EXPECT_EQ(d.op, 3);
  EXPECT_EQ(d.key, 0xdeadbeefu);
  EXPECT_EQ(d.ts_ns, -5);
  EXPECT_EQ(d.value, 2.5);
  EXPECT_EQ(d.features, r.features);
  EXPECT_EQ(d.text, "hello");
  EXPECT_EQ(d.aux, r.aux);
}

TEST(Record, EveryTruncationAndExtensionIsRejected) {
  record r;
  r.text = "abc";
  r.features = {1};
  auto b = encode(r);
  for (std::size_t n = 0; n < b.size(); ++n)
    EXPECT_THROW(decode_record(e3::bytes_view(b.data(), n)), record_error);
  b.push_back(0);
  EXPECT_THROW(decode_record(b), record_error);
}

TEST(Record, HugeLengthFieldsAreRejectedWithoutAllocating) {
  auto b = encode(record{});
  b[4] = b[5] = b[6] = b[7] = 0xff;
  EXPECT_THROW(decode_record(b), record_error);
}
