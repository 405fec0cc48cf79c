/*
 * One end of the xdp interop test: an efvitcp server or client on a real interface, busy-polling
 * its instance, checking every byte against an offset-dependent pattern.
 *
 *   xdp_peer server IFACE ADDR/PREFIX PORT COUNT        serves COUNT connections, then exits
 *   xdp_peer echo   IFACE ADDR/PREFIX HOST PORT BYTES   sends BYTES, checks the echo
 *   xdp_peer sink   IFACE ADDR/PREFIX HOST PORT BYTES   sends BYTES, the server checks them
 *   xdp_peer pingpong IFACE ADDR/PREFIX HOST PORT ITERS SIZE   round trips; prints percentiles
 *   xdp_peer probe  IFACE ADDR/PREFIX                   opens the link and closes it (exit 3 if
 *                                                       it cannot be opened)
 * Options (before the mode): --ready FILE (created once listening or attached), --go FILE (a
 * client waits, polling, until FILE exists before it connects), --timeout SEC (default 60).
 *
 * The first byte a client sends picks the server's behaviour: 'E' echoes every later byte back,
 * 'S' checks every later byte against the pattern and answers the FIN with '1' (all good) or '0'.
 * Exit status: 0 success, 1 failure, 2 timeout, 3 link not available.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"

#define MAX_CONNS 8
#define CHUNK     65536
#define SEC       1000000000ull

static uint8_t pattern_at(uint64_t i)
{
    /* Differs under every shift smaller than 2^24 bytes: lost, doubled or moved data shows. */
    return (uint8_t)(i ^ (i >> 8) * 7 ^ (i >> 16) * 13 ^ 0x5a);
}

static void fill_pattern(uint8_t *buf, uint64_t off, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) buf[i] = pattern_at(off + i);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void log_hook(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= EFVITCP_LOG_INFO) fprintf(stderr, "xdp_peer: %s\n", msg);
}

static const char *ready_file, *go_file;
static uint64_t deadline;

static void touch(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) fclose(f);
}

static void check_deadline(const char *what)
{
    if (now_ns() > deadline) {
        fprintf(stderr, "xdp_peer: timeout (%s)\n", what);
        exit(2);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Server                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

typedef struct srv_conn {
    int mode; /* 0 until the first byte */
    uint64_t off;
    bool bad, fin, fin_sent;
} srv_conn;

typedef struct srv_state {
    srv_conn conns[MAX_CONNS];
    int served, failures;
} srv_state;

static srv_conn *sconn(srv_state *s, efvitcp_conn *c)
{
    return &s->conns[efvitcp_conn_id(c) % MAX_CONNS];
}

static void srv_established(void *ctx, efvitcp_conn *c)
{
    memset(sconn(ctx, c), 0, sizeof(srv_conn));
}

static void srv_finish_echo(efvitcp_conn *c, srv_conn *sc)
{
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    if (n) efvitcp_consume(c, efvitcp_send(c, p, n, false));
    if (sc->fin && !sc->fin_sent && efvitcp_unread(c, &p) == 0) {
        efvitcp_send_fin(c);
        sc->fin_sent = true;
    }
}

static uint32_t srv_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    srv_conn *sc = sconn(ctx, c);
    if (!sc->mode && len) {
        sc->mode = data[0];
        data++, len--;
    }
    if (sc->mode == 'E') return len - efvitcp_send(c, data, len, false);
    for (uint32_t i = 0; i < len; i++)
        if (data[i] != pattern_at(sc->off + i)) {
            if (!sc->bad)
                fprintf(stderr, "xdp_peer: server: byte %" PRIu64 " is wrong\n", sc->off + i);
            sc->bad = true;
            break;
        }
    sc->off += len;
    return 0;
}

static void srv_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    srv_conn *sc = sconn(ctx, c);
    sc->fin = true;
    if (sc->mode == 'E') {
        srv_finish_echo(c, sc);
        return;
    }
    uint8_t status = sc->bad ? '0' : '1';
    efvitcp_send(c, &status, 1, false);
    efvitcp_send_fin(c);
    sc->fin_sent = true;
}

static void srv_more(void *ctx, efvitcp_conn *c)
{
    srv_conn *sc = sconn(ctx, c);
    if (sc->mode == 'E') srv_finish_echo(c, sc);
}

static void srv_end(srv_state *s, efvitcp_conn *c, bool ok)
{
    srv_conn *sc = sconn(s, c);
    s->served++;
    if (!ok || sc->bad) s->failures++;
    if (sc->mode == 'S')
        fprintf(stderr, "xdp_peer: server: %" PRIu64 " bytes checked%s\n", sc->off,
                sc->bad ? ", MISMATCH" : "");
}

static void srv_closed(void *ctx, efvitcp_conn *c)
{
    srv_end(ctx, c, true);
}
static void srv_reset(void *ctx, efvitcp_conn *c)
{
    srv_end(ctx, c, false);
}

static int run_server(const char *ifname, efvitcp_config *cfg, int port, int count)
{
    efvitcp_server *srv;
    const char *err = efvitcp_server_init(&srv, ifname, cfg);
    if (err) {
        fprintf(stderr, "xdp_peer: server init: %s\n", err);
        return 3;
    }
    if ((err = efvitcp_server_listen(srv, (uint16_t)port))) {
        fprintf(stderr, "xdp_peer: listen: %s\n", err);
        efvitcp_server_close(srv);
        return 1;
    }
    touch(ready_file);
    static srv_state s;
    efvitcp_handler h = {
        .on_established = srv_established,
        .on_data = srv_data,
        .on_fin = srv_fin,
        .on_closed = srv_closed,
        .on_reset = srv_reset,
        .on_timeout = srv_reset,
        .on_more_sendable = srv_more,
    };
    uint32_t spin = 0;
    while (s.served < count) {
        efvitcp_server_poll(srv, &h, &s);
        if (++spin % 4096 == 0) check_deadline("server");
    }
    efvitcp_stats st;
    efvitcp_server_stats(srv, &st);
    fprintf(stderr,
            "xdp_peer: server: %d served, %d failed; frames in %" PRIu64 " out %" PRIu64
            ", retransmits %" PRIu64 " (rto %" PRIu64 ", fast %" PRIu64 ")\n",
            s.served, s.failures, st.frames_in, st.frames_out, st.retransmits, st.rto_events,
            st.fast_retransmits);
    for (int r = 0; r < EFVITCP_DROP_REASONS; r++)
        if (st.drops[r])
            fprintf(stderr, "xdp_peer: server: dropped %" PRIu64 " (%s)\n", st.drops[r],
                    efvitcp_drop_reason_name((efvitcp_drop_reason)r));
    efvitcp_server_close(srv);
    return s.failures ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Client                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

typedef struct cli_state {
    char mode; /* 'E', 'S' or 'P' (ping-pong: echo with one message in flight) */
    uint64_t total, sent, rcvd;
    bool mode_sent, fin_sent, got_fin, done, failed, established;
    uint8_t status;
    uint8_t buf[CHUNK];
    /* ping-pong */
    uint32_t size, iters, done_iters;
    uint64_t t0, *rtt;
} cli_state;

static void fail(cli_state *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xdp_peer: client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s->failed = s->done = true;
}

static void cli_pump(cli_state *s, efvitcp_conn *c)
{
    if (!s->mode_sent) {
        uint8_t m = s->mode == 'S' ? 'S' : 'E';
        if (efvitcp_send(c, &m, 1, s->mode != 'P') != 1) return;
        s->mode_sent = true;
    }
    if (s->mode == 'P') {
        if (s->sent == s->rcvd && s->done_iters < s->iters) {
            fill_pattern(s->buf, s->sent, s->size);
            s->t0 = now_ns();
            uint32_t n = efvitcp_send(c, s->buf, s->size, false);
            s->sent += n;
            if (n != s->size) fail(s, "ping-pong send accepted %u of %u", n, s->size);
        }
    } else {
        while (s->sent < s->total) {
            uint32_t n = s->total - s->sent > CHUNK ? CHUNK : (uint32_t)(s->total - s->sent);
            uint32_t room = efvitcp_sendable(c);
            if (room == 0) break;
            if (n > room) n = room;
            fill_pattern(s->buf, s->sent, n);
            uint32_t acc = efvitcp_send(c, s->buf, n, false);
            s->sent += acc;
            if (acc < n) break;
        }
    }
    bool all_sent = s->mode == 'P' ? s->done_iters == s->iters : s->sent == s->total;
    if (all_sent && !s->fin_sent) {
        efvitcp_send_fin(c);
        s->fin_sent = true;
    }
}

static void cli_established(void *ctx, efvitcp_conn *c)
{
    cli_state *s = ctx;
    s->established = true;
    cli_pump(s, c);
}

static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    cli_state *s = ctx;
    if (s->mode == 'S') {
        if (len != 1 || s->status) fail(s, "sink: unexpected %u bytes from the server", len);
        s->status = data[0];
        return 0;
    }
    for (uint32_t i = 0; i < len; i++)
        if (data[i] != pattern_at(s->rcvd + i)) {
            fail(s, "echo: byte %" PRIu64 " is wrong", s->rcvd + i);
            return 0;
        }
    s->rcvd += len;
    if (s->rcvd > s->sent) fail(s, "echo: more bytes back than sent");
    if (s->mode == 'P' && s->rcvd == s->sent) {
        s->rtt[s->done_iters++] = now_ns() - s->t0;
        cli_pump(s, c);
    }
    return 0;
}

static void cli_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    cli_state *s = ctx;
    s->got_fin = true;
}

static void cli_more(void *ctx, efvitcp_conn *c)
{
    cli_pump(ctx, c);
}

static void cli_closed(void *ctx, efvitcp_conn *c)
{
    cli_state *s = ctx;
    s->done = true;
}

static void cli_refused(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "connection refused");
}
static void cli_reset(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "connection reset");
}
static void cli_timeout(void *ctx, efvitcp_conn *c)
{
    fail(ctx, "connection timed out");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_client(const char *ifname, efvitcp_config *cfg, const char *host, int port,
                      cli_state *s)
{
    efvitcp_client *cli;
    const char *err = efvitcp_client_init(&cli, ifname, cfg);
    if (err) {
        fprintf(stderr, "xdp_peer: client init: %s\n", err);
        return 3;
    }
    efvitcp_handler h = {
        .on_connection_refused = cli_refused,
        .on_established = cli_established,
        .on_data = cli_data,
        .on_fin = cli_fin,
        .on_closed = cli_closed,
        .on_reset = cli_reset,
        .on_timeout = cli_timeout,
        .on_more_sendable = cli_more,
    };
    touch(ready_file);
    uint32_t spin = 0;
    while (go_file && access(go_file, F_OK) != 0) {
        efvitcp_client_poll(cli, &h, s);
        if (++spin % 4096 == 0) check_deadline("waiting for the go file");
    }
    efvitcp_conn *conn;
    if ((err = efvitcp_client_connect(cli, host, (uint16_t)port, 0, &conn))) {
        fprintf(stderr, "xdp_peer: connect: %s\n", err);
        efvitcp_client_close(cli);
        return 1;
    }
    uint64_t start = now_ns();
    while (!s->done) {
        efvitcp_client_poll(cli, &h, s);
        if (++spin % 4096 == 0) check_deadline("transfer");
    }
    uint64_t elapsed = now_ns() - start;
    efvitcp_stats st;
    efvitcp_client_stats(cli, &st);
    efvitcp_client_close(cli);
    if (s->failed) return 1;
    if (!s->got_fin) {
        fprintf(stderr, "xdp_peer: client: closed without the server's FIN\n");
        return 1;
    }
    double secs = (double)elapsed / 1e9;
    if (s->mode == 'S') {
        if (s->status != '1') {
            fprintf(stderr, "xdp_peer: client: server reports a mismatch ('%c')\n",
                    s->status ? s->status : '-');
            return 1;
        }
        printf("sink: %" PRIu64 " bytes checked by the server in %.3f s: %.1f Mbit/s "
               "(retransmits %" PRIu64 ")\n",
               s->total, secs, (double)s->total * 8 / secs / 1e6, st.retransmits);
    } else if (s->mode == 'E') {
        if (s->rcvd != s->total) {
            fprintf(stderr, "xdp_peer: client: %" PRIu64 " of %" PRIu64 " bytes echoed\n", s->rcvd,
                    s->total);
            return 1;
        }
        printf("echo: %" PRIu64 " bytes each way, checked, in %.3f s: %.1f Mbit/s each way "
               "(retransmits %" PRIu64 ")\n",
               s->total, secs, (double)s->total * 8 / secs / 1e6, st.retransmits);
    } else {
        if (s->done_iters != s->iters) {
            fprintf(stderr, "xdp_peer: client: %u of %u round trips\n", s->done_iters, s->iters);
            return 1;
        }
        /* The first tenth warms caches and the ARP entry; it is left out of the figures. */
        uint32_t skip = s->iters / 10, n = s->iters - skip;
        uint64_t *r = s->rtt + skip;
        qsort(r, n, sizeof(*r), cmp_u64);
        printf("pingpong: %u round trips of %u bytes: min %.2f p50 %.2f p99 %.2f p99.9 %.2f "
               "max %.2f us (retransmits %" PRIu64 ")\n",
               n, s->size, r[0] / 1e3, r[n / 2] / 1e3, r[(uint64_t)n * 99 / 100] / 1e3,
               r[(uint64_t)n * 999 / 1000] / 1e3, r[n - 1] / 1e3, st.retransmits);
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: xdp_peer [--ready F] [--go F] [--timeout S] "
                    "server|echo|sink|pingpong|probe IFACE ADDR/PREFIX ...\n");
    return 1;
}

int main(int argc, char **argv)
{
    int i = 1;
    unsigned timeout = 60;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--ready") == 0)
            ready_file = argv[i + 1];
        else if (strcmp(argv[i], "--go") == 0)
            go_file = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout = (unsigned)atoi(argv[i + 1]);
        else
            return usage();
    }
    if (argc - i < 3) return usage();
    const char *mode = argv[i], *ifname = argv[i + 1];
    deadline = now_ns() + (uint64_t)timeout * SEC;
    setvbuf(stdout, NULL, _IOLBF, 0);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = argv[i + 2];
    cfg.max_conns = MAX_CONNS;
    cfg.rx_bufs = 2048;
    cfg.recv_buf_size = 1u << 20;
    /* Two busy pollers and the veth's softirq share few cores: a round trip can stall for
       milliseconds, so a short RTO floor would fire spuriously. */
    cfg.min_rto_us = 20000;
    cfg.log = log_hook;
    cfg.seed = (uint64_t)getpid(); /* distinct ISNs and ports per run, no getrandom needed */
    cfg.time_wait_ms = 0;          /* runs are short and back to back: no port reuse hazard */

    int a = argc - i - 3;
    char **arg = argv + i + 3;
    if (strcmp(mode, "probe") == 0) {
        efvitcp_client *cli;
        const char *err = efvitcp_client_init(&cli, ifname, &cfg);
        if (err) {
            fprintf(stderr, "xdp_peer: %s\n", err);
            return 3;
        }
        efvitcp_client_close(cli);
        return 0;
    }
    if (strcmp(mode, "server") == 0) {
        if (a != 2) return usage();
        return run_server(ifname, &cfg, atoi(arg[0]), atoi(arg[1]));
    }
    static cli_state s;
    if (strcmp(mode, "echo") == 0 || strcmp(mode, "sink") == 0) {
        if (a != 3) return usage();
        s.mode = mode[0] == 'e' ? 'E' : 'S';
        s.total = strtoull(arg[2], NULL, 10);
    } else if (strcmp(mode, "pingpong") == 0) {
        if (a != 4) return usage();
        s.mode = 'P';
        s.iters = (uint32_t)atoi(arg[2]);
        s.size = (uint32_t)atoi(arg[3]);
        if (s.iters < 10 || s.size == 0 || s.size > CHUNK) return usage();
        s.rtt = calloc(s.iters, sizeof(*s.rtt));
        if (!s.rtt) return 1;
        cfg.delayed_ack_us = 0;
    } else {
        return usage();
    }
    int rc = run_client(ifname, &cfg, arg[0], atoi(arg[1]), &s);
    free(s.rtt);
    return rc;
}
