// Tests of the PCIe-ring link: cross-process delivery, back-pressure, batching, doorbells, and a
// misbehaving peer (corrupt lengths and indices, oversize messages, attach mismatches).
#include "transport_pcie/transport_pcie.hpp"
#include "transport_pcie/shm_layout.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace e3::pcie;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

/// A unique shared-memory name per test and process.
std::string unique_name(const char* tag) {
  static int n = 0;
  return "/e3-test-pcie-" + std::to_string(getpid()) + "-" + tag + "-" + std::to_string(++n);
}

message_view bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string text_of(message_view m) { return std::string(reinterpret_cast<const char*>(m.data()), m.size()); }

/// The payload of message `seq` on queue pair `qp`: a header naming both, then a pattern, of a
/// seeded pseudo-random length (0..700 bytes, so records wrap around small rings at many offsets).
std::string payload(std::uint32_t qp, std::uint32_t seq) {
  std::mt19937 rng(qp * 1'000'003u + seq);
  std::size_t len = rng() % 701;
  std::string s(len, '\0');
  std::string head = std::to_string(qp) + ":" + std::to_string(seq) + ":";
  for (std::size_t i = 0; i < len; ++i)
    s[i] = i < head.size() ? head[i] : char('a' + (seq + i) % 26);
  return s;
}

/// Runs `child` in a forked process; returns its exit code (the child never returns to gtest).
template <class F>
pid_t fork_child(F child) {
  pid_t pid = fork();
  if (pid == 0) {
    int code = 1;
    try {
      code = child();
    } catch (...) {
      code = 99;
    }
    _exit(code);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/// Maps a segment a second time, raw, to play a misbehaving peer.
struct raw_mapping {
  void* base = nullptr;
  std::size_t size = 0;
  explicit raw_mapping(const std::string& name) {
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    EXPECT_GE(fd, 0);
    size = static_cast<std::size_t>(lseek(fd, 0, SEEK_END));
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
  }
  ~raw_mapping() { munmap(base, size); }
  layout::header& hdr() { return *static_cast<layout::header*>(base); }
  layout::ring_control& ctl(std::uint32_t q, std::uint32_t d) {
    return *reinterpret_cast<layout::ring_control*>(static_cast<std::byte*>(base) +
                                                    layout::ring_offset(q, d, hdr().ring_stride));
  }
  std::byte* data(std::uint32_t q, std::uint32_t d) {
    return reinterpret_cast<std::byte*>(&ctl(q, d)) + layout::control_bytes;
  }
};

TEST(TransportPcie, CreateAndAttachAgreeOnSizes) {
  auto name = unique_name("sizes");
  auto a = endpoint::create(name, {4, 8192, 0});
  auto b = endpoint::attach(name, {link_config{4, 8192, 0}});
  EXPECT_TRUE(a.is_creator());
  EXPECT_FALSE(b.is_creator());
  EXPECT_EQ(b.queue_pairs(), 4u);
  EXPECT_EQ(b.ring_bytes(), 8192u);
  EXPECT_EQ(b.max_message(), 2048u);  // default: ring_bytes / 4
  EXPECT_TRUE(a.peer_attached());
}

TEST(TransportPcie, CrossProcessDeliveryInOrderWithoutLossOnEveryQueuePair) {
  // Small rings force wrap-around and back-pressure; the child echoes every message back.
  auto name = unique_name("xproc");
  constexpr std::uint32_t qps = 4, per_qp = 1500;
  auto host = endpoint::create(name, {qps, 4096, 0});
  pid_t pid = fork_child([&] {
    auto nic = endpoint::attach(name, {link_config{qps, 4096, 0}, 5s});
    std::vector<std::uint32_t> next(qps, 0);
    std::uint32_t done = 0;
    int bad = 0;
    while (done < qps * per_qp) {
      status w = nic.wait_readable(5s);
      if (w != status::ok) {
        std::fprintf(stderr, "child: wait_readable returned %s after %u messages\n", to_string(w), done);
        return 2;
      }
      for (std::uint32_t q = 0; q < qps; ++q) {
        nic.poll(q, [&](message_view m) {
          if (text_of(m) != payload(q, next[q]))
            ++bad;
          ++next[q];
          ++done;
          status s = nic.send(q, m, 5s);
          if (s != status::ok) {
            std::fprintf(stderr, "child: send on %u returned %s\n", q, to_string(s));
            ++bad;
          }
        });
      }
    }
    return bad == 0 ? 0 : 3;
  });
  std::vector<std::uint32_t> sent(qps, 0), got(qps, 0);
  std::uint32_t received = 0;
  int mismatches = 0;
  auto drain = [&] {
    return host.poll_all([&](std::uint32_t q, message_view m) {
      if (text_of(m) != payload(q, got[q]))
        ++mismatches;
      ++got[q];
      ++received;
    }).messages;
  };
  while (received < qps * per_qp) {
    bool progress = false;
    for (std::uint32_t q = 0; q < qps; ++q) {
      if (sent[q] < per_qp && host.try_send(q, bytes_of(payload(q, sent[q]))) == status::ok) {
        ++sent[q];
        progress = true;
      }
    }
    if (drain() == 0 && !progress && received < qps * per_qp) {  // nothing to do but wait
      status w = host.wait_readable(5s);
      ASSERT_EQ(w, status::ok) << "after " << received << " echoes; child exit " << wait_child(pid);
    }
  }
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(mismatches, 0);
  for (std::uint32_t q = 0; q < qps; ++q)
    EXPECT_EQ(got[q], per_qp) << "queue pair " << q;
  auto t = host.stats().total();
  EXPECT_EQ(t.tx.messages, qps * per_qp);
  EXPECT_EQ(t.rx.messages, qps * per_qp);
  EXPECT_EQ(t.rx.corrupt, 0u);
  EXPECT_GT(t.tx.full, 0u);  // the small rings did push back
}

TEST(TransportPcie, FullRingRefusesCountsAndRecovers) {
  auto name = unique_name("full");
  auto a = endpoint::create(name, {1, 4096, 0});
  auto b = endpoint::attach(name);
  std::string msg(500, 'x');  // 512-byte records: 8 fit in 4096
  int accepted = 0;
  while (a.try_send(0, bytes_of(msg)) == status::ok)
    ++accepted;
  EXPECT_EQ(accepted, 8);
  EXPECT_EQ(a.stats().queues[0].tx.full, 1u);
  EXPECT_EQ(a.try_send(0, bytes_of(msg)), status::full);
  EXPECT_EQ(a.stats().queues[0].tx.full, 2u);
  EXPECT_EQ(a.send(0, bytes_of(msg), 1ms), status::timeout);
  EXPECT_EQ(a.stats().queues[0].tx.timeouts, 1u);
  EXPECT_EQ(a.wait_writable(0, msg.size(), 0ns), status::timeout);

  std::vector<std::byte> out;
  ASSERT_EQ(b.try_receive(0, out), status::ok);  // frees one record
  EXPECT_EQ(a.try_send(0, bytes_of(msg)), status::ok);
  auto res = b.poll(0, [](message_view) {});
  EXPECT_EQ(res.messages, 8u);
  EXPECT_EQ(b.try_receive(0, out), status::empty);
  EXPECT_EQ(b.stats().queues[0].rx.messages, 9u);
  EXPECT_EQ(a.stats().queues[0].tx.messages, 9u);
}

TEST(TransportPcie, BlockingSendWakesWhenConsumerFreesRoom) {
  auto name = unique_name("block");
  auto a = endpoint::create(name, {1, 4096, 0}, {false, 0ns});  // no spinning: must sleep
  auto b = endpoint::attach(name, {{}, 0ns, 0ns});
  std::string msg(500, 'y');
  while (a.try_send(0, bytes_of(msg)) == status::ok) {
  }
  raw_mapping raw(name);
  std::thread consumer([&] {
    // Wait until the producer sleeps on its doorbell, then free room.
    while (raw.hdr().bells[0].tx_waiters.load() == 0)
      std::this_thread::yield();
    std::vector<std::byte> out;
    EXPECT_EQ(b.try_receive(0, out), status::ok);
  });
  EXPECT_EQ(a.send(0, bytes_of(msg), 10s), status::ok);
  consumer.join();
  EXPECT_EQ(a.stats().queues[0].tx.blocked, 1u);
}

TEST(TransportPcie, WaitReadableSleepsAndIsWokenByTheDoorbell) {
  auto name = unique_name("bell");
  auto a = endpoint::create(name, {2, 4096, 0}, {false, 0ns});
  auto b = endpoint::attach(name, {{}, 0ns, 0ns});
  EXPECT_EQ(b.wait_readable(1ms), status::timeout);
  raw_mapping raw(name);
  std::thread producer([&] {
    while (raw.hdr().bells[1].rx_waiters.load() == 0)
      std::this_thread::yield();
    EXPECT_EQ(a.try_send(1, std::string_view("wake")), status::ok);
  });
  EXPECT_EQ(b.wait_readable(10s), status::ok);
  producer.join();
  EXPECT_TRUE(b.readable(1));
  EXPECT_FALSE(b.readable(0));
  std::vector<std::byte> out;
  ASSERT_EQ(b.try_receive(1, out), status::ok);
  EXPECT_EQ(text_of(out), "wake");
}

TEST(TransportPcie, ConcurrentProducerAndConsumerThreadsDeliverEverythingInOrder) {
  auto name = unique_name("threads");
  auto a = endpoint::create(name, {2, 8192, 0}, {false, 2us});
  auto b = endpoint::attach(name, {{}, 0ns, 2us});
  constexpr std::uint32_t n = 8000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < n; ++i)
      ASSERT_EQ(a.send(i % 2, bytes_of(payload(i % 2, i / 2)), 10s), status::ok);
  });
  std::uint32_t got[2] = {0, 0};
  int bad = 0;
  while (got[0] + got[1] < n) {
    ASSERT_EQ(b.wait_readable(10s), status::ok);
    b.poll_all([&](std::uint32_t q, message_view m) {
      if (text_of(m) != payload(q, got[q]))
        ++bad;
      ++got[q];
    }, 7);
  }
  producer.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(got[0], n / 2);
  EXPECT_EQ(got[1], n / 2);
}

TEST(TransportPcie, BatchPublishesOnceAndReceiveTakesUpToN) {
  auto name = unique_name("batch");
  auto a = endpoint::create(name, {2, 4096, 0});
  auto b = endpoint::attach(name);
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i)
    texts.push_back("m" + std::to_string(i));
  std::vector<message_view> views;
  for (auto& t : texts)
    views.push_back(bytes_of(t));
  status why = status::full;
  EXPECT_EQ(a.try_send_batch(0, views, &why), 10u);
  EXPECT_EQ(why, status::ok);
  EXPECT_EQ(a.stats().queues[0].tx.publishes, 1u);
  EXPECT_EQ(a.stats().queues[0].tx.messages, 10u);

  std::vector<std::string> got;
  auto r = b.poll(0, [&](message_view m) { got.push_back(text_of(m)); }, 4);
  EXPECT_EQ(r.messages, 4u);
  EXPECT_EQ(r.st, status::ok);
  r = b.poll(0, [&](message_view m) { got.push_back(text_of(m)); });
  EXPECT_EQ(r.messages, 6u);
  EXPECT_EQ(got, texts);
  EXPECT_EQ(b.poll(0, [](message_view) {}).st, status::empty);

  // A batch that only partly fits: the rest is refused and counted, in order.
  std::string big(1000, 'z');  // 1008-byte records: 4 fit in an empty 4096-byte ring
  std::vector<message_view> bigs(6, bytes_of(big));
  EXPECT_EQ(a.try_send_batch(1, bigs, &why), 4u);
  EXPECT_EQ(why, status::full);
  EXPECT_EQ(a.stats().queues[1].tx.full, 2u);
  EXPECT_EQ(a.stats().queues[1].tx.publishes, 1u);
}

TEST(TransportPcie, ReservedMessagesStayInvisibleUntilPublished) {
  auto name = unique_name("reserve");
  auto a = endpoint::create(name, {1, 4096, 0});
  auto b = endpoint::attach(name);
  for (char c : std::string("abc")) {
    auto dst = a.try_reserve(0, 3);
    ASSERT_EQ(dst.size(), 3u);
    std::memset(dst.data(), c, 3);
  }
  EXPECT_FALSE(b.readable(0));
  a.publish(0);
  std::string all;
  EXPECT_EQ(b.poll(0, [&](message_view m) { all += text_of(m) + ","; }).messages, 3u);
  EXPECT_EQ(all, "aaa,bbb,ccc,");
}

TEST(TransportPcie, OversizeMessagesAreRefusedWithAnErrorAndCounted) {
  auto name = unique_name("oversize");
  auto a = endpoint::create(name, {1, 4096, 100});
  std::string big(101, 'o');
  EXPECT_EQ(a.try_send(0, bytes_of(big)), status::oversize);
  EXPECT_EQ(a.send(0, bytes_of(big), 1s), status::oversize);
  status why;
  EXPECT_TRUE(a.try_reserve(0, 101, &why).empty());
  EXPECT_EQ(why, status::oversize);
  EXPECT_EQ(a.stats().queues[0].tx.oversize, 3u);
  EXPECT_EQ(a.try_send(0, bytes_of(std::string(100, 'k'))), status::ok);
  EXPECT_THROW(endpoint::create(unique_name("cfg"), {1, 4096, 4096}), pcie_error);
}

/// Sends "first", "second" on queue pair 0 from the creator, then lets `corrupt` damage the ring
/// through a raw mapping, and returns what the attacher's poll saw.
struct corrupt_case {
  std::string name = unique_name("corrupt");
  endpoint a = endpoint::create(name, {2, 4096, 1024});
  endpoint b = endpoint::attach(name);
  raw_mapping raw{name};
  corrupt_case() {
    EXPECT_EQ(a.try_send(0, std::string_view("first")), status::ok);
    EXPECT_EQ(a.try_send(0, std::string_view("second")), status::ok);
  }
  layout::record_header* second_header() {
    // "first" takes 8 + 8 bytes; the second record starts at byte 16.
    return reinterpret_cast<layout::record_header*>(raw.data(0, layout::creator_to_attacher) + 16);
  }
};

TEST(TransportPcie, CorruptLengthBiggerThanTheRingIsDetectedReportedAndNeverReadOutOfBounds) {
  corrupt_case c;
  c.second_header()->length = 1u << 30;
  c.second_header()->check = ~(1u << 30);
  std::vector<std::string> got;
  auto r = c.b.poll(0, [&](message_view m) { got.push_back(text_of(m)); });
  EXPECT_EQ(r.st, status::corrupt);
  EXPECT_EQ(r.messages, 1u);
  EXPECT_EQ(got, std::vector<std::string>{"first"});
  auto rep = c.b.last_corruption();
  ASSERT_TRUE(rep.has_value());
  EXPECT_EQ(rep->queue_pair, 0u);
  EXPECT_EQ(rep->dir, direction::creator_to_attacher);
  EXPECT_EQ(rep->position, 16u);
  EXPECT_EQ(rep->value, 1u << 30);
  EXPECT_THAT(rep->reason, HasSubstr("exceeds max_message"));
  EXPECT_THAT(rep->to_string(), HasSubstr("queue pair 0"));
  EXPECT_EQ(c.b.stats().queues[0].rx.corrupt, 1u);
  EXPECT_EQ(c.b.stats().queues[0].rx.skipped_bytes, 16u);
  // The ring resynchronised: later messages flow again.
  EXPECT_EQ(c.a.try_send(0, std::string_view("third")), status::ok);
  std::vector<std::byte> out;
  ASSERT_EQ(c.b.try_receive(0, out), status::ok);
  EXPECT_EQ(text_of(out), "third");
}

TEST(TransportPcie, CorruptLengthPastTheTailIsDetected) {
  corrupt_case c;
  c.second_header()->length = 900;  // within max_message, but only 16 bytes were published
  c.second_header()->check = ~900u;
  auto r = c.b.poll(0, [](message_view) {});
  EXPECT_EQ(r.st, status::corrupt);
  EXPECT_THAT(c.b.last_corruption()->reason, HasSubstr("past the published tail"));
}

TEST(TransportPcie, CorruptCheckWordIsDetected) {
  corrupt_case c;
  c.second_header()->length = 6;
  c.second_header()->check = 12345;
  EXPECT_EQ(c.b.poll(0, [](message_view) {}).st, status::corrupt);
  EXPECT_THAT(c.b.last_corruption()->reason, HasSubstr("check word"));
}

TEST(TransportPcie, CorruptTailIndexIsDetected) {
  corrupt_case c;
  c.raw.ctl(0, layout::creator_to_attacher).tail.store(1u << 20);  // far more than a ring ahead
  EXPECT_EQ(c.b.poll(0, [](message_view) {}).st, status::corrupt);
  auto rep = c.b.last_corruption();
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->value, 1u << 20);
  EXPECT_THAT(rep->reason, HasSubstr("tail index"));
}

TEST(TransportPcie, CorruptHeadIndexIsRefusedBySender) {
  corrupt_case c;
  std::string msg(1000, 'h');
  c.raw.ctl(0, layout::creator_to_attacher).head.store(999'999);
  status s = status::ok;
  for (int i = 0; i < 5 && s == status::ok; ++i)
    s = c.a.try_send(0, bytes_of(msg));
  EXPECT_EQ(s, status::corrupt);
  EXPECT_EQ(c.a.stats().queues[0].tx.corrupt, 1u);
  EXPECT_THAT(c.a.last_corruption()->reason, HasSubstr("head index"));
}

TEST(TransportPcie, AttachRejectsBadMagicVersionSizesAndNames) {
  EXPECT_THROW(endpoint::attach("no-slash"), pcie_error);
  try {
    endpoint::attach(unique_name("absent"));
    FAIL();
  } catch (const pcie_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not exist"));
  }
  {
    auto name = unique_name("magic");
    auto a = endpoint::create(name, {1, 4096, 0});
    raw_mapping raw(name);
    raw.hdr().magic.store(0x1234);
    try {
      endpoint::attach(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("bad magic"));
    }
    raw.hdr().magic.store(layout::magic);
    raw.hdr().version = 7;
    try {
      endpoint::attach(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("layout version 7"));
    }
    raw.hdr().version = layout::version;
    raw.hdr().ring_bytes = 8192;  // the file is too small for that
    try {
      endpoint::attach(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("ring stride"));
    }
    raw.hdr().ring_bytes = 4096;
    try {
      endpoint::attach(name, {link_config{2, 0, 0}});
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("queue_pairs is 1, expected 2"));
    }
    auto b = endpoint::attach(name);  // now all is well again
    try {
      endpoint::attach(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("already attached"));
    }
  }
  {
    auto name = unique_name("tiny");
    int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 100), 0);
    close(fd);
    try {
      endpoint::attach(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("smaller than its header"));
    }
    try {
      endpoint::create(name);
      FAIL();
    } catch (const pcie_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("already exists"));
    }
    auto a = endpoint::create(name, {}, {true});  // replace_existing
    EXPECT_NO_THROW(endpoint::attach(name));
  }
}

TEST(TransportPcie, PeerCloseIsSeenAndSendsToAClosedPeerAreCounted) {
  auto name = unique_name("close");
  auto a = endpoint::create(name, {1, 4096, 0});
  {
    auto b = endpoint::attach(name);
    EXPECT_EQ(b.try_send(0, std::string_view("bye")), status::ok);
  }
  EXPECT_TRUE(a.peer_closed());
  EXPECT_FALSE(a.peer_attached());
  // What was sent before the close is still delivered, then the close shows.
  std::vector<std::byte> out;
  EXPECT_EQ(a.wait_readable(1s), status::ok);
  EXPECT_EQ(a.try_receive(0, out), status::ok);
  EXPECT_EQ(a.wait_readable(1s), status::closed);
  EXPECT_EQ(a.try_receive(0, out), status::closed);
  EXPECT_EQ(a.try_send(0, std::string_view("anyone?")), status::closed);
  EXPECT_EQ(a.stats().queues[0].tx.closed, 1u);
  // The creator unlinks the name on close.
  a.close();
  EXPECT_THROW(endpoint::attach(name), pcie_error);
}

TEST(TransportPcie, ARestartedAttacherPicksUpWhereTheOldOneStopped) {
  auto name = unique_name("restart");
  auto host = endpoint::create(name, {1, 8192, 0});
  for (std::uint32_t i = 0; i < 10; ++i)
    ASSERT_EQ(host.try_send(0, bytes_of(payload(0, i))), status::ok);
  auto consume = [&](std::uint32_t from, std::uint32_t count) {
    return fork_child([&] {
      auto nic = endpoint::attach(name);
      std::uint32_t seq = from, bad = 0;
      nic.poll(0, [&](message_view m) { bad += text_of(m) != payload(0, seq++); }, count);
      return bad == 0 && seq == from + count ? 0 : 4;
    });
  };
  EXPECT_EQ(wait_child(consume(0, 4)), 0);  // the first NIC process takes 4 and exits
  EXPECT_EQ(wait_child(consume(4, 6)), 0);  // its successor gets the other 6
}

}  // namespace
