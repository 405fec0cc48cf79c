/*
 * No allocation after init with every wire fault on and both instances capturing to pcap: a
 * transfer both ways through loss, bursts, duplicates, jitter, corruption (checksums left and
 * fixed), an MTU drop and a partition that heals, with faults changed along the way. Counting as
 * in test_noalloc.c: this program interposes the allocation functions (normal build), or uses
 * AddressSanitizer's malloc/free hooks.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

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
static volatile uint64_t n_alloc;

#ifndef NOALLOC_ASAN

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
    if (counting) n_alloc++;
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    if (counting) n_alloc++;
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    if (counting) n_alloc++;
    return __libc_realloc(p, n);
}
void *reallocarray(void *p, size_t n, size_t size)
{
    if (counting) n_alloc++;
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n * size);
}
void free(void *p)
{
    __libc_free(p);
}
void *aligned_alloc(size_t align, size_t n)
{
    if (counting) n_alloc++;
    return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n)
{
    if (counting) n_alloc++;
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n)
{
    if (counting) n_alloc++;
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
    if (counting) n_alloc++;
}
static void asan_free_hook(const volatile void *p) {}
static void install_counters(void)
{
    __sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook);
}

#endif

#define MS    1000000ull
#define SEC   1000000000ull
#define BYTES (400u * 1024)

typedef struct ep {
    efvitcp_conn *conn;
    uint32_t dir;
    uint64_t tx, rx;
    bool bad, fin_sent;
    int closed;
} ep;

static uint8_t pat(uint32_t dir, uint64_t off)
{
    uint64_t x = (off >> 2) * 0x9e3779b97f4a7c15ull + dir;
    x ^= x >> 29;
    return (uint8_t)(x >> ((off & 3) * 8));
}

static void pump(ep *e)
{
    if (!e->conn || e->fin_sent) return;
    static uint8_t buf[8192];
    while (e->tx < BYTES) {
        uint32_t room = efvitcp_sendable(e->conn);
        if (!room) break;
        uint32_t n = BYTES - (uint32_t)e->tx;
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > room) n = room;
        for (uint32_t i = 0; i < n; i++) buf[i] = pat(e->dir, e->tx + i);
        uint32_t acc = efvitcp_send(e->conn, buf, n, false);
        e->tx += acc;
        if (acc < n) break;
    }
    if (e->tx == BYTES) e->fin_sent = efvitcp_send_fin(e->conn) == NULL;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->conn = c;
    pump(e);
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n)
{
    ep *e = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != pat(e->dir ^ 1, e->rx + i)) e->bad = true;
    e->rx += n;
    return 0;
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->closed++;
    e->conn = NULL;
}
static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *p, uint32_t n) {}
static void on_more(void *ctx, efvitcp_conn *c)
{
    pump(ctx);
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

static void test_faults_and_capture_allocate_nothing(void)
{
    char cpath[96], spath[96];
    snprintf(cpath, sizeof(cpath), "/tmp/efvitcp-test-noalloc-%d.c.pcap", (int)getpid());
    snprintf(spath, sizeof(spath), "/tmp/efvitcp-test-noalloc-%d.s.pcap", (int)getpid());
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 20000;
    wc.bandwidth_bps = 20000000; /* the transfer lasts through every phase below */
    wc.queue_bytes = 64 * 1024;
    wc.seed = 99;
    efvitcp_config sc, cc;
    sim_default_config(&sc, 3);
    sim_default_config(&cc, 4);
    sc.pcap_path = spath;
    cc.pcap_path = cpath;
    sc.min_rto_us = cc.min_rto_us = 2000;
    sc.max_rto_us = cc.max_rto_us = 200000;
    sc.initial_rto_us = cc.initial_rto_us = 50000;
    sc.data_retries = cc.data_retries = 30;
    sim s;
    static rig g;
    memset(&g, 0, sizeof(g));
    g.cli.dir = 0;
    g.srv.dir = 1;
    CHECK_NULL_ERR(sim_init(&s, &wc, &sc, &cc, 7000));
    efvitcp_handler h = {.on_established = on_est,
                         .on_data = on_data,
                         .on_fin = on_fin,
                         .on_closed = on_closed,
                         .on_more_sendable = on_more};
    s.sh = h;
    s.ch = h;
    s.sctx = &g.srv;
    s.cctx = &g.cli;
    s.after_poll = after_poll;
    s.after_poll_arg = &g;
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.loss = 0.01;
    f.ge_enter_bad = 0.01;
    f.ge_leave_bad = 0.5;
    f.ge_loss_bad = 0.5;
    f.duplicate = 0.02;
    f.jitter_mean_ns = 30000;
    f.jitter_max_ns = 200000;
    f.corrupt = 0.01;
    f.corrupt_fixed = 0.01;

    install_counters();
    counting = 1;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "client", &f));
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "server", &f));
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7000, 0, NULL));
    sim_run_for(&s, 30 * MS);
    f.mtu = 600; /* full segments are lost for a while */
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "client", &f));
    sim_run_for(&s, 20 * MS);
    f.mtu = 0;
    f.partition = true;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "server", &f));
    sim_run_for(&s, 100 * MS);
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "server", NULL));
    CHECK_NULL_ERR(efvitcp_wire_set_faults(s.wire, "client", NULL));
    CHECK(sim_run(&s, 60 * SEC, both_closed, &g));
    counting = 0;

    CHECK_EQ(n_alloc, 0);
    CHECK_EQ(g.cli.rx, BYTES);
    CHECK_EQ(g.srv.rx, BYTES);
    CHECK(!g.cli.bad && !g.srv.bad);
    et_wire_stats st;
    et_wire_get_stats(s.wire, &st);
    CHECK(st.fault_loss > 0);
    CHECK(st.fault_dup > 0);
    CHECK(st.fault_jitter > 0);
    CHECK(st.fault_corrupt > 0);
    CHECK(st.fault_corrupt_fixed > 0);
    CHECK(st.fault_partition > 0);
    CHECK(st.drop_mtu > 0);
    sim_free(&s);
    unlink(cpath);
    unlink(spath);
}

int main(void)
{
    RUN(test_faults_and_capture_allocate_nothing);
    return th_summary();
}
