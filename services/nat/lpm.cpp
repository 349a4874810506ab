// DIR-24-8-BASIC construction, bulk lookup, and the routes/address file readers.
#include "services/nat/lpm.hpp"

#include <sys/mman.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <new>

#include "services/common/packet.hpp"

namespace e3::services::nat {
namespace {

constexpr std::size_t huge_page = std::size_t(2) << 20;
#ifdef MADV_POPULATE_WRITE
constexpr int populate_write = MADV_POPULATE_WRITE;
#else
constexpr int populate_write = 23;  // Linux 5.14's MADV_POPULATE_WRITE
#endif

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

/// Calls f(line_number, line) for every line of a plain or gzip file.
template <class F>
void for_each_line(const std::string& path, F&& f) {
  gzFile g = gzopen(path.c_str(), "rb");
  if (!g)
    throw file_error(path + ": cannot open");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(g, gzclose);
  gzbuffer(g, 1 << 16);
  char buf[4096];
  std::size_t line = 0;
  while (true) {
    char* r = gzgets(g, buf, sizeof buf);
    if (!r) {
      int err = 0;
      const char* msg = gzerror(g, &err);
      if (err != Z_OK && err != Z_STREAM_END)
        throw file_error(path + ":" + std::to_string(line + 1) + ": read error: " + msg);
      break;
    }
    ++line;
    std::size_t n = std::strlen(buf);
    if (n == sizeof buf - 1 && buf[n - 1] != '\n' && !gzeof(g))
      throw file_error(path + ":" + std::to_string(line) + ": line longer than " + std::to_string(sizeof buf - 2) +
                       " bytes");
    f(line, std::string_view(buf, n));
  }
}

}  // namespace

std::string to_string(const prefix& p) { return ipv4_to_string(p.addr) + "/" + std::to_string(p.len); }

std::string parse_prefix(std::string_view text, prefix& out) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return "expected a.b.c.d/len, got '" + std::string(text) + "'";
  auto a = parse_ipv4(text.substr(0, slash));
  if (!a)
    return "bad IPv4 address '" + std::string(text.substr(0, slash)) + "'";
  auto lt = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(lt.data(), lt.data() + lt.size(), len);
  if (ec != std::errc() || end != lt.data() + lt.size() || lt.empty() || len > 32)
    return "bad prefix length '" + std::string(lt) + "' (expected 0..32)";
  std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t(0) << (32 - len);
  if (*a & ~mask)
    return "host bits set in '" + std::string(text) + "' (network is " +
           to_string(prefix{*a & mask, std::uint8_t(len)}) + ")";
  out = prefix{*a, std::uint8_t(len)};
  return {};
}

std::vector<prefix> read_routes(const std::string& path) {
  std::vector<prefix> out;
  for_each_line(path, [&](std::size_t line, std::string_view text) {
    text = trim(text);
    if (text.empty() || text.front() == '#')
      return;
    prefix p;
    std::string err = parse_prefix(text, p);
    if (!err.empty())
      throw file_error(path + ":" + std::to_string(line) + ": " + err);
    out.push_back(p);
  });
  return out;
}

std::vector<std::uint32_t> read_addresses(const std::string& path) {
  std::vector<std::uint32_t> out;
  for_each_line(path, [&](std::size_t line, std::string_view text) {
    text = trim(text);
    if (text.empty() || text.front() == '#')
      return;
    auto field = trim(text.substr(0, text.find('\t')));
    auto a = parse_ipv4(field);
    if (!a)
      throw file_error(path + ":" + std::to_string(line) + ": bad IPv4 address '" + std::string(field) + "'");
    out.push_back(*a);
  });
  return out;
}

lpm_table::lpm_table(std::vector<prefix> routes, bool huge_pages) {
  if (routes.size() >= (std::size_t(1) << 31) - 1)
    throw std::invalid_argument("too many routes: " + std::to_string(routes.size()));
  for (const auto& p : routes) {
    if (p.len > 32)
      throw std::invalid_argument("prefix length " + std::to_string(p.len) + " above 32");
    std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t(0) << (32 - p.len);
    if (p.addr & ~mask)
      throw std::invalid_argument("host bits set in " + to_string(p));
  }
  // One sort by (length, address, input position) gives the insertion order (shortest first)
  // and puts duplicates side by side; the first of each run keeps its place in routes_.
  std::vector<std::uint32_t> order(routes.size());
  for (std::uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const prefix &x = routes[a], &y = routes[b];
    return x.len != y.len ? x.len < y.len : x.addr != y.addr ? x.addr < y.addr : a < b;
  });
  std::vector<bool> duplicate(routes.size(), false);
  for (std::size_t i = 1; i < order.size(); ++i)
    duplicate[order[i]] = routes[order[i]] == routes[order[i - 1]];
  std::vector<std::uint32_t> new_index(routes.size());
  routes_.reserve(routes.size());
  for (std::uint32_t i = 0; i < routes.size(); ++i)
    if (!duplicate[i]) {
      new_index[i] = std::uint32_t(routes_.size());
      routes_.push_back(routes[i]);
    }
  std::size_t long_prefixes = 0;
  for (const auto& p : routes_)
    long_prefixes += p.len > 24;

  // TBL24: an anonymous mapping rounded to huge pages, advised to use them.
  std::size_t map_bytes = tbl24_bytes + huge_page;
  void* m = ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    throw std::bad_alloc();
  auto base = reinterpret_cast<std::uintptr_t>(m);
  auto aligned = (base + huge_page - 1) & ~(huge_page - 1);
  // Give back the unaligned head and tail so exactly tbl24_bytes stay mapped.
  if (aligned > base)
    ::munmap(m, aligned - base);
  if (std::size_t tail = base + map_bytes - (aligned + tbl24_bytes))
    ::munmap(reinterpret_cast<void*>(aligned + tbl24_bytes), tail);
  tbl24_ = reinterpret_cast<std::uint32_t*>(aligned);
  huge_ = huge_pages && ::madvise(tbl24_, tbl24_bytes, MADV_HUGEPAGE) == 0;
  if (!huge_pages)
    ::madvise(tbl24_, tbl24_bytes, MADV_NOHUGEPAGE);
  // Fault the table in with one call rather than page by page (ignored by kernels before 5.14).
  ::madvise(tbl24_, tbl24_bytes, populate_write);
  tbl_long_.reserve(std::min<std::size_t>(long_prefixes, std::size_t(1) << 24) * 256);

  // Insert shortest first: a longer prefix overwrites the entries of the shorter ones it refines.
  for (std::uint32_t original : order) {
    if (duplicate[original])
      continue;
    std::uint32_t idx = new_index[original];
    const prefix& p = routes_[idx];
    std::uint32_t value = idx + 1;
    if (p.len <= 24) {
      std::size_t first = p.addr >> 8, count = std::size_t(1) << (24 - p.len);
      std::fill(tbl24_ + first, tbl24_ + first + count, value);
      continue;
    }
    std::uint32_t& e = tbl24_[p.addr >> 8];
    if (!(e >> 31)) {
      // First longer prefix in this /24: a new block inheriting the /24's current route.
      std::uint32_t block = std::uint32_t(tbl_long_.size() / 256);
      tbl_long_.resize(tbl_long_.size() + 256, e);
      e = 0x80000000u | block;
    }
    std::size_t first = std::size_t(e & 0x7fffffffu) * 256 + (p.addr & 0xffu);
    std::size_t count = std::size_t(1) << (32 - p.len);
    std::fill(tbl_long_.begin() + std::ptrdiff_t(first), tbl_long_.begin() + std::ptrdiff_t(first + count), value);
  }
}

lpm_table::~lpm_table() {
  if (tbl24_)
    ::munmap(tbl24_, tbl24_bytes);
}

void lpm_table::lookup_bulk(const std::uint32_t* addrs, std::uint32_t* out, std::size_t n) const noexcept {
  // Blocks of 16: all TBL24 loads first (independent, so their cache misses overlap), then the
  // rare TBLlong loads.
  constexpr std::size_t block = 16;
  std::size_t i = 0;
  for (; i + block <= n; i += block) {
    std::uint32_t e[block];
    for (std::size_t j = 0; j < block; ++j)
      e[j] = tbl24_[addrs[i + j] >> 8];
    for (std::size_t j = 0; j < block; ++j) {
      std::uint32_t v = e[j];
      if (__builtin_expect(v >> 31, 0))
        v = tbl_long_[std::size_t(v & 0x7fffffffu) << 8 | (addrs[i + j] & 0xffu)];
      out[i + j] = v - 1;
    }
  }
  for (; i < n; ++i)
    out[i] = lookup(addrs[i]);
}

}  // namespace e3::services::nat
