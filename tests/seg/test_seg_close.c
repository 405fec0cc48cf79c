/* Segment tests: connection termination (RFC 9293 §3.6, §3.10.7.4 eighth step), TIME_WAIT
   (RFC 1337, RFC 6191). */
#include "check.h"
#include "segtest.h"

/* RFC 9293 §3.6 case 1, passive side: ESTABLISHED -FIN-> CLOSE_WAIT -close-> LAST_ACK -ACK->
   CLOSED. No TIME_WAIT on this side. */
static void test_passive_close(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_close_wait(t));
    CHECK_EQ(t->ev.fin_len, 0);
    /* We may still send in CLOSE_WAIT. */
    CHECK_EQ(efvitcp_send(t->conn, "bye", 3, false), 3);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(2), 16384 - 1, 3); /* the FIN took one octet */
    sg_send(t, TH_ACK, P(2), S(4), NULL, 0);
    CHECK_NULL_ERR(efvitcp_send_fin(t->conn));
    EXPECT(t, TH_FIN | TH_ACK, S(4), P(2));
    CHECK_EQ(sg_state(t), EFVITCP_LAST_ACK);
    CHECK(efvitcp_send_fin(t->conn) != NULL); /* only once */
    CHECK_EQ(efvitcp_send(t->conn, "x", 1, false), 0);
    sg_send(t, TH_ACK, P(2), S(5), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.closed, 1);
    CHECK(strcmp(t->ev.log, "AEFMC") == 0); /* M: the ACK of "bye" freed send space */
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 0);
    CHECK_EQ(st.conns_active, 0);
    CHECK_EQ(st.conns_closed, 1);
}

/* RFC 9293 §3.6 case 1, active side: FIN_WAIT_1 -ACK-> FIN_WAIT_2 -FIN-> TIME_WAIT; on_closed
   fires on entering TIME_WAIT, which then lasts time_wait_ms. */
static void test_active_close(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.time_wait_ms = 2000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(sg_fin_wait_1(t));
    CHECK(efvitcp_is_established(t->conn)); /* FIN_WAIT_1 still counts as established */
    CHECK_EQ(efvitcp_send(t->conn, "x", 1, false), 0);
    sg_send(t, TH_ACK, P(1), S(2), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(sg_state(t), EFVITCP_FIN_WAIT_2);
    /* The peer may still send in FIN_WAIT_2. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(2), NULL, 10);
    EXPECT(t, TH_ACK, S(2), P(11));
    CHECK(sg_stream_is_pat(t, 10));
    sg_send(t, TH_FIN | TH_ACK, P(11), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(12));
    CHECK(strcmp(t->ev.log, "AEDFC") == 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 1);
    CHECK_EQ(st.conns_active, 0);
    /* Still there just before 2 s, gone after. */
    uint64_t t0 = sg_now(t);
    sg_advance_to(t, t0 + 2 * SG_SEC - SG_MS);
    sg_send(t, TH_FIN | TH_ACK, P(11), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(12));
    sg_advance_to(t, t0 + 2 * SG_SEC);
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 0);
    sg_send(t, TH_FIN | TH_ACK, P(11), S(2), NULL, 0);
    EXPECT(t, TH_RST, S(2), 0); /* no connection any more */
}

/* RFC 9293 §3.6 case 2: simultaneous close: FIN_WAIT_1 -FIN-> CLOSING -ACK-> TIME_WAIT. */
static void test_simultaneous_close(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_closing(t));
    CHECK_EQ(t->ev.fin, 1);
    CHECK_EQ(t->ev.closed, 0);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.closed, 1);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 1);
}

/* RFC 9293 §3.10.7.4: a FIN that also ACKs our FIN takes FIN_WAIT_1 straight to TIME_WAIT. */
static void test_fin_ack_in_fin_wait_1(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_fin_wait_1(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(t->ev.closed, 1);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 1);
}

/* Our FIN follows queued data; FIN_WAIT_1 ends only when the FIN itself is ACKed. */
static void test_fin_after_data_partial_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, "12345", 5, true), 5);
    CHECK_NULL_ERR(efvitcp_send_fin(t->conn));
    /* The FIN rides on the open segment. */
    EXPECT_WL(t, TH_FIN | TH_ACK | TH_PSH, S(1), P(1), 16384, 5);
    sg_send(t, TH_ACK, P(1), S(6), NULL, 0); /* data, not the FIN */
    CHECK_EQ(sg_state(t), EFVITCP_FIN_WAIT_1);
    sg_send(t, TH_ACK, P(1), S(7), NULL, 0);
    CHECK_EQ(sg_state(t), EFVITCP_FIN_WAIT_2);
    EXPECT_NOTHING(t);
}

/* RFC 9293 §3.10.7.4: data and FIN in one segment: on_data, then on_fin; the ACK covers both. */
static void test_fin_with_data(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_FIN | TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(12));
    CHECK(strcmp(t->ev.log, "AEDF") == 0);
    CHECK(sg_stream_is_pat(t, 10));
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
}

/* on_fin presents the bytes the user left unconsumed. */
static void test_fin_presents_unconsumed(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->keep = 4;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    sg_send(t, TH_FIN | TH_ACK, P(11), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(12));
    CHECK_EQ(t->ev.fin, 1);
    CHECK_EQ(t->ev.fin_len, 4);
}

/* An out-of-order FIN is acknowledged at once (duplicate ACK, RFC 5681 §4.2) and remembered:
   once the hole is filled the FIN is taken with the data, without waiting for the peer to send
   it again (which would cost it a retransmission timeout). */
static void test_out_of_order_fin(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_FIN | TH_ACK | TH_PSH, P(11), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_FIN | TH_ACK, P(21), S(1), NULL, 0); /* the FIN again, alone */
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.fin, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(22));
    CHECK_EQ(t->ev.fin, 1);
    CHECK(sg_stream_is_pat(t, 20));
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
    EXPECT_NOTHING(t);
}

/* FIN-WAIT-2 does not last for ever: a peer that acknowledged our FIN and then stays silent for
   fin_wait2_timeout_ms (default 60 s, as Linux's tcp_fin_timeout) ends in RST and on_timeout;
   anything the peer sends meanwhile (a half-closed stream going on) restarts the wait. */
static void test_fin_wait_2_timeout(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    CHECK_EQ(cfg.fin_wait2_timeout_ms, 60000);
    cfg.fin_wait2_timeout_ms = 1000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(sg_fin_wait_2(t));
    sg_advance(t, 600 * SG_MS);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(2), NULL, 10); /* data: the peer is alive */
    EXPECT(t, TH_ACK, S(2), P(11));
    uint64_t last = sg_now(t);
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    CHECK_TIME(at, last + SG_SEC);
    EXPECT(t, TH_RST | TH_ACK, S(2), P(11));
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(efvitcp_is_closed(t->conn));
}

/* RFC 9293 §3.10.7.4 eighth step: an in-order FIN ends the peer's data, so islands kept beyond it
   (data the peer sent "after" its FIN: a contradiction or a forgery) are dropped with it, and
   the invariant checker finds the receive state clean. */
static void test_in_order_fin_discards_islands_beyond(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1001), S(1), NULL, 100); /* an island beyond a hole */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_FIN | TH_ACK | TH_PSH, P(1), S(1), NULL, 500); /* the FIN at 501 */
    EXPECT(t, TH_ACK, S(1), P(502));
    CHECK_EQ(t->ev.fin, 1);
    CHECK(sg_stream_is_pat(t, 500));
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
    CHECK(et_stack_check(t->st) == NULL);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_BEYOND_FIN], 1);
    EXPECT_NOTHING(t);
}

/* Found by fuzz_frames (tests/fuzz/regress/frames/fin-overlaps-island): a FIN segment whose data
   reaches an island that extends past the FIN. Merging the island first carried rcv_nxt beyond
   the FIN, which was then remembered as out of order behind rcv_nxt (the invariant checker:
   "remembered FIN reached but not taken"). The FIN ends the peer's data: the island's bytes
   beyond it go (counted as beyond_fin), those before it are the segment's own, and the FIN is
   taken in order. */
static void test_fin_segment_overlapping_island_beyond_it(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    sg_send(t, TH_ACK | TH_PSH, P(601), S(1), NULL, 200); /* island 601..801 beyond a hole */
    EXPECT(t, TH_ACK, S(1), P(101));
    sg_send(t, TH_FIN | TH_ACK | TH_PSH, P(101), S(1), NULL, 534); /* data to 635, FIN at 635 */
    EXPECT(t, TH_ACK, S(1), P(636));
    CHECK_EQ(t->ev.fin, 1);
    CHECK(sg_stream_is_pat(t, 634));
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
    CHECK(et_stack_check(t->st) == NULL);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_BEYOND_FIN], 1);
    EXPECT_NOTHING(t);
}

/* The remembered FIN is taken only when the bytes before it are all in: a hole filled in two
   steps, and a FIN remembered from a bare FIN segment beyond the hole. Data claiming to lie
   beyond the FIN makes it forgotten (the peer contradicts itself; the FIN's retransmission
   decides). */
static void test_out_of_order_fin_two_holes_and_contradiction(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_FIN | TH_ACK, P(31), S(1), NULL, 0); /* FIN at 31, nothing before it yet */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_ACK | TH_PSH, P(11), S(1), NULL, 20); /* [11, 31): island */
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.fin, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 5); /* [1, 6): part of the hole */
    EXPECT(t, TH_ACK, S(1), P(6));
    CHECK_EQ(t->ev.fin, 0);
    sg_send(t, TH_ACK | TH_PSH, P(6), S(1), NULL, 5); /* the rest: FIN reached */
    EXPECT(t, TH_ACK, S(1), P(32));
    CHECK_EQ(t->ev.fin, 1);
    CHECK(sg_stream_is_pat(t, 30));

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_FIN | TH_ACK, P(11), S(1), NULL, 0); /* FIN at 11 */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 20); /* data past it: a contradiction */
    EXPECT(t, TH_ACK, S(1), P(21));
    CHECK_EQ(t->ev.fin, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* A second (retransmitted) FIN is ACKed again and counts once; a FIN at another sequence
   number after the first changes nothing (ignored, as Linux does in CLOSE_WAIT). */
static void test_double_fin(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_close_wait(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(2));
    sg_send(t, TH_FIN | TH_ACK, P(2), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_FIN | TH_ACK | TH_PSH, P(1), S(1), NULL, 5);
    EXPECT(t, TH_ACK, S(1), P(2));
    CHECK_EQ(t->ev.fin, 1);
    CHECK_EQ(t->ev.data, 0);
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
}

/* RFC 9293 §3.10.7.4 seventh step: text after the peer's FIN (CLOSE_WAIT, CLOSING, LAST_ACK)
   is ignored, only acknowledged. */
static void test_data_after_fin_ignored(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_close_wait(t));
    sg_send(t, TH_ACK | TH_PSH, P(2), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(2));
    CHECK_EQ(t->ev.data, 0);
    REQUIRE(!efvitcp_send_fin(t->conn));
    EXPECT(t, TH_FIN | TH_ACK, S(1), P(2));
    sg_send(t, TH_ACK | TH_PSH, P(2), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(t->ev.data, 0);
    CHECK_EQ(sg_state(t), EFVITCP_LAST_ACK);
}

/* LAST_ACK: a lost FIN is retransmitted on RTO; the ACK of it closes. */
static void test_last_ack_fin_retransmitted(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_last_ack(t));
    uint64_t t0 = sg_now(t);
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t0 + 5 * SG_MS);
    EXPECT(t, TH_FIN | TH_ACK, S(1), P(2));
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_EQ(t->ev.closed, 1);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* RFC 9293 §3.6: TIME_WAIT re-ACKs a retransmitted FIN (and anything else with sequence
   space); a bare ACK gets nothing; RFC 1337: a RST does not end it. */
static void test_time_wait_behaviour(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_time_wait(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK(t->last->opt.has_ts);
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST, P(2), 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST | TH_ACK, P(2), S(2), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 1);
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(t->ev.reset, 0);
}

/* RFC 6191: a SYN for a TIME_WAIT tuple with a higher TSval opens a new connection whose ISS
   lies beyond the old sequence space. */
static void test_time_wait_reuse_by_newer_ts(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_time_wait(t));
    uint32_t old_snd_nxt = S(2);
    t->ts = SG_PEER_TS + 1000;
    t->pis = P(0) - 100000; /* a lower sequence number: the TS decides */
    REQUIRE(sg_syn_received(t, NULL));
    CHECK((int32_t)(t->sis - old_snd_nxt) >= 65536);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_reused, 1);
    CHECK_EQ(st.time_wait_active, 0);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* A newer SYN for a TIME_WAIT tuple that the listener then refuses (allow_new_connection says
   no) leaves the TIME_WAIT record in place: the old connection keeps its RFC 1337 protection, and
   a retransmission of its FIN is still answered by the TIME_WAIT ACK. */
static void test_time_wait_kept_when_reusing_syn_refused(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_time_wait(t));
    uint32_t old_pis = t->pis;
    t->ts = SG_PEER_TS + 1000;
    t->allow = false;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0) + 100000, 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_RST | TH_ACK, 0, P(0) + 100001);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_reused, 0);
    CHECK_EQ(st.time_wait_active, 1);
    t->pis = old_pis;
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0); /* the old FIN again */
    EXPECT(t, TH_ACK, S(2), P(2));
}

/* RFC 6191: a SYN with an older (or equal) TSval is no new incarnation: the TIME_WAIT ACK
   answers it and the record stays. */
static void test_time_wait_refuses_older_ts(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_time_wait(t));
    uint32_t old_pis = t->pis;
    t->pis = P(0) + 100000; /* a higher sequence number does not matter with TS */
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    t->pis = old_pis;
    EXPECT(t, TH_ACK, S(2), P(2));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_reused, 0);
    CHECK_EQ(st.time_wait_active, 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
}

/* RFC 9293 §3.6 / RFC 1122 §4.2.2.13 without timestamps: the sequence number decides. */
static void test_time_wait_reuse_by_seq(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.timestamps = false;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(sg_time_wait(t));
    uint32_t old_pis = t->pis;
    /* Lower: refused with the TIME_WAIT ACK. */
    t->pis = old_pis - 10;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, NULL);
    t->pis = old_pis;
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK(!t->last->opt.has_ts);
    /* Higher than RCV.NXT of the old incarnation: accepted. */
    uint32_t old_snd_nxt = S(2);
    t->pis = old_pis + 10;
    sg_opts o = {.has_mss = true, .mss = 1460};
    REQUIRE(sg_syn_received(t, &o));
    CHECK((int32_t)(t->sis - old_snd_nxt) >= 65536);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_reused, 1);
}

/* time_wait_ms = 0: the active closer frees everything at once. */
static void test_no_time_wait(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.time_wait_ms = 0;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(sg_fin_wait_2(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.time_wait_active, 0);
    CHECK_EQ(t->ev.closed, 1);
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_RST, S(2), 0);
}

/* The client side closes the same way (TIME_WAIT on the active closer). */
static void test_active_open_then_close(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    REQUIRE(sg_time_wait(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    /* While the record lives the tuple cannot be connected again. */
    efvitcp_conn *c;
    CHECK(efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &c) != NULL);
}

/* A FIN on the ACK that completes the handshake: SYN_RECEIVED -> ESTABLISHED -> CLOSE_WAIT. */
static void test_fin_in_syn_received(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(2));
    CHECK(strcmp(t->ev.log, "AEF") == 0);
    CHECK_EQ(sg_state(t), EFVITCP_CLOSE_WAIT);
}

/* RFC 9293 §3.10.7.4 eighth step: a retransmitted FIN in CLOSING and LAST_ACK is only
   acknowledged again (the state does not move, no second on_fin). */
static void test_retransmitted_fin_in_closing_and_last_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_closing(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(sg_state(t), EFVITCP_CLOSING);
    CHECK_EQ(t->ev.fin, 1);

    t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(sg_last_ack(t));
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(sg_state(t), EFVITCP_LAST_ACK);
    CHECK_EQ(t->ev.fin, 1);
    /* Even if it also ACKs our FIN, an entirely old segment is dropped before its ACK field
       is looked at (RFC 9293 §3.10.7.4 first check; Linux is more lenient here). */
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(2), P(2));
    CHECK_EQ(t->ev.closed, 0);
    sg_send(t, TH_ACK, P(2), S(2), NULL, 0);
    CHECK_EQ(t->ev.closed, 1);
}

/* Closing the instance resets a connection in SYN_RECEIVED too, as efvitcp_conn_close does: the
   peer may have ACKed our SYN-ACK already and think the connection open (RFC 9293 §3.10.4:
   ABORT sends a RST in SYN_RECEIVED). */
static void test_instance_close_resets_syn_received(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    efvitcp_server_close(t->srv);
    t->srv = NULL;
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
}

/* A link whose transmit completions come only after its doorbell rang (xdp: the completion ring
   fills once the kernel was kicked), made of the mem link by gating its tx_done on tx_flush. */
static et_link_ops g_gated_ops;
static const et_link_ops *g_mem_ops;
static uint64_t g_gated_sent, g_gated_flushed, g_gated_taken;

static int gated_tx(et_link *l, uint32_t id, uint32_t len)
{
    int r = g_mem_ops->tx(l, id, len);
    if (r == 0) g_gated_sent++;
    return r;
}

static void gated_flush(et_link *l)
{
    (void)l;
    g_gated_flushed = g_gated_sent;
}

static int gated_tx_done(et_link *l, uint32_t *ids, int max)
{
    uint64_t ready = g_gated_flushed - g_gated_taken;
    if ((uint64_t)max > ready) max = (int)ready;
    if (max <= 0) return 0;
    int n = g_mem_ops->tx_done(l, ids, max);
    g_gated_taken += (uint64_t)n;
    return n;
}

static void gate_link(et_stack *st)
{
    et_stack_reap_tx(st); /* what the mem link completed already is back */
    et_link *l = st->link;
    g_mem_ops = l->ops;
    g_gated_ops = *l->ops;
    g_gated_ops.tx = gated_tx;
    g_gated_ops.tx_flush = gated_flush;
    g_gated_ops.tx_done = gated_tx_done;
    g_gated_ops.idle = NULL;
    l->ops = &g_gated_ops;
    l->tx_flush_none = 0;
    g_gated_sent = g_gated_flushed = g_gated_taken = 0;
}

/* Closing the instance resets every connection, also past ctrl_bufs of them on a link that
   completes only after a flush: the close rings the doorbell and takes the completions when it
   runs out of control buffers (only the first ctrl_bufs RSTs left, the rest counted as drops). */
static void test_instance_close_resets_more_than_ctrl_bufs(void)
{
    enum { N = 10 };
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.max_conns = N + 2;
    cfg.ctrl_bufs = 4;
    sg *t = sg_server(&cfg);
    for (int i = 0; i < N; i++) {
        t->pport = (uint16_t)(SG_PEER_PORT + i);
        REQUIRE(sg_established(t));
    }
    /* One more half way: SYN_RECEIVED is reset too. */
    t->pport = (uint16_t)(SG_PEER_PORT + N);
    REQUIRE(sg_syn_received(t, NULL));
    REQUIRE(efvitcp_server_conn_count(t->srv) == N + 1);
    gate_link(t->st);
    efvitcp_server_close(t->srv);
    t->srv = NULL;
    bool seen[N + 1] = {false};
    int rsts = 0, other = 0;
    sg_rx *r;
    while ((r = sg_take(t)) != NULL) {
        if (r->flags != (TH_RST | TH_ACK) || r->dport < SG_PEER_PORT ||
            r->dport > SG_PEER_PORT + N || seen[r->dport - SG_PEER_PORT]) {
            other++;
            continue;
        }
        seen[r->dport - SG_PEER_PORT] = true;
        rsts++;
    }
    CHECK_EQ(rsts, N + 1);
    CHECK_EQ(other, 0);
}

int main(void)
{
    RUN(test_passive_close);
    RUN(test_active_close);
    RUN(test_simultaneous_close);
    RUN(test_fin_ack_in_fin_wait_1);
    RUN(test_fin_after_data_partial_ack);
    RUN(test_fin_with_data);
    RUN(test_fin_presents_unconsumed);
    RUN(test_out_of_order_fin);
    RUN(test_in_order_fin_discards_islands_beyond);
    RUN(test_fin_segment_overlapping_island_beyond_it);
    RUN(test_fin_wait_2_timeout);
    RUN(test_out_of_order_fin_two_holes_and_contradiction);
    RUN(test_double_fin);
    RUN(test_data_after_fin_ignored);
    RUN(test_last_ack_fin_retransmitted);
    RUN(test_time_wait_behaviour);
    RUN(test_time_wait_reuse_by_newer_ts);
    RUN(test_time_wait_refuses_older_ts);
    RUN(test_time_wait_kept_when_reusing_syn_refused);
    RUN(test_time_wait_reuse_by_seq);
    RUN(test_no_time_wait);
    RUN(test_instance_close_resets_syn_received);
    RUN(test_instance_close_resets_more_than_ctrl_bufs);
    RUN(test_active_open_then_close);
    RUN(test_fin_in_syn_received);
    RUN(test_retransmitted_fin_in_closing_and_last_ack);
    sg_cleanup();
    return th_summary();
}
