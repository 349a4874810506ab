// The RocksDB store: node catalog, instance collections over a WriteBatchWithIndex, the
// backup's apply, and snapshot export/import through ExportColumnFamily /
// CreateColumnFamilyWithImport.
#include "state_store/rocksdb_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "state_store/crc32c.hpp"
#include "state_store/rocksdb_format.hpp"

namespace e3::state {
namespace {

namespace fs = std::filesystem;
using rdb::state_id;

// ---- the node catalog, in the default column family ------------------------------------------
//
//   "\0e3-store"        -> "e3-state-store/1"      (tells an E3 store from other databases)
//   "I" instance name   -> role byte ('P' | 'R') + u64 generation (little-endian)
//
// An instance's data lives in column family "e3/<generation>"; a new generation is made by
// every import, so a snapshot replaces an instance's state by one synced catalog write.

constexpr std::string_view marker_key{"\0e3-store", 9};
constexpr std::string_view marker_value = "e3-state-store/1";
constexpr std::string_view cf_prefix = "e3/";

std::string catalog_key(std::string_view instance) {
  std::string k = "I";
  k.append(instance);
  return k;
}

std::string catalog_value(instance_role role, std::uint64_t gen) {
  rdb::byte_writer w;
  w.u8(role == instance_role::primary ? 'P' : 'R');
  w.u64(gen);
  return std::move(w.bytes());
}

std::string cf_name(std::uint64_t gen) { return std::string(cf_prefix) + std::to_string(gen); }

/// The generation of an "e3/<digits>" column family name; false for any other name.
bool parse_cf_name(const std::string& name, std::uint64_t& gen) {
  if (name.size() <= cf_prefix.size() || name.size() > cf_prefix.size() + 19 ||
      name.compare(0, cf_prefix.size(), cf_prefix) != 0)
    return false;
  gen = 0;
  for (std::size_t i = cf_prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9')
      return false;
    gen = gen * 10 + std::uint64_t(name[i] - '0');
  }
  return true;
}

std::uint64_t random_epoch() {
  static std::mutex mu;
  static std::mt19937_64 rng{[] {
    std::random_device rd;
    return (std::uint64_t(rd()) << 32) ^ rd();
  }()};
  std::lock_guard lock(mu);
  std::uint64_t e = 0;
  while (e == 0)
    e = rng();
  return e;
}

std::string shown(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\'')
      out += "\\x" + rdb::hex(std::string_view(&c, 1));
    else
      out.push_back(c);
  }
  return out + "'";
}

/// Asks for transparent huge pages behind the reserved buffer of `s` (a hint; errors are
/// ignored). Where the first touch of a 4 KiB page is slow (measured here: ~1 s for 80 MB of
/// fresh memory in this virtual machine, ~15 ms with huge pages), this is most of the cost of
/// exporting a large instance.
void prefer_huge_pages(std::string& s) {
  constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
  if (s.capacity() < 2 * huge)
    return;
  auto begin = reinterpret_cast<std::uintptr_t>(s.data());
  auto end = begin + s.capacity();
  auto from = (begin + huge - 1) & ~(huge - 1);
  auto to = end & ~(huge - 1);
  if (to > from)
    (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
}

/// Appends the file at `path`, which must hold `size` bytes, to `out` (within its capacity if
/// it was reserved); throws state_error naming the file.
void append_file(const std::string& path, std::uint64_t size, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw state_error("cannot open " + path + ": " + std::strerror(errno));
  auto fail = [&](const std::string& why) {
    ::close(fd);
    throw state_error(path + ": " + why);
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail(std::string("cannot stat: ") + std::strerror(errno));
  if (static_cast<std::uint64_t>(st.st_size) != size)
    fail("holds " + std::to_string(st.st_size) + " bytes, RocksDB's metadata says " + std::to_string(size));
  auto at = out.size();
  out.resize(at + size);
  std::uint64_t done = 0;
  while (done < size) {
    auto n = ::read(fd, out.data() + at + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      fail(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0)
      fail("ends after " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
}

/// Writes a whole file, fdatasync'ed when `sync`; throws state_error naming it.
void write_file(const std::string& path, std::string_view bytes, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw state_error("cannot create " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw state_error("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw state_error("cannot sync " + path + ": " + std::strerror(err));
  }
  ::close(fd);
}

/// True for the files RocksDB (or this store) may leave in a directory while creating a
/// database, before CURRENT exists.
bool creation_leftover(const std::string& n) {
  auto starts = [&](std::string_view p) { return n.compare(0, p.size(), p) == 0; };
  auto ends = [&](std::string_view p) {
    return n.size() >= p.size() && n.compare(n.size() - p.size(), p.size(), p) == 0;
  };
  return n == "LOCK" || n == "IDENTITY" || n == "LOG" || n == "e3-tmp" || starts("LOG.old.") ||
         starts("MANIFEST-") || starts("OPTIONS-") || ends(".log") || ends(".dbtmp");
}

/// Removes a directory tree when it goes out of scope (temporary export/import folders).
struct dir_guard {
  std::string path;
  ~dir_guard() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

// ---- the store's shared state ----------------------------------------------------------------

/// One instance on this node.
struct instance_entry {
  std::string name;
  instance_role role = instance_role::primary;
  std::uint64_t gen = 0;
  rocksdb::ColumnFamilyHandle* cf = nullptr;  ///< null while a replica is being created
  bool open = false;                          ///< a collections object holds it
  std::mutex apply_mu;                        ///< serialises replica applies, promote, drop
  bool state_known = false;                   ///< `state` caches the replica's state id
  state_id state;
};

/// A column family built from a snapshot, not yet in the catalog.
struct built_cf {
  std::uint64_t gen = 0;
  rocksdb::ColumnFamilyHandle* cf = nullptr;
};

/// A snapshot checked and decoded before anything changes.
struct decoded_snapshot {
  bool packed = false;        ///< E3RSNAP1 (else E3SNAP01)
  rdb::pack_header pack;      ///< when packed
  snapshot_contents portable; ///< when not
  std::uint64_t seq = 0;      ///< the source's commit count (0 for portable snapshots)
};

struct rocksdb_store::impl {
  std::string path;
  rocksdb_options opts;
  rocksdb::ColumnFamilyOptions cf_opts;
  std::unique_ptr<rocksdb::DB> db;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cfs;  ///< every "e3/…" family, by name
  mutable std::mutex mu;                                    ///< guards instances, cfs, next_gen
  std::map<std::string, std::shared_ptr<instance_entry>, std::less<>> instances;
  std::uint64_t next_gen = 1;
  std::atomic<std::uint64_t> next_tmp{0};
  /// Column families replaced by an import, dropped later (drop_retired) so that an import
  /// does not wait for the drop's MANIFEST sync; the catalog no longer names them, so after a
  /// crash the next open drops them.
  std::vector<rocksdb::ColumnFamilyHandle*> retired;

  ~impl() {
    if (!db)
      return;
    drop_retired();
    for (auto& [_, h] : cfs)
      db->DestroyColumnFamilyHandle(h);
    db->Close();
  }

  void drop_retired() {
    std::vector<rocksdb::ColumnFamilyHandle*> hs;
    {
      std::lock_guard lock(mu);
      hs.swap(retired);
    }
    for (auto* h : hs)
      drop_cf(h);
  }

  [[noreturn]] void fail(const std::string& what, const rocksdb::Status& s) const {
    throw state_error("state store " + path + ": " + what + ": " + s.ToString());
  }
  void check(const rocksdb::Status& s, const std::string& what) const {
    if (!s.ok())
      fail(what, s);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw state_error("state store " + path + ": " + what);
  }

  rocksdb::WriteOptions write_opts() const {
    rocksdb::WriteOptions wo;
    wo.sync = opts.sync;
    return wo;
  }
  /// Catalog changes are always synced: the MANIFEST (which drops and adds column families)
  /// is, and the two must agree after any crash.
  static rocksdb::WriteOptions synced() {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return wo;
  }

  std::string tmp_dir(const char* kind) {
    return path + "/e3-tmp/" + kind + "-" + std::to_string(next_tmp++);
  }

  /// A new, empty column family with a fresh generation.
  built_cf create_cf() {
    built_cf b;
    {
      std::lock_guard lock(mu);
      b.gen = next_gen++;
    }
    check(db->CreateColumnFamily(cf_opts, cf_name(b.gen), &b.cf), "creating a column family");
    return b;
  }

  void drop_cf(rocksdb::ColumnFamilyHandle* h) {
    // A failed drop leaves an orphan, which the next open drops: the catalog does not name it.
    (void)db->DropColumnFamily(h);
    {
      std::lock_guard lock(mu);
      cfs.erase(h->GetName());
    }
    db->DestroyColumnFamilyHandle(h);
  }

  /// Reads the state id stored in `cf`.
  state_id read_state(rocksdb::ColumnFamilyHandle* cf, std::string_view instance) const {
    std::string v;
    auto s = db->Get(rocksdb::ReadOptions(), cf, rdb::state_key(), &v);
    if (s.IsNotFound())
      fail("instance " + shown(instance) + " (" + cf->GetName() + ") has no state record");
    check(s, "reading the state of instance " + shown(instance));
    state_id id;
    if (!rdb::decode_state(v, id))
      fail("instance " + shown(instance) + " (" + cf->GetName() + "): state record has " +
           std::to_string(v.size()) + " bytes, expected 16");
    return id;
  }

  /// Reads every collection record of `cf`: (kind, name) -> count.
  std::map<std::pair<char, std::string>, std::uint64_t> read_metas(rocksdb::ColumnFamilyHandle* cf,
                                                                    std::string_view instance) const {
    std::map<std::pair<char, std::string>, std::uint64_t> out;
    rocksdb::ReadOptions ro;
    auto end = rdb::prefix_end(rdb::meta_prefix());
    rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
    for (it->Seek(rdb::meta_prefix()); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      auto v = it->value().ToStringView();
      if (auto why = rdb::check_put(k, v); !why.empty())
        fail("instance " + shown(instance) + " (" + cf->GetName() + "): " + why);
      std::uint64_t n = 0;
      rdb::decode_count(v, n);
      out[{k[1], std::string(k.substr(2))}] = n;
    }
    check(it->status(), "reading the collections of instance " + shown(instance));
    return out;
  }

  /// Visits every committed entry of `cf` under `prefix`.
  template <class F>
  void scan_db(rocksdb::ColumnFamilyHandle* cf, const std::string& prefix, F&& f,
               std::string_view instance) const {
    rocksdb::ReadOptions ro;
    auto end = rdb::prefix_end(prefix);
    rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
    for (it->Seek(prefix); it->Valid(); it->Next())
      f(it->key().ToStringView(), it->value().ToStringView());
    check(it->status(), "reading instance " + shown(instance));
  }

  snapshot_contents read_contents(rocksdb::ColumnFamilyHandle* cf, std::string_view instance) const {
    snapshot_contents c;
    for (const auto& [kn, n] : read_metas(cf, instance)) {
      const auto& [kind, name] = kn;
      auto prefix = rdb::entry_prefix(kind, name);
      if (kind == rdb::table_kind) {
        auto& t = c.tables[name];
        scan_db(cf, prefix, [&](std::string_view k, std::string_view v) {
          t.emplace(std::string(k.substr(prefix.size())), std::string(v));
        }, instance);
        if (t.size() != n)
          fail("instance " + shown(instance) + ": table " + shown(name) + " holds " +
               std::to_string(t.size()) + " keys but its record says " + std::to_string(n));
      } else {
        auto& a = c.arrays[name];
        a.resize(n);
        scan_db(cf, prefix, [&](std::string_view k, std::string_view v) {
          if (k.size() != prefix.size() + 8 || rdb::array_index(k, prefix.size()) >= n)
            fail("instance " + shown(instance) + ": array " + shown(name) + " has slot key " +
                 rdb::hex(k) + " beyond its size " + std::to_string(n));
          a[rdb::array_index(k, prefix.size())] = std::string(v);
        }, instance);
      }
    }
    return c;
  }

  /// Exports `cf` (committed data only) as an E3RSNAP1 pack.
  std::string export_cf(rocksdb::ColumnFamilyHandle* cf, std::string_view instance) {
    rocksdb::Checkpoint* raw = nullptr;
    check(rocksdb::Checkpoint::Create(db.get(), &raw), "creating a checkpoint");
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    std::error_code ec;
    fs::create_directories(path + "/e3-tmp", ec);
    dir_guard dir{tmp_dir("export")};
    rocksdb::ExportImportFilesMetaData* md_raw = nullptr;
    check(cp->ExportColumnFamily(cf, dir.path, &md_raw), "exporting instance " + shown(instance));
    std::unique_ptr<rocksdb::ExportImportFilesMetaData> md(md_raw);

    rdb::pack_header h;
    h.comparator = md->db_comparator_name;
    h.state = read_state(cf, instance);
    for (const auto& [_, n] : read_metas(cf, instance)) {
      h.entries += n;
      ++h.collections;
    }
    std::uint64_t total = 0;
    std::vector<std::uint64_t> sizes;
    for (const auto& f : md->files) {
      sizes.push_back(f.size);
      rdb::pack_file p;
      p.name = f.name;
      p.level = static_cast<std::uint32_t>(f.level);
      p.smallest_seqno = f.smallest_seqno;
      p.largest_seqno = f.largest_seqno;
      p.smallest_key = f.smallestkey;
      p.largest_key = f.largestkey;
      h.files.push_back(std::move(p));
      total += f.size;
    }
    // Reserve the header, read every file straight behind it (one copy), then write the
    // header with the real sizes and checksums over the reserved bytes.
    std::string out = rdb::encode_pack_header(h);
    auto header_size = out.size();
    out.reserve(header_size + total);
    prefer_huge_pages(out);
    for (std::size_t i = 0; i < h.files.size(); ++i) {
      auto& p = h.files[i];
      auto at = out.size();
      append_file(dir.path + p.name, sizes[i], out);
      p.size = sizes[i];
      p.crc = crc32c(std::string_view(out).substr(at));
    }
    auto header = rdb::encode_pack_header(h);
    if (header.size() != header_size)
      fail("exporting instance " + shown(instance) + ": pack header changed size");
    out.replace(0, header_size, header);
    return out;
  }

  /// Checks and decodes a snapshot of either kind without changing anything.
  decoded_snapshot decode_any(std::string_view bytes) const {
    decoded_snapshot d;
    if (bytes.substr(0, rdb::pack_magic.size()) == rdb::pack_magic) {
      d.packed = true;
      d.pack = rdb::decode_pack(bytes);
      if (d.pack.comparator != cf_opts.comparator->Name())
        throw state_error("RocksDB snapshot uses comparator " + shown(d.pack.comparator) +
                          ", this store " + shown(cf_opts.comparator->Name()));
      if (d.pack.files.empty())
        throw state_error("corrupt RocksDB snapshot: it holds no files (an instance always has a "
                          "state record)");
      d.seq = d.pack.state.seq;
    } else if (bytes.substr(0, rdb::portable_magic.size()) == rdb::portable_magic) {
      d.portable = decode_snapshot(bytes);
    } else {
      throw state_error("cannot import " + rdb::describe_kind(bytes) +
                        ": the RocksDB store imports E3RSNAP1 and E3SNAP01 snapshots");
    }
    return d;
  }

  /// Replaces the state of `e` by a decoded snapshot, with state id `state` and role `role`:
  /// in place when import_in_place applies, else through a new column family.
  void import_into(instance_entry& e, const decoded_snapshot& d, std::size_t snapshot_bytes, state_id state,
                   instance_role role) {
    if (e.role == role && import_in_place(e, d, snapshot_bytes, state))
      return;
    if (d.packed) {
      install(e, build_from_pack(d.pack, e.name), state, role);
      return;
    }
    rocksdb::WriteBatch rest;
    auto b = build_from_contents(d.portable, e.name, rest);
    install(e, b, state, role, std::move(rest));
  }

  built_cf build_from_pack(const rdb::pack_header& h, std::string_view instance) {
    std::error_code ec;
    fs::create_directories(path + "/e3-tmp", ec);
    dir_guard dir{tmp_dir("import")};
    if (!fs::create_directory(dir.path, ec))
      fail("cannot create " + dir.path + ": " + ec.message());
    rocksdb::ExportImportFilesMetaData md;
    md.db_comparator_name = h.comparator;
    for (const auto& f : h.files) {
      auto file = dir.path + f.name;
      write_file(file, f.bytes, opts.sync);
      // Reads every block once: a file whose bytes passed the pack's checksum but are not a
      // valid SST (or were damaged before export) is refused here, not at a later read.
      rocksdb::SstFileReader reader(rocksdb::Options(rocksdb::DBOptions(), cf_opts));
      auto s = reader.Open(file);
      if (s.ok())
        s = reader.VerifyChecksum();
      if (s.ok() && reader.GetTableProperties()->num_entries == 0)
        s = rocksdb::Status::Corruption("file holds no entries");
      if (!s.ok())
        throw state_error("corrupt RocksDB snapshot: file " + f.name + ": " + s.ToString());
      rocksdb::LiveFileMetaData lf;
      lf.name = f.name;
      lf.relative_filename = f.name.substr(1);
      lf.db_path = dir.path;
      lf.directory = dir.path;
      lf.size = f.bytes.size();
      lf.level = static_cast<int>(f.level);
      lf.smallest_seqno = f.smallest_seqno;
      lf.largest_seqno = f.largest_seqno;
      lf.smallestkey = f.smallest_key;
      lf.largestkey = f.largest_key;
      lf.column_family_name = "import";
      md.files.push_back(std::move(lf));
    }
    built_cf b;
    {
      std::lock_guard lock(mu);
      b.gen = next_gen++;
    }
    rocksdb::ImportColumnFamilyOptions io;
    io.move_files = true;
    check(db->CreateColumnFamilyWithImport(cf_opts, cf_name(b.gen), io, md, &b.cf),
          "importing a snapshot of instance " + shown(instance));
    try {
      auto st = read_state(b.cf, instance);
      if (!(st == h.state))
        throw state_error("its state record does not match its header");
      std::uint64_t entries = 0, collections = 0;
      for (const auto& [_, n] : read_metas(b.cf, instance)) {
        entries += n;
        ++collections;
      }
      if (entries != h.entries || collections != h.collections)
        throw state_error("it holds " + std::to_string(collections) + " collections with " +
                          std::to_string(entries) + " entries, its header says " +
                          std::to_string(h.collections) + " with " + std::to_string(h.entries));
    } catch (const state_error& e) {
      drop_cf(b.cf);
      throw state_error("corrupt RocksDB snapshot of instance " + shown(instance) + ": " + e.what());
    }
    return b;
  }

  /// Adds the records of `c` for column family `cf` to `wb`; `spill(wb)` is called whenever
  /// `wb` grows past 4 MB (it may write and clear it).
  template <class F>
  void add_contents(rocksdb::ColumnFamilyHandle* cf, const snapshot_contents& c, rocksdb::WriteBatch& wb,
                    F&& spill) {
    for (const auto& [name, entries] : c.tables) {
      check(wb.Put(cf, rdb::meta_key(rdb::table_kind, name), rdb::encode_count(entries.size())), "batch");
      auto prefix = rdb::entry_prefix(rdb::table_kind, name);
      for (const auto& [k, v] : entries) {
        check(wb.Put(cf, rdb::table_key(prefix, k), v), "batch");
        if (wb.GetDataSize() >= (4u << 20))
          spill(wb);
      }
    }
    for (const auto& [name, slots] : c.arrays) {
      check(wb.Put(cf, rdb::meta_key(rdb::array_kind, name), rdb::encode_count(slots.size())), "batch");
      auto prefix = rdb::entry_prefix(rdb::array_kind, name);
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].empty())
          continue;
        check(wb.Put(cf, rdb::array_key(prefix, i), slots[i]), "batch");
        if (wb.GetDataSize() >= (4u << 20))
          spill(wb);
      }
    }
  }

  /// Builds a new column family from portable contents. Earlier chunks go to the WAL unsynced;
  /// the last chunk rides in `rest`, which install() writes synced (making them all durable)
  /// together with the catalog entry that makes the family live.
  built_cf build_from_contents(const snapshot_contents& c, std::string_view instance,
                               rocksdb::WriteBatch& rest) {
    auto b = create_cf();
    try {
      add_contents(b.cf, c, rest, [&](rocksdb::WriteBatch& wb) {
        check(db->Write(rocksdb::WriteOptions(), &wb), "importing a snapshot of instance " + shown(instance));
        wb.Clear();
      });
    } catch (...) {
      drop_cf(b.cf);
      throw;
    }
    return b;
  }

  /// The fast import: when `e` holds no entries (a fresh instance, e.g. a migration target
  /// opened before the blackout) and the snapshot is portable and small, writes it into the
  /// existing column family as one atomic batch — one WAL write, no new column family, no
  /// MANIFEST change. False (and nothing changed) when it does not apply.
  bool import_in_place(instance_entry& e, const decoded_snapshot& d, std::size_t snapshot_bytes,
                       state_id state) {
    if (d.packed || !e.cf || snapshot_bytes > (std::size_t(64) << 20))
      return false;
    auto metas = read_metas(e.cf, e.name);
    for (const auto& [_, n] : metas)
      if (n != 0)
        return false;
    rocksdb::WriteBatch wb;
    for (const auto& [kn, _] : metas) {
      bool kept = kn.first == rdb::table_kind ? d.portable.tables.count(kn.second) != 0
                                              : d.portable.arrays.count(kn.second) != 0;
      if (!kept)
        check(wb.Delete(e.cf, rdb::meta_key(kn.first, kn.second)), "batch");
    }
    add_contents(e.cf, d.portable, wb, [](rocksdb::WriteBatch&) {});
    check(wb.Put(e.cf, rdb::state_key(), rdb::encode_state(state)), "batch");
    check(db->Write(write_opts(), &wb), "importing a snapshot of instance " + shown(e.name));
    return true;
  }

  /// Makes `b` the column family of `e` with state `state` and role `role`, durably (one synced
  /// write of `wb` — which may carry the new family's first records — plus the state record and
  /// the catalog entry), and retires the old column family.
  void install(instance_entry& e, built_cf b, state_id state, instance_role role,
               rocksdb::WriteBatch wb = rocksdb::WriteBatch()) {
    auto s = wb.Put(b.cf, rdb::state_key(), rdb::encode_state(state));
    if (s.ok())
      s = wb.Put(db->DefaultColumnFamily(), catalog_key(e.name), catalog_value(role, b.gen));
    if (s.ok())
      s = db->Write(synced(), &wb);
    if (!s.ok()) {
      drop_cf(b.cf);
      fail("installing the new state of instance " + shown(e.name), s);
    }
    auto* old = e.cf;
    {
      std::lock_guard lock(mu);
      cfs[b.cf->GetName()] = b.cf;
      e.cf = b.cf;
      e.gen = b.gen;
      e.role = role;
    }
    if (old) {
      std::lock_guard lock(mu);
      retired.push_back(old);
    }
  }
};

namespace {

using impl_ptr = std::shared_ptr<rocksdb_store::impl>;

// ---- collections over a WriteBatchWithIndex --------------------------------------------------

/// A collection's record: its count (table keys, array size) including pending writes.
struct coll_meta {
  std::uint64_t n = 0;
  bool dirty = false;  ///< changed since the last commit: written by the next one
};

class rdb_collections;

class rdb_table final : public hashtable {
 public:
  rdb_table(rdb_collections& c, std::string name, coll_meta& m)
      : c_(&c), name_(std::move(name)), prefix_(rdb::entry_prefix(rdb::table_kind, name_)), meta_(&m) {}
  bool get(std::string_view key, std::string& out) const override;
  void put(std::string_view key, std::string_view value) override;
  bool erase(std::string_view key) override;
  std::size_t size() const override { return meta_->n; }
  void for_each(const std::function<void(std::string_view, std::string_view)>& f) const override;

 private:
  rdb_collections* c_;
  std::string name_;
  std::string prefix_;
  coll_meta* meta_;
  mutable std::string key_;
};

class rdb_array final : public array {
 public:
  rdb_array(rdb_collections& c, std::string name, coll_meta& m)
      : c_(&c), name_(std::move(name)), prefix_(rdb::entry_prefix(rdb::array_kind, name_)), meta_(&m) {}
  std::size_t size() const override { return meta_->n; }
  void resize(std::size_t n) override;
  void get(std::size_t i, std::string& out) const override;
  void set(std::size_t i, std::string_view value) override;

 private:
  std::size_t check(std::size_t i) const {
    if (i >= meta_->n)
      throw state_error("array '" + name_ + "': index " + std::to_string(i) +
                        " out of range (size " + std::to_string(meta_->n) + ")");
    return i;
  }
  rdb_collections* c_;
  std::string name_;
  std::string prefix_;
  coll_meta* meta_;
};

class rdb_collections final : public rocksdb_collections {
 public:
  rdb_collections(impl_ptr store, std::shared_ptr<instance_entry> e, replication_target* backup)
      : store_(std::move(store)), entry_(std::move(e)), backup_(backup) {
    load();
  }
  ~rdb_collections() override {
    std::lock_guard lock(store_->mu);
    entry_->open = false;
  }

  // collections
  hashtable& get_table(std::string_view name) override {
    auto i = tables_.find(name);
    if (i == tables_.end())
      i = tables_.emplace(std::string(name),
                          std::make_unique<rdb_table>(*this, std::string(name), meta(rdb::table_kind, name)))
              .first;
    return *i->second;
  }
  array& get_array(std::string_view name) override {
    auto i = arrays_.find(name);
    if (i == arrays_.end())
      i = arrays_.emplace(std::string(name),
                          std::make_unique<rdb_array>(*this, std::string(name), meta(rdb::array_kind, name)))
              .first;
    return *i->second;
  }
  void commit() override;
  std::string export_snapshot() const override {
    require_no_pending("export_snapshot");
    return store_->export_cf(entry_->cf, entry_->name);
  }
  void import_snapshot(std::string_view snapshot) override;
  std::size_t entry_count() const override {
    std::size_t n = 0;
    for (const auto& m : {&tables_meta_, &arrays_meta_})
      for (const auto& [_, c] : *m)
        n += c.n;
    return n;
  }

  // rocksdb_collections
  const std::string& instance() const override { return entry_->name; }
  std::uint64_t committed_seq() const override { return committed_.seq; }
  std::size_t pending_writes() const override { return pending_; }
  void set_backup(replication_target* backup) override { backup_ = backup; }
  void resync_backup() override {
    if (!backup_)
      throw state_error("instance " + shown(entry_->name) + ": resync_backup without a backup");
    send_full_state();
  }
  std::string export_portable_snapshot() const override {
    require_no_pending("export_portable_snapshot");
    return encode_snapshot(store_->read_contents(entry_->cf, entry_->name));
  }

  // for tables and arrays
  bool read(const std::string& key, std::string& out) const {
    auto s = wb_.GetFromBatchAndDB(store_->db.get(), ro_, entry_->cf, key, &out);
    if (s.IsNotFound())
      return false;
    if (!s.ok())
      store_->fail("instance " + shown(entry_->name) + ": reading key " + rdb::hex(key), s);
    return true;
  }
  bool exists(const std::string& key) const {
    rocksdb::PinnableSlice v;
    auto s = wb_.GetFromBatchAndDB(store_->db.get(), ro_, entry_->cf, key, &v);
    if (s.IsNotFound())
      return false;
    if (!s.ok())
      store_->fail("instance " + shown(entry_->name) + ": reading key " + rdb::hex(key), s);
    return true;
  }
  void put(const std::string& key, std::string_view value) {
    store_->check(wb_.Put(entry_->cf, key, value), "buffering a write");
    ++pending_;
  }
  void del(const std::string& key) {
    store_->check(wb_.Delete(entry_->cf, key), "buffering a delete");
    ++pending_;
  }
  void touched(coll_meta& m) {
    m.dirty = true;
    ++pending_;
  }
  /// Visits keys from `from` while they start with `prefix`, in the merged (pending over
  /// committed) view.
  template <class F>
  void scan(const std::string& prefix, const std::string& from, F&& f) const {
    rocksdb::ReadOptions ro = ro_;
    auto end = rdb::prefix_end(prefix);
    rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(
        wb_.NewIteratorWithBase(entry_->cf, store_->db->NewIterator(ro, entry_->cf), &ro));
    for (it->Seek(from); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      if (k.substr(0, prefix.size()) != prefix)
        break;
      f(k, it->value().ToStringView());
    }
    if (!it->status().ok())
      store_->fail("instance " + shown(entry_->name) + ": iterating", it->status());
  }

 private:
  coll_meta& meta(char kind, std::string_view name) {
    auto& m = kind == rdb::table_kind ? tables_meta_ : arrays_meta_;
    auto i = m.find(name);
    if (i == m.end()) {
      i = m.emplace(std::string(name), coll_meta{}).first;
      touched(i->second);  // a new collection exists once committed, even while empty
    }
    return i->second;
  }

  /// Reads the committed state id and collection records; keeps existing meta objects (tables
  /// and arrays handed out point at them) and resets those the store does not hold.
  void load() {
    committed_ = store_->read_state(entry_->cf, entry_->name);
    for (auto* m : {&tables_meta_, &arrays_meta_})
      for (auto& [_, c] : *m)
        c = coll_meta{};
    for (const auto& [kn, n] : store_->read_metas(entry_->cf, entry_->name)) {
      auto& m = kn.first == rdb::table_kind ? tables_meta_ : arrays_meta_;
      m[kn.second] = coll_meta{n, false};
    }
    wb_.Clear();
    pending_ = 0;
  }

  void require_no_pending(const char* what) const {
    if (pending_ != 0)
      throw state_error("instance " + shown(entry_->name) + ": " + what + " with " +
                        std::to_string(pending_) + " uncommitted writes; commit() first");
  }

  void send_full_state() {
    auto snap = store_->export_cf(entry_->cf, entry_->name);
    rdb::repl_message m;
    m.kind = 'S';
    m.instance = entry_->name;
    m.next = committed_;
    m.payload = snap;
    if (backup_->apply(entry_->name, rdb::encode_message(m)) != replica_reply::applied)
      throw state_error("instance " + shown(entry_->name) + ": the backup refused a full state");
  }

  impl_ptr store_;
  std::shared_ptr<instance_entry> entry_;
  replication_target* backup_;
  mutable rocksdb::WriteBatchWithIndex wb_{rocksdb::BytewiseComparator(), 0, true};
  rocksdb::ReadOptions ro_;
  std::map<std::string, coll_meta, std::less<>> tables_meta_, arrays_meta_;
  std::map<std::string, std::unique_ptr<rdb_table>, std::less<>> tables_;
  std::map<std::string, std::unique_ptr<rdb_array>, std::less<>> arrays_;
  state_id committed_;
  std::size_t pending_ = 0;
};

void rdb_collections::commit() {
  if (pending_ == 0)
    return;
  state_id next{committed_.epoch, committed_.seq + 1};
  for (const auto& [kind, m] : {std::pair{rdb::table_kind, &tables_meta_}, std::pair{rdb::array_kind, &arrays_meta_}})
    for (const auto& [name, c] : *m)
      if (c.dirty)
        store_->check(wb_.Put(entry_->cf, rdb::meta_key(kind, name), rdb::encode_count(c.n)), "batch");
  store_->check(wb_.Put(entry_->cf, rdb::state_key(), rdb::encode_state(next)), "batch");
  auto* batch = wb_.GetWriteBatch();
  if (backup_) {
    rdb::repl_message m;
    m.kind = 'B';
    m.instance = entry_->name;
    m.base = committed_;
    m.next = next;
    m.payload = batch->Data();
    auto msg = rdb::encode_message(m);
    if (backup_->apply(entry_->name, msg) == replica_reply::needs_full_state) {
      send_full_state();
      if (backup_->apply(entry_->name, msg) != replica_reply::applied)
        throw state_error("instance " + shown(entry_->name) +
                          ": the backup refused a batch right after taking the full state");
    }
  }
  store_->check(store_->db->Write(store_->write_opts(), batch),
                "committing instance " + shown(entry_->name));
  committed_ = next;
  wb_.Clear();
  pending_ = 0;
  for (auto* m : {&tables_meta_, &arrays_meta_})
    for (auto& [_, c] : *m)
      c.dirty = false;
}

void rdb_collections::import_snapshot(std::string_view snapshot) {
  auto d = store_->decode_any(snapshot);  // throws before anything changes
  state_id next{random_epoch(), d.seq + 1};
  if (backup_) {
    rdb::repl_message m;
    m.kind = 'S';
    m.instance = entry_->name;
    m.next = next;
    m.payload = snapshot;
    if (backup_->apply(entry_->name, rdb::encode_message(m)) != replica_reply::applied)
      throw state_error("instance " + shown(entry_->name) + ": the backup refused the imported state");
  }
  store_->import_into(*entry_, d, snapshot.size(), next, instance_role::primary);
  load();
}

bool rdb_table::get(std::string_view key, std::string& out) const {
  key_ = rdb::table_key(prefix_, key);
  return c_->read(key_, out);
}

void rdb_table::put(std::string_view key, std::string_view value) {
  key_ = rdb::table_key(prefix_, key);
  if (!c_->exists(key_))
    ++meta_->n;
  c_->put(key_, value);
  meta_->dirty = true;
}

bool rdb_table::erase(std::string_view key) {
  key_ = rdb::table_key(prefix_, key);
  if (!c_->exists(key_))
    return false;
  c_->del(key_);
  --meta_->n;
  meta_->dirty = true;
  return true;
}

void rdb_table::for_each(const std::function<void(std::string_view, std::string_view)>& f) const {
  c_->scan(prefix_, prefix_, [&](std::string_view k, std::string_view v) { f(k.substr(prefix_.size()), v); });
}

void rdb_array::resize(std::size_t n) {
  if (n < meta_->n) {
    std::vector<std::string> gone;
    c_->scan(prefix_, rdb::array_key(prefix_, n), [&](std::string_view k, std::string_view) { gone.emplace_back(k); });
    for (const auto& k : gone)
      c_->del(k);
  }
  meta_->n = n;
  c_->touched(*meta_);
}

void rdb_array::get(std::size_t i, std::string& out) const {
  if (!c_->read(rdb::array_key(prefix_, check(i)), out))
    out.clear();
}

void rdb_array::set(std::size_t i, std::string_view value) {
  auto k = rdb::array_key(prefix_, check(i));
  if (value.empty())
    c_->del(k);  // an empty slot is an absent key
  else
    c_->put(k, value);
}

// ---- the backup's apply ----------------------------------------------------------------------

/// Re-targets a primary's batch to the replica's column family, refusing anything but puts and
/// deletes of well-formed instance records, and checks that it moves the state to `next`.
class replica_translator final : public rocksdb::WriteBatch::Handler {
 public:
  replica_translator(rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatch& out, state_id next)
      : cf_(cf), out_(&out), next_(next) {}

  rocksdb::Status PutCF(std::uint32_t id, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    if (auto s = same_family(id); !s.ok())
      return s;
    auto key = k.ToStringView();
    if (auto why = rdb::check_put(key, v.ToStringView()); !why.empty())
      return rocksdb::Status::Corruption(why);
    if (key == rdb::state_key()) {
      state_id st;
      rdb::decode_state(v.ToStringView(), st);
      if (!(st == next_))
        return rocksdb::Status::Corruption("the batch's state record does not match the message header");
      saw_state_ = true;
    }
    return out_->Put(cf_, k, v);
  }
  rocksdb::Status DeleteCF(std::uint32_t id, const rocksdb::Slice& k) override {
    if (auto s = same_family(id); !s.ok())
      return s;
    if (auto why = rdb::check_delete(k.ToStringView()); !why.empty())
      return rocksdb::Status::Corruption(why);
    return out_->Delete(cf_, k);
  }
  rocksdb::Status PutEntityCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse("wide-column put");
  }
  rocksdb::Status SingleDeleteCF(std::uint32_t, const rocksdb::Slice&) override { return refuse("single delete"); }
  rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse("range delete");
  }
  rocksdb::Status MergeCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse("merge");
  }
  rocksdb::Status PutBlobIndexCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse("blob index");
  }
  void LogData(const rocksdb::Slice&) override { refused_ = "log data"; }
  rocksdb::Status MarkBeginPrepare(bool) override { return refuse("prepare marker"); }
  rocksdb::Status MarkEndPrepare(const rocksdb::Slice&) override { return refuse("prepare marker"); }
  rocksdb::Status MarkNoop(bool) override { return refuse("noop marker"); }
  rocksdb::Status MarkRollback(const rocksdb::Slice&) override { return refuse("rollback marker"); }
  rocksdb::Status MarkCommit(const rocksdb::Slice&) override { return refuse("commit marker"); }
  rocksdb::Status MarkCommitWithTimestamp(const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse("commit marker");
  }
  bool Continue() override { return refused_.empty(); }

  /// "" when the whole batch was acceptable.
  std::string problem(const rocksdb::Status& s) const {
    if (!refused_.empty())
      return "unexpected " + refused_ + " record";
    if (!s.ok())
      return s.ToString();
    if (!saw_state_)
      return "the batch has no state record";
    return "";
  }

 private:
  rocksdb::Status same_family(std::uint32_t id) {
    if (!family_)
      family_ = id;
    else if (*family_ != id)
      return rocksdb::Status::Corruption("the batch writes to more than one column family");
    return rocksdb::Status::OK();
  }
  rocksdb::Status refuse(const char* what) {
    refused_ = what;
    return rocksdb::Status::Corruption(std::string("unexpected ") + what + " record");
  }
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatch* out_;
  state_id next_;
  std::optional<std::uint32_t> family_;
  bool saw_state_ = false;
  std::string refused_;
};

}  // namespace

// ---- rocksdb_store ---------------------------------------------------------------------------

rocksdb_store::rocksdb_store(std::shared_ptr<impl> i) : impl_(std::move(i)) {}
rocksdb_store::~rocksdb_store() = default;

const std::string& rocksdb_store::path() const { return impl_->path; }

std::unique_ptr<rocksdb_store> rocksdb_store::open(const std::string& dir, const rocksdb_options& options) {
  auto im = std::make_shared<impl>();
  im->path = dir;
  im->opts = options;
  auto bad = [&](const std::string& why) { throw state_error("state store " + dir + ": " + why); };

  // What is at `dir`: nothing or an empty directory (a new store), a RocksDB database, or
  // something else (refused: a store is never created over someone's files).
  std::error_code ec;
  auto st = fs::status(dir, ec);
  bool fresh = false;
  if (!fs::exists(st)) {
    fs::create_directories(dir, ec);
    if (ec)
      bad("cannot create the directory: " + ec.message());
    fresh = true;
  } else if (!fs::is_directory(st)) {
    bad("not a directory");
  } else {
    bool has_current = fs::exists(dir + "/CURRENT", ec);
    if (!has_current) {
      // RocksDB writes CURRENT last when it creates a database: without it, only the leftovers
      // of a creation that crashed may be here. Anything else is someone's files.
      for (const auto& f : fs::directory_iterator(dir, ec)) {
        auto n = f.path().filename().string();
        if (!creation_leftover(n))
          bad("not a RocksDB database (no CURRENT file) and it holds " + shown(n) +
              "; refusing to create a store over its files");
      }
      if (ec)
        bad("cannot list the directory: " + ec.message());
    }
    fresh = !has_current;
  }

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  auto& cf = im->cf_opts;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.write_buffer_size = options.memtable_per_instance;
  cf.compression = rocksdb::kNoCompression;
  for (auto c : rocksdb::GetSupportedCompressions())
    if (c == rocksdb::kLZ4Compression)
      cf.compression = c;
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = fresh;
  dbo.paranoid_checks = true;
  dbo.max_open_files = -1;
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  dbo.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(options.memtable_budget);
  dbo.max_total_wal_size = 4 * options.memtable_budget;
  dbo.max_background_jobs = 2;
  dbo.keep_log_file_num = 2;
  dbo.max_log_file_size = 4 << 20;

  std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
  if (!fresh) {
    names.clear();
    auto s = rocksdb::DB::ListColumnFamilies(dbo, dir, &names);
    if (!s.ok())
      bad("cannot read the database's column families (a damaged MANIFEST or CURRENT?): " + s.ToString());
  }
  std::uint64_t max_gen = 0;
  for (const auto& n : names) {
    std::uint64_t g = 0;
    if (n == rocksdb::kDefaultColumnFamilyName)
      continue;
    if (!parse_cf_name(n, g))
      bad("not an E3 state store: it has column family " + shown(n) +
          " (a RocksDB database of another program?)");
    max_gen = std::max(max_gen, g);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names)
    descs.emplace_back(n, cf);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(rocksdb::Options(dbo, cf), dir, descs, &handles, &raw);
  if (!s.ok())
    bad("cannot open the database: " + s.ToString());
  im->db.reset(raw);
  for (auto* h : handles) {
    if (h->GetName() == rocksdb::kDefaultColumnFamilyName)
      raw->DestroyColumnFamilyHandle(h);  // the DB's own default handle is used instead
    else
      im->cfs[h->GetName()] = h;
  }
  im->next_gen = max_gen + 1;
  auto* def = raw->DefaultColumnFamily();

  // The marker: present in every E3 store; a database without it is another program's,
  // unless it is completely empty (a crash while the store was being created).
  std::string marker;
  s = raw->Get(rocksdb::ReadOptions(), def, marker_key, &marker);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), def));
    it->SeekToFirst();
    if (it->Valid() || !im->cfs.empty())
      bad("not an E3 state store (no E3 marker; a RocksDB database of another program?)");
    im->check(it->status(), "reading the catalog");
    im->check(raw->Put(impl::synced(), def, marker_key, marker_value), "writing the store marker");
  } else if (!s.ok()) {
    bad("cannot read the store marker: " + s.ToString());
  } else if (marker != marker_value) {
    bad("unsupported E3 store format " + shown(marker) + " (this build reads " +
        std::string(marker_value) + ")");
  }

  // The catalog.
  std::set<std::uint64_t> used;
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), def));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      auto v = it->value().ToStringView();
      if (k == marker_key)
        continue;
      if (k.empty() || k[0] != 'I')
        bad("corrupt catalog: unexpected key " + rdb::hex(k));
      auto name = k.substr(1);
      rdb::byte_reader r(v, "corrupt catalog entry of instance " + shown(name));
      auto role = r.u8("role");
      auto gen = r.u64("generation");
      if ((role != 'P' && role != 'R') || r.left() != 0)
        bad("corrupt catalog entry of instance " + shown(name) + ": " + rdb::hex(v));
      auto h = im->cfs.find(cf_name(gen));
      if (h == im->cfs.end())
        bad("corrupt catalog: instance " + shown(name) + " names column family " + cf_name(gen) +
            ", which does not exist");
      if (!used.insert(gen).second)
        bad("corrupt catalog: two instances name column family " + cf_name(gen));
      auto e = std::make_shared<instance_entry>();
      e->name = std::string(name);
      e->role = role == 'P' ? instance_role::primary : instance_role::replica;
      e->gen = gen;
      e->cf = h->second;
      im->instances.emplace(e->name, std::move(e));
    }
    im->check(it->status(), "reading the catalog");
  }
  // Column families no catalog entry names are leftovers of an interrupted import.
  for (auto i = im->cfs.begin(); i != im->cfs.end();) {
    std::uint64_t g = 0;
    parse_cf_name(i->first, g);
    if (used.count(g)) {
      ++i;
      continue;
    }
    im->check(raw->DropColumnFamily(i->second), "dropping leftover column family " + i->first);
    raw->DestroyColumnFamilyHandle(i->second);
    i = im->cfs.erase(i);
  }
  fs::remove_all(dir + "/e3-tmp", ec);

  if (options.verify_on_open) {
    s = raw->VerifyChecksum();
    if (!s.ok())
      bad("checksum verification failed: " + s.ToString());
  }
  return std::unique_ptr<rocksdb_store>(new rocksdb_store(std::move(im)));
}

std::unique_ptr<rocksdb_collections> rocksdb_store::open_collections(std::string_view instance,
                                                                     replication_target* backup) {
  auto& im = *impl_;
  if (instance.empty())
    throw state_error("state store " + im.path + ": an instance needs a non-empty name");
  im.drop_retired();
  std::shared_ptr<instance_entry> e;
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i != im.instances.end()) {
      e = i->second;
      if (e->open)
        im.fail("instance " + shown(instance) + " is already open");
      if (e->role != instance_role::primary || !e->cf)
        im.fail("instance " + shown(instance) + " is a replica on this node; promote() it first");
      e->open = true;
    }
  }
  if (!e) {
    auto b = im.create_cf();
    e = std::make_shared<instance_entry>();
    e->name = std::string(instance);
    e->open = true;
    {
      std::lock_guard lock(im.mu);
      if (im.instances.count(instance)) {
        im.drop_cf(b.cf);
        im.fail("instance " + shown(instance) + " was created concurrently");
      }
      im.instances.emplace(e->name, e);
    }
    try {
      im.install(*e, b, state_id{random_epoch(), 0}, instance_role::primary);
    } catch (...) {
      std::lock_guard lock(im.mu);
      im.instances.erase(e->name);
      throw;
    }
  }
  try {
    return std::make_unique<rdb_collections>(impl_, e, backup);
  } catch (...) {
    std::lock_guard lock(im.mu);
    e->open = false;
    throw;
  }
}

replica_reply rocksdb_store::apply_replica(std::string_view instance, std::string_view message) {
  auto& im = *impl_;
  auto m = rdb::decode_message(message);
  if (m.instance != instance)
    im.fail("replication message for instance " + shown(m.instance) + " delivered as " + shown(instance));
  std::shared_ptr<instance_entry> e;
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i == im.instances.end()) {
      e = std::make_shared<instance_entry>();  // placeholder until its column family exists
      e->name = std::string(instance);
      e->role = instance_role::replica;
      im.instances.emplace(e->name, e);
    } else {
      e = i->second;
    }
  }
  std::lock_guard apply_lock(e->apply_mu);
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i == im.instances.end() || i->second != e)
      return apply_replica(instance, message);  // dropped or replaced meanwhile: start over
  }
  auto forget_placeholder = [&] {
    std::lock_guard lock(im.mu);
    if (!e->cf) {
      auto i = im.instances.find(instance);
      if (i != im.instances.end() && i->second == e)
        im.instances.erase(i);
    }
  };
  if (e->role != instance_role::replica)
    im.fail("instance " + shown(instance) + " is a primary on this node; refusing replication "
            "from another primary (promoted backups fence off their old primary)");
  try {
    if (m.kind == 'S') {
      im.drop_retired();  // a resync is no fast path: free earlier replaced states first
      auto d = im.decode_any(m.payload);
      im.import_into(*e, d, m.payload.size(), m.next, instance_role::replica);
      e->state = m.next;
      e->state_known = true;
      return replica_reply::applied;
    }
    bool fresh = false;
    if (!e->cf) {
      if (m.base.seq != 0) {
        forget_placeholder();
        return replica_reply::needs_full_state;
      }
      fresh = true;
    } else {
      if (!e->state_known) {
        e->state = im.read_state(e->cf, instance);
        e->state_known = true;
      }
      if (!(e->state == m.base)) {
        if (m.base.seq != 0)
          return replica_reply::needs_full_state;
        fresh = true;  // a new history starts empty: no need to ship anything
      }
    }
    rocksdb::WriteBatch in{std::string(m.payload)};
    rocksdb::WriteBatch out;
    if (!fresh) {
      replica_translator t(e->cf, out, m.next);
      auto s = in.Iterate(&t);
      if (auto why = t.problem(s); !why.empty())
        im.fail("corrupt replication message for instance " + shown(instance) + ": " + why);
      im.check(im.db->Write(im.write_opts(), &out), "applying a batch to replica " + shown(instance));
    } else {
      auto b = im.create_cf();
      replica_translator t(b.cf, out, m.next);
      auto s = in.Iterate(&t);
      if (auto why = t.problem(s); !why.empty()) {
        im.drop_cf(b.cf);
        im.fail("corrupt replication message for instance " + shown(instance) + ": " + why);
      }
      im.install(*e, b, m.next, instance_role::replica, std::move(out));
    }
    e->state = m.next;
    e->state_known = true;
    return replica_reply::applied;
  } catch (...) {
    e->state_known = false;  // re-read from disk next time
    forget_placeholder();
    throw;
  }
}

void rocksdb_store::promote(std::string_view instance) {
  auto& im = *impl_;
  std::shared_ptr<instance_entry> e;
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i == im.instances.end() || !i->second->cf)
      im.fail("promote: no replica of instance " + shown(instance) + " on this node");
    e = i->second;
  }
  std::lock_guard apply_lock(e->apply_mu);
  if (e->role == instance_role::primary)
    return;
  im.check(im.db->Put(impl::synced(), im.db->DefaultColumnFamily(), catalog_key(e->name),
                      catalog_value(instance_role::primary, e->gen)),
           "promoting instance " + shown(instance));
  std::lock_guard lock(im.mu);
  e->role = instance_role::primary;
}

void rocksdb_store::drop_instance(std::string_view instance) {
  auto& im = *impl_;
  std::shared_ptr<instance_entry> e;
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i == im.instances.end() || !i->second->cf)
      im.fail("drop_instance: no instance " + shown(instance) + " on this node");
    e = i->second;
    if (e->open)
      im.fail("drop_instance: instance " + shown(instance) + " is open");
    e->open = true;  // nobody opens it while it goes
  }
  std::lock_guard apply_lock(e->apply_mu);
  auto s = im.db->Delete(impl::synced(), im.db->DefaultColumnFamily(), catalog_key(e->name));
  if (!s.ok()) {
    std::lock_guard lock(im.mu);
    e->open = false;
    im.fail("dropping instance " + shown(instance), s);
  }
  im.drop_cf(e->cf);
  std::lock_guard lock(im.mu);
  e->cf = nullptr;
  im.instances.erase(e->name);
}

std::vector<instance_info> rocksdb_store::instances() const {
  auto& im = *impl_;
  std::vector<std::shared_ptr<instance_entry>> es;
  {
    std::lock_guard lock(im.mu);
    for (const auto& [_, e] : im.instances)
      if (e->cf)
        es.push_back(e);
  }
  std::vector<instance_info> out;
  for (const auto& e : es) {
    auto st = im.read_state(e->cf, e->name);
    std::uint64_t entries = 0;
    for (const auto& [_, n] : im.read_metas(e->cf, e->name))
      entries += n;
    out.push_back({e->name, e->role, st.epoch, st.seq, entries});
  }
  return out;
}

snapshot_contents rocksdb_store::contents(std::string_view instance) const {
  auto& im = *impl_;
  std::shared_ptr<instance_entry> e;
  {
    std::lock_guard lock(im.mu);
    auto i = im.instances.find(instance);
    if (i == im.instances.end() || !i->second->cf)
      im.fail("contents: no instance " + shown(instance) + " on this node");
    e = i->second;
  }
  return im.read_contents(e->cf, e->name);
}

void rocksdb_store::flush() {
  auto& im = *impl_;
  im.drop_retired();
  std::vector<rocksdb::ColumnFamilyHandle*> hs{im.db->DefaultColumnFamily()};
  {
    std::lock_guard lock(im.mu);
    for (const auto& [_, h] : im.cfs)
      hs.push_back(h);
  }
  im.check(im.db->Flush(rocksdb::FlushOptions(), hs), "flushing");
}

}  // namespace e3::state
