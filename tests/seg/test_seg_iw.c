/* Segment tests: the initial congestion window (cfg.initial_window): RFC 6928's ten segments by
   default, RFC 5681 §3.1's value with 0, the restart window after idle (RFC 5681 §4.1), and
   growth only while the window is in use (RFC 7661). */
#include "check.h"
#include "segtest.h"

static uint8_t buf[65536];

/* Queues n full segments on a fresh connection and counts those that leave at once. */
static uint32_t first_flight(const efvitcp_config *cfg, uint32_t n)
{
    sg *t = sg_server(cfg);
    if (!sg_established(t)) return 0;
    uint32_t mss = t->conn->send_mss;
    for (uint32_t i = 0; i < n; i++)
        if (efvitcp_send(t->conn, buf, mss, false) != mss) return 0;
    uint32_t k = 0;
    while (sg_take(t)) k++;
    return k;
}

/* RFC 6928: ten segments (an MSS of 1448 bytes: 10 * 1448 <= 14600). */
static void test_default_is_ten_segments(void)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    CHECK_EQ(cfg.initial_window, 10);
    sg_config(&cfg);
    cfg.initial_window = 10;
    CHECK_EQ(first_flight(&cfg, 15), 10);
}

/* 0: RFC 5681 §3.1, three segments for an MSS in (1095, 2190]. */
static void test_rfc5681_value(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_window = 0;
    CHECK_EQ(first_flight(&cfg, 15), 3);
}

/* Any other count, and the range. */
static void test_configured(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_window = 4;
    CHECK_EQ(first_flight(&cfg, 15), 4);
    efvitcp_server *srv;
    cfg.initial_window = 65;
    CHECK(efvitcp_server_init(&srv, "mem:x", &cfg) != NULL);
}

/* After idle longer than the RTO the window restarts from the initial one (RFC 5681 §4.1). */
static void test_restart_window_after_idle(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_window = 10;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint32_t mss = t->conn->send_mss;
    for (uint32_t i = 0; i < 10; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    sg_flush(t);
    sg_send(t, TH_ACK, P(1), S(1 + 10 * mss), NULL, 0); /* slow start: cwnd grows */
    CHECK(t->conn->cc.cwnd > 10 * mss);
    sg_advance(t, 10 * SG_SEC);
    for (uint32_t i = 0; i < 15; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    uint32_t k = 0;
    while (sg_take(t)) k++;
    CHECK_EQ(k, 10);
}

/* RFC 7661: an application that keeps one small message in flight does not grow cwnd. Before,
   each ACK grew it by the message's size up to the peer's window (here by 50,000 bytes). */
static void test_app_limited_keeps_window(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_window = 10;
    sg *t = sg_server(&cfg);
    REQUIRE(sg_established(t));
    uint32_t iw = t->conn->cc.cwnd;
    uint32_t seq = 1;
    for (int i = 0; i < 500; i++) {
        CHECK_EQ(efvitcp_send(t->conn, buf, 100, false), 100);
        EXPECT(t, TH_ACK | TH_PSH, S(seq), P(1));
        seq += 100;
        sg_advance(t, 50 * SG_US);
        sg_send(t, TH_ACK, P(1), S(seq), NULL, 0);
    }
    CHECK_EQ(t->conn->cc.cwnd, iw);
    /* The window, untested beyond its first ten segments, still sends ten at once. */
    uint32_t mss = t->conn->send_mss;
    for (uint32_t i = 0; i < 15; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
    uint32_t k = 0;
    while (sg_take(t)) k++;
    CHECK_EQ(k, 10);
}

/* RFC 7661 §4.3: half of cwnd in flight validates it and slow start goes on; less does not. */
static void test_half_window_in_flight_grows(void)
{
    efvitcp_config cfg;
    sg_config(&cfg);
    cfg.initial_window = 10;
    for (uint32_t n = 4; n <= 5; n++) {
        sg *t = sg_server(&cfg);
        REQUIRE(sg_established(t));
        uint32_t mss = t->conn->send_mss, iw = t->conn->cc.cwnd;
        for (uint32_t i = 0; i < n; i++) CHECK_EQ(efvitcp_send(t->conn, buf, mss, false), mss);
        sg_flush(t);
        sg_send(t, TH_ACK, P(1), S(1 + n * mss), NULL, 0);
        /* RFC 3465 §2.2: a stretch ACK opens at most 2 SMSS. */
        CHECK_EQ(t->conn->cc.cwnd, n == 5 ? iw + 2 * mss : iw);
    }
}

int main(void)
{
    RUN(test_default_is_ten_segments);
    RUN(test_rfc5681_value);
    RUN(test_configured);
    RUN(test_restart_window_after_idle);
    RUN(test_app_limited_keeps_window);
    RUN(test_half_window_in_flight_grows);
    sg_cleanup();
    return th_summary();
}
