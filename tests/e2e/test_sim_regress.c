/*
 * Engine bugs found by the deterministic simulator (tools/sim), each pinned down with the seed
 * that found it. Every test fails on the engine as it was before its fix.
 */
#include "harness.h"
#include "sim.h"

typedef struct side {
    efvitcp_conn *conn;
    int established, closed, resets, timeouts;
} side;

static void on_est(void *ctx, efvitcp_conn *c)
{
    side *s = ctx;
    s->established++;
    s->conn = c;
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

static void set_handlers(efvitcp_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->on_established = on_est;
    h->on_closed = on_closed;
    h->on_reset = on_reset;
    h->on_timeout = on_timeout;
}

static bool both_established(void *arg)
{
    side *s = arg;
    return s[0].established && s[1].established;
}

static int syns_dropped;
static bool drop_first_syn(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                           uint64_t now_ns)
{
    sim_tcp_info t;
    if (from_port != SIM_CLIENT_PORT || !sim_tcp_frame(frame, len, &t) || !(t.flags & 0x02))
        return false;
    return syns_dropped++ == 0;
}

/* Seed 197 (clean): a segment sent at virtual time 0 had sent_ns 0, which means "never sent".
   Its retransmission then counted as a first transmission (no retransmit counted) and, being
   "sent once", gave an RTT sample against Karn's rule (RFC 6298 §3). */
static void test_segment_sent_at_time_zero(void)
{
    sim s;
    side sd[2];
    memset(sd, 0, sizeof(sd));
    CHECK_NULL_ERR(sim_init(&s, NULL, NULL, NULL, 7000));
    set_handlers(&s.sh);
    set_handlers(&s.ch);
    s.sctx = &sd[0];
    s.cctx = &sd[1];
    syns_dropped = 0;
    sim_set_drop(&s, drop_first_syn, NULL);
    REQUIRE(sim_now(&s) == 0);
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7000, 0, &c));
    REQUIRE(c);
    CHECK(sim_run(&s, 10ull * 1000000000, both_established, sd));
    CHECK_EQ(syns_dropped, 2); /* the first SYN (sent at time 0) and its retransmission */
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.retransmits, 1);
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    /* The SYN was sent twice: no sample, the RTO is still the initial one backed off by its
       timeout (RFC 6298 §5.5, kept until a sample); a sample of the zero-latency wire would have
       brought it down to min_rto_us. */
    CHECK_EQ(cs.srtt_us, 0);
    CHECK_EQ(cs.rto_us, 2000000);
    sim_free(&s);
}

/* The other half of seed 197: a SYN sent and answered at time 0 on a zero-latency wire gives a
   valid sample (RTT 0: the RTO falls to min_rto_us), neither none (the SYN looked unsent) nor a
   negative one (seed 709: a huge SRTT, then every timer at max_rto_us). */
static void test_rtt_sample_at_time_zero(void)
{
    sim s;
    side sd[2];
    memset(sd, 0, sizeof(sd));
    CHECK_NULL_ERR(sim_init(&s, NULL, NULL, NULL, 7000));
    set_handlers(&s.sh);
    set_handlers(&s.ch);
    s.sctx = &sd[0];
    s.cctx = &sd[1];
    efvitcp_conn *c = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7000, 0, &c));
    REQUIRE(c);
    CHECK(sim_run(&s, 1000000, both_established, sd));
    CHECK_EQ(sim_now(&s), 0);
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    CHECK_EQ(cs.srtt_us, 0);
    CHECK_EQ(cs.rto_us, 5000); /* sim_default_config keeps the default min_rto_us */
    sim_free(&s);
}

int main(void)
{
    RUN(test_segment_sent_at_time_zero);
    RUN(test_rtt_sample_at_time_zero);
    return th_summary();
}
