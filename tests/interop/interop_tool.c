/*
 * The C side of the interop tests and of the link measurements (docs/links.md). Every mode runs
 * one single-threaded busy-polling loop and checks every byte it receives.
 *
 *   interop_tool [OPTIONS] multi HOST PORT CONNS BYTES
 *       efvitcp client: CONNS concurrent connections to a kernel echo server; each sends BYTES of
 *       its own pattern, checks the echo, sends FIN and waits for the close.
 *   interop_tool [OPTIONS] server PORT
 *       efvitcp server: echo on PORT, discard (pattern-checked) on PORT+1; serves until killed,
 *       or --count N connections.
 *   interop_tool [OPTIONS] pingpong HOST PORT ITERS SIZE
 *       efvitcp client: ITERS round trips of SIZE bytes to an echo server, each echo compared
 *       with the message; prints percentiles.
 *   interop_tool [OPTIONS] blast HOST PORT BYTES
 *       efvitcp client: sends BYTES of pattern to a discard server, then FIN; prints throughput.
 *   interop_tool [OPTIONS] blast2 HOST PORT BYTES
 *       efvitcp client: bulk both ways at once: sends BYTES of pattern to an echo server while
 *       reading and checking the echo; the clock stops when the whole echo is in.
 *   interop_tool [OPTIONS] sendnow HOST PORT BYTES FILE
 *       efvitcp client: connects, sends BYTES outside any poll, then stops polling and waits
 *       until the kernel server has written them all to FILE: a send between polls must leave
 *       when it is made, not at the next poll's doorbell.
 *   interop_tool kserver PORT | kpingpong HOST PORT ITERS SIZE | kblast HOST PORT BYTES |
 *                kblast2 HOST PORT BYTES
 *       the same with kernel TCP sockets (TCP_NODELAY, non-blocking, busy-polled).
 *
 * OPTIONS: --link L (interface string), --ip ADDR/PREFIX, --gw ADDR, --timeout SEC (default 60),
 * --count N (server), --ready FILE (touched once listening), --samples FILE (pingpong: every
 * round trip in ns, one per line), --name NAME (of the pair in RESULT lines; default the link
 * type, e.g. "xdp", or "kernel").
 * Measuring modes also print one line per figure for bench/suite.sh (bench conventions):
 *   RESULT kind=latency name=NAME size=SIZE n=ITERS mean=NS p50=NS p99=NS p999=NS max=NS
 *   RESULT kind=throughput name=NAME dir=one|both bytes=TOTAL secs=S gbps=G
 * (both: bytes counts the two directions together). --nocheck (no value) makes the senders send
 * whatever is in their buffer and the receivers skip checking it, so that throughput measures
 * the stacks rather than the pattern generator (the kernel server never checks).
 * Exit status: 0 success, 1 failure, 2 timeout, 3 the link could not be opened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"

#define SEC       1000000000ull
#define CHUNK     65536
#define MAX_MULTI 1024
#define MAX_SIZE  65536
#define WARMUP    1000
#define K_MAX_FDS 64

static uint64_t deadline;
static const char *ready_file, *samples_file, *result_name, *link_name;
static bool nocheck;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("interop_tool: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static void check_deadline(const char *what)
{
    if (now_ns() > deadline) die(2, "timeout (%s)", what);
}

static void touch(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) fclose(f);
}

/* Byte i of stream k: differs under shifts and between streams, so misplaced data shows. */
static uint8_t pattern(uint32_t k, uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + k * 0x632be59bd9b4e019ull;
    return (uint8_t)(x >> 56 ^ i >> 9);
}

static void fill(uint8_t *p, uint32_t k, uint64_t off, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) p[i] = pattern(k, off + i);
}

static int percentile_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The pair's name in RESULT lines: --name, else the link type ("xdp" of "xdp:eth0"). */
static const char *pair_name(const char *who)
{
    static char buf[64];
    if (result_name) return result_name;
    if (strcmp(who, "kernel") == 0 || !link_name) return who;
    size_t n = strcspn(link_name, ":");
    if (n >= sizeof(buf) || link_name[n] != ':') return who;
    memcpy(buf, link_name, n);
    buf[n] = '\0';
    return buf;
}

static void report_latency(const char *who, uint64_t *rtt, uint32_t n, uint32_t size)
{
    if (samples_file) {
        FILE *f = fopen(samples_file, "w");
        if (!f) die(1, "--samples %s: %s", samples_file, strerror(errno));
        for (uint32_t i = 0; i < n; i++) fprintf(f, "%" PRIu64 "\n", rtt[i]);
        if (fclose(f)) die(1, "--samples %s: write failed", samples_file);
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += rtt[i];
    qsort(rtt, n, sizeof(*rtt), percentile_cmp);
    printf("%s pingpong size %u iters %u: rtt min %.2f p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f "
           "max %.2f us\n",
           who, size, n, rtt[0] / 1e3, rtt[n / 2] / 1e3, rtt[n * 9 / 10] / 1e3,
           rtt[(uint64_t)n * 99 / 100] / 1e3, rtt[(uint64_t)n * 999 / 1000] / 1e3,
           rtt[n - 1] / 1e3);
    /* bench conventions: pN is the sorted sample at floor(N/100 * (n-1)). */
    printf("RESULT kind=latency name=%s size=%u n=%u mean=%.0f p50=%" PRIu64 " p99=%" PRIu64
           " p999=%" PRIu64 " max=%" PRIu64 "\n",
           pair_name(who), size, n, (double)sum / n, rtt[(uint64_t)(n - 1) * 50 / 100],
           rtt[(uint64_t)(n - 1) * 99 / 100], rtt[(uint64_t)(n - 1) * 999 / 1000], rtt[n - 1]);
}

static void report_throughput(const char *who, const char *dir, uint64_t bytes, double secs)
{
    printf("RESULT kind=throughput name=%s dir=%s bytes=%" PRIu64 " secs=%.6f gbps=%.3f\n",
           pair_name(who), dir, bytes, secs, bytes * 8 / secs / 1e9);
}

/* ---------------------------------------------------------------------------------------------- */
/* efvitcp side                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

static const char *local_ip, *gateway;

static void log_hook(void *ctx, int level, const char *msg)
{
    if (level <= EFVITCP_LOG_WARN) fprintf(stderr, "interop_tool: efvitcp: %s\n", msg);
}

static void base_config(efvitcp_config *cfg, uint32_t conns)
{
    efvitcp_config_default(cfg);
    cfg->local_addr = local_ip;
    cfg->gateway = gateway;
    cfg->max_conns = conns;
    cfg->log = log_hook;
}

static void print_stats(const char *who, const efvitcp_stats *st)
{
    fprintf(stderr,
            "interop_tool: %s: frames in %" PRIu64 " out %" PRIu64 ", retransmits %" PRIu64
            ", rto %" PRIu64 ", fast %" PRIu64 "\n",
            who, st->frames_in, st->frames_out, st->retransmits, st->rto_events,
            st->fast_retransmits);
}

/* ---- multi: many connections to a kernel echo server ---- */

typedef struct mconn {
    efvitcp_conn *c;
    uint64_t sent, got;
    bool fin_sent, done, bad;
} mconn;

typedef struct multi {
    mconn m[MAX_MULTI];
    uint32_t n, closed, failed, established;
    uint64_t bytes;
} multi;

static mconn *mfind(multi *s, efvitcp_conn *c)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->m[i].c == c && !s->m[i].done) return &s->m[i];
    return NULL;
}

static void m_push(multi *s, mconn *mc)
{
    uint8_t buf[CHUNK];
    uint32_t k = (uint32_t)(mc - s->m);
    while (mc->sent < s->bytes) {
        uint32_t n = efvitcp_sendable(mc->c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > s->bytes - mc->sent) n = (uint32_t)(s->bytes - mc->sent);
        if (n == 0) return;
        fill(buf, k, mc->sent, n);
        uint32_t took = efvitcp_send(mc->c, buf, n, false);
        mc->sent += took;
        if (took < n) return;
    }
}

static void m_established(void *ctx, efvitcp_conn *c)
{
    multi *s = ctx;
    mconn *mc = mfind(s, c);
    if (!mc) return;
    s->established++;
    m_push(s, mc);
}

static void m_more(void *ctx, efvitcp_conn *c)
{
    multi *s = ctx;
    mconn *mc = mfind(s, c);
    if (mc) m_push(s, mc);
}

static uint32_t m_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    multi *s = ctx;
    mconn *mc = mfind(s, c);
    if (!mc) return 0;
    uint32_t k = (uint32_t)(mc - s->m);
    for (uint32_t i = 0; i < len && !mc->bad; i++)
        if (data[i] != pattern(k, mc->got + i)) {
            fprintf(stderr, "interop_tool: conn %u: byte %" PRIu64 " is wrong\n", k, mc->got + i);
            mc->bad = true;
        }
    mc->got += len;
    if (mc->got >= s->bytes && !mc->fin_sent) {
        efvitcp_send_fin(c);
        mc->fin_sent = true;
    }
    return 0;
}

static void m_end(multi *s, efvitcp_conn *c, bool ok, const char *why)
{
    mconn *mc = mfind(s, c);
    if (!mc) return;
    mc->done = true;
    s->closed++;
    if (!ok || mc->bad || mc->got != s->bytes) {
        s->failed++;
        fprintf(stderr, "interop_tool: conn %u failed: %s (echoed %" PRIu64 " of %" PRIu64 ")\n",
                (uint32_t)(mc - s->m), why, mc->got, s->bytes);
    }
}

static void m_closed(void *ctx, efvitcp_conn *c)
{
    m_end(ctx, c, true, "closed");
}
static void m_reset(void *ctx, efvitcp_conn *c)
{
    m_end(ctx, c, false, "reset");
}
static void m_timeout(void *ctx, efvitcp_conn *c)
{
    m_end(ctx, c, false, "timeout");
}
static void m_refused(void *ctx, efvitcp_conn *c)
{
    m_end(ctx, c, false, "refused");
}

static int run_multi(const char *host, int port, uint32_t n, uint64_t bytes)
{
    if (n == 0 || n > MAX_MULTI) die(1, "conns must be 1..%d", MAX_MULTI);
    static multi s;
    s.n = n;
    s.bytes = bytes;
    efvitcp_config cfg;
    base_config(&cfg, n);
    cfg.send_slots = 64;
    cfg.recv_buf_size = 65536;
    cfg.rx_bufs = 2048;
    cfg.ctrl_bufs = 512;
    efvitcp_client *cli;
    const char *err = efvitcp_client_init(&cli, link_name, &cfg);
    if (err) die(3, "client init on %s: %s", link_name, err);
    efvitcp_handler h = {
        .on_connection_refused = m_refused,
        .on_established = m_established,
        .on_data = m_data,
        .on_closed = m_closed,
        .on_reset = m_reset,
        .on_timeout = m_timeout,
        .on_more_sendable = m_more,
    };
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        if ((err = efvitcp_client_connect(cli, host, (uint16_t)port, 0, &s.m[i].c)))
            die(1, "connect %u: %s", i, err);
        /* Answers to earlier SYNs are taken while the rest are opened. */
        efvitcp_client_poll(cli, &h, &s);
    }
    uint32_t spin = 0, peak = 0;
    while (s.closed < n) {
        efvitcp_client_poll(cli, &h, &s);
        uint32_t open = s.established - s.closed;
        if (s.established <= n && open > peak) peak = open;
        if (++spin % 4096 == 0) check_deadline("multi");
    }
    efvitcp_stats st;
    efvitcp_client_stats(cli, &st);
    print_stats("multi", &st);
    printf("multi: %u connections (%u open at once at most), %" PRIu64
           " bytes each way per connection, %u failed, %.1f ms\n",
           n, peak, bytes, s.failed, (now_ns() - t0) / 1e6);
    efvitcp_client_close(cli);
    return s.failed ? 1 : 0;
}

/* ---- server: echo on PORT, discard on PORT+1 ---- */

typedef struct sconn {
    uint64_t got;
    bool bad, fin;
} sconn;

typedef struct server {
    uint16_t port;
    sconn c[64];
    uint32_t served, failed;
} server;

static sconn *sfind(server *s, efvitcp_conn *c)
{
    return &s->c[efvitcp_conn_id(c) % 64];
}

static void s_established(void *ctx, efvitcp_conn *c)
{
    memset(sfind(ctx, c), 0, sizeof(sconn));
}

static void s_echo_rest(efvitcp_conn *c, sconn *sc)
{
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    if (n) efvitcp_consume(c, efvitcp_send(c, p, n, false));
    if (sc->fin && efvitcp_unread(c, &p) == 0) {
        efvitcp_send_fin(c);
        sc->fin = false;
    }
}

static uint32_t s_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    server *s = ctx;
    sconn *sc = sfind(s, c);
    if (efvitcp_local_port(c) == s->port) return len - efvitcp_send(c, data, len, false);
    for (uint32_t i = 0; i < len && !sc->bad && !nocheck; i++)
        if (data[i] != pattern(0, sc->got + i)) {
            fprintf(stderr, "interop_tool: server: byte %" PRIu64 " is wrong\n", sc->got + i);
            sc->bad = true;
        }
    sc->got += len;
    return 0;
}

static void s_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    server *s = ctx;
    sconn *sc = sfind(s, c);
    sc->fin = true;
    s_echo_rest(c, sc);
}

static void s_more(void *ctx, efvitcp_conn *c)
{
    server *s = ctx;
    if (efvitcp_local_port(c) == s->port) s_echo_rest(c, sfind(s, c));
}

static void s_end(server *s, efvitcp_conn *c, bool ok)
{
    sconn *sc = sfind(s, c);
    s->served++;
    if (!ok || sc->bad) s->failed++;
    if (efvitcp_local_port(c) != s->port)
        fprintf(stderr, "interop_tool: server: %" PRIu64 " bytes discarded%s\n", sc->got,
                sc->bad ? ", MISMATCH" : "");
}

static void s_closed(void *ctx, efvitcp_conn *c)
{
    s_end(ctx, c, true);
}
static void s_failed(void *ctx, efvitcp_conn *c)
{
    s_end(ctx, c, false);
}

static int run_server(int port, uint32_t count)
{
    static server s;
    s.port = (uint16_t)port;
    efvitcp_config cfg;
    base_config(&cfg, 64);
    cfg.send_slots = 1024;
    cfg.recv_buf_size = 1 << 20;
    cfg.rx_bufs = 2048;
    efvitcp_server *srv;
    const char *err = efvitcp_server_init(&srv, link_name, &cfg);
    if (err) die(3, "server init on %s: %s", link_name, err);
    if ((err = efvitcp_server_listen(srv, (uint16_t)port)) ||
        (err = efvitcp_server_listen(srv, (uint16_t)(port + 1))))
        die(1, "listen: %s", err);
    touch(ready_file);
    efvitcp_handler h = {
        .on_established = s_established,
        .on_data = s_data,
        .on_fin = s_fin,
        .on_closed = s_closed,
        .on_reset = s_failed,
        .on_timeout = s_failed,
        .on_more_sendable = s_more,
    };
    uint32_t spin = 0;
    while (!count || s.served < count) {
        efvitcp_server_poll(srv, &h, &s);
        if (++spin % 4096 == 0) check_deadline("server");
    }
    efvitcp_stats st;
    efvitcp_server_stats(srv, &st);
    print_stats("server", &st);
    efvitcp_server_close(srv);
    return s.failed ? 1 : 0;
}

/* ---- pingpong and blast: one client connection ---- */

typedef struct one {
    efvitcp_conn *c;
    bool established, closed, failed;
    uint32_t got;          /* pingpong: bytes of the current reply */
    const uint8_t *expect; /* pingpong: the message, which the reply must equal */
    uint32_t expect_len;
    bool bad;
} one;

static void o_established(void *ctx, efvitcp_conn *c)
{
    ((one *)ctx)->established = true;
}
static uint32_t o_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t len)
{
    one *o = ctx;
    if (o->expect && !nocheck && !o->bad &&
        (len > o->expect_len - o->got || memcmp(d, o->expect + o->got, len) != 0))
        o->bad = true;
    o->got += len;
    return 0;
}
static void o_closed(void *ctx, efvitcp_conn *c)
{
    ((one *)ctx)->closed = true;
}
static void o_failed(void *ctx, efvitcp_conn *c)
{
    ((one *)ctx)->closed = ((one *)ctx)->failed = true;
}

static const efvitcp_handler one_h = {
    .on_connection_refused = o_failed,
    .on_established = o_established,
    .on_data = o_data,
    .on_closed = o_closed,
    .on_reset = o_failed,
    .on_timeout = o_failed,
};

static efvitcp_client *one_connect(one *o, const char *host, int port, uint32_t slots)
{
    efvitcp_config cfg;
    base_config(&cfg, 4);
    cfg.send_slots = slots;
    cfg.recv_buf_size = 1 << 20;
    cfg.rx_bufs = 2048;
    efvitcp_client *cli;
    const char *err = efvitcp_client_init(&cli, link_name, &cfg);
    if (err) die(3, "client init on %s: %s", link_name, err);
    if ((err = efvitcp_client_connect(cli, host, (uint16_t)port, 0, &o->c)))
        die(1, "connect: %s", err);
    while (!o->established && !o->failed) {
        efvitcp_client_poll(cli, &one_h, o);
        check_deadline("connect");
    }
    if (o->failed) die(1, "connect to %s:%d failed", host, port);
    return cli;
}

static void one_close(efvitcp_client *cli, one *o)
{
    efvitcp_send_fin(o->c);
    while (!o->closed) {
        efvitcp_client_poll(cli, &one_h, o);
        check_deadline("close");
    }
}

static int run_pingpong(const char *host, int port, uint32_t iters, uint32_t size)
{
    if (size == 0 || size > MAX_SIZE || iters == 0) die(1, "bad size or iters");
    static one o;
    efvitcp_client *cli = one_connect(&o, host, port, 256);
    static uint8_t msg[MAX_SIZE];
    fill(msg, 1, 0, size);
    o.expect = msg;
    o.expect_len = size;
    uint64_t *rtt = malloc(sizeof(uint64_t) * iters);
    if (!rtt) die(1, "out of memory");
    for (uint32_t i = 0; i < WARMUP + iters; i++) {
        o.got = 0;
        uint64_t t0 = now_ns();
        if (efvitcp_send(o.c, msg, size, false) != size) die(1, "send ring full");
        uint32_t spin = 0;
        while (o.got < size) {
            efvitcp_client_poll(cli, &one_h, &o);
            if (o.failed) die(1, "connection lost");
            if (++spin % 65536 == 0) check_deadline("pingpong");
        }
        if (o.bad || o.got != size) die(1, "round trip %u: the echo differs from the message", i);
        if (i >= WARMUP) rtt[i - WARMUP] = now_ns() - t0;
    }
    report_latency("efvitcp", rtt, iters, size);
    one_close(cli, &o);
    efvitcp_client_close(cli);
    free(rtt);
    return 0;
}

static int run_blast(const char *host, int port, uint64_t bytes)
{
    static one o;
    efvitcp_client *cli = one_connect(&o, host, port, 1024);
    static uint8_t buf[CHUNK];
    uint64_t sent = 0, t0 = now_ns();
    uint32_t spin = 0;
    while (sent < bytes) {
        uint32_t n = efvitcp_sendable(o.c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > bytes - sent) n = (uint32_t)(bytes - sent);
        if (n) {
            if (!nocheck) fill(buf, 0, sent, n);
            sent += efvitcp_send(o.c, buf, n, false);
        }
        efvitcp_client_poll(cli, &one_h, &o);
        if (o.failed) die(1, "connection lost");
        if (++spin % 4096 == 0) check_deadline("blast");
    }
    one_close(cli, &o);
    double s = (now_ns() - t0) / 1e9;
    printf("efvitcp blast: %" PRIu64 " bytes in %.3f s: %.2f Gbit/s\n", bytes, s,
           bytes * 8 / s / 1e9);
    report_throughput("efvitcp", "one", bytes, s);
    efvitcp_stats st;
    efvitcp_client_stats(cli, &st);
    print_stats("blast", &st);
    efvitcp_client_close(cli);
    return o.failed;
}

/* ---- sendnow: a send between polls leaves at once ---- */

static int run_sendnow(const char *host, int port, uint32_t bytes, const char *file)
{
    static one o;
    efvitcp_client *cli = one_connect(&o, host, port, 1024);
    static uint8_t buf[MAX_SIZE];
    if (bytes > sizeof(buf)) die(1, "sendnow: at most %zu bytes", sizeof(buf));
    fill(buf, 0, 0, bytes);
    /* Let the handshake's last ACK and the kernel's window settle first. */
    for (uint64_t until = now_ns() + SEC / 10; now_ns() < until;)
        efvitcp_client_poll(cli, &one_h, &o);
    if (o.failed) die(1, "sendnow: connection lost");
    if (efvitcp_send(o.c, buf, bytes, false) != bytes) die(1, "sendnow: send took less");
    /* No poll from here on: only the send's own doorbell can have put the bytes on the wire. */
    uint64_t t0 = now_ns();
    long size = 0;
    while (now_ns() - t0 < 3 * SEC) {
        FILE *f = fopen(file, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            size = ftell(f);
            fclose(f);
        }
        if (size >= (long)bytes) break;
        usleep(1000);
    }
    printf("sendnow: the kernel had %ld of %u bytes after %.1f ms without a poll\n", size, bytes,
           (now_ns() - t0) / 1e6);
    one_close(cli, &o);
    efvitcp_client_close(cli);
    return size >= (long)bytes ? 0 : 1;
}

/* ---- blast2: bulk both ways through an echo server ---- */

typedef struct both {
    one o; /* first, so that the one_h callbacks work on it during connect and close */
    uint64_t echoed;
    bool bad;
} both;

static uint32_t b_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t len)
{
    both *b = ctx;
    for (uint32_t i = 0; i < len && !b->bad && !nocheck; i++)
        if (d[i] != pattern(0, b->echoed + i)) {
            fprintf(stderr, "interop_tool: blast2: echo byte %" PRIu64 " is wrong\n",
                    b->echoed + i);
            b->bad = true;
        }
    b->echoed += len;
    return 0;
}

static const efvitcp_handler both_h = {
    .on_connection_refused = o_failed,
    .on_established = o_established,
    .on_data = b_data,
    .on_closed = o_closed,
    .on_reset = o_failed,
    .on_timeout = o_failed,
};

static int run_blast2(const char *host, int port, uint64_t bytes)
{
    static both b;
    efvitcp_client *cli = one_connect(&b.o, host, port, 1024);
    static uint8_t buf[CHUNK];
    uint64_t sent = 0, t0 = now_ns();
    uint32_t spin = 0;
    while (b.echoed < bytes) {
        uint32_t n = efvitcp_sendable(b.o.c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > bytes - sent) n = (uint32_t)(bytes - sent);
        if (n) {
            if (!nocheck) fill(buf, 0, sent, n);
            sent += efvitcp_send(b.o.c, buf, n, false);
        }
        efvitcp_client_poll(cli, &both_h, &b);
        if (b.o.failed) die(1, "connection lost");
        if (++spin % 4096 == 0) check_deadline("blast2");
    }
    double s = (now_ns() - t0) / 1e9;
    printf("efvitcp blast2: %" PRIu64 " bytes each way in %.3f s: %.2f Gbit/s each way\n", bytes, s,
           bytes * 8 / s / 1e9);
    report_throughput("efvitcp", "both", 2 * bytes, s);
    one_close(cli, &b.o);
    efvitcp_stats st;
    efvitcp_client_stats(cli, &st);
    print_stats("blast2", &st);
    efvitcp_client_close(cli);
    return b.bad || b.o.failed;
}

/* ---------------------------------------------------------------------------------------------- */
/* Kernel side                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void k_tune(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int k_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128))
        die(1, "kernel listen on %d: %s", port, strerror(errno));
    k_tune(fd);
    return fd;
}

static int k_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die(1, "bad address %s", host);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
        die(1, "kernel connect to %s:%d: %s", host, port, strerror(errno));
    k_tune(fd);
    return fd;
}

/* Echo on port, discard on port+1, busy-polled with non-blocking sockets. */
static int run_kserver(int port, uint32_t count)
{
    int ls[2] = {k_listen(port), k_listen(port + 1)};
    struct {
        int fd;
        bool echo;
    } c[K_MAX_FDS];
    int n = 0;
    uint32_t served = 0;
    static uint8_t buf[CHUNK];
    touch(ready_file);
    for (uint32_t spin = 0; !count || served < count; spin++) {
        for (int l = 0; l < 2; l++) {
            int fd = accept(ls[l], NULL, NULL);
            if (fd >= 0 && n < K_MAX_FDS) {
                k_tune(fd);
                c[n].fd = fd;
                c[n++].echo = l == 0;
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 0; i < n; i++) {
            ssize_t r = recv(c[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0 && c[i].echo) {
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = send(c[i].fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                    if (w > 0)
                        off += w;
                    else if (w < 0 && errno != EAGAIN)
                        break;
                }
            } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
                close(c[i].fd);
                c[i--] = c[--n];
                served++;
            }
        }
        if (spin % 4096 == 0) check_deadline("kserver");
    }
    return 0;
}

static int run_kpingpong(const char *host, int port, uint32_t iters, uint32_t size)
{
    if (size == 0 || size > MAX_SIZE || iters == 0) die(1, "bad size or iters");
    int fd = k_connect(host, port);
    static uint8_t msg[MAX_SIZE], rx[MAX_SIZE];
    fill(msg, 1, 0, size);
    uint64_t *rtt = malloc(sizeof(uint64_t) * iters);
    if (!rtt) die(1, "out of memory");
    for (uint32_t i = 0; i < WARMUP + iters; i++) {
        uint64_t t0 = now_ns();
        if (send(fd, msg, size, MSG_NOSIGNAL) != (ssize_t)size) die(1, "send: short");
        uint32_t got = 0, spin = 0;
        while (got < size) {
            ssize_t r = recv(fd, rx, sizeof(rx), MSG_DONTWAIT);
            if (r > 0) {
                if (!nocheck && (got + (uint32_t)r > size || memcmp(rx, msg + got, (size_t)r)))
                    die(1, "round trip %u: the echo differs from the message", i);
                got += (uint32_t)r;
            } else if (r == 0 || errno != EAGAIN) {
                die(1, "connection lost");
            }
            if (++spin % 65536 == 0) check_deadline("kpingpong");
        }
        if (i >= WARMUP) rtt[i - WARMUP] = now_ns() - t0;
    }
    report_latency("kernel", rtt, iters, size);
    close(fd);
    free(rtt);
    return 0;
}

static int run_kblast(const char *host, int port, uint64_t bytes)
{
    int fd = k_connect(host, port);
    static uint8_t buf[CHUNK];
    uint64_t sent = 0, t0 = now_ns();
    uint32_t spin = 0;
    while (sent < bytes) {
        uint32_t n = bytes - sent < sizeof(buf) ? (uint32_t)(bytes - sent) : sizeof(buf);
        if (!nocheck) fill(buf, 0, sent, n);
        for (uint32_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
            if (w > 0)
                off += (uint32_t)w;
            else if (w < 0 && errno != EAGAIN)
                die(1, "send: %s", strerror(errno));
            if (++spin % 4096 == 0) check_deadline("kblast");
        }
        sent += n;
    }
    /* Done when the peer has everything: our FIN, then its FIN (EOF) after it read it all. */
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0) break;
        if (r < 0 && errno != EAGAIN) die(1, "recv: %s", strerror(errno));
        check_deadline("kblast close");
    }
    double s = (now_ns() - t0) / 1e9;
    printf("kernel blast: %" PRIu64 " bytes in %.3f s: %.2f Gbit/s\n", bytes, s,
           bytes * 8 / s / 1e9);
    report_throughput("kernel", "one", bytes, s);
    close(fd);
    return 0;
}

/* Bulk both ways through an echo server, as blast2. */
static int run_kblast2(const char *host, int port, uint64_t bytes)
{
    int fd = k_connect(host, port);
    static uint8_t buf[CHUNK], rx[CHUNK];
    uint64_t sent = 0, got = 0, t0 = now_ns();
    uint32_t spin = 0;
    bool bad = false;
    while (got < bytes) {
        if (sent < bytes) {
            uint32_t n = bytes - sent < sizeof(buf) ? (uint32_t)(bytes - sent) : sizeof(buf);
            if (!nocheck) fill(buf, 0, sent, n);
            ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (uint64_t)w;
            else if (w < 0 && errno != EAGAIN)
                die(1, "send: %s", strerror(errno));
        }
        ssize_t r = recv(fd, rx, sizeof(rx), MSG_DONTWAIT);
        if (r > 0) {
            for (ssize_t i = 0; i < r && !bad && !nocheck; i++)
                if (rx[i] != pattern(0, got + (uint64_t)i)) {
                    fprintf(stderr, "interop_tool: kblast2: echo byte %" PRIu64 " is wrong\n",
                            got + (uint64_t)i);
                    bad = true;
                }
            got += (uint64_t)r;
        } else if (r == 0) {
            die(1, "the echo server closed early");
        } else if (errno != EAGAIN) {
            die(1, "recv: %s", strerror(errno));
        }
        if (++spin % 4096 == 0) check_deadline("kblast2");
    }
    double s = (now_ns() - t0) / 1e9;
    printf("kernel blast2: %" PRIu64 " bytes each way in %.3f s: %.2f Gbit/s each way\n", bytes, s,
           bytes * 8 / s / 1e9);
    report_throughput("kernel", "both", 2 * bytes, s);
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t r = recv(fd, rx, sizeof(rx), MSG_DONTWAIT);
        if (r == 0) break;
        if (r < 0 && errno != EAGAIN) die(1, "recv: %s", strerror(errno));
        check_deadline("kblast2 close");
    }
    close(fd);
    return bad ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */

static long num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0) die(1, "bad number: %s", s);
    return v;
}

int main(int argc, char **argv)
{
    uint64_t timeout_s = 60;
    uint32_t count = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (!strcmp(argv[i], "--nocheck")) {
            nocheck = true;
            i--; /* no value */
            continue;
        }
        if (i + 1 >= argc) die(1, "option %s needs a value", argv[i]);
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--link"))
            link_name = v;
        else if (!strcmp(o, "--ip"))
            local_ip = v;
        else if (!strcmp(o, "--gw"))
            gateway = v;
        else if (!strcmp(o, "--timeout"))
            timeout_s = (uint64_t)num(v);
        else if (!strcmp(o, "--count"))
            count = (uint32_t)num(v);
        else if (!strcmp(o, "--ready"))
            ready_file = v;
        else if (!strcmp(o, "--samples"))
            samples_file = v;
        else if (!strcmp(o, "--name"))
            result_name = v;
        else
            die(1, "unknown option %s", o);
    }
    deadline = now_ns() + timeout_s * SEC;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int left = argc - i;
    const char *mode = left > 0 ? argv[i] : "";
    char **a = argv + i + 1;
    bool needs_link = strcmp(mode, "kserver") && strcmp(mode, "kpingpong") &&
                      strcmp(mode, "kblast") && strcmp(mode, "kblast2");
    if (needs_link && !link_name) die(1, "--link is required for %s", mode);
    if (!strcmp(mode, "multi") && left == 5)
        return run_multi(a[0], (int)num(a[1]), (uint32_t)num(a[2]), (uint64_t)num(a[3]));
    if (!strcmp(mode, "server") && left == 2) return run_server((int)num(a[0]), count);
    if (!strcmp(mode, "pingpong") && left == 5)
        return run_pingpong(a[0], (int)num(a[1]), (uint32_t)num(a[2]), (uint32_t)num(a[3]));
    if (!strcmp(mode, "blast") && left == 4)
        return run_blast(a[0], (int)num(a[1]), (uint64_t)num(a[2]));
    if (!strcmp(mode, "kserver") && left == 2) return run_kserver((int)num(a[0]), count);
    if (!strcmp(mode, "kpingpong") && left == 5)
        return run_kpingpong(a[0], (int)num(a[1]), (uint32_t)num(a[2]), (uint32_t)num(a[3]));
    if (!strcmp(mode, "kblast") && left == 4)
        return run_kblast(a[0], (int)num(a[1]), (uint64_t)num(a[2]));
    if (!strcmp(mode, "blast2") && left == 4)
        return run_blast2(a[0], (int)num(a[1]), (uint64_t)num(a[2]));
    if (!strcmp(mode, "sendnow") && left == 5)
        return run_sendnow(a[0], (int)num(a[1]), (uint32_t)num(a[2]), a[3]);
    if (!strcmp(mode, "kblast2") && left == 4)
        return run_kblast2(a[0], (int)num(a[1]), (uint64_t)num(a[2]));
    die(1, "usage: see the comment at the top of tests/interop/interop_tool.c");
    return 1;
}
