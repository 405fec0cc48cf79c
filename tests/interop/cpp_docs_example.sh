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
make_file "$WORK/k_src.bin" 2048000
bg_e timeout 60 "$CPP_DOCS_EXAMPLE" server "$VE" 5021
for _ in $(seq 50); do
    if in_k timeout 30 socat -t 10 TCP:$E_IP:5021 \
        "OPEN:$WORK/k_src.bin,rdonly!!CREATE:$WORK/k_got.bin" 2>"$WORK/socat.log"; then
        break
    fi
    sleep 0.2 # the server may not have opened its port yet: connection refused, try again
done
same_sha "$WORK/k_src.bin" "$WORK/k_got.bin" "kernel -> C++ echo server -> kernel"
log PASS
