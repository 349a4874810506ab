// e3 bench migration: cold migration of a KVS instance with N keys from an emulated SmartNIC to
// its host through the running cluster (§3.4): the runtime's measured blackout and where it goes
// (stop, ship = export + send, import + confirm, restart), the state checked byte-identical, next
// to the raw export + import of the same state through state_store measured in the same run.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "actors/runtime.hpp"
#include "apps/manifest.hpp"
#include "apps/run.hpp"
#include "bench/common/keys.hpp"
#include "bench/common/report.hpp"
#include "services/common/record.hpp"
#include "services/services.hpp"
#include "state_store/rocksdb_store.hpp"
#include "state_store/state_store.hpp"

namespace {

using namespace e3;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

using bench::key_of;
using bench::value_of;

struct stats {
  double p50 = 0, min = 0, max = 0;
};

stats summarise(std::vector<double> v) {
  if (v.empty())
    return {};
  std::sort(v.begin(), v.end());
  return {v[(v.size() - 1) / 2], v.front(), v.back()};
}

/// The reference: the same state (the snapshot the runtime exported before the move) loaded into
/// a source instance of the same kind of store the runtime used, then exported and imported into
/// a fresh instance (opened before the clock starts, as a migration target is). Times in ms.
struct reference {
  double export_ms = 0, import_ms = 0;
};

/// Times `export_from_src()` then `dst.import_snapshot` of its result.
template <class Export, class Dst>
reference time_move(Export&& export_from_src, Dst& dst) {
  reference r;
  auto t0 = clock_type::now();
  auto snap = export_from_src();
  r.export_ms = ms_since(t0);
  t0 = clock_type::now();
  dst.import_snapshot(snap);
  r.import_ms = ms_since(t0);
  return r;
}

reference raw_move(const std::string& snapshot, const std::string& dir, int rep) {
  if (dir.empty()) {
    auto src = state::make_memory_collections();
    src->import_snapshot(snapshot);
    auto dst = state::make_memory_collections();
    auto r = time_move([&] { return src->export_snapshot(); }, *dst);
    if (src->export_snapshot() != snapshot || dst->entry_count() != src->entry_count())
      throw std::runtime_error("reference: the memory store's round trip changed the state");
    return r;
  }
  auto base = dir + "/ref-" + std::to_string(rep);
  state::rocksdb_options o;
  o.sync = false;  // loading only
  auto a = state::rocksdb_store::open(base + "/src", o);
  auto src = a->open_collections("kvs");
  src->import_snapshot(snapshot);
  src->commit();
  auto b = state::rocksdb_store::open(base + "/dst");  // the destination syncs like a node
  auto dst = b->open_collections("kvs");
  auto r = time_move([&] { return src->export_portable_snapshot(); }, *dst);
  if (dst->entry_count() != src->entry_count())
    throw std::runtime_error("reference: the RocksDB store's round trip lost entries");
  dst.reset();
  src.reset();
  b.reset();
  a.reset();
  fs::remove_all(base);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Cold migration of a KVS instance, SmartNIC to host, in the running cluster (e3 bench migration)"};
  std::uint64_t keys = 10000;
  std::size_t value_bytes = 64;
  int reps = 7;
  std::string state_dir;
  bool json = false;
  cli.add_option("--keys", keys, "keys loaded into the KVS instance")->check(CLI::Range(1ull, 20'000'000ull));
  cli.add_option("--value-bytes", value_bytes, "bytes per value")->check(CLI::Range(1, 4096));
  cli.add_option("--reps", reps, "migrations SmartNIC -> host (each followed by an unmeasured move back)")
      ->check(CLI::Range(1, 100));
  cli.add_option("--state-dir", state_dir, "keep the nodes' collections in RocksDB under DIR (default: memory)");
  cli.add_flag("--json", json, "one JSON object");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  std::string ref_dir;
  try {
    if (!state_dir.empty()) {
      state_dir = apps::check_state_dir("--state-dir", state_dir) + "/e3-bench-migration-" + std::to_string(::getpid());
      ref_dir = state_dir + "/reference";
      fs::create_directories(ref_dir);
    }
  } catch (const std::exception& e) {
    std::cerr << "e3 bench migration: " << e.what() << "\n";
    return 2;
  }
  struct cleanup {
    std::string p;
    ~cleanup() {
      std::error_code ec;
      if (!p.empty())
        fs::remove_all(p, ec);
    }
  } clean{state_dir};

  service_registry reg;
  services::register_all(reg);
  rt::runtime_options ro;
  ro.dilation = 2;  // the load paces itself; a low dilation loads N keys quickly
  ro.pack_smartnics = true;
  ro.state_dir = state_dir.empty() ? std::string() : state_dir + "/nodes";
  std::vector<double> blackout, steps[5], ref_export, ref_import, ref_total;
  std::uint64_t shipped_keys = 0, shipped_bytes = 0, wrong = 0, failed = 0;
  std::string from_name, to_name, load_note;
  try {
    rt::cluster_runtime runtime(ro, reg);
    std::uint64_t mb = std::max<std::uint64_t>(64, keys * (value_bytes + 64) * 3 / 1000000);
    const auto& dep = runtime.deploy(apps::parse_manifest("app: kv\nrate_rps: 1000\nservices:\n"
                                                          "  - {name: kvs, kind: kvs, shards: 1, memory_mb: " +
                                                              std::to_string(mb) +
                                                              ", cpu: 0.05}\nentry: [kvs]\n",
                                                          "bench-migration.yaml"));
    const auto& cl = runtime.cluster();
    auto nic = dep.placement.node_of[0];
    if (cl.node(nic).kind != topo::node_kind::smartnic) {
      std::cerr << "e3 bench migration: HCM placed the KVS on " << cl.node(nic).name << ", not on a SmartNIC\n";
      return 1;
    }
    auto host = cl.servers()[std::size_t(cl.node(nic).server)].host;
    from_name = cl.node(nic).name;
    to_name = cl.node(host).name;

    // Load N keys through the runtime (KVS SET records), at most `window` outstanding.
    auto c = runtime.connect_client();
    std::vector<rt::completion> done;
    std::uint64_t completed = 0, errors = 0;
    auto t_load = clock_type::now();
    constexpr std::size_t window = 512;
    for (std::uint64_t k = 0; k < keys; ++k) {
      services::record r;
      r.op = 2;  // SET
      r.key = 1;
      r.text = key_of(k);
      r.aux = value_of(k, value_bytes);
      while (c->outstanding() >= window)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (c->send(0, 1, services::encode(r)) == 0)
        ++errors;
      if (k % 100000 == 99999)
        std::cerr << "migration: loaded " << (k + 1) << " keys\n";
      done.clear();
      c->drain(done);
      for (const auto& d : done)
        errors += d.error || d.lost, ++completed;
    }
    while (c->outstanding() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    done.clear();
    c->drain(done);
    for (const auto& d : done)
      errors += d.error || d.lost, ++completed;
    load_note = "loaded " + std::to_string(completed) + " SETs in " + std::to_string(int(ms_since(t_load))) +
                " ms wall, " + std::to_string(errors) + " failed";
    std::cerr << "migration: " << load_note << "\n";
    if (errors > 0 || completed != keys) {
      std::cerr << "e3 bench migration: loading failed (" << load_note << ")\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last group commit lands

    for (int rep = 0; rep < reps; ++rep) {
      for (int leg = 0; leg < 2; ++leg) {  // leg 0: SmartNIC -> host (measured); leg 1: back
        auto from = leg == 0 ? nic : host, to = leg == 0 ? host : nic;
        auto before = runtime.export_state(from, 0);
        auto m = runtime.migrate(0, to, std::chrono::seconds(300));
        if (m.outcome != "completed") {
          std::cerr << "e3 bench migration: " << m.from << " -> " << m.to << ": " << m.outcome << " (" << m.reason
                    << ")\n";
          ++failed;
          break;
        }
        auto after = runtime.export_state(to, 0);
        if (after != before)
          ++wrong;
        if (leg == 1)
          continue;
        std::cerr << "migration: rep " << rep + 1 << ": blackout " << m.blackout_ms << " ms, " << m.keys
                  << " keys" << (after == before ? ", byte-identical" : ", STATE DIFFERS") << "\n";
        blackout.push_back(m.blackout_ms);
        for (std::size_t s = 0; s < 5; ++s)
          steps[s].push_back(m.step_ms[s]);
        shipped_keys = m.keys;
        shipped_bytes = m.bytes;
        auto ref = raw_move(before, ref_dir, rep);
        ref_export.push_back(ref.export_ms);
        ref_import.push_back(ref.import_ms);
        ref_total.push_back(ref.export_ms + ref.import_ms);
      }
      if (failed)
        break;
    }
    c.reset();
    runtime.stop();
  } catch (const std::exception& e) {
    std::cerr << "e3 bench migration: " << e.what() << "\n";
    return 1;
  }

  auto target_ms = keys <= 10000 ? 10.0 : (keys <= 1000000 ? 1000.0 : 0.0);
  auto b = summarise(blackout);
  bench::report rep("e3 bench migration: KVS with " + std::to_string(keys) + " keys (" + std::to_string(value_bytes) +
                        " B values), " + from_name + " -> " + to_name + ", state " +
                        (state_dir.empty() ? "in memory" : "in RocksDB") + " (REAL ms on this machine)",
                    {"measure", "p50 ms", "min ms", "max ms", "reference p50 ms", "note"});
  auto row = [&](const std::string& what, const std::vector<double>& v, nlohmann::json ref, const std::string& note) {
    auto s = summarise(v);
    rep.row({what, s.p50, s.min, s.max, ref, note});
  };
  std::string store = state_dir.empty() ? "memory store" : "RocksDB store, portable snapshot";
  row("blackout (runtime)", blackout, summarise(ref_total).p50,
      "reference: export + import of the same state, " + store + ", same run");
  row("  stop", steps[1], nullptr, "hold requests, stop the instance at the source");
  row("  ship (export + send)", steps[2], summarise(ref_export).p50, "reference: export only");
  row("  import + confirm", steps[3], summarise(ref_import).p50, "reference: import only");
  row("  restart", steps[4], nullptr, "start at the destination");
  row("push kind (before the stop)", steps[0], nullptr, "not part of the blackout");
  rep.row({"paper (§5.6, Fig. 11)", "10s-100s", "", "", nullptr, "migration time 'on the order of 10s-100s of ms'"});
  if (target_ms > 0)
    rep.row({"target", target_ms, "", "", nullptr,
             std::string(b.p50 <= target_ms ? "MET" : "MISSED") + " by the p50 blackout (" + bench::report::text(b.p50) +
                 " ms)"});
  rep.note(std::to_string(blackout.size()) + " migrations SmartNIC -> host, each followed by an unmeasured move "
           "back; " + std::to_string(shipped_keys) + " keys, " + std::to_string(shipped_bytes) +
           " snapshot bytes shipped; state byte-identical after every move (export_state before/after): " +
           (wrong == 0 && failed == 0 ? "yes" : "NO (" + std::to_string(wrong) + " differ, " +
                                                    std::to_string(failed) + " failed)"));
  rep.note("blackout = stop to restart as the runtime measures it (REAL time: the migration protocol is not "
           "dilated); " + load_note + " at dilation 2");
  rep.extra()["keys"] = keys;
  rep.extra()["byte_identical"] = wrong == 0 && failed == 0;
  rep.extra()["blackout_ms"] = {{"p50", b.p50}, {"min", b.min}, {"max", b.max}, {"all", blackout}};
  rep.extra()["target_ms"] = target_ms > 0 ? nlohmann::json(target_ms) : nlohmann::json(nullptr);
  rep.extra()["target_met"] = target_ms > 0 && b.p50 <= target_ms;
  rep.extra()["paper"] = "10s-100s of ms";
  rep.print(json);
  return wrong == 0 && failed == 0 ? 0 : 1;
}
