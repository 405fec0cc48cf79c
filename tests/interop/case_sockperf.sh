# Stock sockperf (Debian's package) against examples/sockperf_server: ping-pong for 14, 64, 1024
# and 65000-byte messages (the last several segments each way), four clients at once and an
# under-load run (replies to one message in 100), all with no error, drop, duplicate or
# reordering, and a latency reported. First the same client against a kernel `sockperf server`
# in the efvitcp namespace, as a check of the topology and the tool.
#
# Needs SOCKPERF_SERVER, and SOCKPERF_SERVER_EFVI for LINK efvi and efct (ctest sets them; lib.sh
# picks), and sockperf (apt-get install sockperf).
source "$(dirname "$0")/lib.sh"
command -v sockperf >/dev/null 2>&1 || skip "needs sockperf (apt-get install sockperf)"
[ -n "${SOCKPERF_SERVER:-}" ] && [ -x "$SOCKPERF_SERVER" ] ||
    skip "SOCKPERF_SERVER is not set to the sockperf_server binary (run through ctest)"
setup

PORT=11111
K_PORT=11112 # the kernel sockperf server's
RUN_SECS=2

# check_sockperf LOG WHAT MODE: the client's report is clean (MODE pp: every message answered).
check_sockperf() {
    local clean=$1.txt line sent recv rtt p50
    sed 's/\x1b\[[0-9;]*m//g' "$1" >"$clean" # sockperf colours some lines
    if grep -qE "ERROR|integrity test failed|No valid observations" "$clean"; then
        fail "$2: $(grep -m1 -E 'ERROR|integrity test failed|No valid observations' "$clean")"
    fi
    grep -q "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" \
        "$clean" || fail "$2: $(grep -m1 'dropped messages' "$clean" || echo 'no loss report')"
    line=$(grep -m1 "\[Valid Duration\]" "$clean") || fail "$2: no [Valid Duration] report"
    sent=$(sed -n 's/.*SentMessages=\([0-9]*\).*/\1/p' <<<"$line")
    recv=$(sed -n 's/.*ReceivedMessages=\([0-9]*\).*/\1/p' <<<"$line")
    [ -n "$recv" ] && [ "$recv" -gt 0 ] || fail "$2: no reply received ($line)"
    # In ping-pong the run may end with one message in flight.
    if [ "$3" = pp ] && [ $((sent - recv)) -gt 1 ]; then
        fail "$2: $sent messages sent, $recv answered"
    fi
    rtt=$(sed -n 's/.*Summary: [A-Za-z ]* is \([0-9.]*\) usec.*/\1/p' "$clean")
    p50=$(sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$clean")
    [ -n "$rtt" ] && [ -n "$p50" ] || fail "$2: no latency reported"
    log "$2: $recv replies, mean $rtt us, median $p50 us"
}

# pp_run NAME IP PORT SIZE [ARGS...]: one ping-pong client in the kernel's namespace.
pp_run() {
    local name=$1 ip=$2 port=$3 size=$4
    shift 4
    local rc=0
    in_k timeout 60 sockperf ping-pong --tcp -i "$ip" -p "$port" -m "$size" -t $RUN_SECS \
        --full-rtt --data-integrity "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    [ $rc = 0 ] || fail "$name: sockperf exit status $rc: $(tail -3 "$WORK/$name.log")"
    check_sockperf "$WORK/$name.log" "$name" pp
}

# ---- the kernel's sockperf server: the reference ----

if [ "$MODE" = own ]; then K_SRV_IP=$E_KIP; else K_SRV_IP=$E_IP; fi
bg_e sockperf server --tcp -i "$K_SRV_IP" -p $K_PORT >"$WORK/kernel-server.log" 2>&1
K_SERVER=$LAST_PID
e_listening() { in_e ss -Hltn "sport = :$1" | grep -q .; }
wait_until 10 "the kernel sockperf server" e_listening $K_PORT
for size in 14 64 1024; do
    pp_run "kernel-pp-$size" "$K_SRV_IP" $K_PORT $size
done
kill "$K_SERVER" 2>/dev/null || true
wait "$K_SERVER" 2>/dev/null || true

# ---- efvitcp's ----

CONNS=9 # the clients below, one connection each
bg_e timeout 240 "$SOCKPERF_SERVER" "${EF_ARGS[@]}" --port $PORT --ready "$WORK/ready" \
    --count $CONNS --stats 2>"$WORK/server.err"
SERVER=$LAST_PID
wait_until 10 "sockperf_server to listen" test -e "$WORK/ready"

for size in 14 64 1024 65000; do
    pp_run "efvitcp-pp-$size" "$E_IP" $PORT $size
done

log "four clients at once"
pids=()
for i in 1 2 3 4; do
    bg_k timeout 60 sockperf ping-pong --tcp -i "$E_IP" -p $PORT -m 64 -t $RUN_SECS --full-rtt \
        --data-integrity >"$WORK/efvitcp-multi-$i.log" 2>&1
    pids+=("$LAST_PID")
done
for i in 1 2 3 4; do
    wait_rc "${pids[$((i - 1))]}" 0 "client $i of 4"
    check_sockperf "$WORK/efvitcp-multi-$i.log" "efvitcp-multi-$i" pp
done

# Under load: 2000 messages a second, one in 100 asks for a reply; the rest must be swallowed.
rc=0
in_k timeout 60 sockperf under-load --tcp -i "$E_IP" -p $PORT -m 64 -t $RUN_SECS --mps 2000 \
    --full-rtt >"$WORK/efvitcp-ul.log" 2>&1 || rc=$?
[ $rc = 0 ] || fail "under-load: sockperf exit status $rc: $(tail -3 "$WORK/efvitcp-ul.log")"
check_sockperf "$WORK/efvitcp-ul.log" "efvitcp-ul-64" ul

wait_rc "$SERVER" 0 "sockperf_server (exits after $CONNS connections)"
cat "$WORK/server.err"
stat_of() { # NAME: a counter from the server's --stats lines
    grep -o " $1 [0-9]*" "$WORK/server.err" | head -1 | awk '{print $2}'
}
[ "$(stat_of accepted)" = $CONNS ] || fail "the server accepted $(stat_of accepted) connections"
for c in timeout aborted bad_length not_client; do
    [ "$(stat_of $c)" = 0 ] || fail "server counter $c is $(stat_of $c)"
done
[ "$(stat_of echoed)" -gt 0 ] && [ "$(stat_of no_pong)" -gt 0 ] ||
    fail "the server counted no echo or no swallowed message"
log PASS
