/*
 * sockperf_server: a sockperf-compatible TCP server over efvitcp, so that a stock
 * `sockperf ping-pong --tcp` (or under-load, throughput) measures efvitcp.
 *
 *   sockperf_server [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [--port P] [--ready FILE]
 *                   [--count N] [--stats] [--max-conns N] [--max-msg N] [--min-rto-ms N]
 *                   [--nap-after-us N | --busy] [-v]
 *
 * It serves any number of connections at once (up to --max-conns) and behaves like
 * `sockperf server --tcp -m MAX` (examples/sockperf_proto.h): messages re-framed by their length
 * field, CLIENT+PONG_REQUEST messages echoed with CLIENT cleared. One thread busy-polls the
 * instance. When no frame has come for --nap-after-us, it naps 20 us between polls: on a host
 * with fewer free cores than busy threads, a poller that never sleeps starves the kernel's
 * softirq work (ksoftirqd), which is what carries frames over a veth pair, and frames then wait
 * for milliseconds. A ping-pong never idles that long; --busy never naps (an isolated core).
 *
 * Exit status: 0 after --count connections ended or on SIGINT/SIGTERM, 1 on a failure to start,
 * 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "sockperf_proto.h"

#define IDLE_NAP_NS  20000
#define STATUS_OK    0
#define STATUS_FAIL  1
#define STATUS_USAGE 2

typedef struct app {
    sp_server sp;
    efvitcp_server *srv;
    uint64_t accepted, ended; /* ended: closed, reset, timed out (sp.cnt.aborted comes on top) */
    uint64_t closed, resets, timeouts;
    bool verbose;
} app;

static volatile sig_atomic_t stop_requested;

static void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sockperf_server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void on_signal(int sig)
{
    stop_requested = 1;
}

/* --help prints to standard output (for a pager); a usage error to standard error. */
static void usage(FILE *out)
{
    fputs("usage: sockperf_server [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [--port P]\n"
          "                       [--ready FILE] [--count N] [--stats] [--max-conns N]\n"
          "                       [--max-msg N] [--min-rto-ms N] [--nap-after-us N | --busy] [-v]\n"
          "  --link L       packet:IF, xdp:IF, efvi:IF or a plain interface name (best link);\n"
          "                 default: $EFTCAT_LINK, else the only non-loopback interface up\n"
          "  --ip A/P       use address A/P, which the kernel must not own (own-address mode)\n"
          "  --gw ADDR      next hop for destinations off the --ip subnet\n"
          "  --port P       listening port (default 11111, as sockperf)\n"
          "  --ready FILE   create FILE once listening\n"
          "  --count N      exit after N connections ended (default: run until a signal)\n"
          "  --stats        print counters on standard error at exit\n"
          "  --max-conns N  concurrent connections (default 64)\n"
          "  --max-msg N    largest message accepted, 14..1048575 (default 1048575, sockperf's\n"
          "                 TCP maximum; a stock server's default is 65507, raised by its -m)\n"
          "  --min-rto-ms N floor of the retransmission timeout (default 200, as Linux)\n"
          "  --nap-after-us N  nap between polls after N us without a frame (default 100)\n"
          "  --busy         never nap (for a core of its own)\n"
          "  -v             report connections on standard error\n"
          "  --version      print the efvitcp version\n",
          out);
}

/* ---- callbacks ---- */

static void log_hook(void *ctx, int level, const char *text)
{
    app *a = ctx;
    if (a->verbose || level == EFVITCP_LOG_ERROR) msg("%s", text);
}

static void on_established(void *ctx, efvitcp_conn *c)
{
    app *a = ctx;
    a->accepted++;
    if (a->verbose) msg("connection %u established", efvitcp_conn_id(c));
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    return sp_on_data(&((app *)ctx)->sp, c, data, len);
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    sp_on_fin(&((app *)ctx)->sp, c, data, len);
}

static void on_more_sendable(void *ctx, efvitcp_conn *c)
{
    sp_on_more_sendable(&((app *)ctx)->sp, c);
}

static void end_conn(app *a, efvitcp_conn *c, uint64_t *counter, const char *how)
{
    sp_on_end(&a->sp, c);
    (*counter)++;
    a->ended++;
    if (a->verbose) msg("connection %u %s", efvitcp_conn_id(c), how);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    app *a = ctx;
    end_conn(a, c, &a->closed, "closed");
}

static void on_reset(void *ctx, efvitcp_conn *c)
{
    app *a = ctx;
    end_conn(a, c, &a->resets, "reset by the peer");
}

static void on_timeout(void *ctx, efvitcp_conn *c)
{
    app *a = ctx;
    end_conn(a, c, &a->timeouts, "timed out");
}

static const efvitcp_handler handler = {
    .on_established = on_established,
    .on_data = on_data,
    .on_fin = on_fin,
    .on_closed = on_closed,
    .on_reset = on_reset,
    .on_timeout = on_timeout,
    .on_more_sendable = on_more_sendable,
};

static void pump_one(void *arg, efvitcp_conn *c)
{
    if (sp_backlog(c)) sp_pump(&((app *)arg)->sp, c);
}

/* ---- the loop ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* nap_after_ns: UINT64_MAX = never nap. */
static void run(app *a, uint64_t count, uint64_t nap_after_ns)
{
    uint64_t last_frames = 0, last_busy = now_ns();
    while (!stop_requested) {
        efvitcp_server_poll(a->srv, &handler, a);
        /* A backlog normally drains from on_more_sendable; this covers a ring that refused bytes
           with nothing in flight to bring the ACK that would call it. */
        if (a->sp.cnt.backlogged) efvitcp_server_foreach(a->srv, pump_one, a);
        if (count && a->ended + a->sp.cnt.aborted >= count) break;
        efvitcp_stats st;
        efvitcp_server_stats(a->srv, &st);
        if (nap_after_ns == UINT64_MAX) continue;
        uint64_t now = now_ns();
        if (st.frames_in != last_frames) {
            last_frames = st.frames_in;
            last_busy = now;
        } else if (now - last_busy > nap_after_ns) {
            struct timespec ts = {0, IDLE_NAP_NS};
            nanosleep(&ts, NULL);
        }
    }
}

static void print_stats(const app *a)
{
    const sp_counters *k = &a->sp.cnt;
    efvitcp_stats st;
    efvitcp_server_stats(a->srv, &st);
    fprintf(stderr,
            "sockperf_server: connections accepted %llu closed %llu reset %llu timeout %llu "
            "aborted %llu bad_length %llu\n",
            (unsigned long long)a->accepted, (unsigned long long)a->closed,
            (unsigned long long)a->resets, (unsigned long long)a->timeouts,
            (unsigned long long)k->aborted, (unsigned long long)k->bad_length);
    fprintf(stderr,
            "sockperf_server: messages %llu echoed %llu warmup %llu no_pong %llu not_client %llu "
            "bytes_echoed %llu stalls %llu backlog_max %u\n",
            (unsigned long long)k->msgs, (unsigned long long)k->echoed,
            (unsigned long long)k->warmup, (unsigned long long)k->no_pong,
            (unsigned long long)k->not_client, (unsigned long long)k->bytes_echoed,
            (unsigned long long)k->stalls, k->backlog_max);
    fprintf(stderr,
            "sockperf_server: frames in %llu out %llu segments in %llu out %llu bytes in %llu "
            "out %llu retransmits %llu\n",
            (unsigned long long)st.frames_in, (unsigned long long)st.frames_out,
            (unsigned long long)st.segs_in, (unsigned long long)st.segs_out,
            (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
            (unsigned long long)st.retransmits);
    for (int i = 0; i < EFVITCP_DROP_REASONS; i++)
        if (st.drops[i])
            fprintf(stderr, "sockperf_server: dropped (%s) %llu\n",
                    efvitcp_drop_reason_name((efvitcp_drop_reason)i),
                    (unsigned long long)st.drops[i]);
}

/* ---- arguments ---- */

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *s == '-' || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* The only interface that is up and not loopback, or NULL (none, or several). */
static const char *default_link(char *buf, size_t cap)
{
    const char *env = getenv("EFTCAT_LINK");
    if (env && *env) return env;
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs)) return NULL;
    int found = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET) continue;
        if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
        if (found++ == 0) snprintf(buf, cap, "%s", i->ifa_name);
    }
    freeifaddrs(ifs);
    return found == 1 ? buf : NULL;
}

int main(int argc, char **argv)
{
    static app A; /* zeroed */
    const char *link = NULL, *ip = NULL, *gw = NULL, *ready = NULL;
    uint64_t port = SP_DEFAULT_PORT, count = 0, max_conns = 64, max_msg = SP_MAX_MSG;
    uint64_t min_rto_ms = 200, nap_after_us = 100;
    bool stats = false, busy = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return STATUS_OK;
        } else if (!strcmp(a, "--version")) {
            printf("sockperf_server (efvitcp) %s\n", efvitcp_version());
            return STATUS_OK;
        } else if (!strcmp(a, "-v")) {
            A.verbose = true;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (!strcmp(a, "--busy")) {
            busy = true;
        } else if (!strcmp(a, "--link") && has_next) {
            link = argv[++i];
        } else if (!strcmp(a, "--ip") && has_next) {
            ip = argv[++i];
        } else if (!strcmp(a, "--gw") && has_next) {
            gw = argv[++i];
        } else if (!strcmp(a, "--ready") && has_next) {
            ready = argv[++i];
        } else if (!strcmp(a, "--port") && has_next) {
            if (!parse_u64(argv[++i], 1, 65535, &port)) {
                msg("bad port: %s", argv[i]);
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--count") && has_next) {
            if (!parse_u64(argv[++i], 1, UINT64_MAX, &count)) {
                msg("--count must be a positive number");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--max-conns") && has_next) {
            if (!parse_u64(argv[++i], 1, 65536, &max_conns)) {
                msg("--max-conns must be 1..65536");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--max-msg") && has_next) {
            if (!parse_u64(argv[++i], SP_HDR_LEN, SP_MAX_MSG, &max_msg)) {
                msg("--max-msg must be 14..1048575");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--nap-after-us") && has_next) {
            if (!parse_u64(argv[++i], 0, 60000000, &nap_after_us)) {
                msg("--nap-after-us must be 0..60000000");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--min-rto-ms") && has_next) {
            if (!parse_u64(argv[++i], 1, 60000, &min_rto_ms)) {
                msg("--min-rto-ms must be 1..60000");
                return STATUS_USAGE;
            }
        } else {
            msg("unknown or incomplete option: %s", a);
            usage(stderr);
            return STATUS_USAGE;
        }
    }
    char ifbuf[IF_NAMESIZE + 1];
    if (!link && !(link = default_link(ifbuf, sizeof(ifbuf)))) {
        msg("no interface given and no single one to pick: use --link (or set EFTCAT_LINK)");
        return STATUS_USAGE;
    }
    /* 64 KiB of backlog: a sockperf client has at most one message (ping-pong) or a burst in
       flight, so more only matters to a client that stops reading. */
    const char *err = sp_server_init(&A.sp, (uint32_t)max_msg, 65536);
    if (err) {
        msg("%s", err);
        return STATUS_FAIL;
    }

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = ip;
    cfg.gateway = gw;
    cfg.max_conns = (uint32_t)max_conns;
    /* Echoes stream through, so a message never has to fit in the receive buffer; 128 KiB
       keeps a 1 MiB message moving on a LAN. */
    cfg.recv_buf_size = 128 * 1024;
    cfg.send_slots = 128;
    cfg.rx_bufs = 4096;
    cfg.user_data_size = sp_user_data_size(&A.sp);
    cfg.log = log_hook;
    cfg.log_ctx = &A;
    /* Peers such as Linux delay the ACK of a lone segment by 40 ms or more: a lower floor
       retransmits spuriously against them (docs/links.md). */
    cfg.min_rto_us = (uint32_t)min_rto_ms * 1000;
    if (cfg.initial_rto_us < cfg.min_rto_us) cfg.initial_rto_us = cfg.min_rto_us;

    if ((err = efvitcp_server_init(&A.srv, link, &cfg))) {
        msg("%s: %s", link, err);
        return STATUS_FAIL;
    }
    if ((err = efvitcp_server_listen(A.srv, (uint16_t)port))) {
        msg("listen on port %llu: %s", (unsigned long long)port, err);
        efvitcp_server_close(A.srv);
        return STATUS_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (ready) {
        int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            msg("--ready %s: %s", ready, strerror(errno));
            efvitcp_server_close(A.srv);
            return STATUS_FAIL;
        }
        close(fd);
    }
    if (A.verbose) msg("listening on port %llu (%s)", (unsigned long long)port, link);
    run(&A, count, busy ? UINT64_MAX : nap_after_us * 1000);
    if (stats) print_stats(&A);
    efvitcp_server_close(A.srv);
    return STATUS_OK;
}
