/*
 * The half-open budget: passive connections in SYN_RECEIVED, on a list oldest first. They share
 * the connection slots with established ones (cfg.max_conns) but never keep one from them: a
 * connection completed from a SYN cookie that finds no free slot takes the oldest one's
 * (syn_cookie_in.c). A SYN beyond the budget gets a cookie instead of a slot.
 */
#ifndef EFVITCP_HALF_OPEN_H
#define EFVITCP_HALF_OPEN_H

#include "tcp/stack.h"

/* A passive connection entered SYN_RECEIVED. */
void et_ho_add(et_stack *st, et_conn *c);
/* It left SYN_RECEIVED (completed or freed); no-op if it was not on the list. */
void et_ho_remove(et_stack *st, et_conn *c);
/* The oldest half-open connection, or NULL. */
et_conn *et_ho_oldest(et_stack *st);
/* Resets every half-open connection of a local port: a RST each, and the slot is freed without
   a callback (the user never saw them). */
void et_ho_abort_port(et_stack *st, uint16_t port);
/* A new SYN may take a slot in SYN_RECEIVED. */
static inline bool et_ho_room(const et_stack *st)
{
    return st->free_conns && st->n_half_open < st->ho_budget;
}

#endif
