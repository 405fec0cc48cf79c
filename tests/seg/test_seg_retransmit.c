/* Segment tests: retransmission (RFC 6298 RTO, Karn and back-off; RFC 5681 fast retransmit;
   RFC 6582 NewReno), giving up, and keepalive (RFC 9293 §3.8.4). */
#include "segtest.h"

static uint8_t buf[8192];

/* RFC 6298 §2.1/§5.5: the SYN leaves again after the initial RTO (1 s), then 2, 4, 8, 16 s;
   after syn_retries retransmissions the connect times out (no RST: nothing is synchronised). */
static void test_syn_rto_backoff_and_timeout(void)
{
    sg *t = sg_client(NULL);
    uint64_t due = sg_now(t);
    REQUIRE(sg_syn_sent(t));
    uint64_t gap = SG_SEC;
    for (int i = 0; i < 5; i++) {
        uint64_t at = sg_run_until_output(t, 100 * SG_SEC);
        CHECK_TIME(at, due + gap);
        due = at;
        EXPECT(t, TH_SYN, S(0), 0);
        CHECK(t->last->opt.has_mss && t->last->opt.has_ws && t->last->opt.has_ts);
        EXPECT_NOTHING(t);
        gap *= 2;
    }
    CHECK_EQ(t->ev.timeout, 0);
    sg_advance_to(t, due + gap - 1024);
    CHECK_EQ(t->ev.timeout, 0);
    sg_advance_to(t, due + gap + 1024);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(strcmp(t->ev.log, "T") == 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_timeout, 1);
    CHECK_EQ(st.conns_active, 0);
    CHECK_EQ(st.rst_sent, 0);
}

/* The same on the passive side: SYN-ACK retransmissions, then the half-open connection is
   dropped without a callback (the user never saw it). */
static void test_synack_rto_and_silent_drop(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_retries = 2;
    sg *t = sg_server(&cfg);
    uint64_t due = sg_now(t);
    REQUIRE(sg_syn_received(t, NULL));
    uint64_t at = sg_run_until_output(t, 10 * SG_SEC);
    CHECK_TIME(at, due + SG_SEC);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    uint64_t at2 = sg_run_until_output(t, 10 * SG_SEC);
    CHECK_TIME(at2, at + 2 * SG_SEC);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    sg_advance(t, 10 * SG_SEC);
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.timeout, 0);
    CHECK(strcmp(t->ev.log, "A") == 0);
}

/* A server connection established by an ACK 20 ms after its SYN-ACK (the first RTT sample:
   SRTT 20 ms, RTTVAR 10 ms, RTO 60 ms), with or without timestamps; NULL if not. */
static sg *established_rtt_20ms(bool ts)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.timestamps = ts;
    sg *t = sg_server(&cfg);
    return sg_established_after(t, 20 * SG_MS) ? t : NULL;
}

/* 100 bytes sent once at S(off), acknowledged rtt later: an RTT sample of rtt. */
static void send_acked_after(sg *t, uint32_t off, uint64_t rtt)
{
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(off), P(1));
    sg_advance(t, rtt);
    sg_send(t, TH_ACK, P(1), S(off + 100), NULL, 0);
}

/* RFC 6298 §2-§3 and §5: the first RTT sample sets SRTT and RTTVAR, the RTO then follows them;
   a retransmitted segment gives no sample (Karn), and the timer backs off. Without timestamps,
   which would make the retransmission's ACK unambiguous (the test after the next). */
static void test_data_rto_and_karn(void)
{
    sg *t = established_rtt_20ms(false);
    REQUIRE(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 20000);
    CHECK_EQ(cs.rttvar_us, 10000);
    CHECK_EQ(cs.rto_us, 60000); /* SRTT + 4 RTTVAR */

    uint64_t t1 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t1 + 60 * SG_MS);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    uint64_t at2 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at2, at + 120 * SG_MS); /* backed off */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    sg_advance(t, 5 * SG_MS);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 20000); /* Karn: no sample from a retransmitted segment */
    CHECK_EQ(cs.retransmits, 2);
    EXPECT_NOTHING(t);

    /* A segment sent once gives a sample: SRTT = 7/8 * 20 + 1/8 * 40 ms. */
    send_acked_after(t, 101, 40 * SG_MS);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 22500);
    CHECK_EQ(cs.rttvar_us, 12500);
    CHECK_EQ(cs.rto_us, 72500);
    /* Nothing outstanding: no timer. */
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* RFC 6298 §5.5 and §5 (Karn's algorithm): the backed-off RTO stays until a new RTT sample
   recomputes it; an ACK of retransmitted data gives none. Before, the next ACK of new data
   collapsed it, so a path whose round trip had grown past the RTO (a queue filling) timed out
   spuriously again with every segment: sim seed 207 (slow, --bulk, no timestamps) made 1,772
   RTOs while the queue dropped 14 frames (31 now). */
static void test_backed_off_rto_kept_until_sample(void)
{
    sg *t = established_rtt_20ms(false);
    REQUIRE(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    REQUIRE(cs.rto_us == 60000);

    uint64_t t1 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t1 + 60 * SG_MS);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 100);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.rto_us, 120000);
    sg_advance(t, 5 * SG_MS);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0); /* ambiguous: no sample */
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.rto_us, 120000);

    /* The next segment's timer is the backed-off one. */
    uint64_t t2 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t2 + 120 * SG_MS);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.rto_us, 240000);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);

    /* A segment sent once and acknowledged gives a sample, and the RTO follows SRTT again:
       SRTT = 7/8 * 20 + 1/8 * 30 ms, RTTVAR = 3/4 * 10 + 1/4 * 10 ms. */
    send_acked_after(t, 201, 30 * SG_MS);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.srtt_us, 21250);
    CHECK_EQ(cs.rttvar_us, 10000);
    CHECK_EQ(cs.rto_us, 61250);
}

/*
 * RFC 6298 §3 (Karn): an ACK that covers a retransmitted byte gives no sequence-based sample,
 * even for a segment in the same ACK sent only once: after a timeout that segment's send time
 * includes the whole recovery wait (here a segment B sent once with A, A lost and resent at its
 * RTO, then one ACK for both). With timestamps the echo makes it unambiguous (RFC 7323 §4): the
 * sample is the age of the TSval echoed, at the 1 ms granularity of the TS clock.
 */
static void rto_then_ack_covering_both(bool ts, efvitcp_conn_stats *cs, uint64_t *resent_at,
                                       uint64_t *acked_at)
{
    sg *t = established_rtt_20ms(ts);
    REQUIRE(t);
    sg_conn_stats(t, cs);
    REQUIRE(cs->srtt_us == 20000);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100); /* A */
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100); /* B */
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    *resent_at = sg_run_until_output(t, SG_SEC);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* A again, at its RTO */
    EXPECT_NOTHING(t);
    sg_advance(t, 5 * SG_MS);
    *acked_at = sg_now(t);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0); /* A and B */
    sg_conn_stats(t, cs);
    CHECK_EQ(cs->retransmits, 1);
}

static void test_no_rtt_sample_from_ack_covering_retransmission(void)
{
    efvitcp_conn_stats cs;
    uint64_t resent, acked;
    rto_then_ack_covering_both(false, &cs, &resent, &acked);
    CHECK_EQ(cs.srtt_us, 20000);
    CHECK_EQ(cs.rttvar_us, 10000);
}

static void test_rtt_sample_from_timestamp_echo_after_retransmission(void)
{
    efvitcp_conn_stats cs;
    uint64_t resent, acked;
    rto_then_ack_covering_both(true, &cs, &resent, &acked);
    /* The echoed TSval is the retransmission's: its age in whole TS ticks (1 ms), at least 1. */
    uint64_t ms = acked / SG_MS - resent / SG_MS;
    if (ms == 0) ms = 1;
    uint64_t r = ms * 1000; /* µs */
    CHECK_EQ(cs.srtt_us, (7 * 20000 + r) / 8);
    CHECK_EQ(cs.rttvar_us, (3 * 10000 + (20000 - r)) / 4);
}

/* A RST sent after an RTO rewound SND.NXT carries the highest sequence number sent: the peer's
   RCV.NXT may already be there, and a RST below it is out of its window (RFC 5961 §3). */
static void test_rst_after_rto_rewind_carries_highest_seq(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 3; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 3; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* the RTO resends the first: SND.NXT = S(101) */
    efvitcp_conn_close(t->conn);
    EXPECT(t, TH_RST | TH_ACK, S(301), P(1));
}

/* The initial window; then the initial window's worth sent and acknowledged in slow start. */
static uint32_t cwnd_after_growth(sg *t)
{
    CHECK(sg_established(t));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    uint32_t iw = cs.cwnd, n = iw / 1448;
    for (uint32_t i = 0; i < n; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 1448, false), 1448);
    sg_flush(t);
    sg_send(t, TH_ACK, P(1), S(1 + n * 1448), NULL, 0);
    sg_conn_stats(t, &cs);
    CHECK(cs.cwnd > iw);
    return iw;
}

/* RFC 5681 §4.1: after an idle period longer than the RTO, cwnd restarts from the initial
   window (cfg.slow_start_after_idle, on by default as in Linux); off, it is kept. */
static void test_slow_start_after_idle(void)
{
    for (int on = 0; on < 2; on++) {
        efvitcp_config cfg;
        sg_config(&cfg);
        cfg.slow_start_after_idle = on;
        sg *t = sg_server(&cfg);
        uint32_t iw = cwnd_after_growth(t);
        efvitcp_conn_stats cs;
        sg_conn_stats(t, &cs);
        uint32_t grown = cs.cwnd;
        sg_advance(t, 2 * SG_SEC); /* beyond any RTO here */
        CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
        sg_conn_stats(t, &cs);
        CHECK_EQ(cs.cwnd, on ? iw : grown);
        sg_cleanup();
    }
}

/* The retransmission timer is postponed lazily (et_wheel_postpone) and left armed when everything
   is acknowledged. Neither may change when an RTO fires: RFC 6298 §5.3 restarts it for the
   oldest outstanding data when an ACK advances, and a stale timer from earlier data fires as a
   no-op. */
static void test_rto_exact_after_lazy_rearm(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_advance(t, 20 * SG_MS);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(t->ev.established == 1); /* RTO is now 60 ms (SRTT 20, RTTVAR 10) */

    /* Data acknowledged quickly: the timer stays armed for t + 60 ms, in mode NONE. */
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_advance(t, 20 * SG_MS);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    uint64_t rto = (uint64_t)cs.rto_us * 1000;

    /* New data 30 ms later: its RTO counts from now, not from the stale timer's time. */
    sg_advance(t, 30 * SG_MS);
    uint64_t t1 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t1 + rto);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);

    /* A partial ACK restarts the timer for the rest (§5.3), later than the first send's. */
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    sg_advance(t, 10 * SG_MS);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    sg_advance(t, 10 * SG_MS);
    uint64_t t2 = sg_now(t);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
    sg_conn_stats(t, &cs); /* the ACK gave an RTT sample */
    rto = (uint64_t)cs.rto_us * 1000;
    at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t2 + rto);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 100);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 2);
}

/* RFC 6298 §5.4: on RTO only the earliest unacknowledged segment goes; RFC 5681 §3.1: the
   window collapses to one segment, and the ACK of it lets the next ones go (go-back-N). */
static void test_rto_retransmits_first_then_rest(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 3; i++) CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    for (int i = 0; i < 3; i++) EXPECT(t, TH_ACK | TH_PSH, S(1 + 100 * i), P(1));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.cwnd, 1448);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 1);
}

/* A retransmission carries the current ACK and window, not those of the first transmission. */
static void test_retransmission_carries_current_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(101), P(51));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(51), 16384 - 50, 100);
}

/* RFC 6298 §5 + data_retries: unanswered retransmissions give up with RST and on_timeout. */
static void test_data_retries_exhausted(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.data_retries = 3;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint64_t due = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    uint64_t gap = 5 * SG_MS;
    for (int i = 0; i < 3; i++) {
        uint64_t at = sg_run_until_output(t, SG_SEC);
        CHECK_TIME(at, due + gap);
        due = at;
        EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
        gap *= 2;
    }
    CHECK_TIME(sg_run_until_output(t, SG_SEC), due + gap);
    sg_rx *r = sg_expect(t, TH_RST | TH_ACK, SG_ANY, P(1));
    REQUIRE(r != NULL);
    /* In the peer's window (it has received nothing): S(1) up to what we sent. */
    CHECK((int32_t)(r->seq - S(1)) >= 0 && (int32_t)(r->seq - S(101)) <= 0);
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(efvitcp_is_closed(t->conn));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_timeout, 1);
    CHECK_EQ(st.rst_sent, 1);
    EXPECT_NOTHING(t);
}

/* Sends n segments of 100 bytes and checks they all leave. */
static bool send_segs(sg *t, int n)
{
    for (int i = 0; i < n; i++)
        if (efvitcp_send(t->conn, buf, 100, false) != 100) return false;
    for (int i = 0; i < n; i++)
        if (!sg_expect(t, TH_ACK | TH_PSH, S(1 + 100 * (uint32_t)i), P(1))) return false;
    return true;
}

/* RFC 5681 §3.2: the third duplicate ACK retransmits exactly the first unacknowledged segment,
   at once, and nothing else. */
static void test_fast_retransmit_on_third_dupack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
    CHECK_EQ(st.rto_events, 0);
    /* More duplicates do not retransmit again. */
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT_NOTHING(t);
    /* The full ACK ends recovery; nothing more leaves, and no RTO follows. */
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* RFC 6582 compares SND.UNA with recover, which no episode had moved since the handshake: after
   2 GiB acknowledged without a loss the two were more than 2^31 apart, sequence comparison said
   an episode was still open, and every first loss of the next 2 GiB waited for a timeout. Here
   recover starts 2^31 - 256 behind (nearly 2 GiB acknowledged), and two ACKs of 100 and 200
   bytes take SND.UNA past the line. */
static void test_fast_retransmit_after_2gib_without_loss(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->conn->recover = t->conn->snd_una - 0x7fffff00u;
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
    EXPECT_NOTHING(t);
    for (int i = 0; i < 2; i++) {
        sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
        EXPECT_NOTHING(t);
    }
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 100);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
    CHECK_EQ(st.rto_events, 0);
}

/* RFC 5681 §2: ACKs carrying data or a window change are no duplicates. */
static void test_not_duplicate_acks(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    for (uint32_t i = 0; i < 3; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(1 + 10 * i), S(101), NULL, 10); /* data */
        EXPECT(t, TH_ACK, S(501), P(11 + 10 * i));
    }
    for (uint16_t i = 0; i < 3; i++) sg_send_w(t, TH_ACK, P(31), S(101), 60000 + i, NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 0);
}

/* RFC 6582 §3.2 step 5: in recovery a partial ACK retransmits the next hole at once; the ACK
   covering everything sent before recovery ends it. */
static void test_newreno_partial_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    for (int i = 0; i < 4; i++) sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1)); /* fast retransmit: first segment lost */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0); /* partial: the third was lost too */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(201), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0); /* partial again: fourth */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 100);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
    CHECK_EQ(st.retransmits, 3);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* With congestion control off (cc NONE) nothing but the peer's window holds data back, during
   duplicate ACKs too: new data leaves at once after one duplicate ACK (RFC 3042 limited
   transmit adds to an unlimited window) and after further duplicates in fast recovery (RFC 6582
   step 4 inflation). Both once pushed the window's end past 2^31 bytes beyond SND.UNA, where
   sequence arithmetic wraps, and the data waited for the duplicates to stop. */
static void test_cc_none_sends_during_dupacks(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.cc = EFVITCP_CC_NONE;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    REQUIRE(send_segs(t, 5));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0); /* first duplicate */
    EXPECT_NOTHING(t);
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(501), P(1));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0); /* third: fast retransmit */
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0); /* fourth: recovery inflates */
    EXPECT_NOTHING(t);
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(601), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.fast_retransmits, 1);
}

/* RFC 9293 §3.8.4: after keepalive_ms idle a probe <SEQ=SND.NXT-1> goes; an answer resets the
   count; unanswered probes every keepalive_intvl_ms end in RST and on_timeout. */
static void test_keepalive(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.keepalive_ms = 100;
    cfg.keepalive_intvl_ms = 10;
    cfg.keepalive_probes = 3;
    sg *t = sg_server(&cfg);
    uint64_t t0 = sg_now(t);
    REQUIRE(sg_established(t));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t0 + 100 * SG_MS);
    EXPECT_WL(t, TH_ACK, S(0), P(1), 16384, 0);
    CHECK(t->last->opt.has_ts);
    /* The peer answers: the next probe waits for a full idle period again. */
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    uint64_t answered = sg_now(t);
    uint64_t at2 = sg_run_until_output(t, SG_SEC);
    CHECK(at2 >= answered + 100 * SG_MS && at2 < answered + 100 * SG_MS + 10 * SG_MS + 1024);
    EXPECT(t, TH_ACK, S(0), P(1));
    /* No answer: two more probes at the interval, then give up. */
    uint64_t at3 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at3, at2 + 10 * SG_MS);
    EXPECT(t, TH_ACK, S(0), P(1));
    uint64_t at4 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at4, at3 + 10 * SG_MS);
    EXPECT(t, TH_ACK, S(0), P(1));
    uint64_t at5 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at5, at4 + 10 * SG_MS);
    EXPECT(t, TH_RST | TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(efvitcp_is_closed(t->conn));
}

/* A segment the acceptability tests reject (here far outside the window) is answered, but is
   no sign of life: keepalive probing goes on at its interval. */
static void test_keepalive_not_reset_by_unacceptable_segment(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.keepalive_ms = 100;
    cfg.keepalive_intvl_ms = 10;
    cfg.keepalive_probes = 3;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    EXPECT(t, TH_ACK, S(0), P(1)); /* the first probe */
    sg_send(t, TH_ACK | TH_PSH, P(1 + 1000000), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(1)); /* the answer to an unacceptable segment */
    uint64_t at2 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at2, at + 10 * SG_MS);
    EXPECT(t, TH_ACK, S(0), P(1));
}

/* Traffic keeps keepalive quiet; a peer's keepalive probe (SEQ = RCV.NXT - 1) gets an ACK. */
static void test_keepalive_quiet_with_traffic_and_answer_probe(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.keepalive_ms = 100;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    for (uint32_t i = 0; i < 10; i++) {
        sg_advance(t, 50 * SG_MS);
        sg_send(t, TH_ACK | TH_PSH, P(1 + i), S(1), NULL, 1);
        EXPECT(t, TH_ACK, S(1), P(2 + i));
    }
    sg_send(t, TH_ACK, P(10), S(1), NULL, 0); /* the peer's probe */
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->ev.timeout, 0);
}

/* An ACK in the middle of a segment moves SND.UNA but frees nothing; the RTO resends only the
   unacknowledged part (never bytes the peer already has) and the final ACK frees it. */
static void test_ack_inside_a_segment(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, buf, 1000, false), 1000);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 1000);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 500);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(501), P(1), 16384, 500);
    sg_send(t, TH_ACK, P(1), S(1001), NULL, 0);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
    CHECK_EQ(efvitcp_sendable(t->conn), 64 * 1448);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

int main(void)
{
    RUN(test_syn_rto_backoff_and_timeout);
    RUN(test_synack_rto_and_silent_drop);
    RUN(test_data_rto_and_karn);
    RUN(test_backed_off_rto_kept_until_sample);
    RUN(test_no_rtt_sample_from_ack_covering_retransmission);
    RUN(test_rtt_sample_from_timestamp_echo_after_retransmission);
    RUN(test_rto_exact_after_lazy_rearm);
    RUN(test_rto_retransmits_first_then_rest);
    RUN(test_retransmission_carries_current_ack);
    RUN(test_data_retries_exhausted);
    RUN(test_fast_retransmit_on_third_dupack);
    RUN(test_fast_retransmit_after_2gib_without_loss);
    RUN(test_not_duplicate_acks);
    RUN(test_newreno_partial_ack);
    RUN(test_cc_none_sends_during_dupacks);
    RUN(test_ack_inside_a_segment);
    RUN(test_keepalive);
    RUN(test_keepalive_quiet_with_traffic_and_answer_probe);
    RUN(test_keepalive_not_reset_by_unacceptable_segment);
    RUN(test_rst_after_rto_rewind_carries_highest_seq);
    RUN(test_slow_start_after_idle);
    sg_cleanup();
    return th_summary();
}
