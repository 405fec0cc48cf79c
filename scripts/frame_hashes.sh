#!/usr/bin/env bash
# Proof that a change leaves the wire alone: efvitcp-sim hashes every frame of a run, so the
# hashes of many seeds under every fault profile and link name the exact traffic of a build.
#
#   bash scripts/frame_hashes.sh record BUILD_DIR OUT_DIR [FIRST..LAST]
#       runs seeds FIRST..LAST (default 1..300) of every profile on the mem, efvi and efct links
#       (efvi and efct: efvitcp-sim-efvi, the ef_vi emulator build) and writes one file per
#       link and profile into OUT_DIR: "seed N profile: ok, F frames, hash H, ..." per seed;
#   bash scripts/frame_hashes.sh compare OLD_DIR NEW_DIR
#       prints the runs that differ and exits 1 if any does.
#
# Record before the first commit of a refactor (copy the build's tools/sim binaries aside if
# you keep building), record after the last, compare. About a minute per link on two cores.
set -euo pipefail
profiles=(clean lossy burst reorder dup corrupt slow partition flaky mixed)

record() {
    local build=$1 out=$2 seeds=${3:-1..300}
    local sim=$build/tools/sim/efvitcp-sim sim_efvi=$build/tools/sim/efvitcp-sim-efvi
    [ -x "$sim" ] || { echo "frame_hashes: $sim not built" >&2; exit 2; }
    mkdir -p "$out"
    for prof in "${profiles[@]}"; do
        "$sim" --seeds "$seeds" --profile "$prof" -v | grep -E '^seed .*hash' >"$out/mem-$prof.txt" &
        if [ -x "$sim_efvi" ]; then
            for link in efvi efct; do
                "$sim_efvi" --seeds "$seeds" --profile "$prof" --link "$link" -v |
                    grep -E '^seed .*hash' >"$out/$link-$prof.txt"
            done
        fi
        wait
    done
    echo "frame_hashes: $(cat "$out"/*.txt | wc -l) runs recorded in $out"
}

compare() {
    local old=$1 new=$2 differ=0 total=0
    for f in "$old"/*.txt; do
        local name
        name=$(basename "$f")
        [ -f "$new/$name" ] || { echo "missing in $new: $name"; differ=1; continue; }
        total=$((total + $(wc -l <"$f")))
        local d
        d=$(diff "$f" "$new/$name" | grep -c '^<' || true)
        if [ "$d" != 0 ]; then
            echo "$name: $d runs differ"
            diff "$f" "$new/$name" | grep '^[<>]' | awk 'NR <= 6' || true
            differ=1
        fi
    done
    if [ "$differ" = 0 ]; then echo "frame_hashes: all $total runs identical"; else exit 1; fi
}

case "${1:-}" in
record) shift; record "$@" ;;
compare) shift; compare "$@" ;;
*) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
