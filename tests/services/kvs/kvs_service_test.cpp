// Tests of the kvs service: request/reply formats, stream records, rejections, reliable state
// and migration (export, import, on_start) with byte-identical contents, and the harness.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "actors/local_context.hpp"
#include "services/common/record.hpp"
#include "services/kvs/kvs.hpp"
#include "services/kvs/service.hpp"
#include "tests/services/common/svc_test.hpp"

using namespace e3;
using namespace e3::services;

namespace {

const service_kind& kind() { return svc_test::registered_kind<register_kvs>("kvs"); }

std::unique_ptr<service> make(std::map<std::string, std::string, std::less<>> params = {}) {
  service_config cfg;
  cfg.params = std::move(params);
  return kind().make(cfg);
}

kvs::reply call(service& s, local_context& ctx, const bytes& req) {
  ctx.clear();
  s.handle(request{1, 0, req}, ctx);
  EXPECT_TRUE(ctx.rejections.empty()) << ctx.rejections.front();
  EXPECT_EQ(ctx.replies.size(), 1u);
  return ctx.replies.empty() ? kvs::reply{} : kvs::parse_reply(ctx.replies[0]);
}

// The rows of a NAB series: timestamp -> the whole CSV line.
std::vector<std::pair<std::string, std::string>> nab_rows() {
  std::ifstream in(E3_TEST_DATA_DIR "/timeseries/ambient_temperature_system_failure.csv");
  EXPECT_TRUE(in) << "NAB series missing from tests/data/timeseries";
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    rows.emplace_back(line.substr(0, line.find(',')), line);
  return rows;
}

std::map<std::string, std::string> table_contents(local_context& ctx) {
  std::map<std::string, std::string> m;
  ctx.state().get_table("kvs").for_each([&](std::string_view k, std::string_view v) { m.emplace(k, v); });
  return m;
}

}  // namespace

TEST(KvsService, KindIsRegisteredCompletely) {
  const auto& k = kind();
  EXPECT_EQ(k.table1_name, "KVS");
  EXPECT_TRUE(k.stateful);
  EXPECT_EQ(k.input, input_format::record);
  EXPECT_TRUE(k.make && k.synthetic_request && k.svc_main);
  EXPECT_FALSE(k.summary.empty());
}

TEST(KvsService, GetSetDelRepliesFollowTheFormat) {
  auto s = make();
  local_context ctx;
  s->on_start(ctx);
  EXPECT_EQ(call(*s, ctx, kvs::make_request(kvs::op_get, "k")).status, kvs::status_miss);
  auto r = call(*s, ctx, kvs::make_request(kvs::op_set, "k", "value 1"));
  EXPECT_EQ(r.status, kvs::status_stored);
  EXPECT_EQ(r.keys, 1);
  r = call(*s, ctx, kvs::make_request(kvs::op_get, "k"));
  EXPECT_EQ(r.status, kvs::status_hit);
  EXPECT_EQ(r.value, "value 1");
  // The reply echoes the request's key and timestamp.
  record req;
  req.op = kvs::op_get;
  req.text = "k";
  req.key = 77;
  req.ts_ns = 123;
  call(*s, ctx, encode(req));
  auto full = decode_record(ctx.replies[0]);
  EXPECT_EQ(full.key, 77u);
  EXPECT_EQ(full.ts_ns, 123);
  EXPECT_EQ(full.aux, "value 1");
  EXPECT_EQ(call(*s, ctx, kvs::make_request(kvs::op_del, "k")).status, kvs::status_deleted);
  EXPECT_EQ(call(*s, ctx, kvs::make_request(kvs::op_del, "k")).status, kvs::status_not_found);
  EXPECT_EQ(call(*s, ctx, kvs::make_request(kvs::op_get, "k")).status, kvs::status_miss);
}

TEST(KvsService, EmptyTextAddressesRecordKeyInDecimal) {
  auto s = make();
  local_context ctx;
  record set;
  set.op = kvs::op_set;
  set.key = 18446744073709551615u;
  set.aux = "max";
  call(*s, ctx, encode(set));
  auto r = call(*s, ctx, kvs::make_request(kvs::op_get, "18446744073709551615"));
  EXPECT_EQ(r.status, kvs::status_hit);
  EXPECT_EQ(r.value, "max");
}

TEST(KvsService, StreamRecordsAreStoredWholeAndForwarded) {
  auto s = make();
  local_context ctx;
  record in;
  in.op = 0;
  in.key = 4242;
  in.ts_ns = 99;
  in.value = 21.5;
  in.text = "reading";
  auto bytes_in = encode(in);
  s->handle(request{1, 4242, bytes_in}, ctx);
  ASSERT_EQ(ctx.emits.size(), 1u);
  EXPECT_TRUE(ctx.replies.empty());
  EXPECT_EQ(ctx.emits[0].key, 4242u);
  EXPECT_EQ(ctx.emits[0].payload, bytes_in);
  record get;
  get.op = kvs::op_get;
  get.key = 4242;
  auto r = call(*s, ctx, encode(get));
  ASSERT_EQ(r.status, kvs::status_hit);
  EXPECT_EQ(bytes(r.value.begin(), r.value.end()), bytes_in);
}

TEST(KvsService, StoreModeStoresEvenCommandOps) {
  auto s = make({{"mode", "store"}});
  local_context ctx;
  auto req = kvs::make_request(kvs::op_get, "ignored");
  s->handle(request{1, 0, req}, ctx);
  EXPECT_EQ(ctx.emits.size(), 1u);
  EXPECT_EQ(table_contents(ctx).size(), 0u);  // not flushed yet
  s->flush(ctx);
  auto m = table_contents(ctx);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.begin()->first, "0");
}

TEST(KvsService, BadParamsAreRefusedByName) {
  EXPECT_THROW(make({{"mode", "cache"}}), std::invalid_argument);
  EXPECT_THROW(make({{"search", "astar"}}), std::invalid_argument);
  EXPECT_THROW(make({{"buckets", "12x"}}), std::invalid_argument);
}

TEST(KvsService, RejectsBadRequestsWithoutCrashing) {
  auto s = make({{"max_keys", "2"}});
  local_context ctx;
  auto reject = [&](const bytes& b) {
    ctx.clear();
    s->handle(request{1, 0, b}, ctx);
    EXPECT_EQ(ctx.rejections.size(), 1u);
    EXPECT_TRUE(ctx.replies.empty() && ctx.emits.empty());
    return ctx.rejections.empty() ? std::string() : ctx.rejections[0];
  };
  EXPECT_NE(reject({}).find("truncated"), std::string::npos);
  EXPECT_NE(reject(kvs::make_request(kvs::op_get, std::string(251, 'k'))).find("longer than 250"), std::string::npos);
  call(*s, ctx, kvs::make_request(kvs::op_set, "a", "1"));
  call(*s, ctx, kvs::make_request(kvs::op_set, "b", "1"));
  EXPECT_NE(reject(kvs::make_request(kvs::op_set, "c", "1")).find("max_keys"), std::string::npos);
  EXPECT_EQ(call(*s, ctx, kvs::make_request(kvs::op_set, "a", "2")).status, kvs::status_stored);  // overwrite fits
  // Every truncation of a valid request, and random garbage, is rejected or handled, never a crash.
  auto good = kvs::make_request(kvs::op_set, "key", "some value");
  for (std::size_t n = 0; n < good.size(); ++n)
    reject(bytes(good.begin(), good.begin() + n));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    bytes b(rng() % 80);
    for (auto& x : b)
      x = static_cast<std::uint8_t>(rng());
    if (!b.empty() && rng() % 2)
      b[0] = 1;
    ctx.clear();
    s->handle(request{1, 0, b}, ctx);
    EXPECT_EQ(ctx.rejections.size() + ctx.replies.size() + ctx.emits.size(), 1u);
  }
}

// Flush writes exactly the changed keys; after several flushes with sets, overwrites and
// deletes the reliable table equals an independent model of the store.
TEST(KvsService, FlushKeepsTheReliableTableExact) {
  auto s = make({{"buckets", "4"}});
  local_context ctx;
  s->on_start(ctx);
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(9);
  auto rows = nab_rows();
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 400; ++i) {
      const auto& [k, v] = rows[rng() % rows.size()];
      if (rng() % 4 == 0) {
        call(*s, ctx, kvs::make_request(kvs::op_del, k));
        model.erase(k);
      } else {
        std::string val = v + "#" + std::to_string(round);
        call(*s, ctx, kvs::make_request(kvs::op_set, k, val));
        model[k] = val;
      }
    }
    s->flush(ctx);
    ASSERT_EQ(table_contents(ctx), model) << "round " << round;
  }
}

// What the migration test of the state issue checks: 10 K keys, byte-identical after export,
// import into a fresh instance's collections, and on_start; the new instance answers every GET
// as the old one did.
TEST(KvsService, TenThousandKeysAreByteIdenticalAfterMigration) {
  auto rows = nab_rows();
  ASSERT_GE(rows.size(), 7000u);
  auto old_svc = make();
  local_context old_ctx;
  old_svc->on_start(old_ctx);
  std::map<std::string, std::string> model;
  for (std::size_t i = 0; i < 10000; ++i) {
    // Real rows as values; binary bytes in some keys and values so nothing relies on text.
    std::string key = "k" + std::to_string(i) + (i % 7 == 0 ? std::string("\0\xff", 2) : "");
    std::string value = rows[i % rows.size()].second + (i % 5 == 0 ? std::string("\0\x01\x80", 3) : "");
    call(*old_svc, old_ctx, kvs::make_request(kvs::op_set, key, value));
    model[key] = value;
  }
  for (std::size_t i = 0; i < 10000; i += 10) {  // churn: overwrites and deletes before the flush
    std::string key = "k" + std::to_string(i) + (i % 7 == 0 ? std::string("\0\xff", 2) : "");
    call(*old_svc, old_ctx, kvs::make_request(kvs::op_del, key));
    call(*old_svc, old_ctx, kvs::make_request(kvs::op_set, key, "v2:" + key));
    model[key] = "v2:" + key;
  }
  for (std::size_t i = 10000; i < 10500; ++i)
    call(*old_svc, old_ctx, kvs::make_request(kvs::op_set, "gone" + std::to_string(i), "x"));
  for (std::size_t i = 10000; i < 10500; ++i)
    call(*old_svc, old_ctx, kvs::make_request(kvs::op_del, "gone" + std::to_string(i)));
  old_svc->flush(old_ctx);
  old_ctx.state().commit();
  auto snapshot = old_ctx.state().export_snapshot();

  local_context new_ctx;
  new_ctx.state().import_snapshot(snapshot);
  auto new_svc = make();
  new_svc->on_start(new_ctx);
  EXPECT_EQ(table_contents(new_ctx), model);
  for (const auto& [k, v] : model) {
    auto r = call(*new_svc, new_ctx, kvs::make_request(kvs::op_get, k));
    ASSERT_EQ(r.status, kvs::status_hit) << k;
    ASSERT_EQ(r.value, v) << k;
    ASSERT_EQ(r.keys, 10000);
  }
  EXPECT_EQ(call(*new_svc, new_ctx, kvs::make_request(kvs::op_get, "gone10000")).status, kvs::status_miss);
  // on_start loaded, it did not dirty anything: a flush rewrites nothing and the state is unchanged.
  new_svc->flush(new_ctx);
  EXPECT_EQ(new_ctx.state().export_snapshot(), snapshot);
}

TEST(KvsService, SyntheticRequestsAreValidAndHitOnceWarm) {
  auto s = make();
  local_context ctx;
  std::mt19937_64 rng(1);
  for (std::size_t size : {64u, 256u, 512u, 1024u, 1500u}) {
    int hits = 0, gets = 0;
    for (int i = 0; i < 6000; ++i) {
      auto req = kind().synthetic_request(size, rng);
      auto r = call(*s, ctx, req);
      if (i >= 4000 && decode_record(req).op == kvs::op_get) {
        ++gets;
        hits += r.status == kvs::status_hit;
        EXPECT_GE(r.value.size() + record_header_size + 20, size);
      } else if (decode_record(req).op == kvs::op_set) {
        EXPECT_NEAR(double(req.size()), double(size), 2.0);
      }
    }
    EXPECT_GT(gets, 0);
    EXPECT_EQ(hits, gets) << size;
  }
}

namespace {

svc_test::svc_run run_harness(const std::string& ops_text) {
  std::string path = testing::TempDir() + "kvs_ops_" + std::to_string(std::rand()) + ".txt";
  std::ofstream(path) << ops_text;
  auto r = svc_test::run_svc_main(kvs_svc_main, "kvs", {"--ops", path});
  std::remove(path.c_str());
  auto at = r.err.find(path);
  if (at != std::string::npos)
    r.err.replace(at, path.size(), "FILE");
  return r;
}

}  // namespace

TEST(KvsHarness, PrintsOneResultLinePerOperation) {
  auto r = run_harness("# comment\nGET a\nSET a hello world\nGET a\n\nSET b \nGET b\nDEL a\nDEL a\nGET a\r\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "MISS\nSTORED\nHIT hello world\nSTORED\nHIT \nDELETED\nNOT_FOUND\nMISS\n");
}

TEST(KvsHarness, BadLineNamesFileAndLineAndExitsTwo) {
  auto r = run_harness("SET a 1\nPUT a 2\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "FILE:2: unknown operation 'PUT' (expected GET, SET or DEL)\n");
  EXPECT_EQ(r.out, "");
  r = run_harness("GET a\nSET a\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "FILE:2: SET needs a value after the key\n");
  r = run_harness("GET a b\n");
  EXPECT_EQ(r.err, "FILE:1: GET takes one key (extra text after it)\n");
  r = run_harness("DEL " + std::string(300, 'k') + "\n");
  EXPECT_EQ(r.err, "FILE:1: key of 300 bytes is longer than 250\n");
}

TEST(KvsHarness, MissingFileAndBadArgumentsExitTwo) {
  std::vector<std::string> args = {"kvs", "--ops", "/nonexistent/ops.txt"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  testing::internal::CaptureStderr();
  EXPECT_EQ(kvs_svc_main(3, argv.data()), 2);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("/nonexistent/ops.txt: cannot open"), std::string::npos);
  std::vector<std::string> args2 = {"kvs", "--bogus"};
  std::vector<char*> argv2;
  for (auto& a : args2)
    argv2.push_back(a.data());
  testing::internal::CaptureStderr();
  EXPECT_EQ(kvs_svc_main(2, argv2.data()), 2);
  EXPECT_FALSE(testing::internal::GetCapturedStderr().empty());
}
