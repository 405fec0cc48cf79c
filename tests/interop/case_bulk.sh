# 50 MB each way at once, efvitcp client to a kernel server and kernel client to an efvitcp
# server, sha256 checked at both ends; the capture must show no tcp.analysis flag and no RST.
source "$(dirname "$0")/lib.sh"
export EFVI_EMU_STATS=1 # the emulator's drop counters at close, for drops_below_stack
setup
make_file "$WORK/e_src.bin" 50M
make_file "$WORK/k_src.bin" 50M
capture_start "$WORK/bulk.pcap" 128 # headers are enough for the analysis

# The kernel side sends its file while it receives ours; socat's -t keeps the second direction
# going after the first one ends.
k_both() { echo "cat $WORK/k_src.bin & cat > $WORK/$1; wait"; }

log "efvitcp client -> kernel server"
bg_k timeout 120 socat -t 60 TCP-LISTEN:5001,reuseaddr "SYSTEM:$(k_both k_got1.bin)"
SERVER=$LAST_PID
wait_k_listen 5001
t0=$SECONDS
in_e timeout 120 "$EFTCAT" -v "${EF_ARGS[@]}" "$K_IP" 5001 <"$WORK/e_src.bin" \
    >"$WORK/e_got1.bin" 2>"$WORK/eftcat1.log" || fail "eftcat client: exit $? ($(cat "$WORK/eftcat1.log"))"
wait_rc $SERVER 0 "kernel server"
log "done in $((SECONDS - t0)) s"
same_sha "$WORK/e_src.bin" "$WORK/k_got1.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got1.bin" "kernel -> efvitcp"

log "kernel client -> efvitcp server"
rm -f "$WORK/k_got1.bin" "$WORK/e_got1.bin"
bg_e timeout 120 "$EFTCAT" -v -l "${EF_ARGS[@]}" 5002 <"$WORK/e_src.bin" >"$WORK/e_got2.bin" \
    2>"$WORK/eftcat2.log"
SERVER=$LAST_PID
wait_e_listen "$WORK/eftcat2.log"
t0=$SECONDS
in_k timeout 120 socat -t 60 TCP:$E_IP:5002 "SYSTEM:$(k_both k_got2.bin)" || fail "socat client: exit $?"
wait_rc $SERVER 0 "eftcat server"
log "done in $((SECONDS - t0)) s"
same_sha "$WORK/e_src.bin" "$WORK/k_got2.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got2.bin" "kernel -> efvitcp"

capture_stop
drops_below_stack "$WORK/eftcat1.log" "$WORK/eftcat2.log"
# Assigned first: a failure inside lost_below_stack must stop the run (set -e).
lost=$(lost_below_stack "$WORK/bulk.pcap" "$WORK/eftcat1.log" "$WORK/eftcat2.log")
check_no_analysis_flags "$WORK/bulk.pcap" "$lost" "$(tail_probes "$WORK/eftcat1.log" "$WORK/eftcat2.log")"
check_no_rst "$WORK/bulk.pcap"
log PASS
