/*
 * Clocks in ns: the host's monotonic clock, and a clock as a value (a function and its context),
 * which is how the layer that opens a link hands it its time base.
 */
#ifndef EFVITCP_CLOCK_H
#define EFVITCP_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "util/tsc_clock.h"

/** CLOCK_MONOTONIC in ns. */
static inline uint64_t et_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/** A clock: now(ctx) is its time in ns; or, with tsc set, the monotonic clock read from the
    counter (util/tsc_clock.h), inline: the poll reads the time every time. */
typedef struct et_clock {
    uint64_t (*now)(const void *ctx);
    const void *ctx;
    et_tsc *tsc;
} et_clock;

/** et_mono_ns with the signature of et_clock.now (unused ignored). */
static inline uint64_t et_mono_now(const void *unused)
{
    (void)unused;
    return et_mono_ns();
}

/** The host's monotonic clock as an et_clock. */
static inline et_clock et_mono_clock(void)
{
    et_clock c = {et_mono_now, NULL, NULL};
    return c;
}

/** The host's monotonic clock read from the TSC t (which et_tsc_init accepted). */
static inline et_clock et_tsc_clock(et_tsc *t)
{
    et_clock c = {et_mono_now, NULL, t};
    return c;
}

/** The time of clock c in ns. */
static inline uint64_t et_clock_now(const et_clock *c)
{
    if (c->tsc) return et_tsc_now(c->tsc);
    return c->now(c->ctx);
}

#endif
