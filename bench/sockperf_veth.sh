#!/usr/bin/env bash
# Stock sockperf (Debian's package, 3.7) measuring three servers on the same veth pair:
#
#   bash bench/sockperf_veth.sh [--quick | --full] [--out DIR] [--samples DIR] [--server PATH]
#                               [--build-dir DIR] [--no-pin]
#
#   --quick       (default) 1 s per run; sockperf spends the first 0.4 s of each run warming up
#   --full        10 s per run
#   --out DIR     sockperf's full output of every run, the servers' counters (default: a new
#                 directory under /tmp)
#   --samples DIR every round trip in ns, one per line, as DIR/<name>-<size>.txt
#                 (default OUT/samples)
#   --server PATH the sockperf_server binary (default $SOCKPERF_SERVER, else
#                 $BUILD_DIR/examples/sockperf_server, BUILD_DIR defaulting to ./build)
#   --no-pin      do not pin the client and the server to CPUs 0 and 1
#
# Two namespaces joined by a veth pair, offloads off, removed at exit: the client's (198.18.0.2)
# and the servers' (the kernel has 198.18.0.3 there; efvitcp owns 198.18.0.1). For each of the
# sizes 14, 64 and 1024 bytes, `sockperf ping-pong --tcp --full-rtt` runs against
#   sockperf-kernel          `sockperf server --tcp` on 198.18.0.3 (kernel TCP both ends)
#   sockperf-efvitcp-xdp     examples/sockperf_server over the xdp link on 198.18.0.1
#   sockperf-efvitcp-packet  the same over the packet link
# and one line per run goes to stdout, converted from sockperf's report (usec) to ns:
#   RESULT kind=latency name=NAME size=BYTES n=OBSERVATIONS mean=NS p50=NS p99=NS p999=NS max=NS
# The figures are round trips (--full-rtt), the client being the kernel in every case: what
# differs is only the server's stack.
#
# Needs root, iproute2, ethtool and sockperf (apt-get install sockperf). Exit status 0; 3 when a
# link could not be opened (the other servers' lines are printed); 1 on any other failure.
set -uo pipefail

MODE=quick
OUT=
SAMPLES=
SERVER=${SOCKPERF_SERVER:-}
BUILD=${BUILD_DIR:-./build}
PIN=1

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --samples) SAMPLES=${2:?--samples needs a directory}; shift ;;
    --server) SERVER=${2:?--server needs a path}; shift ;;
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift ;;
    --no-pin) PIN=0 ;;
    -h | --help) usage ;;
    *) echo "sockperf_veth.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
done

say() { echo "sockperf_veth: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$MODE" = full ] && SECS=10 || SECS=1
[ -n "$SERVER" ] || SERVER=$BUILD/examples/sockperf_server
[ -x "$SERVER" ] || die "no sockperf_server at $SERVER (build the sockperf_server target, or --server)"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip ethtool sockperf timeout; do
    command -v $t >/dev/null 2>&1 || die "needs $t (apt-get install iproute2 ethtool sockperf)"
done
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/sockperf-veth.XXXXXX)
[ -n "$SAMPLES" ] || SAMPLES=$OUT/samples
mkdir -p "$OUT" "$SAMPLES" || die "cannot create $OUT or $SAMPLES"

CLIENT_PIN=() SERVER_PIN=()
if [ $PIN = 1 ] && [ "$(nproc)" -ge 2 ] && taskset -c 1 true 2>/dev/null; then
    CLIENT_PIN=(taskset -c 0) SERVER_PIN=(taskset -c 1)
fi

# ---- the topology ----

NS_S=spvS$$ # the servers'
NS_C=spvC$$ # the client's
VS=spvs$$
VC=spvc$$
E_IP=198.18.0.1 # efvitcp's own address
C_IP=198.18.0.2
K_IP=198.18.0.3 # the kernel's address in the servers' namespace
PORT=11111
K_PORT=11112

cleanup() {
    local pids
    for ns in "$NS_S" "$NS_C"; do
        pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    done
    wait 2>/dev/null
    ip netns del "$NS_S" 2>/dev/null
    ip netns del "$NS_C" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_s() { ip netns exec "$NS_S" "$@"; }
# Ends every process of a namespace: all started here (ip netns exec may leave the server a
# grandchild of the job bash knows).
kill_ns() { # NAMESPACE
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null) && [ -n "$pids" ] && kill $pids 2>/dev/null
}
ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }
in_c() { ip netns exec "$NS_C" "$@"; }

ip netns add "$NS_S" || die "cannot create network namespaces"
ip netns add "$NS_C" || die "cannot create network namespaces"
ip link add "$VS" netns "$NS_S" type veth peer name "$VC" netns "$NS_C" || die "cannot create a veth pair"
for side in "$NS_S $VS" "$NS_C $VC"; do
    set -- $side
    ip netns exec "$1" ip link set lo up
    # Without this our rings would see 64 KB GSO frames and partial checksums.
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null
    # One CPU per direction keeps frames in order, as a NIC's flow steering would.
    ip netns exec "$1" sh -c "echo 1 > /sys/class/net/$2/queues/rx-0/rps_cpus" 2>/dev/null
done
in_s ip addr add $K_IP/24 dev "$VS"
in_c ip addr add $C_IP/24 dev "$VC"
in_s ip link set "$VS" up
in_c ip link set "$VC" up
say "namespaces $NS_S and $NS_C, $SECS s per run, output in $OUT"

# ---- one run ----

usec_to_ns() { awk -v v="$1" 'BEGIN { printf "%d", v * 1000 + 0.5 }'; }

# pingpong NAME IP PORT SIZE: one sockperf client run; prints its RESULT line.
pingpong() {
    local name=$1 ip=$2 port=$3 size=$4 log=$OUT/$1-$4.log rc=0
    in_c "${CLIENT_PIN[@]}" timeout $((SECS + 60)) sockperf ping-pong --tcp -i "$ip" -p "$port" \
        -m "$size" -t $SECS --full-rtt --full-log "$OUT/$name-$size.csv" >"$log" 2>&1 || rc=$?
    sed -i 's/\x1b\[[0-9;]*m//g' "$log" # sockperf colours some lines
    [ $rc = 0 ] || { say "$name size $size: sockperf exit status $rc: $(tail -n1 "$log")"; return 1; }
    grep -q "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" "$log" ||
        { say "$name size $size: $(grep -m1 'dropped messages' "$log" || echo 'no report')"; return 1; }
    local n mean p50 p99 p999 max
    n=$(sed -n 's/.*Total \([0-9]*\) observations.*/\1/p' "$log")
    mean=$(sed -n 's/.*avg-rtt=\([0-9.]*\).*/\1/p' "$log")
    p50=$(sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$log")
    p99=$(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' "$log")
    p999=$(sed -n 's/.*percentile 99.900 = *\([0-9.]*\).*/\1/p' "$log")
    max=$(sed -n 's/.*<MAX> observation = *\([0-9.]*\).*/\1/p' "$log")
    for v in n mean p50 p99 p999 max; do
        [ -n "${!v}" ] || { say "$name size $size: no $v in sockperf's report ($log)"; return 1; }
    done
    # Every round trip, from the full log ("packet, txTime(sec), rxTime(sec), rtt(usec)").
    awk -F', *' 'NF == 4 && $1 ~ /^[0-9]+$/ { printf "%d\n", $4 * 1000 + 0.5 }' \
        "$OUT/$name-$size.csv" >"$SAMPLES/$name-$size.txt"
    echo "RESULT kind=latency name=$name size=$size n=$n mean=$(usec_to_ns "$mean")" \
        "p50=$(usec_to_ns "$p50") p99=$(usec_to_ns "$p99") p999=$(usec_to_ns "$p999")" \
        "max=$(usec_to_ns "$max")"
}

wait_for() { # SECONDS COMMAND...
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.05
    done
}

STATUS=0
SIZES="14 64 1024"

# ---- the kernel's server ----

in_s "${SERVER_PIN[@]}" sockperf server --tcp -i $K_IP -p $K_PORT >"$OUT/kernel-server.log" 2>&1 &
KPID=$!
listening() { in_s ss -Hltn "sport = :$K_PORT" | grep -q .; }
if wait_for 10 listening; then
    for s in $SIZES; do pingpong sockperf-kernel $K_IP $K_PORT "$s" || STATUS=1; done
else
    say "the kernel sockperf server did not start: $(tail -n1 "$OUT/kernel-server.log")"
    STATUS=1
fi
kill_ns "$NS_S"
wait "$KPID" 2>/dev/null

# ---- efvitcp's, over each link ----

UNAVAILABLE=
for link in xdp packet; do
    name=sockperf-efvitcp-$link
    rm -f "$OUT/ready-$link"
    in_s "${SERVER_PIN[@]}" timeout $((3 * SECS + 120)) "$SERVER" --link "$link:$VS" \
        --ip $E_IP/24 --port $PORT --ready "$OUT/ready-$link" --count 3 --stats \
        2>"$OUT/server-$link.log" &
    SPID=$!
    if ! wait_for 10 test -e "$OUT/ready-$link"; then
        say "$name: the server did not start: $(tail -n1 "$OUT/server-$link.log")"
        kill_ns "$NS_S"
        wait "$SPID" 2>/dev/null
        UNAVAILABLE="$UNAVAILABLE $link"
        continue
    fi
    for s in $SIZES; do pingpong "$name" $E_IP $PORT "$s" || STATUS=1; done
    # It exits after the three connections; its counters are in the log.
    wait_for 10 ns_empty "$NS_S" || { say "$name: the server did not exit"; kill_ns "$NS_S"; STATUS=1; }
    wait "$SPID" 2>/dev/null
    grep -q "bad_length 0" "$OUT/server-$link.log" || STATUS=1
done

if [ $STATUS = 0 ] && [ -n "$UNAVAILABLE" ]; then
    say "link unavailable:$UNAVAILABLE (see $OUT/server-*.log)"
    exit 3
fi
exit $STATUS
