# Transmit timestamp reports on a real link: the efvitcp client sends 4 MB to a kernel server
# with eftcat --tx-timestamps. Every segment with data is reported (its first transmissions tile
# the stream exactly, in order and in time order), the SYN and the FIN too, each stamp marked
# software (packet, xdp) or hardware (efvi and efct with the txts option, from the emulated NIC's
# clock), never both.
source "$(dirname "$0")/lib.sh"
setup
make_file "$WORK/src.bin" 4M
SIZE=$(stat -c %s "$WORK/src.bin")
ARGS=("${EF_ARGS[@]}")
WANT=2 # EFVITCP_TX_TS_SOFTWARE
if [ "$LINK_TYPE" = efvi ]; then
    ARGS[1]="${ARGS[1]},txts"
    WANT=1 # EFVITCP_TX_TS_HARDWARE
fi
bg_k timeout 60 socat -u TCP-LISTEN:5011,reuseaddr "OPEN:$WORK/got.bin,creat,trunc"
SERVER=$LAST_PID
wait_k_listen 5011
in_e timeout 60 "$EFTCAT" "${ARGS[@]}" --tx-timestamps "$WORK/txts.txt" "$K_IP" 5011 \
    <"$WORK/src.bin" >/dev/null 2>"$WORK/eftcat.log" ||
    fail "eftcat: exit $? ($(cat "$WORK/eftcat.log"))"
wait_rc $SERVER 0 "kernel server"
same_sha "$WORK/src.bin" "$WORK/got.bin" "efvitcp -> kernel"
log "$(wc -l <"$WORK/txts.txt") reports"
# Fields: ts_ns start bytes flags(hex). Flags: 1 hardware, 2 software, 0x10 none, 0x20
# retransmit, 0x40 SYN, 0x80 FIN, 0x100 lost.
awk -v want=$WANT -v size="$SIZE" '
    function hex(s,   i, v, c) { v = 0; for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c } return v }
    {
        f = hex($4)
        if (int(f / 256) % 2) { print "a report after lost ones: " $0; bad = 1 }
        kind = f % 4
        if (kind != want && int(f / 16) % 2 == 0) { print "wrong stamp kind: " $0; bad = 1 }
        if ($1 <= 0 && int(f / 16) % 2 == 0) { print "no time: " $0; bad = 1 }
        if (int(f / 64) % 2) syn++
        if (int(f / 128) % 2) fin++
        if ($3 > 0 && int(f / 32) % 2 == 0) {
            if ($2 != next_off) { print "first transmissions do not tile the stream at " next_off ": " $0; bad = 1 }
            if ($1 < last_ts) { print "time goes back: " $0; bad = 1 }
            next_off = $2 + $3; last_ts = $1
        }
    }
    END {
        if (syn != 1) { print "SYN reports: " syn; bad = 1 }
        if (fin < 1) { print "no FIN report"; bad = 1 }
        if (next_off != size) { print "reported " next_off " of " size " bytes"; bad = 1 }
        exit bad
    }' "$WORK/txts.txt" || fail "transmit timestamp reports (above)"
log PASS
