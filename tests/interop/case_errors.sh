# Failures reach the user as the right callback and eftcat exits non-zero with a clear message:
# a port with no listener (refused), a kernel RST mid-transfer (reset), and a peer whose link goes
# down mid-transfer (timeout).
source "$(dirname "$0")/lib.sh"
setup

expect_fail() { # LOG WORD WHAT: eftcat exited non-zero (checked by the caller) saying WORD
    grep -qi "$2" "$1" || fail "$3: eftcat said: $(cat "$1")"
    log "$3: $(grep -i "$2" "$1" | head -1)"
}

log "no listener: refused"
rc=0
in_e timeout 30 "$EFTCAT" "${EF_ARGS[@]}" "$K_IP" 5999 </dev/null >/dev/null 2>"$WORK/refused.log" || rc=$?
[ $rc = 1 ] || fail "refused: exit status $rc, expected 1"
expect_fail "$WORK/refused.log" refused "refused"

log "kernel RST: the server dies with unread data"
# socat stops reading once the pipe to sleep is full, so data waits in the kernel socket; a
# process that dies with unread data makes its kernel send a RST (RFC 2525 §2.17).
bg_k socat -u TCP-LISTEN:5003,reuseaddr "SYSTEM:sleep 60"
wait_k_listen 5003
bg_e timeout 60 "$EFTCAT" "${EF_ARGS[@]}" "$K_IP" 5003 < <(head -c 20M /dev/zero) >/dev/null \
    2>"$WORK/reset.log"
CLIENT=$LAST_PID
unread() { in_k ss -Htn state established "( sport = :5003 )" | awk '$1 > 0 {found=1} END {exit !found}'; }
wait_until 20 "unread data at the kernel server" unread
kill_ns "$NS_K" # socat and its child: the socket closes with the last holder
wait_rc $CLIENT 1 "reset"
expect_fail "$WORK/reset.log" reset "kernel RST"

log "peer vanishes: link down mid-transfer, timeout"
bg_k socat -u TCP-LISTEN:5004,reuseaddr OPEN:/dev/null
wait_k_listen 5004
t0=$SECONDS
bg_e timeout 60 "$EFTCAT" --retries 5 --min-rto-ms 20 "${EF_ARGS[@]}" "$K_IP" 5004 </dev/zero \
    >/dev/null 2>"$WORK/timeout.log"
CLIENT=$LAST_PID
established() { in_k ss -Htn state established "( sport = :5004 )" | grep -q .; }
wait_until 20 "the connection" established
if [ "$MODE" = kernel ]; then
    # Sharing the kernel's address, our ephemeral port is held by a kernel socket: the kernel
    # must refuse it to anyone else while the connection lives.
    lport=$(in_k ss -Htn state established "( sport = :5004 )" | awk '{print $4}' | sed 's/.*://')
    # socat fails at once on a port in use; the time-out only ends a listen on a free one, and
    # is long enough that a loaded machine still gets socat as far as its bind.
    if in_e timeout 10 socat -u "TCP-LISTEN:$lport,bind=$E_IP" /dev/null 2>"$WORK/bind.log"; then
        fail "port $lport of our connection was free in the kernel"
    fi
    grep -qi "in use" "$WORK/bind.log" || fail "binding port $lport: $(cat "$WORK/bind.log")"
    log "port $lport is reserved in the kernel while the connection lives"
fi
in_k ip link set "$VK" down
wait_rc $CLIENT 1 "timeout"
expect_fail "$WORK/timeout.log" "timed out" "link down"
log "timed out $((SECONDS - t0)) s after connecting (5 retries from a 20 ms RTO floor)"
log PASS
