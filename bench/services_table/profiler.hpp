// Measures one service kind on this machine: CPU time per request at a request size (one thread,
// warm, the group commit's flush amortised) and the memory footprint of one instance.
//
// Time: thread CPU time (CLOCK_THREAD_CPUTIME_ID) of whole batches of requests, so that time
// this 2-core machine spends on other processes is not counted; the best of several batches is
// the figure (the least disturbed by cache pollution and interrupts), the median is reported
// beside it. A stateful kind's flush() and commit() run every `group` requests, as the node
// runtime's group commit does (actors/node.cpp, max_group = 64), and their time is inside the
// batch; their share is measured in separate batches that clock each flush on the steady clock
// (the thread CPU clock is a system call, ~2 µs a read in this VM: fine per batch, not per flush).
//
// Each measurement can run in a forked child (time_requests_isolated), so that no kind inherits
// the heap another kind grew and freed.
//
// Memory: measured in a forked child so every kind starts from the same clean heap: the growth
// of malloc's in-use bytes (mallinfo2: arena + mmapped chunks) and of the process's anonymous
// resident memory (RssAnon) from before make() to after on_start() and a warm-up. The footprint
// is the larger of the two: the heap figure misses memory a service maps itself (NAT's
// DIR-24-8 table), the RSS figure misses heap that was reserved but never touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/service.hpp"

namespace e3::bench {

/// How time_requests() and measure_footprint() run a kind.
struct timing_options {
  std::size_t pool = 1024;     ///< distinct synthetic requests, generated up front and cycled
  std::size_t group = 64;      ///< requests per flush()+commit() (actors/node.cpp max_group)
  int batches = 11;            ///< timed batches; the least CPU time per request counts
  double batch_ms = 5;         ///< CPU time one batch should take (sets its request count)
  double warmup_ms = 20;       ///< CPU time of the warm-up before the batches
  std::size_t min_batch = 64;  ///< fewest requests in a batch
  std::uint64_t seed = 1;      ///< seeds the synthetic requests
  /// The context's now_ns() is a virtual clock advancing this much per request (10 µs: an
  /// offered load of 100 K requests/s per instance, about Table 1's DPDK rates per core), so
  /// time-driven behaviour (token refill, windows, idle timeouts) does not depend on how fast
  /// this machine happens to run the service.
  std::int64_t clock_step_ns = 10'000;
};

/// One kind measured at one request size.
struct timing {
  std::size_t target_bytes = 0;  ///< the size asked of synthetic_request
  double mean_bytes = 0;         ///< mean size of the requests it produced
  std::size_t min_bytes = 0;     ///< smallest request produced
  std::size_t max_bytes = 0;     ///< largest request produced
  double us = 0;                 ///< best batch: thread CPU µs per request, flush included
  double us_median = 0;          ///< median batch, same unit
  double flush_us = 0;           ///< of `us`: flush()+commit() per request (amortised), steady clock, best of up to 3 extra batches
  double faults = 0;             ///< minor page faults per request in the timed batches (first-touch memory)
  std::size_t requests = 0;      ///< requests per timed batch
  std::uint64_t handled = 0;     ///< requests run (warm-up and batches)
  std::uint64_t flushes = 0;     ///< flush()+commit() calls (warm-up and batches)
  std::uint64_t replies = 0;     ///< reply() calls
  std::uint64_t emits = 0;       ///< emit() calls
  std::uint64_t rejections = 0;  ///< reject() calls and exceptions out of handle()
  std::string first_rejection;   ///< the first rejection's reason, for the report
};

/// Runs `k` (an instance from make() with default parameters) on its own synthetic requests of
/// about `size` bytes and measures the CPU time per request. Throws what make() or on_start()
/// throws; rejections and exceptions out of handle() are counted, not thrown.
timing time_requests(const service_kind& k, std::size_t size, const timing_options& o = {});

/// time_requests() in a forked child, so that every measurement starts from the same clean
/// process: a kind does not inherit the heap another kind grew and freed (which would hide the
/// page faults a growing state pays on fresh memory). Throws std::runtime_error with the
/// child's error when make() or on_start() failed, or when the child died. Call it only while
/// the process has one thread.
timing time_requests_isolated(const service_kind& k, std::size_t size, const timing_options& o = {});

/// The memory one instance of a kind takes.
struct footprint {
  double heap_mb = 0;  ///< growth of malloc's in-use bytes (MiB)
  double rss_mb = 0;   ///< growth of anonymous resident memory (MiB)
  std::string error;   ///< why it could not be measured; empty on success
  /// The footprint: the larger of the two figures (see the file comment).
  double mb() const { return heap_mb > rss_mb ? heap_mb : rss_mb; }
};

/// Measures one instance of `k` after make(), on_start() and `warmup_requests` requests of
/// `size` bytes (flush every o.group), in a forked child. Call it before other work has grown
/// the heap, and only while the process has one thread.
footprint measure_footprint(const service_kind& k, std::size_t size, std::size_t warmup_requests,
                            const timing_options& o = {});

}  // namespace e3::bench
