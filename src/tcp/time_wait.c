/*
 * TIME_WAIT (RFC 9293 §3.6): compact records in a FIFO ring. Every record lasts time_wait_ms, so
 * the ring is in expiry order and needs no timer; when it is full the oldest record, the one
 * nearest to expiry anyway, makes room (counted). Records left early (RFC 6191 reuse) stay in the
 * ring as dead entries until they reach its head.
 */
#include <string.h>

#include "tcp/stack.h"

et_tw *et_tw_get(et_stack *st, uint32_t idx)
{
    return &st->tw[idx];
}

static void tw_pop(et_stack *st)
{
    et_tw *tw = &st->tw[st->tw_head];
    if (tw->key) {
        et_ct_remove(&st->table, tw->key);
        tw->key = 0;
        st->stats.time_wait_active--;
    }
    st->tw_head = (st->tw_head + 1) % st->cfg.max_time_wait;
    st->tw_count--;
}

void et_tw_add(et_stack *st, const et_conn *c)
{
    uint32_t cap = st->cfg.max_time_wait;
    if (st->tw_count == cap) {
        if (st->tw[st->tw_head].key) st->stats.time_wait_evicted++;
        tw_pop(st);
    }
    uint32_t idx = (st->tw_head + st->tw_count) % cap;
    et_tw *tw = &st->tw[idx];
    uint64_t key = et_ct_key(c->remote_ip, c->remote_port, c->local_port);
    tw->key = key;
    tw->expire_ns = st->now_ns + (uint64_t)st->cfg.time_wait_ms * 1000000;
    tw->snd_nxt = c->snd_nxt;
    tw->rcv_nxt = c->rcv_nxt;
    tw->ts_recent = c->ts_recent;
    tw->ts_offset = c->ts_offset;
    tw->ts_ok = c->ts_ok;
    tw->rcv_wscale = c->rcv_wscale;
    memcpy(tw->remote_mac, c->remote_mac, 6);
    if (et_ct_find(&st->table, key) != UINT32_MAX) et_ct_remove(&st->table, key);
    et_ct_insert(&st->table, key, ET_TW_FLAG | idx);
    st->tw_count++;
    st->stats.time_wait_active++;
}

void et_tw_expire(et_stack *st)
{
    while (st->tw_count) {
        et_tw *tw = &st->tw[st->tw_head];
        if (tw->key && tw->expire_ns > st->now_ns) break;
        tw_pop(st);
    }
}

void et_tw_remove(et_stack *st, uint32_t idx)
{
    et_tw *tw = &st->tw[idx];
    if (!tw->key) return;
    et_ct_remove(&st->table, tw->key);
    tw->key = 0;
    st->stats.time_wait_active--;
}

void et_tw_input(et_stack *st, uint32_t idx, const et_tcp_seg *s)
{
    et_tw *tw = &st->tw[idx];
    /* RFC 1337: a RST must not cut TIME_WAIT short. */
    if (s->flags & ET_TCP_RST) return;
    uint32_t space = s->len + ((s->flags & ET_TCP_SYN) ? 1 : 0) + ((s->flags & ET_TCP_FIN) ? 1 : 0);
    /* A retransmitted FIN (our last ACK was lost) or anything else that occupies sequence space
       gets our ACK again; a bare ACK gets nothing (no ACK loops). */
    if (space) et_send_tw_ack(st, tw, s->saddr, s->sport, s->dport);
}
