#!/usr/bin/env bash
# Installs every Debian package E3 needs to build, test and benchmark. Idempotent:
# runs `apt-get update` only when something is missing, and installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libcaf-dev                      # CAF 0.17: the actor framework
  libzmq3-dev cppzmq-dev          # ToR link (ZeroMQ)
  dpdk-dev libdpdk-dev            # SmartNIC kernel-bypass link, rte_lpm reference
  librocksdb-dev                  # reliable collections
  libboost-dev                    # multiprecision ring keys
  libgtest-dev libgmock-dev       # tests
  libbenchmark-dev                # micro benchmarks
  libssl-dev                      # IPsec, API gateway tokens, SHA-1 ring keys
  libyaml-cpp-dev                 # app manifests
  libcli11-dev                    # the e3 command line
  libspdlog-dev libfmt-dev        # logs
  nlohmann-json3-dev              # --json output
  libsqlite3-dev                  # SQL service, BM25 reference (FTS5)
  libglpk-dev coinor-libcbc-dev   # ILP placement baseline
  zlib1g-dev                      # reading .gz data sets
  libexpat1-dev                   # tests: the figure commands' SVG is well-formed XML
  clang libclang-rt-14-dev        # libFuzzer and sanitizers
  iproute2                        # network namespaces for link tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present" >&2
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
