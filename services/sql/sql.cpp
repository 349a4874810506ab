// The SQL service's database: SQLite in memory, the default schema, init scripts with line
// numbers in errors, a reused prepared insert, and the guarded read-only query path.
#include "services/sql/sql.hpp"

#include <sqlite3.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace e3::services::sql {
namespace {

constexpr const char* default_schema =
    "CREATE TABLE readings(key INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, text TEXT)";
constexpr int progress_period = 1000;  // VM steps between progress callbacks

// 1-based line of byte `offset` in `text`.
std::size_t line_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    line += text[i] == '\n';
  return line;
}

// Skips whitespace and SQL comments from `i`; returns the next position.
std::size_t skip_space(std::string_view s, std::size_t i) {
  for (;;) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
    if (s.substr(i, 2) == "--") {
      auto nl = s.find('\n', i);
      i = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s.substr(i, 2) == "/*") {
      auto end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      return i;
    }
  }
}

void append_number(std::string& out, double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}

void append_number(std::string& out, std::int64_t v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}

struct stmt_guard {
  sqlite3_stmt* s;
  ~stmt_guard() { sqlite3_finalize(s); }
};

}  // namespace

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out.push_back(c);
    }
  }
}

database::database(db_options opts) : opts_(std::move(opts)) {
  try {
    open();
    run_script(default_schema, "default schema");
    if (!opts_.init_sql.empty())
      run_script(opts_.init_sql, opts_.init_name);
    prepare_insert();
  } catch (...) {
    release();  // no destructor runs for a constructor that throws
    throw;
  }
}

database::database(db_options opts, std::string_view image) : opts_(std::move(opts)) {
  try {
    load(image);
  } catch (...) {
    release();
    throw;
  }
}

void database::load(std::string_view image) {
  open();
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size() ? image.size() : 1));
  if (!buf)
    throw sql_error("sql: out of memory for a " + std::to_string(image.size()) + "-byte database image");
  std::memcpy(buf, image.data(), image.size());
  int rc = sqlite3_deserialize(db_, "main", buf, sqlite3_int64(image.size()), sqlite3_int64(image.size()),
                               SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
  if (rc != SQLITE_OK)
    throw sql_error(std::string("sql: cannot load the stored database image: ") + sqlite3_errmsg(db_));
  configure();
  prepare_insert();
}

database::~database() { release(); }

void database::release() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(begin_);
  sqlite3_finalize(commit_);
  sqlite3_close(db_);
  insert_ = begin_ = commit_ = nullptr;
  db_ = nullptr;
}

void database::open() {
  if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw sql_error("sql: cannot open an in-memory database: " + msg);
  }
  configure();
}

void database::configure() {
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  // Strings and blobs a query may build (randomblob, zeroblob, printf padding) stay small.
  sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, 16 << 20);
  sqlite3_set_authorizer(db_, &database::authorize, this);
  sqlite3_progress_handler(db_, progress_period, &database::progress, this);
}

int database::authorize(void* self, int action, const char*, const char*, const char*, const char*) {
  auto* db = static_cast<database*>(self);
  if (!db->in_query_)
    return SQLITE_OK;
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

int database::progress(void* self) {
  auto* db = static_cast<database*>(self);
  if (!db->in_query_)
    return 0;
  db->steps_ += progress_period;
  return db->steps_ > db->opts_.max_steps ? 1 : 0;
}

void database::run_script(std::string_view script, std::string_view name) {
  const char* start = script.data();
  const char* p = start;
  const char* end = start + script.size();
  while (p < end) {
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, p, int(end - p), &st, &tail);
    stmt_guard g{st};
    if (rc != SQLITE_OK) {
      int off = sqlite3_error_offset(db_);
      std::size_t at = std::size_t(p - start) + (off >= 0 ? std::size_t(off) : skip_space(std::string_view(p, std::size_t(end - p)), 0));
      throw sql_error(std::string(name) + ":" + std::to_string(line_of(script, at)) + ": " + sqlite3_errmsg(db_));
    }
    if (st) {
      std::size_t at = std::size_t(p - start) + skip_space(std::string_view(p, std::size_t(end - p)), 0);
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      }
      if (rc != SQLITE_DONE)
        throw sql_error(std::string(name) + ":" + std::to_string(line_of(script, at)) + ": " + sqlite3_errmsg(db_));
    }
    p = tail;
  }
}

void database::prepare_insert() {
  auto prep = [&](const char* sql, sqlite3_stmt** st, const char* what) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) != SQLITE_OK)
      throw sql_error(std::string("sql: ") + what + ": " + sqlite3_errmsg(db_));
  };
  prep("INSERT INTO readings(key, ts, value, text) VALUES(?1, ?2, ?3, ?4)", &insert_,
       "the readings table must have columns key, ts, value, text");
  prep("BEGIN", &begin_, "BEGIN");
  prep("COMMIT", &commit_, "COMMIT");
}

bool database::insert(std::uint64_t key, std::int64_t ts_ns, double value, std::string_view text, std::string& error) {
  if (!in_txn_ || sqlite3_get_autocommit(db_)) {  // none open, or SQLite rolled it back
    if (sqlite3_step(begin_) != SQLITE_DONE) {
      error = std::string("sql: BEGIN failed: ") + sqlite3_errmsg(db_);
      sqlite3_reset(begin_);
      return false;
    }
    sqlite3_reset(begin_);
    in_txn_ = true;
  }
  sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(key));
  sqlite3_bind_int64(insert_, 2, ts_ns);
  sqlite3_bind_double(insert_, 3, value);
  if (text.empty())
    sqlite3_bind_null(insert_, 4);
  else
    sqlite3_bind_text(insert_, 4, text.data(), int(text.size()), SQLITE_STATIC);
  int rc = sqlite3_step(insert_);
  if (rc != SQLITE_DONE)
    error = std::string("sql: insert failed: ") + sqlite3_errmsg(db_);
  sqlite3_reset(insert_);
  sqlite3_bind_null(insert_, 4);  // drop the reference to the caller's text
  return rc == SQLITE_DONE;
}

void database::commit() {
  if (!in_txn_ || sqlite3_get_autocommit(db_)) {
    in_txn_ = false;
    return;
  }
  int rc = sqlite3_step(commit_);
  sqlite3_reset(commit_);
  if (rc != SQLITE_DONE)
    throw sql_error(std::string("sql: COMMIT failed: ") + sqlite3_errmsg(db_));
  in_txn_ = false;
}

bool database::query(std::string_view sql, std::string& out, std::size_t& rows, std::string& error) {
  out.clear();
  rows = 0;
  std::size_t first = skip_space(sql, 0);
  std::size_t word_end = first;
  while (word_end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[word_end])))
    ++word_end;
  std::string word(sql.substr(first, word_end - first));
  for (auto& c : word)
    c = char(std::toupper(static_cast<unsigned char>(c)));
  if (word != "SELECT" && word != "WITH") {
    error = "sql: only a single SELECT may be queried (the statement starts with '" +
            std::string(sql.substr(first, std::min<std::size_t>(20, sql.size() - first))) + "')";
    return false;
  }
  if (sql.size() > 1000000) {
    error = "sql: query text longer than 1000000 bytes";
    return false;
  }
  in_query_ = true;
  steps_ = 0;
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &st, &tail);
  stmt_guard g{st};
  struct reset_flag {
    bool& f;
    ~reset_flag() { f = false; }
  } rf{in_query_};
  if (rc != SQLITE_OK || !st) {
    int off = sqlite3_error_offset(db_);
    error = std::string("sql: ") + (rc != SQLITE_OK ? sqlite3_errmsg(db_) : "empty statement");
    if (off >= 0)
      error += " (at byte " + std::to_string(off) + ")";
    return false;
  }
  if (skip_space(sql, std::size_t(tail - sql.data())) != sql.size()) {
    auto rest = skip_space(sql, std::size_t(tail - sql.data()));
    bool only_semicolons = true;
    for (std::size_t i = rest; i < sql.size(); i = skip_space(sql, i + 1))
      if (sql[i] != ';') {
        only_semicolons = false;
        break;
      }
    if (!only_semicolons) {
      error = "sql: more than one statement (the second starts at byte " + std::to_string(rest) + ")";
      return false;
    }
  }
  if (!sqlite3_stmt_readonly(st)) {
    error = "sql: the statement is not read-only";
    return false;
  }
  int cols = sqlite3_column_count(st);
  for (int c = 0; c < cols; ++c) {
    if (c)
      out.push_back('\t');
    const char* name = sqlite3_column_name(st, c);
    append_escaped(out, name ? name : "");
  }
  out.push_back('\n');
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int c = 0; c < cols; ++c) {
      if (c)
        out.push_back('\t');
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER:
          append_number(out, std::int64_t(sqlite3_column_int64(st, c)));
          break;
        case SQLITE_FLOAT:
          append_number(out, sqlite3_column_double(st, c));
          break;
        case SQLITE_NULL:
          out += "\\N";
          break;
        case SQLITE_BLOB: {
          const auto* b = static_cast<const unsigned char*>(sqlite3_column_blob(st, c));
          int n = sqlite3_column_bytes(st, c);
          static const char hex[] = "0123456789abcdef";
          out += "\\x";
          for (int i = 0; i < n; ++i) {
            out.push_back(hex[b[i] >> 4]);
            out.push_back(hex[b[i] & 15]);
          }
          break;
        }
        default: {
          const auto* t = sqlite3_column_text(st, c);
          append_escaped(out, {reinterpret_cast<const char*>(t), std::size_t(sqlite3_column_bytes(st, c))});
        }
      }
    }
    out.push_back('\n');
    ++rows;
    if (out.size() > opts_.max_reply_bytes) {
      error = "sql: the result is larger than " + std::to_string(opts_.max_reply_bytes) + " bytes (after " +
              std::to_string(rows) + " rows)";
      return false;
    }
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_INTERRUPT)
      error = "sql: the query exceeded " + std::to_string(opts_.max_steps) + " virtual machine steps";
    else
      error = std::string("sql: ") + sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

std::string database::serialize() {
  commit();
  sqlite3_int64 size = 0;
  unsigned char* p = sqlite3_serialize(db_, "main", &size, 0);
  if (!p)
    throw sql_error(std::string("sql: sqlite3_serialize failed: ") + sqlite3_errmsg(db_));
  std::string out(reinterpret_cast<const char*>(p), std::size_t(size));
  sqlite3_free(p);
  return out;
}

std::int64_t database::count_readings() {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM readings", -1, &st, nullptr) != SQLITE_OK)
    throw sql_error(std::string("sql: ") + sqlite3_errmsg(db_));
  stmt_guard g{st};
  std::int64_t n = 0;
  if (sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  return n;
}

}  // namespace e3::services::sql
