# A send made between polls leaves when it is made: the efvitcp client connects, sends 1000 bytes
# outside any poll and then stops polling; the kernel server (socat, writing what it receives to
# a file) must hold all of them within 3 s. Before, AF_PACKET and AF_XDP in copy mode sent them
# only at the next poll's doorbell, which never came.
source "$(dirname "$0")/lib.sh"
setup
bg_k timeout 60 socat -u TCP-LISTEN:5010,reuseaddr "OPEN:$WORK/got.bin,creat,trunc"
wait_k_listen 5010
in_e timeout 60 "$INTEROP_TOOL" "${EF_ARGS[@]}" --timeout 30 sendnow "$K_IP" 5010 1000 \
    "$WORK/got.bin" || fail "interop_tool sendnow: exit $?"
log PASS
