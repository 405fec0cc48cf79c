# The bulk case (50 MB each way at once, both pairings) with nftables dropping 5% of the frames at
# random in both directions on the kernel side; sha256 must still match at both ends.
source "$(dirname "$0")/lib.sh"
setup
make_file "$WORK/e_src.bin" 50M
make_file "$WORK/k_src.bin" 50M
nft_loss 5
# eftcat's RTO floor is Linux's 200 ms (a lower one retransmits spuriously against delayed ACKs);
# without SACK a lost retransmission waits for the RTO, and 5% loss makes many of them.
RTO="--min-rto-ms 10"

k_both() { echo "cat $WORK/k_src.bin & cat > $WORK/$1; wait"; }

log "efvitcp client -> kernel server, 5% loss each way"
bg_k timeout 200 socat -t 100 TCP-LISTEN:5001,reuseaddr "SYSTEM:$(k_both k_got1.bin)"
SERVER=$LAST_PID
wait_k_listen 5001
t0=$SECONDS
in_e timeout 200 "$EFTCAT" -v $RTO "${EF_ARGS[@]}" "$K_IP" 5001 <"$WORK/e_src.bin" \
    >"$WORK/e_got1.bin" 2>"$WORK/eftcat1.log" || fail "eftcat client: exit $? ($(cat "$WORK/eftcat1.log"))"
wait_rc $SERVER 0 "kernel server"
log "done in $((SECONDS - t0)) s; $(grep -o 'retransmits [0-9]*' "$WORK/eftcat1.log") by efvitcp"
same_sha "$WORK/e_src.bin" "$WORK/k_got1.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got1.bin" "kernel -> efvitcp"
rm -f "$WORK/k_got1.bin" "$WORK/e_got1.bin"

log "kernel client -> efvitcp server, 5% loss each way"
bg_e timeout 200 "$EFTCAT" -v -l $RTO "${EF_ARGS[@]}" 5002 <"$WORK/e_src.bin" >"$WORK/e_got2.bin" \
    2>"$WORK/eftcat2.log"
SERVER=$LAST_PID
wait_e_listen "$WORK/eftcat2.log"
t0=$SECONDS
in_k timeout 200 socat -t 100 TCP:$E_IP:5002 "SYSTEM:$(k_both k_got2.bin)" || fail "socat client: exit $?"
wait_rc $SERVER 0 "eftcat server"
log "done in $((SECONDS - t0)) s; $(grep -o 'retransmits [0-9]*' "$WORK/eftcat2.log") by efvitcp"
same_sha "$WORK/e_src.bin" "$WORK/k_got2.bin" "efvitcp -> kernel"
same_sha "$WORK/k_src.bin" "$WORK/e_got2.bin" "kernel -> efvitcp"

din=$(nft_dropped in)
dout=$(nft_dropped out)
log "nftables dropped $din frames of ours and $dout of the kernel's"
[ "$din" -gt 100 ] && [ "$dout" -gt 100 ] || fail "too few drops: the loss rules did not act"
log PASS
