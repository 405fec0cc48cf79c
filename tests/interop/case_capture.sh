# A full capture of short transfers both ways (efvitcp client to kernel server, kernel client to
# efvitcp server): tshark must find every frame we sent with valid IP and TCP checksums, no
# tcp.analysis flag and no RST.
source "$(dirname "$0")/lib.sh"
export EFVI_EMU_STATS=1 # the emulator's drop counters at close, for drops_below_stack
setup
make_file "$WORK/e_src.bin" 2M
make_file "$WORK/k_src.bin" 2M
capture_start "$WORK/full.pcap"
# Sharing the kernel's address, the first connect finds no neighbour entry: the kernel resolves
# it on our request while the connection waits in WAIT_ARP.
[ "$MODE" = kernel ] && in_e ip neigh flush dev "$VE"

bg_k timeout 60 socat -t 30 TCP-LISTEN:5006,reuseaddr \
    "SYSTEM:cat $WORK/k_src.bin & cat > $WORK/k_got1.bin; wait"
SERVER=$LAST_PID
wait_k_listen 5006
in_e timeout 60 "$EFTCAT" -v "${EF_ARGS[@]}" "$K_IP" 5006 <"$WORK/e_src.bin" \
    >"$WORK/e_got1.bin" 2>"$WORK/eftcat1.log" || fail "eftcat client: exit $? ($(cat "$WORK/eftcat1.log"))"
wait_rc $SERVER 0 "kernel server"
same_sha "$WORK/e_src.bin" "$WORK/k_got1.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got1.bin" "kernel -> efvitcp"

bg_e timeout 60 "$EFTCAT" -v -l "${EF_ARGS[@]}" 5007 <"$WORK/e_src.bin" >"$WORK/e_got2.bin" \
    2>"$WORK/eftcat2.log"
SERVER=$LAST_PID
wait_e_listen "$WORK/eftcat2.log"
in_k timeout 60 socat -t 30 TCP:$E_IP:5007 "SYSTEM:cat $WORK/k_src.bin & cat > $WORK/k_got2.bin; wait" ||
    fail "socat client: exit $?"
wait_rc $SERVER 0 "eftcat server"
same_sha "$WORK/e_src.bin" "$WORK/k_got2.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got2.bin" "kernel -> efvitcp"

capture_stop
drops_below_stack "$WORK/eftcat1.log" "$WORK/eftcat2.log"
check_checksums "$WORK/full.pcap"
# Assigned first: a failure inside lost_below_stack must stop the run (set -e).
lost=$(lost_below_stack "$WORK/full.pcap" "$WORK/eftcat1.log" "$WORK/eftcat2.log")
check_no_analysis_flags "$WORK/full.pcap" "$lost" "$(tail_probes "$WORK/eftcat1.log" "$WORK/eftcat2.log")"
check_no_rst "$WORK/full.pcap"
log PASS
