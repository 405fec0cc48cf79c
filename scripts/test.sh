#!/usr/bin/env bash
# Builds efvitcp and runs every test twice: a normal build, then one under AddressSanitizer and
# UndefinedBehaviorSanitizer. Usage: bash scripts/test.sh [--quick]   (--quick: skip the sanitizer build)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # <build dir> <cmake args...>
    local dir=$1
    shift
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

echo "== release build and tests =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
    echo "== ASan + UBSan build and tests =="
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DEFVITCP_SANITIZE=ON
fi
