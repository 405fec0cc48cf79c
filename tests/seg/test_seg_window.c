/* Segment tests: the send side's flow control: the peer's window, zero-window probing
   (RFC 9293 §3.8.6.1), sender SWS avoidance (§3.8.6.2.1), corking and send-space callbacks. */
#include "check.h"
#include "segtest.h"

static uint8_t buf[65536];

/* RFC 9293 §3.8.6: never more than the peer's window in flight; an ACK opening it lets more go. */
static void test_sender_respects_peer_window(void)
{
    sg *t = sg_server(NULL);
    t->win = 300;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_immediately_sendable(t->conn), 300);
    for (int i = 0; i < 5; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    /* Segments are capped at the largest window seen (300), and three fit. */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(201), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 300);
    CHECK_EQ(cs.queued, 200);
    /* ACK of 100 with the same window: one more segment fits. */
    sg_send_w(t, TH_ACK, P(1), S(101), 300, NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    EXPECT_NOTHING(t);
    /* A pure window update (same ACK, wider window) sends the rest. */
    sg_send_w(t, TH_ACK, P(1), S(101), 1000, NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    EXPECT_NOTHING(t);
}

/* RFC 9293 §3.10.7.4: a window update is taken only from a segment newer than the last one
   used (SND.WL1/SND.WL2); an old reordered ACK cannot shrink the window. */
static void test_old_segment_does_not_update_window(void)
{
    sg *t = sg_server(NULL);
    t->win = 1000;
    REQUIRE(sg_established(t));
    sg_send_w(t, TH_ACK | TH_PSH, P(1), S(1), 2000, NULL, 10); /* newer: window 2000 */
    EXPECT(t, TH_ACK, S(1), P(11));
    sg_send_w(t, TH_ACK, P(1), S(1), 10, NULL, 0); /* reordered older segment */
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 2000);
}

/* The peer closed its window on data we had sent within it (its buffer filled and it dropped
   the data). Our pure ACKs must then carry a sequence number inside its window, SND.UNA +
   SND.WND, not SND.NXT beyond it: Linux drops a segment whose sequence number lies beyond its
   window, ACK field and all, so ACKs at SND.NXT never tell it what we received; it retransmits
   old data for ever and the connection stalls (seen on the efct interop faults case). */
static void test_pure_ack_seq_within_peer_window(void)
{
    sg *t = sg_server(NULL);
    t->win = 1000;
    REQUIRE(sg_established(t));
    static const uint8_t d[424] = {1};
    CHECK_EQ(efvitcp_send(t->conn, d, sizeof(d), false), (int)sizeof(d));
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send_w(t, TH_ACK, P(1), S(1), 0, NULL, 0); /* nothing taken, window closed */
    EXPECT_NOTHING(t);
    sg_send_w(t, TH_ACK | TH_PSH, P(1), S(1), 0, NULL, 10); /* its data */
    EXPECT(t, TH_ACK, S(1), P(11));
    sg_send_w(t, TH_ACK | TH_PSH, P(1), S(1), 0, NULL, 10); /* retransmitted: our ACK was lost */
    EXPECT(t, TH_ACK, S(1), P(11));
    /* The window opens: the dropped data goes again when its retransmission timer fires. */
    sg_send_w(t, TH_ACK, P(11), S(1), 1000, NULL, 0);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(11));
}

/* RFC 9293 §3.8.6.1: with a zero window the sender probes after the RTO and backs off
   exponentially while probes go unanswered, then gives up (RST + on_timeout). A probe is a bare
   ACK one below SND.UNA, which the peer must answer with its window; no data goes beyond it. */
static void test_zero_window_probes_unanswered_time_out(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.data_retries = 4;
    sg *t = sg_server(&cfg);
    t->win = 0;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.rto_us, 5000); /* min_rto: the handshake RTT was 0 */
    uint64_t due = sg_now(t), gap = 5 * SG_MS;
    for (int i = 0; i < 4; i++) {
        uint64_t at = sg_run_until_output(t, SG_SEC);
        CHECK_TIME(at, due + gap);
        due = at; /* each timer is armed from the poll that ran the last one */
        EXPECT_WL(t, TH_ACK, S(0), P(1), 16384, 0);
        gap *= 2;
    }
    CHECK_TIME(sg_run_until_output(t, SG_SEC), due + gap);
    EXPECT(t, TH_RST | TH_ACK, SG_ANY, P(1));
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(efvitcp_is_closed(t->conn));
}

/* RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: the window may stay closed for ever while the peer
   answers the probes; they still back off (up to max_rto) and the connection never times out. */
static void test_zero_window_probes_answered_never_time_out(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.data_retries = 3;
    cfg.max_rto_us = 80000;
    cfg.initial_rto_us = 50000;
    sg *t = sg_server(&cfg);
    t->win = 0;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    uint64_t due = sg_now(t), gap = 5 * SG_MS;
    for (int i = 0; i < 12; i++) {
        due += gap;
        uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
        CHECK_TIME(at, due);
        due = at;
        EXPECT_WL(t, TH_ACK, S(0), P(1), 16384, 0);
        sg_send_w(t, TH_ACK, P(1), S(1), 0, NULL, 0); /* "still closed" */
        EXPECT_NOTHING(t);
        if (gap < 80 * SG_MS) gap *= 2;
    }
    CHECK_EQ(t->ev.timeout, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    /* The window opens: the data goes. */
    sg_send_w(t, TH_ACK, P(1), S(1), 1000, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    sg_send_w(t, TH_ACK, P(1), S(101), 1000, NULL, 0);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
}

/* Answers to window probes that arrive after the window opened and data left look like duplicate
   ACKs (no data, the same acknowledgment and window) but announce no loss: as many pure ACKs as
   probes are outstanding are not counted, so three late answers trigger no fast retransmit. (The
   simulator's bulk transfer hit it: probes sent at a zero window, answered after the update.) */
static void test_late_probe_answers_are_not_duplicate_acks(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_rto_us = 50000;
    sg *t = sg_server(&cfg);
    t->win = 0;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 3; i++) { /* three probes, their answers held back */
        CHECK(sg_run_until_output(t, 10 * SG_SEC) != UINT64_MAX);
        EXPECT_WL(t, TH_ACK, S(0), P(1), 16384, 0);
    }
    /* The window opens (an update the peer sent before the answers), the data and more go. */
    sg_send_w(t, TH_ACK, P(1), S(1), 8000, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    /* The three late answers. */
    for (int i = 0; i < 3; i++) sg_send_w(t, TH_ACK, P(1), S(1), 8000, NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 0);
    /* Real duplicate ACKs still count. */
    for (int i = 0; i < 3; i++) sg_send_w(t, TH_ACK, P(1), S(1), 8000, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
}

/* The window had opened and its update was lost: the answer to the probe carries it, and the
   data follows at once. */
static void test_zero_window_probe_accepted(void)
{
    sg *t = sg_server(NULL);
    t->win = 0;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT_WL(t, TH_ACK, S(0), P(1), 16384, 0);
    sg_send_w(t, TH_ACK, P(1), S(1), 1000, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    sg_send_w(t, TH_ACK, P(1), S(201), 1000, NULL, 0);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* An established server whose peer offered `largest` bytes, then `now`, with n bytes queued
   (corked if more) that the small window held until the persist timer overrode it: the timer's
   segment is the next to expect. */
static sg *held_then_overridden(uint32_t largest, uint32_t now, uint32_t n, bool more)
{
    sg *t = sg_server(NULL);
    t->win = largest;
    if (!sg_established(t)) return NULL;
    sg_send_w(t, TH_ACK, P(1), S(1), now, NULL, 0);
    if (efvitcp_send(t->conn, buf, n, more) != n || !sg_expect_nothing(t)) return NULL;
    return sg_run_until_output(t, SG_SEC) != UINT64_MAX ? t : NULL;
}

/* RFC 9293 §3.8.6.2.1 sender SWS avoidance: a window smaller than half the largest one offered
   takes nothing until the persist timer overrides (then exactly what fits, never beyond it). */
static void test_sender_sws_small_window_waits(void)
{
    sg *t = held_then_overridden(1000, 50, 200, false);
    REQUIRE(t);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 50);
    sg_send_w(t, TH_ACK, P(1), S(51), 1000, NULL, 0); /* the rest of the segment follows */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(51), P(1), 16384, 150);
    sg_send_w(t, TH_ACK, P(1), S(201), 1000, NULL, 0);
    EXPECT_NOTHING(t);
}

/* A window of at least half the largest one offered takes its share of a segment at once. With
   segments of at most half the largest window (test_segments_of_half_a_small_window) that
   happens only below 536 bytes, where a segment is the whole window. */
static void test_sender_sws_half_window_splits(void)
{
    sg *t = sg_server(NULL);
    t->win = 500;
    REQUIRE(sg_established(t));
    sg_send_w(t, TH_ACK, P(1), S(1), 300, NULL, 0);
    CHECK_EQ(efvitcp_send(t->conn, buf, 500, false), 500);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 300);
    EXPECT_NOTHING(t);
    sg_send_w(t, TH_ACK, P(1), S(301), 500, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 200);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A peer whose window is below two segments gets segments of half its largest window (all of
   it below 536 bytes), as from Linux (tcp_bound_to_half_wnd): two segments in flight, so that a
   SACK block covers a whole one and RACK finds the loss of the other. Segments grow back to the
   MSS when the window grows. */
static void test_segments_of_half_a_small_window(void)
{
    sg *t = sg_server(NULL);
    t->win = 1000;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 1200, false), 1200);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 500);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(501), P(1), 16384, 500);
    EXPECT_NOTHING(t);
    /* One segment lost, the other sacked: the SACK block covers it whole. */
    sg_opts o = sg_def_opts(t);
    o.n_sack = 1;
    o.sack[0].start = S(501);
    o.sack[0].end = S(1001);
    sg_send_o(t, TH_ACK, P(1), S(1), 1000, NULL, 0, &o);
    CHECK_EQ(t->conn->n_sacked, 1);
    /* The window grows: new segments take the MSS again. */
    sg_send_w(t, TH_ACK, P(1), S(1001), 8000, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1001), P(1), 16384, 200);
    CHECK_EQ(efvitcp_send(t->conn, buf, 3000, false), 3000);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1201), P(1), 16384, 1448);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(2649), P(1), 16384, 1448);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(4097), P(1), 16384, 104);
    EXPECT_NOTHING(t);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A peer that keeps its window below half the largest one it offered, for a whole persist
   interval, has shrunk its buffer, or that largest window was never real (a corrupted window
   field that passed the checksum: sim seed 93, corrupt, --bulk). After one persist override,
   sender SWS avoidance and the segments' size measure against the window offered now; before,
   every segment waited for the persist timer (1.8 MB through 1,133-byte windows took 28 s, not
   7). */
static void test_window_shrunk_for_a_persist_interval(void)
{
    sg *t = held_then_overridden(20000, 1133, 3000, false); /* 1,448 + 1,448 + 104 */
    REQUIRE(t);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 1133);
    EXPECT_NOTHING(t);
    /* The rest of the first segment, and what the window takes of the second, at once. */
    sg_send_w(t, TH_ACK, P(1), S(1134), 1133, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1134), P(1), 16384, 315);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1449), P(1), 16384, 818);
    EXPECT_NOTHING(t);
    sg_send_w(t, TH_ACK, P(1), S(2267), 1133, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(2267), P(1), 16384, 630);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(2897), P(1), 16384, 104);
    EXPECT_NOTHING(t);
    /* New segments hold half the window offered now: two in flight. */
    sg_send_w(t, TH_ACK, P(1), S(3001), 1133, NULL, 0);
    CHECK_EQ(efvitcp_send(t->conn, buf, 1200, false), 1200);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(3001), P(1), 16384, 566);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(3567), P(1), 16384, 566);
    EXPECT_NOTHING(t);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The override shrinks the segments' size while a corked tail (send with more=true) may hold
   more than the new size: that tail takes no more bytes, and the next ones start a segment. */
static void test_window_shrunk_under_a_corked_tail(void)
{
    sg *t = held_then_overridden(20000, 1133, 2400, true); /* 1,448 + an open 952 */
    REQUIRE(t);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 1133);
    CHECK(et_stack_check(t->st) == NULL);
    CHECK(efvitcp_sendable(t->conn) < UINT32_MAX / 2); /* no room wrapped below zero */
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    CHECK_EQ(t->conn->sr_end - t->conn->sr_una, 3);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A peer whose first window is 0 (a SYN and handshake ACK with none) gets segments of half its
   first real window too: the size was recomputed only when the largest window passed it, and a
   first window of 1,000 bytes left it at the MSS. */
static void test_segments_of_half_a_window_first_offered_after_zero(void)
{
    sg *t = sg_server(NULL);
    t->win = 0;
    REQUIRE(sg_established(t));
    sg_send_w(t, TH_ACK, P(1), S(1), 1000, NULL, 0);
    CHECK_EQ(t->conn->seg_cap, 500);
    CHECK_EQ(efvitcp_send(t->conn, buf, 1200, false), 1200);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 500);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(501), P(1), 16384, 500);
    EXPECT_NOTHING(t);
    CHECK(et_stack_check(t->st) == NULL);
}

/* Below 536 bytes (RFC 9293's default MSS), segments of the whole window. */
static void test_segments_of_a_tiny_window(void)
{
    sg *t = sg_server(NULL);
    t->win = 400;
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 600, false), 600);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 400);
    EXPECT_NOTHING(t);
    sg_send_w(t, TH_ACK, P(1), S(401), 400, NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(401), P(1), 16384, 200);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A peer that offers a few bytes for a persist interval takes them, but the largest window falls
   no lower than 536 bytes (RFC 9293's default MSS): new segments of a few bytes would be silly
   windows of our own making. */
static void test_window_shrunk_to_a_few_bytes(void)
{
    sg *t = held_then_overridden(20000, 10, 3000, false);
    REQUIRE(t);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 10);
    CHECK_EQ(t->conn->max_snd_wnd, 536);
    CHECK_EQ(t->conn->seg_cap, 536);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The segments' size is not monotonic in the largest window: all of one up to 536 bytes, half
   of one above. A corked tail filled under the larger size takes no more once a larger window
   halves it: before, send() took seg_cap - len as the tail's room, which wrapped, and copied the
   whole request past the tail's end (a peer chose it by offering 500 bytes, then 600). */
static void test_larger_window_halves_the_size_under_a_corked_tail(void)
{
    sg *t = sg_server(NULL);
    t->win = 500;
    REQUIRE(sg_established(t));
    CHECK_EQ(t->conn->seg_cap, 500);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 400, true), 400); /* corked until S(1)'s ACK */
    EXPECT_NOTHING(t);
    sg_send_w(t, TH_ACK, P(1), S(1), 600, NULL, 0); /* a pure window update */
    CHECK_EQ(t->conn->seg_cap, 300);
    CHECK(et_stack_check(t->st) == NULL);
    CHECK(efvitcp_sendable(t->conn) < UINT32_MAX / 2); /* no room wrapped below zero */
    CHECK_EQ(efvitcp_send(t->conn, buf, 1000, false), 1000);
    CHECK_EQ(t->conn->sr_end - t->conn->sr_una, 6); /* 100, 400, 300, 300, 300, 100 */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 400);
    EXPECT_NOTHING(t); /* 100 bytes of window left: below half of 600 */
    CHECK(et_stack_check(t->st) == NULL);
}

/* send(more=true) keeps a partial segment open (like MSG_MORE) until more=false. */
static void test_cork_with_more(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, "ab", 2, true), 2);
    CHECK_EQ(efvitcp_send(t->conn, "cd", 2, true), 2);
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_send(t->conn, "ef", 2, false), 2);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 6);
    CHECK(memcmp(t->last->data, "abcdef", 6) == 0);
    /* A full segment leaves even when corked. */
    CHECK_EQ(efvitcp_send(t->conn, buf, 1448 + 10, true), 1458);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(7), P(1), 16384, 1448);
    EXPECT_NOTHING(t);
    /* An ACK of everything in flight uncorks the tail. */
    sg_send(t, TH_ACK, P(1), S(1455), NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1455), P(1), 16384, 10);
}

/* A tail corked with nothing in flight waits for no ACK: it leaves after ET_CORK_NS (200 ms,
   Linux's bound on TCP_CORK), unless a send without more takes it first. */
static void test_cork_bounded_with_nothing_in_flight(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint64_t t0 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, "ab", 2, true), 2);
    EXPECT_NOTHING(t);
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t0 + ET_CORK_NS);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 2);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(3), NULL, 0);
    /* Uncorked in time by a send without more: one segment, nothing at the bound. */
    t0 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, "cd", 2, true), 2);
    sg_advance(t, ET_CORK_NS / 2);
    CHECK_EQ(efvitcp_send(t->conn, "ef", 2, false), 2);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(3), P(1), 16384, 4);
    sg_send(t, TH_ACK, P(1), S(7), NULL, 0);
    CHECK(sg_run_until_output(t, 2 * ET_CORK_NS) == UINT64_MAX);
    /* With data in flight the ACK uncorks, not the bound. */
    CHECK_EQ(efvitcp_send(t->conn, buf, 1448 + 10, true), 1458);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(7), P(1), 16384, 1448);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(1455), NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1455), P(1), 16384, 10);
    CHECK(et_stack_check(t->st) == NULL);
}

/* on_more_sendable fires when an ACK frees send slots, and send() takes only what fits. */
static void refill_hook(sg *t, char ev, efvitcp_conn *c)
{
    if (ev == 'M') efvitcp_send(c, buf, 100, false);
}

static void test_more_sendable_callback(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.send_slots = 4;
    cfg.cc = EFVITCP_CC_NONE;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_sendable(t->conn), 4 * 1448);
    for (int i = 0; i < 4; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 0); /* ring full */
    CHECK_EQ(efvitcp_sendable(t->conn), 0);
    for (int i = 0; i < 4; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    t->hook = refill_hook;
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);
    CHECK_EQ(t->ev.more_sendable, 1);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(401), P(1), 16384, 100);
    /* A duplicate ACK frees nothing: no callback. */
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);
    CHECK_EQ(t->ev.more_sendable, 1);
    EXPECT_NOTHING(t);
}

/* Sending: payload bytes, segment boundaries (MSS less the TS option) and sequence numbers. */
static void test_send_segmentation(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (uint32_t i = 0; i < 4000; i++) buf[i] = sg_pat(i);
    CHECK_EQ(efvitcp_send(t->conn, buf, 4000, false), 4000);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 1448);
    CHECK(sg_payload_is_pat(t, 0));
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1449), P(1), 16384, 1448);
    CHECK(sg_payload_is_pat(t, 1448));
    EXPECT_WL(t, TH_ACK | TH_PSH, S(2897), P(1), 16384, 1104);
    CHECK(sg_payload_is_pat(t, 2896));
    sg_send(t, TH_ACK, P(1), S(4001), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.bytes_out, 4000);
    CHECK_EQ(cs.unacked, 0);
}

/* A sendv gather list lands in order. */
static void test_sendv(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    CHECK_EQ(efvitcp_sendv(t->conn, iov, 3, false), 5);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 5);
    CHECK(memcmp(t->last->data, "abcde", 5) == 0);
    CHECK_EQ(efvitcp_sendv(t->conn, NULL, -1, false), 0);
}

/* The window field of the last segment the stack sent (the others are dropped). */
static uint32_t last_win(sg *t)
{
    sg_rx *r, *last = NULL;
    while ((r = sg_take(t))) last = r;
    return last ? last->win : UINT32_MAX;
}

/* The peer fills the whole receive buffer, which the user holds: the window closes. */
static void fill_buffer(sg *t, uint32_t size)
{
    t->keep = UINT32_MAX;
    uint32_t off = 0;
    while (off < size) {
        uint32_t n = size - off < 1448 ? size - off : 1448;
        sg_send(t, TH_ACK | TH_PSH, P(1 + off), S(1), NULL, n);
        off += n;
    }
    CHECK_EQ(last_win(t), 0);
}

/* RFC 9293 §3.8.6.2.2: after a zero window, the window opens as soon as the user frees one MSS
   (or half the buffer, if smaller), not two: with 1,500 bytes free the sender waits for nothing
   but the update, where it would otherwise wait for its next persist probe (a back-off of up to
   two minutes with Linux). */
static void test_window_update_at_one_mss_after_zero_window(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    fill_buffer(t, 16384);
    efvitcp_consume(t->conn, 1000); /* below one MSS (1,460): the window stays shut */
    EXPECT_NOTHING(t);
    efvitcp_consume(t->conn, 500);
    EXPECT_WL(t, TH_ACK, S(1), P(16385), 1500, 0);
    EXPECT_NOTHING(t);
}

/* Window updates are decided on the window that would be advertised: without window scaling a
   buffer above 64 KiB is advertised as 65,535, and consuming data behind that edge announces
   nothing new. Each such ACK would be a copy of the last, and three in a row are duplicate ACKs
   to a peer with data in flight (a spurious fast retransmit). */
static void test_no_window_update_beyond_the_field(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 131072;
    cfg.window_scale = false;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    t->keep = UINT32_MAX;
    for (uint32_t i = 0; i < 4; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(1 + 1448 * i), S(1), NULL, 1448);
        CHECK_EQ(last_win(t), 65535);
    }
    for (uint32_t i = 0; i < 4; i++) {
        efvitcp_consume(t->conn, 1448);
        EXPECT_NOTHING(t);
    }
}

/* Sequence number 0 is an edge like any other. The SYN-ACK's edge lands on it when the peer's ISN
   is 2^32 - 65,536 (a 64 KiB buffer, window scale 1); an island up to that edge then made the kept
   window (65,535 bytes, 65,534 once scaled) move the remembered edge 1 byte left: the right edge
   was taken for "nothing announced yet" when it was 0 (RFC 9293 §3.8.6: it never moves left). */
static void test_right_edge_at_sequence_zero(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 65536;
    sg *t = sg_server(&cfg);
    t->pis = 0xFFFF0000u;
    REQUIRE(sg_established(t));
    CHECK_EQ(t->conn->rcv_adv, 0);
    sg_send(t, TH_ACK | TH_PSH, P(64536), S(1), NULL, 1000); /* an island up to the edge */
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->conn->rcv_adv, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

int main(void)
{
    RUN(test_sender_respects_peer_window);
    RUN(test_old_segment_does_not_update_window);
    RUN(test_pure_ack_seq_within_peer_window);
    RUN(test_zero_window_probes_unanswered_time_out);
    RUN(test_zero_window_probes_answered_never_time_out);
    RUN(test_zero_window_probe_accepted);
    RUN(test_sender_sws_small_window_waits);
    RUN(test_sender_sws_half_window_splits);
    RUN(test_segments_of_half_a_small_window);
    RUN(test_segments_of_a_tiny_window);
    RUN(test_segments_of_half_a_window_first_offered_after_zero);
    RUN(test_window_shrunk_for_a_persist_interval);
    RUN(test_window_shrunk_under_a_corked_tail);
    RUN(test_window_shrunk_to_a_few_bytes);
    RUN(test_larger_window_halves_the_size_under_a_corked_tail);
    RUN(test_cork_with_more);
    RUN(test_cork_bounded_with_nothing_in_flight);
    RUN(test_more_sendable_callback);
    RUN(test_send_segmentation);
    RUN(test_sendv);
    RUN(test_window_update_at_one_mss_after_zero_window);
    RUN(test_late_probe_answers_are_not_duplicate_acks);
    RUN(test_no_window_update_beyond_the_field);
    RUN(test_right_edge_at_sequence_zero);
    sg_cleanup();
    return th_summary();
}
