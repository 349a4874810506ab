// Reliable collections on RocksDB: one database per node, one column family per service
// instance, durable and replicated commits, snapshots for migration.
//
// Layout. A node process opens one `rocksdb_store` on its data directory. Every service
// instance on the node (primary) and every instance the node backs up (replica) has its own
// column family "e3/<generation>"; the default column family holds the node's catalog
// (instance name -> role, column family) and a marker that tells an E3 store from any other
// RocksDB database. Keys inside an instance's column family: rocksdb_format.hpp.
//
// Reads are local and see the instance's own uncommitted writes (a WriteBatchWithIndex over
// the database). `commit()` makes the pending writes one atomic RocksDB write batch.
//
// Durability policy (rocksdb_options::sync):
//  - sync = true (default): the write-ahead log is on and fdatasync'ed before commit()
//    returns. An acknowledged write survives a process crash and a machine crash or power
//    loss. Cost: one WAL fdatasync per commit — `e3 bench state` measured a p50 commit of
//    4.0 ms (8 ms with the synchronous backup) on this machine's virtual disk, 8 ms (15 ms)
//    when the machine was loaded, the same as plain RocksDB with sync — so the runtime
//    commits once per batch of requests (group commit), and RocksDB merges the syncs of
//    instances that commit at the same time.
//  - sync = false: the WAL record is written to the operating system (write(2)) before
//    commit() returns, not fsync'ed. An acknowledged write survives a crash of the process
//    (kill -9), not a crash of the machine: the last commits before a power loss may be lost
//    (never partly: recovery stops at the last whole batch).
//  Recovery uses RocksDB's point-in-time mode: a torn last WAL record (a crash in the middle of
//  a write) is dropped, and a batch is applied wholly or not at all. A record damaged in the
//  middle of the WAL (disk corruption) ends recovery at the last whole commit before it: the
//  store reopens as of that commit (the later ones are lost) or refuses to open.
//
// Replication. With a `replication_target` set, commit() first sends the batch to the backup
// replica (which applies it durably, under its own store's sync policy) and only then writes
// it locally; a failure of either throws and nothing is acknowledged. Every batch names the
// state it applies to (a random epoch plus the commit count); a backup whose state differs
// answers `needs_full_state` and the primary ships a full snapshot first, so a backup never
// applies a batch to the wrong history (after a failed commit, a primary restart, an import,
// or a brand-new backup). The backup side is `rocksdb_store::apply_replica` on the other node;
// `in_process_backup` connects two stores of one process (tests, benchmarks).
//
// Snapshots. `export_snapshot()` returns "E3RSNAP1": the instance's SST files from RocksDB's
// Checkpoint::ExportColumnFamily, with their metadata, packed into one byte string with a
// CRC-32C over the header and one per file. `import_snapshot()` accepts E3RSNAP1 (through
// CreateColumnFamilyWithImport) and the portable "E3SNAP01" of snapshot.hpp (what the memory
// store exports; written key by key). The memory store imports only E3SNAP01 and names the
// kind it got otherwise; `export_portable_snapshot()` makes one from a RocksDB instance.
// An import builds a new column family and switches the catalog to it with one synced write;
// the replaced family is dropped later (next open_collections, flush, or close), off the
// import's critical path. Fast path: a portable snapshot (up to 64 MB) imported into an
// instance that holds no entries (a migration target opened before the blackout) is written
// in place as one atomic batch — one WAL write, no MANIFEST change — which is the quickest
// way to move a small instance (see `e3 bench state`).
//
// Errors. Everything wrong on disk or on the wire — a directory that is not a database, a
// database of another program, a corrupt MANIFEST, SST or WAL (block checksums are verified on
// every read), a corrupt snapshot or message — throws state_error naming the path or the byte
// offset and what was wrong.
//
// Thread-safety: a rocksdb_store may be used from several threads (apply_replica for different
// instances runs concurrently; for one instance it is serialised). A collections object
// belongs to one instance and one thread at a time, as collections says. The store must stay
// open while collections objects it opened are alive (they keep the database open).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "state_store/snapshot.hpp"
#include "state_store/state_store.hpp"

namespace e3::state {

/// How a node's store writes and checks its data.
struct rocksdb_options {
  /// fdatasync the WAL before commit() (and a backup's apply) returns: see the header comment
  /// for what each setting guarantees.
  bool sync = true;
  /// Read every block of every SST file at open (DB::VerifyChecksum), so silent corruption is
  /// found at open rather than at the first read of the damaged block. Costs a full read.
  bool verify_on_open = false;
  /// Memtable memory of all instances together, bytes (a RocksDB WriteBufferManager).
  std::size_t memtable_budget = std::size_t(256) << 20;
  /// Memtable size of one instance, bytes.
  std::size_t memtable_per_instance = std::size_t(32) << 20;
  /// Block cache shared by all instances, bytes.
  std::size_t block_cache = std::size_t(64) << 20;
};

/// A backup's answer to a replication message.
enum class replica_reply : std::uint8_t {
  applied,           ///< applied and durable on the backup
  needs_full_state,  ///< the backup's state is not the batch's base: send the full state first
};

/// Where a primary sends each commit before acknowledging it: the backup replica of its
/// instance, on a node in another fault domain. The store cannot know the link, so the runtime
/// implements this over its transports (carrying the message bytes to the backup node, where
/// rocksdb_store::apply_replica runs, and the reply back).
class replication_target {
 public:
  virtual ~replication_target() = default;
  /// Delivers one replication message (self-describing, checksummed bytes) for `instance` and
  /// returns the backup's reply once the backup has made it durable. Synchronous. Throws on
  /// any failure (unreachable, timeout, rejected); the primary's commit then throws too.
  virtual replica_reply apply(std::string_view instance, std::string_view message) = 0;
};

/// The role of an instance's data on a node.
enum class instance_role : std::uint8_t {
  primary,  ///< the live instance's collections
  replica,  ///< a backup copy, written only by apply_replica until promote()
};

/// What a node holds for one instance.
struct instance_info {
  std::string name;            ///< instance id
  instance_role role;          ///< primary or replica
  std::uint64_t epoch;         ///< random id of the state's history
  std::uint64_t seq;           ///< commits in that history (0 = never committed)
  std::uint64_t entries;       ///< keys plus array slots, committed
};

/// Collections of one instance kept in a rocksdb_store: the collections interface plus what
/// the runtime needs for replication and migration.
class rocksdb_collections : public collections {
 public:
  /// The instance id.
  virtual const std::string& instance() const = 0;
  /// Commits made durable in the current history (the state id's sequence number).
  virtual std::uint64_t committed_seq() const = 0;
  /// Writes (puts, erases, slot sets, resizes, new collections) not committed yet.
  virtual std::size_t pending_writes() const = 0;
  /// Sets (or, with nullptr, clears) the backup that every later commit goes to first. The
  /// target must outlive its use. A new backup gets the full state at the next commit.
  virtual void set_backup(replication_target* backup) = 0;
  /// Sends the full committed state to the backup now (e.g. right after set_backup, so the
  /// first commit does not pay for it). Throws when there is no backup or it fails.
  virtual void resync_backup() = 0;
  /// The committed contents as a portable E3SNAP01 snapshot (importable by every store).
  virtual std::string export_portable_snapshot() const = 0;
};

/// A node's durable store: one RocksDB database in a data directory.
class rocksdb_store {
 public:
  /// Opens the store in `dir`, creating it when `dir` is missing or empty. Throws state_error
  /// naming `dir` when it is not a directory, holds something that is not a RocksDB database,
  /// holds a database of another program, or the database is corrupt.
  static std::unique_ptr<rocksdb_store> open(const std::string& dir, const rocksdb_options& options = {});
  ~rocksdb_store();
  rocksdb_store(const rocksdb_store&) = delete;
  rocksdb_store& operator=(const rocksdb_store&) = delete;

  /// The collections of primary `instance`, created empty if the node has none. `backup`
  /// (may be null) receives every commit first. Throws when the instance is already open, or
  /// is a replica here (promote() it first).
  std::unique_ptr<rocksdb_collections> open_collections(std::string_view instance,
                                                        replication_target* backup = nullptr);

  /// Backup side: applies one replication message from the primary of `instance` to this
  /// node's replica (created by the first message), durably, before returning. Throws
  /// state_error on a corrupt message, a message for another instance, or when `instance` is a
  /// primary here (a promoted backup fences off its old primary).
  replica_reply apply_replica(std::string_view instance, std::string_view message);

  /// Failover: makes this node's replica of `instance` its primary (durably); then
  /// open_collections() reads everything the old primary acknowledged.
  void promote(std::string_view instance);

  /// Deletes `instance` (primary or replica) and its data, e.g. after it migrated away.
  /// Throws when it is open or unknown.
  void drop_instance(std::string_view instance);

  /// Every instance on this node, by name.
  std::vector<instance_info> instances() const;

  /// The committed contents of `instance` (primary or replica), e.g. to compare a backup with
  /// its primary. Not concurrently with that instance's import or a replica's full-state apply.
  snapshot_contents contents(std::string_view instance) const;

  /// Writes every memtable to SST files (so the WAL can be recycled; used by tests).
  void flush();

  /// The data directory.
  const std::string& path() const;

  struct impl;  ///< the database and the catalog (rocksdb_store.cpp)

 private:
  explicit rocksdb_store(std::shared_ptr<impl> i);
  std::shared_ptr<impl> impl_;
};

/// A replication_target inside one process: applies each message to `backup` directly. Tests
/// and benchmarks use it; the runtime's networked target does the same at the other end.
class in_process_backup final : public replication_target {
 public:
  /// Sends to `backup`, which must outlive this object.
  explicit in_process_backup(rocksdb_store& backup) : backup_(&backup) {}
  /// Calls backup.apply_replica(instance, message).
  replica_reply apply(std::string_view instance, std::string_view message) override {
    return backup_->apply_replica(instance, message);
  }

 private:
  rocksdb_store* backup_;
};

}  // namespace e3::state
