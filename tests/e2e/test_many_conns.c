/*
 * Many connections to one server instance (the scale target in docs/benchmarks.md: 10,000
 * connections on one instance): N connections from one client over the sim rig (virtual time),
 * opened in batches; each one carries a message that names it and gets a transformed echo, both
 * checked byte for byte and against the 4-tuple it arrived on; then every connection closes
 * cleanly. Counters of both instances are checked at each step, the server must refuse the
 * connection beyond max_conns, and idle time must not make the timer wheel walk the connections'
 * keepalive timers.
 *
 * N is 10000 in every build: the whole run takes about a second under AddressSanitizer.
 */
#include "api/instance.h" /* the server's timer wheel, for the idle check */
#include "harness.h"
#include "sim.h"

#define N_CONNS      10000u
#define PORT         7100
#define BATCH        256u /* handshakes (or messages, or closes) outstanding at once */
#define MSG          8u
#define XOR          0x5au /* the server's reply is the message with every byte XORed */
#define SEC          1000000000ull
#define KEEPALIVE_MS 3600000u /* an hour: armed on every server connection, never due here */

typedef struct cli_conn {
    uint32_t idx;
    uint32_t got; /* reply bytes received and checked */
} cli_conn;

typedef struct srv_conn {
    uint32_t got;
    uint8_t msg[MSG];
} srv_conn;

static struct {
    efvitcp_conn *conn[N_CONNS];
    uint16_t port[N_CONNS]; /* the client's local port of connection idx */
    uint32_t target;        /* the count the run waits for */
    uint64_t cli_est, srv_est, cli_closed, srv_closed, srv_fins;
    uint64_t replies_ok, bad, srv_msgs, failures, timeouts;
} G;

static void msg_for(uint32_t idx, uint8_t m[MSG])
{
    for (uint32_t k = 0; k < MSG; k++)
        m[k] = k < 4 ? (uint8_t)(idx >> (8 * k)) : (uint8_t)(idx * 7u + k * 13u);
}

static void cli_est(void *ctx, efvitcp_conn *c)
{
    G.cli_est++;
}
static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    cli_conn *u = efvitcp_user_data(c);
    uint8_t m[MSG];
    msg_for(u->idx, m);
    for (uint32_t i = 0; i < n; i++)
        if (u->got + i >= MSG || d[i] != (uint8_t)(m[u->got + i] ^ XOR)) {
            G.bad++;
            return 0;
        }
    u->got += n;
    if (u->got == MSG) G.replies_ok++;
    return 0;
}
static void cli_closed(void *ctx, efvitcp_conn *c)
{
    G.cli_closed++;
}
static void cli_timeout(void *ctx, efvitcp_conn *c)
{
    G.timeouts++;
}
static void failed(void *ctx, efvitcp_conn *c)
{
    G.failures++;
}

static void srv_est(void *ctx, efvitcp_conn *c)
{
    G.srv_est++;
}
/* Collects the message, checks that it came on the connection it names, and answers. */
static uint32_t srv_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    srv_conn *u = efvitcp_user_data(c);
    if (u->got + n > MSG) {
        G.bad++;
        return 0;
    }
    memcpy(u->msg + u->got, d, n);
    u->got += n;
    if (u->got < MSG) return 0;
    uint32_t idx = (uint32_t)u->msg[0] | (uint32_t)u->msg[1] << 8 | (uint32_t)u->msg[2] << 16 |
                   (uint32_t)u->msg[3] << 24;
    uint8_t m[MSG];
    struct sockaddr_in peer;
    efvitcp_peername(c, &peer);
    if (idx >= N_CONNS || (msg_for(idx, m), memcmp(m, u->msg, MSG) != 0) ||
        ntohs(peer.sin_port) != G.port[idx] || efvitcp_local_port(c) != PORT) {
        G.bad++;
        return 0;
    }
    for (uint32_t k = 0; k < MSG; k++) m[k] ^= XOR;
    if (efvitcp_send(c, m, MSG, false) != MSG) G.bad++;
    G.srv_msgs++;
    return 0;
}
static void srv_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    G.srv_fins++;
    if (n || efvitcp_send_fin(c)) G.bad++;
}
static void srv_closed(void *ctx, efvitcp_conn *c)
{
    G.srv_closed++;
}

/* Runs until both counters reach G.target; nothing is lost, so the next event is never a second
   of virtual time away. Says why on failure. */
static bool run_until(sim *s, const uint64_t *a, const uint64_t *b)
{
    const char *why = "too many polls";
    for (uint32_t i = 0; i < 1000000; i++) {
        sim_poll(s);
        if (*a >= G.target && *b >= G.target) return true;
        if (G.failures || G.bad) {
            why = "a connection failed or a byte was wrong";
            break;
        }
        uint64_t t = efvitcp_wire_next_delivery(s->wire);
        uint64_t x = efvitcp_server_next_timer(s->srv), y = efvitcp_client_next_timer(s->cli);
        if (x < t) t = x;
        if (y < t) t = y;
        uint64_t now = sim_now(s);
        if (t > now + SEC) {
            why = "stalled";
            break;
        }
        if (t > now) efvitcp_wire_set_now(s->wire, t);
    }
    fprintf(stderr,
            "run_until: %s: %" PRIu64 " and %" PRIu64 " of %u; failures %" PRIu64 ", bad %" PRIu64
            "\n",
            why, *a, *b, G.target, G.failures, G.bad);
    return false;
}

static void ids_seen(void *arg, efvitcp_conn *c)
{
    uint8_t *seen = arg;
    uint32_t id = efvitcp_conn_id(c);
    if (id < N_CONNS && efvitcp_is_established(c)) seen[id]++;
}

static void test_many_connections(void)
{
    memset(&G, 0, sizeof(G));
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sim_default_config(&cc, 2);
    sc.max_conns = N_CONNS;
    cc.max_conns = N_CONNS + 1; /* one more than the server takes */
    sc.send_slots = cc.send_slots = 4;
    sc.send_buf_1k = cc.send_buf_1k = true;
    sc.recv_buf_size = cc.recv_buf_size = 1024;
    sc.user_data_size = sizeof(srv_conn);
    cc.user_data_size = sizeof(cli_conn);
    sc.keepalive_ms = KEEPALIVE_MS;
    cc.max_time_wait = N_CONNS;
    cc.time_wait_ms = 1000;
    cc.syn_retries = 1;
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 5000;
    sim s;
    const char *err = sim_init(&s, &wc, &sc, &cc, PORT);
    CHECK_NULL_ERR(err);
    REQUIRE(!err);
    s.sh = (efvitcp_handler){.on_established = srv_est,
                             .on_data = srv_data,
                             .on_fin = srv_fin,
                             .on_closed = srv_closed,
                             .on_reset = failed,
                             .on_timeout = failed};
    s.ch = (efvitcp_handler){.on_connection_refused = failed,
                             .on_established = cli_est,
                             .on_data = cli_data,
                             .on_closed = cli_closed,
                             .on_reset = failed,
                             .on_timeout = cli_timeout};

    /* Setup, BATCH handshakes at a time. */
    for (uint32_t i = 0; i < N_CONNS;) {
        uint32_t end = i + BATCH < N_CONNS ? i + BATCH : N_CONNS;
        for (; i < end; i++) {
            efvitcp_conn *c = NULL;
            err = efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &c);
            CHECK_NULL_ERR(err);
            REQUIRE(!err && c);
            ((cli_conn *)efvitcp_user_data(c))->idx = i;
            G.conn[i] = c;
            G.port[i] = efvitcp_local_port(c);
        }
        G.target = end;
        REQUIRE(run_until(&s, &G.cli_est, &G.srv_est));
    }
    CHECK_EQ(efvitcp_server_conn_count(s.srv), N_CONNS);
    efvitcp_stats ss, cs;
    efvitcp_server_stats(s.srv, &ss);
    efvitcp_client_stats(s.cli, &cs);
    CHECK_EQ(ss.conns_accepted, N_CONNS);
    CHECK_EQ(ss.conns_active, N_CONNS);
    CHECK_EQ(cs.conns_opened, N_CONNS);
    CHECK_EQ(cs.conns_active, N_CONNS);
    /* Every slot of the server is in use, once each. */
    static uint8_t seen[N_CONNS];
    memset(seen, 0, sizeof(seen));
    efvitcp_server_foreach(s.srv, ids_seen, seen);
    uint32_t once = 0;
    for (uint32_t i = 0; i < N_CONNS; i++) once += seen[i] == 1;
    CHECK_EQ(once, N_CONNS);

    /* Full: the next SYN is dropped (like a full backlog) until the client gives up. */
    efvitcp_conn *extra = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &extra));
    sim_run_for(&s, 10 * SEC);
    CHECK_EQ(G.timeouts, 1);
    efvitcp_server_stats(s.srv, &ss);
    CHECK_EQ(ss.drops[EFVITCP_DROP_LISTEN_FULL], 2); /* the SYN and its one retransmission */
    CHECK_EQ(efvitcp_server_conn_count(s.srv), N_CONNS);
    CHECK_EQ(G.failures, 0);

    /* One message per connection, answered and checked. */
    for (uint32_t i = 0; i < N_CONNS;) {
        uint32_t end = i + BATCH < N_CONNS ? i + BATCH : N_CONNS;
        for (; i < end; i++) {
            uint8_t m[MSG];
            msg_for(i, m);
            CHECK_EQ(efvitcp_send(G.conn[i], m, MSG, false), MSG);
        }
        G.target = end;
        REQUIRE(run_until(&s, &G.replies_ok, &G.srv_msgs));
    }
    CHECK_EQ(G.bad, 0);
    sim_run_for(&s, 100000000); /* delayed ACKs, then quiet */
    efvitcp_server_stats(s.srv, &ss);
    efvitcp_client_stats(s.cli, &cs);
    CHECK_EQ(ss.bytes_in, (uint64_t)N_CONNS * MSG);
    CHECK_EQ(ss.bytes_out, (uint64_t)N_CONNS * MSG);
    CHECK_EQ(cs.bytes_in, (uint64_t)N_CONNS * MSG);
    CHECK_EQ(ss.retransmits, 0);
    CHECK_EQ(cs.retransmits, 1); /* the extra connection's SYN */

    /* Idle: only the keepalive timers are armed, an hour away, and time passing in small steps
       must not make the wheel walk them (one wheel step costs nothing per timer; a walk would
       be N steps or more). */
    /* The engine's own timers: the efvi link (e2e-efvi) may add a deadline of its own to
       efvitcp_client_next_timer, the retry of flows its emulated NIC had no filter for. */
    CHECK_EQ(et_stack_next_timed(&((struct efvitcp_client *)s.cli)->st), UINT64_MAX);
    uint64_t ka = efvitcp_server_next_timer(s.srv);
    CHECK(ka != UINT64_MAX && ka > sim_now(&s) + 3000 * SEC);
    et_stack *sst = &((struct efvitcp_server *)s.srv)->st;
    CHECK_EQ(sst->wheel.count, N_CONNS);
    uint64_t steps = sst->wheel.steps, frames = ss.frames_in;
    for (uint32_t i = 0; i < 10000; i++) {
        efvitcp_wire_set_now(s.wire, sim_now(&s) + 1000000);
        sim_poll(&s);
    }
    efvitcp_server_stats(s.srv, &ss);
    CHECK_EQ(ss.frames_in, frames);
    CHECK(sst->wheel.steps - steps <= 8);

    /* Clean close, BATCH at a time: the client closes first and keeps TIME_WAIT. */
    for (uint32_t i = 0; i < N_CONNS;) {
        uint32_t end = i + BATCH < N_CONNS ? i + BATCH : N_CONNS;
        for (; i < end; i++) CHECK_NULL_ERR(efvitcp_send_fin(G.conn[i]));
        G.target = end;
        REQUIRE(run_until(&s, &G.cli_closed, &G.srv_closed));
    }
    CHECK_EQ(G.srv_fins, N_CONNS);
    CHECK_EQ(G.failures, 0);
    CHECK_EQ(G.bad, 0);
    CHECK_EQ(efvitcp_server_conn_count(s.srv), 0);
    efvitcp_server_stats(s.srv, &ss);
    efvitcp_client_stats(s.cli, &cs);
    CHECK_EQ(ss.conns_closed, N_CONNS);
    CHECK_EQ(ss.conns_active, 0);
    CHECK_EQ(ss.conns_reset + ss.conns_timeout + ss.rst_sent, 0);
    CHECK_EQ(ss.time_wait_active, 0);
    CHECK_EQ(cs.conns_closed, N_CONNS);
    CHECK_EQ(cs.conns_active, 0);
    CHECK_EQ(cs.conns_timeout, 1);
    CHECK_EQ(cs.time_wait_active, N_CONNS);
    CHECK_EQ(cs.time_wait_evicted, 0);
    CHECK_EQ(sst->wheel.count, 0);
    sim_run_for(&s, 2 * SEC);
    efvitcp_client_stats(s.cli, &cs);
    CHECK_EQ(cs.time_wait_active, 0);
    sim_free(&s);
}

int main(void)
{
    RUN(test_many_connections);
    return th_summary();
}
