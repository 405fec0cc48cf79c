/* Segment tests: every state of the RFC 9293 §3.3.2 diagram (figure 5) entered through a real
   handshake and left through each of its transitions, and every callback fired at least once.
   The detailed checks of each transition live in the topic files; this one is the map. */
#include "segtest.h"

static sg_events g_total; /* callbacks seen over the whole file */

static void tally(sg *t)
{
    g_total.allow += t->ev.allow;
    g_total.established += t->ev.established;
    g_total.data += t->ev.data;
    g_total.fin += t->ev.fin;
    g_total.closed += t->ev.closed;
    g_total.reset += t->ev.reset;
    g_total.timeout += t->ev.timeout;
    g_total.refused += t->ev.refused;
    g_total.more_sendable += t->ev.more_sendable;
    g_total.user_timeout += t->ev.user_timeout;
}

#define CHECK_STATE(t, s) CHECK_EQ(sg_state(t), (s))

static uint32_t time_wait_records(sg *t)
{
    efvitcp_stats st;
    sg_stats(t, &st);
    return st.time_wait_active;
}

/* CLOSED -listen-> LISTEN -unlisten-> CLOSED: afterwards a SYN finds a closed port. */
static void test_listen_and_unlisten(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL)); /* LISTEN -rcv SYN-> SYN_RECEIVED */
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_STATE(t, EFVITCP_ESTABLISHED); /* SYN_RECEIVED -rcv ACK of SYN-> ESTABLISHED */
    CHECK_NULL_ERR(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT));
    CHECK(efvitcp_server_unlisten(t->srv, SG_LISTEN_PORT) != NULL);
    CHECK_STATE(t, EFVITCP_ESTABLISHED); /* established connections are not touched */
    t->pport++;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_RST | TH_ACK, 0, P(1));
    CHECK_NULL_ERR(efvitcp_server_listen(t->srv, SG_LISTEN_PORT));
    CHECK(efvitcp_server_listen(t->srv, SG_LISTEN_PORT) != NULL);
    CHECK(efvitcp_server_listen(t->srv, 0) != NULL);
    REQUIRE(sg_syn_received(t, NULL));
    tally(t);
}

/* SYN_RECEIVED left three ways: ACK (above), RST (back to LISTEN), retries exhausted. */
static void test_syn_received_exits(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_retries = 0;
    tally(t);
    t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    sg_advance(t, 2 * SG_SEC);
    CHECK_STATE(t, EFVITCP_CLOSED);
    tally(t);
}

/* CLOSED -connect-> (WAIT_ARP ->) SYN_SENT, left by SYN-ACK, SYN (simultaneous open), RST,
   timeout and abort. */
static void test_syn_sent_exits(void)
{
    sg *t = sg_client_no_arp(NULL);
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn));
    EXPECT(t, TH_SYN, SG_ANY, 0); /* the peer answered the ARP request at once */
    CHECK_STATE(t, EFVITCP_SYN_SENT);
    tally(t);

    t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    tally(t);

    t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    CHECK_STATE(t, EFVITCP_SYN_RECEIVED);
    tally(t);

    t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_send(t, TH_RST | TH_ACK, 0, S(1), NULL, 0);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(t->ev.refused, 1);
    tally(t);

    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_retries = 1;
    t = sg_client(&cfg);
    REQUIRE(sg_syn_sent(t));
    sg_advance(t, 5 * SG_SEC);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(t->ev.timeout, 1);
    tally(t);

    t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    efvitcp_conn_close(t->conn);
    EXPECT_NOTHING(t); /* nothing to reset: the peer holds no state for us */
    CHECK_STATE(t, EFVITCP_CLOSED);
    sg_advance(t, 100 * SG_SEC);
    EXPECT_NOTHING(t);
    tally(t);
}

/* ESTABLISHED -close-> FIN_WAIT_1 -ACK-> FIN_WAIT_2 -FIN-> TIME_WAIT -2MSL-> CLOSED. */
static void test_active_close_path(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.time_wait_ms = 1000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 5);
    EXPECT(t, TH_ACK, S(1), P(6));
    CHECK_EQ(efvitcp_send(t->conn, "abc", 3, false), 3);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(6));
    sg_send(t, TH_ACK, P(6), S(4), NULL, 0);
    t->pis += 5; /* the fixtures count from a fresh connection: shift past the data */
    t->sis += 3;
    REQUIRE(sg_fin_wait_1(t));
    CHECK_STATE(t, EFVITCP_FIN_WAIT_1);
    sg_send(t, TH_ACK, P(1), S(2), NULL, 0);
    CHECK_STATE(t, EFVITCP_FIN_WAIT_2);
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_STATE(t, EFVITCP_CLOSED); /* the slot is free; TIME_WAIT is a compact record */
    CHECK_EQ(time_wait_records(t), 1);
    sg_advance(t, 1001 * SG_MS);
    CHECK_EQ(time_wait_records(t), 0);
    tally(t);
}

/* FIN_WAIT_1 -FIN-> CLOSING -ACK-> TIME_WAIT, and FIN_WAIT_1 -FIN,ACK-> TIME_WAIT. */
static void test_closing_paths(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_closing(t));
    CHECK_STATE(t, EFVITCP_CLOSING);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(time_wait_records(t), 1);
    tally(t);

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_fin_wait_1(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(time_wait_records(t), 1);
    tally(t);
}

/* ESTABLISHED -FIN-> CLOSE_WAIT -close-> LAST_ACK -ACK-> CLOSED. */
static void test_passive_close_path(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    REQUIRE(sg_close_wait(t));
    CHECK_STATE(t, EFVITCP_CLOSE_WAIT);
    REQUIRE(!efvitcp_send_fin(t->conn));
    EXPECT(t, TH_FIN | TH_ACK, S(1), P(2));
    CHECK_STATE(t, EFVITCP_LAST_ACK);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_STATE(t, EFVITCP_CLOSED);
    CHECK_EQ(time_wait_records(t), 0);
    CHECK_EQ(t->ev.closed, 1);
    tally(t);
}

/* Every synchronised state is also left by RST (on_reset) and by abort (RST sent). */
static void test_abort_from_each_state(void)
{
    for (int i = 0; i < 6; i++) {
        sg *t = sg_server(NULL);
        REQUIRE(sg_established(t));
        bool ok = true;
        if (i == 1) ok = sg_fin_wait_1(t);
        if (i == 2) ok = sg_fin_wait_2(t);
        if (i == 3) ok = sg_close_wait(t);
        if (i == 4) ok = sg_closing(t);
        if (i == 5) ok = sg_last_ack(t);
        REQUIRE(ok);
        efvitcp_conn_close(t->conn);
        sg_rx *r = sg_take(t);
        REQUIRE(r != NULL);
        CHECK_EQ(r->flags, TH_RST | TH_ACK);
        CHECK_STATE(t, EFVITCP_CLOSED);
        CHECK_EQ(t->ev.closed + t->ev.reset, 0);
        tally(t);
    }
}

/* The user-visible callbacks that remain: data, more_sendable, user timers. */
static void test_remaining_callbacks(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 3);
    EXPECT(t, TH_ACK, S(1), P(4));
    CHECK_EQ(efvitcp_send(t->conn, "abc", 3, false), 3);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(4));
    sg_send(t, TH_ACK, P(4), S(4), NULL, 0);
    CHECK_NULL_ERR(efvitcp_set_user_timer(t->conn, 0, 1));
    sg_advance(t, 2 * SG_MS);
    sg_send(t, TH_RST, P(4), 0, NULL, 0);
    CHECK(strcmp(t->ev.log, "AEDMUR") == 0);
    tally(t);
}

/* Run last: the file as a whole fired every callback of efvitcp_handler. */
static void test_every_callback_fired(void)
{
    CHECK(g_total.allow > 0);
    CHECK(g_total.established > 0);
    CHECK(g_total.data > 0);
    CHECK(g_total.fin > 0);
    CHECK(g_total.closed > 0);
    CHECK(g_total.reset > 0);
    CHECK(g_total.timeout > 0);
    CHECK(g_total.refused > 0);
    CHECK(g_total.more_sendable > 0);
    CHECK(g_total.user_timeout > 0);
}

int main(void)
{
    RUN(test_listen_and_unlisten);
    RUN(test_syn_received_exits);
    RUN(test_syn_sent_exits);
    RUN(test_active_close_path);
    RUN(test_closing_paths);
    RUN(test_passive_close_path);
    RUN(test_abort_from_each_state);
    RUN(test_remaining_callbacks);
    RUN(test_every_callback_fired);
    sg_cleanup();
    return th_summary();
}
