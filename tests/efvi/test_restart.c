/*
 * The efvi link's VI recreation (OFLOW, RESET, TX_ERROR) against what the engine holds: a VI is
 * never freed while the engine still parses packets it lent (EFCT), releases that do not name a
 * packet lent now (twice, or from a VI since recreated) are ignored, and EF10 buffers, which are
 * the link's own memory, survive a recreation in the engine's hands. Also: flow filters that the
 * recreated VI cannot take are counted, logged and retried, and a VI recreated while the driver
 * refuses CTPIO comes up without it.
 *
 * The hazard: the engine polls tx_done in the middle of an RX burst when it runs out of control
 * buffers (ctrl_bufs 4, a burst of bare ACKs to closed ports, each answered with a RST), and that
 * poll of the event queue may be the one that finds the VI broken. A wrapper around the link's
 * operations makes the event queue overflow exactly then, or the NIC reset behind a frame it
 * took, which then waits in the ready ring.
 */
#include <arpa/inet.h>

#include <etherfabric/ef_vi.h>

#include "efvi_rig.h"
#include "link/efvi.h"
#include "net/checksum.h"

#define LOCAL_IP 0xc6120002u /* 198.18.0.2 */
#define PEER_IP  0xc6120009u /* 198.18.0.9 */

static uint32_t ack_frame(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                          uint16_t sport, uint16_t dport, uint32_t seq)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src_mac, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    uint16_t tot = htons(40);
    memcpy(ip + 2, &tot, 2);
    ip[8] = 64;
    ip[9] = 6;
    uint32_t s = htonl(PEER_IP), d = htonl(LOCAL_IP);
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &d, 4);
    uint16_t c = et_csum_finish(et_csum_add(0, ip, 20));
    memcpy(ip + 10, &c, 2);
    uint8_t *tcp = ip + 20;
    uint16_t sp = htons(sport), dp = htons(dport);
    uint32_t sq = htonl(seq), ak = htonl(seq * 7u);
    memcpy(tcp, &sp, 2);
    memcpy(tcp + 2, &dp, 2);
    memcpy(tcp + 4, &sq, 4);
    memcpy(tcp + 8, &ak, 4);
    tcp[12] = 5 << 4;
    tcp[13] = 0x10; /* a bare ACK: a closed port answers it with RST */
    tcp[14] = 0x10;
    c = et_csum_finish(et_csum_add(et_csum_pseudo(s, d, 6, 20), tcp, 20));
    memcpy(tcp + 16, &c, 2);
    return 54;
}

/* The wrapper: counts what the engine holds and breaks the VI from inside the burst. */
static struct {
    const et_link_ops *real;
    efvi_emu_nic *nic;
    int held;          /* frames the engine took and has not released */
    bool armed;        /* the next tx_done inside a burst overflows the event queue */
    bool reset_behind; /* instead: the NIC takes a frame, then resets (both in the queue) */
    int fired;         /* how often it did */
    int max_held;      /* frames held when it fired */
} W;

static int w_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    int n = W.real->rx_burst(l, out, max);
    W.held += n;
    return n;
}

static void w_rx_release(et_link *l, uint32_t id)
{
    W.held--;
    W.real->rx_release(l, id);
}

static int w_tx_done(et_link *l, uint32_t *ids, int max)
{
    if (W.armed && W.held > 0) {
        W.armed = false;
        W.fired++;
        W.max_held = W.held;
        if (W.reset_behind) {
            /* The link's idle test reads the next event's slot (ef_eventq_has_event), for which
               the NIC takes the next frame off the wire into the queue; the reset follows it. */
            CHECK(!W.real->idle(l, 0));
            efvi_emu_reset_after_events(W.nic);
        } else {
            efvi_emu_faults f = {.evq_oflow = 1};
            efvi_emu_set_faults(W.nic, &f);
        }
    }
    return W.real->tx_done(l, ids, max);
}

static et_link_ops w_ops;

static void wrap(et_link *l, efvi_emu_nic *nic)
{
    memset(&W, 0, sizeof(W));
    W.real = l->ops;
    W.nic = nic;
    w_ops = *l->ops;
    w_ops.rx_burst = w_rx_burst;
    w_ops.rx_release = w_rx_release;
    w_ops.tx_done = w_tx_done;
    l->ops = &w_ops;
}

static void unwrap(et_link *l)
{
    l->ops = W.real;
}

/* The link's counters (et_efvi_link_stats knows the link by its operations). */
static bool lstats(et_link *l, et_efvi_stats *st)
{
    const et_link_ops *ops = l->ops;
    if (ops == &w_ops) l->ops = W.real;
    bool ok = et_efvi_link_stats(l, st);
    l->ops = ops;
    return ok;
}

static int count_rsts(efvitcp_wire *w, int peer)
{
    uint8_t got[2048];
    int n, rsts = 0;
    while ((n = et_wire_raw_recv(w, peer, got, sizeof(got))) > 0)
        if (n >= 54 && got[12] == 0x08 && got[13] == 0x00 && got[14 + 9] == 6 &&
            (got[14 + 20 + 13] & 0x04))
            rsts++;
    return rsts;
}

/* n bare ACKs to closed ports, then polls (at one instant per round) until the wire is quiet. */
static int ack_burst(efvi_rig *r, int n, uint32_t seq0)
{
    uint8_t f[64];
    for (int i = 0; i < n; i++) {
        uint32_t len = ack_frame(f, r->l->mac, r->peer_mac, (uint16_t)(20000 + i),
                                 (uint16_t)(9000 + i), seq0 + (uint32_t)i);
        CHECK(et_wire_raw_send(r->w, r->peer, f, len) == 0);
    }
    int rsts = 0;
    for (int round = 0; round < 200; round++) {
        efvitcp_wire_set_now(r->w, efvitcp_wire_now(r->w) + 1000000);
        efvitcp_client_poll(r->c, NULL, NULL);
        rsts += count_rsts(r->w, r->peer);
    }
    return rsts;
}

/* The client for a burst: 4 control buffers, which a burst of bare ACKs outruns. */
static bool open_burst_rig(efvi_rig *r, int arch)
{
    efvi_rig_init(r, arch);
    r->cfg.rx_bufs = 256;
    r->cfg.ctrl_bufs = 4;
    r->cfg.seed = 5;
    return efvi_rig_open(r, "n", NULL, true);
}

/*
 * On arch, a burst of 32 bare ACKs with 4 control buffers: the engine polls tx_done inside the
 * burst and that poll finds the event queue overflowed. No API violation may follow (the emulator
 * counts a release of a packet the VI does not hold, and a read of one), the VI is recreated once,
 * and the stack answers every later ACK.
 */
static void check_restart_in_burst(int arch)
{
    efvi_rig r;
    REQUIRE(open_burst_rig(&r, arch));
    et_link *l = r.l;
    wrap(l, r.nic);

    W.armed = true;
    int rsts = ack_burst(&r, 32, 1000);
    CHECK_EQ(W.fired, 1);
    CHECK(W.max_held > 0); /* the overflow was found with frames in the engine's hands */
    CHECK_EQ(W.held, 0);
    CHECK(rsts > 0);
    efvi_emu_stats es;
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.evq_oflows, 1);
    CHECK_EQ(es.violations, 0);
    if (es.violations) fprintf(stderr, "violation: %s\n", es.last_violation);
    et_efvi_stats st;
    REQUIRE(lstats(l, &st));
    CHECK_EQ(st.restarts, 1);
    CHECK_EQ(st.restart_failures, 0);
    /* EFCT waits for the engine to give the old VI's packets back; EF10 need not */
    CHECK_EQ(st.restarts_deferred, arch == EF_VI_ARCH_EFCT);
    CHECK(!st.down);
    CHECK_EQ(st.rx_stale_release, 0);

    /* the recreated VI works: a burst that fits the control buffers is answered in full, and the
       wire quiet again, every buffer is back with the link */
    rsts = ack_burst(&r, 4, 5000);
    CHECK_EQ(rsts, 4);
    for (int k = 0; k < 8; k++) CHECK_EQ(ack_burst(&r, 3, 6000 + k), 3);
    CHECK_EQ(W.held, 0);
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.violations, 0);
    if (es.violations) fprintf(stderr, "violation: %s\n", es.last_violation);
    REQUIRE(lstats(l, &st));
    CHECK_EQ(st.restarts, 1);
    unwrap(l);
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

static void test_restart_in_burst_efct(void)
{
    check_restart_in_burst(EF_VI_ARCH_EFCT);
}

static void test_restart_in_burst_ef10(void)
{
    check_restart_in_burst(EF_VI_ARCH_EF10);
}

/*
 * Releases that name no packet lent now are ignored and counted: a second release of the same
 * frame while another is lent, and a release, after the VI was recreated, of a frame of the old
 * one. Through the link's interface with a raw peer.
 */
static void check_stale_release(int arch)
{
    efvi_rig r;
    efvi_rig_init(&r, arch);
    REQUIRE(efvi_rig_open(&r, "n", NULL, true));
    et_link *l = r.l;
    uint8_t f[64];
    for (int i = 0; i < 3; i++) {
        uint32_t len = ack_frame(f, l->mac, r.peer_mac, 1, 2, 100 + (uint32_t)i);
        et_wire_raw_send(r.w, r.peer, f, len);
    }
    et_rx_frame fr[4];
    REQUIRE(l->ops->rx_burst(l, fr, 4) == 3);
    l->ops->rx_release(l, fr[0].id);
    l->ops->rx_release(l, fr[0].id); /* twice, while fr[1] and fr[2] are lent */
    l->ops->rx_release(l, fr[1].id);
    l->ops->rx_release(l, 0xfffffff0u); /* never lent */
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.rx_stale_release, 2);
    l->ops->rx_release(l, fr[2].id);

    /* the VI is recreated (the queue overflows) with nothing lent */
    efvi_emu_faults flt = {.evq_oflow = 1};
    efvi_emu_set_faults(r.nic, &flt);
    CHECK_EQ(l->ops->rx_burst(l, fr, 4), 0);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.restarts, 1);
    uint32_t old = fr[1].id;
    uint32_t len = ack_frame(f, l->mac, r.peer_mac, 1, 2, 200);
    et_wire_raw_send(r.w, r.peer, f, len);
    len = ack_frame(f, l->mac, r.peer_mac, 1, 2, 201);
    et_wire_raw_send(r.w, r.peer, f, len);
    REQUIRE(l->ops->rx_burst(l, fr, 4) == 2);
    l->ops->rx_release(l, old); /* a frame of the old VI, while new ones are lent */
    l->ops->rx_release(l, fr[0].id);
    l->ops->rx_release(l, fr[1].id);
    REQUIRE(et_efvi_link_stats(l, &st));
    /* EF10 ids are the link's own buffers, the same memory across VIs: only the state says */
    CHECK_EQ(st.rx_stale_release, 3);
    efvi_rig_close(&r, EFVI_RIG_NO_VIOLATIONS, NULL);
}

static void test_stale_release_efct(void)
{
    check_stale_release(EF_VI_ARCH_EFCT);
}

static void test_stale_release_ef10(void)
{
    check_stale_release(EF_VI_ARCH_EF10);
}

static struct {
    int warns, infos;
    char last[256];
} L;

static void log_hook(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level == EFVITCP_LOG_WARN) L.warns++;
    if (level == EFVITCP_LOG_INFO) L.infos++;
    snprintf(L.last, sizeof(L.last), "%s", msg);
}

static void poll_at(efvi_rig *r, uint64_t t)
{
    efvitcp_wire_set_now(r->w, t);
    et_rx_frame fr[8];
    int n = r->l->ops->rx_burst(r->l, fr, 8);
    for (int i = 0; i < n; i++) r->l->ops->rx_release(r->l, fr[i].id);
}

/*
 * Flow filters the recreated VI cannot take (the NIC's table refuses IP filters) are not lost
 * silently: counted, said once through the log hook, retried with a back-off (10 ms, doubling)
 * and back when the NIC takes them again, said too.
 */
static void check_filters_after_restart(int arch)
{
    memset(&L, 0, sizeof(L));
    efvi_rig r;
    efvi_rig_init(&r, arch);
    r.cfg.log = log_hook;
    REQUIRE(efvi_rig_open(&r, "n", NULL, false));
    et_link *l = r.l;
    et_flow conn = {0, PEER_IP, 7000, 40000}, lis = {0, 0, 80, 0};
    REQUIRE(l->ops->flow_add(l, &conn) == 0);
    REQUIRE(l->ops->flow_add(l, &lis) == 0);
    efvi_emu_stats es;
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.filters, 4); /* unicast MAC, ARP broadcast, the two flows */

    uint64_t t = 1000000000ull;
    efvi_emu_faults f = {.ip_filter_fail = true};
    efvi_emu_set_faults(r.nic, &f);
    efvi_emu_reset(r.nic);
    poll_at(&r, t);
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.restarts, 1);
    CHECK(!st.down);
    CHECK_EQ(st.flows, 2);
    CHECK_EQ(st.flows_unsteered, 2);
    CHECK_EQ(st.filter_failures, 2);
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.filters, 2);
    CHECK_EQ(L.warns, 1);
    CHECK(strstr(L.last, "re-installed after a VI restart") != NULL);
    CHECK(strstr(L.last, "2 flow(s)") != NULL);

    poll_at(&r, t + 5000000); /* before the first retry */
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.filter_retries, 0);
    poll_at(&r, t + 10000000); /* the first retry: refused again, next in 20 ms */
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.filter_retries, 2);
    CHECK_EQ(st.flows_unsteered, 2);
    CHECK_EQ(L.warns, 1); /* said once */
    memset(&f, 0, sizeof(f));
    efvi_emu_set_faults(r.nic, &f);
    poll_at(&r, t + 25000000);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.filter_retries, 2);
    poll_at(&r, t + 30000000);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.filter_retries, 4);
    CHECK_EQ(st.filters_restored, 2);
    CHECK_EQ(st.flows_unsteered, 0);
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.filters, 4);
    CHECK_EQ(L.infos, 1);
    CHECK(strstr(L.last, "no flow lacks its filter") != NULL);

    /* a flow that cannot get a filter when added (own address: kept, the MAC filter brings its
       frames) is retried the same way, and removing it ends the retries */
    efvi_emu_set_faults(r.nic, &(efvi_emu_faults){.ip_filter_fail = true});
    et_flow other = {0, PEER_IP, 7001, 40001};
    CHECK_EQ(l->ops->flow_add(l, &other), 0);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.flows_unsteered, 1);
    CHECK_EQ(L.warns, 2);
    CHECK(strstr(L.last, "cannot be added") != NULL);
    CHECK_EQ(l->ops->flow_del(l, &other), 0);
    poll_at(&r, t + 50000000);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.flows_unsteered, 0);
    CHECK_EQ(st.filter_retries, 4);
    CHECK_EQ(L.infos, 2);

    CHECK_EQ(l->ops->flow_del(l, &conn), 0);
    CHECK_EQ(l->ops->flow_del(l, &lis), 0);
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

static void test_filters_after_restart_ef10(void)
{
    check_filters_after_restart(EF_VI_ARCH_EF10);
}

static void test_filters_after_restart_efct(void)
{
    check_filters_after_restart(EF_VI_ARCH_EFCT);
}

/*
 * Flows the NIC's filter table has no room for wait on a list and are retried FILTER_RETRY_BATCH
 * (16) at a time, round robin; a retry costs the flows it tries, not a scan of the flow table.
 * A seeded mix of adds, removes (whose backward shifts move table entries under the list) and
 * retries against a table of 8 IP filters: after every step the link's counts agree with the
 * NIC's, and once the flows fit, every one gets its filter.
 */
static void check_filter_retry_list(int arch)
{
    memset(&L, 0, sizeof(L));
    efvi_rig rig; /* not r: that is each step's random number */
    efvi_rig_init(&rig, arch);
    rig.nc.max_filters = 2 + 8; /* the two MAC filters of an owned address, 8 flows */
    rig.cfg.max_conns = 64;
    rig.cfg.log = log_hook;
    REQUIRE(efvi_rig_open(&rig, "n", NULL, false));
    et_link *l = rig.l;

    enum { N = 48 };
    bool in[N] = {0};
    uint32_t n_in = 0, rng = 12345;
    uint64_t t = 1000000000ull, retries = 0, restored = 0, waiting = 0;
    et_efvi_stats st;
    efvi_emu_stats es;
    for (int step = 0; step < 3000; step++) {
        rng = rng * 1103515245u + 12345u;
        uint32_t r = rng >> 8, k = r % N;
        /* ports in one narrow range: neighbours in the table, so removals shift entries */
        et_flow f = {0, PEER_IP, (uint16_t)(7000 + k), 40000};
        if (r % 5 == 0) {
            t += 1000000000ull; /* past any back-off: a retry */
            poll_at(&rig, t);
        } else if (!in[k]) {
            REQUIRE(l->ops->flow_add(l, &f) == 0);
            in[k] = true, n_in++;
        } else {
            REQUIRE(l->ops->flow_del(l, &f) == 0);
            in[k] = false, n_in--;
        }
        REQUIRE(et_efvi_link_stats(l, &st));
        efvi_emu_get_stats(rig.nic, &es);
        CHECK_EQ(st.flows, n_in);
        CHECK_EQ(es.filters, 2 + n_in - st.flows_unsteered);
        CHECK(es.filters <= rig.nc.max_filters);
        /* a retry tries 16 of the flows waiting (all, when fewer), and fills every free filter
           unless all 16 went in */
        uint64_t tried = st.filter_retries - retries, went_in = st.filters_restored - restored;
        if (r % 5 == 0) {
            CHECK_EQ(tried, waiting < 16 ? waiting : 16);
            if (st.flows_unsteered && went_in < 16) CHECK_EQ(es.filters, rig.nc.max_filters);
        } else {
            CHECK_EQ(tried, 0);
        }
        retries = st.filter_retries, restored = st.filters_restored;
        waiting = st.flows_unsteered;
    }
    CHECK(st.filters_restored > 100);
    /* down to 8 flows: the next retries give each its filter */
    for (uint32_t k = 0; k < N && n_in > 8; k++) {
        if (!in[k]) continue;
        et_flow f = {0, PEER_IP, (uint16_t)(7000 + k), 40000};
        REQUIRE(l->ops->flow_del(l, &f) == 0);
        in[k] = false, n_in--;
    }
    for (int i = 0; i < 4; i++) poll_at(&rig, t += 1000000000ull);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.flows_unsteered, 0);
    CHECK(strstr(L.last, "no flow lacks its filter") != NULL);
    for (uint32_t k = 0; k < N; k++) {
        et_flow f = {0, PEER_IP, (uint16_t)(7000 + k), 40000};
        if (in[k]) REQUIRE(l->ops->flow_del(l, &f) == 0);
    }
    efvi_rig_close(&rig, EFVI_RIG_CHECKS, NULL);
}

static void test_filter_retry_list_ef10(void)
{
    check_filter_retry_list(EF_VI_ARCH_EF10);
}

static void test_filter_retry_list_efct(void)
{
    check_filter_retry_list(EF_VI_ARCH_EFCT);
}

/*
 * A VI recreated while the driver refuses CTPIO (another process took it) comes up without it
 * instead of staying down: counted, said through the log hook, its frames sent by DMA. A later
 * recreation with CTPIO free gets it back; a recreation that fails (no VI at all) and is
 * retried falls back the same way.
 */
static void test_ctpio_refused_at_restart(void)
{
    memset(&L, 0, sizeof(L));
    efvi_rig r;
    efvi_rig_init(&r, EF_VI_ARCH_EF10); /* with CTPIO */
    r.cfg.log = log_hook;
    REQUIRE(efvi_rig_open(&r, "n", NULL, true));
    et_link *l = r.l;
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    REQUIRE(st.ctpio);

    /* Reset while CTPIO is refused: the new VI has none, and the link is up at once. */
    uint64_t t = 1000000000ull;
    efvi_emu_set_faults(r.nic, &(efvi_emu_faults){.ctpio_refuse = true});
    efvi_emu_reset(r.nic);
    poll_at(&r, t);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.restarts, 1);
    CHECK_EQ(st.restart_failures, 0);
    CHECK(!st.down);
    CHECK(!st.ctpio);
    CHECK_EQ(st.ctpio_lost, 1);
    CHECK_EQ(L.warns, 1);
    CHECK(strstr(L.last, "no CTPIO") != NULL);
    /* It carries frames: bare ACKs to closed ports are answered, by DMA. */
    efvi_emu_stats es0, es1;
    efvi_emu_get_stats(r.nic, &es0);
    CHECK_EQ(ack_burst(&r, 4, 1000), 4);
    efvi_emu_get_stats(r.nic, &es1);
    CHECK_EQ(es1.tx_ctpio, es0.tx_ctpio);
    CHECK(es1.tx_dma >= es0.tx_dma + 4);

    /* CTPIO free again: the next recreation has it. */
    efvi_emu_set_faults(r.nic, &(efvi_emu_faults){0});
    efvi_emu_reset(r.nic);
    t = efvitcp_wire_now(r.w) + 1000000;
    poll_at(&r, t);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.restarts, 2);
    CHECK(!st.down);
    CHECK(st.ctpio);
    CHECK_EQ(st.ctpio_lost, 1);
    CHECK_EQ(L.infos, 1);
    CHECK(strstr(L.last, "CTPIO again") != NULL);
    efvi_emu_get_stats(r.nic, &es0);
    CHECK_EQ(ack_burst(&r, 4, 2000), 4);
    efvi_emu_get_stats(r.nic, &es1);
    CHECK(es1.tx_ctpio > es0.tx_ctpio); /* the first; the rest queue behind its fallback */

    /* No VI at all, then only CTPIO refused: the retry 10 ms later comes up without it. */
    efvi_emu_set_faults(r.nic, &(efvi_emu_faults){.ctpio_refuse = true, .vi_alloc_fail = 1000});
    efvi_emu_reset(r.nic);
    t = efvitcp_wire_now(r.w) + 1000000;
    poll_at(&r, t);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.down);
    CHECK_EQ(st.restart_failures, 1);
    efvi_emu_set_faults(r.nic, &(efvi_emu_faults){.ctpio_refuse = true});
    poll_at(&r, t + 10000000);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(!st.down);
    CHECK(!st.ctpio);
    CHECK_EQ(st.restarts, 4);
    CHECK_EQ(st.restart_failures, 1);
    CHECK_EQ(st.ctpio_lost, 2);
    CHECK_EQ(L.warns, 2);
    CHECK_EQ(ack_burst(&r, 4, 3000), 4);
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

/*
 * A frame and a reset in the batch of events that tx_done polls in the middle of a burst (the
 * engine ran out of control buffers): the frame waits in the ready ring, behind the burst's
 * frames that the engine holds. Once it released those, the poll's flush found the restart due
 * and (EFCT) gave the waiting frame's packet back to the driver unseen and uncounted. Every frame
 * must reach the engine: 40 bare ACKs to closed ports, a burst of 32, the one the NIC took before
 * its reset, and the 7 the recreated VI receives.
 */
static void check_reset_behind_ready_frame(int arch)
{
    efvi_rig r;
    REQUIRE(open_burst_rig(&r, arch));
    et_link *l = r.l;
    efvitcp_stats s0, s1;
    efvitcp_client_stats(r.c, &s0);
    et_efvi_stats st0, st;
    REQUIRE(et_efvi_link_stats(l, &st0));
    wrap(l, r.nic);

    W.armed = true;
    W.reset_behind = true;
    int rsts = ack_burst(&r, 40, 1000);
    CHECK_EQ(W.fired, 1);
    CHECK_EQ(W.max_held, 32); /* the first burst, in the engine's hands */
    CHECK_EQ(W.held, 0);
    CHECK(rsts > 0);
    efvitcp_client_stats(r.c, &s1);
    CHECK_EQ(s1.frames_in - s0.frames_in, 40);
    REQUIRE(lstats(l, &st));
    CHECK_EQ(st.rx_frames - st0.rx_frames, 40);
    CHECK_EQ(st.restarts, 1);
    CHECK_EQ(st.resets, 1);
    CHECK_EQ(st.restart_failures, 0);
    CHECK_EQ(st.restarts_deferred, arch == EF_VI_ARCH_EFCT);
    CHECK(!st.down);
    CHECK_EQ(st.rx_stale_release, 0);
    efvi_emu_stats es;
    efvi_emu_get_stats(r.nic, &es);
    CHECK_EQ(es.resets, 1);
    CHECK_EQ(es.rx_frames, 40);
    CHECK_EQ(es.rx_to_kernel, 0);
    CHECK_EQ(es.violations, 0);
    if (es.violations) fprintf(stderr, "violation: %s\n", es.last_violation);

    /* the recreated VI works, and every buffer is back with the link */
    for (int k = 0; k < 4; k++) CHECK_EQ(ack_burst(&r, 3, 6000 + k), 3);
    CHECK_EQ(W.held, 0);
    unwrap(l);
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

static void test_reset_behind_ready_frame_efct(void)
{
    check_reset_behind_ready_frame(EF_VI_ARCH_EFCT);
}

static void test_reset_behind_ready_frame_ef10(void)
{
    check_reset_behind_ready_frame(EF_VI_ARCH_EF10);
}

/*
 * The same through the link's operations alone, in the order that lost the frame: tx_done polls
 * (the engine sent since its last poll) one frame and the reset, the frame goes to the ready
 * ring, and the flush at the end of the poll finds nothing lent. The restart waits until rx_burst
 * handed the frame over and it came back.
 */
static void check_ready_frame_at_flush(int arch)
{
    efvi_rig r;
    efvi_rig_init(&r, arch);
    REQUIRE(efvi_rig_open(&r, "n", NULL, true));
    et_link *l = r.l;
    uint64_t t = 1000000000ull;
    for (int i = 0; i < 3; i++) { /* whatever the open sent has completed and been reaped */
        efvitcp_wire_set_now(r.w, t += 1000000);
        efvitcp_client_poll(r.c, NULL, NULL);
    }
    uint32_t ids[16];
    CHECK_EQ(l->ops->tx_done(l, ids, 16), 0); /* after it, the next one polls the queue */
    CHECK(l->ops->idle(l, t));

    uint8_t f[64];
    uint32_t len = ack_frame(f, l->mac, r.peer_mac, 1, 2, 4242);
    REQUIRE(et_wire_raw_send(r.w, r.peer, f, len) == 0);
    CHECK(!l->ops->idle(l, t)); /* the NIC took it: its event is in the queue */
    efvi_emu_reset_after_events(r.nic);
    CHECK_EQ(l->ops->tx_done(l, ids, 16), 0); /* the frame to the ready ring, the reset found */
    l->ops->tx_flush(l);                      /* the poll's end */
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.resets, 1);
    /* EFCT: the packet lives in the old VI's buffers; EF10: in the link's own memory */
    CHECK_EQ(st.restarts, arch == EF_VI_ARCH_EF10);
    et_rx_frame fr[8];
    int n = l->ops->rx_burst(l, fr, 8);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(fr[0].len, len);
        CHECK(memcmp(fr[0].data, f, len) == 0);
        l->ops->rx_release(l, fr[0].id);
    }
    l->ops->tx_flush(l);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.restarts, 1);
    CHECK(!st.down);
    CHECK_EQ(st.rx_stale_release, 0);

    /* the recreated VI receives */
    len = ack_frame(f, l->mac, r.peer_mac, 1, 2, 4243);
    REQUIRE(et_wire_raw_send(r.w, r.peer, f, len) == 0);
    n = l->ops->rx_burst(l, fr, 8);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK(memcmp(fr[0].data, f, len) == 0);
        l->ops->rx_release(l, fr[0].id);
    }
    efvi_rig_close(&r, EFVI_RIG_NO_VIOLATIONS, NULL);
}

static void test_ready_frame_at_flush_efct(void)
{
    check_ready_frame_at_flush(EF_VI_ARCH_EFCT);
}

static void test_ready_frame_at_flush_ef10(void)
{
    check_ready_frame_at_flush(EF_VI_ARCH_EF10);
}

int main(void)
{
    efvi_emu_set_strict(false);
    RUN(test_restart_in_burst_efct);
    RUN(test_restart_in_burst_ef10);
    RUN(test_stale_release_efct);
    RUN(test_stale_release_ef10);
    RUN(test_filters_after_restart_ef10);
    RUN(test_filters_after_restart_efct);
    RUN(test_filter_retry_list_ef10);
    RUN(test_filter_retry_list_efct);
    RUN(test_ctpio_refused_at_restart);
    RUN(test_reset_behind_ready_frame_efct);
    RUN(test_reset_behind_ready_frame_ef10);
    RUN(test_ready_frame_at_flush_efct);
    RUN(test_ready_frame_at_flush_ef10);
    return th_summary();
}
