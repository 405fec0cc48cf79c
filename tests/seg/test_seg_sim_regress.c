/*
 * Engine bugs found by the deterministic simulator (tools/sim), pinned down at segment level
 * with the seed that found them. Every test fails on the engine as it was before its fix.
 */
#include "segtest.h"

/* Seed 61 (clean): a retransmitted segment that starts below RCV.NXT (the receiver had taken
   part of it) and ends beyond the right edge of a small window fails both tests of RFC 9293
   §3.10.7.4 (neither its first nor its last octet lies in the window), so it was dropped every
   time; the sender never splits a built segment, so the connection stalled for ever. A segment
   that overlaps the window is acceptable (as Linux's tcp_sequence): its in-window part is
   taken and the rest trimmed. */
static void test_segment_straddling_the_whole_window(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 1024;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 300);
    /* Receiver SWS avoidance keeps the right edge at P(1025): window 724 from P(301). */
    EXPECT_WL(t, TH_ACK, S(1), P(301), 724, 0);
    /* 100 old bytes, the whole window, 100 bytes beyond it. */
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 924);
    EXPECT(t, TH_ACK, S(1), P(1025));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.stream_len, 1024);
    CHECK(sg_stream_is_pat(t, 1024));
}

/* Seed 52 (clean, --bulk): with a receive buffer smaller than two segments, "ACK every second
   full segment" never triggers, and a segment that leaves less than one segment of window was
   acknowledged only when the delayed-ACK timer fired. The sender, blocked on the window, waited
   for it every time: 2.4 MB took 11 s of virtual time over a 3 us wire. The ACK goes at once when
   the sender cannot send a full segment without it. */
static void test_ack_at_once_when_window_left_is_below_a_segment(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    cfg.recv_buf_size = 2000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint32_t full = 1460 - 12; /* MSS less the timestamp option */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, full);
    EXPECT(t, TH_ACK, S(1), P(1 + full));
    CHECK(t->last->win >= full); /* the reader took it all: the window is open again */
    /* a small segment that leaves room for a full one is still delayed (RFC 9293 §3.8.6.3) */
    sg_send(t, TH_ACK | TH_PSH, P(1 + full), S(1), NULL, 100);
    EXPECT_NOTHING(t);
    CHECK(sg_run_until_output(t, 50 * SG_MS) != UINT64_MAX);
    EXPECT(t, TH_ACK, S(1), P(1 + full + 100));
    CHECK(sg_stream_is_pat(t, full + 100));
}

/* Seed 14 (slow, --bulk): both ends filled the other's window and lost the last segment of
   it; each one's pure ACKs carried SND.NXT, exactly the other's right edge, which RFC 9293's
   table does not accept for an empty segment, so each dropped the other's ACKs and resent data
   the other already held, until the retries ran out. A bare ACK at the right edge is taken (as
   Linux's tcp_sequence). */
static void test_bare_ack_at_the_right_edge_is_taken(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    static uint8_t buf[100];
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send(t, TH_ACK, P(1 + 16384), S(101), NULL, 0); /* window 16384 from P(1) */
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
    /* One beyond it is still dropped and answered. */
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    sg_send(t, TH_ACK, P(2 + 16384), S(201), NULL, 0);
    EXPECT(t, TH_ACK, S(201), P(1));
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 100);
}

/* Seed 22 (corrupt, --bulk --no-sack): a window field forged on the wire (checksum fixed) let
   both ends send past the other's real right edge. Each then put its pure ACKs at the edge it
   last heard of, below the other's RCV.NXT, and since each dropped the other's ACKs, neither
   edge ever moved: both resent data the other held until the retries ran out. A bare ACK below
   RCV.NXT by at most a window is taken when it acknowledges new data; one that does not is
   still dropped and answered (an old reordered ACK must not count as a duplicate). */
static void test_bare_ack_below_rcv_nxt_with_new_ack_is_taken(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    static uint8_t buf[100];
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(101));
    sg_send(t, TH_ACK, P(51), S(1), NULL, 0); /* nothing new: dropped, answered */
    EXPECT(t, TH_ACK, S(101), P(101));
    sg_send(t, TH_ACK, P(51), S(101), NULL, 0); /* new: taken */
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
}

int main(void)
{
    RUN(test_bare_ack_below_rcv_nxt_with_new_ack_is_taken);
    RUN(test_bare_ack_at_the_right_edge_is_taken);
    RUN(test_segment_straddling_the_whole_window);
    RUN(test_ack_at_once_when_window_left_is_below_a_segment);
    sg_cleanup();
    return th_summary();
}
