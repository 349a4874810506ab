// Measuring a service kind: CPU time per request and the footprint of one instance.
#include "bench/services_table/profiler.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace e3::bench {
namespace {

/// A context that counts what a handler outputs instead of keeping it, so that the measured
/// time is the service's, not a recorder's; in-memory collections as the runtime uses; a
/// virtual clock the driver advances.
class counting_context final : public service_context {
 public:
  counting_context() : state_(state::make_memory_collections()) {}
  void reply(bytes_view p) override {
    ++replies;
    out_bytes += p.size();
  }
  void emit(std::uint64_t, bytes_view p) override {
    ++emits;
    out_bytes += p.size();
  }
  void reject(std::string_view reason) override {
    if (rejections++ == 0)
      first_rejection = reason;
  }
  state::collections& state() override { return *state_; }
  std::int64_t now_ns() const override { return now; }

  std::int64_t now = 1'000'000'000;  ///< virtual clock (ns), advanced per request
  std::uint64_t replies = 0, emits = 0, rejections = 0, out_bytes = 0;
  std::string first_rejection;

 private:
  std::unique_ptr<state::collections> state_;
};

double thread_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return double(u.ru_minflt);
}

double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

std::vector<bytes> make_pool(const service_kind& k, std::size_t size, const timing_options& o) {
  std::mt19937_64 rng(o.seed * 1000003u + size);
  std::vector<bytes> pool;
  pool.reserve(o.pool);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, o.pool); ++i)
    pool.push_back(k.synthetic_request(size, rng));
  return pool;
}

/// Runs requests through an instance, flushing every `group`, counting what happens.
class driver {
 public:
  driver(const service_kind& k, const std::vector<bytes>& pool, std::size_t group, std::int64_t step_ns)
      : svc_(k.make(service_config{})), pool_(pool), group_(std::max<std::size_t>(1, group)), step_ns_(step_ns) {
    svc_->on_start(ctx_);
    // As the runtime does at start: a first flush, not charged to requests.
    svc_->flush(ctx_);
    ctx_.state().commit();
  }

  /// Runs `n` requests; `clock_flush` times each flush on the steady clock (~50 ns a read
  /// here; reading the thread CPU clock is a system call, ~2 µs in this VM).
  void run(std::size_t n, bool clock_flush) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto& b = pool_[next_];
      next_ = next_ + 1 == pool_.size() ? 0 : next_ + 1;
      request r;
      r.id = ++handled;
      r.key = r.id;
      r.payload = b;
      ctx_.now += step_ns_;
      try {
        svc_->handle(r, ctx_);
      } catch (const std::exception& e) {
        ctx_.reject(std::string("exception: ") + e.what());
      }
      if (++since_flush_ == group_) {
        since_flush_ = 0;
        if (clock_flush) {
          auto t0 = std::chrono::steady_clock::now();
          flush();
          flush_ns += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
        } else {
          flush();
        }
      }
    }
  }

  counting_context& ctx() { return ctx_; }

  std::uint64_t handled = 0;  ///< requests run
  std::uint64_t flushes = 0;  ///< flush()+commit() calls after start
  double flush_ns = 0;        ///< steady-clock time in the clocked flushes

 private:
  void flush() {
    svc_->flush(ctx_);
    ctx_.state().commit();
    ++flushes;
  }

  counting_context ctx_;
  std::unique_ptr<service> svc_;
  const std::vector<bytes>& pool_;
  std::size_t group_;
  std::int64_t step_ns_;
  std::size_t next_ = 0;
  std::size_t since_flush_ = 0;
};

/// Anonymous resident memory of this process, bytes (RssAnon in /proc/self/status).
double rss_anon_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0)
      return std::strtod(line.c_str() + 8, nullptr) * 1024.0;
  return 0;
}

double heap_in_use_bytes() {
  auto m = mallinfo2();
  return double(m.uordblks) + double(m.hblkhd);
}

/// Runs `fn` (returning bytes to hand back) in a forked child and returns what it wrote; on a
/// child that died before writing all of it, sets `error` and returns nothing.
template <class F>
std::string in_child(F&& fn, std::string& error) {
  int fds[2];
  if (::pipe(fds) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return {};
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return {};
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = fn();
    std::uint64_t n = out.size();
    out.insert(0, reinterpret_cast<const char*>(&n), sizeof n);
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      auto w = ::write(fds[1], p, left);
      if (w <= 0)
        break;
      p += w;
      left -= std::size_t(w);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  while (true) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0)
      break;
    got.append(buf, std::size_t(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::uint64_t n = 0;
  if (got.size() >= sizeof n)
    std::memcpy(&n, got.data(), sizeof n);
  if (got.size() < sizeof n || got.size() - sizeof n != n) {
    error = "the measuring child died" +
            (WIFSIGNALED(status) ? " (signal " + std::to_string(WTERMSIG(status)) + ")" : std::string());
    return {};
  }
  return got.substr(sizeof n);
}

/// Appends a trivially copyable value's bytes.
template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

/// Reads a value written by put(); false when the bytes run out.
template <class T>
bool take(std::string_view& in, T& v) {
  if (in.size() < sizeof v)
    return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

}  // namespace

timing time_requests(const service_kind& k, std::size_t size, const timing_options& o) {
  timing t;
  t.target_bytes = size;
  auto pool = make_pool(k, size, o);
  t.min_bytes = ~std::size_t(0);
  double total = 0;
  for (const auto& b : pool) {
    total += double(b.size());
    t.min_bytes = std::min(t.min_bytes, b.size());
    t.max_bytes = std::max(t.max_bytes, b.size());
  }
  t.mean_bytes = total / double(pool.size());

  driver d(k, pool, o.group, o.clock_step_ns);
  // Warm-up: run whole groups until warmup_ms of CPU time; it also estimates the cost.
  double w0 = thread_cpu_ns(), spent = 0;
  std::uint64_t warm = 0;
  do {
    d.run(o.group, false);
    warm += o.group;
    spent = thread_cpu_ns() - w0;
  } while (spent < o.warmup_ms * 1e6 && warm < 50'000'000);
  double est_ns = spent / double(warm);
  std::size_t n = std::size_t(o.batch_ms * 1e6 / std::max(est_ns, 1.0));
  n = std::max(n, o.min_batch);
  n = (n + o.group - 1) / o.group * o.group;  // whole groups: each batch carries its flushes
  t.requests = n;

  std::vector<double> per_request;
  double faults_before = thread_minor_faults();
  for (int b = 0; b < std::max(1, o.batches); ++b) {
    double c0 = thread_cpu_ns();
    d.run(n, false);
    per_request.push_back((thread_cpu_ns() - c0) / double(n) / 1e3);
  }
  t.faults = (thread_minor_faults() - faults_before) / double(n * per_request.size());
  std::sort(per_request.begin(), per_request.end());
  t.us = per_request.front();
  t.us_median = per_request[per_request.size() / 2];
  // The flush share, from separate batches that clock every flush (so the clock reads do not
  // touch the timed batches); the least disturbed of up to 3 batches.
  const int flush_batches = std::min(3, std::max(1, o.batches));
  d.run(n, true);
  t.flush_us = d.flush_ns / double(n) / 1e3;
  for (int b = 1; b < flush_batches; ++b) {
    double before = d.flush_ns;
    d.run(n, true);
    t.flush_us = std::min(t.flush_us, (d.flush_ns - before) / double(n) / 1e3);
  }
  t.handled = d.handled;
  t.flushes = d.flushes;
  t.replies = d.ctx().replies;
  t.emits = d.ctx().emits;
  t.rejections = d.ctx().rejections;
  t.first_rejection = d.ctx().first_rejection;
  return t;
}

timing time_requests_isolated(const service_kind& k, std::size_t size, const timing_options& o) {
  std::string error;
  auto bytes = in_child(
      [&] {
        std::string out;
        try {
          auto t = time_requests(k, size, o);
          put(out, char(1));
          put(out, t.target_bytes);
          put(out, t.mean_bytes);
          put(out, t.min_bytes);
          put(out, t.max_bytes);
          put(out, t.us);
          put(out, t.us_median);
          put(out, t.flush_us);
          put(out, t.faults);
          put(out, t.requests);
          put(out, t.handled);
          put(out, t.flushes);
          put(out, t.replies);
          put(out, t.emits);
          put(out, t.rejections);
          out += t.first_rejection;
        } catch (const std::exception& e) {
          out.assign(1, char(0));
          out += e.what();
        }
        return out;
      },
      error);
  if (!error.empty())
    throw std::runtime_error(error);
  std::string_view in = bytes;
  char ok = 0;
  if (!take(in, ok))
    throw std::runtime_error("the measuring child wrote nothing");
  if (!ok)
    throw std::runtime_error(std::string(in));
  timing t;
  bool all = take(in, t.target_bytes) && take(in, t.mean_bytes) && take(in, t.min_bytes) && take(in, t.max_bytes) &&
             take(in, t.us) && take(in, t.us_median) && take(in, t.flush_us) && take(in, t.faults) && take(in, t.requests) &&
             take(in, t.handled) && take(in, t.flushes) && take(in, t.replies) && take(in, t.emits) &&
             take(in, t.rejections);
  if (!all)
    throw std::runtime_error("the measuring child's result is truncated");
  t.first_rejection = std::string(in);
  return t;
}

footprint measure_footprint(const service_kind& k, std::size_t size, std::size_t warmup_requests,
                            const timing_options& o) {
  footprint f;
  auto bytes = in_child(
      [&] {
        std::string out;
        try {
          auto pool = make_pool(k, size, o);
          malloc_trim(0);
          double heap0 = heap_in_use_bytes(), rss0 = rss_anon_bytes();
          double heap = 0, rss = 0;
          {
            driver d(k, pool, o.group, o.clock_step_ns);
            d.run(warmup_requests, false);
            heap = heap_in_use_bytes() - heap0;
            rss = rss_anon_bytes() - rss0;
          }
          put(out, char(1));
          put(out, heap);
          put(out, rss);
        } catch (const std::exception& e) {
          out.assign(1, char(0));
          out += e.what();
        }
        return out;
      },
      f.error);
  if (!f.error.empty())
    return f;
  std::string_view in = bytes;
  char ok = 0;
  double heap = 0, rss = 0;
  if (!take(in, ok)) {
    f.error = "the measuring child wrote nothing";
  } else if (!ok) {
    f.error = std::string(in);
  } else if (!take(in, heap) || !take(in, rss)) {
    f.error = "the measuring child's result is truncated";
  } else {
    f.heap_mb = std::max(0.0, heap) / (1024.0 * 1024.0);
    f.rss_mb = std::max(0.0, rss) / (1024.0 * 1024.0);
  }
  return f;
}

}  // namespace e3::bench
