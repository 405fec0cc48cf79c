/*
 * The sockperf server protocol (examples/sockperf_proto.c) end to end: an efvitcp server running
 * it and an efvitcp client sending crafted sockperf streams over the simulated wire. Every echo
 * stream is compared byte for byte with the one a reference model (written separately here)
 * expects: CLIENT+PONG messages back whole with CLIENT cleared, nothing for the others.
 *
 * Cases: the header fields, messages coalesced many to a segment, one byte per segment,
 * random splits, the largest message (1 MiB - 1) and a custom maximum's boundary, lengths out of
 * range (FIN, then RST on more data), a client that stops reading (the backlog fills, input is
 * held, the window closes, and everything flows once it reads again), the peer's FIN behind held
 * input, and several connections at once.
 */
#include "harness.h"
#include "sim.h"

/* The module is compiled into this test (the test build takes one source file per program). */
#include "../../examples/sockperf_proto.c"

#define PORT  11111
#define MAXCC 8
#define SEC   1000000000ull

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rbelow(rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (uint32_t)(r->s % n) : 0;
}

/* ---- the server side ---- */

typedef struct srv_ctx {
    sp_server sp;
    int established, closed, resets, timeouts;
    uint64_t data_calls;
} srv_ctx;

static void s_est(void *ctx, efvitcp_conn *c)
{
    ((srv_ctx *)ctx)->established++;
}
static uint32_t s_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    srv_ctx *s = ctx;
    s->data_calls++;
    return sp_on_data(&s->sp, c, d, n);
}
static void s_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    sp_on_fin(&((srv_ctx *)ctx)->sp, c, d, n);
}
static void s_more(void *ctx, efvitcp_conn *c)
{
    sp_on_more_sendable(&((srv_ctx *)ctx)->sp, c);
}
static void s_closed(void *ctx, efvitcp_conn *c)
{
    srv_ctx *s = ctx;
    sp_on_end(&s->sp, c);
    s->closed++;
}
static void s_reset(void *ctx, efvitcp_conn *c)
{
    srv_ctx *s = ctx;
    sp_on_end(&s->sp, c);
    s->resets++;
}
static void s_timeout(void *ctx, efvitcp_conn *c)
{
    srv_ctx *s = ctx;
    sp_on_end(&s->sp, c);
    s->timeouts++;
}

/* ---- the client side: sends a prepared stream, collects the echo ---- */

typedef struct cconn {
    efvitcp_conn *conn;
    const uint8_t *tx;
    uint32_t tx_len, tx_off;
    uint32_t chunk;    /* bytes per send (each its own segment); 0 = as much as fits */
    uint32_t rand_max; /* > 0: chunk sizes drawn from 1..rand_max */
    bool one_seg;      /* send only once everything sent before is acknowledged */
    bool fin_after;    /* FIN after the last byte */
    bool fin_sent;
    bool reading; /* false: leave everything unconsumed (the window closes) */
    uint8_t *rx;
    uint32_t rx_cap, rx_len;
    bool rx_overflow;
    int established, fins, closed, resets, timeouts;
} cconn;

typedef struct cli_ctx {
    cconn cc[MAXCC];
    int n;
    rng r;
    efvitcp_client *cli;
} cli_ctx;

static cconn *find(cli_ctx *x, efvitcp_conn *c)
{
    for (int i = 0; i < x->n; i++)
        if (x->cc[i].conn == c) return &x->cc[i];
    return NULL;
}

static void take(cconn *k, const uint8_t *d, uint32_t n)
{
    if (k->rx_len + n > k->rx_cap) {
        k->rx_overflow = true;
        n = k->rx_cap - k->rx_len;
    }
    memcpy(k->rx + k->rx_len, d, n);
    k->rx_len += n;
}

static void c_est(void *ctx, efvitcp_conn *c)
{
    cconn *k = find(ctx, c);
    if (k) k->established++;
}
static uint32_t c_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    cconn *k = find(ctx, c);
    if (!k || !k->reading) return n;
    take(k, d, n);
    return 0;
}
static void c_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    cconn *k = find(ctx, c);
    if (!k) return;
    k->fins++;
    if (k->reading && n) {
        take(k, d, n);
        efvitcp_consume(c, n);
    }
}
static void c_closed(void *ctx, efvitcp_conn *c)
{
    cconn *k = find(ctx, c);
    if (k) k->closed++;
}
static void c_reset(void *ctx, efvitcp_conn *c)
{
    cconn *k = find(ctx, c);
    if (k) k->resets++;
}
static void c_timeout(void *ctx, efvitcp_conn *c)
{
    cconn *k = find(ctx, c);
    if (k) k->timeouts++;
}

static void client_pump(void *arg)
{
    cli_ctx *x = arg;
    for (int i = 0; i < x->n; i++) {
        cconn *k = &x->cc[i];
        if (!k->established || k->closed || k->resets || k->timeouts) continue;
        if (k->reading) {
            /* Catch up on what was left unconsumed while not reading. */
            const uint8_t *p;
            uint32_t held = efvitcp_unread(k->conn, &p);
            if (held) {
                take(k, p, held);
                efvitcp_consume(k->conn, held);
            }
        }
        while (k->tx_off < k->tx_len && !k->fin_sent) {
            if (k->one_seg) {
                efvitcp_conn_stats st;
                efvitcp_conn_get_stats(k->conn, &st);
                if (st.unacked || st.queued) break;
            }
            uint32_t want = k->tx_len - k->tx_off;
            uint32_t chunk = k->rand_max ? 1 + rbelow(&x->r, k->rand_max) : k->chunk;
            if (chunk && want > chunk) want = chunk;
            uint32_t got = efvitcp_send(k->conn, k->tx + k->tx_off, want, false);
            k->tx_off += got;
            if (got < want || k->one_seg) break;
        }
        if (k->tx_off == k->tx_len && k->fin_after && !k->fin_sent) {
            CHECK_NULL_ERR(efvitcp_send_fin(k->conn));
            k->fin_sent = true;
        }
    }
}

/* ---- streams and the reference model ---- */

/* Appends one message to buf at *len: header, then a payload that differs per message. */
static void put_msg(uint8_t *buf, uint32_t *len, uint64_t seq, uint16_t flags, uint32_t mlen,
                    rng *r)
{
    uint8_t *p = buf + *len;
    sp_put_header(p, seq, flags, mlen);
    for (uint32_t i = SP_HDR_LEN; i < mlen; i++) p[i] = (uint8_t)rbelow(r, 256);
    *len += mlen;
}

/* What a stock sockperf server sends back for a well-formed stream, written from the protocol
   description rather than from the module. */
static uint32_t model_echo(const uint8_t *in, uint32_t len, uint8_t *out, uint32_t *n_echo)
{
    uint32_t pos = 0, o = 0;
    *n_echo = 0;
    while (pos + SP_HDR_LEN <= len) {
        uint32_t mlen = (uint32_t)in[pos + 10] << 24 | (uint32_t)in[pos + 11] << 16 |
                        (uint32_t)in[pos + 12] << 8 | in[pos + 13];
        uint16_t fl = (uint16_t)(in[pos + 8] << 8 | in[pos + 9]);
        if (pos + mlen > len) break;
        if ((fl & 1) && (fl & 2) && !(fl & 4)) {
            memcpy(out + o, in + pos, mlen);
            out[o + 9] = (uint8_t)(in[pos + 9] & ~1u);
            o += mlen;
            (*n_echo)++;
        }
        pos += mlen;
    }
    return o;
}

/* ---- the rig ---- */

typedef struct rig {
    sim s;
    srv_ctx S;
    cli_ctx C;
} rig;

static const char *rig_init(rig *g, uint32_t max_msg, uint32_t backlog_cap,
                            const efvitcp_config *scfg_in, const efvitcp_config *ccfg_in)
{
    memset(&g->S, 0, sizeof(g->S));
    memset(&g->C, 0, sizeof(g->C));
    g->C.r.s = 0x9e3779b97f4a7c15ull;
    const char *err = sp_server_init(&g->S.sp, max_msg, backlog_cap);
    if (err) return err;
    efvitcp_config sc;
    if (scfg_in)
        sc = *scfg_in;
    else
        sim_default_config(&sc, 1);
    sc.user_data_size = sp_user_data_size(&g->S.sp);
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 5000;
    if ((err = sim_init(&g->s, &wc, &sc, ccfg_in, PORT))) return err;
    efvitcp_handler *h = &g->s.sh;
    memset(h, 0, sizeof(*h));
    h->on_established = s_est;
    h->on_data = s_data;
    h->on_fin = s_fin;
    h->on_more_sendable = s_more;
    h->on_closed = s_closed;
    h->on_reset = s_reset;
    h->on_timeout = s_timeout;
    h = &g->s.ch;
    memset(h, 0, sizeof(*h));
    h->on_established = c_est;
    h->on_data = c_data;
    h->on_fin = c_fin;
    h->on_closed = c_closed;
    h->on_reset = c_reset;
    h->on_timeout = c_timeout;
    g->s.sctx = &g->S;
    g->s.cctx = &g->C;
    g->s.after_poll = client_pump;
    g->s.after_poll_arg = &g->C;
    g->C.cli = g->s.cli;
    return NULL;
}

static bool all_established(void *arg)
{
    cli_ctx *x = arg;
    for (int i = 0; i < x->n; i++)
        if (!x->cc[i].established) return false;
    return true;
}

/* Opens a connection whose stream is tx[0, tx_len) and whose echo lands in a fresh buffer. */
static cconn *rig_connect(rig *g, const uint8_t *tx, uint32_t tx_len, uint32_t rx_cap)
{
    cconn *k = &g->C.cc[g->C.n++];
    memset(k, 0, sizeof(*k));
    k->tx = tx;
    k->tx_len = tx_len;
    k->reading = true;
    k->rx_cap = rx_cap;
    k->rx = malloc(rx_cap ? rx_cap : 1);
    const char *err = efvitcp_client_connect(g->s.cli, SIM_SERVER_IP, PORT, 0, &k->conn);
    if (err) {
        fprintf(stderr, "connect: %s\n", err);
        th_failures++;
    }
    return k;
}

static void rig_free(rig *g)
{
    sim_free(&g->s);
    for (int i = 0; i < g->C.n; i++) free(g->C.cc[i].rx);
}

typedef struct want_rx {
    cli_ctx *x;
    uint32_t *len; /* per connection */
} want_rx;

static bool got_all(void *arg)
{
    want_rx *w = arg;
    for (int i = 0; i < w->x->n; i++)
        if (w->x->cc[i].rx_len < w->len[i]) return false;
    return true;
}

static bool conn0_fin(void *arg)
{
    return ((cli_ctx *)arg)->cc[0].fins > 0;
}

static bool conn0_reset(void *arg)
{
    return ((cli_ctx *)arg)->cc[0].resets > 0;
}

static bool all_closed(void *arg)
{
    rig *g = arg;
    for (int i = 0; i < g->C.n; i++)
        if (!g->C.cc[i].closed) return false;
    return g->S.closed == g->C.n;
}

/* Sends tx on one connection as configured by setup(k) and checks the echo against the model. */
static void run_stream(const uint8_t *tx, uint32_t len, void (*setup)(cconn *k), srv_ctx *out)
{
    rig g;
    CHECK_NULL_ERR(rig_init(&g, SP_MAX_MSG, 65536, NULL, NULL));
    uint8_t *want = malloc(len ? len : 1);
    uint32_t n_echo, wlen = model_echo(tx, len, want, &n_echo);
    cconn *k = rig_connect(&g, tx, len, wlen + 64);
    if (setup) setup(k);
    REQUIRE(sim_run(&g.s, SEC, all_established, &g.C));
    want_rx w = {&g.C, &wlen};
    CHECK(sim_run(&g.s, 60 * SEC, got_all, &w));
    sim_run_for(&g.s, 10000000); /* nothing more may come */
    CHECK_EQ(k->rx_len, wlen);
    CHECK(!k->rx_overflow);
    CHECK(k->rx_len == wlen && memcmp(k->rx, want, wlen) == 0);
    CHECK_EQ(g.S.sp.cnt.echoed, n_echo);
    CHECK_EQ(g.S.sp.cnt.bytes_echoed, wlen);
    CHECK_EQ(g.S.sp.cnt.bad_length, 0);
    CHECK_EQ(k->resets + k->timeouts + k->fins, 0);
    /* An orderly end: our FIN, the server's FIN after the last echo, both closed. */
    k->fin_after = true;
    CHECK(sim_run(&g.s, 10 * SEC, all_closed, &g));
    CHECK_EQ(g.S.sp.cnt.backlogged, 0);
    if (out) *out = g.S;
    free(want);
    rig_free(&g);
}

/* ---- cases ---- */

static void test_header_fields(void)
{
    uint8_t h[SP_HDR_LEN];
    sp_put_header(h, 0x0102030405060708ull, 0x0003, 0x000A0B0Cu);
    static const uint8_t wire[SP_HDR_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0x0A, 0x0B, 0x0C};
    CHECK(memcmp(h, wire, SP_HDR_LEN) == 0);
    CHECK(sp_get_seq(h) == 0x0102030405060708ull);
    CHECK_EQ(sp_get_flags(h), 3);
    CHECK_EQ(sp_get_len(h), 0x000A0B0C);
    sp_put_header(h, UINT64_MAX, 0xFFFF, UINT32_MAX);
    CHECK(sp_get_seq(h) == UINT64_MAX);
    CHECK_EQ(sp_get_flags(h), 0xFFFF);
    CHECK(sp_get_len(h) == UINT32_MAX);
    sp_server sp;
    CHECK(sp_server_init(&sp, 13, 1024) != NULL);
    CHECK(sp_server_init(&sp, SP_MAX_MSG + 1, 1024) != NULL);
    CHECK(sp_server_init(&sp, 100, 13) != NULL);
    CHECK_NULL_ERR(sp_server_init(&sp, SP_HDR_LEN, SP_HDR_LEN));
    CHECK_EQ(sp_user_data_size(&sp) % 8, 0);
}

/* One ping: flags 0003 come back as 0002; seq, length and payload unchanged. */
static void test_echo_flags(void)
{
    rng r = {12345};
    uint8_t tx[64];
    uint32_t len = 0;
    put_msg(tx, &len, 0x0102030405060708ull, SP_FLAG_CLIENT | SP_FLAG_PONG, 64, &r);
    srv_ctx S;
    run_stream(tx, len, NULL, &S);
    CHECK_EQ(S.sp.cnt.msgs, 1);
    CHECK_EQ(S.sp.cnt.echoed, 1);
    /* the model agrees with the protocol description; check the bytes themselves once */
    uint8_t want[64];
    memcpy(want, tx, 64);
    want[9] = 0x02;
    uint32_t n;
    uint8_t model[64];
    CHECK_EQ(model_echo(tx, 64, model, &n), 64);
    CHECK(memcmp(model, want, 64) == 0);
}

/* A mixed stream: what must be echoed and what must not, every message's header and payload. */
static uint32_t mixed_stream(uint8_t *buf, uint32_t cap, uint32_t count, uint32_t max_len,
                             uint64_t seed, uint32_t counts[4])
{
    static const uint16_t kinds[] = {
        SP_FLAG_CLIENT | SP_FLAG_PONG,                  /* echo */
        SP_FLAG_CLIENT | SP_FLAG_PONG | SP_FLAG_WARMUP, /* warm-up: no reply */
        SP_FLAG_CLIENT,                                 /* no PONG: no reply */
        SP_FLAG_PONG,                                   /* not from a client: ignored */
        0,
        SP_FLAG_CLIENT | SP_FLAG_PONG | 0x8000, /* unknown bits travel back unchanged */
    };
    rng r = {seed};
    uint32_t len = 0;
    memset(counts, 0, 4 * sizeof(uint32_t));
    for (uint32_t i = 0; i < count; i++) {
        uint32_t kind = rbelow(&r, 10) < 5 ? 0 : rbelow(&r, 6);
        uint32_t mlen = SP_HDR_LEN + rbelow(&r, max_len - SP_HDR_LEN + 1);
        if (len + mlen > cap) break;
        put_msg(buf, &len, i + 1, kinds[kind], mlen, &r);
        uint32_t slot = kind == 0 || kind == 5 ? 0 : kind == 1 ? 1 : kind == 2 ? 2 : 3;
        counts[slot]++;
    }
    return len;
}

static void check_mixed_counters(const srv_ctx *S, const uint32_t counts[4])
{
    CHECK_EQ(S->sp.cnt.echoed, counts[0]);
    CHECK_EQ(S->sp.cnt.warmup, counts[1]);
    CHECK_EQ(S->sp.cnt.no_pong, counts[2]);
    CHECK_EQ(S->sp.cnt.not_client, counts[3]);
    CHECK_EQ(S->sp.cnt.msgs, counts[0] + counts[1] + counts[2] + counts[3]);
}

/* Many messages per segment (the client writes the whole stream at once). */
static void test_coalesced(void)
{
    static uint8_t tx[200000];
    uint32_t counts[4];
    uint32_t len = mixed_stream(tx, sizeof(tx), 3000, 120, 7, counts);
    CHECK(counts[0] > 1000 && counts[1] > 100 && counts[2] > 100 && counts[3] > 100);
    srv_ctx S;
    run_stream(tx, len, NULL, &S);
    check_mixed_counters(&S, counts);
    /* coalesced: far fewer deliveries than messages */
    CHECK(S.data_calls < S.sp.cnt.msgs / 4);
}

static void setup_one_byte(cconn *k)
{
    k->chunk = 1;
    k->one_seg = true;
}

/* One byte per segment, so every header and body arrives split at every possible offset. */
static void test_one_byte(void)
{
    uint8_t tx[600];
    uint32_t counts[4];
    uint32_t len = mixed_stream(tx, sizeof(tx), 12, 60, 99, counts);
    CHECK(len > 200);
    srv_ctx S;
    run_stream(tx, len, setup_one_byte, &S);
    check_mixed_counters(&S, counts);
    CHECK(S.data_calls >= len); /* one delivery per byte */
}

static void setup_random_split(cconn *k)
{
    k->rand_max = 3000;
}

/* Random cuts across headers and bodies, with messages several segments long. */
static void test_random_split(void)
{
    static uint8_t tx[1500000];
    uint32_t counts[4];
    uint32_t len = mixed_stream(tx, sizeof(tx), 600, 5000, 2024, counts);
    srv_ctx S;
    run_stream(tx, len, setup_random_split, &S);
    check_mixed_counters(&S, counts);
}

/* sockperf's largest TCP message, echoed whole, and the next message after it. */
static void test_max_size(void)
{
    static uint8_t tx[SP_MAX_MSG + 200];
    rng r = {5};
    uint32_t len = 0;
    put_msg(tx, &len, 1, SP_FLAG_CLIENT | SP_FLAG_PONG, SP_MAX_MSG, &r);
    put_msg(tx, &len, 2, SP_FLAG_CLIENT | SP_FLAG_PONG, 100, &r);
    srv_ctx S;
    run_stream(tx, len, NULL, &S);
    CHECK_EQ(S.sp.cnt.echoed, 2);
    /* echoes stream through: the backlog never had to hold the message */
    CHECK(S.sp.cnt.backlog_max < 65536);
}

/*
 * A length out of range (above the maximum, below the header) closes the connection the way a
 * stock server does: what came before is answered, then FIN; data after that gets a RST
 * (RFC 1122 §4.2.2.13), as from Linux after sockperf's close(). body: bytes behind the bad
 * header in the same segment (discarded with it). split: the body follows in later segments,
 * which arrive after the close and draw the RST themselves.
 */
static void bad_length_case(uint32_t max_msg, uint32_t bad, uint32_t body, bool split)
{
    rig g;
    CHECK_NULL_ERR(rig_init(&g, max_msg, 65536, NULL, NULL));
    static uint8_t tx[4096], want[4096];
    rng r = {bad};
    uint32_t len = 0;
    /* Answered first: a small message, and one of exactly the maximum when that is small. */
    uint32_t first = max_msg < 64 ? max_msg : 64;
    put_msg(tx, &len, 1, SP_FLAG_CLIENT | SP_FLAG_PONG, first, &r);
    if (max_msg > first && max_msg <= 1000)
        put_msg(tx, &len, 2, SP_FLAG_CLIENT | SP_FLAG_PONG, max_msg, &r);
    uint32_t n_echo, wlen = model_echo(tx, len, want, &n_echo);
    sp_put_header(tx + len, 3, SP_FLAG_CLIENT | SP_FLAG_PONG, bad);
    len += SP_HDR_LEN;
    uint32_t head = len;
    memset(tx + len, 0xA5, body);
    len += body;
    cconn *k = rig_connect(&g, tx, len, sizeof(want));
    if (split) k->chunk = head; /* the first segment ends with the bad header */
    REQUIRE(sim_run(&g.s, SEC, all_established, &g.C));
    CHECK(sim_run(&g.s, 10 * SEC, conn0_fin, &g.C));
    if (split) {
        CHECK(sim_run(&g.s, 10 * SEC, conn0_reset, &g.C));
    } else {
        sim_run_for(&g.s, SEC);
        CHECK_EQ(k->resets, 0);
        CHECK_EQ(g.S.sp.cnt.aborted, 0);
        /* More data after the server closed. */
        static const uint8_t more[20] = {0};
        CHECK_EQ(efvitcp_send(k->conn, more, sizeof(more), false), sizeof(more));
        CHECK(sim_run(&g.s, 10 * SEC, conn0_reset, &g.C));
    }
    CHECK_EQ(k->fins, 1);
    CHECK_EQ(k->rx_len, wlen);
    CHECK(memcmp(k->rx, want, wlen) == 0);
    CHECK_EQ(g.S.sp.cnt.bad_length, 1);
    CHECK_EQ(g.S.sp.cnt.echoed, n_echo);
    CHECK_EQ(g.S.sp.cnt.aborted, 1);
    CHECK_EQ(efvitcp_server_conn_count(g.s.srv), 0);
    CHECK_EQ(g.S.sp.cnt.backlogged, 0);
    rig_free(&g);
}

static void test_bad_length(void)
{
    bad_length_case(SP_MAX_MSG, SP_MAX_MSG + 1, 0, false);
    bad_length_case(SP_MAX_MSG, SP_MAX_MSG + 1, 300, false);
    bad_length_case(SP_MAX_MSG, SP_MAX_MSG + 1, 3000, true);
    bad_length_case(SP_MAX_MSG, UINT32_MAX, 0, false);
    bad_length_case(SP_MAX_MSG, 13, 0, false);
    bad_length_case(SP_MAX_MSG, 1, 100, true);
    bad_length_case(SP_MAX_MSG, 0, 300, false);
    /* a custom maximum (a stock server's -m): max itself passes (sent above), max + 1 closes */
    bad_length_case(1000, 1001, 300, false);
    bad_length_case(1000, 1001, 3000, true);
    bad_length_case(SP_HDR_LEN, SP_HDR_LEN + 1, 0, false);
}

static bool server_stalled(void *arg)
{
    rig *g = arg;
    return g->S.sp.cnt.stalls > 0 && g->S.sp.cnt.backlogged == 1;
}

/*
 * A client that stops reading: the server's send ring and then its backlog fill, it leaves the
 * input unconsumed, its window closes and the client's sends stop. Once the client reads, every
 * echo arrives, in order and intact.
 */
static void test_backpressure(void)
{
    rig g;
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sc.send_slots = 8;
    sc.recv_buf_size = 16384;
    sim_default_config(&cc, 2);
    cc.recv_buf_size = 8192;
    CHECK_NULL_ERR(rig_init(&g, SP_MAX_MSG, 4096, &sc, &cc));
    static uint8_t tx[400000];
    uint32_t counts[4];
    uint32_t len = mixed_stream(tx, sizeof(tx), 100000, 1500, 77, counts);
    static uint8_t want[400000];
    uint32_t n_echo, wlen = model_echo(tx, len, want, &n_echo);
    cconn *k = rig_connect(&g, tx, len, wlen + 64);
    k->reading = false;
    REQUIRE(sim_run(&g.s, SEC, all_established, &g.C));
    CHECK(sim_run(&g.s, 10 * SEC, server_stalled, &g));
    sim_run_for(&g.s, 2 * SEC); /* settle: probes only */
    CHECK(g.S.sp.cnt.backlog_max <= 4096);
    CHECK(g.S.sp.cnt.backlog_max > 0);
    CHECK_EQ(g.S.sp.cnt.backlogged, 1);
    /* the server holds input and its window is closed: the client cannot send it all */
    CHECK(k->tx_off < len);
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(k->conn, &cs);
    CHECK_EQ(cs.snd_wnd, 0);
    efvitcp_stats st;
    efvitcp_server_stats(g.s.srv, &st);
    CHECK_EQ(st.drops[EFVITCP_DROP_RCVBUF_FULL], 0);
    CHECK_EQ(k->rx_len, 0);
    /* The client reads again: everything flows. */
    k->reading = true;
    want_rx w = {&g.C, &wlen};
    CHECK(sim_run(&g.s, 120 * SEC, got_all, &w));
    CHECK_EQ(k->rx_len, wlen);
    CHECK(k->rx_len == wlen && memcmp(k->rx, want, wlen) == 0);
    CHECK_EQ(k->tx_off, len);
    CHECK_EQ(g.S.sp.cnt.echoed, n_echo);
    CHECK(g.S.sp.cnt.stalls > 0);
    k->fin_after = true;
    CHECK(sim_run(&g.s, 60 * SEC, all_closed, &g));
    CHECK_EQ(k->fins, 1);
    CHECK_EQ(k->resets + k->timeouts + g.S.resets + g.S.timeouts, 0);
    CHECK_EQ(g.S.sp.cnt.backlogged, 0);
    rig_free(&g);
}

static void get_state(void *arg, efvitcp_conn *c)
{
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(c, &st);
    *(efvitcp_state *)arg = st.state;
}

static bool client_sent_all(void *arg)
{
    cconn *k = arg;
    return k->fin_sent;
}

/* The peer's FIN arrives behind input held back: every complete message is still answered, and
   the server's FIN comes after the last echo. Echoes stream, so the beginning of a message cut
   short by the FIN has been echoed too (a stock server would drop it; its client, which closed
   first, does not read it either way). */
static void test_fin_behind_held_input(void)
{
    rig g;
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sc.send_slots = 8;
    sc.recv_buf_size = 65536;
    sim_default_config(&cc, 2);
    cc.recv_buf_size = 8192;
    CHECK_NULL_ERR(rig_init(&g, SP_MAX_MSG, 4096, &sc, &cc));
    static uint8_t tx[40000];
    uint32_t counts[4];
    uint32_t len = mixed_stream(tx, sizeof(tx) - 100, 1000, 700, 31, counts);
    static uint8_t want[40000];
    uint32_t n_echo, wlen = model_echo(tx, len, want, &n_echo);
    /* a message cut short by the FIN */
    rng r = {3};
    uint32_t cut = len;
    put_msg(tx, &cut, 99999, SP_FLAG_CLIENT | SP_FLAG_PONG, 90, &r);
    len += 50;
    memcpy(want + wlen, tx + len - 50, 50);
    want[wlen + 9] &= (uint8_t)~SP_FLAG_CLIENT;
    wlen += 50;
    cconn *k = rig_connect(&g, tx, len, wlen + 200);
    k->reading = false;
    k->fin_after = true;
    REQUIRE(sim_run(&g.s, SEC, all_established, &g.C));
    CHECK(sim_run(&g.s, 10 * SEC, client_sent_all, k));
    sim_run_for(&g.s, SEC);
    efvitcp_state state = EFVITCP_CLOSED;
    efvitcp_server_foreach(g.s.srv, get_state, &state);
    CHECK_EQ(state, EFVITCP_CLOSE_WAIT); /* the FIN is in, behind held input */
    CHECK_EQ(g.S.sp.cnt.backlogged, 1);
    CHECK(g.S.sp.cnt.stalls > 0);
    CHECK_EQ(k->fins, 0);
    k->reading = true;
    CHECK(sim_run(&g.s, 60 * SEC, all_closed, &g));
    CHECK_EQ(k->fins, 1);
    CHECK_EQ(k->rx_len, wlen);
    CHECK(k->rx_len == wlen && memcmp(k->rx, want, wlen) == 0);
    CHECK_EQ(g.S.sp.cnt.echoed, n_echo + 1); /* the one cut short */
    CHECK_EQ(k->resets + k->timeouts + g.S.resets + g.S.timeouts, 0);
    CHECK_EQ(g.S.sp.cnt.backlogged, 0);
    rig_free(&g);
}

/* Several connections at once, each with its own stream, cuts and echo. */
static void test_many_conns(void)
{
    rig g;
    CHECK_NULL_ERR(rig_init(&g, SP_MAX_MSG, 65536, NULL, NULL));
    static uint8_t tx[MAXCC][60000], want[MAXCC][60000];
    uint32_t wlen[MAXCC], echoes = 0;
    for (int i = 0; i < MAXCC; i++) {
        uint32_t counts[4], n_echo;
        uint32_t len = mixed_stream(tx[i], sizeof(tx[i]), 400, 400, 1000 + (uint64_t)i, counts);
        wlen[i] = model_echo(tx[i], len, want[i], &n_echo);
        echoes += n_echo;
        cconn *k = rig_connect(&g, tx[i], len, wlen[i] + 64);
        k->rand_max = 1 + 300 * (uint32_t)i;
    }
    REQUIRE(sim_run(&g.s, SEC, all_established, &g.C));
    want_rx w = {&g.C, wlen};
    CHECK(sim_run(&g.s, 60 * SEC, got_all, &w));
    CHECK_EQ(g.S.established, MAXCC);
    for (int i = 0; i < MAXCC; i++) {
        cconn *k = &g.C.cc[i];
        CHECK_EQ(k->rx_len, wlen[i]);
        CHECK(k->rx_len == wlen[i] && memcmp(k->rx, want[i], wlen[i]) == 0);
        k->fin_after = true;
    }
    CHECK_EQ(g.S.sp.cnt.echoed, echoes);
    CHECK(sim_run(&g.s, 10 * SEC, all_closed, &g));
    CHECK_EQ(g.S.closed, MAXCC);
    rig_free(&g);
}

int main(void)
{
    RUN(test_header_fields);
    RUN(test_echo_flags);
    RUN(test_coalesced);
    RUN(test_one_byte);
    RUN(test_random_split);
    RUN(test_max_size);
    RUN(test_bad_length);
    RUN(test_backpressure);
    RUN(test_fin_behind_held_input);
    RUN(test_many_conns);
    return th_summary();
}
