# The kernel peer's interface takes another MAC mid-transfer and says nothing (veth then drops our
# frames to the old one). Own address: the connection's second timeout in a row asks for the
# neighbour again, and the answer moves it (docs/links.md, "Addressing"). Kernel-shared: the
# kernel's neighbour entry is replaced, as the kernel does when it hears an announcement, and the
# connection's next timeout takes it. Either way the transfer completes, every byte in order.
source "$(dirname "$0")/lib.sh"
setup

SIZE=3000000
make_file "$WORK/src.bin" $SIZE
bg_k socat -u TCP-LISTEN:5006,reuseaddr "OPEN:$WORK/dst.bin,creat,trunc"
SERVER=$LAST_PID
wait_k_listen 5006

# A source that takes three seconds, so that the move falls mid-transfer.
mkfifo "$WORK/in"
(for i in $(seq 0 29); do
    dd if="$WORK/src.bin" bs=100000 skip="$i" count=1 status=none
    sleep 0.1
done >"$WORK/in") &
BG_PIDS+=($!)
bg_e timeout 60 "$EFTCAT" --min-rto-ms 20 "${EF_ARGS[@]}" "$K_IP" 5006 <"$WORK/in" >/dev/null \
    2>"$WORK/eftcat.log"
CLIENT=$LAST_PID

got() { [ "$(stat -c %s "$WORK/dst.bin" 2>/dev/null || echo 0)" -gt "$1" ]; }
wait_until 20 "the first 500 kB at the kernel peer" got 500000
old_mac=$(in_k cat "/sys/class/net/$VK/address")
new_mac=02:00:5e:12:07:01
in_k ip link set "$VK" address $new_mac
if [ "$MODE" = kernel ]; then
    in_e ip neigh replace "$K_IP" lladdr $new_mac dev "$VE" nud reachable
fi
log "moved the peer from $old_mac to $new_mac at $(stat -c %s "$WORK/dst.bin") bytes"

wait_rc $CLIENT 0 "eftcat across the move"
wait_rc $SERVER 0 "socat"
same_sha "$WORK/src.bin" "$WORK/dst.bin" "the transfer across the move"
log PASS
