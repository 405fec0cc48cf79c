# Echo both ways against socat: an efvitcp client (interop_tool pingpong, every byte checked) to a
# kernel echo server (socat EXEC:cat), with messages of one segment and of many; then a kernel
# client (socat) streaming 4 MB through an efvitcp echo server (interop_tool server), the echo
# checked by sha256.
source "$(dirname "$0")/lib.sh"
setup
make_file "$WORK/k_src.bin" 4M

log "efvitcp client -> kernel echo server (socat)"
bg_k timeout 60 socat TCP-LISTEN:5008,reuseaddr,fork EXEC:cat
wait_k_listen 5008
for size in 64 20000; do
    in_e timeout 60 "$INTEROP_TOOL" "${EF_ARGS[@]}" --timeout 50 pingpong "$K_IP" 5008 500 "$size" \
        >"$WORK/pingpong$size.log" 2>&1 ||
        fail "interop_tool pingpong $size: exit $? ($(tail -3 "$WORK/pingpong$size.log"))"
    log "pingpong, $size-byte messages: rtt $(grep -m1 -o 'p50 [0-9.]*' "$WORK/pingpong$size.log" || true) us"
done

log "kernel client (socat) -> efvitcp echo server"
bg_e timeout 60 "$INTEROP_TOOL" "${EF_ARGS[@]}" --timeout 50 --count 1 --ready "$WORK/ready" \
    server 5009 >"$WORK/server.log" 2>&1
SERVER=$LAST_PID
wait_until 10 "the efvitcp echo server to listen" test -e "$WORK/ready"
# A dual address (read one file, write another): the end of the file is socat's end of input,
# so it sends FIN while the rest of the echo still comes back, until the server's FIN.
in_k timeout 60 socat -t 30 TCP:$E_IP:5009 "OPEN:$WORK/k_src.bin,rdonly!!CREATE:$WORK/k_got.bin" ||
    fail "socat client: exit $?"
wait_rc $SERVER 0 "efvitcp echo server"
same_sha "$WORK/k_src.bin" "$WORK/k_got.bin" "kernel -> efvitcp -> kernel"
log PASS
