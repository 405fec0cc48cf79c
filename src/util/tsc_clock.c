#include "util/tsc_clock.h"

#include <stdio.h>
#include <string.h>

#include "util/clock.h"

/* The kernel switches away from the TSC when it finds it unstable (a VM migrated, cores out of
   step): its choice is the test this clock relies on. */
static bool kernel_uses_tsc(void)
{
    char buf[32] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f) return false;
    bool ok = fgets(buf, sizeof buf, f) && strcmp(buf, "tsc\n") == 0;
    fclose(f);
    return ok;
}

/* The counter read and the clock read as one instant: the pair with the shortest gap of a few
   tries, so that a preemption between the two reads cannot skew an anchor. */
static void read_pair(uint64_t *tsc, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    *tsc = *ns = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t a = et_tsc_ticks();
        uint64_t n = et_mono_ns();
        uint64_t b = et_tsc_ticks();
        if (b - a < best) {
            best = b - a;
            *tsc = a + (b - a) / 2;
            *ns = n;
        }
    }
}

/* The next interval from an anchor at (tsc, start_ns) where the monotonic clock read ns:
   its rate meets the monotonic clock, as the long baseline projects it, at the interval's end. */
static void plan(et_tsc *t, uint64_t tsc, uint64_t start_ns, uint64_t ns)
{
    /* ns per tick << 32, over everything seen since the first anchor. */
    unsigned __int128 rate = ((unsigned __int128)(ns - t->first_ns) << 32) / (tsc - t->first_tsc);
    if (rate == 0) rate = 1;
    t->span = (uint64_t)(((unsigned __int128)ET_TSC_ANCHOR_NS << 32) / rate);
    if (t->span == 0) t->span = 1;
    uint64_t end_ns = ns + ET_TSC_ANCHOR_NS;
    /* Ahead of the clock (start_ns > ns): run slower this interval, never backwards. */
    t->mult = end_ns > start_ns
                  ? (uint64_t)(((unsigned __int128)(end_ns - start_ns) << 32) / t->span)
                  : 0;
    t->base_tsc = tsc;
    t->base_ns = start_ns;
}

void et_tsc_start(et_tsc *t, uint64_t tsc0, uint64_t ns0, uint64_t tsc1, uint64_t ns1)
{
    memset(t, 0, sizeof *t);
    t->first_tsc = tsc0;
    t->first_ns = ns0;
    plan(t, tsc1, ns1, ns1);
}

bool et_tsc_init(et_tsc *t)
{
    memset(t, 0, sizeof *t);
#if !defined(__x86_64__)
    return false;
#else
    if (!kernel_uses_tsc()) return false;
    uint64_t tsc0, ns0, tsc, ns;
    read_pair(&tsc0, &ns0);
    do read_pair(&tsc, &ns);
    while (ns - ns0 < 50000 && (int64_t)(tsc - tsc0) >= 0);
    if ((int64_t)(tsc - tsc0) <= 0) return false; /* a counter that does not count */
    et_tsc_start(t, tsc0, ns0, tsc, ns);
    return true;
#endif
}

uint64_t et_tsc_reanchor(et_tsc *t, uint64_t tsc, uint64_t ns)
{
    /* What this interval's rate shows for tsc, at most its end (the largest value it can have
       returned): the next interval starts there or at the clock, whichever is later. */
    uint64_t d = tsc - t->base_tsc;
    if (d > t->span) d = t->span;
    uint64_t shown = t->base_ns + (uint64_t)(((unsigned __int128)d * t->mult) >> 32);
    if ((int64_t)(tsc - t->first_tsc) <= 0 || (int64_t)(ns - t->first_ns) <= 0) {
        /* The counter went back (or the clock did not move): a new baseline. */
        t->first_tsc = tsc - 1;
        t->first_ns = ns - 1;
    }
    plan(t, tsc, shown > ns ? shown : ns, ns);
    return t->base_ns;
}

uint64_t et_tsc_anchor(et_tsc *t)
{
    uint64_t tsc, ns;
    read_pair(&tsc, &ns);
    return et_tsc_reanchor(t, tsc, ns);
}
