// rte_lpm wrapper: EAL start-up once per process, table creation, and the lookup loops a benchmark times.
#include "transport_dpdk/lpm_reference.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_memory.h>

namespace e3::dpdk {
namespace {

std::once_flag eal_once;
std::string eal_error;  // empty when EAL started

void start_eal() {
  std::string prefix = "--file-prefix=e3lpm" + std::to_string(::getpid());
  std::vector<std::string> args = {"e3-lpm-ref", "--no-huge", "--no-pci", "-m", "512", prefix,
                                   "-l", "0", "--log-level=error"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(int(args.size()), argv.data()) < 0) {
    eal_error = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno) +
                " (DPDK needs root here; EAL args: --no-huge --no-pci -m 512 -l 0)";
    return;
  }
  // EAL leaves its runtime directory (/var/run/dpdk/<prefix>, ~6 MB on tmpfs) behind: remove
  // it after cleanup, since the prefix is unique to this process.
  static std::string runtime_dir = rte_eal_get_runtime_dir();
  std::atexit([] {
    rte_eal_cleanup();
    std::error_code ec;
    std::filesystem::remove_all(runtime_dir, ec);
  });
}

std::atomic<unsigned> table_counter{0};

rte_lpm* as_lpm(void* p) { return static_cast<rte_lpm*>(p); }

}  // namespace

lpm_reference::lpm_reference(std::uint32_t max_rules, std::uint32_t tbl8_groups) {
  std::call_once(eal_once, start_eal);
  if (!eal_error.empty())
    throw lpm_reference_error(eal_error);
  rte_lpm_config cfg{};
  cfg.max_rules = max_rules;
  cfg.number_tbl8s = tbl8_groups;
  cfg.flags = 0;
  std::string name = "e3lpm" + std::to_string(table_counter++);
  lpm_ = rte_lpm_create(name.c_str(), SOCKET_ID_ANY, &cfg);
  if (!lpm_)
    throw lpm_reference_error("rte_lpm_create(" + std::to_string(max_rules) + " rules, " +
                              std::to_string(tbl8_groups) + " tbl8 groups) failed: " + rte_strerror(rte_errno));
}

lpm_reference::~lpm_reference() {
  if (lpm_)
    rte_lpm_free(as_lpm(lpm_));
}

void lpm_reference::add(std::uint32_t ip, std::uint8_t depth, std::uint32_t next_hop) {
  int rc = rte_lpm_add(as_lpm(lpm_), ip, depth, next_hop);
  if (rc < 0)
    throw lpm_reference_error("rte_lpm_add(depth " + std::to_string(depth) + ") failed: " + rte_strerror(-rc));
}

std::uint32_t lpm_reference::lookup(std::uint32_t ip, std::uint32_t miss) const {
  std::uint32_t hop = 0;
  return rte_lpm_lookup(as_lpm(lpm_), ip, &hop) == 0 ? hop : miss;
}

void lpm_reference::lookup_each(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                                std::uint32_t miss) const {
  const rte_lpm* lpm = as_lpm(lpm_);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t hop = 0;
    out[i] = rte_lpm_lookup(lpm, ips[i], &hop) == 0 ? hop : miss;
  }
}

void lpm_reference::lookup_bulk(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                                std::uint32_t miss) const {
  const rte_lpm* lpm = as_lpm(lpm_);
  constexpr unsigned batch = 64;
  std::size_t i = 0;
  for (; i + batch <= n; i += batch) {
    rte_lpm_lookup_bulk(lpm, ips + i, out + i, batch);
    for (unsigned j = 0; j < batch; ++j)
      out[i + j] = (out[i + j] & RTE_LPM_LOOKUP_SUCCESS) ? (out[i + j] & 0x00ffffff) : miss;
  }
  for (; i < n; ++i) {
    std::uint32_t hop = 0;
    out[i] = rte_lpm_lookup(lpm, ips[i], &hop) == 0 ? hop : miss;
  }
}

void lpm_reference::lookup_x4(const std::uint32_t* ips, std::uint32_t* out, std::size_t n,
                              std::uint32_t miss) const {
  const rte_lpm* lpm = as_lpm(lpm_);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    xmm_t v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ips + i));
    rte_lpm_lookupx4(lpm, v, out + i, miss);
  }
  for (; i < n; ++i) {
    std::uint32_t hop = 0;
    out[i] = rte_lpm_lookup(lpm, ips[i], &hop) == 0 ? hop : miss;
  }
}

}  // namespace e3::dpdk
