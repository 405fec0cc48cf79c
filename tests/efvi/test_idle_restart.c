/*
 * The efvi link's own deadlines in efvitcp_*_next_timer, so that an idle waiter (efvitcp.h,
 * "Idle waits") sleeping until then misses none: a VI restart that failed is retried RETRY_NS
 * (10 ms) later by a poll, and next_timer says when; a VI found broken asks for a poll now. On an
 * emulated EF10 and EFCT port with a virtual clock, exactly.
 */
#include <etherfabric/ef_vi.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "link/efvi.h"

#define RETRY_NS 10000000ull

static void check_retry_in_next_timer(int arch)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_nic *nic;
    REQUIRE(efvi_emu_nic_create(w, "n", &nc, &nic) == NULL);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.wire = w;
    cfg.local_addr = "198.18.0.2/15";
    efvitcp_client *c;
    REQUIRE(efvitcp_client_init(&c, "efvi:n", &cfg) == NULL);
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
    efvitcp_wire_set_now(w, now + RETRY_NS);
    efvitcp_client_poll(c, NULL, NULL);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.down);
    CHECK_EQ(efvitcp_client_next_timer(c), now + 2 * RETRY_NS);
    /* The driver recovers: the poll at the deadline brings the VI back, and nothing is due. */
    efvi_emu_faults none = {0};
    efvi_emu_set_faults(nic, &none);
    efvitcp_wire_set_now(w, now + 2 * RETRY_NS);
    efvitcp_client_poll(c, NULL, NULL);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(!st.down);
    CHECK_EQ(efvitcp_client_next_timer(c), UINT64_MAX);
    CHECK_EQ(efvitcp_client_prime(c), 0);

    efvitcp_client_close(c);
    efvi_emu_nic_put(nic);
    efvitcp_wire_free(w);
}

static void test_retry_in_next_timer_ef10(void)
{
    check_retry_in_next_timer(EF_VI_ARCH_EF10);
}

static void test_retry_in_next_timer_efct(void)
{
    check_retry_in_next_timer(EF_VI_ARCH_EFCT);
}

int main(void)
{
    RUN(test_retry_in_next_timer_ef10);
    RUN(test_retry_in_next_timer_efct);
    return th_summary();
}
