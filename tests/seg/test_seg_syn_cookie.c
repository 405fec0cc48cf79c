/*
 * Segment tests: SYN cookies (RFC 4987 §3.6, encoded as Linux does) and the half-open budget
 * (cfg.max_half_open): the cookie SYN-ACK, the final ACK that recreates the connection with the
 * options the cookie kept, the ACKs it rejects, and a SYN flood against a nearly full server.
 */
#include "segtest.h"

#include <arpa/inet.h>

#include "check.h"
#include "net/checksum.h"
#include "tcp/syn_cookie.h"
#include "wire/wire_hooks.h"

static void cookie_config(efvitcp_config *cfg, efvitcp_syn_cookies mode)
{
    sg_config(cfg);
    cfg->syn_cookies = mode;
}

/* The peer's SYN (o NULL = sg_syn_opts) is answered by a SYN-ACK; the rig learns our ISN and
   TSval from it as sg_syn_received does, but no connection exists. */
static sg_rx *cookie_synack(sg *t, const sg_opts *o)
{
    sg_opts def = sg_syn_opts(t);
    if (!o) o = &def;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, o);
    sg_rx *r = sg_expect(t, TH_SYN | TH_ACK, SG_ANY, P(1));
    if (!r) return NULL;
    t->syn = *r;
    t->sis = r->seq;
    t->stack_ws = r->opt.has_ws ? r->opt.ws : 0;
    t->ts_on = o->has_ts && r->opt.has_ts;
    return r;
}

/* RFC 4987 §3.6: with cookies always on, a SYN takes no slot; the SYN-ACK keeps our usual
   options, and TSval's low 6 bits carry the peer's window scale and SACK-permitted (Linux's
   cookie_init_timestamp). The ACK recreates the connection with them: MSS, window scale,
   TS.Recent from the ACK, RTT unmeasured. */
static void test_cookie_round_trip_keeps_options(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.ws = 7;
    sg_rx *r = cookie_synack(t, &o);
    REQUIRE(r);
    CHECK_EQ(r->win, 16384);
    CHECK(r->opt.has_mss && r->opt.mss == 1460);
    CHECK(r->opt.has_ws && r->opt.ws == 0);
    CHECK(r->opt.has_ts && r->opt.tsecr == SG_PEER_TS);
    CHECK(r->opt.sack_perm); /* offered: the bit in TSval brings it back */
    CHECK_EQ(r->opt.tsval & 0x3f, 7 | 0x10);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.allow, 1);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_sent, 1);
    CHECK_EQ(st.half_open, 0);

    t->ts += 5;
    sg_send_w(t, TH_ACK, P(1), S(1), 100, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 1);
    REQUIRE(t->conn);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    et_conn *c = t->conn;
    CHECK(c->ws_ok && c->snd_wscale == 7 && c->rcv_wscale == 0);
    CHECK(c->ts_ok && c->ts_recent == SG_PEER_TS + 5);
    CHECK(c->sack_ok);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1460 - 12);
    CHECK_EQ(cs.snd_wnd, 100 << 7);
    CHECK_EQ(cs.srtt_us, 0);
    CHECK(et_stack_check(t->st) == NULL);
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_accepted, 1);
    CHECK_EQ(st.conns_accepted, 1);
    CHECK_EQ(t->ev.allow, 2); /* asked again: nothing was kept since the SYN */

    /* The connection works: data is taken and acknowledged with our TSval going on from the
       cookie's (never backwards, RFC 7323 §5.3) and TSecr echoing the peer's. */
    sg_send(t, TH_ACK, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS + 5);
    CHECK((int32_t)(t->last->opt.tsval - t->syn.opt.tsval) >= 0);
    CHECK(sg_stream_is_pat(t, 10));
    CHECK_EQ(efvitcp_send(t->conn, "hello", 5, false), 5);
    EXPECT(t, TH_ACK | TH_PSH, S(1), P(11));
}

/* The MSS is the largest table entry not above the peer's (536, 1300, 1440, 1460). Without
   timestamps nothing carries the window scale back: not offered, as in Linux. */
static void test_cookie_mss_table_and_no_timestamps(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.mss = 1380;
    REQUIRE(cookie_synack(t, &o));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(t->ev.established == 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1300 - 12);

    t = sg_server(&cfg);
    sg_opts plain = {.has_mss = true, .mss = 1460, .has_ws = true, .ws = 3};
    sg_rx *r = cookie_synack(t, &plain);
    REQUIRE(r);
    CHECK(r->opt.has_mss && !r->opt.has_ws && !r->opt.has_ts);
    sg_send_w(t, TH_ACK, P(1), S(1), 1000, NULL, 0);
    REQUIRE(t->ev.established == 1);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1460);
    CHECK_EQ(cs.snd_wnd, 1000); /* unscaled */
    CHECK(!t->conn->ts_ok && !t->conn->ws_ok);

    /* No MSS option: 536 (RFC 9293 §3.7.1). */
    t = sg_server(&cfg);
    sg_opts none = {0};
    REQUIRE(cookie_synack(t, &none));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(t->ev.established == 1);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 536);
}

/* A cookie cannot carry an MSS below its table's least (536): such a SYN is answered from a
   half-open slot, as with cookies off, and dropped when none is left; never a connection that
   sends segments above the MSS the peer announced (RFC 9293 §3.7.1). */
static void test_cookie_small_mss_takes_slot(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    sg_opts o = sg_syn_opts(t);
    o.mss = 300;
    REQUIRE(sg_syn_received(t, &o));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_sent, 0);
    CHECK_EQ(st.half_open, 1);
    CHECK_EQ(t->syn.opt.mss, 1460);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    REQUIRE(t->ev.established == 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 300 - 12);

    cookie_config(&cfg, EFVITCP_SYN_COOKIES_WHEN_SHORT);
    cfg.max_half_open = 1;
    t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    o = sg_syn_opts(t);
    o.mss = 300;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_sent, 0);
    CHECK_EQ(st.drops[EFVITCP_DROP_HALF_OPEN], 1);
    t->pport++;
    REQUIRE(cookie_synack(t, NULL)); /* a usual MSS still gets its cookie */
}

/* Data on the cookie's ACK (the peer's first segment after the handshake, its ACK lost) is
   taken as on any connection completed by that segment. */
static void test_cookie_ack_with_data(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 20);
    EXPECT(t, TH_ACK, S(1), P(21));
    CHECK_EQ(t->ev.established, 1);
    CHECK(sg_stream_is_pat(t, 20));
    CHECK(strcmp(t->ev.log, "AAED") == 0);
}

/* RFC 9293 §3.10.7.2: an ACK to LISTEN that is not a cookie of ours is an unacceptable ACK:
   <SEQ=SEG.ACK><CTL=RST>, no connection; counted as rejected. The right ACK still works. */
static void test_cookie_wrong_ack_rejected(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    sg_send(t, TH_ACK, P(1), S(1000), NULL, 0);
    EXPECT(t, TH_RST, S(1000), 0);
    sg_send(t, TH_ACK, P(1000), S(1), NULL, 0); /* another peer ISN: another cookie */
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.established, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_rejected, 2);
    CHECK_EQ(st.drops[EFVITCP_DROP_NO_CONN], 2);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 1);
}

/* A later segment of a cookie connection that overtook the first (or outlived its loss) names
   no cookie: SEG.SEQ - 1 is not the peer's ISN. A RST would reset the peer's connection; it is
   dropped, and the first octet, sent again, completes the handshake. */
static void test_cookie_later_segment_dropped_not_reset(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    sg_send(t, TH_ACK | TH_PSH, P(101), S(1), NULL, 50);
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_rejected, 1);
    CHECK_EQ(st.rst_sent, 0);
    /* The same for a FIN that overtook them (efvitcp-sim --syn-cookies seed 30 reorder). */
    sg_send(t, TH_ACK | TH_FIN, P(151), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    /* A bare ACK that names no cookie still gets the RST. */
    sg_send(t, TH_ACK, P(151), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    CHECK_EQ(t->ev.established, 1);
    CHECK(sg_stream_is_pat(t, 100));
}

/* The cookie names the 4-tuple: the same numbers from another port or address are rejected. */
static void test_cookie_wrong_tuple_rejected(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    t->pport++;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_rejected, 1);
}

/* The counter moves every 64 s and a cookie of the current or the previous one is valid: at
   100 s it still is, after two periods it is not (another SYN keeps the checks on). */
static void test_cookie_counter_age(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    cfg.keepalive_ms = 0;
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    sg_advance(t, 100 * SG_SEC);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 1);

    t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    uint32_t old_sis = t->sis;
    sg_advance(t, 2 * ET_COOKIE_PERIOD_NS);
    t->pport++;
    REQUIRE(cookie_synack(t, NULL)); /* a fresh cookie to another port */
    t->pport--;
    t->sis = old_sis;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(t->ev.established, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_rejected, 1);
}

/* Without a cookie sent in the last two periods, ACKs to LISTEN are not checked (Linux's
   tcp_synq_no_recent_overflow): answered as always, nothing counted. */
static void test_cookie_checks_only_after_cookies(void)
{
    sg *t = sg_server(NULL);
    sg_send_o(t, TH_ACK, P(1), 12345, t->win, NULL, 0, NULL);
    EXPECT(t, TH_RST, 12345, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_rejected, 0);
    CHECK_EQ(st.syn_cookies_sent, 0);
}

/* allow_new_connection applies to the cookie's ACK too: a refusal there is answered like a
   refused segment, <SEQ=SEG.ACK><CTL=RST>. */
static void test_cookie_ack_refused_by_filter(void)
{
    efvitcp_config cfg;
    cookie_config(&cfg, EFVITCP_SYN_COOKIES_ALWAYS);
    sg *t = sg_server(&cfg);
    REQUIRE(cookie_synack(t, NULL));
    t->allow = false;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_REFUSED], 1);
    CHECK_EQ(st.syn_cookies_accepted, 0);
    /* A SYN refused by the filter gets a RST, not a cookie. */
    t->pport++;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_RST | TH_ACK, 0, P(1));
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_sent, 1);
}

/* The half-open budget: SYNs beyond max_half_open get cookies (WHEN_SHORT, the default) or are
   dropped (OFF), although slots are free. */
static void test_half_open_budget(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.max_half_open = 2;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    REQUIRE(cookie_synack(t, NULL));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.half_open, 2);
    CHECK_EQ(st.syn_cookies_sent, 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 2);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0); /* the cookie completes in a free slot */
    CHECK_EQ(t->ev.established, 1);
    sg_stats(t, &st);
    CHECK_EQ(st.half_open, 2);
    CHECK_EQ(st.half_open_evicted, 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 3);

    cfg.syn_cookies = EFVITCP_SYN_COOKIES_OFF;
    t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_HALF_OPEN], 1);
    CHECK_EQ(st.syn_cookies_sent, 0);
    CHECK_EQ(t->ev.allow, 2);
}

/* Half-open connections never keep a slot from an established one: the cookie's ACK that finds
   no free slot takes the oldest half-open connection's, whose SYN-ACK then never goes again; its
   late ACK is rejected. With every slot synchronised a SYN gets no cookie (it could never get
   in): dropped as before. */
static void test_cookie_evicts_oldest_half_open(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.max_conns = 3;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    efvitcp_conn *est = t->conn;
    t->pport = 41000;
    REQUIRE(sg_syn_received(t, NULL)); /* the oldest */
    uint32_t old_sis = t->sis;
    t->pport = 41001;
    REQUIRE(sg_syn_received(t, NULL));
    t->pport = 42000;
    REQUIRE(cookie_synack(t, NULL));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 2);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.half_open_evicted, 1);
    CHECK_EQ(st.half_open, 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 3);
    CHECK(efvitcp_is_established(est));
    CHECK(et_stack_check(t->st) == NULL);
    /* Only the remaining half-open connection's SYN-ACK is retransmitted (initial RTO 1 s). */
    sg_advance(t, 1100 * SG_MS);
    sg_rx *r = sg_take(t);
    REQUIRE(r);
    CHECK_EQ(r->flags, TH_SYN | TH_ACK);
    CHECK_EQ(r->dport, 41001);
    EXPECT_NOTHING(t);
    t->pport = 41000;
    t->sis = old_sis;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT(t, TH_RST, S(1), 0);

    /* Three synchronised connections: no slot could be had, no cookie. */
    t->pport = 41001;
    t->sis = r->seq;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.established, 3);
    t->pport = 43000;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT_NOTHING(t);
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_LISTEN_FULL], 1);
    CHECK_EQ(st.syn_cookies_sent, 1);
}

/* A spoofed SYN: random source address and port, and a source MAC that no endpoint of the wire
   owns, so that the answer is lost as it is for a forged address. */
static void spoof_syn(sg *t, uint32_t ip, uint16_t port, uint32_t isn)
{
    uint8_t f[2048];
    uint16_t save = t->pport;
    t->pport = port;
    sg_opts o = sg_syn_opts(t);
    uint32_t n = sg_build(t, f, TH_SYN, isn, 0, t->win, NULL, 0, &o);
    t->pport = save;
    f[11] = 0x99;
    uint8_t *iph = f + ET_ETH_HLEN;
    uint32_t be = htonl(ip);
    memcpy(iph + 12, &be, 4);
    memset(iph + 10, 0, 2);
    uint16_t c = et_csum_finish(et_csum_add(0, iph, ET_IP_HLEN));
    memcpy(iph + 10, &c, 2);
    uint8_t *tcp = iph + ET_IP_HLEN;
    uint32_t tcp_len = n - ET_ETH_HLEN - ET_IP_HLEN, sn, dn;
    memset(tcp + 16, 0, 2);
    memcpy(&sn, iph + 12, 4);
    memcpy(&dn, iph + 16, 4);
    uint64_t sum = et_csum_pseudo(sn, dn, ET_IPPROTO_TCP, (uint16_t)tcp_len);
    c = et_csum_finish(et_csum_add(sum, tcp, tcp_len));
    memcpy(tcp + 16, &c, 2);
    if (et_wire_raw_send(t->wire, t->raw, f, n) != 0) th_failures++;
}

/* Issue 12: a server with 60 of its 64 slots established receives 5000 spoofed SYNs from
   random addresses and ports, all at one instant (4 of them take the free slots, the rest get
   cookies); a legitimate client then connects within one round trip, without the clock moving,
   and every established connection lives on. */
static void test_syn_flood_legit_client_connects(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.max_conns = 64;
    cfg.send_slots = 8;
    cfg.recv_buf_size = 4096;
    sg *t = sg_server(&cfg);
    for (int i = 0; i < 60; i++) {
        t->pport = (uint16_t)(20000 + i);
        REQUIRE(sg_established(t));
    }
    et_rng g;
    et_rng_seed(&g, 12);
    uint64_t t0 = sg_now(t);
    for (int i = 0; i < 5000; i++) {
        uint32_t ip = 0x0a000000u | (uint32_t)(et_rng_next(&g) & 0xffffff);
        spoof_syn(t, ip, (uint16_t)(1024 + et_rng_below(&g, 60000)), (uint32_t)et_rng_next(&g));
        if (i % 16 == 15) sg_pump(t);
    }
    sg_pump(t);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.half_open, 4);
    CHECK_EQ(st.syn_cookies_sent, 4996);
    CHECK(et_stack_check(t->st) == NULL);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 64);

    t->pport = 30000;
    REQUIRE(cookie_synack(t, NULL));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 61);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    CHECK_EQ(sg_now(t), t0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 100);
    EXPECT(t, TH_ACK, S(1), P(101));
    sg_stats(t, &st);
    CHECK_EQ(st.syn_cookies_accepted, 1);
    CHECK_EQ(st.half_open_evicted, 1);
    CHECK_EQ(st.half_open, 3);
    CHECK_EQ(st.conns_reset + st.conns_timeout + st.conns_closed, 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 64);
    CHECK(et_stack_check(t->st) == NULL);
}

int main(void)
{
    RUN(test_cookie_round_trip_keeps_options);
    RUN(test_cookie_mss_table_and_no_timestamps);
    RUN(test_cookie_small_mss_takes_slot);
    RUN(test_cookie_ack_with_data);
    RUN(test_cookie_wrong_ack_rejected);
    RUN(test_cookie_later_segment_dropped_not_reset);
    RUN(test_cookie_wrong_tuple_rejected);
    RUN(test_cookie_counter_age);
    RUN(test_cookie_checks_only_after_cookies);
    RUN(test_cookie_ack_refused_by_filter);
    RUN(test_half_open_budget);
    RUN(test_cookie_evicts_oldest_half_open);
    RUN(test_syn_flood_legit_client_connects);
    sg_cleanup();
    return th_summary();
}
