/*
 * Scale benchmark: many connections to one server instance over the mem link (latency 0), every
 * instance polled from one loop. Rates are measured with the real clock. During setup and
 * teardown the wire's clock is virtual and set to the real time once per loop, as a NIC link
 * reads the clock once per poll (the mem wire reads it for every frame it carries, which would
 * add its cost to every segment); the idle polls read the real clock, as a user's poll does.
 *
 *   scale_bench [--quick] [--conns N] [--max N] [--window W] [--polls P]
 *   scale_bench --callgrind --idle-k K [--polls P] [--keepalive]
 *
 * Phases (each prints a human summary and RESULT lines, see bench-conventions):
 *   1. setup and teardown rate: N connections from client instances to one server, opened with at
 *      most W handshakes outstanding, until both sides reported them established (the server's
 *      accept included); one 16-byte message per connection echoed and checked byte for byte;
 *      then a FIN from every client until both sides reported them closed. Once with the default
 *      config and once with a small-footprint one (4 KiB receive buffer, 8 send slots).
 *   2. memory per connection of those two servers: the growth of the mapped memory at init (all
 *      of an instance's memory is sized there) and of the resident memory once the N connections
 *      exist and carried data, both divided by N, next to the sum the config implies.
 *   3. max concurrent: one small-footprint server holding --max connections at once (default
 *      65000; 10000 or --conns with --quick).
 *   4. idle poll: the cost of one server poll that finds nothing to do, with K = 0, 10, 100,
 *      1000, 10000 idle established connections, without timers and with a keepalive timer armed
 *      on every connection (none due). It must not depend on K.
 *
 * A client instance has at most PORT_BUDGET local ports in use (its ephemeral range is widened to
 * 1024..65535, and at most half of it in use keeps the port search short): its connections plus
 * the TIME_WAIT records of the previous round (it is the active closer; it keeps one round's
 * worth, older ones are evicted). More connections use more client instances, each with its own
 * address.
 *
 * Every instance runs with min_rto_us = 200 ms (Linux's floor) instead of 5 ms: one thread
 * drives both ends of thousands of handshakes, and a scheduling hiccup of the process (the
 * machine may be shared) must not turn into spurious retransmission storms that the rate would
 * then measure. Nothing is lost on the wire, so no retransmission is needed.
 *
 * Slots are cold the first time they are used after init: the engine's per-connection arrays
 * (connection records, segment arrays, receive buffers) are calloc'd, so the kernel maps their
 * pages at first touch and the first connection on a slot takes the page faults (with the
 * default config about one per connection: 256 segment records are 6 KiB). So setup runs on each
 * server once "cold" (first use of every slot) and then WARM_ROUNDS times "warm" (the slots
 * again, after the previous round closed).
 *
 * --callgrind sets up K idle connections and runs bench_loop_idle for P polls and nothing else,
 * printing no timing, for bench/run_scale_callgrind.sh (callgrind --toggle-collect=bench_loop_*).
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "tcp/stack.h" /* struct sizes, for the memory the config implies */

#define SERVER_IP    "198.18.0.1"
#define PORT         5001
#define MSG_SIZE     16
#define MAX_CLIENTS  16
#define PORT_BUDGET  32768u
#define MAX_CONNS    (MAX_CLIENTS * PORT_BUDGET / 2) /* 2 ports per connection, see above */
#define SEC          1000000000ull
#define STALL_NS     (20 * SEC) /* no progress for this long: something is broken */
#define WARM_ROUNDS  3 /* the rates reported are the best of these (the machine may be shared) */
#define IDLE_BATCHES 5 /* idem for the idle poll */
#define MIN_RTO_US   200000u
#define KEEPALIVE_MS 3600000u /* an hour: armed on every connection, never due during a run */
#define NOINLINE     __attribute__((noinline))

typedef struct cli_conn {
    uint32_t idx; /* which connection: its message is derived from it */
    uint32_t got; /* echo bytes received and checked */
} cli_conn;

typedef struct srv_conn {
    uint32_t got;
} srv_conn;

typedef struct scale {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli[MAX_CLIENTS];
    uint32_t n_cli;
    uint32_t cap;        /* connections the client instances and the array hold */
    efvitcp_conn **conn; /* client side, by index */
    bool server_keepalive;
    bool virt;     /* the wire's clock is virtual, moved to the real clock once per loop */
    uint64_t base; /* real time at which the virtual clock read 0 */
    /* counters of the round in progress, zeroed by round_reset */
    uint64_t cli_est, srv_est, cli_closed, srv_closed;
    uint64_t echo_ok, echo_bad, srv_msgs, srv_bytes;
    uint64_t failures;
    uint64_t callbacks; /* every callback of the server: an idle poll must make none */
    const char *why;
} scale;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("scale_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void msg_for(uint32_t idx, uint8_t out[MSG_SIZE])
{
    for (uint32_t k = 0; k < MSG_SIZE; k++)
        out[k] = k < 4 ? (uint8_t)(idx >> (8 * k)) : (uint8_t)(idx * 131u + k * 29u + (idx >> 9));
}

/* ---- callbacks ---- */

static void fail(scale *s, const char *why)
{
    s->failures++;
    if (!s->why) s->why = why;
}

static void cli_est(void *ctx, efvitcp_conn *c)
{
    ((scale *)ctx)->cli_est++;
}

static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    scale *s = ctx;
    cli_conn *u = efvitcp_user_data(c);
    uint8_t want[MSG_SIZE];
    msg_for(u->idx, want);
    if (u->got + n > MSG_SIZE || memcmp(d, want + u->got, n) != 0) {
        s->echo_bad++;
        return 0;
    }
    u->got += n;
    if (u->got == MSG_SIZE) s->echo_ok++;
    return 0;
}

static void cli_closed(void *ctx, efvitcp_conn *c)
{
    ((scale *)ctx)->cli_closed++;
}

static void cli_refused(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "client: connection refused");
}
static void cli_reset(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "client: connection reset");
}
static void cli_timeout(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "client: connection timed out");
}

static void srv_est(void *ctx, efvitcp_conn *c)
{
    scale *s = ctx;
    s->callbacks++;
    s->srv_est++;
}

static uint32_t srv_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    scale *s = ctx;
    s->callbacks++;
    srv_conn *u = efvitcp_user_data(c);
    s->srv_bytes += n;
    u->got += n;
    if (u->got == MSG_SIZE) s->srv_msgs++;
    if (efvitcp_send(c, d, n, false) != n) fail(s, "server: echo send refused");
    return 0;
}

static void srv_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    scale *s = ctx;
    s->callbacks++;
    if (efvitcp_send_fin(c)) fail(s, "server: send_fin failed");
}

static void srv_closed(void *ctx, efvitcp_conn *c)
{
    scale *s = ctx;
    s->callbacks++;
    s->srv_closed++;
}

static void srv_lost(void *ctx, efvitcp_conn *c)
{
    scale *s = ctx;
    s->callbacks++;
    fail(s, "server: connection reset or timed out");
}

static const efvitcp_handler client_handler = {
    .on_connection_refused = cli_refused,
    .on_established = cli_est,
    .on_data = cli_data,
    .on_closed = cli_closed,
    .on_reset = cli_reset,
    .on_timeout = cli_timeout,
};

static const efvitcp_handler server_handler = {
    .on_established = srv_est,
    .on_data = srv_data,
    .on_fin = srv_fin,
    .on_closed = srv_closed,
    .on_reset = srv_lost,
    .on_timeout = srv_lost,
};

/* ---- memory ---- */

typedef struct mem_sample {
    uint64_t vm, rss; /* bytes */
} mem_sample;

static mem_sample mem_now(void)
{
    mem_sample m = {0, 0};
    unsigned long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) size = res = 0;
        fclose(f);
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    m.vm = size * page;
    m.rss = res * page;
    return m;
}

/* The bytes per connection that the config sizes at init (mem link): what the engine allocates
   per connection, plus its share of what is sized by max_conns + max_time_wait. */
static double config_bytes_per_conn(const efvitcp_config *cfg, bool print)
{
    double slots = cfg->send_slots, tx_buf = cfg->send_buf_1k ? 1024 : 2048;
    double conn = sizeof(et_conn);
    double ring = slots * (sizeof(et_seg) + tx_buf + 1 /* tx_busy */ + 4 /* link done ring */);
    double rbuf = cfg->recv_buf_size;
    double other = cfg->ooo_ranges * sizeof(et_ooo) + cfg->user_timers * sizeof(et_timer) +
                   cfg->user_data_size;
    uint64_t table = 16;
    while (table < 2ull * (cfg->max_conns + cfg->max_time_wait)) table <<= 1;
    double shared =
        ((double)table * 12 + (double)cfg->max_time_wait * sizeof(et_tw)) / cfg->max_conns;
    if (print)
        printf("    config: conn %.0f + send ring %.0f (%u slots of %.0f B) + recv buf %.0f + "
               "ooo/timers/user %.0f + table/TIME_WAIT share %.0f\n",
               conn, ring, cfg->send_slots, tx_buf, rbuf, other, shared);
    return conn + ring + rbuf + other + shared;
}

/* ---- instances ---- */

static void small_config(efvitcp_config *cfg)
{
    cfg->recv_buf_size = 4096;
    cfg->send_slots = 8;
}

static void make_wire(scale *s, bool virt)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = virt;
    s->virt = virt;
    s->base = now_ns();
    wc.latency_ns = 0;
    wc.max_ports = MAX_CLIENTS + 2;
    const char *err = efvitcp_wire_new(&s->wire, &wc);
    if (err) die("wire: %s", err);
}

/* Client instances for n connections, small-footprint, as many as the port budget needs. */
static void make_clients(scale *s, uint32_t n)
{
    s->cap = n;
    uint64_t ports = 2ull * n;
    s->n_cli = (uint32_t)((ports + PORT_BUDGET - 1) / PORT_BUDGET);
    if (s->n_cli == 0) s->n_cli = 1;
    if (s->n_cli > MAX_CLIENTS) die("at most %u connections", MAX_CONNS);
    s->conn = calloc(n ? n : 1, sizeof(*s->conn));
    if (!s->conn) die("out of memory");
    uint32_t per = (n + s->n_cli - 1) / s->n_cli;
    for (uint32_t i = 0; i < s->n_cli; i++) {
        efvitcp_config cfg;
        efvitcp_config_default(&cfg);
        /* The smallest footprint: a client sends 16 bytes per connection. */
        cfg.send_slots = 4;
        cfg.send_buf_1k = true;
        cfg.recv_buf_size = 1024;
        cfg.max_conns = per ? per : 1;
        cfg.max_time_wait = cfg.max_conns;
        cfg.min_rto_us = MIN_RTO_US;
        cfg.ephemeral_min = 1024;
        cfg.ephemeral_max = 65535;
        cfg.user_data_size = sizeof(cli_conn);
        cfg.seed = 100 + i;
        cfg.wire = s->wire;
        char addr[32], name[32];
        snprintf(addr, sizeof(addr), "198.18.0.%u/16", 2 + i);
        snprintf(name, sizeof(name), "mem:client%u", i);
        cfg.local_addr = addr;
        const char *err = efvitcp_client_init(&s->cli[i], name, &cfg);
        if (err) die("client %u: %s", i, err);
    }
}

static const char *make_server(scale *s, const efvitcp_config *base, uint32_t max_conns)
{
    efvitcp_config cfg = *base;
    cfg.max_conns = max_conns;
    cfg.user_data_size = sizeof(srv_conn);
    cfg.min_rto_us = MIN_RTO_US;
    cfg.seed = 1;
    cfg.wire = s->wire;
    cfg.local_addr = SERVER_IP "/16";
    if (s->server_keepalive) cfg.keepalive_ms = KEEPALIVE_MS;
    const char *err = efvitcp_server_init(&s->srv, "mem:server", &cfg);
    if (!err) err = efvitcp_server_listen(s->srv, PORT);
    return err;
}

static void close_server(scale *s)
{
    efvitcp_server_close(s->srv);
    s->srv = NULL;
}

static void close_all(scale *s)
{
    if (s->srv) close_server(s);
    for (uint32_t i = 0; i < s->n_cli; i++) efvitcp_client_close(s->cli[i]);
    efvitcp_wire_free(s->wire);
    free(s->conn);
    memset(s, 0, sizeof(*s));
}

/* Moves a virtual wire clock to the real time: before the connection operations of a loop too,
   so that what they send is stamped with the current time (a stale stamp would make its timer
   fire early). */
static void sync_clock(scale *s)
{
    if (s->virt) efvitcp_wire_set_now(s->wire, now_ns() - s->base);
}

static void poll_all(scale *s)
{
    efvitcp_server_poll(s->srv, &server_handler, s);
    for (uint32_t i = 0; i < s->n_cli; i++) efvitcp_client_poll(s->cli[i], &client_handler, s);
}

static void round_reset(scale *s)
{
    s->cli_est = s->srv_est = s->cli_closed = s->srv_closed = 0;
    s->echo_ok = s->echo_bad = s->srv_msgs = s->srv_bytes = 0;
}

/* ---- the three operations, one connection at a time ---- */

static void op_open(scale *s, uint32_t i)
{
    uint32_t per = (s->cap + s->n_cli - 1) / s->n_cli;
    efvitcp_conn *c;
    const char *err = efvitcp_client_connect(s->cli[i / per], SERVER_IP, PORT, 0, &c);
    if (err) die("connect %u: %s", i, err);
    ((cli_conn *)efvitcp_user_data(c))->idx = i;
    s->conn[i] = c;
}

static void op_send(scale *s, uint32_t i)
{
    uint8_t m[MSG_SIZE];
    msg_for(i, m);
    if (efvitcp_send(s->conn[i], m, MSG_SIZE, false) != MSG_SIZE) die("send %u refused", i);
}

static void op_fin(scale *s, uint32_t i)
{
    const char *err = efvitcp_send_fin(s->conn[i]);
    if (err) die("send_fin %u: %s", i, err);
}

/*
 * Applies op to connections [from, to) with at most window of them outstanding, where one is
 * done when both *a and *b have counted it, and polls until all are done. Returns the seconds.
 */
static double drive(scale *s, const char *what, uint32_t from, uint32_t to,
                    void (*op)(scale *, uint32_t), const uint64_t *a, const uint64_t *b,
                    uint32_t window)
{
    uint64_t a0 = *a, b0 = *b, want = to - from, last_done = 0;
    uint32_t next = from;
    uint64_t t0 = now_ns(), last_progress = t0;
    for (uint64_t spins = 0;; spins++) {
        uint64_t da = *a - a0, db = *b - b0, done = da < db ? da : db;
        if (done >= want) break;
        sync_clock(s);
        while (next < to && (next - from) - done < window) op(s, next++);
        poll_all(s);
        if (s->failures) die("%s: %s", what, s->why);
        if (done != last_done) {
            last_done = done;
            last_progress = 0;
        }
        if ((spins & 1023) == 0) {
            uint64_t t = now_ns();
            if (!last_progress) last_progress = t;
            if (t - last_progress > STALL_NS)
                die("%s stalled: %" PRIu64 " of %" PRIu64 " done", what, done, want);
        }
    }
    return (double)(now_ns() - t0) / 1e9;
}

/* Polls until nothing is in flight and the server has no timer armed (with keepalive: none due
   within the next second), nor the clients one due soon (they keep TIME_WAIT records of earlier
   rounds): the connections are idle. */
static void quiesce(scale *s)
{
    uint64_t t0 = now_ns();
    for (;;) {
        sync_clock(s);
        poll_all(s);
        uint64_t now = now_ns(), soon = efvitcp_wire_now(s->wire) + SEC;
        bool idle = efvitcp_wire_next_delivery(s->wire) == UINT64_MAX &&
                    efvitcp_server_next_timer(s->srv) >= (s->server_keepalive ? soon : UINT64_MAX);
        for (uint32_t i = 0; i < s->n_cli && idle; i++)
            idle = efvitcp_client_next_timer(s->cli[i]) >= soon;
        if (idle) return;
        if (now - t0 > STALL_NS) die("connections never became idle");
    }
}

typedef struct round_result {
    double setup_s, exchange_s, teardown_s;
} round_result;

/* Opens connections [from, to), exchanges one message on each and checks it. */
static void grow(scale *s, uint32_t from, uint32_t to, uint32_t window, round_result *r)
{
    uint64_t bytes0 = s->srv_bytes;
    double t = drive(s, "setup", from, to, op_open, &s->cli_est, &s->srv_est, window);
    if (r) r->setup_s = t;
    if (efvitcp_server_conn_count(s->srv) != to)
        die("server holds %u connections, expected %u", efvitcp_server_conn_count(s->srv), to);
    t = drive(s, "exchange", from, to, op_send, &s->echo_ok, &s->srv_msgs, window);
    if (r) r->exchange_s = t;
    if (s->echo_bad) die("%" PRIu64 " echoes did not match", s->echo_bad);
    if (s->srv_bytes - bytes0 != (uint64_t)(to - from) * MSG_SIZE)
        die("server received %" PRIu64 " bytes, expected %" PRIu64, s->srv_bytes - bytes0,
            (uint64_t)(to - from) * MSG_SIZE);
}

static void shrink_all(scale *s, uint32_t n, uint32_t window, round_result *r)
{
    double t = drive(s, "teardown", 0, n, op_fin, &s->cli_closed, &s->srv_closed, window);
    if (r) r->teardown_s = t;
    if (efvitcp_server_conn_count(s->srv) != 0)
        die("server still holds %u connections", efvitcp_server_conn_count(s->srv));
}

/* ---- phases ---- */

/* Retransmissions so far: server, clients. */
static void retx_count(scale *s, uint64_t *srv, uint64_t *cli)
{
    efvitcp_stats st;
    efvitcp_server_stats(s->srv, &st);
    *srv = st.retransmits;
    *cli = 0;
    for (uint32_t i = 0; i < s->n_cli; i++) {
        efvitcp_client_stats(s->cli[i], &st);
        *cli += st.retransmits;
    }
}

static void print_round(scale *s, const char *what, uint32_t n, const round_result *r,
                        const uint64_t retx0[2])
{
    uint64_t rs, rc;
    retx_count(s, &rs, &rc);
    printf("    %s: setup %.1f ms = %.0f conns/s (both sides established), echo check %.1f ms, "
           "teardown %.1f ms = %.0f conns/s (both sides closed); retransmits: server %" PRIu64
           ", clients %" PRIu64 "\n",
           what, r->setup_s * 1e3, n / r->setup_s, r->exchange_s * 1e3, r->teardown_s * 1e3,
           n / r->teardown_s, rs - retx0[0], rc - retx0[1]);
}

/*
 * Setup, exchange and teardown of n connections to one server with config cfg (name: "default"
 * or "small"), twice (cold slots, then warm ones), and the memory per connection. The clients
 * and the wire are warmed up first by a full round against a throw-away server, so that the
 * resident memory that grows afterwards is the measured server's.
 */
static void phase_config(const char *name, const efvitcp_config *cfg, uint32_t n, uint32_t window)
{
    scale s;
    memset(&s, 0, sizeof(s));
    make_wire(&s, true);
    make_clients(&s, n);
    efvitcp_config warm;
    efvitcp_config_default(&warm);
    small_config(&warm);
    const char *err = make_server(&s, &warm, n);
    if (err) die("warm-up server: %s", err);
    grow(&s, 0, n, window, NULL);
    shrink_all(&s, n, window, NULL);
    close_server(&s);
    round_reset(&s);

    mem_sample m0 = mem_now();
    if ((err = make_server(&s, cfg, n))) die("server (%s config, %u conns): %s", name, n, err);
    mem_sample m1 = mem_now();
    printf("%s config (recv_buf %u, send_slots %u): %u connections to one server from %u "
           "client instance(s)\n",
           name, cfg->recv_buf_size, cfg->send_slots, n, s.n_cli);
    round_result cold = {0}, hot = {0};
    uint64_t retx[2] = {0, 0};
    grow(&s, 0, n, window, &cold);
    quiesce(&s);
    mem_sample m2 = mem_now();
    efvitcp_stats ss;
    efvitcp_server_stats(s.srv, &ss);
    if (ss.conns_accepted != n || ss.conns_active != n)
        die("server stats: accepted %" PRIu64 ", active %u", ss.conns_accepted, ss.conns_active);
    shrink_all(&s, n, window, &cold);
    print_round(&s, "cold", n, &cold, retx);
    for (uint32_t i = 0; i < WARM_ROUNDS; i++) {
        round_result r;
        retx_count(&s, &retx[0], &retx[1]);
        round_reset(&s);
        grow(&s, 0, n, window, &r);
        shrink_all(&s, n, window, &r);
        print_round(&s, "warm", n, &r, retx);
        if (i == 0 || r.setup_s < hot.setup_s) hot.setup_s = r.setup_s;
        if (i == 0 || r.teardown_s < hot.teardown_s) hot.teardown_s = r.teardown_s;
    }
    uint64_t rounds = 1 + WARM_ROUNDS;
    efvitcp_server_stats(s.srv, &ss);
    if (ss.conns_accepted != rounds * n || ss.conns_closed != rounds * n || ss.conns_active != 0)
        die("server stats after close: accepted %" PRIu64 ", closed %" PRIu64 ", active %u",
            ss.conns_accepted, ss.conns_closed, ss.conns_active);

    double vm = (double)(m1.vm - m0.vm) / n;
    double rss_init = (double)(m1.rss - m0.rss) / n;
    double rss = (double)(m2.rss - m0.rss) / n;
    printf("    memory per connection: mapped at init %.0f B, resident after init %.0f B, "
           "resident with all established and used once %.0f B\n",
           vm, rss_init, rss);
    efvitcp_config full = *cfg;
    full.max_conns = n;
    full.user_data_size = sizeof(srv_conn);
    double formula = config_bytes_per_conn(&full, true);
    printf("    config sum %.0f B per connection (mapped / sum = %.3f)\n", formula, vm / formula);
    printf("    best warm round: setup %.0f conns/s, teardown %.0f conns/s\n", n / hot.setup_s,
           n / hot.teardown_s);
    printf("RESULT kind=rate name=setup-rate-%s value=%.0f unit=conns/s\n", name, n / hot.setup_s);
    printf("RESULT kind=rate name=setup-rate-%s-cold value=%.0f unit=conns/s\n", name,
           n / cold.setup_s);
    printf("RESULT kind=rate name=teardown-rate-%s value=%.0f unit=conns/s\n", name,
           n / hot.teardown_s);
    printf("RESULT kind=rate name=mem-per-conn-%s value=%.0f unit=bytes\n", name, vm);
    printf("RESULT kind=rate name=rss-per-conn-%s value=%.0f unit=bytes\n", name, rss);
    fflush(stdout);
    close_all(&s);
}

/* One small-footprint server holding n connections at once. */
static void phase_max(uint32_t n, uint32_t window)
{
    scale s;
    memset(&s, 0, sizeof(s));
    make_wire(&s, true);
    make_clients(&s, n);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    small_config(&cfg);
    mem_sample m0 = mem_now();
    const char *err = make_server(&s, &cfg, n);
    if (err) die("server (%u conns): %s", n, err);
    mem_sample m1 = mem_now();
    round_result r;
    grow(&s, 0, n, window, &r);
    quiesce(&s);
    uint32_t held = efvitcp_server_conn_count(s.srv);
    shrink_all(&s, n, window, &r);
    uint64_t retx[2] = {0, 0};
    printf("max concurrent: one small-config server held %u established connections at once "
           "(each checked by an echo) from %u client instance(s); %.0f MiB mapped\n",
           held, s.n_cli, (double)(m1.vm - m0.vm) / (1 << 20));
    print_round(&s, "cold", n, &r, retx);
    printf("RESULT kind=rate name=max-concurrent value=%u unit=conns\n", held);
    fflush(stdout);
    close_all(&s);
}

/* n polls of the server (the measured loop; callgrind collects only bench_loop_*). */
NOINLINE void bench_loop_idle(efvitcp_server *srv, void *ctx, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) efvitcp_server_poll(srv, &server_handler, ctx);
}

/* Measures idle polls for every K in ks (ascending), growing one server's connections. */
static void idle_run(const uint32_t *ks, uint32_t nk, uint32_t polls, bool keepalive,
                     bool callgrind, uint32_t window)
{
    uint32_t kmax = ks[nk - 1];
    scale s;
    memset(&s, 0, sizeof(s));
    s.server_keepalive = keepalive;
    make_wire(&s, false);
    make_clients(&s, kmax);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    small_config(&cfg);
    /* Sized for the largest K throughout, so that only the number of connections changes. */
    const char *err = make_server(&s, &cfg, kmax ? kmax : 1);
    if (err) die("server: %s", err);
    uint32_t have = 0;
    for (uint32_t j = 0; j < nk; j++) {
        uint32_t k = ks[j];
        if (k > have) grow(&s, have, k, window, NULL);
        have = k;
        quiesce(&s);
        efvitcp_stats before, after;
        efvitcp_server_stats(s.srv, &before);
        uint64_t cb = s.callbacks;
        if (callgrind) {
            bench_loop_idle(s.srv, &s, polls);
        } else {
            bench_loop_idle(s.srv, &s, polls / 100 + 1); /* warm-up */
            double ns = 0;
            for (uint32_t b = 0; b < IDLE_BATCHES; b++) {
                uint64_t t0 = now_ns();
                bench_loop_idle(s.srv, &s, polls);
                double x = (double)(now_ns() - t0) / polls;
                if (b == 0 || x < ns) ns = x;
            }
            const char *tag = keepalive ? "-ka" : "";
            printf("    K=%-6u %7.1f ns per idle poll%s\n", k, ns,
                   keepalive ? " (a keepalive timer armed per connection)" : "");
            printf("RESULT kind=rate name=idle-poll%s-ns-K%u value=%.1f unit=ns\n", tag, k, ns);
        }
        efvitcp_server_stats(s.srv, &after);
        if (after.frames_in != before.frames_in || after.segs_out != before.segs_out ||
            s.callbacks != cb || efvitcp_server_conn_count(s.srv) != k)
            die("an idle poll did something (K=%u)", k);
        fflush(stdout);
    }
    close_all(&s);
}

static uint32_t parse_u32(const char *opt, const char *v, uint32_t lo, uint32_t hi)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) die("%s wants %u..%u", opt, lo, hi);
    return (uint32_t)x;
}

int main(int argc, char **argv)
{
    bool quick = false, callgrind = false, keepalive = false;
    uint32_t conns = 10000, max = 0, window = 1024, polls = 0, idle_k = UINT32_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--callgrind") == 0) {
            callgrind = true;
        } else if (strcmp(a, "--keepalive") == 0) {
            keepalive = true;
        } else if (strcmp(a, "--conns") == 0 && v) {
            conns = parse_u32(a, v, 1, MAX_CONNS), i++;
        } else if (strcmp(a, "--max") == 0 && v) {
            max = parse_u32(a, v, 1, MAX_CONNS), i++;
        } else if (strcmp(a, "--window") == 0 && v) {
            window = parse_u32(a, v, 1, 1u << 20), i++;
        } else if (strcmp(a, "--polls") == 0 && v) {
            polls = parse_u32(a, v, 1, 1000000000u), i++;
        } else if (strcmp(a, "--idle-k") == 0 && v) {
            idle_k = parse_u32(a, v, 0, MAX_CONNS), i++;
        } else {
            die("usage: scale_bench [--quick] [--conns N] [--max N] [--window W] [--polls P]\n"
                "       scale_bench --callgrind --idle-k K [--polls P] [--keepalive]");
        }
    }
    /* A fixed threshold: every large array gets its own mapping, so that the mapped memory an
       init adds is exactly what it allocated (the dynamic threshold would move it to the heap
       after the first large free). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    if (callgrind) {
        if (idle_k == UINT32_MAX) die("--callgrind needs --idle-k K");
        uint32_t ks[1] = {idle_k};
        idle_run(ks, 1, polls ? polls : 100000, keepalive, true, window);
        printf("callgrind mode: K=%u, %u idle polls done\n", idle_k, polls ? polls : 100000);
        return 0;
    }

    if (!polls) polls = quick ? 100000 : 1000000;
    if (!max) max = quick ? conns : 65000;
    /* The default config maps about 600 KiB per connection (256 send slots of 2 KiB): quick
       mode keeps that server at 2000 connections. */
    uint32_t default_n = quick && conns > 2000 ? 2000 : conns;
    printf("scale_bench: mem link, real clock, one thread; %s mode\n", quick ? "quick" : "full");

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    phase_config("default", &cfg, default_n, window);
    small_config(&cfg);
    phase_config("small", &cfg, conns, window);
    phase_max(max, window);

    static const uint32_t ks[] = {0, 10, 100, 1000, 10000};
    uint32_t nk = sizeof(ks) / sizeof(ks[0]);
    printf("idle server poll (nothing received, no timer due), mean over %u polls, best of %u:\n",
           polls, IDLE_BATCHES);
    idle_run(ks, nk, polls, false, false, window);
    idle_run(ks, nk, polls, true, false, window);
    return 0;
}
