/* End to end over the mem link: handshake, echo, half close, close, TIME_WAIT. */
#include "harness.h"
#include "sim.h"

typedef struct side {
    efvitcp_conn *conn;
    int established, fins, closed, resets, timeouts, refused;
    uint8_t rx[4096];
    uint32_t rx_len;
    bool echo;
} side;

static void on_est(void *ctx, efvitcp_conn *c)
{
    side *s = ctx;
    s->established++;
    s->conn = c;
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *s = ctx;
    if (s->rx_len + n <= sizeof(s->rx)) memcpy(s->rx + s->rx_len, d, n);
    s->rx_len += n;
    if (s->echo) efvitcp_send(c, d, n, false);
    return 0;
}
static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    side *s = ctx;
    s->fins++;
    if (s->echo) efvitcp_send_fin(c);
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->closed++;
}
static void on_reset(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->resets++;
}
static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->timeouts++;
}
static void on_refused(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->refused++;
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
}

static side S, C;
static bool both_established(void *a)
{
    return S.established && C.established;
}
static bool client_got(void *a)
{
    return C.rx_len >= *(uint32_t *)a;
}
static bool both_closed(void *a)
{
    return S.closed && C.closed;
}

static void test_echo_and_close(void)
{
    sim s;
    memset(&S, 0, sizeof(S));
    memset(&C, 0, sizeof(C));
    S.echo = true;
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 10000;
    CHECK_NULL_ERR(sim_init(&s, &wc, NULL, NULL, 5000));
    set_handlers(&s.sh);
    set_handlers(&s.ch);
    s.sctx = &S;
    s.cctx = &C;
    efvitcp_conn *cc = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 5000, 0, &cc));
    REQUIRE(cc != NULL);
    REQUIRE(sim_run(&s, 1000000000, both_established, NULL));
    CHECK(efvitcp_is_established(cc));
    CHECK(C.conn == cc);
    efvitcp_conn_stats cst;
    efvitcp_conn_get_stats(cc, &cst);
    CHECK_EQ(cst.state, EFVITCP_ESTABLISHED);
    CHECK(cst.mss > 1000);
    CHECK_EQ(efvitcp_send(cc, "hello", 5, false), 5);
    uint32_t want = 5;
    REQUIRE(sim_run(&s, 1000000000, client_got, &want));
    CHECK(memcmp(C.rx, "hello", 5) == 0);
    CHECK_NULL_ERR(efvitcp_send_fin(cc));
    REQUIRE(sim_run(&s, 1000000000, both_closed, NULL));
    CHECK_EQ(S.fins, 1);
    CHECK_EQ(C.fins, 1);
    CHECK_EQ(S.resets + C.resets + S.timeouts + C.timeouts, 0);
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.time_wait_active, 1); /* the active closer keeps TIME_WAIT (RFC 9293 §3.6) */
    CHECK_EQ(st.conns_active, 0);
    efvitcp_server_stats(s.srv, &st);
    CHECK_EQ(st.time_wait_active, 0);
    CHECK_EQ(st.conns_active, 0);
    sim_free(&s);
}

static void test_refused(void)
{
    sim s;
    memset(&C, 0, sizeof(C));
    CHECK_NULL_ERR(sim_init(&s, NULL, NULL, NULL, 0));
    set_handlers(&s.ch);
    s.cctx = &C;
    efvitcp_conn *cc = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 5001, 0, &cc));
    sim_run_for(&s, 100000000);
    CHECK_EQ(C.refused, 1);
    CHECK(efvitcp_is_closed(cc));
    sim_free(&s);
}

int main(void)
{
    RUN(test_echo_and_close);
    RUN(test_refused);
    return th_summary();
}
