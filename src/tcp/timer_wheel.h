/*
 * Hierarchical timing wheel: 8 levels of 64 slots over ticks of 2^10 ns (about 1 us), so a timer
 * may be up to 2^58 ns (9 years) away, and every timer fires at its exact tick: timers are
 * cascaded to finer levels as their time approaches, never rounded to the coarse level. Insert
 * and cancel are O(1); advancing skips empty stretches with per-level occupancy bitmaps, so an
 * idle instance costs the same whatever the number of armed timers.
 */
#ifndef EFVITCP_TIMER_WHEEL_H
#define EFVITCP_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define ET_WHEEL_TICK_SHIFT 10
#define ET_WHEEL_LEVELS     8
#define ET_WHEEL_SLOTS      64

/** An intrusive timer; embed it where it belongs. Zero-initialised = not armed. */
typedef struct et_timer {
    struct et_timer *next, *prev;
    uint64_t expire_tick;
    uint8_t level, slot;
    bool armed;
    uint8_t kind; /**< owner's tag, untouched by the wheel */
    uint32_t arg; /**< owner's tag, untouched by the wheel */
} et_timer;

typedef struct et_timer_wheel {
    uint64_t cur_tick; /**< every timer due at or before cur_tick has fired */
    uint64_t occupied[ET_WHEEL_LEVELS];
    et_timer *slots[ET_WHEEL_LEVELS][ET_WHEEL_SLOTS];
    uint32_t count;
    uint64_t steps;     /**< iterations of the advance loop so far (statistics, tests) */
    uint64_t next_hint; /**< no slot begins before this tick: advances short of it are O(1) */
} et_timer_wheel;

static inline uint64_t et_wheel_ns_to_tick(uint64_t ns)
{
    return ns >> ET_WHEEL_TICK_SHIFT;
}

/** Starts the wheel at time now_ns. */
void et_wheel_init(et_timer_wheel *w, uint64_t now_ns);
/**
 * Arms t to fire at the first advance whose time reaches expire_ns (rounded up to a tick); re-arms
 * if armed. A time at or before the current tick fires on the next advance, whatever its time, and
 * counts as due at the current tick; from inside fire that is the next call, not the running one.
 */
void et_wheel_arm(et_timer_wheel *w, et_timer *t, uint64_t expire_ns);
/**
 * As et_wheel_arm, but when t is armed for an earlier tick it only records the later one: t keeps
 * its slot and is moved on when the wheel reaches that slot, without firing. A timer pushed
 * back on every segment (retransmission, delayed ACK) then costs a store instead of an unlink
 * and a placement; the price is one re-placement per original expiry. next_expiry stays a
 * lower bound.
 */
static inline void et_wheel_postpone(et_timer_wheel *w, et_timer *t, uint64_t expire_ns)
{
    /* The first tick that starts at or after expire_ns: no timer fires before its time. */
    uint64_t tick =
        et_wheel_ns_to_tick(expire_ns) + ((expire_ns & ((1u << ET_WHEEL_TICK_SHIFT) - 1)) != 0);
    /* Later than before (as a retransmission timer pushed back by every segment sent): a store.
       The timer keeps the slot of its earlier tick and is re-placed when that slot comes up. A
       due-slot timer (its tick reached) is armed exactly instead, to keep that slot simple. */
    if (t->armed && tick >= t->expire_tick && t->expire_tick > w->cur_tick)
        t->expire_tick = tick;
    else
        et_wheel_arm(w, t, expire_ns);
}
/** Disarms t; no effect if not armed. */
void et_wheel_cancel(et_timer_wheel *w, et_timer *t);
/**
 * Advances to now_ns and calls fire(ctx, t) for every timer due, in order of expiry tick. t is
 * disarmed before the call; fire may arm or cancel any timer, t included, but must not call
 * et_wheel_advance. A time before the current one fires what is due and leaves the wheel where it
 * is.
 */
void et_wheel_run(et_timer_wheel *w, uint64_t now_ns, void (*fire)(void *ctx, et_timer *t),
                  void *ctx);
static inline void et_wheel_advance(et_timer_wheel *w, uint64_t now_ns,
                                    void (*fire)(void *ctx, et_timer *t), void *ctx)
{
    /* Inline, for the common poll: nothing can be due before next_hint (et_wheel_run). */
    uint64_t now = et_wheel_ns_to_tick(now_ns);
    if (now < w->cur_tick) now = w->cur_tick; /* a clock that went back moves nothing */
    if (now < w->next_hint) {
        w->cur_tick = now;
        return;
    }
    et_wheel_run(w, now_ns, fire, ctx);
}
/** A lower bound on the time (ns) of the next expiry, exact for timers in the finest level;
    UINT64_MAX when no timer is armed. */
uint64_t et_wheel_next_expiry(const et_timer_wheel *w);

#endif
