#!/bin/sh
# CPU cost in instructions, counted by callgrind (load moves it by up to 2%, through the timers on
# the real clock such as the live view's refresh: compare builds side by side in one run):
#   - per 64-byte echo round trip over mem, both stacks, and its raw-frame floor
#     (bench/run_callgrind.sh, whose output is passed on unchanged);
#   - per full segment received and per full segment sent, from a one-way bulk transfer over mem
#     of whole MSS-sized segments;
#   - the ten most expensive functions of that transfer.
#
#   bench/run_cpu_cost.sh [BUILD_DIR]      (default ./build; builds nothing: build it first,
#                                           ideally with -DCMAKE_BUILD_TYPE=Release)
#
# Every figure is also a line "RESULT kind=instr name=... value=..." (bench/suite.sh reads them).
#
# Receive side: only the receiver's efvitcp_server_poll is collected (the link's receive, TCP
# input, delivery to the application, and the ACKs it sends). Send side: only the sender's
# efvitcp_send and efvitcp_client_poll (segment building, the copy onto the wire, ACK
# processing). As in run_callgrind.sh each is run with S1 and S2 segments and the difference is
# divided by S2 - S1, so the handshake, slow start's first round trips and the drain cancel out.
set -eu

BUILD=${1:-./build}
BIN=$BUILD/bench/echo_bench
HERE=$(dirname "$0")
S1=2000
S2=12000

if [ ! -x "$BIN" ]; then
    echo "run_cpu_cost.sh: $BIN not found; build it first, e.g." >&2
    echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release && make -C $BUILD echo_bench" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "run_cpu_cost.sh: valgrind not installed" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The round trip, unchanged, then its two figures as RESULT lines.
sh "$HERE/run_callgrind.sh" "$BUILD" | tee "$TMP/rtt.txt"
RTT=$(sed -n 's/^instructions per 64-byte echo round trip (both stacks): \([0-9]*\)$/\1/p' "$TMP/rtt.txt")
FLOOR=$(sed -n 's/^floor (.*): \([0-9]*\)$/\1/p' "$TMP/rtt.txt")
echo
[ -n "$RTT" ] && echo "RESULT kind=instr name=echo-rtt-64B value=$RTT"
[ -n "$FLOOR" ] && echo "RESULT kind=instr name=echo-rtt-64B-floor value=$FLOOR"

# run NAME SEGMENTS TOGGLE...: a bulk transfer of SEGMENTS full segments, collecting only inside
# the functions named.
run() {
    name=$1 segs=$2
    shift 2
    toggles=""
    for f in "$@"; do toggles="$toggles --toggle-collect=$f"; done
    # $toggles is split on purpose: one option per function.
    # shellcheck disable=SC2086
    if ! valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" $toggles \
        "$BIN" --callgrind --bulk-segs "$segs" >"$TMP/$name.log" 2>&1; then
        cat "$TMP/$name.log" >&2
        echo "run_cpu_cost.sh: $name failed" >&2
        exit 1
    fi
    # A segment lost and resent would be counted as if it were work per segment.
    if ! grep -q "retransmits: client 0, server 0" "$TMP/$name.log"; then
        grep retransmits "$TMP/$name.log" >&2
        echo "run_cpu_cost.sh: $name retransmitted: the counts would not be per segment" >&2
        exit 1
    fi
}

ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }

run rx1 $S1 efvitcp_server_poll
run rx2 $S2 efvitcp_server_poll
run tx1 $S1 efvitcp_send efvitcp_client_poll
run tx2 $S2 efvitcp_send efvitcp_client_poll
run all2 $S2 'bench_loop_*'

MSS=$(sed -n 's/.*in segments of \([0-9]*\) bytes.*/\1/p' "$TMP/rx2.log")
RX=$(( ($(ir "$TMP/rx2.out") - $(ir "$TMP/rx1.out")) / (S2 - S1) ))
TX=$(( ($(ir "$TMP/tx2.out") - $(ir "$TMP/tx1.out")) / (S2 - S1) ))

echo "instructions per full segment received ($MSS-byte payload; receiver's poll, its ACKs included): $RX"
echo "instructions per full segment sent ($MSS-byte payload; sender's send and poll, ACK processing included): $TX"
echo "RESULT kind=instr name=segment-rx-$MSS value=$RX"
echo "RESULT kind=instr name=segment-tx-$MSS value=$TX"

# As in run_callgrind.sh: the function table starts after the line naming its columns, and the
# start-up frames that enclose everything are skipped.
top() {
    callgrind_annotate "$@" "$TMP/all2.out" 2>/dev/null |
        awk '/file:function/ { on = 1; getline; next }
             /\(below main\)|__libc_start_main|ld-linux|[?]:main / { next }
             on && NF { print; if (++n == 10) exit }'
}
echo
echo "bulk, top 10 by self cost ($S2 segments one way, both stacks):"
top --inclusive=no
