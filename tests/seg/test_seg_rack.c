/* Segment tests: RACK-TLP (RFC 8985) and the undo of spurious congestion responses (RFC 3708
   D-SACK, RFC 3522 timestamps): scripted ACKs and SACK blocks in, exact retransmissions and
   probes out, at their exact times on the virtual clock. */
#include "check.h"
#include "segtest.h"

static uint8_t buf[8192];

static efvitcp_config rack_cfg(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.rack = true;
    return cfg;
}

/* Sends n segments of 100 bytes from S(from) and checks they all leave. */
static bool send_segs(sg *t, uint32_t from, int n)
{
    for (int i = 0; i < n; i++)
        if (efvitcp_send(t->conn, buf, 100, false) != 100) return false;
    for (int i = 0; i < n; i++)
        if (!sg_expect(t, TH_ACK | TH_PSH, S(from + 100 * (uint32_t)i), P(1))) return false;
    return true;
}

/* The peer acknowledges ack with n SACK blocks, edges[2i] .. edges[2i + 1]. */
static void sack_ack(sg *t, uint32_t ack, uint32_t n, const uint32_t *edges)
{
    sg_opts o = sg_def_opts(t);
    o.n_sack = (uint8_t)n;
    for (uint32_t i = 0; i < n; i++) {
        o.sack[i].start = edges[2 * i];
        o.sack[i].end = edges[2 * i + 1];
    }
    sg_send_o(t, TH_ACK, P(1), ack, t->win, NULL, 0, &o);
}

/* An established server whose every RTT sample was 1 ms (the handshake's, then one segment
   acknowledged after 1 ms): SRTT and min_RTT 1 ms, RTO 5 ms (min_rto), PTO 2 ms. S(101) is the
   next to send. */
static sg *rack_rig(const efvitcp_config *cfg)
{
    sg *t = sg_server(cfg);
    if (!sg_syn_received(t, NULL)) return NULL;
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    if (sg_state(t) != EFVITCP_ESTABLISHED || !send_segs(t, 1, 1)) return NULL;
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    if (!sg_expect_nothing(t)) return NULL;
    return t;
}

/* ---- tail loss probes (RFC 8985 §7) ---- */

/* No ACK for PTO = 2 * SRTT (+ the delayed ACK, 0 here) after the last segment: the last
   segment goes again (no new data to send), then the RTO runs from the probe. */
static void test_probe_of_the_last_segment_at_pto(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint64_t t0 = sg_now(t);
    REQUIRE(send_segs(t, 101, 3));
    uint64_t pto = 2 * c->srtt_ns;
    CHECK(pto < c->rto_ns);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t0 + pto);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(301), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.tlp_probes, 1);
    CHECK(cs.rack);
    /* No answer: a second probe at twice the PTO (the probe or its ACK may have been lost; as
       RFC 9002 §6.2.1's backed-off probes), the same segment again. */
    uint64_t at2 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at2, at + 2 * pto);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    EXPECT_NOTHING(t);
    /* Still none: the RTO follows and resends the head (RFC 6298 §5.4). */
    uint64_t rto = c->rto_ns;
    uint64_t at3 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at3, at2 + rto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 2);
    CHECK_EQ(st.rto_events, 1);
}

/* RFC 8985 §7.2: the peer's delayed ACK is added to the probe timeout for a flight below two
   full segments only, a quarter of it otherwise (the slack for ACKs a little late). With more in
   flight the peer acknowledges at once; before, every
   probe waited 2 * SRTT plus the delayed ACK (2 ms here), on a path of microseconds a hundred
   round trips for each lost tail (sim seed 8, lossy, --bulk). */
static void test_delayed_ack_in_the_pto_below_two_segments(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.delayed_ack_us = 2000;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint64_t t0 = sg_now(t);
    REQUIRE(send_segs(t, 101, 1));
    uint64_t pto = 2 * c->srtt_ns + 2 * SG_MS;
    CHECK(pto < c->rto_ns);
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t0 + pto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1)); /* the probe of the only segment */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);
    EXPECT_NOTHING(t);
    uint64_t t1 = sg_now(t);
    uint32_t mss = c->send_mss;
    for (int i = 0; i < 2; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    for (uint32_t i = 0; i < 2; i++) EXPECT(t, TH_ACK | TH_PSH, S(201 + i * mss), P(1));
    EXPECT_NOTHING(t);
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t1 + 2 * c->srtt_ns + SG_MS / 2);
    EXPECT(t, TH_ACK | TH_PSH, S(201 + mss), P(1)); /* the probe of the last of two full ones */
    EXPECT_NOTHING(t);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A flight of one segment that leaves the peer's window no room for a second full one: the
   receiver cannot wait for a second segment before it acknowledges (ack_decision's "blocked";
   Linux answers the read that opens its window), so the probe does not wait for its delayed ACK
   either (sim seeds 4 and 88, lossy, --bulk: receive buffers below two segments, where every
   loss is a tail loss). */
static void test_no_delayed_ack_in_the_pto_when_the_window_is_full(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.delayed_ack_us = 2000;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint32_t mss = c->send_mss;
    sg_send_w(t, TH_ACK, P(1), S(101), (uint16_t)(mss + mss / 2), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(c->snd_wnd, mss + mss / 2);
    uint64_t t0 = sg_now(t);
    CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t); /* the other half segment waits (sender SWS avoidance) */
    CHECK_TIME(sg_run_until_output(t, SG_SEC), t0 + 2 * c->srtt_ns + SG_MS / 2);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1)); /* the probe */
    EXPECT_NOTHING(t);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The first probe is lost: the second one repairs the tail, with no RTO. */
static void test_second_probe_repairs_a_lost_tail(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0); /* S(301) lost */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* the probe: lost too */
    EXPECT_NOTHING(t);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* the second probe */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 2);
    CHECK_EQ(st.tlp_recoveries, 1);
    CHECK_EQ(st.rto_events, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* Regression (f197cf6): a probe goes unanswered for its PTO (the timer fired, a second probe is
   due at 2 * PTO: tlp_again), then the peer's ACK covers everything before that second probe
   (the probe repaired the tail); nothing is outstanding and the timer is left in mode NONE with
   tlp_again still set. The application sends one segment, which leaves by the straight-line send
   (et_conn_send_buf's fast path, arm_loss_timer_sent): that is news, a fresh probe episode. Its
   first probe comes a PTO after the send, and the second, unanswered too, 2 * PTO after the
   first; then the back-off or the RTO as after any second probe. The straight-line send once armed
   the probe with its own copy of the test, which left tlp_again set: the fresh episode's first
   probe was taken for a second one and the RTO followed it instead of the second probe. */
static void test_fresh_episode_after_straight_line_send(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 3));
    uint64_t pto = 2 * c->srtt_ns;
    REQUIRE(pto < c->rto_ns);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    REQUIRE(at != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* the first probe: no answer for a while */
    EXPECT_NOTHING(t);
    sg_advance(t, pto); /* half way to the second probe (due at at + 2 * PTO) */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0); /* everything, the probe's segment included */
    EXPECT_NOTHING(t);
    REQUIRE(c->snd_una == c->snd_max && !c->tlp_on && !c->in_recovery);
    efvitcp_stats st0;
    sg_stats(t, &st0);
    /* New data by the straight-line send (nothing in flight, sent within an RTO of the last
       segment, one whole segment, the template built). */
    uint64_t t_send = sg_now(t);
    REQUIRE(efvitcp_send(t->conn, buf, 100, false) == 100);
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    EXPECT_NOTHING(t);
    uint64_t pto2 = 2 * c->srtt_ns; /* the ACK above took an RTT sample */
    REQUIRE(pto2 < c->rto_ns);
    uint64_t p1 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(p1, t_send + pto2); /* the fresh episode's first probe */
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    EXPECT_NOTHING(t);
    uint64_t p2 = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(p2, p1 + 2 * pto2); /* its second probe, not the RTO (p1 + RTO) */
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, st0.tlp_probes + 2);
    CHECK_EQ(st.rto_events, 0);
    /* Then a third probe at 4 * PTO if it comes before the RTO would have come after the
       second probe (test_probes_back_off_until_the_rto), else that RTO. */
    uint64_t rto_at = p2 + c->rto_ns, p3 = sg_run_until_output(t, SG_SEC);
    bool third = p2 + 4 * pto2 < rto_at;
    CHECK_TIME(p3, third ? p2 + 4 * pto2 : rto_at);
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, third ? 0 : 1);
    CHECK(et_stack_check(t->st) == NULL);
}

/* Where the RTO is many PTOs (Linux's 200 ms floor on a path of a millisecond), unanswered
   probes go on, each at twice the interval of the one before, while they come before the RTO
   would have come after a second probe; that RTO then comes at its old time. A probe or its ACK
   lost no longer costs an RTO (at 20% loss each way, two probes failed one time in nine), and
   the third probe here repairs the tail. */
static void test_probes_back_off_until_the_rto(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.min_rto_us = 200000;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 3));
    uint64_t pto = 2 * c->srtt_ns, rto = c->rto_ns;
    CHECK_EQ(rto, 200 * SG_MS);
    uint64_t first = sg_run_until_output(t, SG_SEC);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    EXPECT_NOTHING(t);
    uint64_t at = first;
    for (uint32_t k = 1; k <= 5; k++) { /* at +2, +4, +8, +16 and +32 PTO */
        uint64_t next = sg_run_until_output(t, SG_SEC);
        CHECK_TIME(next, at + (pto << k));
        EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
        EXPECT_NOTHING(t);
        at = next;
    }
    /* The next would come at +64 PTO, after the RTO's old time: the RTO, at that time. */
    uint64_t at_rto = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at_rto, first + 2 * pto + rto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 6);
    CHECK_EQ(st.rto_events, 1);
}

/* The first two probes are lost: the third repairs the tail, with no RTO. */
static void test_third_probe_repairs_a_lost_tail(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.min_rto_us = 200000;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0); /* S(301) lost */
    for (int k = 0; k < 3; k++) {              /* two probes lost, the third arrives */
        CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
        EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
        EXPECT_NOTHING(t);
    }
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 3);
    CHECK_EQ(st.rto_events, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The probe repairs a lost tail: the peer's ACK covers it, nothing else goes, no RTO; the ACK
   that reaches the probe without a D-SACK shows the loss and cwnd is reduced once (§7.4). A
   loss of the next flight gets a probe of its own. */
static void test_probe_repairs_a_lost_tail(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0); /* S(301) lost */
    EXPECT_NOTHING(t);
    efvitcp_conn_stats before;
    sg_conn_stats(t, &before);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_recoveries, 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK(cs.ssthresh < before.ssthresh);
    REQUIRE(send_segs(t, 401, 1)); /* lost too */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(401), P(1));
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 2);
    CHECK_EQ(st.rto_events, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The probe's congestion response takes the flight when the probe went (three full segments,
   all the initial window lets out here; the last lost and repaired by the probe), not what is
   outstanding after the ACK that shows the repair (nothing: that gave the floor of two). */
static void test_probe_response_from_the_flight_it_repaired(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_CUBIC;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    uint32_t mss = cs.mss;
    REQUIRE(mss * 3 <= sizeof(buf));
    REQUIRE(efvitcp_send(t->conn, buf, 3 * mss, false) == 3 * mss);
    sg_pump(t);
    for (uint32_t i = 0; i < 3; i++) {
        sg_rx *r = sg_take(t);
        REQUIRE(r && r->seq == S(101 + i * mss) && r->len == mss);
    }
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101 + 2 * mss), P(1)); /* the probe */
    sg_send(t, TH_ACK, P(1), S(101 + 3 * mss), NULL, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_recoveries, 1);
    sg_conn_stats(t, &cs);
    CHECK(cs.ssthresh > 2 * mss); /* CUBIC: 0.7 x 3 segments */
}

/* The original was only late: its ACK reaches the probe first (cwnd reduced), then the probe
   comes back as a D-SACK and the reduction is undone. */
static void test_needless_probe_is_undone(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    efvitcp_conn_stats before;
    sg_conn_stats(t, &before);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK(cs.ssthresh < before.ssthresh);
    sack_ack(t, S(401), 1, (uint32_t[]){S(301), S(401)});
    EXPECT_NOTHING(t);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.ssthresh, before.ssthresh);
    CHECK(cs.cwnd >= before.cwnd);
    CHECK_EQ(cs.spurious_undone, 1);
}

/* New data waiting for cwnd is the probe (§7.3): it goes whatever cwnd says. */
static void test_probe_of_new_data(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint32_t mss = c->send_mss, n = c->cc.cwnd / mss; /* segments cwnd lets go */
    for (uint32_t i = 0; i < n + 2; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    for (uint32_t i = 0; i < n; i++) EXPECT(t, TH_ACK | TH_PSH, S(101 + i * mss), P(1));
    EXPECT_NOTHING(t);
    uint64_t t0 = sg_now(t), pto = 2 * c->srtt_ns;
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t0 + pto);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(101 + n * mss), P(1), 16384, mss);
    EXPECT_NOTHING(t);
    CHECK(c->tlp_on && !c->tlp_retrans);
}

/* The peer's window let the only segment in flight go in part: the probe resends that part
   (found from the ring's end: the segment is at sr_nxt, not below it). */
static void test_probe_of_a_segment_sent_in_part(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = sg_server(&cfg);
    t->win = 150; /* segments of 150 bytes (the largest window offered) */
    REQUIRE(sg_syn_received(t, NULL));
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(sg_state(t) == EFVITCP_ESTABLISHED);
    CHECK_EQ(efvitcp_send(t->conn, buf, 300, false), 300);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(1), 16384, 150);
    sg_advance(t, SG_MS);
    sg_send_w(t, TH_ACK, P(1), S(151), 100, NULL, 0); /* room for 100 of the next 150 */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(151), P(1), 16384, 100);
    EXPECT_NOTHING(t);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT_WL(t, TH_ACK | TH_PSH, S(151), P(1), 16384, 100);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 1);
    CHECK_EQ(st.rto_events, 0);
}

/* cfg.rack off: no probe; the RTO alone. */
static void test_no_probe_without_rack(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    uint64_t t0 = sg_now(t), rto = t->conn->rto_ns; /* the timeout doubles rto_ns */
    REQUIRE(send_segs(t, 101, 3));
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t0 + rto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.tlp_probes, 0);
    CHECK(!cs.rack);
}

/* ---- RACK loss detection (RFC 8985 §6) ---- */

/* A segment sacked with two holes below it and no reordering seen: the holes are lost once a
   quarter of min_RTT has passed beyond the RTT of the delivered segment (the reordering
   timer), not before; then both go in one round trip. */
static void test_reordering_window_then_loss(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint64_t t0 = sg_now(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(301), S(401)});
    EXPECT_NOTHING(t); /* within the reordering window */
    uint64_t due = t0 + c->rack_rtt_ns + c->min_rtt_ns / 4;
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, due);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rack_losses, 2);
    CHECK_EQ(st.sack_recoveries, 1);
}

/* Reordering: the hole arrives within the window: nothing is resent, and RACK notes the
   reordering (its window stays open in recovery from then on). */
static void test_reordering_is_not_loss(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(301)});
    sg_advance(t, 10 * SG_US);
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK(t->conn->rack_reord);
    sg_advance(t, 100 * SG_MS);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.retransmits, 0);
    CHECK_EQ(st.rack_losses, 0);
}

/* Three segments sacked above a hole and no reordering seen: the window is 0 and the hole is
   lost at once (DupThresh's answer, by time). */
static void test_three_sacked_mark_the_hole_at_once(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 4));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(501)});
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
}

/* A lost retransmission is found by RACK's clock, not by the RTO: new data sent after it is
   sacked, so the retransmission (sent before) is lost too, and goes again. */
static void test_lost_retransmission(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_NONE; /* cwnd out of the way: only loss detection decides */
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 6));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(501)});
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1)); /* the first retransmission */
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    REQUIRE(send_segs(t, 701, 1)); /* new data after it */
    sg_advance(t, SG_MS);
    /* S(701) arrives; S(101) (again), S(501) and S(601) do not. */
    sack_ack(t, S(101), 2, (uint32_t[]){S(701), S(801), S(201), S(501)});
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(501), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(601), P(1));
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(801), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rack_losses, 4);
    CHECK_EQ(st.rto_events, 0);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.rack_losses, 4);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A retransmission delivered out of order is RACK's news as an original is: a SACK echoes the
   TSval of the last segment in order (RFC 7323 §4.3: TS.Recent moves only at the left edge), older
   than any retransmission's, so the echo cannot tell which transmission a SACK block reports; only
   a cumulative ACK's can. Before, RACK took every such echo for "an earlier transmission", never
   learnt from a sacked retransmission, and a retransmission lost again waited for the probes: one
   segment per PTO, resent from the highest down (sim seed 32, dup, --bulk: 0.49 s against 0.05 s
   on the clean wire). */
static void test_sacked_retransmission_with_an_old_echo(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_NONE; /* cwnd out of the way: only loss detection decides */
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(t->conn->ts_ok);
    uint32_t in_order = t->last->opt.tsval; /* S(1)'s: the peer's TS.Recent from here on */
    REQUIRE(send_segs(t, 101, 6));
    sg_advance(t, SG_MS);
    sg_opts o = sg_def_opts(t);
    o.tsecr = in_order;
    o.n_sack = 1;
    o.sack[0].start = S(401);
    o.sack[0].end = S(701);
    sg_send_o(t, TH_ACK, P(1), S(101), t->win, NULL, 0, &o);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    /* The resent S(201) and S(301) arrive, S(101) is lost again: it goes at once. */
    o.sack[0].start = S(201);
    sg_send_o(t, TH_ACK, P(1), S(101), t->win, NULL, 0, &o);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(701), NULL, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rack_losses, 4);
    CHECK_EQ(st.tlp_probes, 0);
    CHECK_EQ(st.rto_events, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The other side of the test above: a cumulative ACK's echo does tell. Here it echoes the
   originals' TSval, older than the retransmissions': the originals were only late, and the
   retransmissions' send time is not RACK's. S(401), sent between the originals and the
   retransmissions and not yet acknowledged, is not lost. */
static void test_cumulative_ack_echo_of_the_originals(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_NONE;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    uint32_t orig = t->last->opt.tsval;
    sg_advance(t, SG_MS / 2);
    REQUIRE(send_segs(t, 401, 1));
    sg_advance(t, SG_MS / 2);
    sack_ack(t, S(101), 1, (uint32_t[]){S(301), S(401)});
    EXPECT_NOTHING(t); /* within the reordering window */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    EXPECT_NOTHING(t);
    CHECK(t->last->opt.tsval != orig);
    sg_advance(t, SG_MS);
    sg_opts o = sg_def_opts(t);
    o.tsecr = orig;
    sg_send_o(t, TH_ACK, P(1), S(401), t->win, NULL, 0, &o);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rack_losses, 2);
    CHECK(et_stack_check(t->st) == NULL);
}

/* After a timeout, a resend of the go-back-N that is lost again goes again as soon as RACK
   finds it lost (a segment resent after it sacked), as in Linux's CA_Loss. Before, it was marked
   lost and left: RFC 6582's one recovery per window kept a recovery from starting until SND.UNA
   passed the timeout's recover, so only the next timeout (or probes) sent it (sim seed 54, lossy,
   --bulk: 162 timeouts, a third of its time). */
static void test_lost_resend_after_a_timeout(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_NONE; /* cwnd out of the way: the go-back-N sends at once */
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 6));
    efvitcp_stats st;
    for (int k = 0; k < 20; k++) {
        sg_stats(t, &st);
        if (st.rto_events) break;
        CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
        sg_flush(t);
    }
    sg_stats(t, &st);
    REQUIRE(st.rto_events == 1); /* it resent S(101), flushed above */
    CHECK(c->loss_on);
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0);
    for (uint32_t i = 0; i < 5; i++) EXPECT(t, TH_ACK | TH_PSH, S(201 + 100 * i), P(1));
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    /* S(201) and S(601) lost again: S(301) .. S(501), resent after S(201), arrive. */
    sack_ack(t, S(201), 1, (uint32_t[]){S(301), S(601)});
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    EXPECT_NOTHING(t); /* S(601) went last: nothing after it shows it lost */
    sg_advance(t, SG_MS);
    sack_ack(t, S(601), 0, NULL);
    CHECK(c->loss_on); /* S(601) .. S(701) still out */
    sg_run_until_output(t, SG_SEC);
    EXPECT(t, TH_ACK | TH_PSH, S(601), P(1)); /* the probe, not the RTO */
    sg_send(t, TH_ACK, P(1), S(701), NULL, 0);
    CHECK(!c->loss_on);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 1);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A path faster than the clock (RTT 0, min_RTT 1 ns): the probe's SACK is RACK's news, and the
   segments sent before it are lost at once. Before, a retransmission delivered within the clock's
   tick had an RTT of 0, below min_RTT, and was taken for its original (RFC 8985 §6.2 step 2):
   the losses waited for the RTO (sim seed 8, lossy, --bulk, latency 0). */
static void test_retransmission_delivered_within_a_tick(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.cc = EFVITCP_CC_NONE;
    sg *t = sg_server(&cfg);
    REQUIRE(t);
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0); /* the handshake's RTT: 0 */
    REQUIRE(sg_state(t) == EFVITCP_ESTABLISHED);
    REQUIRE(send_segs(t, 1, 1));
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0); /* min_RTT: 0, counted as 1 ns */
    CHECK_EQ(t->conn->min_rtt_ns, 1);
    REQUIRE(send_segs(t, 101, 3));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* the probe */
    EXPECT_NOTHING(t);
    sack_ack(t, S(101), 1, (uint32_t[]){S(301), S(401)}); /* at once: the probe arrived */
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rack_losses, 2);
    CHECK_EQ(st.rto_events, 0);
    CHECK(et_stack_check(t->st) == NULL);
}

/* A lost retransmission with nothing sent after it (the window is full, or the application has
   no more): RACK cannot find it lost, as nothing sent later is delivered. Before, only the RTO
   repaired it (a window of one segment after 200 ms on a path of microseconds, the stalls of
   the 10-20% loss benchmark); now a probe goes a PTO after the ACK that started the recovery:
   the highest segment not sacked, S(101) here, and its ACK ends the recovery without an RTO. */
static void test_probe_in_recovery(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 4));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(501)});
    uint64_t t_ack = sg_now(t);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1)); /* the recovery's retransmission: lost */
    EXPECT_NOTHING(t);
    uint64_t pto = 2 * c->srtt_ns;
    CHECK(pto < c->rto_ns);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t_ack + pto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1)); /* the probe */
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 1);
    CHECK_EQ(st.rto_events, 0);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 0);
    CHECK_EQ(st.tlp_recoveries, 0); /* the recovery responded to this loss already */
    CHECK(!c->in_recovery);
    CHECK(et_stack_check(t->st) == NULL);
}

/* The probe in recovery waits a PTO from the last ACK that sacked something new, not from the
   recovery's start: an ACK with news in the middle moves it. */
static void test_probe_in_recovery_after_the_last_news(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 5));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(501)});
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
    uint64_t pto = 2 * c->srtt_ns;
    sg_advance(t, pto / 2);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(601)}); /* S(501) arrived: news */
    uint64_t t_news = sg_now(t);
    EXPECT_NOTHING(t);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t_news + pto);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
}

/* Four segments from S(101); S(301) and S(401) are lost. The PTO's probe of the last segment
   (S(401)) goes and is out (TLP.end_seq set); 1 ms later the peer's SACK of it uncovers S(301)'s
   loss. */
static bool probe_uncovers_a_loss(sg *t)
{
    if (!send_segs(t, 101, 4)) return false;
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(301), NULL, 0);
    if (sg_run_until_output(t, SG_SEC) == UINT64_MAX) return false;
    if (!sg_expect(t, TH_ACK | TH_PSH, S(401), P(1)) || !sg_expect_nothing(t)) return false;
    if (!t->conn->tlp_on) return false;
    sg_advance(t, SG_MS);
    sack_ack(t, S(301), 1, (uint32_t[]){S(401), S(501)});
    return true;
}

/* A probe's outcome still pending does not stop the probes of the recovery it starts. The probe
   of S(401) uncovers S(301)'s loss (its SACK block); the recovery resends S(301), and that is
   lost too. Before, a pending probe (TLP.end_seq set, RFC 8985 §7.2's condition for a new PTO)
   left only the RTO to repair it: in the 20% loss benchmark, one timeout in eight. Now the
   probe of the recovery goes a PTO after the retransmission. */
static void test_probe_in_the_recovery_a_probe_started(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(probe_uncovers_a_loss(t));
    /* RACK marks S(301) lost (at once or after the reordering window) and recovery resends it. */
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    uint64_t t_rxt = sg_now(t);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* lost again */
    EXPECT_NOTHING(t);
    CHECK(c->in_recovery);
    uint64_t pto = 2 * c->srtt_ns;
    CHECK(pto < c->rto_ns);
    uint64_t at = sg_run_until_output(t, SG_SEC);
    CHECK_TIME(at, t_rxt + pto);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1)); /* the probe in recovery, not the RTO */
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_probes, 2);
    CHECK_EQ(st.rto_events, 0);
    CHECK(!c->in_recovery);
    CHECK(et_stack_check(t->st) == NULL);
}

/* One congestion response per loss event (RFC 8985 §7.4, RFC 6675): a probe is out when its
   SACK makes RACK start a recovery, which responds; the ACK that ends the recovery reaches the
   probe's end too, and the probe's response must not come on top (ssthresh and cwnd cut again
   with nothing in flight, to the floor: Linux ends the probe's episode when a recovery starts). */
static void test_recovery_takes_the_probes_response(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(probe_uncovers_a_loss(t));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(301), P(1));
    REQUIRE(c->in_recovery);
    efvitcp_conn_stats in;
    sg_conn_stats(t, &in);
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(501), NULL, 0);
    CHECK(!c->in_recovery && !c->tlp_on);
    efvitcp_conn_stats out;
    sg_conn_stats(t, &out);
    CHECK_EQ(out.ssthresh, in.ssthresh);
    CHECK(out.cwnd >= in.ssthresh);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.tlp_recoveries, 0);
    CHECK_EQ(st.sack_recoveries, 1);
}

/* A timeout in a recovery keeps the ssthresh the recovery set: one reduction per congestion
   event (Linux's tcp_enter_loss). Ten full segments; the peer acknowledges three and sacks
   three more, so the fourth is lost: recovery, ssthresh = 3.5 segments (NewReno). Its
   retransmission is acknowledged (SND.UNA passes the sacked ones) and the last three segments
   meet silence: probes, then the RTO. Before, the RTO cut ssthresh again, to 0.7 times the three
   segments outstanding then. */
static void test_timeout_in_recovery_keeps_ssthresh(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.initial_window = 10;
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    uint32_t mss = c->send_mss;
    REQUIRE(mss > 1000);
    for (int i = 0; i < 10; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    for (uint32_t i = 0; i < 10; i++) EXPECT(t, TH_ACK | TH_PSH, S(101 + i * mss), P(1));
    EXPECT_NOTHING(t);
    sg_advance(t, SG_MS);
    sack_ack(t, S(101 + 3 * mss), 1, (uint32_t[]){S(101 + 4 * mss), S(101 + 7 * mss)});
    EXPECT(t, TH_ACK | TH_PSH, S(101 + 3 * mss), P(1));
    CHECK(c->in_recovery);
    uint32_t ssthresh = c->cc.ssthresh;
    CHECK_EQ(ssthresh, 7 * mss / 2); /* NewReno here (sg_config): half the flight */
    sg_flush(t);
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(101 + 7 * mss), NULL, 0); /* the retransmission arrived */
    CHECK(c->in_recovery);
    sg_flush(t);
    efvitcp_stats st;
    for (int k = 0; k < 20; k++) {
        sg_stats(t, &st);
        if (st.rto_events) break;
        CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
        sg_flush(t);
    }
    sg_stats(t, &st);
    CHECK_EQ(st.rto_events, 1);
    CHECK_EQ(c->cc.cwnd, mss);
    CHECK_EQ(c->cc.ssthresh, ssthresh);
}

/* RFC 8985 §6.2 step 3 judges reordering against the highest sequence delivered before the ACK
   (Linux's prior_fack): an ACK that acknowledges some segments and sacks later ones, or one
   whose blocks come most recent first (RFC 2018 §4) with a lower block after a higher one, is
   no reordering. Before, both set RACK.reordering_seen, and every later loss waited a
   reordering window. */
static void test_one_ack_is_no_reordering(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    et_conn *c = t->conn;
    REQUIRE(send_segs(t, 101, 6));
    sg_advance(t, SG_MS);
    sack_ack(t, S(201), 1, (uint32_t[]){S(301), S(401)}); /* S(101) acknowledged, S(301) sacked */
    CHECK(!c->rack_reord);
    sack_ack(t, S(201), 2, (uint32_t[]){S(601), S(701), S(401), S(501)}); /* most recent first */
    CHECK(!c->rack_reord);
    CHECK_EQ(c->n_sacked, 3);
    /* Three sacked and no reordering: no window, the hole goes at once (as by DupThresh). */
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    CHECK(c->in_recovery);
}

/* The end of SACK recovery leaves cwnd at ssthresh (RFC 6675 §5; RFC 6937 §3; Linux), not at
   the flight plus one segment (RFC 6582's deflation for NewReno's inflated window): with
   nothing in flight at the end, as under steady loss, that would leave two segments. */
static void test_recovery_exit_leaves_cwnd_at_ssthresh(void)
{
    efvitcp_config cfg = rack_cfg();
    cfg.initial_window = 10; /* eight segments of 1000 bytes in the first flight */
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    for (int i = 0; i < 8; i++) REQUIRE(efvitcp_send(t->conn, buf, 1000, false) == 1000);
    for (uint32_t i = 0; i < 8; i++)
        REQUIRE(sg_expect(t, TH_ACK | TH_PSH, S(101 + 1000 * i), P(1)));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(1101), S(8101)});
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
    efvitcp_conn_stats in;
    sg_conn_stats(t, &in);
    CHECK(in.ssthresh > 2 * 1460); /* above what deflation to the flight would leave */
    sg_advance(t, SG_MS);
    sg_send(t, TH_ACK, P(1), S(8101), NULL, 0); /* the full ACK, nothing in flight */
    EXPECT_NOTHING(t);
    efvitcp_conn_stats out;
    sg_conn_stats(t, &out);
    CHECK(!t->conn->in_recovery);
    CHECK_EQ(out.ssthresh, in.ssthresh);
    CHECK_EQ(out.cwnd, out.ssthresh);
}

/* Three duplicate ACKs without SACK blocks (a peer that negotiated SACK and sends none): the
   head is lost whatever RACK says, and goes at once. */
static void test_three_duplicates_without_blocks(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 5));
    sg_advance(t, SG_MS);
    for (int i = 0; i < 2; i++) {
        sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
        EXPECT_NOTHING(t);
    }
    sg_send(t, TH_ACK, P(1), S(101), NULL, 0);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_recoveries, 1);
    CHECK_EQ(st.rack_losses, 0);
}

/* Duplicates that carry SACK news are RACK's to judge: one sacked segment, reordering window
   still open, so the third of them retransmits nothing. */
static void test_duplicates_with_blocks_wait_for_rack(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 5));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(301)});
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(301)});
    sack_ack(t, S(101), 1, (uint32_t[]){S(201), S(301)});
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.sack_recoveries, 0);
}

/* ---- undo (RFC 3708, RFC 3522, RFC 4015) ---- */

/* Two retransmissions, both reported needless by D-SACKs: the recovery is undone, cwnd and
   ssthresh are what they were before it, and RACK counts the episode as reordering. */
static void test_undo_by_dsack(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    efvitcp_conn_stats before;
    sg_conn_stats(t, &before);
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(301), S(401)});
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    EXPECT(t, TH_ACK | TH_PSH, S(201), P(1));
    efvitcp_conn_stats during;
    sg_conn_stats(t, &during);
    CHECK(during.cwnd < before.cwnd);
    /* The originals were late, not lost: the ACK covers everything, then each retransmission
       comes back as a duplicate. */
    sack_ack(t, S(401), 1, (uint32_t[]){S(101), S(201)});
    sack_ack(t, S(401), 1, (uint32_t[]){S(201), S(301)});
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.dsack_received, 2);
    CHECK_EQ(st.spurious_undone, 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.spurious_undone, 1);
    CHECK(cs.cwnd >= before.cwnd);
    CHECK_EQ(cs.ssthresh, before.ssthresh);
    CHECK(t->conn->rack_reord);
}

/* One of two retransmissions D-SACKed: a real loss; nothing is undone. */
static void test_no_undo_for_a_real_loss(void)
{
    efvitcp_config cfg = rack_cfg();
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 3));
    sg_advance(t, SG_MS);
    sack_ack(t, S(101), 1, (uint32_t[]){S(301), S(401)});
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    sg_flush(t);
    sack_ack(t, S(401), 1, (uint32_t[]){S(201), S(301)});
    sg_send(t, TH_ACK, P(1), S(401), NULL, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.spurious_undone, 0);
}

/* A timeout whose retransmission was needless (RFC 3522): the first ACK after it echoes the
   TSval of the original, older than the retransmission's; the RTO's window collapse is undone
   (RFC 4015). */
static void test_undo_spurious_timeout_by_timestamps(void)
{
    efvitcp_config cfg;
    sg_config(&cfg); /* RACK off: the RTO itself */
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 2));
    uint32_t tsval_orig = t->last->opt.tsval;
    efvitcp_conn_stats before;
    sg_conn_stats(t, &before);
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    CHECK(t->last->opt.tsval != tsval_orig);
    efvitcp_conn_stats during;
    sg_conn_stats(t, &during);
    CHECK_EQ(during.cwnd, during.mss);
    sg_opts o = sg_def_opts(t);
    o.tsecr = tsval_orig;
    sg_send_o(t, TH_ACK, P(1), S(301), t->win, NULL, 0, &o);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.spurious_undone, 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK(cs.cwnd >= before.cwnd);
    CHECK_EQ(cs.ssthresh, before.ssthresh);
}

/* The echo of the retransmission: the timeout was real; nothing is undone. */
static void test_no_undo_when_the_retransmission_is_echoed(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    sg *t = rack_rig(&cfg);
    REQUIRE(t);
    REQUIRE(send_segs(t, 101, 2));
    CHECK(sg_run_until_output(t, SG_SEC) != UINT64_MAX);
    EXPECT(t, TH_ACK | TH_PSH, S(101), P(1));
    sg_send(t, TH_ACK, P(1), S(201), NULL, 0); /* echoes the retransmission's TSval */
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.spurious_undone, 0);
}

int main(void)
{
    RUN(test_probe_of_the_last_segment_at_pto);
    RUN(test_delayed_ack_in_the_pto_below_two_segments);
    RUN(test_no_delayed_ack_in_the_pto_when_the_window_is_full);
    RUN(test_probe_repairs_a_lost_tail);
    RUN(test_probe_response_from_the_flight_it_repaired);
    RUN(test_second_probe_repairs_a_lost_tail);
    RUN(test_fresh_episode_after_straight_line_send);
    RUN(test_probes_back_off_until_the_rto);
    RUN(test_third_probe_repairs_a_lost_tail);
    RUN(test_needless_probe_is_undone);
    RUN(test_probe_of_new_data);
    RUN(test_probe_of_a_segment_sent_in_part);
    RUN(test_no_probe_without_rack);
    RUN(test_reordering_window_then_loss);
    RUN(test_reordering_is_not_loss);
    RUN(test_three_sacked_mark_the_hole_at_once);
    RUN(test_lost_retransmission);
    RUN(test_sacked_retransmission_with_an_old_echo);
    RUN(test_cumulative_ack_echo_of_the_originals);
    RUN(test_lost_resend_after_a_timeout);
    RUN(test_retransmission_delivered_within_a_tick);
    RUN(test_probe_in_recovery);
    RUN(test_probe_in_recovery_after_the_last_news);
    RUN(test_probe_in_the_recovery_a_probe_started);
    RUN(test_recovery_takes_the_probes_response);
    RUN(test_timeout_in_recovery_keeps_ssthresh);
    RUN(test_one_ack_is_no_reordering);
    RUN(test_recovery_exit_leaves_cwnd_at_ssthresh);
    RUN(test_three_duplicates_without_blocks);
    RUN(test_duplicates_with_blocks_wait_for_rack);
    RUN(test_undo_by_dsack);
    RUN(test_no_undo_for_a_real_loss);
    RUN(test_undo_spurious_timeout_by_timestamps);
    RUN(test_no_undo_when_the_retransmission_is_echoed);
    sg_cleanup();
    return th_summary();
}
