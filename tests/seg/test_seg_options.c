/* Segment tests: TCP options after the handshake (RFC 7323 timestamps, PAWS and window scaling;
   RFC 9293 §3.2 option parsing). */
#include "segtest.h"

/* RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent is dropped and acknowledged. */
static void test_paws_drops_old_tsval_with_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->ts = SG_PEER_TS - 1;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS); /* TS.Recent unchanged */
    CHECK_EQ(t->ev.data, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_PAWS], 1);
    /* Far in the past (modular: half the space back) as well. */
    t->ts = SG_PEER_TS - 0x7fffffffu;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(1));
    /* An equal TSval is fine (§5.3: "less than"). */
    t->ts = SG_PEER_TS;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK(sg_stream_is_pat(t, 10));
}

/* RFC 7323 §5.3 with Linux's rate limit (tcp_oow_rate_limited): a bare ACK that PAWS drops is
   answered at most once per half second, or one injected segment with a TSval from the future
   makes two stacks trade ACKs at line rate: each genuine ACK is PAWS-dropped and answered, the
   answer acknowledges nothing the peer sent... A dropped segment with data is always answered. */
static void test_paws_bare_ack_answers_rate_limited(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    /* An injected in-window segment with a TSval far ahead becomes TS.Recent. */
    t->ts = SG_PEER_TS + 0x10000000u;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    /* The genuine peer's bare ACKs now fail PAWS: the first is answered, the next are not. */
    t->ts = SG_PEER_TS + 1;
    for (int i = 0; i < 5; i++) sg_send(t, TH_ACK, P(11), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(11));
    EXPECT_NOTHING(t);
    /* Data is always answered (it cannot be a loop's echo). */
    sg_send(t, TH_ACK | TH_PSH, P(11), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    /* Half a second later a bare ACK gets an answer again. */
    sg_advance(t, 500 * SG_MS);
    sg_send(t, TH_ACK, P(11), S(1), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(11));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_PAWS], 7);
}

/* RFC 5961 §5.2 / RFC 9293 §3.10.7.4: an ACK of data never sent is answered with an ACK and
   dropped; for bare ACKs at most once per half second, so that two stacks cannot ping-pong. */
static void test_ack_of_unsent_data_answers_rate_limited(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 5; i++) sg_send(t, TH_ACK, P(1), S(1000), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1000), NULL, 10); /* with data: answered */
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_advance(t, 500 * SG_MS);
    sg_send(t, TH_ACK, P(1), S(1000), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_BAD_ACK], 7);
}

/* A keepalive (seq RCV.NXT - 1, no data) is answered every time; a segment of that shape that
   acknowledges data never sent is no peer's probe, and its answers are rate limited like any
   other: two stacks that each took a forged FIN in the other's name exchanged such ACKs without
   end (fuzz: regress/pair/phantom-fins-ack-loop). */
static void test_probe_shaped_ack_of_unsent_data_rate_limited(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (int i = 0; i < 3; i++) {
        sg_send(t, TH_ACK, P(0), S(1), NULL, 0);
        EXPECT(t, TH_ACK, S(1), P(1));
    }
    sg_advance(t, 500 * SG_MS);
    for (int i = 0; i < 3; i++) sg_send(t, TH_ACK, P(0), S(2), NULL, 0);
    EXPECT(t, TH_ACK, S(1), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OUT_OF_WINDOW], 6);
}

/* RFC 7323 §5.3: PAWS does not apply to RST (a reset with an old TSval still counts). */
static void test_paws_exempts_rst(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->ts = 5;
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    CHECK_EQ(t->ev.reset, 1);
}

/* RFC 7323 §3.2: once negotiated, a non-RST segment without TS is dropped (silently). A RST
   without it is still processed. */
static void test_missing_ts_dropped(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send_o(t, TH_ACK | TH_PSH, P(1), S(1), t->win, NULL, 10, NULL);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.data, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    sg_send_o(t, TH_RST, P(11), 0, t->win, NULL, 0, NULL);
    CHECK_EQ(t->ev.reset, 1);
}

/* RFC 7323 §4.3: TS.Recent follows in-order segments and is echoed in every ACK; a later
   out-of-order segment does not move it. Our TSval follows a 1 ms clock (§5.4). */
static void test_ts_recent_and_tsval_clock(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint32_t tsv0 = t->syn.opt.tsval;
    t->ts = SG_PEER_TS + 10;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS + 10);
    CHECK_EQ(t->last->opt.tsval, tsv0);
    t->ts = SG_PEER_TS + 50;
    sg_send(t, TH_ACK | TH_PSH, P(21), S(1), NULL, 10); /* hole at P(11) */
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS + 10);
    sg_advance(t, 7 * SG_MS);
    t->ts = SG_PEER_TS + 60;
    sg_send(t, TH_ACK | TH_PSH, P(11), S(1), NULL, 10); /* fills the hole */
    EXPECT(t, TH_ACK, S(1), P(31));
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS + 60);
    CHECK_EQ(t->last->opt.tsval, tsv0 + 7);
}

/* RFC 7323 §2.2-2.3: the window field of a SYN is never scaled; after the handshake the peer's
   windows are shifted by the scale its SYN offered. */
static void test_window_scale_applied_after_handshake(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = sg_syn_opts(t);
    o.ws = 2;
    t->win = 1000;
    REQUIRE(sg_syn_received(t, &o));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 1000);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(t->ev.established == 1);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 4000);
    /* The stack really uses it: 4000 bytes leave, not 1000. */
    static uint8_t buf[6000];
    CHECK_EQ(efvitcp_send(t->conn, buf, 1448, false), 1448);
    CHECK_EQ(efvitcp_send(t->conn, buf, 1448, false), 1448);
    CHECK_EQ(efvitcp_send(t->conn, buf, 1104, false), 1104);
    CHECK_EQ(efvitcp_send(t->conn, buf, 1, false), 1);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 1448);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1449), P(1), 16384, 1448);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(2897), P(1), 16384, 1104);
    EXPECT_NOTHING(t); /* the 4001st byte waits for the window */
}

/* RFC 7323 §2.2: the active side scales neither the SYN-ACK's window. */
static void test_window_scale_not_applied_to_synack(void)
{
    sg *t = sg_client(NULL);
    sg_opts o = sg_syn_opts(t);
    o.ws = 3;
    t->win = 500;
    REQUIRE(sg_established_active(t, &o));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 500);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 4000);
}

/* RFC 7323 §2.3: a shift above 14 is taken as 14. */
static void test_window_scale_clamped_to_14(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = sg_syn_opts(t);
    o.ws = 15;
    REQUIRE(sg_syn_received(t, &o));
    sg_send_w(t, TH_ACK, P(1), S(1), 1, NULL, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 1u << 14);
    o.ws = 255;
    t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, &o));
    sg_send_w(t, TH_ACK, P(1), S(1), 2, NULL, 0);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.snd_wnd, 2u << 14);
}

/* RFC 7323 §2.2: our own scale fits the buffer; the SYN-ACK window is unscaled (capped at
   65535), later windows are shifted. Without WS from the peer we never scale. */
static void test_own_window_scale(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 1u << 20;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK(t->syn.opt.has_ws);
    CHECK_EQ(t->syn.opt.ws, 5);
    CHECK_EQ(t->syn.win, 65535);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    /* The edge announced in the SYN-ACK (65535 bytes) is far below the buffer: it grows. */
    CHECK_EQ(t->last->win, ((1u << 20)) >> 5);

    t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.has_ws = false;
    REQUIRE(sg_syn_received(t, &o));
    CHECK(!t->syn.opt.has_ws);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    CHECK_EQ(t->last->win, 65535);
}

/* RFC 9293 §3.2 / RFC 1122 §4.2.2.5: unknown options are skipped by length; MSS in a non-SYN is
   ignored; a malformed list (length 0 or 1, or overrunning) drops the segment without harm. */
static void test_option_parsing_hostile(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_opts o = sg_def_opts(t);
    uint8_t unknown[] = {30, 6, 1, 2, 3, 4, 2, 4, 0x00, 0x10}; /* kind 30, then MSS 16 */
    memcpy(o.raw, unknown, sizeof(unknown));
    o.raw_len = sizeof(unknown);
    sg_send_o(t, TH_ACK | TH_PSH, P(1), S(1), t->win, NULL, 10, &o);
    EXPECT(t, TH_ACK, S(1), P(11));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1460 - 12);

    static const uint8_t bad[][4] = {{30, 0, 1, 1}, {30, 1, 1, 1}, {30, 9, 1, 1}, {8, 2, 1, 1}};
    for (int i = 0; i < 4; i++) {
        o = sg_def_opts(t);
        memcpy(o.raw, bad[i], 4);
        o.raw_len = 4;
        sg_send_o(t, TH_ACK | TH_PSH, P(11), S(1), t->win, NULL, 10, &o);
        EXPECT_NOTHING(t);
    }
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_TCP_HEADER], 4);
    CHECK(sg_stream_is_pat(t, 10));
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* RFC 9293 §3.1: a bad TCP checksum drops the segment silently. */
static void test_bad_checksum_dropped(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint8_t f[2048];
    sg_opts o = sg_def_opts(t);
    uint32_t n = sg_build(t, f, TH_ACK | TH_PSH, P(1), S(1), t->win, NULL, 10, &o);
    f[n - 1] ^= 0x40;
    sg_send_frame(t, f, n);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.data, 0);
    /* A RST with a bad checksum is no RST. */
    n = sg_build(t, f, TH_RST, P(1), 0, 0, NULL, 0, NULL);
    f[ET_ETH_HLEN + ET_IP_HLEN + 16] ^= 1;
    sg_send_frame(t, f, n);
    CHECK_EQ(t->ev.reset, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_TCP_CSUM], 2);
}

int main(void)
{
    RUN(test_paws_drops_old_tsval_with_ack);
    RUN(test_paws_exempts_rst);
    RUN(test_paws_bare_ack_answers_rate_limited);
    RUN(test_ack_of_unsent_data_answers_rate_limited);
    RUN(test_probe_shaped_ack_of_unsent_data_rate_limited);
    RUN(test_missing_ts_dropped);
    RUN(test_ts_recent_and_tsval_clock);
    RUN(test_window_scale_applied_after_handshake);
    RUN(test_window_scale_not_applied_to_synack);
    RUN(test_window_scale_clamped_to_14);
    RUN(test_own_window_scale);
    RUN(test_option_parsing_hostile);
    RUN(test_bad_checksum_dropped);
    sg_cleanup();
    return th_summary();
}
