/* Segment tests: RST, SYN and ACK acceptability in synchronised states (RFC 9293 §3.10.7.4,
   RFC 5961 blind-attack mitigations). */
#include "segtest.h"

/* RFC 5961 §3.2: a RST with SEG.SEQ == RCV.NXT resets the connection: on_reset, no reply. */
static void test_rst_exact_seq_resets(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    efvitcp_conn *c = t->conn;
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.reset, 1);
    CHECK(t->ev.conn == c);
    CHECK(efvitcp_is_closed(c));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_reset, 1);
    CHECK_EQ(st.conns_active, 0);
    CHECK_EQ(st.time_wait_active, 0);
}

/* RFC 5961 §3.2: RST|ACK behaves the same; the ACK field does not matter. */
static void test_rst_ack_exact_seq_resets(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_RST | TH_ACK, P(1), S(1) + 12345, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.reset, 1);
}

/* RFC 5961 §3.2: a RST inside the window but not at RCV.NXT gets a challenge ACK and changes
   nothing; the peer's own RST (if it really reset) then comes back with the exact number. */
static void test_rst_in_window_challenge_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_RST, P(2), 0, NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK(t->last->opt.has_ts);
    sg_send(t, TH_RST, P(1) + 16383, 0, NULL, 0); /* last octet of the window */
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.reset, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.challenge_acks, 2);
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    CHECK_EQ(t->ev.reset, 1);
}

/* RFC 5961 §3.2 / RFC 9293 §3.10.7.4: a RST outside the window is dropped silently. */
static void test_rst_out_of_window_dropped(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_RST, P(1) + 16384, 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST, P(0), 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST, P(1) + 0x80000000u, 0, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.reset, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* RFC 9293 §3.10.7.4: an acceptable RST resets in every synchronised state. */
static void test_rst_in_each_synchronised_state(void)
{
    static const char *names[] = {"FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK"};
    for (int i = 0; i < 5; i++) {
        sg *t = sg_server(NULL);
        REQUIRE(sg_established(t));
        bool ok = false;
        uint32_t rcv = P(1);
        switch (i) {
        case 0:
            ok = sg_fin_wait_1(t);
            break;
        case 1:
            ok = sg_fin_wait_2(t);
            break;
        case 2:
            ok = sg_close_wait(t), rcv = P(2);
            break;
        case 3:
            ok = sg_closing(t), rcv = P(2);
            break;
        case 4:
            ok = sg_last_ack(t), rcv = P(2);
            break;
        }
        REQUIRE(ok);
        sg_send(t, TH_RST, rcv, 0, NULL, 0);
        if (!sg_expect_nothing(t) || t->ev.reset != 1 || sg_state(t) != EFVITCP_CLOSED) {
            fprintf(stderr, "  (in %s)\n", names[i]);
            th_failures++;
        }
    }
}

/* RFC 5961 §4.2: any SYN in a synchronised state gets a challenge ACK, never a reset. */
static void test_syn_in_established_challenge_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(100), 0, t->win, NULL, 0, &o); /* in window */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o); /* the old SYN again */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send_o(t, TH_SYN, P(1) + 0x40000000u, 0, t->win, NULL, 0, &o); /* far away */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_SYN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.reset, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK(st.challenge_acks >= 2);
}

/* RFC 9293 §3.10.7.4 fifth check / RFC 5961 §5.2: an ACK for something not yet sent gets an
   ACK and the segment (its text included) is dropped. */
static void test_ack_above_snd_nxt_dropped_with_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(2), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.data, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_BAD_ACK], 1);
    /* The same text with a sane ACK is taken. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK(sg_stream_is_pat(t, 10));
}

/* RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; one below is dropped
   (with a challenge ACK), one inside, even if old, is fine. */
static void test_ack_far_below_snd_una_dropped(void)
{
    sg *t = sg_server(NULL);
    t->win = 1000;
    REQUIRE(sg_established(t));
    /* Move SND.UNA: 10 bytes out and acknowledged. */
    CHECK_EQ(efvitcp_send(t->conn, "0123456789", 10, false), 10);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 10);
    sg_send(t, TH_ACK, P(1), S(11), NULL, 0);
    EXPECT_NOTHING(t);
    /* S(11) - 1000 - 1 is below SND.UNA - MAX.SND.WND. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(11) - 1001, NULL, 5);
    EXPECT(t, TH_ACK, S(11), P(1));
    CHECK_EQ(t->ev.data, 0);
    /* S(11) - 1000 is just acceptable (an old duplicate): the text is taken. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(11) - 1000, NULL, 5);
    EXPECT(t, TH_ACK, S(11), P(6));
    CHECK(sg_stream_is_pat(t, 5));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
}

/* RFC 5961 §7: challenge ACKs are limited per connection (10 a second here); the budget
   refills after a second and is not shared with other connections (CVE-2016-5696). */
static void test_challenge_ack_rate_limit(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    int acks = 0;
    for (int i = 0; i < 15; i++) {
        sg_send(t, TH_RST, P(2 + i), 0, NULL, 0);
        while (sg_take(t)) acks++;
    }
    CHECK_EQ(acks, 10);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.challenge_acks, 10);

    /* Another connection has its own budget. */
    efvitcp_conn *first = t->conn;
    uint32_t first_sis = t->sis;
    t->pport++;
    REQUIRE(sg_established(t));
    CHECK(t->conn != first);
    sg_send(t, TH_RST, P(5), 0, NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));

    /* A second later the first connection may challenge again. */
    sg_advance(t, SG_SEC);
    t->pport--;
    t->conn = first;
    t->sis = first_sis;
    sg_send(t, TH_RST, P(3), 0, NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    CHECK_EQ(t->ev.reset, 0);
}

/* efvitcp_conn_close aborts: <SEQ=SND.NXT><ACK=RCV.NXT><RST,ACK>, no callback, slot free. */
static void test_user_abort_sends_rst(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 7);
    EXPECT(t, TH_ACK, S(1), P(8));
    efvitcp_conn *c = t->conn;
    efvitcp_conn_close(c);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(8));
    CHECK(efvitcp_is_closed(c));
    CHECK_EQ(t->ev.reset + t->ev.closed + t->ev.timeout, 0);
    /* Anything further for the tuple is answered as for no connection. */
    sg_send(t, TH_ACK, P(8), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
}

/* Aborting a half-open (SYN-RECEIVED) connection also resets the peer. */
static void test_user_abort_in_syn_received(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    efvitcp_conn_close(t->conn);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
}

int main(void)
{
    RUN(test_rst_exact_seq_resets);
    RUN(test_rst_ack_exact_seq_resets);
    RUN(test_rst_in_window_challenge_ack);
    RUN(test_rst_out_of_window_dropped);
    RUN(test_rst_in_each_synchronised_state);
    RUN(test_syn_in_established_challenge_ack);
    RUN(test_ack_above_snd_nxt_dropped_with_ack);
    RUN(test_ack_far_below_snd_una_dropped);
    RUN(test_challenge_ack_rate_limit);
    RUN(test_user_abort_sends_rst);
    RUN(test_user_abort_in_syn_received);
    sg_cleanup();
    return th_summary();
}
