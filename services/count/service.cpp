// The Count service binding (kind "count") and its `e3 svc count` file harness.
//
// Input (param `input`):
//   "packet" (default): one Ethernet frame, counted under its conversation of kind `by`
//     ("ip" default, "tcp", "udp"; see count.hpp); the frame is emitted unchanged (key: its
//     five-tuple hash; 0 for frames that are not IP). Frames of no such conversation are
//     passed on and counted as skipped.
//   "record": a services/common/record.hpp record; record.key is counted and the record is
//     emitted (key: record.key) with `value` set to the key's count so far. A malformed record
//     is rejected.
// Param `max_entries` (default 16777216) bounds the table; items beyond it are counted as overflow.
// State (reliable collections; only changed slots are written at flush, from the dirty bitmap):
//   packets: table "count.conv": conv_key (40 bytes) -> conv_counts (32 bytes)
//   records: table "count.keys": u64 key -> u64 count
//   both:    table "count.meta": "items", "skipped", "bad" -> u64
//
// `e3 svc count --pcap FILE [--by ip|tcp|udp]` prints one line per conversation, busiest first:
//   A<TAB>B<TAB>frames A->B<TAB>frames B->A<TAB>frames total
// with A the source of the conversation's first packet (tshark's A), endpoints as `a.b.c.d`,
// an IPv6 address, or with ports `a.b.c.d:port` / `[v6]:port`; then a summary line starting `#`.
#include <algorithm>
#include <charconv>
#include <iostream>
#include <map>

#include "actors/service.hpp"
#include "services/common/pcap.hpp"
#include "services/common/record.hpp"
#include "services/common/svc_args.hpp"
#include "services/count/count.hpp"
#include "state_store/typed.hpp"

namespace e3::services {
namespace {

using namespace e3::services::count;

std::size_t max_entries_param(const service_config& c) {
  std::string t = c.param("max_entries", "16777216");
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || v == 0)
    throw std::invalid_argument("count: param max_entries='" + t + "' is not a positive number");
  return std::size_t(v);
}

conv_kind kind_param(const service_config& c) {
  conv_kind k;
  std::string t = c.param("by", "ip");
  if (!parse_kind(t, k))
    throw std::invalid_argument("count: param by='" + t + "' (expected ip, tcp or udp)");
  return k;
}

class count_service final : public service {
 public:
  explicit count_service(const service_config& c)
      : records_(c.param("input", "packet") == "record"),
        convs_(kind_param(c), max_entries_param(c)),
        keys_(max_entries_param(c)) {
    auto in = c.param("input", "packet");
    if (in != "packet" && in != "record")
      throw std::invalid_argument("count: param input='" + in + "' (expected packet or record)");
  }

  void handle(const request& req, service_context& ctx) override {
    if (!records_) {
      auto p = parse_frame(req.payload);
      if (p)
        convs_.add(*p);
      else
        convs_.add(req.payload);  // counts it as skipped
      ctx.emit(p ? p->tuple.hash() : 0, req.payload);
      return;
    }
    record r;
    try {
      r = decode_record(req.payload);
    } catch (const record_error& e) {
      ++bad_;
      ctx.reject(std::string("count: bad record: ") + e.what());
      return;
    }
    ++items_;
    bool inserted = false;
    std::size_t s = keys_.slot(r.key, inserted);
    if (s == keys_.npos) {
      ctx.reject("count: table full (max_entries)");
      return;
    }
    std::uint64_t n = ++keys_.value(s);
    r.value = double(n);
    out_.clear();
    encode(r, out_);
    ctx.emit(r.key, out_);
  }

  void flush(service_context& ctx) override {
    auto& st = ctx.state();
    state::typed_table<std::uint64_t, std::uint64_t> keys(st.get_table("count.keys"));
    auto& conv = st.get_table("count.conv");
    if (records_) {
      keys_.drain_dirty([&](std::size_t i) { keys.put(keys_.key(i), keys_.value(i)); });
    } else {
      auto& t = convs_.table();
      t.drain_dirty([&](std::size_t i) { conv.put(state::as_bytes(t.key(i)), state::as_bytes(t.value(i))); });
    }
    auto& meta = st.get_table("count.meta");
    meta.put("items", state::as_bytes(records_ ? items_ : convs_.frames()));
    meta.put("skipped", state::as_bytes(records_ ? std::uint64_t(0) : convs_.skipped()));
    meta.put("bad", state::as_bytes(bad_));
  }

  void on_start(service_context& ctx) override {
    auto& st = ctx.state();
    if (records_) {
      st.get_table("count.keys").for_each([&](std::string_view k, std::string_view v) {
        bool inserted = false;
        std::size_t s = keys_.slot(state::from_bytes<std::uint64_t>(k), inserted);
        if (s != keys_.npos)
          keys_.value(s) = state::from_bytes<std::uint64_t>(v);
      });
      keys_.drain_dirty([](std::size_t) {});
    } else {
      st.get_table("count.conv").for_each([&](std::string_view k, std::string_view v) {
        convs_.restore(state::from_bytes<conv_key>(k), state::from_bytes<conv_counts>(v));
      });
      convs_.table().drain_dirty([](std::size_t) {});
    }
    auto& meta = st.get_table("count.meta");
    auto u64 = [&](const char* name) {
      auto v = meta.get(name);
      return v ? state::from_bytes<std::uint64_t>(*v) : 0;
    };
    items_ = u64("items");
    bad_ = u64("bad");
    if (!records_)
      convs_.set_frames(u64("items"), u64("skipped"));
  }

 private:
  bool records_;
  conversation_counter convs_;
  bitmap_counter<std::uint64_t, std::uint64_t> keys_;
  std::uint64_t items_ = 0;
  std::uint64_t bad_ = 0;
  bytes out_;
};

bytes synthetic(std::size_t size, std::mt19937_64& rng) {
  // One of 4096 conversations between inside hosts and servers.
  std::uint64_t flow = rng() % 4096;
  return build_udp_frame(0x0a000000u + std::uint32_t(flow), 0xc6336400u + std::uint32_t(flow % 64),
                         std::uint16_t(20000 + flow), 443, std::max<std::size_t>(size, 42));
}

const char* usage =
    "usage: e3 svc count --pcap FILE [--by ip|tcp|udp]\n"
    "  prints A<TAB>B<TAB>frames A->B<TAB>frames B->A<TAB>frames total per conversation, busiest first\n"
    "  (A = the source of the conversation's first packet), then a '#' summary line\n";

int svc_main(int argc, char** argv) {
  svc_args args{{"by", "ip"}};
  if (auto code = read_svc_args(argc, argv, "count", usage, {"--pcap", "--by"}, args))
    return *code;
  std::string pcap = args["pcap"], by = args["by"];
  conv_kind kind;
  if (!parse_kind(by, kind)) {
    std::cerr << "e3 svc count: --by '" << by << "' (expected ip, tcp or udp)\n";
    return 2;
  }
  if (pcap.empty()) {
    std::cerr << "e3 svc count: --pcap FILE is required\n" << usage;
    return 2;
  }
  std::vector<captured_packet> packets;
  try {
    packets = read_pcap(pcap);
  } catch (const pcap_error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  conversation_counter counter(kind);
  for (const auto& p : packets)
    counter.add(p.data);
  const auto& t = counter.table();
  std::vector<std::size_t> slots;
  t.for_each([&](std::size_t i) { slots.push_back(i); });
  std::sort(slots.begin(), slots.end(), [&](std::size_t x, std::size_t y) {
    const auto &a = t.value(x), &b = t.value(y);
    return a.total() != b.total() ? a.total() > b.total() : a.first_seen < b.first_seen;
  });
  std::string out;
  for (std::size_t s : slots) {
    out += conversation_line(t.key(s), t.value(s));
    out += '\n';
  }
  std::cout << out << "# by=" << to_string(kind) << " frames=" << counter.frames()
            << " counted=" << counter.frames() - counter.skipped() - t.overflow()
            << " skipped=" << counter.skipped() << " conversations=" << t.size() << "\n";
  return 0;
}

}  // namespace

void register_count(service_registry& r) {
  service_kind k;
  k.name = "count";
  k.table1_name = "Count";
  k.summary = "per-conversation (or per-record-key) frequency counting on a bitmap-indexed table; passes input on";
  k.stateful = true;
  k.input = input_format::packet;
  k.make = [](const service_config& c) -> std::unique_ptr<service> { return std::make_unique<count_service>(c); };
  k.synthetic_request = synthetic;
  k.svc_main = svc_main;
  r.add(std::move(k));
}

}  // namespace e3::services
