// e3 bench flowmon: packets/s of the count-min flow monitor next to an exact std::unordered_map
// per-flow counter (same parsing and flow keys, same run), its measured error against those
// exact counts, memory, and the service's request rate with flushes to its reliable collection.
#include <iostream>
#include <unordered_map>

#include "bench/common/report.hpp"
#include "bench/services/count.hpp"
#include "services/flowmon/flowmon.hpp"

namespace e3::services {
void register_flowmon(service_registry& r);
}

using namespace e3;
using namespace e3::services;
using namespace e3::services::flowmon;
namespace tr = e3::bench::traffic;

namespace {
struct identity_hash {
  std::size_t operator()(std::uint64_t k) const { return k; }  // keys are hashes already
};
}  // namespace

int main(int argc, char** argv) {
  bool json = bench::wants_json(argc, argv);
  double eps = std::stod(tr::arg(argc, argv, "--eps", "0.001"));
  double delta = std::stod(tr::arg(argc, argv, "--delta", "0.01"));
  std::vector<tr::frame_set> sets;
  try {
    sets.push_back(tr::captures({E3_TEST_DATA_DIR "/pcap/1kxun.pcap", E3_TEST_DATA_DIR "/pcap/synscan.pcap"}));
    if (auto extra = tr::arg(argc, argv, "--pcap", ""); !extra.empty())
      sets.push_back(tr::captures({extra}));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  sets.push_back(tr::zipf_udp(200000, 100000, 1.0, 42));

  bench::report rep("Flow monitor: count-min sketch (eps " + tr::arg(argc, argv, "--eps", "0.001") + ", delta " +
                        tr::arg(argc, argv, "--delta", "0.01") + ") vs exact std::unordered_map, one core",
                    {"traffic", "path", "implementation", "M packets/s", "ns/packet", "vs unordered_map"});
  bench::report err("Flow monitor: measured error of the sketch against the exact counts (one pass)",
                    {"traffic", "flows", "N", "eps*N", "max error", "mean error", "flows over eps*N", "allowed share (delta)",
                     "sketch KiB", "map KiB (approx.)"});
  for (const auto& s : sets) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed;  // (flow key, IP bytes)
    for (std::size_t i = 0; i < s.size(); ++i)
      if (auto p = parse_frame(s.frame(i)); p && p->ip)
        keyed.emplace_back(flow_key(p->tuple), std::uint32_t(p->ip_size));

    // Accuracy after exactly one pass.
    {
      count_min sk(eps, delta);
      std::unordered_map<std::uint64_t, std::uint64_t, identity_hash> exact;
      for (auto [k, b] : keyed) {
        sk.add(k, b);
        ++exact[k];
      }
      std::uint64_t max_err = 0, over = 0;
      double sum = 0;
      for (auto [k, n] : exact) {
        std::uint64_t e = sk.packets(k) - n;
        max_err = std::max(max_err, e);
        sum += double(e);
        over += double(e) > sk.packet_bound();
      }
      double map_kib = double(exact.size() * 32 + exact.bucket_count() * 8) / 1024;
      err.row({s.name, exact.size(), sk.total_packets(), sk.packet_bound(), max_err, sum / double(exact.size()), over,
               delta, double(sk.cells().size() * sizeof(cell)) / 1024, map_kib});
    }

    count_min ours(eps, delta);
    std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>, identity_hash> ref;
    auto ours_parse = [&] {
      for (std::size_t i = 0; i < s.size(); ++i)
        if (auto p = parse_frame(s.frame(i)); p && p->ip)
          ours.add(flow_key(p->tuple), p->ip_size);
    };
    auto ref_parse = [&] {
      for (std::size_t i = 0; i < s.size(); ++i)
        if (auto p = parse_frame(s.frame(i)); p && p->ip) {
          auto& c = ref[flow_key(p->tuple)];
          ++c.first;
          c.second += p->ip_size;
        }
    };
    auto ours_count = [&] {
      for (auto [k, b] : keyed)
        ours.add(k, b);
    };
    auto ref_count = [&] {
      for (auto [k, b] : keyed) {
        auto& c = ref[k];
        ++c.first;
        c.second += b;
      }
    };
    ours_parse();
    ref_parse();
    auto best = tr::contest({ours_parse, ref_parse}, s.size());
    auto best2 = tr::contest({ours_count, ref_count}, keyed.size());
    rep.row({s.name, "parse + count", "unordered_map (reference)", 1e3 / best[1], best[1], 1.0});
    rep.row({s.name, "parse + count", "count-min (ours)", 1e3 / best[0], best[0], best[1] / best[0]});
    rep.row({s.name, "count (pre-keyed)", "unordered_map (reference)", 1e3 / best2[1], best2[1], 1.0});
    rep.row({s.name, "count (pre-keyed)", "count-min (ours)", 1e3 / best2[0], best2[0], best2[1] / best2[0]});

    service_registry reg;
    register_flowmon(reg);
    auto svc = reg.at("flowmon").make(service_config{});
    auto svc_plain = reg.at("flowmon").make(service_config{});
    tr::counting_context ctx, ctx_plain;
    std::size_t n = 0;
    auto with_flush = [&] {
      for (std::size_t i = 0; i < s.size(); ++i) {
        svc->handle(request{i, 0, s.frame(i)}, ctx);
        if (++n % 1024 == 0)
          svc->flush(ctx);
      }
    };
    auto without_flush = [&] {
      for (std::size_t i = 0; i < s.size(); ++i)
        svc_plain->handle(request{i, 0, s.frame(i)}, ctx_plain);
    };
    with_flush();
    without_flush();
    auto sv = tr::contest({with_flush, without_flush}, s.size());
    std::vector<five_tuple> tuples;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (auto p = parse_frame(s.frame(i)))
        tuples.push_back(p->tuple);
    std::uint64_t hsink = 0;
    auto th = tr::contest({[&] {
                            for (const auto& t : tuples)
                              hsink += t.hash();
                          }},
                          tuples.size());
    bench::keep(hsink);
    rep.row({s.name, "five_tuple::hash() (the emit key) alone", "services/common", 1e3 / th[0], th[0], nullptr});
    rep.row({s.name, "service handle(), no flush", "count-min (ours)", 1e3 / sv[1], sv[1], nullptr});
    rep.row({s.name, "service handle() + flush/1024", "count-min (ours)", 1e3 / sv[0], sv[0], nullptr});
  }
  rep.note("best of 7 round-robin runs; flush/1024 writes the changed cells to the in-memory reliable collection");
  rep.note("paper Table 1: Flow mon. 1.94 M req/s on 8 host cores");
  if (json) {
    nlohmann::json j;
    std::ostringstream a, b;
    rep.print(true, a);
    err.print(true, b);
    j["rate"] = nlohmann::json::parse(a.str());
    j["error"] = nlohmann::json::parse(b.str());
    std::cout << j.dump(2) << "\n";
  } else {
    rep.print(false);
    std::cout << "\n";
    err.print(false);
  }
  return 0;
}
