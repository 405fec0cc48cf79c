/*
 * The efvi link's own deadlines in efvitcp_*_next_timer, so that an idle waiter (efvitcp.h,
 * "Idle waits") sleeping until then misses none: a VI restart that failed is retried RETRY_NS
 * (10 ms) later by a poll, and next_timer says when; a VI found broken asks for a poll now. On an
 * emulated EF10 and EFCT port with a virtual clock, exactly.
 */
#include <string.h>

#include <etherfabric/ef_vi.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "link/efvi.h"
#include "wire/wire_hooks.h"

#define RETRY_NS 10000000ull

/* A client instance on an emulated port of arch on a wire with a virtual clock. */
typedef struct rig {
    efvitcp_wire *w;
    efvi_emu_nic *nic;
    efvitcp_client *c;
} rig;

/* Nothing set up on a failure (reported): the caller stops at g->c == NULL. */
static void rig_new(rig *out, int arch)
{
    rig g = {0};
    *out = g;
    REQUIRE(efvitcp_wire_new(&g.w, NULL) == NULL);
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    REQUIRE(efvi_emu_nic_create(g.w, "n", &nc, &g.nic) == NULL);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.wire = g.w;
    cfg.local_addr = "198.18.0.2/15";
    REQUIRE(efvitcp_client_init(&g.c, "efvi:n", &cfg) == NULL);
    *out = g;
}

/* A poll at time t; the link's counters after it. */
static bool poll_at(rig *g, uint64_t t, et_efvi_stats *st)
{
    efvitcp_wire_set_now(g->w, t);
    efvitcp_client_poll(g->c, NULL, NULL);
    return et_efvi_link_stats(((et_stack *)g->c)->link, st);
}

static void rig_free(rig *g)
{
    efvitcp_client_close(g->c);
    efvi_emu_nic_put(g->nic);
    efvitcp_wire_free(g->w);
}

static void check_retry_in_next_timer(int arch)
{
    rig g;
    rig_new(&g, arch);
    REQUIRE(g.c);
    efvitcp_wire *w = g.w;
    efvi_emu_nic *nic = g.nic;
    efvitcp_client *c = g.c;
    et_link *l = ((et_stack *)c)->link;
    CHECK(efvitcp_client_fd(c) >= 0);
    CHECK_EQ(efvitcp_client_next_timer(c), UINT64_MAX); /* nothing to do, ever */

    /* The queue overflows and the recreated VI cannot be allocated: the link is down. */
    efvi_emu_faults f = {.evq_oflow = 1, .vi_alloc_fail = 1000};
    efvi_emu_set_faults(nic, &f);
    efvitcp_client_poll(c, NULL, NULL);
    efvitcp_client_poll(c, NULL, NULL);
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.down);
    CHECK(st.restart_failures >= 1);
    uint64_t now = efvitcp_wire_now(w);
    /* The retry is the instance's next deadline (before the fix: UINT64_MAX, and a sleeper
       would have stayed down until some frame or timer came). A sleeper cannot arm a VI that is
       not there: prime says so by 0 with the deadline in next_timer. */
    CHECK_EQ(efvitcp_client_next_timer(c), now + RETRY_NS);
    CHECK_EQ(efvitcp_client_prime(c), 0);
    /* Still failing at the retry: the next one is 10 ms later again. */
    REQUIRE(poll_at(&g, now + RETRY_NS, &st));
    CHECK(st.down);
    CHECK_EQ(efvitcp_client_next_timer(c), now + 2 * RETRY_NS);
    /* The driver recovers: the poll at the deadline brings the VI back, and nothing is due. */
    efvi_emu_faults none = {0};
    efvi_emu_set_faults(nic, &none);
    REQUIRE(poll_at(&g, now + 2 * RETRY_NS, &st));
    CHECK(!st.down);
    CHECK_EQ(efvitcp_client_next_timer(c), UINT64_MAX);
    CHECK_EQ(efvitcp_client_prime(c), 0);

    rig_free(&g);
}

/* A flow without its filter (a full table) is retried from the poll, but not while the VI is
   down: the poll stops before the retries (a restart re-installs every filter anyway). So the
   retry's time must not be the instance's next deadline then: it would stay due, and a sleeper
   would spin until the VI came back (fuzz_efvi's livelock check found it). */
static void check_filter_retry_while_down(int arch)
{
    rig g;
    rig_new(&g, arch);
    REQUIRE(g.c);
    efvitcp_wire *w = g.w;
    efvi_emu_nic *nic = g.nic;
    efvitcp_client *c = g.c;
    et_link *l = ((et_stack *)c)->link;
    uint64_t t0 = efvitcp_wire_now(w);

    /* The connection's flow gets no filter: it is retried 10 ms later. */
    efvi_emu_faults f = {.ip_filter_fail = true};
    efvi_emu_set_faults(nic, &f);
    CHECK_NULL_ERR(efvitcp_client_connect(c, "198.18.0.3", 5000, 0, NULL));
    efvitcp_client_poll(c, NULL, NULL);
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.flows_unsteered, 1);
    /* Then the queue overflows and the VI cannot be recreated: down, retried 10 ms later. */
    f.evq_oflow = 1;
    f.vi_alloc_fail = 1000;
    efvi_emu_set_faults(nic, &f);
    efvitcp_client_poll(c, NULL, NULL);
    efvitcp_client_poll(c, NULL, NULL);
    REQUIRE(et_efvi_link_stats(l, &st));
    REQUIRE(st.down);
    /* At the filter retry's time the VI is still down and its retry moves on: the next deadline
       is that retry (before the fix: the filter retry's, now, for as long as the VI was down). */
    REQUIRE(poll_at(&g, t0 + RETRY_NS, &st));
    CHECK(st.down);
    CHECK_EQ(efvitcp_client_next_timer(c), t0 + 2 * RETRY_NS);
    /* The VI comes back with the table free again: the restart installs the flow's filter. */
    efvi_emu_faults none = {0};
    efvi_emu_set_faults(nic, &none);
    REQUIRE(poll_at(&g, t0 + 2 * RETRY_NS, &st));
    CHECK(!st.down);
    CHECK_EQ(st.flows_unsteered, 0);

    rig_free(&g);
}

static void test_filter_retry_while_down_ef10(void)
{
    check_filter_retry_while_down(EF_VI_ARCH_EF10);
}

static void test_filter_retry_while_down_efct(void)
{
    check_filter_retry_while_down(EF_VI_ARCH_EFCT);
}

static void test_retry_in_next_timer_ef10(void)
{
    check_retry_in_next_timer(EF_VI_ARCH_EF10);
}

static void test_retry_in_next_timer_efct(void)
{
    check_retry_in_next_timer(EF_VI_ARCH_EFCT);
}

/* A port whose VI is gone (a restart that failed) still takes its frames off the wire, to the
   kernel as a NIC does: efvi_emu_nic_drain, for a driver of virtual time that would otherwise see
   a frame due forever (fuzz_efvi's livelock check did) while nothing polls the port. With a VI
   open it takes nothing: the VI's event queue paces reception. */
static void check_drain_without_vi(int arch)
{
    rig g;
    rig_new(&g, arch);
    REQUIRE(g.c);
    efvitcp_wire *w = g.w;
    efvi_emu_nic *nic = g.nic;
    efvitcp_client *c = g.c;
    et_link *l = ((et_stack *)c)->link;
    uint8_t peer_mac[6], nic_mac[6];
    int raw, ifindex;
    REQUIRE(et_wire_raw_attach(w, "peer", peer_mac, &raw) == NULL);
    efvi_emu_nic_addr(nic, nic_mac, &ifindex);
    uint8_t frame[60] = {0};
    memcpy(frame, nic_mac, 6);
    memcpy(frame + 6, peer_mac, 6);
    frame[12] = 0x08; /* IPv4, by no filter of the link's: the kernel's */

    /* With the VI: the frame waits for the VI's poll. */
    REQUIRE(et_wire_raw_send(w, raw, frame, sizeof(frame)) == 0);
    uint64_t due = efvitcp_wire_next_delivery(w);
    REQUIRE(due != UINT64_MAX);
    efvitcp_wire_set_now(w, due);
    CHECK_EQ(efvi_emu_nic_drain(nic), 0u);
    CHECK_EQ(efvitcp_wire_next_delivery(w), due);
    efvitcp_client_poll(c, NULL, NULL);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);

    /* Without: the link is down, nothing polls the port, and the frame would stay due. */
    efvi_emu_faults f = {.evq_oflow = 1, .vi_alloc_fail = 1000};
    efvi_emu_set_faults(nic, &f);
    efvitcp_client_poll(c, NULL, NULL);
    efvitcp_client_poll(c, NULL, NULL);
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.down);
    efvi_emu_stats es0, es1;
    efvi_emu_get_stats(nic, &es0);
    REQUIRE(et_wire_raw_send(w, raw, frame, sizeof(frame)) == 0);
    REQUIRE(et_wire_raw_send(w, raw, frame, sizeof(frame)) == 0);
    due = efvitcp_wire_next_delivery(w);
    REQUIRE(due != UINT64_MAX);
    efvitcp_wire_set_now(w, due + 1000000);
    efvitcp_client_poll(c, NULL, NULL);
    CHECK_EQ(efvitcp_wire_next_delivery(w), due);
    CHECK_EQ(efvi_emu_nic_drain(nic), 2u);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    efvi_emu_get_stats(nic, &es1);
    CHECK_EQ(es1.rx_frames - es0.rx_frames, 2);
    CHECK_EQ(es1.rx_to_kernel - es0.rx_to_kernel, 2);
    CHECK_EQ(efvi_emu_nic_drain(NULL), 0u);

    rig_free(&g);
}

static void test_drain_without_vi_ef10(void)
{
    check_drain_without_vi(EF_VI_ARCH_EF10);
}

static void test_drain_without_vi_efct(void)
{
    check_drain_without_vi(EF_VI_ARCH_EFCT);
}

int main(void)
{
    RUN(test_filter_retry_while_down_ef10);
    RUN(test_filter_retry_while_down_efct);
    RUN(test_drain_without_vi_ef10);
    RUN(test_drain_without_vi_efct);
    RUN(test_retry_in_next_timer_ef10);
    RUN(test_retry_in_next_timer_efct);
    return th_summary();
}
