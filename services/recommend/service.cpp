// The Recommend service binding: the MF model in memory, what changed flushed to reliable tables.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "services/common/cli.hpp"
#include "services/common/record.hpp"
#include "services/recommend/recommend.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace recommend;

constexpr std::string_view meta_table = "rec_meta";
constexpr std::string_view user_table = "rec_users";
constexpr std::string_view item_table = "rec_items";
constexpr std::string_view rated_table = "rec_rated";

struct mean_state {
  double sum;
  std::uint64_t count;
};

std::uint64_t parse_uint(std::string_view name, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    throw std::invalid_argument(std::string(name) + " '" + std::string(text) + "' is not an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

double parse_real(std::string_view name, std::string_view text, double lo, double hi) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v >= lo && v <= hi))
    throw std::invalid_argument(std::string(name) + " '" + std::string(text) + "' is not a number in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

mf_params parse_params(const std::map<std::string, std::string, std::less<>>& m) {
  auto get = [&](std::string_view k, std::string_view d) {
    auto it = m.find(k);
    return it == m.end() ? std::string(d) : it->second;
  };
  mf_params p;
  p.factors = parse_uint("factors", get("factors", "32"), 1, 1024);
  p.epochs = unsigned(parse_uint("epochs", get("epochs", "20"), 0, 10000));
  p.lr = parse_real("lr", get("lr", "0.01"), 1e-9, 1);
  p.reg = parse_real("reg", get("reg", "0.05"), 0, 100);
  return p;
}

std::string pair_key(std::uint64_t a, std::uint64_t b) {
  std::string k(16, '\0');
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &b, 8);
  return k;
}

// A set of (user, item) pairs: open addressing with linear probing, no per-entry allocation.
class pair_set {
 public:
  // True when the pair was not there before.
  bool insert(std::uint64_t a, std::uint64_t b) {
    if ((size_ + 1) * 2 > keys_.size())
      grow();
    std::size_t i = find(a, b);
    if (used_[i])
      return false;
    used_[i] = 1;
    keys_[i] = {a, b};
    ++size_;
    return true;
  }
  bool contains(std::uint64_t a, std::uint64_t b) const {
    if (keys_.empty())
      return false;
    return used_[find(a, b)] != 0;
  }
  void clear() {
    keys_.clear();
    used_.clear();
    size_ = 0;
  }

 private:
  std::size_t find(std::uint64_t a, std::uint64_t b) const {
    std::uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = std::size_t(h) & mask;
    while (used_[i] && (keys_[i].first != a || keys_[i].second != b))
      i = (i + 1) & mask;
    return i;
  }
  void grow() {
    auto old_keys = std::move(keys_);
    auto old_used = std::move(used_);
    std::size_t cap = old_keys.empty() ? 1024 : old_keys.size() * 2;
    keys_.assign(cap, {0, 0});
    used_.assign(cap, 0);
    size_ = 0;
    for (std::size_t i = 0; i < old_keys.size(); ++i)
      if (old_used[i])
        insert(old_keys[i].first, old_keys[i].second);
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> keys_;
  std::vector<std::uint8_t> used_;
  std::size_t size_ = 0;
};

// Which model rows changed since the last flush: a flag per row index plus their list.
class dirty_rows {
 public:
  void mark(std::size_t idx) {
    if (idx >= flag_.size())
      flag_.resize(idx + 1, 0);
    if (!flag_[idx]) {
      flag_[idx] = 1;
      list_.push_back(idx);
    }
  }
  const std::vector<std::size_t>& list() const { return list_; }
  void clear() {
    for (auto i : list_)
      flag_[i] = 0;
    list_.clear();
  }

 private:
  std::vector<std::uint8_t> flag_;
  std::vector<std::size_t> list_;
};

class recommend_service final : public service {
 public:
  recommend_service(mf_params p, std::vector<rating> initial, std::size_t top)
      : model_(p), initial_(std::move(initial)), top_(top) {}

  void handle(const request& req, service_context& ctx) override {
    if (!ready_)
      train_initial();
    try {
      r_ = decode_record(req.payload);
    } catch (const record_error&) {
      ctx.reject("recommend: malformed record");
      return;
    }
    const auto& p = model_.params();
    record out;
    out.key = r_.key;
    out.ts_ns = r_.ts_ns;
    if (r_.op == op_rate) {
      if (r_.features.empty()) {
        ctx.reject("recommend: a rating needs features[0] = item id");
        return;
      }
      double f = r_.features[0];
      if (!(f >= 0 && f < 0x1.0p53 && f == std::floor(f))) {
        ctx.reject("recommend: item id is not an integer in [0, 2^53)");
        return;
      }
      if (!(r_.value >= p.min_rating && r_.value <= p.max_rating)) {
        ctx.reject("recommend: rating outside [min_rating, max_rating]");
        return;
      }
      auto item = std::uint64_t(f);
      model_.update(r_.key, item, r_.value);
      rated_.insert(r_.key, item);
      dirty_users_.mark(model_.user_index(r_.key));
      dirty_items_.mark(model_.item_index(item));
      dirty_rated_.push_back({r_.key, item, r_.value});
      out.op = op_rate;
      out.value = model_.predict(r_.key, item);
      out.features = {f};
    } else {
      model_.top_n(r_.key, top_, [&](std::uint64_t item) { return rated_.contains(r_.key, item); }, top_buf_);
      out.op = op_recommend;
      out.value = double(top_buf_.size());
      out.features.reserve(2 * top_buf_.size());
      for (auto [item, score] : top_buf_) {
        out.features.push_back(double(item));
        out.features.push_back(score);
      }
    }
    out_.clear();
    encode(out, out_);
    ctx.emit(r_.key, out_);
  }

  void flush(service_context& ctx) override {
    if (!ready_)
      return;
    auto& st = ctx.state();
    auto [sum, count] = model_.mean_state();
    st.get_table(meta_table).put("mu", state::as_bytes(mean_state{sum, count}));
    const std::size_t row_bytes = (model_.params().factors + 1) * sizeof(double);
    auto& users = st.get_table(user_table);
    for (auto idx : dirty_users_.list())
      users.put(state::as_bytes(model_.user_id(idx)), {reinterpret_cast<const char*>(model_.user_row(idx)), row_bytes});
    auto& items = st.get_table(item_table);
    for (auto idx : dirty_items_.list())
      items.put(state::as_bytes(model_.item_id(idx)), {reinterpret_cast<const char*>(model_.item_row(idx)), row_bytes});
    auto& rated = st.get_table(rated_table);
    for (const auto& r : dirty_rated_)
      rated.put(pair_key(r.user, r.item), state::as_bytes(r.value));
    dirty_users_.clear();
    dirty_items_.clear();
    dirty_rated_.clear();
  }

  void on_start(service_context& ctx) override {
    auto& st = ctx.state();
    std::string mu;
    if (!st.get_table(meta_table).get("mu", mu)) {
      train_initial();
      return;
    }
    model_.clear();
    rated_.clear();
    dirty_users_.clear();
    dirty_items_.clear();
    dirty_rated_.clear();
    auto m = state::from_bytes<mean_state>(mu);
    model_.set_mean_state(m.sum, m.count);
    const std::size_t k1 = model_.params().factors + 1;
    std::vector<double> row(k1);
    auto load = [&](std::string_view table, bool user) {
      st.get_table(table).for_each([&](std::string_view kb, std::string_view vb) {
        if (vb.size() != k1 * sizeof(double))
          throw state::state_error("recommend: table " + std::string(table) + " holds rows of " +
                                   std::to_string(vb.size()) + " bytes, the model needs " +
                                   std::to_string(k1 * sizeof(double)) + " (factors changed?)");
        std::memcpy(row.data(), vb.data(), vb.size());
        auto id = state::from_bytes<std::uint64_t>(kb);
        user ? model_.set_user(id, row.data()) : model_.set_item(id, row.data());
      });
    };
    load(user_table, true);
    load(item_table, false);
    st.get_table(rated_table).for_each([&](std::string_view kb, std::string_view) {
      if (kb.size() != 16)
        throw state::state_error("recommend: rec_rated key of " + std::to_string(kb.size()) + " bytes, expected 16");
      std::uint64_t u, i;
      std::memcpy(&u, kb.data(), 8);
      std::memcpy(&i, kb.data() + 8, 8);
      rated_.insert(u, i);
    });
    initial_.clear();
    initial_.shrink_to_fit();
    ready_ = true;
  }

 private:
  // Trains the initial model and marks all of it as changed, so the next flush persists it.
  void train_initial() {
    model_.train(initial_);
    rated_.clear();
    dirty_users_.clear();
    dirty_items_.clear();
    for (const auto& r : initial_)
      rated_.insert(r.user, r.item);
    for (std::size_t u = 0; u < model_.users(); ++u)
      dirty_users_.mark(u);
    for (std::size_t i = 0; i < model_.items(); ++i)
      dirty_items_.mark(i);
    dirty_rated_ = std::move(initial_);
    initial_ = {};
    ready_ = true;
  }

  mf_model model_;
  std::vector<rating> initial_;
  std::size_t top_;
  bool ready_ = false;
  pair_set rated_;
  dirty_rows dirty_users_, dirty_items_;
  std::vector<rating> dirty_rated_;
  std::vector<std::pair<std::uint64_t, double>> top_buf_;
  record r_;
  bytes out_;
};

int recommend_main(int argc, char** argv) {
  CLI::App app{"e3 svc recommend: trains the biased matrix factorisation on a seeded split of MovieLens\n"
               "ratings.csv and prints the held-out RMSE of the model and of the item-mean baseline"};
  std::string path, split_text = "0.8", seed_text = "1";
  std::map<std::string, std::string, std::less<>> params;
  std::string factors = "32", epochs = "20", lr = "0.01", reg = "0.05";
  app.add_option("--ratings", path, "MovieLens ratings.csv (userId,movieId,rating,timestamp)")->required();
  app.add_option("--split", split_text, "share of the ratings used for training (default 0.8)");
  app.add_option("--seed", seed_text, "split and training seed (default 1)");
  app.add_option("--factors", factors, "latent factors (default 32)");
  app.add_option("--epochs", epochs, "SGD passes (default 20)");
  app.add_option("--lr", lr, "SGD step size (default 0.01)");
  app.add_option("--reg", reg, "L2 regularisation (default 0.05)");
  if (auto code = parse_svc_args(app, argc, argv, "recommend"))
    return *code;
  mf_params p;
  double frac;
  try {
    p = parse_params({{"factors", factors}, {"epochs", epochs}, {"lr", lr}, {"reg", reg}});
    frac = parse_real("--split", split_text, 0.0, 1.0);
    p.seed = parse_uint("--seed", seed_text, 0, UINT64_MAX);
  } catch (const std::invalid_argument& e) {
    std::cerr << "e3 svc recommend: " << e.what() << "\n";
    return 2;
  }
  std::vector<rating> all, train, test;
  try {
    all = read_movielens_ratings(path);
  } catch (const ratings_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  split(all, frac, p.seed, train, test);
  mf_model m(p);
  m.train(train);
  item_mean base;
  base.fit(train);
  double r_model = rmse(test, [&](const rating& r) { return m.predict(r.user, r.item); });
  double r_base = rmse(test, [&](const rating& r) { return base.predict(r.item); });
  char line[160];
  std::snprintf(line, sizeof line, "train=%zu test=%zu rmse_model=%.6f rmse_item_mean=%.6f\n", train.size(), test.size(),
                r_model, r_base);
  std::cout << line;
  return 0;
}

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // Against the built-in model (users 1..300, items 1..1000): 1 in 5 a rating, else a request.
  record r;
  r.key = 1 + rng() % 300;
  if (rng() % 5 == 0) {
    r.op = op_rate;
    r.features = {double(1 + rng() % 1000)};
    r.value = 0.5 * double(1 + rng() % 10);
  } else {
    r.op = op_recommend;
  }
  std::size_t used = record_header_size + r.features.size() * 8;
  if (size > used)
    r.text.assign(size - used, 'r');
  return encode(r);
}

}  // namespace

void register_recommend(service_registry& r) {
  service_kind k;
  k.name = "recommend";
  k.table1_name = "Recommend";
  k.summary = "collaborative filtering (biased MF, SGD): op 1 = rate (key user, features[0] item, value rating), "
              "else recommend (emits features = item, predicted rating pairs)";
  k.stateful = true;
  k.input = input_format::record;
  k.make = [](const service_config& c) -> std::unique_ptr<service> {
    mf_params p;
    std::size_t top;
    try {
      p = parse_params(c.params);
      top = parse_uint("top", c.param("top", "10"), 0, 10000);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("recommend: param ") + e.what());
    }
    auto path = c.param("ratings", "");
    auto initial = path.empty() ? synthetic_ratings() : read_movielens_ratings(path);
    return std::make_unique<recommend_service>(p, std::move(initial), top);
  };
  k.synthetic_request = synthetic;
  k.svc_main = recommend_main;
  r.add(std::move(k));
}

}  // namespace e3::services
