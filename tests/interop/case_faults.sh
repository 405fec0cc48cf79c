# LINK efvi / efct only: NIC faults injected on the emulated port, whose wire is the veth through
# AF_PACKET, while the efvi link streams through a kernel echo server (socat). One phase per
# fault (none, CTPIO failures with poisoned copies, RX discards, a dry receive ring, a stalled
# transmit ring, a reset + an event queue overflow + a TX error); each must echo every byte and
# close cleanly, and its counters must show the fault and the recovery
# (tests/efvi_emu/packet_faults.c).
source "$(dirname "$0")/lib.sh"
case "$LINK" in efvi | efct) ;; *) fail "the faults case is for LINK efvi or efct" ;; esac
[ -n "${EFVI_PACKET_FAULTS:-}" ] && [ -x "$EFVI_PACKET_FAULTS" ] ||
    skip "EFVI_PACKET_FAULTS is not set (run through ctest)"
setup
# -t 60: our FIN follows the last byte sent while its echo is still coming back; socat's default
# of 0.5 s after that EOF closed the echo early when the dry-ring phase's recovery ran slow on a
# busy machine (CI: "echo 7875120/8000000 bytes", the connection closed cleanly).
bg_k timeout 200 socat -t 60 TCP-LISTEN:5010,reuseaddr,fork EXEC:cat
wait_k_listen 5010
rc=0
in_e timeout 200 "$EFVI_PACKET_FAULTS" "$VE" "$E_IP/$PREFIX" "$K_IP" 5010 8000000 \
    >"$WORK/faults.log" 2>&1 || rc=$?
while read -r line; do log "$line"; done <"$WORK/faults.log"
[ $rc = 0 ] || fail "packet_faults: exit status $rc"
log PASS
