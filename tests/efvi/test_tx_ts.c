/*
 * Transmit timestamps (efvitcp_tx_timestamps): on emulated EF10 and EFCT ports with the txts
 * option, every segment the client sends that carries data, its SYN or its FIN is reported with
 * the NIC clock at the instant the frame went to the wire, exactly; retransmissions get reports
 * of their own, flagged. Without txts the reports carry the software stamp, marked as such.
 * The wire's drop filter sees every frame as it is sent and records when, which is what the
 * reports are checked against.
 */
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#include "harness.h"
#include "sim.h"

#define PORT      5000
#define NIC_CLOCK 1000000000ull /* the emulated NIC clock runs 1 s ahead of the wire's */
#define MSG       300
#define MAX_SENT  64

typedef struct sent {
    uint32_t seq, len;
    uint8_t flags;
    uint64_t at;
} sent;

typedef struct rig {
    sent frames[MAX_SENT]; /* the client's frames with data, SYN or FIN, in wire order */
    uint32_t n;
    uint32_t drop_seq; /* a data frame with this sequence number is lost once */
    bool drop_armed;
    bool closed;
    efvitcp_tx_report rep[MAX_SENT + 1]; /* the reports left when the connection closed */
    int n_rep;
} rig;

static bool record(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                   uint64_t now_ns)
{
    rig *r = ctx;
    sim_tcp_info t;
    if (from_port != SIM_CLIENT_PORT || !sim_tcp_frame(frame, len, &t)) return false;
    if (!t.len && !(t.flags & 0x03)) return false; /* a pure ACK: no report */
    if (r->n < MAX_SENT) r->frames[r->n++] = (sent){t.seq, t.len, t.flags, now_ns};
    if (r->drop_armed && t.len && t.seq == r->drop_seq) {
        r->drop_armed = false;
        return true;
    }
    return false;
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)c, (void)d, (void)n;
    return 0;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    (void)ctx, (void)d, (void)n;
    efvitcp_send_fin(c);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    if (!ctx) return;
    rig *r = ctx;
    r->closed = true;
    /* The slot is the connection's until this returns: the last reports (the FIN's) are taken
       here, as a program does; once freed, its reports are gone. */
    r->n_rep = efvitcp_tx_timestamps(c, r->rep, MAX_SENT + 1);
}

static bool established(void *arg)
{
    return *(efvitcp_conn **)arg && efvitcp_is_established(*(efvitcp_conn **)arg);
}

static bool closed(void *arg)
{
    return ((rig *)arg)->closed;
}

/* Every report against the frame it describes, in order. */
static void check_reports(const rig *r, const efvitcp_tx_report *rep, int n, bool hw)
{
    REQUIRE(r->n >= 1 && (r->frames[0].flags & 0x02));
    uint32_t iss = r->frames[0].seq;
    CHECK_EQ((uint32_t)n, r->n);
    for (int i = 0; i < n && (uint32_t)i < r->n; i++) {
        const sent *f = &r->frames[i];
        const efvitcp_tx_report *x = &rep[i];
        bool syn = f->flags & 0x02, fin = f->flags & 0x01;
        CHECK_EQ(x->start, syn ? 0 : (uint64_t)(f->seq - iss - 1));
        CHECK_EQ(x->bytes, f->len);
        CHECK_EQ(!!(x->flags & EFVITCP_TX_TS_SYN), syn);
        CHECK_EQ(!!(x->flags & EFVITCP_TX_TS_FIN), fin);
        bool again = false; /* sent before: the same first octet earlier in the list */
        for (int k = 0; k < i; k++)
            if (r->frames[k].seq == f->seq && r->frames[k].len == f->len) again = true;
        CHECK_EQ(!!(x->flags & EFVITCP_TX_TS_RETRANSMIT), again);
        CHECK(!(x->flags & EFVITCP_TX_TS_LOST));
        if (hw) {
            CHECK_EQ(x->flags & (EFVITCP_TX_TS_HARDWARE | EFVITCP_TX_TS_SOFTWARE),
                     EFVITCP_TX_TS_HARDWARE);
            CHECK(x->flags & EFVITCP_TX_TS_CLOCK_SET);
            CHECK(x->flags & EFVITCP_TX_TS_IN_SYNC);
            CHECK_EQ(x->ts_ns, f->at + NIC_CLOCK);
        } else {
            CHECK_EQ(x->flags & (EFVITCP_TX_TS_HARDWARE | EFVITCP_TX_TS_SOFTWARE),
                     EFVITCP_TX_TS_SOFTWARE);
            CHECK_EQ(x->ts_ns, f->at); /* the instance's virtual clock as the link took it */
        }
    }
}

static void run(int arch, bool txts)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc);
    sim_set_links("efvi", txts ? "efvi,txts" : "efvi");
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = 20000;
    efvitcp_config cc;
    sim_default_config(&cc, 7);
    cc.tx_timestamps = 64;
    sim s;
    REQUIRE(sim_init(&s, &wc, NULL, &cc, PORT) == NULL);
    rig r = {.n = 0};
    sim_set_drop(&s, record, &r);
    efvitcp_handler h = {.on_data = on_data, .on_fin = on_fin, .on_closed = on_closed};
    s.sh = s.ch = h;
    s.sctx = NULL;
    s.cctx = &r;
    efvitcp_conn *c = NULL;
    REQUIRE(efvitcp_client_connect(s.cli, SIM_SERVER_IP, PORT, 0, &c) == NULL);
    REQUIRE(sim_run(&s, 1000000000ull, established, &c));
    static const uint8_t msg[MSG] = {1};
    for (uint32_t i = 0; i < 5; i++) {
        CHECK_EQ(efvitcp_tx_offset(c), (uint64_t)i * MSG);
        CHECK_EQ(efvitcp_send(c, msg, sizeof(msg), false), (int)sizeof(msg));
        sim_run_for(&s, 1000000);
    }
    /* The sixth is lost on the wire: its retransmission gets a report of its own. */
    r.drop_seq = r.frames[0].seq + 1 + 5 * MSG;
    r.drop_armed = true;
    CHECK_EQ(efvitcp_send(c, msg, sizeof(msg), false), (int)sizeof(msg));
    sim_run_for(&s, 2000000000ull);
    CHECK(!r.drop_armed);
    CHECK_NULL_ERR(efvitcp_send_fin(c));
    REQUIRE(sim_run(&s, 10ull * 1000000000ull, closed, &r));
    CHECK_EQ(r.n_rep, 9); /* SYN, 6 messages, 1 retransmission, FIN */
    check_reports(&r, r.rep, r.n_rep, txts);
    efvitcp_tx_report rep[MAX_SENT + 1];
    CHECK_EQ(efvitcp_tx_timestamps(c, rep, MAX_SENT), 0); /* freed: dropped with the slot */
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    CHECK_EQ(st.tx_timestamps_lost, 0);
    sim_free(&s);
    efvi_emu_set_default_config(NULL);
}

static void test_ef10_hardware(void)
{
    run(EF_VI_ARCH_EF10, true);
}

static void test_efct_hardware(void)
{
    run(EF_VI_ARCH_EFCT, true);
}

static void test_ef10_software_without_txts(void)
{
    run(EF_VI_ARCH_EF10, false);
}

/* A port that does not offer TX timestamps refuses the option with an error that says so. */
static void test_txts_refused_without_hardware(void)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.tx_timestamps = false;
    efvi_emu_set_default_config(&nc);
    sim_set_links("efvi", "efvi,txts");
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    sim s;
    const char *err = sim_init(&s, &wc, NULL, NULL, PORT);
    CHECK(err && strstr(err, "timestamps"));
    sim_free(&s); /* what sim_init made before the client failed */
    sim_set_links("efvi", "efvi");
    efvi_emu_set_default_config(NULL);
}

int main(void)
{
    RUN(test_ef10_hardware);
    RUN(test_efct_hardware);
    RUN(test_ef10_software_without_txts);
    RUN(test_txts_refused_without_hardware);
    return th_summary();
}
