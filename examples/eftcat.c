/*
 * eftcat: netcat over efvitcp.
 *
 *   eftcat [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [-p LPORT] [--retries N] [-v]
 *          [--tx-timestamps FILE] HOST PORT
 *   eftcat -l [-k] [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [--retries N] [-v] PORT
 *
 * Connects (or listens and serves one connection; -k: one after another), sends standard input,
 * writes what it receives to standard output, sends FIN at the end of input, and exits 0 when
 * both directions are done. Refusal, reset and timeout print a message and exit 1; bad usage
 * exits 2; SIGINT or SIGTERM closes the instance (RST to a peer) and exits 128 + the signal's
 * number. --tx-timestamps FILE writes a line per segment sent (transmit timestamp reports,
 * efvitcp_tx_timestamps): "ts_ns start bytes flags" with flags in hex.
 *
 * One thread polls the instance; standard input and output are non-blocking and served inside the
 * same loop: input is read only while the connection can take it, and output that the terminal or
 * pipe cannot take yet stays in the stack (returned as unconsumed), which closes the window
 * instead of buffering without bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"

#define IN_CHUNK     65536
#define IDLE_SPINS   200000 /* busy polls with nothing to do before we start to nap */
#define IDLE_NAP_NS  20000
#define STATUS_OK    0
#define STATUS_FAIL  1
#define STATUS_USAGE 2

typedef struct app {
    bool listen, keep, verbose;
    efvitcp_client *cli;
    efvitcp_server *srv;
    efvitcp_conn *conn; /* the connection being served, NULL between connections */
    bool established;
    bool in_eof, fin_sent, peer_fin;
    bool out_broken; /* standard output was closed: discard what arrives */
    bool finished;   /* the current connection ended (closed, reset, refused, timeout) */
    int status;
    uint8_t in[IN_CHUNK]; /* standard input read but not yet accepted by the send ring */
    uint32_t in_off, in_len;
    int in_flags, out_flags; /* to restore at exit: the descriptors may be shared */
    FILE *txts;              /* --tx-timestamps: where the reports go, NULL = off */
    /* --rr SIZE --count N: request/response instead of standard input and output */
    uint32_t rr_size, rr_count, rr_done;
    uint64_t rr_got, rr_t0; /* bytes of the current response; when its request went */
    bool rr_waiting;        /* a request is outstanding */
    uint64_t *rr_ns;        /* completion time of each request */
} app;

static app A;

static void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("eftcat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void restore_fds(void)
{
    if (A.in_flags >= 0) fcntl(0, F_SETFL, A.in_flags);
    if (A.out_flags >= 0) fcntl(1, F_SETFL, A.out_flags);
}

/* --help prints to standard output (for a pager); a usage error to standard error. */
static void usage(FILE *out)
{
    fputs(
        "usage: eftcat [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [-p LPORT] [--retries N] [-v]\n"
        "              HOST PORT\n"
        "       eftcat -l [-k] [--link L] [--ip ADDR/PREFIX] [--gw ADDR] [--retries N] [-v] PORT\n"
        "  --link L   packet:IF, xdp:IF, efvi:IF or a plain interface name (best link);\n"
        "             default: $EFTCAT_LINK, else the only non-loopback interface that is up\n"
        "  --ip A/P   use address A/P, which the kernel must not own (own-address mode)\n"
        "  --gw ADDR  next hop for destinations off the --ip subnet\n"
        "  -l         listen on PORT and serve one connection (then stop listening); -k: serve\n"
        "             them one after another\n"
        "  -p LPORT   local port of the connection (client)\n"
        "  --retries N  SYN and data retransmissions before giving up (default 5 and 10)\n"
        "  --min-rto-ms N  floor of the retransmission timeout (default 200, as Linux)\n"
        "  -v         report connection events and counters on standard error\n"
        "  --tx-timestamps FILE  write \"ts_ns start bytes flags\" per segment sent to FILE\n"
        "             (hardware times with efvi:IF,txts, else software; flags: efvitcp.h)\n"
        "  --rr SIZE  request/response: send SIZE bytes, wait for SIZE bytes back, again;\n"
        "             one request outstanding at a time, standard input unused; prints\n"
        "             p50/p99/p99.9/max completion times (client only)\n"
        "  --count N  requests of --rr (default 10000)\n"
        "  --version  print the efvitcp version\n",
        out);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Writes what standard output takes now; returns the bytes written (all of them once the
   output is gone: they are discarded). */
static uint32_t out_some(const uint8_t *p, uint32_t len)
{
    if (A.out_broken) return len;
    uint32_t done = 0;
    while (done < len) {
        ssize_t n = write(1, p + done, len - done);
        if (n > 0) {
            done += (uint32_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break;
        } else {
            msg("standard output: %s; discarding what arrives", n < 0 ? strerror(errno) : "closed");
            A.out_broken = true;
            return len;
        }
    }
    return done;
}

/* SIGINT or SIGTERM: the loop ends and the instance is closed as after any run (RST to a peer,
   the shm link's object and the live view's file removed), not left behind. */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

/* Writes all of p, waiting for standard output when it is full (end of a connection only). */
static void out_all(const uint8_t *p, uint32_t len)
{
    while (len && !A.out_broken && !g_signal) {
        uint32_t n = out_some(p, len);
        p += n;
        len -= n;
        if (len) {
            struct pollfd pf = {1, POLLOUT, 0};
            poll(&pf, 1, 100);
        }
    }
}

/* ---- callbacks ---- */

static void log_hook(void *ctx, int level, const char *text)
{
    (void)ctx;
    if (A.verbose || level == EFVITCP_LOG_ERROR) msg("%s", text);
}

static bool allow_new(void *ctx, const struct sockaddr_in *peer, uint16_t local_port)
{
    /* One connection at a time: the rest are refused (RST), as with nc -l -k. */
    return A.conn == NULL;
}

static void describe(const char *what, efvitcp_conn *c)
{
    if (!A.verbose) return;
    struct sockaddr_in sa;
    efvitcp_peername(c, &sa);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
    msg("%s %s:%u (local port %u)", what, ip, ntohs(sa.sin_port), efvitcp_local_port(c));
}

static void on_established(void *ctx, efvitcp_conn *c)
{
    A.conn = c;
    A.established = true;
    describe("connected to", c);
    /* Serving one connection, the port closes once it is taken: later SYNs get RST from the
       stack, and the connection keeps its steering (efvitcp_server_unlisten). */
    if (A.listen && !A.keep) efvitcp_server_unlisten(A.srv, efvitcp_local_port(c));
}

static void rr_got(uint32_t len);

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    if (A.rr_size) {
        rr_got(len);
        return 0;
    }
    return len - out_some(data, len);
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    /* The slot may be freed right after this call (our FIN was already acknowledged), so what
       is still held is written out now. */
    out_all(data, len);
    efvitcp_consume(c, len);
    A.peer_fin = true;
    if (A.verbose) msg("peer finished sending");
}

/* Writes the transmit timestamp reports c has; before it is freed too, which drops them. */
static void drain_txts(efvitcp_conn *c)
{
    if (!A.txts || !c) return;
    efvitcp_tx_report r[64];
    int n;
    while ((n = efvitcp_tx_timestamps(c, r, 64)) > 0)
        for (int i = 0; i < n; i++)
            fprintf(A.txts, "%llu %llu %u %x\n", (unsigned long long)r[i].ts_ns,
                    (unsigned long long)r[i].start, r[i].bytes, r[i].flags);
}

static void end_conn(int status)
{
    A.conn = NULL;
    A.established = false;
    A.finished = true;
    if (status) A.status = status;
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    drain_txts(c);
    describe("closed", c);
    end_conn(STATUS_OK);
}

static void on_reset(void *ctx, efvitcp_conn *c)
{
    msg("connection reset by peer");
    end_conn(STATUS_FAIL);
}

static void on_refused(void *ctx, efvitcp_conn *c)
{
    msg("connection refused");
    end_conn(STATUS_FAIL);
}

static void on_timeout(void *ctx, efvitcp_conn *c)
{
    msg(A.established ? "connection timed out (peer stopped answering)"
                      : "connection timed out (no answer to connect)");
    end_conn(STATUS_FAIL);
}

static const efvitcp_handler handler = {
    .on_connection_refused = on_refused,
    .allow_new_connection = allow_new,
    .on_established = on_established,
    .on_data = on_data,
    .on_fin = on_fin,
    .on_closed = on_closed,
    .on_reset = on_reset,
    .on_timeout = on_timeout,
};

/* ---- the loop ---- */

/* Our FIN after the last byte; false (the connection closed, the run failed) if it cannot go. */
static bool send_our_fin(efvitcp_conn *c)
{
    const char *err = efvitcp_send_fin(c);
    if (err) {
        msg("cannot send FIN: %s", err);
        efvitcp_conn_close(c);
        end_conn(STATUS_FAIL);
        return false;
    }
    A.fin_sent = true;
    return true;
}

/* Moves standard input into the connection as far as its send ring allows. */
static bool pump_in(efvitcp_conn *c)
{
    bool moved = false;
    while (!A.fin_sent) {
        if (A.in_off == A.in_len && !A.in_eof) {
            if (efvitcp_sendable(c) == 0) break;
            ssize_t n = read(0, A.in, sizeof(A.in));
            if (n > 0) {
                A.in_off = 0;
                A.in_len = (uint32_t)n;
                moved = true;
            } else if (n == 0) {
                A.in_eof = true;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN) {
                break;
            } else {
                msg("standard input: %s", strerror(errno));
                A.in_eof = true;
            }
        }
        if (A.in_off < A.in_len) {
            uint32_t n = efvitcp_send(c, A.in + A.in_off, A.in_len - A.in_off, false);
            A.in_off += n;
            if (n) moved = true;
            if (A.in_off < A.in_len) break; /* the ring is full: on_more_sendable will come */
        }
        if (A.in_eof && A.in_off == A.in_len) {
            if (!send_our_fin(c)) return true;
            moved = true;
        }
    }
    return moved;
}

/* --rr: the response's bytes arrive; once all SIZE are in, the request is complete. */
static void rr_got(uint32_t len)
{
    if (!A.rr_waiting) return;
    A.rr_got += len;
    if (A.rr_got < A.rr_size) return;
    A.rr_ns[A.rr_done++] = now_ns() - A.rr_t0;
    A.rr_waiting = false;
}

/* --rr: the next request once the last one is answered; our FIN after the last. */
static bool rr_step(efvitcp_conn *c)
{
    if (A.rr_waiting || A.fin_sent) return false;
    if (A.rr_done == A.rr_count) {
        send_our_fin(c);
        return true;
    }
    if (efvitcp_sendable(c) < A.rr_size) return false;
    A.rr_t0 = now_ns();
    A.rr_got = 0;
    A.rr_waiting = true;
    if (efvitcp_send(c, A.in, A.rr_size, false) != A.rr_size) {
        msg("request not accepted whole");
        efvitcp_conn_close(c);
        end_conn(STATUS_FAIL);
    }
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* --rr: the percentiles of the completion times (microseconds), on standard output. */
static void rr_report(void)
{
    uint32_t n = A.rr_done;
    if (!n) {
        printf("rr: no request completed\n");
        return;
    }
    qsort(A.rr_ns, n, sizeof(A.rr_ns[0]), cmp_u64);
#define RR_AT(q) (A.rr_ns[(uint32_t)((double)(n - 1) * (q) + 0.5)] / 1000.0)
    printf("rr: %u requests of %u bytes: p50 %.1f us p99 %.1f us p99.9 %.1f us max %.1f us\n", n,
           A.rr_size, RR_AT(0.5), RR_AT(0.99), RR_AT(0.999), A.rr_ns[n - 1] / 1000.0);
#undef RR_AT
    if (n != A.rr_count) A.status = STATUS_FAIL;
}

/* Writes bytes the stack holds for us because standard output was full. */
static bool pump_out(efvitcp_conn *c)
{
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    if (!n) return false;
    uint32_t w = out_some(p, n);
    if (w) efvitcp_consume(c, w);
    return w != 0;
}

static void poll_once(void)
{
    if (A.cli)
        efvitcp_client_poll(A.cli, &handler, NULL);
    else
        efvitcp_server_poll(A.srv, &handler, NULL);
}

static uint64_t frames_in(void)
{
    efvitcp_stats st;
    if (A.cli)
        efvitcp_client_stats(A.cli, &st);
    else
        efvitcp_server_stats(A.srv, &st);
    return st.frames_in;
}

static void run(void)
{
    uint64_t idle = 0, last_frames = 0;
    for (;;) {
        if (g_signal) {
            if (A.verbose) msg("signal %d: closing", (int)g_signal);
            A.status = 128 + (int)g_signal;
            break;
        }
        poll_once();
        drain_txts(A.conn);
        bool moved = false;
        if (A.conn && A.established && A.rr_size) {
            moved |= rr_step(A.conn);
            if (A.rr_waiting) moved = true; /* a request/response client never naps */
        } else if (A.conn && A.established) {
            moved |= pump_out(A.conn);
            if (A.conn) moved |= pump_in(A.conn);
        }
        if (A.finished) {
            if (!A.listen || !A.keep) break;
            /* -k: the next connection starts afresh; standard input is shared (once it has
               ended, later connections get our FIN at once). */
            A.finished = false;
            A.fin_sent = A.peer_fin = false;
        }
        uint64_t f = frames_in();
        if (moved || f != last_frames) {
            idle = 0;
            last_frames = f;
        } else if (++idle > IDLE_SPINS) {
            struct timespec ts = {0, IDLE_NAP_NS};
            nanosleep(&ts, NULL);
        }
    }
}

static void print_stats(void)
{
    if (!A.verbose) return;
    efvitcp_stats st;
    if (A.cli)
        efvitcp_client_stats(A.cli, &st);
    else
        efvitcp_server_stats(A.srv, &st);
    msg("frames in/out %llu/%llu, segments in/out %llu/%llu, bytes in/out %llu/%llu, "
        "retransmits %llu",
        (unsigned long long)st.frames_in, (unsigned long long)st.frames_out,
        (unsigned long long)st.segs_in, (unsigned long long)st.segs_out,
        (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
        (unsigned long long)st.retransmits);
    msg("tail loss probes %llu, RACK losses %llu, SACK recoveries %llu, undone %llu, timeouts "
        "%llu",
        (unsigned long long)st.tlp_probes, (unsigned long long)st.rack_losses,
        (unsigned long long)st.sack_recoveries, (unsigned long long)st.spurious_undone,
        (unsigned long long)st.rto_events);
    for (int i = 0; i < EFVITCP_DROP_REASONS; i++)
        if (st.drops[i])
            msg("dropped (%s): %llu", efvitcp_drop_reason_name((efvitcp_drop_reason)i),
                (unsigned long long)st.drops[i]);
}

/* ---- arguments ---- */

static bool parse_port(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v == 0 || v > 65535) return false;
    *out = (uint16_t)v;
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

static bool resolve(const char *host, char *ip, size_t cap)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) return false;
    const struct sockaddr_in *sa = (const struct sockaddr_in *)res->ai_addr;
    bool ok = inet_ntop(AF_INET, &sa->sin_addr, ip, (socklen_t)cap) != NULL;
    freeaddrinfo(res);
    return ok;
}

int main(int argc, char **argv)
{
    const char *link = NULL, *ip = NULL, *gw = NULL;
    uint16_t lport = 0;
    long retries = -1, min_rto_ms = 200;
    const char *pos[2];
    int npos = 0;
    A.in_flags = A.out_flags = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (!strcmp(a, "-l")) {
            A.listen = true;
        } else if (!strcmp(a, "-k")) {
            A.keep = true;
        } else if (!strcmp(a, "-lk") || !strcmp(a, "-kl")) {
            A.listen = A.keep = true;
        } else if (!strcmp(a, "-v")) {
            A.verbose = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return STATUS_OK;
        } else if (!strcmp(a, "--version")) {
            printf("eftcat (efvitcp) %s\n", efvitcp_version());
            return STATUS_OK;
        } else if (!strcmp(a, "--link") && has_next) {
            link = argv[++i];
        } else if (!strcmp(a, "--ip") && has_next) {
            ip = argv[++i];
        } else if (!strcmp(a, "--gw") && has_next) {
            gw = argv[++i];
        } else if (!strcmp(a, "--tx-timestamps") && has_next) {
            if (!(A.txts = fopen(argv[++i], "w"))) {
                msg("%s: %s", argv[i], strerror(errno));
                return STATUS_FAIL;
            }
        } else if (!strcmp(a, "--retries") && has_next) {
            char *end;
            retries = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || retries < 1 || retries > 30) {
                msg("--retries must be 1..30");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--min-rto-ms") && has_next) {
            char *end;
            min_rto_ms = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || min_rto_ms < 1 || min_rto_ms > 60000) {
                msg("--min-rto-ms must be 1..60000");
                return STATUS_USAGE;
            }
        } else if (!strcmp(a, "--rr") && has_next) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || v < 1 || v > IN_CHUNK) {
                msg("--rr must be 1..%d", IN_CHUNK);
                return STATUS_USAGE;
            }
            A.rr_size = (uint32_t)v;
        } else if (!strcmp(a, "--count") && has_next) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || v < 1 || v > 100000000) {
                msg("--count must be 1..100000000");
                return STATUS_USAGE;
            }
            A.rr_count = (uint32_t)v;
        } else if (!strcmp(a, "-p") && has_next) {
            if (!parse_port(argv[++i], &lport)) {
                msg("bad local port: %s", argv[i]);
                return STATUS_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            msg("unknown or incomplete option: %s", a);
            usage(stderr);
            return STATUS_USAGE;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            usage(stderr);
            return STATUS_USAGE;
        }
    }
    if (npos != (A.listen ? 1 : 2) || (A.keep && !A.listen) || (lport && A.listen)) {
        usage(stderr);
        return STATUS_USAGE;
    }
    uint16_t port;
    if (!parse_port(pos[npos - 1], &port)) {
        msg("bad port: %s", pos[npos - 1]);
        return STATUS_USAGE;
    }
    char host_ip[INET_ADDRSTRLEN];
    if (!A.listen && !resolve(pos[0], host_ip, sizeof(host_ip))) {
        msg("cannot resolve %s to an IPv4 address", pos[0]);
        return STATUS_FAIL;
    }
    char ifbuf[IF_NAMESIZE + 1];
    if (!link && !(link = default_link(ifbuf, sizeof(ifbuf)))) {
        msg("no interface given and no single one to pick: use --link (or set EFTCAT_LINK)");
        return STATUS_USAGE;
    }

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = ip;
    cfg.gateway = gw;
    cfg.max_conns = 4;
    cfg.recv_buf_size = 1 << 20;
    cfg.send_slots = 1024;
    cfg.rx_bufs = 4096; /* a receive window of frames plus the ACKs of a full send ring */
    cfg.log = log_hook;
    if (retries > 0) cfg.syn_retries = cfg.data_retries = (uint32_t)retries;
    /* Peers such as Linux delay the ACK of a lone segment by 40 ms or more: a lower floor
       retransmits spuriously against them (docs/links.md). */
    cfg.min_rto_us = (uint32_t)min_rto_ms * 1000;
    if (cfg.initial_rto_us < cfg.min_rto_us) cfg.initial_rto_us = cfg.min_rto_us;
    if (A.txts) cfg.tx_timestamps = 4096;
    /* A capture of every frame, for diagnosis (the benchmarks under loss). */
    cfg.pcap_path = getenv("EFTCAT_PCAP");

    const char *err = A.listen ? efvitcp_server_init(&A.srv, link, &cfg)
                               : efvitcp_client_init(&A.cli, link, &cfg);
    if (err) {
        msg("%s: %s", link, err);
        return STATUS_FAIL;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a nap ends at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    A.in_flags = fcntl(0, F_GETFL);
    A.out_flags = fcntl(1, F_GETFL);
    atexit(restore_fds);
    if (A.in_flags >= 0) fcntl(0, F_SETFL, A.in_flags | O_NONBLOCK);
    if (A.out_flags >= 0) fcntl(1, F_SETFL, A.out_flags | O_NONBLOCK);

    if (A.listen) {
        if ((err = efvitcp_server_listen(A.srv, port))) {
            msg("listen on port %u: %s", port, err);
            efvitcp_server_close(A.srv);
            return STATUS_FAIL;
        }
        if (A.verbose) msg("listening on port %u (%s)", port, link);
    } else {
        uint64_t t0 = now_ns();
        if ((err = efvitcp_client_connect(A.cli, host_ip, port, lport, NULL))) {
            msg("connect to %s:%u: %s", host_ip, port, err);
            efvitcp_client_close(A.cli);
            return STATUS_FAIL;
        }
        if (A.verbose)
            msg("connecting to %s:%u (%s), %llu ns", host_ip, port, link,
                (unsigned long long)(now_ns() - t0));
    }
    if (A.rr_size) {
        if (A.listen) {
            msg("--rr is for a client");
            return STATUS_USAGE;
        }
        if (!A.rr_count) A.rr_count = 10000;
        memset(A.in, 'r', A.rr_size);
        if (!(A.rr_ns = calloc(A.rr_count, sizeof(A.rr_ns[0])))) {
            msg("out of memory");
            return STATUS_FAIL;
        }
    }
    run();
    if (A.rr_size) rr_report();
    print_stats();
    if (A.cli) efvitcp_client_close(A.cli);
    if (A.srv) efvitcp_server_close(A.srv);
    if (A.txts && fclose(A.txts) != 0) A.status = STATUS_FAIL;
    return A.status;
}
