/*
 * Hierarchical timing wheel (see timer_wheel.h).
 *
 * Level k has 64 slots of 2^(6k) ticks each and spans one "block" of 2^(6(k+1)) ticks. The
 * invariant between calls, for every armed timer t with expire tick E and the current tick cur:
 *
 *   (a) E > cur, t sits in level k = the smallest k with E >> 6(k+1) == cur >> 6(k+1), in slot
 *       (E >> 6k) & 63, and that slot index is strictly greater than cur's index at level k; or
 *   (b) E is beyond cur's top-level block (E >> 48 != cur >> 48): t sits in the top level's last
 *       slot ("overflow") and is re-placed, not fired, whenever that slot is cascaded; or
 *   (c) E <= cur (armed for a time already reached): t sits in the "due slot", level 0 slot
 *       (cur & 63), which (a) never uses. Its occupancy bit is never set, so the slot searches
 *       ignore it; the next advance fires it first.
 *
 * A timer postponed by et_wheel_postpone keeps the slot of its earlier tick: it sits where a timer
 * expiring then would, and run_batch re-places it rather than firing it, since its tick is later.
 * So (a) holds for the tick the timer was placed for, which may be below expire_tick.
 *
 * A slot under (a) "begins" at tick (cur with the bits below 6(k+1) cleared) | (slot << 6k): no
 * timer in it is due before then, and from then on its timers belong to finer levels. For the
 * overflow slot while cur is itself inside the top level's last slot, the slot begins at the next
 * top-level block instead. A level-0 slot begins exactly at the expire tick of its timers.
 */
#include "tcp/timer_wheel.h"

#include <string.h>

#define LEVEL_BITS      6
#define TOP_LEVEL       (ET_WHEEL_LEVELS - 1)
#define LAST_SLOT       (ET_WHEEL_SLOTS - 1)
#define TOP_BLOCK_SHIFT (LEVEL_BITS * ET_WHEEL_LEVELS) /* 48: ticks spanned by the top level */
/* The largest tick an advance can reach; one more cannot be converted back to nanoseconds. */
#define MAX_TICK (UINT64_MAX >> ET_WHEEL_TICK_SHIFT)

static inline unsigned index_at(uint64_t tick, unsigned level)
{
    return (unsigned)(tick >> (LEVEL_BITS * level)) & LAST_SLOT;
}

static void push(et_timer_wheel *w, et_timer *t, unsigned level, unsigned slot, bool mark)
{
    et_timer **head = &w->slots[level][slot];
    t->level = (uint8_t)level;
    t->slot = (uint8_t)slot;
    t->prev = NULL;
    t->next = *head;
    if (*head) (*head)->prev = t;
    *head = t;
    if (mark) w->occupied[level] |= 1ull << slot;
}

/* A list head has prev == NULL and is found through its level and slot; every other member,
   including the first member of a list hanging off a local sentinel inside advance, has a prev. */
static void unlink_timer(et_timer_wheel *w, et_timer *t)
{
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        w->slots[t->level][t->slot] = t->next;
        if (!t->next) w->occupied[t->level] &= ~(1ull << t->slot);
    }
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

/* Places t by rule (a) or (b); requires t->expire_tick > cur. Keeps next_hint a lower bound on
   the tick at which any slot begins. */
static void place(et_timer_wheel *w, et_timer *t)
{
    uint64_t diff = t->expire_tick ^ w->cur_tick;
    /* The highest differing bit decides the first level whose block holds both ticks. */
    unsigned level = (unsigned)(63 - __builtin_clzll(diff)) / LEVEL_BITS;
    uint64_t begin;
    if (level > TOP_LEVEL) {
        push(w, t, TOP_LEVEL, LAST_SLOT, true);
        /* The overflow slot begins no earlier than the last top slot of cur's block. */
        uint64_t shift = LEVEL_BITS * TOP_LEVEL;
        begin = (w->cur_tick & ~((1ull << TOP_BLOCK_SHIFT) - 1)) | ((uint64_t)LAST_SLOT << shift);
        if (begin <= w->cur_tick) begin = w->cur_tick + 1;
    } else {
        unsigned shift = LEVEL_BITS * level;
        push(w, t, level, index_at(t->expire_tick, level), true);
        begin = t->expire_tick & ~((1ull << shift) - 1);
    }
    if (begin < w->next_hint) w->next_hint = begin;
}

static void push_due(et_timer_wheel *w, et_timer *t)
{
    push(w, t, 0, index_at(w->cur_tick, 0), false);
    w->next_hint = w->cur_tick;
}

/* The tick at which the first occupied slot of a level begins, and that slot. */
static bool level_next(const et_timer_wheel *w, unsigned level, uint64_t *begin, unsigned *slot)
{
    uint64_t occ = w->occupied[level];
    if (!occ) return false;
    uint64_t cur = w->cur_tick;
    unsigned ci = index_at(cur, level);
    uint64_t later = ci == LAST_SLOT ? 0 : occ & (~0ull << (ci + 1));
    if (later) {
        unsigned shift = LEVEL_BITS * level;
        uint64_t block = cur & ~((1ull << (shift + LEVEL_BITS)) - 1);
        *slot = (unsigned)__builtin_ctzll(later);
        *begin = block | ((uint64_t)*slot << shift);
        return true;
    }
    if (level == TOP_LEVEL && (occ >> LAST_SLOT)) {
        /* cur is inside the last top slot, so only overflow timers can be there. */
        *slot = LAST_SLOT;
        *begin = ((cur >> TOP_BLOCK_SHIFT) + 1) << TOP_BLOCK_SHIFT;
        return true;
    }
    return false; /* unreachable while the invariant holds */
}

static void list_init(et_timer *sentinel)
{
    memset(sentinel, 0, sizeof(*sentinel));
}

/* Moves a slot list (head has prev == NULL) to the front of a sentinel list, marking nothing. */
static void splice_front(et_timer *sentinel, et_timer *head)
{
    if (!head) return;
    et_timer *tail = head;
    while (tail->next) tail = tail->next;
    tail->next = sentinel->next;
    if (tail->next) tail->next->prev = tail;
    sentinel->next = head;
    head->prev = sentinel;
}

static void take_slot(et_timer_wheel *w, unsigned level, unsigned slot, et_timer *sentinel)
{
    et_timer *head = w->slots[level][slot];
    w->slots[level][slot] = NULL;
    w->occupied[level] &= ~(1ull << slot);
    splice_front(sentinel, head);
}

/*
 * Fires or re-places every timer of a detached batch. Popping one at a time from the sentinel list
 * stays correct whatever fire does: a cancel or re-arm of a batch member unlinks it through its
 * prev (never NULL here), and nothing new can join the batch because new timers go to slots that
 * begin later or to the due slot.
 */
static void run_batch(et_timer_wheel *w, et_timer *batch, void (*fire)(void *, et_timer *),
                      void *ctx)
{
    et_timer *t;
    while ((t = batch->next) != NULL) {
        unlink_timer(w, t);
        if (t->expire_tick <= w->cur_tick) {
            t->armed = false;
            w->count--;
            fire(ctx, t);
        } else {
            place(w, t);
        }
    }
}

void et_wheel_init(et_timer_wheel *w, uint64_t now_ns)
{
    memset(w, 0, sizeof(*w));
    w->cur_tick = et_wheel_ns_to_tick(now_ns);
    w->next_hint = UINT64_MAX;
}

/* The first tick that starts at or after ns: no timer fires before its time. */
static inline uint64_t ceil_tick(uint64_t ns)
{
    return et_wheel_ns_to_tick(ns) + ((ns & ((1u << ET_WHEEL_TICK_SHIFT) - 1)) != 0);
}

void et_wheel_arm(et_timer_wheel *w, et_timer *t, uint64_t expire_ns)
{
    if (t->armed) {
        unlink_timer(w, t);
    } else {
        t->armed = true;
        t->next = t->prev = NULL;
        w->count++;
    }
    t->expire_tick = ceil_tick(expire_ns);
    if (t->expire_tick <= w->cur_tick)
        push_due(w, t);
    else
        place(w, t);
}

void et_wheel_cancel(et_timer_wheel *w, et_timer *t)
{
    if (!t->armed) return;
    unlink_timer(w, t);
    t->armed = false;
    w->count--;
}

void et_wheel_run(et_timer_wheel *w, uint64_t now_ns, void (*fire)(void *ctx, et_timer *t),
                  void *ctx)
{
    uint64_t now = et_wheel_ns_to_tick(now_ns);
    if (now < w->cur_tick) now = w->cur_tick;
    /* The common poll: nothing can be due before next_hint, so just move the clock (slots keep
       their places, as the jump argument below shows). */
    if (now < w->next_hint) {
        w->cur_tick = now;
        return;
    }

    /* Timers armed during this call for a tick already reached wait here for the next call;
       firing them in this one could loop for ever on a callback that re-arms itself at "now". */
    et_timer deferred, batch;
    list_init(&deferred);
    list_init(&batch);

    /* What was armed for a reached tick since the last call is due first. */
    take_slot(w, 0, index_at(w->cur_tick, 0), &batch);
    run_batch(w, &batch, fire, ctx);
    take_slot(w, 0, index_at(w->cur_tick, 0), &deferred);

    for (;;) {
        w->steps++;
        uint64_t begin[ET_WHEEL_LEVELS] = {0};
        unsigned slot[ET_WHEEL_LEVELS] = {0};
        bool has[ET_WHEEL_LEVELS] = {0};
        uint64_t next = UINT64_MAX;
        for (unsigned k = 0; k < ET_WHEEL_LEVELS; k++) {
            has[k] = level_next(w, k, &begin[k], &slot[k]);
            if (has[k] && begin[k] < next) next = begin[k];
        }
        if (next > now) {
            w->next_hint = next;
            /*
             * Jumping straight to now keeps the invariant: every occupied slot begins after now,
             * and for a slot of level k that begins at b with cur < now < b, cur and b share their
             * bits above 6(k+1), so now shares them too, and now's index at level k is below the
             * slot's (equal would mean now >= b). So each timer keeps its level and slot. An
             * overflow slot is likewise still ahead: now stays below the tick it begins at.
             */
            w->cur_tick = now;
            break;
        }
        /* Detach everything that begins now before any callback runs: the due slot of the new
           tick is the level-0 slot that is about to fire. */
        for (unsigned k = ET_WHEEL_LEVELS; k-- > 0;)
            if (has[k] && begin[k] == next) take_slot(w, k, slot[k], &batch);
        w->cur_tick = next;
        run_batch(w, &batch, fire, ctx);
        take_slot(w, 0, index_at(w->cur_tick, 0), &deferred);
    }

    /* The due slot of the final tick is empty (no slot of rule (a) uses it); move them in. */
    et_timer *t = deferred.next;
    if (t) {
        w->next_hint = w->cur_tick;
        unsigned due = index_at(w->cur_tick, 0);
        t->prev = NULL;
        w->slots[0][due] = t;
        for (; t; t = t->next) {
            t->level = 0;
            t->slot = (uint8_t)due;
        }
    }
}

uint64_t et_wheel_next_expiry(const et_timer_wheel *w)
{
    if (!w->count) return UINT64_MAX;
    if (w->slots[0][index_at(w->cur_tick, 0)]) return w->cur_tick << ET_WHEEL_TICK_SHIFT;
    uint64_t next = UINT64_MAX, begin;
    unsigned slot;
    for (unsigned k = 0; k < ET_WHEEL_LEVELS; k++)
        if (level_next(w, k, &begin, &slot) && begin < next) next = begin;
    /* A timer past the last reachable tick can never fire. */
    if (next > MAX_TICK) return UINT64_MAX;
    return next << ET_WHEEL_TICK_SHIFT;
}
