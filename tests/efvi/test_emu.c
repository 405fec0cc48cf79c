/*
 * The ef_vi emulator against the documented ef_vi semantics, driven through the ef_vi API with a
 * raw wire endpoint as the peer: descriptor rings and their limits, RX push in eights, the RX
 * prefix counted in RX_BYTES, timestamps, DMA addresses contiguous only within 4 KiB, batched TX
 * completions in order and unbundling, CTPIO with its mandatory fallback (success, failure,
 * poisoning, busy DMA queue), filters deciding which VI gets a frame, checksum discards, jumbo
 * scatter and RX_NO_DESC_TRUNC, EFCT shared queues (RX_REF, superbuf pinning), reset and
 * overflow, and the counting of API misuse.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <etherfabric/capabilities.h>
#include <etherfabric/efct_vi.h>
#include <etherfabric/memreg.h>
#include <etherfabric/pd.h>
#include <etherfabric/vi.h>

#include "efvi_emu.h"
#include "harness.h"
#include "net/checksum.h"
#include "wire/wire_hooks.h"

#define NBUF 64
#define BUF  2048

typedef struct rig {
    efvitcp_wire *w;
    efvi_emu_nic *nic;
    int peer;
    uint8_t peer_mac[6], nic_mac[6];
    int ifindex;
    ef_driver_handle dh;
    ef_pd pd;
    ef_memreg mr;
    uint8_t *mem;
} rig;

static const char *rig_open(rig *r, const efvi_emu_nic_config *cfg, uint32_t wire_mtu)
{
    memset(r, 0, sizeof(*r));
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.mtu = wire_mtu;
    const char *err = efvitcp_wire_new(&r->w, &wc);
    if (!err) err = efvi_emu_nic_create(r->w, "nic0", cfg, &r->nic);
    if (!err) err = et_wire_raw_attach(r->w, "peer", r->peer_mac, &r->peer);
    if (err) return err;
    efvi_emu_nic_addr(r->nic, r->nic_mac, &r->ifindex);
    if (ef_driver_open(&r->dh)) return "driver";
    if (ef_pd_alloc(&r->pd, r->dh, r->ifindex, EF_PD_DEFAULT)) return "pd";
    r->mem = mmap(NULL, NBUF * BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->mem == MAP_FAILED) return "mmap";
    if (ef_memreg_alloc(&r->mr, r->dh, &r->pd, r->dh, r->mem, NBUF * BUF)) return "memreg";
    return NULL;
}

static void rig_close(rig *r)
{
    ef_memreg_free(&r->mr, r->dh);
    ef_pd_free(&r->pd, r->dh);
    ef_driver_close(r->dh);
    munmap(r->mem, NBUF * BUF);
    et_wire_raw_detach(r->w, r->peer);
    efvi_emu_nic_put(r->nic);
    efvitcp_wire_free(r->w);
}

static uint64_t violations(const rig *r)
{
    efvi_emu_stats st;
    efvi_emu_get_stats(r->nic, &st);
    return st.violations;
}

static efvi_emu_stats stats(const rig *r)
{
    efvi_emu_stats st;
    efvi_emu_get_stats(r->nic, &st);
    return st;
}

/* An IPv4/TCP frame from src to dst with valid checksums and payload of len bytes of value. */
static uint32_t tcp_frame(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                          uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport, uint32_t len,
                          uint8_t value)
{
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src_mac, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
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
    memset(tcp, 0, 20);
    uint16_t sp = htons(sport), dp = htons(dport);
    memcpy(tcp, &sp, 2);
    memcpy(tcp + 2, &dp, 2);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    memset(tcp + 20, value, len);
    c = et_csum_finish(et_csum_add(et_csum_pseudo(s, d, 6, (uint16_t)(20 + len)), tcp, 20 + len));
    memcpy(tcp + 16, &c, 2);
    return 14 + 40 + len;
}

static int poll_all(ef_vi *vi, ef_event *evs, int max)
{
    int n = 0, k;
    while (n < max && (k = ef_eventq_poll(vi, evs + n, max - n > 64 ? 64 : max - n)) > 0) n += k;
    return n;
}

static ef_addr buf_dma(rig *r, int i, uint32_t off)
{
    return ef_memreg_dma_addr(&r->mr, (size_t)i * BUF + off);
}

/* ------------------------------------------------------------------------------------------ */

static void test_memreg_rules(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_memreg bad;
    CHECK_EQ(ef_memreg_alloc(&bad, r.dh, &r.pd, r.dh, r.mem + 64, BUF), -EINVAL); /* not 4 KiB */
    CHECK_EQ(ef_memreg_alloc(&bad, r.dh, &r.pd, r.dh, r.mem, 1000), -EINVAL);     /* not 2 KiB */
    /* contiguous within a page, not across pages */
    ef_addr a0 = ef_memreg_dma_addr(&r.mr, 0), a1 = ef_memreg_dma_addr(&r.mr, 4095);
    ef_addr a2 = ef_memreg_dma_addr(&r.mr, 4096);
    CHECK_EQ(a1 - a0, 4095);
    CHECK(a2 != a0 + 4096);
    /* teardown out of order is refused */
    CHECK_EQ(ef_pd_free(&r.pd, r.dh), -EBUSY);
    CHECK(violations(&r) == 1);
    unsigned long v = 0;
    CHECK_EQ(ef_vi_capabilities_get(r.dh, r.ifindex, EF_VI_CAP_CTPIO, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(ef_vi_capabilities_get(r.dh, r.ifindex + 999, EF_VI_CAP_CTPIO, &v), -ENODEV);
    CHECK_EQ(ef_vi_capabilities_get(r.dh, r.ifindex, EF_VI_CAP_TX_ALTERNATIVES, &v), -EOPNOTSUPP);
    rig_close(&r);
}

static void test_rx_ring_prefix_timestamps(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_vi vi;
    CHECK_EQ(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, EF_VI_TX_ALT),
             -EOPNOTSUPP);
    unsigned long txts = 0; /* TX timestamps are emulated (tests/efvi/test_tx_ts.c) */
    CHECK_EQ(ef_vi_capabilities_get(r.dh, r.ifindex, EF_VI_CAP_HW_TX_TIMESTAMPING, &txts), 0);
    CHECK_EQ(txts, 1);
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, 600, -1, NULL, -1,
                                EF_VI_RX_TIMESTAMPS) >= 0);
    CHECK_EQ(ef_vi_receive_capacity(&vi), 1023); /* 600 rounds up to 1024 */
    CHECK_EQ(ef_vi_receive_prefix_len(&vi), 14);
    CHECK_EQ(ef_vi_receive_buffer_len(&vi), 1792);
    ef_filter_spec fs;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    CHECK_EQ(ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, r.nic_mac), 0);
    CHECK_EQ(ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, 1, 1), -EPROTONOSUPPORT);
    CHECK_EQ(ef_vi_filter_add(&vi, r.dh, &fs, NULL), 0);

    /* seven buffers are not published: the NIC takes them in eights */
    for (int i = 0; i < 7; i++) CHECK_EQ(ef_vi_receive_post(&vi, buf_dma(&r, i, 64), i), 0);
    uint8_t f[2048];
    uint32_t len = tcp_frame(f, r.nic_mac, r.peer_mac, 0x0a000002, 1, 0x0a000001, 2, 100, 0x5a);
    efvitcp_wire_set_now(r.w, 5000);
    et_wire_raw_send(r.w, r.peer, f, len);
    ef_event evs[64];
    CHECK_EQ(poll_all(&vi, evs, 64), 0);
    CHECK_EQ(stats(&r).rx_nodesc, 1);
    CHECK_EQ(ef_vi_receive_post(&vi, buf_dma(&r, 7, 64), 7), 0);
    et_wire_raw_send(r.w, r.peer, f, len);
    REQUIRE(poll_all(&vi, evs, 64) == 1);
    CHECK_EQ(EF_EVENT_TYPE(evs[0]), EF_EVENT_TYPE_RX);
    CHECK(EF_EVENT_RX_SOP(evs[0]));
    CHECK(!EF_EVENT_RX_CONT(evs[0]));
    uint32_t id = EF_EVENT_RX_RQ_ID(evs[0]);
    CHECK_EQ(id, 0); /* buffers are used in posting order */
    CHECK_EQ(EF_EVENT_RX_BYTES(evs[0]), len + 14);
    CHECK(memcmp(r.mem + 64 + 14, f, len) == 0);
    struct timespec ts;
    CHECK_EQ(ef_vi_receive_get_timestamp(&vi, r.mem + 64, &ts), 0);
    CHECK_EQ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, 5000 + 1000000000ull);
    CHECK_EQ(ef_vi_receive_fill_level(&vi), 7);

    /* the ring holds capacity descriptors, no more */
    int posted = 0;
    while (ef_vi_receive_init(&vi, buf_dma(&r, 8 + posted % 56, 64), 8 + posted % 56) == 0)
        posted++;
    CHECK_EQ(posted, 1023 - 7);
    CHECK_EQ(ef_vi_receive_space(&vi), 0);
    CHECK_EQ(violations(&r), 0);
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    rig_close(&r);
}

static void test_tx_order_and_unbundle(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_vi vi;
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1,
                                EF_VI_TX_IP_CSUM_DIS | EF_VI_TX_TCPUDP_CSUM_DIS) >= 0);
    CHECK_EQ(ef_vi_transmit_capacity(&vi), 511);
    /* 100 frames: each names its buffer in its payload */
    for (int i = 0; i < 100; i++) {
        uint8_t *b = r.mem + (size_t)(i % NBUF) * BUF;
        uint32_t len = tcp_frame(b, r.peer_mac, r.nic_mac, 1, 1, 2, 2, 50, (uint8_t)i);
        CHECK_EQ(ef_vi_transmit_init(&vi, buf_dma(&r, i % NBUF, 0), (int)len, i), 0);
        if (i % 10 == 9) ef_vi_transmit_push(&vi);
    }
    uint8_t got[2048];
    for (int i = 0; i < 100; i++) {
        REQUIRE(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)) == 104);
        CHECK_EQ(got[14 + 40], (uint8_t)i);
    }
    ef_event evs[64];
    int n = poll_all(&vi, evs, 64);
    CHECK_EQ(n, 2); /* 64 + 36: batches of at most EF_VI_TRANSMIT_BATCH */
    int next = 0;
    for (int e = 0; e < n; e++) {
        ef_request_id ids[EF_VI_TRANSMIT_BATCH];
        CHECK_EQ(EF_EVENT_TYPE(evs[e]), EF_EVENT_TYPE_TX);
        int k = ef_vi_transmit_unbundle(&vi, &evs[e], ids);
        for (int i = 0; i < k; i++) CHECK_EQ(ids[i], next++);
    }
    CHECK_EQ(next, 100);
    CHECK_EQ(ef_vi_transmit_fill_level(&vi), 0);
    CHECK_EQ(violations(&r), 0);
    /* a second unbundle of the same event is caught, and a push with nothing new */
    ef_request_id ids[EF_VI_TRANSMIT_BATCH];
    CHECK_EQ(ef_vi_transmit_unbundle(&vi, &evs[0], ids), 0);
    CHECK_EQ(violations(&r), 1);
    ef_vi_transmit_push(&vi);
    CHECK_EQ(violations(&r), 2);

    /* a stalled NIC: the ring fills at its capacity and then refuses */
    efvi_emu_faults fl = {.tx_stall = true};
    efvi_emu_set_faults(r.nic, &fl);
    int ok = 0;
    while (ef_vi_transmit(&vi, buf_dma(&r, 0, 0), 104, ok) == 0) ok++;
    CHECK_EQ(ok, 511);
    CHECK(stats(&r).tx_eagain >= 1);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), 0);
    efvi_emu_set_faults(r.nic, NULL);
    n = poll_all(&vi, evs, 64);
    int done = 0;
    for (int e = 0; e < n; e++) done += ef_vi_transmit_unbundle(&vi, &evs[e], ids);
    CHECK_EQ(done, 511);
    int seen = 0;
    while (et_wire_raw_recv(r.w, r.peer, got, sizeof(got)) > 0) seen++;
    CHECK_EQ(seen, 511);

    /* a frame crossing a 4 KiB page: the next DMA page is not the next virtual one */
    CHECK_EQ(ef_vi_transmit(&vi, buf_dma(&r, 1, 2000), 104, 7), 0);
    n = poll_all(&vi, evs, 64);
    REQUIRE(n == 1);
    CHECK_EQ(EF_EVENT_TYPE(evs[0]), EF_EVENT_TYPE_TX_ERROR);
    CHECK_EQ(ef_vi_transmit_unbundle(&vi, &evs[0], ids), 1);
    CHECK_EQ(ids[0], 7);
    CHECK_EQ(stats(&r).tx_errors, 1);
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    rig_close(&r);
}

static void test_ctpio(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_vi vi;
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1,
                                EF_VI_TX_CTPIO | EF_VI_TX_IP_CSUM_DIS | EF_VI_TX_TCPUDP_CSUM_DIS) >=
            0);
    uint8_t *b = r.mem;
    uint32_t len = tcp_frame(b, r.peer_mac, r.nic_mac, 1, 1, 2, 2, 200, 0x11);
    uint8_t got[2048];
    ef_event evs[64];
    ef_request_id ids[EF_VI_TRANSMIT_BATCH];

    /* success: the frame leaves at once, the fallback completes unsent, flagged CTPIO */
    ef_vi_transmit_ctpio(&vi, b, len, 64);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), (int)len);
    CHECK_EQ(ef_vi_transmit_ctpio_fallback(&vi, buf_dma(&r, 0, 0), len, 3), 0);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), 0);
    REQUIRE(poll_all(&vi, evs, 64) == 1);
    CHECK(EF_EVENT_TX_CTPIO(evs[0]));
    CHECK_EQ(ef_vi_transmit_unbundle(&vi, &evs[0], ids), 1);
    CHECK_EQ(ids[0], 3);

    /* failure: the fallback goes by DMA; a poisoned, truncated copy goes first */
    efvi_emu_faults fl = {.ctpio_fail = 1.0, .ctpio_poison = true};
    efvi_emu_set_faults(r.nic, &fl);
    ef_vi_transmit_ctpio(&vi, b, len, 64);
    int cut = et_wire_raw_recv(r.w, r.peer, got, sizeof(got));
    CHECK(cut > 0 && (uint32_t)cut < len);
    CHECK_EQ(ef_vi_transmit_ctpio_fallback(&vi, buf_dma(&r, 0, 0), len, 4), 0);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), (int)len);
    CHECK(memcmp(got, b, len) == 0);
    REQUIRE(poll_all(&vi, evs, 64) == 1);
    CHECK(!EF_EVENT_TX_CTPIO(evs[0]));
    CHECK_EQ(ef_vi_transmit_unbundle(&vi, &evs[0], ids), 1);
    /* store-and-forward never poisons */
    ef_vi_transmit_ctpio(&vi, b, len, EF_VI_CTPIO_CT_THRESHOLD_SNF);
    CHECK_EQ(ef_vi_transmit_ctpio_fallback(&vi, buf_dma(&r, 0, 0), len, 5), 0);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), (int)len);
    CHECK_EQ(et_wire_raw_recv(r.w, r.peer, got, sizeof(got)), 0);
    CHECK_EQ(stats(&r).tx_poisoned, 1);
    efvi_emu_set_faults(r.nic, NULL);
    poll_all(&vi, evs, 64);
    CHECK_EQ(ef_vi_transmit_unbundle(&vi, &evs[0], ids), 1);

    /* a DMA descriptor outstanding on the NIC makes CTPIO fail */
    fl = (efvi_emu_faults){.tx_stall = true};
    efvi_emu_set_faults(r.nic, &fl);
    CHECK_EQ(ef_vi_transmit(&vi, buf_dma(&r, 0, 0), (int)len, 6), 0);
    efvi_emu_set_faults(r.nic, NULL);
    ef_vi_transmit_ctpio(&vi, b, len, 64);
    CHECK_EQ(ef_vi_transmit_ctpio_fallback(&vi, buf_dma(&r, 0, 0), len, 7), 0);
    CHECK_EQ(stats(&r).tx_ctpio_busy, 1);
    CHECK_EQ(violations(&r), 0);

    /* the contract: CTPIO twice, or any send before the fallback, is misuse */
    ef_vi_transmit_ctpio(&vi, b, len, 64);
    ef_vi_transmit_ctpio(&vi, b, len, 64);
    CHECK_EQ(violations(&r), 1);
    CHECK_EQ(ef_vi_transmit(&vi, buf_dma(&r, 0, 0), (int)len, 8), 0);
    CHECK_EQ(violations(&r), 2);
    CHECK_EQ(ef_vi_transmit_ctpio_fallback(&vi, buf_dma(&r, 0, 0), len, 9), 0);
    CHECK_EQ(violations(&r), 3); /* fallback with no CTPIO send pending */
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    rig_close(&r);

    /* a NIC without CTPIO refuses the flag */
    efvi_emu_nic_config c;
    efvi_emu_nic_config_default(&c);
    c.ctpio = false;
    REQUIRE(rig_open(&r, &c, 1500) == NULL);
    CHECK_EQ(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, EF_VI_TX_CTPIO),
             -EOPNOTSUPP);
    unsigned long v = 1;
    CHECK_EQ(ef_vi_capabilities_get(r.dh, r.ifindex, EF_VI_CAP_CTPIO, &v), 0);
    CHECK_EQ(v, 0);
    rig_close(&r);
}

static void test_filters_steer(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_vi a, b;
    REQUIRE(ef_vi_alloc_from_pd(&a, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    REQUIRE(ef_vi_alloc_from_pd(&b, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    for (int i = 0; i < 16; i++) {
        ef_vi_receive_post(&a, buf_dma(&r, i, 64), i);
        ef_vi_receive_post(&b, buf_dma(&r, 16 + i, 64), 16 + i);
    }
    const uint32_t me = 0x0a000001, peer = 0x0a000002;
    ef_filter_spec fs;
    ef_filter_cookie ca, cb, cbc;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    CHECK_EQ(ef_filter_spec_set_ip4_full(&fs, IPPROTO_TCP, htonl(me), htons(40000), htonl(peer),
                                         htons(80)),
             0);
    CHECK_EQ(ef_vi_filter_add(&a, r.dh, &fs, &ca), 0);
    CHECK_EQ(ef_vi_filter_add(&b, r.dh, &fs, NULL), -EEXIST);
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    CHECK_EQ(ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, htonl(me), htons(80)), 0);
    CHECK_EQ(ef_vi_filter_add(&b, r.dh, &fs, &cb), 0);
    /* broadcasts to both subscribers */
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, bcast);
    CHECK_EQ(ef_filter_spec_set_eth_type(&fs, htons(0x0806)), 0);
    CHECK_EQ(ef_vi_filter_add(&a, r.dh, &fs, NULL), 0);
    CHECK_EQ(ef_vi_filter_add(&b, r.dh, &fs, &cbc), 0);
    CHECK_EQ(stats(&r).filters, 3);

    uint8_t f[2048];
    uint32_t len;
    /* the 4-tuple beats the local filter on the same port */
    len = tcp_frame(f, r.nic_mac, r.peer_mac, peer, 80, me, 40000, 10, 1);
    et_wire_raw_send(r.w, r.peer, f, len);
    len = tcp_frame(f, r.nic_mac, r.peer_mac, peer, 5555, me, 80, 10, 2);
    et_wire_raw_send(r.w, r.peer, f, len);
    len = tcp_frame(f, r.nic_mac, r.peer_mac, peer, 5555, me, 81, 10, 3); /* nobody's */
    et_wire_raw_send(r.w, r.peer, f, len);
    memset(f, 0xff, 6);
    f[12] = 0x08, f[13] = 0x06;
    et_wire_raw_send(r.w, r.peer, f, 60);
    ef_event ea[64], eb[64];
    int na = poll_all(&a, ea, 64), nb = poll_all(&b, eb, 64);
    CHECK_EQ(na, 2);
    CHECK_EQ(nb, 2);
    CHECK_EQ(r.mem[(size_t)EF_EVENT_RX_RQ_ID(ea[0]) * BUF + 64 + 54], 1);
    CHECK_EQ(r.mem[(size_t)EF_EVENT_RX_RQ_ID(eb[0]) * BUF + 64 + 54], 2);
    CHECK_EQ(stats(&r).rx_to_kernel, 1);

    /* removed filters no longer steer; a second delete is misuse */
    CHECK_EQ(ef_vi_filter_del(&a, r.dh, &ca), 0);
    CHECK_EQ(ef_vi_filter_del(&a, r.dh, &ca), -ENOENT);
    CHECK_EQ(violations(&r), 1);
    len = tcp_frame(f, r.nic_mac, r.peer_mac, peer, 80, me, 40000, 10, 1);
    et_wire_raw_send(r.w, r.peer, f, len);
    CHECK_EQ(poll_all(&a, ea, 64), 0);
    CHECK_EQ(stats(&r).rx_to_kernel, 2);
    CHECK_EQ(ef_vi_filter_del(&b, r.dh, &cbc), 0);
    CHECK_EQ(stats(&r).filters, 2); /* the broadcast filter stays for a */
    /* freeing a VI takes its filters */
    CHECK_EQ(ef_vi_free(&b, r.dh), 0);
    CHECK_EQ(stats(&r).filters, 1);
    CHECK_EQ(ef_vi_free(&a, r.dh), 0);
    CHECK_EQ(stats(&r).filters, 0);
    (void)cb;
    rig_close(&r);

    /* the table has a limit */
    efvi_emu_nic_config c;
    efvi_emu_nic_config_default(&c);
    c.max_filters = 4;
    REQUIRE(rig_open(&r, &c, 1500) == NULL);
    REQUIRE(ef_vi_alloc_from_pd(&a, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    int rc = 0, added = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
        ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, htonl(me), htons((uint16_t)(1000 + i)));
        if ((rc = ef_vi_filter_add(&a, r.dh, &fs, NULL)) == 0) added++;
    }
    CHECK_EQ(added, 4);
    CHECK_EQ(rc, -ENOSPC);
    CHECK_EQ(ef_vi_free(&a, r.dh), 0);
    rig_close(&r);
}

static void test_discards_and_scatter(void)
{
    efvi_emu_nic_config c;
    efvi_emu_nic_config_default(&c);
    c.mtu = 9014;
    rig r;
    REQUIRE(rig_open(&r, &c, 9000) == NULL);
    ef_vi vi;
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    CHECK_EQ(ef_vi_receive_prefix_len(&vi), 0);
    ef_filter_spec fs;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, r.nic_mac);
    REQUIRE(ef_vi_filter_add(&vi, r.dh, &fs, NULL) == 0);
    for (int i = 0; i < 8; i++) ef_vi_receive_post(&vi, buf_dma(&r, i, 64), i);
    static uint8_t f[9100];
    ef_event evs[64];

    /* a bad TCP checksum: RX_DISCARD, and the buffer is consumed */
    uint32_t len = tcp_frame(f, r.nic_mac, r.peer_mac, 2, 2, 1, 1, 100, 7);
    f[len - 1] ^= 1;
    et_wire_raw_send(r.w, r.peer, f, len);
    REQUIRE(poll_all(&vi, evs, 64) == 1);
    CHECK_EQ(EF_EVENT_TYPE(evs[0]), EF_EVENT_TYPE_RX_DISCARD);
    CHECK_EQ(EF_EVENT_RX_DISCARD_TYPE(evs[0]), EF_EVENT_RX_DISCARD_CSUM_BAD);
    CHECK_EQ(EF_EVENT_RX_DISCARD_RQ_ID(evs[0]), 0);
    CHECK_EQ(ef_vi_receive_fill_level(&vi), 7);

    /* a 4000-byte frame takes three 1792-byte buffers: SOP, CONT, and cumulative counts */
    len = tcp_frame(f, r.nic_mac, r.peer_mac, 2, 2, 1, 1, 4000 - 54, 8);
    et_wire_raw_send(r.w, r.peer, f, len);
    REQUIRE(poll_all(&vi, evs, 64) == 3);
    CHECK(EF_EVENT_RX_SOP(evs[0]) && EF_EVENT_RX_CONT(evs[0]));
    CHECK(!EF_EVENT_RX_SOP(evs[1]) && EF_EVENT_RX_CONT(evs[1]));
    CHECK(!EF_EVENT_RX_SOP(evs[2]) && !EF_EVENT_RX_CONT(evs[2]));
    CHECK_EQ(EF_EVENT_RX_BYTES(evs[0]), 1792);
    CHECK_EQ(EF_EVENT_RX_BYTES(evs[2]), 4000);
    /* four buffers left: an 8000-byte frame runs the ring dry */
    len = tcp_frame(f, r.nic_mac, r.peer_mac, 2, 2, 1, 1, 8000 - 54, 9);
    et_wire_raw_send(r.w, r.peer, f, len);
    REQUIRE(poll_all(&vi, evs, 64) == 5);
    for (int i = 0; i < 4; i++) CHECK(EF_EVENT_RX_CONT(evs[i]));
    CHECK_EQ(EF_EVENT_TYPE(evs[4]), EF_EVENT_TYPE_RX_NO_DESC_TRUNC);
    CHECK_EQ(stats(&r).rx_no_desc_trunc, 1);
    CHECK_EQ(stats(&r).rx_scatter, 1);

    /* a truncated IPv4 frame (a poisoned CTPIO underrun) fails its FCS */
    for (int i = 8; i < 16; i++) ef_vi_receive_post(&vi, buf_dma(&r, i, 64), i);
    len = tcp_frame(f, r.nic_mac, r.peer_mac, 2, 2, 1, 1, 500, 1);
    et_wire_raw_send(r.w, r.peer, f, len / 2);
    REQUIRE(poll_all(&vi, evs, 64) == 1);
    CHECK_EQ(EF_EVENT_RX_DISCARD_TYPE(evs[0]), EF_EVENT_RX_DISCARD_CRC_BAD);
    CHECK_EQ(violations(&r), 0);
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    rig_close(&r);
}

static void test_efct_shared_queue(void)
{
    efvi_emu_nic_config c;
    efvi_emu_nic_config_default(&c);
    c.arch = EF_VI_ARCH_EFCT;
    c.efct_superbufs = 2;
    c.efct_superbuf_pkts = 4;
    rig r;
    REQUIRE(rig_open(&r, &c, 1500) == NULL);
    ef_vi a, b;
    REQUIRE(ef_vi_alloc_from_pd(&a, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    REQUIRE(ef_vi_alloc_from_pd(&b, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    CHECK_EQ(a.nic_type.arch, EF_VI_ARCH_EFCT);
    CHECK(ef_vi_flags(&a) & EF_VI_TX_CTPIO); /* forced on */
    CHECK_EQ(ef_vi_receive_init(&a, 0, 0), -ENOSYS);
    CHECK_EQ(ef_vi_transmit_capacity(&a), 511);
    ef_filter_spec fs;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, htonl(1), htons(80));
    REQUIRE(ef_vi_filter_add(&a, r.dh, &fs, NULL) == 0);
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, htonl(1), htons(81));
    REQUIRE(ef_vi_filter_add(&b, r.dh, &fs, NULL) == 0);

    /* a's packet reaches b too: the queue is shared */
    uint8_t f[2048];
    uint32_t len = tcp_frame(f, r.nic_mac, r.peer_mac, 2, 9, 1, 80, 64, 0x33);
    et_wire_raw_send(r.w, r.peer, f, len);
    ef_event ea[8], eb[8];
    REQUIRE(poll_all(&a, ea, 8) == 1);
    REQUIRE(poll_all(&b, eb, 8) == 1);
    CHECK_EQ(EF_EVENT_TYPE(ea[0]), EF_EVENT_TYPE_RX_REF);
    CHECK_EQ(ea[0].rx_ref.len, len); /* no prefix on EFCT */
    CHECK_EQ(ea[0].rx_ref.pkt_id, eb[0].rx_ref.pkt_id);
    const uint8_t *p = efct_vi_rxpkt_get(&a, ea[0].rx_ref.pkt_id);
    REQUIRE(p != NULL);
    CHECK(memcmp(p, f, len) == 0);
    efct_vi_rxpkt_release(&a, ea[0].rx_ref.pkt_id);
    efct_vi_rxpkt_release(&b, eb[0].rx_ref.pkt_id);
    CHECK_EQ(violations(&r), 0);
    efct_vi_rxpkt_release(&b, eb[0].rx_ref.pkt_id);
    CHECK_EQ(violations(&r), 1);

    /* b holds one packet of the second superbuf: the NIC fills the first again, then cannot
       move on to the second until b lets go (one held packet pins its whole superbuf) */
    uint32_t held = 0;
    int got = 0;
    for (int i = 0; i < 12; i++) {
        et_wire_raw_send(r.w, r.peer, f, len);
        if (poll_all(&b, eb, 8) == 1) {
            got++;
            if (i == 4)
                held = eb[0].rx_ref.pkt_id;
            else
                efct_vi_rxpkt_release(&b, eb[0].rx_ref.pkt_id);
        }
        while (poll_all(&a, ea, 8) == 1) efct_vi_rxpkt_release(&a, ea[0].rx_ref.pkt_id);
    }
    CHECK_EQ(got, 11); /* 3 + 4 + 4, then the second superbuf is pinned */
    CHECK_EQ(stats(&r).rx_nodesc, 1);
    efct_vi_rxpkt_release(&b, held);
    et_wire_raw_send(r.w, r.peer, f, len);
    CHECK_EQ(poll_all(&b, eb, 8), 1);
    efct_vi_rxpkt_release(&b, eb[0].rx_ref.pkt_id);
    while (poll_all(&a, ea, 8) == 1) efct_vi_rxpkt_release(&a, ea[0].rx_ref.pkt_id);

    /* EFCT transmit: CTPIO FIFO bytes, refusals when it is full, space back on completion */
    CHECK_EQ(ef_vi_transmit_space_bytes(&a), 32768);
    uint8_t *buf = r.mem;
    len = tcp_frame(buf, r.peer_mac, r.nic_mac, 1, 80, 2, 9, 1400, 0x44);
    int sent = 0;
    for (;;) {
        ef_vi_transmit_ctpio(&a, buf, len, 64);
        if (ef_vi_transmit_ctpio_fallback(&a, ef_memreg_dma_addr(&r.mr, 0), len, sent) != 0) break;
        sent++;
    }
    CHECK_EQ(sent, 32768 / 1472);
    CHECK(ef_vi_transmit_space_bytes(&a) < (int)len);
    while (poll_all(&b, eb, 8) > 0) /* frames a sent do not come back to the port */
        ;
    ef_event ev[8];
    ef_request_id ids[EF_VI_TRANSMIT_BATCH];
    REQUIRE(poll_all(&a, ev, 8) == 1);
    CHECK_EQ(ef_vi_transmit_unbundle(&a, &ev[0], ids), sent);
    CHECK_EQ(ids[sent - 1], sent - 1);
    CHECK_EQ(ef_vi_transmit_space_bytes(&a), 32768);
    CHECK_EQ(violations(&r), 1);
    /* the link's memory must be registered: EFCT sends read user addresses */
    CHECK_EQ(ef_vi_transmit(&a, (ef_addr)(uintptr_t)f, (int)len, 1), -EINVAL);
    CHECK_EQ(violations(&r), 2);
    CHECK_EQ(ef_vi_free(&a, r.dh), 0);
    CHECK_EQ(ef_vi_free(&b, r.dh), 0);
    rig_close(&r);
}

static void test_reset_and_oflow(void)
{
    rig r;
    REQUIRE(rig_open(&r, NULL, 1500) == NULL);
    ef_vi vi;
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    ef_event evs[8];
    efvi_emu_reset(r.nic);
    REQUIRE(ef_eventq_poll(&vi, evs, 8) == 1);
    CHECK_EQ(EF_EVENT_TYPE(evs[0]), EF_EVENT_TYPE_RESET);
    CHECK_EQ(ef_eventq_poll(&vi, evs, 8), 0); /* dead until recreated */
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    REQUIRE(ef_vi_alloc_from_pd(&vi, r.dh, &r.pd, r.dh, -1, -1, -1, NULL, -1, 0) >= 0);
    efvi_emu_faults fl = {.evq_oflow = 1};
    efvi_emu_set_faults(r.nic, &fl);
    REQUIRE(ef_eventq_poll(&vi, evs, 8) == 1);
    CHECK_EQ(EF_EVENT_TYPE(evs[0]), EF_EVENT_TYPE_OFLOW);
    CHECK_EQ(stats(&r).evq_oflows, 1);
    CHECK_EQ(stats(&r).resets, 1);
    /* fewer than EF_VI_EVENT_POLL_MIN_EVS slots is misuse */
    ef_eventq_poll(&vi, evs, 1);
    CHECK_EQ(violations(&r), 1);
    CHECK_EQ(ef_vi_free(&vi, r.dh), 0);
    rig_close(&r);
}

int main(void)
{
    RUN(test_memreg_rules);
    RUN(test_rx_ring_prefix_timestamps);
    RUN(test_tx_order_and_unbundle);
    RUN(test_ctpio);
    RUN(test_filters_steer);
    RUN(test_discards_and_scatter);
    RUN(test_efct_shared_queue);
    RUN(test_reset_and_oflow);
    return th_summary();
}
