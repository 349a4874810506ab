#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (in build-fuzz/) and runs each for N executions
# (default 2,000,000): scripts/fuzz.sh [runs]. Crashes land in build-fuzz/crashes/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-2000000}
CC=clang CXX=clang++ E3_BUILD_DIR=$root/build-fuzz E3_TARGETS=fuzz_wire E3_BUILD_TYPE=RelWithDebInfo \
  "$root/scripts/build.sh" -DE3_FUZZ=ON -DE3_WERROR=OFF
mkdir -p "$root/build-fuzz/crashes" "$root/build-fuzz/corpus-wire"
cp -n "$root"/tests/fuzz/corpus/wire_*.bin "$root/build-fuzz/corpus-wire/"
"$root/build-fuzz/bin/fuzz_wire" -runs="$runs" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$root/build-fuzz/crashes/" "$root/build-fuzz/corpus-wire"
