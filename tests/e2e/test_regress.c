/*
 * Engine bugs that the end-to-end runs (test_bulk, test_lifecycle) exposed, each pinned down here
 * at segment level with the segtest rig so that it stays covered whatever the timing of a bulk
 * run. Every test fails on the engine as it was before its fix.
 */
#include "segtest.h"
#include "wire/wire_hooks.h"

static uint8_t buf[65536];

/* efvitcp_sendable() promised a slot whose buffer the link still held: a segment fast-
   retransmitted and then acknowledged within one poll. send() rightly stops at such a slot, so
   it took less than sendable() said (a bulk sender checking the two saw "send took 0 of N"). */
static void test_sendable_skips_slot_still_on_the_link(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.send_slots = 8;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 5; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 5; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    /* One burst, one poll: three duplicate ACKs (fast retransmit of the first segment, whose
       buffer goes back to the link) and then an ACK of everything, which frees its slot. */
    static uint8_t f[4][2048];
    uint32_t n[4];
    sg_opts o = sg_def_opts(t);
    for (int i = 0; i < 3; i++) n[i] = sg_build(t, f[i], TH_ACK, P(1), S(1), t->win, NULL, 0, &o);
    n[3] = sg_build(t, f[3], TH_ACK, P(1), S(501), t->win, NULL, 0, &o);
    for (int i = 0; i < 4; i++) CHECK_EQ(et_wire_raw_send(t->wire, t->raw, f[i], n[i]), 0);
    sg_pump(t); /* one poll; looking at its output would poll again */
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
    /* Before the next poll reaps the link's completion, the slot of segment 0 (ring position
       0, the last free one after positions 5, 6, 7) cannot be written. */
    uint32_t room = efvitcp_sendable(t->conn);
    CHECK(room > 0);
    CHECK_EQ(efvitcp_send(t->conn, buf, sizeof(buf), false), room);
    CHECK_EQ(efvitcp_sendable(t->conn), 0);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* the fast retransmission */
    sg_flush(t);
}

/* After a timeout SND.NXT goes back to SND.UNA for the retransmission. Pure ACKs carried that
   rewound number, below the peer's RCV.NXT, so the peer dropped them as unacceptable (RFC 9293
   §3.10.7.4) with the acknowledgment in them; when both sides had timed out they answered each
   other's ACKs for ever and the connection never recovered (test_bulk, 4 KiB buffers). */
static void test_pure_ack_carries_highest_seq_after_timeout(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 3; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 1448, false), 1448);
    for (int i = 0; i < 3; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 1448 * i), P(1));
    /* the peer got all three, but its ACKs are lost: the RTO resends the first (cwnd 1 MSS) */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    EXPECT_NOTHING(t);
    /* data from the peer: the stack's pure ACK must use a number the peer accepts */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1 + 3 * 1448), P(11));
    EXPECT_NOTHING(t);
}

/* A bare ACK whose sequence number lies between our last acknowledgment and RCV.NXT was sent
   before the peer could learn of bytes we took (part of a window probe beyond its idea of our
   window). It was dropped as old, with the acknowledgment it carried, and the sender timed out
   spuriously; it is taken as Linux takes it (from RCV.WUP). */
static void test_bare_ack_before_our_ack_is_taken(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 1000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* our last acknowledgment: P(1) */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT_NOTHING(t); /* delayed ACK */
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OUT_OF_WINDOW], 0);
    /* older than our last acknowledgment it is still unacceptable */
    sg_send(t, TH_ACK, P(0), S(101), NULL, 0);
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OUT_OF_WINDOW], 1);
}

/* An ACK that fails the SND.WL1/WL2 test (an older segment carrying a newer ACK) moved SND.UNA
   but kept SND.WND, so the right edge SND.UNA + SND.WND moved past the peer's buffer and the
   stack sent beyond the window (lossless bulk runs saw out-of-window drops and timeouts). */
static void test_ack_without_window_update_keeps_right_edge(void)
{
    sg *t = sg_server(NULL);
    t->win = 1000;
    REQUIRE(sg_established(t));
    for (int i = 0; i < 10; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 10; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    EXPECT_NOTHING(t); /* the window (right edge S(1001)) is full */
    /* the peer sent 10 bytes and then a bare ACK; the network swapped them */
    sg_send_w(t, TH_ACK, P(11), S(1), 1000, NULL, 0);
    /* the data: it acknowledges 500 bytes and, its buffer unread, leaves the edge at S(1001) */
    sg_send_w(t, TH_ACK | TH_PSH, P(1), S(501), 500, NULL, 10);
    EXPECT(t, TH_ACK, SG_ANY, P(11));
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 500);
    CHECK_EQ(efvitcp_immediately_sendable(t->conn), 0);
    CHECK_EQ(efvitcp_send(t->conn, buf, 300, false), 300);
    EXPECT_NOTHING(t); /* nothing beyond S(1001) */
}

/* Unacceptable bare ACKs were each answered at once; two sides doing that answer each other
   for ever, and a burst of answers reads as duplicate ACKs (a spurious fast retransmit in the
   bulk runs). One answer per 500 ms now (as Linux's tcp_invalid_ratelimit); old data is still
   answered every time (our ACK was lost). */
static void test_old_bare_acks_are_answered_once(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    for (int i = 0; i < 5; i++) sg_send(t, TH_ACK, P(0), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(101));
    EXPECT_NOTHING(t);
    for (int i = 0; i < 3; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
        EXPECT(t, TH_ACK, S(1), P(101));
    }
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OUT_OF_WINDOW], 8);
    sg_advance(t, 499 * SG_MS);
    sg_send(t, TH_ACK, P(0), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(0), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(101));
}

/* RFC 5681 §4.2: an ACK at least for every second full-sized segment. With timestamps a full
   segment carries MSS - 12 bytes, so comparing against 2 * MSS never fired on two of them and
   every pair waited for the delayed-ACK timer (a 4 KiB window moved 2 segments per ms). */
static void test_ack_every_second_full_segment_with_timestamps(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 1000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK(t->ts_on);
    uint32_t full = SG_PEER_MSS - 12;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, full);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(1 + full), S(1), NULL, full);
    EXPECT(t, TH_ACK, S(1), P(1 + 2 * full)); /* at once */
    uint64_t t0 = sg_now(t);
    sg_send(t, TH_ACK | TH_PSH, P(1 + 2 * full), S(1), NULL, full);
    EXPECT_NOTHING(t);
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t0 + SG_MS); /* one segment: delayed */
    EXPECT(t, TH_ACK, S(1), P(1 + 3 * full));
}

/* send_fin() found its slot still on the link (as above) with nothing in flight: the FIN
   waited for an ACK that could never come. */
static void test_fin_waiting_for_busy_slot_leaves(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.send_slots = 8;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 8; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 8; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    static uint8_t f[4][2048];
    uint32_t n[4];
    sg_opts o = sg_def_opts(t);
    for (int i = 0; i < 3; i++) n[i] = sg_build(t, f[i], TH_ACK, P(1), S(1), t->win, NULL, 0, &o);
    n[3] = sg_build(t, f[3], TH_ACK, P(1), S(801), t->win, NULL, 0, &o);
    for (int i = 0; i < 4; i++) CHECK_EQ(et_wire_raw_send(t->wire, t->raw, f[i], n[i]), 0);
    sg_pump(t);
    /* everything is acknowledged; the FIN's slot (ring position 0) was just retransmitted */
    CHECK_NULL_ERR(efvitcp_send_fin(t->conn));
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* the fast retransmission */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_FIN, S(801), P(1));
}

int main(void)
{
    RUN(test_sendable_skips_slot_still_on_the_link);
    RUN(test_pure_ack_carries_highest_seq_after_timeout);
    RUN(test_bare_ack_before_our_ack_is_taken);
    RUN(test_ack_without_window_update_keeps_right_edge);
    RUN(test_old_bare_acks_are_answered_once);
    RUN(test_ack_every_second_full_segment_with_timestamps);
    RUN(test_fin_waiting_for_busy_slot_leaves);
    sg_cleanup();
    return th_summary();
}
