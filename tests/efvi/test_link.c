/*
 * The efvi link through its et_link interface, with a raw wire endpoint as the peer: interface
 * options, RX hardware timestamps in et_rx_frame.hw_ts, the MTU kept within one receive buffer,
 * jumbo frames dropped, EFCT software 4-tuple checks on a queue shared by two instances, the
 * checksums claimed as verified by the NIC, the idle test, and the open errors.
 */
#include <arpa/inet.h>

#include <etherfabric/ef_vi.h>

#include "efvi_rig.h"
#include "link/efvi.h"
#include "net/checksum.h"

static uint32_t tcp_frame(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                          uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport, uint32_t len)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src_mac, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 40 + len);
    ip[0] = 0x45;
    uint16_t tot = htons((uint16_t)(40 + len));
    memcpy(ip + 2, &tot, 2);
    ip[8] = 64;
    ip[9] = 6;
    uint32_t s = htonl(sip), d = htonl(dip);
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &d, 4);
    uint16_t c = et_csum_finish(et_csum_add(0, ip, 20));
    memcpy(ip + 10, &c, 2);
    uint8_t *tcp = ip + 20;
    uint16_t sp = htons(sport), dp = htons(dport);
    memcpy(tcp, &sp, 2);
    memcpy(tcp + 2, &dp, 2);
    tcp[12] = 5 << 4;
    tcp[13] = 0x10;
    c = et_csum_finish(et_csum_add(et_csum_pseudo(s, d, 6, (uint16_t)(20 + len)), tcp, 20 + len));
    memcpy(tcp + 16, &c, 2);
    return 54 + len;
}

static et_link *link_of(efvitcp_client *c)
{
    return ((et_stack *)c)->link;
}

static void base_cfg(efvitcp_config *cfg, efvitcp_wire *w, const char *addr)
{
    efvi_rig_base_cfg(cfg, w, addr);
    cfg->seed = 5;
}

static void test_open_errors(void)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvitcp_config cfg;
    base_cfg(&cfg, w, "198.18.0.2/15");
    efvitcp_client *c = NULL;
    CHECK(efvitcp_client_init(&c, "efvi:", &cfg) != NULL);
    CHECK(efvitcp_client_init(&c, "efvi:a,bogus", &cfg) != NULL);
    CHECK(efvitcp_client_init(&c, "efvi:a,ct=70000", &cfg) != NULL);
    CHECK(efvitcp_client_init(&c, "efvi:a,ct=", &cfg) != NULL);
    CHECK(efvitcp_client_init(&c, "efvi:0123456789012345678901234567890123", &cfg) != NULL);
    cfg.local_addr = NULL; /* a simulated wire has no kernel to share an address with */
    CHECK(efvitcp_client_init(&c, "efvi:a", &cfg) != NULL);
    /* a NIC without RX timestamps refuses rxts */
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.rx_timestamps = false;
    efvi_emu_nic *nic;
    REQUIRE(efvi_emu_nic_create(w, "nots", &nc, &nic) == NULL);
    cfg.local_addr = "198.18.0.2/15";
    CHECK(efvitcp_client_init(&c, "efvi:nots,rxts", &cfg) != NULL);
    efvi_emu_nic_put(nic);
    CHECK(efvi_emu_nic_find(w, "nots") == NULL); /* failed opens left no reference behind */
    CHECK(efvi_emu_nic_find(w, "a") == NULL);
    efvitcp_wire_free(w);
}

/* The emulator attaches "efvi:NAME" on a wire (emu_link.c): the port lives as long as the link
   and the link runs on the wire's clock. */
static void test_wire_port_follows_link(void)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvitcp_config cfg;
    base_cfg(&cfg, w, "198.18.0.2/15");
    efvitcp_client *c, *d;
    REQUIRE(efvitcp_client_init(&c, "efvi:a", &cfg) == NULL);
    cfg.local_addr = "198.18.0.3/15";
    REQUIRE(efvitcp_client_init(&d, "efvi:a", &cfg) == NULL); /* a second VI on the same port */
    efvi_emu_nic *nic = efvi_emu_nic_find(w, "a");
    CHECK(nic != NULL);
    int ifindex = 0;
    efvi_emu_nic_addr(nic, NULL, &ifindex);
    CHECK(ifindex != 0);
    CHECK_EQ(link_of(c)->ifindex, 0); /* not a kernel interface */
    efvitcp_wire_set_now(w, 123456789);
    CHECK_EQ(link_of(c)->ops->now(link_of(c)), 123456789);
    efvitcp_client_close(c);
    CHECK(efvi_emu_nic_find(w, "a") == nic); /* d still holds it */
    efvitcp_client_close(d);
    CHECK(efvi_emu_nic_find(w, "a") == NULL);
    efvitcp_wire_free(w);
}

/* A plain interface name opens the efvi link first where it is built (link.c): here the emulated
   port of that name appears on the wire and the link is efvi's; "efvi:" options work after a
   plain name too. */
static void test_plain_name_picks_efvi(void)
{
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvitcp_config cfg;
    base_cfg(&cfg, w, "198.18.0.2/15");
    efvitcp_client *c;
    REQUIRE(efvitcp_client_init(&c, "p1p1", &cfg) == NULL);
    CHECK(efvi_emu_nic_find(w, "p1p1") != NULL);
    CHECK(link_of(c)->ops->tx_flush != NULL); /* a NIC's doorbell: neither mem nor shm */
    efvitcp_client_close(c);
    CHECK(efvi_emu_nic_find(w, "p1p1") == NULL);
    REQUIRE(efvitcp_client_init(&c, "p1p2,rxts", &cfg) == NULL);
    CHECK(link_of(c)->caps & ET_LINK_CAP_HW_TS);
    efvitcp_client_close(c);
    /* a plain name that no link opens reports an error (efvi's refusal falls through to xdp and
       packet, which find no such kernel interface) */
    CHECK(efvitcp_client_init(&c, "p1p1,bogus", &cfg) != NULL);
    efvitcp_wire_free(w);
}

static void test_timestamps_mtu_jumbo(void)
{
    efvi_rig r;
    efvi_rig_init(&r, EF_VI_ARCH_EF10);
    r.wc.mtu = 9000;
    r.nc.mtu = 9014;
    r.cfg.seed = 5;
    REQUIRE(efvi_rig_open(&r, "a", "rxts,noctpio,ct=128", true));
    et_link *l = r.l;
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.rx_timestamps);
    CHECK(!st.ctpio);
    CHECK_EQ(st.prefix_len, 14);
    CHECK(l->caps & ET_LINK_CAP_HW_TS);
    CHECK(l->caps & ET_LINK_CAP_OWN_ADDR);
    CHECK_EQ(l->mtu, 1792 - 14 - 14); /* a frame fits one buffer after the prefix */
    CHECK_EQ(st.filters, 2);

    static uint8_t f[9100];
    efvitcp_wire_set_now(r.w, 777);
    uint32_t len = tcp_frame(f, l->mac, r.peer_mac, 0xc6120009, 1, 0xc6120002, 2, 100);
    et_wire_raw_send(r.w, r.peer, f, len);
    len = tcp_frame(f, l->mac, r.peer_mac, 0xc6120009, 1, 0xc6120002, 2, 5000); /* jumbo */
    et_wire_raw_send(r.w, r.peer, f, len);
    len = tcp_frame(f, l->mac, r.peer_mac, 0xc6120009, 1, 0xc6120002, 2, 10);
    et_wire_raw_send(r.w, r.peer, f, len);
    et_rx_frame fr[8];
    int n = l->ops->rx_burst(l, fr, 8);
    REQUIRE(n == 2);
    CHECK_EQ(fr[0].len, 154);
    CHECK_EQ(fr[0].hw_ts, 777 + 1000000000ull);
    CHECK_EQ(fr[1].len, 64);
    CHECK((((uintptr_t)fr[0].data - 14) & 63) == 0); /* the DMA area is cache-line aligned */
    for (int i = 0; i < n; i++) l->ops->rx_release(l, fr[i].id);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.rx_jumbo, 3); /* 5054 bytes over three buffers */

    /* a send goes out by DMA (noctpio) with the engine's bytes unchanged */
    uint8_t *b = et_link_tx_buf(l, 3);
    len = tcp_frame(b, r.peer_mac, l->mac, 0xc6120002, 2, 0xc6120009, 1, 33);
    CHECK_EQ(l->ops->tx(l, 3, len), 0);
    CHECK_EQ(l->ops->tx(l, 3, len), -1); /* still on the ring */
    uint8_t got[2048];
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), (int)len);
    CHECK(memcmp(got, b, len) == 0);
    uint32_t ids[8];
    CHECK_EQ(l->ops->tx_done(l, ids, 8), 1);
    CHECK_EQ(ids[0], 3);
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.tx_dma, 1);
    CHECK_EQ(st.tx_ctpio, 0);
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

/* Two instances on one EFCT port: each sees the other's packets on the shared queue and keeps
   only its own. */
static void test_efct_software_check(void)
{
    efvi_rig r; /* the first instance, a; b opens on the same port */
    efvi_rig_init(&r, EF_VI_ARCH_EFCT);
    r.cfg.seed = 5;
    REQUIRE(efvi_rig_open(&r, "x3", NULL, true));
    efvitcp_config cb = r.cfg;
    cb.local_addr = "198.18.0.3/15";
    efvitcp_client *b;
    REQUIRE(efvitcp_client_init(&b, "efvi:x3", &cb) == NULL);
    et_link *la = r.l, *lb = link_of(b);
    uint8_t f[256];
    uint32_t len = tcp_frame(f, la->mac, r.peer_mac, 0xc6120009, 80, 0xc6120003, 40000, 20);
    et_wire_raw_send(r.w, r.peer, f, len);
    et_rx_frame fr[4];
    CHECK_EQ(la->ops->rx_burst(la, fr, 4), 0);
    int n = lb->ops->rx_burst(lb, fr, 4);
    REQUIRE(n == 1);
    CHECK_EQ(fr[0].len, len);
    CHECK(memcmp(fr[0].data, f, len) == 0);
    lb->ops->rx_release(lb, fr[0].id);
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(la, &st));
    CHECK(st.efct);
    CHECK_EQ(st.rx_foreign, 1);
    efvitcp_client_close(r.c);
    efvitcp_client_close(b);
    r.c = NULL; /* both closed, in the order they opened */
    efvi_rig_close(&r, EFVI_RIG_CHECKS, NULL);
}

/*
 * What the link claims the NIC verified (et_rx_frame.csum) is what the VI's discard mask withholds
 * from us: with checksum checking, both checksums of every delivered frame and the bad frames are
 * discards; without it, nothing is claimed and the bad frames arrive for the stack to check.
 */
static void check_csum_claims(int arch, bool nic_checks)
{
    efvi_rig r;
    efvi_rig_init(&r, arch);
    r.nc.rx_csum_check = nic_checks;
    r.cfg.seed = 5;
    REQUIRE(efvi_rig_open(&r, "n", NULL, true));
    et_link *l = r.l;
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    uint32_t both = ET_RX_CSUM_IP | ET_RX_CSUM_TCP;
    CHECK_EQ(st.rx_csum, nic_checks ? both : 0);

    uint8_t f[256];
    uint32_t len = tcp_frame(f, l->mac, r.peer_mac, 0xc6120009, 80, 0xc6120002, 40000, 20);
    et_wire_raw_send(r.w, r.peer, f, len);
    f[14 + 20 + 16] ^= 0x5a; /* TCP checksum */
    et_wire_raw_send(r.w, r.peer, f, len);
    f[14 + 20 + 16] ^= 0x5a;
    f[14 + 10] ^= 0x5a; /* IPv4 header checksum */
    et_wire_raw_send(r.w, r.peer, f, len);
    et_rx_frame fr[4];
    int n = l->ops->rx_burst(l, fr, 4);
    CHECK_EQ(n, nic_checks ? 1 : 3);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(fr[i].csum, nic_checks ? both : 0);
        l->ops->rx_release(l, fr[i].id);
    }
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK_EQ(st.rx_discard_csum, nic_checks ? 2 : 0);
    efvi_rig_close(&r, 0, NULL);
}

static void test_csum_claims(void)
{
    check_csum_claims(EF_VI_ARCH_EF10, true);
    check_csum_claims(EF_VI_ARCH_EF10, false);
    check_csum_claims(EF_VI_ARCH_EFCT, true);
    check_csum_claims(EF_VI_ARCH_EFCT, false);
}

/* Polls at t, t + 1 ms, ... n of them, where nothing new comes: the time after the last. */
static uint64_t settle(efvitcp_client *c, efvitcp_wire *w, uint64_t t, int n)
{
    for (int i = 0; i < n; i++) {
        efvitcp_wire_set_now(w, t);
        efvitcp_client_poll(c, NULL, NULL);
        t += 1000000;
    }
    return t;
}

/*
 * An EF10 link with no traffic is idle (et_link_ops.idle), so that a busy-poll loop's polls are
 * quiet ones, also with more receive buffers than the ring holds (at most 4095 posted): those
 * wait in the free list with no room on the ring, which is no refill to do. After frames, it is
 * idle again once their buffers are back.
 */
static void check_idle(uint32_t rx_bufs)
{
    efvi_rig r;
    efvi_rig_init(&r, EF_VI_ARCH_EF10);
    r.cfg.rx_bufs = rx_bufs;
    r.cfg.seed = 5;
    REQUIRE(efvi_rig_open(&r, "n", NULL, true));
    et_link *l = r.l;
    et_efvi_stats st;
    REQUIRE(et_efvi_link_stats(l, &st));
    CHECK(st.rxq_capacity < 4096);
    uint64_t t = settle(r.c, r.w, 1000000000ull, 3);
    CHECK(l->ops->idle(l, t));
    efvitcp_stats s0, s1;
    efvitcp_client_stats(r.c, &s0);
    for (int i = 0; i < 10; i++) efvitcp_client_poll(r.c, NULL, NULL);
    efvitcp_client_stats(r.c, &s1);
    CHECK_EQ(s1.polls_quiet - s0.polls_quiet, 10);

    /* frames (bare ACKs to a closed port, each answered by a RST), then quiet again */
    uint8_t f[64];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 9; i++) {
            uint32_t len = tcp_frame(f, l->mac, r.peer_mac, 0xc6120009u, (uint16_t)(20000 + i),
                                     0xc6120002u, (uint16_t)(9000 + round), 0);
            REQUIRE(et_wire_raw_send(r.w, r.peer, f, len) == 0);
        }
        CHECK(!l->ops->idle(l, t));
        t = settle(r.c, r.w, t, 3);
        CHECK(l->ops->idle(l, t));
    }
    efvitcp_client_stats(r.c, &s1);
    CHECK_EQ(s1.frames_in - s0.frames_in, 36);
    efvi_emu_stats es;
    efvi_rig_close(&r, EFVI_RIG_NO_VIOLATIONS, &es);
    CHECK_EQ(es.rx_nodesc, 0);
}

static void test_idle_few_buffers(void)
{
    check_idle(64);
}

static void test_idle_more_buffers_than_ring(void)
{
    check_idle(8192);
}

int main(void)
{
    RUN(test_open_errors);
    RUN(test_wire_port_follows_link);
    RUN(test_plain_name_picks_efvi);
    RUN(test_timestamps_mtu_jumbo);
    RUN(test_efct_software_check);
    RUN(test_csum_claims);
    RUN(test_idle_few_buffers);
    RUN(test_idle_more_buffers_than_ring);
    return th_summary();
}
