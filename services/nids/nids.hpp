// NIDS: Aho-Corasick multi-pattern matching over the Snort community `content:` strings.
//
// The pure algorithm, usable without the runtime. Patterns come from a TSV file
// (`#sid<TAB>nocase<TAB>hex_pattern`, one pattern a line). Case-sensitive patterns match the
// raw payload bytes; `nocase` patterns are lower-cased (ASCII) and match the lower-cased
// payload. Two rows that become the same (bytes, nocase) pair after lower-casing are one
// pattern (their sids are merged). A hit is one (pattern, end position) occurrence; overlapping
// occurrences all count.
//
// The matcher is one deterministic automaton for both kinds of pattern: the product of the
// Aho-Corasick automaton of the case-sensitive patterns (over raw bytes) and the one of the
// nocase patterns (over lower-cased bytes), so a payload is scanned once, one table step per
// byte. Shallow states (and states with many outgoing edges) have a full 256-entry row; every
// other state stores only the few transitions that differ from a shallower "base" row.
//
// Request format in the runtime (service kind `nids`, input_format::packet): one Ethernet
// frame. The TCP/UDP payload of an IPv4/IPv6 frame is scanned; the frame is emitted
// downstream unchanged (key: the flow hash); hits and alerted packets are counted in the
// instance's statistics. Params: `patterns` (TSV path; a small built-in set when absent),
// `min_len` (skip shorter patterns, default 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "services/common/pcap.hpp"

namespace e3::services::nids {

/// Raised on a malformed pattern file; the message is `FILE:LINE: what`.
class nids_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One pattern after normalisation.
struct pattern {
  std::string bytes;                ///< the bytes to find (lower-cased when nocase)
  bool nocase = false;              ///< matched against the lower-cased payload
  std::vector<std::uint32_t> sids;  ///< Snort rule ids that use it
};

/// Reads a pattern TSV (`sid<TAB>nocase<TAB>hex`, `#` comment lines) keeping patterns of at
/// least `min_len` bytes. `name` is used in error messages (`name:LINE: what`). Throws
/// nids_error on a malformed line.
std::vector<pattern> parse_patterns(std::string_view text, std::string_view name, std::size_t min_len = 1);
/// Reads a pattern file; throws nids_error naming the file (and line) on failure.
std::vector<pattern> load_patterns(const std::string& path, std::size_t min_len = 1);
/// A small built-in pattern set (HTTP and shell-code strings) for synthetic load without files.
std::vector<pattern> default_patterns();

/// The compiled matcher. Immutable after construction, so one instance can be shared by any
/// number of threads and service instances.
class automaton {
 public:
  /// Layout choices: which states get a full 256-entry row.
  struct layout {
    std::uint32_t dense_depth = 2;       ///< every state this close to the start is dense
    std::uint32_t max_sparse_edges = 6;  ///< a deeper state with more edges than this is dense
  };
  /// Compiles `patterns` (ids are their indices).
  explicit automaton(std::vector<pattern> patterns) : automaton(std::move(patterns), layout{}) {}
  /// Compiles `patterns` with a chosen table layout (the matches do not depend on it).
  automaton(std::vector<pattern> patterns, layout l);

  /// Number of hits in `data` (every (pattern, end) occurrence). The fast path.
  std::uint64_t count(std::span<const std::uint8_t> data) const;

  /// Calls `on_hit(pattern_id, end_offset)` for every hit, in payload order (patterns ending
  /// at the same offset in an unspecified order); returns the number of hits.
  template <class F>
  std::uint64_t scan(std::span<const std::uint8_t> data, F&& on_hit) const {
    std::uint32_t s = 0;
    std::uint64_t hits = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      s = next(s, data[i]);
      if (std::uint32_t n = out_count_[s]) {
        hits += n;
        const std::uint32_t* o = out_ids_.data() + out_off_[s];
        for (std::uint32_t k = 0; k < n; ++k)
          on_hit(o[k], i + 1);
      }
    }
    return hits;
  }

  /// The patterns, indexed by pattern id.
  const std::vector<pattern>& patterns() const { return patterns_; }
  /// Number of automaton states.
  std::size_t state_count() const { return out_count_.size(); }
  /// Number of states with a full 256-entry row.
  std::size_t dense_state_count() const { return n_dense_; }
  /// Bytes held by the compiled tables.
  std::size_t memory_bytes() const;

 private:
  /// The state after reading byte `c` in state `s`.
  std::uint32_t next(std::uint32_t s, std::uint8_t c) const {
    if (s < n_dense_)
      return dense_[std::size_t(s) << 8 | c];
    const sparse_state& st = sparse_[s - n_dense_];
    const std::uint8_t* ch = edge_chars_.data() + st.off;
    for (std::uint32_t k = 0; k < st.len; ++k)
      if (ch[k] == c)
        return edge_targets_[st.off + k];
    return dense_[std::size_t(st.base) << 8 | c];
  }

  /// A state without a full row: its own edges, else the row of dense state `base`.
  struct sparse_state {
    std::uint32_t off = 0;   ///< first edge in edge_chars_/edge_targets_
    std::uint32_t len = 0;   ///< number of edges
    std::uint32_t base = 0;  ///< dense state whose row answers every other byte
  };

  std::vector<pattern> patterns_;
  std::uint32_t n_dense_ = 0;                ///< states [0, n_dense_) are dense; 0 is the start
  std::vector<std::uint32_t> dense_;         ///< n_dense_ rows of 256 next states
  std::vector<sparse_state> sparse_;         ///< states [n_dense_, …)
  std::vector<std::uint8_t> edge_chars_;     ///< sparse edges: byte
  std::vector<std::uint32_t> edge_targets_;  ///< sparse edges: next state
  std::vector<std::uint32_t> out_count_;     ///< per state: number of patterns ending here
  std::vector<std::uint32_t> out_off_;       ///< per state: first entry in out_ids_
  std::vector<std::uint32_t> out_ids_;       ///< pattern ids ending at each state
};

/// Compiles (once per process) and shares the automaton for a pattern file and minimum
/// length; an empty path means default_patterns(). Throws nids_error like load_patterns.
std::shared_ptr<const automaton> shared_automaton(const std::string& path, std::size_t min_len);

/// The counts of the data README's NIDS reference, over a capture.
struct capture_stats {
  std::uint64_t payload_pkts = 0;           ///< IPv4/IPv6 TCP/UDP frames with a non-empty payload
  std::uint64_t payload_bytes = 0;          ///< their payload bytes
  std::uint64_t total_hits = 0;             ///< every (pattern, end position) occurrence
  std::uint64_t pkts_with_hit = 0;          ///< payload packets with at least one hit
  std::uint64_t distinct_patterns_hit = 0;  ///< patterns hit at least once
};

/// The TCP/UDP payload of an Ethernet frame (empty when there is none), via parse_frame.
std::span<const std::uint8_t> frame_payload(std::span<const std::uint8_t> frame);

/// Scans every frame's payload and counts as the reference does.
capture_stats scan_capture(const automaton& a, const std::vector<captured_packet>& packets);

/// The one-line form `payload_pkts=… payload_bytes=… total_hits=… pkts_with_hit=…
/// distinct_patterns_hit=…`.
std::string to_string(const capture_stats& s);

}  // namespace e3::services::nids
