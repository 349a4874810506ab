// BM25 tests: FTS5's reference top 10 on the State of the Union corpus, live cross-checks against
// SQLite FTS5 (ranking, ties, the idf clamp, tokenisation of every code point class), the
// `e3 svc bm25` harness and the runtime binding.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "actors/local_context.hpp"
#include "services/bm25/bm25.hpp"
#include "services/bm25/service.hpp"
#include "services/bm25/unicode61.hpp"
#include "services/common/record.hpp"
#include "tests/services/bm25/fts5_oracle.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3::services;
using namespace e3::services::bm25;

namespace {

const std::string corpus_file = E3_TEST_DATA_DIR "/bm25/sotu_passages.tsv.gz";

const std::vector<document>& corpus() {
  static const auto docs = load_corpus(corpus_file);
  return docs;
}

const inverted_index& full_index() {
  static const inverted_index ix(corpus());
  return ix;
}

struct ref_row {
  std::string query, docid, score;
};

std::vector<ref_row> reference() {
  std::ifstream in(E3_TEST_DATA_DIR "/bm25/sqlite_fts5_bm25_reference_top10.tsv");
  std::vector<ref_row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("query\t", 0) == 0)
      continue;
    std::istringstream f(line);
    ref_row r;
    std::string rank;
    std::getline(f, r.query, '\t');
    std::getline(f, rank, '\t');
    std::getline(f, r.docid, '\t');
    std::getline(f, r.score, '\t');
    rows.push_back(r);
  }
  return rows;
}

std::vector<std::string> tokens(std::string_view text) {
  std::vector<std::string> out;
  unicode61::tokenize(text, [&](const std::string& t) { out.push_back(t); });
  return out;
}

svc_test::svc_run run_svc(std::vector<std::string> args) {
  return svc_test::run_svc(svc_test::registered_kind<register_bm25>("bm25"), std::move(args));
}

}  // namespace

TEST(Bm25Reference, Fts5Top10OnStateOfTheUnion) {
  searcher s(full_index());
  auto rows = reference();
  ASSERT_EQ(rows.size(), 60u);
  std::map<std::string, std::vector<ref_row>> by_query;
  for (const auto& r : rows)
    by_query[r.query].push_back(r);
  for (const auto& [q, expect] : by_query) {
    const auto& got = s.search(q, 10);
    ASSERT_EQ(got.size(), expect.size()) << q;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(full_index().docid(got[i].doc), expect[i].docid) << q << " rank " << i + 1;
      double want = std::stod(expect[i].score);
      EXPECT_LE(std::abs(got[i].score - want), 1e-6 * std::abs(want)) << q << " rank " << i + 1;
      EXPECT_EQ(format_score(got[i].score), expect[i].score) << q << " rank " << i + 1;
    }
  }
}

TEST(Bm25Reference, CorpusStatistics) {
  EXPECT_EQ(full_index().size(), 12807u);  // N in the reference header
}

TEST(Bm25Fts5, RandomQueriesRankAndTieExactlyAsLiveSqlite) {
  // A slice of the corpus keeps SQLite's indexing fast; queries mix rare and very common words
  // (whose idf FTS5 clamps to 1e-6) and single rare words (many equal scores: rowid order).
  std::vector<document> docs(corpus().begin(), corpus().begin() + 2500);
  inverted_index ix(docs);
  searcher s(ix);
  fts5_oracle oracle(docs);
  std::vector<std::string> words;
  for (std::size_t d = 0; d < docs.size(); d += 7)
    for (const auto& t : tokens(docs[d].text))
      words.push_back(t);
  std::mt19937_64 rng(2024);
  std::vector<std::string> queries = {"the", "the of and", "a an", "constitution", "the nuclear", "slavery slavery"};
  for (int i = 0; i < 60; ++i) {
    std::string q;
    for (std::size_t n = 1 + rng() % 3; n > 0; --n)
      q += words[rng() % words.size()] + " ";
    queries.push_back(q);
  }
  for (const auto& q : queries) {
    auto expect = oracle.top(tokens(q), 10);
    const auto& got = s.search(q, 10);
    ASSERT_EQ(got.size(), expect.size()) << q;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(ix.docid(got[i].doc), expect[i].first) << q << " rank " << i + 1;
      EXPECT_EQ(got[i].score, expect[i].second) << q << " rank " << i + 1;  // bit-identical
    }
  }
}

TEST(Unicode61, ExamplesTokeniseAsFts5) {
  fts5_oracle oracle({});
  const char* texts[] = {
      "Hello, World! It's 1790.",  "na\xc3\xafve caf\xc3\xa9 \xc3\x89LAN",  // naïve café ÉLAN
      "Don\xe2\x80\x99t \xe2\x80\x94 stop",                                 // Don’t — stop
      "x\xcc\x81y \xcc\x81" "abc",                                         // combining acute in and before a token
      "\xc7\x85 \xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1 \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0",  // ǅ Σοφία Москва
      "snake_case C3PO r2d2 \xe2\x82\xac" "100 \xef\xbc\xa1\xef\xbc\xa2",  // €100, fullwidth AB
      "\xf0\x9f\x98\x80 smile \xe4\xb8\xad\xe6\x96\x87",                    // emoji, CJK
      "bad \xff\xfe utf8 \xc0\x80 \xed\xa0\x80 \x80x",                      // invalid UTF-8
  };
  for (const char* t : texts)
    EXPECT_EQ(tokens(t), oracle.tokens(t)) << t;
}

TEST(Unicode61, EveryBmpCodePointClassifiedAndFoldedAsFts5) {
  fts5_oracle oracle({});
  auto mismatches = oracle.compare_code_points(0x1, 0x10000, 1);
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " mismatches, first: " << (mismatches.empty() ? "" : mismatches[0]);
}

TEST(Bm25Svc, PrintsRankDocidScore) {
  auto r = run_svc({"--corpus", corpus_file, "--query", "slavery", "--top", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "1\t1862_abraham_lincoln_r#34\t-8.419769040651\n"
            "2\t1857_james_buchanan_d#45\t-8.052398399379\n"
            "3\t1857_james_buchanan_d#44\t-7.838025260214\n");
}

TEST(Bm25Svc, BadCorpusLineGivesFileLineAndExit2) {
  std::string path = ::testing::TempDir() + "bad_corpus.tsv";
  std::ofstream(path) << "a\tfirst passage\nb\tsecond\nno tab here\n";
  auto r = run_svc({"--corpus", path, "--query", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, path + ":3: expected docid<TAB>text, found no tab\n");
  EXPECT_EQ(run_svc({"--corpus", path}).code, 2);
  EXPECT_EQ(run_svc({"--corpus", "/nonexistent", "--query", "x"}).code, 2);
  auto bad_top = run_svc({"--corpus", corpus_file, "--query", "x", "--top", "0"});
  EXPECT_EQ(bad_top.code, 2);
  EXPECT_NE(bad_top.err.find("--top"), std::string::npos);
  EXPECT_EQ(run_svc({"--frobnicate"}).code, 2);
}

TEST(Bm25Service, AnswersQueriesInRecordsAndRejectsGarbage) {
  e3::service_registry reg;
  register_bm25(reg);
  const auto& kind = reg.at("bm25");
  EXPECT_EQ(kind.table1_name, "BM25");
  EXPECT_FALSE(kind.stateful);
  e3::service_config cfg;
  cfg.params["corpus"] = corpus_file;
  cfg.params["top"] = "5";
  auto svc = kind.make(cfg);
  e3::local_context ctx;
  record q;
  q.key = 42;
  q.ts_ns = 7;
  q.text = "nuclear weapons";
  svc->handle({1, 42, encode(q)}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  auto r = decode_record(ctx.emits[0].payload);
  EXPECT_EQ(r.key, 42u);
  EXPECT_EQ(r.ts_ns, 7);
  EXPECT_EQ(r.text, "1994_william_j_clinton_d#52\n2011_barack_obama_d#64\n1995_william_j_clinton_d#68\n"
                    "1981_jimmy_carter_d#282\n1998_william_j_clinton_d#46");
  ASSERT_EQ(r.features.size(), 5u);
  EXPECT_EQ(format_score(r.features[0]), "-14.184553272222");
  EXPECT_GT(r.value, 5);
  std::vector<std::uint8_t> junk(17, 3);
  svc->handle({2, 0, junk}, ctx);
  EXPECT_EQ(ctx.rejections.size(), 1u);

  auto synthetic = kind.make({});
  std::mt19937_64 rng(9);
  for (std::size_t size : {64, 256, 512, 1024, 1500}) {
    auto req = kind.synthetic_request(size, rng);
    EXPECT_EQ(req.size(), size);
    ctx.clear();
    synthetic->handle({3, 0, req}, ctx);
    ASSERT_EQ(ctx.emits.size(), 1u);
    EXPECT_EQ(decode_record(ctx.emits[0].payload).features.size(), 10u);
  }
  cfg.params["top"] = "zero";
  EXPECT_THROW(kind.make(cfg), std::invalid_argument);
}
