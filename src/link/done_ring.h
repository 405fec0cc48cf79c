/*
 * The completions a link has to report through tx_done(), in the order the buffers completed:
 * a ring of transmit buffer ids. A buffer is in it at most once, so n_tx ids always fit. Links
 * whose transmission completes inside the link (mem, shm and packet once the frame is copied
 * out; efvi once the NIC's event said so) keep one; xdp reads the kernel's completion ring instead.
 */
#ifndef EFVITCP_DONE_RING_H
#define EFVITCP_DONE_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Ring arithmetic without a division: index i + n of a ring of cap entries, for i < cap and
   n <= cap. A division costs tens of cycles on the hot path; these cost a compare. */
static inline uint32_t et_ring_add(uint32_t i, uint32_t n, uint32_t cap)
{
    i += n;
    return i >= cap ? i - cap : i;
}

typedef struct et_done_ring {
    uint32_t *ids;
    uint32_t head, count, cap;
} et_done_ring;

/** Allocates room for cap ids (cap > 0); false when out of memory. */
static inline bool et_done_ring_init(et_done_ring *r, uint32_t cap)
{
    r->ids = malloc((size_t)cap * sizeof(*r->ids));
    r->head = r->count = 0;
    r->cap = cap;
    return r->ids != NULL;
}

/** Frees the ids; the ring may be zeroed and never initialised. */
static inline void et_done_ring_free(et_done_ring *r)
{
    free(r->ids);
    r->ids = NULL;
}

/** Whether every id the ring can hold is in it. */
static inline bool et_done_ring_full(const et_done_ring *r)
{
    return r->count == r->cap;
}

/** Whether no id waits to be reported. */
static inline bool et_done_ring_empty(const et_done_ring *r)
{
    return r->count == 0;
}

/** Appends id; the ring must not be full. */
static inline void et_done_ring_put(et_done_ring *r, uint32_t id)
{
    r->ids[et_ring_add(r->head, r->count, r->cap)] = id;
    r->count++;
}

/** Moves up to max of the oldest ids to ids[]; returns how many. */
static inline int et_done_ring_take(et_done_ring *r, uint32_t *ids, int max)
{
    int n = 0;
    while (n < max && r->count) {
        ids[n++] = r->ids[r->head];
        r->head = et_ring_add(r->head, 1, r->cap);
        r->count--;
    }
    return n;
}

#endif
