// The supervisor actor: child bookkeeping, restart strategies, intensity window, escalation.
#include "actors/supervisor.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(e3::rt::child_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<e3::rt::child_info>)

namespace e3::rt {

namespace {

using sup_kill_atom = caf::atom_constant<caf::atom("e3s_kill")>;
using sup_stop_atom = caf::atom_constant<caf::atom("e3s_stop")>;
using sup_start_atom = caf::atom_constant<caf::atom("e3s_start")>;
using sup_add_atom = caf::atom_constant<caf::atom("e3s_add")>;
using sup_remove_atom = caf::atom_constant<caf::atom("e3s_remove")>;
using sup_which_atom = caf::atom_constant<caf::atom("e3s_which")>;
using sup_retry_atom = caf::atom_constant<caf::atom("e3s_retry")>;
using sup_timeout_atom = caf::atom_constant<caf::atom("e3s_tout")>;

/// Error category of escalation exit reasons; the context holds the supervisor's name.
constexpr caf::atom_value escalation_category = caf::atom("e3_sup");
constexpr std::uint8_t escalation_code = 1;

caf::error make_escalation(const std::string& supervisor) {
  return caf::error{escalation_code, escalation_category, caf::make_message(supervisor)};
}

std::string render_escalation(const caf::message& ctx) {
  if (ctx.match_elements<std::string>())
    return "escalated by supervisor '" + ctx.get_as<std::string>(0) + "'";
  return "escalated by a supervisor";
}

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// One child: its spec and the bookkeeping the strategies need.
struct child_entry {
  child_spec spec;
  caf::actor actor;            ///< the running incarnation, or invalid
  bool pending = false;        ///< start once no child is terminating
  bool pending_restart = false;  ///< the pending start is a restart (event + counter)
  int restarts = 0;
};

/// An incarnation the supervisor has told to stop and whose down message it waits for.
struct terminating_child {
  caf::actor actor;
  std::string name;
  std::string why;
  bool forced = false;  ///< killed after its shutdown time ran out
};

/// The supervisor's state and logic; shared by the behavior and the exit attachable.
class supervisor_impl : public std::enable_shared_from_this<supervisor_impl> {
 public:
  supervisor_impl(caf::event_based_actor* self, supervisor_spec spec)
      : self_(self),
        name_(std::move(spec.name)),
        strategy_(spec.strategy),
        limits_(spec.limits),
        on_event_(std::move(spec.on_event)),
        initial_(std::move(spec.children)) {}

  caf::behavior make_behavior() {
    auto me = shared_from_this();
    // Whatever way the supervisor ends (kill, exception, unreachable), its subtree goes too.
    self_->attach_functor([me](const caf::error&) { me->kill_everything(); });
    self_->set_down_handler([me](caf::down_msg& dm) { me->on_down(dm); });
    self_->set_exit_handler([me](caf::exit_msg& em) { me->on_exit_msg(em); });
    self_->set_error_handler([me](caf::error& err) {
      me->emit("", supervisor_event_kind::rejected,
               "unexpected error message: " + me->self_->system().render(err));
    });
    self_->set_default_handler(
        [me](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
          me->emit("", supervisor_event_kind::rejected,
                   "unexpected message: " + caf::to_string(x.content()));
          return caf::sec::unexpected_message;
        });
    for (auto& spec : initial_)
      add(std::move(spec), false);
    initial_.clear();
    reconcile();
    return {
        [me](sup_kill_atom, const std::string& name) { me->kill(name); },
        [me](sup_stop_atom, const std::string& name) { me->stop(name); },
        [me](sup_start_atom, const std::string& name) { me->start(name); },
        [me](sup_add_atom, child_spec& spec) { me->add(std::move(spec)); },
        [me](sup_remove_atom, const std::string& name) { me->remove(name); },
        [me](sup_which_atom) { return me->which(); },
        [me](sup_retry_atom) {
          me->retry_scheduled_ = false;
          me->reconcile();
        },
        [me](sup_timeout_atom, std::uint64_t id) { me->on_stop_timeout(id); },
    };
  }

 private:
  // -- events ---------------------------------------------------------------------------------

  void emit(const std::string& child, supervisor_event_kind what, std::string reason) {
    if (!on_event_)
      return;
    on_event_(supervisor_event{name_, child, what, std::move(reason)});
  }

  // -- lookup ---------------------------------------------------------------------------------

  child_entry* find(const std::string& name) {
    for (auto& c : children_)
      if (c.spec.name == name)
        return &c;
    return nullptr;
  }

  child_entry* find_or_reject(const std::string& name, const char* op) {
    if (shutting_down_) {
      emit(name, supervisor_event_kind::rejected,
           std::string(op) + ": supervisor is shutting down");
      return nullptr;
    }
    auto* c = find(name);
    if (c == nullptr)
      emit(name, supervisor_event_kind::rejected, std::string(op) + ": unknown child");
    return c;
  }

  // -- control messages -----------------------------------------------------------------------

  void add(child_spec spec, bool start_now = true) {
    if (shutting_down_) {
      emit(spec.name, supervisor_event_kind::rejected, "add_child: supervisor is shutting down");
      return;
    }
    if (spec.name.empty()) {
      emit(spec.name, supervisor_event_kind::rejected, "add_child: empty child name");
      return;
    }
    if (!spec.start) {
      emit(spec.name, supervisor_event_kind::rejected, "add_child: no start function");
      return;
    }
    if (find(spec.name) != nullptr) {
      emit(spec.name, supervisor_event_kind::rejected, "add_child: a child with this name exists");
      return;
    }
    child_entry c;
    c.spec = std::move(spec);
    c.pending = true;
    children_.push_back(std::move(c));
    if (start_now)
      reconcile();
  }

  void kill(const std::string& name) {
    auto* c = find_or_reject(name, "kill_child");
    if (c == nullptr)
      return;
    if (!c->actor) {
      emit(name, supervisor_event_kind::rejected, "kill_child: child is not running");
      return;
    }
    // The down message then goes through on_down like any crash.
    self_->send_exit(c->actor, caf::exit_reason::kill);
  }

  void stop(const std::string& name) {
    auto* c = find_or_reject(name, "stop_child");
    if (c == nullptr)
      return;
    c->pending = false;
    c->pending_restart = false;
    if (c->actor)
      stop_instance(*c, "stop_child");
  }

  void start(const std::string& name) {
    auto* c = find_or_reject(name, "start_child");
    if (c == nullptr)
      return;
    if (c->actor) {
      emit(name, supervisor_event_kind::rejected, "start_child: child is already running");
      return;
    }
    if (c->pending)
      return;
    c->pending = true;
    c->pending_restart = false;
    reconcile();
  }

  void remove(const std::string& name) {
    auto* c = find_or_reject(name, "remove_child");
    if (c == nullptr)
      return;
    if (c->actor)
      stop_instance(*c, "remove_child");
    auto i = children_.begin() + (c - children_.data());
    children_.erase(i);
    emit(name, supervisor_event_kind::removed, "remove_child");
    // Removing a child that blocked the start sequence may let the others proceed.
    reconcile();
  }

  std::vector<child_info> which() const {
    std::vector<child_info> out;
    out.reserve(children_.size());
    for (auto& c : children_)
      out.push_back(child_info{c.spec.name, c.actor, static_cast<bool>(c.actor), c.pending,
                               c.spec.permanent, c.restarts});
    return out;
  }

  // -- deaths ---------------------------------------------------------------------------------

  void on_down(caf::down_msg& dm) {
    auto is_source = [&](const caf::actor& a) { return a && a.address() == dm.source; };
    auto t = std::find_if(terminating_.begin(), terminating_.end(),
                          [&](const terminating_child& x) { return is_source(x.actor); });
    if (t != terminating_.end()) {
      auto why = std::move(t->why);
      if (t->forced)
        why += " (killed: did not stop in time)";
      auto name = std::move(t->name);
      terminating_.erase(t);
      emit(name, supervisor_event_kind::stopped, std::move(why));
      if (terminating_.empty()) {
        if (shutting_down_)
          self_->quit(exit_reason_);
        else
          reconcile();
      }
      return;
    }
    auto c = std::find_if(children_.begin(), children_.end(),
                          [&](const child_entry& x) { return is_source(x.actor); });
    if (c == children_.end())
      return;  // an incarnation we no longer track (removed and already confirmed)
    c->actor = nullptr;
    if (!dm.reason) {
      emit(c->spec.name, supervisor_event_kind::exited, "normal");
      return;
    }
    emit(c->spec.name, supervisor_event_kind::died,
         describe_exit_reason(self_->system(), dm.reason));
    if (!c->spec.permanent)
      return;
    if (add_restart_exceeds_limit()) {
      escalate(c->spec.name);
      return;
    }
    auto idx = static_cast<std::size_t>(c - children_.begin());
    c->pending = true;
    c->pending_restart = true;
    if (strategy_ != restart_strategy::one_for_one) {
      auto why = "restart after '" + c->spec.name + "' died (" +
                 std::string(to_string(strategy_)) + ")";
      std::size_t first = strategy_ == restart_strategy::one_for_all ? 0 : idx + 1;
      // Stop in reverse start order, as OTP does; all stops run concurrently.
      for (std::size_t j = children_.size(); j-- > first;) {
        if (j == idx)
          continue;
        auto& s = children_[j];
        if (!s.actor)
          continue;
        stop_instance(s, why);
        if (s.spec.permanent) {
          s.pending = true;
          s.pending_restart = true;
        }
      }
    }
    reconcile();
  }

  void on_exit_msg(caf::exit_msg& em) {
    if (!em.reason)
      return;  // a normal exit message never stops a supervisor
    begin_shutdown(em.reason, "supervisor shutdown (" +
                                  describe_exit_reason(self_->system(), em.reason) + ")");
  }

  void on_stop_timeout(std::uint64_t id) {
    for (auto& t : terminating_)
      if (t.actor.id() == id && !t.forced) {
        t.forced = true;
        self_->send_exit(t.actor, caf::exit_reason::kill);
      }
  }

  // -- mechanics ------------------------------------------------------------------------------

  /// Tells one running incarnation to stop; its down message completes the stop.
  void stop_instance(child_entry& c, std::string why) {
    auto a = std::move(c.actor);
    c.actor = nullptr;
    auto timeout = c.spec.shutdown;
    terminating_.push_back(terminating_child{a, c.spec.name, std::move(why), false});
    if (timeout.count() <= 0) {  // brutal kill, by the spec: no grace period to report
      self_->send_exit(a, caf::exit_reason::kill);
      return;
    }
    self_->send_exit(a, caf::exit_reason::user_shutdown);
    if (timeout != shutdown_infinity)
      self_->delayed_send(self_, timeout, sup_timeout_atom::value, a.id());
  }

  /// Records a restart at the actor clock's now; whether the window now holds too many.
  bool add_restart_exceeds_limit() {
    auto now = self_->clock().now();
    restart_times_.push_back(now);
    while (!restart_times_.empty() && now - restart_times_.front() >= limits_.period)
      restart_times_.pop_front();
    return static_cast<long>(restart_times_.size()) > static_cast<long>(limits_.intensity);
  }

  /// Starts, in order, every child waiting for a start, once no child is terminating. A start
  /// that fails stops the sequence (later children wait) and is retried through the mailbox;
  /// until that retry message arrives nothing else starts, so each attempt counts exactly once.
  void reconcile() {
    if (shutting_down_ || retry_scheduled_ || !terminating_.empty())
      return;
    for (auto& c : children_) {
      if (!c.pending)
        continue;
      if (try_start(c))
        continue;
      if (!c.spec.permanent) {
        c.pending = false;
        c.pending_restart = false;
        continue;
      }
      if (add_restart_exceeds_limit()) {
        escalate(c.spec.name);
        return;
      }
      c.pending_restart = true;
      retry_scheduled_ = true;
      self_->send(self_, sup_retry_atom::value);
      return;
    }
  }

  bool try_start(child_entry& c) {
    caf::actor a;
    std::string error;
    try {
      a = c.spec.start(self_->system());
    } catch (const std::exception& e) {
      error = std::string("start threw: ") + e.what();
    } catch (...) {
      error = "start threw a non-standard exception";
    }
    if (!a) {
      if (error.empty())
        error = "start returned no actor";
      emit(c.spec.name, supervisor_event_kind::start_failed, std::move(error));
      return false;
    }
    self_->monitor(a);
    c.actor = std::move(a);
    c.pending = false;
    if (c.pending_restart) {
      c.pending_restart = false;
      ++c.restarts;
      emit(c.spec.name, supervisor_event_kind::restarted, "restart #" + std::to_string(c.restarts));
    } else {
      emit(c.spec.name, supervisor_event_kind::started, "");
    }
    return true;
  }

  void escalate(const std::string& child) {
    emit(child, supervisor_event_kind::escalated,
         std::to_string(restart_times_.size()) + " restarts within " + ms_text(limits_.period) +
             " exceed intensity " + std::to_string(limits_.intensity));
    begin_shutdown(make_escalation(name_), "supervisor gave up (escalated)");
  }

  /// Stops every running child (reverse start order), then exits with `reason`.
  void begin_shutdown(caf::error reason, const std::string& why) {
    if (shutting_down_)
      return;
    shutting_down_ = true;
    exit_reason_ = std::move(reason);
    for (auto i = children_.rbegin(); i != children_.rend(); ++i) {
      i->pending = false;
      i->pending_restart = false;
      if (i->actor)
        stop_instance(*i, why);
    }
    if (terminating_.empty())
      self_->quit(exit_reason_);
  }

  /// Runs when the supervisor actor terminates, however it does: kills what is still alive.
  void kill_everything() {
    for (auto& c : children_)
      if (c.actor)
        caf::anon_send_exit(c.actor, caf::exit_reason::kill);
    for (auto& t : terminating_)
      caf::anon_send_exit(t.actor, caf::exit_reason::kill);
    children_.clear();
    terminating_.clear();
    on_event_ = nullptr;
  }

  caf::event_based_actor* self_;
  std::string name_;
  restart_strategy strategy_;
  restart_limits limits_;
  std::function<void(const supervisor_event&)> on_event_;
  std::vector<child_spec> initial_;
  std::vector<child_entry> children_;
  std::vector<terminating_child> terminating_;
  std::deque<caf::actor_clock::time_point> restart_times_;
  bool shutting_down_ = false;
  bool retry_scheduled_ = false;
  caf::error exit_reason_;
};

caf::behavior supervisor_actor(caf::event_based_actor* self, supervisor_spec spec) {
  return std::make_shared<supervisor_impl>(self, std::move(spec))->make_behavior();
}

}  // namespace

std::string_view to_string(restart_strategy s) {
  switch (s) {
    case restart_strategy::one_for_one:
      return "one_for_one";
    case restart_strategy::one_for_all:
      return "one_for_all";
    case restart_strategy::rest_for_one:
      return "rest_for_one";
  }
  return "unknown";
}

std::string_view to_string(supervisor_event_kind k) {
  switch (k) {
    case supervisor_event_kind::started:
      return "started";
    case supervisor_event_kind::restarted:
      return "restarted";
    case supervisor_event_kind::stopped:
      return "stopped";
    case supervisor_event_kind::exited:
      return "exited";
    case supervisor_event_kind::died:
      return "died";
    case supervisor_event_kind::start_failed:
      return "start_failed";
    case supervisor_event_kind::escalated:
      return "escalated";
    case supervisor_event_kind::removed:
      return "removed";
    case supervisor_event_kind::rejected:
      return "rejected";
  }
  return "unknown";
}

std::string to_string(const supervisor_event& e) {
  std::string out = "supervisor '" + e.supervisor + "': ";
  if (!e.child.empty())
    out += "child '" + e.child + "' ";
  out += to_string(e.what);
  if (!e.reason.empty())
    out += " (" + e.reason + ")";
  return out;
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  return sys.spawn(supervisor_actor, std::move(spec));
}

child_spec supervisor_child(supervisor_spec spec) {
  child_spec c;
  c.name = spec.name;
  c.start = [spec = std::move(spec)](caf::actor_system& sys) {
    return spawn_supervisor(sys, spec);
  };
  c.permanent = true;
  c.shutdown = shutdown_infinity;
  return c;
}

void kill_child(const caf::actor& sup, const std::string& child) {
  caf::anon_send(sup, sup_kill_atom::value, child);
}

void stop_child(const caf::actor& sup, const std::string& child) {
  caf::anon_send(sup, sup_stop_atom::value, child);
}

void start_child(const caf::actor& sup, const std::string& child) {
  caf::anon_send(sup, sup_start_atom::value, child);
}

void add_child(const caf::actor& sup, child_spec spec) {
  caf::anon_send(sup, sup_add_atom::value, std::move(spec));
}

void remove_child(const caf::actor& sup, const std::string& child) {
  caf::anon_send(sup, sup_remove_atom::value, child);
}

void shutdown_supervisor(const caf::actor& sup) {
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

std::vector<child_info> which_children(caf::actor_system& sys, const caf::actor& sup,
                                       std::chrono::milliseconds timeout) {
  if (!sup)
    throw std::runtime_error("which_children: invalid supervisor handle");
  caf::scoped_actor self{sys};
  auto handle = self->request(sup, timeout, sup_which_atom::value);
  // Under the deterministic scheduler nobody else runs the supervisor: drive it until idle.
  if (auto* tc = dynamic_cast<caf::scheduler::test_coordinator*>(&sys.scheduler()))
    tc->run();
  std::vector<child_info> out;
  std::string failure;
  handle.receive([&](std::vector<child_info>& xs) { out = std::move(xs); },
                 [&](caf::error& err) { failure = sys.render(err); });
  if (!failure.empty())
    throw std::runtime_error("which_children: supervisor " + std::to_string(sup.id()) +
                             " did not answer: " + failure);
  return out;
}

bool is_escalation(const caf::error& reason) {
  return reason.category() == escalation_category && reason.code() == escalation_code;
}

std::string describe_exit_reason(const caf::actor_system& sys, const caf::error& reason) {
  if (is_escalation(reason))
    return render_escalation(reason.context());
  return sys.render(reason);
}

void add_supervisor_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(escalation_category,
                         [](std::uint8_t, caf::atom_value, const caf::message& ctx) {
                           return render_escalation(ctx);
                         });
}

}  // namespace e3::rt
