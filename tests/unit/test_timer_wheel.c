/*
 * The timing wheel against a brute-force model: every timer must fire once, at exactly its tick
 * (never early, never late), in expiry order, whatever the durations (0 to decades), the steps of
 * the clock and what the fire callbacks do.
 */
#include "harness.h"
#include "tcp/timer_wheel.h"

#include <stdbool.h>

#define NS_PER_TICK (1ull << ET_WHEEL_TICK_SHIFT)
#define YEAR_NS     (365ull * 24 * 3600 * 1000000000ull)
#define MAX_TICK    (UINT64_MAX >> ET_WHEEL_TICK_SHIFT)

static uint64_t prng_state;

static uint64_t prng(void)
{
    /* splitmix64: good enough and independent of the code under test */
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? prng() % n : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The model's own rounding: the first tick whose start is at or after ns. */
static uint64_t ceil_tick(uint64_t ns)
{
    return ns / NS_PER_TICK + (ns % NS_PER_TICK != 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Random operations against the model                                                            */
/* ---------------------------------------------------------------------------------------------- */

#define NT 400

typedef struct model_timer {
    et_timer t;
    bool armed;
    bool past;      /* armed for a tick at or before the wheel's tick at that moment */
    bool this_call; /* past and armed from inside the running advance: must wait */
    uint64_t tick;
    uint32_t fired;
    bool postponed; /* moved later by et_wheel_postpone: sits in an earlier slot */
} model_timer;

static struct {
    et_timer_wheel w;
    model_timer m[NT];
    bool in_advance;
    uint64_t adv_now, adv_start, last_fire;
    uint64_t fires;
    bool actions; /* let fire callbacks arm and cancel */
} S;

static void m_arm(uint32_t id, uint64_t ns)
{
    model_timer *m = &S.m[id];
    m->t.arg = id;
    et_wheel_arm(&S.w, &m->t, ns);
    m->armed = true;
    m->tick = ceil_tick(ns);
    m->past = m->tick <= S.w.cur_tick;
    m->this_call = m->past && S.in_advance;
    m->postponed = false;
    CHECK(m->t.armed);
    CHECK_EQ(m->t.expire_tick, m->tick);
}

/* et_wheel_postpone: lazy when armed, not yet due and moving later; otherwise an arm. Either way
   the timer must fire exactly once, at exactly its new tick. */
static void m_postpone(uint32_t id, uint64_t ns)
{
    model_timer *m = &S.m[id];
    uint64_t tick = ceil_tick(ns);
    if (m->armed && !m->past && tick >= m->tick) {
        m->t.arg = id;
        et_wheel_postpone(&S.w, &m->t, ns);
        m->postponed = m->postponed || tick > m->tick;
        m->tick = tick;
        CHECK(m->t.armed);
        CHECK_EQ(m->t.expire_tick, tick);
        return;
    }
    et_wheel_postpone(&S.w, &m->t, ns);
    m->t.arg = id;
    m->armed = true;
    m->tick = tick;
    m->past = m->tick <= S.w.cur_tick;
    m->this_call = m->past && S.in_advance;
    m->postponed = false;
    CHECK(m->t.armed);
    CHECK_EQ(m->t.expire_tick, m->tick);
}

static void m_cancel(uint32_t id)
{
    et_wheel_cancel(&S.w, &S.m[id].t);
    S.m[id].armed = false;
    CHECK(!S.m[id].t.armed);
}

/* A delay from "now" that mixes every scale: zero, sub-tick, tick edges, microseconds up to
   decades (past the top level), and times in the past. */
static uint64_t rand_expiry(uint64_t now)
{
    switch (below(10)) {
    case 0:
        return now;
    case 1:
        return sat_add(now, below(2 * NS_PER_TICK));
    case 2: { /* on a tick edge or one nanosecond either side of it */
        uint64_t edge = sat_add(now, below(70) * NS_PER_TICK) / NS_PER_TICK * NS_PER_TICK;
        return edge ? sat_add(edge, below(2)) - below(2) : 0;
    }
    case 3:
        return sat_add(now, below(1000000));
    case 4:
        return sat_add(now, below(10000000000ull));
    case 5:
        return sat_add(now, below(24 * 3600 * 1000000000ull));
    case 6:
        return sat_add(now, below(20 * YEAR_NS));
    case 7: /* a level's span away, give or take a nanosecond */
        return sat_add(now, (1ull << (6 * below(9) + ET_WHEEL_TICK_SHIFT)) + below(3) - 1);
    case 8:
        return now - (now < 5000 ? now : below(5000));
    default:
        return now > 1000000 ? now - below(1000000) : 0;
    }
}

static void check_fire(void *ctx, et_timer *t)
{
    (void)ctx;
    uint32_t id = t->arg;
    REQUIRE(id < NT && t == &S.m[id].t);
    model_timer *m = &S.m[id];
    uint64_t cur = S.w.cur_tick;
    S.fires++;
    CHECK(!t->armed);
    CHECK(m->armed);
    CHECK(!m->this_call);
    CHECK(m->tick <= S.adv_now); /* never early */
    if (m->past)
        CHECK_EQ(cur, S.adv_start); /* armed for a reached time: first thing in the next call */
    else
        CHECK_EQ(cur, m->tick); /* exactly at its tick */
    CHECK(cur >= S.last_fire);  /* in expiry order */
    S.last_fire = cur;
    /* Nothing that was due earlier is still waiting. */
    for (uint32_t j = 0; j < NT; j++) {
        const model_timer *o = &S.m[j];
        if (!o->armed || o->this_call || j == id) continue;
        if (o->past)
            CHECK_EQ(cur, S.adv_start);
        else
            CHECK(o->tick >= cur);
    }
    m->armed = false;
    m->fired++;

    if (!S.actions) return;
    uint64_t now_ns = cur * NS_PER_TICK;
    switch (below(8)) {
    case 0:
        m_arm(id, rand_expiry(now_ns));
        break; /* re-arm itself */
    case 1:
        m_arm(id, now_ns);
        break; /* re-arm itself at "now" */
    case 2:
        m_cancel((uint32_t)below(NT));
        break; /* cancel any, maybe unarmed */
    case 3:
        m_arm((uint32_t)below(NT), rand_expiry(now_ns));
        break; /* arm or re-arm another */
    case 4:
        m_cancel(id);
        break; /* cancel the fired one itself */
    case 5:
        m_postpone((uint32_t)below(NT), sat_add(now_ns, below(1000000)));
        break; /* push another one back (or arm it) */
    default:
        break;
    }
}

static void m_advance(uint64_t now_ns)
{
    uint64_t before = S.w.cur_tick, now_tick = now_ns / NS_PER_TICK;
    S.in_advance = true;
    S.adv_now = now_tick > before ? now_tick : before;
    S.adv_start = before;
    S.last_fire = 0;
    et_wheel_advance(&S.w, now_ns, check_fire, NULL);
    S.in_advance = false;
    CHECK_EQ(S.w.cur_tick, S.adv_now);
    uint32_t armed = 0;
    for (uint32_t j = 0; j < NT; j++) {
        model_timer *m = &S.m[j];
        CHECK_EQ(m->t.armed, m->armed);
        if (!m->armed) continue;
        armed++;
        if (m->this_call)
            m->this_call = false; /* due at the next call */
        else
            CHECK(m->tick > S.adv_now); /* everything due has fired */
    }
    CHECK_EQ(S.w.count, armed);
}

static uint64_t model_min_tick(bool *any_past, uint32_t *which)
{
    uint64_t min = UINT64_MAX;
    *any_past = false;
    for (uint32_t j = 0; j < NT; j++) {
        if (!S.m[j].armed) continue;
        if (S.m[j].past) *any_past = true;
        if (!S.m[j].past && S.m[j].tick < min) {
            min = S.m[j].tick;
            *which = j;
        }
    }
    return min;
}

static void check_next_expiry(void)
{
    uint64_t ne = et_wheel_next_expiry(&S.w);
    bool any_past;
    uint32_t which = 0;
    uint64_t min = model_min_tick(&any_past, &which);
    if (!S.w.count) {
        CHECK_EQ(ne, UINT64_MAX);
        return;
    }
    if (any_past) {
        CHECK(ne <= S.w.cur_tick * NS_PER_TICK);
        return;
    }
    uint64_t min_ns = min > MAX_TICK ? UINT64_MAX : min * NS_PER_TICK;
    CHECK(ne <= min_ns);                           /* a lower bound */
    CHECK(ne >= (S.w.cur_tick + 1) * NS_PER_TICK); /* nothing is due yet */
    bool any_postponed = false;
    for (uint32_t j = 0; j < NT; j++) any_postponed |= S.m[j].armed && S.m[j].postponed;
    /* exact in the finest level, unless a postponed timer still sits in an earlier slot */
    if (S.m[which].t.level == 0 && !any_postponed) CHECK_EQ(ne, min_ns);
}

static void random_run(uint64_t seed, uint64_t start_ns, int ops)
{
    memset(&S, 0, sizeof(S));
    prng_state = seed;
    et_wheel_init(&S.w, start_ns);
    S.actions = true;
    uint64_t now = start_ns;
    uint64_t fires_before = 0;
    for (int op = 0; op < ops; op++) {
        uint32_t id = (uint32_t)below(NT);
        switch (below(14)) {
        case 0:
        case 1:
        case 2:
            m_arm(id, rand_expiry(now));
            break;
        case 12:
        case 13:
            /* mostly later than the current expiry, as the retransmission timer does */
            m_postpone(id, below(4) ? sat_add(now, below(4) ? below(1000000) : below(YEAR_NS))
                                    : rand_expiry(now));
            break;
        case 3:
            m_cancel(id);
            break;
        case 4:
            check_next_expiry();
            break;
        case 5: {
            /* next_expiry is a lower bound: just before it nothing fires */
            uint64_t ne = et_wheel_next_expiry(&S.w);
            if (ne != UINT64_MAX && ne > now) {
                fires_before = S.fires;
                now = ne - 1;
                m_advance(now);
                CHECK_EQ(S.fires, fires_before);
                now++;
                m_advance(now); /* fires or cascades */
            }
            break;
        }
        case 6:
            m_advance(now > 100000 ? now - below(100000) : 0);
            break; /* clock went back */
        default: {
            uint64_t step;
            switch (below(20)) {
            case 0:
                step = below(YEAR_NS);
                break;
            case 1:
            case 2:
                step = below(3600 * 1000000000ull);
                break;
            case 3:
            case 4:
                step = below(1000000000ull);
                break;
            case 5:
            case 6:
            case 7:
                step = below(1000000);
                break;
            default:
                step = below(4 * NS_PER_TICK);
                break;
            }
            now = sat_add(now, step);
            m_advance(now);
        }
        }
    }
    /* Drain: everything left fires once, exactly, with callbacks quiet. */
    S.actions = false;
    for (int i = 0; i < 40 && S.w.count; i++) {
        now = sat_add(now, YEAR_NS);
        m_advance(now);
    }
    m_advance(now);
    CHECK_EQ(S.w.count, 0);
    CHECK(S.fires > (uint64_t)ops / 10);
}

static void test_random_small_start(void)
{
    random_run(1, 0, 20000);
}
static void test_random_mid_start(void)
{
    random_run(2, 1ull << 40, 20000);
}
/* The top level's block ends at a multiple of 2^58 ns: start just before one. */
static void test_random_top_block_edge(void)
{
    random_run(3, (1ull << 58) - 3000, 20000);
}
static void test_random_late_start(void)
{
    random_run(4, (1ull << 62) + 12345, 20000);
}
static void test_random_more_seeds(void)
{
    for (uint64_t s = 10; s < 30; s++) random_run(s, s << 50, 3000);
}

/* ---------------------------------------------------------------------------------------------- */
/* Targeted cases */
/* ---------------------------------------------------------------------------------------------- */

static struct {
    et_timer_wheel *w;
    et_timer *log[64];
    uint64_t at[64];
    int n;
    et_timer *cancel_on_fire; /* cancelled by the next fire */
    et_timer *rearm;          /* re-armed by its own fire */
    uint64_t rearm_delta_ns;  /* from the tick of the fire */
    int rearm_left;
} L;

static void log_fire(void *ctx, et_timer *t)
{
    (void)ctx;
    if (L.n < 64) {
        L.log[L.n] = t;
        L.at[L.n] = L.w->cur_tick;
    }
    L.n++;
    if (L.cancel_on_fire) {
        et_wheel_cancel(L.w, L.cancel_on_fire);
        L.cancel_on_fire = NULL;
    }
    if (t == L.rearm && L.rearm_left > 0) {
        L.rearm_left--;
        et_wheel_arm(L.w, t, L.w->cur_tick * NS_PER_TICK + L.rearm_delta_ns);
    }
}

static void log_reset(et_timer_wheel *w)
{
    memset(&L, 0, sizeof(L));
    L.w = w;
}

static void test_rounding_and_exact_tick(void)
{
    et_timer_wheel w;
    et_timer a = {0}, b = {0}, c = {0};
    et_wheel_init(&w, 0);
    log_reset(&w);
    et_wheel_arm(&w, &a, 1025); /* rounds up to tick 2 */
    et_wheel_arm(&w, &b, 2048); /* exactly tick 2 */
    et_wheel_arm(&w, &c, 2049); /* tick 3 */
    CHECK_EQ(a.expire_tick, 2);
    CHECK_EQ(b.expire_tick, 2);
    CHECK_EQ(c.expire_tick, 3);
    CHECK_EQ(et_wheel_next_expiry(&w), 2048);
    et_wheel_advance(&w, 2047, log_fire, NULL);
    CHECK_EQ(L.n, 0);
    et_wheel_advance(&w, 2048, log_fire, NULL);
    CHECK_EQ(L.n, 2);
    CHECK(!a.armed && !b.armed && c.armed);
    CHECK_EQ(et_wheel_next_expiry(&w), 3072);
    et_wheel_advance(&w, 3071, log_fire, NULL);
    CHECK_EQ(L.n, 2);
    et_wheel_advance(&w, 3072, log_fire, NULL);
    CHECK_EQ(L.n, 3);
    CHECK_EQ(w.count, 0);
    CHECK_EQ(et_wheel_next_expiry(&w), UINT64_MAX);
}

static void test_order_across_levels(void)
{
    et_timer_wheel w;
    et_timer t[6];
    memset(t, 0, sizeof(t));
    et_wheel_init(&w, 5 * NS_PER_TICK);
    log_reset(&w);
    /* ticks chosen to sit in levels 0, 1, 2, 3 and on a 64-tick boundary */
    const uint64_t ticks[6] = {300000, 64, 4096, 70, 6, 262144};
    for (int i = 0; i < 6; i++) et_wheel_arm(&w, &t[i], ticks[i] * NS_PER_TICK);
    et_wheel_advance(&w, 1000000 * NS_PER_TICK, log_fire, NULL);
    REQUIRE(L.n == 6);
    const int order[6] = {4, 1, 3, 2, 5, 0};
    for (int i = 0; i < 6; i++) {
        CHECK(L.log[i] == &t[order[i]]);
        CHECK_EQ(L.at[i], ticks[order[i]]);
    }
}

static void test_cancel_inside_fire(void)
{
    et_timer_wheel w;
    et_timer a = {0}, b = {0}, c = {0};
    et_wheel_init(&w, 0);
    log_reset(&w);
    /* same tick, reached through different levels: b was armed when it was far away */
    et_wheel_arm(&w, &b, 5000 * NS_PER_TICK);
    et_wheel_advance(&w, 4990 * NS_PER_TICK, log_fire, NULL);
    et_wheel_arm(&w, &a, 5000 * NS_PER_TICK);
    et_wheel_arm(&w, &c, 5001 * NS_PER_TICK);
    /* whichever of a and b fires first cancels the other one; c is cancelled after that */
    L.cancel_on_fire = &b;
    et_wheel_advance(&w, 5000 * NS_PER_TICK, log_fire, NULL);
    /* the callback cancelled b, or b fired first and cancelling it again was a no-op */
    CHECK(L.n == 1 || L.n == 2);
    CHECK(!a.armed && !b.armed && c.armed);
    L.cancel_on_fire = &c;
    et_wheel_arm(&w, &a, 5001 * NS_PER_TICK);
    et_wheel_advance(&w, 6000 * NS_PER_TICK, log_fire, NULL);
    CHECK(!c.armed && !a.armed);
    CHECK_EQ(w.count, 0);
    /* cancelling twice and cancelling a never-armed timer are harmless */
    et_wheel_cancel(&w, &c);
    et_timer z = {0};
    et_wheel_cancel(&w, &z);
    CHECK_EQ(w.count, 0);
}

static void test_rearm_inside_fire(void)
{
    et_timer_wheel w;
    et_timer p = {0};
    et_wheel_init(&w, 0);
    log_reset(&w);
    /* a periodic timer inside one long advance fires at every period, at its exact tick */
    L.rearm = &p;
    L.rearm_delta_ns = 5 * NS_PER_TICK;
    L.rearm_left = 19;
    et_wheel_arm(&w, &p, 5 * NS_PER_TICK);
    et_wheel_advance(&w, 100 * NS_PER_TICK + 3, log_fire, NULL);
    CHECK_EQ(L.n, 20);
    for (int i = 0; i < 20 && i < 64; i++) CHECK_EQ(L.at[i], 5 * (uint64_t)(i + 1));
    CHECK(!p.armed);

    /* re-armed at "now" (or earlier): never again in the same call, once per later call */
    log_reset(&w);
    L.rearm = &p;
    L.rearm_delta_ns = 0;
    L.rearm_left = 1000;
    et_wheel_arm(&w, &p, 200 * NS_PER_TICK);
    et_wheel_advance(&w, 10 * YEAR_NS, log_fire, NULL);
    CHECK_EQ(L.n, 1);
    CHECK(p.armed);
    CHECK(w.steps < 100);
    et_wheel_advance(&w, 10 * YEAR_NS, log_fire, NULL); /* same time: still fires */
    CHECK_EQ(L.n, 2);
    et_wheel_advance(&w, 10 * YEAR_NS + 1, log_fire, NULL);
    CHECK_EQ(L.n, 3);
    L.rearm_left = 0;
    et_wheel_advance(&w, 10 * YEAR_NS + 1, log_fire, NULL);
    CHECK_EQ(L.n, 4);
    CHECK(!p.armed);
    CHECK_EQ(w.count, 0);
}

static void test_arm_in_past(void)
{
    et_timer_wheel w;
    et_timer a = {0}, b = {0}, c = {0};
    et_wheel_init(&w, 1000 * NS_PER_TICK + 17);
    log_reset(&w);
    et_wheel_arm(&w, &a, 0);
    et_wheel_arm(&w, &b, 1000 * NS_PER_TICK); /* the current tick itself */
    et_wheel_arm(&w, &c, 1001 * NS_PER_TICK);
    CHECK(et_wheel_next_expiry(&w) <= 1000 * NS_PER_TICK + 17);
    /* the next advance fires them even without the clock moving, or moving backwards */
    et_wheel_advance(&w, 5, log_fire, NULL);
    CHECK_EQ(w.cur_tick, 1000);
    CHECK_EQ(L.n, 2);
    CHECK(!a.armed && !b.armed && c.armed);
    CHECK_EQ(et_wheel_next_expiry(&w), 1001 * NS_PER_TICK);
    /* re-arming a due timer into the future takes it out of the due set */
    et_wheel_arm(&w, &a, 0);
    et_wheel_arm(&w, &a, 2000 * NS_PER_TICK);
    et_wheel_advance(&w, 1000 * NS_PER_TICK, log_fire, NULL);
    CHECK_EQ(L.n, 2);
    CHECK(a.armed);
    et_wheel_cancel(&w, &a);
    et_wheel_advance(&w, 1001 * NS_PER_TICK, log_fire, NULL);
    CHECK_EQ(L.n, 3);
    CHECK(L.log[2] == &c);
    CHECK_EQ(w.count, 0);
}

static et_timer big[10000];
static uint64_t big_fired;
static uint64_t big_last;
static et_timer_wheel *big_w;
static int big_bad;

static void big_fire(void *ctx, et_timer *t)
{
    (void)ctx;
    big_fired++;
    if (t->expire_tick != big_w->cur_tick || big_w->cur_tick < big_last) big_bad++;
    big_last = big_w->cur_tick;
}

static void test_idle_ten_years(void)
{
    et_timer_wheel w;
    big_w = &w;
    prng_state = 99;
    memset(big, 0, sizeof(big));
    uint64_t start = 123456789;
    et_wheel_init(&w, start);
    /* an empty wheel crosses ten years at once (the next_hint fast path: no loop at all) */
    et_wheel_advance(&w, start + 10 * YEAR_NS, big_fire, NULL);
    CHECK(w.steps <= 1);

    et_wheel_init(&w, start);
    for (int i = 0; i < 10000; i++)
        et_wheel_arm(&w, &big[i], start + 10 * YEAR_NS + 1 + below(10 * YEAR_NS));
    big_fired = big_last = 0;
    big_bad = 0;
    et_wheel_advance(&w, start + 10 * YEAR_NS, big_fire, NULL);
    CHECK_EQ(big_fired, 0);
    CHECK_EQ(w.count, 10000);
    /* a few cascades of top-level slots, nothing per tick or per timer */
    CHECK(w.steps < 200);
    uint64_t steps = w.steps;
    et_wheel_advance(&w, start + 21 * YEAR_NS, big_fire, NULL);
    CHECK_EQ(big_fired, 10000);
    CHECK_EQ(big_bad, 0);
    CHECK_EQ(w.count, 0);
    /* at most one step per timer per level, plus the overflow re-placements */
    CHECK(w.steps - steps <= 9 * 10000);

    /* and the same with timers spread over the ten years, all fired in one call */
    et_wheel_init(&w, start);
    for (int i = 0; i < 10000; i++) et_wheel_arm(&w, &big[i], start + below(10 * YEAR_NS));
    big_fired = big_last = 0;
    et_wheel_advance(&w, start + 10 * YEAR_NS, big_fire, NULL);
    CHECK_EQ(big_fired, 10000);
    CHECK_EQ(big_bad, 0);
    CHECK(w.steps <= 9 * 10000);
}

static void test_beyond_top_level(void)
{
    /* cur in the last slot of the top level: the overflow slot begins at the next block */
    uint64_t block_ns = 1ull << (6 * ET_WHEEL_LEVELS + ET_WHEEL_TICK_SHIFT);
    uint64_t start = block_ns - 10 * NS_PER_TICK;
    et_timer_wheel w;
    et_timer a = {0}, b = {0}, c = {0}, d = {0};
    et_wheel_init(&w, start);
    log_reset(&w);
    et_wheel_arm(&w, &a, start + 3 * block_ns + 7 * NS_PER_TICK); /* three blocks on */
    et_wheel_arm(&w, &b, block_ns);                               /* the first tick of the next */
    et_wheel_arm(&w, &c, start + 40 * YEAR_NS);                   /* decades on */
    et_wheel_arm(&w, &d, block_ns + block_ns / 2 + 3);            /* half a block on */
    CHECK(et_wheel_next_expiry(&w) <= block_ns);
    et_wheel_advance(&w, block_ns - 1, log_fire, NULL);
    CHECK_EQ(L.n, 0);
    et_wheel_advance(&w, block_ns, log_fire, NULL);
    CHECK_EQ(L.n, 1);
    CHECK(L.log[0] == &b);
    /* walk the clock with next_expiry: never fires early, a bounded number of hops */
    int hops = 0;
    while (w.count && hops < 1000) {
        uint64_t ne = et_wheel_next_expiry(&w);
        REQUIRE(ne != UINT64_MAX);
        int n = L.n;
        et_wheel_advance(&w, ne - 1, log_fire, NULL);
        CHECK_EQ(L.n, n);
        et_wheel_advance(&w, ne, log_fire, NULL);
        hops++;
    }
    CHECK_EQ(w.count, 0);
    CHECK(hops < 60);
    REQUIRE(L.n == 4);
    CHECK(L.log[1] == &d && L.log[2] == &a && L.log[3] == &c);
    CHECK_EQ(L.at[1], d.expire_tick);
    CHECK_EQ(L.at[2], a.expire_tick);
    CHECK_EQ(L.at[3], c.expire_tick);
}

static void test_next_expiry_bounds(void)
{
    et_timer_wheel w;
    et_timer a = {0}, b = {0};
    et_wheel_init(&w, 0);
    log_reset(&w);
    CHECK_EQ(et_wheel_next_expiry(&w), UINT64_MAX);
    et_wheel_arm(&w, &a, 10 * NS_PER_TICK);
    CHECK_EQ(et_wheel_next_expiry(&w), 10 * NS_PER_TICK); /* level 0: exact */
    et_wheel_arm(&w, &b, 5 * NS_PER_TICK + 1);
    CHECK_EQ(et_wheel_next_expiry(&w), 6 * NS_PER_TICK);
    et_wheel_cancel(&w, &b);
    et_wheel_cancel(&w, &a);
    CHECK_EQ(et_wheel_next_expiry(&w), UINT64_MAX);
    /* a far timer: each hop to the bound either cascades or fires; at most one per level */
    uint64_t target = 123456789012345ull;
    et_wheel_arm(&w, &a, target);
    uint64_t prev = 0;
    int hops = 0;
    while (a.armed && hops < 20) {
        uint64_t ne = et_wheel_next_expiry(&w);
        CHECK(ne > prev && ne <= ceil_tick(target) * NS_PER_TICK);
        prev = ne;
        et_wheel_advance(&w, ne, log_fire, NULL);
        hops++;
    }
    CHECK(!a.armed);
    CHECK(hops <= ET_WHEEL_LEVELS);
    CHECK_EQ(L.n, 1);
    CHECK_EQ(L.at[0], ceil_tick(target));
}

static void test_end_of_time(void)
{
    et_timer_wheel w;
    et_timer a = {0}, b = {0};
    et_wheel_init(&w, UINT64_MAX - 10 * YEAR_NS);
    log_reset(&w);
    et_wheel_arm(&w, &a, UINT64_MAX);        /* rounds up past the last reachable tick */
    et_wheel_arm(&w, &b, UINT64_MAX - 2000); /* the last reachable tick */
    CHECK_EQ(b.expire_tick, MAX_TICK);
    CHECK(et_wheel_next_expiry(&w) <= MAX_TICK * NS_PER_TICK);
    et_wheel_advance(&w, UINT64_MAX - 1024, log_fire, NULL);
    CHECK_EQ(L.n, 0);
    et_wheel_advance(&w, UINT64_MAX, log_fire, NULL);
    CHECK_EQ(L.n, 1);
    CHECK(L.log[0] == &b);
    CHECK(a.armed);
    CHECK_EQ(et_wheel_next_expiry(&w), UINT64_MAX); /* it can never fire */
    et_wheel_advance(&w, UINT64_MAX, log_fire, NULL);
    CHECK_EQ(L.n, 1);
    et_wheel_cancel(&w, &a);
    CHECK_EQ(w.count, 0);
}

int main(void)
{
    RUN(test_rounding_and_exact_tick);
    RUN(test_order_across_levels);
    RUN(test_cancel_inside_fire);
    RUN(test_rearm_inside_fire);
    RUN(test_arm_in_past);
    RUN(test_next_expiry_bounds);
    RUN(test_beyond_top_level);
    RUN(test_end_of_time);
    RUN(test_idle_ten_years);
    RUN(test_random_small_start);
    RUN(test_random_mid_start);
    RUN(test_random_top_block_edge);
    RUN(test_random_late_start);
    RUN(test_random_more_seeds);
    return th_summary();
}
