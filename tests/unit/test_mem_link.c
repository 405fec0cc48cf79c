/* The mem link and its simulated wire: routing, timing, drops, buffer accounting and errors. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"
#include "link/link.h"
#include "wire/wire_hooks.h"

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void mac_of(int port, uint8_t mac[6])
{
    static const uint8_t base[6] = {0x02, 0, 0, 0, 0, 0};
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)(port + 1);
}

/* An Ethernet frame whose payload bytes are tag, tag+1, ... so that copies can be told apart. */
static void fill_frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint8_t tag,
                       uint32_t len)
{
    uint8_t hdr[14];
    memcpy(hdr, dst, 6);
    memcpy(hdr + 6, src, 6);
    hdr[12] = 0x08;
    hdr[13] = 0x00;
    memcpy(f, hdr, len < 14 ? len : 14);
    for (uint32_t i = 14; i < len; i++) f[i] = (uint8_t)(tag + i);
}

static bool frame_is(const uint8_t *f, uint32_t len, const uint8_t dst[6], uint8_t tag)
{
    if (len < 14 || memcmp(f, dst, 6) != 0) return false;
    for (uint32_t i = 14; i < len; i++)
        if (f[i] != (uint8_t)(tag + i)) return false;
    return true;
}

static efvitcp_wire *new_wire(uint64_t latency, uint64_t bw, uint32_t queue, uint32_t max_frames,
                              uint32_t max_ports)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.latency_ns = latency;
    wc.bandwidth_bps = bw;
    if (queue) wc.queue_bytes = queue;
    if (max_frames) wc.max_frames = max_frames;
    if (max_ports) wc.max_ports = max_ports;
    efvitcp_wire *w = NULL;
    const char *err = efvitcp_wire_new(&w, &wc);
    if (err) fprintf(stderr, "wire: %s\n", err);
    return w;
}

static et_link *open_link(efvitcp_wire *w, const char *iface, const char *addr, uint32_t n_tx,
                          uint32_t n_rx)
{
    et_link_params p = {
        .n_tx = n_tx, .tx_buf_size = 2048, .n_rx = n_rx, .local_addr = addr, .wire = w};
    et_link *l = NULL;
    const char *err = et_link_open(iface, &p, &l);
    if (err) fprintf(stderr, "link %s: %s\n", iface, err);
    return l;
}

/* Builds a frame in tx buffer id of l and transmits it; returns tx()'s result. */
static int link_send(et_link *l, uint32_t id, const uint8_t dst[6], uint8_t tag, uint32_t len)
{
    fill_frame(et_link_tx_buf(l, id), dst, l->mac, tag, len);
    return l->ops->tx(l, id, len);
}

static void release_all(et_link *l, const et_rx_frame *f, int n)
{
    for (int i = 0; i < n; i++) l->ops->rx_release(l, f[i].id);
}

static uint64_t total_dropped(const efvitcp_wire *w)
{
    uint64_t d = 0, x = 0;
    efvitcp_wire_counts(w, &d, &x);
    return x;
}

static uint64_t total_delivered(const efvitcp_wire *w)
{
    uint64_t d = 0, x = 0;
    efvitcp_wire_counts(w, &d, &x);
    return d;
}

static void test_two_links_exchange(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    et_link_params p = {.n_tx = 4,
                        .tx_buf_size = 2048,
                        .n_rx = 16,
                        .local_addr = "10.1.2.3/24",
                        .gateway = "10.1.2.254",
                        .wire = w};
    et_link *a = NULL;
    CHECK_NULL_ERR(et_link_open("mem:a", &p, &a));
    et_link *b = open_link(w, "mem:b", "10.1.2.4/24", 4, 16);
    REQUIRE(a && b);

    uint8_t mac[6];
    mac_of(0, mac);
    CHECK(memcmp(a->mac, mac, 6) == 0);
    mac_of(1, mac);
    CHECK(memcmp(b->mac, mac, 6) == 0);
    CHECK_EQ(a->mtu, 1500);
    CHECK_EQ(a->caps, ET_LINK_CAP_OWN_ADDR);
    CHECK_EQ(a->local_ip, 0x0a010203u);
    CHECK_EQ(a->prefix_len, 24);
    CHECK_EQ(a->gateway, 0x0a0102feu);
    CHECK_EQ(b->gateway, 0);
    CHECK_EQ(a->n_tx, 4);
    CHECK_EQ(a->tx_buf_size, 2048);
    CHECK(((uintptr_t)a->tx_base & 4095u) == 0);
    CHECK(a->ops->flow_add == NULL && a->ops->flow_del == NULL);
    CHECK(a->ops->tx_flush == NULL); /* tx() puts the frame on the wire: no doorbell */
    CHECK_EQ(a->ops->now(a), 0);

    CHECK_EQ(link_send(a, 1, b->mac, 7, 100), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 0);
    et_rx_frame f[8];
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0);
    int n = b->ops->rx_burst(b, f, 8);
    REQUIRE(n == 1);
    CHECK_EQ(f[0].len, 100);
    CHECK(frame_is(f[0].data, f[0].len, b->mac, 7));
    CHECK(memcmp(f[0].data + 6, a->mac, 6) == 0);
    CHECK_EQ(f[0].hw_ts, 0);
    /* Zero copy from the wire: the pointer is into a wire slot, not the sender's buffer. */
    CHECK(f[0].data != et_link_tx_buf(a, 1));
    /* Overwriting the sender's buffer after completion must not change what was received. */
    memset(et_link_tx_buf(a, 1), 0, 100);
    CHECK(frame_is(f[0].data, f[0].len, b->mac, 7));
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);

    /* And back. */
    CHECK_EQ(link_send(b, 0, a->mac, 9, 60), 0);
    n = a->ops->rx_burst(a, f, 8);
    REQUIRE(n == 1);
    CHECK(frame_is(f[0].data, f[0].len, a->mac, 9));
    a->ops->rx_release(a, f[0].id);
    CHECK_EQ(total_delivered(w), 2);
    CHECK_EQ(total_dropped(w), 0);

    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_clock(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    CHECK_EQ(efvitcp_wire_now(w), 0);
    efvitcp_wire_set_now(w, 100);
    CHECK_EQ(efvitcp_wire_now(w), 100);
    efvitcp_wire_set_now(w, 50); /* never backwards */
    CHECK_EQ(efvitcp_wire_now(w), 100);
    efvitcp_wire_set_now(w, UINT64_MAX);
    CHECK(efvitcp_wire_now(w) == UINT64_MAX);
    efvitcp_wire_free(w);

    /* A real clock follows CLOCK_MONOTONIC and ignores set_now; latency 0 delivers at once. */
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    CHECK(wc.virtual_clock);
    CHECK_EQ(wc.queue_bytes, 1000000);
    CHECK_EQ(wc.mtu, 1500);
    CHECK_EQ(wc.max_frames, 65536);
    CHECK_EQ(wc.max_ports, 8);
    wc.virtual_clock = false;
    wc.max_frames = 16;
    REQUIRE(efvitcp_wire_new(&w, &wc) == NULL);
    uint64_t t1 = efvitcp_wire_now(w);
    efvitcp_wire_set_now(w, 5);
    uint64_t t2 = efvitcp_wire_now(w);
    CHECK(t1 > 0);
    CHECK(t2 >= t1);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/8", 2, 2);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/8", 2, 2);
    REQUIRE(a && b);
    CHECK(a->ops->now(a) >= t2);
    CHECK_EQ(link_send(a, 0, b->mac, 1, 64), 0);
    et_rx_frame f[2];
    int n = b->ops->rx_burst(b, f, 2);
    CHECK_EQ(n, 1);
    release_all(b, f, n);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_latency_exact(void)
{
    efvitcp_wire *w = new_wire(5000, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 4, 16);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 4, 16);
    REQUIRE(a && b);
    efvitcp_wire_set_now(w, 1000);
    CHECK_EQ(link_send(a, 0, b->mac, 1, 64), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 6000);
    efvitcp_wire_set_now(w, 2000);
    CHECK_EQ(link_send(b, 0, a->mac, 2, 64), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 6000); /* min over endpoints */

    et_rx_frame f[4];
    efvitcp_wire_set_now(w, 5999);
    CHECK_EQ(b->ops->rx_burst(b, f, 4), 0);
    efvitcp_wire_set_now(w, 6000);
    int n = b->ops->rx_burst(b, f, 4);
    CHECK_EQ(n, 1);
    release_all(b, f, n);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 7000);
    efvitcp_wire_set_now(w, 6999);
    CHECK_EQ(a->ops->rx_burst(a, f, 4), 0);
    efvitcp_wire_set_now(w, 7000);
    n = a->ops->rx_burst(a, f, 4);
    CHECK_EQ(n, 1);
    release_all(a, f, n);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_bandwidth_exact(void)
{
    /* 1 Gbit/s: 8 ns per byte. */
    efvitcp_wire *w = new_wire(100, 1000000000ull, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 16);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 16);
    REQUIRE(a && b);
    for (uint8_t i = 0; i < 3; i++) CHECK_EQ(link_send(a, i, b->mac, i, 1000), 0);
    /* b's line is separate from a's: its frame is not queued behind a's. */
    CHECK_EQ(link_send(b, 0, a->mac, 50, 500), 0);

    et_rx_frame f[8];
    /* b's 500 bytes: 4000 ns on the line plus latency. */
    CHECK_EQ(efvitcp_wire_next_delivery(w), 4100);
    efvitcp_wire_set_now(w, 4099);
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0);
    efvitcp_wire_set_now(w, 4100);
    int n = a->ops->rx_burst(a, f, 8);
    REQUIRE(n == 1);
    CHECK(frame_is(f[0].data, f[0].len, a->mac, 50));
    release_all(a, f, n);
    static const uint64_t due[3] = {8100, 16100, 24100};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(efvitcp_wire_next_delivery(w), due[i]);
        efvitcp_wire_set_now(w, due[i] - 1);
        CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
        efvitcp_wire_set_now(w, due[i]);
        n = b->ops->rx_burst(b, f, 8);
        REQUIRE(n == 1);
        CHECK(frame_is(f[0].data, f[0].len, b->mac, (uint8_t)i));
        release_all(b, f, n);
    }

    /* An idle line starts at once. */
    efvitcp_wire_set_now(w, 100000);
    CHECK_EQ(link_send(a, 3, b->mac, 4, 1000), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 108100);
    /* The line is busy until 108000: the next frame departs then. */
    efvitcp_wire_set_now(w, 104000);
    CHECK_EQ(link_send(a, 4, b->mac, 5, 100), 0);
    efvitcp_wire_set_now(w, 108100);
    CHECK_EQ(b->ops->rx_burst(b, f, 1), 1);
    release_all(b, f, 1);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 108000 + 800 + 100);
    efvitcp_wire_set_now(w, 108900);
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 1);
    release_all(b, f, 1);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);

    /* Fractional serialisation rounds down: 100 bytes at 3 Gbit/s = 266.67 ns. */
    w = new_wire(0, 3000000000ull, 0, 0, 0);
    REQUIRE(w);
    uint8_t mac0[6], mac1[6], buf[2048];
    int p0, p1;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "r0", mac0, &p0));
    CHECK_NULL_ERR(et_wire_raw_attach(w, "r1", mac1, &p1));
    fill_frame(buf, mac1, mac0, 0, 100);
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 100), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 266);
    efvitcp_wire_free(w);
}

/* Frames due at the same instant come out in send order, also across senders. */
static void test_equal_time_order(void)
{
    efvitcp_wire *w = new_wire(1000, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 64, 64);
    et_link *c = open_link(w, "mem:c", "10.0.0.3/24", 64, 64);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 64, 64);
    REQUIRE(a && b && c);
    for (uint8_t i = 0; i < 40; i++) {
        et_link *s = (i % 3 == 1) ? c : a;
        CHECK_EQ(link_send(s, i, b->mac, i, 60 + i), 0);
    }
    efvitcp_wire_set_now(w, 1000);
    et_rx_frame f[64];
    int n = b->ops->rx_burst(b, f, 64);
    REQUIRE(n == 40);
    for (int i = 0; i < 40; i++) {
        CHECK_EQ(f[i].len, 60 + i);
        CHECK(frame_is(f[i].data, f[i].len, b->mac, (uint8_t)i));
        et_link *s = (i % 3 == 1) ? c : a;
        CHECK(memcmp(f[i].data + 6, s->mac, 6) == 0);
    }
    release_all(b, f, n);
    a->ops->destroy(a);
    b->ops->destroy(b);
    c->ops->destroy(c);
    efvitcp_wire_free(w);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Three bandwidth-limited senders with random sizes and random pauses: the receiver must see the
 * frames in the order of a reference model (delivery time, then send order).
 */
static void test_heap_order_against_model(void)
{
    enum { N = 2000, SENDERS = 3 };
    const uint64_t bw = 800000000ull; /* 10 ns per byte */
    const uint64_t lat = 3000;
    efvitcp_wire *w = new_wire(lat, bw, 50000, 4096, 4);
    REQUIRE(w);
    uint8_t macs[SENDERS + 1][6];
    int ports[SENDERS + 1];
    static const char *names[SENDERS + 1] = {"rx", "s0", "s1", "s2"};
    for (int i = 0; i <= SENDERS; i++)
        CHECK_NULL_ERR(et_wire_raw_attach(w, names[i], macs[i], &ports[i]));
    static uint64_t at[N];
    static uint16_t order[N];
    uint64_t line_free[SENDERS] = {0, 0, 0};
    uint64_t seed = 0x9e3779b97f4a7c15ull, now = 0;
    uint8_t buf[2048];
    for (int i = 0; i < N; i++) {
        if (rng_next(&seed) % 4 == 0) {
            now += rng_next(&seed) % 20000;
            efvitcp_wire_set_now(w, now);
        }
        int s = (int)(rng_next(&seed) % SENDERS);
        uint32_t len = 60 + (uint32_t)(rng_next(&seed) % 400);
        fill_frame(buf, macs[0], macs[s + 1], 0, len);
        buf[14] = (uint8_t)(i & 0xff);
        buf[15] = (uint8_t)(i >> 8);
        CHECK_EQ(et_wire_raw_send(w, ports[s + 1], buf, len), 0);
        uint64_t dep = line_free[s] > now ? line_free[s] : now;
        line_free[s] = dep + len * 10;
        at[i] = line_free[s] + lat;
        order[i] = (uint16_t)i;
    }
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    REQUIRE(st.drop_queue == 0 && st.drop_no_slot == 0);
    /* Stable insertion sort by delivery time: ties keep send order. */
    for (int i = 1; i < N; i++) {
        uint16_t k = order[i];
        int j = i - 1;
        while (j >= 0 && at[order[j]] > at[k]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = k;
    }
    /* Drain step by step in time so that partial pops interleave with the heap. */
    int got = 0;
    while (got < N) {
        uint64_t next = efvitcp_wire_next_delivery(w);
        REQUIRE(next != UINT64_MAX);
        CHECK_EQ(next, at[order[got]]);
        efvitcp_wire_set_now(w, next);
        int len;
        while ((len = et_wire_raw_recv(w, ports[0], buf, sizeof(buf))) > 0) {
            REQUIRE(got < N);
            int id = buf[14] | buf[15] << 8;
            CHECK_EQ(id, order[got]);
            got++;
        }
        CHECK_EQ(len, 0);
    }
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    efvitcp_wire_free(w);
}

static void test_broadcast(void)
{
    efvitcp_wire *w = new_wire(10, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 4, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 4, 8);
    et_link *c = open_link(w, "mem:c", "10.0.0.3/24", 4, 8);
    REQUIRE(a && b && c);
    uint8_t rmac[6], buf[2048];
    int rp;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "raw", rmac, &rp));
    CHECK_EQ(link_send(a, 0, BCAST, 3, 42), 0);
    efvitcp_wire_set_now(w, 10);
    et_rx_frame f[8];
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0);
    int n = b->ops->rx_burst(b, f, 8);
    CHECK_EQ(n, 1);
    if (n == 1) CHECK(frame_is(f[0].data, f[0].len, BCAST, 3));
    release_all(b, f, n);
    n = c->ops->rx_burst(c, f, 8);
    CHECK_EQ(n, 1);
    if (n == 1) CHECK(frame_is(f[0].data, f[0].len, BCAST, 3));
    /* Each receiver has its own copy. */
    if (n == 1) f[0].data[20] ^= 0xff;
    release_all(c, f, n);
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), 42);
    CHECK(frame_is(buf, 42, BCAST, 3));
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), 0);
    CHECK_EQ(total_delivered(w), 3);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.sent, 1);

    /* A raw endpoint's broadcast reaches the links. */
    fill_frame(buf, BCAST, rmac, 8, 60);
    CHECK_EQ(et_wire_raw_send(w, rp, buf, 60), 0);
    efvitcp_wire_set_now(w, 20);
    et_link *ls[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        n = ls[i]->ops->rx_burst(ls[i], f, 8);
        CHECK_EQ(n, 1);
        release_all(ls[i], f, n);
    }
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), 0);
    a->ops->destroy(a);
    b->ops->destroy(b);
    c->ops->destroy(c);
    efvitcp_wire_free(w);
}

static void test_unknown_mac(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 8);
    REQUIRE(a && b);
    uint8_t m[6];
    mac_of(2, m); /* a free port */
    CHECK_EQ(link_send(a, 0, m, 0, 60), 0);
    mac_of(8, m); /* beyond max_ports */
    CHECK_EQ(link_send(a, 1, m, 0, 60), 0);
    static const uint8_t other[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x02};
    CHECK_EQ(link_send(a, 2, other, 0, 60), 0);
    static const uint8_t zero_last[6] = {0x02, 0, 0, 0, 0, 0};
    CHECK_EQ(link_send(a, 3, zero_last, 0, 60), 0);
    CHECK_EQ(link_send(a, 4, a->mac, 0, 60), 0); /* not looped back to the sender */
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_unknown, 5);
    CHECK_EQ(total_dropped(w), 5);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    et_rx_frame f[8];
    CHECK_EQ(a->ops->rx_burst(a, f, 8), 0);
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 0);
    /* Dropped frames still complete. */
    uint32_t ids[8];
    CHECK_EQ(a->ops->tx_done(a, ids, 8), 5);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_mtu_drop(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 8);
    REQUIRE(a && b);
    CHECK_EQ(link_send(a, 0, b->mac, 1, 1514), 0);
    CHECK_EQ(link_send(a, 1, b->mac, 2, 1515), 0);
    CHECK_EQ(link_send(a, 2, b->mac, 3, 13), 0); /* shorter than an Ethernet header */
    CHECK_EQ(link_send(a, 3, b->mac, 4, 14), 0);
    et_rx_frame f[8];
    int n = b->ops->rx_burst(b, f, 8);
    REQUIRE(n == 2);
    CHECK_EQ(f[0].len, 1514);
    CHECK(frame_is(f[0].data, f[0].len, b->mac, 1));
    CHECK_EQ(f[1].len, 14);
    release_all(b, f, n);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_mtu, 2);
    /* Longer than the tx buffer: the link refuses it outright. */
    CHECK_EQ(a->ops->tx(a, 4, 2049), -1);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);

    /* The smallest and the jumbo MTU. */
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.mtu = 576;
    wc.max_frames = 8;
    REQUIRE(efvitcp_wire_new(&w, &wc) == NULL);
    uint8_t m0[6], m1[6];
    static uint8_t buf[10000], rbuf[10000];
    int p0, p1;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "x", m0, &p0));
    CHECK_NULL_ERR(et_wire_raw_attach(w, "y", m1, &p1));
    fill_frame(buf, m1, m0, 0, 591);
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 590), 0);
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 591), 0);
    CHECK_EQ(et_wire_raw_recv(w, p1, rbuf, sizeof(rbuf)), 590);
    CHECK_EQ(et_wire_raw_recv(w, p1, rbuf, sizeof(rbuf)), 0);
    efvitcp_wire_free(w);

    wc.mtu = 9000;
    REQUIRE(efvitcp_wire_new(&w, &wc) == NULL);
    CHECK_NULL_ERR(et_wire_raw_attach(w, "x", m0, &p0));
    CHECK_NULL_ERR(et_wire_raw_attach(w, "y", m1, &p1));
    fill_frame(buf, m1, m0, 5, 9014);
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 9014), 0);
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 9015), 0);  /* fits a slot, over the MTU */
    CHECK_EQ(et_wire_raw_send(w, p0, buf, 9999), -1); /* beyond a slot */
    CHECK_EQ(et_wire_raw_recv(w, p1, rbuf, sizeof(rbuf)), 9014);
    CHECK(frame_is(rbuf, 9014, m1, 5));
    CHECK_EQ(et_wire_raw_recv(w, p1, rbuf, sizeof(rbuf)), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_mtu, 1);
    efvitcp_wire_free(w);
}

static void test_queue_overflow(void)
{
    /* 8 ns per byte, 3000-byte queue: three 1000-byte frames fit exactly, a fourth does not. */
    efvitcp_wire *w = new_wire(0, 1000000000ull, 3000, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 16, 16);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 16, 16);
    REQUIRE(a && b);
    for (uint8_t i = 0; i < 4; i++) CHECK_EQ(link_send(a, i, b->mac, i, 1000), 0);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_queue, 1);
    /* One frame's worth has drained by 8000: one more fits, the next does not. */
    efvitcp_wire_set_now(w, 8000);
    CHECK_EQ(link_send(a, 4, b->mac, 4, 1000), 0);
    CHECK_EQ(link_send(a, 5, b->mac, 5, 1000), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_queue, 2);
    /* The drop did not occupy the line. */
    efvitcp_wire_set_now(w, 32000);
    et_rx_frame f[16];
    int n = b->ops->rx_burst(b, f, 16);
    REQUIRE(n == 4);
    static const uint8_t tags[4] = {0, 1, 2, 4};
    for (int i = 0; i < 4; i++) CHECK(frame_is(f[i].data, f[i].len, b->mac, tags[i]));
    release_all(b, f, n);
    CHECK_EQ(total_dropped(w), 2);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_no_free_slot(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 4, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 8);
    et_link *c = open_link(w, "mem:c", "10.0.0.3/24", 8, 8);
    REQUIRE(a && b && c);
    for (uint8_t i = 0; i < 5; i++) CHECK_EQ(link_send(a, i, b->mac, i, 64), 0);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_no_slot, 1);
    et_rx_frame f[8];
    int n = b->ops->rx_burst(b, f, 8);
    REQUIRE(n == 4);
    for (int i = 0; i < 4; i++) CHECK(frame_is(f[i].data, f[i].len, b->mac, (uint8_t)i));
    /* Held frames keep their slots: the wire stays full until they are released. */
    CHECK_EQ(link_send(a, 5, b->mac, 5, 64), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_no_slot, 2);
    /* Release two; a broadcast to b and c then takes both slots. */
    b->ops->rx_release(b, f[0].id);
    b->ops->rx_release(b, f[1].id);
    CHECK_EQ(link_send(a, 6, BCAST, 6, 64), 0);
    CHECK_EQ(link_send(a, 7, BCAST, 7, 64), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_no_slot, 4);
    b->ops->rx_release(b, f[2].id);
    b->ops->rx_release(b, f[3].id);
    n = b->ops->rx_burst(b, f, 8);
    REQUIRE(n == 1);
    CHECK(frame_is(f[0].data, f[0].len, BCAST, 6));
    release_all(b, f, n);
    n = c->ops->rx_burst(c, f, 8);
    REQUIRE(n == 1);
    CHECK(frame_is(f[0].data, f[0].len, BCAST, 6));
    release_all(c, f, n);
    a->ops->destroy(a);
    b->ops->destroy(b);
    c->ops->destroy(c);
    efvitcp_wire_free(w);
}

static void test_n_rx_limit(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 64, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 32, 32);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 32, 4);
    REQUIRE(a && b);
    uint32_t ids[32];
    for (uint8_t i = 0; i < 6; i++) CHECK_EQ(link_send(a, i, b->mac, i, 64), 0);
    et_rx_frame f[32], g[32];
    int n = b->ops->rx_burst(b, f, 32);
    REQUIRE(n == 4);
    for (int i = 0; i < 4; i++) CHECK(frame_is(f[i].data, f[i].len, b->mac, (uint8_t)i));
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_rx_full, 2);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    a->ops->tx_done(a, ids, 32);

    /* While all n_rx buffers are held, a frame that falls due is lost at the next burst. */
    CHECK_EQ(link_send(a, 6, b->mac, 6, 64), 0);
    CHECK_EQ(b->ops->rx_burst(b, g, 32), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_rx_full, 3);

    /* Stale, foreign and out-of-range ids are ignored; a double release does not free twice. */
    b->ops->rx_release(b, f[0].id);
    b->ops->rx_release(b, f[0].id);
    b->ops->rx_release(b, 1u << 30);
    a->ops->rx_release(a, f[1].id);
    /* Exactly one buffer is free again. */
    for (uint8_t i = 0; i < 3; i++) CHECK_EQ(link_send(a, i, b->mac, 10 + i, 64), 0);
    n = b->ops->rx_burst(b, g, 32);
    REQUIRE(n == 1);
    CHECK(frame_is(g[0].data, g[0].len, b->mac, 10));
    CHECK(frame_is(f[1].data, f[1].len, b->mac, 1)); /* still held, untouched */
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_rx_full, 5);
    release_all(b, f + 1, 3);
    release_all(b, g, 1);
    a->ops->tx_done(a, ids, 32);

    /* A burst limit below n_rx leaves the rest queued, not dropped. */
    for (uint8_t i = 0; i < 3; i++) CHECK_EQ(link_send(a, i, b->mac, 20 + i, 64), 0);
    for (int i = 0; i < 3; i++) {
        n = b->ops->rx_burst(b, g, 1);
        REQUIRE(n == 1);
        CHECK(frame_is(g[0].data, g[0].len, b->mac, (uint8_t)(20 + i)));
    }
    CHECK_EQ(b->ops->rx_burst(b, g, 0), 0);
    CHECK_EQ(b->ops->rx_burst(b, g, -1), 0);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_rx_full, 5);
    a->ops->destroy(a);
    b->ops->destroy(b); /* with three frames still held */
    efvitcp_wire_free(w);
}

static void test_n_rx_future_frames_kept(void)
{
    efvitcp_wire *w = new_wire(1000, 0, 0, 64, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 2);
    REQUIRE(a && b);
    CHECK_EQ(link_send(a, 0, b->mac, 0, 64), 0);
    CHECK_EQ(link_send(a, 1, b->mac, 1, 64), 0);
    efvitcp_wire_set_now(w, 1000);
    CHECK_EQ(link_send(a, 2, b->mac, 2, 64), 0); /* due at 2000 */
    et_rx_frame f[8], g[8];
    CHECK_EQ(b->ops->rx_burst(b, f, 8), 2);
    CHECK_EQ(b->ops->rx_burst(b, g, 8), 0); /* full, but the third is not due yet */
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_rx_full, 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 2000);
    release_all(b, f, 2);
    efvitcp_wire_set_now(w, 2000);
    int n = b->ops->rx_burst(b, g, 8);
    REQUIRE(n == 1);
    CHECK(frame_is(g[0].data, g[0].len, b->mac, 2));
    release_all(b, g, n);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_tx_done_order(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 64);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 64);
    REQUIRE(a && b);
    uint32_t ids[16];
    CHECK_EQ(a->ops->tx_done(a, ids, 16), 0);
    CHECK_EQ(link_send(a, 5, b->mac, 0, 64), 0);
    CHECK_EQ(link_send(a, 2, b->mac, 0, 64), 0);
    CHECK_EQ(link_send(a, 7, b->mac, 0, 64), 0);
    CHECK_EQ(a->ops->tx_done(a, ids, 2), 2);
    CHECK_EQ(ids[0], 5);
    CHECK_EQ(ids[1], 2);
    CHECK_EQ(a->ops->tx_done(a, ids, 16), 1);
    CHECK_EQ(ids[0], 7);
    CHECK_EQ(a->ops->tx_done(a, ids, 16), 0);
    CHECK_EQ(a->ops->tx_done(a, ids, 0), 0);
    CHECK_EQ(a->ops->tx_done(a, NULL, 4), 0);
    /* Bad ids and lengths are refused and not completed. */
    CHECK_EQ(a->ops->tx(a, 8, 64), -1);
    CHECK_EQ(a->ops->tx(a, UINT32_MAX, 64), -1);
    CHECK_EQ(a->ops->tx(a, 0, 2049), -1);
    CHECK_EQ(a->ops->tx_done(a, ids, 16), 0);
    et_rx_frame f[16];
    int n = b->ops->rx_burst(b, f, 16);
    CHECK_EQ(n, 3);
    release_all(b, f, n);

    /* Many rounds so that the completion ring wraps; each round in a rotated order. */
    for (uint32_t round = 0; round < 10; round++) {
        uint32_t k = 3 + round % 5;
        for (uint32_t i = 0; i < k; i++)
            CHECK_EQ(link_send(a, (i + round) % 8, b->mac, (uint8_t)i, 64), 0);
        uint32_t got = 0;
        while ((n = a->ops->tx_done(a, ids + got, 2)) > 0) got += (uint32_t)n;
        CHECK_EQ(got, k);
        for (uint32_t i = 0; i < k && i < got; i++) CHECK_EQ(ids[i], (i + round) % 8);
        n = b->ops->rx_burst(b, f, 16);
        CHECK_EQ(n, (int)k);
        release_all(b, f, n);
    }

    /* More uncompleted transmissions than buffers cannot happen: the ninth is refused. */
    for (int i = 0; i < 8; i++) CHECK_EQ(link_send(a, 3, b->mac, 0, 64), 0);
    CHECK_EQ(link_send(a, 3, b->mac, 0, 64), -1);
    CHECK_EQ(a->ops->tx_done(a, ids, 16), 8);
    for (int i = 0; i < 8; i++) CHECK_EQ(ids[i], 3);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_raw_endpoint(void)
{
    efvitcp_wire *w = new_wire(50, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:stack", "192.168.1.1/24", 8, 8);
    REQUIRE(a);
    uint8_t rmac[6], buf[2048];
    int rp = -1;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "peer", rmac, &rp));
    CHECK_EQ(rp, 1);
    uint8_t expect[6];
    mac_of(1, expect);
    CHECK(memcmp(rmac, expect, 6) == 0);
    CHECK(et_wire_raw_attach(w, "stack", rmac, &rp) != NULL); /* name taken by the link */
    CHECK_EQ(rp, 1);

    CHECK_EQ(link_send(a, 0, rmac, 4, 300), 0);
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), 0); /* not due */
    efvitcp_wire_set_now(w, 50);
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, 299), -1); /* too small: stays queued */
    CHECK_EQ(et_wire_raw_recv(w, rp, NULL, 0), -1);
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, 300), 300);
    CHECK(frame_is(buf, 300, rmac, 4));
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), 0);

    fill_frame(buf, a->mac, rmac, 9, 80);
    CHECK_EQ(et_wire_raw_send(w, rp, buf, 80), 0);
    memset(buf, 0, sizeof(buf)); /* the wire holds its own copy */
    efvitcp_wire_set_now(w, 100);
    et_rx_frame f[4];
    int n = a->ops->rx_burst(a, f, 4);
    REQUIRE(n == 1);
    CHECK(frame_is(f[0].data, f[0].len, a->mac, 9));
    release_all(a, f, n);

    /* Bad ports: out of range, negative, a link's port, a detached port. */
    CHECK_EQ(et_wire_raw_send(w, 0, buf, 60), -1);
    CHECK_EQ(et_wire_raw_send(w, -1, buf, 60), -1);
    CHECK_EQ(et_wire_raw_send(w, 8, buf, 60), -1);
    CHECK_EQ(et_wire_raw_send(w, rp, NULL, 60), -1);
    CHECK_EQ(et_wire_raw_send(NULL, rp, buf, 60), -1);
    CHECK_EQ(et_wire_raw_recv(w, 0, buf, sizeof(buf)), -1);
    CHECK_EQ(et_wire_raw_recv(w, 100, buf, sizeof(buf)), -1);
    CHECK_EQ(et_wire_raw_recv(NULL, rp, buf, sizeof(buf)), -1);
    et_wire_raw_detach(w, 0); /* a link's port: ignored */
    CHECK_EQ(a->ops->rx_burst(a, f, 4), 0);

    /* A frame in flight to a detached endpoint is freed with it; the port is reused. */
    CHECK_EQ(link_send(a, 1, rmac, 1, 64), 0);
    et_wire_raw_detach(w, rp);
    CHECK_EQ(et_wire_raw_recv(w, rp, buf, sizeof(buf)), -1);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    int rp2 = -1;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "peer", rmac, &rp2));
    CHECK_EQ(rp2, rp);
    CHECK_EQ(et_wire_raw_recv(w, rp2, buf, sizeof(buf)), 0);
    a->ops->destroy(a);
    efvitcp_wire_free(w);
}

struct tap_log {
    int n;
    uint32_t port[8], len[8];
    uint64_t now[8];
};

static void tap_fn(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                   uint64_t now_ns)
{
    struct tap_log *t = ctx;
    if (t->n < 8) {
        t->port[t->n] = from_port;
        t->len[t->n] = len;
        t->now[t->n] = now_ns;
        t->n++;
    }
    (void)frame;
}

static void test_tap(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 0, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 8, 8);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 8, 8);
    REQUIRE(a && b);
    struct tap_log t;
    memset(&t, 0, sizeof(t));
    et_wire_set_tap(w, tap_fn, &t);
    efvitcp_wire_set_now(w, 77);
    CHECK_EQ(link_send(a, 0, b->mac, 0, 64), 0);
    CHECK_EQ(link_send(b, 0, a->mac, 0, 1600), 0); /* dropped for MTU, still seen */
    et_wire_set_tap(w, NULL, NULL);
    CHECK_EQ(link_send(a, 1, b->mac, 0, 64), 0);
    CHECK_EQ(t.n, 2);
    CHECK_EQ(t.port[0], 0);
    CHECK_EQ(t.len[0], 64);
    CHECK_EQ(t.now[0], 77);
    CHECK_EQ(t.port[1], 1);
    CHECK_EQ(t.len[1], 1600);
    a->ops->destroy(a);
    b->ops->destroy(b);
    efvitcp_wire_free(w);
}

static void test_errors(void)
{
    efvitcp_wire *w = new_wire(0, 0, 0, 16, 2);
    REQUIRE(w);
    et_link_params p = {.n_tx = 4, .tx_buf_size = 2048, .n_rx = 4, .local_addr = "10.0.0.1/24"};
    et_link *l = (et_link *)&p; /* must be cleared on failure */

    CHECK(et_link_open("mem:a", &p, &l) != NULL); /* no wire */
    CHECK(l == NULL);
    p.wire = w;
    CHECK(et_link_open("mem:a", NULL, &l) != NULL);
    CHECK(et_mem_link_open("a", &p, NULL) != NULL);

    static const char *bad_addrs[] = {NULL,          "",
                                      "10.0.0.1",    "10.0.0.1/",
                                      "10.0.0.1/33", "10.0.0/24",
                                      "256.0.0.1/8", "10.0.0.1/24x",
                                      "1.2.3.4 /8",  "0001.2.3.4/8",
                                      "0.0.0.0/8",   "224.0.0.1/4",
                                      "10.0.0.1/-1", "10.0.0.1/024",
                                      "a.b.c.d/8",   "1..2.3/8"};
    for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
        p.local_addr = bad_addrs[i];
        l = (et_link *)&p;
        const char *err = et_link_open("mem:a", &p, &l);
        if (!err) fprintf(stderr, "accepted local_addr \"%s\"\n", bad_addrs[i]);
        CHECK(err != NULL);
        CHECK(l == NULL);
        if (l) l->ops->destroy(l);
    }
    static const char *good_addrs[] = {"1.2.3.4/0", "223.255.255.254/32", "10.0.0.1/8"};
    for (size_t i = 0; i < sizeof(good_addrs) / sizeof(good_addrs[0]); i++) {
        p.local_addr = good_addrs[i];
        CHECK_NULL_ERR(et_link_open("mem:a", &p, &l));
        if (l) l->ops->destroy(l);
    }
    p.local_addr = "10.0.0.1/24";
    static const char *bad_gws[] = {"", "10.0.0.1/24", "10.0.0", "0.0.0.0", "239.1.1.1", "x"};
    for (size_t i = 0; i < sizeof(bad_gws) / sizeof(bad_gws[0]); i++) {
        p.gateway = bad_gws[i];
        CHECK(et_link_open("mem:a", &p, &l) != NULL);
    }
    p.gateway = NULL;

    /* Parameters. */
    et_link_params bp = p;
    bp.n_tx = 0;
    CHECK(et_link_open("mem:a", &bp, &l) != NULL);
    bp = p;
    bp.n_rx = 0;
    CHECK(et_link_open("mem:a", &bp, &l) != NULL);
    bp = p;
    bp.tx_buf_size = 4096;
    CHECK(et_link_open("mem:a", &bp, &l) != NULL);
    bp.tx_buf_size = 1024;
    CHECK_NULL_ERR(et_link_open("mem:a", &bp, &l));
    if (l) {
        CHECK_EQ(l->tx_buf_size, 1024);
        CHECK_EQ(l->ops->tx(l, 0, 1025), -1);
        l->ops->destroy(l);
    }

    /* Names and interfaces. */
    CHECK(et_link_open("mem:", &p, &l) != NULL);
    CHECK(et_link_open("mem:0123456789012345678901234567890X", &p, &l) != NULL);
    /* A plain name selects a real link: use one no machine has, never a real NIC. */
    CHECK(et_link_open("efvitcp-none0", &p, &l) != NULL);
    CHECK(l == NULL);
    CHECK(et_link_open("mem", &p, &l) != NULL);
    CHECK(et_link_open(NULL, &p, &l) != NULL);
    CHECK(et_wire_raw_attach(w, "", NULL, NULL) != NULL);
    CHECK(et_wire_raw_attach(w, NULL, NULL, NULL) != NULL);
    CHECK(et_wire_raw_attach(NULL, "r", NULL, NULL) != NULL);

    et_link *a = NULL, *b = NULL, *c = NULL;
    CHECK_NULL_ERR(et_link_open("mem:0123456789012345678901234567890", &p, &a));
    p.local_addr = "10.0.0.2/24";
    CHECK(et_link_open("mem:0123456789012345678901234567890", &p, &b) != NULL);
    CHECK(b == NULL);
    CHECK_NULL_ERR(et_link_open("mem:b", &p, &b));
    /* max_ports = 2 */
    CHECK(et_link_open("mem:c", &p, &c) != NULL);
    CHECK(c == NULL);
    CHECK(et_wire_raw_attach(w, "r", NULL, NULL) != NULL);
    /* Detaching frees the port and its MAC for the next endpoint. */
    REQUIRE(a && b);
    uint8_t mac_a[6];
    memcpy(mac_a, a->mac, 6);
    a->ops->destroy(a);
    CHECK_NULL_ERR(et_link_open("mem:c", &p, &c));
    if (c) CHECK(memcmp(c->mac, mac_a, 6) == 0);
    if (c) c->ops->destroy(c);
    b->ops->destroy(b);
    efvitcp_wire_free(w);

    /* Wire configurations. */
    efvitcp_wire_config wc;
    efvitcp_wire *x = (efvitcp_wire *)&p; /* must be cleared on failure */
    CHECK(efvitcp_wire_new(NULL, NULL) != NULL);
    struct {
        uint32_t mtu, max_ports, max_frames, queue;
        uint64_t bw;
    } bad[] = {{575, 8, 16, 1000000, 0},
               {9001, 8, 16, 1000000, 0},
               {1500, 1, 16, 1000000, 0},
               {1500, 251, 16, 1000000, 0},
               {1500, 8, 0, 1000000, 0},
               {1500, 8, 16, 1513, 1000},
               {1500, 8, (1u << 20) + 1, 1000000, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        efvitcp_wire_config_default(&wc);
        wc.mtu = bad[i].mtu;
        wc.max_ports = bad[i].max_ports;
        wc.max_frames = bad[i].max_frames;
        wc.queue_bytes = bad[i].queue;
        wc.bandwidth_bps = bad[i].bw;
        x = (efvitcp_wire *)&p;
        CHECK(efvitcp_wire_new(&x, &wc) != NULL);
        CHECK(x == NULL);
    }
    efvitcp_wire_config_default(&wc);
    wc.max_ports = 250;
    wc.max_frames = 1;
    wc.bandwidth_bps = 1000;
    wc.queue_bytes = 1514;
    CHECK_NULL_ERR(efvitcp_wire_new(&x, &wc));
    if (x) {
        /* All 250 MACs are distinct and the 251st attach fails. */
        int port = -1;
        uint8_t mac[6];
        char name[8];
        for (int i = 0; i < 250; i++) {
            snprintf(name, sizeof(name), "p%d", i);
            CHECK_NULL_ERR(et_wire_raw_attach(x, name, mac, &port));
            CHECK_EQ(port, i);
            CHECK_EQ(mac[5], i + 1);
        }
        CHECK(et_wire_raw_attach(x, "one-too-many", mac, &port) != NULL);
        efvitcp_wire_free(x); /* with raw endpoints still attached */
    }
    CHECK_NULL_ERR(efvitcp_wire_new(&x, NULL));
    efvitcp_wire_free(x);
    efvitcp_wire_free(NULL);
}

/* Destroying links with frames queued and held, then freeing the wire, returns every slot. */
static void test_teardown(void)
{
    efvitcp_wire *w = new_wire(100, 0, 0, 8, 0);
    REQUIRE(w);
    et_link *a = open_link(w, "mem:a", "10.0.0.1/24", 16, 16);
    et_link *b = open_link(w, "mem:b", "10.0.0.2/24", 16, 16);
    REQUIRE(a && b);
    for (uint8_t i = 0; i < 8; i++) CHECK_EQ(link_send(a, i, b->mac, i, 64), 0);
    efvitcp_wire_set_now(w, 100);
    et_rx_frame f[16];
    CHECK_EQ(b->ops->rx_burst(b, f, 3), 3); /* 3 held, 5 queued */
    b->ops->destroy(b);
    CHECK_EQ(efvitcp_wire_next_delivery(w), UINT64_MAX);
    b = open_link(w, "mem:b", "10.0.0.2/24", 16, 16);
    REQUIRE(b);
    for (uint8_t i = 0; i < 8; i++) CHECK_EQ(link_send(a, i + 8, b->mac, i, 64), 0);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_no_slot, 0);
    /* Frames a sent before leaving stay in flight to b. */
    a->ops->destroy(a);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 200);
    efvitcp_wire_set_now(w, 200);
    CHECK_EQ(b->ops->rx_burst(b, f, 16), 8);
    b->ops->destroy(b); /* held at destroy */
    efvitcp_wire_free(w);

    /* Misuse: a wire freed before its link must not make the link's calls touch freed memory. */
    w = new_wire(0, 0, 0, 8, 0);
    REQUIRE(w);
    a = open_link(w, "mem:a", "10.0.0.1/24", 4, 4);
    b = open_link(w, "mem:b", "10.0.0.2/24", 4, 4);
    REQUIRE(a && b);
    CHECK_EQ(link_send(a, 0, b->mac, 0, 64), 0);
    CHECK_EQ(b->ops->rx_burst(b, f, 4), 1);
    efvitcp_wire_free(w);
    b->ops->rx_release(b, f[0].id);
    CHECK_EQ(b->ops->rx_burst(b, f, 4), 0);
    CHECK_EQ(link_send(a, 1, b->mac, 0, 64), 0);
    CHECK_EQ(a->ops->now(a), 0);
    a->ops->destroy(a);
    b->ops->destroy(b);
}

int main(void)
{
    RUN(test_two_links_exchange);
    RUN(test_clock);
    RUN(test_latency_exact);
    RUN(test_bandwidth_exact);
    RUN(test_equal_time_order);
    RUN(test_heap_order_against_model);
    RUN(test_broadcast);
    RUN(test_unknown_mac);
    RUN(test_mtu_drop);
    RUN(test_queue_overflow);
    RUN(test_no_free_slot);
    RUN(test_n_rx_limit);
    RUN(test_n_rx_future_frames_kept);
    RUN(test_tx_done_order);
    RUN(test_raw_endpoint);
    RUN(test_tap);
    RUN(test_errors);
    RUN(test_teardown);
    return th_summary();
}
