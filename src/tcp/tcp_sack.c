/*
 * Selective acknowledgments: the receiver's SACK option (RFC 2018 §4, D-SACK of RFC 2883), and
 * the sender's scoreboard and loss recovery (RFC 6675).
 *
 * The scoreboard lives in the send ring: a segment the peer reports holding whole is marked
 * sacked (et_seg.sacked) and stays in its slot until the cumulative ACK covers it (RFC 2018 §8:
 * the peer may renege). Segments are never split, so a block that covers part of one marks
 * nothing of it. Beside the marks, three sequence numbers: sack_high (the end of the highest
 * sacked segment), lost_mark (IsLost of RFC 6675 §4, true of an unsacked segment that starts
 * below it) and high_rxt (HighRxt). No allocation; every walk is bounded by the segments in
 * flight, and runs only for ACKs that carry SACK blocks or while in recovery.
 *
 * Choices where the RFCs leave room, and why:
 *  - IsLost counts sacked segments above (DupThresh = 3 of them) or more than 2 * SMSS sacked
 *    bytes, as RFC 6675 does with "discontiguous sequences" read as segments (Linux's count).
 *  - A partial ACK in recovery marks the new first segment lost unless it was retransmitted in
 *    this recovery already (RFC 6582's inference): a peer that negotiated SACK but sends no
 *    blocks still recovers as NewReno would, one hole per round trip, not by timeout.
 *  - The rescue retransmission (NextSeg rule 4) needs SACK information: with no block received
 *    there is nothing to say the tail is lost rather than the ACKs late.
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
    *sum += et_csum_add_hdr(0, p, 4 + 8 * n);
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

/* Marks the segments that [start, end) covers whole. Returns how many were newly marked. */
static uint32_t mark(et_conn *c, uint32_t start, uint32_t end)
{
    uint32_t n = 0;
    for (uint32_t i = seg_from(c, start); i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        if (seq_gt(et_seg_end(s), end)) break;
        if (!s->sacked) {
            s->sacked = 1;
            c->n_sacked++;
            n++;
        }
    }
    return n;
}

/* Recomputes sack_high and raises lost_mark (RFC 6675 §4 IsLost): walking down from the highest
   segment sent, the first unsacked one with DupThresh sacked segments, or more than
   (DupThresh - 1) * SMSS sacked bytes, above it is lost, and so is every unsacked one below. */
static void rescan(et_conn *c)
{
    uint32_t cnt = 0, bytes = 0;
    for (uint32_t i = c->sr_end; i != c->sr_una;) {
        et_seg *s = et_seg_at(c, --i);
        if (!seq_lt(s->seq, c->snd_max)) continue;
        if (s->sacked) {
            if (!cnt) c->sack_high = et_seg_end(s);
            cnt++;
            bytes += s->len;
        } else if (cnt >= DUP_THRESH || bytes > (DUP_THRESH - 1) * c->send_mss) {
            if (seq_gt(et_seg_end(s), c->lost_mark)) c->lost_mark = et_seg_end(s);
            return;
        }
    }
}

/* Is block b (of n, in the order received) to be believed? Counts it when not. D-SACK blocks
   (RFC 2883 §4: the first block, below the ACK or inside the second) are counted apart. */
static bool blk_ok(et_conn *c, const et_tcp_seg *seg, uint32_t b)
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
        return false;
    }
    bool ok = sane && seq_ge(k->start, lo);
    for (uint32_t j = 0; ok && j < b; j++) { /* RFC 2018 §3: blocks are disjoint */
        const et_sack_blk *o = &seg->opt.sack[j];
        if (seq_lt(k->start, o->end) && seq_lt(o->start, k->end)) ok = false;
    }
    if (!ok) st->stats.sack_blocks_ignored++;
    return ok;
}

bool et_sack_input(et_conn *c, const et_tcp_seg *s)
{
    if (!c->sack_ok) return false;
    if (s->opt.sack_bad) c->st->stats.sack_blocks_ignored++;
    uint32_t newly = 0;
    for (uint32_t b = 0; b < s->opt.n_sack; b++)
        if (blk_ok(c, s, b)) newly += mark(c, s->opt.sack[b].start, s->opt.sack[b].end);
    if (!newly) return false;
    rescan(c);
    return true;
}

void et_sack_una_moved(et_conn *c)
{
    if (seq_lt(c->lost_mark, c->snd_una)) c->lost_mark = c->snd_una;
    if (seq_lt(c->high_rxt, c->snd_una)) c->high_rxt = c->snd_una;
    if (!c->n_sacked) c->sack_high = c->snd_una;
}

void et_sack_clear(et_conn *c)
{
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) et_seg_at(c, i)->sacked = 0;
    c->n_sacked = 0;
    c->sack_high = c->lost_mark = c->high_rxt = c->snd_una;
}

/* ---- sender: recovery (RFC 6675 §5) ---- */

/* The end of what of segment s was sent: a segment the peer's window split ends at SND.MAX. */
static uint32_t sent_end(const et_conn *c, const et_seg *s)
{
    uint32_t end = et_seg_end(s);
    return seq_gt(end, c->snd_max) ? c->snd_max : end;
}

/* Resends segment idx for recovery; counts it. The bytes sent, 0 if the buffer was busy. */
static uint32_t resend(et_conn *c, uint32_t idx)
{
    uint32_t n = et_resend_seg(c, idx);
    if (n) {
        c->sack_retransmits++;
        c->st->stats.sack_retransmits++;
    }
    return n;
}

void et_sack_enter_recovery(et_conn *c)
{
    et_stack *st = c->st;
    /* Step 4.1-4.2: RecoveryPoint = HighData; ssthresh = cwnd = FlightSize / 2. */
    c->in_recovery = true;
    c->recover = c->snd_max;
    c->high_rxt = c->snd_una;
    c->rescue_done = false;
    et_cc_on_sack_loss(&c->cc, c->snd_nxt - c->snd_una, st->now_ns);
    st->stats.fast_retransmits++;
    st->stats.sack_recoveries++;
    /* Step 4.3: the first segment goes at once, whatever pipe says; it is lost by definition
       (DupThresh duplicates, or IsLost(HighACK + 1)). A sacked one means the peer reneged: the
       timeout takes care of it (RFC 2018 §8). */
    if (c->sr_una != c->sr_end && seq_lt(c->snd_una, c->snd_max)) {
        et_seg *s = et_seg_at(c, c->sr_una);
        if (seq_gt(sent_end(c, s), c->lost_mark)) c->lost_mark = sent_end(c, s);
        if (!s->sacked && resend(c, c->sr_una)) c->high_rxt = sent_end(c, s);
    }
    c->retx_mode = ET_RETX_RTO;
    et_arm_retx_timer(c);
}

void et_sack_partial_ack(et_conn *c)
{
    if (c->sr_una == c->sr_end) return;
    et_seg *s = et_seg_at(c, c->sr_una);
    /* Not the rescue either: it went after the segments this ACK was for. */
    if (c->rescue_done && seq_ge(s->seq, c->rescue_rxt)) return;
    if (!s->sacked && seq_ge(s->seq, c->high_rxt) && seq_gt(sent_end(c, s), c->lost_mark))
        c->lost_mark = sent_end(c, s);
}

/* Bytes of segment s sent and not acknowledged. */
static uint32_t out_bytes(const et_conn *c, const et_seg *s)
{
    uint32_t from = seq_gt(c->snd_una, s->seq) ? c->snd_una : s->seq;
    uint32_t end = et_seg_end(s);
    if (seq_gt(end, c->snd_max)) end = c->snd_max;
    return seq_gt(end, from) ? end - from : 0;
}

/* RFC 6675 §4 SetPipe: an unsacked segment counts once unless lost (the original left the
   network), and once more if retransmitted in this recovery (below HighRxt). */
static uint32_t pipe_of(const et_conn *c)
{
    uint32_t pipe = 0;
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        const et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->snd_max)) break;
        if (s->sacked) continue;
        uint32_t n = out_bytes(c, s);
        if (!seq_lt(s->seq, c->lost_mark)) pipe += n;
        if (seq_lt(s->seq, c->high_rxt)) pipe += n;
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
    /* NextSeg rule 1: the first unsacked segment above HighRxt that IsLost says is lost. */
    for (uint32_t i = seg_from(c, c->high_rxt); i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->lost_mark) || !seq_lt(s->seq, c->snd_max)) break;
        if (s->sacked) continue;
        if (!room_for_one(c, pipe)) break;
        uint32_t n = resend(c, i);
        if (!n) break;
        c->high_rxt = sent_end(c, s);
        pipe += n;
    }
    /* The head after a partial ACK may start below HighRxt's segment boundary: seg_from found
       the segment starting at or after it, which is what rule 1 asks for. */
    return pipe;
}

void et_sack_output_rest(et_conn *c, uint32_t pipe)
{
    /* Rule 3: unsacked, not retransmitted, below the highest sacked octet: probably lost. */
    for (uint32_t i = seg_from(c, c->high_rxt); c->n_sacked && i != c->sr_end; i++) {
        et_seg *s = et_seg_at(c, i);
        if (!seq_lt(s->seq, c->sack_high) || !seq_lt(s->seq, c->snd_max)) break;
        if (s->sacked) continue;
        if (!room_for_one(c, pipe)) return;
        uint32_t n = resend(c, i);
        if (!n) return;
        c->high_rxt = sent_end(c, s);
        pipe += n;
    }
    /* Rule 4: one rescue retransmission per recovery, of the highest unsacked segment not
       retransmitted yet, when nothing else may go (RFC 6675 §4; HighRxt is not moved). */
    if (c->rescue_done || !c->n_sacked || !room_for_one(c, pipe)) return;
    if (c->sr_nxt != c->sr_end && !c->tail_open) return; /* new data is still to go */
    for (uint32_t i = c->sr_end; i != c->sr_una;) {
        et_seg *s = et_seg_at(c, --i);
        if (!seq_lt(s->seq, c->snd_max) || s->sacked) continue;
        if (seq_lt(s->seq, c->high_rxt)) return;
        if (resend(c, i)) {
            c->rescue_done = true;
            c->rescue_rxt = s->seq;
        }
        return;
    }
}
