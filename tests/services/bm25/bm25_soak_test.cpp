// BM25 soak tests: every Unicode code point tokenised as SQLite's unicode61 does, and many random
// queries on the whole corpus against live FTS5.
#include <gtest/gtest.h>

#include <random>

#include "services/bm25/bm25.hpp"
#include "tests/services/bm25/fts5_oracle.hpp"

using namespace e3::services::bm25;

TEST(Unicode61Soak, EveryCodePointClassifiedAndFoldedAsFts5) {
  fts5_oracle oracle({});
  for (std::uint32_t lo = 0x1; lo < 0x110000; lo += 0x10000) {
    auto mismatches = oracle.compare_code_points(lo, std::min<std::uint32_t>(lo + 0x10000, 0x110000), 1);
    EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " mismatches from U+" << std::hex << lo
                                    << ", first: " << (mismatches.empty() ? "" : mismatches[0]);
  }
}

TEST(Bm25Soak, WholeCorpusRandomQueriesAsLiveFts5) {
  auto docs = load_corpus(E3_TEST_DATA_DIR "/bm25/sotu_passages.tsv.gz");
  inverted_index ix(docs);
  searcher s(ix);
  fts5_oracle oracle(docs);
  std::vector<std::string> words;
  for (std::size_t d = 0; d < docs.size(); d += 13)
    unicode61::tokenize(docs[d].text, [&](const std::string& t) { words.push_back(t); });
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> terms;
    std::string q;
    for (std::size_t n = 1 + rng() % 4; n > 0; --n) {
      terms.push_back(words[rng() % words.size()]);
      q += terms.back() + " ";
    }
    auto expect = oracle.top(terms, 10);
    const auto& got = s.search(q, 10);
    ASSERT_EQ(got.size(), expect.size()) << q;
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(ix.docid(got[k].doc), expect[k].first) << q << " rank " << k + 1;
      EXPECT_EQ(got[k].score, expect[k].second) << q << " rank " << k + 1;
    }
  }
}
