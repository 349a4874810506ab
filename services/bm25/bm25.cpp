// BM25 corpus loading, inverted index construction and FTS5-exact ranking.
#include "services/bm25/bm25.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>

#include "services/bm25/unicode61.hpp"

namespace e3::services::bm25 {

std::vector<document> parse_corpus(std::string_view text, std::string_view name) {
  std::vector<document> docs;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      continue;
    std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
      throw corpus_error(std::string(name) + ":" + std::to_string(line_no) + ": expected docid<TAB>text, found no tab");
    if (tab == 0)
      throw corpus_error(std::string(name) + ":" + std::to_string(line_no) + ": empty docid");
    docs.push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
  }
  return docs;
}

std::vector<document> load_corpus(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw corpus_error(path + ": cannot open corpus file");
  std::string data;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw corpus_error(path + ": byte " + std::to_string(data.size()) + " (uncompressed): " + msg);
    }
    if (n == 0)
      break;
    data.append(buf, std::size_t(n));
  }
  gzclose(f);
  return parse_corpus(data, path);
}

const std::vector<std::string>& synthetic_vocabulary() {
  static const std::vector<std::string> words = [] {
    const char* list =
        "the of and to in a that for is be our by it this with as which we will have are not has on government "
        "people congress states nation year public country world new its upon all been united war american now "
        "would must america more may their an should these other great can time so law peace us power made national "
        "economy jobs growth tax tariff revenue trade workers business health care education schools children "
        "families security defense nuclear weapons military forces treaty foreign policy energy oil prices "
        "inflation budget deficit debt spending program reform social medicare insurance credit banks "
        "currency gold silver commerce industry farmers agriculture land territory railroads canal navy army "
        "soldiers veterans freedom liberty democracy justice rights citizens immigration labor wages union "
        "strike court constitution amendment president administration executive department secretary report "
        "commission legislation act bill vote election party majority minority cities rural urban poverty "
        "hunger housing homes crime drugs police terrorism terrorists enemies allies europe asia africa mexico "
        "canada china russia soviet japan germany britain france iraq afghanistan iran korea vietnam cuba "
        "science technology research space internet climate environment water air pollution conservation "
        "parks forests resources mining coal steel manufacturing exports imports markets investment capital "
        "savings pension retirement income wealth opportunity future hope challenge crisis depression recovery "
        "prosperity progress century generation history tradition faith god family women men youth";
    std::vector<std::string> out;
    std::string w;
    for (const char* p = list;; ++p) {
      if (*p == ' ' || *p == '\0') {
        if (!w.empty())
          out.push_back(w);
        w.clear();
        if (!*p)
          break;
      } else {
        w += *p;
      }
    }
    return out;
  }();
  return words;
}

std::vector<document> synthetic_corpus() {
  const auto& vocab = synthetic_vocabulary();
  std::mt19937_64 rng(1790);
  std::vector<document> docs;
  for (int d = 0; d < 2000; ++d) {
    document doc{"synthetic#" + std::to_string(d), {}};
    std::size_t words = 40 + rng() % 80;
    for (std::size_t i = 0; i < words; ++i) {
      // Roughly Zipf: the square of a uniform index favours the first (common) words.
      double u = double(rng() >> 11) * 0x1.0p-53;
      doc.text += (i ? " " : "") + vocab[std::size_t(u * u * double(vocab.size()))];
    }
    docs.push_back(std::move(doc));
  }
  return docs;
}

inverted_index::inverted_index(const std::vector<document>& docs) {
  const std::size_t n_docs = docs.size();
  docids_.reserve(n_docs);
  doc_len_.reserve(n_docs);
  // Per document: (term, frequency) pairs, concatenated.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  std::vector<std::uint32_t> doc_start{0};
  std::vector<std::uint32_t> terms;
  std::vector<std::uint32_t> df;
  for (const auto& d : docs) {
    docids_.push_back(d.docid);
    terms.clear();
    unicode61::tokenize(d.text, [&](const std::string& tok) {
      auto it = term_ids_.find(tok);
      if (it == term_ids_.end()) {
        it = term_ids_.emplace(tok, std::uint32_t(term_ids_.size())).first;
        df.push_back(0);
      }
      terms.push_back(it->second);
    });
    doc_len_.push_back(std::uint32_t(terms.size()));
    total_tokens_ += terms.size();
    std::sort(terms.begin(), terms.end());
    for (std::size_t i = 0; i < terms.size();) {
      std::size_t j = i;
      while (j < terms.size() && terms[j] == terms[i])
        ++j;
      pairs.emplace_back(terms[i], std::uint32_t(j - i));
      ++df[terms[i]];
      i = j;
    }
    doc_start.push_back(std::uint32_t(pairs.size()));
  }
  post_off_.assign(term_ids_.size() + 1, 0);
  for (std::size_t t = 0; t < df.size(); ++t)
    post_off_[t + 1] = post_off_[t] + df[t];
  post_doc_.resize(pairs.size());
  post_tf_.resize(pairs.size());
  std::vector<std::uint32_t> fill(post_off_.begin(), post_off_.end() - 1);
  for (std::uint32_t d = 0; d < n_docs; ++d)
    for (std::uint32_t i = doc_start[d]; i < doc_start[d + 1]; ++i) {
      auto [t, tf] = pairs[i];
      post_doc_[fill[t]] = d;
      post_tf_[fill[t]++] = tf;
    }
  // FTS5: avgdl = (double)nToken / (double)nRow; the per-document denominator term below is
  // evaluated exactly as in fts5Bm25Function.
  avgdl_ = n_docs ? double(total_tokens_) / double(n_docs) : 0.0;
  norm_.resize(n_docs);
  for (std::size_t d = 0; d < n_docs; ++d) {
    double D = double(doc_len_[d]);
    norm_[d] = k1 * (1 - b + b * D / avgdl_);
  }
}

std::size_t inverted_index::memory_bytes() const {
  std::size_t n = doc_len_.size() * 4 + norm_.size() * 8 + (post_off_.size() + post_doc_.size() + post_tf_.size()) * 4;
  for (const auto& d : docids_)
    n += sizeof(std::string) + d.capacity();
  for (const auto& [t, id] : term_ids_)
    n += sizeof(std::string) + t.capacity() + 4 + 2 * sizeof(void*);
  return n;
}

searcher::searcher(const inverted_index& idx) : idx_(&idx), acc_(idx.size(), 0.0) {}

const std::vector<hit>& searcher::search(std::string_view query, std::size_t k, std::size_t* matched) {
  const inverted_index& ix = *idx_;
  terms_.clear();
  unicode61::tokenize(query, [&](const std::string& tok) {
    auto it = ix.term_ids_.find(tok);
    terms_.push_back(it == ix.term_ids_.end() ? UINT32_MAX : it->second);
  });
  const auto n_rows = std::int64_t(ix.size());
  for (std::uint32_t t : terms_) {
    if (t == UINT32_MAX)
      continue;  // no document holds it: it adds 0 to every score
    const std::uint32_t lo = ix.post_off_[t], hi = ix.post_off_[t + 1];
    const auto n_hit = std::int64_t(hi - lo);
    double idf = std::log((double(n_rows - n_hit) + 0.5) / (double(n_hit) + 0.5));
    if (idf <= 0.0)
      idf = 1e-6;
    for (std::uint32_t i = lo; i < hi; ++i) {
      const std::uint32_t d = ix.post_doc_[i];
      const double f = double(ix.post_tf_[i]);
      if (acc_[d] == 0.0)
        touched_.push_back(d);
      acc_[d] += idf * ((f * (inverted_index::k1 + 1.0)) / (f + ix.norm_[d]));
    }
  }
  out_.clear();
  out_.reserve(touched_.size());
  for (std::uint32_t d : touched_) {
    out_.push_back({d, -1.0 * acc_[d]});
    acc_[d] = 0.0;
  }
  if (matched)
    *matched = touched_.size();
  touched_.clear();
  auto better = [](const hit& a, const hit& b) { return a.score < b.score || (a.score == b.score && a.doc < b.doc); };
  if (out_.size() > k) {
    std::nth_element(out_.begin(), out_.begin() + std::ptrdiff_t(k), out_.end(), better);
    out_.resize(k);
  }
  std::sort(out_.begin(), out_.end(), better);
  return out_;
}

std::shared_ptr<const inverted_index> shared_index(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const inverted_index>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[path];
  if (auto ix = slot.lock())
    return ix;
  auto ix = std::make_shared<const inverted_index>(path.empty() ? synthetic_corpus() : load_corpus(path));
  slot = ix;
  return ix;
}

std::string format_score(double score) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12f", score);
  return buf;
}

}  // namespace e3::services::bm25
