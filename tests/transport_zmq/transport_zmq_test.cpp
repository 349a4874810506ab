// Tests of the ZeroMQ link: request/response, unknown peers, back-pressure, malformed frames,
// CURVE accept/deny, and reconnection after a router or a dealer process restarts.
#include "transport_zmq/transport_zmq.hpp"

#include <algorithm>
#include <csignal>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <gtest/gtest.h>

namespace {

using namespace e3::zmq_link;
using namespace std::chrono_literals;

std::string text_of(message_view m) { return std::string(reinterpret_cast<const char*>(m.data()), m.size()); }

/// What one endpoint received, as (from, text) pairs.
struct received {
  std::vector<std::pair<std::string, std::string>> msgs;
  bool has(const std::string& from, const std::string& text) const {
    return std::find(msgs.begin(), msgs.end(), std::pair(from, text)) != msgs.end();
  }
  bool has_text(const std::string& text) const {
    return std::any_of(msgs.begin(), msgs.end(), [&](const auto& p) { return p.second == text; });
  }
};

/// Services every endpoint (wait briefly, then poll into its record) until `done()` or `limit`.
bool run_until(std::vector<std::pair<endpoint*, received*>> eps, const std::function<bool()>& done,
               std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    for (auto& [ep, rec] : eps) {
      ep->wait(eps.size() > 1 ? 1ms : 20ms);
      ep->poll([&](std::string_view from, message_view m) { rec->msgs.emplace_back(from, text_of(m)); });
    }
  }
  return true;
}

router_options router_at(const std::string& bind, const std::string& id = "server") {
  router_options o;
  o.identity = id;
  o.bind = {bind};
  return o;
}

dealer_options dealer_to(const std::string& connect, const std::string& id) {
  dealer_options o;
  o.identity = id;
  o.connect = connect;
  o.peer_name = "server";
  return o;
}

TEST(TransportZmq, InprocRequestResponseByIdentity) {
  context ctx;
  router server(ctx, router_at("inproc://rr"));
  dealer a(ctx, dealer_to("inproc://rr", "node-a"));
  dealer b(ctx, dealer_to("inproc://rr", "node-b"));
  received rs, ra, rb;
  EXPECT_EQ(a.try_send(std::string_view("ping-a")), status::ok);
  EXPECT_EQ(b.try_send(std::string_view("ping-b")), status::ok);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.msgs.size() == 2; }));
  EXPECT_TRUE(rs.has("node-a", "ping-a"));
  EXPECT_TRUE(rs.has("node-b", "ping-b"));
  EXPECT_EQ(server.peers(), (std::vector<std::string>{"node-a", "node-b"}));
  EXPECT_EQ(server.try_send("node-b", std::string_view("pong-b")), status::ok);
  EXPECT_EQ(server.try_send("node-a", std::string_view("pong-a")), status::ok);
  ASSERT_TRUE(run_until({{&a, &ra}, {&b, &rb}, {&server, &rs}},
                        [&] { return ra.msgs.size() == 1 && rb.msgs.size() == 1; }));
  EXPECT_TRUE(ra.has("server", "pong-a"));
  EXPECT_TRUE(rb.has("server", "pong-b"));
  EXPECT_EQ(server.stats().received, 2u);
  EXPECT_EQ(server.stats().sent, 2u);
  EXPECT_EQ(a.stats().sent, 1u);
  EXPECT_EQ(a.stats().received, 1u);
  EXPECT_TRUE(a.connected());
  // Replies carried the acknowledgements: nothing is left pending anywhere.
  ASSERT_TRUE(run_until({{&a, &ra}, {&b, &rb}, {&server, &rs}},
                        [&] { return a.pending() == 0 && b.pending() == 0 && server.pending("node-a") == 0; }));
  for (endpoint* e : {static_cast<endpoint*>(&a), static_cast<endpoint*>(&b), static_cast<endpoint*>(&server)}) {
    auto s = e->close();
    EXPECT_EQ(s.failed, 0u);
    EXPECT_EQ(s.malformed, 0u);
  }
}

TEST(TransportZmq, ManyMessagesArriveInOrderWithoutLoss) {
  context ctx;
  router server(ctx, router_at("inproc://order"));
  dealer client(ctx, dealer_to("inproc://order", "client"));
  received rs, rc;
  constexpr int n = 5000;
  int next = 0;
  ASSERT_TRUE(run_until({{&server, &rs}, {&client, &rc}}, [&] {
    while (next < n && client.try_send(std::string_view(std::to_string(next))) == status::ok)
      ++next;
    return rs.msgs.size() == n;
  }));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(rs.msgs[i].second, std::to_string(i));
  EXPECT_EQ(server.stats().duplicates, 0u);
  EXPECT_EQ(server.stats().out_of_order, 0u);
  // Without replies, the server acknowledges by itself (every ack_every messages or ack_delay).
  ASSERT_TRUE(run_until({{&server, &rs}, {&client, &rc}}, [&] { return client.pending() == 0; }));
  EXPECT_GT(server.stats().acks_sent, 0u);
  EXPECT_EQ(client.close().failed, 0u);
}

TEST(TransportZmq, SendsToUnknownPeersAreCountedNotDropped) {
  context ctx;
  router server(ctx, router_at("inproc://unknown"));
  EXPECT_EQ(server.try_send("nobody", std::string_view("hello?")), status::unroutable);
  EXPECT_EQ(server.stats().unroutable, 1u);
  std::string m = "x";
  std::vector<message_view> batch(3, std::as_bytes(std::span(m)));
  status why = status::ok;
  EXPECT_EQ(server.try_send_batch("nobody", batch, &why), 0u);
  EXPECT_EQ(why, status::unroutable);
  EXPECT_EQ(server.stats().unroutable, 4u);
  EXPECT_EQ(server.send("nobody", std::as_bytes(std::span(m)), 1s), status::unroutable);
  EXPECT_EQ(server.stats().unroutable, 5u);
  EXPECT_EQ(server.stats().sent, 0u);
}

TEST(TransportZmq, FullWindowPushesBackAndRecoversOnAcknowledgement) {
  context ctx;
  auto ro = router_at("inproc://window");
  ro.ack_every = 1;
  router server(ctx, ro);
  auto dopt = dealer_to("inproc://window", "client");
  dopt.window = 4;
  dealer client(ctx, dopt);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(client.try_send(std::string_view("m" + std::to_string(i))), status::ok);
  EXPECT_EQ(client.try_send(std::string_view("m4")), status::would_block);
  EXPECT_EQ(client.stats().would_block, 1u);
  EXPECT_EQ(client.send(std::string_view("m4"), 5ms), status::timeout);
  EXPECT_EQ(client.stats().timeouts, 1u);
  EXPECT_EQ(client.pending(), 4u);
  EXPECT_EQ(client.stats().pending, 4u);
  received rs, rc;
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.msgs.size() == 4; }));
  // The server acknowledged each message; the client reads the acks and has room again.
  ASSERT_TRUE(run_until({{&client, &rc}}, [&] { return client.try_send(std::string_view("m4")) == status::ok; }));
  EXPECT_EQ(client.stats().sent, 5u);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.msgs.size() == 5; }));
  EXPECT_EQ(rs.msgs.back().second, "m4");
}

TEST(TransportZmq, OversizeMessagesAreRefusedAndCounted) {
  context ctx;
  auto dopt = dealer_to("inproc://big", "client");
  dopt.max_message = 16;
  router server(ctx, router_at("inproc://big"));
  dealer client(ctx, dopt);
  EXPECT_EQ(client.try_send(std::string_view("seventeen bytes!!")), status::oversize);
  EXPECT_EQ(client.stats().oversize, 1u);
  EXPECT_EQ(client.try_send(std::string_view("sixteen bytes!!!")), status::ok);
  received rs, rc;
  ASSERT_TRUE(run_until({{&server, &rs}, {&client, &rc}}, [&] { return client.pending() == 0; }));
  EXPECT_EQ(rs.msgs.size(), 1u);
}

TEST(TransportZmq, MalformedFramesAreCountedAndDropped) {
  context ctx;
  router server(ctx, router_at("inproc://malformed"));
  void* rs = zmq_socket(ctx.native_handle(), ZMQ_DEALER);
  ASSERT_NE(rs, nullptr);
  ASSERT_EQ(zmq_setsockopt(rs, ZMQ_ROUTING_ID, "rogue", 5), 0);
  ASSERT_EQ(zmq_connect(rs, "inproc://malformed"), 0);
  zmq_send(rs, "short", 5, 0);                                 // shorter than the header
  std::string bad_magic(48, '\x7f');
  zmq_send(rs, bad_magic.data(), bad_magic.size(), 0);        // wrong magic
  zmq_send(rs, "a", 1, ZMQ_SNDMORE);                           // two parts
  zmq_send(rs, "b", 1, 0);
  received rec;
  ASSERT_TRUE(run_until({{&server, &rec}}, [&] { return server.stats().malformed == 3; }));
  EXPECT_TRUE(rec.msgs.empty());
  EXPECT_TRUE(server.peers().empty());
  int linger = 0;
  zmq_setsockopt(rs, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(rs);
  // A well-behaved peer still gets through.
  dealer good(ctx, dealer_to("inproc://malformed", "good"));
  EXPECT_EQ(good.try_send(std::string_view("fine")), status::ok);
  received rg;
  ASSERT_TRUE(run_until({{&server, &rec}, {&good, &rg}}, [&] { return rec.has("good", "fine") && good.pending() == 0; }));
}

TEST(TransportZmq, CloseCountsUnacknowledgedMessagesAsFailed) {
  context ctx;
  auto dopt = dealer_to("tcp://127.0.0.1:1", "lonely");  // nothing listens on port 1
  dopt.close_timeout = 10ms;
  dealer client(ctx, dopt);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(client.try_send(std::string_view("lost?")), status::ok);
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(client.pending(), 3u);
  auto s = client.close();
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(client.try_send(std::string_view("after close")), status::closed);
}

TEST(TransportZmq, CurveAcceptsTheRightServerKeyAndDeniesAWrongOne) {
  ASSERT_TRUE(curve_available());
  auto server_keys = curve_keypair::generate();
  EXPECT_EQ(server_keys.public_key.size(), 40u);
  EXPECT_EQ(curve_keypair::from_secret(server_keys.secret_key).public_key, server_keys.public_key);
  context ctx;
  auto ro = router_at("tcp://127.0.0.1:*");
  ro.curve_server = server_keys;
  router server(ctx, ro);
  std::string ep = server.bound().at(0);

  auto good_opt = dealer_to(ep, "good");
  good_opt.curve_server_public = server_keys.public_key;
  dealer good(ctx, good_opt);
  auto bad_opt = dealer_to(ep, "bad");
  bad_opt.curve_server_public = curve_keypair::generate().public_key;  // not the server's
  dealer bad(ctx, bad_opt);

  EXPECT_EQ(good.try_send(std::string_view("let me in")), status::ok);
  EXPECT_EQ(bad.try_send(std::string_view("let me in too")), status::ok);
  received rs, rg, rb;
  ASSERT_TRUE(run_until({{&server, &rs}, {&good, &rg}, {&bad, &rb}}, [&] {
    return rs.has("good", "let me in") && server.stats().handshake_failures >= 1;
  }));
  EXPECT_EQ(server.try_send("good", std::string_view("welcome")), status::ok);
  ASSERT_TRUE(run_until({{&server, &rs}, {&good, &rg}, {&bad, &rb}}, [&] { return rg.has("server", "welcome"); }));
  EXPECT_TRUE(good.connected());
  EXPECT_FALSE(bad.connected());
  EXPECT_FALSE(rs.has("bad", "let me in too"));
  EXPECT_EQ(server.peers(), std::vector<std::string>{"good"});
  EXPECT_EQ(server.try_send("bad", std::string_view("no")), status::unroutable);
  EXPECT_EQ(bad.pending(), 1u);  // still held, never delivered: it will be counted at close
  EXPECT_EQ(bad.close().failed, 1u);
  EXPECT_THROW(
      {
        auto o = dealer_to(ep, "x");
        o.curve_server_public = "too short";
        dealer d(ctx, o);
      },
      zmq_link_error);
}

TEST(TransportZmq, BadSetupIsReportedClearly) {
  context ctx;
  EXPECT_THROW(router(ctx, router_at("inproc://bad-id", "")), zmq_link_error);
  EXPECT_THROW(router(ctx, router_at("nonsense://x")), zmq_link_error);
  EXPECT_THROW(dealer(ctx, dealer_to("", "d")), zmq_link_error);
  auto bad_key = router_at("inproc://bad-key");
  bad_key.curve_server = curve_keypair{std::string(40, 'A'), std::string(40, '~')};  // not Z85
  EXPECT_THROW(router(ctx, bad_key), zmq_link_error);
  auto no_window = router_at("inproc://no-window");
  no_window.window = 0;
  EXPECT_THROW(router(ctx, no_window), zmq_link_error);
}  // the context is destroyed here: no socket of a failed setup may be left open

// ---- cross-process: a peer process dies and a successor takes its place ----

/// A forked process that waits for a start value on a pipe and can report a value back.
struct child_process {
  pid_t pid = -1;
  int go = -1;      // parent writes
  int report = -1;  // parent reads
};

child_process spawn(const std::function<int(int start, int report_fd)>& body) {
  int go[2], rep[2];
  if (pipe(go) != 0 || pipe(rep) != 0)
    return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    close(rep[0]);
    int start = 0;
    int code = 90;
    if (read(go[0], &start, sizeof start) == sizeof start) {
      try {
        code = body(start, rep[1]);
      } catch (...) {
        code = 91;
      }
    }
    _exit(code);
  }
  close(go[0]);
  close(rep[1]);
  return {pid, go[1], rep[0]};
}

int join(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int port_of(const std::string& ep) { return std::stoi(ep.substr(ep.rfind(':') + 1)); }

/// An echo router: replies "echo:<msg>" to every message until it gets "stop".
int echo_server(int port, int report_fd) {
  context ctx;
  router r(ctx, router_at("tcp://127.0.0.1:" + (port ? std::to_string(port) : std::string("*"))));
  int bound = port_of(r.bound().at(0));
  if (write(report_fd, &bound, sizeof bound) != sizeof bound)
    return 2;
  bool stop = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!stop) {
    if (std::chrono::steady_clock::now() > deadline)
      return 3;
    r.wait(50ms);
    r.poll([&](std::string_view from, message_view m) {
      std::string t = text_of(m);
      if (t == "stop")
        stop = true;
      else
        r.try_send(from, std::string_view("echo:" + t));
    });
  }
  return r.close().failed == 0 ? 0 : 4;
}

TEST(TransportZmq, DealerReconnectsAfterTheRouterProcessRestartsAndNothingIsLost) {
  // Both server processes are forked before this process starts ZeroMQ threads.
  child_process first = spawn(echo_server), second = spawn(echo_server);
  ASSERT_GT(first.pid, 0);
  ASSERT_GT(second.pid, 0);
  int zero = 0, port = 0;
  ASSERT_EQ(write(first.go, &zero, sizeof zero), (ssize_t)sizeof zero);
  ASSERT_EQ(read(first.report, &port, sizeof port), (ssize_t)sizeof port);

  context ctx;
  dealer client(ctx, dealer_to("tcp://127.0.0.1:" + std::to_string(port), "client"));
  received rc;
  std::set<int> echoed;
  auto collect = [&] {
    for (auto& [from, t] : rc.msgs)
      if (t.rfind("echo:", 0) == 0)
        echoed.insert(std::stoi(t.substr(5)));
    rc.msgs.clear();
  };
  auto all_echoed = [&](int n) {
    collect();
    return static_cast<int>(echoed.size()) == n;
  };
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(client.send(std::string_view(std::to_string(i)), 5s), status::ok);
  ASSERT_TRUE(run_until({{&client, &rc}}, [&] { return all_echoed(100); }));

  for (int i = 100; i < 150; ++i)  // some of these are in flight when the server dies
    ASSERT_EQ(client.try_send(std::string_view(std::to_string(i))), status::ok);
  kill(first.pid, SIGKILL);
  EXPECT_EQ(join(first.pid), 128 + SIGKILL);
  for (int i = 150; i < 200; ++i)  // sent while no server exists
    ASSERT_EQ(client.try_send(std::string_view(std::to_string(i))), status::ok);

  ASSERT_EQ(write(second.go, &port, sizeof port), (ssize_t)sizeof port);  // same endpoint
  int port2 = 0;
  ASSERT_EQ(read(second.report, &port2, sizeof port2), (ssize_t)sizeof port2);
  EXPECT_EQ(port2, port);
  ASSERT_TRUE(run_until({{&client, &rc}}, [&] { return all_echoed(200); }, 20s))
      << "echoed " << echoed.size() << " of 200";
  auto s = client.stats();
  EXPECT_EQ(s.failed, 0u);
  EXPECT_GE(s.disconnects, 1u);
  EXPECT_GE(s.connects, 2u);
  EXPECT_GE(s.resent, 1u);  // at least the messages sent while the server was away
  EXPECT_EQ(client.try_send(std::string_view("stop")), status::ok);
  ASSERT_TRUE(run_until({{&client, &rc}}, [&] { return client.pending() == 0; }));
  EXPECT_EQ(client.close().failed, 0u);
  EXPECT_EQ(join(second.pid), 0);
}

/// A dealer "client-1": mode 1 says "hi", waits for one reply, and dies without closing; mode 2
/// says "ready" and replies "got:<msg>" to everything until "stop".
int restartable_client(int start, int) {
  int port = start >> 4, mode = start & 15;
  context ctx;
  dealer d(ctx, dealer_to("tcp://127.0.0.1:" + std::to_string(port), "client-1"));
  auto deadline = std::chrono::steady_clock::now() + 20s;
  d.try_send(std::string_view(mode == 1 ? "hi" : "ready"));
  bool stop = false;
  while (!stop) {
    if (std::chrono::steady_clock::now() > deadline)
      return 3;
    d.wait(50ms);
    d.poll([&](message_view m) {
      std::string t = text_of(m);
      if (mode == 1 || t == "stop")
        stop = true;
      else
        d.try_send(std::string_view("got:" + t));
    });
  }
  if (mode == 1)
    _exit(0);  // abrupt: no close, no acknowledgement, sockets die with the process
  return d.close().failed == 0 ? 0 : 4;
}

TEST(TransportZmq, RouterServesARestartedDealerAndCountsWhatItCouldNotRoute) {
  child_process first = spawn(restartable_client), second = spawn(restartable_client);
  ASSERT_GT(first.pid, 0);
  ASSERT_GT(second.pid, 0);
  context ctx;
  router server(ctx, router_at("tcp://127.0.0.1:*"));
  int port = port_of(server.bound().at(0));
  received rs;
  int start1 = port << 4 | 1;
  ASSERT_EQ(write(first.go, &start1, sizeof start1), (ssize_t)sizeof start1);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.has("client-1", "hi"); }));
  ASSERT_EQ(server.try_send("client-1", std::string_view("reply")), status::ok);
  EXPECT_EQ(join(first.pid), 0);

  // The peer is gone. Each send is either refused as unroutable (counted) or kept unacknowledged
  // and delivered to the successor.
  std::vector<status> away;
  for (int k = 0; k < 5; ++k)
    away.push_back(server.try_send("client-1", std::string_view("away-" + std::to_string(k))));
  auto refused = static_cast<std::uint64_t>(std::count(away.begin(), away.end(), status::unroutable));
  EXPECT_EQ(server.stats().unroutable, refused);
  for (status s : away)
    EXPECT_TRUE(s == status::ok || s == status::unroutable) << to_string(s);

  int start2 = port << 4 | 2;
  ASSERT_EQ(write(second.go, &start2, sizeof start2), (ssize_t)sizeof start2);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.has("client-1", "ready"); }));
  ASSERT_EQ(server.try_send("client-1", std::string_view("after")), status::ok);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return rs.has("client-1", "got:after"); }));
  for (int k = 0; k < 5; ++k) {
    if (away[k] == status::ok) {
      EXPECT_TRUE(rs.has("client-1", "got:away-" + std::to_string(k))) << "away-" << k;
    }
  }
  EXPECT_GE(server.stats().peer_restarts, 1u);
  ASSERT_EQ(server.try_send("client-1", std::string_view("stop")), status::ok);
  ASSERT_TRUE(run_until({{&server, &rs}}, [&] { return server.pending("client-1") == 0; }));
  EXPECT_EQ(join(second.pid), 0);
  EXPECT_EQ(server.close().failed, 0u);
}

}  // namespace
