/*
 * The list of half-open connections (half_open.h): doubly linked through connection ids, so that
 * leaving SYN_RECEIVED and taking the oldest are O(1), whatever a flood left on it.
 */
#include "tcp/half_open.h"

#define NONE UINT32_MAX

void et_ho_add(et_stack *st, et_conn *c)
{
    c->half_open = true;
    c->ho_prev = st->ho_tail;
    c->ho_next = NONE;
    if (st->ho_tail != NONE)
        st->conns[st->ho_tail].ho_next = c->id;
    else
        st->ho_head = c->id;
    st->ho_tail = c->id;
    st->n_half_open++;
    st->stats.half_open = st->n_half_open;
}

void et_ho_remove(et_stack *st, et_conn *c)
{
    if (!c->half_open) return;
    c->half_open = false;
    if (c->ho_prev != NONE)
        st->conns[c->ho_prev].ho_next = c->ho_next;
    else
        st->ho_head = c->ho_next;
    if (c->ho_next != NONE)
        st->conns[c->ho_next].ho_prev = c->ho_prev;
    else
        st->ho_tail = c->ho_prev;
    st->n_half_open--;
    st->stats.half_open = st->n_half_open;
}

et_conn *et_ho_oldest(et_stack *st)
{
    return st->ho_head == NONE ? NULL : &st->conns[st->ho_head];
}

void et_ho_abort_port(et_stack *st, uint16_t port)
{
    /* The abort unlinks c; its successor is taken first. */
    for (uint32_t id = st->ho_head, next; id != NONE; id = next) {
        et_conn *c = &st->conns[id];
        next = c->ho_next;
        if (c->local_port == port) et_conn_abort(c);
    }
}
