/*
 * 32 instances at once on one simulated network, each on its own emulated NIC port (half EF10,
 * half EFCT): 16 servers echo what 16 clients send, every byte checked. The efvi link sets no
 * limit of its own on instances (TCPDirect's PIO-bound cap was about 12 per host).
 */
#include <stdio.h>

#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#include "harness.h"

#define PAIRS 16
#define BYTES 200000u
#define PORT  7000

typedef struct peer {
    efvitcp_conn *c;
    uint32_t id;
    uint64_t tx, rx, bad;
    bool echo, closed;
} peer;

static peer srv[PAIRS], cli[PAIRS];

static uint8_t byte_at(uint32_t id, uint64_t i)
{
    return (uint8_t)(i * 131u + id * 7u + (i >> 8));
}

static void cli_pump(peer *p)
{
    uint8_t buf[2048];
    while (p->c && p->tx < BYTES) {
        uint32_t n = efvitcp_sendable(p->c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > BYTES - p->tx) n = (uint32_t)(BYTES - p->tx);
        if (!n) return;
        for (uint32_t i = 0; i < n; i++) buf[i] = byte_at(p->id, p->tx + i);
        uint32_t k = efvitcp_send(p->c, buf, n, false);
        p->tx += k;
        if (k < n) return;
    }
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    peer *p = ctx;
    if (p->echo) return; /* servers only answer */
    p->c = c;
    cli_pump(p);
}
static void on_more(void *ctx, efvitcp_conn *c)
{
    peer *p = ctx;
    if (!p->echo) cli_pump(p);
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    peer *p = ctx;
    if (p->echo) {
        /* echo what fits; the rest is presented again */
        return n - efvitcp_send(c, d, n, false);
    }
    for (uint32_t i = 0; i < n; i++)
        if (d[i] != byte_at(p->id, p->rx + i)) p->bad++;
    p->rx += n;
    if (p->rx == BYTES) efvitcp_send_fin(c);
    return 0;
}
static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    peer *p = ctx;
    if (p->echo) efvitcp_send_fin(c);
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    ((peer *)ctx)->closed = true;
}

static void test_32_instances(void)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.max_ports = 40;
    wc.latency_ns = 5000;
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, &wc) == NULL);
    efvitcp_server *s[PAIRS];
    efvitcp_client *c[PAIRS];
    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = on_est;
    h.on_data = on_data;
    h.on_fin = on_fin;
    h.on_closed = on_closed;
    h.on_more_sendable = on_more;
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    for (int i = 0; i < PAIRS; i++) {
        char name[32], addr[32];
        efvitcp_config cfg;
        efvitcp_config_default(&cfg);
        cfg.max_conns = 4;
        cfg.send_slots = 32;
        cfg.rx_bufs = 64;
        cfg.ctrl_bufs = 16;
        cfg.max_time_wait = 4;
        cfg.wire = w;
        nc.arch = i % 2 ? EF_VI_ARCH_EFCT : EF_VI_ARCH_EF10;
        efvi_emu_set_default_config(&nc);
        cfg.seed = 100 + (uint64_t)i;
        snprintf(addr, sizeof(addr), "198.18.1.%d/15", i + 1);
        cfg.local_addr = addr;
        snprintf(name, sizeof(name), "efvi:s%d", i);
        REQUIRE(efvitcp_server_init(&s[i], name, &cfg) == NULL);
        REQUIRE(efvitcp_server_listen(s[i], PORT) == NULL);
        cfg.seed = 200 + (uint64_t)i;
        snprintf(addr, sizeof(addr), "198.18.2.%d/15", i + 1);
        snprintf(name, sizeof(name), "efvi:c%d", i);
        REQUIRE(efvitcp_client_init(&c[i], name, &cfg) == NULL);
        memset(&srv[i], 0, sizeof(srv[i]));
        memset(&cli[i], 0, sizeof(cli[i]));
        srv[i].echo = true;
        cli[i].id = (uint32_t)i;
        snprintf(addr, sizeof(addr), "198.18.1.%d", i + 1);
        REQUIRE(efvitcp_client_connect(c[i], addr, PORT, 0, NULL) == NULL);
    }
    efvi_emu_set_default_config(NULL);
    bool done = false;
    for (int step = 0; step < 2000000 && !done; step++) {
        uint64_t now = efvitcp_wire_now(w);
        for (int i = 0; i < PAIRS; i++) {
            efvitcp_server_poll_at(s[i], &h, &srv[i], now);
            efvitcp_client_poll_at(c[i], &h, &cli[i], now);
        }
        done = true;
        for (int i = 0; i < PAIRS; i++) done = done && cli[i].closed;
        uint64_t t = efvitcp_wire_next_delivery(w);
        for (int i = 0; i < PAIRS; i++) {
            uint64_t a = efvitcp_server_next_timer(s[i]), b = efvitcp_client_next_timer(c[i]);
            if (a < t) t = a;
            if (b < t) t = b;
        }
        efvitcp_wire_set_now(w, t > now ? t : now + 1000);
    }
    CHECK(done);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_EQ(cli[i].rx, BYTES);
        CHECK_EQ(cli[i].bad, 0);
    }
    for (int i = 0; i < PAIRS; i++) {
        efvitcp_client_close(c[i]);
        efvitcp_server_close(s[i]);
    }
    CHECK_EQ(efvi_emu_total_violations(), 0);
    efvitcp_wire_free(w);
}

int main(void)
{
    RUN(test_32_instances);
    return th_summary();
}
