/*
 * A sequence lock between one writer and any number of readers in other processes, over shared
 * memory: the writer never waits and never learns that readers exist (the live view must not slow
 * the instance it shows), and a reader that overlaps a write retries instead of keeping a torn
 * copy. The counter is odd while a write is in progress.
 *
 * The data itself is copied with plain loads and stores: the fences order them against the
 * counter, which is what makes a torn copy detectable (the kernel's seqcount, and Boehm, "Can
 * seqlocks get along with programming language memory models?", 2012). The writer's fences cost
 * nothing on x86 beyond keeping the compiler from moving stores across them.
 */
#ifndef EFVITCP_UTIL_SEQLOCK_H
#define EFVITCP_UTIL_SEQLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "a counter shared across processes must be lock-free");

typedef _Atomic uint64_t et_seqlock;

/* The writer starts an update: from here on a reader's copy is known torn. */
static inline void et_seq_write_begin(et_seqlock *s)
{
    uint64_t v = atomic_load_explicit(s, memory_order_relaxed);
    atomic_store_explicit(s, v + 1, memory_order_relaxed);
    /* The odd value must be visible before any store of the update. */
    atomic_thread_fence(memory_order_release);
}

/* The writer is done: every store of the update is visible before the even value. */
static inline void et_seq_write_end(et_seqlock *s)
{
    uint64_t v = atomic_load_explicit(s, memory_order_relaxed);
    atomic_store_explicit(s, v + 1, memory_order_release);
}

/* A reader's first look: the value to hand to et_seq_read_ok, or an odd one (a write is in
   progress: copying now is pointless). */
static inline uint64_t et_seq_read_begin(const et_seqlock *s)
{
    return atomic_load_explicit((et_seqlock *)s, memory_order_acquire);
}

/* After the copy: true when no write began or ended since et_seq_read_begin returned start. */
static inline bool et_seq_read_ok(const et_seqlock *s, uint64_t start)
{
    /* The copy's loads must be done before the counter is read again. */
    atomic_thread_fence(memory_order_acquire);
    return !(start & 1) && atomic_load_explicit((et_seqlock *)s, memory_order_relaxed) == start;
}

#endif
