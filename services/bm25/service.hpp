// The BM25 runtime binding: a record's text is the query; the top K are emitted (see bm25.hpp).
#pragma once

#include <memory>

#include "actors/service.hpp"
#include "services/bm25/bm25.hpp"

namespace e3::services::bm25 {

/// One BM25 instance. Params: `corpus` (path; synthetic corpus when absent), `top` (K).
class bm25_service final : public service {
 public:
  /// Loads (or shares) the inverted index; throws corpus_error or std::invalid_argument on bad params.
  explicit bm25_service(const service_config& cfg);
  /// Answers the query in the record's text; rejects a malformed record.
  void handle(const request& req, service_context& ctx) override;

 private:
  std::shared_ptr<const inverted_index> index_;
  searcher searcher_;
  std::size_t top_;
  bytes buf_;
};

}  // namespace e3::services::bm25

namespace e3::services {
/// Registers the `bm25` kind (called by the generated register_all()).
void register_bm25(service_registry& r);
}  // namespace e3::services
