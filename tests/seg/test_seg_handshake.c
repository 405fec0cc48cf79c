/* Segment tests: connection establishment (RFC 9293 §3.5, §3.10.7.1-3) on one stack. */
#include "segtest.h"

#include "net/checksum.h"

/* RFC 9293 §3.10.7.2: a SYN to LISTEN is answered by SYN-ACK carrying our MSS (§3.7.1) and the
   RFC 7323 options the SYN offered, and SACK-permitted (RFC 2018 §2) since the SYN offered it. */
static void test_listen_syn_gets_synack_with_options(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_rx *r = &t->syn;
    CHECK_EQ(r->win, 16384); /* the whole buffer, unscaled in a SYN (RFC 7323 §2.2) */
    CHECK_EQ(r->len, 0);
    CHECK(r->opt.has_mss);
    CHECK_EQ(r->opt.mss, 1460);
    CHECK(r->opt.has_ws);
    CHECK_EQ(r->opt.ws, 0); /* 16 KiB needs no scaling */
    CHECK(r->opt.has_ts);
    CHECK_EQ(r->opt.tsecr, SG_PEER_TS); /* RFC 7323 §3.2: TSecr echoes the SYN's TSval */
    CHECK(r->opt.sack_perm);
    CHECK_EQ(r->sport, SG_LISTEN_PORT);
    CHECK_EQ(r->dport, SG_PEER_PORT);
    CHECK_EQ(t->ev.established, 0);
    CHECK_EQ(t->ev.allow, 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 1);
}

/* RFC 7323 §1.3/§2.2/§3.2: WS and TS appear in a SYN-ACK only if the SYN carried them. */
static void test_synack_echoes_only_offered_options(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = {.has_mss = true, .mss = 1000};
    REQUIRE(sg_syn_received(t, &o));
    CHECK(t->syn.opt.has_mss);
    CHECK(!t->syn.opt.has_ws);
    CHECK(!t->syn.opt.has_ts);
    CHECK(!t->ts_on);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1000);

    t = sg_server(NULL);
    sg_opts ts_only = {.has_ts = true, .tsval = 7};
    REQUIRE(sg_syn_received(t, &ts_only));
    CHECK(!t->syn.opt.has_ws);
    CHECK(t->syn.opt.has_ts);
    CHECK_EQ(t->syn.opt.tsecr, 7);
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 536 - 12); /* RFC 9293 §3.7.1 default 536, minus the TS option */

    t = sg_server(NULL);
    sg_opts ws_only = {.has_ws = true, .ws = 3};
    REQUIRE(sg_syn_received(t, &ws_only));
    CHECK(t->syn.opt.has_ws);
    CHECK(!t->syn.opt.has_ts);

    /* A stack configured without them never offers them, whatever the SYN says. */
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.window_scale = false;
    cfg.timestamps = false;
    t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    CHECK(t->syn.opt.has_mss);
    CHECK(!t->syn.opt.has_ws);
    CHECK(!t->syn.opt.has_ts);
}

/* RFC 9293 §3.7.1 and hostile values: MSS 0 is floored, a huge MSS is capped by the MTU. */
static void test_syn_mss_floor_and_cap(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = {.has_mss = true, .mss = 0};
    REQUIRE(sg_syn_received(t, &o));
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 48);

    t = sg_server(NULL);
    o.mss = 9000;
    REQUIRE(sg_syn_received(t, &o));
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1460);
}

/* RFC 9293 §3.10.7.2 + RFC 9293 §3.8.1: the passive side completes on the third segment. */
static void test_passive_open_establishes(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    CHECK_EQ(t->ev.established, 1);
    CHECK(strcmp(t->ev.log, "AE") == 0);
    CHECK(efvitcp_is_established(t->conn));
    CHECK_EQ(efvitcp_local_port(t->conn), SG_LISTEN_PORT);
    struct sockaddr_in a;
    efvitcp_peername(t->conn, &a);
    CHECK_EQ(ntohs(a.sin_port), SG_PEER_PORT);
    CHECK_EQ(ntohl(a.sin_addr.s_addr), SG_PEER_IP_H);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_accepted, 1);
}

/* RFC 9293 §3.10.7.4 (SYN-RECEIVED): a retransmitted SYN means our SYN-ACK was lost: it goes
   again, identical. */
static void test_syn_received_duplicate_syn_resends_synack(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    CHECK(t->last->opt.has_mss && t->last->opt.has_ts);
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 1);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    CHECK_EQ(t->ev.established, 1);
}

/* RFC 9293 §3.10.7.4 fifth check, SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><RST>
   and the connection stays. */
static void test_syn_received_bad_ack_gets_rst(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_ACK, P(1), S(5), NULL, 0);
    EXPECT(t, TH_RST, S(5), 0);
    sg_send(t, TH_ACK, P(1), S(0), NULL, 0);
    EXPECT(t, TH_RST, S(0), 0);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_RECEIVED);
    CHECK_EQ(t->ev.established, 0);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* RFC 9293 §3.10.7.4 second check: a RST in SYN-RECEIVED of a passive open returns to LISTEN
   without telling the user, who never saw the connection. */
static void test_syn_received_rst_back_to_listen(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_syn_received(t, NULL));
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.log_len, 1); /* only the allow callback */
    /* Still listening: a new SYN works. */
    t->pis += 1000;
    REQUIRE(sg_syn_received(t, NULL));
}

/* RFC 9293 §3.10.7.4 / §3.1 flags: SYN+FIN, SYN+RST and a segment with no control flag at all
   are dropped silently in LISTEN and in ESTABLISHED. */
static void test_bad_flag_combinations_dropped(void)
{
    static const uint8_t bad[] = {TH_SYN | TH_FIN, TH_SYN | TH_RST, 0,
                                  TH_PSH,          TH_FIN,          TH_SYN | TH_FIN | TH_ACK};
    sg *t = sg_server(NULL);
    for (unsigned i = 0; i < sizeof(bad); i++) {
        sg_opts o = sg_syn_opts(t);
        sg_send_o(t, bad[i], P(0), 0, t->win, NULL, 0, &o);
        EXPECT_NOTHING(t);
    }
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    CHECK_EQ(t->ev.allow, 0);
    REQUIRE(sg_established(t));
    for (unsigned i = 0; i < sizeof(bad); i++) {
        sg_send(t, bad[i], P(1), S(1), "x", 1);
        EXPECT_NOTHING(t);
    }
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    CHECK_EQ(t->ev.data, 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_BAD_FLAGS], 2 * sizeof(bad));
}

/* allow_new_connection saying no refuses like a closed port: <SEQ=0><ACK=SEG.SEQ+1><RST,ACK>. */
static void test_allow_false_refuses_with_rst(void)
{
    sg *t = sg_server(NULL);
    t->allow = false;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_RST | TH_ACK, 0, P(1));
    CHECK_EQ(t->last->win, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.allow, 1);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_REFUSED], 1);
    CHECK_EQ(st.rst_sent, 1);
}

/* RFC 9293 §3.10.7.1 (CLOSED): no ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK> (SYN and FIN
   count), ACK -> <SEQ=SEG.ACK><RST>, RST -> nothing. */
static void test_closed_port_rst_rules(void)
{
    sg *t = sg_server(NULL);
    t->sport = 5001; /* nobody listens here */
    sg_send(t, TH_SYN, P(0), 0, NULL, 0);
    EXPECT(t, TH_RST | TH_ACK, 0, P(1));
    sg_send(t, TH_SYN, P(0), 0, NULL, 10); /* SYN with data: SEG.LEN counts the text */
    EXPECT(t, TH_RST | TH_ACK, 0, P(11));
    sg_send(t, TH_ACK, P(1), 12345, NULL, 0);
    EXPECT(t, TH_RST, 12345, 0);
    sg_send(t, TH_ACK | TH_FIN, P(1), 777, NULL, 5);
    EXPECT(t, TH_RST, 777, 0);
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST | TH_ACK, P(1), 5, NULL, 0);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.rst_sent, 4);
}

/* RFC 9293 §3.10.7.2: in LISTEN a RST is ignored and an ACK gets <SEQ=SEG.ACK><RST>. */
static void test_listen_rst_ignored_ack_reset(void)
{
    sg *t = sg_server(NULL);
    sg_send(t, TH_RST, P(0), 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_ACK, P(1), 999, NULL, 0);
    EXPECT(t, TH_RST, 999, 0);
    sg_send(t, TH_ACK | TH_SYN, P(0), 4242, NULL, 0);
    EXPECT(t, TH_RST, 4242, 0);
    CHECK_EQ(efvitcp_server_conn_count(t->srv), 0);
}

/* RFC 9293 §3.10.7.2: text on a SYN is not acknowledged before ESTABLISHED; nothing reaches the
   user. */
static void test_syn_with_data_not_acked(void)
{
    sg *t = sg_server(NULL);
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 20, &o);
    EXPECT(t, TH_SYN | TH_ACK, SG_ANY, P(1));
    t->sis = t->last->seq;
    t->ts_on = true;
    CHECK_EQ(t->ev.data, 0);
    t->conn = sg_find_conn(t);
    sg_send(t, TH_ACK, P(1), S(1), NULL, 20);
    EXPECT(t, TH_ACK, S(1), P(21));
    CHECK(sg_stream_is_pat(t, 20));
}

/* A full connection table drops SYNs silently, like a full backlog, so the peer retries. With SYN
   cookies (the default) this SYN would get one: the slot is half-open (test_seg_syn_cookie.c). */
static void test_listen_full_drops_syn(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.max_conns = 1;
    cfg.syn_cookies = EFVITCP_SYN_COOKIES_OFF;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_syn_received(t, NULL));
    t->pport++;
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT_NOTHING(t);
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_LISTEN_FULL], 1);
}

/* RFC 9293 §3.10.7.3: our SYN carries MSS, WS and TS (TSecr 0); a SYN-ACK with the right ACK
   establishes and is acknowledged. */
static void test_active_open(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    CHECK_EQ(t->syn.flags, TH_SYN);
    CHECK_EQ(t->syn.ack, 0);
    CHECK(t->syn.opt.has_mss);
    CHECK_EQ(t->syn.opt.mss, 1460);
    CHECK(t->syn.opt.has_ws);
    CHECK(t->syn.opt.has_ts);
    CHECK_EQ(t->syn.opt.tsecr, 0);
    CHECK_EQ(t->syn.sport, SG_CLIENT_PORT);
    CHECK_EQ(t->syn.dport, SG_REMOTE_PORT);
    CHECK_EQ(t->ev.established, 0);
    sg_opts o = sg_syn_opts(t);
    o.tsecr = t->syn.opt.tsval;
    t->ts_on = true;
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), 1000, NULL, 0, &o);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK(t->last->opt.has_ts);
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS);
    CHECK_EQ(t->ev.established, 1);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.state, EFVITCP_ESTABLISHED);
    CHECK_EQ(cs.snd_wnd, 1000);
    CHECK_EQ(cs.mss, 1460 - 12);
}

/* RFC 9293 §3.10.7.3: in SYN-SENT a RST with an acceptable ACK means "connection refused". */
static void test_syn_sent_rst_ack_refused(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    efvitcp_conn *c = t->conn;
    sg_send(t, TH_RST | TH_ACK, 0, S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.refused, 1);
    CHECK(t->ev.conn == c);
    CHECK(efvitcp_is_closed(c));
    efvitcp_stats st;
    sg_stats(t, &st);
    CHECK_EQ(st.conns_refused, 1);
    CHECK_EQ(st.conns_active, 0);
}

/* RFC 9293 §3.10.7.3: a RST without ACK, or whose ACK does not cover our SYN, is ignored. */
static void test_syn_sent_unacceptable_rst_ignored(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_send(t, TH_RST, P(0), 0, NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST | TH_ACK, P(0), S(0), NULL, 0);
    EXPECT_NOTHING(t);
    sg_send(t, TH_RST | TH_ACK, P(0), S(2), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
    CHECK_EQ(t->ev.refused, 0);
    /* The handshake still completes. */
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), t->win, NULL, 0, &o);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.established, 1);
}

/* RFC 9293 §3.10.7.3: an ACK outside (ISS, SND.NXT] gets <SEQ=SEG.ACK><RST>; the connection
   stays in SYN-SENT. */
static void test_syn_sent_bad_ack_gets_rst(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(5), t->win, NULL, 0, &o);
    EXPECT(t, TH_RST, S(5), 0);
    sg_send(t, TH_ACK, P(1), S(0), NULL, 0);
    EXPECT(t, TH_RST, S(0), 0);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
    /* A segment with neither SYN nor RST (and no ACK) is dropped. */
    sg_send(t, TH_FIN, P(1), 0, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
}

/* RFC 9293 §3.5 figure 8: a SYN in SYN-SENT (simultaneous open) is answered by a SYN-ACK for
   our own ISS; the peer's SYN-ACK then completes the handshake on both sides. */
static void test_simultaneous_open(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    t->ts_on = true;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    CHECK(t->last->opt.has_mss);
    CHECK(t->last->opt.has_ts);
    CHECK_EQ(t->last->opt.tsecr, SG_PEER_TS);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_RECEIVED);
    CHECK_EQ(t->ev.established, 0);
    /* Figure 8 line 6: the peer's SYN-ACK acknowledges our SYN. */
    o.tsecr = t->ts_ecr;
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), t->win, NULL, 0, &o);
    CHECK_EQ(t->ev.established, 1);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
    EXPECT_NOTHING(t); /* our SYN-ACK already acknowledged the peer's SYN */
    /* Data flows both ways. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK(sg_stream_is_pat(t, 10));
    CHECK_EQ(efvitcp_send(t->conn, "abc", 3, false), 3);
    /* The right edge stays put: it moves only by at least one MSS (RFC 9293 §3.8.6.2.2). */
    EXPECT_WL(t, TH_ACK | TH_PSH, S(1), P(11), 16384 - 10, 3);
}

/* Simultaneous open completed by a plain ACK (the peer took our SYN-ACK first). */
static void test_simultaneous_open_plain_ack(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    t->ts_on = true;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.established, 1);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

/* connect() to an unknown neighbour: WAIT_ARP sends an ARP request; the reply lets the SYN go. */
static void test_wait_arp_then_syn(void)
{
    sg *t = sg_client_no_arp(NULL);
    t->arp_auto = false;
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn));
    EXPECT_NOTHING(t);
    CHECK_EQ(t->arp_requests, 1);
    CHECK_EQ(sg_state(t), EFVITCP_WAIT_ARP);
    t->arp_auto = true;
    /* The request is retried after initial_rto (1 s); this time the peer answers. */
    uint64_t at = sg_run_until_output(t, 2 * SG_SEC);
    CHECK_TIME(at, 2 * SG_SEC);
    EXPECT(t, TH_SYN, SG_ANY, 0);
    CHECK_EQ(t->arp_requests, 2);
    CHECK_EQ(sg_state(t), EFVITCP_SYN_SENT);
}

/* WAIT_ARP gives up after syn_retries unanswered requests: on_timeout, no TCP segment. */
static void test_wait_arp_timeout(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.syn_retries = 2;
    sg *t = sg_client_no_arp(&cfg);
    t->arp_auto = false;
    REQUIRE(!efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn));
    sg_advance(t, 10 * SG_SEC);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->arp_requests, 3);
    CHECK_EQ(t->ev.timeout, 1);
    CHECK(efvitcp_is_closed(t->conn));
}

/* connect() argument checks. */
static void test_connect_errors(void)
{
    sg *t = sg_client(NULL);
    efvitcp_conn *c = (efvitcp_conn *)1;
    CHECK(efvitcp_client_connect(t->cli, "not an ip", 80, 0, &c) != NULL);
    CHECK(c == NULL);
    CHECK(efvitcp_client_connect(t->cli, SG_PEER_IP, 0, 0, &c) != NULL);
    CHECK(efvitcp_client_connect(t->cli, "224.0.0.1", 80, 0, &c) != NULL);
    CHECK(efvitcp_client_connect(t->cli, SG_STACK_IP, 80, 0, &c) != NULL);
    CHECK(efvitcp_client_connect(t->cli, "10.0.0.1", 80, 0, &c) != NULL); /* no gateway */
    REQUIRE(sg_syn_sent(t));
    /* The same 4-tuple cannot be opened twice. */
    CHECK(efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &c) != NULL);
    EXPECT_NOTHING(t);
}

/* RFC 9293 §3.10.7.3: text on a SYN-ACK is not taken in SYN-SENT (nothing reaches the user before
   ESTABLISHED); the ACK covers only the SYN and the peer sends the text again. */
static void test_synack_with_data(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    o.tsecr = t->syn.opt.tsval;
    t->ts_on = true;
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), t->win, NULL, 30, &o);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.established, 1);
    CHECK_EQ(t->ev.data, 0);
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 30);
    EXPECT(t, TH_ACK, S(1), P(31));
    CHECK(sg_stream_is_pat(t, 30));
}

/* RFC 7323 §1.3: a SYN-ACK without WS/TS turns both off even though we offered them. */
static void test_active_open_peer_without_options(void)
{
    sg *t = sg_client(NULL);
    sg_opts o = {.has_mss = true, .mss = 1000};
    REQUIRE(sg_established_active(t, &o));
    CHECK(!t->last->opt.has_ts);
    efvitcp_conn_stats cs;
    sg_conn_stats(t, &cs);
    CHECK_EQ(cs.mss, 1000);
    /* Our windows are no longer scaled either: the buffer (16 KiB) as is. */
    sg_send(t, TH_ACK | TH_PSH, P(1), S(1), NULL, 10);
    EXPECT_WL(t, TH_ACK, S(1), P(11), 16384 - 10, 0);
    CHECK(!t->last->opt.has_ts);
}

/* RFC 9293 §3.10.7.4 second check: a RST in SYN-RECEIVED that came from an active open (the
   simultaneous-open path) means the connection was refused. */
static void test_simultaneous_open_then_rst_refused(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_syn_sent(t));
    sg_opts o = sg_syn_opts(t);
    t->ts_on = true;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, &o);
    EXPECT(t, TH_SYN | TH_ACK, S(0), P(1));
    sg_send(t, TH_RST, P(1), 0, NULL, 0);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.refused, 1);
    CHECK_EQ(sg_state(t), EFVITCP_CLOSED);
}

/* RFC 9293 §3.10.7.4 fifth check: a segment without ACK in a synchronised state is dropped,
   text included; URG is accepted and ignored (RFC 6093), never a crash. */
static void test_no_ack_dropped_urg_ignored(void)
{
    sg *t = sg_server(NULL);
    REQUIRE(sg_established(t));
    sg_send(t, TH_FIN | TH_PSH, P(1), 0, NULL, 5);
    EXPECT_NOTHING(t);
    CHECK_EQ(t->ev.fin, 0);
    uint8_t f[2048];
    sg_opts o = sg_def_opts(t);
    uint32_t n = sg_build(t, f, TH_ACK | TH_URG | TH_PSH, P(1), S(1), t->win, NULL, 10, &o);
    /* Urgent pointer far past the data: still harmless. Fix the checksum by rebuilding it. */
    uint8_t *tcp = f + ET_ETH_HLEN + ET_IP_HLEN;
    tcp[18] = 0xff;
    tcp[19] = 0xff;
    tcp[16] = tcp[17] = 0;
    uint32_t sn, dn;
    memcpy(&sn, f + ET_ETH_HLEN + 12, 4);
    memcpy(&dn, f + ET_ETH_HLEN + 16, 4);
    uint16_t tl = (uint16_t)(n - ET_ETH_HLEN - ET_IP_HLEN);
    uint16_t c = et_csum_finish(et_csum_add(et_csum_pseudo(sn, dn, ET_IPPROTO_TCP, tl), tcp, tl));
    memcpy(tcp + 16, &c, 2);
    sg_send_frame(t, f, n);
    EXPECT(t, TH_ACK, S(1), P(11));
    CHECK(sg_stream_is_pat(t, 10));
}

/* Our ACK of the SYN-ACK was lost: the peer's retransmitted SYN-ACK lies below RCV.NXT and is
   answered by the same ACK (RFC 9293 §3.10.7.4 first check), not by a reset. */
static void test_retransmitted_synack_reacked(void)
{
    sg *t = sg_client(NULL);
    REQUIRE(sg_established_active(t, NULL));
    sg_opts o = sg_syn_opts(t);
    o.tsecr = t->ts_ecr;
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), t->win, NULL, 0, &o);
    EXPECT(t, TH_ACK, S(1), P(1));
    CHECK_EQ(t->ev.established, 1);
    CHECK_EQ(t->ev.reset, 0);
    CHECK_EQ(sg_state(t), EFVITCP_ESTABLISHED);
}

int main(void)
{
    RUN(test_listen_syn_gets_synack_with_options);
    RUN(test_synack_echoes_only_offered_options);
    RUN(test_syn_mss_floor_and_cap);
    RUN(test_passive_open_establishes);
    RUN(test_syn_received_duplicate_syn_resends_synack);
    RUN(test_syn_received_bad_ack_gets_rst);
    RUN(test_syn_received_rst_back_to_listen);
    RUN(test_bad_flag_combinations_dropped);
    RUN(test_allow_false_refuses_with_rst);
    RUN(test_closed_port_rst_rules);
    RUN(test_listen_rst_ignored_ack_reset);
    RUN(test_syn_with_data_not_acked);
    RUN(test_listen_full_drops_syn);
    RUN(test_active_open);
    RUN(test_syn_sent_rst_ack_refused);
    RUN(test_syn_sent_unacceptable_rst_ignored);
    RUN(test_syn_sent_bad_ack_gets_rst);
    RUN(test_simultaneous_open);
    RUN(test_simultaneous_open_plain_ack);
    RUN(test_wait_arp_then_syn);
    RUN(test_wait_arp_timeout);
    RUN(test_connect_errors);
    RUN(test_synack_with_data);
    RUN(test_active_open_peer_without_options);
    RUN(test_simultaneous_open_then_rst_refused);
    RUN(test_no_ack_dropped_urg_ignored);
    RUN(test_retransmitted_synack_reacked);
    sg_cleanup();
    return th_summary();
}
