# Shared by the interop cases (tests/interop/case_*.sh): two network namespaces joined by a veth
# pair, efvitcp on one side and the Linux kernel's TCP on the other, created and removed here.
#
#   bash case_X.sh LINK MODE      LINK: packet | xdp | efvi | efct; MODE: own | kernel
#
# LINK efvi is the efvi link on the ef_vi emulator, whose port is the veth itself through
# AF_PACKET (tests/efvi_emu/emu_packet.c): the same cases, run by eftcat_efvi and
# interop_tool_efvi with "--link efvi:IF". LINK efct is the same on an emulated X3 (EFCT) port.
# Own mode only: an AF_PACKET port cannot take flows away from the kernel.
#
# MODE own: the stack owns 198.18.0.1, which the kernel of its namespace does not (that kernel
# has 198.18.0.3 on the same interface, to show it never interferes). MODE kernel: the interface
# has 198.18.0.1 and the stack shares it with the kernel. The kernel peer is 198.18.0.2.
#
# Binaries come from the environment (ctest sets them): EFTCAT, INTEROP_TOOL, and for LINK efvi
# and efct their builds on the emulator, EFTCAT_EFVI, INTEROP_TOOL_EFVI (SOCKPERF_SERVER_EFVI
# likewise). KEEP=1 keeps the work directory (captures, logs). Exit status: 0 pass, 1 fail, 77
# skip (never under CI=true).
set -euo pipefail

LINK=${1:-packet}
MODE=${2:-own}
CASE=$(basename "$0" .sh)
CASE=${CASE#case_}

E_IP=198.18.0.1  # the efvitcp side
K_IP=198.18.0.2  # the kernel peer
E_KIP=198.18.0.3 # the efvitcp namespace's own kernel address (mode own)
PREFIX=24

log() { echo "[$CASE $LINK-$MODE] $*"; }

skip() {
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL (CI=true, so no skipping): $*" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL [$CASE $LINK-$MODE]: $*" >&2
    exit 1
}

# ---- prerequisites ----

case "$LINK" in packet | xdp | efvi | efct) ;; *) fail "unknown link $LINK" ;; esac
case "$MODE" in own | kernel) ;; *) fail "unknown mode $MODE" ;; esac
LINK_TYPE=$LINK # the link's name in --link
if [ "$LINK" = efvi ] || [ "$LINK" = efct ]; then
    [ "$MODE" = own ] || fail "LINK $LINK has mode own only (AF_PACKET cannot steer flows)"
    LINK_TYPE=efvi
    EFTCAT=${EFTCAT_EFVI:-}
    INTEROP_TOOL=${INTEROP_TOOL_EFVI:-}
    SOCKPERF_SERVER=${SOCKPERF_SERVER_EFVI:-} # case_sockperf.sh
    # Any misuse of the ef_vi API by the link aborts the run (the emulator explains it).
    export EFVI_EMU_STRICT=1
    if [ "$LINK" = efct ]; then export EFVI_EMU_ARCH=efct; else export EFVI_EMU_ARCH=ef10; fi
fi

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET)"
for tool in ip ethtool socat nft tshark tcpdump ss sha256sum timeout; do
    command -v "$tool" >/dev/null 2>&1 || skip "needs $tool (apt-get install iproute2 ethtool socat nftables tshark tcpdump)"
done
[ -n "${EFTCAT:-}" ] && [ -x "$EFTCAT" ] || skip "EFTCAT is not set to the eftcat binary (run through ctest)"
[ -n "${INTEROP_TOOL:-}" ] && [ -x "$INTEROP_TOOL" ] || skip "INTEROP_TOOL is not set (run through ctest)"

# ---- the topology ----

ID=$$
NS_E=etE$ID # efvitcp's namespace
NS_K=etK$ID # the kernel peer's namespace
VE=ete$ID   # interface names must fit 15 characters
VK=etk$ID
WORK=$(mktemp -d /tmp/efvitcp-interop.XXXXXX)
BG_PIDS=()

# Kills every process of a namespace: forked servers (socat fork, its children) are not ours to
# wait for, and would keep the test's output open for ctest.
kill_ns() { # NAMESPACE
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null) || return 0
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

cleanup() {
    local rc=$?
    for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    kill_ns "$NS_E"
    kill_ns "$NS_K"
    wait 2>/dev/null || true
    ip netns del "$NS_E" 2>/dev/null || true
    ip netns del "$NS_K" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then
        echo "work directory kept: $WORK"
    elif [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        # Logs and captures stay for the post-mortem; the bulk data does not.
        rm -f "$WORK"/*.bin
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_e() { ip netns exec "$NS_E" "$@"; }
in_k() { ip netns exec "$NS_K" "$@"; }

setup() {
    ip netns add "$NS_E" 2>/dev/null || skip "cannot create network namespaces"
    ip netns add "$NS_K"
    ip link add "$VE" netns "$NS_E" type veth peer name "$VK" netns "$NS_K" ||
        skip "cannot create a veth pair"
    in_e ip link set lo up
    in_k ip link set lo up
    # With veth's default offloads the kernel hands a capture (and our AF_PACKET ring) 64 KB GSO
    # frames, and every TCP checksum it sends is partial (the pseudo-header sum alone, for an
    # offload to complete; veth passes it on as it is), so it looks bad. Offloads off: frames of
    # at most 1514 bytes, every checksum valid.
    in_e ethtool -K "$VE" tx off rx off tso off gso off gro off >/dev/null
    in_k ethtool -K "$VK" tx off rx off tso off gso off gro off >/dev/null
    # veth hands each frame to the backlog of the CPU that sent it; with senders on two CPUs
    # (a process and a softirq) the receiver sees them reordered, which would read as loss
    # (duplicate ACKs) in a capture. RPS to one CPU keeps each direction in order, as a NIC's
    # per-flow queue does.
    in_e sh -c "echo 1 > /sys/class/net/$VE/queues/rx-0/rps_cpus" 2>/dev/null ||
        log "warning: cannot set RPS on $VE: frames may be reordered"
    in_k sh -c "echo 1 > /sys/class/net/$VK/queues/rx-0/rps_cpus" 2>/dev/null ||
        log "warning: cannot set RPS on $VK: frames may be reordered"
    in_k ip addr add "$K_IP/$PREFIX" dev "$VK"
    if [ "$MODE" = own ]; then
        in_e ip addr add "$E_KIP/$PREFIX" dev "$VE"
        EF_ARGS=(--link "$LINK_TYPE:$VE" --ip "$E_IP/$PREFIX")
    else
        in_e ip addr add "$E_IP/$PREFIX" dev "$VE"
        EF_ARGS=(--link "$LINK_TYPE:$VE")
    fi
    in_e ip link set "$VE" up
    in_k ip link set "$VK" up
    log "namespaces $NS_E ($E_IP, $LINK) and $NS_K ($K_IP, kernel), work in $WORK"
}

# ---- helpers ----

# bg_e / bg_k CMD...: runs CMD in a namespace in the background, remembered for cleanup; sets
# LAST_PID to the command's own pid (ip netns exec execs it in place, so signals reach it).
# Standard input is the caller's: bash gives an asynchronous command /dev/null without the
# explicit <&0.
bg_e() {
    ip netns exec "$NS_E" "$@" <&0 &
    LAST_PID=$!
    BG_PIDS+=("$LAST_PID")
}
bg_k() {
    ip netns exec "$NS_K" "$@" <&0 &
    LAST_PID=$!
    BG_PIDS+=("$LAST_PID")
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local limit=$1 what=$2
    shift 2
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || fail "timed out waiting for $what"
        sleep 0.05
    done
}

k_listening() { in_k ss -Hltn "sport = :$1" | grep -q .; }
wait_k_listen() { wait_until 10 "a kernel listener on port $1" k_listening "$1"; }

# An eftcat -v -l writes "listening on port" to its log once it listens.
wait_e_listen() { wait_until 10 "eftcat to listen ($1)" grep -q "listening on port" "$1"; }

make_file() { head -c "$2" /dev/urandom >"$1"; }

same_sha() { # FILE_A FILE_B WHAT
    local a b
    a=$(sha256sum <"$1" | cut -d' ' -f1)
    b=$(sha256sum <"$2" | cut -d' ' -f1)
    [ "$a" = "$b" ] || fail "$3: sha256 differs ($(stat -c %s "$1") vs $(stat -c %s "$2") bytes)"
    log "$3: sha256 equal ($(stat -c %s "$1") bytes)"
}

# wait_rc PID EXPECTED WHAT: waits for a background job and checks its exit status.
wait_rc() {
    local rc=0
    wait "$1" || rc=$?
    [ "$rc" = "$2" ] || fail "$3: exit status $rc, expected $2"
}

# Random loss in the kernel's namespace, both directions of every flow with the efvitcp address:
# input (frames we sent) and output (frames the kernel sends us).
nft_loss() { # PERCENT
    in_k nft -f - <<EOF
table inet efvitcp_chaos {
    counter dropped_in {}
    counter dropped_out {}
    chain in {
        type filter hook input priority -10;
        ip saddr $E_IP numgen random mod 100 < $1 counter name dropped_in drop
    }
    chain out {
        type filter hook output priority -10;
        ip daddr $E_IP numgen random mod 100 < $1 counter name dropped_out drop
    }
}
EOF
}

nft_dropped() { # in | out: packets dropped so far
    in_k nft list counter inet efvitcp_chaos "dropped_$1" | awk '/packets/ {print $2}'
}

# A capture on the kernel's interface: what went over the wire in both directions.
capture_start() { # FILE [SNAPLEN]
    CAP_FILE=$1
    # --immediate-mode: each frame is handed to tcpdump at once (TPACKET_V2), not in blocks of
    # TPACKET_V3 that the kernel retires only when full or after tcpdump's 1 s timeout, whose
    # last one a SIGINT loses (the capture ended up to hundreds of frames before the run did).
    bg_k tcpdump -i "$VK" -n -U --immediate-mode -B 32768 -s "${2:-0}" -w "$CAP_FILE" "host $E_IP" \
        2>"$WORK/tcpdump.log"
    CAP_PID=$LAST_PID
    wait_until 10 "tcpdump to start" grep -q "listening on" "$WORK/tcpdump.log"
}

capture_stop() {
    # tcpdump stops at SIGINT without reading what its ring still holds: on a loaded machine it
    # may lag behind the wire, and the capture would end before the run did (frames missing at
    # its end, which would upset the counts of lost_below_stack). The file grows while it
    # catches up: wait until it stops (10 s at most).
    local size=-1 now end=$((SECONDS + 10))
    while now=$(stat -c %s "$CAP_FILE" 2>/dev/null) && [ "$now" != "$size" ] &&
        [ $SECONDS -lt $end ]; do
        size=$now
        sleep 0.2
    done
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    # A capture that lost frames would show gaps that are not on the wire.
    grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.log" ||
        fail "the capture itself dropped frames: $(grep dropped "$WORK/tcpdump.log" | head -1)"
    local got seen
    got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/tcpdump.log")
    seen=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$WORK/tcpdump.log")
    if [ -n "$got" ] && [ -n "$seen" ] && [ "$got" != "$seen" ]; then
        log "the capture holds $got frames of the $seen its filter took (tcpdump stopped before" \
            "it read the rest: the capture ends early)"
    fi
}

# ---- drops below the stack ----

# The drop counters between the kernel peer's socket and our stack, read once the transfers are
# over (before the namespaces go): the veth pair (its device counters, which include the
# kernel's backlog, and every non-zero drop or error counter of `ethtool -S`) and the link's own
# socket (the `eftcat -v` logs, written when the link closes). Prints them in one line to the log
# and sets DROPS_BELOW to the number of frames toward efvitcp that they show lost:
#   veth tx_dropped on the kernel's side: the frame met a full receive ring of our side (veth's
#     ptr_ring of 256 frames, filled when our side's NAPI is not scheduled: a busy CPU) or our
#     side down. tcpdump on the kernel's side captured it: it is lost after the capture;
#   veth rx_dropped on our side: frames our side's receive path dropped (an XDP redirect to a
#     socket whose ring is full or whose fill ring is empty, a full backlog);
#   the AF_XDP socket's rx_dropped (no fill ring entry) and rx_ring_full, which are also counted
#     in our side's rx_dropped (so only the larger of the two counts); its fill-ring-empty count is
#     of attempts, not frames, and is printed only;
#   the AF_PACKET socket's drops (a full receive ring: the packet link, the ef_vi emulator's
#     port), which no device counter sees; and the emulator's own (no RX descriptor, a bad frame),
#     reported when EFVI_EMU_STATS is set, as the cases that call this do.
drops_below_stack() { # LOG...
    local k_tx e_rx xsk pkt f v
    k_tx=$(in_k ip -s link show "$VK" | awk '/TX:/ { getline; print $4; exit }')
    e_rx=$(in_e ip -s link show "$VE" | awk '/RX:/ { getline; print $4; exit }')
    xsk=0
    pkt=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        v=$(sed -n 's|.*xdp link: closing; kernel drops: rx \([0-9]*\), rx ring full \([0-9]*\),.*|\1 \2|p' "$f" |
            awk '{ n += $1 + $2 } END { print n + 0 }')
        xsk=$((xsk + v))
        v=$(sed -n 's|.*packet link: closing; kernel drops: rx \([0-9]*\).*|\1|p' "$f" |
            awk '{ n += $1 } END { print n + 0 }')
        pkt=$((pkt + v))
        # The ef_vi emulator's port (EFVI_EMU_STATS): frames its AF_PACKET ring lost
        # (wire_overflow), that found no RX descriptor (nodesc) or that it dropped as bad.
        v=$(sed -n 's|.*ef_vi emulator: port .*: rx frames .* nodesc \([0-9]*\) csum_bad [0-9]* wire_dropped \([0-9]*\) wire_overflow \([0-9]*\);.*|\1 \2 \3|p' "$f" |
            awk '{ n += $1 + $2 + $3 } END { print n + 0 }')
        pkt=$((pkt + v))
    done
    # The link's socket must have said what it dropped (when it closed): without it a loss there
    # would go unexplained.
    case "$LINK" in
    xdp | packet)
        grep -qs "$LINK link: closing; kernel drops:" "$@" ||
            fail "no $LINK link drop counters in $* (the link reports them at close to eftcat -v)"
        ;;
    efvi | efct)
        grep -qs "ef_vi emulator: port .*: rx frames" "$@" ||
            fail "no ef_vi emulator counters in $* (EFVI_EMU_STATS=1)"
        ;;
    esac
    local eth_k eth_e
    eth_k=$(in_k ethtool -S "$VK" 2>/dev/null | awk -F': *' '/drops|errors/ && $2 != 0 {
        gsub(/^ */, "", $1); printf " %s %s", $1, $2 }')
    eth_e=$(in_e ethtool -S "$VE" 2>/dev/null | awk -F': *' '/drops|errors/ && $2 != 0 {
        gsub(/^ */, "", $1); printf " %s %s", $1, $2 }')
    DROPS_BELOW=$((${k_tx:-0} + (${e_rx:-0} > xsk ? ${e_rx:-0} : xsk) + pkt))
    log "drops below the stack: veth $VK tx_dropped ${k_tx:-?}, $VE rx_dropped ${e_rx:-?};" \
        "AF_XDP rx_dropped + rx_ring_full $xsk; AF_PACKET (and the ef_vi emulator) $pkt;" \
        "ethtool -S $VK:${eth_k:- nothing non-zero}; $VE:${eth_e:- nothing non-zero}" \
        "(frames toward efvitcp lost: $DROPS_BELOW)"
}


# The checks of a capture (tshark): capture_checks.sh, which tests/interop/test_capture_checks.sh
# also runs offline against small captures (tests/interop/fixtures).
source "$(dirname "${BASH_SOURCE[0]}")/capture_checks.sh"
