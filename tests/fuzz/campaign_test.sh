#!/usr/bin/env bash
# The test of campaign.sh (ctest fuzz/campaign): tests/fuzz/campaign_test.sh BUILD_DIR
# A campaign of a few seconds on two cores, then one stopped as by Ctrl-C, in a scratch build
# directory whose fuzzers are BUILD_DIR's (so BUILD_DIR's corpus is left alone): every turn is
# logged with its executions, the totals printed are the log's, and a stopped campaign counts
# its turns and exits 0.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build=$(cd "${1:?usage: campaign_test.sh BUILD_DIR}" && pwd)
scratch=$(mktemp -d)
# On the way out, a failed check included: nothing of ours left running.
cleanup() {
    pkill -KILL -f "campaign.sh [0-9.]* $scratch" 2>/dev/null
    pkill -KILL -f "artifact_prefix=$scratch/" 2>/dev/null
    rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch/tests/fuzz"
for t in conn frames pair efvi shm; do ln -s "$build/tests/fuzz/fuzz_$t" "$scratch/tests/fuzz/"; done
log=$scratch/fuzz-work/campaign.log
fail() { echo "campaign_test: $*" >&2; cat "$log" >&2 2>/dev/null; exit 1; }
# the lines of the last campaign in the log
last() {
    awk '/^# campaign/ { n = 0; next } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' \
        "$log"
}
export FUZZ_SEED=1 FUZZ_JOBS=2 FUZZ_TURN=3

# 1. Runs its time out: every core takes turns in its rotation until under 2 s are left, each
#    with executions and exit status 0. (How many turns fit in the 10 s is not checked: the
#    fuzzers run at nice 19, and on a busy machine a turn's start alone, its corpus read and run,
#    may take most of that time. Unloaded, each core takes two or three.)
t0=$(date +%s)
out=$(bash "$here/campaign.sh" 0.003 "$scratch") || fail "a clean campaign exited non-zero"
turns=$(grep -c '^[^#].* rc=0$' "$log")
targets=(conn frames pair efvi shm)
for core in 0 1; do
    k=0 end_at=
    while read -r when _ target _; do
        expect="target=${targets[$(((core + k) % 5))]}"
        [ "$target" = "$expect" ] || fail "core $core's turn $k: $target, want $expect"
        k=$((k + 1)) end_at=$when
    done < <(grep "^[^#].* core=$core " "$log")
    [ "$k" -ge 1 ] || fail "core $core took no turn"
    # the campaign's end is 10 s after its start (at or after t0); a core stops once under 2 s are
    # left, and the log's times are whole seconds
    [ "$(date -d "$end_at" +%s)" -ge $((t0 + 10 - 3)) ] ||
        fail "core $core stopped at $end_at with time left (campaign from $(date -d @"$t0" +%T))"
done
grep -q ' execs=0 ' "$log" && fail "a turn with no executions"
grep -q 'core=0 target=conn' "$log" || fail "core 0 did not start at conn"
grep -q 'core=1 target=frames' "$log" || fail "core 1 did not start at frames"
want=$(awk '/^#/ { next } { split($4, e, "="); n += e[2] } END { print n }' "$log")
got=$(echo "$out" | awk '/this campaign/ { on = 1 } on && $1 == "all" { print $2; exit }')
[ "$got" = "$want" ] || fail "printed $got executions in all, the log says $want"

# 2. Stopped (Ctrl-C, SIGTERM): the turns running stop, are logged with rc=72 and counted; exit 0.
rm -rf "$scratch/fuzz-work/logs" # the turns of 1.; those of this campaign are looked for
FUZZ_TURN=60 bash "$here/campaign.sh" 1 "$scratch" >"$scratch/out2" 2>&1 &
pid=$!
# until both cores' fuzzers run (their first turns of 60 s) past their start, where libFuzzer
# takes SIGINT: their corpus read (INITED in the turn's log). A minute at most: at nice 19 on a
# busy machine that start may take many seconds.
for _ in $(seq 600); do
    [ "$(grep -l INITED "$scratch/fuzz-work/logs/"*.log 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.1
done
# SIGTERM to the script, trapped as Ctrl-C's SIGINT is (a background job of a script ignores
# SIGINT; its cores, forks of it, must not get the signal themselves)
kill -TERM "$pid"
wait "$pid" || fail "a stopped campaign exited non-zero: $(cat "$scratch/out2")"
stopped=$(last | grep -c ' rc=72$')
[ "$stopped" -eq 2 ] || fail "$stopped turns logged as stopped, want 2"
grep -q '^  all ' "$scratch/out2" || fail "no totals after Ctrl-C"
# 3. A finding (a stand-in for fuzz_conn that finds something at once): that core stops, the
#    campaign exits non-zero, the other core's turns go on.
rm "$scratch/tests/fuzz/fuzz_conn"
printf '#!/bin/sh\necho "stat::number_of_executed_units: 7"\nexit 1\n' >"$scratch/tests/fuzz/fuzz_conn"
chmod +x "$scratch/tests/fuzz/fuzz_conn"
bash "$here/campaign.sh" 0.002 "$scratch" >"$scratch/out3" 2>&1 && fail "a finding, and exit 0"
grep -q 'conn found something (rc=1)' "$scratch/out3" || fail "the finding is not named: $(cat "$scratch/out3")"
new=$(last)
[ "$(echo "$new" | grep -c 'core=0')" -eq 1 ] || fail "core 0 went on after its finding"
echo "$new" | grep -q 'core=1 .* rc=0$' || fail "core 1 stopped with core 0"
echo "campaign_test: $turns turns, $want executions; a stop counted 2 turns; a finding stopped its core"
