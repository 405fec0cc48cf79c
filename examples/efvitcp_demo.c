/*
 * efvitcp demo: an echo server and a client in one process, joined by a mem wire that runs on the
 * real clock (CLOCK_MONOTONIC) with no added latency. Both instances are polled from one loop, as
 * a trading program would poll its own instances from one pinned thread.
 *
 * Phases: connect (two connections: one to an echo port, one to a discard port), ping-pong round
 * trips with a latency histogram, a bulk transfer to the discard port, and a clean close. Any
 * failure prints a message and exits with status 1.
 *
 *   efvitcp_demo [--count N] [--bulk-mb M] [--size BYTES]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "efvitcp/efvitcp.h"

#define SERVER_IP    "198.18.0.1"
#define CLIENT_IP    "198.18.0.2"
#define ECHO_PORT    7 /* RFC 862 */
#define DISCARD_PORT 9 /* RFC 863 */
#define WARMUP       1000
#define MAX_SIZE     65536
#define CHUNK        65536 /* bytes offered to efvitcp_send per call in the bulk phase */
#define PATTERN_MOD  251   /* prime: the pattern never lines up with segment or chunk sizes */
#define SAMPLE_EVERY 64    /* the server checks one byte in 64: cheap, still catches a bad copy */
#define SEC          1000000000ull

typedef struct demo {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    efvitcp_conn *echo, *bulk; /* client side */
    int established, client_closed, server_closed;
    const char *error; /* set by a callback, reported by the main loop */

    uint8_t rx[MAX_SIZE]; /* client: echo bytes of the current round trip */
    uint32_t rx_len;

    uint64_t discarded; /* server: bulk bytes received so far */
    uint64_t samples, bad_samples;
} demo;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("efvitcp_demo: ", stderr);
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

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off % PATTERN_MOD);
}

/* ---- server: echo on one port, discard (with a pattern check) on the other ---- */

static void srv_echo_pending(efvitcp_conn *c)
{
    /* Bytes the send ring could not take were held back by on_data; push them now. */
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    if (n) efvitcp_consume(c, efvitcp_send(c, p, n, false));
}

static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    demo *d = ctx;
    if (efvitcp_local_port(c) == ECHO_PORT) {
        /* Whatever does not fit is returned as unconsumed, which also closes the window: the
           client is slowed down instead of data being lost. */
        return len - efvitcp_send(c, data, len, false);
    }
    uint64_t off = d->discarded;
    for (uint64_t i = (SAMPLE_EVERY - off % SAMPLE_EVERY) % SAMPLE_EVERY; i < len;
         i += SAMPLE_EVERY) {
        d->samples++;
        if (data[i] != pattern(off + i)) d->bad_samples++;
    }
    d->discarded += len;
    return 0;
}

static void srv_on_more_sendable(void *ctx, efvitcp_conn *c)
{
    if (efvitcp_local_port(c) == ECHO_PORT) srv_echo_pending(c);
}

static void srv_on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    demo *d = ctx;
    const char *err = efvitcp_send_fin(c);
    if (err && !d->error) d->error = err;
}

static void srv_on_closed(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->server_closed++;
}

/* ---- client ---- */

static void cli_on_established(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->established++;
}

static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    demo *d = ctx;
    if (c != d->echo || d->rx_len + len > sizeof(d->rx)) {
        d->error = "client received unexpected data";
        return 0;
    }
    memcpy(d->rx + d->rx_len, data, len);
    d->rx_len += len;
    return 0;
}

static void cli_on_closed(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->client_closed++;
}

/* ---- failures of either side ---- */

static void on_refused(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->error = "connection refused";
}
static void on_reset(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->error = "connection reset";
}
static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ((demo *)ctx)->error = "connection timed out";
}

static const efvitcp_handler server_handler = {
    .on_data = srv_on_data,
    .on_fin = srv_on_fin,
    .on_closed = srv_on_closed,
    .on_reset = on_reset,
    .on_timeout = on_timeout,
    .on_more_sendable = srv_on_more_sendable,
};

static const efvitcp_handler client_handler = {
    .on_connection_refused = on_refused,
    .on_established = cli_on_established,
    .on_data = cli_on_data,
    .on_closed = cli_on_closed,
    .on_reset = on_reset,
    .on_timeout = on_timeout,
};

static void poll_both(demo *d)
{
    efvitcp_server_poll(d->srv, &server_handler, d);
    efvitcp_client_poll(d->cli, &client_handler, d);
}

/* Polls until done(d); the deadline is only checked now and then to keep the clock off the hot
   path. */
static void run_until(demo *d, bool (*done)(const demo *), uint64_t timeout_ns, const char *what)
{
    uint64_t deadline = now_ns() + timeout_ns;
    for (uint32_t spins = 0; !done(d); spins++) {
        poll_both(d);
        if (d->error) die("%s: %s", what, d->error);
        if ((spins & 1023) == 1023 && now_ns() > deadline) die("%s: timed out", what);
    }
}

/* Keeps both instances running for a while, so that delayed ACKs leave and retransmission timers
   stop before the program pauses to print: a peer that stops polling looks like a lost ACK. */
static void settle(demo *d, uint64_t ns)
{
    uint64_t end = now_ns() + ns;
    while (now_ns() < end) {
        poll_both(d);
        if (d->error) die("%s", d->error);
    }
}

static bool both_established(const demo *d)
{
    return d->established == 2;
}
static bool all_closed(const demo *d)
{
    return d->client_closed == 2 && d->server_closed == 2;
}

/* ---- phases ---- */

static void setup(demo *d)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false;
    wc.latency_ns = 0;
    const char *err = efvitcp_wire_new(&d->wire, &wc);
    if (err) die("wire: %s", err);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.max_time_wait = 4;
    cfg.wire = d->wire;
    /* A deeper send ring and receive buffer than the defaults keep the bulk pipe full. */
    cfg.send_slots = 1024;
    cfg.recv_buf_size = 1 << 20;
    cfg.local_addr = SERVER_IP "/24";
    if ((err = efvitcp_server_init(&d->srv, "mem:server", &cfg))) die("server: %s", err);
    if ((err = efvitcp_server_listen(d->srv, ECHO_PORT))) die("listen: %s", err);
    if ((err = efvitcp_server_listen(d->srv, DISCARD_PORT))) die("listen: %s", err);
    cfg.local_addr = CLIENT_IP "/24";
    if ((err = efvitcp_client_init(&d->cli, "mem:client", &cfg))) die("client: %s", err);
}

static void phase_connect(demo *d)
{
    uint64_t t0 = now_ns();
    const char *err = efvitcp_client_connect(d->cli, SERVER_IP, ECHO_PORT, 0, &d->echo);
    if (!err) err = efvitcp_client_connect(d->cli, SERVER_IP, DISCARD_PORT, 0, &d->bulk);
    if (err) die("connect: %s", err);
    /* The first SYN waits for ARP, so this also covers neighbour resolution. */
    run_until(d, both_established, 5 * SEC, "connect");
    printf("connect     2 connections established in %.1f us (ARP included)\n",
           (double)(now_ns() - t0) / 1e3);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)(p * (double)n + 0.999999);
    return v[rank ? rank - 1 : 0];
}

static void phase_ping_pong(demo *d, uint32_t count, uint32_t size)
{
    uint8_t msg[MAX_SIZE];
    for (uint32_t i = 0; i < size; i++) msg[i] = (uint8_t)(i * 13 + 1);
    uint64_t *lat = malloc((size_t)count * sizeof(*lat));
    if (!lat) die("out of memory");

    for (uint32_t i = 0; i < WARMUP + count; i++) {
        /* A sequence number in every message proves the echo is this round trip's. */
        memcpy(msg, &i, size < sizeof(i) ? size : sizeof(i));
        d->rx_len = 0;
        uint64_t t0 = now_ns();
        if (efvitcp_send(d->echo, msg, size, false) != size) die("ping-pong: send refused");
        for (uint32_t spins = 0; d->rx_len < size; spins++) {
            poll_both(d);
            /* A round trip takes well under a microsecond: a stall this long means it is lost
               and waits for a retransmission, which still completes. Only a dead connection
               (error) or a very long stall gives up. */
            if (d->error) die("ping-pong: %s", d->error);
            if ((spins & 0xfffff) == 0xfffff && now_ns() - t0 > 5 * SEC)
                die("ping-pong: round trip %u timed out", i);
        }
        uint64_t t1 = now_ns();
        if (d->rx_len != size || memcmp(d->rx, msg, size) != 0)
            die("ping-pong: round trip %u: echo does not match", i);
        if (i >= WARMUP) lat[i - WARMUP] = t1 - t0;
    }
    settle(d, 2 * SEC / 1000);
    qsort(lat, count, sizeof(*lat), cmp_u64);
    printf("ping-pong   %u round trips of %u bytes (after %u warm-up), ns:\n", count, size, WARMUP);
    printf("            p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
           "  max %" PRIu64 "\n",
           percentile(lat, count, 0.50), percentile(lat, count, 0.90), percentile(lat, count, 0.99),
           percentile(lat, count, 0.999), lat[count - 1]);
    free(lat);
}

static void phase_bulk(demo *d, uint64_t mb)
{
    static uint8_t pat[CHUNK + PATTERN_MOD];
    for (uint32_t i = 0; i < sizeof(pat); i++) pat[i] = pattern(i);
    uint64_t total = mb << 20, sent = 0;
    uint64_t t0 = now_ns(), deadline = t0 + 600 * SEC;
    for (uint32_t spins = 0; d->discarded < total; spins++) {
        /* Poll before sending: a send stamps its segments with the time of the last poll, and
           the printing before this phase took long enough for that to look like a lost segment. */
        poll_both(d);
        if (d->error) die("bulk: %s", d->error);
        if (sent < total) {
            /* pat + sent % PATTERN_MOD starts the pattern at the right phase for offset sent. */
            uint64_t want = total - sent < CHUNK ? total - sent : CHUNK;
            sent += efvitcp_send(d->bulk, pat + sent % PATTERN_MOD, (uint32_t)want, false);
        }
        if ((spins & 1023) == 1023 && now_ns() > deadline) die("bulk: timed out");
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    if (d->discarded != total)
        die("bulk: server got %" PRIu64 " bytes, want %" PRIu64, d->discarded, total);
    if (d->bad_samples)
        die("bulk: %" PRIu64 " of %" PRIu64 " sampled bytes are wrong", d->bad_samples, d->samples);
    printf("bulk        %" PRIu64 " MiB in %.3f s: %.2f Gbit/s, %.0f MB/s (%" PRIu64
           " bytes sampled, all correct)\n",
           mb, secs, (double)total * 8 / secs / 1e9, (double)total / secs / 1e6, d->samples);
}

static void phase_close(demo *d)
{
    poll_both(d); /* fresh time for the FINs, as in phase_bulk */
    const char *err = efvitcp_send_fin(d->echo);
    if (!err) err = efvitcp_send_fin(d->bulk);
    if (err) die("close: %s", err);
    run_until(d, all_closed, 5 * SEC, "close");

    efvitcp_stats cs, ss;
    efvitcp_client_stats(d->cli, &cs);
    efvitcp_server_stats(d->srv, &ss);
    if (cs.conns_active || ss.conns_active) die("close: connections still active");
    uint64_t drops = 0;
    for (int i = 0; i < EFVITCP_DROP_REASONS; i++) drops += cs.drops[i] + ss.drops[i];
    uint64_t wire_delivered, wire_dropped;
    efvitcp_wire_counts(d->wire, &wire_delivered, &wire_dropped);
    printf("close       clean (client in TIME_WAIT: %u)\n", cs.time_wait_active);
    printf("counters    client: %" PRIu64 " segments out, %" PRIu64 " in, %" PRIu64
           " retransmits\n",
           cs.segs_out, cs.segs_in, cs.retransmits);
    printf("            server: %" PRIu64 " segments out, %" PRIu64 " in, %" PRIu64
           " retransmits\n",
           ss.segs_out, ss.segs_in, ss.retransmits);
    printf("            drops: %" PRIu64 " by the stacks, %" PRIu64 " by the wire\n", drops,
           wire_dropped);
    for (int i = 0; i < EFVITCP_DROP_REASONS; i++)
        if (cs.drops[i] + ss.drops[i])
            printf("            %s: client %" PRIu64 ", server %" PRIu64 "\n",
                   efvitcp_drop_reason_name((efvitcp_drop_reason)i), cs.drops[i], ss.drops[i]);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        die("%s wants a number in %" PRIu64 "..%" PRIu64, opt, lo, hi);
    return v;
}

int main(int argc, char **argv)
{
    uint32_t count = 100000, size = 64;
    uint64_t bulk_mb = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--count") == 0)
            count = (uint32_t)parse_num(a, v, 1, 100000000), i++;
        else if (strcmp(a, "--bulk-mb") == 0)
            bulk_mb = parse_num(a, v, 1, 1 << 20), i++;
        else if (strcmp(a, "--size") == 0)
            size = (uint32_t)parse_num(a, v, 1, MAX_SIZE), i++;
        else
            die("usage: efvitcp_demo [--count N] [--bulk-mb M] [--size BYTES]");
    }

    static demo d; /* static: the receive buffer is too big for the stack */
    printf("efvitcp demo: echo and discard servers, one client, mem wire (real clock, latency "
           "0)\n");
    setup(&d);
    phase_connect(&d);
    phase_ping_pong(&d, count, size);
    phase_bulk(&d, bulk_mb);
    phase_close(&d);
    efvitcp_client_close(d.cli);
    efvitcp_server_close(d.srv);
    efvitcp_wire_free(d.wire);
    return 0;
}
