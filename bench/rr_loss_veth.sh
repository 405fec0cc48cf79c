#!/usr/bin/env bash
# Request/response tail latency under loss, efvitcp against Linux on the same veth pair (issue 13
# item 5): COUNT requests of SIZE bytes, each answered with SIZE bytes by a Linux echo server
# (socat ... EXEC:cat), one outstanding at a time, from an efvitcp client (`eftcat --rr` on LINK)
# and from a Linux client (bench/rr_client, a kernel socket with TCP_NODELAY) in the same
# namespace, with nftables dropping RATE% of both clients' frames each way (bench/loss_common.sh,
# shared with bench/loss_veth.sh).
#
#   sudo bash bench/rr_loss_veth.sh BUILD_DIR [LINKS] [SIZE] [COUNT] [RATE]
#       LINKS "packet xdp" (default; one or both); SIZE default 1024; COUNT default 20000;
#       RATE default 1
#
# Prints each client's p50/p99/p99.9/max completion time and a table; "RESULT kind=latency
# name=rr-loss-RATE-CLIENT-p99 value=US" lines for the suite. Both clients use a 200 ms RTO
# floor (eftcat's default is Linux's). The Linux client runs between the efvitcp ones, so that
# the load of the machine is shared alike.
set -euo pipefail
build=$(cd "${1:?usage: rr_loss_veth.sh BUILD_DIR [LINKS] [SIZE] [COUNT] [RATE]}" && pwd)
read -r -a links <<<"${2:-packet xdp}"
size=${3:-1024}
count=${4:-20000}
rate=${5:-1}
RR_CLIENT=$build/bench/rr_client
[ -x "$RR_CLIENT" ] || { echo "rr_loss_veth: $RR_CLIENT not built" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=loss_common.sh
source "$here/loss_common.sh"
# The namespaces serve every link: the efvitcp client only changes how it opens the interface.
loss_common_setup "$build" "${links[0]}"
loss_set "$rate"

rr_efvitcp() { # LINK
    local args=("${EF_ARGS[@]}")
    args[1]="$1:$VE"
    in_e timeout 900 "$EFTCAT" "${args[@]}" --rr "$size" --count "$count" "$K_IP" 5001 \
        </dev/null 2>"$WORK/eftcat.log" | grep '^rr:' || fail "eftcat --rr: $(cat "$WORK/eftcat.log")"
}

rr_linux() { in_e timeout 900 "$RR_CLIENT" "$K_IP" 5001 "$size" "$count"; }

: >"$WORK/table"
row() { # NAME LINE
    echo "$1: $2"
    # rr: N requests of S bytes: p50 X us p99 X us p99.9 X us max X us
    awk -v n="$1" '{printf "| %s | %s | %s | %s | %s |\n", n, $8, $11, $14, $17}' <<<"$2" >>"$WORK/table"
    awk -v n="$1" -v r="$rate" '{print "RESULT kind=latency name=rr-loss-" r "-" n "-p99 value=" $11}' <<<"$2"
}

row "linux" "$(rr_linux)"
for l in "${links[@]}"; do
    row "efvitcp-$l" "$(rr_efvitcp "$l")"
done
row "linux-2" "$(rr_linux)"

echo
echo "$count requests of $size bytes, one outstanding, ${rate}% loss each way (completion, us):"
echo "| client | p50 | p99 | p99.9 | max |"
echo "|---|---|---|---|---|"
cat "$WORK/table"
log "done"
