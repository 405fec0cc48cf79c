/*
 * RACK-TLP (RFC 8985) on connections with SACK and cfg.rack: losses found by time instead of by
 * counting duplicates, and tail loss probes; and undoing a congestion response that proved
 * spurious (D-SACK, RFC 3708; timestamps, RFC 3522; the response of RFC 4015).
 *
 * RACK: a segment is lost once a segment sent after it has been delivered (cumulatively or by
 * SACK) and a reordering window has passed since (RFC 8985 §6.2). The state is a few fields of
 * the connection (RACK.xmit_ts, .end_seq, .rtt, .fack, min_RTT) and the send time of each
 * segment, which the send ring keeps already (et_seg.sent_ns): nothing allocated. The
 * reordering window is min_RTT / 4, times reo_wnd_mult, capped at SRTT, and 0 while no
 * reordering was seen and either recovery runs or DupThresh segments are sacked (§6.2 step 4),
 * so that a plain loss is repaired at once and a reordering path waits a quarter RTT.
 *
 * TLP: with data in flight and with an RTT sample (in recovery too, see tlp_fire), the
 * retransmission timer first serves as the probe timeout, PTO = 2 * SRTT plus the peer's delayed
 * ACK (taken to be ours, cfg.delayed_ack_us), at most the RTO (§7.2). On expiry one segment goes:
 * new data if the peer's window allows, otherwise the last segment sent again (§7.3); then the RTO
 * runs. The probe's ACK shows a loss the probe repaired, and congestion control responds (§7.4).
 *
 * Choices where the RFCs leave room, and why:
 *  - min_RTT is the smallest RACK RTT sample of the connection's life, not a windowed minimum:
 *    a path's floor seldom rises within one connection; Linux windows it over 5 minutes.
 *  - The detection walk runs only when it can find something: segments are sacked, recovery
 *    runs, the reordering timer is pending, or a retransmission was delivered (a cumulative ACK
 *    of originals alone never shows a segment sent before them outstanding).
 *  - Undo restores cwnd and ssthresh to at least their values before the episode, as Linux's
 *    tcp_undo_cwnd_reduction (RFC 4015 §3.2 restores ssthresh alike). D-SACKs count down the
 *    episode's retransmissions; all of them reported needless, or an ACK echoing a TSval older
 *    than the first retransmission's (RFC 3522 §2), proves it spurious. An undo counts as
 *    reordering seen: RACK's window then keeps the next reordering from looking like loss.
 */
#include "tcp/stack.h"

#define DUP_THRESH 3

/* RFC 8985 §6.2 RACK_sent_after: (t1, seq1) was sent after (t2, seq2). */
static bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2)
{
    return t1 > t2 || (t1 == t2 && seq_gt(seq1, seq2));
}

void et_rack_delivered(et_conn *c, const et_seg *s, const et_tcp_seg *seg, uint32_t prior_fack)
{
    et_stack *st = c->st;
    if (!s->sent_ns) return;
    /* At least 1 ns, as min_RTT: a clock that has not turned is no zero RTT (a path faster than
       the clock's resolution). At 0, every retransmission's delivery there fell below min_RTT
       (1) and was taken for the original's (step 2): RACK never learnt from it, and the losses
       sent before it waited for the RTO (sim seed 8, lossy, --bulk, latency 0). */
    uint64_t rtt = st->now_ns > s->sent_ns ? st->now_ns - s->sent_ns : 1;
    uint32_t end = et_seg_end(s);
    if (s->retx) {
        /* Step 2: which transmission was delivered is ambiguous. An RTT below the path's floor
           says an earlier one, and so does, for a segment this ACK covers cumulatively, an echo
           older than the last transmission's TSval. Not for a sacked one: the peer echoes the
           TSval of the last segment in order (RFC 7323 §4.3), older than any retransmission's
           sent since, so RACK never learnt from a sacked retransmission, and one lost again
           below it waited for the probes, one segment per PTO (sim seed 32, dup, --bulk).
           Linux's tcp_rack_advance judges by the RTT alone. */
        uint32_t tsval = (uint32_t)(s->sent_ns / ET_TS_TICK_NS) + c->ts_offset;
        if (c->ts_ok && seg->opt.has_ts && seq_le(end, seg->ack) &&
            (int32_t)(seg->opt.tsecr - tsval) < 0)
            return;
        if (rtt < c->min_rtt_ns) return;
        c->rack_retx_seen = true;
    } else if (!c->min_rtt_ns || rtt < c->min_rtt_ns) {
        c->min_rtt_ns = rtt;
    }
    c->rack_rtt_ns = rtt;
    if (sent_after(s->sent_ns, end, c->rack_xmit_ns, c->rack_end)) {
        c->rack_xmit_ns = s->sent_ns;
        c->rack_end = end;
    }
    /* Step 3: an original delivered below the highest sequence delivered was reordered; below
       the highest delivered before this ACK, as Linux's prior_fack: one ACK reports its blocks
       most recent first, not in sequence order, and acknowledges cumulatively after sacking
       (one whose predecessor was lost acknowledges what that one did and sacks beyond). Judged
       against RACK.fack as it moves within the ACK, both looked like reordering: at 20% loss
       every connection had reordering "seen" within its first losses, and its losses then
       waited a reordering window (a quarter of min_RTT, widened by every D-SACK round). */
    if (seq_gt(end, c->rack_fack)) c->rack_fack = end;
    if (!s->retx && seq_lt(end, prior_fack)) c->rack_reord = true;
}

/* Step 4: the reordering window. */
static uint64_t reo_wnd(const et_conn *c)
{
    if (!c->rack_reord && (c->in_recovery || c->retries || c->n_sacked >= DUP_THRESH)) return 0;
    uint64_t w = (uint64_t)c->reo_mult * c->min_rtt_ns / 4;
    return c->srtt_ns && w > c->srtt_ns ? c->srtt_ns : w;
}

/* Step 5: marks lost every segment sent before RACK.segment by more than the window; the
   earliest time one not yet due will be is the reordering timer's. */
static bool detect(et_conn *c)
{
    et_stack *st = c->st;
    uint64_t wnd = reo_wnd(c), now = st->now_ns, due_min = 0;
    bool newly = false;
    c->rack_retx_seen = false;
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        /* Not beyond SND.NXT: after a timeout those wait for the go-back-N (loss_on). */
        if (!seq_lt(s->seq, c->snd_nxt)) break;
        if (s->sacked || s->lost || !s->sent_ns) continue;
        if (!sent_after(c->rack_xmit_ns, c->rack_end, s->sent_ns, et_seg_end(s))) continue;
        uint64_t due = s->sent_ns + c->rack_rtt_ns + wnd;
        if (due <= now) {
            et_sack_mark_lost(s);
            c->rack_losses++;
            st->stats.rack_losses++;
            newly = true;
        } else if (!due_min || due < due_min) {
            due_min = due;
        }
    }
    c->reo_deadline_ns = due_min;
    return newly;
}

bool et_rack_detect(et_conn *c)
{
    if (!c->rack_xmit_ns) return false;
    if (!(c->n_sacked || c->in_recovery || c->reo_deadline_ns || c->rack_retx_seen)) return false;
    return detect(c);
}

void et_rack_ack(et_conn *c, uint32_t sack_flags)
{
    /* Step 4's D-SACK rounds: a D-SACK widens the window for the next 16 recoveries; once per
       round trip (RACK.dsack_round), so a burst of D-SACKs from one event counts once. */
    if (c->dsack_round_on && seq_ge(c->snd_una, c->dsack_round)) c->dsack_round_on = false;
    if (!c->dsack_round_on && (sack_flags & ET_SACK_DSACK)) {
        c->dsack_round_on = true;
        c->dsack_round = c->snd_nxt;
        if (c->reo_mult < UINT8_MAX) c->reo_mult++;
        c->reo_persist = 16;
    }
    uint64_t reo_before = c->reo_deadline_ns;
    bool lost = et_rack_detect(c);
    /* RFC 8985 §6.2: losses start recovery (RFC 6675 §5 from step 4 on); RFC 6582's rule still
       keeps one recovery per window of data. */
    if (lost && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1) && !c->retries)
        et_sack_enter_recovery(c);
    else if (c->snd_una != c->snd_max && c->retx_mode != ET_RETX_PERSIST &&
             (c->reo_deadline_ns != reo_before || (c->in_recovery && (sack_flags & ET_SACK_NEW))))
        /* In recovery an ACK that sacks new data is progress as a cumulative one is outside
           it (§7.2 restarts the probe timer on those): the probe waits a PTO from the last
           sign of delivery, not from the last cumulative ACK, which in recovery may be long
           past (the RTO would come first). */
        et_arm_loss_timer(c);
}

void et_rack_recovery_exit(et_conn *c)
{
    /* Step 4: the widened window decays after 16 recoveries without a D-SACK. */
    if (c->reo_persist && --c->reo_persist == 0) c->reo_mult = 1;
}

/* ---- tail loss probes (§7) ---- */

void et_arm_loss_timer_slow(et_conn *c)
{
    et_stack *st = c->st;
    if (c->rack_ok && c->reo_deadline_ns) {
        c->retx_mode = ET_RETX_REO;
        et_wheel_postpone(&st->wheel, &c->t_retx, c->reo_deadline_ns);
        return;
    }
    if (et_tlp_ok(c)) {
        et_arm_probe(c);
        return;
    }
    c->retx_mode = ET_RETX_RTO;
    et_arm_retx_timer(c);
}

/* After a probe with no news since the last one: another probe, each at twice the interval
   of the one before (PTO, 2 PTO, 4 PTO, ...), as long as it comes before the RTO would have come
   with a single second probe (the first probe's time + 2 PTO + RTO, as before); then that RTO.
   A probe or its ACK lost (at 20% loss each way, one probe in three) otherwise costs an RTO,
   200 ms and a window of one segment where the round trip is microseconds; with two probes
   that was one in nine, with the back-off (five or six probes where the RTO is a hundred PTOs)
   about one in a thousand. Beyond RFC 8985 (one probe per episode, §7.3), as QUIC's probe
   timeout (RFC 9002 §6.2.1: probes with exponential back-off, where the RTO of RFC 6298 is
   gone); each probe is one segment, and the RTO is never later than before. */
static void after_probe(et_conn *c)
{
    et_stack *st = c->st;
    uint64_t pto = et_pto_ns(c);
    if (!c->tlp_backoff) {
        uint64_t second = 2 * pto < c->rto_ns ? 2 * pto : c->rto_ns;
        c->tlp_rto_at_ns = st->now_ns + second + c->rto_ns;
    }
    if (c->tlp_backoff < 16) c->tlp_backoff++;
    uint64_t next = st->now_ns + (pto << c->tlp_backoff);
    if (c->tlp_backoff == 1) {
        /* The second probe, never later than the RTO would have come. */
        if (next > st->now_ns + c->rto_ns) next = st->now_ns + c->rto_ns;
    } else if (next >= c->tlp_rto_at_ns) {
        c->retx_mode = ET_RETX_RTO;
        et_wheel_postpone(&st->wheel, &c->t_retx,
                          c->tlp_rto_at_ns > st->now_ns ? c->tlp_rto_at_ns : st->now_ns);
        return;
    }
    c->retx_mode = ET_RETX_TLP;
    et_wheel_postpone(&st->wheel, &c->t_retx, next);
}

/* §7.3: one segment of new data if the peer's window takes it, otherwise the last one sent
   again; then the RTO (after_probe). */
static void tlp_fire(et_conn *c)
{
    et_stack *st = c->st;
    if (c->tlp_on && !c->in_recovery) {
        /* The second probe of an episode (after_probe): the highest segment not sacked again;
           TLP.end_seq stays that of the first, whose §7.4 outcome is still awaited. */
        if (et_sack_probe(c)) {
            c->tlp_probes++;
            st->stats.tlp_probes++;
        }
        after_probe(c);
        return;
    }
    if (c->in_recovery || c->loss_on) {
        /* A probe in recovery, or after a timeout once the go-back-N has sent everything
           (beyond RFC 8985 §7.2, which probes only outside it; RFC 9002 §6.2's probe timeout
           runs in recovery too): the retransmissions and new data of the recovery went and
           no ACK came back for a PTO, so the last of them were lost, or their ACKs. RACK finds a
           lost retransmission only by the delivery of something sent after it (§6.2), and nothing
           was: without the probe only the RTO repairs it, 200 ms and a window of one segment where
           the path's round trip is microseconds. The probe is RFC 6675's rescue retransmission, the
           highest segment not sacked: its ACK (a SACK block for it, or the cumulative ACK) lets
           RACK mark what went before it lost. The recovery already reduced cwnd for this episode:
           no §7.4 response. */
        if (et_sack_probe(c)) {
            c->tlp_probes++;
            st->stats.tlp_probes++;
        }
        after_probe(c);
        return;
    }
    c->tlp_retrans = false;
    if (!et_output_probe(c)) {
        /* The highest segment sent, from the ring's end: one the peer's window let go only in
           part lies at sr_nxt itself. */
        uint32_t i = c->sr_end;
        while (i != c->sr_una && !seq_lt(et_seg_at(c, i - 1)->seq, c->snd_max)) i--;
        if (i == c->sr_una || !et_resend_seg(c, i - 1)) {
            et_arm_rto(c); /* nothing to probe with, or the buffer is busy: the RTO covers */
            return;
        }
        c->tlp_retrans = true;
    }
    c->tlp_on = true;
    c->tlp_end = c->snd_nxt;
    c->tlp_flight = c->snd_max - c->snd_una;
    c->tlp_probes++;
    st->stats.tlp_probes++;
    after_probe(c);
}

void et_rack_timer(et_conn *c)
{
    if (c->snd_una == c->snd_max) {
        c->retx_mode = ET_RETX_NONE;
        return;
    }
    if (c->retx_mode == ET_RETX_TLP) {
        tlp_fire(c);
        return;
    }
    /* The reordering timer (§6.2 step 5, RACK_detect_loss_and_arm_timer on expiry). */
    c->reo_deadline_ns = 0;
    bool lost = detect(c);
    if (lost && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1) && !c->retries)
        et_sack_enter_recovery(c);
    else
        et_arm_loss_timer(c);
    et_output(c);
}

void et_rack_tlp_ack(et_conn *c, const et_tcp_seg *seg, uint32_t sack_flags, bool una_moved)
{
    /* §7.4, as Linux's tcp_process_tlp_ack. */
    if (!c->tlp_on || seq_lt(seg->ack, c->tlp_end)) return;
    if (!c->tlp_retrans || (sack_flags & ET_SACK_DSACK)) {
        /* A probe of new data needs nothing more (RACK finds what it uncovered); a D-SACK says
           the original and the probe both arrived: no loss. */
        c->tlp_on = false;
    } else if (una_moved) {
        /* SND.UNA reached the probe with no D-SACK: most likely the probe repaired a loss, and
           the congestion response is owed (RFC 8985 §7.4.2; as a recovery that ends at once).
           Linux waits for an ACK beyond TLP.end_seq instead, and meanwhile sends no probe, so
           a loss in the next flight waits for the RTO. Here the episode ends now and the
           response is undone if the probe's D-SACK follows (the original was only late). */
        c->tlp_on = false;
        et_undo_begin(c);
        c->undo_any = true;
        c->undo_retrans = 1;
        c->undo_marker = c->tlp_end - 1; /* the probe's D-SACK ends at TLP.end_seq */
        c->recover = c->tlp_end;         /* the episode lasts until SND.UNA passes it */
        /* FlightSize when the probe went (RFC 5681 eq. 4 at the loss's detection): what is
           outstanding after this ACK (often nothing, the probe was the tail) says nothing of
           the flight the loss was in, and cwnd may have grown unused (cc.c). */
        et_cc_on_sack_loss(&c->cc, c->tlp_flight, c->st->now_ns);
        c->st->stats.tlp_recoveries++;
    } else if (!una_moved && !(sack_flags & ET_SACK_NEW) && !seg->len) {
        /* A pure duplicate at TLP.end_seq: the original and the probe both arrived. */
        c->tlp_on = false;
    }
}

/* ---- undo (RFC 3708, RFC 3522, RFC 4015) ---- */

void et_undo_begin(et_conn *c)
{
    /* An episode within one still open (a timeout during recovery) keeps the first window;
       one that ended without proof gives way to the new one. */
    if (c->undo_on && (c->in_recovery || c->retries > 1)) return;
    c->undo_on = true;
    c->undo_any = false;
    c->undo_ts_ok = false;
    c->undo_cc = c->cc;
    c->undo_marker = c->snd_una;
    c->undo_retrans = 0;
}

static void undo(et_conn *c)
{
    et_stack *st = c->st;
    et_cc_undo(&c->cc, &c->undo_cc);
    c->undo_on = false;
    c->undos++;
    st->stats.spurious_undone++;
    c->rack_reord = true;
    c->loss_on = false;
    if (c->in_recovery) {
        /* Nothing was lost: the marks go, and a later loss may start a new recovery. */
        c->in_recovery = false;
        c->recover = c->snd_una;
        for (uint32_t i = c->sr_una; i != c->sr_end; i++) et_seg_at(c, i)->lost = 0;
        et_rack_recovery_exit(c);
    }
}

void et_undo_dsack(et_conn *c, uint32_t start, uint32_t end)
{
    if (!c->undo_on || !c->undo_any || !seq_gt(end, c->undo_marker)) return;
    uint32_t mss = c->send_mss ? c->send_mss : 1;
    uint32_t segs = (end - start + mss - 1) / mss;
    c->undo_retrans = c->undo_retrans > segs ? c->undo_retrans - segs : 0;
    if (!c->undo_retrans) undo(c);
}

void et_undo_check(et_conn *c, const et_tcp_seg *seg)
{
    if (!c->undo_on) return;
    if (c->undo_ts_ok && seg->opt.has_ts && (int32_t)(seg->opt.tsecr - c->undo_tsval) < 0) {
        undo(c);
        return;
    }
    /* The episode is over once SND.UNA passed its recovery point: what comes later is about
       other data. */
    if (!c->in_recovery && seq_gt(c->snd_una, c->recover)) c->undo_on = false;
}
