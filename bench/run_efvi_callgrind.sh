#!/bin/sh
# Instructions per 64-byte echo round trip, per side, over the efvi link on emulated EF10 (CTPIO)
# and EFCT ports and over mem, split by part of the program; and per full segment received and
# sent on the emulated ports. Counted by callgrind, so the machine's load does not matter.
#
#   bench/run_efvi_callgrind.sh [BUILD_DIR]   (default ./build; builds nothing: build
#                                              echo_bench_efvi first, which needs the tests, in a
#                                              Release build with -g so that callgrind knows files:
#                                              cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
#                                                    -DCMAKE_C_FLAGS=-g)
#
# Round trips (bench/echo_bench.c, both stacks in one process on one mem wire): the client side is
# efvitcp_client_poll plus the client's sends (bench_client_send), the server side is
# efvitcp_server_poll (its echo is sent from inside it); each side is counted in a run of its own.
# Every run is made with N1 and N2 round trips and the difference divided by N2 - N1, so setup and
# warm-up cancel out (as in run_callgrind.sh). Twice: with the settings of the original C++
# efvitcp (--matched: no window scaling, no timestamps, no congestion control, delayed ACK 10 ms)
# and with the defaults.
#
# Parts (bench/callgrind_groups.awk, by source file; a call into libc is charged to its caller):
# stack = src/tcp, src/net, src/api, src/util; link = src/link; wire = src/wire and the ef_vi
# emulator (tests/efvi_emu: the NIC's work and ef_vi's own code, which a real NIC and libciul
# would do); app = bench/ (the loop and the callbacks). src/ = stack + link, the figure that the
# targets of issue 11 are about: per side at most 550 on EF10 and 700 on EFCT; on mem 1,800 for
# both sides together, the wire left out.
#
# Segments: a one-way bulk transfer of whole 1448-byte segments (default settings) on the
# emulated ports, as in run_cpu_cost.sh: received = the receiver's efvitcp_server_poll (its ACKs
# included), sent = the sender's efvitcp_send and efvitcp_client_poll (ACK processing included);
# S1 and S2 segments, the difference divided by S2 - S1. Targets for src/: 700 received, 900 sent.
#
# Idle polls: S1 and S2 polls of the server with its connection established and nothing to do
# (echo_bench --idle), after a short ping-pong; what one turn of a busy-poll loop costs.
#
# Every figure is also a line "RESULT kind=instr name=... value=..." (bench/suite.sh reads them).
set -eu

BUILD=${1:-./build}
BIN=$BUILD/bench/echo_bench_efvi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
N1=${EFVITCP_CG_N1:-1000}
N2=${EFVITCP_CG_N2:-11000}
S1=${EFVITCP_CG_S1:-2000}
S2=${EFVITCP_CG_S2:-12000}

if [ ! -x "$BIN" ]; then
    echo "run_efvi_callgrind.sh: $BIN not found; build it first (it needs EFVITCP_TESTS), e.g." >&2
    echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g && make -C $BUILD echo_bench_efvi" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "run_efvi_callgrind.sh: valgrind not installed" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME ARGS -- TOGGLE...: one callgrind run of the bench, collecting only inside the
# functions named; the parts of its count in $TMP/NAME.parts ("part count" lines).
run() {
    name=$1
    shift
    args=""
    while [ "$1" != -- ]; do args="$args $1"; shift; done
    shift
    toggles=""
    for f in "$@"; do toggles="$toggles --toggle-collect=$f"; done
    # $args and $toggles are split on purpose.
    # shellcheck disable=SC2086
    if ! valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" $toggles \
        "$BIN" --callgrind $args >"$TMP/$name.log" 2>&1; then
        cat "$TMP/$name.log" >&2
        echo "run_efvi_callgrind.sh: $name failed" >&2
        exit 1
    fi
    # A segment lost and resent would be counted as work per round trip or per segment. Idle
    # runs: nothing may leave during the idle polls (what settled before them is not counted).
    if grep -q "^idle:" "$TMP/$name.log"; then
        if ! grep -q "quiet, 0 frames sent" "$TMP/$name.log"; then
            grep "^idle:" "$TMP/$name.log" >&2
            echo "run_efvi_callgrind.sh: $name sent frames during its idle polls" >&2
            exit 1
        fi
    elif ! grep -q "retransmits: client 0, server 0" "$TMP/$name.log"; then
        grep retransmits "$TMP/$name.log" >&2
        echo "run_efvi_callgrind.sh: $name retransmitted: the counts would be off" >&2
        exit 1
    fi
    awk -v root="$ROOT" -f "$HERE/callgrind_groups.awk" "$TMP/$name.out" >"$TMP/$name.parts"
    if ! awk '$1 == "total" { t = $2 } $1 == "summary" { s = $2 }
              END { exit !(t == s) }' "$TMP/$name.parts"; then
        echo "run_efvi_callgrind.sh: $name: the parts do not add up to callgrind's total" >&2
        exit 1
    fi
    # Without debug info callgrind knows no source file and everything lands in "other".
    if ! awk '$1 == "stack" && $2 > 0 { ok = 1 } END { exit !ok }' "$TMP/$name.parts"; then
        echo "run_efvi_callgrind.sh: $name: no instruction charged to src/; was $BUILD built" \
            "with -g (-DCMAKE_C_FLAGS=-g)?" >&2
        exit 1
    fi
}

# per A B DIV PART: (PART in run B - PART in run A) / DIV
per() {
    a=$(awk -v p="$4" '$1 == p { print $2 }' "$TMP/$1.parts")
    b=$(awk -v p="$4" '$1 == p { print $2 }' "$TMP/$2.parts")
    echo $(((b - a) / $3))
}

CLIENT="efvitcp_client_poll bench_client_send"
SERVER="efvitcp_server_poll"

# rtt LINK SETTINGS: a row of the round-trip table, and its RESULT lines.
rtt() {
    link=$1 set=$2
    flag=""
    [ "$set" = matched ] && flag=--matched
    k=$link-$set
    # shellcheck disable=SC2086
    run $k-c1 --link $link $flag --count $N1 -- $CLIENT
    # shellcheck disable=SC2086
    run $k-c2 --link $link $flag --count $N2 -- $CLIENT
    run $k-s1 --link $link $flag --count $N1 -- $SERVER
    run $k-s2 --link $link $flag --count $N2 -- $SERVER
    d=$((N2 - N1))
    cs=$(per $k-c1 $k-c2 $d stack) cl=$(per $k-c1 $k-c2 $d link)
    ss=$(per $k-s1 $k-s2 $d stack) sl=$(per $k-s1 $k-s2 $d link)
    w=$(($(per $k-c1 $k-c2 $d wire) + $(per $k-s1 $k-s2 $d wire)))
    app=$(($(per $k-c1 $k-c2 $d app) + $(per $k-s1 $k-s2 $d app)))
    oth=$(($(per $k-c1 $k-c2 $d other) + $(per $k-s1 $k-s2 $d other)))
    c=$((cs + cl)) s=$((ss + sl))
    case $link in
    mem) label=mem target=1800 worst=$((c + s)) ;;
    efvi) label="efvi EF10" target=550 worst=$((c > s ? c : s)) ;;
    efct) label="efvi EFCT" target=700 worst=$((c > s ? c : s)) ;;
    esac
    awk -v l="$label" -v cs=$cs -v cl=$cl -v ss=$ss -v sl=$sl -v w=$w -v a=$app -v o=$oth \
        -v c=$c -v s=$s -v t=$target -v x=$worst \
        'BEGIN { printf "%-10s %7d %7d %7d %7d %7d %6d %6d %7d %7d %7d %6.2fx\n",
                 l, cs, cl, ss, sl, w, a, o, c, s, t, x / t }' >>"$TMP/table-$set"
    tag=$link-emu
    [ "$link" = mem ] && tag=mem
    [ "$set" = matched ] && tag=$tag-matched
    echo "RESULT kind=instr name=$tag-rtt-64B-client-src value=$c" >>"$TMP/results"
    echo "RESULT kind=instr name=$tag-rtt-64B-server-src value=$s" >>"$TMP/results"
    [ "$link" = mem ] && echo "RESULT kind=instr name=$tag-rtt-64B-src value=$((c + s))" >>"$TMP/results"
    echo "RESULT kind=instr name=$tag-rtt-64B-wire value=$w" >>"$TMP/results"
}

for set in matched default; do
    for link in mem efvi efct; do rtt $link $set; done
done

# seg LINK: per full segment received and sent on the emulated ports.
seg() {
    link=$1
    run $link-rx1 --link $link --bulk-segs $S1 -- efvitcp_server_poll
    run $link-rx2 --link $link --bulk-segs $S2 -- efvitcp_server_poll
    run $link-tx1 --link $link --bulk-segs $S1 -- efvitcp_send efvitcp_client_poll
    run $link-tx2 --link $link --bulk-segs $S2 -- efvitcp_send efvitcp_client_poll
    mss=$(sed -n 's/.*segments of \([0-9]*\) bytes.*/\1/p' "$TMP/$link-rx2.log")
    d=$((S2 - S1))
    for dir in rx tx; do
        st=$(per $link-${dir}1 $link-${dir}2 $d stack) ln=$(per $link-${dir}1 $link-${dir}2 $d link)
        w=$(per $link-${dir}1 $link-${dir}2 $d wire) a=$(per $link-${dir}1 $link-${dir}2 $d app)
        o=$(per $link-${dir}1 $link-${dir}2 $d other)
        t=700
        [ $dir = tx ] && t=900
        awk -v l="$link $dir" -v st=$st -v ln=$ln -v w=$w -v a=$a -v o=$o -v t=$t \
            'BEGIN { printf "%-10s %7d %7d %7d %6d %6d %7d %7d %6.2fx\n", l, st, ln, w, a, o,
                     st + ln, t, (st + ln) / t }' >>"$TMP/segs"
        echo "RESULT kind=instr name=$link-emu-segment-$dir-$mss-src value=$((st + ln))" >>"$TMP/results"
    done
}
seg efvi
seg efct

# idle LINK: per poll of an established server with nothing to do (--idle: the turns of a busy
# poll loop between messages). After the first, every such poll is quiet (et_stack_quiet) on a
# link that can tell it has nothing waiting (efvi); mem makes each a full poll.
idle() {
    link=$1
    run $link-idle1 --link $link --matched --count 100 --idle $S1 -- bench_loop_idle
    run $link-idle2 --link $link --matched --count 100 --idle $S2 -- bench_loop_idle
    d=$((S2 - S1))
    st=$(per $link-idle1 $link-idle2 $d stack) ln=$(per $link-idle1 $link-idle2 $d link)
    w=$(per $link-idle1 $link-idle2 $d wire)
    printf "%-10s %7d %7d %7d %7d\n" "$link" "$st" "$ln" "$w" $((st + ln)) >>"$TMP/idle"
    echo "RESULT kind=instr name=$link-emu-idle-poll-src value=$((st + ln))" >>"$TMP/results"
}
for link in efvi efct mem; do idle $link; done

hdr="           client  client  server  server   wire/     app  other  client  server  target  worst"
hdr2="            stack    link   stack    link    emu                     src/    src/            ÷ target"
for set in matched default; do
    if [ $set = matched ]; then
        echo "instructions per 64-byte echo round trip, settings of the original C++ efvitcp (--matched):"
    else
        echo "instructions per 64-byte echo round trip, default settings:"
    fi
    echo "$hdr"
    echo "$hdr2"
    cat "$TMP/table-$set"
    echo
done
echo "(wire/emu, app and other: both sides together; src/ = stack + link; target: per side on"
echo " efvi, both sides together on mem; worst = the larger side on efvi, the sum on mem)"
echo
echo "instructions per full ${mss}-byte segment on the emulated ports (default settings):"
echo "             stack    link   wire/     app  other    src/  target  src/"
echo "                              emu                                  ÷ target"
cat "$TMP/segs"
echo
echo "instructions per idle poll (an established connection, nothing to do):"
echo "             stack    link   wire/    src/"
echo "                              emu"
cat "$TMP/idle"
echo
cat "$TMP/results"
