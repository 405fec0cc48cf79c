/*
 * Engine invariants (see check.h). Each check names the rule it enforces; the reasons the rules
 * hold are in the code that maintains them (src/tcp/tcp_out.c, tcp_in.c, tcp_timers.c,
 * tcp_rcvbuf.c).
 */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct ck {
    char *buf;
    size_t cap;
} ck;

/* Records a failure: msg is the constant name, the rest details it when a buffer was given. */
static const char *fail(ck *k, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *fail(ck *k, const char *msg, const char *fmt, ...)
{
    if (!k->buf || !k->cap) return msg;
    int n = snprintf(k->buf, k->cap, "%s: ", msg);
    if (n >= 0 && (size_t)n < k->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->buf + n, k->cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return k->buf;
}

#define FAIL(msg, ...) return fail(k, msg, __VA_ARGS__)
#define CONN_FMT       "conn %u (%s) "
#define CONN_ARGS(c)   (c)->id, efvitcp_state_name((efvitcp_state)(c)->state)

static bool in_deferred_list(const et_stack *st, const et_conn *c)
{
    uint32_t n = 0;
    for (const et_conn *d = st->deferred; d && n <= st->cfg.max_conns; d = d->next_deferred, n++)
        if (d == c) return true;
    return false;
}

static uint32_t armed_timers(const et_stack *st, const et_conn *c)
{
    uint32_t n = c->t_retx.armed + c->t_delack.armed + c->t_keepalive.armed;
    for (uint32_t i = 0; i < st->cfg.user_timers; i++) n += c->t_user[i].armed;
    return n;
}

/* The send side: SND.UNA <= SND.NXT <= SND.MAX <= end of queue, ring order, segments. */
/* The count of free slots whose buffer the link still reads is an upper bound: send() trusts
   every free slot to be writable while it is 0. */
static const char *check_lingering(const et_stack *st, const et_conn *c, ck *k)
{
    uint32_t slots = st->cfg.send_slots, used = c->sr_end - c->sr_una, n = 0;
    for (uint32_t i = used; i < slots; i++) n += st->tx_busy[et_seg_buf_id(c, c->sr_una + i)];
    if (n > c->n_lingering)
        FAIL("lingering slot count too low", CONN_FMT "counted %u, %u free slots busy",
             CONN_ARGS(c), c->n_lingering, n);
    return NULL;
}

static const char *check_send(const et_stack *st, const et_conn *c, ck *k)
{
    uint32_t slots = st->cfg.send_slots;
    if (!seq_le(c->snd_una, c->snd_nxt) || !seq_le(c->snd_nxt, c->snd_max) ||
        !seq_le(c->snd_max, c->queued_end))
        FAIL("SND.UNA <= SND.NXT <= SND.MAX <= queued_end broken",
             CONN_FMT "una %u nxt %u max %u queued_end %u", CONN_ARGS(c), c->snd_una, c->snd_nxt,
             c->snd_max, c->queued_end);
    uint32_t sent = c->sr_nxt - c->sr_una, used = c->sr_end - c->sr_una;
    if (sent > used || used > slots)
        FAIL("send ring indices out of order", CONN_FMT "sr_una %u sr_nxt %u sr_end %u slots %u",
             CONN_ARGS(c), c->sr_una, c->sr_nxt, c->sr_end, slots);
    const char *e = check_lingering(st, c, k);
    if (e) return e;
    if (used == 0) {
        if (c->snd_una != c->queued_end || c->snd_nxt != c->snd_una)
            FAIL("empty send ring but sequence space outstanding",
                 CONN_FMT "una %u nxt %u queued_end %u", CONN_ARGS(c), c->snd_una, c->snd_nxt,
                 c->queued_end);
        if (c->tail_open) FAIL("open tail segment in an empty ring", CONN_FMT, CONN_ARGS(c));
        return NULL;
    }
    uint32_t optlen = et_conn_optlen(c);
    const et_seg *first = et_seg_at(c, c->sr_una);
    if (!seq_le(first->seq, c->snd_una) || !seq_lt(c->snd_una, et_seg_end(first)))
        FAIL("SND.UNA outside the oldest queued segment", CONN_FMT "una %u segment [%u, %u) idx %u",
             CONN_ARGS(c), c->snd_una, first->seq, et_seg_end(first), c->sr_una);
    uint32_t expect = first->seq;
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        const et_seg *s = et_seg_at(c, i);
        if (s->seq != expect)
            FAIL("queued segments not contiguous", CONN_FMT "idx %u seq %u expected %u",
                 CONN_ARGS(c), i, s->seq, expect);
        /* a SYN is never built with options other than on the wire; data must fit the slot */
        if (!(s->ctl & ET_TCP_SYN) && s->len + optlen > st->slot_payload)
            FAIL("segment overflows its send slot", CONN_FMT "idx %u len %u optlen %u room %u",
                 CONN_ARGS(c), i, s->len, optlen, st->slot_payload);
        if ((s->ctl & ET_TCP_SYN) && (s->seq != c->iss || s->len))
            FAIL("SYN segment is not the first, empty one", CONN_FMT "idx %u seq %u iss %u",
                 CONN_ARGS(c), i, s->seq, c->iss);
        if ((s->ctl & ET_TCP_FIN) && (i + 1 != c->sr_end || !c->fin_queued))
            FAIL("FIN not on the last queued segment", CONN_FMT "idx %u sr_end %u fin_queued %d",
                 CONN_ARGS(c), i, c->sr_end, c->fin_queued);
        if (s->len == 0 && !(s->ctl & (ET_TCP_SYN | ET_TCP_FIN)) &&
            !(c->tail_open && i + 1 == c->sr_end))
            FAIL("empty segment queued", CONN_FMT "idx %u", CONN_ARGS(c), i);
        bool was_sent = (int32_t)(i - c->sr_nxt) < 0;
        if (was_sent && !s->sent_ns)
            FAIL("segment before SND.NXT never sent", CONN_FMT "idx %u sr_nxt %u", CONN_ARGS(c), i,
                 c->sr_nxt);
        expect = et_seg_end(s);
    }
    if (expect != c->queued_end)
        FAIL("queued_end does not match the segments", CONN_FMT "segments end %u queued_end %u",
             CONN_ARGS(c), expect, c->queued_end);
    /* SND.NXT lies in segment sr_nxt (a transmission may stop inside a segment: a small peer
       window, a partial ACK), or at the end of the queue once everything was sent. */
    (void)sent;
    if (c->sr_nxt == c->sr_end) {
        if (c->snd_nxt != c->queued_end)
            FAIL("everything sent but SND.NXT is not the end of the queue",
                 CONN_FMT "nxt %u queued_end %u", CONN_ARGS(c), c->snd_nxt, c->queued_end);
    } else {
        const et_seg *n = et_seg_at(c, c->sr_nxt);
        if (seq_lt(c->snd_nxt, n->seq) || !seq_lt(c->snd_nxt, et_seg_end(n)))
            FAIL("SND.NXT is not inside the next segment to send",
                 CONN_FMT "nxt %u idx %u seq %u end %u", CONN_ARGS(c), c->snd_nxt, c->sr_nxt,
                 n->seq, et_seg_end(n));
    }
    if (c->tail_open) {
        const et_seg *t = et_seg_at(c, c->sr_end - 1);
        if (t->ctl & ET_TCP_FIN) FAIL("open tail segment carries the FIN", CONN_FMT, CONN_ARGS(c));
        /* send() fills an open tail up to seg_cap: at or above it, room would wrap. */
        if (t->len >= c->seg_cap)
            FAIL("open tail segment holds the segment capacity or more",
                 CONN_FMT "len %u seg_cap %u", CONN_ARGS(c), t->len, c->seg_cap);
        if (t->sent_ns)
            FAIL("open tail segment was already sent (its buffer may be on the link)",
                 CONN_FMT "idx %u", CONN_ARGS(c), c->sr_end - 1);
    }
    return NULL;
}

/* The SACK scoreboard (tcp_sack.c): marks only where the peer can hold data, counted right, a
   segment lost or resent only if sent and not sacked, sack_high between SND.UNA and SND.MAX,
   and RACK-TLP state only with SACK (RFC 8985 §2). */
static const char *check_sack(const et_conn *c, ck *k)
{
    if (!c->sack_ok && (c->n_sacked || c->dsack_pending))
        FAIL("SACK state without SACK", CONN_FMT "n_sacked %u", CONN_ARGS(c), c->n_sacked);
    uint32_t n = 0;
    for (uint32_t i = c->sr_una; i != c->sr_end; i++) {
        const et_seg *s = et_seg_at(c, i);
        if ((s->lost || s->rxt) && (s->sacked || !seq_lt(s->seq, c->snd_max)))
            FAIL("lost or resent mark on a sacked or unsent segment",
                 CONN_FMT "idx %u seq %u lost %u rxt %u sacked %u", CONN_ARGS(c), i, s->seq,
                 s->lost, s->rxt, s->sacked);
        if (!s->sacked) continue;
        n++;
        /* The head may be acknowledged in part and keep its mark, as Linux's tcp_trim_head:
           a cumulative ACK inside a segment sacked whole (a peer's odd ACK or a forged one;
           fuzz: regress/pair/ack-inside-sacked-head) changes nothing the mark says of the rest. */
        bool below =
            i == c->sr_una ? !seq_gt(et_seg_end(s), c->snd_una) : seq_lt(s->seq, c->snd_una);
        /* Sacked means holding sequence space: data or our FIN (a block may cover it: fuzz,
           regress/conn/sacked-fin-only-segment); never the SYN, which nothing precedes. */
        bool empty = s->len == 0 && !(s->ctl & ET_TCP_FIN);
        if (seq_gt(et_seg_end(s), c->snd_max) || below || empty)
            FAIL("sacked segment outside what was sent", CONN_FMT "idx %u seq %u end %u",
                 CONN_ARGS(c), i, s->seq, et_seg_end(s));
    }
    if (n != c->n_sacked)
        FAIL("n_sacked does not count the marks", CONN_FMT "marks %u n_sacked %u", CONN_ARGS(c), n,
             c->n_sacked);
    if (c->rack_ok && !c->sack_ok) FAIL("RACK without SACK", CONN_FMT, CONN_ARGS(c));
    if (!c->sack_ok) return NULL;
    uint32_t una = c->snd_una, max = c->snd_max;
    if (n && (seq_le(c->sack_high, una) || seq_gt(c->sack_high, max)))
        FAIL("SACK sequence numbers outside [SND.UNA, SND.MAX]", CONN_FMT "sack_high %u",
             CONN_ARGS(c), c->sack_high);
    return NULL;
}

/* FIN flags against the state (RFC 9293 §3.3.2). */
static const char *check_fin(const et_conn *c, ck *k)
{
    uint8_t s = c->state;
    if (c->fin_pending && !c->fin_queued)
        FAIL("fin_pending without fin_queued", CONN_FMT, CONN_ARGS(c));
    bool our_fin_state = s == EFVITCP_FIN_WAIT_1 || s == EFVITCP_FIN_WAIT_2 ||
                         s == EFVITCP_CLOSING || s == EFVITCP_LAST_ACK;
    if (c->fin_queued != our_fin_state)
        FAIL("fin_queued does not match the state", CONN_FMT "fin_queued %d", CONN_ARGS(c),
             c->fin_queued);
    bool their_fin_state = s == EFVITCP_CLOSE_WAIT || s == EFVITCP_CLOSING || s == EFVITCP_LAST_ACK;
    if (c->ooo_fin && !c->fin_rcvd && !seq_gt(c->ooo_fin_seq, c->rcv_nxt))
        FAIL("remembered FIN reached but not taken", CONN_FMT "fin seq %u rcv_nxt %u", CONN_ARGS(c),
             c->ooo_fin_seq, c->rcv_nxt);
    if (c->fin_rcvd != their_fin_state)
        FAIL("fin_rcvd does not match the state", CONN_FMT "fin_rcvd %d", CONN_ARGS(c),
             c->fin_rcvd);
    if (c->fin_queued && !c->fin_pending && c->sr_end != c->sr_una &&
        !(et_seg_at(c, c->sr_end - 1)->ctl & ET_TCP_FIN))
        FAIL("FIN queued but not on the last segment", CONN_FMT, CONN_ARGS(c));
    if (s == EFVITCP_FIN_WAIT_2 && (c->fin_pending || c->snd_una != c->queued_end))
        FAIL("FIN-WAIT-2 before our FIN was acknowledged", CONN_FMT "una %u queued_end %u",
             CONN_ARGS(c), c->snd_una, c->queued_end);
    return NULL;
}

/* The receive buffer: [head, tail) in order, islands sorted, disjoint, inside the buffer. */
static const char *check_recv(const et_stack *st, const et_conn *c, ck *k)
{
    uint32_t size = st->cfg.recv_buf_size;
    if (c->rb_head > c->rb_tail || c->rb_tail > size)
        FAIL("receive buffer offsets out of order", CONN_FMT "head %u tail %u size %u",
             CONN_ARGS(c), c->rb_head, c->rb_tail, size);
    if (c->n_ooo > st->cfg.ooo_ranges)
        FAIL("more islands than ooo_ranges", CONN_FMT "n_ooo %u", CONN_ARGS(c), c->n_ooo);
    /* ack_full is derived state kept for the hot path: it must follow the MSS and options. */
    uint32_t full = c->rcv_mss - (c->ts_ok ? ET_TS_OPTLEN : 0);
    if (c->send_mss && c->send_mss < full) full = c->send_mss;
    if (c->ack_full != full)
        FAIL("ack_full out of date", CONN_FMT "ack_full %u, rcv_mss %u send_mss %u ts_ok %d",
             CONN_ARGS(c), c->ack_full, c->rcv_mss, c->send_mss, c->ts_ok);
    uint32_t prev_end = c->rcv_nxt;
    for (uint32_t i = 0; i < c->n_ooo; i++) {
        const et_ooo *o = &c->ooo[i];
        if (!seq_lt(o->start, o->end))
            FAIL("empty or inverted island", CONN_FMT "island %u [%u, %u)", CONN_ARGS(c), i,
                 o->start, o->end);
        if (!seq_gt(o->start, prev_end))
            FAIL("islands not sorted, disjoint and beyond RCV.NXT",
                 CONN_FMT "island %u [%u, %u) after %u (rcv_nxt %u)", CONN_ARGS(c), i, o->start,
                 o->end, prev_end, c->rcv_nxt);
        prev_end = o->end;
    }
    if (c->n_ooo) {
        uint64_t end_off = (uint64_t)c->rb_tail + (uint32_t)(prev_end - c->rcv_nxt);
        if (end_off > size)
            FAIL("island beyond the receive buffer", CONN_FMT "tail %u last end %u rcv_nxt %u",
                 CONN_ARGS(c), c->rb_tail, prev_end, c->rcv_nxt);
        if (!seq_le(prev_end, c->rcv_adv))
            FAIL("island beyond the advertised window", CONN_FMT "last end %u rcv_adv %u",
                 CONN_ARGS(c), prev_end, c->rcv_adv);
        if (c->fin_rcvd) FAIL("islands kept after the peer's FIN", CONN_FMT, CONN_ARGS(c));
    }
    /* The peer's FIN may take the octet just past a full window (it needs no buffer). */
    if (et_conn_synced(c) && !seq_le(c->rcv_nxt, c->rcv_adv + (c->fin_rcvd ? 1 : 0)))
        FAIL("RCV.NXT beyond the advertised window", CONN_FMT "rcv_nxt %u rcv_adv %u", CONN_ARGS(c),
             c->rcv_nxt, c->rcv_adv);
    if (!seq_le(c->last_ack_sent, c->rcv_nxt) && et_conn_synced(c))
        FAIL("acknowledged beyond RCV.NXT", CONN_FMT "last_ack_sent %u rcv_nxt %u", CONN_ARGS(c),
             c->last_ack_sent, c->rcv_nxt);
    return NULL;
}

/* Timers armed exactly when needed. */
static const char *check_timers(const et_stack *st, const et_conn *c, ck *k)
{
    bool outstanding = c->snd_una != c->snd_nxt;
    bool deferred = in_deferred_list(st, c);
    if (c->in_deferred != deferred)
        FAIL("in_deferred flag does not match the deferred list", CONN_FMT "flag %d listed %d",
             CONN_ARGS(c), c->in_deferred, deferred);
    switch (c->retx_mode) {
    case ET_RETX_NONE:
        break; /* the timer may still be armed: it fires as a no-op (ack_new_data) */
    case ET_RETX_RTO:
    case ET_RETX_PERSIST:
    case ET_RETX_ARP:
    case ET_RETX_REO:
    case ET_RETX_TLP:
        if ((c->retx_mode == ET_RETX_REO || c->retx_mode == ET_RETX_TLP) && !c->rack_ok)
            FAIL("RACK timer mode without RACK", CONN_FMT "mode %u", CONN_ARGS(c), c->retx_mode);
        if (!c->t_retx.armed)
            FAIL("retransmission timer not armed in its mode", CONN_FMT "mode %u", CONN_ARGS(c),
                 c->retx_mode);
        break;
    case ET_RETX_CORK: /* the bound of a corked tail (ET_CORK_NS), with nothing in flight */
        if (!c->t_retx.armed || outstanding)
            FAIL("cork timer not armed or with data in flight", CONN_FMT "armed %d outstanding %d",
                 CONN_ARGS(c), c->t_retx.armed, outstanding);
        break;
    case ET_RETX_FIN_WAIT2: /* the silent peer's timeout, in FIN-WAIT-2 only */
        if (!c->t_retx.armed || c->state != EFVITCP_FIN_WAIT_2 || outstanding)
            FAIL("FIN-WAIT-2 timeout outside FIN-WAIT-2 or not armed",
                 CONN_FMT "armed %d outstanding %d", CONN_ARGS(c), c->t_retx.armed, outstanding);
        break;
    default:
        FAIL("bad retransmission mode", CONN_FMT "mode %u", CONN_ARGS(c), c->retx_mode);
    }
    if ((c->retx_mode == ET_RETX_ARP) != (c->state == EFVITCP_WAIT_ARP))
        FAIL("ARP timer mode outside WAIT_ARP", CONN_FMT "mode %u", CONN_ARGS(c), c->retx_mode);
    bool loss_timer =
        c->retx_mode == ET_RETX_RTO || c->retx_mode == ET_RETX_REO || c->retx_mode == ET_RETX_TLP;
    if (outstanding && !loss_timer)
        FAIL("data outstanding without a retransmission timer",
             CONN_FMT "mode %u sr_una %u sr_nxt %u", CONN_ARGS(c), c->retx_mode, c->sr_una,
             c->sr_nxt);
    if (c->retx_mode == ET_RETX_PERSIST && outstanding)
        FAIL("persist timer while data is outstanding", CONN_FMT, CONN_ARGS(c));
    if (loss_timer && !outstanding && !deferred)
        FAIL("retransmission timer with nothing outstanding", CONN_FMT "sr_una %u sr_end %u",
             CONN_ARGS(c), c->sr_una, c->sr_end);
    /* Queued, unsent and not corked: it leaves when the window opens (persist), or the
       connection waits for a TX buffer (deferred). Anything else is a stall. */
    bool unsent = c->sr_nxt != c->sr_end && !(c->tail_open && c->sr_nxt + 1 == c->sr_end);
    if (et_conn_synced(c) && unsent && !outstanding && c->retx_mode != ET_RETX_PERSIST && !deferred)
        FAIL("queued data with nothing in flight, no persist timer and not deferred",
             CONN_FMT "sr_nxt %u sr_end %u snd_wnd %u cwnd %u", CONN_ARGS(c), c->sr_nxt, c->sr_end,
             c->snd_wnd, c->cc.cwnd);
    /* Corked with nothing in flight: no ACK will uncork it, the cork bound must. */
    bool corked = c->tail_open && c->sr_nxt + 1 == c->sr_end;
    if (et_conn_synced(c) && corked && !outstanding && c->snd_nxt == c->snd_max &&
        c->retx_mode != ET_RETX_CORK && c->retx_mode != ET_RETX_PERSIST && !deferred)
        FAIL("corked tail with nothing in flight and no cork timer",
             CONN_FMT "mode %u sr_nxt %u sr_end %u", CONN_ARGS(c), c->retx_mode, c->sr_nxt,
             c->sr_end);
    if (c->fin_pending && !deferred && c->sr_end - c->sr_una < st->cfg.send_slots && !outstanding)
        FAIL("FIN waits for a free slot but nothing will free one", CONN_FMT, CONN_ARGS(c));
    bool ack_owed = et_conn_synced(c) && c->rcv_nxt != c->last_ack_sent;
    if (ack_owed && !(c->t_delack.armed && c->delack_owed) && !(deferred && c->ack_now))
        FAIL("ACK owed without a delayed-ACK timer", CONN_FMT "rcv_nxt %u last_ack_sent %u",
             CONN_ARGS(c), c->rcv_nxt, c->last_ack_sent);
    if (c->delack_owed && !c->t_delack.armed)
        FAIL("delayed ACK owed without its timer", CONN_FMT, CONN_ARGS(c));
    if (c->delack_owed && !ack_owed)
        FAIL("delayed-ACK timer armed with no ACK owed", CONN_FMT, CONN_ARGS(c));
    bool ka_state = c->state >= EFVITCP_ESTABLISHED && c->state <= EFVITCP_LAST_ACK;
    if (c->t_keepalive.armed != (st->cfg.keepalive_ms && ka_state))
        FAIL("keepalive timer armed when it should not be, or not armed when it should",
             CONN_FMT "armed %d", CONN_ARGS(c), c->t_keepalive.armed);
    return NULL;
}

static const char *check_conn(const et_stack *st, const et_conn *c, ck *k)
{
    const char *e;
    if (c->state == EFVITCP_TIME_WAIT || c->state > EFVITCP_WAIT_ARP)
        FAIL("connection slot in an impossible state", CONN_FMT, CONN_ARGS(c));
    if (c->finishing) FAIL("connection left finishing after its callback", CONN_FMT, CONN_ARGS(c));
    uint64_t key = et_ct_key(c->remote_ip, c->remote_port, c->local_port);
    if (et_ct_find(&st->table, key) != c->id)
        FAIL("live connection missing from the connection table", CONN_FMT "key %llx", CONN_ARGS(c),
             (unsigned long long)key);
    if ((e = check_send(st, c, k))) return e;
    if ((e = check_fin(c, k))) return e;
    if ((e = check_sack(c, k))) return e;
    if ((e = check_recv(st, c, k))) return e;
    if ((e = check_timers(st, c, k))) return e;
    if (et_conn_synced(c)) {
        if (c->snd_wnd > c->max_snd_wnd)
            FAIL("SND.WND above the largest window seen", CONN_FMT "snd_wnd %u max %u",
                 CONN_ARGS(c), c->snd_wnd, c->max_snd_wnd);
        if (c->seg_cap == 0 || c->seg_cap > c->send_mss)
            FAIL("segment capacity outside 1..send MSS", CONN_FMT "seg_cap %u send_mss %u",
                 CONN_ARGS(c), c->seg_cap, c->send_mss);
        if (c->cc.cwnd < c->send_mss)
            FAIL("cwnd below one MSS", CONN_FMT "cwnd %u mss %u", CONN_ARGS(c), c->cc.cwnd,
                 c->send_mss);
    }
    return NULL;
}

/* The connection table holds exactly the live connections and live TIME_WAIT records. */
static const char *check_table(const et_stack *st, uint32_t tw_live, ck *k)
{
    const et_conn_table *t = &st->table;
    uint32_t n = 0;
    for (uint32_t i = 0; t->slots && i <= t->mask; i++) {
        uint64_t key = t->slots[i].key;
        if (!key) continue;
        n++;
        uint32_t v = t->slots[i].val;
        if (v & ET_TW_FLAG) {
            uint32_t idx = v & ~ET_TW_FLAG;
            if (idx >= st->cfg.max_time_wait || st->tw[idx].key != key)
                FAIL("table entry names a dead TIME_WAIT record", "key %llx record %u",
                     (unsigned long long)key, idx);
        } else {
            if (v >= st->cfg.max_conns)
                FAIL("table entry names no connection slot", "key %llx value %u",
                     (unsigned long long)key, v);
            const et_conn *c = &st->conns[v];
            if (c->state == EFVITCP_CLOSED ||
                et_ct_key(c->remote_ip, c->remote_port, c->local_port) != key)
                FAIL("table entry names a free or different connection", "key %llx conn %u",
                     (unsigned long long)key, v);
        }
    }
    if (n != t->count) FAIL("table count is wrong", "count %u entries %u", t->count, n);
    if (n != st->n_conns + tw_live)
        FAIL("table entries != connections + TIME_WAIT records", "entries %u conns %u tw %u", n,
             st->n_conns, tw_live);
    return NULL;
}

static const char *check_tw(const et_stack *st, uint32_t *live_out, ck *k)
{
    uint32_t cap = st->cfg.max_time_wait, live = 0;
    if (st->tw_count > cap) FAIL("TIME_WAIT ring overfull", "count %u cap %u", st->tw_count, cap);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t off = (i + cap - st->tw_head) % cap; /* position in the FIFO */
        const et_tw *tw = &st->tw[i];
        if (off >= st->tw_count) {
            if (tw->key) FAIL("live TIME_WAIT record outside the ring", "record %u", i);
            continue;
        }
        if (!tw->key) continue;
        live++;
        uint32_t v = et_ct_find(&st->table, tw->key);
        if (v != (ET_TW_FLAG | i))
            FAIL("TIME_WAIT record not in the connection table", "record %u key %llx value %x", i,
                 (unsigned long long)tw->key, v);
    }
    for (uint32_t j = 0; j < st->tw_count; j++) {
        const et_tw *tw = &st->tw[(st->tw_head + j) % cap];
        if (!tw->key) continue;
        if (tw->expire_ns < prev)
            FAIL("TIME_WAIT ring not in expiry order", "position %u expires %llu after %llu", j,
                 (unsigned long long)tw->expire_ns, (unsigned long long)prev);
        prev = tw->expire_ns;
    }
    if (live != st->stats.time_wait_active)
        FAIL("time_wait_active is wrong", "counter %u records %u", st->stats.time_wait_active,
             live);
    *live_out = live;
    return NULL;
}

/* Control buffers: each one is either on the free stack or busy on the link, never both. */
static const char *check_tx_bufs(const et_stack *st, ck *k)
{
    uint32_t n_ctrl = st->cfg.ctrl_bufs, busy = 0;
    if (st->n_ctrl_free > n_ctrl)
        FAIL("more free control buffers than exist", "free %u of %u", st->n_ctrl_free, n_ctrl);
    for (uint32_t i = 0; i < st->n_ctrl_free; i++) {
        uint32_t id = st->ctrl_free[i];
        if (id < st->n_conn_bufs || id >= st->n_conn_bufs + n_ctrl)
            FAIL("free control buffer id out of range", "id %u", id);
        if (st->tx_busy[id]) FAIL("control buffer both free and busy", "id %u", id);
    }
    for (uint32_t id = st->n_conn_bufs; id < st->n_conn_bufs + n_ctrl; id++)
        busy += st->tx_busy[id];
    if (busy + st->n_ctrl_free != n_ctrl)
        FAIL("control buffers leaked (free + busy != ctrl_bufs)", "free %u busy %u of %u",
             st->n_ctrl_free, busy, n_ctrl);
    return NULL;
}

/* The half-open list (src/tcp/half_open.c): exactly the passive connections in SYN_RECEIVED,
   oldest first, linked both ways, counted, within the budget. */
static const char *check_half_open(const et_stack *st, ck *k)
{
    uint32_t flagged = 0, listed = 0, prev = UINT32_MAX;
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
        const et_conn *c = &st->conns[i];
        bool want = c->state == EFVITCP_SYN_RECEIVED && !c->active_open;
        if (c->half_open != want)
            FAIL("half-open flag wrong (passive SYN_RECEIVED only)", CONN_FMT, CONN_ARGS(c));
        flagged += c->half_open;
    }
    for (uint32_t id = st->ho_head; id != UINT32_MAX; id = st->conns[id].ho_next) {
        if (id >= st->cfg.max_conns || ++listed > st->cfg.max_conns)
            FAIL("half-open list broken", "id %u after %u entries", id, listed);
        const et_conn *c = &st->conns[id];
        if (!c->half_open || c->ho_prev != prev)
            FAIL("half-open list links wrong", CONN_FMT "prev %u want %u", CONN_ARGS(c), c->ho_prev,
                 prev);
        prev = id;
    }
    if (prev != st->ho_tail)
        FAIL("half-open list tail wrong", "tail %u last %u", st->ho_tail, prev);
    if (flagged != listed || listed != st->n_half_open || st->n_half_open > st->ho_budget)
        FAIL("half-open count wrong", "flagged %u listed %u n_half_open %u budget %u", flagged,
             listed, st->n_half_open, st->ho_budget);
    return NULL;
}

static const char *check_all(const et_stack *st, ck *k)
{
    const char *e;
    uint32_t live = 0, timers = 0, free_listed = 0;
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
        const et_conn *c = &st->conns[i];
        if (c->id != i) FAIL("connection slot has the wrong id", "slot %u id %u", i, c->id);
        if (c->state == EFVITCP_CLOSED) {
            if (armed_timers(st, c)) FAIL("timer armed on a free slot", "slot %u", i);
            if (c->in_deferred) FAIL("free slot on the deferred list", "slot %u", i);
            continue;
        }
        live++;
        timers += armed_timers(st, c);
        if ((e = check_conn(st, c, k))) return e;
    }
    for (const et_conn *c = st->free_conns; c; c = c->next_free) {
        if (++free_listed > st->cfg.max_conns) FAIL("free list loops", "%u entries", free_listed);
        if (c->state != EFVITCP_CLOSED)
            FAIL("live connection on the free list", CONN_FMT, CONN_ARGS(c));
    }
    if (live != st->n_conns) FAIL("n_conns is wrong", "n_conns %u live %u", st->n_conns, live);
    if (free_listed + live != st->cfg.max_conns)
        FAIL("connection slots leaked", "free %u live %u of %u", free_listed, live,
             st->cfg.max_conns);
    if (timers != st->wheel.count)
        FAIL("timer wheel holds timers of no connection", "wheel %u connections %u",
             st->wheel.count, timers);
    uint32_t tw_live = 0;
    if ((e = check_tw(st, &tw_live, k))) return e;
    if ((e = check_table(st, tw_live, k))) return e;
    if ((e = check_tx_bufs(st, k))) return e;
    if ((e = check_half_open(st, k))) return e;
    return NULL;
}

static const char *check_idle(const et_stack *st, ck *k)
{
    const char *e = check_all(st, k);
    if (e) return e;
    if (st->n_conns) FAIL("connections left", "%u", st->n_conns);
    if (st->wheel.count) FAIL("timers armed after teardown", "%u", st->wheel.count);
    if (st->deferred) FAIL("deferred output after teardown", "conn %u", st->deferred->id);
    if (st->n_ctrl_free != st->cfg.ctrl_bufs)
        FAIL("control buffers not returned", "free %u of %u", st->n_ctrl_free, st->cfg.ctrl_bufs);
    for (uint32_t id = 0; id < st->n_conn_bufs + st->cfg.ctrl_bufs; id++)
        if (st->tx_busy[id]) FAIL("TX buffer still busy after teardown", "id %u", id);
    return NULL;
}

const char *et_stack_check(const et_stack *st)
{
    ck k = {NULL, 0};
    return check_all(st, &k);
}

const char *et_stack_check_idle(const et_stack *st)
{
    ck k = {NULL, 0};
    return check_idle(st, &k);
}

const char *et_stack_check_detail(const et_stack *st, bool idle, char *buf, size_t cap)
{
    ck k = {buf, cap};
    return idle ? check_idle(st, &k) : check_all(st, &k);
}
