/*
 * Hardware RX timestamps reach the user: efvitcp_rx_hw_timestamp() inside on_data and on_fin is
 * the NIC's arrival time of the frame that carried the bytes (EF10 and EFCT ports with the rxts
 * option), and 0 without rxts and outside frame processing (user timers).
 */
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#include "harness.h"
#include "sim.h"

#define PORT      5000
#define NIC_CLOCK 1000000000ull /* the emulated NIC clock runs 1 s ahead of the wire's */

typedef struct side {
    sim *s;
    uint32_t data_calls, bad_ts;
    uint64_t last_ts;
    bool fin, fin_ts_ok, timer_fired;
    uint64_t timer_ts;
    bool closed;
} side;

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *x = ctx;
    (void)d, (void)n;
    x->data_calls++;
    x->last_ts = efvitcp_rx_hw_timestamp(c);
    return 0;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *x = ctx;
    (void)d, (void)n;
    x->fin = true;
    x->fin_ts_ok = efvitcp_rx_hw_timestamp(c) == sim_now(x->s) + NIC_CLOCK;
    efvitcp_send_fin(c);
}

static void on_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    side *x = ctx;
    (void)id;
    x->timer_fired = true;
    x->timer_ts = efvitcp_rx_hw_timestamp(c);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    (void)c;
    ((side *)ctx)->closed = true;
}

static uint32_t on_data_checked(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *x = ctx;
    on_data(ctx, c, d, n);
    /* The virtual clock stands at the frame's arrival while it is processed. */
    if (x->last_ts != sim_now(x->s) + NIC_CLOCK) x->bad_ts++;
    return 0;
}

static bool both_closed(void *arg)
{
    side *x = arg;
    return x[0].closed && x[1].closed;
}

static bool established(void *arg)
{
    return *(efvitcp_conn **)arg && efvitcp_is_established(*(efvitcp_conn **)arg);
}

static void run(int arch, bool rxts)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc);
    sim_set_links(rxts ? "efvi,rxts" : "efvi", rxts ? "efvi,rxts" : "efvi");
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 20000;
    sim s;
    REQUIRE(sim_init(&s, &wc, NULL, NULL, PORT) == NULL);
    side x[2] = {{.s = &s}, {.s = &s}}; /* server, client */
    efvitcp_handler h = {.on_data = rxts ? on_data_checked : on_data,
                         .on_fin = on_fin,
                         .on_user_timeout = on_user_timeout,
                         .on_closed = on_closed};
    s.sh = s.ch = h;
    s.sctx = &x[0];
    s.cctx = &x[1];
    efvitcp_conn *c = NULL;
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &c) == NULL);
    REQUIRE(sim_run(&s, 1000000000ull, established, &c));
    static const uint8_t msg[300] = {1};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(efvitcp_send(c, msg, sizeof(msg), false), (int)sizeof(msg));
        sim_run_for(&s, 1000000);
    }
    CHECK_NULL_ERR(efvitcp_set_user_timer_ns(c, 0, 1000));
    sim_run_for(&s, 1000000);
    CHECK(x[1].timer_fired);
    CHECK_EQ(x[1].timer_ts, 0); /* no frame is being processed in a timer callback */
    CHECK_NULL_ERR(efvitcp_send_fin(c));
    REQUIRE(sim_run(&s, 10ull * 1000000000ull, both_closed, x));
    CHECK_EQ(x[0].data_calls, 5);
    CHECK_EQ(x[0].bad_ts, 0);
    if (rxts) {
        CHECK(x[0].last_ts > NIC_CLOCK);
        CHECK(x[0].fin_ts_ok && x[1].fin_ts_ok);
    } else {
        CHECK_EQ(x[0].last_ts, 0);
        CHECK(!x[0].fin_ts_ok);
    }
    sim_free(&s);
    efvi_emu_set_default_config(NULL);
}

static void test_ef10_rxts(void)
{
    run(EF_VI_ARCH_EF10, true);
}

static void test_efct_rxts(void)
{
    run(EF_VI_ARCH_EFCT, true);
}

static void test_no_rxts_gives_zero(void)
{
    run(EF_VI_ARCH_EF10, false);
}

int main(void)
{
    RUN(test_ef10_rxts);
    RUN(test_efct_rxts);
    RUN(test_no_rxts_gives_zero);
    return th_summary();
}
