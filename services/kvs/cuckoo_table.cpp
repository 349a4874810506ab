// MemC3 optimistic cuckoo hashing: the index, the cuckoo path search and the slab item store.
#include "services/kvs/cuckoo_table.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace e3::services::kvs {
namespace {

constexpr std::size_t version_count = 8192;  // MemC3's number of key-version counters
constexpr std::size_t header_size = 24;      // item header: hash, key_len, val_len, flags, pad
constexpr std::uint32_t flag_dirty = 1;

struct item_header {
  std::uint64_t hash;
  std::uint32_t key_len;
  std::uint32_t val_len;
  std::uint32_t flags;
  std::uint32_t pad;
};
static_assert(sizeof(item_header) == header_size);

inline std::uint64_t rotl(std::uint64_t x, int r) { return std::rotl(x, r); }

inline std::uint64_t fmix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

inline std::uint8_t tag_of(std::uint64_t h) {
  auto t = static_cast<std::uint8_t>(h >> 56);
  return t == 0 ? 1 : t;
}

inline std::size_t alt_bucket(std::size_t b, std::uint8_t tag, std::size_t mask) {
  return (b ^ static_cast<std::size_t>((std::uint64_t(tag) + 1) * 0xc6a4a7935bd1e995ull)) & mask;
}

inline std::uint8_t tag_at(std::uint32_t tags, int slot) { return static_cast<std::uint8_t>(tags >> (8 * slot)); }

// Slots (bit 8*s+7 set) whose tag byte may equal `tag`: a SWAR zero-byte test of tags ^ tag.
// A byte above a true match can be flagged too (borrow), so callers confirm with tag_at.
inline std::uint32_t tag_candidates(std::uint32_t tags, std::uint8_t tag) {
  std::uint32_t x = tags ^ (0x01010101u * tag);
  return (x - 0x01010101u) & ~x & 0x80808080u;
}

inline int empty_slot(std::uint32_t tags) {
  for (int s = 0; s < 4; ++s)
    if (tag_at(tags, s) == 0)
      return s;
  return -1;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

inline std::uint64_t next_random(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

}  // namespace

std::uint64_t hash_key(std::string_view key) {
  constexpr std::uint64_t c1 = 0x87c37b91114253d5ull;
  constexpr std::uint64_t c2 = 0x4cf5ad432745937full;
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  std::size_t n = key.size();
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * c1);
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h ^= rotl(w * c1, 31) * c2;
    h = rotl(h, 27) * 5 + 0x52dce729;
    p += 8;
    n -= 8;
  }
  if (n) {
    // The last 1..7 bytes without a variable-length copy: two overlapping 4-byte loads, or the
    // first, middle and last byte (the length is already mixed in).
    std::uint64_t w;
    if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w = (std::uint64_t(a) << 32) | b;
    } else {
      w = (std::uint64_t(p[0]) << 16) | (std::uint64_t(p[n / 2]) << 8) | p[n - 1];
    }
    h ^= rotl(w * c1, 31) * c2;
  }
  return fmix(h);
}

// ---- slab item store -------------------------------------------------------------------------

// Chunks of size classes carved from pages that are never freed while the table lives. A chunk
// is named by a 32-bit reference: page number (22 bits) and chunk number in the page (10 bits).
class cuckoo_table::slab {
 public:
  static constexpr std::size_t min_chunk = 64;
  static constexpr std::size_t page_bytes = 64 * 1024;
  static constexpr int chunk_bits = 10;  // page_bytes / min_chunk = 1024 chunks
  static constexpr std::size_t dir_size = 2048;  // 2048 x 2048 pages

  slab() {
    std::size_t max_item = header_size + max_key_size + max_value_size;
    for (std::size_t s = min_chunk;; s = std::max(s + 8, (s * 5 / 4 + 7) / 8 * 8)) {
      if (s >= max_item) {
        sizes_.push_back((max_item + 7) / 8 * 8);
        break;
      }
      sizes_.push_back(s);
    }
    classes_.resize(sizes_.size());
    for (auto& d : dir_)
      d.store(nullptr, std::memory_order_relaxed);
  }
  ~slab() { release(); }

  // A chunk of at least `bytes`; no_item when the arena is exhausted.
  std::uint32_t alloc(std::size_t bytes) {
    auto c = class_of(bytes);
    auto& k = classes_[c];
    if (!k.free.empty()) {
      auto r = k.free.back();
      k.free.pop_back();
      return r;
    }
    if (k.page == no_item || k.next == k.per_page) {
      if (pages_ == dir_size * dir_size)
        return no_item;
      auto p = static_cast<std::uint32_t>(pages_++);
      auto& blk = dir_[p / dir_size];
      page_info* b = blk.load(std::memory_order_relaxed);
      if (!b) {
        b = new page_info[dir_size];
        blk.store(b, std::memory_order_release);
      }
      std::size_t bytes_in_page = std::max(page_bytes, sizes_[c]);
      auto& pi = b[p % dir_size];
      pi.mem = new std::byte[bytes_in_page];
      pi.chunk = static_cast<std::uint32_t>(sizes_[c]);
      pi.cls = static_cast<std::uint32_t>(c);
      bytes_ += bytes_in_page;
      k.page = p;
      k.next = 0;
      k.per_page = static_cast<std::uint32_t>(bytes_in_page / sizes_[c]);
    }
    return (k.page << chunk_bits) | k.next++;
  }

  void free(std::uint32_t ref) {
    auto* h = header(ref);
    h->flags = 0;
    h->key_len = 0;
    h->hash = 0;
    classes_[info(ref).cls].free.push_back(ref);
  }

  std::byte* at(std::uint32_t ref) const {
    const auto& pi = info(ref);
    return pi.mem + std::size_t(ref & ((1u << chunk_bits) - 1)) * pi.chunk;
  }
  item_header* header(std::uint32_t ref) const { return reinterpret_cast<item_header*>(at(ref)); }
  std::size_t capacity(std::uint32_t ref) const { return info(ref).chunk; }
  std::size_t class_of_ref(std::uint32_t ref) const { return info(ref).cls; }
  std::size_t class_of(std::size_t bytes) const {
    return std::size_t(std::lower_bound(sizes_.begin(), sizes_.end(), bytes) - sizes_.begin());
  }
  std::size_t bytes() const { return bytes_ + dir_size * sizeof(void*) + directory_bytes(); }

  void release() {
    for (std::size_t p = 0; p < pages_; ++p)
      delete[] dir_[p / dir_size].load(std::memory_order_relaxed)[p % dir_size].mem;
    for (auto& d : dir_) {
      delete[] d.load(std::memory_order_relaxed);
      d.store(nullptr, std::memory_order_relaxed);
    }
    pages_ = 0;
    bytes_ = 0;
    for (auto& k : classes_)
      k = klass{};
  }

 private:
  struct page_info {
    std::byte* mem = nullptr;
    std::uint32_t chunk = 0;
    std::uint32_t cls = 0;
  };
  struct klass {
    std::vector<std::uint32_t> free;
    std::uint32_t page = no_item;
    std::uint32_t next = 0;
    std::uint32_t per_page = 0;
  };
  const page_info& info(std::uint32_t ref) const {
    std::uint32_t p = ref >> chunk_bits;
    return dir_[p / dir_size].load(std::memory_order_acquire)[p % dir_size];
  }
  std::size_t directory_bytes() const {
    std::size_t blocks = (pages_ + dir_size - 1) / dir_size;
    return blocks * dir_size * sizeof(page_info);
  }

  std::vector<std::size_t> sizes_;
  std::vector<klass> classes_;
  std::atomic<page_info*> dir_[dir_size];
  std::size_t pages_ = 0;
  std::size_t bytes_ = 0;
};

// ---- table -----------------------------------------------------------------------------------

cuckoo_table::cuckoo_table(table_options opt)
    : opt_(opt),
      versions_(new std::atomic<std::uint32_t>[version_count]),
      slab_(std::make_unique<slab>()),
      rng_(opt.seed ? opt.seed : 1) {
  if (opt_.max_path == 0)
    opt_.max_path = opt_.mode == search_mode::bfs ? 5 : 500;
  opt_.initial_buckets = std::bit_ceil(std::max<std::size_t>(opt_.initial_buckets, 2));
  for (std::size_t i = 0; i < version_count; ++i)
    versions_[i].store(0, std::memory_order_relaxed);
  current_ = std::make_unique<index>();
  current_->mask = opt_.initial_buckets - 1;
  current_->buckets.reset(new bucket[opt_.initial_buckets]);
  index_.store(current_.get(), std::memory_order_release);
}

cuckoo_table::~cuckoo_table() = default;

std::atomic<std::uint32_t>& cuckoo_table::version_of(std::uint64_t h) const {
  return versions_[(h >> 40) & (version_count - 1)];
}

namespace {

// The writer's side of the version protocol: odd while `h`'s key changes.
struct write_guard {
  explicit write_guard(std::atomic<std::uint32_t>& v) : v_(v), start_(v.load(std::memory_order_relaxed)) {
    v_.store(start_ + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  ~write_guard() { v_.store(start_ + 2, std::memory_order_release); }
  write_guard(const write_guard&) = delete;
  write_guard& operator=(const write_guard&) = delete;

 private:
  std::atomic<std::uint32_t>& v_;
  std::uint32_t start_;
};

}  // namespace

cuckoo_table::found_item cuckoo_table::probe(std::string_view key, std::uint64_t h, std::uint32_t& version) const {
  auto& ver = version_of(h);
  std::uint32_t v;
  while ((v = ver.load(std::memory_order_acquire)) & 1)
    cpu_relax();
  version = v;
  const index* ix = index_.load(std::memory_order_acquire);
  auto tag = tag_of(h);
  std::size_t b1 = h & ix->mask;
  std::size_t bs[2] = {b1, alt_bucket(b1, tag, ix->mask)};
  for (int i = 0; i < 2; ++i) {
    const bucket& b = ix->buckets[bs[i]];
    auto tags = b.tags.load(std::memory_order_relaxed);
    for (auto m = tag_candidates(tags, tag); m; m &= m - 1) {
      int s = std::countr_zero(m) >> 3;
      if (tag_at(tags, s) != tag)
        continue;
      auto ref = b.refs[s].load(std::memory_order_acquire);
      if (ref == no_item)
        continue;
      const std::byte* p = slab_->at(ref);
      item_header hd;
      std::memcpy(&hd, p, header_size);
      if (hd.hash != h || hd.key_len != key.size() ||
          header_size + std::uint64_t(hd.key_len) + hd.val_len > slab_->capacity(ref))
        continue;
      if (std::memcmp(p + header_size, key.data(), key.size()) != 0)
        continue;
      return {ref, bs[i], s, {reinterpret_cast<const char*>(p + header_size + hd.key_len), hd.val_len}};
    }
  }
  return {};
}

bool cuckoo_table::validate(std::uint64_t h, std::uint32_t v1) const {
  std::atomic_thread_fence(std::memory_order_acquire);
  return version_of(h).load(std::memory_order_relaxed) == v1;
}

bool cuckoo_table::get(std::string_view key, std::string& out) const {
  return read(key, [&](std::string_view v) { out.assign(v); });
}

bool cuckoo_table::contains(std::string_view key) const {
  return read(key, [](std::string_view) {});
}

cuckoo_table::found_item cuckoo_table::find_for_write(const index& ix, std::string_view key, std::uint64_t h) const {
  auto tag = tag_of(h);
  std::size_t b1 = h & ix.mask;
  std::size_t bs[2] = {b1, alt_bucket(b1, tag, ix.mask)};
  for (int i = 0; i < 2; ++i) {
    const bucket& b = ix.buckets[bs[i]];
    auto tags = b.tags.load(std::memory_order_relaxed);
    for (auto m = tag_candidates(tags, tag); m; m &= m - 1) {
      int s = std::countr_zero(m) >> 3;
      if (tag_at(tags, s) != tag)
        continue;
      auto ref = b.refs[s].load(std::memory_order_relaxed);
      const auto* hd = slab_->header(ref);
      if (hd->hash == h && hd->key_len == key.size() &&
          std::memcmp(slab_->at(ref) + header_size, key.data(), key.size()) == 0)
        return {ref, bs[i], s, {}};
    }
  }
  return {};
}

void cuckoo_table::mark_dirty(std::uint32_t ref) {
  if (!opt_.track_changes)
    return;
  auto* hd = slab_->header(ref);
  if (!(hd->flags & flag_dirty)) {
    hd->flags |= flag_dirty;
    dirty_.push_back(ref);
  }
}

set_result cuckoo_table::set(std::string_view key, std::string_view value) {
  if (key.size() > max_key_size || value.size() > max_value_size)
    return set_result::too_large;
  auto h = hash_key(key);
  std::size_t need = header_size + key.size() + value.size();
  index& ix = *current_;
  auto f = find_for_write(ix, key, h);
  if (f.ref != no_item) {
    if (slab_->class_of(need) == slab_->class_of_ref(f.ref)) {
      write_guard g(version_of(h));
      auto* hd = slab_->header(f.ref);
      hd->val_len = static_cast<std::uint32_t>(value.size());
      std::memcpy(slab_->at(f.ref) + header_size + key.size(), value.data(), value.size());
      mark_dirty(f.ref);
      return set_result::updated;
    }
    auto nref = slab_->alloc(need);
    if (nref == no_item)
      return set_result::full;
    auto* p = slab_->at(nref);
    item_header hd{h, static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size()), 0, 0};
    std::memcpy(p, &hd, header_size);
    std::memcpy(p + header_size, key.data(), key.size());
    std::memcpy(p + header_size + key.size(), value.data(), value.size());
    {
      write_guard g(version_of(h));
      ix.buckets[f.bucket].refs[f.slot].store(nref, std::memory_order_release);
    }
    slab_->free(f.ref);
    mark_dirty(nref);
    return set_result::updated;
  }
  auto ref = slab_->alloc(need);
  if (ref == no_item)
    return set_result::full;
  auto* p = slab_->at(ref);
  item_header hd{h, static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size()), 0, 0};
  std::memcpy(p, &hd, header_size);
  std::memcpy(p + header_size, key.data(), key.size());
  std::memcpy(p + header_size + key.size(), value.data(), value.size());
  if (!place(*current_, ref, h, true)) {
    if (!opt_.grow) {
      slab_->free(ref);
      return set_result::full;
    }
    do
      grow();
    while (!place(*current_, ref, h, true));
  }
  ++size_;
  mark_dirty(ref);
  return set_result::inserted;
}

bool cuckoo_table::place(index& ix, std::uint32_t ref, std::uint64_t h, bool count_moves) {
  auto tag = tag_of(h);
  std::size_t b1 = h & ix.mask;
  std::size_t b2 = alt_bucket(b1, tag, ix.mask);
  auto put = [&](std::size_t b, int s) {
    write_guard g(version_of(h));
    bucket& bk = ix.buckets[b];
    bk.refs[s].store(ref, std::memory_order_release);
    auto tags = bk.tags.load(std::memory_order_relaxed);
    bk.tags.store(tags | (std::uint32_t(tag) << (8 * s)), std::memory_order_release);
  };
  for (std::size_t b : {b1, b2}) {
    int s = empty_slot(ix.buckets[b].tags.load(std::memory_order_relaxed));
    if (s >= 0) {
      put(b, s);
      return true;
    }
  }
  if (count_moves)
    stats_.path_searches++;
  path_.clear();
  bool ok = opt_.mode == search_mode::bfs ? find_path_bfs(ix, b1, b2, path_) : find_path_dfs(ix, b1, b2, path_);
  if (!ok)
    return false;
  move_along(ix, path_, count_moves);
  put(path_[0].bucket, path_[0].slot);
  return true;
}

bool cuckoo_table::find_path_bfs(const index& ix, std::size_t b1, std::size_t b2, std::vector<path_step>& path) const {
  struct node {
    std::size_t bucket;
    std::int32_t parent;
    std::int8_t via;  // the parent's slot whose item moves into this bucket
    std::uint8_t depth;
  };
  thread_local std::vector<node> nodes;
  nodes.clear();
  // Root-to-leaf slots: each node's bucket with the slot its child was reached through, ending
  // at the empty slot `e` of node `leaf`.
  auto build = [&](std::int32_t leaf, int e) {
    path.clear();
    path.push_back({nodes[std::size_t(leaf)].bucket, e});
    for (std::int32_t c = leaf; nodes[std::size_t(c)].parent >= 0; c = nodes[std::size_t(c)].parent)
      path.push_back({nodes[std::size_t(nodes[std::size_t(c)].parent)].bucket, nodes[std::size_t(c)].via});
    std::reverse(path.begin(), path.end());
    return true;
  };
  for (std::size_t root : {b1, b2}) {
    if (root == b2 && b2 == b1)
      break;
    nodes.push_back({root, -1, -1, 0});
    int e = empty_slot(ix.buckets[root].tags.load(std::memory_order_relaxed));
    if (e >= 0)
      return build(std::int32_t(nodes.size() - 1), e);
  }
  // Breadth-first; a bucket is tested for an empty slot as soon as it is reached, so the search
  // stops one level earlier than testing on expansion would.
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node n = nodes[i];
    if (n.depth >= opt_.max_path)
      continue;
    auto tags = ix.buckets[n.bucket].tags.load(std::memory_order_relaxed);
    for (int s = 0; s < 4; ++s) {
      std::size_t alt = alt_bucket(n.bucket, tag_at(tags, s), ix.mask);
      bool on_path = false;
      for (std::int32_t c = std::int32_t(i); c >= 0 && !on_path; c = nodes[std::size_t(c)].parent)
        on_path = nodes[std::size_t(c)].bucket == alt;
      if (on_path)
        continue;
      nodes.push_back({alt, std::int32_t(i), std::int8_t(s), std::uint8_t(n.depth + 1)});
      int e = empty_slot(ix.buckets[alt].tags.load(std::memory_order_relaxed));
      if (e >= 0)
        return build(std::int32_t(nodes.size() - 1), e);
    }
  }
  return false;
}

bool cuckoo_table::find_path_dfs(index& ix, std::size_t b1, std::size_t b2, std::vector<path_step>& path) {
  path.clear();
  std::size_t cur = (next_random(rng_) & 1) ? b2 : b1;
  for (std::size_t d = 0; d <= opt_.max_path; ++d) {
    auto tags = ix.buckets[cur].tags.load(std::memory_order_relaxed);
    int e = empty_slot(tags);
    if (e >= 0) {
      path.push_back({cur, e});
      return true;
    }
    if (d == opt_.max_path)
      break;
    // A random slot not already on the path (a slot used twice would break the backward moves).
    int start = int(next_random(rng_) & 3);
    int pick = -1;
    for (int k = 0; k < 4 && pick < 0; ++k) {
      int s = (start + k) & 3;
      bool used = false;
      for (const auto& st : path)
        if (st.bucket == cur && st.slot == s) {
          used = true;
          break;
        }
      if (!used)
        pick = s;
    }
    if (pick < 0)
      return false;
    path.push_back({cur, pick});
    cur = alt_bucket(cur, tag_at(tags, pick), ix.mask);
  }
  return false;
}

void cuckoo_table::move_along(index& ix, const std::vector<path_step>& path, bool count_moves) {
  // Backwards from the empty slot at the end: each item moves into the slot just vacated, so
  // every key is in the table at every moment.
  for (std::size_t i = path.size() - 1; i-- > 0;) {
    bucket& from = ix.buckets[path[i].bucket];
    bucket& to = ix.buckets[path[i + 1].bucket];
    int fs = path[i].slot;
    int ts = path[i + 1].slot;
    auto ref = from.refs[fs].load(std::memory_order_relaxed);
    auto ftags = from.tags.load(std::memory_order_relaxed);
    auto tag = tag_at(ftags, fs);
    write_guard g(version_of(slab_->header(ref)->hash));
    to.refs[ts].store(ref, std::memory_order_release);
    to.tags.store(to.tags.load(std::memory_order_relaxed) | (std::uint32_t(tag) << (8 * ts)),
                  std::memory_order_release);
    ftags = from.tags.load(std::memory_order_relaxed);  // `to` may be the same bucket
    from.tags.store(ftags & ~(0xffu << (8 * fs)), std::memory_order_release);
    from.refs[fs].store(no_item, std::memory_order_release);
    if (count_moves)
      stats_.displacements++;
  }
}

void cuckoo_table::grow() {
  std::size_t buckets = (current_->mask + 1) * 2;
  for (;;) {
    auto next = std::make_unique<index>();
    next->mask = buckets - 1;
    next->buckets.reset(new bucket[buckets]);
    bool ok = true;
    const index& old = *current_;
    for (std::size_t b = 0; b <= old.mask && ok; ++b) {
      auto tags = old.buckets[b].tags.load(std::memory_order_relaxed);
      for (int s = 0; s < 4 && ok; ++s)
        if (tag_at(tags, s) != 0) {
          auto ref = old.buckets[b].refs[s].load(std::memory_order_relaxed);
          ok = place(*next, ref, slab_->header(ref)->hash, false);
        }
    }
    if (ok) {
      index_.store(next.get(), std::memory_order_release);
      retired_.push_back(std::move(current_));
      current_ = std::move(next);
      stats_.grows++;
      return;
    }
    buckets *= 2;
  }
}

bool cuckoo_table::erase(std::string_view key) {
  auto h = hash_key(key);
  index& ix = *current_;
  auto f = find_for_write(ix, key, h);
  if (f.ref == no_item)
    return false;
  {
    write_guard g(version_of(h));
    bucket& b = ix.buckets[f.bucket];
    b.tags.store(b.tags.load(std::memory_order_relaxed) & ~(0xffu << (8 * f.slot)), std::memory_order_release);
    b.refs[f.slot].store(no_item, std::memory_order_release);
  }
  if (opt_.track_changes)
    erased_.emplace_back(key);
  slab_->free(f.ref);
  --size_;
  return true;
}

void cuckoo_table::clear() {
  auto fresh = std::make_unique<index>();
  fresh->mask = opt_.initial_buckets - 1;
  fresh->buckets.reset(new bucket[opt_.initial_buckets]);
  index_.store(fresh.get(), std::memory_order_release);
  current_ = std::move(fresh);
  retired_.clear();
  slab_->release();
  size_ = 0;
  stats_ = {};
  read_retries_.store(0, std::memory_order_relaxed);
  dirty_.clear();
  erased_.clear();
}

void cuckoo_table::reclaim() { retired_.clear(); }

table_stats cuckoo_table::stats() const {
  auto s = stats_;
  s.read_retries = read_retries_.load(std::memory_order_relaxed);
  return s;
}

std::size_t cuckoo_table::memory_bytes() const {
  std::size_t n = (current_->mask + 1) * sizeof(bucket) + version_count * sizeof(std::uint32_t);
  for (const auto& r : retired_)
    n += (r->mask + 1) * sizeof(bucket);
  return n + slab_->bytes();
}

void cuckoo_table::for_each(const std::function<void(std::string_view, std::string_view)>& f) const {
  const index& ix = *current_;
  for (std::size_t b = 0; b <= ix.mask; ++b) {
    auto tags = ix.buckets[b].tags.load(std::memory_order_relaxed);
    for (int s = 0; s < 4; ++s)
      if (tag_at(tags, s) != 0) {
        auto ref = ix.buckets[b].refs[s].load(std::memory_order_relaxed);
        const auto* hd = slab_->header(ref);
        const char* p = reinterpret_cast<const char*>(slab_->at(ref)) + header_size;
        f({p, hd->key_len}, {p + hd->key_len, hd->val_len});
      }
  }
}

void cuckoo_table::drain_changes(const std::function<void(std::string_view)>& erased,
                                 const std::function<void(std::string_view, std::string_view)>& put) {
  for (const auto& k : erased_)
    erased(k);
  erased_.clear();
  for (auto ref : dirty_) {
    auto* hd = slab_->header(ref);
    if (!(hd->flags & flag_dirty))
      continue;  // freed (or reported already) since it was marked
    hd->flags &= ~flag_dirty;
    const char* p = reinterpret_cast<const char*>(slab_->at(ref)) + header_size;
    put({p, hd->key_len}, {p + hd->key_len, hd->val_len});
  }
  dirty_.clear();
}

void cuckoo_table::discard_changes() {
  for (auto ref : dirty_)
    slab_->header(ref)->flags &= ~flag_dirty;
  dirty_.clear();
  erased_.clear();
}

}  // namespace e3::services::kvs
