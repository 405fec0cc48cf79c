/*
 * efvitcp to efvitcp across two processes over the shm link: no NIC and no kernel on the path,
 * so what is measured is two stacks, two shared-memory rings and the cache-line transfers between
 * two cores.
 *
 *   shm_pingpong server NAME [options]     the echo (or sink) side
 *   shm_pingpong client NAME [options]     the measuring side
 *   shm_pingpong --fork [options]          both: parent = client, child = server, each pinned to
 *                                          its own CPU when there are two (what the suite runs)
 * options:
 *   --size N        payload bytes per round trip (default: 14, 64 and 1024 in turn)
 *   --count N       measured round trips per size (default 100000), after --warmup N (1000)
 *   --samples FILE  every round trip in ns, one per line; with several sizes FILE.SIZE each
 *   --raw           the floor: frames of the same on-wire size (66 + N: Ethernet, IP, TCP and
 *                   the timestamp option) bounced over the same rings through the link ops,
 *                   with no TCP
 *   --bulk BYTES    throughput instead: the client sends BYTES; --both: both send BYTES at once
 *   --cpus A,B      CPUs of client and server with --fork (default: the first two allowed)
 *
 * server and client must be given the same mode options; either may start first (frames wait in
 * the rings). Output: RESULT lines (kind=latency name=shm_tcp|shm_raw, kind=throughput
 * name=shm_tcp) besides human-readable ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "link/link.h"

#define SERVER_IP     "198.18.0.1"
#define CLIENT_IP     "198.18.0.2"
#define PORT          7
#define MAX_SIZES     8
#define MAX_PAYLOAD   1400u  /* one segment, so a round trip is one frame each way */
#define RAW_OVERHEAD  66u    /* Ethernet 14 + IPv4 20 + TCP 20 + NOP NOP timestamps 12 */
#define RAW_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define STALL_NS      (10 * 1000000000ull)
#define CHUNK         65536u
#define SEC           1000000000ull

typedef struct opts {
    int role; /* 0 client, 1 server */
    bool fork_mode, raw, both;
    const char *name;
    uint32_t sizes[MAX_SIZES];
    int n_sizes;
    uint32_t count, warmup;
    const char *samples;
    uint64_t bulk;
    int cpu_client, cpu_server;
} opts;

static const char *g_who = "shm_pingpong";
static char g_unlink[96]; /* --fork parent: the object to remove if the run dies */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    /* A failed run cannot close its link cleanly; the child dies with us (PDEATHSIG). */
    if (g_unlink[0]) unlink(g_unlink);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Dies when nothing happened for STALL_NS; reads the clock only every 64Ki calls. */
typedef struct stall {
    uint32_t spins;
    uint64_t since;
} stall;

static void stall_reset(stall *s)
{
    s->spins = 0;
    s->since = 0;
}

static void stall_check(stall *s, const char *what)
{
    if (++s->spins & 0xffff) return;
    uint64_t t = now_ns();
    if (!s->since) s->since = t;
    if (t - s->since > STALL_NS) die("no progress for 10 s: %s", what);
}

static void pin(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity(%d) failed", cpu);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void write_samples(const opts *o, uint32_t size, const uint64_t *lat, uint32_t n)
{
    if (!o->samples) return;
    char path[4096];
    if (o->n_sizes > 1)
        snprintf(path, sizeof(path), "%s.%u", o->samples, size);
    else
        snprintf(path, sizeof(path), "%s", o->samples);
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write %s: %s", path, strerror(errno));
    for (uint32_t i = 0; i < n; i++) fprintf(f, "%" PRIu64 "\n", lat[i]);
    if (fclose(f) != 0) die("cannot write %s", path);
}

/* Samples go to the file in measurement order, before the report sorts them in place. */
static void report(const opts *o, const char *name, uint32_t size, uint64_t *lat, uint32_t n)
{
    write_samples(o, size, lat, n);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += lat[i];
    qsort(lat, n, sizeof(*lat), cmp_u64);
#define PCT(p) lat[(size_t)((double)(p) / 100.0 * (double)(n - 1))]
    printf("%s size %u: %u round trips, mean %.0f ns, p50 %" PRIu64 " ns, p99 %" PRIu64
           " ns, p99.9 %" PRIu64 " ns, max %" PRIu64 " ns\n",
           name, size, n, (double)total / n, PCT(50), PCT(99), PCT(99.9), lat[n - 1]);
    printf("RESULT kind=latency name=%s size=%u n=%u mean=%" PRIu64 " p50=%" PRIu64 " p99=%" PRIu64
           " p999=%" PRIu64 " max=%" PRIu64 "\n",
           name, size, n, (total + n / 2) / n, PCT(50), PCT(99), PCT(99.9), lat[n - 1]);
#undef PCT
    fflush(stdout);
}

/* ------------------------------------------------------------------------------------------ */
/* TCP                                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct tcp_side {
    const opts *o;
    efvitcp_conn *conn;
    bool established, closed, fin;
    uint64_t got;   /* bytes received */
    uint64_t sent;  /* bulk bytes accepted by send */
    bool done_sent; /* server: the one-byte "all received" mark */
    const char *error;
} tcp_side;

static void config(efvitcp_config *cfg, const opts *o, const char *addr)
{
    efvitcp_config_default(cfg);
    cfg->local_addr = addr;
    cfg->max_conns = 2;
    cfg->max_time_wait = 2;
    cfg->time_wait_ms = 0;
    if (o->bulk) {
        cfg->send_slots = 2048;
        cfg->recv_buf_size = 4u << 20;
        cfg->rx_bufs = 1024;
    } else {
        cfg->send_slots = 64;
    }
}

static void on_established(void *ctx, efvitcp_conn *c)
{
    tcp_side *t = ctx;
    t->established = true;
    t->conn = c;
}

static void on_fail(void *ctx, efvitcp_conn *c)
{
    ((tcp_side *)ctx)->error = "connection refused, reset or timed out";
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    ((tcp_side *)ctx)->closed = true;
}

/* Echo with backpressure: what send() does not take stays unconsumed and goes out on
   on_more_sendable. */
static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    tcp_side *t = ctx;
    if (t->o->bulk) {
        t->got += len;
        return 0;
    }
    uint32_t k = efvitcp_send(c, data, len, false);
    return len - k;
}

static void srv_on_more_sendable(void *ctx, efvitcp_conn *c)
{
    tcp_side *t = ctx;
    if (t->o->bulk) return;
    const uint8_t *d;
    uint32_t n = efvitcp_unread(c, &d);
    if (n) efvitcp_consume(c, efvitcp_send(c, d, n, false));
}

static void srv_on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    tcp_side *t = ctx;
    t->fin = true;
    if (efvitcp_send_fin(c)) t->error = "send_fin failed";
}

static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ((tcp_side *)ctx)->got += len;
    return 0;
}

static const efvitcp_handler srv_handler = {
    .on_established = on_established,
    .on_data = srv_on_data,
    .on_more_sendable = srv_on_more_sendable,
    .on_fin = srv_on_fin,
    .on_closed = on_closed,
    .on_reset = on_fail,
    .on_timeout = on_fail,
};

static const efvitcp_handler cli_handler = {
    .on_connection_refused = on_fail,
    .on_established = on_established,
    .on_data = cli_on_data,
    .on_closed = on_closed,
    .on_reset = on_fail,
    .on_timeout = on_fail,
};

static uint8_t g_bulk_buf[CHUNK];

/* Sends up to total bytes of bulk data as far as the ring takes it now. */
static void pump(tcp_side *t, uint64_t total)
{
    while (t->sent < total) {
        uint64_t left = total - t->sent;
        uint32_t want = left < CHUNK ? (uint32_t)left : CHUNK;
        uint32_t k = efvitcp_send(t->conn, g_bulk_buf, want, false);
        if (!k) break;
        t->sent += k;
    }
}

static int tcp_server(const opts *o, const char *iface, int ready_fd)
{
    efvitcp_config cfg;
    config(&cfg, o, SERVER_IP "/24");
    efvitcp_server *srv;
    const char *err = efvitcp_server_init(&srv, iface, &cfg);
    if (!err) err = efvitcp_server_listen(srv, PORT);
    if (err) die("server: %s", err);
    if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) die("server: pipe");
    tcp_side t = {.o = o};
    stall st;
    stall_reset(&st);
    uint64_t last_got = 0;
    while (!t.closed && !t.error) {
        efvitcp_server_poll(srv, &srv_handler, &t);
        if (t.conn && o->bulk && !t.fin) {
            if (o->both) pump(&t, o->bulk);
            /* The mark goes after our own data, once everything arrived. */
            if (!t.done_sent && t.got >= o->bulk && (!o->both || t.sent >= o->bulk) &&
                efvitcp_send(t.conn, "d", 1, false) == 1)
                t.done_sent = true;
        }
        if (t.got != last_got) {
            last_got = t.got;
            stall_reset(&st);
        }
        /* A server waits for its client as long as it takes; only a started run can stall. */
        if (t.established) stall_check(&st, "server");
    }
    if (o->bulk) {
        efvitcp_stats es;
        efvitcp_server_stats(srv, &es);
        printf("server: %" PRIu64 " segments in, %" PRIu64 " out, %" PRIu64 " retransmitted",
               es.segs_in, es.segs_out, es.retransmits);
        for (int r = 0; r < EFVITCP_DROP_REASONS; r++)
            if (es.drops[r])
                printf(", %" PRIu64 " dropped (%s)", es.drops[r],
                       efvitcp_drop_reason_name((efvitcp_drop_reason)r));
        printf("\n");
        fflush(stdout);
    }
    efvitcp_server_close(srv);
    if (t.error) die("server: %s", t.error);
    return 0;
}

static efvitcp_client *tcp_connect(const opts *o, const char *iface, tcp_side *t)
{
    efvitcp_config cfg;
    config(&cfg, o, CLIENT_IP "/24");
    efvitcp_client *cli;
    const char *err = efvitcp_client_init(&cli, iface, &cfg);
    efvitcp_conn *c = NULL;
    if (!err) err = efvitcp_client_connect(cli, SERVER_IP, PORT, 0, &c);
    if (err) die("client: %s", err);
    stall st;
    stall_reset(&st);
    while (!t->established && !t->error) {
        efvitcp_client_poll(cli, &cli_handler, t);
        stall_check(&st, "connect");
    }
    if (t->error) die("client: %s", t->error);
    return cli;
}

static void tcp_close(efvitcp_client *cli, tcp_side *t)
{
    const char *err = efvitcp_send_fin(t->conn);
    if (err) die("client: %s", err);
    stall st;
    stall_reset(&st);
    while (!t->closed && !t->error) {
        efvitcp_client_poll(cli, &cli_handler, t);
        stall_check(&st, "close");
    }
    efvitcp_client_close(cli);
}

/*
 * n round trips of size bytes. lat[i] is the time from the end of round trip i-1 to the end of
 * round trip i: one clock read per round trip, and the samples add up to the run.
 */
static void tcp_rounds(efvitcp_client *cli, tcp_side *t, uint32_t size, uint32_t n, uint64_t *lat)
{
    static uint8_t msg[MAX_PAYLOAD];
    memset(msg, 0x5a, size);
    uint64_t prev = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t want = t->got + size;
        if (efvitcp_send(t->conn, msg, size, false) != size) die("client: send refused");
        stall st;
        stall_reset(&st);
        while (t->got < want) {
            efvitcp_client_poll(cli, &cli_handler, t);
            if (t->error) die("client: %s", t->error);
            stall_check(&st, "echo");
        }
        uint64_t now = now_ns();
        if (lat) lat[i] = now - prev;
        prev = now;
    }
}

static int tcp_client(const opts *o, const char *iface)
{
    tcp_side t = {.o = o};
    efvitcp_client *cli = tcp_connect(o, iface, &t);
    if (o->bulk) {
        uint64_t want = o->both ? o->bulk + 1 : 1;
        uint64_t t0 = now_ns();
        stall st;
        stall_reset(&st);
        uint64_t last = 0;
        while (t.got < want && !t.error) {
            pump(&t, o->bulk);
            efvitcp_client_poll(cli, &cli_handler, &t);
            if (t.got + t.sent != last) {
                last = t.got + t.sent;
                stall_reset(&st);
            }
            stall_check(&st, "bulk");
        }
        if (t.error) die("client: %s", t.error);
        double secs = (double)(now_ns() - t0) / 1e9;
        uint64_t bytes = o->both ? 2 * o->bulk : o->bulk;
        efvitcp_stats es;
        efvitcp_client_stats(cli, &es);
        printf("shm_tcp bulk %s: %" PRIu64 " bytes in %.3f s, %.2f Gbit/s (client: %" PRIu64
               " segments out, %" PRIu64 " in, %" PRIu64 " retransmitted, %" PRIu64 " RTOs)\n",
               o->both ? "both ways" : "one way", bytes, secs, (double)bytes * 8 / secs / 1e9,
               es.segs_out, es.segs_in, es.retransmits, es.rto_events);
        printf("RESULT kind=throughput name=shm_tcp dir=%s bytes=%" PRIu64 " secs=%.6f gbps=%.3f\n",
               o->both ? "both" : "one", bytes, secs, (double)bytes * 8 / secs / 1e9);
    } else {
        uint64_t *lat = malloc(sizeof(*lat) * o->count);
        if (!lat) die("out of memory");
        for (int s = 0; s < o->n_sizes; s++) {
            tcp_rounds(cli, &t, o->sizes[s], o->warmup, NULL);
            tcp_rounds(cli, &t, o->sizes[s], o->count, lat);
            report(o, "shm_tcp", o->sizes[s], lat, o->count);
        }
        free(lat);
    }
    tcp_close(cli, &t);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Raw frames through the link ops                                                            */
/* ------------------------------------------------------------------------------------------ */

enum { RAW_PING = 0, RAW_STOP = 1 };

static et_link *raw_open(const char *iface, const char *addr)
{
    et_link_params p = {
        .n_tx = 8, .tx_buf_size = 2048, .n_rx = 64, .local_addr = addr, .clock = et_mono_clock()};
    et_link *l;
    const char *err = et_link_open(iface, &p, &l);
    if (err) die("%s", err);
    return l;
}

static void raw_reap(et_link *l)
{
    uint32_t ids[8];
    while (l->ops->tx_done(l, ids, 8) > 0) continue;
}

static int raw_send(et_link *l, uint32_t id, uint32_t len)
{
    stall st;
    stall_reset(&st);
    while (l->ops->tx(l, id, len) != 0) {
        raw_reap(l);
        stall_check(&st, "raw tx");
    }
    raw_reap(l);
    return 0;
}

static void raw_frame(et_link *l, uint32_t id, uint32_t len, uint8_t kind)
{
    uint8_t *b = et_link_tx_buf(l, id);
    memset(b, 0xff, 6);
    memcpy(b + 6, l->mac, 6);
    b[12] = RAW_ETHERTYPE >> 8;
    b[13] = RAW_ETHERTYPE & 0xff;
    b[14] = kind;
    memset(b + 15, 0x5a, len - 15);
}

/* The reflector: every frame goes back as it came, with our MAC as its source. */
static int raw_server(const char *iface, int ready_fd)
{
    et_link *l = raw_open(iface, SERVER_IP "/24");
    if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1) die("server: pipe");
    et_rx_frame f[32];
    uint32_t id = 0;
    for (bool stop = false; !stop;) {
        int n = l->ops->rx_burst(l, f, 32);
        for (int i = 0; i < n; i++) {
            if (f[i].len > 15 && f[i].data[14] == RAW_STOP) stop = true;
            if (!stop && f[i].len <= l->tx_buf_size) {
                uint8_t *b = et_link_tx_buf(l, id);
                memcpy(b, f[i].data, f[i].len);
                memcpy(b + 6, l->mac, 6);
                raw_send(l, id, f[i].len);
                id = (id + 1) % l->n_tx;
            }
            l->ops->rx_release(l, f[i].id);
        }
    }
    l->ops->destroy(l);
    return 0;
}

static void raw_rounds(et_link *l, uint32_t len, uint32_t n, uint64_t *lat)
{
    et_rx_frame f[4];
    uint64_t prev = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        raw_send(l, 0, len);
        stall st;
        stall_reset(&st);
        int got;
        while ((got = l->ops->rx_burst(l, f, 4)) == 0) stall_check(&st, "raw echo");
        if (got != 1 || f[0].len != len) die("raw: unexpected frame");
        l->ops->rx_release(l, f[0].id);
        uint64_t now = now_ns();
        if (lat) lat[i] = now - prev;
        prev = now;
    }
}

static int raw_client(const opts *o, const char *iface)
{
    et_link *l = raw_open(iface, CLIENT_IP "/24");
    uint64_t *lat = malloc(sizeof(*lat) * o->count);
    if (!lat) die("out of memory");
    for (int s = 0; s < o->n_sizes; s++) {
        uint32_t len = RAW_OVERHEAD + o->sizes[s];
        raw_frame(l, 0, len, RAW_PING);
        raw_rounds(l, len, o->warmup, NULL);
        raw_rounds(l, len, o->count, lat);
        report(o, "shm_raw", o->sizes[s], lat, o->count);
    }
    free(lat);
    raw_frame(l, 1, 60, RAW_STOP);
    raw_send(l, 1, 60);
    l->ops->destroy(l);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

static uint64_t parse_u64(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        die("%s wants %" PRIu64 "..%" PRIu64, what, lo, hi);
    return v;
}

static void usage(void)
{
    die("usage: shm_pingpong server|client NAME | --fork  [--size N] [--count N] [--warmup N] "
        "[--samples FILE] [--raw] [--bulk BYTES [--both]] [--cpus A,B]");
}

/* The first two CPUs this process may run on, for --fork; -1 when there is only one. */
static void default_cpus(opts *o)
{
    cpu_set_t set;
    o->cpu_client = o->cpu_server = -1;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return;
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
        if (!CPU_ISSET(c, &set)) continue;
        if (found++ == 0)
            o->cpu_client = c;
        else
            o->cpu_server = c;
    }
    if (found < 2) o->cpu_client = o->cpu_server = -1;
}

static int run(const opts *o, const char *iface, int ready_fd)
{
    if (o->role == 1) return o->raw ? raw_server(iface, ready_fd) : tcp_server(o, iface, ready_fd);
    return o->raw ? raw_client(o, iface) : tcp_client(o, iface);
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof(o));
    o.count = 100000;
    o.warmup = 1000;
    o.cpu_client = o.cpu_server = -2; /* not given */
    int i = 1;
    if (argc >= 3 && (strcmp(argv[1], "server") == 0 || strcmp(argv[1], "client") == 0)) {
        o.role = argv[1][0] == 's';
        o.name = argv[2];
        i = 3;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--fork") == 0) {
            o.fork_mode = true;
        } else if (strcmp(a, "--size") == 0 && has) {
            if (o.n_sizes == MAX_SIZES) die("too many --size");
            o.sizes[o.n_sizes++] = (uint32_t)parse_u64(argv[++i], "--size", 1, MAX_PAYLOAD);
        } else if (strcmp(a, "--count") == 0 && has) {
            o.count = (uint32_t)parse_u64(argv[++i], "--count", 1, 100000000);
        } else if (strcmp(a, "--warmup") == 0 && has) {
            o.warmup = (uint32_t)parse_u64(argv[++i], "--warmup", 0, 100000000);
        } else if (strcmp(a, "--samples") == 0 && has) {
            o.samples = argv[++i];
        } else if (strcmp(a, "--raw") == 0) {
            o.raw = true;
        } else if (strcmp(a, "--bulk") == 0 && has) {
            o.bulk = parse_u64(argv[++i], "--bulk", 1, 1ull << 40);
        } else if (strcmp(a, "--both") == 0) {
            o.both = true;
        } else if (strcmp(a, "--cpus") == 0 && has) {
            if (sscanf(argv[++i], "%d,%d", &o.cpu_client, &o.cpu_server) != 2 || o.cpu_client < 0 ||
                o.cpu_server < 0)
                die("--cpus wants A,B");
        } else {
            usage();
        }
    }
    if (!o.fork_mode && !o.name) usage();
    if (o.both && !o.bulk) die("--both goes with --bulk");
    if (o.raw && o.bulk) die("--raw measures latency only");
    if (!o.n_sizes) {
        static const uint32_t def[] = {14, 64, 1024};
        for (int k = 0; k < 3; k++) o.sizes[o.n_sizes++] = def[k];
    }

    char iface[256];
    if (!o.fork_mode) {
        snprintf(iface, sizeof(iface), "shm:%s", o.name);
        g_who = o.role ? "shm_pingpong server" : "shm_pingpong client";
        return run(&o, iface, -1);
    }

    char name[64], path[96];
    snprintf(name, sizeof(name), "pingpong-%d", (int)getpid());
    snprintf(iface, sizeof(iface), "shm:%s", name);
    snprintf(path, sizeof(path), "/dev/shm/efvitcp-%s", name);
    unlink(path);
    if (o.cpu_client == -2) default_cpus(&o);
    if (o.cpu_client < 0)
        printf("note: fewer than 2 CPUs available: client and server are not pinned, and two "
               "busy-polling processes share a CPU\n");
    else
        printf("client on CPU %d, server on CPU %d\n", o.cpu_client, o.cpu_server);
    fflush(stdout);
    int ready[2];
    if (pipe(ready) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        g_who = "shm_pingpong server";
        pin(o.cpu_server);
        o.role = 1;
        _exit(run(&o, iface, ready[1]));
    }
    close(ready[1]);
    memcpy(g_unlink, path, sizeof(g_unlink));
    g_who = "shm_pingpong client";
    pin(o.cpu_client);
    char b;
    /* The server listens before the client connects (a SYN before that would be refused). */
    if (read(ready[0], &b, 1) != 1) die("server failed to start");
    close(ready[0]);
    o.role = 0;
    int rc = run(&o, iface, -1);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("server process failed");
    return rc;
}
