// `e3 run`'s orchestrator, SmartNIC packing and state-directory options, and the migrations its
// JSON reports: bad values are refused naming the option, good ones reach the runtime.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/e3/commands.hpp"
#include "apps/run.hpp"

using namespace e3;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system's temporary folder, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    auto tmpl = (fs::temp_directory_path() / "e3-run-cli-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Runs `e3 run` with `args`; returns its exit code and what it wrote.
struct outcome {
  int code = 0;
  std::string out, err;
};

outcome e3_run(std::vector<std::string> args) {
  args.insert(args.begin(), "run");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  outcome o;
  o.code = cli::run(int(args.size()), argv.data());
  o.out = testing::internal::GetCapturedStdout();
  o.err = testing::internal::GetCapturedStderr();
  return o;
}

/// A one-service app small enough to run in a fraction of a second.
std::string write_tiny_app(const fs::path& dir) {
  auto p = dir / "kv.yaml";
  std::ofstream(p) << "app: kv\nrate_rps: 2000\nservices:\n"
                      "  - {name: kvs, kind: kvs, shards: 1, memory_mb: 64, cpu: 0.05}\nentry: [kvs]\n";
  return p.string();
}

}  // namespace

TEST(RunOptions, OnOffAcceptsOnlyOnAndOffAndNamesTheOption) {
  EXPECT_TRUE(apps::parse_on_off("--orchestrator", "on"));
  EXPECT_FALSE(apps::parse_on_off("--orchestrator", "off"));
  for (const char* bad : {"", "yes", "ON", "1", "maybe"}) {
    try {
      apps::parse_on_off("--orchestrator", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("--orchestrator"), std::string::npos) << e.what();
    }
  }
}

TEST(RunOptions, StateDirMustBeAWritableDirectoryAndIsCreatedWhenMissing) {
  temp_dir t;
  auto nested = (t.path / "a" / "b").string();
  EXPECT_EQ(apps::check_state_dir("--state-dir", nested), nested);
  EXPECT_TRUE(fs::is_directory(nested));
  auto file = (t.path / "file").string();
  std::ofstream(file) << "x";
  EXPECT_THROW(apps::check_state_dir("--state-dir", file), std::invalid_argument);
  EXPECT_THROW(apps::check_state_dir("--state-dir", ""), std::invalid_argument);
  try {
    apps::check_state_dir("--state-dir", file);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--state-dir"), std::string::npos) << e.what();
  }
}

TEST(RunCli, BadValuesAreRefusedWithAMessageNamingTheOption) {
  temp_dir t;
  auto app = write_tiny_app(t.path);
  auto file = (t.path / "file").string();
  std::ofstream(file) << "x";
  struct bad_case {
    std::vector<std::string> args;
    std::string names;
  };
  std::vector<bad_case> cases = {
      {{"--app", app, "--orchestrator", "maybe"}, "--orchestrator"},
      {{"--app", app, "--orchestrator"}, "--orchestrator"},  // a value is required
      {{"--app", app, "--state-dir", file}, "--state-dir"},
      {{"--app", app, "--state-dir", ""}, "--state-dir"},
      {{"--app", app, "--pack-smartnics=sometimes"}, "--pack-smartnics"},
      {{"--orchestrator", "on"}, "--app"},  // the options need an app
  };
  for (const auto& c : cases) {
    auto o = e3_run(c.args);
    std::string line;
    for (const auto& a : c.args)
      line += a + " ";
    EXPECT_EQ(o.code, 2) << line;
    EXPECT_NE(o.err.find(c.names), std::string::npos) << line << "-> " << o.err;
    EXPECT_TRUE(o.out.empty()) << line << "-> " << o.out;
  }
}

TEST(RunCli, GoodValuesReachTheRuntimeAndTheJsonListsMigrations) {
  temp_dir t;
  auto app = write_tiny_app(t.path);
  auto state = t.path / "state";
  auto o = e3_run({"--app", app, "--orchestrator", "on", "--pack-smartnics", "--state-dir", state.string(),
                   "--duration", "0.3", "--warmup", "0.1", "--dilation", "5", "--json"});
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j.at("options").at("orchestrator"), true);
  EXPECT_EQ(j.at("options").at("pack_smartnics"), true);
  EXPECT_EQ(j.at("options").at("state_dir"), state.string());
  ASSERT_TRUE(j.at("migrations").is_array());
  EXPECT_GT(j.at("completed").get<std::uint64_t>(), 0u);
  // The runtime kept its collections there.
  EXPECT_TRUE(fs::is_directory(state));
  EXPECT_FALSE(fs::is_empty(state));
  // A packed SmartNIC took the instance.
  EXPECT_GT(j.at("placement").at("smartnic_instances").get<int>(), 0);

  auto off = e3_run({"--app", app, "--orchestrator", "off", "--duration", "0.2", "--warmup", "0", "--dilation", "5",
                     "--json"});
  ASSERT_EQ(off.code, 0) << off.err;
  auto k = nlohmann::json::parse(off.out);
  EXPECT_EQ(k.at("options").at("orchestrator"), false);
  EXPECT_EQ(k.at("options").at("pack_smartnics"), false);
  EXPECT_EQ(k.at("options").at("state_dir"), "");
  EXPECT_EQ(k.at("migrations"), nlohmann::json::array());
}

TEST(RunJson, MigrationsCarryServiceNodesBlackoutAndKeys) {
  apps::run_report r;
  rt::migration_report m;
  m.instance = 7;
  m.service = "top";
  m.kind = "top_ranker";
  m.from = "r0/s0/nic0";
  m.to = "r0/s0/host";
  m.trigger = "host starvation";
  m.outcome = "completed";
  m.blackout_ms = 12.5;
  m.keys = 4242;
  r.migrations = {m};
  auto j = apps::run_json(r);
  ASSERT_EQ(j.at("migrations").size(), 1u);
  const auto& x = j.at("migrations")[0];
  EXPECT_EQ(x.at("service"), "top#7 (top_ranker)");
  EXPECT_EQ(x.at("from"), "r0/s0/nic0");
  EXPECT_EQ(x.at("to"), "r0/s0/host");
  EXPECT_DOUBLE_EQ(x.at("blackout_ms").get<double>(), 12.5);
  EXPECT_EQ(x.at("keys"), 4242u);
  EXPECT_EQ(x.at("trigger"), "host starvation");
  // And people see it too.
  std::ostringstream human;
  apps::print_run(human, r);
  EXPECT_NE(human.str().find("top#7 (top_ranker)"), std::string::npos) << human.str();
  EXPECT_NE(human.str().find("r0/s0/host"), std::string::npos);
}
