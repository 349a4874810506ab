// migration/: the data-plane orchestrator (§3.4): when a SmartNIC overloads, which service leaves
// it, where it goes, and the cold-migration protocol that moves it without losing a request.
//
// It owns the orchestrator's view of node health reports (report.hpp: full reports, and the
// 16-byte per-SmartNIC heartbeat of §5.6 with its strict codec); the two detectors of §3.4
// (detectors.hpp: host starvation = a standing traffic-manager queue while the ports are
// under-used; service overload = execution time above 1.2 × its trailing EMA), each tripping
// only after k consecutive hits; victim choice (the eligible service with the highest CPU share)
// and destination choice (the host of the same server, else the closest admissible host by the
// hierarchical levels, using the scheduler's admissibility and resource accounting); hysteresis
// (orchestrator.hpp: minimum dwell, cooldown, node settle time); and cold migration as an
// explicit state machine with rollback (cold_migration.hpp) plus the buffer that holds requests
// meanwhile and delivers them in order (request_buffer.hpp).
//
// Guarantees: pure and deterministic control-plane code — no CAF, ZeroMQ, DPDK, no clocks (every
// time is passed in, in ns), no randomness, no I/O — so it runs the same in the live runtime, in
// sim/ and in tests. Bad input (a malformed heartbeat, an unknown node or instance, a stale or
// non-finite report) is ignored and counted, never trusted and never fatal. Units: ns for time,
// µs for execution times, Gb/s for bandwidth, shares in [0, 1]. Thread-safety: none of these
// objects is safe for concurrent use; each belongs to one thread (one actor).
#pragma once

#include "migration/cold_migration.hpp"
#include "migration/detectors.hpp"
#include "migration/orchestrator.hpp"
#include "migration/report.hpp"
#include "migration/request_buffer.hpp"
