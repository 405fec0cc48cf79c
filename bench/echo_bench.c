/*
 * Echo benchmark: 64-byte round trips between a client and an echo server over the mem link (real
 * clock, latency 0), both polled from one loop. What is measured is the software path of both
 * stacks plus the wire's copies, with no NIC and no system call except the clock.
 *
 *   echo_bench [--count N] [--raw] [--callgrind]
 *
 * --raw replaces the two stacks with two raw wire endpoints bouncing one 106-byte frame: the same
 * loop over the same wire, i.e. the floor that the stacks add their cost to.
 * --callgrind (or EFVITCP_BENCH_CALLGRIND=1) runs the loop with no timing calls and prints
 * nothing about time, for instruction counting (bench/run_callgrind.sh). The loops are the
 * bench_loop_* functions, so that callgrind can collect just them (--toggle-collect).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "efvitcp/efvitcp.h"
#include "link/mem_wire.h"

#define SERVER_IP "198.18.0.1"
#define CLIENT_IP "198.18.0.2"
#define PORT      7
#define MSG_SIZE  64
#define RAW_FRAME 106
#define WARMUP    1000
#define MAX_SPINS 100000000u /* polls without progress before a round trip counts as lost */
#define SEC       1000000000ull
/* Out of line, so that callgrind --toggle-collect=bench_loop_* sees each loop as one call. */
#define NOINLINE __attribute__((noinline))

typedef struct bench {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    efvitcp_conn *conn;
    int established;
    uint32_t got; /* echo bytes received in the current round trip */
    const char *error;
} bench;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("echo_bench: ", stderr);
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

static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    if (efvitcp_send(c, data, len, false) != len) ((bench *)ctx)->error = "echo send refused";
    return 0;
}

static void cli_on_established(void *ctx, efvitcp_conn *c)
{
    ((bench *)ctx)->established = 1;
}

static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ((bench *)ctx)->got += len;
    return 0;
}

static void on_fail(void *ctx, efvitcp_conn *c)
{
    ((bench *)ctx)->error = "connection lost";
}

static const efvitcp_handler server_handler = {
    .on_data = srv_on_data,
    .on_reset = on_fail,
    .on_timeout = on_fail,
};

static const efvitcp_handler client_handler = {
    .on_connection_refused = on_fail,
    .on_established = cli_on_established,
    .on_data = cli_on_data,
    .on_reset = on_fail,
    .on_timeout = on_fail,
};

static void poll_both(bench *b)
{
    efvitcp_server_poll(b->srv, &server_handler, b);
    efvitcp_client_poll(b->cli, &client_handler, b);
}

static efvitcp_wire *make_wire(void)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false;
    wc.latency_ns = 0;
    wc.max_frames = 1024; /* a ping-pong has one frame in flight; keep setup small */
    efvitcp_wire *w;
    const char *err = efvitcp_wire_new(&w, &wc);
    if (err) die("wire: %s", err);
    return w;
}

static void setup_tcp(bench *b)
{
    b->wire = make_wire();
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    /* Small instances: setup cost stays out of the way of instruction counts. */
    cfg.max_conns = 2;
    cfg.max_time_wait = 2;
    cfg.send_slots = 16;
    cfg.wire = b->wire;
    cfg.local_addr = SERVER_IP "/24";
    const char *err = efvitcp_server_init(&b->srv, "mem:server", &cfg);
    if (!err) err = efvitcp_server_listen(b->srv, PORT);
    cfg.local_addr = CLIENT_IP "/24";
    if (!err) err = efvitcp_client_init(&b->cli, "mem:client", &cfg);
    if (!err) err = efvitcp_client_connect(b->cli, SERVER_IP, PORT, 0, &b->conn);
    if (err) die("setup: %s", err);
    for (uint32_t spins = 0; !b->established; spins++) {
        poll_both(b);
        if (b->error || spins > MAX_SPINS) die("connect failed: %s", b->error ? b->error : "");
    }
}

/*
 * n round trips of the TCP echo. With lat, lat[i] is the time from the end of round trip i-1 to
 * the end of round trip i: one clock read per round trip, and the samples add up to the total.
 */
NOINLINE void bench_loop_tcp(bench *b, uint32_t n, uint64_t *lat)
{
    static const uint8_t msg[MSG_SIZE] = {1, 2, 3};
    uint64_t prev = lat ? now_ns() : 0;
    for (uint32_t i = 0; i < n; i++) {
        b->got = 0;
        if (efvitcp_send(b->conn, msg, MSG_SIZE, false) != MSG_SIZE) die("send refused");
        for (uint32_t spins = 0; b->got < MSG_SIZE; spins++) {
            poll_both(b);
            if (b->error || spins > MAX_SPINS)
                die("round trip %u failed: %s", i, b->error ? b->error : "no echo");
        }
        if (lat) {
            uint64_t t = now_ns();
            lat[i] = t - prev;
            prev = t;
        }
    }
}

typedef struct raw {
    efvitcp_wire *wire;
    int a, b;
    uint8_t frame[RAW_FRAME];
} raw;

static void setup_raw(raw *r)
{
    r->wire = make_wire();
    uint8_t mac_a[6], mac_b[6];
    const char *err = et_wire_raw_attach(r->wire, "a", mac_a, &r->a);
    if (!err) err = et_wire_raw_attach(r->wire, "b", mac_b, &r->b);
    if (err) die("raw: %s", err);
    memset(r->frame, 0x5a, sizeof(r->frame));
    memcpy(r->frame, mac_b, 6);
    memcpy(r->frame + 6, mac_a, 6);
}

/* The floor: a frame from a to b and back, each side turning it around like a reflector. */
NOINLINE void bench_loop_raw(raw *r, uint32_t n, uint64_t *lat)
{
    uint8_t buf[2048], mac[6];
    int ends[2] = {r->b, r->a};
    uint64_t prev = lat ? now_ns() : 0;
    if (et_wire_raw_send(r->wire, r->a, r->frame, RAW_FRAME)) die("raw send failed");
    for (uint32_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            int len;
            for (uint32_t spins = 0;
                 (len = et_wire_raw_recv(r->wire, ends[k], buf, sizeof(buf))) == 0; spins++)
                if (spins > MAX_SPINS) die("raw frame lost");
            if (len != RAW_FRAME) die("raw recv: %d", len);
            memcpy(mac, buf, 6);
            memcpy(buf, buf + 6, 6);
            memcpy(buf + 6, mac, 6);
            /* The very last frame stays home so that exactly n round trips are counted. */
            if ((k == 0 || i + 1 < n) && et_wire_raw_send(r->wire, ends[k], buf, RAW_FRAME))
                die("raw send failed");
        }
        if (lat) {
            uint64_t t = now_ns();
            lat[i] = t - prev;
            prev = t;
        }
    }
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void report(const char *what, uint64_t *lat, uint32_t n)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += lat[i];
    qsort(lat, n, sizeof(*lat), cmp_u64);
    double mean = (double)total / n;
    printf("%s: %u round trips\n", what, n);
    printf("  mean %.1f ns  p50 %" PRIu64 " ns  p99 %" PRIu64 " ns  %.0f round trips/s\n", mean,
           lat[n / 2], lat[(size_t)((double)n * 0.99)], 1e9 / mean);
}

int main(int argc, char **argv)
{
    uint32_t count = 0;
    bool raw_mode = false, callgrind = false;
    const char *env = getenv("EFVITCP_BENCH_CALLGRIND");
    if (env && *env && strcmp(env, "0") != 0) callgrind = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v == 0 || v > 1000000000ul)
                die("--count wants 1..1000000000");
            count = (uint32_t)v;
        } else if (strcmp(argv[i], "--raw") == 0) {
            raw_mode = true;
        } else if (strcmp(argv[i], "--callgrind") == 0) {
            callgrind = true;
        } else {
            die("usage: echo_bench [--count N] [--raw] [--callgrind]");
        }
    }
    if (!count) count = callgrind ? 1000 : 1000000;
    uint64_t *lat = NULL;
    if (!callgrind && !(lat = malloc((size_t)count * sizeof(*lat)))) die("out of memory");

    if (raw_mode) {
        raw r;
        setup_raw(&r);
        if (callgrind) {
            bench_loop_raw(&r, count, NULL);
        } else {
            bench_loop_raw(&r, WARMUP, NULL);
            bench_loop_raw(&r, count, lat);
            report("raw 106-byte frame bounce over the mem wire (floor)", lat, count);
        }
        et_wire_raw_detach(r.wire, r.a);
        et_wire_raw_detach(r.wire, r.b);
        efvitcp_wire_free(r.wire);
    } else {
        bench b = {0};
        setup_tcp(&b);
        if (callgrind) {
            bench_loop_tcp(&b, count, NULL);
        } else {
            bench_loop_tcp(&b, WARMUP, NULL);
            bench_loop_tcp(&b, count, lat);
            report("64-byte TCP echo over the mem link (both stacks)", lat, count);
            efvitcp_stats cs, ss;
            efvitcp_client_stats(b.cli, &cs);
            efvitcp_server_stats(b.srv, &ss);
            printf("  retransmits: client %" PRIu64 ", server %" PRIu64 "\n", cs.retransmits,
                   ss.retransmits);
        }
        efvitcp_client_close(b.cli);
        efvitcp_server_close(b.srv);
        efvitcp_wire_free(b.wire);
    }
    if (callgrind) printf("callgrind mode: %u round trips done\n", count);
    free(lat);
    return 0;
}
