#!/usr/bin/env bash
# The cost of sleeping (efvitcp.h, "Idle waits"): round trips of a kernel TCP client against
# examples/idle_server on the same veth pair, the server sleeping between frames and then busy
# polling, for each link (xdp, packet) and pause between pings (the client pauses so that a
# sleeping server is asleep when each ping comes). Not a CI step.
#
#   sudo bash bench/idle_wakeup.sh [--build-dir DIR] [--count N] [--pauses "US ..."] [--no-pin]
#
# Two namespaces joined by a veth pair, offloads off, 198.18.0.0/15 addresses, removed at exit;
# the client (kernel, 198.18.0.2) and the server (efvitcp owns 198.18.0.1) pinned to CPUs 0 and
# 1. One line per run from bench/idle_ping:
#   RESULT kind=wakeup name=LINK-idle|LINK-busy pause_us=US n=N p50=NS p90=NS p99=NS p999=NS max=NS
# and the server's own line (CPU % over the run).
set -euo pipefail
BUILD=./build
COUNT=2000
PAUSES="0 1000"
PIN=1
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) BUILD=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --pauses) PAUSES=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
SERVER=$BUILD/examples/idle_server
PING=$BUILD/bench/idle_ping
[ -x "$SERVER" ] && [ -x "$PING" ] || { echo "build $SERVER and $PING first" >&2; exit 1; }
NS_C=efidle-c-$$ NS_S=efidle-s-$$
cleanup() {
    ip netns pids "$NS_S" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add ewc type veth peer name ews
ip link set ewc netns "$NS_C"
ip link set ews netns "$NS_S"
ip -n "$NS_C" addr add 198.18.0.2/24 dev ewc
ip -n "$NS_C" link set ewc up
ip -n "$NS_S" link set ews up
for n in "$NS_C:ewc" "$NS_S:ews"; do
    ip netns exec "${n%%:*}" ethtool -K "${n##*:}" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
pin() { if [ "$PIN" = 1 ]; then echo taskset -c "$1"; fi; }
for link in xdp packet; do
    for mode in idle busy; do
        flag=; [ $mode = busy ] && flag=--busy
        # No function or subshell around it: $! must be the server itself (taskset and
        # ip netns exec exec it), for the TERM below.
        $(pin 1) ip netns exec "$NS_S" "$SERVER" "$link:ews" 198.18.0.1/24 --port 7000 $flag \
            > /tmp/idle_server.$$.log 2>&1 &
        spid=$!
        sleep 0.5
        if ! kill -0 $spid 2>/dev/null; then
            echo "RESULT kind=wakeup name=$link-$mode skipped: $(head -1 /tmp/idle_server.$$.log)"
            continue
        fi
        for p in $PAUSES; do
            $(pin 0) ip netns exec "$NS_C" "$PING" 198.18.0.1 7000 --count "$COUNT" --pause-us "$p" \
                --name "$link-$mode"
        done
        kill -TERM $spid; wait $spid || true
        echo "  server: $(tail -1 /tmp/idle_server.$$.log)"
    done
done
rm -f /tmp/idle_server.$$.log
