/*
 * The engine over the efvi link on emulated NICs, with NIC faults injected while a transfer runs
 * both ways and every byte is checked: CTPIO failures (with poisoned copies), RX discards, an RX
 * ring that runs empty, a TX ring that fills up, a NIC reset, an event queue overflow and a TX
 * error, on EF10 and on EFCT ports. Also: filters come and go with the flows.
 */
#include <etherfabric/ef_vi.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "link/efvi.h"
#include "sim.h"

#define PORT 7000

typedef struct end {
    efvitcp_conn *c;
    uint64_t tx, rx, total;
    uint32_t tx_seed, rx_seed;
    uint64_t bad;
    int established, closed, resets, timeouts;
    bool fin_sent;
} end;

static end S, C;

static uint8_t stream_byte(uint32_t seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x * 0x94d049bb133111ebull >> 56);
}

static void pump(end *e)
{
    uint8_t buf[4096];
    while (e->c && e->tx < e->total) {
        uint64_t want = e->total - e->tx;
        uint32_t n = efvitcp_sendable(e->c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > want) n = (uint32_t)want;
        if (!n) return;
        for (uint32_t i = 0; i < n; i++) buf[i] = stream_byte(e->tx_seed, e->tx + i);
        uint32_t sent = efvitcp_send(e->c, buf, n, false);
        e->tx += sent;
        if (sent < n) return;
    }
    if (e->c && e->tx == e->total && !e->fin_sent && !efvitcp_send_fin(e->c)) e->fin_sent = true;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    end *e = ctx;
    e->established++;
    e->c = c;
    pump(e);
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    end *e = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (d[i] != stream_byte(e->rx_seed, e->rx + i)) e->bad++;
    e->rx += n;
    return 0;
}
static void on_more(void *ctx, efvitcp_conn *c)
{
    pump(ctx);
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    end *e = ctx;
    e->closed++;
    e->c = NULL;
}
static void on_reset(void *ctx, efvitcp_conn *c)
{
    ((end *)ctx)->resets++;
}
static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ((end *)ctx)->timeouts++;
}

static void handlers(efvitcp_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->on_established = on_est;
    h->on_data = on_data;
    h->on_more_sendable = on_more;
    h->on_closed = on_closed;
    h->on_reset = on_reset;
    h->on_timeout = on_timeout;
}

static bool all_done(void *arg)
{
    return C.rx == S.total && S.rx == C.total && C.closed && S.closed;
}

typedef struct fault_plan {
    sim *s;
    efvi_emu_nic *srv_nic, *cli_nic;
    uint64_t step;
    void (*at_step)(struct fault_plan *p);
} fault_plan;

static void after_poll(void *arg)
{
    fault_plan *p = arg;
    p->step++;
    if (p->at_step) p->at_step(p);
}

static et_efvi_stats link_stats(void *instance)
{
    et_efvi_stats st;
    memset(&st, 0, sizeof(st));
    et_efvi_link_stats(((et_stack *)instance)->link, &st);
    return st;
}

typedef struct result {
    et_efvi_stats cl, sl;
    efvi_emu_stats cn, sn;
    efvitcp_stats cs, ss;
} result;

static uint32_t g_max_txq; /* 0: the NIC's default */
static bool g_big;         /* big windows and send rings: enough in flight to fill a TX ring */

/* Runs a transfer of bytes each way on ports of arch, with faults from setup and plan. */
static bool run(int arch, uint64_t bytes, const efvi_emu_faults *srv_faults,
                const efvi_emu_faults *cli_faults, void (*at_step)(fault_plan *), result *res)
{
    memset(&S, 0, sizeof(S));
    memset(&C, 0, sizeof(C));
    S.total = C.total = bytes;
    C.tx_seed = S.rx_seed = 11;
    S.tx_seed = C.rx_seed = 22;
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    nc.max_txq = g_max_txq;
    efvi_emu_set_default_config(&nc);
    efvitcp_config scfg, ccfg;
    sim_default_config(&scfg, 1);
    sim_default_config(&ccfg, 2);
    if (g_big) {
        scfg.send_slots = ccfg.send_slots = 2048;
        scfg.recv_buf_size = ccfg.recv_buf_size = 8 << 20;
        scfg.max_conns = ccfg.max_conns = 2;
    }
    sim_set_links("efvi", "efvi");
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 20000;
    wc.bandwidth_bps = g_big ? 0 : 10000000000ull; /* g_big: no queue losses to shrink cwnd */
    sim s;
    const char *err = sim_init(&s, &wc, &scfg, &ccfg, PORT);
    if (err) {
        fprintf(stderr, "sim_init: %s\n", err);
        return false;
    }
    handlers(&s.sh);
    handlers(&s.ch);
    s.sctx = &S;
    s.cctx = &C;
    fault_plan plan = {&s, efvi_emu_nic_find(s.wire, "server"), efvi_emu_nic_find(s.wire, "client"),
                       0, at_step};
    s.after_poll = after_poll;
    s.after_poll_arg = &plan;
    if (srv_faults) efvi_emu_set_faults(plan.srv_nic, srv_faults);
    if (cli_faults) efvi_emu_set_faults(plan.cli_nic, cli_faults);
    efvitcp_conn *cc = NULL;
    bool ok = efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &cc) == NULL &&
              sim_run(&s, 60ull * 1000000000ull, all_done, NULL);
    if (!ok)
        fprintf(stderr, "transfer stuck: c.rx %llu s.rx %llu closed %d/%d step %llu\n",
                (unsigned long long)C.rx, (unsigned long long)S.rx, C.closed, S.closed,
                (unsigned long long)plan.step);
    res->cl = link_stats(s.cli);
    res->sl = link_stats(s.srv);
    efvi_emu_get_stats(plan.cli_nic, &res->cn);
    efvi_emu_get_stats(plan.srv_nic, &res->sn);
    efvitcp_client_stats(s.cli, &res->cs);
    efvitcp_server_stats(s.srv, &res->ss);
    /* filter clean-up: the client's flow went with its connection; the listening port stays */
    CHECK_EQ(res->cl.flows, 0);
    CHECK_EQ(res->sl.flows, 1);
    CHECK_EQ(res->cn.filters, 2); /* own address: unicast MAC and ARP broadcast */
    CHECK_EQ(res->sn.filters, 3);
    CHECK_NULL_ERR(efvitcp_server_unlisten(s.srv, PORT));
    efvi_emu_get_stats(plan.srv_nic, &res->sn);
    CHECK_EQ(res->sn.filters, 2);
    CHECK_EQ(res->cn.violations + res->sn.violations, 0);
    if (res->cn.violations + res->sn.violations)
        fprintf(stderr, "violation: %s %s\n", res->cn.last_violation, res->sn.last_violation);
    sim_free(&s);
    efvi_emu_set_default_config(NULL);
    sim_set_links("efvi", "efvi");
    CHECK_EQ(S.bad + C.bad, 0);
    CHECK_EQ(S.resets + C.resets + S.timeouts + C.timeouts, 0);
    return ok;
}

static void test_clean(void)
{
    for (int arch = EF_VI_ARCH_EF10; arch <= EF_VI_ARCH_EFCT; arch += EF_VI_ARCH_EFCT - 1) {
        result r;
        REQUIRE(run(arch, 4000000, NULL, NULL, NULL, &r));
        CHECK(r.cl.tx_ctpio > 0);
        CHECK_EQ(r.cl.efct, arch == EF_VI_ARCH_EFCT);
        if (arch == EF_VI_ARCH_EF10) CHECK(r.cl.tx_dma > 0); /* CTPIO only with an empty queue */
        CHECK_EQ(r.cs.retransmits + r.ss.retransmits, 0);
        CHECK_EQ(r.cl.restarts + r.sl.restarts, 0);
    }
}

static void test_ctpio_failures(void)
{
    efvi_emu_faults f = {.ctpio_fail = 0.3, .ctpio_poison = true};
    result r;
    REQUIRE(run(EF_VI_ARCH_EF10, 4000000, &f, &f, NULL, &r));
    CHECK(r.cn.tx_ctpio_fail > 0 && r.sn.tx_ctpio_fail > 0);
    CHECK(r.cn.tx_ctpio > 0);
    CHECK(r.cn.tx_poisoned > 0);
    /* the peer's NIC discarded the poisoned copies and the fallbacks carried the data */
    CHECK(r.sl.rx_discard_crc > 0);
    CHECK_EQ(r.cn.tx_ctpio_busy, 0); /* the link only tries CTPIO on an empty DMA queue */
}

static void test_rx_discards(void)
{
    for (int arch = EF_VI_ARCH_EF10; arch <= EF_VI_ARCH_EFCT; arch += EF_VI_ARCH_EFCT - 1) {
        efvi_emu_faults f = {.rx_discard = 0.01};
        result r;
        REQUIRE(run(arch, 4000000, &f, &f, NULL, &r));
        CHECK(r.cl.rx_discard_crc > 0 && r.sl.rx_discard_crc > 0);
        CHECK(r.cs.retransmits + r.ss.retransmits > 0);
    }
}

static void starve(fault_plan *p)
{
    efvi_emu_faults f = {.rx_starve = p->step % 300 >= 280};
    efvi_emu_set_faults(p->srv_nic, &f);
    efvi_emu_set_faults(p->cli_nic, &f);
}

static void test_rx_ring_empty(void)
{
    for (int arch = EF_VI_ARCH_EF10; arch <= EF_VI_ARCH_EFCT; arch += EF_VI_ARCH_EFCT - 1) {
        result r;
        REQUIRE(run(arch, 4000000, NULL, NULL, starve, &r));
        CHECK(r.cn.rx_nodesc > 0 && r.sn.rx_nodesc > 0);
    }
}

static void stall(fault_plan *p)
{
    efvi_emu_faults f = {.tx_stall = p->step % 200 >= 150};
    efvi_emu_set_faults(p->srv_nic, &f);
    efvi_emu_set_faults(p->cli_nic, &f);
}

static void test_tx_ring_full(void)
{
    /* EF10 with the smallest TX ring (512) and more than that in flight; EFCT: its FIFO */
    g_max_txq = 512;
    g_big = true;
    for (int arch = EF_VI_ARCH_EF10; arch <= EF_VI_ARCH_EFCT; arch += EF_VI_ARCH_EFCT - 1) {
        result r;
        bool ok = run(arch, 30000000, NULL, NULL, stall, &r);
        CHECK(ok);
        if (arch == EF_VI_ARCH_EF10) CHECK_EQ(r.cl.txq_capacity, 511);
        /* sends waited in the link's queue while the ring (EFCT: FIFO) was full */
        CHECK(r.cl.tx_queued + r.sl.tx_queued > 0);
    }
    g_max_txq = 0;
    g_big = false;
}

static void resets(fault_plan *p)
{
    if (p->step == 400) efvi_emu_reset(p->srv_nic);
    if (p->step == 900) efvi_emu_reset(p->cli_nic);
    if (p->step == 1300) {
        efvi_emu_faults f = {.evq_oflow = 1};
        efvi_emu_set_faults(p->cli_nic, &f);
    }
    if (p->step == 1700) efvi_emu_tx_error(p->srv_nic);
}

static void test_reset_oflow_tx_error(void)
{
    for (int arch = EF_VI_ARCH_EF10; arch <= EF_VI_ARCH_EFCT; arch += EF_VI_ARCH_EFCT - 1) {
        result r;
        REQUIRE(run(arch, 8000000, NULL, NULL, resets, &r));
        CHECK_EQ(r.sl.resets, 1);
        CHECK_EQ(r.cl.resets, 1);
        CHECK_EQ(r.cl.evq_oflow, 1);
        if (arch == EF_VI_ARCH_EF10) CHECK_EQ(r.sl.tx_errors, 1);
        CHECK_EQ(r.cl.restarts, 2);
        CHECK_EQ(r.sl.restarts, arch == EF_VI_ARCH_EF10 ? 2 : 1);
        CHECK_EQ(r.cl.restart_failures + r.sl.restart_failures, 0);
    }
}

int main(void)
{
    efvi_emu_set_strict(false);
    RUN(test_clean);
    RUN(test_ctpio_failures);
    RUN(test_rx_discards);
    RUN(test_rx_ring_empty);
    RUN(test_tx_ring_full);
    RUN(test_reset_oflow_tx_error);
    return th_summary();
}
