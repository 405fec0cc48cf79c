/*
 * The TSC clock (util/tsc_clock.h): against a simulated counter, the time never goes back and
 * stays within microseconds of the clock it follows, whatever the counter's rate, a clock that
 * runs a little fast or slow, jitter in the readings, or a counter that jumps back; against the
 * real counter, where the kernel keeps time with it, the same bounds with the real clock.
 */
#include <stdio.h>

#include "harness.h"

#include "api/instance.h"
#include "efvitcp/efvitcp.h"
#include "util/clock.h"
#include "util/random.h"
#include "util/tsc_clock.h"

/* A counter at hz ticks per second of a reference clock that runs ppm parts per million fast. */
typedef struct sim {
    double ns_per_tick;
    uint64_t tsc, ns0;
    et_rng rng;
} sim;

static uint64_t sim_ns(const sim *s)
{
    return s->ns0 + (uint64_t)((double)s->tsc * s->ns_per_tick);
}

/* The clock as an anchor reads it: up to jitter ns late (the two reads are not one instant). */
static uint64_t sim_read(sim *s, uint64_t jitter)
{
    return sim_ns(s) + (jitter ? et_rng_below(&s->rng, (uint32_t)jitter) : 0);
}

/* Runs secs seconds of reads at random gaps; returns the largest error after warm_ns. */
static uint64_t run(double hz, double ppm, uint64_t jitter, double secs, uint64_t warm_ns,
                    uint64_t *max_err_all, int *backwards)
{
    sim s = {.ns_per_tick = 1e9 / hz * (1.0 + ppm * 1e-6), .tsc = 1000, .ns0 = 5000000000ull};
    et_rng_seed(&s.rng, 42);
    et_tsc t;
    uint64_t t0 = s.tsc, n0 = sim_read(&s, jitter);
    s.tsc += (uint64_t)(50000 / s.ns_per_tick); /* the 50 µs calibration */
    et_tsc_start(&t, t0, n0, s.tsc, sim_read(&s, jitter));
    uint64_t last = 0, worst = 0, worst_all = 0, end = sim_ns(&s) + (uint64_t)(secs * 1e9);
    *backwards = 0;
    while (sim_ns(&s) < end) {
        s.tsc += 1 + et_rng_below(&s.rng, 200000); /* up to ~70 µs between reads */
        uint64_t v = et_tsc_at(&t, s.tsc);
        if (v == UINT64_MAX) v = et_tsc_reanchor(&t, s.tsc, sim_read(&s, jitter));
        if (v < last) (*backwards)++;
        last = v;
        uint64_t truth = sim_ns(&s), err = v > truth ? v - truth : truth - v;
        if (err > worst_all) worst_all = err;
        if (truth - s.ns0 > warm_ns && err > worst) worst = err;
    }
    *max_err_all = worst_all;
    return worst;
}

static void test_follows_the_clock(void)
{
    static const double hz[] = {1.0e9, 2.7e9, 3.6e9};
    static const double ppm[] = {0, 150, -150};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            uint64_t all;
            int back;
            /* 40 ns of jitter on a 50 µs calibration: a rate off by ~1e-3, 10 µs over the first
               10 ms interval; the long baseline then brings it to well under a microsecond. */
            uint64_t late = run(hz[i], ppm[j], 40, 3.0, 1000000000ull, &all, &back);
            CHECK_EQ(back, 0);
            CHECK(all < 5000);
            CHECK(late < 200);
            printf("hz %.1e ppm %.0f: worst %llu ns, after 1 s %llu ns\n", hz[i], ppm[j],
                   (unsigned long long)all, (unsigned long long)late);
        }
    }
}

static void test_exact_without_jitter(void)
{
    uint64_t all;
    int back;
    uint64_t late = run(2.7e9, 0, 0, 1.0, 100000000ull, &all, &back);
    CHECK_EQ(back, 0);
    CHECK(all < 50); /* rounding only */
    CHECK(late < 50);
}

/* A counter read on a core whose counter lags (or a clock stepped back under it): the time
   still never goes back, and the clock catches up within an interval or two. */
static void test_counter_back(void)
{
    et_tsc t;
    et_tsc_start(&t, 1000000, 1000000000ull, 1135000, 1000050000ull); /* 2.7 GHz */
    uint64_t v1 = et_tsc_at(&t, 2000000);
    REQUIRE(v1 != UINT64_MAX);
    uint64_t v2 = et_tsc_reanchor(&t, 500000, 999900000ull); /* both behind the last anchor */
    CHECK(v2 >= v1);
    uint64_t v3 = et_tsc_at(&t, 600000);
    CHECK(v3 == UINT64_MAX || v3 >= v2);
}

static void test_real_counter(void)
{
    et_tsc t;
    if (!et_tsc_init(&t)) {
        printf("note: the kernel clocksource is not the TSC here: real counter not checked\n");
        return;
    }
    uint64_t end = et_mono_ns() + 30000000ull, last = 0;
    int back = 0, off = 0;
    while (et_mono_ns() < end) {
        uint64_t a = et_mono_ns();
        uint64_t v = et_tsc_now(&t);
        uint64_t b = et_mono_ns();
        if (v < last) back++;
        last = v;
        /* v was read between a and b, give or take the clock's error over one interval */
        if (v + 100000 < a || v > b + 100000) off++;
    }
    CHECK_EQ(back, 0);
    CHECK_EQ(off, 0);
}

/* An instance on a simulated wire runs on the wire's clock (link.h): it calibrates no TSC, a
   50 µs spin at every init that was most of a small instance's setup (one per fuzz input). Its
   et_tsc stays as zeroed (the calibration itself is test_real_counter's). */
static void test_no_calibration_on_a_wire(void)
{
    efvitcp_wire *w = NULL;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = "198.18.0.1/24";
    cfg.wire = w;
    cfg.max_conns = 2;
    efvitcp_client *cli = NULL;
    CHECK_NULL_ERR(efvitcp_client_init(&cli, "mem:client", &cfg));
    REQUIRE(cli);
    CHECK_EQ(cli->st.tsc.span, 0);
    CHECK_EQ(cli->st.tsc.mult, 0);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

int main(void)
{
    RUN(test_follows_the_clock);
    RUN(test_exact_without_jitter);
    RUN(test_counter_back);
    RUN(test_real_counter);
    RUN(test_no_calibration_on_a_wire);
    return th_summary();
}
