// The load generator.
#include "apps/loadgen.hpp"

#include <charconv>
#include <unordered_map>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "services/common/packet.hpp"
#include "services/common/pcap.hpp"
#include "services/common/record.hpp"

namespace e3::apps {
namespace {

class synthetic final : public request_source {
 public:
  synthetic(const service_kind& k, std::size_t bytes, std::uint64_t seed) : kind_(k), bytes_(bytes), rng_(seed) {}
  void next(std::uint64_t& key, bytes& payload) override {
    key = rng_();
    payload = kind_.synthetic_request(bytes_, rng_);
  }
  std::string describe() const override { return "synthetic " + std::to_string(bytes_) + " B " + kind_.name + " requests"; }

 private:
  const service_kind& kind_;
  std::size_t bytes_;
  std::mt19937_64 rng_;
};

class record_gen final : public request_source {
 public:
  record_gen(std::size_t bytes, std::uint64_t seed) : bytes_(bytes), rng_(seed) {}
  void next(std::uint64_t& key, bytes& payload) override {
    payload = services::synthetic_record(bytes_, rng_);
    key = services::decode_record(payload).key;
  }
  std::string describe() const override { return "synthetic " + std::to_string(bytes_) + " B records"; }

 private:
  std::size_t bytes_;
  std::mt19937_64 rng_;
};

class pcap_replay final : public request_source {
 public:
  explicit pcap_replay(const std::string& path) : path_(path) {
    for (auto& p : services::read_pcap(path)) {
      auto parsed = services::parse_frame(p.data);
      // Both directions of a conversation share a key, so per-flow state stays on one shard.
      std::uint64_t key = parsed ? parsed->tuple.conversation_hash() : std::hash<std::string_view>{}(
                                                              std::string_view(reinterpret_cast<const char*>(p.data.data()), p.data.size()));
      frames_.push_back({key, std::move(p.data)});
    }
    if (frames_.empty())
      throw std::invalid_argument(path + ": the capture holds no frame");
  }
  void next(std::uint64_t& key, bytes& payload) override {
    const auto& f = frames_[i_++ % frames_.size()];
    key = f.first;
    payload = f.second;
  }
  std::string describe() const override {
    return "trace " + path_ + " (" + std::to_string(frames_.size()) + " packets, replayed in a loop)";
  }

 private:
  std::string path_;
  std::vector<std::pair<std::uint64_t, bytes>> frames_;
  std::size_t i_ = 0;
};

class csv_replay final : public request_source {
 public:
  csv_replay(const std::string& path, std::uint32_t sensors, std::function<std::string(std::uint64_t)> signer)
      : path_(path), sensors_(std::max(1u, sensors)), signer_(std::move(signer)) {
    std::ifstream in(path);
    if (!in)
      throw std::invalid_argument(path + ": cannot open");
    std::string line;
    int no = 0;
    while (std::getline(in, line)) {
      ++no;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (no == 1 || line.empty())
        continue;  // the header
      auto comma = line.rfind(',');
      if (comma == std::string::npos)
        throw std::invalid_argument(path + ":" + std::to_string(no) + ": expected timestamp,value");
      double v = 0;
      const char* b = line.data() + comma + 1;
      const char* e = line.data() + line.size();
      auto [ptr, ec] = std::from_chars(b, e, v);
      if (ec != std::errc() || ptr != e || !std::isfinite(v))
        throw std::invalid_argument(path + ":" + std::to_string(no) + ": value '" + std::string(b, e) +
                                    "' is not a number");
      values_.push_back(v);
    }
    if (values_.empty())
      throw std::invalid_argument(path + ": no data rows");
  }
  void next(std::uint64_t& key, bytes& payload) override {
    std::size_t i = i_++;
    services::record r;
    r.key = i % sensors_;
    r.ts_ns = std::int64_t(i / sensors_) * 300'000'000'000;  // NAB series are 5-minute samples
    r.value = values_[(i / sensors_) % values_.size()];
    if (signer_)
      r.text = signer_(r.key);
    key = r.key;
    payload = services::encode(r);
  }
  std::string describe() const override {
    return "trace " + path_ + " (" + std::to_string(values_.size()) + " readings, " + std::to_string(sensors_) +
           " sensors)";
  }

 private:
  std::string path_;
  std::uint32_t sensors_;
  std::function<std::string(std::uint64_t)> signer_;
  std::vector<double> values_;
  std::size_t i_ = 0;
};

class resigned final : public request_source {
 public:
  resigned(std::unique_ptr<request_source> inner, std::function<std::string(std::uint64_t)> signer)
      : inner_(std::move(inner)), signer_(std::move(signer)) {}
  void next(std::uint64_t& key, bytes& payload) override {
    inner_->next(key, payload);
    auto r = services::decode_record(payload);
    auto space = r.text.find(' ');
    r.text = signer_(key) + (space == std::string::npos ? std::string() : r.text.substr(space));
    payload = services::encode(r);
  }
  std::string describe() const override { return inner_->describe() + ", tokens signed with the app's secret"; }

 private:
  std::unique_ptr<request_source> inner_;
  std::function<std::string(std::uint64_t)> signer_;
};

}  // namespace

std::unique_ptr<request_source> signed_source(std::unique_ptr<request_source> inner,
                                              std::function<std::string(std::uint64_t)> signer) {
  return std::make_unique<resigned>(std::move(inner), std::move(signer));
}

std::unique_ptr<request_source> synthetic_source(const service_kind& entry, std::size_t bytes, std::uint64_t seed) {
  if (!entry.synthetic_request)
    throw std::invalid_argument("service kind '" + entry.name + "' has no synthetic request generator");
  return std::make_unique<synthetic>(entry, bytes, seed);
}

std::unique_ptr<request_source> record_source(std::size_t bytes, std::uint64_t seed) {
  return std::make_unique<record_gen>(bytes, seed);
}

std::unique_ptr<request_source> pcap_source(const std::string& path) { return std::make_unique<pcap_replay>(path); }

std::unique_ptr<request_source> csv_source(const std::string& path, std::uint32_t sensors,
                                           std::function<std::string(std::uint64_t)> signer) {
  return std::make_unique<csv_replay>(path, sensors, std::move(signer));
}

load_result run_load(rt::cluster_runtime& rt, rt::client& client, request_source& src, const load_options& o) {
  using wall = std::chrono::steady_clock;
  const auto& clock = rt.clock();
  load_result res;
  res.source = src.describe();
  std::mt19937_64 rng(o.seed);
  std::exponential_distribution<double> gap(o.rate_rps > 0 ? o.rate_rps / 1e9 : 1.0);  // per emulated ns
  auto start = wall::now();
  auto measure_from = start + std::chrono::duration_cast<wall::duration>(std::chrono::duration<double>(o.warmup_s));
  auto measure_to = measure_from + std::chrono::duration_cast<wall::duration>(std::chrono::duration<double>(o.duration_s));
  std::int64_t emu_from = clock.emulated_ns(measure_from), emu_to = clock.emulated_ns(measure_to);
  std::int64_t next_at = clock.now_ns();
  std::uint64_t key;
  bytes payload;
  std::vector<rt::completion> done;
  std::unordered_map<std::uint64_t, bool> measured;  // ids sent during measurement
  std::size_t outstanding = 0;

  auto collect = [&] {
    done.clear();
    client.drain(done);
    for (const auto& c : done) {
      --outstanding;
      auto it = measured.find(c.id);
      if (it == measured.end())
        continue;
      measured.erase(it);
      if (c.lost) {
        ++res.lost;
        continue;
      }
      ++res.completed;
      res.errors += c.error;
      res.latency.record(c.latency_ns);
    }
  };
  auto send_one = [&](std::int64_t at) {
    src.next(key, payload);
    auto id = client.send(o.entry, key, payload, at);
    bool in_window = at >= emu_from && at < emu_to;
    if (id == 0) {
      res.refused += in_window;
      return;
    }
    ++outstanding;
    if (in_window) {
      ++res.sent;
      measured.emplace(id, true);
    }
  };

  bool measuring = false;
  while (wall::now() < measure_to) {
    if (!measuring && wall::now() >= measure_from) {
      measuring = true;
      if (o.on_measure_start)
        o.on_measure_start();
    }
    collect();
    if (o.saturate) {
      while (outstanding < o.window)
        send_one(clock.now_ns());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    // Open loop: send every arrival whose emulated time has come; stay on the Poisson schedule
    // even when this machine is late (lateness shows in the nodes' reports).
    auto now = clock.now_ns();
    int burst = 0;
    while (next_at <= now && burst < 4096) {
      send_one(next_at);
      next_at += std::max<std::int64_t>(1, std::int64_t(gap(rng)));
      ++burst;
    }
    auto wake = clock.wall_at(next_at);
    auto cap = wall::now() + std::chrono::milliseconds(1);
    std::this_thread::sleep_until(std::min(wake, cap));
  }
  if (!measuring && o.on_measure_start)
    o.on_measure_start();
  if (o.on_measure_end)
    o.on_measure_end();
  // Let the stragglers finish (or time out): every measured request is accounted for.
  auto deadline = wall::now() + std::chrono::duration_cast<wall::duration>(
                                    std::chrono::duration<double>(o.timeout_s * clock.dilation() + 0.5));
  while (!measured.empty() && wall::now() < deadline) {
    collect();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  collect();
  res.lost += measured.size();  // timed out
  res.emulated_seconds = double(emu_to - emu_from) / 1e9;
  res.wall_seconds = o.duration_s;
  res.throughput_rps = res.emulated_seconds > 0 ? double(res.completed) / res.emulated_seconds : 0;
  res.offered_rps = res.emulated_seconds > 0 ? double(res.sent) / res.emulated_seconds : 0;
  return res;
}

}  // namespace e3::apps
