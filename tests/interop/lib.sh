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
    bg_k tcpdump -i "$VK" -n -U -B 32768 -s "${2:-0}" -w "$CAP_FILE" "host $E_IP" \
        2>"$WORK/tcpdump.log"
    CAP_PID=$LAST_PID
    wait_until 10 "tcpdump to start" grep -q "listening on" "$WORK/tcpdump.log"
}

capture_stop() {
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    # A capture that lost frames would show gaps that are not on the wire.
    grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.log" ||
        fail "the capture itself dropped frames: $(grep dropped "$WORK/tcpdump.log" | head -1)"
}

tshark_count() { # FILE FILTER: frames matching
    tshark -r "$1" -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -Y "$2" 2>/dev/null |
        wc -l
}

# Every frame we sent has valid IP and TCP checksums (tshark verifies them).
check_checksums() { # FILE
    local ours bad
    ours=$(tshark_count "$1" "ip.src == $E_IP && tcp")
    bad=$(tshark_count "$1" "ip.src == $E_IP && (ip.checksum.status != 1 || tcp.checksum.status != 1)")
    [ "$ours" -gt 0 ] || fail "the capture holds no frame of ours"
    [ "$bad" = 0 ] || fail "$bad of our $ours frames have a bad or unverifiable checksum"
    log "checksums: all $ours frames we sent are valid"
}

# No retransmission, out-of-order or lost segment, no duplicate ACK of ours: no tcp.analysis flag
# but notes of flow control, which say that an application read slowly, not that TCP misbehaved
# (window updates, a sender filling the window, zero windows and their probes; a receiver writing
# 50 MB to disk can be slower than the wire). The kernel repeats an ACK when its application
# reads but the scaled window it advertises stays the same (a window of one unit); tshark calls
# that a duplicate ACK. Duplicate ACKs that mattered would show as retransmissions from us, which
# stay forbidden.
# TCP segments the capture saw going to efvitcp that never reached it: lost below the stack (a
# full AF_PACKET or XDP ring, a veth backlog, on a busy machine). The capture is taken on the
# kernel's side; each EFTCAT_LOG is an `eftcat -v` log, whose last line counts segments in.
lost_below_stack() { # PCAP EFTCAT_LOG...
    local cap=$1 seen=0 n sent
    shift
    sent=$(tshark_count "$cap" "ip.dst == $E_IP && tcp")
    for f in "$@"; do
        n=$(sed -n 's|.*segments in/out \([0-9]*\)/.*|\1|p' "$f" | tail -n 1)
        [ -n "$n" ] || fail "no segment counters in $f (run eftcat with -v)"
        seen=$((seen + n))
    done
    echo $((sent > seen ? sent - seen : 0))
}

# Tail loss probes the efvitcp side sent (RFC 8985 §7), from eftcat -v logs.
tail_probes() { # EFTCAT_LOG...
    local n=0 p f
    for f in "$@"; do
        p=$(sed -n 's|.*tail loss probes \([0-9]*\),.*|\1|p' "$f" | tail -n 1)
        n=$((n + ${p:-0}))
    done
    echo $n
}

# No tcp.analysis flag in the capture of a run without injected loss. LOST (lost_below_stack) >
# 0 says that frames were lost below the stack, on this machine rather than by the stack: the
# duplicate ACKs and the retransmissions that repair them are then expected, and said so; and
# our own resends with them (an ACK lost below the stack times out one of our segments). PROBES
# (tail_probes) is how many tail loss probes we sent: a probe is speculative by design (it
# resends the last segment when its ACK is late, as a peer's delayed ACK may be), so up to that
# many of our frames may show as retransmissions; more fail the run, and the count is said.
check_no_analysis_flags() { # FILE [LOST] [PROBES]
    local allowed="!tcp.analysis.window_update && !tcp.analysis.window_full"
    allowed="$allowed && !tcp.analysis.zero_window && !tcp.analysis.zero_window_probe"
    allowed="$allowed && !tcp.analysis.zero_window_probe_ack"
    allowed="$allowed && !(ip.src == $K_IP && tcp.analysis.duplicate_ack)"
    if [ "${2:-0}" -gt 0 ]; then
        log "$2 segments to efvitcp were lost below the stack (captured, never counted in):" \
            "their duplicate ACKs and retransmissions are not held against the run"
        allowed="$allowed && !(ip.src == $E_IP && tcp.analysis.duplicate_ack)"
        # The kernel's repairs: tshark calls a resent segment a retransmission, a fast one, a
        # spurious one (go-back-N after a timeout resends what had arrived) or, when it comes
        # within an RTT of the original, out of order.
        allowed="$allowed && !(ip.src == $K_IP && (tcp.analysis.retransmission ||"
        allowed="$allowed tcp.analysis.fast_retransmission ||"
        allowed="$allowed tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order))"
        allowed="$allowed && !(ip.src == $E_IP && (tcp.analysis.retransmission ||"
        allowed="$allowed tcp.analysis.spurious_retransmission))"
    fi
    local n ours
    ours="ip.src == $E_IP && (tcp.analysis.retransmission || tcp.analysis.spurious_retransmission)"
    if [ "${3:-0}" -gt 0 ] && [ "${2:-0}" -eq 0 ]; then
        n=$(tshark_count "$1" "$ours")
        if [ "$n" -le "$3" ]; then
            log "$n of our frames are resends, within the $3 tail loss probes we sent"
            allowed="$allowed && !($ours)"
        fi
    fi
    n=$(tshark_count "$1" "tcp.analysis.flags && $allowed")
    if [ "$n" != 0 ]; then
        tshark -r "$1" -n -Y "tcp.analysis.flags && $allowed" -T fields -e frame.number \
            -e ip.src -e _ws.expert.message 2>/dev/null | head -20 >&2
        fail "$n frames carry tcp.analysis flags in a loss-free run"
    fi
    log "tshark: no tcp.analysis flag (but flow-control notes)"
}

# The kernel never fought us: no RST at all in a run that ends cleanly.
check_no_rst() { # FILE
    local n
    n=$(tshark_count "$1" "tcp.flags.reset == 1")
    [ "$n" = 0 ] || fail "$n RST segments in a run that should have none"
    log "tshark: no RST"
}
