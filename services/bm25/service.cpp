// The BM25 binding: the service class, synthetic load, the `e3 svc bm25` harness, registration.
#include "services/bm25/service.hpp"

#include <charconv>
#include <iostream>

#include "services/common/record.hpp"

namespace e3::services {
namespace bm25 {
namespace {

std::size_t parse_top(const std::string& s, const std::string& what) {
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v == 0 || v > 100000)
    throw std::invalid_argument(what + ": expected a positive integer (at most 100000), got '" + s + "'");
  return v;
}

int svc_main(int argc, char** argv) {
  std::string corpus, top = "10";
  std::string query;
  bool have_query = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: e3 svc bm25 --corpus FILE[.gz] --query TEXT [--top K]\n"
                   "Ranks the corpus (docid<TAB>text lines) for the query (terms OR-ed) with FTS5's bm25()\n"
                   "and prints rank<TAB>docid<TAB>score, score as FTS5 reports it (-BM25, %.12f).\n";
      return 0;
    }
    if (a != "--corpus" && a != "--query" && a != "--top") {
      std::cerr << "e3 svc bm25: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
    if (i + 1 >= argc) {
      std::cerr << "e3 svc bm25: " << a << " needs a value\n";
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--corpus")
      corpus = v;
    else if (a == "--top")
      top = v;
    else
      query = v, have_query = true;
  }
  if (corpus.empty() || !have_query) {
    std::cerr << "e3 svc bm25: --corpus FILE and --query TEXT are required\n";
    return 2;
  }
  try {
    std::size_t k = parse_top(top, "--top");
    inverted_index ix(load_corpus(corpus));
    searcher s(ix);
    std::size_t rank = 0;
    for (const auto& h : s.search(query, k))
      std::cout << ++rank << "\t" << ix.docid(h.doc) << "\t" << format_score(h.score) << "\n";
    return 0;
  } catch (const corpus_error& e) {
    std::cerr << e.what() << "\n";
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc bm25: " << e.what() << "\n";
  }
  return 2;
}

}  // namespace

bm25_service::bm25_service(const service_config& cfg)
    : index_(shared_index(cfg.param("corpus", ""))), searcher_(*index_), top_(parse_top(cfg.param("top", "10"), "bm25 param top")) {}

void bm25_service::handle(const request& req, service_context& ctx) {
  record r;
  try {
    r = decode_record(req.payload);
  } catch (const record_error& e) {
    ctx.reject(e.what());
    return;
  }
  std::size_t matched = 0;
  const auto& hits = searcher_.search(r.text, top_, &matched);
  record out;
  out.key = r.key;
  out.ts_ns = r.ts_ns;
  out.value = double(matched);
  out.features.reserve(hits.size());
  for (const auto& h : hits) {
    out.features.push_back(h.score);
    if (!out.text.empty())
      out.text += '\n';
    out.text += index_->docid(h.doc);
  }
  buf_.clear();
  encode(out, buf_);
  ctx.emit(r.key, buf_);
}

}  // namespace bm25

void register_bm25(service_registry& r) {
  service_kind k;
  k.name = "bm25";
  k.table1_name = "BM25";
  k.summary = "Okapi BM25 top-K over an inverted index, scores identical to SQLite FTS5 bm25(); record text = query";
  k.stateful = false;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<bm25::bm25_service>(c); };
  k.synthetic_request = [](std::size_t size, std::mt19937_64& rng) {
    const auto& vocab = bm25::synthetic_vocabulary();
    record q;
    q.key = rng();
    std::size_t want = size > record_header_size ? size - record_header_size : 1;
    while (q.text.size() < want) {
      // Queries mix rarer (more selective) words, as users type them.
      const auto& w = vocab[vocab.size() / 4 + rng() % (vocab.size() - vocab.size() / 4)];
      q.text += (q.text.empty() ? "" : " ") + w;
    }
    q.text.resize(want, ' ');
    return encode(q);
  };
  k.svc_main = bm25::svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
