# The C++ layer against the Linux kernel (issue 14): docs/cpp.md's full example, built as the test
# cpp/docs_example, run on a veth pair with a plain interface name, the way a user of the original
# C++ efvitcp writes it ("init(IF)"): the name picks the efvi link where it is built, else xdp
# (here, in kernel-shared addressing), else packet.
#   1. its client sends 1000 numbered packets, one per millisecond, to a kernel echo server
#      (socat EXEC:cat) and checks every echo, then closes;
#   2. its echo server answers a kernel client (socat) that streams 64,000 packets from a file and
#      writes what comes back to another: the two files must be equal.
# Run as: bash cpp_docs_example.sh xdp kernel (CPP_DOCS_EXAMPLE names the program).
source "$(dirname "$0")/lib.sh"
[ -n "${CPP_DOCS_EXAMPLE:-}" ] && [ -x "$CPP_DOCS_EXAMPLE" ] ||
    skip "CPP_DOCS_EXAMPLE is not set to the cpp_docs_example binary (run through ctest)"
setup

log "C++ client (plain interface name) -> kernel echo server"
bg_k timeout 60 socat TCP-LISTEN:5020,reuseaddr,fork EXEC:cat
wait_k_listen 5020
in_e timeout 60 "$CPP_DOCS_EXAMPLE" client "$VE" "$K_IP" 5020 >"$WORK/client.log" 2>&1 ||
    fail "C++ client: exit $? ($(tail -3 "$WORK/client.log"))"
grep -q "client: 1000 packets echoed" "$WORK/client.log" ||
    fail "C++ client: $(tail -3 "$WORK/client.log")"
log "$(tail -1 "$WORK/client.log")"

log "kernel client -> C++ echo server (plain interface name)"
# 64,000 packets of 32 bytes (the example's struct Packet): whole packets, as the server expects.
# socat -t: after the end of its file it waits that long for the echo to end (the server's FIN),
# then gives up, with status 0 and a short file. Generous limits for a loaded machine (the
# example's 40 KB window, no window scaling, makes the echo slow there), and a run they cut says
# so, apart from a short echo that ended (a checksum mismatch). ctest gives the test 300 s.
make_file "$WORK/k_src.bin" 2048000
ECHO_WAIT=120 # socat -t
bg_e timeout 240 "$CPP_DOCS_EXAMPLE" server "$VE" 5021
t0=$SECONDS
for _ in $(seq 50); do
    rc=0
    in_k timeout 200 socat -d -d -t $ECHO_WAIT TCP:$E_IP:5021 \
        "OPEN:$WORK/k_src.bin,rdonly!!CREATE:$WORK/k_got.bin" 2>"$WORK/socat.log" || rc=$?
    grep -q "Connection refused" "$WORK/socat.log" || break
    sleep 0.2 # the server may not have opened its port yet: connection refused, try again
done
got=$(stat -c %s "$WORK/k_got.bin" 2>/dev/null || echo 0)
[ "$rc" != 124 ] ||
    fail "kernel client (socat) killed by the harness's timeout (200 s) after $((SECONDS - t0)) s," \
        "$got of 2048000 bytes echoed: no verdict on the echo (a stall, or a machine too slow)"
[ "$rc" = 0 ] || fail "kernel client (socat): exit $rc ($(grep ' [EF] ' "$WORK/socat.log" | tail -2))"
# socat notes each direction's end ("is at EOF"): its file's, then the socket's when the server's
# FIN came. Without the second, socat gave up waiting (its -t), and the echo was cut, not short.
if [ "$(grep -c "is at EOF" "$WORK/socat.log" || true)" -lt 2 ]; then
    fail "the echo had not ended ${ECHO_WAIT} s after socat sent its file (socat -t," \
        "the harness's timeout): $got of 2048000 bytes echoed in $((SECONDS - t0)) s; no" \
        "checksum verdict (a stall, or a machine too slow)"
fi
log "echo ended in $((SECONDS - t0)) s"
same_sha "$WORK/k_src.bin" "$WORK/k_got.bin" "kernel -> C++ echo server -> kernel"

# The same with a reader that stops for a while, as a descheduled one does on a loaded machine:
# the kernel client's small receive buffer fills, the server's send buffer then, and the server
# leaves bytes unread until its window closes. No new data can come to bring them back: the
# server must echo them when an ACK makes room (onMoreSendable). Quick run 6's failure (the echo
# stopped at 1828744 of 2048000 bytes) was the example without it. The client reads exactly the
# file's size, so the server's FIN is not needed here.
# The same server (one XDP program per interface), a second connection.
log "kernel client that stops reading for 3 s -> C++ echo server (back-pressure, window closed)"
t0=$SECONDS
rc=0
in_k timeout 200 socat -d -d TCP:$E_IP:5021,rcvbuf=65536 \
    "SYSTEM:cat $WORK/k_src.bin & sleep 3; timeout $ECHO_WAIT head -c 2048000 >$WORK/k_got3.bin" \
    2>"$WORK/socat3.log" || rc=$?
got=$(stat -c %s "$WORK/k_got3.bin" 2>/dev/null || echo 0)
[ "$rc" != 124 ] ||
    fail "kernel client (socat) killed by the harness's timeout (200 s) after $((SECONDS - t0)) s," \
        "$got of 2048000 bytes echoed"
# The reader's own timeout (head under timeout $ECHO_WAIT) ends socat with an error: say what
# came first.
[ "$got" = 2048000 ] ||
    fail "the echo stopped after the reader's pause: $got of 2048000 bytes in $((SECONDS - t0)) s" \
        "(the reader waited up to ${ECHO_WAIT} s for the rest)"
[ "$rc" = 0 ] || fail "kernel client (socat): exit $rc ($(grep ' [EF] ' "$WORK/socat3.log" | tail -2))"
log "echo ended in $((SECONDS - t0)) s"
same_sha "$WORK/k_src.bin" "$WORK/k_got3.bin" "kernel (pausing reader) -> C++ echo server -> kernel"
log PASS
