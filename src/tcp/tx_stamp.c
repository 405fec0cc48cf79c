/*
 * Transmit timestamp reports. A segment's report cannot be made when it is sent: the NIC stamps
 * the frame as it leaves, and the stamp arrives with the completion, in a later poll. So what
 * the buffer carries is recorded at the hand-over (connection, stream offset, length, flags and
 * the software time), and the completion turns the record into a report in the connection's
 * queue. The queue is a ring sized at init; a full one drops the new report and marks the next
 * one (EFVITCP_TX_TS_LOST), so a user who falls behind learns it instead of reading a gap.
 */
#include "tcp/tx_stamp.h"

#include <stdlib.h>

#include "tcp/stack.h"

const char *et_txts_init(et_stack *st)
{
    uint32_t cap = st->cfg.tx_timestamps;
    if (!cap) return NULL;
    size_t bufs = (size_t)st->n_conn_bufs + st->cfg.ctrl_bufs;
    st->txts_meta = calloc(bufs, sizeof(*st->txts_meta));
    st->txts_ring = calloc((size_t)st->cfg.max_conns * cap, sizeof(*st->txts_ring));
    if (!st->txts_meta || !st->txts_ring) return "out of memory";
    st->txts_hw = (st->link->caps & ET_LINK_CAP_TX_TS) && st->link->ops->tx_stamp;
    return NULL;
}

void et_txts_free(et_stack *st)
{
    free(st->txts_meta);
    free(st->txts_ring);
    st->txts_meta = NULL;
    st->txts_ring = NULL;
}

void et_txts_record(et_conn *c, uint32_t id, uint32_t seq, uint32_t len, uint8_t ctl, bool retx)
{
    et_stack *st = c->st;
    et_txts_meta *m = &st->txts_meta[id];
    m->conn = c->id + 1;
    m->gen = c->gen;
    m->bytes = len;
    m->flags = (retx ? EFVITCP_TX_TS_RETRANSMIT : 0) |
               ((ctl & ET_TCP_SYN) ? EFVITCP_TX_TS_SYN : 0) |
               ((ctl & ET_TCP_FIN) ? EFVITCP_TX_TS_FIN : 0);
    if (ctl & ET_TCP_SYN) {
        m->start = 0; /* the SYN's octet comes before the stream */
    } else {
        /* The stream offset of seq, from queued_end's: the distance is below the send ring's
           span, far below 2^31, so 32-bit sequence arithmetic unwraps it. */
        uint32_t data_end = c->queued_end - (c->fin_queued && !c->fin_pending ? 1 : 0);
        m->start = c->queued_off - (uint32_t)(data_end - seq);
    }
    /* Software time: the link's clock now, not the poll's start (links driven by poll_at have
       only the poll's time). */
    m->sw_ts = st->link_clock ? et_link_now(st->link) : st->now_ns;
}

void et_txts_complete(et_stack *st, uint32_t id)
{
    et_txts_meta *m = &st->txts_meta[id];
    if (!m->conn) return; /* a pure ACK, a RST, a SYN-ACK of a cookie: nothing to report */
    et_conn *c = &st->conns[m->conn - 1];
    uint32_t gen = m->gen;
    m->conn = 0;
    if (c->gen != gen || c->state == EFVITCP_CLOSED) return; /* the connection is gone */
    uint32_t cap = st->cfg.tx_timestamps;
    if (c->txts_n == cap) {
        c->txts_lost = true;
        st->stats.tx_timestamps_lost++;
        return;
    }
    efvitcp_tx_report *r =
        &st->txts_ring[(size_t)c->id * cap + et_txts_slot(c->txts_head, c->txts_n, cap)];
    r->start = m->start;
    r->bytes = m->bytes;
    r->flags = m->flags;
    if (st->txts_hw) {
        uint32_t lf = 0;
        r->ts_ns = st->link->ops->tx_stamp(st->link, id, &lf);
        r->flags |= r->ts_ns ? EFVITCP_TX_TS_HARDWARE : EFVITCP_TX_TS_NONE;
        if (r->ts_ns && (lf & ET_LINK_TXTS_CLOCK_SET)) r->flags |= EFVITCP_TX_TS_CLOCK_SET;
        if (r->ts_ns && (lf & ET_LINK_TXTS_IN_SYNC)) r->flags |= EFVITCP_TX_TS_IN_SYNC;
    } else {
        r->ts_ns = m->sw_ts;
        r->flags |= EFVITCP_TX_TS_SOFTWARE;
    }
    if (c->txts_lost) {
        r->flags |= EFVITCP_TX_TS_LOST;
        c->txts_lost = false;
    }
    c->txts_n++;
}

int et_txts_take(et_conn *c, efvitcp_tx_report *out, int max)
{
    et_stack *st = c->st;
    uint32_t cap = st->cfg.tx_timestamps;
    if (!st->txts_ring || !out || max <= 0) return 0;
    int n = 0;
    const efvitcp_tx_report *ring = &st->txts_ring[(size_t)c->id * cap];
    while (n < max && c->txts_n) {
        out[n++] = ring[c->txts_head];
        c->txts_head = et_txts_slot(c->txts_head, 1, cap);
        c->txts_n--;
    }
    return n;
}
