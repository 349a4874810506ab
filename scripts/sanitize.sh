#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers, each in its own build folder:
#   sanitize.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer, the whole default suite
#   sanitize.sh tsan   ThreadSanitizer, the actor and link tests (label `concurrency`)
#   sanitize.sh        both
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}

if [ "$what" = asan ] || [ "$what" = all ]; then
  E3_BUILD_DIR=$root/build-asan E3_BUILD_TYPE=RelWithDebInfo \
    "$root/scripts/build.sh" -DE3_SANITIZE=address,undefined
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" -j 2 --output-on-failure -LE 'soak|scale|no_asan'
fi
if [ "$what" = tsan ] || [ "$what" = all ]; then
  E3_BUILD_DIR=$root/build-tsan E3_BUILD_TYPE=RelWithDebInfo \
    "$root/scripts/build.sh" -DE3_SANITIZE=thread
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$root/build-tsan" -j 2 --output-on-failure -L concurrency
fi
