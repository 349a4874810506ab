// SQL (Table 2, "In-memory SQL database"): an embedded SQLite database in memory, fed by stream
// records and queried with read-only SELECTs. We do not write a SQL engine: SQLite is it.
//
// Requests are records (services/common/record.hpp):
// - record.op == 'Q' (0x51, sql::op_query): record.text is one SELECT (or WITH ... SELECT).
//   It runs read-only and the service replies with a record:
//     op 1 (sql::status_rows), key/ts_ns = the request's, value = number of rows,
//     text = the result as text: a header line of column names, then one line per row; fields
//     are separated by TAB, lines end with LF. Integers print in decimal, reals in the shortest
//     form that reads back to the same double, NULL as \N, text with \\ \t \n \r escaped, blobs
//     as \x followed by lowercase hex.
//   Anything else on the query path is rejected with the reason (nothing runs): a statement that
//   is not a SELECT/WITH, more than one statement, a statement that could write
//   (sqlite3_stmt_readonly), any ATTACH/PRAGMA/DDL/DML (a query-time authorizer denies them), a
//   query that exceeds params["max_steps"] virtual-machine steps, or a result larger than
//   params["max_reply_bytes"].
// - any other op: the record is a reading. It is inserted as (key, ts, value, text) into the
//   readings table (text NULL when empty; key as a signed 64-bit INTEGER, so keys of 2^63 and
//   more read back negative) and then emitted downstream unchanged with key record.key (in
//   IOT-TS it triggers the analytics). A failed insert (e.g. a constraint of a custom schema)
//   is rejected with SQLite's message and not emitted.
//
// Schema: `CREATE TABLE readings(key INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, text TEXT)`
// is created first; then params["init_sql"] (SQL text) or params["init_file"] (a .sql file) runs
// once (indexes, views, seed rows, or DROP and re-CREATE readings with more columns; the insert
// names only key, ts, value, text). The insert is a prepared statement reused for every reading;
// readings are inserted inside one transaction that flush() commits.
//
// Durability (params["durability"] = log, the default, or none). The service is pinned to hosts
// (Table 2: the paper's reliable collections cannot hold a SQL engine), so state only has to
// survive a restart on the same host. With `log`, flush() commits the transaction and appends the
// readings inserted since the last flush to the reliable hashtable "sql.log" (8-byte big-endian
// sequence number -> encoded reading); every params["checkpoint_rows"] readings (default 100000;
// 0 = never) it serialises the whole database with sqlite3_serialize into "sql.image" (key "db")
// and empties the log. on_start() deserialises the image (or builds the schema afresh) and
// replays the log in order, so a restarted instance (or, should the runtime ever move it, a
// migrated one) holds the rows the acknowledged requests inserted.
//
// Params: init_sql, init_file, durability, checkpoint_rows, max_steps (default 50,000,000),
// max_reply_bytes (default 1 MiB, a record's largest text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace e3::services::sql {

/// record.op of a query request.
inline constexpr std::uint8_t op_query = 'Q';
/// op of a query reply: text holds rows.
inline constexpr std::uint8_t status_rows = 1;

/// Raised when the database cannot be set up (bad init SQL, SQLite failure); says where.
class sql_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Database settings.
struct db_options {
  std::string init_sql;                       ///< run once after the default schema
  std::string init_name = "init_sql";         ///< how errors name the init SQL (a file name)
  std::int64_t max_steps = 50'000'000;        ///< VM steps a query may take
  std::size_t max_reply_bytes = 1u << 20;     ///< largest query result text
};

/// One SQLite :memory: connection with the readings table, a prepared insert and a guarded
/// read-only query path. Single-threaded.
class database {
 public:
  /// Opens a fresh database: default schema, then opts.init_sql. Throws sql_error naming the
  /// init's line on failure.
  explicit database(db_options opts);
  /// Opens a database from an image made by serialize() (the init SQL does not run again).
  database(db_options opts, std::string_view image);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Inserts a reading in the open transaction (opening one if needed). False with SQLite's
  /// message in `error` when the insert fails; the row is then not inserted.
  bool insert(std::uint64_t key, std::int64_t ts_ns, double value, std::string_view text, std::string& error);
  /// Commits the open transaction, if any.
  void commit();
  /// Runs one read-only SELECT and writes the result text (format above) into `out`. False with
  /// the reason in `error` when the statement is refused or fails.
  bool query(std::string_view sql, std::string& out, std::size_t& rows, std::string& error);
  /// The whole database as bytes (sqlite3_serialize), after committing.
  std::string serialize();
  /// Rows in the readings table.
  std::int64_t count_readings();
  /// The raw connection (benchmarks and tests).
  sqlite3* handle() const { return db_; }

 private:
  void open();
  void load(std::string_view image);
  void release();
  void configure();
  void run_script(std::string_view script, std::string_view name);
  void prepare_insert();
  static int authorize(void* self, int action, const char*, const char*, const char*, const char*);
  static int progress(void* self);

  db_options opts_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  bool in_txn_ = false;
  bool in_query_ = false;
  std::int64_t steps_ = 0;
};

/// Escapes a text value for the result format (\\, \t, \n, \r).
void append_escaped(std::string& out, std::string_view text);

}  // namespace e3::services::sql
