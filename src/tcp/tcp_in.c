/*
 * TCP input: the entry point for every segment (et_tcp_input), and the event processing of
 * RFC 9293 §3.10.7.4 for synchronised states, one function per step, with the hardening of
 * RFC 5961 (RST, SYN and ACK acceptability) and RFC 7323 (PAWS). Opening a connection (LISTEN,
 * SYN-SENT) is in tcp_in_open.c.
 */
#include "tcp/tcp_in.h"

/* Steps that both the general path and the fast path run: inlined into each, so that splitting
   TCP input into steps costs no calls on the hot path. */
#define STEP static inline __attribute__((always_inline))

#define CHALLENGE_ACKS_PER_SEC 10
#define OOW_ACK_INTERVAL_NS    500000000ull /* as Linux's tcp_invalid_ratelimit */

static inline uint32_t seg_space(const et_tcp_seg *s)
{
    return s->len + ((s->flags & ET_TCP_SYN) ? 1 : 0) + ((s->flags & ET_TCP_FIN) ? 1 : 0);
}

/* RFC 5961 §7: challenge ACKs are rate limited per connection (never globally: CVE-2016-5696).
   Takes one ACK from the budget of the current second; false when it is spent. */
static bool ack_budget(et_conn *c)
{
    et_stack *st = c->st;
    if (st->now_ns - c->chal_ns >= 1000000000ull) {
        c->chal_ns = st->now_ns;
        c->chal_count = 0;
    }
    if (c->chal_count >= CHALLENGE_ACKS_PER_SEC) return false;
    c->chal_count++;
    return true;
}

static void challenge_ack(et_conn *c)
{
    if (!ack_budget(c)) return;
    c->st->stats.challenge_acks++;
    et_send_ack(c);
}

/*
 * The RTT an ACK of retransmitted data shows through its timestamp echo (RFC 7323 §4.1): the age
 * of the TSval echoed, which names the transmission the peer answered. In whole TS ticks, and at
 * least one (as Linux: a tick that has not turned is not a zero RTT). false without an echo, or
 * with one from the future or older than the largest RTO (a stale or forged echo: no sample
 * is always safe).
 */
static bool ts_rtt(const et_conn *c, const et_tcp_seg *seg, uint64_t *rtt)
{
    if (!c->ts_ok || !seg->opt.has_ts) return false;
    int32_t ticks = (int32_t)(et_ts_now(c->st, c->ts_offset) - seg->opt.tsecr);
    if (ticks < 0 || (uint64_t)ticks * ET_TS_TICK_NS > (uint64_t)c->st->cfg.max_rto_us * 1000)
        return false;
    *rtt = (uint64_t)(ticks ? ticks : 1) * ET_TS_TICK_NS;
    return true;
}

/*
 * A connection with none of the states that an ACK of new data could act on beyond moving
 * SND.UNA: no recovery, no SACK scoreboard, no probe or reordering timer outstanding, no undo
 * episode, no persist, no FIN waiting for a slot, no corked tail. The fast path then skips those
 * steps with one test (the flags share one word, et_conn.rare); for a segment without SACK
 * blocks each of them would be a no-op.
 */
STEP bool calm(const et_conn *c)
{
    return !c->rare && !c->n_sacked && !c->reo_deadline_ns && c->retx_mode != ET_RETX_PERSIST;
}

/*
 * RFC 7661 §4.3: cwnd grows only while it is validated, when at least half of it was in use
 * (here: outstanding when the ACK came, flight_before). A sender limited by its application or by
 * the peer's window would otherwise grow cwnd without ever testing the path (a ping-pong of small
 * messages: by each message's size per ACK, up to the peer's window), and a later burst would go
 * out at that untested window. Under a peer's window below cwnd / 2, cwnd stays (it reaches at
 * most 2 * SND.WND + 2 SMSS).
 */
static inline bool cwnd_validated(const et_conn *c, uint32_t flight_before)
{
    return flight_before >= c->cc.cwnd / 2;
}

/* The part of ack_new_data for a connection that is not calm(): after SND.UNA moved by acked
   bytes, with flight_before bytes outstanding before it did. */
static void ack_moved_una_rare(et_conn *c, const et_tcp_seg *seg, uint32_t acked,
                               uint32_t flight_before)
{
    et_stack *st = c->st;
    uint32_t ack = seg->ack;
    if (c->sack_ok) et_sack_una_moved(c);
    if (c->undo_on) et_undo_check(c, seg); /* RFC 3522: was the episode spurious? */
    if (c->loss_on && seq_ge(ack, c->recover)) c->loss_on = false; /* the timeout's data is in */
    if (c->in_recovery) {
        if (seq_ge(ack, c->recover)) {
            /* RFC 6582 §3.2 step 3: full acknowledgment (RFC 6675 §5: RecoveryPoint). */
            c->in_recovery = false;
            if (c->sack_ok)
                et_cc_on_sack_recovery_exit(&c->cc);
            else
                et_cc_on_recovery_exit(&c->cc, c->snd_nxt - c->snd_una);
            if (c->rack_ok) et_rack_recovery_exit(c);
        } else if (c->sack_ok) {
            /* RFC 6675: cwnd stays; the scoreboard and pipe decide what output sends. */
            et_sack_partial_ack(c);
        } else {
            /* Step 5: partial acknowledgment: resend the next hole, deflate the window. */
            et_retransmit_head(c);
            et_cc_on_partial_ack(&c->cc, acked);
        }
    } else if (cwnd_validated(c, flight_before)) {
        et_cc_on_ack(&c->cc, acked, c->srtt_ns, st->now_ns);
    }
}

/* New data acknowledged (SND.UNA < SEG.ACK <= SND.MAX) by seg. Returns true if send slots were
   freed. quiet: calm(c), known by the caller (false when not known). */
STEP bool ack_new_data(et_conn *c, const et_tcp_seg *seg, bool quiet)
{
    et_stack *st = c->st;
    uint32_t ack = seg->ack;
    uint32_t acked = ack - c->snd_una;
    uint32_t freed = 0;
    uint64_t rtt = 0;
    bool rtt_ok = false, retx = false;
    uint32_t first = c->sr_una;
    while (c->sr_una != c->sr_end) {
        et_seg *s = et_seg_at(c, c->sr_una);
        if (seq_gt(et_seg_end(s), ack)) break;
        retx |= s->retx != 0;
        c->n_sacked -= s->sacked;
        if (s->sent_ns) {
            rtt = st->now_ns > s->sent_ns ? st->now_ns - s->sent_ns : 0;
            rtt_ok = true;
        }
        et_slot_freed(c, c->sr_una);
        c->sr_una++;
        freed++;
    }
    /* Karn's algorithm (RFC 6298 §3): an ACK that covers any retransmitted byte is ambiguous
       for every segment it covers, even one sent once, whose send time may date from before
       a timeout; only the timestamp echo can tell. A segment partly acknowledged and then
       retransmitted from a control buffer counts too: tx_range marks it. */
    if (retx) rtt_ok = ts_rtt(c, seg, &rtt);
    if (rtt_ok) et_rtt_sample(c, rtt);
    /* RFC 8985 §6.2: the freed slots still hold their segments' send times. */
    if (c->rack_ok && freed)
        et_rack_acked(c, first, c->sr_una, seg, retx, quiet ? c->rack_fack : c->rack_fack_ack);
    uint32_t flight_before = c->snd_nxt - c->snd_una;
    c->snd_una = ack;
    if (seq_gt(ack, c->snd_nxt)) c->snd_nxt = ack; /* data sent before a go-back-N rewind */
    if ((int32_t)(c->sr_nxt - c->sr_una) < 0) c->sr_nxt = c->sr_una;
    c->retries = 0;
    c->dupacks = 0;
    c->probes_out = 0; /* answers to older probes acknowledge less: not duplicates */
    if (quiet) {
        c->sack_high = c->snd_una; /* et_sack_una_moved with nothing sacked */
        if (cwnd_validated(c, flight_before)) et_cc_on_ack(&c->cc, acked, c->srtt_ns, st->now_ns);
    } else {
        ack_moved_una_rare(c, seg, acked, flight_before);
    }
    /* RFC 6582 §3.2 compares SND.UNA with recover, which only an episode moves: after 2 GiB
       acknowledged without one they would be 2^31 apart, and sequence comparison would say an
       episode is open (every first loss of the next 2 GiB waiting for a timeout). Once passed,
       recover follows SND.UNA; the checks above saw its old value. */
    if (seq_gt(ack, c->recover)) c->recover = ack;
    if (c->snd_una == c->snd_nxt) {
        /* Nothing sent is outstanding: output decides between sending, idle and persist. The
           timer stays armed and fires as a no-op in mode NONE unless the next segment sent
           postpones it first: in a ping-pong it is never unlinked. */
        c->retx_mode = ET_RETX_NONE;
    } else {
        et_arm_loss_timer(c); /* RFC 6298 §5.3; RFC 8985 §7.2: or a probe */
    }
    return freed != 0;
}

/* RFC 5681 §3.2 duplicate ACK handling with RFC 6582 NewReno recovery. with_blocks: the ACK
   carried SACK blocks. */
static void dup_ack(et_conn *c, bool with_blocks)
{
    et_stack *st = c->st;
    if (c->sack_ok) {
        /* RFC 6675 §5 (a): DupThresh duplicates start recovery too; the scoreboard, not cwnd
           inflation, then counts what left the network. With RACK, duplicates that carry
           blocks are RACK's to judge by time (RFC 8985 §6.2: reordering is not loss); three
           without any (a peer whose blocks never come) still mean the head is lost. */
        if (++c->dupacks == 3 && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1) &&
            !(c->rack_ok && with_blocks))
            et_sack_dupthresh(c);
        return;
    }
    if (++c->dupacks == 3 && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1)) {
        c->in_recovery = true;
        c->recover = c->snd_max;
        et_cc_on_fast_loss(&c->cc, c->snd_nxt - c->snd_una, st->now_ns);
        st->stats.fast_retransmits++;
        et_retransmit_head(c);
        c->retx_mode = ET_RETX_RTO;
        et_arm_retx_timer(c);
    } else if (c->dupacks > 3 && c->in_recovery) {
        et_cc_on_dupack(&c->cc); /* step 4: a segment left the network */
    }
}

/* Our FIN is acknowledged when everything up to queued_end is. */
static bool our_fin_acked(const et_conn *c)
{
    return c->fin_queued && !c->fin_pending && c->snd_una == c->queued_end;
}

/* In-order FIN: RFC 9293 §3.10.7.4 eighth step. Returns false if the connection was freed. */
static bool fin_input(et_conn *c)
{
    et_stack *st = c->st;
    /* The FIN ends the peer's data: islands kept beyond it are data "after" the end, a
       contradiction or a forgery, and go with it. */
    st->stats.drops[EFVITCP_DROP_BEYOND_FIN] += c->n_ooo;
    c->n_ooo = 0;
    c->ooo_fin = false;
    c->rcv_nxt++;
    c->fin_rcvd = true;
    c->ack_now = true;
    uint8_t prev = c->state;
    if (prev == EFVITCP_ESTABLISHED)
        c->state = EFVITCP_CLOSE_WAIT;
    else if (prev == EFVITCP_FIN_WAIT_1)
        c->state = our_fin_acked(c) ? EFVITCP_TIME_WAIT : EFVITCP_CLOSING;
    else if (prev == EFVITCP_FIN_WAIT_2)
        c->state = EFVITCP_TIME_WAIT;
    uint32_t gen = c->gen;
    if (st->h->on_fin) {
        const uint8_t *p;
        uint32_t n = et_rcv_unread(c, &p);
        st->h->on_fin(st->hctx, c, p, n);
        if (c->gen != gen) return false;
    }
    if (c->state == EFVITCP_TIME_WAIT) {
        et_send_ack(c);
        et_conn_enter_time_wait(c);
        return false;
    }
    return true;
}

/* Answers to segments we drop, rate limited as Linux's tcp_oow_rate_limited (RFC 7323 §5.3, RFC
   5961 §7 leave the limit to the implementation): a bare ACK answered by an ACK that the peer
   drops and answers in turn is an endless loop at line rate, and a burst of answers reads as
   duplicate ACKs there. So a dropped bare ACK gets at most one answer per interval; a segment
   with data (or SYN or FIN) is always answered, it cannot be a loop's echo; exempt says the
   answer carries a current sequence number (keepalive and window probes), which ends any loop.
   true: do not answer. */
static bool oow_rate_limited(et_conn *c, const et_tcp_seg *s, bool exempt)
{
    if (seg_space(s)) return false;
    uint64_t now = c->st->now_ns;
    if (!exempt && c->oow_ack_ns && now - c->oow_ack_ns < OOW_ACK_INTERVAL_NS) return true;
    c->oow_ack_ns = now ? now : 1;
    return false;
}

/* Every segment of a synchronised connection is a sign of life (keepalive, RFC 9293 §3.8.4). */
/* A segment passed the acceptability test: the peer is alive (keepalive, the zero-window
   exemption of rto_fire, the FIN-WAIT-2 timeout). A rejected one proves nothing: anyone can
   send it. */
STEP void note_alive(et_conn *c)
{
    c->last_rx_ns = c->st->now_ns;
    c->ka_probes = 0;
}

/* Repeats of the handshake that the steps below would drop. true: handled. */
static bool handshake_repeat(et_conn *c, et_tcp_seg *s)
{
    if (c->state != EFVITCP_SYN_RECEIVED || !(s->flags & ET_TCP_SYN) || s->seq != c->irs)
        return false;
    /* A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost. */
    if (!(s->flags & ET_TCP_ACK)) {
        et_retransmit(c, 0);
        return true;
    }
    /* Simultaneous open (RFC 9293 §3.5 figure 8, line 6): the peer's SYN-ACK repeats the SYN we
       already took and acknowledges ours. Its SYN octet lies below RCV.NXT, so the checks below
       would drop it and leave us in SYN-RECEIVED until an RTO; the SYN is old news, the rest is
       the ACK that completes the handshake (Linux does the same). */
    if (c->active_open && s->ack == c->iss + 1) {
        s->seq++;
        s->flags &= (uint8_t)~ET_TCP_SYN;
    }
    return false;
}

/* RFC 7323 §3.2 and §5.3: once timestamps are on, a non-RST segment without one is dropped, and
   PAWS rejects an old TSval (unless ts_recent is more than 24 days idle, §5.5). false: drop. */
static bool paws_ok(et_conn *c, const et_tcp_seg *s)
{
    if (!c->ts_ok || (s->flags & ET_TCP_RST)) return true;
    et_stack *st = c->st;
    if (!s->opt.has_ts) {
        st->stats.drops[EFVITCP_DROP_PAWS]++;
        return false;
    }
    if ((int32_t)(s->opt.tsval - c->ts_recent) < 0 &&
        st->now_ns - c->ts_recent_ns < 24ull * 86400 * 1000000000ull) {
        st->stats.drops[EFVITCP_DROP_PAWS]++;
        if (!oow_rate_limited(c, s, false)) et_send_ack(c);
        return false;
    }
    return true;
}

/* RFC 9293 §3.10.7.4 first step: sequence number acceptability (the table), for a window of
   wnd. In a zero window the segment's ACK and window are still taken: its text and FIN are cut
   here. */
static bool seq_acceptable(et_conn *c, et_tcp_seg *s, uint32_t wnd)
{
    uint32_t space = seg_space(s);
    bool ok;
    if (space == 0)
        ok = wnd == 0 ? s->seq == c->rcv_nxt
                      : seq_ge(s->seq, c->rcv_nxt) && seq_lt(s->seq, c->rcv_nxt + wnd);
    else /* RFC 9293's two tests (first or last octet in the window), widened to any overlap:
            a retransmission that starts below RCV.NXT and ends past the window passes neither,
            and a sender that never splits segments would stall (as Linux's tcp_sequence). */
        ok = wnd != 0 && seq_lt(s->seq, c->rcv_nxt + wnd) && seq_gt(s->seq + space, c->rcv_nxt);
    if (!ok && space == 0 && seq_ge(s->seq, c->last_ack_sent) && seq_lt(s->seq, c->rcv_nxt)) {
        /* A bare ACK the peer sent before it could learn of bytes we took and have not
           acknowledged yet (part of a window probe beyond its idea of our window): its
           acknowledgment is current, and dropping it costs a spurious timeout. Linux's
           tcp_sequence() accepts from RCV.WUP, our last_ack_sent, for the same reason. */
        ok = true;
    }
    if (!ok && space == 0 && !(s->flags & ET_TCP_RST) && (s->flags & ET_TCP_ACK) &&
        seq_lt(s->seq, c->rcv_nxt) && c->rcv_nxt - s->seq <= c->st->cfg.recv_buf_size &&
        seq_gt(s->ack, c->snd_una) && seq_le(s->ack, c->snd_max)) {
        /* A bare ACK below RCV.NXT, by no more than a window, that acknowledges new data: its
           sender puts its pure ACKs at the edge of our window as it last heard of it, and when
           it drops our ACKs for the same reason that edge never moves; each end then resends
           what the other holds until the retries run out (sim seed 22, corrupt, --bulk
           --no-sack: a window field forged on the wire let both send past the real edges). Only
           an ACK of new data is taken, so an old reordered one is still not a duplicate. */
        ok = true;
    }
    if (!ok && space == 0 && wnd != 0 && s->seq == c->rcv_nxt + wnd && !(s->flags & ET_TCP_RST)) {
        /* A bare ACK at exactly our right edge: a sender that filled our window and lost its
           last segment sends its ACKs at SND.NXT, which is there (Linux's tcp_sequence takes
           SEG.SEQ <= RCV.NXT + RCV.WND). Two ends that each lost the tail of a full window
           dropped each other's ACKs for ever (sim seed 14, slow, --bulk). */
        ok = true;
    }
    if (!ok && wnd == 0 && s->seq == c->rcv_nxt && !(s->flags & ET_TCP_RST)) {
        /* Zero window: still take ACKs and window updates, drop the text (§3.10.7.4). */
        s->len = 0;
        s->flags &= (uint8_t)~ET_TCP_FIN;
        c->ack_now = true; /* answer the probe, or the peer's persist timer gives up */
        ok = true;
    }
    return ok;
}

/* An unacceptable segment is dropped; unless it is a RST, it is answered with an ACK
   (RFC 9293 §3.10.7.4 first step), with a rate limit where an answer could start a loop. */
static void reject_unacceptable(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    if (s->flags & ET_TCP_RST) return;
    st->stats.drops[EFVITCP_DROP_OUT_OF_WINDOW]++;
    /* Data wholly below RCV.NXT arrived twice: the ACK says so (RFC 2883 D-SACK). */
    if (s->len && seq_le(s->seq + s->len, c->rcv_nxt)) et_sack_note_dup(c, s->seq, s->seq + s->len);
    /* Old data gets our ACK at once (ours was lost); keepalives and zero-window probes (seq
       RCV.NXT - 1, no data) always get one, if they acknowledge nothing we never sent: a real
       peer's probe cannot. Two stacks that each took a forged FIN in the other's name (each
       RCV.NXT one beyond what the other sent) see each other's ACKs as such probes, and
       answered them without end at one instant (fuzz: regress/pair/phantom-fins-ack-loop). */
    bool probe =
        s->seq == c->rcv_nxt - 1 && (!(s->flags & ET_TCP_ACK) || seq_le(s->ack, c->snd_max));
    if (!oow_rate_limited(c, s, probe)) et_send_ack(c);
}

/* RFC 9293 §3.10.7.4 second step with RFC 5961 §3.2: a RST at exactly RCV.NXT resets, any other
   in the window gets a challenge ACK. */
static void rst_input(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    if (s->seq != c->rcv_nxt) {
        challenge_ack(c);
        return;
    }
    if (c->state == EFVITCP_SYN_RECEIVED && !c->active_open) {
        et_conn_free(c); /* back to LISTEN: the user never saw it */
        return;
    }
    st->stats.conns_reset++;
    if (c->state == EFVITCP_SYN_RECEIVED)
        et_conn_finish(c, st->h->on_connection_refused);
    else
        et_conn_finish(c, st->h->on_reset);
}

/* RFC 9293 §3.10.7.4 fifth step in SYN-RECEIVED: an ACK of our SYN completes the handshake, any
   other ACK is answered with a RST. false: stop (dropped, or the callback freed c). */
static bool syn_received_ack(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    if (!seq_gt(s->ack, c->snd_una) || seq_gt(s->ack, c->snd_max)) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        et_send_rst_reply(st, s);
        return false;
    }
    et_in_syn_acked(c, c->iss + 1);
    et_in_set_snd_wnd(c, (uint32_t)s->window << c->snd_wscale);
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
    uint32_t gen = c->gen;
    et_in_report_established(c);
    return c->gen == gen;
}

/* RFC 7323 §4.3: TS.Recent follows the segment that covers Last.ACK.sent. */
STEP void update_ts_recent(et_conn *c, const et_tcp_seg *s)
{
    if (c->ts_ok && seq_le(s->seq, c->last_ack_sent) &&
        (int32_t)(s->opt.tsval - c->ts_recent) >= 0) {
        c->ts_recent = s->opt.tsval;
        c->ts_recent_ns = c->st->now_ns;
    }
}

/* RFC 9293 §3.10.7.4 fifth step: an ACK beyond anything sent is answered and dropped; RFC 5961
   §5.2 takes ACKs in [SND.UNA - MAX.SND.WND, SND.MAX] and challenges older ones. Then RFC 7323
   §4.3: TS.Recent follows the segment that covers Last.ACK.sent. false: dropped. */
static bool ack_acceptable(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    if (seq_gt(s->ack, c->snd_max)) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        if (!oow_rate_limited(c, s, false)) et_send_ack(c);
        return false;
    }
    if (seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        challenge_ack(c);
        return false;
    }
    update_ts_recent(c, s);
    return true;
}

/* The window update of RFC 9293 §3.10.7.4 (fifth step): taken from the newest segment by the
   SND.WL1/SND.WL2 rule, so that an old reordered segment cannot shrink it. */
STEP void window_update(et_conn *c, const et_tcp_seg *s, uint32_t new_wnd)
{
    if (!(seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_le(c->snd_wl2, s->ack))))
        return;
    /* A new largest window sizes new segments (et_conn_seg_cap), the first one after a zero
       window included: the cap tested against it (at most half of it, or the MSS) missed a
       first window below the MSS. */
    if (new_wnd > c->max_snd_wnd) {
        et_in_set_snd_wnd(c, new_wnd);
        et_conn_seg_cap(c);
    } else {
        c->snd_wnd = new_wnd;
    }
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
}

/* SND.UNA moves to SEG.ACK (above it): ack_new_data, then the send window's left edge. */
STEP bool ack_advance(et_conn *c, const et_tcp_seg *s, bool quiet)
{
    uint32_t advance = s->ack - c->snd_una;
    bool freed = ack_new_data(c, s, quiet);
    /* SND.WND counts from SND.UNA: keep the right edge where the peer put it until a window
       update moves it (as BSD's snd_wnd -= acked). Otherwise an ACK that fails the SND.WL1/WL2
       test (an older window probe carrying a newer ACK) would move the edge past the peer's
       buffer. */
    c->snd_wnd = c->snd_wnd > advance ? c->snd_wnd - advance : 0;
    return freed;
}

/* ack_input for a calm() connection and a segment without SACK blocks (the fast path): every
   step it leaves out would be a no-op (calm()). */
STEP bool ack_input_calm(et_conn *c, const et_tcp_seg *s)
{
    uint32_t new_wnd = (uint32_t)s->window << c->snd_wscale;
    bool freed = seq_gt(s->ack, c->snd_una) && ack_advance(c, s, true);
    window_update(c, s, new_wnd);
    return freed;
}

/* RFC 9293 §3.10.7.4 fifth step for an acceptable ACK: SND.UNA advances (or a duplicate ACK is
   counted, RFC 5681 §2), the window is updated, and the persist timer learns that the peer
   answered. Returns true if send slots were freed. */
STEP bool ack_input(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    bool freed = false;
    uint32_t old_wnd = c->snd_wnd;
    uint32_t new_wnd = (uint32_t)s->window << c->snd_wscale;
    /* RFC 6675 §5 (C.1): the scoreboard first, against SND.UNA before this ACK moves it. */
    c->rack_fack_ack = c->rack_fack; /* RACK judges reordering against it (et_rack_delivered) */
    uint32_t sk = (s->opt.n_sack || s->opt.sack_bad) ? et_sack_input(c, s) : 0;
    bool sacked = sk & ET_SACK_NEW, una_moved = false;
    if (seq_gt(s->ack, c->snd_una)) {
        una_moved = true;
        freed = ack_advance(c, s, false);
    } else if (s->ack == c->snd_una && s->len == 0 && !(s->flags & ET_TCP_FIN) &&
               new_wnd == c->snd_wnd && c->snd_una != c->snd_max &&
               c->retx_mode != ET_RETX_PERSIST) {
        /* RFC 5681 §2 duplicate ACK; answers to window probes are not, even when they come
           after the window opened and data left (then only their count tells them apart). */
        if (c->probes_out)
            c->probes_out--;
        else
            dup_ack(c, s->opt.n_sack != 0);
    }
    if (c->rack_ok) {
        /* RFC 8985: the probe's outcome, then loss detection by time (which starts recovery
           whatever the ACK carries: data flowing both ways makes no duplicates). */
        if (c->tlp_on) et_rack_tlp_ack(c, s, sk, una_moved);
        if (sk || c->n_sacked || c->in_recovery || c->reo_deadline_ns || c->rack_retx_seen ||
            c->dsack_round_on)
            et_rack_ack(c, sk);
    } else if (sacked && !c->in_recovery && c->sr_una != c->sr_end &&
               et_seg_at(c, c->sr_una)->lost && seq_gt(c->snd_una, c->recover - 1)) {
        /* RFC 6675 §5 (b): IsLost(HighACK + 1) starts recovery whatever the ACK carries, so an
           ACK that brings data, or a window change, reports loss as well as a duplicate does. */
        et_sack_enter_recovery(c);
    }
    window_update(c, s, new_wnd);
    if (c->retx_mode == ET_RETX_PERSIST) {
        /* The peer answered: probes are not failing (a slow reader is never reset). */
        c->retries = 0;
        if (c->snd_wnd > old_wnd || freed) {
            c->retx_mode = ET_RETX_NONE;
            et_wheel_cancel(&st->wheel, &c->t_retx);
        }
    }
    if (freed && c->fin_pending) et_queue_fin(c);
    /* MSG_MORE-like corking ends when everything sent has been acknowledged. */
    if (c->tail_open && c->snd_una == c->snd_nxt) c->tail_open = false;
    return freed;
}

/* RFC 9293 §3.10.7.4 fifth step, per state: our FIN acknowledged moves FIN-WAIT-1 to FIN-WAIT-2,
   CLOSING to TIME-WAIT and LAST-ACK to CLOSED. false if the connection was freed. */
STEP bool fin_acked_transitions(et_conn *c)
{
    et_stack *st = c->st;
    if (!our_fin_acked(c)) return true;
    switch (c->state) {
    case EFVITCP_FIN_WAIT_1:
        c->state = EFVITCP_FIN_WAIT_2;
        et_arm_fin_wait2(c);
        return true;
    case EFVITCP_CLOSING:
        et_conn_enter_time_wait(c);
        return false;
    case EFVITCP_LAST_ACK:
        st->stats.conns_closed++;
        et_conn_finish(c, st->h->on_closed);
        return false;
    default:
        return true;
    }
}

/* RFC 9293 §3.10.7.4 seventh step: the text, cut to the window wnd of the first step (a FIN
   beyond it is cut too: *fin). false if the connection was freed. */
STEP bool text_input(et_conn *c, const et_tcp_seg *s, uint32_t wnd, bool can_rcv, bool *fin)
{
    uint32_t gen = c->gen;
    if (!s->len) return true;
    if (!can_rcv || c->fin_rcvd) {
        /* Data after the peer's FIN, or in a state that takes none: just ACK it. */
        c->ack_now = true;
        *fin = false;
        return true;
    }
    const uint8_t *p = s->payload;
    uint32_t seq = s->seq, len = s->len;
    if (seq_lt(seq, c->rcv_nxt)) { /* already received part: RFC 2883 reports it */
        uint32_t skip = c->rcv_nxt - seq;
        et_sack_note_dup(c, seq, c->rcv_nxt);
        p += skip;
        len -= skip;
        seq = c->rcv_nxt;
    }
    if (seq_gt(seq + len, c->rcv_nxt + wnd)) { /* beyond the window: trim, FIN too */
        len = c->rcv_nxt + wnd - seq;
        *fin = false;
    }
    /* The FIN ends the peer's data: islands beyond it go before this text can reach and merge
       them, which would carry rcv_nxt past the FIN. */
    if (*fin) et_rcv_end_at(c, seq + len);
    if (!len) return true;
    return et_rcv_data_next(c, seq, p, len) && c->gen == gen;
}

/* RFC 9293 §3.10.7.4 eighth step: a FIN in order, or one remembered from beyond a hole that the
   data just filled. false if the connection was freed. */
static bool fin_step(et_conn *c, const et_tcp_seg *s, bool fin, bool can_rcv)
{
    if (c->ooo_fin && seq_gt(c->rcv_nxt, c->ooo_fin_seq))
        c->ooo_fin = false; /* data past the peer's own FIN: trust its retransmission instead */
    bool fin_reached = c->ooo_fin && c->rcv_nxt == c->ooo_fin_seq;
    if (can_rcv && !c->fin_rcvd && ((fin && s->seq + s->len == c->rcv_nxt) || fin_reached)) {
        c->ooo_fin = false;
        return fin_input(c);
    }
    if (fin && c->fin_rcvd && s->seq + s->len + 1 == c->rcv_nxt) {
        c->ack_now = true; /* a retransmitted FIN: our ACK was lost */
    } else if (fin && can_rcv && !c->fin_rcvd) {
        /* A FIN beyond a hole: duplicate ACK at once (RFC 5681 §4.2), and remember it (RFC 9293
           §3.10.7.4 lets a receiver keep out-of-order segments), so that filling the hole
           closes without waiting for the peer to send the FIN again after an RTO. */
        c->ack_now = true;
        c->ooo_fin = true;
        c->ooo_fin_seq = s->seq + s->len;
    }
    return true;
}

/* After the text: an ACK now, or a delayed one (RFC 9293 §3.8.6.3, RFC 5681 §4.2). */
STEP void ack_decision(et_conn *c)
{
    et_stack *st = c->st;
    if (c->ack_now) {
        et_send_ack(c);
    } else if (c->rcv_nxt != c->last_ack_sent) {
        /* RFC 5681 §4.2: at least every second full-sized segment (et_conn_set_ack_full). */
        uint32_t full = c->ack_full;
        /* Nor while the sender cannot send a full segment until it hears from us: with a
           receive buffer below two segments the rule above never fires, and each segment would
           wait for the timer. */
        bool blocked = seq_lt(c->rcv_adv, c->rcv_nxt + full);
        if (st->cfg.delayed_ack_us == 0 || c->rcv_nxt - c->last_ack_sent >= 2 * full || blocked)
            et_send_ack(c);
        else
            et_arm_delack(c);
    }
}

/* What follows the text: the user hears of freed send space, output goes, and the ACK decision. */
STEP void answer(et_conn *c, bool freed, uint32_t gen)
{
    et_stack *st = c->st;
    if (freed && st->h->on_more_sendable && et_conn_has_room(c)) {
        st->h->on_more_sendable(st->hctx, c);
        if (c->gen != gen) return;
    }
    et_output(c);
    ack_decision(c);
}

/* RFC 9293 §3.10.7.4: SYN-RECEIVED and every synchronised state, one step at a time. */
static void synced_input(et_conn *c, const et_tcp_seg *s_in)
{
    et_tcp_seg seg = *s_in;
    et_tcp_seg *s = &seg;
    c->segs_in++;
    if (handshake_repeat(c, s) || !paws_ok(c, s)) return;
    uint32_t wnd = et_rcv_wnd_open(c);
    if (!seq_acceptable(c, s, wnd)) { /* first */
        reject_unacceptable(c, s);
        return;
    }
    note_alive(c);
    if (s->flags & ET_TCP_RST) { /* second (the third, security, has no use here) */
        rst_input(c, s);
        return;
    }
    if (s->flags & ET_TCP_SYN) { /* fourth: RFC 5961 §4.2 */
        challenge_ack(c);
        return;
    }
    if (!(s->flags & ET_TCP_ACK)) return; /* fifth */
    if (c->state == EFVITCP_SYN_RECEIVED && !syn_received_ack(c, s)) return;
    if (!ack_acceptable(c, s)) return;
    bool freed = ack_input(c, s);
    if (!fin_acked_transitions(c)) return;
    /* The sixth step (URG) has no use: the urgent pointer is ignored (RFC 6093). */
    uint32_t gen = c->gen;
    bool fin = s->flags & ET_TCP_FIN;
    bool can_rcv = c->state == EFVITCP_ESTABLISHED || c->state == EFVITCP_FIN_WAIT_1 ||
                   c->state == EFVITCP_FIN_WAIT_2;
    if (!text_input(c, s, wnd, can_rcv, &fin)) return; /* seventh */
    if (!fin_step(c, s, fin, can_rcv)) return;         /* eighth */
    answer(c, freed, gen);
}

/*
 * Header prediction (after Van Jacobson's, RFC 1323 appendix, and BSD's tcp_input): on an
 * ESTABLISHED connection most segments are the next bytes expected, or an ACK of data we sent,
 * or both. Such a segment passes every check of synced_input by construction, so it goes
 * straight to the ACK, the text and the answer, through the same step functions. The conditions
 * and why each skipped check cannot fail are in docs/engine.md ("The fast path"). false: not
 * predicted, nothing done.
 */
static inline bool predicted(const et_conn *c, const et_tcp_seg *s, uint32_t wnd)
{
    return (s->flags & (ET_TCP_SYN | ET_TCP_FIN | ET_TCP_RST | ET_TCP_ACK)) == ET_TCP_ACK &&
           s->seq == c->rcv_nxt && s->len <= wnd &&
           (!c->ts_ok || (s->opt.has_ts && (int32_t)(s->opt.tsval - c->ts_recent) >= 0)) &&
           seq_ge(s->ack, c->snd_una) && seq_le(s->ack, c->snd_max) &&
           (s->len || s->ack != c->snd_una) &&   /* else a duplicate ACK or a window update */
           !s->opt.n_sack && !s->opt.sack_bad && /* SACK blocks: the scoreboard, general path */
           c->rb_head == c->rb_tail && c->n_ooo == 0 && !c->ooo_fin;
}

STEP bool fast_input(et_conn *c, const et_tcp_seg *s)
{
    uint32_t wnd = et_rcv_wnd_open(c);
    if (!predicted(c, s, wnd)) return false;
    c->st->stats.fast_path++;
    c->segs_in++;
    note_alive(c);
    update_ts_recent(c, s);
    bool freed = calm(c) ? ack_input_calm(c, s) : ack_input(c, s);
    /* No fin_acked_transitions: in ESTABLISHED our FIN is not queued (send_fin leaves it). */
    uint32_t gen = c->gen;
    /* text_input, whose tests predicted() has made: the next bytes, inside the window, nothing
       held back, no FIN, and ESTABLISHED (so no FIN received either). ack_input has left the
       receive side as it was. */
    if (s->len && !et_rcv_lend(c, s->payload, s->len)) return true;
    answer(c, freed, gen);
    return true;
}

/* Every segment that header prediction did not take; v: its lookup. Out of line, so that
   et_tcp_input, the fast path and the lookup, stays small enough to be inlined into the poll
   loop, its one caller, by link-time optimisation. */
static __attribute__((noinline)) void general_input(et_stack *st, const et_tcp_seg *s, uint32_t v)
{
    uint8_t f = s->flags;
    if (((f & ET_TCP_SYN) && (f & (ET_TCP_FIN | ET_TCP_RST))) ||
        !(f & (ET_TCP_SYN | ET_TCP_ACK | ET_TCP_RST)) || s->sport == 0 || s->dport == 0) {
        st->stats.drops[EFVITCP_DROP_BAD_FLAGS]++;
        return;
    }
    if (v == UINT32_MAX) {
        if (!et_stack_is_listening(st, s->dport)) {
            st->stats.drops[EFVITCP_DROP_NO_CONN]++;
            et_send_rst_reply(st, s);
            return;
        }
        /* The ACK of a SYN cookie recreates its connection, in SYN-RECEIVED: it then takes the
           segment as the last of the handshake (syn_cookie_in.c). */
        if ((v = et_in_listen(st, s, UINT32_MAX)) == UINT32_MAX) return;
    }
    if (v & ET_TW_FLAG) {
        uint32_t idx = v & ~ET_TW_FLAG;
        et_tw *tw = et_tw_get(st, idx);
        if ((f & ET_TCP_SYN) && !(f & ET_TCP_ACK) && et_stack_is_listening(st, s->dport)) {
            /* RFC 6191 (timestamps) / RFC 1122 §4.2.2.13 (sequence): a new incarnation may
               reuse the tuple if it is provably newer than the old one. */
            bool newer = (tw->ts_ok && s->opt.has_ts) ? (int32_t)(s->opt.tsval - tw->ts_recent) > 0
                                                      : seq_gt(s->seq, tw->rcv_nxt);
            if (newer) {
                (void)et_in_listen(st, s, idx); /* a SYN: no connection to go on with */
                return;
            }
        }
        et_tw_input(st, idx, s);
        return;
    }
    et_conn *c = &st->conns[v];
    switch (c->state) {
    case EFVITCP_SYN_SENT:
        et_in_syn_sent(c, s);
        break;
    case EFVITCP_WAIT_ARP:
    case EFVITCP_CLOSED:
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        break;
    default:
        synced_input(c, s);
        break;
    }
}

void et_tcp_input(et_stack *st, const et_tcp_seg *s)
{
    st->stats.segs_in++;
    uint32_t v = et_ct_lookup(&st->table, et_ct_key(s->saddr, s->sport, s->dport));
    /* Header prediction first: a segment it takes has ACK alone of the four flags checked by
       general_input (predicted()), and nonzero ports (a connection's): those checks would pass
       it. The lookup only reads, whatever the segment. */
    if (!(v & ET_TW_FLAG) && st->conns[v].state == EFVITCP_ESTABLISHED && st->cfg.fast_path &&
        fast_input(&st->conns[v], s))
        return;
    general_input(st, s, v);
}
