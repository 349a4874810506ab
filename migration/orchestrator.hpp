// The data-plane orchestrator (§3.4): digests node health reports (or 16-byte heartbeats), runs
// the overload detectors, picks the victim and its destination host, and applies hysteresis so
// services do not flap; it tracks where instances are as migrations finish.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "migration/cold_migration.hpp"
#include "migration/detectors.hpp"
#include "migration/report.hpp"
#include "scheduler/placement.hpp"

namespace e3::mig {

/// Why an instance is to move.
enum class trigger : std::uint8_t {
  host_starvation,   ///< standing traffic-manager queue with under-used ports (§3.4)
  service_overload,  ///< a service's execution time rose above its EMA (§3.4)
  reclaim,           ///< moving an evicted instance back to its SmartNIC (optional, see reclaim_config)
};

/// Number of trigger values.
inline constexpr std::size_t trigger_count = 3;

/// "host starvation", "service overload", "reclaim".
std::string_view to_string(trigger t);

/// A migration decision: run a cold_migration for it (plan()), then tell the orchestrator how
/// it ended (migration_finished()).
struct decision {
  std::uint32_t instance = 0;   ///< the victim (orchestrator instance id)
  topo::node_id from = 0;       ///< where it runs
  topo::node_id to = 0;         ///< where it goes
  trigger why = trigger::host_starvation;  ///< what tripped (starvation wins when both did)
  std::int64_t at_ns = 0;       ///< time of the report that tripped
  int level = -1;               ///< hierarchical level of `to` seen from `from` (§3.3; 1 = same server)
  double cpu_share = -1;        ///< the victim's CPU share in that report (-1: from a heartbeat, unknown)
  std::uint32_t tm_queue = 0;   ///< the node's traffic-manager queue in that report
  double link_use = 0;          ///< max(in, out) / capacity in that report
  double slowdown = 0;          ///< worst exec / EMA among the node's measured services (0: none)
};

/// Hysteresis, so a service does not flap between nodes. With the detectors' k consecutive
/// reports (detectors.hpp) these make every move the answer to a sustained condition.
///
/// Defaults, and why (reports come every 50 ms):
/// - min_dwell_ns = 5 s: an instance that arrived on a node by migration stays at least this
///   long. The runtime's EMA (weight 0.2 per report) forgets a step within ~10 reports (0.5 s),
///   so after 5 s (100 reports) the service's figures describe its new node, not the move.
///   Initial placement counts as an arrival at orchestrator::add_app's `placed_at_ns`.
/// - cooldown_ns = 10 s: after any attempt (completed, rolled back or failed) the instance is
///   not chosen again for this long; a failing migration therefore retries at most every 10 s,
///   and each attempt's blackout (10s–100s of ms) costs at most ~1 % of its time.
/// - node_settle_ns = 1 s: after a decision on a node, no further decision on that node (and its
///   streaks restart) until the migration (tens to hundreds of ms) had its effect: otherwise one
///   overload would evict every service of the node, one per report.
struct hysteresis_config {
  std::int64_t min_dwell_ns = 5'000'000'000;    ///< minimum stay on a node after arriving
  std::int64_t cooldown_ns = 10'000'000'000;    ///< pause after each migration attempt
  std::int64_t node_settle_ns = 1'000'000'000;  ///< pause between decisions on one node
};

/// Moving an evicted instance back to the SmartNIC it was evicted from, when that SmartNIC has
/// long been healthy and the instance's peak load would fit there with headroom. §3.4 only moves
/// services to the host; E3 is about requests per joule, and a transient overload otherwise
/// leaves services on the (less efficient) host forever. OFF by default, to do what the paper
/// does. Needs full reports from hosts too (a heartbeat carries no per-instance load).
///
/// A reclaim happens on a report from the home SmartNIC X when: X's last `quiet_reports`
/// reports were all healthy (no detector hit, utilisation <= max_utilisation); and X's peak
/// utilisation plus the instance's peak CPU demand, converted to X's cores with its kind's
/// profile, is at most max_utilisation — both peaks taken over the last one to two windows of
/// `quiet_reports` reports, so an oscillating load is judged by its crests, not its troughs;
/// and the instance was observed on its current node for at least a whole window (no judging a
/// load not yet seen); and it passes the hysteresis and the scheduler's admissibility (capacity).
struct reclaim_config {
  bool enabled = false;               ///< off: instances only ever move to hosts (§3.4)
  std::uint32_t quiet_reports = 600;  ///< healthy reports needed (600 = 30 s), and the peak window
  double max_utilisation = 0.5;       ///< the SmartNIC's projected peak utilisation must stay at or below this
};

/// Everything the orchestrator is configured with.
struct orchestrator_config {
  starvation_config starvation;   ///< host-starvation detector
  overload_config overload;       ///< service-overload detector
  hysteresis_config hysteresis;   ///< dwell, cooldown, settle
  reclaim_config reclaim;         ///< moving evicted instances back (off by default)
  sched::constraints constraints; ///< what a destination must satisfy (the scheduler's admissibility)
};

/// Throws std::invalid_argument naming the field when a setting is out of range.
void validate(const orchestrator_config& c);

/// What the orchestrator counted: every input it ignored says why here.
struct orchestrator_counters {
  std::uint64_t reports = 0;              ///< full reports digested (including ignored ones)
  std::uint64_t heartbeats = 0;           ///< heartbeats digested (including ignored ones)
  std::array<std::uint64_t, heartbeat_error_count> decode_errors{};  ///< rejected heartbeat bytes, by heartbeat_error
  std::uint64_t unknown_node = 0;         ///< a report or heartbeat from a node id the cluster lacks
  std::uint64_t stale = 0;                ///< not newer than the node's last (time or sequence number)
  std::uint64_t invalid_reports = 0;      ///< a node field negative or not finite: report ignored
  std::uint64_t invalid_instances = 0;    ///< an instance entry with a negative or non-finite figure: entry ignored
  std::uint64_t unknown_instance = 0;     ///< an instance id the orchestrator does not know: entry ignored
  std::uint64_t misplaced_instance = 0;   ///< an instance reported by another node than its own, or with another kind: entry ignored
  std::uint64_t slot_mismatch = 0;        ///< a heartbeat's services count differs from the view's: no victim chosen
  std::uint64_t starvation_trips = 0;     ///< reports on which the starvation detector was tripped
  std::uint64_t overload_trips = 0;       ///< reports on which an overload detector was tripped
  std::uint64_t host_trips = 0;           ///< trips on hosts (§3.4 migrates off SmartNICs only): no action
  std::uint64_t settling = 0;             ///< trips during a node's settle time: no action
  std::uint64_t no_eligible_victim = 0;   ///< trips where every instance was pinned, migrating, cooling down or dwelling
  std::uint64_t no_destination = 0;       ///< trips where no admissible host had room for any eligible victim
  std::array<std::uint64_t, trigger_count> decisions{};  ///< decisions made, by trigger
  std::uint64_t completed = 0;            ///< migration_finished: completed
  std::uint64_t rolled_back = 0;          ///< migration_finished: rolled back
  std::uint64_t failed = 0;               ///< migration_finished: failed
  std::uint64_t unexpected_finish = 0;    ///< migration_finished for an instance that was not migrating
};

/// The closest host that may take instance `i` of `dag` now: the hierarchical levels of `from`
/// (§3.3) in order — so the host of the same server first (§3.4) — and in the first level with
/// any host for which sched::admissible() holds (capacity checked), the one with the most free
/// cores (a relieving move should leave room), then the lowest id. `node_of` and `placed` are
/// the app's placement as admissible() takes them. Returns the host and its level, or nothing.
struct destination {
  topo::node_id node = 0;  ///< the host
  int level = -1;          ///< its level from `from`
};
/// See destination.
std::optional<destination> closest_host(const sched::app_dag& dag, std::uint32_t i, topo::node_id from,
                                        const sched::cluster_view& view, const sched::constraints& c,
                                        const std::vector<topo::node_id>& node_of, const std::vector<char>& placed);

/// The data-plane orchestrator. Feed it one node's report (or heartbeat) at a time, in time
/// order per node; it answers with at most one migration decision. When it decides, it books the
/// victim's resources at the destination in its cluster view and marks the victim migrating;
/// migration_finished() then moves the instance in its view (or gives the booking back).
///
/// Victim choice (§3.4): on a tripped SmartNIC, the eligible instance with the highest CPU share
/// in the report (ties: lowest instance id), that has a destination host (closest_host); if the
/// highest has none, the next. Eligible: migratable (set_migratable), allowed on a host (not
/// smartnic_only), not migrating, out of its cooldown and past its minimum dwell. A host-only
/// instance found on a SmartNIC is eligible: the move takes it where it must be. Only SmartNICs
/// are relieved: trips on hosts are counted and left alone.
///
/// Deterministic: the same inputs in the same order give the same decisions. Time is only what
/// the reports say (and migration_finished's `now_ns`). Not thread-safe: one orchestrator is
/// driven by one thread (the resource controller's actor, the simulator, a test).
class orchestrator {
 public:
  /// An orchestrator over `cluster` with `view` — the free resources after every app already
  /// placed was booked (as hcm_place leaves it). Throws std::invalid_argument on a bad config or
  /// a view of another size than the cluster.
  orchestrator(const topo::cluster& cluster, sched::cluster_view view, orchestrator_config config = {});

  /// Adds an app placed by `p`; its instances get ids base + DAG node id, where base (returned)
  /// is the number of instances added before. Initial placement counts as an arrival at
  /// `placed_at_ns` for the minimum dwell. Throws std::invalid_argument when `p` does not fit `dag`.
  std::uint32_t add_app(const sched::app_dag& dag, const sched::placement& p, std::int64_t placed_at_ns);

  /// Marks an instance as movable or not (default: movable). A pinned instance is never a victim.
  void set_migratable(std::uint32_t instance, bool migratable);
  /// Marks a node up or down (failover manager); a down node is never a destination.
  void set_node_up(topo::node_id node, bool up);

  /// Digests one node's full report; returns a decision when one is made.
  std::optional<decision> on_report(const node_report& r);
  /// Digests one SmartNIC heartbeat received at `now_ns`; returns a decision when one is made.
  /// The victim is the heartbeat's hottest slot, else its second, when eligible.
  std::optional<decision> on_heartbeat(const heartbeat& hb, std::int64_t now_ns);
  /// Decodes 16 heartbeat bytes (strictly, counting errors) and digests them.
  std::optional<decision> on_heartbeat_bytes(std::span<const std::uint8_t> bytes, std::int64_t now_ns);

  /// Tells how a decided migration ended, at `now_ns`. completed: the instance now lives at the
  /// decision's destination (its source resources are given back); rolled_back or failed: it
  /// stays at its source (the destination booking is given back). Either way its cooldown starts.
  /// Returns false (and counts it) when the instance was not migrating.
  bool migration_finished(std::uint32_t instance, migration_outcome outcome, std::int64_t now_ns);

  /// The plan a cold_migration needs for `d` (the instance's kind, source and destination).
  migration_plan plan(const decision& d) const;

  /// Where instance `i` runs according to the orchestrator.
  topo::node_id node_of(std::uint32_t i) const { return inst_[i].node; }
  /// Whether instance `i` is migrating now.
  bool migrating(std::uint32_t i) const { return inst_[i].migrating; }
  /// The instances on `node`, ascending (the order heartbeat slots refer to).
  std::span<const std::uint32_t> instances_on(topo::node_id node) const { return on_node_[node]; }
  /// Number of instances known.
  std::size_t instance_count() const { return inst_.size(); }
  /// The cluster view with the bookings of decided migrations.
  const sched::cluster_view& view() const { return view_; }
  /// The configuration.
  const orchestrator_config& config() const { return cfg_; }
  /// What was counted so far.
  const orchestrator_counters& counters() const { return counters_; }

 private:
  static constexpr topo::node_id no_node = std::numeric_limits<topo::node_id>::max();
  static constexpr std::int64_t long_ago = std::numeric_limits<std::int64_t>::min() / 2;

  // Peak over the last one to two windows of `len` samples; `total` counts samples since reset.
  struct peak_window {
    double cur = 0, prev = 0;
    std::uint32_t n = 0;
    std::uint32_t total = 0;
    void add(double x, std::uint32_t len);
    double peak() const { return cur > prev ? cur : prev; }
    void reset() { *this = {}; }
  };
  struct node_rec {
    bool seen = false;
    bool smartnic = false;
    std::uint16_t last_seq = 0;
    std::int64_t last_at = 0;
    std::int64_t settle_until = long_ago;
    streak starve;
    streak overload;  // heartbeat path: the node's worst slowdown
    std::uint32_t quiet = 0;
    peak_window util;
  };
  struct inst_rec {
    std::uint32_t app = 0;
    std::uint32_t dag = 0;
    topo::node_id node = 0;
    topo::node_id target = 0;      // destination while migrating
    topo::node_id home = no_node;  // the SmartNIC it was evicted from (reclaim)
    kind_id kind = no_kind;
    bool migratable = true;
    bool host_ok = true;           // not smartnic_only
    bool migrating = false;
    std::int64_t arrived_at = 0;
    std::int64_t cooldown_until = long_ago;
    streak overload;
    peak_window cpu;               // reclaim: peak CPU share on its current node
  };
  struct app_rec {
    sched::app_dag dag;
    std::vector<topo::node_id> node_of;
    std::vector<char> placed;
  };
  // One victim candidate: instance id and its CPU share in the triggering input.
  struct candidate {
    std::uint32_t id;
    double cpu;
  };

  bool eligible(const inst_rec& I, std::int64_t now) const;
  bool node_known(topo::node_id n);
  std::optional<decision> act(topo::node_id node, std::int64_t now, bool starving, bool overloaded,
                              std::span<const candidate> candidates, decision evidence);
  std::optional<decision> try_reclaim(topo::node_id nic, std::int64_t now);
  void commit(std::uint32_t id, const destination& d, node_rec& N);
  double projected_share(const inst_rec& I, topo::node_id nic) const;
  static void insert_sorted(std::vector<std::uint32_t>& v, std::uint32_t id);
  static void erase_value(std::vector<std::uint32_t>& v, std::uint32_t id);

  const topo::cluster* cluster_;
  sched::cluster_view view_;
  orchestrator_config cfg_;
  std::uint16_t overload_milli_;
  std::vector<node_rec> nodes_;
  std::vector<inst_rec> inst_;
  std::vector<app_rec> apps_;
  std::vector<std::vector<std::uint32_t>> on_node_;
  std::vector<std::vector<std::uint32_t>> evicted_from_;
  std::vector<candidate> scratch_;
  orchestrator_counters counters_;
};

}  // namespace e3::mig
