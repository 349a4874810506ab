// scheduler/: the control-plane manager (§3.3): where every microservice instance runs.
//
// It owns the placement problem — an app's instance DAG (expanded from a service-level spec),
// a view of the cluster (free cores, memory and bandwidth per node, runtime statistics such as
// outstanding requests) and constraints (capacity; host-only services such as SQL; no replica
// in its primary's fault domain) — the placement algorithms (HCM, Algorithm 1), and the
// evaluation of a placement (load per node, link kind and latency of every edge, modelled power
// and requests per joule).
//
// Guarantees: pure and deterministic (no clocks, no randomness without a caller's seed, no
// I/O); the same inputs give the same placement in the live runtime, the simulator and tests.
// Units: µs, W, MB, Gb/s, requests/s. Power and energy figures are MODELLED. Thread-safety:
// functions are reentrant; a cluster_view must not be shared between concurrent placements.
#pragma once

#include "scheduler/app.hpp"
#include "scheduler/evaluate.hpp"
#include "scheduler/hcm.hpp"
#include "scheduler/placement.hpp"
