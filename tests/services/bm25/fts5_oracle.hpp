// SQLite FTS5 as a test oracle for the BM25 service: ranking with bm25() and unicode61 tokens.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/bm25/bm25.hpp"
#include "services/bm25/unicode61.hpp"

/// An in-memory FTS5 database holding `docs` (docid UNINDEXED, text), as the reference was made.
class fts5_oracle {
 public:
  explicit fts5_oracle(const std::vector<e3::services::bm25::document>& docs) {
    check(sqlite3_open(":memory:", &db_));
    exec("CREATE VIRTUAL TABLE t USING fts5(docid UNINDEXED, text);"
         "CREATE VIRTUAL TABLE tok USING fts5(x);"
         "CREATE VIRTUAL TABLE tokv USING fts5vocab(tok, instance);"
         "BEGIN;");
    sqlite3_stmt* ins = prepare("INSERT INTO t(docid, text) VALUES (?1, ?2)");
    for (const auto& d : docs) {
      sqlite3_bind_text(ins, 1, d.docid.data(), int(d.docid.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins, 2, d.text.data(), int(d.text.size()), SQLITE_STATIC);
      step_done(ins);
    }
    sqlite3_finalize(ins);
    exec("COMMIT;");
  }
  ~fts5_oracle() { sqlite3_close(db_); }
  fts5_oracle(const fts5_oracle&) = delete;
  fts5_oracle& operator=(const fts5_oracle&) = delete;

  /// FTS5's top k (docid, bm25) for the terms OR-ed, ORDER BY bm25(t).
  std::vector<std::pair<std::string, double>> top(const std::vector<std::string>& terms, int k) {
    std::vector<std::pair<std::string, double>> out;
    if (terms.empty())
      return out;
    std::string match;
    for (const auto& t : terms)
      match += (match.empty() ? "\"" : " OR \"") + t + "\"";
    sqlite3_stmt* st = prepare("SELECT docid, bm25(t) FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT ?2");
    sqlite3_bind_text(st, 1, match.data(), int(match.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, k);
    while (sqlite3_step(st) == SQLITE_ROW)
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), sqlite3_column_double(st, 1));
    sqlite3_finalize(st);
    return out;
  }

  /// The unicode61 tokens of `text`, in order.
  std::vector<std::string> tokens(std::string_view text) {
    exec("DELETE FROM tok;");
    sqlite3_stmt* ins = prepare("INSERT INTO tok(rowid, x) VALUES (1, ?1)");
    sqlite3_bind_text(ins, 1, text.data(), int(text.size()), SQLITE_STATIC);
    step_done(ins);
    sqlite3_finalize(ins);
    std::vector<std::string> out;
    sqlite3_stmt* st = prepare("SELECT term FROM tokv ORDER BY offset");
    while (sqlite3_step(st) == SQLITE_ROW)
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return out;
  }

  /// Tokenises "q<cp>z" for every `step`-th code point in [lo, hi) with SQLite and with
  /// unicode61::tokenize; returns a description of each difference.
  std::vector<std::string> compare_code_points(std::uint32_t lo, std::uint32_t hi, std::uint32_t step) {
    exec("DELETE FROM tok; BEGIN;");
    sqlite3_stmt* ins = prepare("INSERT INTO tok(rowid, x) VALUES (?1, ?2)");
    std::vector<std::uint32_t> cps;
    for (std::uint32_t cp = lo; cp < hi; cp += step) {
      if (cp >= 0xd800 && cp < 0xe000)
        continue;
      std::string s = "q" + utf8(cp) + "z";
      sqlite3_bind_int64(ins, 1, cp);
      sqlite3_bind_text(ins, 2, s.data(), int(s.size()), SQLITE_TRANSIENT);
      step_done(ins);
      cps.push_back(cp);
    }
    sqlite3_finalize(ins);
    exec("COMMIT;");
    std::vector<std::vector<std::string>> expect(cps.size());
    std::size_t at = 0;
    sqlite3_stmt* st = prepare("SELECT doc, term FROM tokv ORDER BY doc, offset");
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto doc = std::uint32_t(sqlite3_column_int64(st, 0));
      while (at < cps.size() && cps[at] < doc)
        ++at;
      if (at < cps.size() && cps[at] == doc)
        expect[at].emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
    std::vector<std::string> mismatches;
    for (std::size_t i = 0; i < cps.size(); ++i) {
      std::vector<std::string> got;
      e3::services::bm25::unicode61::tokenize("q" + utf8(cps[i]) + "z", [&](const std::string& t) { got.push_back(t); });
      if (got != expect[i]) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "U+%04X", cps[i]);
        mismatches.push_back(std::string(buf) + ": sqlite " + join(expect[i]) + " vs ours " + join(got));
      }
    }
    return mismatches;
  }

 private:
  static std::string utf8(std::uint32_t c) {
    std::string s;
    if (c < 0x80) {
      s += char(c);
    } else if (c < 0x800) {
      s += char(0xc0 | (c >> 6));
      s += char(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      s += char(0xe0 | (c >> 12));
      s += char(0x80 | ((c >> 6) & 0x3f));
      s += char(0x80 | (c & 0x3f));
    } else {
      s += char(0xf0 | (c >> 18));
      s += char(0x80 | ((c >> 12) & 0x3f));
      s += char(0x80 | ((c >> 6) & 0x3f));
      s += char(0x80 | (c & 0x3f));
    }
    return s;
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& x : v)
      s += (s.size() > 1 ? "|" : "") + x;
    return s + "]";
  }
  void check(int rc) {
    if (rc != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite: ") + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
  }
  void exec(const char* sql) { check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr)); }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    check(sqlite3_prepare_v2(db_, sql, -1, &st, nullptr));
    return st;
  }
  void step_done(sqlite3_stmt* st) {
    if (sqlite3_step(st) != SQLITE_DONE)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    sqlite3_reset(st);
  }
  sqlite3* db_ = nullptr;
};
