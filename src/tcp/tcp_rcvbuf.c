/*
 * The receive side of a connection: in-order delivery to the user (straight from the link's
 * buffer when nothing is held back: zero copy), the bytes the user leaves unconsumed, and
 * out-of-order islands, all inside the connection's receive buffer, with bounded work.
 *
 * Layout: rbuf[rb_head, rb_tail) holds in-order bytes the user has not consumed; the island
 * [start, end) lives at rb_tail + (start - rcv_nxt). The advertised window never exceeds the free
 * space, so an acceptable segment always fits once the buffer is compacted.
 */
#include <string.h>

#include "tcp/stack.h"

uint32_t et_rcv_held(const et_conn *c)
{
    return c->rb_tail - c->rb_head;
}

uint32_t et_rcv_ooo_held(const et_conn *c)
{
    /* Islands never overlap (ooo_insert merges them): their lengths add up to the bytes kept. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_ooo; i++) n += c->ooo[i].end - c->ooo[i].start;
    return n;
}

uint32_t et_rcv_unread(const et_conn *c, const uint8_t **data)
{
    *data = c->rbuf + c->rb_head;
    return et_rcv_held(c);
}

/* End of the last island, as a buffer offset (rb_tail when there is none). */
static uint32_t used_end(const et_conn *c)
{
    if (!c->n_ooo) return c->rb_tail;
    return c->rb_tail + (c->ooo[c->n_ooo - 1].end - c->rcv_nxt);
}

/* Compacts the buffer (moves everything to the front) if bytes up to rel_end past RCV.NXT do not
   fit; returns whether they fit afterwards. */
static bool make_room(et_conn *c, uint32_t rel_end)
{
    uint32_t size = c->st->cfg.recv_buf_size;
    if (c->rb_tail + rel_end <= size) return true;
    if (c->rb_head == 0) return false;
    uint32_t end = used_end(c);
    memmove(c->rbuf, c->rbuf + c->rb_head, end - c->rb_head);
    c->rb_tail -= c->rb_head;
    c->rb_head = 0;
    return c->rb_tail + rel_end <= size;
}

/* Hands bytes to the user; returns how many the user left unconsumed (at the end). */
static uint32_t deliver(et_conn *c, const uint8_t *p, uint32_t n)
{
    et_stack *st = c->st;
    if (!st->h->on_data) return 0;
    uint32_t rem = st->h->on_data(st->hctx, c, p, n);
    return rem > n ? n : rem;
}

/* Inserts [start, end) into the sorted island list, merging neighbours. false when full. */
static bool ooo_insert(et_conn *c, uint32_t start, uint32_t end)
{
    et_ooo *o = c->ooo;
    uint32_t n = c->n_ooo, i = 0;
    while (i < n && seq_lt(o[i].end, start)) i++;
    if (i < n && seq_le(o[i].start, end)) {
        /* Overlaps or touches island i: grow it and swallow the following ones it reaches. */
        if (seq_le(o[i].start, start) && seq_le(end, o[i].end))
            et_sack_note_dup(c, start, end); /* all held already: RFC 2883 §4.2 */
        o[i].stamp = ++c->ooo_stamp;
        if (seq_lt(start, o[i].start)) o[i].start = start;
        if (seq_gt(end, o[i].end)) o[i].end = end;
        uint32_t j = i + 1;
        while (j < n && seq_le(o[j].start, o[i].end)) {
            if (seq_gt(o[j].end, o[i].end)) o[i].end = o[j].end;
            j++;
        }
        memmove(&o[i + 1], &o[j], (n - j) * sizeof(*o));
        c->n_ooo = (uint8_t)(n - (j - i - 1));
        return true;
    }
    if (n == c->st->cfg.ooo_ranges) {
        /* Full: keep the islands nearest to RCV.NXT; drop the new one if it is the farthest,
           else the farthest island (its data will be sent again). */
        if (i == n) return false;
        n--;
    }
    memmove(&o[i + 1], &o[i], (n - i) * sizeof(*o));
    o[i].start = start;
    o[i].end = end;
    o[i].stamp = ++c->ooo_stamp;
    c->n_ooo = (uint8_t)(n + 1);
    return true;
}

void et_rcv_keep(et_conn *c, const uint8_t *p, uint32_t len, uint32_t rem)
{
    memcpy(c->rbuf, p + len - rem, rem);
    c->rb_head = 0;
    c->rb_tail = rem;
}

bool et_rcv_data(et_conn *c, uint32_t seq, const uint8_t *p, uint32_t len)
{
    et_stack *st = c->st;
    uint32_t gen = c->gen;
    if (seq == c->rcv_nxt && c->rb_head == c->rb_tail && c->n_ooo == 0)
        return et_rcv_lend(c, p, len);
    if (!make_room(c, (seq - c->rcv_nxt) + len)) {
        /* Cannot happen while the window is honoured; trim rather than overrun, and tell the
           peer at once where the window really ends: in-window data is never dropped silently. */
        uint32_t size = st->cfg.recv_buf_size, at = c->rb_tail + (seq - c->rcv_nxt);
        st->stats.drops[EFVITCP_DROP_RCVBUF_FULL]++;
        c->ack_now = true;
        if (at >= size) return true;
        len = size - at;
    }
    uint32_t off = c->rb_tail + (seq - c->rcv_nxt);
    if (seq != c->rcv_nxt) {
        /* RFC 5681 §4.2 / RFC 9293 §3.10.7.4: keep it, and ACK at once so that the sender
           learns of the hole. */
        c->ack_now = true;
        if (!ooo_insert(c, seq, seq + len)) {
            st->stats.drops[EFVITCP_DROP_OOO_FULL]++;
            return true;
        }
        memcpy(c->rbuf + off, p, len);
        return true;
    }
    memcpy(c->rbuf + off, p, len);
    uint32_t end = seq + len;
    /* RFC 5681 §4.2: data that fills all or part of a gap is ACKed at once. */
    if (c->n_ooo) c->ack_now = true;
    /* Islands now reached join the in-order bytes. */
    while (c->n_ooo && seq_le(c->ooo[0].start, end)) {
        if (seq_gt(c->ooo[0].end, end)) end = c->ooo[0].end;
        memmove(&c->ooo[0], &c->ooo[1], (c->n_ooo - 1) * sizeof(et_ooo));
        c->n_ooo--;
        c->ack_now = true;
    }
    uint32_t added = end - c->rcv_nxt;
    c->rb_tail += added;
    c->rcv_nxt = end;
    c->bytes_in += added;
    st->stats.bytes_in += added;
    uint32_t rem = deliver(c, c->rbuf + c->rb_head, c->rb_tail - c->rb_head);
    if (c->gen != gen) return false;
    /* efvitcp_consume() inside on_data took bytes from the front of those presented: the return
       value may keep only what is still held, never bring consumed bytes back. */
    uint32_t held = c->rb_tail - c->rb_head;
    if (rem > held) rem = held;
    c->rb_head = c->rb_tail - rem;
    if (c->rb_head == c->rb_tail && c->n_ooo == 0) c->rb_head = c->rb_tail = 0;
    return true;
}

void et_rcv_end_at(et_conn *c, uint32_t end)
{
    uint32_t n = c->n_ooo, cut = 0;
    while (n && seq_ge(c->ooo[n - 1].start, end)) n--, cut++;
    if (n && seq_gt(c->ooo[n - 1].end, end)) {
        c->ooo[n - 1].end = end;
        cut++;
    }
    c->n_ooo = (uint8_t)n;
    c->st->stats.drops[EFVITCP_DROP_BEYOND_FIN] += cut;
}

void et_rcv_consume(et_conn *c, uint32_t n)
{
    uint32_t held = c->rb_tail - c->rb_head;
    if (n > held) n = held;
    c->rb_head += n;
    if (c->rb_head == c->rb_tail && c->n_ooo == 0) c->rb_head = c->rb_tail = 0;
}
