// The app manifests: the paper's 8 apps load with Table 3's node counts, and every kind of bad
// manifest gets an error naming the file, the line and the problem.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "apps/manifest.hpp"
#include "scheduler/scheduler.hpp"

using namespace e3;

namespace {

// Parses `text`; expects a manifest_error whose message contains "t.yaml:<line>:" and `what`.
void expect_error(const std::string& text, int line, const std::string& what) {
  try {
    apps::parse_manifest(text, "t.yaml");
    ADD_FAILURE() << "no error for: " << what;
  } catch (const apps::manifest_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("t.yaml:" + std::to_string(line) + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

const std::string good = R"(app: t
rate_rps: 1000
services:
  - {name: a, kind: count, shards: 2, replicas: 1, memory_mb: 10, cpu: 0.1}
  - {name: b, kind: ema, shards: 2, memory_mb: 10, cpu: 0.1}
channels:
  - {from: a, to: b, share: 0.5}
entry: [a]
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto i = s.find(from);
  EXPECT_NE(i, std::string::npos) << from;
  return s.replace(i, from.size(), to);
}

}  // namespace

TEST(Manifest, ThePapersAppsHaveTable3NodeCounts) {
  std::map<std::string, std::size_t> n = {{"nfv-fin", 72}, {"nfv-din", 60}, {"nfv-ifid", 84}, {"rta-ptc", 60},
                                          {"rta-sf", 96},  {"rta-shm", 84}, {"iot-dh", 108},  {"iot-ts", 108}};
  for (const auto& [name, nodes] : n) {
    auto a = apps::load_manifest(std::string(E3_MANIFEST_DIR) + "/" + name + ".yaml");
    EXPECT_EQ(a.name, name);
    EXPECT_EQ(sched::expand(a).nodes.size(), nodes) << name;
  }
}

TEST(Manifest, IotTsIsExactlyAsSection4Describes) {
  auto a = apps::load_manifest(std::string(E3_MANIFEST_DIR) + "/iot-ts.yaml");
  std::map<std::string, int> shards;
  for (const auto& s : a.services) {
    shards[s.kind] = s.shards;
    EXPECT_EQ(s.replicas, 1) << s.name;
  }
  EXPECT_EQ(shards, (std::map<std::string, int>{
                        {"api_gateway", 6}, {"sql", 12}, {"ema", 12}, {"spike", 12}, {"recommend", 12}}));
  ASSERT_EQ(a.entries.size(), 1u);
  EXPECT_EQ(a.services[a.entries[0]].kind, "api_gateway");
}

TEST(Manifest, TablesThreeKindsAreUsed) {
  std::map<std::string, std::set<std::string>> kinds = {
      {"nfv-fin", {"flowmon", "ipsec", "nids"}},
      {"nfv-din", {"ddos", "nat", "nids"}},
      {"nfv-ifid", {"nat", "flowmon", "ipsec", "ddos"}},
      {"rta-ptc", {"count", "top_ranker", "knn"}},
      {"rta-sf", {"spike", "count", "kvs", "bayes"}},
      {"rta-shm", {"count", "ema", "sql", "bm25"}},
      {"iot-dh", {"api_gateway", "count", "knn", "kvs", "sql"}},
      {"iot-ts", {"api_gateway", "ema", "spike", "recommend", "sql"}}};
  for (const auto& [name, want] : kinds) {
    auto a = apps::load_manifest(std::string(E3_MANIFEST_DIR) + "/" + name + ".yaml");
    std::set<std::string> got;
    for (const auto& s : a.services)
      got.insert(s.kind);
    EXPECT_EQ(got, want) << name;
  }
}

TEST(Manifest, GoodManifestLoads) {
  auto a = apps::parse_manifest(good, "t.yaml");
  ASSERT_EQ(a.services.size(), 2u);
  EXPECT_EQ(a.channels[0].share, 0.5);
  EXPECT_EQ(a.services[0].replicas, 1);
  EXPECT_EQ(a.services[1].request_bytes, 512);
}

TEST(Manifest, UnknownKind) { expect_error(replace(good, "kind: ema", "kind: blockchain"), 5, "unknown kind 'blockchain'"); }

TEST(Manifest, Cycle) {
  expect_error(replace(good, "entry: [a]", "  - {from: b, to: c}\n  - {from: c, to: b}\nentry: [a]") + "",
               8, "names unknown service 'c'");
  std::string cyc = R"(app: t
rate_rps: 1000
services:
  - {name: a, kind: count, shards: 1, memory_mb: 10, cpu: 0.1}
  - {name: b, kind: ema, shards: 1, memory_mb: 10, cpu: 0.1}
  - {name: c, kind: kvs, shards: 1, memory_mb: 10, cpu: 0.1}
channels:
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: b}
entry: [a]
)";
  expect_error(cyc, 10, "cycle: b -> c -> b");
}

TEST(Manifest, SelfLoop) { expect_error(replace(good, "to: b, share", "to: a, share"), 7, "to itself"); }

TEST(Manifest, DanglingEdge) { expect_error(replace(good, "to: b", "to: zz"), 7, "names unknown service 'zz'"); }

TEST(Manifest, ImpossibleConstraints) {
  expect_error(replace(good, "cpu: 0.1}\n  - {name: b", "cpu: 0.1, constraints: [host_only, smartnic_only]}\n  - {name: b"),
               4, "both host_only and smartnic_only");
  expect_error(replace(good, "kind: ema, shards: 2, memory_mb: 10, cpu: 0.1}",
                       "kind: sql, shards: 2, memory_mb: 10, cpu: 0.1, constraints: [smartnic_only]}"),
               5, "must run on a host");
  expect_error(replace(good, "cpu: 0.1}\n  - {name: b", "cpu: 0.1, constraints: [gpu_only]}\n  - {name: b"), 4,
               "unknown constraint 'gpu_only'");
}

TEST(Manifest, BadNumbers) {
  expect_error(replace(good, "shards: 2, replicas", "shards: 0, replicas"), 4, "shards = 0 is out of range");
  expect_error(replace(good, "shards: 2, replicas", "shards: 1.5, replicas"), 4, "whole number");
  expect_error(replace(good, "share: 0.5", "share: 1.5"), 7, "share = 1.5 is out of range");
  expect_error(replace(good, "share: 0.5", "share: 0"), 7, "share = 0 is out of range");
  expect_error(replace(good, "rate_rps: 1000", "rate_rps: fast"), 2, "rate_rps must be a number, got 'fast'");
  expect_error(replace(good, "rate_rps: 1000", "rate_rps: -1"), 2, "out of range");
  expect_error(replace(good, "cpu: 0.1}\n  - {name: b", "cpu: nan}\n  - {name: b"), 4, "must be a number");
  expect_error(replace(good, "memory_mb: 10, cpu: 0.1}\n  - {name: b", "memory_mb: 0, cpu: 0.1}\n  - {name: b"), 4,
               "memory_mb = 0 is out of range");
}

TEST(Manifest, StructureErrors) {
  expect_error(replace(good, "rate_rps: 1000", "rate_rps: 1000\nrate: 5"), 3, "unknown key 'rate'");
  expect_error(replace(good, "{name: b, kind: ema", "{name: a, kind: ema"), 5, "'a' is used twice");
  expect_error(replace(good, "entry: [a]", "entry: [b]"), 8, "has an incoming channel");
  expect_error(replace(good, "entry: [a]", "entry: []"), 8, "non-empty list");
  expect_error(replace(good, "  - {from: a, to: b, share: 0.5}\n", ""), 5, "'b' is not reachable");
  expect_error(replace(good, "kind: count, ", ""), 4, "has no 'kind'");
  expect_error(replace(good, "services:", "services: ["), 4, "YAML syntax");
}

TEST(Manifest, MissingFileIsAClearError) {
  EXPECT_THROW(apps::load_manifest("/no/such/app.yaml"), apps::manifest_error);
}

TEST(Manifest, SqlIsHostOnlyEvenWhenTheFileDoesNotSaySo) {
  auto a = apps::parse_manifest(replace(good, "kind: ema", "kind: sql"), "t.yaml");
  EXPECT_TRUE(a.services[1].host_only);
}
