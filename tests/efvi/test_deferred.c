/*
 * Connections whose output waits for TX buffers (the stack's deferred list) while their NIC's TX
 * ring is stalled, and one of them ends: its slot must leave the list at once, because a new
 * connection may take the slot before the next poll runs the list.
 *
 * Regression (efvitcp-sim-efvi: seeds 450 reorder, 1386 dup, 1283 corrupt, 46 slow): a freed slot
 * stayed on the list ("free slot on the deferred list"); when it was reused, et_conn_alloc
 * cleared its link and cut off the connections queued behind it, which kept their flag and so
 * could never be queued again ("in_deferred flag does not match the deferred list").
 */
#include <etherfabric/ef_vi.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "sim.h"
#include "check.h"

#define PORT  7000
#define NCONN 3
#define BYTES 3000u

static efvitcp_conn *srv_conns[NCONN + 1];
static int n_srv;
static uint64_t cli_rx[NCONN + 1];
static int cli_resets;
static efvitcp_conn *cli_conns[NCONN + 1];

static void srv_est(void *ctx, efvitcp_conn *c)
{
    if (n_srv <= NCONN) srv_conns[n_srv++] = c;
}

static uint32_t cli_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    for (int i = 0; i <= NCONN; i++)
        if (cli_conns[i] == c) cli_rx[i] += n;
    return 0;
}

static void cli_reset(void *ctx, efvitcp_conn *c)
{
    cli_resets++;
    for (int i = 0; i <= NCONN; i++)
        if (cli_conns[i] == c) cli_conns[i] = NULL;
}

static bool all_established(void *arg)
{
    return n_srv == *(int *)arg;
}

static uint32_t deferred_len(const et_stack *st)
{
    uint32_t n = 0;
    for (const et_conn *c = st->deferred; c && n <= st->cfg.max_conns; c = c->next_deferred) n++;
    return n;
}

static bool survivors_done(void *arg)
{
    int aborted = *(int *)arg;
    for (int i = 0; i < NCONN; i++)
        if (i != aborted && cli_rx[i] != BYTES) return false;
    return n_srv == NCONN + 1 && cli_resets == 1;
}

static void check_invariants(sim *s, const char *when)
{
    char buf[512];
    const char *e = et_stack_check_detail(&s->srv->st, false, buf, sizeof(buf));
    if (e) fprintf(stderr, "%s: %s\n", when, e);
    CHECK(e == NULL);
}

static void run_arch(int arch)
{
    memset(srv_conns, 0, sizeof(srv_conns));
    memset(cli_conns, 0, sizeof(cli_conns));
    memset(cli_rx, 0, sizeof(cli_rx));
    n_srv = cli_resets = 0;
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc);
    sim_set_links("efvi", "efvi");
    efvitcp_config scfg;
    sim_default_config(&scfg, 1);
    scfg.max_conns = NCONN + 1;
    scfg.initial_rto_us = 10000;
    sim s;
    const char *err = sim_init(&s, NULL, &scfg, NULL, PORT);
    REQUIRE(err == NULL);
    s.sh.on_established = srv_est;
    s.ch.on_data = cli_data;
    s.ch.on_reset = cli_reset;
    for (int i = 0; i < NCONN; i++)
        REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &cli_conns[i]) == NULL);
    int want = NCONN;
    REQUIRE(sim_run(&s, 1000000000ull, all_established, &want));

    /* The server's NIC takes no more TX descriptors: what it sends stays on the ring, and the
       retransmissions find their buffers busy. */
    efvi_emu_nic *nic = efvi_emu_nic_find(s.wire, "server");
    REQUIRE(nic != NULL);
    efvi_emu_faults stall = {.tx_stall = true};
    efvi_emu_set_faults(nic, &stall);
    uint8_t data[BYTES];
    memset(data, 0x5a, sizeof(data));
    for (int i = 0; i < NCONN; i++) CHECK_EQ(efvitcp_send(srv_conns[i], data, BYTES, false), BYTES);
    sim_poll(&s);
    /* Past the tail loss probe (RACK-TLP, the default: its buffer is busy, so none goes and
       the RTO is armed) and then past the RTO, whose retransmissions wait. */
    efvitcp_wire_set_now(s.wire, sim_now(&s) + 100000000ull);
    sim_poll(&s);
    efvitcp_wire_set_now(s.wire, sim_now(&s) + 100000000ull);
    sim_poll(&s);
    et_stack *st = &s.srv->st;
    CHECK_EQ(deferred_len(st), NCONN);
    check_invariants(&s, "deferred");

    /* Abort the connection at the head of the list: its slot is the next one allocated. */
    et_conn *head = st->deferred;
    REQUIRE(head != NULL);
    int aborted = -1;
    for (int i = 0; i < NCONN; i++)
        if (srv_conns[i] == head) aborted = i;
    REQUIRE(aborted >= 0);
    efvitcp_conn_close(head);
    CHECK_EQ(deferred_len(st), NCONN - 1);
    check_invariants(&s, "after the abort");

    /* A new connection takes the freed slot while the others still wait. */
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &cli_conns[NCONN]) == NULL);
    for (int k = 0; k < 4; k++) {
        sim_poll(&s);
        check_invariants(&s, "after the reuse");
    }
    CHECK_EQ(st->conns[head->id].state, EFVITCP_SYN_RECEIVED);
    CHECK(deferred_len(st) >= NCONN - 1);

    /* The ring runs again: every survivor delivers its bytes, the aborted one is reset. */
    efvi_emu_set_faults(nic, NULL);
    CHECK(sim_run(&s, 5000000000ull, survivors_done, &aborted));
    for (int i = 0; i < NCONN; i++)
        if (i != aborted) CHECK_EQ(cli_rx[i], BYTES);
    CHECK_EQ(cli_resets, 1);
    check_invariants(&s, "at the end");
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
