#!/bin/sh
# Zero overhead of the C++ layer: instructions per 64-byte echo round trip (both stacks, both
# applications) through the C++ layer (bench/overhead_cpp.cpp) and through the C API
# (bench/overhead_c.c, the same program), counted by callgrind, and their ratio. Target: the C++
# figure within 2% of the C one.
#
#   bench/run_cpp_overhead.sh [BUILD_DIR]   (default ./build; builds nothing: build it first, with
#                                            the tests, which define the two programs)
#
# As bench/run_callgrind.sh: each program runs N1 and N2 round trips, only bench_loop_rtt is
# collected, and the difference is divided by N2 - N1, so setup and warm-up cancel out.
# Prints "RESULT kind=instr name=..." lines too.
set -eu

BUILD=${1:-./build}
N1=1000
N2=11000
command -v valgrind >/dev/null || { echo "run_cpp_overhead.sh: valgrind not installed" >&2; exit 1; }
for b in overhead_c overhead_cpp; do
    if [ ! -x "$BUILD/bench/$b" ]; then
        echo "run_cpp_overhead.sh: $BUILD/bench/$b not found; build it first, e.g." >&2
        echo "  cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release && make -C $BUILD overhead_c overhead_cpp" >&2
        exit 1
    fi
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run() { # run BIN N
    if ! valgrind --tool=callgrind --callgrind-out-file="$TMP/$1-$2.out" \
        --toggle-collect=bench_loop_rtt "$BUILD/bench/$1" --count "$2" >"$TMP/$1-$2.log" 2>&1; then
        cat "$TMP/$1-$2.log" >&2
        echo "run_cpp_overhead.sh: $1 failed" >&2
        exit 1
    fi
}
ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }
per_rtt() { # per_rtt BIN
    run "$1" $N1
    run "$1" $N2
    echo $(( ($(ir "$TMP/$1-$N2.out") - $(ir "$TMP/$1-$N1.out")) / (N2 - N1) ))
}

C=$(per_rtt overhead_c)
CPP=$(per_rtt overhead_cpp)
echo "instructions per 64-byte echo round trip, C API:     $C"
echo "instructions per 64-byte echo round trip, C++ layer: $CPP"
awk -v c="$C" -v p="$CPP" 'BEGIN { printf "ratio C++/C: %.4f (%+d instructions, %+.2f%%)\n", p / c, p - c, (p - c) * 100 / c }'
echo "RESULT kind=instr name=echo-rtt-64B-c value=$C"
echo "RESULT kind=instr name=echo-rtt-64B-cpp value=$CPP"
