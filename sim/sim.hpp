// sim/: a discrete-event simulator of an E3 cluster, the fast counterpart of the live runtime.
//
// It owns the simulated cluster: requests arriving from clients (Poisson open loop, or a closed
// loop with a window), messages travelling the modelled links (the topology's latency model with
// Fig. 3's ratios, serialisation at the receiving port, each SmartNIC's traffic manager at 0.2 µs
// per packet, ECMP onto a server's SmartNICs for a host IP), each node's cores (topo::core_queue:
// round robin, work-conserving, run to completion — the runtime's rule), execution times from
// the service profiles (or an override), fan-out by channel shares and key sharding (the runtime
// router's rules, routing.hpp), modelled power per node, and the control loop: every SmartNIC's
// 16-byte heartbeat every 50 ms over the simulated network to the REAL data-plane orchestrator
// (migration/), whose decisions run through the REAL cold-migration state machine and request
// buffer with modelled step costs. Apps are placed by the REAL scheduler (HCM, SA or ILP).
//
// Guarantees: deterministic — a run is a function of the cluster, the config (seeded) and the
// apps; events at the same simulated time run in the order they were scheduled. No CAF, ZeroMQ or
// DPDK; uses only topology/, scheduler/ and migration/. Units: simulated ns inside, µs and
// requests/s in results; every time in results is SIMULATED and every power MODELLED, except the
// fields named wall or measured. Nothing is dropped silently: a request is completed, lost
// (counted) or in flight. Thread-safety: one simulator per thread.
#pragma once

#include "sim/event_queue.hpp"
#include "sim/histogram.hpp"
#include "sim/random.hpp"
#include "sim/routing.hpp"
#include "sim/simulator.hpp"
