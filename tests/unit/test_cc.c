/*
 * Congestion control: initial windows, slow start, NewReno byte counting and recovery, the CUBIC
 * curve of RFC 9438 with its Reno-friendly region and fast convergence, NONE, and invariants under
 * a seeded random sequence of hooks. All time is virtual nanoseconds.
 */
#include <math.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"
#include "tcp/cc.h"

#define MAXW  0x7fffffffu
#define S     1460u
#define MS    1000000ull
#define SEC   1000000000ull
#define BETA  0.7
#define ALPHA (3.0 * (1.0 - BETA) / (1.0 + BETA))

static double segs(const et_cc *cc)
{
    return (double)cc->cwnd / cc->smss;
}

static double cubic_at(double w_max, double k, double t)
{
    double d = t - k;
    return 0.4 * d * d * d + w_max;
}

/* One round trip of one ACK per segment for the whole window at its start, evenly spread. */
static void ack_round(et_cc *cc, uint64_t *now, uint64_t rtt)
{
    uint32_t n = cc->cwnd / cc->smss;
    if (n == 0) n = 1;
    for (uint32_t i = 0; i < n; i++) {
        *now += rtt / n;
        et_cc_on_ack(cc, cc->smss, rtt, *now);
    }
}

/* CUBIC after a loss at a window of 100 segments and the recovery that ended it: cwnd 70. */
static void cubic_after_loss_at_100(et_cc *cc)
{
    et_cc_init(cc, EFVITCP_CC_CUBIC, S);
    cc->cwnd = 100 * S;
    et_cc_on_fast_loss(cc, 100 * S, 0);
    et_cc_on_recovery_exit(cc, 100 * S);
}

static void test_initial_window(void)
{
    static const struct {
        uint32_t smss, iw;
    } cases[] = {
        {536, 2144},  {1095, 4380}, {1096, 3288}, {1460, 4380},
        {2190, 6570}, {2191, 4382}, {2200, 4400}, {8960, 17920},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int algo = EFVITCP_CC_NEWRENO; algo <= EFVITCP_CC_CUBIC; algo++) {
            et_cc cc;
            et_cc_init(&cc, algo, cases[i].smss);
            CHECK_EQ(cc.algo, algo);
            CHECK_EQ(cc.smss, cases[i].smss);
            CHECK_EQ(cc.cwnd, cases[i].iw);
            CHECK_EQ(cc.ssthresh, MAXW);
            CHECK_EQ(cc.epoch_ns, 0);
        }
    }
    /* Hostile MSS values give a usable window instead of 0 or an overflow. */
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, 0);
    CHECK_EQ(cc.smss, 1);
    CHECK_EQ(cc.cwnd, 4);
    et_cc_init(&cc, EFVITCP_CC_CUBIC, UINT32_MAX);
    CHECK_EQ(cc.smss, 65535);
    CHECK_EQ(cc.cwnd, 2 * 65535);
}

/* RFC 6928 §2: min(10 * MSS, max(2 * MSS, 14600)), and n segments alike; the MSS learned after
   the handshake resizes it (et_cc_set_smss); an undo restores at least the prior window. */
static void test_initial_window_rfc6928(void)
{
    static const struct {
        uint32_t smss, iw;
    } cases[] = {{536, 5360}, {1448, 14480}, {1460, 14600}, {4000, 14600}, {8960, 17920}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        et_cc cc;
        et_cc_init_iw(&cc, EFVITCP_CC_CUBIC, cases[i].smss, 10);
        CHECK_EQ(cc.cwnd, cases[i].iw);
    }
    et_cc cc;
    et_cc_init_iw(&cc, EFVITCP_CC_NEWRENO, 536, 10);
    et_cc_set_smss(&cc, 1460);
    CHECK_EQ(cc.cwnd, 14600);
    et_cc_init_iw(&cc, EFVITCP_CC_NEWRENO, 1000, 4);
    CHECK_EQ(cc.cwnd, 4000);
    et_cc prior = cc;
    et_cc_on_sack_loss(&cc, 4000, 0);
    CHECK(cc.cwnd < prior.cwnd);
    et_cc_undo(&cc, &prior);
    CHECK_EQ(cc.cwnd, prior.cwnd);
    CHECK_EQ(cc.ssthresh, prior.ssthresh);
}

static void test_set_smss(void)
{
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, 536);
    et_cc_set_smss(&cc, 1460);
    CHECK_EQ(cc.smss, 1460);
    CHECK_EQ(cc.cwnd, 4380);
    et_cc_set_smss(&cc, 8960);
    CHECK_EQ(cc.cwnd, 17920);

    /* Once the window grew, a new MSS leaves it alone. */
    et_cc_init(&cc, EFVITCP_CC_CUBIC, 1460);
    et_cc_on_ack(&cc, 1460, 0, 1);
    CHECK_EQ(cc.cwnd, 5840);
    et_cc_set_smss(&cc, 536);
    CHECK_EQ(cc.smss, 536);
    CHECK_EQ(cc.cwnd, 5840);

    /* After a loss either, even if cwnd happens to equal the old IW. */
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, 1460);
    cc.cwnd = 4 * S;
    et_cc_on_fast_loss(&cc, 0, 0); /* ssthresh 2920, cwnd 2920 + 4380 */
    cc.cwnd = 4380;
    et_cc_set_smss(&cc, 1000);
    CHECK_EQ(cc.cwnd, 4380);

    /* A larger MSS lifts a window that would fall below one segment. */
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, 536);
    cc.cwnd = 600;
    cc.ssthresh = 2000;
    et_cc_set_smss(&cc, 1460);
    CHECK_EQ(cc.cwnd, 1460);
    CHECK(cc.ssthresh >= 2 * 1460);
}

static void test_slow_start_doubles(void)
{
    for (int algo = EFVITCP_CC_NEWRENO; algo <= EFVITCP_CC_CUBIC; algo++) {
        et_cc cc;
        uint64_t now = SEC;
        et_cc_init(&cc, algo, S);
        for (int r = 0; r < 6; r++) {
            uint32_t before = cc.cwnd;
            ack_round(&cc, &now, 10 * MS);
            CHECK_EQ(cc.cwnd, 2 * before);
        }
        CHECK_EQ(cc.cwnd, 3 * S << 6);

        /* Delayed ACKs (2 segments each) double too: L = 2*SMSS (RFC 3465). */
        et_cc_init(&cc, algo, S);
        cc.cwnd = 4 * S;
        for (int r = 0; r < 4; r++) {
            uint32_t before = cc.cwnd;
            for (uint32_t i = 0; i < before / (2 * S); i++) et_cc_on_ack(&cc, 2 * S, 0, now);
            CHECK_EQ(cc.cwnd, 2 * before);
        }

        /* A stretch ACK opens by 2*SMSS only; a partial segment by what it acked. */
        et_cc_init(&cc, algo, S);
        et_cc_on_ack(&cc, 10 * S, 0, now);
        CHECK_EQ(cc.cwnd, 4380 + 2 * S);
        et_cc_on_ack(&cc, 100, 0, now);
        CHECK_EQ(cc.cwnd, 4380 + 2 * S + 100);
        et_cc_on_ack(&cc, UINT32_MAX, 0, now);
        CHECK_EQ(cc.cwnd, 4380 + 4 * S + 100);
        et_cc_on_ack(&cc, 0, 0, now);
        CHECK_EQ(cc.cwnd, 4380 + 4 * S + 100);

        /* Slow start may overshoot ssthresh by at most one increment, then it stops. */
        et_cc_init(&cc, algo, S);
        cc.ssthresh = 10 * S;
        cc.cwnd = 9 * S;
        et_cc_on_ack(&cc, 2 * S, 0, now);
        CHECK_EQ(cc.cwnd, 11 * S);
        et_cc_on_ack(&cc, 2 * S, 0, now);
        CHECK(cc.cwnd <= 11 * S + S);
    }
}

static void test_newreno_avoidance(void)
{
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, S);
    cc.cwnd = cc.ssthresh = 10 * S;
    /* Exactly one SMSS per cwnd of acknowledged bytes (RFC 3465 §2.1). */
    for (int i = 0; i < 9; i++) et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 10 * S);
    CHECK_EQ(cc.bytes_acked, 9 * S);
    et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 11 * S);
    CHECK_EQ(cc.bytes_acked, 0);
    for (int i = 0; i < 10; i++) et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 11 * S);
    et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 12 * S);

    /* The bytes beyond cwnd carry over to the next increment. */
    cc.cwnd = 10 * S;
    cc.bytes_acked = 0;
    for (int i = 0; i < 4; i++) et_cc_on_ack(&cc, 3 * S, 0, 0);
    CHECK_EQ(cc.cwnd, 11 * S);
    CHECK_EQ(cc.bytes_acked, 2 * S);
    et_cc_on_ack(&cc, 9 * S - 1, 0, 0);
    CHECK_EQ(cc.cwnd, 11 * S);
    et_cc_on_ack(&cc, 1, 0, 0);
    CHECK_EQ(cc.cwnd, 12 * S);
    CHECK_EQ(cc.bytes_acked, 0);

    /* ~1 SMSS per round trip over many rounds, whatever the ACK size. */
    uint64_t now = 0;
    for (int r = 0; r < 20; r++) ack_round(&cc, &now, 10 * MS);
    CHECK_EQ(cc.cwnd, 32 * S);
    uint64_t total = 0;
    while (total < 100ull * 32 * S) {
        et_cc_on_ack(&cc, 1000, 0, 0);
        total += 1000;
    }
    /* dW/dB = 1/W segments: W^2 = 32^2 + 2 * 3200, so about 86 segments. */
    CHECK(cc.cwnd >= 84 * S && cc.cwnd <= 88 * S);
    CHECK_EQ(cc.cwnd % S, 0);

    /* A hostile huge ACK grows by one SMSS and cannot wrap the counter. */
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, S);
    cc.cwnd = cc.ssthresh = 10 * S;
    et_cc_on_ack(&cc, UINT32_MAX, 0, 0);
    CHECK_EQ(cc.cwnd, 11 * S);
    et_cc_on_ack(&cc, UINT32_MAX, 0, 0);
    CHECK_EQ(cc.cwnd, 12 * S);
    CHECK(cc.bytes_acked <= MAXW);
}

/* RFC 6582 §3.2 step 5: a partial ACK deflates by the bytes it acknowledged and adds back one
   SMSS when at least one SMSS was acknowledged; cwnd never drops below one SMSS. */
static void test_partial_ack(void)
{
    for (int algo = EFVITCP_CC_NEWRENO; algo <= EFVITCP_CC_CUBIC; algo++) {
        et_cc cc;
        et_cc_init(&cc, algo, S);
        cc.cwnd = 20 * S;
        et_cc_on_fast_loss(&cc, 20 * S, 0);
        uint32_t w = cc.cwnd, th = cc.ssthresh;
        et_cc_on_partial_ack(&cc, 3 * S);
        CHECK_EQ(cc.cwnd, w - 3 * S + S);
        et_cc_on_partial_ack(&cc, S - 1); /* less than one SMSS: no add-back */
        CHECK_EQ(cc.cwnd, w - 3 * S + S - (S - 1));
        et_cc_on_partial_ack(&cc, 100 * S);
        CHECK_EQ(cc.cwnd, S);
        et_cc_on_partial_ack(&cc, UINT32_MAX);
        CHECK_EQ(cc.cwnd, S);
        CHECK_EQ(cc.ssthresh, th); /* recovery moves cwnd only */
        et_cc_on_dupack(&cc);
        CHECK_EQ(cc.cwnd, 2 * S);
    }
}

static void test_newreno_loss(void)
{
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_NEWRENO, S);
    cc.cwnd = 20 * S;
    cc.bytes_acked = 77;
    et_cc_on_fast_loss(&cc, 20 * S, 0);
    CHECK_EQ(cc.ssthresh, 10 * S);
    CHECK_EQ(cc.cwnd, 13 * S);
    CHECK_EQ(cc.bytes_acked, 0);
    /* RFC 6582 step 4: each further duplicate ACK inflates by SMSS; the full ACK deflates. */
    for (int i = 0; i < 5; i++) et_cc_on_dupack(&cc);
    CHECK_EQ(cc.cwnd, 18 * S);
    et_cc_on_recovery_exit(&cc, 5 * S);
    CHECK_EQ(cc.cwnd, 6 * S);
    et_cc_on_recovery_exit(&cc, 0);
    CHECK_EQ(cc.cwnd, 2 * S);
    et_cc_on_recovery_exit(&cc, 50 * S);
    CHECK_EQ(cc.cwnd, 10 * S);

    /* eqn 4 floor of 2*SMSS and exact halving of odd flights. */
    et_cc_on_fast_loss(&cc, 3 * S, 0);
    CHECK_EQ(cc.ssthresh, 2 * S);
    CHECK_EQ(cc.cwnd, 5 * S);
    et_cc_on_fast_loss(&cc, 4 * S + 1, 0);
    CHECK_EQ(cc.ssthresh, 2 * S);
    et_cc_on_fast_loss(&cc, 6 * S + 1, 0);
    CHECK_EQ(cc.ssthresh, 3 * S);
    et_cc_on_fast_loss(&cc, UINT32_MAX, 0);
    CHECK_EQ(cc.ssthresh, UINT32_MAX / 2);
    CHECK_EQ(cc.cwnd, MAXW);

    /* RTO: loss window of one segment. */
    cc.cwnd = 20 * S;
    et_cc_on_rto(&cc, 20 * S, 0);
    CHECK_EQ(cc.ssthresh, 10 * S);
    CHECK_EQ(cc.cwnd, S);
    et_cc_on_rto(&cc, S, 0);
    CHECK_EQ(cc.ssthresh, 2 * S);
    CHECK_EQ(cc.cwnd, S);
    /* Then slow start back up to ssthresh, then avoidance. */
    et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 2 * S);
    et_cc_on_ack(&cc, S, 0, 0);
    CHECK_EQ(cc.cwnd, 2 * S);
    CHECK_EQ(cc.bytes_acked, S);
}

static void test_idle_restart(void)
{
    for (int algo = EFVITCP_CC_NEWRENO; algo <= EFVITCP_CC_CUBIC; algo++) {
        et_cc cc;
        et_cc_init(&cc, algo, S);
        cc.cwnd = 50 * S;
        cc.ssthresh = 40 * S;
        cc.epoch_ns = 123;
        et_cc_on_idle_restart(&cc);
        CHECK_EQ(cc.cwnd, 3 * S);
        CHECK_EQ(cc.ssthresh, 40 * S);
        CHECK_EQ(cc.epoch_ns, 0);
        cc.cwnd = 2 * S;
        et_cc_on_idle_restart(&cc);
        CHECK_EQ(cc.cwnd, 2 * S);
    }
}

static void test_cubic_loss_values(void)
{
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = 100 * S;
    cc.epoch_ns = 5;
    cc.cwnd_inc = 0.5;
    et_cc_on_fast_loss(&cc, 100 * S, 7 * SEC);
    CHECK(fabs(cc.w_max - 100.0) < 1e-9);
    CHECK_EQ(cc.ssthresh, 70 * S);
    CHECK_EQ(cc.cwnd, 73 * S);
    CHECK_EQ(cc.epoch_ns, 0);
    CHECK(cc.cwnd_inc == 0.0);
    et_cc_on_recovery_exit(&cc, 80 * S);
    CHECK_EQ(cc.cwnd, 70 * S);
    et_cc_on_recovery_exit(&cc, 10 * S);
    CHECK_EQ(cc.cwnd, 11 * S);

    /* ssthresh comes from the flight (RFC 9438 §4.6), floored at 2*SMSS. */
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = 100 * S;
    et_cc_on_fast_loss(&cc, 40 * S, 0);
    CHECK_EQ(cc.ssthresh, 28 * S);
    CHECK(fabs(cc.w_max - 100.0) < 1e-9);
    et_cc_on_fast_loss(&cc, S, 0);
    CHECK_EQ(cc.ssthresh, 2 * S);

    /* RTO: one segment, ssthresh by beta, and §4.8's K = 0 restart. */
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = 100 * S;
    cc.w_max = 120;
    cc.epoch_ns = 9;
    et_cc_on_rto(&cc, 100 * S, 0);
    CHECK_EQ(cc.cwnd, S);
    CHECK_EQ(cc.ssthresh, 70 * S);
    CHECK_EQ(cc.epoch_ns, 0);

    uint64_t now = SEC;
    while (cc.cwnd < cc.ssthresh) {
        now += MS;
        et_cc_on_ack(&cc, S, 100 * MS, now);
    }
    uint32_t epoch_cwnd = cc.cwnd;
    CHECK_EQ(epoch_cwnd, 70 * S);
    CHECK_EQ(cc.epoch_ns, 0);
    now += 100 * MS;
    et_cc_on_ack(&cc, S, 100 * MS, now);
    CHECK_EQ(cc.epoch_ns, now);
    CHECK(cc.k == 0.0);
    CHECK(fabs(cc.w_max - (double)epoch_cwnd / S) < 1e-9);
    CHECK(fabs(cc.w_est - (double)epoch_cwnd / S) < 0.1);
    /* Convex from the start: C*t^3 above the window at the start of the stage. With the old
       W_max of 100 kept instead, cwnd would be near 102 at t = 6 s rather than near 156. */
    uint64_t start = now;
    while (now - start < 6 * SEC) ack_round(&cc, &now, 100 * MS);
    double t = (double)(now - start) / SEC;
    double expect = cubic_at(70, 0, t);
    CHECK(expect > 150);
    CHECK(segs(&cc) > expect - 3 && segs(&cc) < cubic_at(70, 0, t + 0.1) + 2);
}

/* A long run after a loss at W_max = 100 with a 200 ms RTT: the Reno estimate stays below the
   curve, so cwnd must trace W_cubic. */
typedef struct sim {
    et_cc cc;
    uint64_t now, start, rtt;
} sim;

static double sim_until(sim *s, double t)
{
    while ((double)(s->now - s->start) / SEC < t) {
        uint32_t n = s->cc.cwnd / s->cc.smss;
        s->now += s->rtt / n;
        et_cc_on_ack(&s->cc, s->cc.smss, s->rtt, s->now);
        double tt = (double)(s->now - s->start) / SEC;
        double lo = cubic_at(100, s->cc.k, tt) - 2.5;
        double hi = cubic_at(100, s->cc.k, tt + (double)s->rtt / SEC) + 1.0;
        if (segs(&s->cc) < lo || segs(&s->cc) > hi) {
            fprintf(stderr, "t=%.3f cwnd=%.2f outside [%.2f, %.2f]\n", tt, segs(&s->cc), lo, hi);
            th_failures++;
            return -1;
        }
    }
    return segs(&s->cc);
}

static void test_cubic_curve(void)
{
    sim s = {.rtt = 200 * MS, .now = 3 * SEC};
    et_cc_init(&s.cc, EFVITCP_CC_CUBIC, S);
    s.cc.cwnd = 100 * S;
    et_cc_on_fast_loss(&s.cc, 100 * S, s.now);
    et_cc_on_recovery_exit(&s.cc, 69 * S);
    REQUIRE(s.cc.cwnd == 70 * S);
    REQUIRE(s.cc.epoch_ns == 0);

    s.now += 1;
    et_cc_on_ack(&s.cc, S, s.rtt, s.now);
    s.start = s.cc.epoch_ns;
    REQUIRE(s.start == s.now);
    double k = cbrt(100 * 0.3 / 0.4);
    CHECK(fabs(k - 4.2172) < 1e-3);
    CHECK(fabs(s.cc.k - k) < 1e-9);
    CHECK(fabs(s.cc.w_est - 70.0) < 0.01);

    double w0 = segs(&s.cc);
    double w1 = sim_until(&s, 1.0);
    double w3 = sim_until(&s, 3.0);
    double w4 = sim_until(&s, 4.0);
    /* Concave: fast at first, slowing towards W_max. */
    CHECK(w1 - w0 > 10);
    CHECK(w4 - w3 < 3);
    CHECK(w4 - w3 < (w1 - w0) / 5);
    /* Plateau around K. */
    double wk0 = sim_until(&s, k - 0.5);
    double wk = sim_until(&s, k);
    double wk1 = sim_until(&s, k + 0.5);
    CHECK(wk0 >= 98 && wk0 <= 101.5);
    CHECK(wk >= 99 && wk <= 101.5);
    CHECK(wk1 >= 99 && wk1 <= 102);
    CHECK(wk1 - wk0 <= 2);
    /* Convex beyond K: each second adds more than the one before. */
    double a = sim_until(&s, k + 1);
    double b = sim_until(&s, k + 2);
    double c = sim_until(&s, k + 3);
    CHECK(b - a >= a - wk);
    CHECK(c - b > b - a + 2);
    CHECK(c > 108 && c < 115);
    /* Reno's estimate was below the curve all along. */
    CHECK(s.cc.w_est < c);
    CHECK(s.cc.w_est > 70 + ALPHA * 32 && s.cc.w_est < 70 + ALPHA * 40);
}

static void test_cubic_no_rtt(void)
{
    /* srtt 0: no lookahead, target is W_cubic(t) itself. */
    et_cc cc;
    cubic_after_loss_at_100(&cc);
    uint64_t now = 0; /* a stage that starts at time 0 still gets an epoch */
    et_cc_on_ack(&cc, S, 0, now);
    CHECK_EQ(cc.epoch_ns, 1);
    while (now < 10 * SEC) {
        now += 10 * MS;
        et_cc_on_ack(&cc, 10 * S, 0, now);
        double t = (double)(now - 1) / SEC;
        double lim = fmax(cubic_at(100, cc.k, t), cc.w_est);
        CHECK(segs(&cc) <= lim + 1.0);
        /* ACKs at 1000 segments/s with cwnd up to ~180 make an RTT of up to ~0.18 s; without
           lookahead cwnd trails the curve by about that much. */
        CHECK(segs(&cc) >= cubic_at(100, cc.k, t - 0.25) - 1.0);
    }
    /* A clock going backwards does not shrink anything. */
    uint32_t before = cc.cwnd;
    et_cc_on_ack(&cc, S, 0, 5);
    CHECK(cc.cwnd >= before);
}

static void test_cubic_growth_step(void)
{
    /* A stage that began 10 s ago from W_max = 10 with K = 0: W_cubic(10) = 410, far above
       1.5 * cwnd, so the target is capped (RFC 9438 §4.5) and 10 segments acked at cwnd = 10
       add (15 - 10) / 10 * 10 = 5 segments. */
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = cc.ssthresh = 10 * S;
    cc.epoch_ns = SEC;
    cc.w_max = 10;
    cc.k = 0;
    cc.w_est = 10;
    et_cc_on_ack(&cc, 10 * S, 0, 11 * SEC);
    CHECK_EQ(cc.cwnd, 15 * S);
    CHECK(cc.cwnd_inc == 0.0);

    /* Concave: target W_cubic(t + RTT) = 100 - 0.4 * 1 = 99.6 at cwnd = 90; one segment acked
       adds 9.6 / 90 of a segment, carried until it reaches a whole one. */
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = cc.ssthresh = 90 * S;
    cc.epoch_ns = SEC;
    cc.w_max = 100;
    cc.k = 3;
    cc.w_est = 90;
    et_cc_on_ack(&cc, S, 500 * MS, 2500 * MS); /* t = 1.5 s, t + RTT = 2 s = K - 1 */
    CHECK_EQ(cc.cwnd, 90 * S);
    CHECK(fabs(cc.cwnd_inc - 9.6 / 90) < 1e-6);
    for (int i = 0; i < 8; i++) et_cc_on_ack(&cc, S, 500 * MS, 2500 * MS);
    CHECK_EQ(cc.cwnd, 90 * S);
    et_cc_on_ack(&cc, S, 500 * MS, 2500 * MS); /* 10 * 9.6 / 90 > 1 */
    CHECK_EQ(cc.cwnd, 91 * S);
    CHECK(fabs(cc.cwnd_inc - (96.0 / 90 - 1)) < 1e-6);
    /* Half a segment acked counts as half. */
    et_cc_on_ack(&cc, S / 2, 500 * MS, 2500 * MS);
    CHECK(fabs(cc.cwnd_inc - (96.0 / 90 - 1) - 0.5 * (99.6 - 91) / 91) < 1e-6);
    /* Above the curve's lookahead the target is cwnd itself: no growth. */
    double inc = cc.cwnd_inc;
    cc.cwnd = 120 * S;
    cc.w_est = 0;
    et_cc_on_ack(&cc, 10 * S, 500 * MS, 2500 * MS);
    CHECK_EQ(cc.cwnd, 120 * S);
    CHECK(fabs(cc.cwnd_inc - inc) < 1e-12);
}

/* RFC 9438 §5.8: time in which the window was not in use (idle, or too little in flight for the
   engine to call et_cc_on_ack) is not time on the curve. Before, 30 s without a growth ACK put
   t 30 s along the curve, and each round trip after grew cwnd by half (the 1.5 cwnd cap). */
static void test_cubic_unused_time_not_on_curve(void)
{
    et_cc a;
    cubic_after_loss_at_100(&a);
    uint64_t now = SEC, rtt = 10 * MS;
    for (int r = 0; r < 5; r++) ack_round(&a, &now, rtt);
    et_cc b = a; /* b goes on at once; a after 30 s in which its window was not used */
    uint64_t now_b = now, now_a = now + 30 * SEC;
    for (int r = 0; r < 5; r++) {
        ack_round(&a, &now_a, rtt);
        ack_round(&b, &now_b, rtt);
        CHECK(fabs(segs(&a) - segs(&b)) <= 1.0);
    }
    /* Ten round trips of the Reno-friendly region (§4.3): 70 + 10 * alpha. */
    CHECK(segs(&a) < 70 + 10 * ALPHA + 1);
    /* Gaps of up to a round trip are the ACK clock: the epoch stays. */
    uint64_t epoch = b.epoch_ns;
    et_cc_on_ack(&b, S, rtt, now_b + rtt);
    CHECK_EQ(b.epoch_ns, epoch);
    /* A clock that went backwards shifts nothing. */
    et_cc_on_ack(&b, S, rtt, now_b - SEC);
    CHECK_EQ(b.epoch_ns, epoch);
    /* Without an RTT sample no gap can be told from the ACK clock. */
    et_cc c = b;
    et_cc_on_ack(&c, S, 0, now_b + 10 * SEC);
    CHECK_EQ(c.epoch_ns, epoch);
}

static void test_cubic_reno_friendly(void)
{
    /* W_max = 10 segments and 1 ms RTT: Reno is far quicker than the curve. */
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = 10 * S;
    et_cc_on_fast_loss(&cc, 10 * S, 0);
    et_cc_on_recovery_exit(&cc, 6 * S);
    REQUIRE(cc.cwnd == 7 * S);
    uint64_t now = SEC, start = now + 1 * MS;
    for (int r = 0; r < 200; r++) ack_round(&cc, &now, 1 * MS);
    double t = (double)(now - start) / SEC;
    double w = segs(&cc);
    /* ~alpha segments per RTT, as Reno with beta_cubic would do (RFC 9438 §4.3). */
    CHECK(w > 7 + ALPHA * 200 - 6 && w < 7 + ALPHA * 200 + 3);
    CHECK(fabs(w - cc.w_est) < 1.0);
    CHECK(w > 5 * cubic_at(10, cc.k, t + 0.001));
}

static void test_cubic_fast_convergence(void)
{
    et_cc cc;
    et_cc_init(&cc, EFVITCP_CC_CUBIC, S);
    cc.cwnd = 100 * S;
    et_cc_on_fast_loss(&cc, 100 * S, 0);
    CHECK(fabs(cc.w_max - 100) < 1e-9);
    /* Lost again below the previous W_max: release bandwidth (RFC 9438 §4.7). */
    cc.cwnd = 80 * S;
    et_cc_on_fast_loss(&cc, 80 * S, 0);
    CHECK(fabs(cc.w_max - 80 * 1.7 / 2) < 1e-9);
    CHECK_EQ(cc.ssthresh, 56 * S);
    et_cc_on_recovery_exit(&cc, 60 * S);
    et_cc_on_ack(&cc, S, 50 * MS, SEC);
    CHECK(fabs(cc.k - cbrt((68.0 - 56.0) / 0.4)) < 1e-9);
    /* Lost above W_max: W_max is simply the window. */
    cc.cwnd = 120 * S;
    et_cc_on_fast_loss(&cc, 120 * S, 0);
    CHECK(fabs(cc.w_max - 120) < 1e-9);
    /* Equal is not below. */
    cc.cwnd = 120 * S;
    et_cc_on_fast_loss(&cc, 120 * S, 0);
    CHECK(fabs(cc.w_max - 120) < 1e-9);
}

static void test_none(void)
{
    int algos[] = {EFVITCP_CC_NONE, 3, -1};
    for (size_t i = 0; i < 3; i++) {
        et_cc cc;
        et_cc_init(&cc, algos[i], S);
        CHECK_EQ(cc.algo, EFVITCP_CC_NONE);
        CHECK_EQ(cc.cwnd, MAXW);
        CHECK_EQ(cc.ssthresh, MAXW);
        et_cc_on_ack(&cc, 100 * S, 10 * MS, SEC);
        et_cc_on_fast_loss(&cc, 100 * S, SEC);
        et_cc_on_dupack(&cc);
        et_cc_on_partial_ack(&cc, 3 * S);
        et_cc_on_recovery_exit(&cc, S);
        et_cc_on_rto(&cc, 100 * S, SEC);
        et_cc_on_idle_restart(&cc);
        et_cc_set_smss(&cc, 536);
        CHECK_EQ(cc.smss, 536);
        CHECK_EQ(cc.cwnd, MAXW);
        CHECK_EQ(cc.ssthresh, MAXW);
        CHECK_EQ(cc.bytes_acked, 0);
        CHECK_EQ(cc.epoch_ns, 0);
    }
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* splitmix64: a fixed seed keeps the sequence identical on every run. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_bytes(uint32_t smss)
{
    switch (rnd() % 6) {
    case 0:
        return 0;
    case 1:
        return UINT32_MAX;
    case 2:
        return (uint32_t)rnd();
    case 3:
        return (uint32_t)(rnd() % 3) * smss;
    default:
        return (uint32_t)(rnd() % 200) * smss + (uint32_t)(rnd() % 3);
    }
}

static int check_invariants(const et_cc *cc)
{
    int bad = 0;
    bad |= cc->smss < 1 || cc->smss > 65535;
    if (cc->algo == EFVITCP_CC_NONE) {
        bad |= cc->cwnd != MAXW || cc->ssthresh != MAXW;
        return bad;
    }
    bad |= cc->cwnd < cc->smss || cc->cwnd > MAXW;
    bad |= cc->ssthresh < 2 * cc->smss || cc->ssthresh > MAXW;
    bad |= cc->bytes_acked > MAXW;
    bad |= !isfinite(cc->w_max) || cc->w_max < 0;
    bad |= !isfinite(cc->k) || cc->k < 0;
    bad |= !isfinite(cc->w_est) || cc->w_est < 0;
    bad |= !isfinite(cc->cwnd_inc) || cc->cwnd_inc < 0 || cc->cwnd_inc >= 1.0;
    return bad;
}

static void test_random_hooks(void)
{
    rng_state = 20240611;
    for (int algo = EFVITCP_CC_NONE; algo <= EFVITCP_CC_CUBIC; algo++) {
        et_cc cc;
        et_cc_init(&cc, algo, 1 + (uint32_t)(rnd() % 9000));
        uint64_t now = 0;
        int failures = 0;
        for (int step = 0; step < 200000 && failures < 5; step++) {
            switch (rnd() % 16) {
            case 0:
                et_cc_on_fast_loss(&cc, rnd_bytes(cc.smss), now);
                break;
            case 1:
                et_cc_on_recovery_exit(&cc, rnd_bytes(cc.smss));
                break;
            case 2:
                et_cc_on_rto(&cc, rnd_bytes(cc.smss), now);
                break;
            case 3:
                et_cc_on_idle_restart(&cc);
                break;
            case 4: {
                static const uint32_t m[] = {0, 1, 536, 1460, 8960, 65535, 70000, UINT32_MAX};
                et_cc_set_smss(&cc, rnd() % 2 ? m[rnd() % 8] : (uint32_t)rnd());
                break;
            }
            case 5:
                if (rnd() % 2)
                    et_cc_on_dupack(&cc);
                else
                    et_cc_on_partial_ack(&cc, rnd() % 4 ? rnd_bytes(cc.smss) : (uint32_t)rnd());
                break;
            case 7:
                /* A state set from outside the hooks (as these tests do) must be survivable. */
                cc.cwnd = rnd() % 2 ? cc.cwnd + cc.smss : (uint32_t)rnd();
                et_cc_on_ack(&cc, rnd_bytes(cc.smss), 0, now);
                break;
            case 6:
                now = rnd() % 4 ? now - rnd() % SEC : rnd(); /* clock jumps */
                break;
            default: {
                uint64_t srtt = rnd() % 8 == 0 ? (rnd() % 2 ? 0 : UINT64_MAX) : rnd() % SEC;
                now += rnd() % (50 * MS);
                et_cc_on_ack(&cc, rnd_bytes(cc.smss), srtt, now);
            }
            }
            if (check_invariants(&cc)) {
                fprintf(stderr,
                        "algo %d step %d: smss %u cwnd %u ssthresh %u w_max %g k %g "
                        "w_est %g inc %g\n",
                        algo, step, cc.smss, cc.cwnd, cc.ssthresh, cc.w_max, cc.k, cc.w_est,
                        cc.cwnd_inc);
                th_failures++;
                failures++;
            }
        }
    }
}

int main(void)
{
    RUN(test_initial_window);
    RUN(test_initial_window_rfc6928);
    RUN(test_set_smss);
    RUN(test_slow_start_doubles);
    RUN(test_newreno_avoidance);
    RUN(test_newreno_loss);
    RUN(test_partial_ack);
    RUN(test_idle_restart);
    RUN(test_cubic_loss_values);
    RUN(test_cubic_curve);
    RUN(test_cubic_no_rtt);
    RUN(test_cubic_unused_time_not_on_curve);
    RUN(test_cubic_growth_step);
    RUN(test_cubic_reno_friendly);
    RUN(test_cubic_fast_convergence);
    RUN(test_none);
    RUN(test_random_hooks);
    return th_summary();
}
