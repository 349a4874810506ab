// The cold-migration state machine and the snapshot digest.
#include "migration/cold_migration.hpp"

#include <cstring>
#include <limits>
#include <utility>

namespace e3::mig {

namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

bool protocol_step(migration_step s) { return std::size_t(s) < protocol_steps; }

std::string hex(std::uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    s[std::size_t(i)] = digits[v & 15];
  return s;
}

}  // namespace

std::string_view to_string(migration_step s) {
  switch (s) {
    case migration_step::push_kind: return "push kind";
    case migration_step::stop_source: return "stop source";
    case migration_step::ship_state: return "ship state";
    case migration_step::await_confirmation: return "await confirmation";
    case migration_step::restart: return "restart";
    case migration_step::done: return "done";
    case migration_step::rolling_back: return "rolling back";
    case migration_step::rolled_back: return "rolled back";
    case migration_step::failed: return "failed";
  }
  return "?";
}

std::string_view to_string(migration_outcome o) {
  switch (o) {
    case migration_outcome::in_progress: return "in progress";
    case migration_outcome::completed: return "completed";
    case migration_outcome::rolled_back: return "rolled back";
    case migration_outcome::failed: return "failed";
  }
  return "?";
}

std::string_view to_string(event_kind k) {
  switch (k) {
    case event_kind::kind_ready: return "kind ready";
    case event_kind::kind_refused: return "kind refused";
    case event_kind::stopped: return "stopped";
    case event_kind::stop_failed: return "stop failed";
    case event_kind::state_shipped: return "state shipped";
    case event_kind::ship_failed: return "ship failed";
    case event_kind::state_confirmed: return "state confirmed";
    case event_kind::state_rejected: return "state rejected";
    case event_kind::started: return "started";
    case event_kind::start_failed: return "start failed";
  }
  return "?";
}

std::string_view to_string(action_kind k) {
  switch (k) {
    case action_kind::push_kind: return "push kind";
    case action_kind::hold_requests: return "hold requests";
    case action_kind::stop_instance: return "stop instance";
    case action_kind::ship_state: return "ship state";
    case action_kind::start_instance: return "start instance";
    case action_kind::release_requests: return "release requests";
    case action_kind::update_routes: return "update routes";
    case action_kind::drop_source_state: return "drop source state";
    case action_kind::discard_at_destination: return "discard at destination";
    case action_kind::fail_requests: return "fail requests";
  }
  return "?";
}

std::uint64_t state_digest(std::string_view bytes) {
  // Four independent multiply-rotate lanes over 8-byte little-endian words, folded together
  // with the length, then a final avalanche so every input bit reaches every output bit.
  constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full, k3 = 0x165667B19E3779F9ull;
  auto rotl = [](std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  auto round = [&](std::uint64_t acc, std::uint64_t w) { return rotl(acc + w * k2, 31) * k1; };
  auto load = [](const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  const char* p = bytes.data();
  std::size_t n = bytes.size(), i = 0;
  std::uint64_t a = k1 + k2, b = k2, c = 0, d = 0 - k1;
  for (; i + 32 <= n; i += 32) {
    a = round(a, load(p + i));
    b = round(b, load(p + i + 8));
    c = round(c, load(p + i + 16));
    d = round(d, load(p + i + 24));
  }
  std::uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + k3 * std::uint64_t(n);
  for (; i + 8 <= n; i += 8)
    h = rotl(h ^ round(0, load(p + i)), 27) * k1 + k3;
  for (; i < n; ++i)
    h = rotl(h ^ (std::uint64_t(std::uint8_t(p[i])) * k3), 11) * k1;
  h ^= h >> 33;
  h *= k2;
  h ^= h >> 29;
  h *= k3;
  h ^= h >> 32;
  return h;
}

cold_migration::cold_migration(migration_plan plan, migration_timeouts timeouts)
    : plan_(std::move(plan)), timeouts_(timeouts), deadline_(never) {
  result_.serving_node = plan_.from;
}

void cold_migration::enter(migration_step s, std::int64_t now, std::int64_t timeout) {
  if (protocol_step(step_))
    result_.step_ns[std::size_t(step_)] += now - step_began_;
  step_ = s;
  step_began_ = now;
  deadline_ = timeout >= never - now ? never : now + timeout;
}

void cold_migration::finish(migration_outcome o, std::int64_t now) {
  result_.outcome = o;
  result_.finished_ns = now;
  deadline_ = never;
  if (result_.stopped_ns >= 0)
    result_.blackout_ns = (result_.restarted_ns >= 0 ? result_.restarted_ns : now) - result_.stopped_ns;
}

std::vector<migration_action> cold_migration::start(std::int64_t now_ns) {
  if (started_)
    return {};
  started_ = true;
  result_.started_ns = now_ns;
  step_began_ = now_ns;
  deadline_ = timeouts_.push_kind_ns >= never - now_ns ? never : now_ns + timeouts_.push_kind_ns;
  return {{action_kind::push_kind, plan_.to, 0}};
}

std::vector<migration_action> cold_migration::unexpected() {
  ++unexpected_;
  return {};
}

std::vector<migration_action> cold_migration::fail(std::string reason, std::int64_t now) {
  if (step_ == migration_step::rolling_back) {
    // The source could not restart it either: the instance is down; report the held requests lost.
    result_.reason += "; rollback: " + reason;
    enter(migration_step::failed, now, never);
    finish(migration_outcome::failed, now);
    return {{action_kind::fail_requests, plan_.from, 0}};
  }
  result_.failed_step = step_;
  result_.reason = std::string(to_string(step_)) + ": " + reason;
  if (result_.stopped_ns < 0) {
    // Nothing was stopped or held: only the destination has something to clean up.
    enter(migration_step::rolled_back, now, never);
    result_.serving_node = plan_.from;
    finish(migration_outcome::rolled_back, now);
    return {{action_kind::discard_at_destination, plan_.to, 0}};
  }
  enter(migration_step::rolling_back, now, timeouts_.start_ns);
  return {{action_kind::discard_at_destination, plan_.to, 0}, {action_kind::start_instance, plan_.from, 0}};
}

std::vector<migration_action> cold_migration::on_tick(std::int64_t now_ns) {
  if (!started_ || finished() || now_ns < deadline_)
    return {};
  return fail("timed out after " + std::to_string(now_ns - step_began_) + " ns", now_ns);
}

std::vector<migration_action> cold_migration::maybe_confirmed(std::int64_t now) {
  if (!(shipped_ && confirmed_))
    return {};
  if (confirmed_bytes_ != result_.state_bytes || confirmed_digest_ != result_.state_digest)
    return fail("state corrupt: the source shipped " + std::to_string(result_.state_bytes) + " bytes (digest " +
                    hex(result_.state_digest) + "), the destination imported " + std::to_string(confirmed_bytes_) +
                    " bytes (digest " + hex(confirmed_digest_) + ")",
                now);
  enter(migration_step::restart, now, timeouts_.start_ns);
  return {{action_kind::start_instance, plan_.to, 0}};
}

std::vector<migration_action> cold_migration::on_event(const migration_event& e, std::int64_t now_ns) {
  if (!started_ || finished())
    return unexpected();
  if (now_ns >= deadline_) {
    // The step timed out before this event arrived: fail it first, then see whether the event
    // still means something in the rollback.
    auto acts = on_tick(now_ns);
    auto more = on_event(e, now_ns);
    acts.insert(acts.end(), more.begin(), more.end());
    return acts;
  }
  const auto from = plan_.from, to = plan_.to;
  auto why = [&](const char* what) { return e.reason.empty() ? std::string(what) : std::string(what) + ": " + e.reason; };
  switch (step_) {
    case migration_step::push_kind:
      if (e.node != to)
        break;
      if (e.kind == event_kind::kind_refused)
        return fail(why("destination refused the kind"), now_ns);
      if (e.kind != event_kind::kind_ready)
        break;
      result_.stopped_ns = now_ns;
      enter(migration_step::stop_source, now_ns, timeouts_.stop_ns);
      return {{action_kind::hold_requests, from, 0}, {action_kind::stop_instance, from, 0}};
    case migration_step::stop_source:
      if (e.node != from)
        break;
      if (e.kind == event_kind::stop_failed)
        return fail(why("source could not stop the instance"), now_ns);
      if (e.kind != event_kind::stopped)
        break;
      enter(migration_step::ship_state, now_ns, timeouts_.ship_ns);
      return {{action_kind::ship_state, from, to}};
    case migration_step::ship_state:
    case migration_step::await_confirmation:
      if (e.node == from && step_ == migration_step::ship_state) {
        if (e.kind == event_kind::ship_failed)
          return fail(why("source could not ship the state"), now_ns);
        if (e.kind == event_kind::state_shipped) {
          shipped_ = true;
          result_.state_bytes = e.bytes;
          result_.state_digest = e.digest;
          result_.state_entries = e.entries;
          enter(migration_step::await_confirmation, now_ns, timeouts_.confirm_ns);
          return maybe_confirmed(now_ns);
        }
      }
      if (e.node == to) {
        if (e.kind == event_kind::state_rejected)
          return fail(why("destination rejected the state"), now_ns);
        if (e.kind == event_kind::state_confirmed && !confirmed_) {
          // The confirmation may overtake the source's report: keep it until both are in.
          confirmed_ = true;
          confirmed_bytes_ = e.bytes;
          confirmed_digest_ = e.digest;
          return maybe_confirmed(now_ns);
        }
      }
      break;
    case migration_step::restart:
      if (e.node != to)
        break;
      if (e.kind == event_kind::start_failed)
        return fail(why("destination could not start the instance"), now_ns);
      if (e.kind != event_kind::started)
        break;
      result_.restarted_ns = now_ns;
      result_.serving_node = to;
      enter(migration_step::done, now_ns, never);
      finish(migration_outcome::completed, now_ns);
      return {{action_kind::release_requests, to, 0}, {action_kind::update_routes, to, 0},
              {action_kind::drop_source_state, from, 0}};
    case migration_step::rolling_back:
      if (e.node != from)
        break;
      if (e.kind == event_kind::start_failed)
        return fail(why("source could not restart the instance"), now_ns);
      if (e.kind != event_kind::started)
        break;
      result_.restarted_ns = now_ns;
      result_.serving_node = from;
      enter(migration_step::rolled_back, now_ns, never);
      finish(migration_outcome::rolled_back, now_ns);
      return {{action_kind::release_requests, from, 0}};
    case migration_step::done:
    case migration_step::rolled_back:
    case migration_step::failed:
      break;
  }
  return unexpected();
}

}  // namespace e3::mig
