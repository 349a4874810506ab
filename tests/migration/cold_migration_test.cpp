// The cold-migration state machine (§3.4): the exact action sequence of every path, rollback
// from each step, timeouts, blackout from the injected clock, and — through a fake runtime that
// executes the actions with a request_buffer — no request lost or duplicated and order kept per
// key; plus a real state transfer of 10 K keys through in-memory reliable collections.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>

#include "migration/migration.hpp"
#include "state_store/state_store.hpp"

using namespace e3::mig;
using e3::topo::node_id;

namespace {

constexpr node_id src = 3, dst = 7;
constexpr std::int64_t ms = 1'000'000;

migration_plan plan() { return {11, "kvs", src, dst}; }

migration_event ev(event_kind k, node_id n, std::uint64_t bytes = 0, std::uint64_t digest = 0) {
  migration_event e;
  e.kind = k;
  e.node = n;
  e.bytes = bytes;
  e.digest = digest;
  e.entries = bytes / 10;
  return e;
}

using acts = std::vector<migration_action>;
migration_action A(action_kind k, node_id n, node_id peer = 0) { return {k, n, peer}; }

// Drives `m` through steps 1–4 (start at t=0, kind ready at 1 ms, stopped at 3 ms, shipped and
// confirmed at 10 ms), leaving it in restart.
void to_restart(cold_migration& m) {
  m.start(0);
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  m.on_event(ev(event_kind::stopped, src), 3 * ms);
  m.on_event(ev(event_kind::state_shipped, src, 1000, 0xabc), 8 * ms);
  m.on_event(ev(event_kind::state_confirmed, dst, 1000, 0xabc), 10 * ms);
  ASSERT_EQ(m.step(), migration_step::restart);
}

}  // namespace

TEST(ColdMigration, HappyPathActionsInProtocolOrder) {
  cold_migration m(plan());
  EXPECT_EQ(m.start(0), (acts{A(action_kind::push_kind, dst)}));
  EXPECT_EQ(m.step(), migration_step::push_kind);
  EXPECT_EQ(m.on_event(ev(event_kind::kind_ready, dst), 1 * ms),
            (acts{A(action_kind::hold_requests, src), A(action_kind::stop_instance, src)}));
  EXPECT_EQ(m.step(), migration_step::stop_source);
  EXPECT_EQ(m.on_event(ev(event_kind::stopped, src), 3 * ms), (acts{A(action_kind::ship_state, src, dst)}));
  EXPECT_EQ(m.step(), migration_step::ship_state);
  EXPECT_EQ(m.on_event(ev(event_kind::state_shipped, src, 1000, 0xabc), 8 * ms), acts{});
  EXPECT_EQ(m.step(), migration_step::await_confirmation);
  EXPECT_EQ(m.on_event(ev(event_kind::state_confirmed, dst, 1000, 0xabc), 10 * ms),
            (acts{A(action_kind::start_instance, dst)}));
  EXPECT_EQ(m.step(), migration_step::restart);
  EXPECT_FALSE(m.finished());
  EXPECT_EQ(m.on_event(ev(event_kind::started, dst), 12 * ms),
            (acts{A(action_kind::release_requests, dst), A(action_kind::update_routes, dst),
                  A(action_kind::drop_source_state, src)}));
  ASSERT_TRUE(m.finished());
  const auto& r = m.result();
  EXPECT_EQ(r.outcome, migration_outcome::completed);
  EXPECT_EQ(r.stopped_ns, 1 * ms);
  EXPECT_EQ(r.restarted_ns, 12 * ms);
  EXPECT_EQ(r.blackout_ns, 11 * ms);  // from the hold at 1 ms to the restart at 12 ms
  EXPECT_EQ(r.step_ns, (std::array<std::int64_t, 5>{1 * ms, 2 * ms, 5 * ms, 2 * ms, 2 * ms}));
  EXPECT_EQ(r.state_bytes, 1000u);
  EXPECT_EQ(r.state_entries, 100u);
  EXPECT_EQ(r.serving_node, dst);
  EXPECT_TRUE(r.reason.empty());
  EXPECT_EQ(m.unexpected_events(), 0u);
  EXPECT_EQ(m.deadline_ns(), std::numeric_limits<std::int64_t>::max());
}

TEST(ColdMigration, ConfirmationMayOvertakeTheSourcesReport) {
  cold_migration m(plan());
  m.start(0);
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  m.on_event(ev(event_kind::stopped, src), 2 * ms);
  EXPECT_EQ(m.on_event(ev(event_kind::state_confirmed, dst, 64, 9), 5 * ms), acts{});
  EXPECT_EQ(m.step(), migration_step::ship_state);
  EXPECT_EQ(m.on_event(ev(event_kind::state_shipped, src, 64, 9), 6 * ms), (acts{A(action_kind::start_instance, dst)}));
}

TEST(ColdMigration, RefusedKindRollsBackWithoutStoppingAnything) {
  cold_migration m(plan());
  m.start(0);
  auto e = ev(event_kind::kind_refused, dst);
  e.reason = "kind 'kvs' not in registry";
  EXPECT_EQ(m.on_event(e, 2 * ms), (acts{A(action_kind::discard_at_destination, dst)}));
  const auto& r = m.result();
  EXPECT_EQ(r.outcome, migration_outcome::rolled_back);
  EXPECT_EQ(r.failed_step, migration_step::push_kind);
  EXPECT_EQ(r.reason, "push kind: destination refused the kind: kind 'kvs' not in registry");
  EXPECT_EQ(r.blackout_ns, 0);
  EXPECT_EQ(r.stopped_ns, -1);
  EXPECT_EQ(r.serving_node, src);
}

TEST(ColdMigration, PushTimeoutRollsBackAtTheDeadlineNotBefore) {
  migration_timeouts t;
  t.push_kind_ns = 5 * ms;
  cold_migration m(plan(), t);
  m.start(0);
  EXPECT_EQ(m.deadline_ns(), 5 * ms);
  EXPECT_EQ(m.on_tick(5 * ms - 1), acts{});
  EXPECT_EQ(m.on_tick(5 * ms), (acts{A(action_kind::discard_at_destination, dst)}));
  EXPECT_EQ(m.result().outcome, migration_outcome::rolled_back);
  EXPECT_EQ(m.result().reason, "push kind: timed out after 5000000 ns");
}

TEST(ColdMigration, AnEventAtTheDeadlineIsTooLate) {
  migration_timeouts t;
  t.push_kind_ns = 5 * ms;
  cold_migration m(plan(), t);
  m.start(0);
  EXPECT_EQ(m.on_event(ev(event_kind::kind_ready, dst), 5 * ms), (acts{A(action_kind::discard_at_destination, dst)}));
  EXPECT_EQ(m.result().outcome, migration_outcome::rolled_back);
  EXPECT_EQ(m.unexpected_events(), 1u);  // the late kind_ready is ignored and counted
}

// Every failure after the stop restarts the instance at the source with its state, then
// releases the held requests there. Each drive function takes a fresh machine to the failing
// event and returns the actions that event produced.
struct after_stop_failure {
  const char* name;
  migration_step step;
  acts (*drive)(cold_migration&);
  const char* reason;
};

namespace {

void to_shipping(cold_migration& m) {
  m.start(0);
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  m.on_event(ev(event_kind::stopped, src), 2 * ms);
}

acts stop_failed(cold_migration& m) {
  m.start(0);
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  auto e = ev(event_kind::stop_failed, src);
  e.reason = "instance busy";
  return m.on_event(e, 2 * ms);
}
acts stop_timeout(cold_migration& m) {
  m.start(0);
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  return m.on_tick(1 * ms + 1000 * ms);
}
acts ship_failed(cold_migration& m) {
  to_shipping(m);
  return m.on_event(ev(event_kind::ship_failed, src), 3 * ms);
}
acts ship_timeout(cold_migration& m) {
  to_shipping(m);
  return m.on_tick(2 * ms + 10'000 * ms);
}
acts state_rejected(cold_migration& m) {
  to_shipping(m);
  m.on_event(ev(event_kind::state_shipped, src, 100, 1), 3 * ms);
  auto e = ev(event_kind::state_rejected, dst);
  e.reason = "snapshot byte 17: length past the end";
  return m.on_event(e, 4 * ms);
}
acts digest_mismatch(cold_migration& m) {
  to_shipping(m);
  m.on_event(ev(event_kind::state_shipped, src, 100, 0x1111), 3 * ms);
  return m.on_event(ev(event_kind::state_confirmed, dst, 100, 0x2222), 4 * ms);
}
acts size_mismatch(cold_migration& m) {
  to_shipping(m);
  m.on_event(ev(event_kind::state_confirmed, dst, 99, 0x1111), 3 * ms);
  return m.on_event(ev(event_kind::state_shipped, src, 100, 0x1111), 4 * ms);
}
acts confirm_timeout(cold_migration& m) {
  to_shipping(m);
  m.on_event(ev(event_kind::state_shipped, src, 100, 1), 3 * ms);
  return m.on_tick(3 * ms + 10'000 * ms);
}
acts start_failed(cold_migration& m) {
  to_restart(m);
  return m.on_event(ev(event_kind::start_failed, dst), 11 * ms);
}
acts start_timeout(cold_migration& m) {
  to_restart(m);
  return m.on_tick(10 * ms + 1000 * ms);
}

}  // namespace

// Names a case in test output.
void PrintTo(const after_stop_failure& f, std::ostream* os) { *os << f.name; }

class AfterStop : public ::testing::TestWithParam<after_stop_failure> {};

TEST_P(AfterStop, DiscardsAtTheDestinationAndRestartsAtTheSource) {
  const auto& p = GetParam();
  cold_migration m(plan());
  EXPECT_EQ(p.drive(m), (acts{A(action_kind::discard_at_destination, dst), A(action_kind::start_instance, src)}));
  ASSERT_EQ(m.step(), migration_step::rolling_back) << p.name;
  EXPECT_EQ(m.result().failed_step, p.step);
  EXPECT_NE(m.result().reason.find(p.reason), std::string::npos) << m.result().reason;
  EXPECT_FALSE(m.finished());
}

TEST_P(AfterStop, ReleasesTheHeldRequestsAtTheSourceOnceItRuns) {
  const auto& p = GetParam();
  cold_migration m(plan());
  p.drive(m);
  // The source confirms the restart just before the rollback's own deadline.
  auto t = m.deadline_ns() - 1;
  EXPECT_EQ(m.on_event(ev(event_kind::started, dst), t), acts{});  // the wrong node: ignored
  EXPECT_EQ(m.on_event(ev(event_kind::started, src), t), (acts{A(action_kind::release_requests, src)}));
  const auto& r = m.result();
  EXPECT_EQ(r.outcome, migration_outcome::rolled_back);
  EXPECT_EQ(r.serving_node, src);
  EXPECT_EQ(r.blackout_ns, t - 1 * ms);  // the hold began at kind_ready, 1 ms
  EXPECT_EQ(r.restarted_ns, t);
  EXPECT_EQ(m.unexpected_events(), 1u);
}

TEST_P(AfterStop, FailsAndReportsTheHeldRequestsLostWhenTheSourceCannotRestart) {
  const auto& p = GetParam();
  cold_migration m(plan());
  p.drive(m);
  auto deadline = m.deadline_ns();
  EXPECT_EQ(m.on_tick(deadline - 1), acts{});
  EXPECT_EQ(m.on_tick(deadline), (acts{A(action_kind::fail_requests, src)}));
  const auto& r = m.result();
  EXPECT_EQ(r.outcome, migration_outcome::failed);
  EXPECT_EQ(r.failed_step, p.step);  // the first failure stays the one reported
  EXPECT_NE(r.reason.find("; rollback: timed out"), std::string::npos) << r.reason;
  EXPECT_EQ(r.blackout_ns, deadline - 1 * ms);  // still down at the end
  EXPECT_EQ(r.restarted_ns, -1);
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, AfterStop,
    ::testing::Values(
        after_stop_failure{"stop_failed", migration_step::stop_source, stop_failed,
                           "stop source: source could not stop the instance: instance busy"},
        after_stop_failure{"stop_timeout", migration_step::stop_source, stop_timeout, "stop source: timed out"},
        after_stop_failure{"ship_failed", migration_step::ship_state, ship_failed, "source could not ship the state"},
        after_stop_failure{"ship_timeout", migration_step::ship_state, ship_timeout, "ship state: timed out"},
        after_stop_failure{"state_rejected", migration_step::await_confirmation, state_rejected,
                           "destination rejected the state: snapshot byte 17"},
        after_stop_failure{"digest_mismatch", migration_step::await_confirmation, digest_mismatch,
                           "state corrupt: the source shipped 100 bytes (digest 0000000000001111), the destination "
                           "imported 100 bytes (digest 0000000000002222)"},
        after_stop_failure{"size_mismatch", migration_step::await_confirmation, size_mismatch,
                           "state corrupt: the source shipped 100 bytes"},
        after_stop_failure{"confirm_timeout", migration_step::await_confirmation, confirm_timeout,
                           "await confirmation: timed out"},
        after_stop_failure{"start_failed", migration_step::restart, start_failed,
                           "destination could not start the instance"},
        after_stop_failure{"start_timeout", migration_step::restart, start_timeout, "restart: timed out"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ColdMigration, ExplicitRestartFailureAtTheSourceFails) {
  cold_migration m(plan());
  start_failed(m);
  auto e = ev(event_kind::start_failed, src);
  e.reason = "out of memory";
  EXPECT_EQ(m.on_event(e, 20 * ms), (acts{A(action_kind::fail_requests, src)}));
  EXPECT_EQ(m.result().outcome, migration_outcome::failed);
  EXPECT_NE(m.result().reason.find("rollback: source could not restart the instance: out of memory"),
            std::string::npos);
}

TEST(ColdMigration, StrayRepeatedAndLateEventsAreIgnoredAndCounted) {
  cold_migration m(plan());
  EXPECT_EQ(m.on_event(ev(event_kind::kind_ready, dst), 0), acts{});  // before start
  m.start(0);
  EXPECT_EQ(m.start(1), acts{});                                       // a second start does nothing
  EXPECT_EQ(m.on_event(ev(event_kind::kind_ready, src), 1 * ms), acts{});  // from the source
  EXPECT_EQ(m.on_event(ev(event_kind::stopped, src), 1 * ms), acts{});     // wrong step
  m.on_event(ev(event_kind::kind_ready, dst), 1 * ms);
  EXPECT_EQ(m.on_event(ev(event_kind::kind_ready, dst), 2 * ms), acts{});  // repeated
  m.on_event(ev(event_kind::stopped, src), 3 * ms);
  m.on_event(ev(event_kind::state_confirmed, dst, 5, 5), 4 * ms);
  EXPECT_EQ(m.on_event(ev(event_kind::state_confirmed, dst, 5, 5), 4 * ms), acts{});  // repeated
  m.on_event(ev(event_kind::state_shipped, src, 5, 5), 5 * ms);
  EXPECT_EQ(m.on_event(ev(event_kind::state_shipped, src, 5, 5), 5 * ms), acts{});  // repeated
  m.on_event(ev(event_kind::started, dst), 6 * ms);
  ASSERT_TRUE(m.finished());
  EXPECT_EQ(m.on_event(ev(event_kind::started, dst), 7 * ms), acts{});  // after the end
  EXPECT_EQ(m.on_tick(1'000'000 * ms), acts{});
  EXPECT_EQ(m.unexpected_events(), 7u);
  EXPECT_EQ(m.result().outcome, migration_outcome::completed);
}

TEST(StateDigest, SeesEveryByteAndTheLength) {
  std::string s(1000, 'x');
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = char(i * 7);
  auto d = state_digest(s);
  EXPECT_EQ(d, state_digest(s));
  std::set<std::uint64_t> seen{d};
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto t = s;
    t[i] ^= 1;  // one flipped bit anywhere changes the digest
    EXPECT_TRUE(seen.insert(state_digest(t)).second) << i;
  }
  EXPECT_NE(state_digest(s.substr(0, 999)), d);
  EXPECT_NE(state_digest(""), state_digest(std::string(1, '\0')));
}

// ---------------------------------------------------------------------------------------------
// A fake runtime that executes the actions, with one instance and a request_buffer, to check
// that requests are neither lost nor duplicated and keep their order per key.

namespace {

struct msg {
  std::uint64_t key = 0;
  std::uint64_t seq = 0;  // per key, as sent
};

class fake_runtime {
 public:
  explicit fake_runtime(std::size_t capacity = std::size_t(1) << 20) : buf_(capacity) {}

  // A request for the instance arrives where the routers send it.
  void send(msg m) {
    ++sent_;
    if (route_ != src) {
      mailbox_.push_back(m);
      return;
    }
    switch (buf_.offer(std::move(m))) {
      case admit::deliver: mailbox_.push_back(m); break;
      case admit::forward: ASSERT_EQ(buf_.forward_to(), running_.value()); mailbox_.push_back(m); break;
      case admit::buffered: break;
      case admit::overflow:
      case admit::refused: lost_.push_back(m); break;
    }
  }
  // The running instance processes up to n requests of its mailbox.
  void process(std::size_t n) {
    if (!running_)
      return;
    for (; n > 0 && !mailbox_.empty(); --n) {
      processed_.push_back({*running_, mailbox_.front()});
      mailbox_.pop_front();
    }
  }
  void apply(const acts& as) {
    for (const auto& a : as) {
      switch (a.kind) {
        case action_kind::hold_requests: ASSERT_TRUE(buf_.hold()); break;
        case action_kind::stop_instance:
          running_.reset();
          // The unprocessed mailbox goes back to the buffer, ahead of later arrivals.
          for (auto& m : mailbox_)
            if (buf_.push_returned(std::move(m)) != admit::buffered)
              lost_.push_back(m);
          mailbox_.clear();
          break;
        case action_kind::start_instance: running_ = a.node; break;
        case action_kind::release_requests:
          ASSERT_EQ(running_, a.node);
          buf_.release(a.node, [&](msg&& m) { mailbox_.push_back(m); });
          break;
        case action_kind::update_routes: route_ = a.node; break;
        case action_kind::fail_requests: buf_.fail([&](msg&& m) { lost_.push_back(m); }); break;
        case action_kind::drop_source_state: dropped_source_ = true; break;
        case action_kind::discard_at_destination: discarded_ = true; break;
        case action_kind::push_kind:
        case action_kind::ship_state: break;  // answered by the test with events
      }
    }
  }

  const std::vector<std::pair<node_id, msg>>& processed() const { return processed_; }
  const std::vector<msg>& lost() const { return lost_; }
  std::uint64_t sent() const { return sent_; }
  const request_buffer<msg>& buffer() const { return buf_; }
  std::optional<node_id> running() const { return running_; }
  bool dropped_source() const { return dropped_source_; }
  bool discarded() const { return discarded_; }

 private:
  request_buffer<msg> buf_;
  std::deque<msg> mailbox_;
  std::optional<node_id> running_ = src;
  node_id route_ = src;
  std::vector<std::pair<node_id, msg>> processed_;
  std::vector<msg> lost_;
  std::uint64_t sent_ = 0;
  bool dropped_source_ = false, discarded_ = false;
};

// Sends `n` requests with keys drawn from `keys` keys (seeded), interleaved.
struct traffic {
  std::mt19937_64 rng{12345};
  std::map<std::uint64_t, std::uint64_t> next_seq;
  std::uint64_t keys = 5;
  void send(fake_runtime& rt, int n) {
    for (int i = 0; i < n; ++i) {
      std::uint64_t k = rng() % keys;
      rt.send({k, next_seq[k]++});
    }
  }
};

// Every request sent was processed exactly once or reported lost, and per key the processed
// ones came in the order sent.
void expect_exactly_once_in_order(const fake_runtime& rt, const traffic& t) {
  std::map<std::uint64_t, std::uint64_t> expect_next;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  for (const auto& [node, m] : rt.processed()) {
    EXPECT_TRUE(seen.insert({m.key, m.seq}).second) << "duplicate key " << m.key << " seq " << m.seq;
    EXPECT_EQ(m.seq, expect_next[m.key]) << "key " << m.key << " out of order";
    expect_next[m.key] = m.seq + 1;
  }
  for (const auto& m : rt.lost())
    EXPECT_TRUE(seen.insert({m.key, m.seq}).second) << "lost and processed: key " << m.key;
  std::uint64_t total = 0;
  for (const auto& [k, n] : t.next_seq)
    total += n;
  EXPECT_EQ(seen.size(), total);
  EXPECT_EQ(rt.sent(), total);
}

}  // namespace

TEST(ColdMigrationRequests, InterleavedKeysArriveOnceAndInOrderAtTheDestination) {
  fake_runtime rt;
  traffic t;
  cold_migration m(plan());
  std::int64_t now = 0;
  auto step = [&](int sends, std::size_t work) {
    t.send(rt, sends);
    rt.process(work);
    now += ms;
  };
  step(50, 20);  // normal service, a backlog builds up
  rt.apply(m.start(now));
  step(30, 10);  // step 1: still served at the source
  rt.apply(m.on_event(ev(event_kind::kind_ready, dst), now));  // hold + stop: the backlog goes back
  EXPECT_FALSE(rt.running());
  EXPECT_GT(rt.buffer().returned(), 0u);
  step(40, 10);  // nothing served: everything is held
  rt.apply(m.on_event(ev(event_kind::stopped, src), now));
  step(40, 10);
  rt.apply(m.on_event(ev(event_kind::state_shipped, src, 10, 1), now));
  step(40, 10);
  rt.apply(m.on_event(ev(event_kind::state_confirmed, dst, 10, 1), now));
  step(40, 10);
  rt.apply(m.on_event(ev(event_kind::started, dst), now));  // release, then routes
  ASSERT_EQ(m.result().outcome, migration_outcome::completed);
  EXPECT_EQ(rt.buffer().state(), buffer_state::released);
  step(60, 1000);
  rt.process(100000);
  EXPECT_TRUE(rt.lost().empty());
  EXPECT_TRUE(rt.dropped_source());
  expect_exactly_once_in_order(rt, t);
  // Some requests were served at each end, and everything held came out at the destination.
  std::size_t at_src = 0, at_dst = 0;
  for (const auto& [node, msg] : rt.processed())
    (node == src ? at_src : at_dst)++;
  EXPECT_EQ(at_src, 30u);
  EXPECT_EQ(at_dst, rt.sent() - 30);
  EXPECT_EQ(rt.buffer().delivered(), rt.buffer().buffered() + rt.buffer().returned());
  EXPECT_EQ(m.result().blackout_ns, 4 * ms);  // kind ready (hold) at 2 ms, started at 6 ms
}

TEST(ColdMigrationRequests, LateArrivalsAtTheOldLocationAreForwardedAfterTheHeldOnes) {
  // Routes change after the release: a request that still reaches the source is forwarded, behind
  // everything released. Here we send between the release and the route update by splitting the
  // done actions.
  fake_runtime rt;
  traffic t;
  cold_migration m(plan());
  rt.apply(m.start(0));
  t.send(rt, 10);
  rt.apply(m.on_event(ev(event_kind::kind_ready, dst), 1 * ms));
  t.send(rt, 10);
  rt.apply(m.on_event(ev(event_kind::stopped, src), 2 * ms));
  rt.apply(m.on_event(ev(event_kind::state_shipped, src, 1, 1), 3 * ms));
  rt.apply(m.on_event(ev(event_kind::state_confirmed, dst, 1, 1), 4 * ms));
  auto done = m.on_event(ev(event_kind::started, dst), 5 * ms);
  ASSERT_EQ(done.size(), 3u);
  rt.apply({done[0]});  // release
  t.send(rt, 10);       // still routed to the source: forwarded
  rt.apply({done[1], done[2]});
  t.send(rt, 10);  // routed directly
  rt.process(1000);
  expect_exactly_once_in_order(rt, t);
  EXPECT_TRUE(rt.lost().empty());
}

TEST(ColdMigrationRequests, ARollbackDeliversTheHeldRequestsAtTheSourceInOrder) {
  fake_runtime rt;
  traffic t;
  t.keys = 3;
  cold_migration m(plan());
  rt.apply(m.start(0));
  t.send(rt, 25);
  rt.process(5);
  rt.apply(m.on_event(ev(event_kind::kind_ready, dst), 1 * ms));
  t.send(rt, 25);
  rt.apply(m.on_event(ev(event_kind::stopped, src), 2 * ms));
  t.send(rt, 25);
  rt.apply(m.on_event(ev(event_kind::state_shipped, src, 100, 1), 3 * ms));
  rt.apply(m.on_event(ev(event_kind::state_confirmed, dst, 100, 2), 4 * ms));  // corrupt: roll back
  EXPECT_TRUE(rt.discarded());
  t.send(rt, 25);
  rt.apply(m.on_event(ev(event_kind::started, src), 6 * ms));
  ASSERT_EQ(m.result().outcome, migration_outcome::rolled_back);
  t.send(rt, 25);
  rt.process(1000);
  EXPECT_FALSE(rt.dropped_source());
  EXPECT_TRUE(rt.lost().empty());
  for (const auto& [node, msg] : rt.processed())
    EXPECT_EQ(node, src);
  expect_exactly_once_in_order(rt, t);
  EXPECT_EQ(rt.processed().size(), 125u);
  EXPECT_EQ(m.result().blackout_ns, 5 * ms);
}

TEST(ColdMigrationRequests, AFailedMigrationReportsEveryHeldRequestLost) {
  fake_runtime rt;
  traffic t;
  cold_migration m(plan());
  rt.apply(m.start(0));
  t.send(rt, 10);
  rt.apply(m.on_event(ev(event_kind::kind_ready, dst), 1 * ms));
  t.send(rt, 10);
  rt.apply(m.on_event(ev(event_kind::stop_failed, src), 2 * ms));
  rt.apply(m.on_event(ev(event_kind::start_failed, src), 3 * ms));
  ASSERT_EQ(m.result().outcome, migration_outcome::failed);
  t.send(rt, 10);  // refused: reported lost
  EXPECT_EQ(rt.lost().size(), 30u);
  EXPECT_TRUE(rt.processed().empty());
  expect_exactly_once_in_order(rt, t);
  EXPECT_EQ(rt.buffer().failed(), 20u);
}

TEST(ColdMigrationRequests, OverflowIsCountedAndReportedNotDropped) {
  fake_runtime rt(8);
  traffic t;
  cold_migration m(plan());
  rt.apply(m.start(0));
  rt.apply(m.on_event(ev(event_kind::kind_ready, dst), 1 * ms));
  rt.apply(m.on_event(ev(event_kind::stopped, src), 2 * ms));
  t.send(rt, 20);
  EXPECT_EQ(rt.buffer().overflowed(), 12u);
  EXPECT_EQ(rt.lost().size(), 12u);
  EXPECT_EQ(rt.buffer().peak(), 8u);
  rt.apply(m.on_event(ev(event_kind::state_shipped, src, 1, 1), 3 * ms));
  rt.apply(m.on_event(ev(event_kind::state_confirmed, dst, 1, 1), 4 * ms));
  rt.apply(m.on_event(ev(event_kind::started, dst), 5 * ms));
  rt.process(100);
  EXPECT_EQ(rt.processed().size(), 8u);
  expect_exactly_once_in_order(rt, t);
}

// ---------------------------------------------------------------------------------------------
// A real state transfer: the source's reliable collections are exported, shipped, imported at
// the destination, and confirmed by digest, driven by the state machine.

namespace {

std::unique_ptr<e3::state::collections> kvs_with(std::size_t keys) {
  auto c = e3::state::make_memory_collections();
  auto& t = c->get_table("kv");
  for (std::size_t i = 0; i < keys; ++i)
    t.put("key-" + std::to_string(i), "value-" + std::to_string(i * 2654435761u % 1000003));
  auto& a = c->get_array("log");
  a.resize(16);
  a.set(3, "three");
  return c;
}

// Runs a migration whose ship_state exports from `source` and imports into `dest` through
// `transit` (which may corrupt the bytes). Returns the machine at the end.
cold_migration migrate_state(e3::state::collections& source, e3::state::collections& dest,
                             void (*transit)(std::string&)) {
  cold_migration m(plan());
  std::int64_t now = 0;
  auto run = [&](const acts& as, auto&& self) -> void {
    for (const auto& a : as) {
      now += ms;
      switch (a.kind) {
        case action_kind::push_kind: self(m.on_event(ev(event_kind::kind_ready, a.node), now), self); break;
        case action_kind::stop_instance: self(m.on_event(ev(event_kind::stopped, a.node), now), self); break;
        case action_kind::ship_state: {
          std::string bytes = source.export_snapshot();
          auto shipped = ev(event_kind::state_shipped, a.node, bytes.size(), state_digest(bytes));
          shipped.entries = source.entry_count();
          transit(bytes);
          migration_event reply;
          try {
            dest.import_snapshot(bytes);
            // The destination confirms what it holds now: its own export of the imported state.
            std::string mine = dest.export_snapshot();
            reply = ev(event_kind::state_confirmed, a.peer, mine.size(), state_digest(mine));
          } catch (const e3::state::state_error& e) {
            reply = ev(event_kind::state_rejected, a.peer);
            reply.reason = e.what();
          }
          self(m.on_event(shipped, now), self);
          self(m.on_event(reply, now), self);
          break;
        }
        case action_kind::start_instance: self(m.on_event(ev(event_kind::started, a.node), now), self); break;
        default: break;
      }
    }
  };
  run(m.start(now), run);
  return m;
}

}  // namespace

TEST(ColdMigrationState, TenThousandKeysArriveByteIdentical) {
  auto source = kvs_with(10000);
  auto dest = e3::state::make_memory_collections();
  auto m = migrate_state(*source, *dest, [](std::string&) {});
  ASSERT_EQ(m.result().outcome, migration_outcome::completed) << m.result().reason;
  EXPECT_EQ(dest->export_snapshot(), source->export_snapshot());
  EXPECT_EQ(dest->get_table("kv").size(), 10000u);
  EXPECT_EQ(dest->get_table("kv").get("key-9999"), source->get_table("kv").get("key-9999"));
  EXPECT_EQ(dest->get_array("log").get(3), "three");
  EXPECT_EQ(m.result().state_entries, 10016u);
}

TEST(ColdMigrationState, AValueCorruptedInTransitIsCaughtByTheDigestAndRolledBack) {
  // A flipped byte inside a value still decodes: only the digest comparison catches it.
  auto source = kvs_with(1000);
  auto dest = e3::state::make_memory_collections();
  auto m = migrate_state(*source, *dest, [](std::string& b) {
    auto at = b.find("value-");
    ASSERT_NE(at, std::string::npos);
    b[at + 6] ^= 0x01;
  });
  EXPECT_EQ(m.result().outcome, migration_outcome::rolled_back);
  EXPECT_EQ(m.result().serving_node, src);
  EXPECT_EQ(m.result().failed_step, migration_step::await_confirmation);
  EXPECT_NE(m.result().reason.find("state corrupt"), std::string::npos) << m.result().reason;
}

TEST(ColdMigrationState, ATruncatedSnapshotIsRejectedByTheDestinationAndRolledBack) {
  auto source = kvs_with(1000);
  auto dest = e3::state::make_memory_collections();
  auto m = migrate_state(*source, *dest, [](std::string& b) { b.resize(b.size() / 2); });
  EXPECT_EQ(m.result().outcome, migration_outcome::rolled_back);
  EXPECT_NE(m.result().reason.find("destination rejected the state"), std::string::npos) << m.result().reason;
  EXPECT_EQ(dest->entry_count(), 0u);  // a rejected import leaves the destination unchanged
}
