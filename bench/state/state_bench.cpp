// e3 bench state: the RocksDB reliable collections against plain RocksDB measured in the same
// run — commit rate and latency (sync on/off, with/without the in-process backup), reads,
// buffered puts, and snapshot export/import at 10 K / 100 K / 1 M keys.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include "bench/common/keys.hpp"
#include "bench/common/report.hpp"
#include "state_store/rocksdb_store.hpp"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using e3::state::rocksdb_options;
using e3::state::rocksdb_store;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

struct latency {
  double per_s = 0, p50_us = 0, p99_us = 0;
};

latency summarise(std::vector<double>& us, double total_ms) {
  std::sort(us.begin(), us.end());
  latency l;
  l.per_s = double(us.size()) / (total_ms / 1000.0);
  l.p50_us = us[us.size() / 2];
  l.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return l;
}

void ok(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << "e3 bench state: " << what << ": " << s.ToString() << "\n";
    std::exit(1);
  }
}

/// Plain RocksDB with the options the store uses (WAL on, LZ4, bloom filters, block cache).
rocksdb::Options raw_options() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_open_files = -1;
  o.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(64 << 20);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  o.write_buffer_size = 32 << 20;
  for (auto c : rocksdb::GetSupportedCompressions())
    if (c == rocksdb::kLZ4Compression)
      o.compression = c;
  return o;
}

struct raw_db {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  explicit raw_db(const std::string& dir) {
    ok(rocksdb::DB::Open(raw_options(), dir, &db), "open raw db");
    ok(db->CreateColumnFamily(raw_options(), "data", &cf), "create cf");
  }
  ~raw_db() {
    if (cf)
      db->DestroyColumnFamilyHandle(cf);
    delete db;
  }
};

using e3::bench::key_of;
using e3::bench::value_of;

constexpr std::size_t puts_per_commit = 4;
constexpr std::size_t value_size = 100;
constexpr std::uint64_t key_space = 100000;

/// Commits `n` batches of puts_per_commit puts through the store (optionally replicated).
latency e3_commits(const std::string& dir, bool sync, bool backup, int n) {
  rocksdb_options o;
  o.sync = sync;
  auto s = rocksdb_store::open(dir + "/primary", o);
  std::unique_ptr<rocksdb_store> b;
  std::unique_ptr<e3::state::in_process_backup> link;
  if (backup) {
    b = rocksdb_store::open(dir + "/backup", o);
    link = std::make_unique<e3::state::in_process_backup>(*b);
  }
  auto c = s->open_collections("bench", link.get());
  auto& t = c->get_table("kv");
  std::mt19937_64 rng(1);
  t.put("warm", "up");
  c->commit();  // a new backup takes the (empty) state here, outside the measurement
  std::vector<double> us;
  us.reserve(n);
  auto all = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    for (std::size_t j = 0; j < puts_per_commit; ++j) {
      auto k = rng() % key_space;
      t.put(key_of(k), value_of(k + i, value_size));
    }
    c->commit();
    us.push_back(ms_since(t0) * 1000);
  }
  return summarise(us, ms_since(all));
}

/// The same writes as plain RocksDB WriteBatches: into one database, or into two one after the
/// other (the least a synchronous backup can cost in one process).
latency raw_commits(const std::string& dir, bool sync, bool backup, int n) {
  raw_db a(dir + "/raw-a");
  std::unique_ptr<raw_db> b;
  if (backup)
    b = std::make_unique<raw_db>(dir + "/raw-b");
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::mt19937_64 rng(1);
  std::vector<double> us;
  us.reserve(n);
  auto all = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    rocksdb::WriteBatch wb;
    for (std::size_t j = 0; j < puts_per_commit; ++j) {
      auto k = rng() % key_space;
      ok(wb.Put(a.cf, key_of(k), value_of(k + i, value_size)), "put");
    }
    ok(a.db->Write(wo, &wb), "write");
    if (b)
      ok(b->db->Write(wo, &wb), "write");  // the same batch (its family has the same id there)
    us.push_back(ms_since(t0) * 1000);
  }
  return summarise(us, ms_since(all));
}

std::string fmt_keys(std::uint64_t n) {
  if (n >= 1000000 && n % 1000000 == 0)
    return std::to_string(n / 1000000) + " M keys";
  if (n >= 1000 && n % 1000 == 0)
    return std::to_string(n / 1000) + " K keys";
  return std::to_string(n) + " keys";
}

struct snap_times {
  double export_ms = 0, import_ms = 0, mb = 0;
  double portable_export_ms = 0, portable_import_ms = 0, portable_mb = 0;  ///< 0: not measured
  double land_ms = 0;  ///< write + fdatasync of the snapshot's bytes into a new file
};

/// Writes `bytes` into a new file and fdatasyncs it: what landing a snapshot durably on a
/// destination disk costs at least.
double land_ms(const std::string& path, const std::string& bytes) {
  auto t0 = clock_type::now();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::cerr << "e3 bench state: cannot create " << path << "\n";
    std::exit(1);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      std::cerr << "e3 bench state: cannot write " << path << "\n";
      std::exit(1);
    }
    done += static_cast<std::size_t>(n);
  }
  ::fdatasync(fd);
  ::close(fd);
  auto ms = ms_since(t0);
  ::unlink(path.c_str());
  return ms;
}

/// Export and import of an instance of `n` keys: best of `reps`, after a flush (so every run
/// exports the same files; the first export of a live instance also flushes its memtable).
snap_times e3_snapshot(const std::string& dir, std::uint64_t n, int reps) {
  rocksdb_options o;
  o.sync = false;  // loading only; import syncs what it writes through the catalog anyway
  auto src = rocksdb_store::open(dir + "/snap-src", o);
  auto c = src->open_collections("kvs");
  auto& t = c->get_table("kv");
  for (std::uint64_t i = 0; i < n; ++i) {
    t.put(key_of(i), value_of(i, 64));
    if (i % 20000 == 19999)
      c->commit();
  }
  c->commit();
  src->flush();
  rocksdb_options od;  // the destination syncs like a real node
  auto dst = rocksdb_store::open(dir + "/snap-dst", od);
  auto d = dst->open_collections("kvs");
  snap_times best;
  best.export_ms = best.import_ms = best.land_ms = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock_type::now();
    auto snap = c->export_snapshot();
    best.export_ms = std::min(best.export_ms, ms_since(t0));
    best.mb = double(snap.size()) / 1e6;
    best.land_ms = std::min(best.land_ms, land_ms(dir + "/land-" + std::to_string(r), snap));
    t0 = clock_type::now();
    d->import_snapshot(snap);
    best.import_ms = std::min(best.import_ms, ms_since(t0));
    if (d->entry_count() != n) {
      std::cerr << "e3 bench state: imported " << d->entry_count() << " entries, expected " << n << "\n";
      std::exit(1);
    }
  }
  // The portable format into a fresh instance (opened before the clock starts, as a migration
  // target would be): the in-place path, for instances up to 64 MB.
  if (n <= 200000) {
    best.portable_export_ms = best.portable_import_ms = 1e300;
    for (int r = 0; r < reps; ++r) {
      auto fresh = dst->open_collections("fresh" + std::to_string(r));
      auto t0 = clock_type::now();
      auto snap = c->export_portable_snapshot();
      best.portable_export_ms = std::min(best.portable_export_ms, ms_since(t0));
      best.portable_mb = double(snap.size()) / 1e6;
      t0 = clock_type::now();
      fresh->import_snapshot(snap);
      best.portable_import_ms = std::min(best.portable_import_ms, ms_since(t0));
      if (fresh->entry_count() != n) {
        std::cerr << "e3 bench state: imported " << fresh->entry_count() << " entries, expected " << n << "\n";
        std::exit(1);
      }
    }
  }
  return best;
}

/// The reference: plain Checkpoint::ExportColumnFamily (hard links) and
/// CreateColumnFamilyWithImport (moving the exported files) of the same keys.
snap_times raw_snapshot(const std::string& dir, std::uint64_t n, int reps) {
  raw_db a(dir + "/rsnap-src");
  raw_db b(dir + "/rsnap-dst");
  rocksdb::WriteBatch wb;
  for (std::uint64_t i = 0; i < n; ++i) {
    ok(wb.Put(a.cf, key_of(i), value_of(i, 64)), "put");
    if (wb.Count() >= 20000) {
      ok(a.db->Write(rocksdb::WriteOptions(), &wb), "write");
      wb.Clear();
    }
  }
  ok(a.db->Write(rocksdb::WriteOptions(), &wb), "write");
  ok(a.db->Flush(rocksdb::FlushOptions(), a.cf), "flush");
  rocksdb::Checkpoint* cp_raw = nullptr;
  ok(rocksdb::Checkpoint::Create(a.db, &cp_raw), "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> cp(cp_raw);
  snap_times best;
  best.export_ms = best.import_ms = 1e300;
  for (int r = 0; r < reps; ++r) {
    auto exp = dir + "/rsnap-export-" + std::to_string(r);
    rocksdb::ExportImportFilesMetaData* md = nullptr;
    auto t0 = clock_type::now();
    ok(cp->ExportColumnFamily(a.cf, exp, &md), "export");
    best.export_ms = std::min(best.export_ms, ms_since(t0));
    std::uint64_t bytes = 0;
    for (const auto& f : md->files)
      bytes += f.size;
    best.mb = double(bytes) / 1e6;
    rocksdb::ColumnFamilyHandle* h = nullptr;
    rocksdb::ImportColumnFamilyOptions io;
    io.move_files = true;
    t0 = clock_type::now();
    ok(b.db->CreateColumnFamilyWithImport(raw_options(), "imp" + std::to_string(r), io, *md, &h), "import");
    best.import_ms = std::min(best.import_ms, ms_since(t0));
    ok(b.db->DropColumnFamily(h), "drop");
    b.db->DestroyColumnFamilyHandle(h);
    delete md;
    fs::remove_all(exp);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = e3::bench::wants_json(argc, argv);
  std::vector<std::uint64_t> sizes{10000, 100000, 1000000};
  std::string base;
  int sync_commits = 300, async_commits = 5000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "e3 bench state: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") {
    } else if (a == "--quick") {
      sizes = {10000, 100000};
      sync_commits = 100;
      async_commits = 2000;
    } else if (a == "--keys") {
      sizes.clear();
      auto list = value();
      std::size_t p = 0;
      while (p <= list.size()) {
        auto q = list.find(',', p);
        auto item = list.substr(p, q == std::string::npos ? std::string::npos : q - p);
        try {
          sizes.push_back(std::stoull(item));
        } catch (const std::exception&) {
          std::cerr << "e3 bench state: --keys: '" << item << "' is not a number\n";
          return 2;
        }
        if (q == std::string::npos)
          break;
        p = q + 1;
      }
    } else if (a == "--dir") {
      base = value();
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: e3 bench state [--json] [--quick] [--keys N,N,...] [--dir DIR]\n"
                   "  commits/s and commit latency (sync on/off, with/without an in-process backup),\n"
                   "  reads/s, buffered puts, snapshot export/import per key count, each next to plain\n"
                   "  RocksDB measured in the same run. DIR (default: a new folder under /tmp) must be\n"
                   "  on the disk you want measured.\n";
      return 0;
    } else {
      std::cerr << "e3 bench state: unknown argument '" << a << "' (try --help)\n";
      return 2;
    }
  }
  std::string root;
  if (base.empty()) {
    auto tmpl = (fs::temp_directory_path() / "e3-bench-state-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::cerr << "e3 bench state: cannot create a folder under " << fs::temp_directory_path() << "\n";
      return 1;
    }
    root = tmpl;
  } else {
    root = base + "/e3-bench-state-" + std::to_string(::getpid());
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) {
      std::cerr << "e3 bench state: cannot create " << root << ": " << ec.message() << "\n";
      return 1;
    }
  }
  struct cleanup {
    std::string p;
    ~cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } clean{root};

  e3::bench::report rep("e3 bench state: RocksDB reliable collections vs plain RocksDB (same run)",
                        {"measure", "setting", "e3", "reference", "unit", "e3/ref"});
  auto ratio = [](double a, double b) -> nlohmann::json {
    if (b <= 0)
      return nullptr;
    return a / b;
  };
  int dir_no = 0;
  auto fresh = [&] {
    auto d = root + "/" + std::to_string(dir_no++);
    fs::create_directories(d);
    return d;
  };

  // Commits.
  for (bool sync : {true, false}) {
    for (bool backup : {false, true}) {
      int n = sync ? sync_commits : async_commits;
      std::cerr << "commits: sync " << (sync ? "on" : "off") << ", backup " << (backup ? "on" : "off")
                << " (" << n << ")...\n";
      auto d = fresh();
      auto e = e3_commits(d, sync, backup, n);
      auto r = raw_commits(d, sync, backup, n);
      std::string setting = std::string("sync ") + (sync ? "on" : "off") + ", " +
                            (backup ? "in-process backup" : "no backup") + ", " +
                            std::to_string(puts_per_commit) + " puts of " + std::to_string(value_size) + " B";
      rep.row({"commits/s", setting, e.per_s, r.per_s, "1/s", ratio(e.per_s, r.per_s)});
      rep.row({"commit p50", setting, e.p50_us, r.p50_us, "us", ratio(e.p50_us, r.p50_us)});
      rep.row({"commit p99", setting, e.p99_us, r.p99_us, "us", ratio(e.p99_us, r.p99_us)});
    }
  }

  // Reads and buffered puts on 100 K committed keys.
  {
    std::cerr << "reads and puts...\n";
    auto d = fresh();
    rocksdb_options o;
    o.sync = false;
    auto s = rocksdb_store::open(d + "/store", o);
    auto c = s->open_collections("r");
    auto& t = c->get_table("kv");
    raw_db raw(d + "/raw");
    rocksdb::WriteBatch wb;
    for (std::uint64_t i = 0; i < key_space; ++i) {
      auto v = value_of(i, value_size);
      t.put(key_of(i), v);
      ok(wb.Put(raw.cf, key_of(i), v), "put");
      if (i % 20000 == 19999) {
        c->commit();
        ok(raw.db->Write(rocksdb::WriteOptions(), &wb), "write");
        wb.Clear();
      }
    }
    c->commit();
    ok(raw.db->Write(rocksdb::WriteOptions(), &wb), "write");
    std::vector<std::string> keys;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200000; ++i)
      keys.push_back(key_of(rng() % key_space));
    std::string out;
    auto e_ns = e3::bench::ns_per_op([&](std::size_t i) { t.get(keys[i], out); }, keys.size(), 3);
    rocksdb::PinnableSlice ps;
    auto r_ns = e3::bench::ns_per_op(
        [&](std::size_t i) {
          ps.Reset();
          ok(raw.db->Get(rocksdb::ReadOptions(), raw.cf, keys[i], &ps), "get");
        },
        keys.size(), 3);
    rep.row({"reads/s", "committed key of 100 K, 100 B values", 1e9 / e_ns, 1e9 / r_ns, "1/s", ratio(r_ns, e_ns)});
    // Buffered puts (no commit): the store also reads whether the key exists, to keep size().
    auto value = value_of(3, value_size);
    auto ep_ns = e3::bench::ns_per_op([&](std::size_t i) { t.put(keys[i], value); }, 20000, 3);
    c->commit();
    rocksdb::WriteBatchWithIndex wbwi(rocksdb::BytewiseComparator(), 0, true);
    auto rp_ns = e3::bench::ns_per_op([&](std::size_t i) { ok(wbwi.Put(raw.cf, keys[i], value), "put"); }, 20000, 3);
    rep.row({"puts/s (uncommitted)", "overwrite of 100 K keys; reference: WriteBatchWithIndex::Put", 1e9 / ep_ns,
             1e9 / rp_ns, "1/s", ratio(rp_ns, ep_ns)});
  }

  // Snapshots.
  for (auto n : sizes) {
    std::cerr << "snapshot export/import at " << fmt_keys(n) << "...\n";
    int reps = n >= 1000000 ? 2 : 3;
    auto d = fresh();
    auto e = e3_snapshot(d, n, reps);
    auto r = raw_snapshot(d, n, reps);
    auto setting = fmt_keys(n) + ", 64 B values";
    rep.row({"export ms", setting, e.export_ms, r.export_ms, "ms", ratio(e.export_ms, r.export_ms)});
    rep.row({"import ms", setting, e.import_ms, r.import_ms, "ms", ratio(e.import_ms, r.import_ms)});
    rep.row({"import vs landing", setting, e.import_ms, e.land_ms + r.import_ms, "ms",
             ratio(e.import_ms, e.land_ms + r.import_ms)});
    rep.row({"export+import ms", setting, e.export_ms + e.import_ms, r.export_ms + r.import_ms, "ms",
             ratio(e.export_ms + e.import_ms, r.export_ms + r.import_ms)});
    rep.row({"snapshot MB", setting, e.mb, r.mb, "MB", ratio(e.mb, r.mb)});
    if (e.portable_import_ms > 0) {
      auto ps = setting + ", portable into a fresh instance";
      rep.row({"export ms", ps, e.portable_export_ms, r.export_ms, "ms", ratio(e.portable_export_ms, r.export_ms)});
      rep.row({"import ms", ps, e.portable_import_ms, r.import_ms, "ms", ratio(e.portable_import_ms, r.import_ms)});
      rep.row({"export+import ms", ps, e.portable_export_ms + e.portable_import_ms, r.export_ms + r.import_ms, "ms",
               ratio(e.portable_export_ms + e.portable_import_ms, r.export_ms + r.import_ms)});
      rep.row({"snapshot MB", ps, e.portable_mb, r.mb, "MB", ratio(e.portable_mb, r.mb)});
    }
    fs::remove_all(d);
  }

  rep.note("reference for commits: plain RocksDB WriteBatch + DB::Write with the same sync flag; with a backup, "
           "the same batch written to a second database after the first");
  rep.note("e3 commit = buffered puts (each reads whether its key exists) + state record + replication "
           "message to the backup (applied and made durable there first) + local write");
  rep.note("reference for snapshots: Checkpoint::ExportColumnFamily (hard links) and "
           "CreateColumnFamilyWithImport(move_files) without packing; e3 also reads the files into one "
           "checksummed byte string, writes and fdatasyncs them at the destination, verifies every block, "
           "and installs the new column family with a synced catalog write");
  rep.note("'import vs landing': reference = write + fdatasync of the snapshot's bytes into a new file plus the "
           "plain import, the least a durable import at another node costs");
  rep.note("best of 3 runs (2 at 1 M keys) after a flush; data under " + root);
  rep.extra()["dir"] = root;
  rep.print(json);
  return 0;
}
