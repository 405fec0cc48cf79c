/* Segment tests: the receive path of ESTABLISHED (RFC 9293 §3.10.7.4 seventh step), delivery to
   the user, reassembly and acknowledgment (RFC 5681 §4.2, RFC 9293 §3.8.6.3). */
#include "check.h"
#include "segtest.h"

static bool in_rbuf(sg *t, const uint8_t *p)
{
    const uint8_t *b = t->conn->rbuf;
    return p >= b && p < b + t->cfg.recv_buf_size;
}

/* In-order data reaches on_data straight from the link's buffer (zero copy) and is ACKed. */
static void test_in_order_delivery_zero_copy(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT_WL(t, TH_ACK, S(1), P(101), 16384 - 100, 0);
    CHECK_EQ(t->ev.data, 1);
    CHECK_EQ(t->ev.data_len, 100);
    CHECK(t->ev.data_ptr != NULL && !in_rbuf(t, t->ev.data_ptr));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 1448);
    EXPECT(t, TH_ACK, S(1), P(1549));
    CHECK(!in_rbuf(t, t->ev.data_ptr));
    /* The right edge moved by at least an MSS: the whole buffer is offered again. */
    CHECK_EQ(t->last->win, 16384);
    CHECK(sg_stream_is_pat(t, 1548));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.bytes_in, 1548);
    CHECK_EQ(cs.recv_held, 0);
}

/* RFC 5681 §4.2 / RFC 9293 §3.10.7.4: out-of-order data is kept and ACKed at once (duplicate
   ACK); when the hole fills everything is delivered in one call and ACKed at once. */
static void test_out_of_order_then_fill(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 200000; /* "at once" must not depend on delayed_ack_us = 0 */
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    sg_send(t, TH_ACK | TH_PSH, P(401), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.data, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 200); /* the islands: out of order, held for the user */
    /* Part of the first hole. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 150);
    EXPECT(t, TH_ACK, S(1), P(151));
    CHECK_EQ(t->ev.data, 1);
    /* The rest of it: the first island joins. */
    sg_send(t, TH_ACK | TH_PSH, P(151), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(1), P(301));
    CHECK_EQ(t->ev.data, 2);
    CHECK_EQ(t->ev.data_len, 150);
    /* The second hole. */
    sg_send(t, TH_ACK | TH_PSH, P(301), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(501));
    CHECK(sg_stream_is_pat(t, 500));
    EXPECT_NOTHING(t);
}

/* Islands that touch or overlap merge; one segment covering several islands joins them all. */
static void test_out_of_order_islands_merge(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 50);  /* [101,151) */
    sg_send(t, TH_ACK | TH_PSH, P(301), S(1), NULL, 50);  /* [301,351) */
    sg_send(t, TH_ACK | TH_PSH, P(151), S(1), NULL, 50);  /* touches the first */
    sg_send(t, TH_ACK | TH_PSH, P(181), S(1), NULL, 140); /* overlaps both */
    for (int i = 0; i < 4; i++) EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->conn->n_ooo, 1);
    CHECK_EQ(t->conn->ooo[0].start, P(101));
    CHECK_EQ(t->conn->ooo[0].end, P(351));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(351));
    CHECK(sg_stream_is_pat(t, 350));
}

/* More islands than ooo_ranges: the farthest are given up (counted), the nearest kept; the
   sender's retransmissions fill in the rest. */
static void test_out_of_order_island_limit(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.ooo_ranges = 2;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 10);
    sg_send(t, TH_ACK | TH_PSH, P(401), S(1), NULL, 10);
    sg_send(t, TH_ACK | TH_PSH, P(601), S(1), NULL, 10); /* farthest: dropped */
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 10); /* nearer: evicts [401,411) */
    for (int i = 0; i < 4; i++) EXPECT(t, TH_ACK, S(1), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OOO_FULL], 1);
    CHECK_EQ(t->conn->n_ooo, 2);
    CHECK_EQ(t->conn->ooo[0].start, P(101));
    CHECK_EQ(t->conn->ooo[1].start, P(201));
}

/* RFC 9293 §3.10.7.4: a retransmission overlapping received data contributes only its new part;
   bytes already delivered are never rewritten, whatever the overlap carries. */
static void test_overlapping_retransmission(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    sg_send(t, TH_ACK | TH_PSH, P(6), S(1), NULL, 10); /* 5 old + 5 new */
    EXPECT(t, TH_ACK, S(1), P(16));
    CHECK_EQ(t->ev.data_len, 5);
    CHECK(sg_stream_is_pat(t, 15));
    uint8_t x[20];
    memset(x, 'X', sizeof(x));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), x, 20); /* 15 old (different bytes) + 5 new */
    EXPECT(t, TH_ACK, S(1), P(21));
    CHECK_EQ(t->ev.stream_len, 20);
    bool old_kept = true;
    for (int i = 0; i < 15; i++) old_kept = old_kept && t->ev.stream[i] == sg_pat((uint32_t)i);
    CHECK(old_kept);
    CHECK(memcmp(t->ev.stream + 15, "XXXXX", 5) == 0);
    /* An entire duplicate is acknowledged (RFC 9293 §3.10.7.4: unacceptable -> ACK). */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 20);
    EXPECT(t, TH_ACK, S(1), P(21));
    CHECK_EQ(t->ev.stream_len, 20);
}

/* RFC 9293 §3.10.7.4: text beyond the window is trimmed (a FIN with it dropped); what fits is
   taken. */
static void test_data_beyond_window_trimmed(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 1024;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    CHECK_EQ(t->syn.win, 1024);
    t->keep = 100000; /* the user holds everything: the window only closes */
    sg_send(t, TH_ACK | TH_PSH | TH_FIN, P(1), S(1), NULL, 1400);
    EXPECT_WL(t, TH_ACK, S(1), P(1025), 0, 0);
    CHECK_EQ(t->ev.data_len, 1024);
    CHECK_EQ(t->ev.fin, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.bytes_in, 1024);
    /* Zero window: the next octet is not acceptable, only acknowledged (§3.10.7.4). */
    sg_send(t, TH_ACK | TH_PSH, P(1025), S(1), NULL, 1);
    EXPECT_WL(t, TH_ACK, S(1), P(1025), 0, 0);
    CHECK_EQ(t->ev.data, 1);
    /* The user takes it all: a window update announces the whole buffer. */
    const uint8_t *p;
    CHECK_EQ(efvitcp_unread(t->conn, &p), 1024);
    CHECK(p[0] == sg_pat(0) && p[1023] == sg_pat(1023));
    efvitcp_consume(t->conn, 1024);
    EXPECT_WL(t, TH_ACK, S(1), P(1025), 1024, 0);
}

/* on_data returning unconsumed bytes: they shrink the window and come again in front of the
   next data. */
static void test_unconsumed_bytes_shrink_window_and_come_again(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->keep = 3;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 1000);
    EXPECT(t, TH_ACK, S(1), P(1001));
    CHECK_EQ(t->ev.data_len, 1000);
    sg_send(t, TH_ACK | TH_PSH, P(1001), S(1), NULL, 1000);
    EXPECT(t, TH_ACK, S(1), P(2001));
    CHECK_EQ(t->ev.data_len, 1003);
    CHECK(in_rbuf(t, t->ev.data_ptr)); /* held bytes live in the receive buffer */
    CHECK(t->ev.last[0] == sg_pat(997) && t->ev.last[3] == sg_pat(1000));
    /* Consumed 1997 of 2000: the edge moved past one MSS, less the 3 held. */
    CHECK_EQ(t->last->win, 16384 - 3);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 3);

    /* Holding everything: the window only closes, here to less than half the buffer. */
    t->keep = 100000;
    for (uint32_t i = 0; i < 6; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(2001 + 1448 * i), S(1), NULL, 1448);
        EXPECT_WL(t, TH_ACK, S(1), P(3449 + 1448 * i), 16384 - 3 - 1448 * (i + 1), 0);
    }
    CHECK_EQ(t->ev.data_len, 3 + 6 * 1448);
    /* Consuming a little reopens nothing (receiver SWS avoidance, RFC 9293 §3.8.6.2.2)... */
    efvitcp_consume(t->conn, 100);
    EXPECT_NOTHING(t);
    /* ...consuming the rest sends a window update: the window at least doubles (with more than
       half of it still open, the ACKs of the peer's next data would carry the news). */
    const uint8_t *p;
    CHECK_EQ(efvitcp_unread(t->conn, &p), 3 + 6 * 1448 - 100);
    CHECK(p[0] == sg_pat(2000 - 3 + 100));
    efvitcp_consume(t->conn, 3 + 6 * 1448 - 100);
    EXPECT_WL(t, TH_ACK, S(1), P(10689), 16384, 0);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 0);
    /* New data is zero copy again. */
    t->keep = 0;
    sg_send(t, TH_ACK | TH_PSH, P(10689), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(10699));
    CHECK(!in_rbuf(t, t->ev.data_ptr));
}

/* RFC 9293 §3.8.6.3 / RFC 5681 §4.2: a lone segment is ACKed delayed_ack_us later, exactly. */
static void test_delayed_ack_timing(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint64_t t0 = sg_now(t);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT_NOTHING(t);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t0 + 40 * SG_MS);
    EXPECT(t, TH_ACK, S(1), P(101));
    EXPECT_NOTHING(t);
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* RFC 5681 §4.2: an ACK at least for every second full-sized segment, whatever the delay. With
   timestamps a full-sized segment carries MSS - 12 bytes. */
static void test_delayed_ack_every_second_full_segment(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 1448);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(1449), S(1), NULL, 1448);
    EXPECT(t, TH_ACK, S(1), P(2897));
    sg_send(t, TH_ACK | TH_PSH, P(2897), S(1), NULL, 1448);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(4345), S(1), NULL, 1448);
    EXPECT(t, TH_ACK, S(1), P(5793));
    CHECK(sg_stream_is_pat(t, 5792));
}

/* RFC 5681 §4.2 with a peer that announced a smaller MSS (536): its full-sized segments are
   536 bytes (less options), and every second one is ACKed at once. Before, "full" was our own
   MSS, so its segments never counted as full and every ACK waited for the timer. */
static void test_delayed_ack_full_by_the_peers_mss(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.has_mss = true;
    o.mss = 536;
    REQUIRE(sg_syn_received(t, &o));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(sg_state(t) == EFVITCP_ESTABLISHED);
    uint32_t full = t->conn->send_mss;
    REQUIRE(full <= 536);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, full);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(1 + full), S(1), NULL, full);
    EXPECT(t, TH_ACK, S(1), P(1 + 2 * full));
}

/* An ACK that left with our data makes the delayed-ACK timer stale; it is left armed and pushed
   back lazily. The next lone segment must still wait the full delay, and the stale expiry must
   send nothing. */
static void test_delayed_ack_full_delay_after_piggyback(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT_NOTHING(t);
    sg_advance(t, 10 * SG_MS);
    static const uint8_t five[5] = {1, 2, 3, 4, 5};
    CHECK_EQ(efvitcp_send(t->conn, five, 5, false), 5);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(11)); /* the ACK rides on the data */
    sg_advance(t, SG_MS);                    /* within the RTO */
    uint64_t t1 = sg_now(t);
    sg_send(t, TH_ACK | TH_PSH, P(11), S(6), NULL, 10);
    EXPECT_NOTHING(t);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t1 + 40 * SG_MS); /* not at the stale timer's 40 ms after the first */
    EXPECT(t, TH_ACK, S(6), P(21));
    sg_advance(t, SG_SEC);
    EXPECT_NOTHING(t);
}

/* Without timestamps, full-sized segments carry the whole MSS. */
static void test_delayed_ack_every_second_full_segment_no_ts(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.has_ts = false;
    REQUIRE(sg_syn_received(t, &o));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 1460);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK | TH_PSH, P(1461), S(1), NULL, 1460);
    EXPECT(t, TH_ACK, S(1), P(2921));
}

/* delayed_ack_us = 0: every segment is ACKed at once. */
static void test_no_delayed_ack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    for (uint32_t i = 0; i < 3; i++) {
        sg_send(t, TH_ACK | TH_PSH, P(1 + 10 * i), S(1), NULL, 10);
        EXPECT(t, TH_ACK, S(1), P(11 + 10 * i));
    }
}

/* A delayed ACK rides on data the user sends from on_data: no separate pure ACK follows. */
static void echo_hook(sg *t, char ev, efvitcp_conn *c)
{
    if (ev == 'D') efvitcp_send(c, t->ev.last, t->ev.data_len, false);
}

static void test_delayed_ack_piggybacked(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.delayed_ack_us = 40000;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    t->hook = echo_hook;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(51), 16384 - 50, 50);
    CHECK(sg_payload_is_pat(t, 0));
    sg_advance(t, 100 * SG_MS);
    /* The echo is unacknowledged, so an RTO retransmission may appear; a pure ACK may not. */
    sg_rx *r;
    while ((r = sg_take(t)) != NULL) CHECK(r->len != 0);
}

/* Data on a segment that also ACKs our data, and a PSH-less segment, are handled the same. */
static void test_data_with_ack_of_our_data(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(efvitcp_send(t->conn, "hello", 5, false), 5);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(1));
    sg_send(t, TH_ACK, P(1), S(6), NULL, 7);
    EXPECT(t, TH_ACK, S(6), P(8));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.unacked, 0);
    CHECK(sg_stream_is_pat(t, 7));
}

/* RFC 9293 §3.4: sequence numbers wrap: the peer's stream crosses 2^32 without a hiccup. */
static void test_receive_across_seq_wrap(void)
{
    sg *t = sg_server(NULL);
    t->pis = 0xffffffffu - 500;
    REQUIRE(sg_established(t));
    for (uint32_t off = 0; off < 3000; off += 1000) {
        sg_send(t, TH_ACK | TH_PSH, P(1 + off), S(1), NULL, 1000);
        EXPECT(t, TH_ACK, S(1), P(1001 + off));
    }
    /* Out of order across the wrap too. */
    sg_send(t, TH_ACK | TH_PSH, P(3401), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(3001));
    sg_send(t, TH_ACK | TH_PSH, P(3001), S(1), NULL, 400);
    EXPECT(t, TH_ACK, S(1), P(3501));
    CHECK(sg_stream_is_pat(t, 3500));
}

/* RFC 9293 §3.10.7.4 acceptability at the window's edges: a segment ending exactly at the right
   edge is taken whole; one starting at it is not acceptable and gets an ACK. */
static void test_window_edges(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.recv_buf_size = 2048;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    t->keep = 100000;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 1000);
    EXPECT_WL(t, TH_ACK, S(1), P(1001), 1048, 0);
    sg_send(t, TH_ACK | TH_PSH, P(2049), S(1), NULL, 10); /* starts at the edge */
    EXPECT_WL(t, TH_ACK, S(1), P(1001), 1048, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1001), S(1), NULL, 1048); /* ends at the edge */
    EXPECT_WL(t, TH_ACK, S(1), P(2049), 0, 0);
    CHECK_EQ(t->ev.data_len, 2048);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_OUT_OF_WINDOW], 1);
    CHECK_EQ(st.drops[EFVITCP_DROP_RCVBUF_FULL], 0);
}

/* What a consume inside on_data means: it consumes from the bytes held (what efvitcp_unread
   shows), and on_data's return value then keeps at most the bytes still unconsumed, never bringing
   consumed ones back. A consume of everything in on_data returning a non-zero count once made the
   held range wrap to 4 GiB and the next delivery read far out of bounds. */
static void consume_all(sg *t, char ev, efvitcp_conn *c)
{
    (void)t;
    if (ev == 'D') efvitcp_consume(c, UINT32_MAX);
}

static void test_consume_inside_on_data(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    uint8_t want[200];
    /* Zero copy: nothing is held during the call, so the consume has nothing to take and the
       return value keeps its 40 bytes. */
    t->keep = 40;
    t->hook = consume_all;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 40);
    /* From the receive buffer: 40 held + 100 new are presented; the consume takes them all, so
       the return value of 50 keeps nothing. */
    t->keep = 50;
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 100);
    CHECK_EQ(t->ev.data_len, 140);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 0);
    /* A consume of part of them: the return value may only keep what is left. */
    t->hook = NULL;
    t->keep = 0;
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 100);
    CHECK_EQ(t->ev.data_len, 100); /* only the new bytes: nothing consumed comes back */
    sg_fill(want, 200, 100);
    CHECK(memcmp(t->ev.last, want, 100) == 0);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 0);
    sg_flush(t);
}

/* RFC 9293 §3.8.6: the window is exact at every moment. A reply sent from inside on_data counts
   the bytes being presented as held (the user may keep them); it once advertised them as free,
   the peer filled that window, and the tail was trimmed without an ACK. */
static void reply_inside(sg *t, char ev, efvitcp_conn *c)
{
    (void)t;
    if (ev == 'D') efvitcp_send(c, "x", 1, false);
}

static void test_window_exact_inside_on_data(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.timestamps = false; /* segments of a full MSS, 1460 bytes, fit the wire's MTU */
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    /* A full segment: the free space moves the right edge by an MSS, which the window would
       advertise if the presented bytes counted as free. */
    t->keep = 1460;
    t->hook = reply_inside;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 1460);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1461), 16384 - 1460, 1);
    EXPECT_NOTHING(t);
    t->hook = NULL;
    t->keep = 0;
    /* The peer fills exactly the window it was given: every byte is taken. */
    uint32_t off = 1460, right = 16384;
    while (off < right) {
        uint32_t n = right - off < 1448 ? right - off : 1448;
        sg_send(t, TH_ACK | TH_PSH, P(1 + off), S(2), NULL, n);
        off += n;
    }
    sg_flush(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_RCVBUF_FULL], 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.bytes_in, 16384);
}

/* recv_held is every byte the receive buffer holds for the user: the unconsumed in-order ones
   (efvitcp_unread) and the out-of-order ones beyond a hole, which unread leaves out (it counted
   only the in-order ones, so the live view's recv_held and unread were always equal). */
static void test_recv_held_counts_out_of_order(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    t->keep = 30;
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 50);
    EXPECT(t, TH_ACK, S(1), P(51));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 30);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 30);
    sg_send(t, TH_ACK | TH_PSH, P(201), S(1), NULL, 100); /* past the hole [51, 201) */
    EXPECT(t, TH_ACK, S(1), P(51));
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 130);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 30);
    sg_send(t, TH_ACK | TH_PSH, P(401), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(51));
    sg_send(t, TH_ACK | TH_PSH, P(251), S(1), NULL, 100); /* overlaps the first island */
    EXPECT(t, TH_ACK, S(1), P(51));
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 30 + 150 + 100); /* the holes between are not held */
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 30);
    /* The first hole fills: its island joins the in-order bytes, the user keeps them all. */
    t->keep = 100000;
    sg_send(t, TH_ACK | TH_PSH, P(51), S(1), NULL, 150);
    EXPECT(t, TH_ACK, S(1), P(351));
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.recv_held, 330 + 100);
    CHECK_EQ(efvitcp_unread(t->conn, NULL), 330);
    CHECK(et_stack_check(t->st) == NULL);
}

int main(void)
{
    RUN(test_in_order_delivery_zero_copy);
    RUN(test_consume_inside_on_data);
    RUN(test_window_exact_inside_on_data);
    RUN(test_out_of_order_then_fill);
    RUN(test_recv_held_counts_out_of_order);
    RUN(test_out_of_order_islands_merge);
    RUN(test_out_of_order_island_limit);
    RUN(test_overlapping_retransmission);
    RUN(test_data_beyond_window_trimmed);
    RUN(test_unconsumed_bytes_shrink_window_and_come_again);
    RUN(test_delayed_ack_timing);
    RUN(test_delayed_ack_every_second_full_segment);
    RUN(test_delayed_ack_full_by_the_peers_mss);
    RUN(test_delayed_ack_every_second_full_segment_no_ts);
    RUN(test_no_delayed_ack);
    RUN(test_delayed_ack_piggybacked);
    RUN(test_delayed_ack_full_delay_after_piggyback);
    RUN(test_data_with_ack_of_our_data);
    RUN(test_receive_across_seq_wrap);
    RUN(test_window_edges);
    sg_cleanup();
    return th_summary();
}
