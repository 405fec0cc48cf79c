#!/bin/sh
# Wall-clock time of a 64-byte echo round trip over mem and over the efvi link on emulated EF10
# (CTPIO) and EFCT ports, both stacks in one process (bench/echo_bench.c): the median over RUNS
# runs (separate processes) of each run's mean and p50, with the original C++ efvitcp's settings
# (--matched) and with the defaults. Issue 11 quotes the median of 11 runs' means.
#
#   bench/run_efvi_wallclock.sh [BUILD_DIR [RUNS [COUNT]]]   (defaults ./build, 11, 200000;
#                                                            builds nothing: build echo_bench_efvi)
#
# Each run does 1,000 round trips of warm-up and then COUNT, pinned to CPU 1 when taskset can. The
# emulator does the NIC's work inside the polls, so this is CPU time of the stacks, the efvi link
# and the emulator, not a NIC's latency; on a loaded machine the median only damps the noise.
# Every figure is also a line "RESULT kind=time name=... value=... unit=ns".
set -eu

BUILD=${1:-./build}
RUNS=${2:-11}
COUNT=${3:-200000}
BIN=$BUILD/bench/echo_bench_efvi

if [ ! -x "$BIN" ]; then
    echo "run_efvi_wallclock.sh: $BIN not found; build it first (it needs EFVITCP_TESTS), e.g." >&2
    echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release && make -C $BUILD echo_bench_efvi" >&2
    exit 1
fi
PIN=""
taskset -c 1 true 2>/dev/null && PIN="taskset -c 1"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# median FILE: the median of the numbers in FILE, one a line (the lower middle one if even).
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-22s %10s %10s\n' "64-byte round trip" "mean (ns)" "p50 (ns)"
for set in matched default; do
    for link in mem efvi efct; do
        flag=""
        [ $set = matched ] && flag=--matched
        : >"$TMP/mean"
        : >"$TMP/p50"
        i=0
        while [ $i -lt "$RUNS" ]; do
            # $PIN and $flag are split on purpose (empty or words).
            # shellcheck disable=SC2086
            $PIN "$BIN" --link $link $flag --count "$COUNT" >"$TMP/log" 2>&1 || {
                cat "$TMP/log" >&2
                exit 1
            }
            sed -n 's/^RESULT .* mean=\([0-9]*\) p50=\([0-9]*\) .*/\1/p' "$TMP/log" >>"$TMP/mean"
            sed -n 's/^RESULT .* mean=\([0-9]*\) p50=\([0-9]*\) .*/\2/p' "$TMP/log" >>"$TMP/p50"
            i=$((i + 1))
        done
        name=$link
        [ $link != mem ] && name=$link-emu
        [ $set = matched ] && name=$name-matched
        mean=$(median "$TMP/mean") p50=$(median "$TMP/p50")
        printf '%-22s %10s %10s\n' "$name" "$mean" "$p50"
        echo "RESULT kind=time name=$name-rtt-64B-mean-median value=$mean unit=ns" >>"$TMP/results"
        echo "RESULT kind=time name=$name-rtt-64B-p50-median value=$p50 unit=ns" >>"$TMP/results"
    done
done
echo "(median of $RUNS runs of $COUNT round trips each)"
echo
cat "$TMP/results"
