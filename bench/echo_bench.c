/*
 * Echo benchmark over the mem link (real clock, latency 0), or over emulated NIC ports (below),
 * both stacks polled from one loop. On mem what is measured is the software path of both stacks
 * plus the wire's copies, with no NIC and no system call except the clock.
 *
 *   echo_bench [--link L] [--matched] [--count N] [--size N] [--samples FILE] [--name NAME]
 *              [--raw] [--callgrind] [--stat-ms N] [--idle N]
 *   echo_bench [--link L] [--matched] --bulk BYTES | --bulk-segs N  [--both] [--name NAME]
 *              [--callgrind] [--stat-ms N]
 *
 * The same source is built twice: echo_bench (mem only) and echo_bench_efvi, linked with the ef_vi
 * emulator (tests/efvi_emu), which exists only when the tests are built (EFVITCP_TESTS). There
 * --link efvi puts each stack on the efvi link over an emulated EF10 (X2) port with CTPIO, and
 * --link efct over an emulated EFCT (X3) port, both ports on the same mem wire (bench/echo_link.c);
 * the emulator's NIC work then runs inside the polls and sends. --link mem is the default.
 * --matched: the settings of the original C++ efvitcp that issue 11 compares with: no window
 * scaling, no timestamps, no congestion control, delayed ACK 10 ms (otherwise the defaults), and
 * handlers with on_more_sendable, which the original makes every handler define (onMoreSendable):
 * each acknowledgment that frees send slots then asks how much may be sent.
 *
 * Ping-pong (the default): N round trips of --size bytes (default 64) between a client and an echo
 * server. --samples writes every round trip in ns, one per line.
 * --raw replaces the two stacks with two raw wire endpoints bouncing one frame of the size the TCP
 * ping-pong puts on the wire for that message (Ethernet, IPv4, TCP with the timestamp option
 * unless --matched, the message): the same loop over the same wire, i.e. the floor that the stacks
 * add their cost to.
 * --bulk: the client sends BYTES to the server, in whole MSS-sized segments (--bulk-segs counts
 * them); with --both the server sends as many to the client at the same time. The figure counts
 * the bytes of both directions (bench conventions: bytes is the total).
 * --callgrind (or EFVITCP_BENCH_CALLGRIND=1) runs the loop with no timing calls and prints
 * nothing about time, for instruction counting (bench/run_callgrind.sh, bench/run_cpu_cost.sh).
 * The loops are the bench_loop_* functions, so that callgrind can collect just them
 * (--toggle-collect); the client's sends in the ping-pong are bench_client_send, so that one side
 * can be collected apart from the other (bench/run_efvi_callgrind.sh).
 *
 * --idle N (with --callgrind): after the ping-pong, N polls of the server with its connection
 * established and nothing to do, in bench_loop_idle: what one idle turn of a busy poll loop
 * costs (bench/run_efvi_callgrind.sh).
 *
 * --stat-ms N: both instances publish the live view of efvitcp-stat every N ms (the default is
 * the config's, 100 ms); 0 turns it off (cfg.stat_shm = false), to measure what it costs.
 *
 * Besides the human lines, every measurement is one RESULT line (bench/suite.sh parses them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo_link.h"
#include "efvitcp/efvitcp.h"
#include "wire/wire_hooks.h"

#define SERVER_IP "198.18.0.1"
#define CLIENT_IP "198.18.0.2"
#define PORT      7
#define MAX_SIZE  16384
/* Ethernet 14 + IPv4 20 + TCP 20, + the timestamp option 12 unless --matched turns it off. */
#define TCP_OVERHEAD    66
#define TCP_OVERHEAD_NO 54
#define MAX_RAW         (1500 + 14)
#define WARMUP          1000
#define MAX_SPINS       100000000u /* polls without progress before a round trip counts as lost */
#define SEC             1000000000ull
/* Out of line, so that callgrind --toggle-collect=bench_loop_* sees each loop as one call. */
#define NOINLINE __attribute__((noinline))

typedef struct bench {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    efvitcp_conn *conn;  /* the client's */
    efvitcp_conn *sconn; /* the server's */
    int established;
    uint32_t size;    /* ping-pong message */
    uint32_t got;     /* echo bytes received in the current round trip */
    bool bulk;        /* the server discards (and in --both mode sends) instead of echoing */
    uint64_t cli_got; /* bulk bytes received by the client / server */
    uint64_t srv_got;
    echo_link link;
    bool matched; /* the original C++ efvitcp's settings (--matched) */
    int stat_ms;  /* --stat-ms: -1 = the config's default, 0 = off */
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

static void srv_on_established(void *ctx, efvitcp_conn *c)
{
    ((bench *)ctx)->sconn = c;
}

static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    bench *b = ctx;
    if (b->bulk) {
        b->srv_got += len;
        return 0;
    }
    if (efvitcp_send(c, data, len, false) != len) b->error = "echo send refused";
    return 0;
}

static void cli_on_established(void *ctx, efvitcp_conn *c)
{
    ((bench *)ctx)->established = 1;
}

static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    bench *b = ctx;
    b->got += len;
    b->cli_got += len;
    return 0;
}

static void on_fail(void *ctx, efvitcp_conn *c)
{
    ((bench *)ctx)->error = "connection lost";
}

static void on_more_sendable(void *ctx, efvitcp_conn *c) {}

static const efvitcp_handler server_handler = {
    .on_established = srv_on_established,
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

/* The same with on_more_sendable, as every handler of the original library has it. */
static const efvitcp_handler server_handler_matched = {
    .on_established = srv_on_established,
    .on_data = srv_on_data,
    .on_reset = on_fail,
    .on_timeout = on_fail,
    .on_more_sendable = on_more_sendable,
};

static const efvitcp_handler client_handler_matched = {
    .on_connection_refused = on_fail,
    .on_established = cli_on_established,
    .on_data = cli_on_data,
    .on_reset = on_fail,
    .on_timeout = on_fail,
    .on_more_sendable = on_more_sendable,
};

static void poll_both(bench *b)
{
    efvitcp_server_poll(b->srv, b->matched ? &server_handler_matched : &server_handler, b);
    efvitcp_client_poll(b->cli, b->matched ? &client_handler_matched : &client_handler, b);
}

static efvitcp_wire *make_wire(uint32_t max_frames)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false;
    wc.latency_ns = 0;
    wc.max_frames = max_frames;
    efvitcp_wire *w;
    const char *err = efvitcp_wire_new(&w, &wc);
    if (err) die("wire: %s", err);
    return w;
}

static void setup_tcp(bench *b, bool bulk)
{
    /* A ping-pong has a few frames in flight; keep setup small. */
    b->wire = make_wire(bulk ? 65536 : 1024);
    b->bulk = bulk;
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    /* Small instances: setup cost stays out of the way of instruction counts. A bulk transfer
       needs a deep send ring and a large window to keep the pipe full. */
    cfg.max_conns = 2;
    cfg.max_time_wait = 2;
    cfg.send_slots = bulk ? 1024 : 16;
    if (bulk) {
        cfg.recv_buf_size = 1 << 20;
        cfg.rx_bufs = 2048;
    }
    if (b->matched) {
        cfg.window_scale = false;
        cfg.timestamps = false;
        cfg.cc = EFVITCP_CC_NONE;
        cfg.delayed_ack_us = 10000;
    }
    if (b->stat_ms >= 0) {
        cfg.stat_shm = b->stat_ms > 0;
        if (b->stat_ms > 0) cfg.stat_interval_ms = (uint32_t)b->stat_ms;
    }
    cfg.wire = b->wire;
    cfg.local_addr = SERVER_IP "/24";
    const char *err = echo_link_server_init(b->link, &b->srv, &cfg);
    if (!err) err = efvitcp_server_listen(b->srv, PORT);
    cfg.local_addr = CLIENT_IP "/24";
    if (!err) err = echo_link_client_init(b->link, &b->cli, &cfg);
    if (!err) err = efvitcp_client_connect(b->cli, SERVER_IP, PORT, 0, &b->conn);
    if (err) die("setup: %s", err);
    for (uint32_t spins = 0; !b->established || !b->sconn; spins++) {
        poll_both(b);
        if (b->error || spins > MAX_SPINS) die("connect failed: %s", b->error ? b->error : "");
    }
}

/* The client's send, out of line so that callgrind can collect it (--toggle-collect) apart from
   the server's, which happens inside efvitcp_server_poll (a toggle on efvitcp_send would switch
   collection on there). */
NOINLINE uint32_t bench_client_send(efvitcp_conn *c, const uint8_t *msg, uint32_t size)
{
    return efvitcp_send(c, msg, size, false);
}

/*
 * n round trips of the TCP echo. With lat, lat[i] is the time from the end of round trip i-1 to
 * the end of round trip i: one clock read per round trip, and the samples add up to the total.
 */
NOINLINE void bench_loop_tcp(bench *b, uint32_t n, uint64_t *lat)
{
    static const uint8_t msg[MAX_SIZE] = {1, 2, 3};
    uint32_t size = b->size;
    uint64_t prev = lat ? now_ns() : 0;
    for (uint32_t i = 0; i < n; i++) {
        b->got = 0;
        if (bench_client_send(b->conn, msg, size) != size) die("send refused");
        for (uint32_t spins = 0; b->got < size; spins++) {
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

/* n polls of the server with an established connection and nothing to do: the cost of a busy
   poll loop's idle turns (--idle), which decide how soon a frame is seen after it lands. */
NOINLINE void bench_loop_idle(bench *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        efvitcp_server_poll(b->srv, b->matched ? &server_handler_matched : &server_handler, b);
}

/* Offers whole segments only, so that every segment on the wire is a full one. */
static uint64_t push(efvitcp_conn *c, uint64_t left, uint32_t mss)
{
    static const uint8_t chunk[65536];
    uint64_t n = efvitcp_sendable(c);
    if (n > sizeof(chunk)) n = sizeof(chunk);
    if (n > left) n = left;
    if (n < left) n -= n % mss;
    return n ? efvitcp_send(c, chunk, (uint32_t)n, false) : 0;
}

/* bytes from the client to the server and, with both, as many back, all at once. */
NOINLINE void bench_loop_bulk(bench *b, uint64_t bytes, bool both, uint32_t mss)
{
    uint64_t sent_c = 0, sent_s = 0, want_c = both ? bytes : 0;
    uint64_t base_c = b->cli_got, base_s = b->srv_got;
    for (uint64_t spins = 0; b->srv_got - base_s < bytes || b->cli_got - base_c < want_c;) {
        /* Poll before sending: a send stamps its segments with the time of the last poll. */
        poll_both(b);
        uint64_t progress = b->srv_got + b->cli_got;
        if (sent_c < bytes) sent_c += push(b->conn, bytes - sent_c, mss);
        if (both && sent_s < bytes) sent_s += push(b->sconn, bytes - sent_s, mss);
        if (b->error) die("bulk: %s", b->error);
        spins = progress == b->srv_got + b->cli_got ? spins + 1 : 0;
        if (spins > MAX_SPINS) die("bulk: stalled");
    }
}

typedef struct raw {
    efvitcp_wire *wire;
    int a, b;
    uint32_t len;
    uint8_t frame[MAX_RAW];
} raw;

static void setup_raw(raw *r, uint32_t len)
{
    r->wire = make_wire(1024);
    r->len = len;
    uint8_t mac_a[6], mac_b[6];
    const char *err = et_wire_raw_attach(r->wire, "a", mac_a, &r->a);
    if (!err) err = et_wire_raw_attach(r->wire, "b", mac_b, &r->b);
    if (err) die("raw: %s", err);
    memset(r->frame, 0x5a, sizeof(r->frame));
    memcpy(r->frame, mac_b, 6);
    memcpy(r->frame + 6, mac_a, 6);
    r->frame[12] = 0x08; /* IPv4, for anyone who captures it */
    r->frame[13] = 0x00;
}

/* The floor: a frame from a to b and back, each side turning it around like a reflector. */
NOINLINE void bench_loop_raw(raw *r, uint32_t n, uint64_t *lat)
{
    uint8_t buf[2048], mac[6];
    int ends[2] = {r->b, r->a};
    uint32_t len = r->len;
    uint64_t prev = lat ? now_ns() : 0;
    if (et_wire_raw_send(r->wire, r->a, r->frame, len)) die("raw send failed");
    for (uint32_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            int got;
            for (uint32_t spins = 0;
                 (got = et_wire_raw_recv(r->wire, ends[k], buf, sizeof(buf))) == 0; spins++)
                if (spins > MAX_SPINS) die("raw frame lost");
            if (got != (int)len) die("raw recv: %d", got);
            memcpy(mac, buf, 6);
            memcpy(buf, buf + 6, 6);
            memcpy(buf + 6, mac, 6);
            /* The very last frame stays home so that exactly n round trips are counted. */
            if ((k == 0 || i + 1 < n) && et_wire_raw_send(r->wire, ends[k], buf, len))
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

/* bench conventions: pN is the sorted sample at floor(N/100 * (n-1)). */
static uint64_t pct(const uint64_t *sorted, uint32_t n, double p)
{
    return sorted[(size_t)(p * (double)(n - 1))];
}

static void write_samples(const char *path, const uint64_t *lat, uint32_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) die("--samples %s: %s", path, strerror(errno));
    for (uint32_t i = 0; i < n; i++) fprintf(f, "%" PRIu64 "\n", lat[i]);
    if (fclose(f)) die("--samples %s: write failed", path);
}

static void report(const char *what, const char *name, uint32_t size, uint64_t *lat, uint32_t n,
                   const char *samples)
{
    if (samples) write_samples(samples, lat, n);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += lat[i];
    qsort(lat, n, sizeof(*lat), cmp_u64);
    double mean = (double)total / n;
    uint64_t p50 = pct(lat, n, 0.50), p99 = pct(lat, n, 0.99), p999 = pct(lat, n, 0.999);
    printf("%s: %u round trips\n", what, n);
    printf("  mean %.1f ns  p50 %" PRIu64 " ns  p99 %" PRIu64 " ns  p99.9 %" PRIu64
           " ns  max %" PRIu64 " ns  %.0f round trips/s\n",
           mean, p50, p99, p999, lat[n - 1], 1e9 / mean);
    printf("RESULT kind=latency name=%s size=%u n=%u mean=%.0f p50=%" PRIu64 " p99=%" PRIu64
           " p999=%" PRIu64 " max=%" PRIu64 "\n",
           name, size, n, mean, p50, p99, p999, lat[n - 1]);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || *s == '-' || v < lo || v > hi)
        die("%s wants %" PRIu64 "..%" PRIu64, opt, lo, hi);
    return v;
}

/* Retransmits (a run with some does not measure the path it means to) and, on the emulated
   ports, how the frames left. */
static void print_counts(bench *b)
{
    efvitcp_stats cs, ss;
    efvitcp_client_stats(b->cli, &cs);
    efvitcp_server_stats(b->srv, &ss);
    printf("  retransmits: client %" PRIu64 ", server %" PRIu64 "\n", cs.retransmits,
           ss.retransmits);
    if (b->link != ECHO_LINK_MEM) {
        uint64_t ctpio, dma;
        echo_link_tx_counts(b->link, b->wire, &ctpio, &dma);
        printf("  frames sent by the emulated ports: ctpio %" PRIu64 ", dma %" PRIu64 "\n", ctpio,
               dma);
    }
}

static void teardown(bench *b)
{
    efvitcp_client_close(b->cli);
    efvitcp_server_close(b->srv);
    efvitcp_wire_free(b->wire);
}

static void run_bulk(bench *bp, const char *name, uint64_t bytes, uint64_t segs, bool both,
                     bool callgrind)
{
    bench b = *bp;
    setup_tcp(&b, true);
    efvitcp_conn_stats st;
    efvitcp_conn_get_stats(b.conn, &st);
    uint32_t mss = st.mss ? st.mss : 1;
    if (segs) bytes = segs * mss;
    uint64_t t0 = callgrind ? 0 : now_ns();
    bench_loop_bulk(&b, bytes, both, mss);
    if (!callgrind) {
        double secs = (double)(now_ns() - t0) / 1e9;
        uint64_t total = both ? 2 * bytes : bytes;
        double gbps = (double)total * 8 / secs / 1e9;
        printf("bulk over %s, %s, segments of %u bytes: %" PRIu64 " bytes in %.3f s: %.2f Gbit/s\n",
               echo_link_what(b.link), both ? "both ways at once" : "one way", mss, total, secs,
               gbps);
        printf("RESULT kind=throughput name=%s dir=%s bytes=%" PRIu64 " secs=%.6f gbps=%.3f\n",
               name, both ? "both" : "one", total, secs, gbps);
    } else {
        printf("callgrind mode: %" PRIu64 " bytes in segments of %u bytes done\n", bytes, mss);
    }
    print_counts(&b);
    teardown(&b);
}

int main(int argc, char **argv)
{
    uint32_t count = 0, size = 64, idle = 0;
    uint64_t bulk = 0, segs = 0;
    bool raw_mode = false, callgrind = false, both = false;
    const char *samples = NULL, *name = NULL, *why = NULL;
    bench b = {.stat_ms = -1};
    const char *env = getenv("EFVITCP_BENCH_CALLGRIND");
    if (env && *env && strcmp(env, "0") != 0) callgrind = true;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--count") == 0 && v) {
            count = (uint32_t)parse_num(o, v, 1, 1000000000), i++;
        } else if (strcmp(o, "--size") == 0 && v) {
            size = (uint32_t)parse_num(o, v, 1, MAX_SIZE), i++;
        } else if (strcmp(o, "--bulk") == 0 && v) {
            bulk = parse_num(o, v, 1, 1ull << 40), i++;
        } else if (strcmp(o, "--bulk-segs") == 0 && v) {
            segs = parse_num(o, v, 1, 1ull << 30), i++;
        } else if (strcmp(o, "--idle") == 0 && v) {
            idle = (uint32_t)parse_num(o, v, 1, 1000000000), i++;
        } else if (strcmp(o, "--samples") == 0 && v) {
            samples = v, i++;
        } else if (strcmp(o, "--name") == 0 && v) {
            name = v, i++;
        } else if (strcmp(o, "--link") == 0 && v) {
            if (!echo_link_parse(v, &b.link, &why)) die("%s", why);
            i++;
        } else if (strcmp(o, "--matched") == 0) {
            b.matched = true;
        } else if (strcmp(o, "--both") == 0) {
            both = true;
        } else if (strcmp(o, "--raw") == 0) {
            raw_mode = true;
        } else if (strcmp(o, "--callgrind") == 0) {
            callgrind = true;
        } else if (strcmp(o, "--stat-ms") == 0 && v) {
            b.stat_ms = (int)parse_num(o, v, 0, 3600000), i++;
        } else {
            die("usage: echo_bench [--link mem|efvi|efct] [--matched] [--count N] [--size N] "
                "[--samples FILE] [--name NAME] [--raw] [--callgrind] [--stat-ms N] [--idle N]\n"
                "       echo_bench [--link mem|efvi|efct] [--matched] --bulk BYTES | --bulk-segs N "
                "[--both] [--name NAME] [--callgrind]");
        }
    }
    /* Default names: the link, "-emu" for the emulated ports, "-matched" for --matched. */
    char def_name[32];
    snprintf(def_name, sizeof(def_name), "%s%s%s", echo_link_name(b.link),
             b.link == ECHO_LINK_MEM ? "" : "-emu", b.matched ? "-matched" : "");
    if (raw_mode && b.link != ECHO_LINK_MEM) die("--raw is the mem wire's floor: --link mem only");
    if (bulk || segs) {
        if (raw_mode) die("--raw and --bulk do not mix");
        run_bulk(&b, name ? name : def_name, bulk, segs, both, callgrind);
        return 0;
    }
    if (!count) count = callgrind ? 1000 : 1000000;
    uint64_t *lat = NULL;
    if (!callgrind && !(lat = malloc((size_t)count * sizeof(*lat)))) die("out of memory");

    if (raw_mode) {
        uint32_t len = size + (b.matched ? TCP_OVERHEAD_NO : TCP_OVERHEAD);
        if (len > MAX_RAW) die("--raw: a %u-byte message is more than one frame", size);
        raw r;
        setup_raw(&r, len);
        if (callgrind) {
            bench_loop_raw(&r, count, NULL);
        } else {
            char what[160];
            snprintf(what, sizeof(what), "raw %u-byte frame bounce over the mem wire (floor)", len);
            bench_loop_raw(&r, WARMUP, NULL);
            bench_loop_raw(&r, count, lat);
            snprintf(def_name, sizeof(def_name), "mem-floor%s", b.matched ? "-matched" : "");
            report(what, name ? name : def_name, size, lat, count, samples);
        }
        et_wire_raw_detach(r.wire, r.a);
        et_wire_raw_detach(r.wire, r.b);
        efvitcp_wire_free(r.wire);
        if (callgrind) printf("raw frame: %u bytes\n", len);
    } else {
        setup_tcp(&b, false);
        b.size = size;
        if (callgrind) {
            bench_loop_tcp(&b, count, NULL);
            if (idle) {
                /* Both sides polled past the client's delayed ACK (10 ms with --matched) and
                   the server's probe timeout, so that the server has nothing in flight and no
                   timer due while only it is polled. */
                for (uint64_t t0 = now_ns(); now_ns() - t0 < 50000000ull;) poll_both(&b);
                efvitcp_stats before, after;
                efvitcp_server_stats(b.srv, &before);
                bench_loop_idle(&b, idle);
                efvitcp_server_stats(b.srv, &after);
                printf("idle: %u polls of the server, %" PRIu64 " quiet, %" PRIu64
                       " frames sent during them\n",
                       idle, after.polls_quiet - before.polls_quiet,
                       after.frames_out - before.frames_out);
            }
        } else {
            char what[160];
            snprintf(what, sizeof(what), "%u-byte TCP echo over %s (both stacks)%s", size,
                     echo_link_what(b.link), b.matched ? ", matched settings" : "");
            bench_loop_tcp(&b, WARMUP, NULL);
            bench_loop_tcp(&b, count, lat);
            report(what, name ? name : def_name, size, lat, count, samples);
        }
        print_counts(&b);
        teardown(&b);
    }
    if (callgrind) printf("callgrind mode: %u round trips done\n", count);
    free(lat);
    return 0;
}
