#!/usr/bin/env bash
# The benchmark suite: every pair side by side, in one command (docs/benchmarks.md reads its
# report against the project's performance targets).
#
#   bash bench/suite.sh [--quick | --full | --smoke] [--out DIR] [--build-dir DIR] [--no-build]
#   bash bench/suite.sh --check DIR        checks that DIR holds a well-formed run
#
#   --quick      (default) a first look: a few minutes on 2 cores
#   --full       for publication: ten to twenty times the samples and bytes; about 5 minutes on
#                2 cores
#   --smoke      the mem parts only, tiny counts, no root, no callgrind; checks its own output
#                (the ctest bench/suite-smoke)
#   --out DIR    default bench/results/<date>-<mode>
#   --build-dir  default ./build-bench, configured as a Release build if it has no CMakeCache.txt;
#                the benchmark targets are (re)built unless --no-build
#
# Writes DIR/results.csv (one row per figure or per piece that could not run), DIR/results.md
# (the tables, with ratios to kernel TCP and to the link's floor, and the machine), DIR/latency.png
# (the 64-byte distributions, with gnuplot: apt-get install gnuplot-nox), DIR/samples/ (every
# round trip of every pair) and DIR/logs/ (each program's output), then prints results.md.
#
# Pieces: efvitcp to efvitcp over mem in one process (echo_bench), over the efvi link on emulated
# EF10 and EFCT ports in one process (echo_bench_efvi, built with the tests) and over shm between
# two processes (shm_pingpong); over xdp and packet on a veth pair between two namespaces
# (interop_tool); kernel TCP over the same veth pair and over loopback; each link's floor, a raw
# frame of the same size bounced with no TCP (echo_bench --raw, shm_pingpong --raw, link_floor);
# sockperf (sockperf_veth.sh); CPU cost in instructions (run_cpu_cost.sh and, per side and per
# part of the program on mem and the emulated ports, run_efvi_callgrind.sh; callgrind); scale
# (scale_bench, run_scale_callgrind.sh). A piece whose program is not built, or that needs root
# when we are not, gets a row saying so; one that fails gets a row pointing to its log.
#
# The veth parts need root: two namespaces (efbA<pid>, efbB<pid>) joined by a veth pair,
# addresses in 198.18.0.0/15 only (kernel 198.18.0.1 and .2, the stacks' own .11 and .12),
# offloads off (ethtool) except for the labelled kernel run with offloads on; removed on exit.
# The two sides of each pair run pinned to different CPUs (taskset), single-process pieces on
# CPU 1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=quick
OUT=
BUILD=
NO_BUILD=0
CHECK_DIR=

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --smoke) MODE=smoke ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift ;;
    --no-build) NO_BUILD=1 ;;
    --check) CHECK_DIR=${2:?--check needs a directory}; shift ;;
    -h | --help) usage ;;
    *) echo "suite.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
done

SIZES="14 64 1024"
CSV_HEADER="section,kind,name,size,dir,n,mean_ns,p50_ns,p99_ns,p999_ns,max_ns,bytes,secs,gbps,value,unit,status,source"

# ---------------------------------------------------------------------------------------------
# --check: is a results directory well formed?
# ---------------------------------------------------------------------------------------------

check_results() { # DIR
    local dir=$1 bad=0
    local csv=$dir/results.csv md=$dir/results.md
    say_bad() { echo "suite.sh --check: $*" >&2; bad=1; }
    [ -s "$csv" ] || { say_bad "$csv missing or empty"; return 1; }
    [ -s "$md" ] || { say_bad "$md missing or empty"; return 1; }
    [ "$(head -n1 "$csv")" = "$CSV_HEADER" ] || say_bad "results.csv: wrong header"
    # Every row has the header's 18 fields, a status, and numbers where numbers belong.
    awk -F, 'NR > 1 {
        if (NF != 18) { printf "row %d: %d fields\n", NR, NF; bad = 1; next }
        if ($17 == "") { printf "row %d: no status\n", NR; bad = 1 }
        for (i = 6; i <= 15; i++)
            if (i != 16 && $i != "" && $i !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
                printf "row %d: field %d is not a number: %s\n", NR, i, $i; bad = 1
            }
        if ($17 == "ok" && $2 == "latency" && ($8 == "" || $8 + 0 <= 0 || $11 + 0 < $8 + 0)) {
            printf "row %d: latency row without sane p50/max\n", NR; bad = 1
        }
        rows++
    } END { if (rows == 0) { print "no rows"; bad = 1 } exit bad }' "$csv" >&2 ||
        say_bad "results.csv: malformed rows (above)"
    grep -q '^latency,latency,mem,64,.*,ok,' "$csv" || say_bad "results.csv: no mem 64-byte latency"
    grep -q '^throughput,throughput,mem,,one,.*,ok,' "$csv" ||
        say_bad "results.csv: no mem one-way throughput"
    grep -q '^## Latency' "$md" || say_bad "results.md: no latency section"
    grep -q '^## Machine' "$md" || say_bad "results.md: no machine section"
    # Each markdown table: the separator row, and the same number of cells in every row.
    awk '/^\|/ { n = gsub(/\|/, "|"); if (!intable) { cols = n; intable = 1; row = 0 }
                 row++; if (n != cols) { printf "results.md line %d: %d bars, want %d\n", NR, n, cols; bad = 1 }
                 if (row == 2 && $0 !~ /^\|[-:| ]+\|$/) { printf "results.md line %d: no separator\n", NR; bad = 1 }
                 next }
         { intable = 0 } END { exit bad }' "$md" >&2 || say_bad "results.md: malformed table (above)"
    if command -v gnuplot >/dev/null 2>&1 && ls "$dir"/samples/*-64.txt >/dev/null 2>&1; then
        [ "$(head -c 4 "$dir/latency.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
            say_bad "latency.png missing or not a PNG"
    fi
    [ $bad = 0 ] && echo "suite.sh --check: $dir is well formed"
    return $bad
}

if [ -n "$CHECK_DIR" ]; then
    check_results "$CHECK_DIR"
    exit $?
fi

# ---------------------------------------------------------------------------------------------
# Parameters per mode
# ---------------------------------------------------------------------------------------------

case $MODE in
smoke)
    MEM_N=3000 SHM_N=3000 VETH_N=2000 BULK_MEM=20000000 BULK_SHM=20000000 BULK_VETH=20000000 ;;
quick)
    MEM_N=200000 SHM_N=200000 VETH_N=30000 BULK_MEM=1000000000 BULK_SHM=1000000000
    BULK_VETH=200000000 ;;
full)
    MEM_N=2000000 SHM_N=2000000 VETH_N=500000 BULK_MEM=10000000000 BULK_SHM=10000000000
    BULK_VETH=2000000000 ;;
esac

STAMP=$(date +%Y-%m-%d-%H%M%S)
[ -n "$OUT" ] || OUT=$ROOT/bench/results/$STAMP-$MODE
[ -n "$BUILD" ] || BUILD=$ROOT/build-bench
mkdir -p "$OUT/logs" "$OUT/samples" || exit 1
OUT=$(cd "$OUT" && pwd)
CSV=$OUT/results.csv
MD=$OUT/results.md
SAMPLES=$OUT/samples
WORK=$(mktemp -d /tmp/efvitcp-suite.XXXXXX)
echo "$CSV_HEADER" >"$CSV"
rm -f "$SAMPLES"/*.txt

log() { echo "[suite] $*" >&2; }

# CPUs for the two sides of a pair, and for one-process pieces.
PIN_A=() PIN_B=() PIN_ONE=()
if [ "$(nproc)" -ge 2 ] && taskset -c 0 true 2>/dev/null && taskset -c 1 true 2>/dev/null; then
    PIN_A=(taskset -c 0) PIN_B=(taskset -c 1) PIN_ONE=(taskset -c 1)
fi

# ---------------------------------------------------------------------------------------------
# Results: RESULT lines to CSV rows
# ---------------------------------------------------------------------------------------------

# Cleans free text for a CSV cell that also ends up in a markdown table.
cell() { printf '%s' "$*" | tr ',|\n\r' ';/  ' | cut -c1-160; }

# status_row SECTION KIND NAME SIZE DIR STATUS SOURCE
status_row() {
    printf '%s,%s,%s,%s,%s,,,,,,,,,,,,%s,%s\n' "$1" "$2" "$(cell "$3")" "$4" "$5" "$(cell "$6")" \
        "$(cell "$7")" >>"$CSV"
}

# parse_results SECTION LABEL SOURCE < LOG: every RESULT line as a row; LABEL, if set, names it.
parse_results() {
    awk -v section="$1" -v label="$2" -v source="$3" '
        function get(k) { return (k in kv) ? kv[k] : "" }
        function clean(s) { gsub(/[,|]/, ";", s); return s }
        $1 == "RESULT" {
            split("", kv)
            for (i = 2; i <= NF; i++) {
                p = index($i, "=")
                if (p > 1) kv[substr($i, 1, p - 1)] = substr($i, p + 1)
            }
            name = label != "" ? label : get("name")
            printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,ok,%s\n", section,
                clean(get("kind")), clean(name), clean(get("size")), clean(get("dir")),
                clean(get("n")), clean(get("mean")), clean(get("p50")), clean(get("p99")),
                clean(get("p999")), clean(get("max")), clean(get("bytes")), clean(get("secs")),
                clean(get("gbps")), clean(get("value")), clean(get("unit")), clean(source)
        }'
}

# Why a run failed, from its exit status and the last line of its log.
why_failed() { # RC LOG LIMIT
    local last
    last=$(grep -v '^RESULT ' "$2" 2>/dev/null | tail -n1)
    case $1 in
    0) echo "failed: no RESULT line (logs/$(basename "$2"))" ;;
    124 | 137) echo "failed: timed out after $3 s (logs/$(basename "$2"))" ;;
    3) echo "link unavailable: $last" ;;
    *) echo "failed (exit $1): $last (logs/$(basename "$2"))" ;;
    esac
}

# run_result SECTION KIND LABEL SIZE DIR SOURCE LIMIT CMD...: runs CMD (at most LIMIT seconds),
# its output in logs/SOURCE.log; its RESULT lines become rows (named LABEL if set), or one row
# saying why there are none.
run_result() {
    local section=$1 kind=$2 label=$3 size=$4 dir=$5 source=$6 limit=$7
    shift 7
    local lf=$OUT/logs/$source.log rc=0
    log "$source"
    timeout -k 10 "$limit" "$@" >"$lf" 2>&1 </dev/null || rc=$?
    if grep -q '^RESULT ' "$lf"; then
        parse_results "$section" "$label" "$source" <"$lf" >>"$CSV"
        [ $rc = 0 ] && return 0
    fi
    status_row "$section" "$kind" "${label:-$source}" "$size" "$dir" "$(why_failed $rc "$lf" "$limit")" \
        "$source"
    return 1
}

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------

TARGETS="echo_bench echo_bench_efvi link_floor interop_tool shm_pingpong scale_bench sockperf_server"
if [ "$NO_BUILD" = 0 ]; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        # -g changes no instruction; callgrind needs it to charge instructions to source files.
        log "configuring a Release build in $BUILD"
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g \
            >"$OUT/logs/build.log" 2>&1 ||
            { cat "$OUT/logs/build.log" >&2; log "cmake failed"; exit 1; }
    fi
    log "building the benchmarks in $BUILD"
    cmake "$BUILD" >>"$OUT/logs/build.log" 2>&1
    # Only targets this tree has (others are still being written); each on its own, so that one
    # that does not compile costs its rows only.
    have=$(make -C "$BUILD" help 2>/dev/null | sed -n 's/^\.\.\. \([A-Za-z0-9_]*\).*/\1/p')
    for t in $TARGETS; do
        printf '%s\n' $have | grep -qx "$t" || continue
        make -C "$BUILD" -j"$(nproc)" "$t" >>"$OUT/logs/build.log" 2>&1 ||
            log "warning: $t did not build (logs/build.log)"
    done
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { log "no build directory $BUILD"; exit 1; }
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
ECHO=$BUILD/bench/echo_bench
ECHO_EFVI=$BUILD/bench/echo_bench_efvi
FLOOR=$BUILD/bench/link_floor
SHM=$BUILD/bench/shm_pingpong
SCALE=$BUILD/bench/scale_bench
TOOL=$BUILD/tests/interop/interop_tool

built() { [ -x "$1" ]; }

# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && COMMIT="$COMMIT (with local changes)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$SECONDS

# ---------------------------------------------------------------------------------------------
# mem: both stacks in one process
# ---------------------------------------------------------------------------------------------

LAT_LIMIT=$((120 + MEM_N / 2000))
if built "$ECHO"; then
    for s in $SIZES; do
        run_result latency latency mem "$s" "" "mem-$s" $LAT_LIMIT \
            "${PIN_ONE[@]}" "$ECHO" --count $MEM_N --size "$s" --samples "$SAMPLES/mem-$s.txt"
        run_result latency latency mem-floor "$s" "" "mem-floor-$s" $LAT_LIMIT \
            "${PIN_ONE[@]}" "$ECHO" --raw --count $MEM_N --size "$s" --samples "$SAMPLES/mem-floor-$s.txt"
    done
    run_result throughput throughput mem "" one mem-bulk $((120 + BULK_MEM / 20000000)) \
        "${PIN_ONE[@]}" "$ECHO" --bulk $BULK_MEM
    run_result throughput throughput mem "" both mem-bulk-both $((120 + BULK_MEM / 20000000)) \
        "${PIN_ONE[@]}" "$ECHO" --bulk $((BULK_MEM / 2)) --both
else
    for s in $SIZES; do
        status_row latency latency mem "$s" "" "not built (bench/echo_bench)" mem-$s
        status_row latency latency mem-floor "$s" "" "not built (bench/echo_bench)" mem-floor-$s
    done
    status_row throughput throughput mem "" one "not built (bench/echo_bench)" mem-bulk
fi

# ---------------------------------------------------------------------------------------------
# efvi-emu, efct-emu: both stacks in one process on the efvi link over emulated ports
# ---------------------------------------------------------------------------------------------

# The emulator's NIC work runs inside the polls, so these are the stacks, the efvi link and the
# emulator on one CPU: a cost figure, not a NIC's latency.
for l in efvi efct; do
    if built "$ECHO_EFVI"; then
        for s in $SIZES; do
            run_result latency latency $l-emu "$s" "" "$l-emu-$s" $LAT_LIMIT \
                "${PIN_ONE[@]}" "$ECHO_EFVI" --link $l --count $MEM_N --size "$s" \
                --samples "$SAMPLES/$l-emu-$s.txt"
        done
    else
        for s in $SIZES; do
            status_row latency latency $l-emu "$s" "" "not built (bench/echo_bench_efvi: needs the tests)" $l-emu-$s
        done
    fi
done

# ---------------------------------------------------------------------------------------------
# shm: two processes over shared memory
# ---------------------------------------------------------------------------------------------

shm_missing() { # WHY
    for s in $SIZES; do
        status_row latency latency shm "$s" "" "$1" shm-$s
        status_row latency latency shm-floor "$s" "" "$1" shm-floor-$s
    done
    status_row throughput throughput shm "" one "$1" shm-bulk
    status_row throughput throughput shm "" both "$1" shm-bulk-both
}

if [ $MODE = smoke ]; then
    shm_missing "skipped (smoke mode: mem only)"
elif built "$SHM"; then
    # shm_pingpong --fork starts both sides itself; both CPUs are its to use.
    SHM_LIMIT=$((120 + SHM_N / 2000))
    for s in $SIZES; do
        run_result latency latency shm "$s" "" "shm-$s" $SHM_LIMIT \
            "$SHM" --fork --size "$s" --count $SHM_N --samples "$SAMPLES/shm-$s.txt"
        run_result latency latency shm-floor "$s" "" "shm-floor-$s" $SHM_LIMIT \
            "$SHM" --fork --raw --size "$s" --count $SHM_N --samples "$SAMPLES/shm-floor-$s.txt"
    done
    run_result throughput throughput shm "" one shm-bulk $((120 + BULK_SHM / 20000000)) \
        "$SHM" --fork --bulk $BULK_SHM
    run_result throughput throughput shm "" both shm-bulk-both $((120 + BULK_SHM / 20000000)) \
        "$SHM" --fork --bulk $((BULK_SHM / 2)) --both
else
    shm_missing "not built (bench/shm_pingpong)"
fi

# ---------------------------------------------------------------------------------------------
# veth: two namespaces
# ---------------------------------------------------------------------------------------------

ID=$$
NS_A=efbA$ID NS_B=efbB$ID
VA=efbA$ID VB=efbB$ID # interface names: at most 15 characters
K_A=198.18.0.1 K_B=198.18.0.2    # the kernels' addresses
E_A=198.18.0.11 E_B=198.18.0.12  # the stacks' own addresses (own-address mode)
PREFIX=24
NS_UP=0
BG_PIDS=()

cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ $NS_UP = 1 ]; then
        # Anything still running in our namespaces is ours.
        for ns in $NS_A $NS_B; do
            p=$(ip netns pids "$ns" 2>/dev/null)
            [ -z "$p" ] || kill -9 $p 2>/dev/null
        done
        wait 2>/dev/null
        ip netns del $NS_A 2>/dev/null
        ip netns del $NS_B 2>/dev/null
        NS_UP=0
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

offloads() { # on|off
    ip netns exec $NS_A ethtool -K $VA tx "$1" rx "$1" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 &&
        ip netns exec $NS_B ethtool -K $VB tx "$1" rx "$1" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1
}

setup_veth() {
    ip netns add $NS_A 2>/dev/null || return 1
    NS_UP=1
    ip netns add $NS_B || return 1
    ip link add $VA netns $NS_A type veth peer name $VB netns $NS_B || return 1
    ip netns exec $NS_A ip link set lo up && ip netns exec $NS_B ip link set lo up || return 1
    offloads off || return 1
    ip netns exec $NS_A ip addr add $K_A/$PREFIX dev $VA || return 1
    ip netns exec $NS_B ip addr add $K_B/$PREFIX dev $VB || return 1
    ip netns exec $NS_A ip link set $VA up && ip netns exec $NS_B ip link set $VB up
}

# Command prefixes (arrays, not functions: timeout and kill need the program itself): side A,
# side B, and the loopback server (namespace A, B's CPU).
IN_A=(ip netns exec "$NS_A" "${PIN_A[@]}")
IN_B=(ip netns exec "$NS_B" "${PIN_B[@]}")
IN_LO=(ip netns exec "$NS_A" "${PIN_B[@]}")

# bg_start LOGNAME READY CMD...: starts CMD in the background (its log in logs/LOGNAME.log) and
# waits up to 10 s for it to create READY. Sets BG_PID.
bg_start() {
    local lf=$OUT/logs/$1.log ready=$2
    shift 2
    rm -f "$ready"
    "$@" >"$lf" 2>&1 </dev/null &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
    for _ in $(seq 200); do
        [ -e "$ready" ] && return 0
        kill -0 "$BG_PID" 2>/dev/null || break
        sleep 0.05
    done
    BG_FAIL="$(grep -v '^RESULT' "$lf" | tail -n1)"
    bg_stop "$BG_PID"
    [ -n "$BG_FAIL" ] || BG_FAIL="did not start in 10 s"
    return 1
}
bg_stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

VETH_LIMIT=$((60 + VETH_N / 500))
BULK_LIMIT=$((60 + BULK_VETH / 5000000))
SERVE_S=$((6 * (VETH_LIMIT + BULK_LIMIT) + 600))

veth_rows() { # STATUS: a row for every veth piece
    local s l
    for l in xdp packet; do
        for s in $SIZES; do
            status_row latency latency $l "$s" "" "$1" $l-$s
            status_row latency latency $l-floor "$s" "" "$1" $l-floor-$s
        done
        status_row throughput throughput $l "" one "$1" $l-bulk
        status_row throughput throughput $l "" both "$1" $l-bulk-both
    done
    for s in $SIZES; do
        status_row latency latency kernel-veth "$s" "" "$1" kernel-veth-$s
        status_row latency latency kernel-lo "$s" "" "$1" kernel-lo-$s
    done
    for l in kernel-veth kernel-veth-offload kernel-lo; do
        status_row throughput throughput $l "" one "$1" $l-bulk
        status_row throughput throughput $l "" both "$1" $l-bulk-both
    done
}

# efvitcp to efvitcp over LINK (xdp or packet): interop_tool server and clients, then link_floor.
veth_link() {
    local l=$1 s
    if ! built "$TOOL"; then
        for s in $SIZES; do status_row latency latency $l "$s" "" "not built (tests/interop/interop_tool)" $l-$s; done
        status_row throughput throughput $l "" one "not built (tests/interop/interop_tool)" $l-bulk
    elif bg_start $l-server "$WORK/ready" "${IN_B[@]}" "$TOOL" --link $l:$VB --ip $E_B/$PREFIX --nocheck \
        --timeout $SERVE_S --ready "$WORK/ready" server 7000; then
        local srv=$BG_PID
        for s in $SIZES; do
            run_result latency latency $l "$s" "" $l-$s $VETH_LIMIT "${IN_A[@]}" "$TOOL" --link $l:$VA \
                --ip $E_A/$PREFIX --timeout $VETH_LIMIT --nocheck --samples "$SAMPLES/$l-$s.txt" \
                pingpong $E_B 7000 $VETH_N "$s"
        done
        run_result throughput throughput $l "" one $l-bulk $BULK_LIMIT "${IN_A[@]}" "$TOOL" --link $l:$VA \
            --ip $E_A/$PREFIX --timeout $BULK_LIMIT --nocheck blast $E_B 7001 $BULK_VETH
        run_result throughput throughput $l "" both $l-bulk-both $BULK_LIMIT "${IN_A[@]}" "$TOOL" \
            --link $l:$VA --ip $E_A/$PREFIX --timeout $BULK_LIMIT --nocheck \
            blast2 $E_B 7000 $((BULK_VETH / 2))
        bg_stop $srv
    else
        local why="server did not start: $BG_FAIL"
        for s in $SIZES; do status_row latency latency $l "$s" "" "$why" $l-$s; done
        status_row throughput throughput $l "" one "$why" $l-bulk
        status_row throughput throughput $l "" both "$why" $l-bulk-both
    fi

    if ! built "$FLOOR"; then
        for s in $SIZES; do status_row latency latency $l-floor "$s" "" "not built (bench/link_floor)" $l-floor-$s; done
    elif bg_start $l-reflector "$WORK/ready" "${IN_B[@]}" "$FLOOR" --link $l:$VB --ip $E_B/$PREFIX \
        --peer-ip $E_A --timeout $SERVE_S --ready "$WORK/ready" reflect; then
        local refl=$BG_PID
        for s in $SIZES; do
            run_result latency latency $l-floor "$s" "" $l-floor-$s $VETH_LIMIT "${IN_A[@]}" "$FLOOR" \
                --link $l:$VA --ip $E_A/$PREFIX --peer-ip $E_B --timeout $VETH_LIMIT \
                --size "$s" --count $VETH_N --samples "$SAMPLES/$l-floor-$s.txt" bounce
        done
        bg_stop $refl
    else
        for s in $SIZES; do
            status_row latency latency $l-floor "$s" "" "reflector did not start: $BG_FAIL" $l-floor-$s
        done
    fi
}

# Kernel TCP between namespaces A and B (veth), or inside A (lo).
kernel_pair() { # NAME veth|lo HOST PORT [bulk-only]
    local name=$1 host=$3 port=$4 s
    local srv_cmd=("${IN_B[@]}") cli_cmd=("${IN_A[@]}")
    [ "$2" = lo ] && srv_cmd=("${IN_LO[@]}")
    if ! bg_start $name-kserver "$WORK/ready" "${srv_cmd[@]}" "$TOOL" --timeout $SERVE_S \
        --ready "$WORK/ready" kserver $port; then
        local why="kernel server did not start: $BG_FAIL"
        if [ "${5:-}" != bulk-only ]; then
            for s in $SIZES; do status_row latency latency $name "$s" "" "$why" $name-$s; done
        fi
        status_row throughput throughput $name "" one "$why" $name-bulk
        status_row throughput throughput $name "" both "$why" $name-bulk-both
        return
    fi
    local srv=$BG_PID
    if [ "${5:-}" != bulk-only ]; then
        for s in $SIZES; do
            run_result latency latency $name "$s" "" $name-$s $VETH_LIMIT "${cli_cmd[@]}" "$TOOL" \
                --timeout $VETH_LIMIT --nocheck --samples "$SAMPLES/$name-$s.txt" kpingpong $host $port $VETH_N "$s"
        done
    fi
    run_result throughput throughput $name "" one $name-bulk $BULK_LIMIT "${cli_cmd[@]}" "$TOOL" \
        --timeout $BULK_LIMIT --nocheck kblast $host $((port + 1)) $BULK_VETH
    run_result throughput throughput $name "" both $name-bulk-both $BULK_LIMIT "${cli_cmd[@]}" "$TOOL" \
        --timeout $BULK_LIMIT --nocheck kblast2 $host $port $((BULK_VETH / 2))
    bg_stop $srv
}

if [ $MODE = smoke ]; then
    veth_rows "skipped (smoke mode: mem only)"
elif [ "$(id -u)" != 0 ]; then
    veth_rows "skipped: needs root (network namespaces; run as root)"
elif ! command -v ip >/dev/null || ! command -v ethtool >/dev/null; then
    veth_rows "skipped: needs iproute2 and ethtool"
elif ! setup_veth; then
    veth_rows "skipped: cannot create namespaces and a veth pair"
else
    log "veth pair $VA ($NS_A) - $VB ($NS_B), offloads off"
    veth_link xdp
    veth_link packet
    if built "$TOOL"; then
        kernel_pair kernel-veth veth $K_B 7000
        if offloads on; then
            kernel_pair kernel-veth-offload veth $K_B 7000 bulk-only
            offloads off
        else
            status_row throughput throughput kernel-veth-offload "" one "ethtool could not turn offloads on" kernel-veth-offload-bulk
        fi
        kernel_pair kernel-lo lo 127.0.0.1 7100
    else
        for s in $SIZES; do
            status_row latency latency kernel-veth "$s" "" "not built (tests/interop/interop_tool)" kernel-veth-$s
            status_row latency latency kernel-lo "$s" "" "not built (tests/interop/interop_tool)" kernel-lo-$s
        done
    fi
    cleanup
    WORK=$(mktemp -d /tmp/efvitcp-suite.XXXXXX)
fi

# ---------------------------------------------------------------------------------------------
# sockperf, CPU cost, scale
# ---------------------------------------------------------------------------------------------

if [ $MODE = smoke ]; then
    status_row sockperf latency sockperf "" "" "skipped (smoke mode: mem only)" sockperf
    status_row cpu instr cpu-cost "" "" "skipped (smoke mode: mem only)" cpu-cost
    status_row scale rate scale "" "" "skipped (smoke mode: mem only)" scale
else
    if [ ! -f "$ROOT/bench/sockperf_veth.sh" ]; then
        status_row sockperf latency sockperf "" "" "not built (bench/sockperf_veth.sh)" sockperf
    elif [ "$(id -u)" != 0 ]; then
        status_row sockperf latency sockperf "" "" "skipped: needs root (network namespaces; run as root)" sockperf
    else
        mkdir -p "$OUT/sockperf"
        run_result sockperf latency "" "" "" sockperf 3600 \
            bash "$ROOT/bench/sockperf_veth.sh" --$MODE --out "$OUT/sockperf" --build-dir "$BUILD"
    fi

    if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
        status_row cpu instr cpu-cost "" "" "skipped: valgrind not installed" cpu-cost
    elif ! built "$ECHO"; then
        status_row cpu instr cpu-cost "" "" "not built (bench/echo_bench)" cpu-cost
    else
        run_result cpu instr "" "" "" cpu-cost 1200 sh "$ROOT/bench/run_cpu_cost.sh" "$BUILD"
    fi
    if ! command -v valgrind >/dev/null 2>&1; then
        status_row cpu instr cpu-efvi "" "" "skipped: valgrind not installed" cpu-efvi
    elif ! built "$ECHO_EFVI"; then
        status_row cpu instr cpu-efvi "" "" "not built (bench/echo_bench_efvi: needs the tests)" cpu-efvi
    else
        run_result cpu instr "" "" "" cpu-efvi 1200 sh "$ROOT/bench/run_efvi_callgrind.sh" "$BUILD"
    fi

    if built "$SCALE"; then
        quick=()
        [ $MODE = quick ] && quick=(--quick)
        run_result scale rate "" "" "" scale-bench 1800 "${PIN_ONE[@]}" "$SCALE" "${quick[@]}"
    else
        status_row scale rate scale_bench "" "" "not built (bench/scale_bench)" scale-bench
    fi
    if [ -f "$ROOT/bench/run_scale_callgrind.sh" ] && command -v valgrind >/dev/null 2>&1; then
        # Quick: the smallest and the largest number of idle connections are enough to see that
        # the idle poll does not grow.
        ks=()
        [ $MODE = quick ] && ks=(0 100 10000)
        run_result scale instr "" "" "" scale-callgrind 1800 sh "$ROOT/bench/run_scale_callgrind.sh" \
            "$BUILD" "${ks[@]}"
    elif [ -f "$ROOT/bench/run_scale_callgrind.sh" ]; then
        status_row scale instr scale-callgrind "" "" "skipped: valgrind not installed" scale-callgrind
    else
        status_row scale instr scale-callgrind "" "" "not built (bench/run_scale_callgrind.sh)" scale-callgrind
    fi
fi

# ---------------------------------------------------------------------------------------------
# The plot: 64-byte distributions from the samples files
# ---------------------------------------------------------------------------------------------

PLOT_NOTE=
if ! command -v gnuplot >/dev/null 2>&1; then
    PLOT_NOTE="no plot: gnuplot is not installed (apt-get install gnuplot-nox)"
else
    files="" titles="" colors="" dashes=""
    # A link and its floor share a colour; the floor is dashed.
    for spec in mem:#9400d3:1 mem-floor:#9400d3:2 shm:#009e73:1 shm-floor:#009e73:2 \
        xdp:#0072b2:1 xdp-floor:#0072b2:2 packet:#e69f00:1 packet-floor:#e69f00:2 \
        kernel-veth:#000000:1 kernel-lo:#808080:1; do
        IFS=: read -r pair color dash <<<"$spec"
        f=$SAMPLES/$pair-64.txt
        [ -s "$f" ] || continue
        colors="$colors $color" dashes="$dashes $dash"
        # Sorted, thinned to about 2000 evenly spaced ranks plus the slowest 2000 samples.
        sort -n "$f" | awk -v n="$(wc -l <"$f")" '
            BEGIN { step = int(n / 2000); if (step < 1) step = 1 }
            { if (NR % step == 0 || NR > n - 2000 || NR == 1) printf "%s %.9g %.9g\n", $1, NR / n, (n - NR + 1) / n }' \
            >"$WORK/$pair.dat"
        files="$files $WORK/$pair.dat" titles="$titles $pair"
    done
    if [ -n "$files" ]; then
        gnuplot -e "files='${files# }'; titles='${titles# }'; colors='${colors# }'; dashes='${dashes# }'; out='$OUT/latency.png'; heading='64-byte ping-pong round trips ($MODE mode, $(date +%Y-%m-%d))'" \
            "$ROOT/bench/plot.gp" >"$OUT/logs/plot.log" 2>&1 || PLOT_NOTE="gnuplot failed (logs/plot.log)"
    else
        PLOT_NOTE="no plot: no 64-byte samples"
    fi
fi

# ---------------------------------------------------------------------------------------------
# results.md
# ---------------------------------------------------------------------------------------------

ELAPSED=$((SECONDS - T0))
{
    echo "# efvitcp benchmarks"
    echo
    echo "$MODE mode, $(date '+%Y-%m-%d %H:%M %Z'), $ELAPSED s. Produced by \`bash bench/suite.sh --$MODE\`;"
    echo "every figure is in results.csv, every round trip in samples/, each program's output in logs/."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | ${CPU_MODEL:-unknown}, $(nproc) cores |"
    echo "| kernel | $(uname -r) |"
    echo "| commit | $COMMIT |"
    echo "| build | ${BUILD_TYPE:-unknown} ($(cell "$(cc --version 2>/dev/null | head -n1)")) |"
    echo "| load average at start | $LOAD0 |"
    echo "| pinning | $([ ${#PIN_A[@]} -gt 0 ] && echo "the two sides of a pair on CPUs 0 and 1; one-process pieces on CPU 1" || echo "none (taskset missing or one CPU)") |"
    echo
} >"$MD"

awk -F, -v sizes="$SIZES" -v targets="$ROOT/bench/cpu_targets.txt" '
function us(ns) {
    if (ns == "") return ""
    ns /= 1000
    return ns < 10 ? sprintf("%.2f", ns) : ns < 1000 ? sprintf("%.1f", ns) : sprintf("%.0f", ns)
}
function ratio(a, b,    r) {
    if (a == "" || b == "" || b + 0 <= 0) return ""
    r = a / b
    return r >= 0.1 ? sprintf("%.2f×", r) : r >= 0.001 ? sprintf("%.3f×", r) : "<0.001×"
}
function has(k) { return (k in st) && st[k] == "ok" }
function kernel_of(name) {
    if (name == "mem" || name == "shm") return "kernel-lo"
    if (name == "xdp" || name == "packet") return "kernel-veth"
    return ""
}
function addorder(list, name,    i) {
    for (i = 1; i <= norder[list]; i++) if (order[list, i] == name) return
    order[list, ++norder[list]] = name
}
FILENAME == targets {
    if ($0 !~ /^#/ && split($0, t, " ") >= 3) { before[t[1]] = t[2] == "-" ? "" : t[2]; target[t[1]] = t[3] == "-" ? "" : t[3] }
    next
}
FNR == 1 { next }
{
    sec = $1; kind = $2; name = $3; size = $4; dir = $5
    if (sec == "latency") {
        k = name SUBSEP size
        if (!has(k)) { st[k] = $17; n[k] = $6; p50[k] = $8; p99[k] = $9; p999[k] = $10; mx[k] = $11 }
        addorder("lat", name)
        if (!(size in seensize)) { seensize[size] = 1; extra = extra " " size }
    } else if (sec == "throughput") {
        k = name SUBSEP dir
        if (!has(k)) { st[k] = $17; gb[k] = $14 }
        addorder("thr", name)
    } else {
        rows[sec, ++nrows[sec]] = $0
    }
}
END {
    pre = "mem mem-floor efvi-emu efct-emu shm shm-floor xdp xdp-floor packet packet-floor kernel-veth kernel-lo"
    np = split(pre, names, " ")
    for (i = 1; i <= norder["lat"]; i++) {
        found = 0
        for (j = 1; j <= np; j++) if (names[j] == order["lat", i]) found = 1
        if (!found) names[++np] = order["lat", i]
    }
    print "## Latency"
    print ""
    print "Round trips of a ping-pong (one message of the size, echoed back), busy-polling at both ends, in µs."
    print "Ratios compare p50 and p99 with kernel TCP on the same path (veth pairs: kernel TCP over the"
    print "same veth pair; mem and shm, which stay inside the host: kernel TCP over loopback) and p50 with"
    print "the link'"'"'s floor (the same-sized frame bounced over the same link with no TCP)."
    print ""
    print "- mem: efvitcp to efvitcp in one process over the mem link (bench/echo_bench)"
    print "- efvi-emu, efct-emu: the same over the efvi link on emulated EF10 (CTPIO) and EFCT ports, the emulator running inside the polls (bench/echo_bench_efvi)"
    print "- shm: efvitcp to efvitcp, two processes over the shm link (bench/shm_pingpong)"
    print "- xdp, packet: efvitcp to efvitcp, two namespaces joined by a veth pair (tests/interop/interop_tool)"
    print "- X-floor: a raw frame as long as the TCP frame (66 bytes of headers + the message) bounced over link X (echo_bench --raw, shm_pingpong --raw, bench/link_floor)"
    print "- kernel-veth, kernel-lo: Linux TCP, non-blocking sockets with TCP_NODELAY, busy-polled (interop_tool kpingpong)"
    nsz = split(sizes extra, sz, " ")
    for (si = 1; si <= nsz; si++) {
        s = sz[si]
        if (done[s]++) continue
        any = 0
        for (j = 1; j <= np; j++) if ((names[j], s) in st) any = 1
        if (!any) continue
        print ""
        print "### " s "-byte messages"
        print ""
        print "| pair | p50 | p99 | p99.9 | max | n | p50 ÷ kernel | p99 ÷ kernel | p50 ÷ floor |"
        print "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
        for (j = 1; j <= np; j++) {
            nm = names[j]; k = nm SUBSEP s
            if (!(k in st)) continue
            if (st[k] != "ok") { printf "| %s | %s | | | | | | | |\n", nm, st[k]; continue }
            kr = kernel_of(nm); kk = kr SUBSEP s; fk = (nm "-floor") SUBSEP s
            r1 = has(kk) ? ratio(p50[k], p50[kk]) : ""
            r2 = has(kk) ? ratio(p99[k], p99[kk]) : ""
            r3 = has(fk) ? ratio(p50[k], p50[fk]) : ""
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", nm, us(p50[k]), us(p99[k]),
                us(p999[k]), us(mx[k]), n[k], r1, r2, r3
        }
    }

    print ""
    print "## Throughput"
    print ""
    print "Bulk transfer over one connection, MSS 1460 (1448 bytes of payload per segment with timestamps),"
    print "in Gbit/s of payload. Both ways: each side sends at once (veth pairs: through the peer'"'"'s echo),"
    print "counted over the two directions together. Ratios are to kernel TCP on the same path, offloads off."
    print ""
    print "| pair | one way | both ways | one way ÷ kernel | both ways ÷ kernel |"
    print "|---|--:|--:|--:|--:|"
    tp = "mem shm xdp packet kernel-veth kernel-veth-offload kernel-lo"
    ntp = split(tp, tn, " ")
    for (i = 1; i <= norder["thr"]; i++) {
        found = 0
        for (j = 1; j <= ntp; j++) if (tn[j] == order["thr", i]) found = 1
        if (!found) tn[++ntp] = order["thr", i]
    }
    for (j = 1; j <= ntp; j++) {
        nm = tn[j]; ko = nm SUBSEP "one"; kb = nm SUBSEP "both"
        if (!(ko in st) && !(kb in st)) continue
        label = nm
        if (nm == "kernel-veth") label = nm " (offloads off)"
        if (nm == "kernel-veth-offload") label = "kernel-veth (offloads on: TSO, GSO, GRO, checksums)"
        c1 = has(ko) ? sprintf("%.2f", gb[ko]) : st[ko]
        c2 = has(kb) ? sprintf("%.2f", gb[kb]) : st[kb]
        kr = kernel_of(nm)
        r1 = has(ko) && has(kr SUBSEP "one") ? ratio(gb[ko], gb[kr SUBSEP "one"]) : ""
        r2 = has(kb) && has(kr SUBSEP "both") ? ratio(gb[kb], gb[kr SUBSEP "both"]) : ""
        printf "| %s | %s | %s | %s | %s |\n", label, c1, c2, r1, r2
    }

    print ""
    print "## CPU cost"
    print ""
    print "Instructions counted by callgrind (bench/run_cpu_cost.sh, bench/run_efvi_callgrind.sh): independent of the load"
    print "on the machine. -src: the stack and the link (src/), the wire and the emulator left out; -matched: the"
    print "original C++ efvitcp'"'"'s settings. Before: commit a0fd609, the start of issue 11'"'"'s work; target: issue 11"
    print "(bench/cpu_targets.txt)."
    print ""
    print "| what | instructions | before | target | ÷ target |"
    print "|---|--:|--:|--:|--:|"
    for (i = 1; i <= nrows["cpu"]; i++) {
        split(rows["cpu", i], f, ",")
        nm = f[3]
        r = f[17] == "ok" && (nm in target) ? ratio(f[15], target[nm]) : ""
        printf "| %s | %s | %s | %s | %s |\n", nm, f[17] == "ok" ? f[15] : f[17], before[nm], target[nm], r
    }
    generic("scale", "Scale", "Connections: setup and teardown rates, memory, idle poll cost (bench/scale_bench, bench/run_scale_callgrind.sh).")
    print ""
    print "## sockperf"
    print ""
    print "Stock sockperf (ping-pong, TCP, full round trips, in µs) on a veth pair against a kernel server and"
    print "against examples/sockperf_server over efvitcp (bench/sockperf_veth.sh); the client is always the kernel."
    print ""
    print "| name | size | p50 | p99 | p99.9 | max | n |"
    print "|---|--:|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nrows["sockperf"]; i++) {
        split(rows["sockperf", i], f, ",")
        if (f[17] != "ok") printf "| %s | %s | | | | | |\n", f[3], f[17]
        else if (f[2] == "latency") printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[3], f[4], us(f[8]), us(f[9]), us(f[10]), us(f[11]), f[6]
        else printf "| %s | %s %s | | | | | |\n", f[3], f[15] f[14], f[16]
    }
}
function generic(sec, title, text,    i, f, fig) {
    print ""
    print "## " title
    print ""
    print text
    print ""
    print "| name | figure |"
    print "|---|--:|"
    for (i = 1; i <= nrows[sec]; i++) {
        split(rows[sec, i], f, ",")
        if (f[17] != "ok") fig = f[17]
        else if (f[2] == "latency") fig = sprintf("p50 %s µs, p99 %s µs, p99.9 %s µs, max %s µs (%s B, n %s)", us(f[8]), us(f[9]), us(f[10]), us(f[11]), f[4], f[6])
        else if (f[2] == "throughput") fig = sprintf("%.2f Gbit/s (%s)", f[14], f[5])
        else if (f[2] == "instr") fig = f[15] " instructions"
        else fig = f[15] " " f[16]
        printf "| %s | %s |\n", f[3], fig
    }
}' "$ROOT/bench/cpu_targets.txt" "$CSV" >>"$MD"

{
    if [ -s "$OUT/logs/cpu-cost.log" ]; then
        echo
        echo "The most expensive functions (callgrind_annotate; echo: 11,000 round trips of 64 bytes; bulk: one way):"
        echo
        echo '```'
        grep -v '^RESULT ' "$OUT/logs/cpu-cost.log" | sed -n '/^top 10\|^bulk, top 10/,/^$/p' |
            sed 's/ \[[^]]*\]$//; s/???://'
        echo '```'
    fi
    echo
    if [ -s "$OUT/latency.png" ]; then
        echo "![64-byte round trips](latency.png)"
    else
        echo "${PLOT_NOTE:-no plot}"
    fi
} >>"$MD"

cat "$MD"
log "results in $OUT (results.md, results.csv, latency.png, samples/, logs/), $ELAPSED s"
if [ $MODE = smoke ]; then
    check_results "$OUT" || exit 1
fi
exit 0
