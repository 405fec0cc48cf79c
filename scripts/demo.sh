#!/usr/bin/env bash
# Builds efvitcp (Release) and runs the demo: an echo server and client over the in-process mem
# link, printing round-trip latency percentiles and bulk throughput. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! command -v cc >/dev/null; then
    apt-get update -qq && apt-get install -y -qq build-essential cmake >/dev/null
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DEFVITCP_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc 2>/dev/null || echo 2)" --target efvitcp_demo >/dev/null
exec ./build-release/examples/efvitcp_demo "$@"
