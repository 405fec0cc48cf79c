/* Segment tests: the user's per-connection timers (efvitcp_set_user_timer and friends). */
#include "segtest.h"

/* Timers fire at their exact virtual time (to the 1024 ns wheel tick), in order of expiry. */
static void test_user_timers_fire_in_order_at_exact_times(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint64_t t0 = sg_now(t);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 5));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 1, 3));
    CHECK_NULL_ERR(efvitcp_set_user_timer_ns(t->conn, 2, 1500));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 3, 3000));
    sg_advance_to(t, t0 + 1499);
    CHECK_EQ(t->ev.n_timer, 0);
    sg_advance_to(t, t0 + 10 * SG_MS);
    REQUIRE(t->ev.n_timer == 3);
    CHECK_EQ(t->ev.timer_id[0], 2);
    CHECK_TIME(t->ev.timer_at[0], t0 + 1500);
    CHECK_EQ(t->ev.timer_id[1], 1);
    CHECK_TIME(t->ev.timer_at[1], t0 + 3 * SG_MS);
    CHECK_EQ(t->ev.timer_id[2], 0);
    CHECK_TIME(t->ev.timer_at[2], t0 + 5 * SG_MS);
    sg_advance_to(t, t0 + 3000 * SG_MS - 1);
    CHECK_EQ(t->ev.n_timer, 3);
    sg_advance_to(t, t0 + 3000 * SG_MS + 1024);
    REQUIRE(t->ev.n_timer == 4);
    CHECK_EQ(t->ev.timer_id[3], 3);
    CHECK_TIME(t->ev.timer_at[3], t0 + 3000 * SG_MS);
    CHECK(t->ev.conn == t->conn);
    EXPECT_NOTHING(t); /* timers are the user's: no segment */
}

/* Arming an armed timer replaces it: it fires once, at the new time. */
static void test_user_timer_rearm_replaces(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint64_t t0 = sg_now(t);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 10));
    sg_advance_to(t, t0 + 2 * SG_MS);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 10));
    sg_advance_to(t, t0 + 12 * SG_MS - 1);
    CHECK_EQ(t->ev.n_timer, 0);
    sg_advance_to(t, t0 + SG_SEC);
    CHECK_EQ(t->ev.n_timer, 1);
    CHECK_TIME(t->ev.timer_at[0], t0 + 12 * SG_MS);
    /* Earlier than before works too. */
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 1, 50));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 1, 1));
    uint64_t t1 = sg_now(t);
    sg_advance(t, SG_SEC);
    CHECK_EQ(t->ev.n_timer, 2);
    CHECK_TIME(t->ev.timer_at[1], t1 + SG_MS);
}

/* 0 ms and efvitcp_cancel_user_timer cancel; cancelling an idle timer is harmless. */
static void test_user_timer_cancel(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 5));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 1, 5));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 2, 5));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 0));
    efvitcp_cancel_user_timer(t->conn, 1);
    efvitcp_cancel_user_timer(t->conn, 1);
    efvitcp_cancel_user_timer(t->conn, 3);
    efvitcp_cancel_user_timer(t->conn, 99);
    sg_advance(t, SG_SEC);
    REQUIRE(t->ev.n_timer == 1);
    CHECK_EQ(t->ev.timer_id[0], 2);
}

/* Bounds: ids past user_timers fail; a huge duration saturates and never fires. */
static void test_user_timer_bounds(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK(efvitcp_set_user_timer(t->conn, 4, 5) != NULL);
    CHECK(efvitcp_set_user_timer_ns(t->conn, UINT32_MAX, 5) != NULL);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, UINT64_MAX));
    CHECK_NULL_ERR(efvitcp_set_user_timer_ns(t->conn, 1, UINT64_MAX));
    sg_advance(t, 1000 * SG_SEC);
    CHECK_EQ(t->ev.n_timer, 0);
}

/* A timer re-armed from its own callback runs periodically. */
static void periodic_hook(sg *t, char ev, efvitcp_conn *c)
{
    if (ev == 'U' && t->ev.n_timer < 5) efvitcp_set_user_timer(c, 0, 2);
}

static void test_user_timer_periodic_from_callback(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->hook = periodic_hook;
    uint64_t t0 = sg_now(t);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 2));
    sg_advance(t, SG_SEC);
    REQUIRE(t->ev.n_timer == 5);
    for (uint32_t i = 1; i < 5; i++)
        CHECK_TIME(t->ev.timer_at[i], t->ev.timer_at[i - 1] + 2 * SG_MS);
    CHECK_TIME(t->ev.timer_at[0], t0 + 2 * SG_MS);
}

/* Timers die with their connection: a reset connection's timers never fire, and a closed slot
   refuses new ones. */
static void test_user_timers_die_with_connection(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    efvitcp_conn *c = t->conn;
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 0, 5));
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 3, 7));
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    REQUIRE(t->ev.reset == 1);
    CHECK(efvitcp_set_user_timer(c, 0, 5) != NULL);
    sg_advance(t, SG_SEC);
    CHECK_EQ(t->ev.n_timer, 0);
    /* A new connection in the same slot starts with no timer armed. */
    t->pport++;
    REQUIRE(sg_established(t));
    sg_advance(t, SG_SEC);
    CHECK_EQ(t->ev.n_timer, 0);
}

/* Timers work in every state the user can see, SYN_SENT included. */
static void test_user_timer_in_syn_sent(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 100));
    uint64_t t0 = sg_now(t);
    sg_advance(t, 200 * SG_MS);
    REQUIRE(t->ev.n_timer == 1);
    CHECK_TIME(t->ev.timer_at[0], t0 + 100 * SG_MS);
}

int main(void)
{
    RUN(test_user_timers_fire_in_order_at_exact_times);
    RUN(test_user_timer_rearm_replaces);
    RUN(test_user_timer_cancel);
    RUN(test_user_timer_bounds);
    RUN(test_user_timer_periodic_from_callback);
    RUN(test_user_timers_die_with_connection);
    RUN(test_user_timer_in_syn_sent);
    sg_cleanup();
    return th_summary();
}
