// The service profiler: flushes every group as the runtime does, counts rejections, reports a
// failing kind instead of crashing, measures one instance's memory, and runs real kinds.
#include <gtest/gtest.h>

#include <cstring>

#include "bench/services_table/profiler.hpp"
#include "services/services.hpp"

namespace {

using namespace e3;

/// A stateful fake: counts handles and flushes, stores a counter on flush, rejects every
/// `reject_every`-th request, and allocates `alloc` touched bytes on start.
class fake_service final : public service {
 public:
  fake_service(std::size_t reject_every, std::size_t alloc) : reject_every_(reject_every), alloc_(alloc) {}
  void on_start(service_context&) override {
    block_.resize(alloc_);
    if (!block_.empty())  // memset on an empty vector's null data() is undefined
      std::memset(block_.data(), 1, block_.size());
  }
  void handle(const request& req, service_context& ctx) override {
    ++handled_;
    if (reject_every_ && handled_ % reject_every_ == 0) {
      ctx.reject("fake: every " + std::to_string(reject_every_));
      return;
    }
    ctx.reply(req.payload);
  }
  void flush(service_context& ctx) override {
    auto& t = ctx.state().get_table("n");
    t.put("handled", std::to_string(handled_));
  }

 private:
  std::size_t reject_every_, alloc_;
  std::size_t handled_ = 0;
  std::vector<char> block_;
};

service_kind fake_kind(std::size_t reject_every = 0, std::size_t alloc = 0) {
  service_kind k;
  k.name = "fake";
  k.stateful = true;
  k.make = [=](const service_config&) { return std::make_unique<fake_service>(reject_every, alloc); };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) { return bytes(size + rng() % 2, 7); };
  return k;
}

bench::timing_options quick() {
  bench::timing_options o;
  o.pool = 16;
  o.batches = 3;
  o.batch_ms = 0.2;
  o.warmup_ms = 0.2;
  return o;
}

TEST(Profiler, FlushesEveryGroupAndTimesWholeGroups) {
  auto o = quick();
  auto t = bench::time_requests(fake_kind(), 100, o);
  EXPECT_GT(t.us, 0);
  EXPECT_GE(t.us_median, t.us);
  EXPECT_EQ(t.requests % o.group, 0u);
  EXPECT_EQ(t.handled % o.group, 0u);
  EXPECT_EQ(t.flushes, t.handled / o.group);
  EXPECT_EQ(t.replies, t.handled);
  EXPECT_EQ(t.rejections, 0u);
  EXPECT_EQ(t.target_bytes, 100u);
  EXPECT_GE(t.min_bytes, 100u);
  EXPECT_LE(t.max_bytes, 101u);
  EXPECT_GE(t.mean_bytes, 100);
  EXPECT_LE(t.mean_bytes, 101);
}

TEST(Profiler, CountsRejections) {
  auto t = bench::time_requests(fake_kind(4), 64, quick());
  EXPECT_EQ(t.rejections, t.handled / 4);
  EXPECT_EQ(t.replies + t.rejections, t.handled);
  EXPECT_EQ(t.first_rejection, "fake: every 4");
}

TEST(Profiler, IsolatedRunReturnsTheChildsMeasurement) {
  auto t = bench::time_requests_isolated(fake_kind(8), 64, quick());
  EXPECT_GT(t.us, 0);
  EXPECT_EQ(t.flushes, t.handled / 64);
  EXPECT_EQ(t.rejections, t.handled / 8);
  EXPECT_EQ(t.first_rejection, "fake: every 8");
}

TEST(Profiler, AFailingKindIsReportedNotFatal) {
  auto k = fake_kind();
  k.make = [](const service_config&) -> std::unique_ptr<service> { throw std::invalid_argument("no table"); };
  EXPECT_THROW(bench::time_requests(k, 64, quick()), std::invalid_argument);
  try {
    bench::time_requests_isolated(k, 64, quick());
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "no table");
  }
  auto f = bench::measure_footprint(k, 64, 10, quick());
  EXPECT_EQ(f.error, "no table");
}

TEST(Profiler, FootprintSeesTheInstancesMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces malloc, so mallinfo2 sees none of the instance's heap";
#endif
  const std::size_t mib = 1024 * 1024;
  auto f = bench::measure_footprint(fake_kind(0, 8 * mib), 64, 256, quick());
  ASSERT_EQ(f.error, "");
  // 8 MiB on the heap (one mmapped chunk), touched, so resident too; the rest is small change.
  EXPECT_GE(f.heap_mb, 8.0);
  EXPECT_LT(f.heap_mb, 8.5);
  EXPECT_GE(f.rss_mb, 7.9);
  EXPECT_LT(f.rss_mb, 9.0);
  EXPECT_DOUBLE_EQ(f.mb(), std::max(f.heap_mb, f.rss_mb));
}

TEST(Profiler, RunsEveryRegisteredKindOnItsOwnRequests) {
  service_registry reg;
  services::register_all(reg);
  auto o = quick();
  o.pool = 8;
  o.batches = 1;
  o.batch_ms = 0.05;
  o.warmup_ms = 0.05;
  for (const auto& name : reg.names()) {
    auto t = bench::time_requests(reg.at(name), 512, o);
    EXPECT_GT(t.us, 0) << name;
    EXPECT_EQ(t.rejections, 0u) << name << ": " << t.first_rejection;
    EXPECT_GT(t.replies + t.emits, 0u) << name;
  }
}

}  // namespace
