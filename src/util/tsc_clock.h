/*
 * CLOCK_MONOTONIC read from the CPU's time-stamp counter: a poll reads the time once, and
 * clock_gettime costs about 50 instructions through the vDSO where this costs about 10.
 *
 * Only where the kernel itself keeps time with the TSC (its clocksource is "tsc": the counter
 * is invariant and synchronised across cores, which the kernel verified) and only on x86-64;
 * elsewhere et_tsc_init fails and the caller keeps clock_gettime. The time is the monotonic
 * clock's: every ET_TSC_ANCHOR_NS the counter is anchored to a fresh clock_gettime, and the rate
 * of the next interval is chosen to meet the monotonic clock at its end, so the two never drift
 * apart by more than the error of one interval (microseconds) and the time read never goes back.
 */
#ifndef EFVITCP_TSC_CLOCK_H
#define EFVITCP_TSC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define ET_TSC_ANCHOR_NS 10000000ull /* 10 ms between anchors */

typedef struct et_tsc {
    uint64_t base_tsc, base_ns;   /* this interval's anchor */
    uint64_t mult;                /* this interval's ns per tick, << 32 */
    uint64_t span;                /* ticks in an interval */
    uint64_t first_tsc, first_ns; /* the first anchor: the long baseline of the counter's rate */
} et_tsc;

/** Calibrates t (a spin of about 50 µs). false: no usable TSC here; t is unusable. */
bool et_tsc_init(et_tsc *t);

/** Re-anchors t at the end of an interval and returns the time. Out of line: the cold path. */
uint64_t et_tsc_anchor(et_tsc *t);

/* The arithmetic of the two above with the counter and the clock as arguments (tests drive it
   with a simulated counter): calibration from two readings (tsc0, ns0) and (tsc1, ns1), and an
   anchor where the counter read tsc and the clock ns. */
void et_tsc_start(et_tsc *t, uint64_t tsc0, uint64_t ns0, uint64_t tsc1, uint64_t ns1);
uint64_t et_tsc_reanchor(et_tsc *t, uint64_t tsc, uint64_t ns);

/** The time at counter value ticks, or UINT64_MAX when the interval is over (anchor first). */
static inline uint64_t et_tsc_at(const et_tsc *t, uint64_t ticks)
{
    uint64_t d = ticks - t->base_tsc;
    if (__builtin_expect(d >= t->span, 0)) return UINT64_MAX;
    return t->base_ns + (uint64_t)(((unsigned __int128)d * t->mult) >> 32);
}

/** The counter (0 where there is none: et_tsc_init refuses such a machine). */
static inline uint64_t et_tsc_ticks(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#else
    return 0;
#endif
}

/** CLOCK_MONOTONIC in ns, from the counter. */
static inline uint64_t et_tsc_now(et_tsc *t)
{
    uint64_t ns = et_tsc_at(t, et_tsc_ticks());
    return __builtin_expect(ns != UINT64_MAX, 1) ? ns : et_tsc_anchor(t);
}

#endif
