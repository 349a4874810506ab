// BM25: an inverted index ranked with Okapi BM25 exactly as SQLite FTS5's bm25() computes it.
//
// The pure algorithm, usable without the runtime. Documents are tokenised with the FTS5
// `unicode61` rules (unicode61.hpp). For a query, every token is one term; terms are OR-ed (a
// document matches when it holds any of them; a repeated term counts twice, as FTS5's
// `a OR a`). With N documents, n of them holding a term, f its frequency in a document of D
// tokens and avgdl the mean document length in tokens:
//   idf   = log((N - n + 0.5) / (n + 0.5)), replaced by 1e-6 when <= 0
//   score = sum over query terms of idf * (f * (k1 + 1)) / (f + k1 * (1 - b + b * D / avgdl))
// with k1 = 1.2, b = 0.75, evaluated in FTS5's order so the doubles come out identical. FTS5
// reports -score ("lower is better"); so do we. Ranking: best score first, equal scores in
// corpus order (FTS5's rowid order).
//
// Request format in the runtime (service kind `bm25`, input_format::record): a record whose
// `text` is the query. The instance emits (a sink: replies) a record with the same key and
// ts_ns, `value` = number of matching documents, `features` = the FTS5 scores (-BM25) of the
// top K, `text` = their docids joined by '\n', best first. Params: `corpus` (docid<TAB>text
// file, optionally gzip-compressed; a built-in synthetic corpus when absent), `top` (K, default 10).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace e3::services::bm25 {

/// Raised on an unreadable or malformed corpus; the message is `FILE:LINE: what`.
class corpus_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One document to index.
struct document {
  std::string docid;  ///< its label, returned by searches
  std::string text;   ///< the text to index
};

/// Parses `docid<TAB>text` lines (no header; blank lines skipped); `name` is used in errors.
std::vector<document> parse_corpus(std::string_view text, std::string_view name);
/// Reads a corpus file, plain or gzip-compressed.
std::vector<document> load_corpus(const std::string& path);
/// A deterministic synthetic corpus (2,000 passages over a fixed vocabulary) for load without files.
std::vector<document> synthetic_corpus();
/// The synthetic corpus' vocabulary (to build queries that hit it).
const std::vector<std::string>& synthetic_vocabulary();

/// One ranked result.
struct hit {
  std::uint32_t doc = 0;  ///< document index (corpus order, FTS5's rowid - 1)
  double score = 0;       ///< FTS5's bm25() value: -BM25, lower is better
};

/// The inverted index: immutable once built, shareable between threads and instances.
class inverted_index {
 public:
  static constexpr double k1 = 1.2;  ///< term-frequency saturation
  static constexpr double b = 0.75;  ///< length normalisation

  /// Indexes `docs` (their texts are not kept).
  explicit inverted_index(const std::vector<document>& docs);

  /// Number of documents.
  std::size_t size() const { return docids_.size(); }
  /// The docid of document `doc`.
  const std::string& docid(std::uint32_t doc) const { return docids_[doc]; }
  /// Number of distinct terms.
  std::size_t term_count() const { return term_ids_.size(); }
  /// Total tokens over all documents.
  std::uint64_t token_count() const { return total_tokens_; }
  /// Bytes held by the index.
  std::size_t memory_bytes() const;

 private:
  friend class searcher;
  std::vector<std::string> docids_;
  std::vector<std::uint32_t> doc_len_;   ///< tokens per document
  std::vector<double> norm_;             ///< k1 * (1 - b + b * D / avgdl) per document
  std::unordered_map<std::string, std::uint32_t> term_ids_;
  std::vector<std::uint32_t> post_off_;  ///< term -> first posting; size term_count + 1
  std::vector<std::uint32_t> post_doc_;  ///< postings: document, ascending
  std::vector<std::uint32_t> post_tf_;   ///< postings: frequency
  std::uint64_t total_tokens_ = 0;
  double avgdl_ = 0;
};

/// Runs queries on an inverted index with reusable scratch memory (one per thread/instance).
class searcher {
 public:
  /// Searches `idx`, which must outlive the searcher.
  explicit searcher(const inverted_index& idx);
  /// The best `k` documents for `query` (fewer when fewer match), best first. `matched`, when
  /// given, receives the number of matching documents.
  const std::vector<hit>& search(std::string_view query, std::size_t k, std::size_t* matched = nullptr);

 private:
  const inverted_index* idx_;
  std::vector<double> acc_;
  std::vector<std::uint32_t> touched_;
  std::vector<hit> out_;
  std::vector<std::uint32_t> terms_;
};

/// Loads (once per process) and shares the inverted index of a corpus file; an empty path means the
/// synthetic corpus. Throws corpus_error like load_corpus.
std::shared_ptr<const inverted_index> shared_index(const std::string& path);

/// FTS5's printed form of a score: "%.12f".
std::string format_score(double score);

}  // namespace e3::services::bm25
