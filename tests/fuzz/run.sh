#!/usr/bin/env bash
# Runs one fuzz target for a while: tests/fuzz/run.sh TARGET SECONDS [BUILD_DIR]
# TARGET is frames, conn or shm (tests/fuzz/fuzz_TARGET.c); BUILD_DIR (default build-fuzz) is a
# build configured with clang and -DEFVITCP_FUZZ=ON (docs/testing.md "Fuzzing"). New inputs go
# to BUILD_DIR/fuzz-work/TARGET/corpus (kept between runs, so a long run resumes), a crash to
# BUILD_DIR/fuzz-work/TARGET/crash-*; the committed corpus and regression inputs are read, never
# written. One process on one core. Prints libFuzzer's executions and rate at the end; exits
# non-zero on a finding.
set -euo pipefail
# FUZZ_SRC: the tests/fuzz directory, for a copy of this script run from elsewhere.
here="${FUZZ_SRC:-$(cd "$(dirname "$0")" && pwd)}"
target=${1:?usage: run.sh TARGET SECONDS [BUILD_DIR]}
seconds=${2:?usage: run.sh TARGET SECONDS [BUILD_DIR]}
build=$(cd "${3:-$here/../../build-fuzz}" && pwd)
bin="$build/tests/fuzz/fuzz_$target"
[ -x "$bin" ] || { echo "run.sh: $bin not built (configure with clang and -DEFVITCP_FUZZ=ON)" >&2; exit 2; }
work="$build/fuzz-work/$target"
mkdir -p "$work/corpus"
dict=()
[ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
# -rss_limit_mb: an instance is sized at init, so growth means a leak; -timeout: one input
# taking seconds is a hang (every run is bounded in polls); -max_len: programs of a few hundred
# steps. Leak detection stays on (ASan's LeakSanitizer runs at exit).
# FUZZ_SEED: libFuzzer's seed; CI sets one (tests/fuzz/CMakeLists.txt), so that a CI run
# mutates the same inputs every time and a failure there is a finding to fix, not luck; a manual
# long run leaves it unset for a fresh seed each time.
seed=()
[ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
# FUZZ_TIMEOUT: seconds before one input counts as a hang (default 10). libFuzzer measures wall
# time: a run at nice 19 beside busy jobs can be starved for longer than that and report
# timeouts that replay in milliseconds (replay them: tests/fuzz/fuzz_TARGET_replay FILE).
timeout=${FUZZ_TIMEOUT:-10}
set +e
"$bin" "${seed[@]}" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" \
    "$work/corpus" "$here/corpus/$target" "$here/regress/$target" 2>&1 |
    grep --line-buffered -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)'
status=${PIPESTATUS[0]}
exit "$status"
