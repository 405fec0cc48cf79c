/*
 * Frame slots and the per-port delivery heap of the simulated wire, inline for the paths that
 * deliver frames (wire.c, raw.c). A port's heap holds slot indices keyed by (delivery time,
 * sequence number), so frames due at the same instant keep the order they were sent in.
 */
#ifndef EFVITCP_WIRE_SLOT_HEAP_H
#define EFVITCP_WIRE_SLOT_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/wire_internal.h"

/** Returns slot s to the free list. */
static inline void wire_slot_free(efvitcp_wire *w, uint32_t s)
{
    w->slots[s].state = SLOT_FREE;
    w->free_list[w->n_free++] = s;
}

/** Whether slot a is due before slot b. */
static inline bool wire_slot_before(const efvitcp_wire *w, uint32_t a, uint32_t b)
{
    const wire_slot *x = &w->slots[a], *y = &w->slots[b];
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

/** Adds slot s to port p's heap (max_frames entries: it cannot overflow). */
static inline void wire_heap_push(efvitcp_wire *w, wire_port *p, uint32_t s)
{
    uint32_t i = p->heap_len++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!wire_slot_before(w, s, p->heap[parent])) break;
        p->heap[i] = p->heap[parent];
        i = parent;
    }
    p->heap[i] = s;
}

/** Takes the earliest slot off port p's heap (which must not be empty) and returns it. */
static inline uint32_t wire_heap_pop(efvitcp_wire *w, wire_port *p)
{
    uint32_t top = p->heap[0];
    uint32_t last = p->heap[--p->heap_len];
    uint32_t n = p->heap_len, i = 0;
    if (n == 0) return top;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && wire_slot_before(w, p->heap[c + 1], p->heap[c])) c++;
        if (!wire_slot_before(w, p->heap[c], last)) break;
        p->heap[i] = p->heap[c];
        i = c;
    }
    p->heap[i] = last;
    return top;
}

#endif
