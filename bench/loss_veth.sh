#!/usr/bin/env bash
# Transfer time under loss, efvitcp against Linux on the same veth pair (issue 13): SIZE bytes
# echoed through a Linux echo server (socat ... EXEC:cat) by an efvitcp client (eftcat on LINK)
# and by a Linux client (socat) in the same namespace, with nftables dropping RATE% of the frames
# of both clients in each direction. Every byte is checked (sha256) and every run timed.
#
#   sudo bash bench/loss_veth.sh BUILD_DIR [LINK] [SIZE] [RUNS] [RATES...]
#       LINK packet (default) or xdp; SIZE default 20M; RUNS default 5; RATES default 1 5 10 20
#
#   LINUX_CC="cubic bbr"  congestion controls of the Linux client, one run set each (default:
#       cubic, the algorithm efvitcp uses by default, then the namespace's default when it is
#       another). The kernel's default is machine-wide (net.ipv4.tcp_congestion_control, which a
#       new namespace inherits) and is often bbr, which does not take random loss for congestion:
#       under 10-20% loss it is 20-100 times faster than cubic, so a comparison that does not say
#       which one ran compares congestion controls, not loss recovery. Set per socket
#       (TCP_CONGESTION through socat's setsockopt-string), which root may do for any algorithm
#       the kernel has, allowed-list or not.
#
# Prints one line per run and a summary per rate: "RESULT kind=time name=loss-R-efvitcp-LINK
# value=MEDIAN_S" and "name=loss-R-linux-CC" for each Linux congestion control. Each time is a
# whole client process, start to exit, and the processes' fixed costs differ: eftcat maps its
# rings and, on xdp, attaches its program (with the teardown at exit, 60-90 ms of RCU grace
# periods in the kernel on this machine), where socat opens a socket. So each client first echoes
# one byte (RUNS times, without loss) and "name=loss-base-WHO" reports its median; every rate
# then also reports "name=loss-R-WHO-net", the median less that base: the transfer's own time,
# which is what loss recovery changes. Both clients use
# a 200 ms RTO floor (eftcat's default is Linux's). Not a CI step: the full table takes minutes
# (20% loss is slow for both; Linux with cubic takes minutes per 10 MB run).
set -euo pipefail
build=$(cd "${1:?usage: loss_veth.sh BUILD_DIR [LINK] [SIZE] [RUNS] [RATES...]}" && pwd)
link=${2:-packet}
size=${3:-20M}
runs=${4:-5}
shift $(($# < 4 ? $# : 4))
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(1 5 10 20)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=loss_common.sh
source "$here/loss_common.sh"
loss_common_setup "$build" "$link"
make_file "$WORK/src.bin" "$size"
ns_cc=$(in_e sysctl -n net.ipv4.tcp_congestion_control)
read -r -a linux_ccs <<<"${LINUX_CC:-cubic $([ "$ns_cc" = cubic ] || echo "$ns_cc")}"
log "Linux client congestion control: ${linux_ccs[*]} (namespace default $ns_cc)"

one() { # efvitcp | linux-CC, FILE: seconds of one echo of the file
    local t0 t1 src=$2
    rm -f "$WORK/got.bin"
    t0=$(date +%s.%N)
    if [ "$1" = efvitcp ]; then
        in_e timeout 1200 "$EFTCAT" "${EF_ARGS[@]}" "$K_IP" 5001 <"$src" \
            >"$WORK/got.bin" 2>"$WORK/eftcat.log" || fail "eftcat: exit $? ($(cat "$WORK/eftcat.log"))"
    else
        # TCP_CONGESTION is option 13 at level IPPROTO_TCP (6).
        in_e timeout 1200 socat -t 30 - "TCP:$K_IP:5001,setsockopt-string=6:13:${1#linux-}" \
            <"$src" >"$WORK/got.bin" ||
            fail "socat: exit $?"
    fi
    t1=$(date +%s.%N)
    same_sha "$src" "$WORK/got.bin" "$1 at ${rate}% loss" >&2
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

whos=(efvitcp "${linux_ccs[@]/#/linux-}")
name_of() { if [ "$1" = efvitcp ]; then echo "efvitcp-$link"; else echo "$1"; fi; }
median_of() { # WHO RATE FILE: the median of RUNS timed runs of FILE at RATE% loss
    : >"$WORK/times"
    for r in $(seq "$runs"); do
        t=$(one "$1" "$3")
        echo "$t" >>"$WORK/times"
        log "$(stat -c %s "$3") bytes at ${2}% loss, $1 run $r: $t s" >&2
    done
    median <"$WORK/times"
}

declare -A base
make_file "$WORK/one.bin" 1
loss_set 0
rate=0
for who in "${whos[@]}"; do
    base[$who]=$(median_of "$who" 0 "$WORK/one.bin")
    echo "RESULT kind=time name=loss-base-$(name_of "$who") value=${base[$who]}"
done
for rate in "${rates[@]}"; do
    loss_set "$rate"
    for who in "${whos[@]}"; do
        m=$(median_of "$who" "$rate" "$WORK/src.bin")
        echo "RESULT kind=time name=loss-$rate-$(name_of "$who") value=$m"
        echo "RESULT kind=time name=loss-$rate-$(name_of "$who")-net value=$(awk -v a="$m" -v b="${base[$who]}" 'BEGIN { printf "%.3f", a - b }')"
    done
done
log "done"
