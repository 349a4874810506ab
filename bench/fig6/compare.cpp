// HCM vs SA vs ILP on one app: placement and evaluation.
#include "bench/fig6/compare.hpp"

#include <chrono>

namespace e3::bench {
namespace {

void score(algo_outcome& out, const sched::app_dag& dag, const topo::cluster& c, const sched::cluster_view& view,
           double design_rps) {
  out.spread = sched::load_spread(view);
  out.design = sched::evaluate(dag, c, out.placement, design_rps);
  out.saturation = sched::evaluate(dag, c, out.placement, out.design.max_throughput_rps);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

app_comparison compare_placements(const sched::app_spec& spec, const topo::cluster& c, const compare_options& o) {
  auto dag = sched::expand(spec);
  app_comparison r;
  r.app = spec.name;
  r.design_rps = spec.rate_rps;
  auto heuristic = [&](algo_outcome& out, std::string algo, auto&& place) {
    out.algo = std::move(algo);
    auto view = sched::cluster_view::empty(c);
    auto t0 = std::chrono::steady_clock::now();
    out.placement = place(view);
    out.place_ms = ms_since(t0);
    out.placed = true;
    out.status = out.placement.overcommitted.empty()
                     ? "ok"
                     : std::to_string(out.placement.overcommitted.size()) + " overcommitted";
    score(out, dag, c, view, spec.rate_rps);
  };
  heuristic(r.hcm, "hcm", [&](sched::cluster_view& v) { return sched::hcm_place(dag, v, o.constraints); });
  heuristic(r.sa, "sa", [&](sched::cluster_view& v) { return sched::sa_place(dag, v, o.constraints, o.sa); });

  r.ilp.algo = "ilp";
  auto view = sched::cluster_view::empty(c);
  auto t0 = std::chrono::steady_clock::now();
  auto res = sched::ilp_place(dag, view, o.constraints, o.ilp);
  r.ilp.place_ms = ms_since(t0);
  r.ilp.status = sched::to_string(res.status);
  r.ilp.placed = sched::has_placement(res.status);
  if (r.ilp.placed) {
    r.ilp.placement = std::move(res.placed);
    score(r.ilp, dag, c, view, spec.rate_rps);
  }
  return r;
}

}  // namespace e3::bench
