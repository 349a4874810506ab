// The strict manifest loader.
#include "apps/manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "topology/service_profile.hpp"

namespace e3::apps {
namespace {

class loader {
 public:
  explicit loader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& what) const {
    if (m.is_null())
      throw manifest_error(source_ + ": " + what);
    throw manifest_error(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + what);
  }

  void only_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) const {
    for (const auto& kv : map) {
      auto k = kv.first.as<std::string>();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed)
          list += (list.empty() ? "" : ", ") + a;
        fail(kv.first.Mark(), "unknown key '" + k + "' in " + where + " (allowed: " + list + ")");
      }
    }
  }

  YAML::Node require(const YAML::Node& map, const std::string& key, const std::string& where) const {
    auto n = map[key];
    if (!n)
      fail(map.Mark(), where + " has no '" + key + "'");
    return n;
  }

  std::string text(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar())
      fail(n.Mark(), what + " must be a single value");
    return n.Scalar();
  }

  double number(const YAML::Node& n, const std::string& what, double lo, double hi, bool lo_open = false) const {
    if (!n.IsScalar())
      fail(n.Mark(), what + " must be a number");
    const auto& s = n.Scalar();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
      fail(n.Mark(), what + " must be a number, got '" + s + "'");
    if (v < lo || v > hi || (lo_open && v == lo)) {
      std::ostringstream range;
      range << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
      fail(n.Mark(), what + " = " + s + " is out of range " + range.str());
    }
    return v;
  }

  int integer(const YAML::Node& n, const std::string& what, int lo, int hi) const {
    double v = number(n, what, lo, hi);
    if (v != std::floor(v))
      fail(n.Mark(), what + " must be a whole number, got '" + n.Scalar() + "'");
    return int(v);
  }

  sched::app_spec load(const YAML::Node& root) {
    if (!root.IsMap())
      fail(root.Mark(), "a manifest is a map with app, services, channels and entry");
    only_keys(root, {"app", "description", "rate_rps", "services", "channels", "entry"}, "the manifest");
    sched::app_spec a;
    a.name = text(require(root, "app", "the manifest"), "app");
    if (a.name.empty())
      fail(root["app"].Mark(), "app name is empty");
    if (root["description"])
      a.description = text(root["description"], "description");
    a.rate_rps = number(require(root, "rate_rps", "the manifest"), "rate_rps", 0, 1e12, true);

    auto services = require(root, "services", "the manifest");
    if (!services.IsSequence() || services.size() == 0)
      fail(services.Mark(), "services must be a non-empty list");
    std::map<std::string, std::size_t> index;
    std::vector<YAML::Mark> marks;
    for (const auto& s : services) {
      if (!s.IsMap())
        fail(s.Mark(), "a service is a map with name, kind, shards, …");
      std::string where = "service";
      only_keys(s, {"name", "kind", "shards", "replicas", "memory_mb", "cpu", "request_bytes", "constraints", "params"},
                where);
      sched::service_spec sv;
      sv.name = text(require(s, "name", where), "service name");
      where = "service '" + sv.name + "'";
      if (sv.name.empty())
        fail(s["name"].Mark(), "service name is empty");
      if (!index.emplace(sv.name, a.services.size()).second)
        fail(s["name"].Mark(), "service name '" + sv.name + "' is used twice");
      auto kind = require(s, "kind", where);
      sv.kind = text(kind, where + " kind");
      const auto* prof = topo::find_service_profile(sv.kind);
      if (!prof) {
        std::string known;
        for (const auto& p : topo::service_profiles())
          known += (known.empty() ? "" : ", ") + p.kind;
        fail(kind.Mark(), "unknown kind '" + sv.kind + "' (known: " + known + ")");
      }
      sv.shards = integer(require(s, "shards", where), where + " shards", 1, 100000);
      sv.replicas = s["replicas"] ? integer(s["replicas"], where + " replicas", 0, 16) : 0;
      sv.memory_mb = number(require(s, "memory_mb", where), where + " memory_mb", 0, 1e7, true);
      sv.cpu = number(require(s, "cpu", where), where + " cpu", 0, 1024);
      sv.request_bytes = s["request_bytes"] ? number(s["request_bytes"], where + " request_bytes", 1, 65536) : 512;
      if (auto c = s["constraints"]) {
        if (!c.IsSequence())
          fail(c.Mark(), where + " constraints must be a list");
        for (const auto& one : c) {
          auto name = text(one, "constraint");
          if (name == "host_only")
            sv.host_only = true;
          else if (name == "smartnic_only")
            sv.smartnic_only = true;
          else
            fail(one.Mark(), "unknown constraint '" + name + "' (known: host_only, smartnic_only)");
        }
        if (sv.host_only && sv.smartnic_only)
          fail(c.Mark(), where + " cannot be both host_only and smartnic_only");
      }
      if (prof->host_only) {
        if (sv.smartnic_only)
          fail(s["constraints"].Mark(),
               where + " is smartnic_only, but kind '" + sv.kind + "' must run on a host (its state cannot migrate)");
        sv.host_only = true;
      }
      if (auto p = s["params"]) {
        if (!p.IsMap())
          fail(p.Mark(), where + " params must be a map of key: value");
        for (const auto& kv : p)
          sv.params[kv.first.as<std::string>()] = text(kv.second, where + " param '" + kv.first.as<std::string>() + "'");
      }
      marks.push_back(s.Mark());
      a.services.push_back(std::move(sv));
    }

    auto lookup = [&](const YAML::Node& n, const std::string& what) {
      auto name = text(n, what);
      auto i = index.find(name);
      if (i == index.end())
        fail(n.Mark(), what + " names unknown service '" + name + "'");
      return i->second;
    };

    std::set<std::pair<std::size_t, std::size_t>> seen;
    if (auto channels = root["channels"]; channels && !channels.IsNull()) {
      if (!channels.IsSequence())
        fail(channels.Mark(), "channels must be a list");
      for (const auto& c : channels) {
        if (!c.IsMap())
          fail(c.Mark(), "a channel is a map {from, to, share}");
        only_keys(c, {"from", "to", "share"}, "channel");
        sched::channel_spec ch;
        ch.from = lookup(require(c, "from", "channel"), "channel 'from'");
        ch.to = lookup(require(c, "to", "channel"), "channel 'to'");
        if (ch.from == ch.to)
          fail(c.Mark(), "channel from '" + a.services[ch.from].name + "' to itself: the app must be a DAG");
        if (!seen.emplace(ch.from, ch.to).second)
          fail(c.Mark(), "channel from '" + a.services[ch.from].name + "' to '" + a.services[ch.to].name +
                             "' is listed twice");
        ch.share = c["share"] ? number(c["share"], "channel share", 0, 1, true) : 1.0;
        a.channels.push_back(ch);
        channel_marks_.push_back(c.Mark());
      }
    }

    auto entry = require(root, "entry", "the manifest");
    if (!entry.IsSequence() || entry.size() == 0)
      fail(entry.Mark(), "entry must be a non-empty list of services");
    for (const auto& e : entry) {
      auto i = lookup(e, "entry");
      for (const auto& c : a.channels)
        if (c.to == i)
          fail(e.Mark(), "entry '" + a.services[i].name + "' has an incoming channel from '" +
                             a.services[c.from].name + "'");
      if (std::find(a.entries.begin(), a.entries.end(), i) != a.entries.end())
        fail(e.Mark(), "entry '" + a.services[i].name + "' is listed twice");
      a.entries.push_back(i);
    }

    check_cycles(a);
    // Every service must be reachable from an entry, or it would never see a request.
    std::vector<char> reach(a.services.size(), 0);
    std::vector<std::size_t> stack(a.entries.begin(), a.entries.end());
    while (!stack.empty()) {
      auto v = stack.back();
      stack.pop_back();
      if (reach[v])
        continue;
      reach[v] = 1;
      for (const auto& c : a.channels)
        if (c.from == v)
          stack.push_back(c.to);
    }
    for (std::size_t i = 0; i < a.services.size(); ++i)
      if (!reach[i])
        fail(marks[i], "service '" + a.services[i].name + "' is not reachable from any entry");
    return a;
  }

 private:
  // Depth-first search; a back edge names the cycle.
  void check_cycles(const sched::app_spec& a) const {
    std::vector<int> state(a.services.size(), 0);  // 0 new, 1 on stack, 2 done
    std::vector<std::size_t> path;
    std::function<void(std::size_t)> dfs = [&](std::size_t v) {
      state[v] = 1;
      path.push_back(v);
      for (std::size_t k = 0; k < a.channels.size(); ++k) {
        const auto& c = a.channels[k];
        if (c.from != v)
          continue;
        if (state[c.to] == 1) {
          std::string cyc;
          auto it = std::find(path.begin(), path.end(), c.to);
          for (; it != path.end(); ++it)
            cyc += a.services[*it].name + " -> ";
          fail(channel_marks_[k], "channels form a cycle: " + cyc + a.services[c.to].name);
        }
        if (state[c.to] == 0)
          dfs(c.to);
      }
      path.pop_back();
      state[v] = 2;
    };
    for (std::size_t i = 0; i < a.services.size(); ++i)
      if (state[i] == 0)
        dfs(i);
  }

  std::string source_;
  std::vector<YAML::Mark> channel_marks_;
};

}  // namespace

sched::app_spec parse_manifest(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw manifest_error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                         ": YAML syntax: " + e.msg);
  }
  try {
    return loader(source).load(root);
  } catch (const YAML::Exception& e) {
    throw manifest_error(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

sched::app_spec load_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw manifest_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_manifest(ss.str(), path);
}

}  // namespace e3::apps
