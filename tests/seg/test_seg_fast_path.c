/* Segment tests: header prediction (cfg.fast_path). Which segments the fast path takes (counted
   in efvitcp_stats.fast_path) and which it leaves to the general path of RFC 9293 §3.10.7.4.
   That both paths answer alike is shown by the whole seg suite, which also runs with the fast
   path off (the seg-nofp tests), with the same expectations. */
#include "segtest.h"

static uint8_t buf[4096];

static uint64_t fast_count(sg *t)
{
    efvitcp_stats st;
    sg_stats(t, &st);
    return st.fast_path;
}

/* The cases the fast path is for: the next bytes expected, an ACK of new data, both at once. */
static void test_taken(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    if (!t->cfg.fast_path) return; /* the seg-nofp run: nothing to count */
    uint64_t n0 = fast_count(t);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100); /* in-order data */
    EXPECT(t, TH_ACK, S(1), P(101));
    CHECK_EQ(fast_count(t), n0 + 1);
    CHECK(sg_stream_is_pat(t, 100));
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(101));
    sg_send(t, TH_ACK, P(101), S(101), NULL, 0); /* a pure ACK of new data */
    EXPECT_NOTHING(t);
    CHECK_EQ(fast_count(t), n0 + 2);
    REQUIRE(efvitcp_send(t->conn, buf, 50, false) == 50);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(101));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(151), NULL, 200); /* data and an ACK of new data */
    EXPECT(t, TH_ACK, S(151), P(301));
    CHECK_EQ(fast_count(t), n0 + 3);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
    CHECK_EQ(cs.bytes_in, 300);
}

/* Everything else goes the general way, and the answers are still right. */
static void test_not_taken(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint64_t n0 = fast_count(t);
    /* A duplicate ACK and a window update: nothing new acknowledged, no data. */
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    sg_send_w(t, TH_ACK, P(1), S(1), 60000, NULL, 0);
    EXPECT_NOTHING(t);
    /* An ACK of data never sent: answered with an ACK and dropped (RFC 9293 §3.10.7.4). */
    sg_send(t, TH_ACK, P(1), S(500), NULL, 0);
    EXPECT(t, TH_ACK, S(101), P(1));
    /* Out of order: kept, duplicate ACK at once; then in-order data while an island is held. */
    sg_send(t, TH_ACK | TH_PSH, P(101), S(101), NULL, 100);
    EXPECT(t, TH_ACK, S(101), P(1));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(101), NULL, 100);
    EXPECT(t, TH_ACK, S(101), P(201));
    CHECK(sg_stream_is_pat(t, 200));
    /* An old TSval: PAWS drops it and answers (RFC 7323 §5.3). */
    t->ts -= 1000;
    sg_send(t, TH_ACK | TH_PSH, P(201), S(101), NULL, 10);
    EXPECT(t, TH_ACK, S(101), P(201));
    t->ts += 1000;
    /* A FIN, even in order. */
    sg_send(t, TH_ACK | TH_FIN, P(201), S(101), NULL, 0);
    EXPECT(t, TH_ACK, S(101), P(202));
    CHECK_EQ(t->ev.fin, 1);
    CHECK_EQ(fast_count(t), n0); /* none of these was predicted */
}

/* Bytes the user left unconsumed are held: in-order data then takes the general path, which
   presents them again in front of the new bytes. */
static void test_not_taken_while_held(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->keep = 30;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    uint64_t n0 = fast_count(t);
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(201));
    CHECK_EQ(fast_count(t), n0);
    CHECK_EQ(t->ev.data_len, 130); /* 30 held + 100 new */
    t->keep = 0;
}

/* With cfg.fast_path false nothing is ever taken by it, and the answers are the same. */
static void test_switched_off(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.fast_path = false;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(101));
    sg_send(t, TH_ACK, P(101), S(101), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(fast_count(t), 0);
}

int main(void)
{
    RUN(test_taken);
    RUN(test_not_taken);
    RUN(test_not_taken_while_held);
    RUN(test_switched_off);
    sg_cleanup();
    return th_summary();
}
