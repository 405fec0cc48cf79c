#!/bin/sh
# Instructions per 64-byte echo round trip, counted by callgrind.
#
#   bench/run_callgrind.sh [BUILD_DIR [ECHO_BENCH_ARGS...]]
#                                          (default ./build; builds nothing: build it first,
#                                           ideally with -DCMAKE_BUILD_TYPE=Release). Arguments
#                                           after the build directory go to the TCP runs of
#                                           echo_bench, e.g. --stat-ms 0 (the live view off).
#
# Each loop runs twice (N1 and N2 round trips) and the difference is divided by N2 - N1, so what
# does not repeat per round trip (setup, warm-up of the wire and the timers) cancels out. Only the
# bench_loop_* functions are collected. The same is done for the raw-frame floor over the same wire.
set -eu

BUILD=${1:-./build}
if [ $# -gt 0 ]; then shift; fi
BIN=$BUILD/bench/echo_bench
N1=1000
N2=11000

if [ ! -x "$BIN" ]; then
    echo "run_callgrind.sh: $BIN not found; build it first, e.g." >&2
    echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release && make -C $BUILD echo_bench" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "run_callgrind.sh: valgrind not installed" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME N [ARGS...]: counts the instructions of N round trips into $TMP/NAME.out
run() {
    name=$1 n=$2
    shift 2
    if ! valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" \
        --toggle-collect='bench_loop_*' "$BIN" --callgrind --count "$n" "$@" \
        >"$TMP/$name.log" 2>&1; then
        cat "$TMP/$name.log" >&2
        echo "run_callgrind.sh: $name failed" >&2
        exit 1
    fi
}

# Total collected instructions of a callgrind output file.
ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }

run tcp1 $N1 "$@"
run tcp2 $N2 "$@"
run raw1 $N1 --raw
run raw2 $N2 --raw

TCP=$(( ($(ir "$TMP/tcp2.out") - $(ir "$TMP/tcp1.out")) / (N2 - N1) ))
RAW=$(( ($(ir "$TMP/raw2.out") - $(ir "$TMP/raw1.out")) / (N2 - N1) ))

echo "instructions per 64-byte echo round trip (both stacks): $TCP"
# echo_bench names the floor frame's size: a 64-byte message's TCP frame (timestamps on).
RAWLEN=$(sed -n 's/^raw frame: \([0-9]*\) bytes$/\1/p' "$TMP/raw2.log")
echo "floor (raw ${RAWLEN:-?}-byte frame bounced over the same mem wire): $RAW"
awk -v t="$TCP" -v r="$RAW" 'BEGIN { printf "ratio: %.1fx the floor, %d instructions above it\n", t / r, t - r }'

# The function table of callgrind_annotate starts after the line naming its columns. The program's
# start-up frames (libc, the loader, main) enclose everything and say nothing: they are skipped.
top() {
    callgrind_annotate "$@" "$TMP/tcp2.out" 2>/dev/null |
        awk '/file:function/ { on = 1; getline; next }
             /\(below main\)|__libc_start_main|ld-linux|[?]:main / { next }
             on && NF { print; if (++n == 10) exit }'
}
echo
echo "top 10 by inclusive cost ($N2 round trips):"
top --inclusive=yes
echo
echo "top 10 by self cost ($N2 round trips):"
top --inclusive=no
