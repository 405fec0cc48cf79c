#!/usr/bin/env bash
# Builds efvitcp and runs every test twice: a normal build, then one under AddressSanitizer and
# UndefinedBehaviorSanitizer; then, with clang and its libFuzzer runtime, each fuzz target for a
# short time (tests/fuzz, docs/testing.md). Usage: bash scripts/test.sh [--quick]
# (--quick: skip the sanitizer build and the fuzz targets)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # <build dir> <ctest exclude regex or ""> <cmake args...>
    local dir=$1 exclude=$2
    shift 2
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    (cd "$dir" && ctest --output-on-failure -j "$jobs" ${exclude:+-E "$exclude"})
}

echo "== release build and tests =="
run_suite build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
    echo "== ASan + UBSan build and tests =="
    # Under the sanitizers every link still runs its echo, error, multi-connection and NIC-fault
    # cases against the kernel; the throughput-bound ones (bulk, loss, capture, sockperf) ran in
    # the build above and would only add minutes here.
    run_suite build-asan 'interop/.*/(bulk|loss|capture|sockperf)$' \
        -DCMAKE_BUILD_TYPE=Debug -DEFVITCP_SANITIZE=ON
    echo "== fuzz targets (libFuzzer + ASan + UBSan, clang) =="
    # Their corpus already ran through the replay driver in both builds above (label
    # fuzz-replay); here each target mutates it for EFVITCP_FUZZ_CI_SECONDS (12 s: five targets, a minute), one at a
    # time. Without clang or libFuzzer (cmake/fuzz.cmake says which) the stage is skipped.
    if command -v clang >/dev/null 2>&1; then
        cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DEFVITCP_FUZZ=ON >/dev/null
        cmake --build build-fuzz -j "$jobs" --target efvitcp_fuzz_targets
        (cd build-fuzz && ctest --output-on-failure -L '^fuzz$')
    else
        echo "skipped: no clang"
    fi
fi
