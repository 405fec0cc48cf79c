/*
 * Transmit timestamp reports on links without hardware stamps (mem here; the efvi and efct runs
 * of this file use ports without the txts option): software stamps, marked as such, equal to the
 * virtual clock as the link took each frame; the server's SYN-ACK reported as a SYN; a full
 * queue drops new reports, counts them and marks the next report; a connection without the
 * option reports nothing; reports follow stream offsets as efvitcp_tx_offset() gives them.
 */
#include "harness.h"
#include "sim.h"

#define PORT 7100
#define MSG  100

typedef struct side {
    efvitcp_conn *conn;
} side;

static void on_est(void *ctx, efvitcp_conn *c)
{
    ((side *)ctx)->conn = c;
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)c, (void)d, (void)n;
    return 0;
}

static bool both_up(void *arg)
{
    side *x = arg;
    return x[0].conn && x[1].conn && efvitcp_is_established(x[1].conn);
}

static void setup(sim *s, side *x, uint32_t srv_cap, uint32_t cli_cap)
{
    efvitcp_config sc, cc;
    sim_default_config(&sc, 1);
    sim_default_config(&cc, 2);
    sc.tx_timestamps = srv_cap;
    cc.tx_timestamps = cli_cap;
    REQUIRE(sim_init(s, NULL, &sc, &cc, PORT) == NULL);
    efvitcp_handler h = {.on_established = on_est, .on_data = on_data};
    s->sh = s->ch = h;
    s->sctx = &x[0];
    s->cctx = &x[1];
    REQUIRE(efvitcp_client_connect(s->cli, SIM_SERVER_IP, PORT, 0, &x[1].conn) == NULL);
    REQUIRE(sim_run(s, 1000000000ull, both_up, x));
}

static void test_software_stamps_and_offsets(void)
{
    sim s;
    side x[2] = {{0}, {0}};
    setup(&s, x, 8, 8);
    efvitcp_tx_report rep[16];
    /* The server's SYN-ACK is its first report. */
    int n = efvitcp_tx_timestamps(x[0].conn, rep, 16);
    REQUIRE(n == 1);
    CHECK_EQ(rep[0].flags, EFVITCP_TX_TS_SOFTWARE | EFVITCP_TX_TS_SYN);
    CHECK_EQ(rep[0].start, 0);
    CHECK_EQ(rep[0].bytes, 0);
    n = efvitcp_tx_timestamps(x[1].conn, rep, 16);
    REQUIRE(n == 1);
    CHECK(rep[0].flags & EFVITCP_TX_TS_SYN);
    static const uint8_t msg[MSG] = {7};
    uint64_t at[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(efvitcp_tx_offset(x[1].conn), (uint64_t)i * MSG);
        at[i] = sim_now(&s);
        CHECK_EQ(efvitcp_send(x[1].conn, msg, MSG, false), MSG);
        sim_run_for(&s, 1000000);
    }
    CHECK_EQ(efvitcp_tx_offset(x[1].conn), 3 * MSG);
    n = efvitcp_tx_timestamps(x[1].conn, rep, 16);
    REQUIRE(n == 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(rep[i].flags, EFVITCP_TX_TS_SOFTWARE);
        CHECK_EQ(rep[i].start, (uint64_t)i * MSG);
        CHECK_EQ(rep[i].bytes, MSG);
        CHECK_EQ(rep[i].ts_ns, at[i]);
    }
    /* Bare ACKs (the server's) make no reports. */
    CHECK_EQ(efvitcp_tx_timestamps(x[0].conn, rep, 16), 0);
    sim_free(&s);
}

static void test_full_queue_drops_and_marks(void)
{
    sim s;
    side x[2] = {{0}, {0}};
    setup(&s, x, 0, 4);
    static const uint8_t msg[MSG] = {7};
    /* SYN + 3 messages fill the queue of 4; 3 more are lost. */
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(efvitcp_send(x[1].conn, msg, MSG, false), MSG);
        sim_run_for(&s, 1000000);
    }
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.tx_timestamps_lost, 3);
    efvitcp_tx_report rep[8];
    int n = efvitcp_tx_timestamps(x[1].conn, rep, 2); /* max is respected */
    CHECK_EQ(n, 2);
    n += efvitcp_tx_timestamps(x[1].conn, rep + 2, 8);
    REQUIRE(n == 4);
    CHECK(rep[0].flags & EFVITCP_TX_TS_SYN);
    for (int i = 0; i < 4; i++) CHECK(!(rep[i].flags & EFVITCP_TX_TS_LOST));
    CHECK_EQ(rep[3].start, 2 * MSG);
    CHECK_EQ(efvitcp_send(x[1].conn, msg, MSG, false), MSG);
    sim_run_for(&s, 1000000);
    n = efvitcp_tx_timestamps(x[1].conn, rep, 8);
    REQUIRE(n == 1);
    CHECK(rep[0].flags & EFVITCP_TX_TS_LOST); /* the gap before it is said */
    CHECK_EQ(rep[0].start, 6 * MSG);
    /* The server runs without reports: always none, whatever it sends. */
    CHECK_EQ(efvitcp_send(x[0].conn, msg, MSG, false), MSG);
    sim_run_for(&s, 1000000);
    CHECK_EQ(efvitcp_tx_timestamps(x[0].conn, rep, 8), 0);
    CHECK_EQ(efvitcp_tx_timestamps(x[1].conn, NULL, 8), 0);
    CHECK_EQ(efvitcp_tx_timestamps(x[1].conn, rep, 0), 0);
    sim_free(&s);
}

/* Reports a connection did not take are dropped when its slot is freed (efvitcp.h): a pointer
   kept past the end reads none, and the slot's next connection starts with none. Regression: the
   freed slot kept its queue, so efvitcp_tx_timestamps() on it returned the old connection's
   reports until the slot was reused. */
static void test_reports_dropped_on_free(void)
{
    sim s;
    side x[2] = {{0}, {0}};
    setup(&s, x, 0, 8);
    static const uint8_t msg[MSG] = {7};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(efvitcp_send(x[1].conn, msg, MSG, false), MSG);
        sim_run_for(&s, 1000000);
    }
    efvitcp_conn *c = x[1].conn;
    efvitcp_conn_close(c);
    REQUIRE(efvitcp_is_closed(c));
    efvitcp_tx_report rep[8];
    CHECK_EQ(efvitcp_tx_timestamps(c, rep, 8), 0);
    /* The slot's next connection: its SYN's report alone. */
    x[0].conn = x[1].conn = NULL;
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &x[1].conn) == NULL);
    CHECK(x[1].conn == c);
    REQUIRE(sim_run(&s, 1000000000ull, both_up, x));
    int n = efvitcp_tx_timestamps(c, rep, 8);
    REQUIRE(n == 1);
    CHECK(rep[0].flags & EFVITCP_TX_TS_SYN);
    sim_free(&s);
}

static void test_config_range(void)
{
    efvitcp_config cfg;
    sim_default_config(&cfg, 1);
    cfg.tx_timestamps = 65537;
    efvitcp_client *cli = NULL;
    const char *err = efvitcp_client_init(&cli, "mem:x", &cfg);
    CHECK(err && strstr(err, "tx_timestamps"));
}

int main(void)
{
    RUN(test_software_stamps_and_offsets);
    RUN(test_full_queue_drops_and_marks);
    RUN(test_reports_dropped_on_free);
    RUN(test_config_range);
    return th_summary();
}
