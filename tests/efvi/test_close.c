/*
 * Closing an instance on the efvi link resets every connection, also more of them than it has
 * control buffers, while frames of its peers wait on its event queue: the close takes the
 * transmit completions that give its control buffers back from the same queue, where received
 * frames come first (the link's tx_done polls only while its ready ring is empty), so the close
 * takes those frames too and drops them.
 */
#include <stdio.h>

#include <etherfabric/ef_vi.h>

#include "efvi_rig.h"

#define CONNS 12
#define PORT  7000

static struct {
    int established, resets;
} S, C;

static void on_est(void *ctx, efvitcp_conn *c)
{
    (void)c;
    if (ctx == &S)
        S.established++;
    else
        C.established++;
}

static void on_reset(void *ctx, efvitcp_conn *c)
{
    (void)c;
    if (ctx == &C) C.resets++;
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)c, (void)d, (void)n;
    return 0; /* consumed */
}

static void check_close_resets_all(int arch)
{
    memset(&S, 0, sizeof(S));
    memset(&C, 0, sizeof(C));
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 5000;
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, &wc) == NULL);
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc);
    efvitcp_config cfg;
    efvi_rig_base_cfg(&cfg, w, "198.18.1.1/15");
    cfg.max_conns = CONNS + 4;
    cfg.rx_bufs = 256;
    cfg.ctrl_bufs = 4;
    efvitcp_server *s;
    REQUIRE(efvitcp_server_init(&s, "efvi:s", &cfg) == NULL);
    REQUIRE(efvitcp_server_listen(s, PORT) == NULL);
    cfg.local_addr = "198.18.2.1/15";
    efvitcp_client *c;
    REQUIRE(efvitcp_client_init(&c, "efvi:c", &cfg) == NULL);
    efvi_emu_set_default_config(NULL);
    efvitcp_conn *cc[CONNS];
    for (int i = 0; i < CONNS; i++)
        REQUIRE(efvitcp_client_connect(c, "198.18.1.1", PORT, 0, &cc[i]) == NULL);
    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = on_est;
    h.on_reset = on_reset;
    h.on_data = on_data;
    for (int step = 0; step < 100000 && (S.established < CONNS || C.established < CONNS); step++) {
        uint64_t now = efvitcp_wire_now(w);
        efvitcp_server_poll_at(s, &h, &S, now);
        efvitcp_client_poll_at(c, &h, &C, now);
        efvitcp_wire_set_now(w, now + 1000);
    }
    REQUIRE(S.established == CONNS && C.established == CONNS);
    /* Every connection sends; the server polls no more, so its event queue holds the frames. */
    for (int i = 0; i < CONNS; i++) CHECK_EQ(efvitcp_send(cc[i], "hello", 5, false), 5);
    efvitcp_client_poll_at(c, &h, &C, efvitcp_wire_now(w));
    efvitcp_wire_set_now(w, efvitcp_wire_now(w) + 100000);
    efvitcp_server_close(s);
    for (int step = 0; step < 1000 && C.resets < CONNS; step++) {
        uint64_t now = efvitcp_wire_now(w) + 1000;
        efvitcp_wire_set_now(w, now);
        efvitcp_client_poll_at(c, &h, &C, now);
    }
    CHECK_EQ(C.resets, CONNS);
    efvitcp_client_close(c);
    CHECK_EQ(efvi_emu_total_violations(), 0);
    efvitcp_wire_free(w);
}

static void test_close_resets_all_ef10(void)
{
    check_close_resets_all(EF_VI_ARCH_EF10);
}

static void test_close_resets_all_efct(void)
{
    check_close_resets_all(EF_VI_ARCH_EFCT);
}

int main(void)
{
    RUN(test_close_resets_all_ef10);
    RUN(test_close_resets_all_efct);
    return th_summary();
}
