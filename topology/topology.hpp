// topology/: the cluster as data — what E3 runs on, and what it costs in watts and dollars.
//
// It owns the hardware profiles of Table 4 and the LiquidIO II SmartNIC; compute nodes (a host
// or a SmartNIC, each with its own IP); clusters (the paper's presets and generated FatTrees);
// the physical paths between nodes and their modelled latency; the hierarchical levels HCM
// searches (§3.3); ECMP ingress (§3.2); the power model (Tables 1 and 4) and the cost model
// (§5.5); the per-kind service profiles (Table 1, or measured here); and how a node's cores take
// work (core_queue.hpp: the queue model the runtime's emulation and the simulator share).
//
// Guarantees: pure, deterministic data and functions; no I/O, no clocks, no threads. Units:
// µs for time, W for power, MB for memory, Gb/s for bandwidth, $ for cost. Every power, energy
// or cost figure derived here is MODELLED, not measured: reports must say so.
// Thread-safety: const access is safe from many threads; liveness setters are not.
#pragma once

#include "topology/cluster.hpp"
#include "topology/core_queue.hpp"
#include "topology/cost.hpp"
#include "topology/hardware.hpp"
#include "topology/power.hpp"
#include "topology/service_profile.hpp"
