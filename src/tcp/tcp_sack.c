/*
 * Selective acknowledgments: the receiver's SACK option (RFC 2018 §4, D-SACK of RFC 2883), and
 * the sender's scoreboard and loss recovery (RFC 6675).
 *
 * The scoreboard lives in the send ring, three marks per segment (et_seg): sacked (the peer
 * reports holding it whole; it stays in its slot until the cumulative ACK covers it, RFC 2018
 * §8: the peer may renege), lost (deemed lost and not resent since) and rxt (resent in
 * recovery and not deemed lost since), as Linux's SACKED/LOST/RETRANS bits. Segments are never
 * split, so a block that covers part of one marks nothing of it. What marks a segment lost:
 * RACK's clock (tcp_rack.c) when cfg.rack is on, otherwise IsLost (RFC 6675 §4); in both, the
 * head after three duplicate ACKs (with RACK: that carry no SACK blocks). The pipe (RFC 6675 §4,
 * counted as RFC 8985 and Linux count it) is the unsacked bytes sent that are not marked lost. No
 * allocation; every walk is bounded by the segments in flight, and runs only for ACKs that
 * carry SACK blocks or while in recovery.
 *
 * Choices where the RFCs leave room, and why:
 *  - IsLost counts sacked segments above (DupThresh = 3 of them) or more than 2 * SMSS sacked
 *    bytes, as RFC 6675 does with "discontiguous sequences" read as segments (Linux's count).
 *    It never marks a segment carrying rxt (RFC 6675's HighRxt: each hole is resent once per
 *    recovery on SACK evidence; a lost retransmission is RACK's or the RTO's to find).
 *  - Without RACK, a partial ACK in recovery marks the new first segment lost unless it was
 *    retransmitted already (RFC 6582's inference): a peer that negotiated SACK but sends no
 *    blocks still recovers as NewReno would, one hole per round trip, not by timeout.
 *  - The rescue retransmission (NextSeg rule 4) needs SACK information: with no block received
 *    there is nothing to say the tail is lost rather than the ACKs late. With RACK on, rules 3
 *    and 4 are not used: RACK's clock finds those losses, and the tail loss probe the tail's.
 *  - A timeout clears every mark (RFC 2018 §8 "SHOULD turn off all of the SACKed bits"); the
 *    marks that the peer then sends again let the go-back-N resend skip what it holds.
 */
#include <arpa/inet.h>

#include "net/checksum.h"
#include "tcp/stack.h"

#define DUP_THRESH 3 /* RFC 6675 §2 DupThresh */

/* ---- receiver ---- */

void et_sack_note_dup(et_conn *c, uint32_t start, uint32_t end)
{
    if (!c->sack_ok || !seq_lt(start, end)) return;
    /* RFC 2883 §4: one duplicate per ACK; the latest is what the sender wants to know about. */
    c->dsack_start = start;
    c->dsack_end = end;
    c->dsack_pending = true;
}

static void put_blk(uint8_t *p, uint32_t start, uint32_t end)
{
    uint32_t s = htonl(start), e = htonl(end);
    memcpy(p, &s, 4);
    memcpy(p + 4, &e, 4);
}

uint32_t et_sack_opt(et_conn *c, uint8_t *p, uint32_t room, uint64_t *sum)
{
    if (room < 4 + 8) return 0;
    uint32_t max = (room - 4) / 8, n = 0;
    if (max > ET_MAX_SACK_BLOCKS) max = ET_MAX_SACK_BLOCKS;
    if (c->dsack_pending) {
        /* RFC 2883 §4: the duplicate first; reported once. */
        put_blk(p + 4, c->dsack_start, c->dsack_end);
        n = 1;
        c->dsack_pending = false;
        c->st->stats.dsack_sent++;
    }
    /* RFC 2018 §4: the island that changed last first, then the others by recency, so that a
       block lost with one ACK is repeated by the next ones. Islands are few: a selection. */
    uint32_t below = UINT32_MAX; /* stamps already taken are >= below */
    for (; n < max; n++) {
        int best = -1;
        for (uint32_t i = 0; i < c->n_ooo; i++)
            if (c->ooo[i].stamp < below && (best < 0 || c->ooo[i].stamp > c->ooo[best].stamp))
                best = (int)i;
        if (best < 0) break;
        below = c->ooo[best].stamp;
        put_blk(p + 4 + 8 * n, c->ooo[best].start, c->ooo[best].end);
    }
    if (!n) return 0;
    p[0] = ET_TCPOPT_NOP;
    p[1] = ET_TCPOPT_NOP;
    p[2] = ET_TCPOPT_SACK;
    p[3] = (uint8_t)(2 + 8 * n);
    /* Folded: the header code adds sums with plain additions, which a 64-bit accumulator of
       arbitrary option bytes (sequence numbers near 2^32) could carry out of. */
    *sum += et_csum_fold(et_csum_add_hdr(0, p, 4 + 8 * n));
    return 4 + 8 * n;
}

/* ---- sender: the scoreboard ---- */

/* The first ring index in [sr_una, sr_end) whose segment starts at or after seq (sr_end if
   none): segments are in sequence order. */
static uint32_t seg_from(const et_conn *c, uint32_t seq)
{
    uint32_t lo = c->sr_una, hi = c->sr_end;
    while (lo != hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seq_lt(et_seg_at(c, mid)->seq, seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Marks the segments that [start, end) covers whole; each one newly marked was delivered
   (RACK). Returns how many; *first_sent: the earliest send time of those sent only once, and
   since the last timeout (0 if none): a timeout clears the marks, and what the peer reports
   again was sent before it. */
static uint32_t mark(et_conn *c, uint32_t start, uint32_t end, const et_tcp_seg *seg,
                     uint64_t *first_sent)
{
    uint32_t n = 0;
    for (uint32_t i = seg_from(c, start); i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        if (seq_gt(et_seg_end(s), end)) break;
        if (!s->sacked) {
            s->sacked = 1;
            s->lost = s->rxt = 0;
            c->n_sacked++;
            n++;
            if (!s->retx && s->sent_ns > c->rto_at_ns && (!*first_sent || s->sent_ns < *first_sent))
                *first_sent = s->sent_ns;
            if (c->rack_ok) et_rack_delivered(c, s, seg, c->rack_fack_ack);
        }
    }
    return n;
}

/* Recomputes sack_high and, without RACK, marks losses by IsLost (RFC 6675 §4): walking down
   from the highest segment sent, the first unsacked one with DupThresh sacked segments, or
   more than (DupThresh - 1) * SMSS sacked bytes, above it is lost, and so is every unsacked
   one below (those resent in this recovery excepted: rxt). The walk starts below the first
   segment never sent: queued ones (up to send_slots of them) are not walked on every ACK. */
static void rescan(et_conn *c)
{
    uint32_t cnt = 0, bytes = 0;
    bool lost = false;
    for (uint32_t i = seg_from(c, c->snd_max); i != c->sr_una;) {
        et_seg *s = et_seg_at(c, --i);
        if (s->sacked) {
            if (!cnt) c->sack_high = et_seg_end(s);
            cnt++;
            bytes += s->len;
            continue;
        }
        if (c->rack_ok) {
            if (cnt) return; /* sack_high is known: RACK marks the losses */
            continue;
        }
        if (cnt >= DUP_THRESH || bytes > (DUP_THRESH - 1) * c->send_mss) lost = true;
        /* Not beyond SND.NXT: after a timeout the go-back-N sends those anyway. */
        if (lost && !s->rxt && seq_lt(s->seq, c->snd_nxt)) s->lost = 1;
    }
}

/* Is block b (of n, in the order received) to be believed? Counts it when not. D-SACK blocks
   (RFC 2883 §4: the first block, below the ACK or inside the second) are counted apart and
   reported in *dsack. */
static bool blk_ok(et_conn *c, const et_tcp_seg *seg, uint32_t b, uint32_t *dsack)
{
    et_stack *st = c->st;
    const et_sack_blk *k = &seg->opt.sack[b];
    uint32_t lo = seq_gt(seg->ack, c->snd_una) ? seg->ack : c->snd_una;
    bool sane = seq_lt(k->start, k->end) && seq_le(k->end, c->snd_max) &&
                k->end - k->start <= c->snd_max - (c->snd_una - c->max_snd_wnd);
    if (b == 0 && sane &&
        (seq_le(k->end, seg->ack) ||
         (seg->opt.n_sack > 1 && seq_ge(k->start, seg->opt.sack[1].start) &&
          seq_le(k->end, seg->opt.sack[1].end)))) {
        st->stats.dsack_received++;
        *dsack |= ET_SACK_DSACK;
        et_undo_dsack(c, k->start, k->end);
        return false;
    }
    bool ok = sane && seq_ge(k->start, lo);
    /* RFC 2018 §3: blocks are disjoint; a D-SACK first block is not one of them (RFC 2883 §4:
       it lies inside the second block when the duplicate was above SND.UNA). Compared with
       it, the second block was rejected as overlapping, and the segments it reported stayed
       unsacked: the probes then resent, again and again, a segment the peer held (each one
       D-SACKed and nothing learnt) while the lost one below waited for the RTO. */
    for (uint32_t j = (*dsack & ET_SACK_DSACK) ? 1 : 0; ok && j < b; j++) {
        const et_sack_blk *o = &seg->opt.sack[j];
        if (seq_lt(k->start, o->end) && seq_lt(o->start, k->end)) ok = false;
    }
    if (!ok) st->stats.sack_blocks_ignored++;
    return ok;
}

uint32_t et_sack_input(et_conn *c, const et_tcp_seg *s)
{
    if (!c->sack_ok) return 0;
    if (s->opt.sack_bad) c->st->stats.sack_blocks_ignored++;
    uint32_t newly = 0, flags = 0;
    uint64_t first_sent = 0;
    for (uint32_t b = 0; b < s->opt.n_sack; b++)
        if (blk_ok(c, s, b, &flags))
            newly += mark(c, s->opt.sack[b].start, s->opt.sack[b].end, s, &first_sent);
    if (!newly) return flags;
    /* An RTT sample from a segment sent once and newly sacked, the oldest of them (an
       overestimate rather than an underestimate, as Linux's SACK RTT), when the ACK gives no
       other: it leaves SND.UNA where it was, and without timestamps nothing else is measured
       while segments are lost or reordered. Such periods are when the RTO backs off, and the
       back-off stays until a sample (rto_fire); Karn's algorithm (RFC 6298 §3) holds, since
       only segments never retransmitted count. */
    uint64_t now = c->st->now_ns;
    if (first_sent && !c->ts_ok && !seq_gt(s->ack, c->snd_una))
        et_rtt_sample(c, now > first_sent ? now - first_sent : 0);
    rescan(c);
    return flags | ET_SACK_NEW;
}

void et_sack_una_moved(et_conn *c)
{
    if (!c->n_sacked || seq_lt(c->sack_high, c->snd_una)) c->sack_high = c->snd_una;
}

void et_sack_clear(et_conn *c)
{
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        s->sacked = s->lost = s->rxt = 0;
    }
    c->n_sacked = 0;
    c->sack_high = c->snd_una;
}

/* ---- sender: recovery (RFC 6675 §5) ---- */

/* Resends segment idx for recovery; counts it. The bytes sent, 0 if the buffer was busy. */
static uint32_t resend(et_conn *c, uint32_t idx)
{
    uint32_t n = et_resend_seg(c, idx);
    if (n) {
        et_seg *s = et_seg_at(c, idx);
        s->lost = 0;
        s->rxt = 1;
        c->sack_retransmits++;
        c->st->stats.sack_retransmits++;
    }
    return n;
}

/* The first segment marked lost, from ring index i on (sr_end if none). Below SND.NXT, which
   is SND.MAX but after a timeout (loss_on), when the segments from SND.NXT on are the
   go-back-N's to send, in order. */
static uint32_t next_lost(const et_conn *c, uint32_t i)
{
    for (; i != c->sr_end; i++) {
        const et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->snd_nxt)) return c->sr_end;
        if (s->lost) return i;
    }
    return i;
}

void et_sack_enter_recovery(et_conn *c)
{
    et_stack *st = c->st;
    /* Step 4.1-4.2: RecoveryPoint = HighData; ssthresh = cwnd = FlightSize / 2. */
    et_undo_begin(c);
    c->in_recovery = true;
    c->loss_on = false;
    /* This recovery responds for a probe's loss too (one response per event, RFC 8985 §7.4):
       the probe's episode ends here, as Linux's tcp_init_cwnd_reduction ends it. */
    c->tlp_on = false;
    c->recover = c->snd_max;
    c->rescue_done = false;
    et_cc_on_sack_loss(&c->cc, c->snd_nxt - c->snd_una, st->now_ns);
    st->stats.fast_retransmits++;
    st->stats.sack_recoveries++;
    /* Step 4.3: the first lost segment goes at once, whatever pipe says. Entered on DupThresh
       duplicates or IsLost(HighACK + 1), that is the head (lost by definition, unless resent
       already); entered by RACK, the first it marked. A sacked head means the peer reneged:
       the timeout takes care of it (RFC 2018 §8). */
    if (c->sr_una != c->sr_end && seq_lt(c->snd_una, c->snd_max)) {
        et_seg *s = et_seg_at(c, c->sr_una);
        if (!c->rack_ok && !s->rxt) et_sack_mark_lost(s);
        uint32_t i = next_lost(c, c->sr_una);
        if (i != c->sr_end) resend(c, i);
    }
    et_arm_loss_timer(c);
}

void et_sack_dupthresh(et_conn *c)
{
    /* Three duplicate ACKs (with RACK: without blocks): the head is lost whatever RACK says (a peer
       whose blocks do not reach us still recovers in a round trip). */
    if (c->sr_una != c->sr_end) {
        et_seg *s = et_seg_at(c, c->sr_una);
        if (!s->rxt) et_sack_mark_lost(s);
    }
    et_sack_enter_recovery(c);
}

void et_sack_partial_ack(et_conn *c)
{
    if (c->sr_una == c->sr_end || c->rack_ok) return;
    et_seg *s = et_seg_at(c, c->sr_una);
    /* Not one resent in this recovery (the rescue included): it went after the segments this
       ACK was for. */
    if (!s->sacked && !s->rxt && seq_lt(s->seq, c->snd_max)) s->lost = 1;
}

/* RFC 6675 §4 SetPipe, as RFC 8985 and Linux count it: every unsacked byte sent that is not
   marked lost is in the network (a resent one once: the original is presumed gone). Below
   SND.NXT: after a timeout what lies beyond it is presumed lost (Linux's tcp_enter_loss marks
   it so) and waits for the go-back-N. */
static uint32_t pipe_of(const et_conn *c)
{
    uint32_t pipe = 0;
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        const et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->snd_nxt)) break;
        if (s->sacked || s->lost) continue;
        uint32_t from = seq_gt(c->snd_una, s->seq) ? c->snd_una : s->seq, end = et_seg_end(s);
        if (seq_gt(end, c->snd_nxt)) end = c->snd_nxt; /* sent only in part so far */
        if (seq_gt(end, from)) pipe += end - from;
    }
    return pipe;
}

/* cwnd - pipe >= 1 SMSS (RFC 6675 §5 step C.3). */
static bool room_for_one(const et_conn *c, uint32_t pipe)
{
    return c->cc.cwnd >= pipe && c->cc.cwnd - pipe >= c->send_mss;
}

uint32_t et_sack_output_lost(et_conn *c)
{
    uint32_t pipe = pipe_of(c);
    /* NextSeg rule 1: segments marked lost, lowest first. */
    for (uint32_t i = next_lost(c, c->sr_una); i != c->sr_end; i = next_lost(c, i + 1)) {
        if (!room_for_one(c, pipe)) break;
        uint32_t n = resend(c, i);
        if (!n) break;
        pipe += n;
    }
    return pipe;
}

void et_sack_output_rest(et_conn *c, uint32_t pipe)
{
    if (c->rack_ok) return; /* RACK's clock and the tail loss probe do rules 3 and 4's work */
    /* Rule 3: unsacked, not resent, below the highest sacked octet: probably lost. */
    for (uint32_t i = c->sr_una; c->n_sacked && i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->sack_high) || !seq_lt(s->seq, c->snd_max)) break;
        if (s->sacked || s->rxt) continue;
        if (!room_for_one(c, pipe)) return;
        uint32_t n = resend(c, i);
        if (!n) return;
        pipe += n;
    }
    /* Rule 4: one rescue retransmission per recovery, of the highest unsacked segment not
       resent yet, when nothing else may go (RFC 6675 §4). */
    if (c->rescue_done || !c->n_sacked || !room_for_one(c, pipe)) return;
    if (c->sr_nxt != c->sr_end && !c->tail_open) return; /* new data is still to go */
    for (uint32_t i = c->sr_end; i != c->sr_una;) {
        et_seg *s = et_seg_at(c, --i);
        if (!seq_lt(s->seq, c->snd_max) || s->sacked) continue;
        if (s->rxt) return;
        if (resend(c, i)) c->rescue_done = true;
        return;
    }
}

uint32_t et_sack_probe(et_conn *c)
{
    for (uint32_t i = c->sr_end; i != c->sr_una;) {
        et_seg *s = et_seg_at(c, --i);
        if (!seq_lt(s->seq, c->snd_max) || s->sacked) continue;
        return resend(c, i);
    }
    return 0;
}
