#!/usr/bin/env bash
# Where the time of a transfer under loss goes (issue 13): one efvitcp run (eftcat -v: probes,
# RACK losses, recoveries, undos, timeouts) and one Linux run (socat; nstat's TcpExt counters:
# TCPTimeouts, TCPLossProbes, TCPSackRecovery, TCPLostRetransmit...) per rate, each with a
# capture on the kernel's side of the veth pair (OUT/ef-RATE.pcap, OUT/lx-RATE.pcap), on the
# setup of bench/loss_veth.sh. Gaps of 0.2 s and more from our side of ef-RATE.pcap are our
# retransmission timeouts (0.4 s and more: backed off).
#
#   sudo OUT=DIR [LINUX_CC=cubic] bash bench/loss_diag.sh BUILD_DIR LINK SIZE RATES...
set -euo pipefail
build=$(cd "${1:?usage: loss_diag.sh BUILD_DIR LINK SIZE RATES...}" && pwd)
link=${2:?link}
size=${3:?size}
shift 3
out=${OUT:-/tmp/efvitcp-loss-diag}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=loss_common.sh
source "$here/loss_common.sh"
loss_common_setup "$build" "$link"
make_file "$WORK/src.bin" "$size"
cc=${LINUX_CC:-$(in_e sysctl -n net.ipv4.tcp_congestion_control)}

capture() { # FILE HOST: a capture in the background, its pid in CAP
    in_k tcpdump -i "$VK" -s 100 -w "$1" "host $2" 2>/dev/null &
    CAP=$!
    sleep 0.5
}
stop() { sleep 0.3; kill "$CAP"; wait "$CAP" 2>/dev/null || true; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

for rate in "$@"; do
    loss_set "$rate"
    capture "$out/ef-$rate.pcap" "$E_IP"
    t0=$(date +%s.%N)
    in_e timeout 1200 "$EFTCAT" -v "${EF_ARGS[@]}" "$K_IP" 5001 <"$WORK/src.bin" \
        >"$WORK/got.bin" 2>"$out/ef-$rate.log" || true
    t=$(secs "$t0")
    stop
    echo "efvitcp-$link $rate%: $t s"
    grep -E "probes|retransmits" "$out/ef-$rate.log" || true
    in_e nstat -n >/dev/null
    capture "$out/lx-$rate.pcap" "$E_KIP"
    t0=$(date +%s.%N)
    in_e timeout 1200 socat -t 30 - "TCP:$K_IP:5001,setsockopt-string=6:13:$cc" \
        <"$WORK/src.bin" >"$WORK/got.bin" || true
    t=$(secs "$t0")
    stop
    echo "linux-$cc $rate%: $t s"
    in_e nstat | grep -E "Timeouts|LossProbe|Recovery|LostRetrans|RetransSegs|Undo|DSACKRecv " |
        awk '{printf "%s %s; ", $1, $2} END {print ""}'
done
log "captures and logs in $out"
