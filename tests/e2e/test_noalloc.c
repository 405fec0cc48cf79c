/*
 * No allocation after init: every allocation function of the process is counted while a busy
 * phase runs (connect, handshake, bulk transfer both ways over a bandwidth-limited wire that
 * loses frames at its drop-tail queue, user timers, a refused connect, an abort, a clean close,
 * TIME_WAIT and its expiry), and the count must be zero.
 *
 * Normal build: this program defines malloc, calloc, realloc, reallocarray, free, aligned_alloc,
 * memalign and posix_memalign itself (the executable's definitions win for the whole process)
 * and forwards them to glibc's __libc_* entry points. Under AddressSanitizer, whose runtime must
 * own those symbols, the same counting goes through its malloc/free hooks instead.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "sim.h"
#include "wire/wire_hooks.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOALLOC_ASAN 1
#endif
#endif

static volatile int counting;
static volatile uint64_t n_alloc, n_free;

static inline void count_alloc(void)
{
    if (counting) n_alloc++;
}

#ifndef NOALLOC_ASAN

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
    count_alloc();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count_alloc();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count_alloc();
    return __libc_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    count_alloc();
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n * size);
}

void free(void *p)
{
    if (counting && p) n_free++;
    __libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
    count_alloc();
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    count_alloc();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count_alloc();
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void install_counters(void) {}

#else

int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void asan_malloc_hook(const volatile void *p, size_t n)
{
    count_alloc();
}
static void asan_free_hook(const volatile void *p)
{
    if (counting && p) n_free++;
}

static void install_counters(void)
{
    printf("AddressSanitizer build: allocations are counted through its malloc/free hooks, "
           "not by interposing malloc\n");
    __sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook);
}

#endif

/* ---- the busy phase ---- */

#define US    1000ull
#define MS    1000000ull
#define SEC   1000000000ull
#define BYTES (3u * 1024 * 1024)

static uint8_t pat(uint32_t dir, uint64_t off)
{
    uint64_t x = (off >> 2) * 0x9e3779b97f4a7c15ull + dir;
    x ^= x >> 29;
    return (uint8_t)(x >> ((off & 3) * 8));
}

typedef struct ep {
    efvitcp_conn *conn;
    uint32_t dir;
    uint64_t tx, rx;
    bool bad, fin_sent;
    int est, fin, closed, reset, timeout, refused, timers;
} ep;

static void pump(ep *e)
{
    if (!e->conn || e->fin_sent) return;
    static uint8_t buf[8192]; /* static: no stack or heap games */
    while (e->tx < BYTES) {
        uint32_t room = efvitcp_sendable(e->conn);
        if (!room) break;
        uint32_t n = BYTES - (uint32_t)e->tx;
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > room) n = room;
        for (uint32_t i = 0; i < n; i++) buf[i] = pat(e->dir, e->tx + i);
        uint32_t acc = efvitcp_send(e->conn, buf, n, (e->tx & 1) != 0);
        e->tx += acc;
        if (acc < n) break;
    }
    if (e->tx == BYTES) {
        e->fin_sent = efvitcp_send_fin(e->conn) == NULL;
    }
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->est++;
    e->conn = c;
    /* timers come and go during the transfer */
    efvitcp_set_user_timer(c, 0, 1);
    efvitcp_set_user_timer_ns(c, 1, 700 * US);
    efvitcp_set_user_timer(c, 2, 3600 * 1000);
    efvitcp_cancel_user_timer(c, 2);
    pump(e);
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    ep *e = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != pat(e->dir ^ 1, e->rx + i)) e->bad = true;
    /* keep a small remainder now and then: the receive buffer copy path runs too */
    uint32_t keep = (e->rx % 7 == 0 && n > 10) ? 10 : 0;
    e->rx += n - keep;
    return keep;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    ep *e = ctx;
    e->fin++;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != pat(e->dir ^ 1, e->rx + i)) e->bad = true;
    efvitcp_consume(c, n);
    e->rx += n;
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->closed++;
    e->conn = NULL;
}
static void on_reset(void *ctx, efvitcp_conn *c)
{
    ((ep *)ctx)->reset++;
}
static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ((ep *)ctx)->timeout++;
}
static void on_refused(void *ctx, efvitcp_conn *c)
{
    ((ep *)ctx)->refused++;
}
static void on_more(void *ctx, efvitcp_conn *c)
{
    pump(ctx);
}

static void on_timer(void *ctx, efvitcp_conn *c, uint32_t id)
{
    ep *e = ctx;
    e->timers++;
    if (id == 0 && e->timers < 20) efvitcp_set_user_timer(c, 0, 1); /* periodic */
}

static void set_handlers(efvitcp_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->on_established = on_est;
    h->on_data = on_data;
    h->on_fin = on_fin;
    h->on_closed = on_closed;
    h->on_reset = on_reset;
    h->on_timeout = on_timeout;
    h->on_connection_refused = on_refused;
    h->on_more_sendable = on_more;
    h->on_user_timeout = on_timer;
}

typedef struct rig {
    ep cli, srv;
} rig;

static void after_poll(void *arg)
{
    rig *g = arg;
    pump(&g->cli);
    pump(&g->srv);
}

static bool both_closed(void *arg)
{
    rig *g = arg;
    return g->cli.closed && g->srv.closed;
}

static bool one_reset(void *arg)
{
    rig *g = arg;
    return g->srv.reset > 0;
}

static void test_interposition_works(void)
{
    install_counters();
    n_alloc = n_free = 0;
    counting = 1;
    void *volatile p = malloc(40);
    void *volatile q = calloc(3, 8);
    free(p);
    free(q);
    counting = 0;
    CHECK_EQ(n_alloc, 2);
    CHECK_EQ(n_free, 2);
}

static void test_no_allocation_after_init(void)
{
    static rig g;
    static sim s;
    memset(&g, 0, sizeof(g));
    g.srv.dir = 1;
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.bandwidth_bps = 1000000000ull;
    wc.latency_ns = 20 * US;
    wc.queue_bytes = 16000;
    wc.max_frames = 4096;
    efvitcp_config sc, cc;
    sim_default_config(&sc, 5);
    sim_default_config(&cc, 6);
    sc.recv_buf_size = cc.recv_buf_size = 256 * 1024;
    sc.send_slots = cc.send_slots = 256;
    sc.time_wait_ms = cc.time_wait_ms = 500;
    /* init allocates, and the counters see the library's allocations */
    n_alloc = 0;
    counting = 1;
    const char *err = sim_init(&s, &wc, &sc, &cc, 6000);
    counting = 0;
    CHECK_NULL_ERR(err);
    REQUIRE(!err);
    CHECK(n_alloc >= 8);
    set_handlers(&s.sh);
    set_handlers(&s.ch);
    s.sctx = &g.srv;
    s.cctx = &g.cli;
    s.after_poll = after_poll;
    s.after_poll_arg = &g;

    n_alloc = n_free = 0;
    counting = 1;
    /* a refused connect, then an aborted connection, then the transfer */
    efvitcp_conn *c = NULL;
    err = efvitcp_client_connect(s.cli, SIM_SERVER_IP, 6001, 0, &c);
    sim_run_for(&s, 10 * MS);
    if (!err) err = efvitcp_client_connect(s.cli, SIM_SERVER_IP, 6000, 0, &c);
    sim_run_for(&s, 10 * MS);
    if (c && efvitcp_is_established(c)) efvitcp_conn_close(c);
    bool reset_seen = sim_run(&s, SEC, one_reset, &g);
    memset(&g, 0, sizeof(g));
    g.srv.dir = 1;
    if (!err) err = efvitcp_client_connect(s.cli, SIM_SERVER_IP, 6000, 0, &c);
    bool closed = sim_run(&s, 60 * SEC, both_closed, &g);
    efvitcp_stats mid_c, mid_s;
    efvitcp_client_stats(s.cli, &mid_c);
    efvitcp_server_stats(s.srv, &mid_s);
    sim_run_for(&s, SEC); /* TIME_WAIT expires */
    counting = 0;

    CHECK_EQ(n_alloc, 0);
    CHECK_EQ(n_free, 0);
    CHECK_NULL_ERR(err);
    CHECK(reset_seen);
    CHECK(closed);
    CHECK(!g.cli.bad && !g.srv.bad);
    CHECK_EQ(g.cli.rx, BYTES);
    CHECK_EQ(g.srv.rx, BYTES);
    CHECK_EQ(g.cli.fin + g.srv.fin, 2);
    CHECK(g.cli.timers >= 20 && g.srv.timers >= 20);
    et_wire_stats ws;
    et_wire_get_stats(s.wire, &ws);
    CHECK(ws.drop_queue > 0); /* the wire really lost frames */
    efvitcp_stats cs, ss;
    efvitcp_client_stats(s.cli, &cs);
    efvitcp_server_stats(s.srv, &ss);
    CHECK(cs.retransmits + ss.retransmits > 0);
    CHECK_EQ(cs.conns_refused, 1);
    CHECK_EQ(ss.conns_reset, 1);
    CHECK(mid_c.time_wait_active + mid_s.time_wait_active >= 1);
    CHECK_EQ(cs.time_wait_active + ss.time_wait_active, 0);
    CHECK_EQ(cs.conns_active + ss.conns_active, 0);
    sim_free(&s);
}

int main(void)
{
    RUN(test_interposition_works);
    RUN(test_no_allocation_after_init);
    return th_summary();
}
