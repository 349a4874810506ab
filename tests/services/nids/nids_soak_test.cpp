// NIDS soak test: the reference hit counts on WebattackXSS.pcap (4.8 MB, read from the shared
// data folder, not copied into tests/data).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "services/nids/nids.hpp"

using namespace e3::services::nids;

namespace {
const std::string shared_pcap = E3_SOURCE_DIR "/../shared/data/pcap/WebattackXSS.pcap";

std::string reference(int min_len) {
  std::ifstream in(E3_TEST_DATA_DIR "/nids/ac_reference_results.tsv");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string ml, name, rest, cell;
    std::getline(f, ml, '\t');
    std::getline(f, name, '\t');
    while (std::getline(f, cell, '\t'))
      rest += (rest.empty() ? "" : " ") + cell;
    if (ml == "MINLEN=" + std::to_string(min_len) && name == "pcap/WebattackXSS.pcap")
      return rest;
  }
  return "no reference";
}
}  // namespace

TEST(NidsSoak, WebattackXssReferenceCounts) {
  if (!std::filesystem::exists(shared_pcap))
    GTEST_SKIP() << shared_pcap << " not present";
  auto packets = e3::services::read_pcap(shared_pcap);
  for (int min_len : {1, 4}) {
    automaton ac(load_patterns(E3_TEST_DATA_DIR "/nids/snort_community_content_patterns.tsv", std::size_t(min_len)));
    EXPECT_EQ(to_string(scan_capture(ac, packets)), reference(min_len)) << "MINLEN=" << min_len;
  }
}
