// NIDS pattern loading, automaton construction (product of two Aho-Corasick automata) and
// capture scanning.
#include "services/nids/nids.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "services/common/packet.hpp"

namespace e3::services::nids {
namespace {

std::uint8_t lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? std::uint8_t(c + 32) : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// A build-time trie with Aho-Corasick failure links.
struct trie {
  struct node {
    std::vector<std::pair<std::uint8_t, std::uint32_t>> children;
    std::uint32_t fail = 0;
    std::uint32_t depth = 0;
    std::vector<std::uint32_t> out;  ///< pattern ids ending here or at a suffix (closure)
  };
  std::vector<node> nodes{1};

  std::uint32_t child(std::uint32_t s, std::uint8_t c) const {
    for (const auto& [ch, t] : nodes[s].children)
      if (ch == c)
        return t;
    return UINT32_MAX;
  }

  void insert(std::string_view p, std::uint32_t id) {
    std::uint32_t s = 0;
    for (char ch : p) {
      auto c = std::uint8_t(ch);
      std::uint32_t t = child(s, c);
      if (t == UINT32_MAX) {
        t = std::uint32_t(nodes.size());
        nodes.push_back({});
        nodes[t].depth = nodes[s].depth + 1;
        nodes[s].children.emplace_back(c, t);
      }
      s = t;
    }
    nodes[s].out.push_back(id);
  }

  /// The Aho-Corasick transition (goto, else follow failure links).
  std::uint32_t delta(std::uint32_t s, std::uint8_t c) const {
    for (;;) {
      std::uint32_t t = child(s, c);
      if (t != UINT32_MAX)
        return t;
      if (s == 0)
        return 0;
      s = nodes[s].fail;
    }
  }

  /// Computes failure links and output closures, breadth first.
  void finish() {
    std::vector<std::uint32_t> queue;
    for (const auto& [c, t] : nodes[0].children) {
      nodes[t].fail = 0;
      queue.push_back(t);
    }
    for (std::size_t q = 0; q < queue.size(); ++q) {
      std::uint32_t s = queue[q];
      const auto& f = nodes[nodes[s].fail].out;
      nodes[s].out.insert(nodes[s].out.end(), f.begin(), f.end());
      for (const auto& [c, t] : nodes[s].children) {
        nodes[t].fail = s == 0 ? 0 : delta(nodes[s].fail, c);
        queue.push_back(t);
      }
    }
  }
};

}  // namespace

std::vector<pattern> parse_patterns(std::string_view text, std::string_view name, std::size_t min_len) {
  std::vector<pattern> out;
  std::map<std::pair<std::string, bool>, std::size_t> index;
  std::size_t line_no = 0;
  auto fail = [&](const std::string& what) {
    throw nids_error(std::string(name) + ":" + std::to_string(line_no) + ": " + what);
  };
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty() || line[0] == '#')
      continue;
    std::vector<std::string_view> f;
    for (std::size_t at = 0;;) {
      std::size_t tab = line.find('\t', at);
      f.push_back(line.substr(at, tab == std::string_view::npos ? std::string_view::npos : tab - at));
      if (tab == std::string_view::npos)
        break;
      at = tab + 1;
    }
    if (f.size() != 3)
      fail("expected 3 tab-separated fields (sid, nocase, hex_pattern), got " + std::to_string(f.size()));
    std::uint32_t sid = 0;
    auto [p, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), sid);
    if (ec != std::errc() || p != f[0].data() + f[0].size() || f[0].empty())
      fail("bad sid '" + std::string(f[0]) + "'");
    if (f[1] != "0" && f[1] != "1")
      fail("nocase must be 0 or 1, got '" + std::string(f[1]) + "'");
    bool nocase = f[1] == "1";
    std::string_view hex = f[2];
    if (hex.empty())
      fail("empty hex_pattern");
    if (hex.size() % 2)
      fail("hex_pattern has an odd number of digits (" + std::to_string(hex.size()) + ")");
    std::string bytes(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
      if (hi < 0 || lo < 0)
        fail("bad hex digit '" + std::string(1, hex[hi < 0 ? i : i + 1]) + "' in hex_pattern");
      bytes[i / 2] = char(hi << 4 | lo);
    }
    if (bytes.size() < min_len)
      continue;
    if (nocase)
      for (auto& c : bytes)
        c = char(lower(std::uint8_t(c)));
    auto [it, fresh] = index.emplace(std::pair{bytes, nocase}, out.size());
    if (fresh)
      out.push_back({std::move(bytes), nocase, {}});
    auto& sids = out[it->second].sids;
    if (std::find(sids.begin(), sids.end(), sid) == sids.end())
      sids.push_back(sid);
  }
  return out;
}

std::vector<pattern> load_patterns(const std::string& path, std::size_t min_len) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw nids_error(path + ": cannot open pattern file");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_patterns(s.str(), path, min_len);
}

std::vector<pattern> default_patterns() {
  // A few classic content strings (web attacks, shell code, probes); sids are illustrative.
  static const std::pair<const char*, bool> list[] = {
      {"GET /", false},        {"POST /", false},      {"user-agent:", true},   {"cmd.exe", true},
      {"/etc/passwd", false},  {"<script", true},      {"union select", true},  {"../..", false},
      {"/bin/sh", false},      {"wget ", true},        {"\x90\x90\x90\x90", false}, {"root:", false},
      {"select ", true},       {"passwd", true},       {"admin", true},         {"e3e3", false},
  };
  std::vector<pattern> out;
  std::uint32_t sid = 1000000;
  for (const auto& [s, nc] : list) {
    std::string b(s);
    if (nc)
      for (auto& c : b)
        c = char(lower(std::uint8_t(c)));
    out.push_back({b, nc, {sid++}});
  }
  return out;
}

automaton::automaton(std::vector<pattern> patterns, layout l) : patterns_(std::move(patterns)) {
  trie raw, folded;
  for (std::uint32_t i = 0; i < patterns_.size(); ++i)
    (patterns_[i].nocase ? folded : raw).insert(patterns_[i].bytes, i);
  raw.finish();
  folded.finish();

  // Product states, numbered in breadth-first order (temporary ids).
  struct pstate {
    std::uint32_t s1, s2, depth, dflt;
    std::int64_t dense_row = -1;                                  // into rows
    std::vector<std::pair<std::uint8_t, std::uint32_t>> edges;    // own + inherited, sorted
    std::uint32_t base = 0;                                       // dense state for other bytes
  };
  std::vector<pstate> st;
  std::vector<std::array<std::uint32_t, 256>> rows;
  std::unordered_map<std::uint64_t, std::uint32_t> ids;
  auto id_of = [&](std::uint32_t s1, std::uint32_t s2, std::uint32_t depth, std::uint32_t dflt) {
    auto [it, fresh] = ids.emplace(std::uint64_t(s1) << 32 | s2, std::uint32_t(st.size()));
    if (fresh)
      st.push_back({s1, s2, depth, dflt, -1, {}, 0});
    return it->second;
  };
  // Next state from an already processed state.
  auto step = [&](std::uint32_t p, std::uint8_t c) -> std::uint32_t {
    const pstate& x = st[p];
    if (x.dense_row >= 0)
      return rows[std::size_t(x.dense_row)][c];
    for (const auto& [ch, t] : x.edges)
      if (ch == c)
        return t;
    return rows[std::size_t(st[x.base].dense_row)][c];
  };

  id_of(0, 0, 0, 0);
  for (std::uint32_t p = 0; p < st.size(); ++p) {
    // Bytes whose transition may differ from the default state's: those extending this
    // state's string within either trie.
    std::vector<std::uint8_t> own;
    std::uint32_t s1 = st[p].s1, s2 = st[p].s2, depth = st[p].depth;
    if (p == 0) {
      for (int c = 0; c < 256; ++c)
        own.push_back(std::uint8_t(c));
    } else {
      if (raw.nodes[s1].depth == depth)
        for (const auto& [c, t] : raw.nodes[s1].children)
          own.push_back(c);
      if (folded.nodes[s2].depth == depth)
        for (const auto& [c, t] : folded.nodes[s2].children) {
          own.push_back(c);
          if (c >= 'a' && c <= 'z')
            own.push_back(std::uint8_t(c - 32));
        }
      std::sort(own.begin(), own.end());
      own.erase(std::unique(own.begin(), own.end()), own.end());
    }
    std::vector<std::pair<std::uint8_t, std::uint32_t>> edges;
    for (std::uint8_t c : own) {
      std::uint32_t t1 = raw.delta(s1, c), t2 = folded.delta(s2, lower(c));
      std::uint32_t d = p == 0 ? 0 : step(st[p].dflt, c);
      edges.emplace_back(c, id_of(t1, t2, depth + 1, d));
    }
    // Inherit the default state's edges for the other bytes.
    std::uint32_t dflt = st[p].dflt;
    if (p != 0 && st[dflt].dense_row < 0) {
      for (const auto& e : st[dflt].edges)
        if (!std::binary_search(own.begin(), own.end(), e.first))
          edges.push_back(e);
      std::sort(edges.begin(), edges.end());
    }
    if (p == 0 || depth <= l.dense_depth || edges.size() > l.max_sparse_edges) {
      std::array<std::uint32_t, 256> row{};
      if (p != 0)
        for (int c = 0; c < 256; ++c)
          row[c] = step(dflt, std::uint8_t(c));
      for (const auto& [c, t] : edges)
        row[c] = t;
      st[p].dense_row = std::int64_t(rows.size());
      rows.push_back(row);
    } else {
      st[p].edges = std::move(edges);
      st[p].base = st[dflt].dense_row >= 0 ? dflt : st[dflt].base;
    }
  }

  // Final numbering: dense states first (the start state stays 0), then sparse ones.
  std::vector<std::uint32_t> final_id(st.size());
  std::uint32_t next_dense = 0, next_sparse = std::uint32_t(rows.size());
  for (std::uint32_t p = 0; p < st.size(); ++p)
    final_id[p] = st[p].dense_row >= 0 ? next_dense++ : next_sparse++;
  n_dense_ = std::uint32_t(rows.size());
  dense_.resize(rows.size() * 256);
  sparse_.resize(st.size() - rows.size());
  out_count_.assign(st.size(), 0);
  out_off_.assign(st.size(), 0);
  std::vector<std::uint32_t> by_final(st.size());
  for (std::uint32_t p = 0; p < st.size(); ++p)
    by_final[final_id[p]] = p;
  for (std::uint32_t f = 0; f < st.size(); ++f) {
    const pstate& x = st[by_final[f]];
    if (x.dense_row >= 0) {
      const auto& row = rows[std::size_t(x.dense_row)];
      for (int c = 0; c < 256; ++c)
        dense_[std::size_t(f) << 8 | c] = final_id[row[c]];
    } else {
      sparse_state& s = sparse_[f - n_dense_];
      s.off = std::uint32_t(edge_chars_.size());
      s.len = std::uint32_t(x.edges.size());
      s.base = final_id[x.base];
      for (const auto& [c, t] : x.edges) {
        edge_chars_.push_back(c);
        edge_targets_.push_back(final_id[t]);
      }
    }
    const auto& o1 = raw.nodes[x.s1].out;
    const auto& o2 = folded.nodes[x.s2].out;
    out_off_[f] = std::uint32_t(out_ids_.size());
    out_count_[f] = std::uint32_t(o1.size() + o2.size());
    out_ids_.insert(out_ids_.end(), o1.begin(), o1.end());
    out_ids_.insert(out_ids_.end(), o2.begin(), o2.end());
  }
}

std::uint64_t automaton::count(std::span<const std::uint8_t> data) const {
  std::uint32_t s = 0;
  std::uint64_t hits = 0;
  for (std::uint8_t c : data) {
    s = next(s, c);
    hits += out_count_[s];
  }
  return hits;
}

std::size_t automaton::memory_bytes() const {
  std::size_t n = dense_.size() * 4 + sparse_.size() * sizeof(sparse_state) + edge_chars_.size() +
                  edge_targets_.size() * 4 + (out_count_.size() + out_off_.size() + out_ids_.size()) * 4;
  for (const auto& p : patterns_)
    n += sizeof(pattern) + p.bytes.capacity() + p.sids.capacity() * 4;
  return n;
}

std::shared_ptr<const automaton> shared_automaton(const std::string& path, std::size_t min_len) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::size_t>, std::weak_ptr<const automaton>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[{path, min_len}];
  if (auto a = slot.lock())
    return a;
  std::vector<pattern> pats;
  if (path.empty()) {
    for (auto& p : default_patterns())
      if (p.bytes.size() >= min_len)
        pats.push_back(std::move(p));
  } else {
    pats = load_patterns(path, min_len);
  }
  auto a = std::make_shared<const automaton>(std::move(pats));
  slot = a;
  return a;
}

std::span<const std::uint8_t> frame_payload(std::span<const std::uint8_t> frame) {
  auto p = parse_frame(frame);
  if (!p || !(p->tcp || p->udp) || p->payload_size == 0)
    return {};
  return frame.subspan(p->payload_offset, p->payload_size);
}

capture_stats scan_capture(const automaton& a, const std::vector<captured_packet>& packets) {
  capture_stats s;
  std::vector<bool> seen(a.patterns().size());
  for (const auto& pk : packets) {
    auto payload = frame_payload(pk.data);
    if (payload.empty())
      continue;
    ++s.payload_pkts;
    s.payload_bytes += payload.size();
    std::uint64_t hits = a.scan(payload, [&](std::uint32_t id, std::size_t) { seen[id] = true; });
    s.total_hits += hits;
    s.pkts_with_hit += hits > 0;
  }
  s.distinct_patterns_hit = std::uint64_t(std::count(seen.begin(), seen.end(), true));
  return s;
}

std::string to_string(const capture_stats& s) {
  return "payload_pkts=" + std::to_string(s.payload_pkts) + " payload_bytes=" + std::to_string(s.payload_bytes) +
         " total_hits=" + std::to_string(s.total_hits) + " pkts_with_hit=" + std::to_string(s.pkts_with_hit) +
         " distinct_patterns_hit=" + std::to_string(s.distinct_patterns_hit);
}

}  // namespace e3::services::nids
