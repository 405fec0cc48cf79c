#!/usr/bin/env bash
# The long run, unattended: tests/fuzz/campaign.sh HOURS [BUILD_DIR]
#
# One rotation of every target per core (FUZZ_JOBS, default the number of cores), each turn a
# run.sh of FUZZ_TURN seconds (default 900), until HOURS have passed; a core whose turn finds
# something stops there, the others go on.
# Each core starts the rotation at another target, so every target runs at every moment with two
# cores or more. The corpus grows in BUILD_DIR/fuzz-work (run.sh), so a campaign resumes where the
# last one stopped. Every turn appends a line to BUILD_DIR/fuzz-work/campaign.log:
#
#   2026-12-07T04:43:57 core=0 target=conn execs=350110 rc=0
#
# and its full output to BUILD_DIR/fuzz-work/logs/. At the end (or on Ctrl-C, or SIGTERM to this
# script: the turns running are stopped and counted) it prints the executions per target and in
# all, from that log, over this campaign and over every campaign in the log. Exits non-zero when
# a turn found something: the artifact is in BUILD_DIR/fuzz-work/TARGET/ (replay it with
# tests/fuzz/fuzz_TARGET_replay).
# Runs at nice 19: the machine stays usable, and libFuzzer's per-input timeout is raised to
# FUZZ_TIMEOUT=120 s so that a starved turn does not report a hang (run.sh).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hours=${1:?usage: campaign.sh HOURS [BUILD_DIR]}
build=$(cd "${2:-$here/../../build-fuzz}" && pwd) || exit 2
jobs=${FUZZ_JOBS:-$(nproc)}
turn=${FUZZ_TURN:-900}
targets=(conn frames pair efvi shm)
work=$build/fuzz-work
log=$work/campaign.log
stopped=$work/.campaign-stop-$$
mkdir -p "$work/logs"
for t in "${targets[@]}"; do
    [ -x "$build/tests/fuzz/fuzz_$t" ] || {
        echo "campaign.sh: $build/tests/fuzz/fuzz_$t not built (configure with clang and" \
            "-DEFVITCP_FUZZ=ON, build efvitcp_fuzz_targets)" >&2
        exit 2
    }
done
end=$(($(date +%s) + $(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')))
start=$(date +%FT%T)
echo "# campaign $start: $hours h, $jobs cores, turns of $turn s" >>"$log"

# core N: the rotation starting at target N, until the end or a finding.
core() {
    local n=$1 i=$1 t out rc left execs
    while :; do
        [ -e "$stopped" ] && return 0
        left=$((end - $(date +%s)))
        [ "$left" -ge 2 ] || return 0
        [ "$left" -lt "$turn" ] || left=$turn
        t=${targets[$((i % ${#targets[@]}))]}
        out=$work/logs/$t-core$n-$(date +%Y%m%dT%H%M%S).log
        FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-120} nice -n 19 bash "$here/run.sh" "$t" "$left" "$build" >"$out" 2>&1
        rc=$?
        execs=$(grep -o 'number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$')
        echo "$(date +%FT%T) core=$n target=$t execs=${execs:-0} rc=$rc" >>"$log"
        # 72: libFuzzer stopped by a signal (the campaign's own Ctrl-C), not a finding
        if [ $rc -ne 0 ] && [ $rc -ne 72 ]; then
            echo "campaign.sh: $t found something (rc=$rc): $out" >&2
            return 1
        fi
        [ $rc -eq 72 ] && return 0
        i=$((i + 1))
    done
}

pids=()
# Ctrl-C or SIGTERM: libFuzzer stops its turn, prints its count and exits with 72. (Called by the trap.)
# shellcheck disable=SC2317
stop() {
    touch "$stopped" # no core starts another turn
    # A fuzzer still starting has no handler yet and ignores SIGINT (a background job's
    # inheritance): again until none is left, for ten seconds at most.
    for _ in $(seq 40); do
        pkill -INT -f "fuzz_[a-z]* .*-artifact_prefix=$work/" 2>/dev/null || break
        sleep 0.25
    done
}
trap stop INT TERM
for n in $(seq 0 $((jobs - 1))); do
    core "$n" &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do
    # A trapped signal ends a wait early (status above 128): wait again for the core's own
    # status (0, or 1 for a finding); a core that is gone with its status taken gives 127.
    r=129
    while [ $r -gt 128 ]; do
        wait "$p"
        r=$?
    done
    [ "$r" -eq 0 ] || status=1
done
trap - INT TERM
rm -f "$stopped"

# Executions per target: this campaign's lines, then every line of the log.
sum() {
    awk '/^#/ { next } { split($3, t, "="); split($4, e, "="); n[t[2]] += e[2]; all += e[2] }
         END { for (k in n) printf "  %-7s %12d\n", k, n[k]; printf "  %-7s %12d\n", "all", all }'
}
echo "executions, this campaign ($start):"
awk -v s="# campaign $start:" 'index($0, s) == 1 { on = 1; next } /^# campaign/ { on = 0 } on' "$log" | sum
echo "executions, every campaign in $log:"
sum <"$log"
exit $status
