#!/usr/bin/env bash
# Configures and builds E3 into build/ (Release, ccache, -j2). Extra arguments go to cmake,
# e.g. `scripts/build.sh -DE3_SANITIZE=address,undefined` with E3_BUILD_DIR=build-asan.
# Environment: E3_BUILD_DIR (build folder), E3_JOBS (parallel jobs), E3_TARGETS (build only
# these targets, space-separated), E3_BUILD_TYPE (Release by default).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${E3_BUILD_DIR:-$root/build}
jobs=${E3_JOBS:-2}

# ccache keys on paths relative to the checkout, so a fresh clone elsewhere hits the cache.
export CCACHE_BASEDIR=$root
export CCACHE_NOHASHDIR=true
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}

generator=()
command -v ninja >/dev/null && [ ! -f "$build/Makefile" ] && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="${E3_BUILD_TYPE:-Release}" "$@" >/dev/null
targets=()
for t in ${E3_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${targets[@]}"
