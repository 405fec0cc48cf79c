/*
 * Connection life end to end: every way a connection ends (half close, close from either side,
 * simultaneous close, abort, timeouts of data, SYN and ARP), user timers, admission limits
 * (allow_new_connection, max_conns on both sides, the TIME_WAIT table), many connections at
 * once, closing from inside every callback, and two rigs in one process. Each test counts the
 * callbacks exactly (a log of one letter per callback) and checks the counters.
 */
#include <arpa/inet.h>

#include "harness.h"
#include "sim.h"
#include "wire/wire_hooks.h"

#define US  1000ull
#define MS  1000000ull
#define SEC 1000000000ull

/* ---- a side of a connection: callback log, stream to send, stream to check ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint8_t pat(uint32_t stream, uint64_t off)
{
    return (uint8_t)(mix64(((off >> 3) << 8 | stream) + 0x9e3779b97f4a7c15ull) >> ((off & 7) * 8));
}

typedef struct side {
    efvitcp_conn *conn;
    char log[64]; /* one letter per callback: A E D F C R T X M U */
    uint32_t nlog;
    int allow, est, data, fin, closed, reset, timeout, refused, more, utimer;
    char close_in; /* the callback (letter) inside which this side aborts the connection */
    int closes;    /* efvitcp_conn_close() calls made from inside a callback */
    bool deny;     /* allow_new_connection answers no */
    struct sockaddr_in peer;
    uint16_t peer_lport;
    bool fin_on_fin;    /* answer the peer's FIN with ours */
    uint32_t rx_stream; /* pattern of the bytes this side receives */
    uint64_t rx;        /* bytes consumed */
    bool bad;           /* a received byte was wrong */
    uint32_t tx_stream;
    uint64_t tx_total, tx_off;
    bool fin_after_tx, fin_sent;
    uint64_t timer_at[16];
    uint32_t timer_id[16];
    uint32_t ntimer;
    uint32_t rearm_left; /* timer 0 re-arms itself this many times */
    uint64_t rearm_ms;
    efvitcp_conn_stats final; /* taken in the terminal callback */
    bool poke;                /* try send and send_fin inside the terminal callback */
    uint32_t poke_sent;
    const char *poke_fin;
    sim *s;
} side;

static void logc(side *d, char c)
{
    if (d->nlog + 1 < sizeof(d->log)) d->log[d->nlog++] = c;
    d->log[d->nlog] = 0;
}

static void pump(side *d)
{
    efvitcp_conn *c = d->conn;
    if (!c || d->fin_sent) return;
    uint8_t buf[4096];
    while (d->tx_off < d->tx_total) {
        uint32_t room = efvitcp_sendable(c);
        if (!room) break;
        uint64_t n = d->tx_total - d->tx_off;
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > room) n = room;
        for (uint32_t i = 0; i < n; i++) buf[i] = pat(d->tx_stream, d->tx_off + i);
        uint32_t acc = efvitcp_send(c, buf, (uint32_t)n, false);
        CHECK_EQ(acc, n);
        d->tx_off += acc;
        if (!acc) break;
    }
    if (d->fin_after_tx && d->tx_off == d->tx_total) {
        CHECK_NULL_ERR(efvitcp_send_fin(c));
        d->fin_sent = true;
    }
}

/* Aborts from inside the callback named by letter, if so configured. True if it did. */
static bool maybe_close(side *d, efvitcp_conn *c, char letter)
{
    if (d->close_in != letter) return false;
    efvitcp_conn_close(c);
    d->closes++;
    d->conn = NULL;
    return true;
}

static bool on_allow(void *ctx, const struct sockaddr_in *peer, uint16_t lport)
{
    side *d = ctx;
    logc(d, 'A');
    d->allow++;
    d->peer = *peer;
    d->peer_lport = lport;
    return !d->deny;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    side *d = ctx;
    logc(d, 'E');
    d->est++;
    d->conn = c;
    d->fin_sent = false; /* a side may serve several connections in turn */
    if (maybe_close(d, c, 'E')) return;
    pump(d);
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    side *d = ctx;
    if (!d->data) logc(d, 'D'); /* data calls depend on segmentation: logged once */
    d->data++;
    CHECK(c == d->conn);
    for (uint32_t i = 0; i < n && !d->bad; i++)
        if (p[i] != pat(d->rx_stream, d->rx + i)) {
            fprintf(stderr, "byte %llu wrong\n", (unsigned long long)(d->rx + i));
            d->bad = true;
            th_failures++;
        }
    d->rx += n;
    maybe_close(d, c, 'D');
    return 0;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    side *d = ctx;
    logc(d, 'F');
    d->fin++;
    CHECK_EQ(n, 0);
    if (maybe_close(d, c, 'F')) return;
    if (d->fin_on_fin && !d->fin_sent) {
        CHECK_NULL_ERR(efvitcp_send_fin(c));
        d->fin_sent = true;
    }
}

static void terminal(side *d, efvitcp_conn *c, char letter)
{
    logc(d, letter);
    efvitcp_conn_get_stats(c, &d->final);
    if (d->poke) {
        d->poke_sent = efvitcp_send(c, "zz", 2, false);
        d->poke_fin = efvitcp_send_fin(c);
    }
    if (d->conn == c) d->conn = NULL;
    maybe_close(d, c, letter);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->closed++;
    terminal(ctx, c, 'C');
}
static void on_reset(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->reset++;
    terminal(ctx, c, 'R');
}
static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->timeout++;
    terminal(ctx, c, 'T');
}
static void on_refused(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->refused++;
    terminal(ctx, c, 'X');
}

static void on_more(void *ctx, efvitcp_conn *c)
{
    side *d = ctx;
    if (!d->more) logc(d, 'M'); /* depends on ACK pacing: logged once */
    d->more++;
    if (maybe_close(d, c, 'M')) return;
    pump(d);
}

static void on_utimer(void *ctx, efvitcp_conn *c, uint32_t id)
{
    side *d = ctx;
    logc(d, 'U');
    if (d->ntimer < 16) {
        d->timer_id[d->ntimer] = id;
        d->timer_at[d->ntimer] = sim_now(d->s);
        d->ntimer++;
    }
    d->utimer++;
    if (maybe_close(d, c, 'U')) return;
    if (id == 0 && d->rearm_left) {
        d->rearm_left--;
        CHECK_NULL_ERR(efvitcp_set_user_timer(c, 0, d->rearm_ms));
    }
}

static void set_handlers(efvitcp_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->allow_new_connection = on_allow;
    h->on_established = on_est;
    h->on_data = on_data;
    h->on_fin = on_fin;
    h->on_closed = on_closed;
    h->on_reset = on_reset;
    h->on_timeout = on_timeout;
    h->on_connection_refused = on_refused;
    h->on_more_sendable = on_more;
    h->on_user_timeout = on_utimer;
}

/* A rig with a client side C and a server side S whose handlers log everything. */
typedef struct pair {
    sim s;
    side C, S;
} pair;

static void pair_after_poll(void *arg)
{
    pair *p = arg;
    pump(&p->C);
    pump(&p->S);
}

static const char *pair_init(pair *p, const efvitcp_wire_config *wc, const efvitcp_config *sc,
                             const efvitcp_config *cc, uint16_t port)
{
    memset(p, 0, sizeof(*p));
    const char *err = sim_init(&p->s, wc, sc, cc, port);
    if (err) return err;
    set_handlers(&p->s.sh);
    set_handlers(&p->s.ch);
    p->s.sctx = &p->S;
    p->s.cctx = &p->C;
    p->C.s = p->S.s = &p->s;
    p->C.rx_stream = 1; /* the server sends stream 1, the client stream 0 */
    p->S.tx_stream = 1;
    p->s.after_poll = pair_after_poll;
    p->s.after_poll_arg = p;
    return NULL;
}

static void default_wire(efvitcp_wire_config *wc)
{
    efvitcp_wire_config_default(wc);
    wc->latency_ns = 10 * US;
    wc->max_frames = 4096;
}

static bool both_established(void *a)
{
    pair *p = a;
    return p->C.est && p->S.est;
}
static bool both_terminal(void *a)
{
    pair *p = a;
    return p->C.closed + p->C.reset + p->C.timeout + p->C.refused + p->C.closes &&
           p->S.closed + p->S.reset + p->S.timeout + p->S.closes;
}

/* Connects and runs the handshake; the conns are then in p->C.conn and p->S.conn. */
static bool pair_connect(pair *p, uint16_t port)
{
    efvitcp_conn *c = NULL;
    const char *err = efvitcp_client_connect(p->s.cli, SIM_SERVER_IP, port, 0, &c);
    if (err) {
        fprintf(stderr, "connect: %s\n", err);
        return false;
    }
    p->C.conn = c;
    return sim_run(&p->s, SEC, both_established, p) && p->C.conn && p->S.conn;
}

static void stats_of(pair *p, efvitcp_stats *c, efvitcp_stats *s)
{
    efvitcp_client_stats(p->s.cli, c);
    efvitcp_server_stats(p->s.srv, s);
}

/* ------------------------------------------------------------------------------------------ */
/* Closing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The client closes its direction first; the server keeps sending 200 KB, then closes. */
static void test_half_close(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    REQUIRE(pair_connect(&p, 5000));
    efvitcp_conn *cc = p.C.conn, *sc = p.S.conn;
    CHECK_NULL_ERR(efvitcp_send_fin(cc));
    CHECK(efvitcp_send_fin(cc) != NULL); /* only once */
    CHECK_EQ(efvitcp_send(cc, "x", 1, false), 0);
    CHECK_EQ(efvitcp_sendable(cc), 0);
    sim_run_for(&p.s, 5 * MS);
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(cc, &st);
    CHECK_EQ(st.state, EFVITCP_FIN_WAIT_2);
    efvitcp_conn_get_stats(sc, &st);
    CHECK_EQ(st.state, EFVITCP_CLOSE_WAIT);
    CHECK_EQ(p.S.fin, 1);
    CHECK(efvitcp_is_established(cc) && efvitcp_is_established(sc));
    /* the server may still send, and does */
    p.S.tx_total = 200000;
    p.S.fin_after_tx = true;
    pump(&p.S);
    REQUIRE(sim_run(&p.s, 10 * SEC, both_terminal, &p));
    CHECK_EQ(p.C.rx, 200000);
    CHECK(!p.C.bad);
    CHECK(strcmp(p.C.log, "EDFC") == 0);
    CHECK(strcmp(p.S.log, "AEFMC") == 0 || strcmp(p.S.log, "AEFC") == 0);
    CHECK_EQ(p.C.final.bytes_in, 200000);
    CHECK_EQ(p.S.final.bytes_out, 200000);
    efvitcp_stats c, s;
    stats_of(&p, &c, &s);
    CHECK_EQ(c.conns_closed, 1);
    CHECK_EQ(s.conns_closed, 1);
    CHECK_EQ(c.time_wait_active, 1); /* the client closed first */
    CHECK_EQ(s.time_wait_active, 0);
    CHECK_EQ(c.conns_active + s.conns_active, 0);
    CHECK_EQ(c.rst_sent + s.rst_sent + c.conns_reset + s.conns_reset, 0);
    sim_free(&p.s);
}

/* The server closes first: it holds TIME_WAIT, and it expires after time_wait_ms. */
static void test_close_from_server(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config sc;
    sim_default_config(&sc, 1);
    sc.time_wait_ms = 2000;
    CHECK_NULL_ERR(pair_init(&p, &wc, &sc, NULL, 5000));
    REQUIRE(pair_connect(&p, 5000));
    p.C.fin_on_fin = true;
    p.S.tx_total = 3000;
    p.S.fin_after_tx = true;
    pump(&p.S);
    REQUIRE(sim_run(&p.s, SEC, both_terminal, &p));
    CHECK(strcmp(p.C.log, "EDFC") == 0);
    CHECK(strcmp(p.S.log, "AEFC") == 0);
    CHECK_EQ(p.C.rx, 3000);
    efvitcp_stats c, s;
    stats_of(&p, &c, &s);
    CHECK_EQ(s.time_wait_active, 1);
    CHECK_EQ(c.time_wait_active, 0);
    /* TIME_WAIT lasts 2 s from entering it (a few us before on_closed of the client) */
    sim_run_for(&p.s, 2 * SEC - 100 * US);
    efvitcp_server_stats(p.s.srv, &s);
    CHECK_EQ(s.time_wait_active, 1);
    sim_run_for(&p.s, 200 * US);
    efvitcp_server_stats(p.s.srv, &s);
    CHECK_EQ(s.time_wait_active, 0);
    sim_free(&p.s);
}

/* Both send FIN between the same two polls: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides. */
static void test_simultaneous_close(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    REQUIRE(pair_connect(&p, 5000));
    efvitcp_conn *cc = p.C.conn, *sc = p.S.conn;
    CHECK_NULL_ERR(efvitcp_send_fin(cc));
    CHECK_NULL_ERR(efvitcp_send_fin(sc));
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(cc, &st);
    CHECK_EQ(st.state, EFVITCP_FIN_WAIT_1);
    REQUIRE(sim_run(&p.s, SEC, both_terminal, &p));
    CHECK(strcmp(p.C.log, "EFC") == 0);
    CHECK(strcmp(p.S.log, "AEFC") == 0);
    efvitcp_stats c, s;
    stats_of(&p, &c, &s);
    CHECK_EQ(c.time_wait_active, 1);
    CHECK_EQ(s.time_wait_active, 1);
    CHECK_EQ(c.conns_closed, 1);
    CHECK_EQ(s.conns_closed, 1);
    CHECK_EQ(c.rst_sent + s.rst_sent, 0);
    /* FIN + ACK of the handshake + FIN: no retransmission was needed */
    CHECK_EQ(c.retransmits + s.retransmits, 0);
    sim_free(&p.s);
}

/* efvitcp_conn_close() sends a RST: the peer gets on_reset; the closer gets no callback. */
static void test_abort_each_side(void)
{
    for (int who = 0; who < 2; who++) {
        static pair p;
        efvitcp_wire_config wc;
        default_wire(&wc);
        CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
        REQUIRE(pair_connect(&p, 5000));
        side *closer = who ? &p.S : &p.C, *peer = who ? &p.C : &p.S;
        efvitcp_conn *conn = closer->conn;
        efvitcp_conn_close(conn);
        CHECK(efvitcp_is_closed(conn));
        efvitcp_conn_close(conn); /* twice is harmless */
        sim_run_for(&p.s, 10 * MS);
        CHECK(strcmp(closer->log, who ? "AE" : "E") == 0);
        CHECK(strcmp(peer->log, who ? "ER" : "AER") == 0);
        CHECK(peer->conn == NULL);
        efvitcp_stats c, s;
        stats_of(&p, &c, &s);
        efvitcp_stats *cl = who ? &s : &c, *pe = who ? &c : &s;
        CHECK_EQ(cl->rst_sent, 1);
        CHECK_EQ(pe->conns_reset, 1);
        CHECK_EQ(pe->rst_sent, 0);
        CHECK_EQ(c.conns_active + s.conns_active, 0);
        CHECK_EQ(c.time_wait_active + s.time_wait_active, 0);
        sim_free(&p.s);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Timeouts                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static bool client_terminal(void *a)
{
    pair *p = a;
    return p->C.closed + p->C.reset + p->C.timeout + p->C.refused;
}

/* The wire is cut after the handshake: the data is retransmitted data_retries times with
   back-off, then on_timeout. When the wire heals, the server's next segment meets no
   connection and is answered with a RST. */
static void test_data_timeout_on_cut_wire(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.data_retries = 4;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    REQUIRE(pair_connect(&p, 5000));
    sim_set_drop(&p.s, sim_drop_all, NULL);
    uint64_t t0 = sim_now(&p.s);
    CHECK_EQ(efvitcp_send(p.C.conn, "hello", 5, false), 5);
    REQUIRE(sim_run(&p.s, 10 * SEC, client_terminal, &p));
    /* RACK-TLP (the default) probes first: PTO = 2 * SRTT + the delayed ACK (1 ms), capped at
       the RTO (RFC 8985 §7.2), a second probe at twice that and a third at twice that again,
       which still comes before the RTO after the second (after_probe). Then the RTO, at that
       time, 5 ms (min_rto over a 20 us RTT) doubled 4 times: about 1.04 + 2.08 + 5+10+20+40+80
       ms; three probes and 4 retransmissions. */
    uint64_t dt = sim_now(&p.s) - t0;
    CHECK(dt >= 158 * MS && dt < 158 * MS + 200 * US);
    CHECK(strcmp(p.C.log, "ET") == 0);
    CHECK_EQ(p.C.final.retransmits, 7);
    CHECK_EQ(p.C.final.tlp_probes, 3);
    CHECK_EQ(p.C.final.unacked, 5);
    efvitcp_stats c, s;
    stats_of(&p, &c, &s);
    CHECK_EQ(c.rto_events, 4);
    CHECK_EQ(c.conns_timeout, 1);
    CHECK_EQ(c.rst_sent, 1); /* lost on the cut wire */
    CHECK_EQ(c.conns_active, 0);
    CHECK_EQ(p.s.dropped, 9); /* the data, three probes, 4 retransmissions, the RST */
    et_wire_stats ws;
    et_wire_get_stats(p.s.wire, &ws);
    CHECK_EQ(ws.drop_unknown, 9); /* the wire itself discarded them */
    /* heal: the server still believes in the connection */
    sim_set_drop(&p.s, NULL, NULL);
    CHECK_EQ(s.conns_active, 1);
    CHECK_EQ(efvitcp_send(p.S.conn, "late", 4, false), 4);
    sim_run_for(&p.s, 10 * MS);
    CHECK(strcmp(p.S.log, "AER") == 0);
    stats_of(&p, &c, &s);
    CHECK_EQ(c.drops[EFVITCP_DROP_NO_CONN], 1);
    CHECK_EQ(c.rst_sent, 2);
    CHECK_EQ(s.conns_reset, 1);
    CHECK_EQ(s.conns_active, 0);
    sim_free(&p.s);
}

/* A host that answers ARP but never TCP: the SYN goes 1 + syn_retries times, with back-off
   from initial_rto (1 s), then on_timeout. No RST: the peer never synchronised. */
static void test_syn_timeout_silent_host(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.syn_retries = 3;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    sim_host *h = NULL;
    CHECK_NULL_ERR(sim_add_host(&p.s, "198.18.0.9", true, &h));
    REQUIRE(h);
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, "198.18.0.9", 80, 0, &c));
    REQUIRE(c);
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(c, &st);
    CHECK_EQ(st.state, EFVITCP_WAIT_ARP);
    sim_run_for(&p.s, 100 * US);
    efvitcp_conn_get_stats(c, &st);
    CHECK_EQ(st.state, EFVITCP_SYN_SENT);
    uint64_t t0 = sim_now(&p.s);
    REQUIRE(sim_run(&p.s, 100 * SEC, client_terminal, &p));
    uint64_t dt = sim_now(&p.s) - t0;
    /* SYN at ARP resolution (~20 us), then 1 + 2 + 4 s, giving up 8 s later: 15 s */
    CHECK(dt >= 15 * SEC - 100 * US && dt < 15 * SEC);
    CHECK(strcmp(p.C.log, "T") == 0);
    CHECK_EQ(h->syns, 4);
    CHECK_EQ(h->tcp_frames, 4);
    CHECK_EQ(h->arp_requests, 1);
    efvitcp_stats cs;
    efvitcp_client_stats(p.s.cli, &cs);
    CHECK_EQ(cs.rto_events, 3);
    CHECK_EQ(cs.retransmits, 3);
    CHECK_EQ(cs.conns_timeout, 1);
    CHECK_EQ(cs.rst_sent, 0);
    CHECK_EQ(cs.conns_opened, 1);
    CHECK_EQ(cs.conns_active, 0);
    CHECK(efvitcp_is_closed(c));
    sim_free(&p.s);
}

/* Nobody answers ARP for the address: requests are retried syn_retries times, then
   on_timeout; no SYN ever leaves. */
static void test_arp_timeout(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.syn_retries = 3;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    sim_host *h = NULL;
    CHECK_NULL_ERR(sim_add_host(&p.s, "198.18.0.77", false, &h));
    REQUIRE(h);
    efvitcp_conn *c = NULL;
    uint64_t t0 = sim_now(&p.s);
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, "198.18.0.77", 80, 0, &c));
    REQUIRE(c);
    REQUIRE(sim_run(&p.s, 100 * SEC, client_terminal, &p));
    uint64_t dt = sim_now(&p.s) - t0;
    CHECK(dt >= 15 * SEC && dt < 15 * SEC + 10 * US); /* 1 + 2 + 4 + 8 s */
    CHECK(strcmp(p.C.log, "T") == 0);
    CHECK_EQ(h->arp_requests, 4);
    CHECK_EQ(h->tcp_frames, 0);
    efvitcp_stats cs;
    efvitcp_client_stats(p.s.cli, &cs);
    CHECK_EQ(cs.arp_requests_sent, 4);
    CHECK_EQ(cs.segs_out, 0);
    CHECK_EQ(cs.conns_timeout, 1);
    CHECK_EQ(cs.conns_active, 0);
    /* the server saw the broadcasts and learnt nothing from them */
    efvitcp_stats ss;
    efvitcp_server_stats(p.s.srv, &ss);
    CHECK_EQ(ss.frames_in, 4);
    CHECK_EQ(ss.arp_replies_sent, 0);
    sim_free(&p.s);
}

/* ------------------------------------------------------------------------------------------ */
/* User timers                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void test_user_timers(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    REQUIRE(pair_connect(&p, 5000));
    efvitcp_conn *c = p.C.conn;
    CHECK(efvitcp_set_user_timer(c, 4, 10) != NULL); /* user_timers is 4 */
    CHECK(efvitcp_set_user_timer_ns(c, 99, 10) != NULL);
    uint64_t t0 = sim_now(&p.s);
    /* 0: 10 ms, re-armed from its callback twice (10 ms each); 1: three days; 2: armed for
       1 s, then replaced by 500 us; 3: armed and cancelled (both ways). */
    p.C.rearm_left = 2;
    p.C.rearm_ms = 10;
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 0, 10));
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 1, 3ull * 24 * 3600 * 1000));
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 2, 1000));
    CHECK_NULL_ERR(efvitcp_set_user_timer_ns(c, 2, 500 * US));
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 3, 5));
    efvitcp_cancel_user_timer(c, 3);
    efvitcp_cancel_user_timer(c, 3);                        /* not armed: no effect */
    efvitcp_cancel_user_timer(c, 77);                       /* out of range: no effect */
    CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 3, 7)); /* the server's timer 3 */
    CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 0, 20));
    CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 0, 0)); /* 0 cancels */
    sim_run_for(&p.s, 100 * MS);
    REQUIRE(p.C.ntimer == 4);
    CHECK_EQ(p.C.timer_id[0], 2);
    CHECK_EQ(p.C.timer_id[1], 0);
    CHECK_EQ(p.C.timer_id[2], 0);
    CHECK_EQ(p.C.timer_id[3], 0);
    /* each fires at its time rounded up to the wheel's 1024 ns tick, never early */
    uint64_t want[4] = {t0 + 500 * US, t0 + 10 * MS, 0, 0};
    for (int i = 0; i < 2; i++)
        CHECK(p.C.timer_at[i] >= want[i] && p.C.timer_at[i] < want[i] + 1024);
    CHECK(p.C.timer_at[2] >= p.C.timer_at[1] + 10 * MS &&
          p.C.timer_at[2] < p.C.timer_at[1] + 10 * MS + 1024);
    CHECK(p.C.timer_at[3] >= p.C.timer_at[2] + 10 * MS &&
          p.C.timer_at[3] < p.C.timer_at[2] + 10 * MS + 1024);
    REQUIRE(p.S.ntimer == 1);
    CHECK_EQ(p.S.timer_id[0], 3);
    CHECK(p.S.timer_at[0] >= t0 + 7 * MS && p.S.timer_at[0] < t0 + 7 * MS + 1024);
    /* three days: not a tick early, and on time */
    uint64_t three_days = 3ull * 24 * 3600 * SEC;
    sim_run_for(&p.s, t0 + three_days - 2 * US - sim_now(&p.s));
    CHECK_EQ(p.C.ntimer, 4);
    sim_run_for(&p.s, 10 * MS);
    REQUIRE(p.C.ntimer == 5);
    CHECK_EQ(p.C.timer_id[4], 1);
    CHECK(p.C.timer_at[4] >= t0 + three_days && p.C.timer_at[4] < t0 + three_days + 1024);
    CHECK(strcmp(p.C.log, "EUUUUU") == 0);
    CHECK(strcmp(p.S.log, "AEU") == 0);
    CHECK(efvitcp_is_established(p.C.conn)); /* 3 idle days do not end a connection */
    /* a closed connection's timers never fire, and cannot be armed */
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 1, 1));
    CHECK_NULL_ERR(efvitcp_set_user_timer(c, 2, 2));
    efvitcp_conn_close(c);
    CHECK(efvitcp_set_user_timer(c, 1, 1) != NULL);
    sim_run_for(&p.s, 10 * MS);
    CHECK_EQ(p.C.ntimer, 5);
    CHECK(strcmp(p.S.log, "AEUR") == 0);
    sim_free(&p.s);
}

/* ------------------------------------------------------------------------------------------ */
/* Admission                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void test_refused_no_listener(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5001, 0, &c));
    REQUIRE(sim_run(&p.s, SEC, client_terminal, &p));
    CHECK(strcmp(p.C.log, "X") == 0);
    CHECK(strcmp(p.S.log, "") == 0);
    CHECK(efvitcp_is_closed(c));
    efvitcp_stats cs, ss;
    stats_of(&p, &cs, &ss);
    CHECK_EQ(cs.conns_refused, 1);
    CHECK_EQ(cs.conns_active, 0);
    CHECK_EQ(ss.drops[EFVITCP_DROP_NO_CONN], 1);
    CHECK_EQ(ss.rst_sent, 1);
    CHECK_EQ(ss.conns_active, 0);
    sim_free(&p.s);
}

static void test_allow_new_connection_says_no(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    p.S.deny = true;
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 40001, &c));
    REQUIRE(sim_run(&p.s, SEC, client_terminal, &p));
    CHECK(strcmp(p.C.log, "X") == 0);
    CHECK(strcmp(p.S.log, "A") == 0);
    CHECK_EQ(ntohs(p.S.peer.sin_port), 40001);
    CHECK_EQ(p.S.peer.sin_addr.s_addr, inet_addr(SIM_CLIENT_IP));
    CHECK_EQ(p.S.peer.sin_family, AF_INET);
    CHECK_EQ(p.S.peer_lport, 5000);
    efvitcp_stats cs, ss;
    stats_of(&p, &cs, &ss);
    CHECK_EQ(ss.drops[EFVITCP_DROP_REFUSED], 1);
    CHECK_EQ(ss.rst_sent, 1);
    CHECK_EQ(ss.conns_active, 0);
    CHECK_EQ(ss.conns_accepted, 0);
    CHECK_EQ(cs.conns_refused, 1);
    /* the same tuple again, now allowed */
    p.S.deny = false;
    p.C.nlog = p.S.nlog = 0;
    p.C.log[0] = p.S.log[0] = 0;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 40001, &c));
    p.C.conn = c;
    CHECK(sim_run(&p.s, SEC, both_established, &p));
    CHECK(strcmp(p.C.log, "E") == 0);
    CHECK(strcmp(p.S.log, "AE") == 0);
    CHECK_EQ(p.S.allow, 2);
    efvitcp_server_stats(p.s.srv, &ss);
    CHECK_EQ(ss.conns_accepted, 1);
    CHECK_EQ(ss.drops[EFVITCP_DROP_REFUSED], 1);
    sim_free(&p.s);
}

typedef struct multi {
    sim s;
    side C[8], S; /* S counts for every server connection */
    efvitcp_conn *cc[8];
} multi;

/* The server's max_conns is reached: further SYNs are dropped silently (the client retries);
   once a connection ends, the next retransmitted SYN gets in. Without SYN cookies: with them
   the third SYN gets one (test_server_max_conns_cookie). */
static void test_server_max_conns(void)
{
    static multi m;
    memset(&m, 0, sizeof(m));
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config sc;
    sim_default_config(&sc, 1);
    sc.max_conns = 2;
    sc.syn_cookies = EFVITCP_SYN_COOKIES_OFF;
    CHECK_NULL_ERR(sim_init(&m.s, &wc, &sc, NULL, 5000));
    set_handlers(&m.s.sh);
    m.s.sctx = &m.S;
    m.S.fin_on_fin = true;
    /* one client handler context per connection is not possible (one ctx per instance): the
       client side logs into C[0] and tells connections apart by pointer */
    set_handlers(&m.s.ch);
    m.s.cctx = &m.C[0];
    m.C[0].s = m.S.s = &m.s;
    for (int i = 0; i < 3; i++)
        CHECK_NULL_ERR(efvitcp_client_connect(m.s.cli, SIM_SERVER_IP, 5000, 0, &m.cc[i]));
    sim_run_for(&m.s, 100 * MS);
    CHECK_EQ(m.C[0].est, 2);
    CHECK_EQ(m.S.est, 2);
    CHECK_EQ(efvitcp_server_conn_count(m.s.srv), 2);
    efvitcp_stats ss, cs;
    efvitcp_server_stats(m.s.srv, &ss);
    CHECK_EQ(ss.drops[EFVITCP_DROP_LISTEN_FULL], 1);
    CHECK_EQ(ss.rst_sent, 0);
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(m.cc[2], &st);
    CHECK_EQ(st.state, EFVITCP_SYN_SENT);
    /* the client ends its first connection; the server answers the FIN with its own and the
       slot is free when the last ACK arrives */
    CHECK_NULL_ERR(efvitcp_send_fin(m.cc[0]));
    sim_run_for(&m.s, 10 * MS);
    CHECK_EQ(m.C[0].closed, 1);
    CHECK_EQ(m.S.closed, 1);
    CHECK_EQ(efvitcp_server_conn_count(m.s.srv), 1);
    /* the third SYN is retransmitted 1 s (initial RTO) after the first and now gets in */
    sim_run_for(&m.s, SEC);
    CHECK_EQ(m.C[0].est, 3);
    CHECK_EQ(m.S.est, 3);
    CHECK(efvitcp_is_established(m.cc[2]));
    efvitcp_server_stats(m.s.srv, &ss);
    efvitcp_client_stats(m.s.cli, &cs);
    CHECK_EQ(ss.drops[EFVITCP_DROP_LISTEN_FULL], 1);
    CHECK_EQ(ss.conns_accepted, 3);
    CHECK_EQ(cs.rto_events, 1);
    CHECK_EQ(cs.retransmits, 1);
    CHECK(strcmp(m.C[0].log, "EEFCE") == 0);
    CHECK(strcmp(m.S.log, "AAEEFCAE") == 0); /* both SYNs before either final ACK */
    sim_free(&m.s);
}

/* The same with SYN cookies (the default): the third SYN finds both slots half-open and gets a
   cookie; its ACK arrives after both connections completed and finds no slot (dropped, as Linux
   with a full accept queue). The client believes it is connected; its data goes again until a
   slot is free, and that segment, still carrying the cookie's ACK, recreates the connection. */
static void test_server_max_conns_cookie(void)
{
    static multi m;
    memset(&m, 0, sizeof(m));
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config sc;
    sim_default_config(&sc, 1);
    sc.max_conns = 2;
    CHECK_NULL_ERR(sim_init(&m.s, &wc, &sc, NULL, 5000));
    set_handlers(&m.s.sh);
    m.s.sctx = &m.S;
    m.S.fin_on_fin = true;
    set_handlers(&m.s.ch);
    m.s.cctx = &m.C[0];
    m.C[0].s = m.S.s = &m.s;
    for (int i = 0; i < 3; i++)
        CHECK_NULL_ERR(efvitcp_client_connect(m.s.cli, SIM_SERVER_IP, 5000, 0, &m.cc[i]));
    sim_run_for(&m.s, 100 * MS);
    CHECK_EQ(m.C[0].est, 3);
    CHECK_EQ(m.S.est, 2);
    efvitcp_stats ss;
    efvitcp_server_stats(m.s.srv, &ss);
    CHECK_EQ(ss.syn_cookies_sent, 1);
    CHECK_EQ(ss.drops[EFVITCP_DROP_LISTEN_FULL], 1);
    CHECK_EQ(ss.rst_sent, 0);
    uint8_t b = pat(m.S.rx_stream, 0);
    CHECK_EQ(efvitcp_send(m.cc[2], &b, 1, false), 1);
    sim_run_for(&m.s, 100 * MS);
    CHECK_EQ(m.S.est, 2);
    CHECK_NULL_ERR(efvitcp_send_fin(m.cc[0]));
    sim_run_for(&m.s, 2 * SEC);
    CHECK_EQ(m.S.closed, 1);
    CHECK_EQ(m.S.est, 3);
    CHECK_EQ(m.S.rx, 1);
    efvitcp_server_stats(m.s.srv, &ss);
    CHECK_EQ(ss.syn_cookies_accepted, 1);
    CHECK_EQ(ss.conns_accepted, 3);
    CHECK_EQ(efvitcp_server_conn_count(m.s.srv), 2);
    sim_free(&m.s);
}

/* The client's max_conns is reached: connect fails with an error; TIME_WAIT does not count. */
static void test_client_max_conns(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.max_conns = 2;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    efvitcp_conn *c[3] = {NULL, NULL, NULL};
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c[0]));
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c[1]));
    c[2] = (efvitcp_conn *)&c; /* must be overwritten with NULL */
    const char *err = efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c[2]);
    CHECK(err != NULL && strstr(err, "max_conns") != NULL);
    CHECK(c[2] == NULL);
    sim_run_for(&p.s, 10 * MS);
    CHECK_EQ(p.C.est, 2);
    p.S.fin_on_fin = true;
    CHECK_NULL_ERR(efvitcp_send_fin(c[0]));
    sim_run_for(&p.s, 10 * MS);
    efvitcp_stats cs;
    efvitcp_client_stats(p.s.cli, &cs);
    CHECK_EQ(cs.conns_active, 1);
    CHECK_EQ(cs.time_wait_active, 1);
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c[2]));
    CHECK(c[2] != NULL);
    sim_run_for(&p.s, 10 * MS);
    CHECK_EQ(p.C.est, 3);
    CHECK(strcmp(p.C.log, "EEFCE") == 0);
    sim_free(&p.s);
}

/* max_time_wait records: the oldest one is evicted (counted) to make room; its tuple is free
   again while the others are still held. */
static void test_time_wait_table_full(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.max_time_wait = 3;
    cc.time_wait_ms = 1000;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    p.S.fin_on_fin = true;
    for (int i = 0; i < 5; i++) {
        efvitcp_conn *c = NULL;
        CHECK_NULL_ERR(
            efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, (uint16_t)(41000 + i), &c));
        sim_run_for(&p.s, MS);
        REQUIRE(c && efvitcp_is_established(c));
        CHECK_NULL_ERR(efvitcp_send_fin(c));
        sim_run_for(&p.s, MS);
        CHECK_EQ(p.C.closed, i + 1);
        efvitcp_stats cs;
        efvitcp_client_stats(p.s.cli, &cs);
        CHECK_EQ(cs.time_wait_active, i < 3 ? i + 1 : 3);
        CHECK_EQ(cs.time_wait_evicted, i < 3 ? 0 : i - 2);
    }
    /* 41000 and 41001 were evicted; 41002..41004 are in TIME_WAIT */
    efvitcp_conn *c = NULL;
    const char *err = efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 41002, &c);
    CHECK(err != NULL && strstr(err, "in use") != NULL);
    err = efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 41004, &c);
    CHECK(err != NULL);
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 41000, &c));
    sim_run_for(&p.s, MS);
    CHECK(c && efvitcp_is_established(c));
    efvitcp_conn_close(c);
    /* after time_wait_ms every record is gone */
    sim_run_for(&p.s, SEC);
    efvitcp_stats cs;
    efvitcp_client_stats(p.s.cli, &cs);
    CHECK_EQ(cs.time_wait_active, 0);
    CHECK_EQ(cs.time_wait_evicted, 2);
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 41004, &c));
    sim_free(&p.s);
}

/* ------------------------------------------------------------------------------------------ */
/* Many connections                                                                           */
/* ------------------------------------------------------------------------------------------ */

#define NCONN 50

typedef struct echo_conn {
    uint32_t idx; /* client: which connection; server: unused */
    uint64_t got; /* bytes received */
    bool bad, fin_sent;
    int est, fin, closed, other;
} echo_conn;

typedef struct many {
    sim s;
    efvitcp_conn *cc[NCONN];
    uint32_t len[NCONN];
    int srv_est[2]; /* per listening port */
    int cli_closed, srv_closed, others;
} many;

static uint32_t msg_len(uint32_t i)
{
    return 500 + i * 397;
}

static void m_cli_est(void *ctx, efvitcp_conn *c)
{
    many *m = ctx;
    echo_conn *e = efvitcp_user_data(c);
    e->est++;
    /* the connection's index: find it among the ones we opened */
    for (uint32_t i = 0; i < NCONN; i++)
        if (m->cc[i] == c) e->idx = i;
    uint32_t n = msg_len(e->idx);
    uint8_t buf[20000];
    for (uint32_t k = 0; k < n; k++) buf[k] = pat(e->idx, k);
    CHECK_EQ(efvitcp_send(c, buf, n, false), n);
}

static uint32_t m_cli_data(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    echo_conn *e = efvitcp_user_data(c);
    for (uint32_t k = 0; k < n; k++)
        if (p[k] != pat(e->idx, e->got + k)) e->bad = true;
    e->got += n;
    if (e->got == msg_len(e->idx)) CHECK_NULL_ERR(efvitcp_send_fin(c));
    return 0;
}

static uint32_t m_srv_data(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    /* echo what fits; the rest stays unconsumed and comes back next time */
    uint32_t acc = efvitcp_send(c, p, n, false);
    return n - acc;
}

static void m_srv_est(void *ctx, efvitcp_conn *c)
{
    many *m = ctx;
    echo_conn *e = efvitcp_user_data(c);
    e->est++;
    m->srv_est[efvitcp_local_port(c) == 5000 ? 0 : 1]++;
}

static void m_fin(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    echo_conn *e = efvitcp_user_data(c);
    e->fin++;
    CHECK_EQ(n, 0);
    if (efvitcp_local_port(c) == 5000 || efvitcp_local_port(c) == 5001)
        CHECK_NULL_ERR(efvitcp_send_fin(c));
}

static void m_cli_closed(void *ctx, efvitcp_conn *c)
{
    many *m = ctx;
    echo_conn *e = efvitcp_user_data(c);
    e->closed++;
    CHECK(!e->bad);
    CHECK_EQ(e->got, msg_len(e->idx));
    CHECK_EQ(e->est, 1);
    CHECK_EQ(e->fin, 1);
    m->cli_closed++;
}

static void m_srv_closed(void *ctx, efvitcp_conn *c)
{
    many *m = ctx;
    echo_conn *e = efvitcp_user_data(c);
    CHECK_EQ(e->est, 1);
    CHECK_EQ(e->fin, 1);
    m->srv_closed++;
}

static void m_other(void *ctx, efvitcp_conn *c)
{
    ((many *)ctx)->others++;
}

static bool m_done(void *a)
{
    many *m = a;
    return m->cli_closed == NCONN && m->srv_closed == NCONN;
}

static void test_many_connections(void)
{
    static many m;
    memset(&m, 0, sizeof(m));
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sim_default_config(&cc, 2);
    sc.max_conns = cc.max_conns = 64;
    cc.max_time_wait = 64;
    sc.user_data_size = cc.user_data_size = sizeof(echo_conn);
    sc.send_slots = cc.send_slots = 16;
    CHECK_NULL_ERR(sim_init(&m.s, &wc, &sc, &cc, 5000));
    CHECK_NULL_ERR(efvitcp_server_listen(m.s.srv, 5001));
    CHECK(efvitcp_server_listen(m.s.srv, 5001) != NULL);
    efvitcp_handler *h = &m.s.ch;
    h->on_established = m_cli_est;
    h->on_data = m_cli_data;
    h->on_fin = m_fin;
    h->on_closed = m_cli_closed;
    h->on_reset = h->on_timeout = h->on_connection_refused = m_other;
    h = &m.s.sh;
    h->on_established = m_srv_est;
    h->on_data = m_srv_data;
    h->on_fin = m_fin;
    h->on_closed = m_srv_closed;
    h->on_reset = h->on_timeout = m_other;
    m.s.sctx = m.s.cctx = &m;
    for (uint32_t i = 0; i < NCONN; i++)
        CHECK_NULL_ERR(
            efvitcp_client_connect(m.s.cli, SIM_SERVER_IP, (uint16_t)(5000 + i % 2), 0, &m.cc[i]));
    CHECK_EQ(efvitcp_server_conn_count(m.s.srv), 0);
    REQUIRE(sim_run(&m.s, 10 * SEC, m_done, &m));
    CHECK_EQ(m.others, 0);
    CHECK_EQ(m.srv_est[0], NCONN / 2);
    CHECK_EQ(m.srv_est[1], NCONN / 2);
    efvitcp_stats cs, ss;
    efvitcp_client_stats(m.s.cli, &cs);
    efvitcp_server_stats(m.s.srv, &ss);
    uint64_t total = 0;
    for (uint32_t i = 0; i < NCONN; i++) total += msg_len(i);
    CHECK_EQ(cs.bytes_out, total);
    CHECK_EQ(cs.bytes_in, total);
    CHECK_EQ(ss.bytes_in, total);
    CHECK_EQ(ss.bytes_out, total);
    CHECK_EQ(cs.conns_opened, NCONN);
    CHECK_EQ(ss.conns_accepted, NCONN);
    CHECK_EQ(cs.conns_closed, NCONN);
    CHECK_EQ(ss.conns_closed, NCONN);
    CHECK_EQ(cs.time_wait_active, NCONN);
    CHECK_EQ(ss.time_wait_active, 0);
    CHECK_EQ(cs.conns_active + ss.conns_active, 0);
    CHECK_EQ(cs.rst_sent + ss.rst_sent + cs.retransmits + ss.retransmits, 0);
    sim_free(&m.s);
}

/* ------------------------------------------------------------------------------------------ */
/* Closing from inside each callback                                                          */
/* ------------------------------------------------------------------------------------------ */

/* The server aborts inside one callback; afterwards it must see no callback for that
   connection, and the client exactly one on_reset. */
static void close_inside(char letter, const char *want_s, const char *want_c)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    p.S.close_in = letter;
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c));
    p.C.conn = c;
    sim_run_for(&p.s, MS);
    switch (letter) {
    case 'D': /* ten segments in one burst: the first on_data aborts */
        p.C.tx_total = 14000;
        pump(&p.C);
        break;
    case 'F':
        CHECK_NULL_ERR(efvitcp_send_fin(c));
        break;
    case 'U':
        CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 1, 3));
        CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 2, 3)); /* same tick: must not fire */
        CHECK_NULL_ERR(efvitcp_set_user_timer(p.S.conn, 0, 50));
        break;
    case 'M': /* fill the ring; the first ACK that frees room aborts */
        if (p.S.conn) {
            p.S.tx_total = 1000000;
            pump(&p.S);
        }
        break;
    default:
        break;
    }
    sim_run_for(&p.s, 200 * MS);
    CHECK_EQ(p.S.closes, 1);
    if (strcmp(p.S.log, want_s) != 0 || strcmp(p.C.log, want_c) != 0) {
        fprintf(stderr, "close in %c: server log %s (want %s), client log %s (want %s)\n", letter,
                p.S.log, want_s, p.C.log, want_c);
        th_failures++;
    }
    efvitcp_stats cs, ss;
    stats_of(&p, &cs, &ss);
    CHECK_EQ(ss.conns_active, 0);
    CHECK_EQ(cs.conns_active, 0);
    CHECK_EQ(ss.time_wait_active + cs.time_wait_active, 0);
    CHECK_EQ(cs.rst_sent, 0);
    if (letter == 'U') CHECK_EQ(p.S.utimer, 1);
    if (letter == 'M') CHECK_EQ(p.S.more, 1);
    if (letter == 'D') CHECK_EQ(p.S.data, 1);
    sim_free(&p.s);
}

static void test_close_inside_callbacks(void)
{
    close_inside('E', "AE", "ER");
    close_inside('D', "AED", "ER");
    close_inside('F', "AEF", "ER");
    close_inside('U', "AEU", "ER");
    close_inside('M', "AEM", "EDR");
}

/* The client aborts inside on_established: the server, still in SYN-RECEIVED, forgets the
   connection without telling its user. */
static void test_close_inside_client_established(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    p.C.close_in = 'E';
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(p.s.cli, SIM_SERVER_IP, 5000, 0, &c));
    sim_run_for(&p.s, 100 * MS);
    CHECK(strcmp(p.C.log, "E") == 0);
    CHECK(strcmp(p.S.log, "A") == 0);
    efvitcp_stats cs, ss;
    stats_of(&p, &cs, &ss);
    CHECK_EQ(cs.rst_sent, 1);
    CHECK_EQ(ss.conns_active, 0);
    CHECK_EQ(ss.conns_reset, 0);
    CHECK_EQ(ss.retransmits, 0); /* no SYN-ACK retransmission afterwards */
    sim_free(&p.s);
}

/* Closing again inside a terminal callback (cleanup code often does) is harmless: no second
   callback, and no RST in answer to a RST or after a clean close. */
static void test_close_inside_terminal_callbacks(void)
{
    static pair p;
    efvitcp_wire_config wc;
    default_wire(&wc);
    efvitcp_stats cs, ss;
    /* on_reset */
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    p.C.close_in = 'R';
    p.C.poke = true;
    REQUIRE(pair_connect(&p, 5000));
    efvitcp_client_stats(p.s.cli, &cs);
    uint64_t segs = cs.segs_out;
    efvitcp_conn_close(p.S.conn);
    sim_run_for(&p.s, 10 * MS);
    CHECK(strcmp(p.C.log, "ER") == 0);
    CHECK_EQ(p.C.poke_sent, 0);
    CHECK(p.C.poke_fin != NULL);
    stats_of(&p, &cs, &ss);
    CHECK_EQ(cs.rst_sent, 0);
    CHECK_EQ(cs.segs_out, segs); /* nothing at all left the client */
    CHECK_EQ(ss.drops[EFVITCP_DROP_NO_CONN], 0);
    sim_free(&p.s);
    /* on_closed, on both sides of a clean close */
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, NULL, 5000));
    p.C.close_in = p.S.close_in = 'C';
    p.S.fin_on_fin = true;
    REQUIRE(pair_connect(&p, 5000));
    CHECK_NULL_ERR(efvitcp_send_fin(p.C.conn));
    sim_run_for(&p.s, 10 * MS);
    CHECK(strcmp(p.C.log, "EFC") == 0);
    CHECK(strcmp(p.S.log, "AEFC") == 0);
    stats_of(&p, &cs, &ss);
    CHECK_EQ(cs.rst_sent + ss.rst_sent, 0);
    CHECK_EQ(cs.time_wait_active, 1);
    sim_free(&p.s);
    /* on_timeout: the one RST of giving up, no second one */
    efvitcp_config cc;
    sim_default_config(&cc, 2);
    cc.data_retries = 1;
    CHECK_NULL_ERR(pair_init(&p, &wc, NULL, &cc, 5000));
    p.C.close_in = 'T';
    REQUIRE(pair_connect(&p, 5000));
    sim_set_drop(&p.s, sim_drop_all, NULL);
    CHECK_EQ(efvitcp_send(p.C.conn, "x", 1, false), 1);
    sim_run_for(&p.s, SEC);
    CHECK(strcmp(p.C.log, "ET") == 0);
    efvitcp_client_stats(p.s.cli, &cs);
    CHECK_EQ(cs.rst_sent, 1);
    sim_free(&p.s);
}

/* ------------------------------------------------------------------------------------------ */
/* Two rigs                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static bool transfer_done(void *a)
{
    pair *p = a;
    return p->C.rx == p->S.tx_total && p->S.rx == p->C.tx_total && both_terminal(p);
}

/* Two pairs with the same addresses on two wires, polled alternately: nothing crosses over,
   and tearing one down mid-transfer leaves the other untouched. */
static void test_two_pairs(void)
{
    static pair a, b;
    efvitcp_wire_config wc;
    default_wire(&wc);
    CHECK_NULL_ERR(pair_init(&a, &wc, NULL, NULL, 5000));
    wc.latency_ns = 30 * US;
    wc.bandwidth_bps = 100000000; /* b is slow: 0.9 MB takes over 70 ms */
    CHECK_NULL_ERR(pair_init(&b, &wc, NULL, NULL, 5000));
    REQUIRE(pair_connect(&a, 5000));
    REQUIRE(pair_connect(&b, 5000));
    /* different sizes and streams: any frame crossing over shows */
    a.C.tx_total = 1000000;
    a.S.tx_total = 700000;
    b.C.tx_stream = b.S.rx_stream = 2;
    b.S.tx_stream = b.C.rx_stream = 3;
    b.C.tx_total = 300000;
    b.S.tx_total = 900000;
    a.C.fin_after_tx = a.S.fin_after_tx = b.C.fin_after_tx = b.S.fin_after_tx = true;
    for (int i = 0; i < 1000 && !transfer_done(&a); i++) {
        sim_run(&a.s, 50 * US, transfer_done, &a);
        sim_run(&b.s, 50 * US, transfer_done, &b);
    }
    /* a finishes first; then it is torn down while b still runs */
    REQUIRE(sim_run(&a.s, SEC, transfer_done, &a));
    CHECK(!transfer_done(&b));
    efvitcp_stats cs, ss;
    stats_of(&a, &cs, &ss);
    CHECK_EQ(cs.bytes_out, 1000000);
    CHECK_EQ(cs.bytes_in, 700000);
    CHECK_EQ(ss.bytes_in, 1000000);
    CHECK_EQ(ss.bytes_out, 700000);
    CHECK_EQ(cs.conns_opened + ss.conns_accepted, 2);
    CHECK(!a.C.bad && !a.S.bad);
    sim_free(&a.s);
    REQUIRE(sim_run(&b.s, 10 * SEC, transfer_done, &b));
    CHECK(!b.C.bad && !b.S.bad);
    stats_of(&b, &cs, &ss);
    CHECK_EQ(cs.bytes_out, 300000);
    CHECK_EQ(cs.bytes_in, 900000);
    CHECK_EQ(ss.bytes_in, 300000);
    CHECK_EQ(ss.bytes_out, 900000);
    CHECK_EQ(cs.conns_opened + ss.conns_accepted, 2);
    CHECK_EQ(cs.conns_reset + ss.conns_reset + cs.conns_timeout + ss.conns_timeout, 0);
    CHECK(strcmp(b.C.log, "EDMFC") == 0 || strcmp(b.C.log, "EMDFC") == 0 ||
          strcmp(b.C.log, "EDFMC") == 0);
    sim_free(&b.s);
}

int main(void)
{
    RUN(test_half_close);
    RUN(test_close_from_server);
    RUN(test_simultaneous_close);
    RUN(test_abort_each_side);
    RUN(test_data_timeout_on_cut_wire);
    RUN(test_syn_timeout_silent_host);
    RUN(test_arp_timeout);
    RUN(test_user_timers);
    RUN(test_refused_no_listener);
    RUN(test_allow_new_connection_says_no);
    RUN(test_server_max_conns);
    RUN(test_server_max_conns_cookie);
    RUN(test_client_max_conns);
    RUN(test_time_wait_table_full);
    RUN(test_many_connections);
    RUN(test_close_inside_callbacks);
    RUN(test_close_inside_client_established);
    RUN(test_close_inside_terminal_callbacks);
    RUN(test_two_pairs);
    return th_summary();
}
