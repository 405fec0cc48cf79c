/*
 * ACKs skipped for want of a control buffer still leave the peer a timely cumulative ACK
 * (issue 12 item 10). The server's NIC stops completing transmissions, so its few control
 * buffers stay in flight and the ACKs for a burst of small segments cannot be built (each one
 * counted as a TX_BUF drop). The moment the NIC completes again, within the same poll and the
 * same instant, the server must send one ACK that covers every byte it took: the peer must not
 * wait for a retransmission timeout, nor see a run of stale ACKs as duplicate ACKs and no more.
 */
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#include "harness.h"
#include "sim.h"

#define PORT  7200
#define SEGS  20
#define BYTES 100

typedef struct rig {
    uint32_t data_end;    /* one past the highest data byte the client sent */
    uint32_t best_ack;    /* the highest ACK the server sent since watching */
    uint64_t best_ack_at; /* when */
    bool watch;
    efvitcp_conn *srv_conn;
} rig;

static bool record(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                   uint64_t now_ns)
{
    rig *r = ctx;
    sim_tcp_info t;
    if (!sim_tcp_frame(frame, len, &t)) return false;
    if (from_port == SIM_CLIENT_PORT && t.len && (int32_t)(t.seq + t.len - r->data_end) > 0)
        r->data_end = t.seq + t.len;
    if (from_port == SIM_SERVER_PORT && r->watch && (t.flags & 0x10) &&
        (int32_t)(t.ack - r->best_ack) > 0) {
        r->best_ack = t.ack;
        r->best_ack_at = now_ns;
    }
    return false;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    ((rig *)ctx)->srv_conn = c;
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)c, (void)d, (void)n;
    return 0;
}

static bool up(void *arg)
{
    efvitcp_conn **c = arg;
    return *c && efvitcp_is_established(*c);
}

static void run_arch(int arch)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc);
    sim_set_links("efvi", "efvi");
    efvitcp_config scfg, ccfg;
    sim_default_config(&scfg, 1);
    sim_default_config(&ccfg, 2);
    scfg.ctrl_bufs = 4;        /* the fewest there may be */
    scfg.delayed_ack_us = 0;   /* every segment wants its ACK */
    ccfg.cc = EFVITCP_CC_NONE; /* the whole burst goes at once */
    sim s;
    REQUIRE(sim_init(&s, NULL, &scfg, &ccfg, PORT) == NULL);
    rig r = {0};
    sim_set_drop(&s, record, &r);
    s.sh.on_established = on_est;
    s.sctx = &r;
    s.sh.on_data = s.ch.on_data = on_data;
    efvitcp_conn *c = NULL;
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &c) == NULL);
    REQUIRE(sim_run(&s, 1000000000ull, up, &c));
    REQUIRE(sim_run(&s, 1000000000ull, up, &r.srv_conn));

    efvi_emu_nic *nic = efvi_emu_nic_find(s.wire, "server");
    REQUIRE(nic != NULL);
    efvi_emu_faults stall = {.tx_stall = true};
    efvi_emu_set_faults(nic, &stall);
    static const uint8_t msg[BYTES] = {3};
    for (int i = 0; i < SEGS; i++) CHECK_EQ(efvitcp_send(c, msg, BYTES, false), BYTES);
    sim_run_for(&s, 1000000); /* the burst arrives; its ACKs wait or are skipped */
    efvitcp_stats st;
    efvitcp_server_stats(s.srv, &st);
    CHECK(st.drops[EFVITCP_DROP_TX_BUF] > 0); /* ACKs were skipped */
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    CHECK_EQ(cs.unacked, SEGS * BYTES); /* nothing reached the client yet */

    /* The NIC completes again: one poll at the same instant ACKs everything. */
    r.watch = true;
    uint64_t t = sim_now(&s);
    efvi_emu_set_faults(nic, NULL);
    sim_poll(&s);
    sim_poll(&s);
    CHECK_EQ(r.best_ack, r.data_end);
    CHECK_EQ(r.best_ack_at, t);
    sim_run_for(&s, 1000000);
    efvitcp_conn_get_stats(c, &cs);
    CHECK_EQ(cs.unacked, 0);
    CHECK_EQ(cs.retransmits, 0); /* no timeout, no fast retransmission */
    sim_free(&s);
    efvi_emu_set_default_config(NULL);
}

static void test_ef10(void)
{
    run_arch(EF_VI_ARCH_EF10);
}

static void test_efct(void)
{
    run_arch(EF_VI_ARCH_EFCT);
}

int main(void)
{
    RUN(test_ef10);
    RUN(test_efct);
    return th_summary();
}
