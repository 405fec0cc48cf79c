# The checks of a capture taken on the kernel peer's side of the veth (tcpdump, read by tshark),
# sourced by lib.sh. They need E_IP (efvitcp's address), K_IP (the kernel peer's) and the
# functions log and fail, which lib.sh defines; tests/interop/test_capture_checks.sh runs them
# offline against small captures (tests/interop/fixtures) with its own.
#
# TIMER_RESEND_MIN_MS (default 1): how long after the original a resend of the kernel's must come
# to count as timer-driven (peer_timer_excuses).

tshark_count() { # FILE FILTER: frames matching
    tshark -r "$1" -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -Y "$2" 2>/dev/null |
        wc -l
}

# Every frame we sent has valid IP and TCP checksums (tshark verifies them).
check_checksums() { # FILE
    local ours bad
    ours=$(tshark_count "$1" "ip.src == $E_IP && tcp")
    bad=$(tshark_count "$1" "ip.src == $E_IP && (ip.checksum.status != 1 || tcp.checksum.status != 1)")
    [ "$ours" -gt 0 ] || fail "the capture holds no frame of ours"
    [ "$bad" = 0 ] || fail "$bad of our $ours frames have a bad or unverifiable checksum"
    log "checksums: all $ours frames we sent are valid"
}

# TCP segments the capture saw going to efvitcp that never reached it: lost below the stack (a
# full AF_PACKET or XDP ring, a veth backlog, on a busy machine). The capture is taken on the
# kernel's side; each EFTCAT_LOG is an `eftcat -v` log, whose last line counts segments in, and
# which names its connection ("connected to IP:PORT (local port N)"): the segments are counted
# per connection, those the capture saw on its ports against those eftcat took in. A sum over
# the connections would let one connection's surplus hide another's loss (a capture that ended
# early, or one that holds fewer frames of a connection than eftcat took in, offsets the loss of
# another: quick run 7, xdp-own/bulk, 35 segments lost in the first connection and 400 frames
# of the second missing at the capture's end). DROPS_BELOW (drops_below_stack), when set, is what
# the counters below the stack show lost: both are said, and the larger is the answer.
lost_below_stack() { # PCAP EFTCAT_LOG...
    local cap=$1 lost=0 n sent f rport lport
    shift
    for f in "$@"; do
        n=$(sed -n 's|.*segments in/out \([0-9]*\)/.*|\1|p' "$f" | tail -n 1)
        [ -n "$n" ] || fail "no segment counters in $f (run eftcat with -v)"
        rport=$(sed -n 's|.*connected to [0-9.]*:\([0-9]*\) (local port \([0-9]*\)).*|\1|p' "$f" | tail -n 1)
        lport=$(sed -n 's|.*connected to [0-9.]*:\([0-9]*\) (local port \([0-9]*\)).*|\2|p' "$f" | tail -n 1)
        [ -n "$rport" ] && [ -n "$lport" ] || fail "no connection named in $f (eftcat -v)"
        sent=$(tshark_count "$cap" \
            "ip.dst == $E_IP && tcp.srcport == $rport && tcp.dstport == $lport")
        [ "$sent" -le "$n" ] || lost=$((lost + sent - n))
    done
    if [ -n "${DROPS_BELOW:-}" ]; then
        log "segments captured toward efvitcp and never taken in: $lost; the drop counters" \
            "below the stack explain $DROPS_BELOW" \
            "$([ "$lost" -le "$DROPS_BELOW" ] || echo "($((lost - DROPS_BELOW)) explained by no counter)")" >&2
        [ "$DROPS_BELOW" -le "$lost" ] || lost=$DROPS_BELOW
    fi
    echo "$lost"
}

# Tail loss probes the efvitcp side sent (RFC 8985 §7), from eftcat -v logs.
tail_probes() { # EFTCAT_LOG...
    local n=0 p f
    for f in "$@"; do
        p=$(sed -n 's|.*tail loss probes \([0-9]*\),.*|\1|p' "$f" | tail -n 1)
        n=$((n + ${p:-0}))
    done
    echo $n
}

# What a loaded machine explains in a capture without loss: our process descheduled for a few
# milliseconds (a CPU hog, builds) leaves the kernel's segments unacknowledged, and its timers (a
# tail loss probe, RFC 8985 §7, or a retransmission timeout) resend what had in fact arrived. One
# line per frame excused:
#   R FRAME STREAM SEQ END MS   the kernel resent [SEQ, END) (relative sequence numbers, FIN
#                               counted), every byte of it captured before, starting at the same
#                               SEQ MS >= TIMER_RESEND_MIN_MS milliseconds earlier: a timer, not
#                               a fast retransmit (which our duplicate ACKs would have asked for,
#                               and they are not excused), and not a segment the capture never
#                               saw (a hole in the kernel's sequence space excuses nothing after
#                               it);
#   A FRAME STREAM SEQ END      our duplicate ACK answering such a resend (RFC 9293 acknowledges a
#                               duplicate segment): it acknowledges all of it, and its first SACK
#                               block, when it has one, is a D-SACK within it; one per resend;
#   X FRAME STREAM SEQ          the kernel's RST answering our second ACK of its FIN after it had
#                               resent the FIN (an R line): we acknowledged both the FIN and its
#                               resend, as TIME-WAIT must (RFC 9293), the kernel closed on the
#                               first ACK and answers the second with a RST (SEQ: its FIN's end).
# Our own resends are never excused here. The lines go to _EXCUSES, computed once per capture (a
# pass of tshark): call it in the checking shell, not in $(...), where the cache would be lost.
peer_timer_excuses() { # PCAP
    if [ "${_EXCUSES_PCAP:-}" != "$1" ]; then
        _EXCUSES=$(tshark -r "$1" -n -Y tcp -T fields -E separator=/t -e frame.number \
            -e frame.time_relative -e tcp.stream -e ip.src -e tcp.seq -e tcp.len -e tcp.ack \
            -e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.reset -e tcp.options.sack_le \
            -e tcp.options.sack_re -e tcp.analysis.duplicate_ack_num 2>/dev/null |
            awk -v peer="$K_IP" -v ours="$E_IP" \
                -v mingap="$(awk -v ms="${TIMER_RESEND_MIN_MS:-1}" 'BEGIN { print ms / 1000 }')" \
                "$_PEER_TIMER_AWK") || fail "tshark cannot read $1"
        _EXCUSES_PCAP=$1
    fi
}

_PEER_TIMER_AWK='
BEGIN { FS = "\t" }
function flag(v) { return v == "1" || v == "True" }
{
    f = $1; t = $2 + 0; s = $3; src = $4; seq = $5 + 0; len = $6 + 0; ack = $7 + 0
    syn = flag($8); fin = flag($9); rst = flag($10); dup = $13
    if (src == peer) {
        if (rst) {
            if ((s in finend) && seq == finend[s] && finre[s] && finacks[s] >= 2 &&
                lastack[s] == finend[s])
                printf "X %s %s %d\n", f, s, seq
            next
        }
        end = seq + len + syn + fin
        if (syn) { hi[s] = end; start[s, seq] = t; next }
        if (len == 0 && !fin) next
        if (!(s in hi)) hi[s] = seq # a capture that began in the middle of the stream
        if (fin && !(s in finend)) finend[s] = end
        if (seq < hi[s] && end <= hi[s] && ((s, seq) in start) && t - start[s, seq] >= mingap) {
            printf "R %s %s %d %d %.1f\n", f, s, seq, end, (t - start[s, seq]) * 1000
            np[s]++; pl[s, np[s]] = seq; pr[s, np[s]] = end
            if (fin) finre[s] = 1
        }
        if (seq == hi[s]) hi[s] = end # beyond hi: a hole, and hi stays below it
        start[s, seq] = t
        next
    }
    if (src != ours || rst) next
    if ((s in finend) && ack == finend[s] && len == 0 && !fin && !syn) finacks[s]++
    lastack[s] = ack
    if (dup == "" || len > 0 || syn || fin) next
    split($11, le, ","); split($12, re, ",")
    for (i = np[s]; i >= 1; i--) {
        if (pl[s, i] == "" || ack < pr[s, i]) continue
        if ($11 != "" && !(le[1] + 0 >= pl[s, i] && re[1] + 0 <= pr[s, i])) continue
        printf "A %s %s %d %d\n", f, s, pl[s, i], pr[s, i]
        pl[s, i] = ""
        break
    }
}'

# From the lines of peer_timer_excuses (_EXCUSES) of the given kinds: their frame numbers as a
# display filter's set lists them ("1, 2"), or their count.
excused_frames() { # KINDS (e.g. RA)
    awk -v k="$1" '$1 != "" && index(k, $1) { printf "%s%s", n++ ? ", " : "", $2 }' <<<"$_EXCUSES"
}
excused_count() { # KINDS
    awk -v k="$1" '$1 != "" && index(k, $1) { n++ } END { print n + 0 }' <<<"$_EXCUSES"
}

# No tcp.analysis flag in the capture of a run without injected loss, but notes of flow control,
# which say that an application read slowly, not that TCP misbehaved (window updates, a sender
# filling the window, zero windows and their probes; a receiver writing 50 MB to disk can be
# slower than the wire). The kernel repeats an ACK when its application reads but the scaled
# window it advertises stays the same (a window of one unit); tshark calls that a duplicate ACK.
# Duplicate ACKs that mattered would show as retransmissions from us, which stay forbidden.
#
# LOST (lost_below_stack) > 0 says that frames were lost below the stack, on this machine rather
# than by the stack: the duplicate ACKs and the retransmissions that repair them are then
# expected, and said so; and our own resends with them (an ACK lost below the stack times out one
# of our segments). PROBES (tail_probes) is how many tail loss probes we sent: a probe is
# speculative by design (it resends the last segment when its ACK is late, as a peer's delayed
# ACK may be), so up to that many of our frames may show as retransmissions; more fail the run,
# and the count is said. Whatever still carries a flag then is checked against
# peer_timer_excuses: the kernel's timer-driven resends of segments that had arrived, and our
# duplicate ACKs answering them, are said and not held against the run; anything else fails it.
check_no_analysis_flags() { # FILE [LOST] [PROBES]
    local allowed="!tcp.analysis.window_update && !tcp.analysis.window_full"
    allowed="$allowed && !tcp.analysis.zero_window && !tcp.analysis.zero_window_probe"
    allowed="$allowed && !tcp.analysis.zero_window_probe_ack"
    allowed="$allowed && !(ip.src == $K_IP && tcp.analysis.duplicate_ack)"
    if [ "${2:-0}" -gt 0 ]; then
        log "$2 segments to efvitcp were lost below the stack (captured and never taken in, or" \
            "counted by the drop counters below it):" \
            "their duplicate ACKs and retransmissions are not held against the run"
        allowed="$allowed && !(ip.src == $E_IP && tcp.analysis.duplicate_ack)"
        # The kernel's repairs: tshark calls a resent segment a retransmission, a fast one, a
        # spurious one (go-back-N after a timeout resends what had arrived) or, when it comes
        # within an RTT of the original, out of order.
        allowed="$allowed && !(ip.src == $K_IP && (tcp.analysis.retransmission ||"
        allowed="$allowed tcp.analysis.fast_retransmission ||"
        allowed="$allowed tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order))"
        allowed="$allowed && !(ip.src == $E_IP && (tcp.analysis.retransmission ||"
        allowed="$allowed tcp.analysis.spurious_retransmission))"
    fi
    local n ours
    ours="ip.src == $E_IP && (tcp.analysis.retransmission || tcp.analysis.spurious_retransmission)"
    if [ "${3:-0}" -gt 0 ] && [ "${2:-0}" -eq 0 ]; then
        n=$(tshark_count "$1" "$ours")
        if [ "$n" -le "$3" ]; then
            log "$n of our frames are resends, within the $3 tail loss probes we sent"
            allowed="$allowed && !($ours)"
        fi
    fi
    n=$(tshark_count "$1" "tcp.analysis.flags && $allowed")
    if [ "$n" != 0 ]; then
        local resent answers ms
        peer_timer_excuses "$1"
        resent=$(excused_frames R)
        answers=$(excused_frames A)
        if [ -n "$resent" ]; then
            ms=$(awk '$1 == "R" { if (min == "" || $6 < min) min = $6; if ($6 > max) max = $6 }
                END { printf "%s to %s ms", min, max }' <<<"$_EXCUSES")
            log "$(excused_count R) segments resent by the kernel had arrived (captured $ms" \
                "before: a timer's resend, our process descheduled on a loaded machine and" \
                "acknowledging late): frames $resent; with our $(excused_count A) duplicate" \
                "ACKs answering them" \
                "${answers:+(frames $answers) }they are not held against the run"
            allowed="$allowed && !(frame.number in {$resent${answers:+, $answers}})"
            n=$(tshark_count "$1" "tcp.analysis.flags && $allowed")
        fi
    fi
    if [ "$n" != 0 ]; then
        tshark -r "$1" -n -Y "tcp.analysis.flags && $allowed" -T fields -e frame.number \
            -e ip.src -e _ws.expert.message 2>/dev/null | head -20 >&2
        fail "$n frames carry tcp.analysis flags in a loss-free run"
    fi
    log "tshark: no tcp.analysis flag (but flow-control notes)"
}

# The kernel never fought us: no RST in a run that ends cleanly, but the one that answers our
# second ACK of a FIN it resent after it had closed (an X line of peer_timer_excuses), said.
check_no_rst() { # FILE
    local n excused=""
    n=$(tshark_count "$1" "tcp.flags.reset == 1")
    if [ "$n" != 0 ]; then
        peer_timer_excuses "$1"
        excused=$(excused_frames X)
        if [ -n "$excused" ]; then
            log "the kernel's RST in frames $excused answers our second ACK of its FIN, which" \
                "it resent by a timer while we were descheduled: it closed on our first ACK," \
                "and TIME-WAIT acknowledges a resent FIN again (RFC 9293); not held against the run"
            n=$(tshark_count "$1" "tcp.flags.reset == 1 && !(frame.number in {$excused})")
        fi
    fi
    [ "$n" = 0 ] || fail "$n RST segments in a run that should have none"
    log "tshark: no RST${excused:+ but the excused}"
}
