// Biased matrix factorisation with SGD, MovieLens reading, seeded split, item-mean baseline.
#include "services/recommend/recommend.hpp"

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace e3::services::recommend {
namespace {

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double uniform01(std::uint64_t& s) { return double(splitmix64(s) >> 11) * 0x1.0p-53; }

std::uint64_t bounded(std::uint64_t& s, std::uint64_t n) {
  return std::uint64_t((static_cast<unsigned __int128>(splitmix64(s)) * n) >> 64);
}

[[noreturn]] void fail(std::string_view name, std::size_t line, const std::string& what) {
  throw ratings_error(std::string(name) + ":" + std::to_string(line) + ": " + what);
}

template <class T>
bool parse(std::string_view s, T& out) {
  if (s.empty())
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::vector<rating> parse_movielens_ratings(std::string_view text, std::string_view name) {
  std::vector<rating> out;
  std::size_t at = 0, line_no = 0;
  std::string_view f[4];
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line_no == 1) {
      if (line.rfind("userId,movieId,rating", 0) != 0)
        fail(name, 1, "header must start with 'userId,movieId,rating'");
      continue;
    }
    std::size_t n = 0, p = 0;
    while (true) {
      auto c = line.find(',', p);
      if (n < 4)
        f[n] = line.substr(p, c == std::string_view::npos ? std::string_view::npos : c - p);
      ++n;
      if (c == std::string_view::npos)
        break;
      p = c + 1;
    }
    if (n != 4)
      fail(name, line_no, std::to_string(n) + " fields, expected userId,movieId,rating,timestamp");
    rating r;
    if (!parse(f[0], r.user))
      fail(name, line_no, "userId '" + std::string(f[0]) + "' is not an unsigned integer");
    if (!parse(f[1], r.item))
      fail(name, line_no, "movieId '" + std::string(f[1]) + "' is not an unsigned integer");
    if (!parse(f[2], r.value) || !std::isfinite(r.value))
      fail(name, line_no, "rating '" + std::string(f[2]) + "' is not a finite number");
    out.push_back(r);
  }
  if (line_no == 0)
    fail(name, 1, "empty file (expected the header 'userId,movieId,rating,timestamp')");
  return out;
}

std::vector<rating> read_movielens_ratings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ratings_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream b;
  b << in.rdbuf();
  return parse_movielens_ratings(b.str(), path);
}

void split(const std::vector<rating>& all, double train_fraction, std::uint64_t seed, std::vector<rating>& train,
           std::vector<rating>& test) {
  train.clear();
  test.clear();
  std::uint64_t s = seed;
  for (const auto& r : all)
    (uniform01(s) < train_fraction ? train : test).push_back(r);
}

std::vector<rating> synthetic_ratings() {
  constexpr std::size_t users = 300, items = 1000, per_user = 40, rank = 3;
  std::uint64_t s = 0x5eed;
  auto gauss = [&] {  // sum of 4 uniforms: roughly normal, deterministic everywhere
    double t = 0;
    for (int i = 0; i < 4; ++i)
      t += uniform01(s) - 0.5;
    return t * 1.7;
  };
  std::vector<double> ub(users), ib(items), uf(users * rank), itf(items * rank);
  for (auto& v : ub)
    v = 0.4 * gauss();
  for (auto& v : ib)
    v = 0.6 * gauss();
  for (auto& v : uf)
    v = 0.6 * gauss();
  for (auto& v : itf)
    v = 0.6 * gauss();
  std::vector<rating> out;
  for (std::size_t u = 0; u < users; ++u)
    for (std::size_t k = 0; k < per_user; ++k) {
      std::size_t i = bounded(s, items);
      double r = 3.5 + ub[u] + ib[i] + 0.3 * gauss();
      for (std::size_t f = 0; f < rank; ++f)
        r += uf[u * rank + f] * itf[i * rank + f];
      r = std::round(r * 2) / 2;
      out.push_back({u + 1, i + 1, std::min(5.0, std::max(0.5, r))});
    }
  return out;
}

mf_model::mf_model(mf_params p) : p_(p) {
  if (p_.factors == 0 || p_.factors > 1024 || !(p_.lr > 0) || !(p_.reg >= 0) || !(p_.init >= 0) ||
      !(p_.min_rating <= p_.max_rating))
    throw std::invalid_argument("recommend: factors must be in [1, 1024], lr > 0, reg >= 0, init >= 0");
}

void mf_model::clear() {
  sum_ = 0;
  count_ = 0;
  user_ids_.clear();
  item_ids_.clear();
  user_idx_.clear();
  item_idx_.clear();
  urows_.clear();
  irows_.clear();
}

std::size_t mf_model::user_index(std::uint64_t id) const {
  auto it = user_idx_.find(id);
  return it == user_idx_.end() ? none : it->second;
}

std::size_t mf_model::item_index(std::uint64_t id) const {
  auto it = item_idx_.find(id);
  return it == item_idx_.end() ? none : it->second;
}

namespace {

// Bias 0, factors uniform in ±init·√3 (standard deviation init) from a generator seeded by id.
void init_row(double* row, std::size_t k, double init, std::uint64_t seed, std::uint64_t id, std::uint64_t salt) {
  std::uint64_t s = seed ^ (id * 0x9e3779b97f4a7c15ull) ^ salt;
  splitmix64(s);
  row[0] = 0;
  const double a = init * 1.7320508075688772;
  for (std::size_t f = 0; f < k; ++f)
    row[1 + f] = (2 * uniform01(s) - 1) * a;
}

}  // namespace

std::size_t mf_model::add_user(std::uint64_t id) {
  auto [it, fresh] = user_idx_.try_emplace(id, user_ids_.size());
  if (fresh) {
    user_ids_.push_back(id);
    urows_.resize(urows_.size() + stride());
    init_row(urows_.data() + it->second * stride(), p_.factors, p_.init, p_.seed, id, 0x75736572);
  }
  return it->second;
}

std::size_t mf_model::add_item(std::uint64_t id) {
  auto [it, fresh] = item_idx_.try_emplace(id, item_ids_.size());
  if (fresh) {
    item_ids_.push_back(id);
    irows_.resize(irows_.size() + stride());
    init_row(irows_.data() + it->second * stride(), p_.factors, p_.init, p_.seed, id, 0x6974656d);
  }
  return it->second;
}

void mf_model::set_user(std::uint64_t id, const double* row) {
  std::size_t u = add_user(id);  // may grow urows_: take the index before the address
  std::memcpy(urows_.data() + u * stride(), row, stride() * sizeof(double));
}

void mf_model::set_item(std::uint64_t id, const double* row) {
  std::size_t i = add_item(id);
  std::memcpy(irows_.data() + i * stride(), row, stride() * sizeof(double));
}

double mf_model::raw(std::size_t u, std::size_t i) const {
  const double* pu = user_row(u);
  const double* qi = item_row(i);
  double r = sum_ / double(count_) + pu[0] + qi[0];
  for (std::size_t f = 1; f <= p_.factors; ++f)
    r += pu[f] * qi[f];
  return r;
}

void mf_model::step(std::size_t u, std::size_t i, double r) {
  double* pu = urows_.data() + u * stride();
  double* qi = irows_.data() + i * stride();
  const double e = r - raw(u, i);
  const double lr = p_.lr, reg = p_.reg;
  pu[0] += lr * (e - reg * pu[0]);
  qi[0] += lr * (e - reg * qi[0]);
  for (std::size_t f = 1; f <= p_.factors; ++f) {
    const double a = pu[f], b = qi[f];
    pu[f] += lr * (e * b - reg * a);
    qi[f] += lr * (e * a - reg * b);
  }
}

void mf_model::train(const std::vector<rating>& r) {
  clear();
  struct triple {
    std::uint32_t u, i;
    double r;
  };
  std::vector<triple> t;
  t.reserve(r.size());
  for (const auto& x : r) {
    t.push_back({std::uint32_t(add_user(x.user)), std::uint32_t(add_item(x.item)), x.value});
    sum_ += x.value;
    ++count_;
  }
  std::uint64_t s = p_.seed;
  for (unsigned e = 0; e < p_.epochs; ++e) {
    for (std::size_t k = t.size(); k > 1; --k)
      std::swap(t[k - 1], t[bounded(s, k)]);
    for (const auto& x : t)
      step(x.u, x.i, x.r);
  }
}

double mf_model::predict(std::uint64_t user, std::uint64_t item) const {
  std::size_t u = user_index(user), i = item_index(item);
  double r = count_ ? sum_ / double(count_) : 0.0;
  if (u != none)
    r += user_row(u)[0];
  if (i != none)
    r += item_row(i)[0];
  if (u != none && i != none)
    for (std::size_t f = 1; f <= p_.factors; ++f)
      r += user_row(u)[f] * item_row(i)[f];
  return std::min(p_.max_rating, std::max(p_.min_rating, r));
}

void mf_model::update(std::uint64_t user, std::uint64_t item, double r) {
  std::size_t u = add_user(user), i = add_item(item);
  sum_ += r;
  ++count_;
  step(u, i, r);
}

void item_mean::fit(const std::vector<rating>& r) {
  items_.clear();
  double s = 0;
  for (const auto& x : r) {
    auto& e = items_[x.item];
    e.first += x.value;
    ++e.second;
    s += x.value;
  }
  global_ = r.empty() ? 0.0 : s / double(r.size());
}

double item_mean::predict(std::uint64_t item) const {
  auto it = items_.find(item);
  return it == items_.end() ? global_ : it->second.first / double(it->second.second);
}

}  // namespace e3::services::recommend
