// Tests of packet parsing and building, and of the capture reader on real captures.
#include <gtest/gtest.h>

#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"

using namespace e3::services;

TEST(Packet, BuiltUdpFrameParsesBack) {
  auto f = build_udp_frame(0x0a000001, 0x0a000002, 1234, 80, 512);
  ASSERT_EQ(f.size(), 512u);
  auto p = parse_frame(f);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->ipv4);
  EXPECT_TRUE(p->udp);
  EXPECT_EQ(p->src4, 0x0a000001u);
  EXPECT_EQ(p->dst4, 0x0a000002u);
  EXPECT_EQ(p->tuple.sport, 1234);
  EXPECT_EQ(p->tuple.dport, 80);
  EXPECT_EQ(p->payload_size, 512u - 42u);
}

TEST(Packet, ConversationHashIgnoresDirection) {
  auto a = parse_frame(build_udp_frame(1, 2, 10, 20, 64));
  auto b = parse_frame(build_udp_frame(2, 1, 20, 10, 64));
  EXPECT_NE(a->tuple.hash(), b->tuple.hash());
  EXPECT_EQ(a->tuple.conversation_hash(), b->tuple.conversation_hash());
}

TEST(Packet, TruncatedFramesNeverParseAsPayload) {
  auto f = build_udp_frame(1, 2, 10, 20, 100);
  for (std::size_t n = 0; n < 42; ++n) {
    auto p = parse_frame(e3::bytes_view(f.data(), n));
    EXPECT_TRUE(!p || !p->udp) << n;
  }
}

TEST(Packet, ParsesDottedQuads) {
  EXPECT_EQ(parse_ipv4("10.0.0.1").value(), 0x0a000001u);
  EXPECT_FALSE(parse_ipv4("10.0.0"));
  EXPECT_FALSE(parse_ipv4("10.0.0.256"));
  EXPECT_FALSE(parse_ipv4("10.0.0.1x"));
  EXPECT_EQ(ipv4_to_string(0xc0a80001), "192.168.0.1");
}

TEST(Pcap, ReadsClassicAndPcapngCapturesWithCapinfosPacketCounts) {
  // Packet counts from tshark_reference/*.capinfos.txt.
  EXPECT_EQ(read_pcap(E3_TEST_DATA_DIR "/pcap/http.pcap").size(), 43u);
  EXPECT_EQ(read_pcap(E3_TEST_DATA_DIR "/pcap/1kxun.pcap").size(), 1439u);
  EXPECT_EQ(read_pcap(E3_TEST_DATA_DIR "/pcap/synscan.pcap").size(), 2011u);
}

TEST(Pcap, BadFilesGetErrorsNamingFileAndOffset) {
  EXPECT_THROW(read_pcap("/nonexistent.pcap"), pcap_error);
  try {
    read_pcap(E3_SOURCE_DIR "/CMakeLists.txt");
    FAIL();
  } catch (const pcap_error& e) {
    EXPECT_NE(std::string(e.what()).find("CMakeLists.txt: byte 0"), std::string::npos) << e.what();
  }
}
