// In-memory reliable collections: the same interface as the RocksDB store, without durability.
#include <map>
#include <string>
#include <vector>

#include "state_store/snapshot.hpp"
#include "state_store/state_store.hpp"

namespace e3::state {
namespace {

class memory_table final : public hashtable {
 public:
  explicit memory_table(std::map<std::string, std::string, std::less<>>& m) : m_(&m) {}
  bool get(std::string_view key, std::string& out) const override {
    auto i = m_->find(key);
    if (i == m_->end())
      return false;
    out = i->second;
    return true;
  }
  void put(std::string_view key, std::string_view value) override {
    auto i = m_->find(key);
    if (i == m_->end())
      m_->emplace(std::string(key), std::string(value));
    else
      i->second.assign(value);
  }
  bool erase(std::string_view key) override {
    auto i = m_->find(key);
    if (i == m_->end())
      return false;
    m_->erase(i);
    return true;
  }
  std::size_t size() const override { return m_->size(); }
  void for_each(const std::function<void(std::string_view, std::string_view)>& f) const override {
    for (const auto& [k, v] : *m_)
      f(k, v);
  }

 private:
  std::map<std::string, std::string, std::less<>>* m_;
};

class memory_array final : public array {
 public:
  memory_array(std::string name, std::vector<std::string>& v) : name_(std::move(name)), v_(&v) {}
  std::size_t size() const override { return v_->size(); }
  void resize(std::size_t n) override { v_->resize(n); }
  void get(std::size_t i, std::string& out) const override { out = (*v_)[check(i)]; }
  void set(std::size_t i, std::string_view value) override { (*v_)[check(i)].assign(value); }

 private:
  std::size_t check(std::size_t i) const {
    if (i >= v_->size())
      throw state_error("array '" + name_ + "': index " + std::to_string(i) + " out of range (size " +
                        std::to_string(v_->size()) + ")");
    return i;
  }
  std::string name_;
  std::vector<std::string>* v_;
};

class memory_collections final : public collections {
 public:
  hashtable& get_table(std::string_view name) override {
    auto i = tables_.find(name);
    if (i == tables_.end()) {
      auto& m = data_.tables[std::string(name)];
      i = tables_.emplace(std::string(name), std::make_unique<memory_table>(m)).first;
    }
    return *i->second;
  }
  array& get_array(std::string_view name) override {
    auto i = arrays_.find(name);
    if (i == arrays_.end()) {
      auto& v = data_.arrays[std::string(name)];
      i = arrays_.emplace(std::string(name), std::make_unique<memory_array>(std::string(name), v)).first;
    }
    return *i->second;
  }
  void commit() override {}
  std::string export_snapshot() const override { return encode_snapshot(data_); }
  void import_snapshot(std::string_view snapshot) override {
    auto decoded = decode_snapshot(snapshot);  // throws before anything changes
    tables_.clear();
    arrays_.clear();
    data_ = std::move(decoded);
  }
  std::size_t entry_count() const override {
    std::size_t n = 0;
    for (const auto& [_, t] : data_.tables)
      n += t.size();
    for (const auto& [_, a] : data_.arrays)
      n += a.size();
    return n;
  }

 private:
  snapshot_contents data_;
  std::map<std::string, std::unique_ptr<memory_table>, std::less<>> tables_;
  std::map<std::string, std::unique_ptr<memory_array>, std::less<>> arrays_;
};

}  // namespace

std::unique_ptr<collections> make_memory_collections() {
  return std::make_unique<memory_collections>();
}

}  // namespace e3::state
