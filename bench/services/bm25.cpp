// e3 bench bm25: query time of the BM25 index against SQLite FTS5 (bm25(), ORDER BY … LIMIT 10) on
// the same corpus and the same queries, in the same run; also index build time and agreement.
#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/common/report.hpp"
#include "services/bm25/bm25.hpp"
#include "services/bm25/service.hpp"
#include "services/bm25/unicode61.hpp"
#include "services/common/record.hpp"

using namespace e3::services;
using namespace e3::services::bm25;

namespace {

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

/// The reference: an in-memory FTS5 table built as the reference answers were.
struct fts5 {
  sqlite3* db = nullptr;
  sqlite3_stmt* query = nullptr;

  explicit fts5(const std::vector<document>& docs) {
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
      throw std::runtime_error("sqlite3_open failed");
    exec("CREATE VIRTUAL TABLE t USING fts5(docid UNINDEXED, text); BEGIN;");
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t(docid, text) VALUES (?1, ?2)", -1, &ins, nullptr);
    for (const auto& d : docs) {
      sqlite3_bind_text(ins, 1, d.docid.data(), int(d.docid.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins, 2, d.text.data(), int(d.text.size()), SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE)
        throw std::runtime_error(sqlite3_errmsg(db));
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec("COMMIT;");
    if (sqlite3_prepare_v2(db, "SELECT docid, bm25(t) FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT ?2", -1, &query,
                           nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  ~fts5() {
    sqlite3_finalize(query);
    sqlite3_close(db);
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db));
  }
  /// Runs one query; appends (docid, score) when `out` is given.
  std::size_t run(const std::string& match, int k, std::vector<std::pair<std::string, double>>* out = nullptr) {
    sqlite3_bind_text(query, 1, match.data(), int(match.size()), SQLITE_STATIC);
    sqlite3_bind_int(query, 2, k);
    std::size_t n = 0;
    while (sqlite3_step(query) == SQLITE_ROW) {
      ++n;
      if (out)
        out->emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(query, 0)), sqlite3_column_double(query, 1));
    }
    sqlite3_reset(query);
    return n;
  }
};

}  // namespace

int main(int argc, char** argv) {
  bool json = e3::bench::wants_json(argc, argv);
  std::string corpus_file = E3_SOURCE_DIR "/tests/data/bm25/sotu_passages.tsv.gz";
  std::size_t n_queries = 300;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      corpus_file = argv[++i];
    } else if (a == "--queries" && i + 1 < argc) {
      n_queries = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a != "--json") {
      std::cerr << "usage: e3 bench bm25 [--json] [--corpus FILE] [--queries N] [--rounds N]\n";
      return 2;
    }
  }
  try {
    auto docs = load_corpus(corpus_file);
    double t0 = thread_cpu_ns();
    inverted_index ix(docs);
    double build_e3 = thread_cpu_ns() - t0;
    t0 = thread_cpu_ns();
    fts5 ref(docs);
    double build_ref = thread_cpu_ns() - t0;

    // Queries: the reference file's six, then 1-3 words drawn from the corpus' running text (so
    // frequent words are frequent in queries too), seeded.
    std::vector<std::string> queries = {"tariff revenue",      "nuclear weapons", "slavery",
                                        "economy jobs growth", "terrorism",       "education schools"};
    std::vector<std::string> words;
    for (std::size_t d = 0; d < docs.size(); d += 11)
      unicode61::tokenize(docs[d].text, [&](const std::string& t) { words.push_back(t); });
    std::mt19937_64 rng(1790);
    while (queries.size() < n_queries) {
      std::string q;
      for (std::size_t n = 1 + rng() % 3; n > 0; --n)
        q += (q.empty() ? "" : " ") + words[rng() % words.size()];
      queries.push_back(q);
    }
    std::vector<std::string> matches;
    for (const auto& q : queries) {
      std::string m;
      unicode61::tokenize(q, [&](const std::string& t) { m += (m.empty() ? "\"" : " OR \"") + t + "\""; });
      matches.push_back(m);
    }

    // Agreement: identical docids and bit-identical scores.
    searcher s(ix);
    std::size_t agree = 0;
    for (std::size_t i = 0; i < queries.size(); ++i) {
      std::vector<std::pair<std::string, double>> want;
      ref.run(matches[i], 10, &want);
      const auto& got = s.search(queries[i], 10);
      bool same = got.size() == want.size();
      for (std::size_t k = 0; same && k < got.size(); ++k)
        same = ix.docid(got[k].doc) == want[k].first && got[k].score == want[k].second;
      agree += same;
    }

    e3::service_registry reg;
    register_bm25(reg);
    e3::service_config cfg;
    cfg.params["corpus"] = corpus_file;
    auto svc = reg.at("bm25").make(cfg);
    struct null_context final : e3::service_context {
      void reply(e3::bytes_view) override {}
      void emit(std::uint64_t, e3::bytes_view) override {}
      void reject(std::string_view) override {}
      e3::state::collections& state() override { throw std::logic_error("stateless"); }
      std::int64_t now_ns() const override { return 0; }
    } ctx;
    std::vector<e3::bytes> requests;
    for (const auto& q : queries) {
      record r;
      r.text = q;
      requests.push_back(encode(r));
    }

    double e3_ns = 1e300, ref_ns = 1e300, svc_ns = 1e300;
    std::size_t sink = 0;
    for (int r = 0; r < rounds; ++r) {
      t0 = thread_cpu_ns();
      for (const auto& q : queries)
        sink += s.search(q, 10).size();
      e3_ns = std::min(e3_ns, (thread_cpu_ns() - t0) / double(queries.size()));
      t0 = thread_cpu_ns();
      for (const auto& m : matches)
        sink += ref.run(m, 10);
      ref_ns = std::min(ref_ns, (thread_cpu_ns() - t0) / double(queries.size()));
      t0 = thread_cpu_ns();
      for (std::size_t i = 0; i < requests.size(); ++i)
        svc->handle({i, 0, requests[i]}, ctx);
      svc_ns = std::min(svc_ns, (thread_cpu_ns() - t0) / double(queries.size()));
    }
    e3::bench::keep(sink);

    e3::bench::report rep("BM25 top 10 on " + std::to_string(ix.size()) + " passages (" +
                              std::to_string(ix.token_count()) + " tokens), " + std::to_string(queries.size()) +
                              " queries, vs SQLite " + sqlite3_libversion() + " FTS5 bm25()",
                          {"engine", "us/query", "queries/s", "speedup vs FTS5", "index build ms"});
    rep.row({"e3 inverted index (searcher)", e3_ns / 1e3, 1e9 / e3_ns, ref_ns / e3_ns, build_e3 / 1e6});
    rep.row({"e3 bm25 service (decode, search, encode)", svc_ns / 1e3, 1e9 / svc_ns, ref_ns / svc_ns, nullptr});
    rep.row({"SQLite FTS5, prepared ORDER BY bm25(t) LIMIT 10", ref_ns / 1e3, 1e9 / ref_ns, 1.0, build_ref / 1e6});
    rep.note("identical top 10 (docids and bit-identical scores) on " + std::to_string(agree) + " of " +
             std::to_string(queries.size()) + " queries");
    rep.note("thread CPU time, best of " + std::to_string(rounds) + " interleaved rounds; index memory " +
             std::to_string(ix.memory_bytes() >> 10) + " KiB");
    rep.extra()["agreeing_queries"] = agree;
    rep.print(json);
    return agree == queries.size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "e3 bench bm25: " << e.what() << "\n";
    return 2;
  }
}
