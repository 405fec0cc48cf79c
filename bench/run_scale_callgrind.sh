#!/bin/sh
# Instructions per idle server poll (nothing received, no timer due) with K idle established
# connections, counted by callgrind; they must not grow with K.
#
#   bench/run_scale_callgrind.sh [BUILD_DIR [K...]]   (default ./build and K = 0 10 100 1000 10000;
#                                                     builds nothing: build scale_bench first,
#                                                     ideally with -DCMAKE_BUILD_TYPE=Release)
#
# For each K, scale_bench --callgrind sets up K connections (each used once by an echo, then
# idle) and polls the server N times inside bench_loop_idle, the only function collected. Each K
# runs twice (N1 and N2 polls) and the difference is divided by N2 - N1, so that the loop's own
# entry and exit cancel out. Once without timers and once with a keepalive timer armed on every
# connection (an hour away: armed, never due). Under valgrind clock_gettime is a system call, so
# the clock read counts a few instructions of its libc wrapper only.
#
# Prints a RESULT line per K and variant (kind=instr name=idle-poll-K<k> / idle-poll-ka-K<k>) and
# exits 1 if a count differs from the first K's by more than 1%: then the self cost of the largest K is shown, and
# --dump-instr=yes output is kept in the printed directory for callgrind_annotate --auto=yes.
set -eu

BUILD=${1:-./build}
[ $# -gt 0 ] && shift
KS=${*:-0 10 100 1000 10000}
BIN=$BUILD/bench/scale_bench
N1=10000
N2=110000

if [ ! -x "$BIN" ]; then
    echo "run_scale_callgrind.sh: $BIN not found; build it first, e.g." >&2
    echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release && make -C $BUILD scale_bench" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "run_scale_callgrind.sh: valgrind not installed" >&2; exit 1; }

TMP=$(mktemp -d)
KEEP=0
trap '[ "$KEEP" = 1 ] || rm -rf "$TMP"' EXIT

# run NAME K N [ARGS...]: counts the instructions of N idle polls with K connections
run() {
    name=$1 k=$2 n=$3
    shift 3
    if ! valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$TMP/$name.out" \
        --toggle-collect='bench_loop_*' "$BIN" --callgrind --idle-k "$k" --polls "$n" "$@" \
        >"$TMP/$name.log" 2>&1; then
        cat "$TMP/$name.log" >&2
        echo "run_scale_callgrind.sh: $name failed" >&2
        exit 1
    fi
}

# Total collected instructions of a callgrind output file.
ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }

status=0
for variant in plain ka; do
    tag='' args=''
    if [ "$variant" = ka ]; then tag=-ka args=--keepalive; fi
    base='' last=''
    for k in $KS; do
        # shellcheck disable=SC2086
        run "$variant-$k-1" "$k" $N1 $args
        # shellcheck disable=SC2086
        run "$variant-$k-2" "$k" $N2 $args
        per=$(( ($(ir "$TMP/$variant-$k-2.out") - $(ir "$TMP/$variant-$k-1.out")) / (N2 - N1) ))
        [ -n "$base" ] || base=$per
        last=$k
        note=
        # More than 1% away from the first K (integer division leaves no other noise).
        diff=$((per > base ? per - base : base - per))
        if [ $((diff * 100)) -gt "$base" ]; then
            note="  <-- differs from K=$(echo "$KS" | cut -d' ' -f1) ($base)"
            status=1
        fi
        if [ "$variant" = ka ]; then
            printf 'idle poll, K=%-6s keepalive armed on each: %s instructions%s\n' "$k" "$per" "$note"
        else
            printf 'idle poll, K=%-6s no timers:               %s instructions%s\n' "$k" "$per" "$note"
        fi
        echo "RESULT kind=instr name=idle-poll$tag-K$k value=$per"
    done
    if [ $status -ne 0 ]; then
        KEEP=1
        echo
        echo "the idle poll grows with K; self cost with K=$last ($N2 polls), outputs in $TMP:"
        callgrind_annotate --inclusive=no "$TMP/$variant-$last-2.out" 2>/dev/null |
            awk '/file:function/ { on = 1; getline; next } on && NF { print; if (++n == 15) exit }'
        exit 1
    fi
done
