// libFuzzer target: the envelope decoder must reject or accept any bytes without crashing, and
// whatever it accepts must re-encode to exactly the same bytes.
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "actors/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static e3::wire::decode_stats stats;
  auto f = e3::wire::decode({data, size}, nullptr, &stats);
  if (!f)
    return 0;
  std::vector<std::uint8_t> again;
  e3::wire::encode(f->h, f->payload, again);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data))
    std::abort();  // an accepted frame must round-trip exactly
  return 0;
}
