#!/usr/bin/env bash
# Interop test of the xdp link: two efvitcp instances, one per network namespace, over a veth pair
# (offloads off, addresses from 198.18.0.0/15). Checks an echo, a 10 MB transfer checked byte for
# byte at the server, a 10 MB echo checked at the client, a ping-pong run, that ping and kernel TCP
# on the same port number still reach the kernel while our XDP programs are attached, and that the
# programs are gone afterwards.
#
#   bash xdp_veth.sh PATH/TO/xdp_peer
#
# Exit 77 (skip) without root, namespaces or AF_XDP; under CI=true those are failures.
set -uo pipefail

peer=${1:-}
port=7777
kern_a=198.18.0.1 kern_b=198.18.0.2
ours_a=198.18.0.11 ours_b=198.18.0.12

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $* (CI=true: a missing capability is a failure)"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}

[ -n "$peer" ] && [ -x "$peer" ] || skip "the xdp link was not built (needs libxdp-dev, libbpf-dev, clang)"
[ "$(id -u)" = 0 ] || skip "needs root for namespaces and XDP"
for tool in ip ethtool ping socat timeout; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done

A=efx$$a B=efx$$b
work=$(mktemp -d /tmp/efvitcp-xdp.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$A" 2>/dev/null && ip netns add "$B" 2>/dev/null || skip "cannot create network namespaces"
ip link add xa netns "$A" type veth peer name xb netns "$B" 2>/dev/null || skip "cannot create a veth pair"
for side in "$A xa $kern_a" "$B xb $kern_b"; do
    set -- $side
    ip -n "$1" link set lo up
    ip -n "$1" addr add "$3/24" dev "$2"
    ip -n "$1" link set "$2" up
    # With veth's default offloads the kernel sends 64 KB GSO frames whose TCP checksums are
    # partial (the pseudo-header sum alone, for an offload to complete; veth passes it on as it
    # is). Offloads off: frames fit the MTU and every checksum is valid.
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null ||
        fail "ethtool -K on $2"
done

# Background processes are started with ip netns exec directly (never through these functions)
# so that $! is the process itself: ip netns exec execs its command.
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }

# Waits up to 10 s for a file a background process creates when it is ready.
wait_file() {
    for _ in $(seq 100); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

out=$(inB "$peer" probe xdp:xb "$ours_b/24" 2>&1)
rc=$?
[ $rc = 3 ] && skip "AF_XDP is not available here: $out"
[ $rc = 0 ] || fail "probe: $out"
echo "link: $out"

# The kernel releases the probe's AF_XDP socket from the queue asynchronously: on a busy machine
# the server may still find the queue in use for a moment, which is no failure of ours.
for attempt in 1 2 3 4 5; do
    ip netns exec "$B" timeout 120 "$peer" --ready "$work/srv" --timeout 100 server xdp:xb "$ours_b/24" $port 4 \
        >"$work/srv.log" 2>&1 &
    srv=$!
    wait_file "$work/srv" && break
    grep -q "the queue is in use" "$work/srv.log" && [ $attempt -lt 5 ] || break
    wait $srv 2>/dev/null
    echo "the probe's socket still holds queue 0 (attempt $attempt); starting the server again"
    sleep 0.5
done
pids+=($srv)
[ -e "$work/srv" ] || fail "the efvitcp server did not start: $(cat "$work/srv.log")"

# A kernel echo server on the same port number, on the kernel's address of the same interface.
ip netns exec "$B" socat TCP-LISTEN:$port,bind=$kern_b,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
pids+=($!)

# First client: attaches its program on xa, then waits while the kernel's traffic is checked with
# programs on both ends of the pair.
ip netns exec "$A" timeout 60 "$peer" --ready "$work/cli" --go "$work/go" --timeout 50 \
    echo xdp:xa "$ours_a/24" $ours_b $port 1000 >"$work/cli.log" 2>&1 &
cli=$!
pids+=($cli)
wait_file "$work/cli" || fail "the efvitcp client did not start: $(cat "$work/cli.log")"
inA ip link show xa | grep -q 'prog/xdp' || fail "no XDP program on xa while the client runs"
inB ip link show xb | grep -q 'prog/xdp' || fail "no XDP program on xb while the server runs"

inA ping -c 3 -i 0.2 -W 2 $kern_b >/dev/null || fail "ping A->B kernel with XDP attached"
inB ping -c 3 -i 0.2 -W 2 $kern_a >/dev/null || fail "ping B->A kernel with XDP attached"
echo "ping: kernel <-> kernel ok with both programs attached"
for _ in $(seq 50); do inB ss -ltn 2>/dev/null | grep -q ":$port " && break; sleep 0.1; done
reply=$(echo kernel-tcp-ok | inA timeout 10 socat - TCP:$kern_b:$port 2>&1)
[ "$reply" = kernel-tcp-ok ] || fail "kernel TCP to $kern_b:$port with XDP attached: '$reply'"
echo "kernel TCP: $kern_a -> $kern_b:$port ok (same port as the efvitcp listener)"

touch "$work/go"
wait $cli || fail "echo 1000: $(cat "$work/cli.log")"
grep '^echo' "$work/cli.log"

run_client() { # <mode> <args...>
    inA timeout 60 "$peer" --timeout 50 "$1" xdp:xa "$ours_a/24" $ours_b $port "${@:2}" \
        >"$work/run.log" 2>&1 || fail "$1 ${*:2}: $(cat "$work/run.log")"
    grep -v '^xdp_peer: xdp link' "$work/run.log"
}
run_client sink 10000000
run_client echo 10000000
run_client pingpong 2000 64

wait $srv || fail "server: $(cat "$work/srv.log")"
grep -v '^xdp_peer: xdp link' "$work/srv.log"
inA ip link show xa | grep -q 'prog/xdp' && fail "XDP program left on xa after the client closed"
inB ip link show xb | grep -q 'prog/xdp' && fail "XDP program left on xb after the server closed"
inA ping -c 1 -W 2 $kern_b >/dev/null || fail "ping after teardown"

# A process that dies without closing must leave no program behind (it is attached by a BPF
# link that the kernel drops with the process), or the next start would find the interface taken.
rm -f "$work/srv"
ip netns exec "$B" "$peer" --ready "$work/srv" --timeout 30 server xdp:xb "$ours_b/24" $port 1 \
    >/dev/null 2>&1 &
victim=$!
pids+=($victim)
wait_file "$work/srv" || fail "the server for the crash check did not start"
kill -9 $victim
wait $victim 2>/dev/null
# The kernel releases the dead process's files, and so the BPF link, from a work queue.
for _ in $(seq 50); do inB ip link show xb | grep -q 'prog/xdp' || break; sleep 0.1; done
inB ip link show xb | grep -q 'prog/xdp' && fail "XDP program left on xb 5 s after kill -9"
out=$(inB "$peer" probe xdp:xb "$ours_b/24" 2>&1) || fail "reopen after kill -9: $out"
echo "kill -9: program detached, interface reusable"
echo "PASS: xdp link over veth"
