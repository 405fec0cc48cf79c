/*
 * Quiet polls (et_stack_quiet): after a poll that found nothing, a poll whose link has nothing
 * waiting and whose instance has no timer due ends at once, counted in polls_quiet. What such a
 * poll skips must never be missed: a frame that lands, a user timer and a TIME_WAIT record that
 * come due, each on the poll at their time and not one later. On the virtual clock, over the mem
 * link and (labels e2e-efvi, e2e-efct) emulated EF10 and EFCT ports.
 */
#include "harness.h"
#include "sim.h"

#define PORT 7000

static efvitcp_conn *srv_conn;
static uint32_t cli_got;
static uint32_t timeouts;
static uint64_t timeout_at;
static efvitcp_wire *the_wire;

static void srv_est(void *ctx, efvitcp_conn *c)
{
    (void)ctx;
    srv_conn = c;
}

static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)c, (void)d;
    cli_got += n;
    return 0;
}

static void cli_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    (void)ctx, (void)c, (void)id;
    timeouts++;
    timeout_at = efvitcp_wire_now(the_wire);
}

static bool established(void *arg)
{
    (void)arg;
    return srv_conn != NULL;
}

static bool got_all(void *arg)
{
    return cli_got == *(uint32_t *)arg;
}

static uint64_t quiet(const sim *s)
{
    efvitcp_stats st;
    efvitcp_client_stats(s->cli, &st);
    return st.polls_quiet;
}

static void cli_poll(sim *s)
{
    efvitcp_client_poll(s->cli, &s->ch, s->cctx);
}

static void test_quiet_poll(void)
{
    srv_conn = NULL;
    cli_got = timeouts = 0;
    timeout_at = 0;
    efvitcp_config cfg;
    sim_default_config(&cfg, 3);
    cfg.user_timers = 1;
    cfg.time_wait_ms = 50;
    sim s;
    REQUIRE(sim_init(&s, NULL, &cfg, &cfg, PORT) == NULL);
    the_wire = s.wire;
    s.sh.on_established = srv_est;
    s.ch.on_data = cli_data;
    s.ch.on_user_timeout = cli_user_timeout;
    efvitcp_conn *c;
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &c) == NULL);
    REQUIRE(sim_run(&s, 1000000000ull, established, NULL));
    sim_run_for(&s, 1000000ull); /* the last ACKs and completions settle */

    /* Idle: after one full poll that finds nothing, every poll is quiet. */
    cli_poll(&s);
    uint64_t q0 = quiet(&s);
    for (int i = 0; i < 10; i++) cli_poll(&s);
    CHECK_EQ(quiet(&s), q0 + 10);

    /* A frame lands during an idle stretch: the first poll after it takes it, not a quiet one. */
    static const uint8_t msg[100];
    CHECK_EQ(efvitcp_send(srv_conn, msg, sizeof(msg), false), sizeof(msg));
    uint32_t want = sizeof(msg);
    REQUIRE(sim_run(&s, 10000000ull, got_all, &want));
    CHECK_EQ(cli_got, sizeof(msg));

    /* A user timer comes due during quiet polls: it fires on the first poll at its time. */
    sim_run_for(&s, 20000000ull); /* past the delayed ACK */
    cli_poll(&s);
    uint64_t now = efvitcp_wire_now(s.wire);
    REQUIRE(efvitcp_set_user_timer_ns(c, 0, 3000000ull) == NULL);
    q0 = quiet(&s);
    for (uint64_t t = now + 1000000ull; t < now + 3000000ull; t += 1000000ull) {
        efvitcp_wire_set_now(s.wire, t);
        cli_poll(&s);
        CHECK_EQ(timeouts, 0);
    }
    CHECK(quiet(&s) > q0); /* the waiting was quiet */
    efvitcp_wire_set_now(s.wire, now + 3000000ull + 2048);
    cli_poll(&s);
    CHECK_EQ(timeouts, 1);
    CHECK_EQ(timeout_at, now + 3000000ull + 2048);

    /* TIME_WAIT: the client closes first; its record goes on the poll at its expiry. */
    REQUIRE(efvitcp_send_fin(c) == NULL);
    sim_run_for(&s, 1000000ull);
    REQUIRE(efvitcp_send_fin(srv_conn) == NULL);
    sim_run_for(&s, 1000000ull);
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    REQUIRE(st.time_wait_active == 1);
    uint64_t t0 = efvitcp_wire_now(s.wire);
    q0 = quiet(&s);
    for (uint64_t t = t0; t < t0 + 45000000ull; t += 5000000ull) {
        efvitcp_wire_set_now(s.wire, t);
        cli_poll(&s);
    }
    CHECK(quiet(&s) > q0);
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.time_wait_active, 1);
    efvitcp_wire_set_now(s.wire, t0 + 60000000ull); /* past 50 ms from the FIN exchange */
    cli_poll(&s);
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.time_wait_active, 0);
    sim_free(&s);
}

int main(void)
{
    RUN(test_quiet_poll);
    return th_summary();
}
