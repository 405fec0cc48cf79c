/*
 * Fault injection of the mem wire (efvitcp_wire_set_faults): validation, each impairment on its
 * own with exact or statistically bounded counts, the order of the decisions, the counters and
 * the fault hook, reproducibility from the wire's seed, and a link that refuses frames.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"
#include "net/checksum.h"
#include "net/parse.h"
#include "wire/wire_hooks.h"

#define FRAME_MAX 2048

typedef struct rig {
    efvitcp_wire *w;
    int a, b; /* raw endpoints "a" (port 0) and "b" (port 1) */
    uint8_t mac_a[6], mac_b[6];
} rig;

static bool rig_new(rig *r, uint64_t seed, uint64_t latency_ns)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.seed = seed;
    wc.latency_ns = latency_ns;
    wc.max_frames = 40000;
    memset(r, 0, sizeof(*r));
    if (efvitcp_wire_new(&r->w, &wc)) return false;
    if (et_wire_raw_attach(r->w, "a", r->mac_a, &r->a)) return false;
    if (et_wire_raw_attach(r->w, "b", r->mac_b, &r->b)) return false;
    return true;
}

static void rig_free(rig *r)
{
    efvitcp_wire_free(r->w);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* A valid TCP/IPv4 frame from a to b with plen payload bytes and the given tag in its sequence
   number; returns its length. */
static uint32_t tcp_frame(const rig *r, uint8_t *f, uint32_t seq, uint32_t plen)
{
    memset(f, 0, 54 + plen);
    memcpy(f, r->mac_b, 6);
    memcpy(f + 6, r->mac_a, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(40 + plen));
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, 0x0a000001);
    put32(ip + 16, 0x0a000002);
    uint16_t c = et_csum_finish(et_csum_add(0, ip, 20));
    memcpy(ip + 10, &c, 2);
    uint8_t *tcp = ip + 20;
    put16(tcp, 40000);
    put16(tcp + 2, 5000);
    put32(tcp + 4, seq);
    put32(tcp + 8, 777);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; /* ACK PSH */
    put16(tcp + 14, 1000);
    for (uint32_t i = 0; i < plen; i++) tcp[20 + i] = (uint8_t)(seq + i * 7);
    uint32_t daddr, saddr;
    memcpy(&saddr, ip + 12, 4);
    memcpy(&daddr, ip + 16, 4);
    uint64_t sum = et_csum_pseudo(saddr, daddr, 6, (uint16_t)(20 + plen));
    c = et_csum_finish(et_csum_add(sum, tcp, 20 + plen));
    memcpy(tcp + 16, &c, 2);
    return 54 + plen;
}

/* Sends n frames (sequence numbers 0..n-1) from a and moves the clock far enough for all. */
static void send_n(rig *r, uint32_t n, uint32_t plen)
{
    uint8_t f[FRAME_MAX];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = tcp_frame(r, f, i, plen);
        CHECK_EQ(et_wire_raw_send(r->w, r->a, f, len), 0);
    }
    efvitcp_wire_set_now(r->w, efvitcp_wire_now(r->w) + 1000000000000ull);
}

static uint32_t seq_of(const uint8_t *f)
{
    const uint8_t *t = f + 34;
    return (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
}

/* Receives everything due at b; returns the count. */
static uint32_t recv_all(rig *r, uint32_t *seqs, uint32_t max)
{
    uint8_t f[FRAME_MAX];
    uint32_t n = 0;
    int len;
    while ((len = et_wire_raw_recv(r->w, r->b, f, sizeof(f))) > 0) {
        if (seqs && n < max) seqs[n] = seq_of(f);
        n++;
    }
    return n;
}

static void test_validation(void)
{
    rig r;
    REQUIRE(rig_new(&r, 1, 0));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", NULL));
    CHECK(efvitcp_wire_set_faults(r.w, "nobody", &f) != NULL);
    CHECK(efvitcp_wire_set_faults(r.w, NULL, &f) != NULL);
    CHECK(efvitcp_wire_set_faults(NULL, "a", &f) != NULL);
    double bad[] = {-0.1, 1.0000001, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double *fields[] = {&f.loss,        &f.ge_enter_bad, &f.ge_leave_bad, &f.ge_loss_good,
                            &f.ge_loss_bad, &f.duplicate,    &f.corrupt,      &f.corrupt_fixed};
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
            memset(&f, 0, sizeof(f));
            *fields[k] = bad[i];
            CHECK(efvitcp_wire_set_faults(r.w, "a", &f) != NULL);
        }
    }
    memset(&f, 0, sizeof(f));
    f.loss = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    f.mtu = 67;
    CHECK(efvitcp_wire_set_faults(r.w, "a", &f) != NULL);
    f.mtu = 1501;
    CHECK(efvitcp_wire_set_faults(r.w, "a", &f) != NULL);
    f.mtu = 68;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    f.mtu = 1500;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    /* a rejected call leaves the previous faults in place: loss 1 still drops everything */
    send_n(&r, 10, 10);
    CHECK_EQ(recv_all(&r, NULL, 0), 0);
    rig_free(&r);
}

static void test_loss(void)
{
    rig r;
    REQUIRE(rig_new(&r, 42, 1000));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.loss = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 100, 10);
    CHECK_EQ(recv_all(&r, NULL, 0), 0);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_loss, 100);
    uint64_t del, drop;
    efvitcp_wire_counts(r.w, &del, &drop);
    CHECK_EQ(drop, 100);
    /* faults belong to the sender: b's frames to a are untouched */
    uint8_t fr[FRAME_MAX];
    uint32_t len = tcp_frame(&r, fr, 1, 10);
    memcpy(fr, r.mac_a, 6);
    CHECK_EQ(et_wire_raw_send(r.w, r.b, fr, len), 0);
    efvitcp_wire_set_now(r.w, efvitcp_wire_now(r.w) + 1000000);
    CHECK_EQ(et_wire_raw_recv(r.w, r.a, fr, sizeof(fr)), (int)len);

    f.loss = 0.25;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 20000, 10);
    uint32_t got = recv_all(&r, NULL, 0);
    /* binomial(20000, 0.75): sd 61; 5 sd either way */
    CHECK(got > 15000 - 310 && got < 15000 + 310);
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_loss, 100 + 20000 - got);

    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", NULL));
    send_n(&r, 100, 10);
    CHECK_EQ(recv_all(&r, NULL, 0), 100);
    rig_free(&r);
}

/* The same seed gives the same losses; another seed other losses. */
static void lost_pattern(uint64_t seed, uint8_t *lost, uint32_t n)
{
    rig r;
    if (!rig_new(&r, seed, 0)) return;
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.loss = 0.5;
    f.duplicate = 0.1;
    f.jitter_mean_ns = 5000;
    efvitcp_wire_set_faults(r.w, "a", &f);
    send_n(&r, n, 10);
    static uint32_t seqs[4000];
    uint32_t got = recv_all(&r, seqs, 4000);
    memset(lost, 1, n);
    for (uint32_t i = 0; i < got && i < 4000; i++) lost[seqs[i]] = 0;
    rig_free(&r);
}

static void test_reproducible(void)
{
    static uint8_t a[2000], b[2000], c[2000];
    lost_pattern(7, a, 2000);
    lost_pattern(7, b, 2000);
    lost_pattern(8, c, 2000);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);
    /* seed 0 is a seed like any other, not getrandom() */
    lost_pattern(0, a, 2000);
    lost_pattern(0, b, 2000);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
}

static void test_gilbert_elliott(void)
{
    rig r;
    REQUIRE(rig_new(&r, 3, 0));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    /* always bad after the first step, and bad loses everything */
    f.ge_enter_bad = 1.0;
    f.ge_loss_bad = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 50, 10);
    CHECK_EQ(recv_all(&r, NULL, 0), 0);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_burst_loss, 50);
    CHECK_EQ(st.fault_loss, 0);

    /* bursts: mean length 1/leave = 4 frames, entered with probability 0.02 per frame */
    f.ge_enter_bad = 0.02;
    f.ge_leave_bad = 0.25;
    f.ge_loss_good = 0;
    f.ge_loss_bad = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    uint32_t n = 20000;
    send_n(&r, n, 10);
    static uint32_t seqs[20000];
    uint32_t got = recv_all(&r, seqs, n);
    static uint8_t lost[20000];
    memset(lost, 1, sizeof(lost));
    for (uint32_t i = 0; i < got; i++) lost[seqs[i]] = 0;
    uint32_t bursts = 0, lost_total = 0;
    for (uint32_t i = 0; i < n; i++) {
        lost_total += lost[i];
        if (lost[i] && (i == 0 || !lost[i - 1])) bursts++;
    }
    /* stationary bad share 0.02 / (0.02 + 0.25) = 7.4 %, mean burst 4 */
    CHECK(lost_total > n * 0.055 && lost_total < n * 0.095);
    CHECK(bursts > 0 && (double)lost_total / bursts > 3.0 && (double)lost_total / bursts < 5.5);
    rig_free(&r);
}

static void test_duplicate(void)
{
    rig r;
    REQUIRE(rig_new(&r, 5, 100));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.duplicate = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 10, 10);
    uint32_t seqs[40];
    CHECK_EQ(recv_all(&r, seqs, 40), 20);
    /* no jitter: both copies arrive at once, in sending order */
    for (uint32_t i = 0; i < 20; i++) CHECK_EQ(seqs[i], i / 2);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_dup, 10);
    CHECK_EQ(st.delivered, 20);
    rig_free(&r);
}

static void test_jitter_reorders(void)
{
    rig r;
    REQUIRE(rig_new(&r, 11, 50000));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.jitter_mean_ns = 20000;
    f.jitter_max_ns = 100000;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    /* all sent at one instant: the order they arrive in is the order of their jitter */
    uint8_t fr[FRAME_MAX];
    uint32_t n = 5000, reordered = 0;
    uint64_t t0 = efvitcp_wire_now(r.w), sum = 0, maxd = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = tcp_frame(&r, fr, i, 10);
        CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), 0);
    }
    uint32_t got = 0, last = 0;
    while (got < n) {
        uint64_t t = efvitcp_wire_next_delivery(r.w);
        if (t == UINT64_MAX) break;
        efvitcp_wire_set_now(r.w, t);
        int len;
        while ((len = et_wire_raw_recv(r.w, r.b, fr, sizeof(fr))) > 0) {
            uint32_t s = seq_of(fr);
            REQUIRE(t >= t0 + 50000);
            uint64_t delay = t - t0 - 50000; /* beyond the latency */
            sum += delay;
            if (delay > maxd) maxd = delay;
            if (got && s < last) reordered++;
            last = s;
            got++;
        }
    }
    CHECK_EQ(got, n);
    CHECK(maxd <= 100000);
    CHECK(reordered > n / 4);
    double mean = (double)sum / n; /* exponential(20 us) capped at 100 us: about 19.9 us */
    CHECK(mean > 18500 && mean < 21300);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK(st.fault_jitter > n * 0.99);
    rig_free(&r);
}

static int bit_diff(const uint8_t *a, const uint8_t *b, uint32_t len, uint32_t *where)
{
    int n = 0;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t x = a[i] ^ b[i];
        for (int k = 0; k < 8; k++)
            if (x & (1u << k)) {
                n++;
                *where = i * 8 + (uint32_t)k;
            }
    }
    return n;
}

typedef struct hook_log {
    int kinds[16];
    uint32_t last_bit;
    uint8_t last[FRAME_MAX];
} hook_log;

static void hook(void *ctx, uint32_t from_port, int kind, const uint8_t *frame, uint32_t len,
                 uint32_t bit)
{
    hook_log *h = ctx;
    if (kind > 0 && kind < 16) h->kinds[kind]++;
    h->last_bit = bit;
    memcpy(h->last, frame, len < FRAME_MAX ? len : FRAME_MAX);
}

static void test_corrupt_caught_by_checksum(void)
{
    rig r;
    REQUIRE(rig_new(&r, 13, 0));
    hook_log h;
    memset(&h, 0, sizeof(h));
    et_wire_set_fault_hook(r.w, hook, &h);
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.corrupt = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    uint8_t sent[FRAME_MAX], got[FRAME_MAX];
    bool in_ip = false, in_payload = false;
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t len = tcp_frame(&r, sent, i, 100);
        CHECK_EQ(et_wire_raw_send(r.w, r.a, sent, len), 0);
        REQUIRE(et_wire_raw_recv(r.w, r.b, got, sizeof(got)) == (int)len);
        uint32_t bit = 0;
        REQUIRE(bit_diff(sent, got, len, &bit) == 1);
        CHECK(bit >= 14 * 8);
        CHECK_EQ(h.last_bit, bit);
        in_ip |= bit < 34 * 8;
        in_payload |= bit >= 54 * 8;
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why;
        CHECK(et_parse_frame(got, len, r.mac_b, 0, 0, &seg, &arp, &why) == ET_FRAME_DROP);
    }
    CHECK(in_ip && in_payload);
    CHECK_EQ(h.kinds[ET_WIRE_FAULT_CORRUPT], 2000);
    /* ARP has no checksum: never corrupted */
    uint8_t arp_f[42];
    memset(arp_f, 0, sizeof(arp_f));
    memset(arp_f, 0xff, 6);
    memcpy(arp_f + 6, r.mac_a, 6);
    put16(arp_f + 12, 0x0806);
    for (uint32_t i = 14; i < 42; i++) arp_f[i] = (uint8_t)i;
    CHECK_EQ(et_wire_raw_send(r.w, r.a, arp_f, 42), 0);
    REQUIRE(et_wire_raw_recv(r.w, r.b, got, sizeof(got)) == 42);
    CHECK(memcmp(got, arp_f, 42) == 0);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_corrupt, 2000);
    rig_free(&r);
}

static void test_corrupt_fixed_reaches_tcp(void)
{
    rig r;
    REQUIRE(rig_new(&r, 17, 0));
    hook_log h;
    memset(&h, 0, sizeof(h));
    et_wire_set_fault_hook(r.w, hook, &h);
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.corrupt_fixed = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    uint8_t sent[FRAME_MAX], got[FRAME_MAX];
    static uint32_t hits[20 * 8];
    memset(hits, 0, sizeof(hits));
    for (uint32_t i = 0; i < 8000; i++) {
        uint32_t len = tcp_frame(&r, sent, i * 0x01000193u, 64);
        CHECK_EQ(et_wire_raw_send(r.w, r.a, sent, len), 0);
        REQUIRE(et_wire_raw_recv(r.w, r.b, got, sizeof(got)) == (int)len);
        /* the checksum was fixed: exactly one header bit and the checksum differ */
        CHECK(memcmp(got + 54, sent + 54, 64) == 0);
        CHECK(memcmp(got, sent, 34) == 0);
        uint8_t g2[FRAME_MAX];
        memcpy(g2, got, len);
        memcpy(g2 + 34 + 16, sent + 34 + 16, 2);
        uint32_t bit = 0;
        REQUIRE(bit_diff(sent, g2, len, &bit) == 1);
        CHECK_EQ(h.last_bit, bit);
        uint32_t hb = bit - 34 * 8;
        REQUIRE(hb < 20 * 8);
        hits[hb]++;
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why;
        CHECK(et_parse_frame(got, len, r.mac_b, 0, 0, &seg, &arp, &why) == ET_FRAME_TCP);
    }
    /* the safe set and nothing else: ports, top nibbles of seq/ack, reserved nibble, six flags,
       window, urgent pointer */
    uint32_t distinct = 0;
    for (uint32_t b = 0; b < 20 * 8; b++) {
        uint32_t byte = b / 8, k = b % 8;
        bool safe = byte < 4 || (byte == 4 && k >= 4) || (byte == 8 && k >= 4) ||
                    (byte == 12 && k < 4) || (byte == 13 && k != 0 && k != 2) || byte == 14 ||
                    byte == 15 || byte == 18 || byte == 19;
        if (!safe) CHECK_EQ(hits[b], 0);
        if (hits[b]) distinct++;
    }
    CHECK_EQ(distinct, 82);
    CHECK_EQ(h.kinds[ET_WIRE_FAULT_CORRUPT_FIXED], 8000);
    rig_free(&r);
}

static void test_partition_and_mtu(void)
{
    rig r;
    REQUIRE(rig_new(&r, 19, 0));
    hook_log h;
    memset(&h, 0, sizeof(h));
    et_wire_set_fault_hook(r.w, hook, &h);
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.partition = true;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 30, 10);
    CHECK_EQ(recv_all(&r, NULL, 0), 0);
    f.partition = false;
    f.mtu = 576;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    send_n(&r, 5, 576 - 40); /* exactly the MTU: passes */
    CHECK_EQ(recv_all(&r, NULL, 0), 5);
    send_n(&r, 5, 577 - 40);
    CHECK_EQ(recv_all(&r, NULL, 0), 0);
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", NULL)); /* heal */
    send_n(&r, 5, 1000);
    CHECK_EQ(recv_all(&r, NULL, 0), 5);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_partition, 30);
    CHECK_EQ(st.drop_mtu, 5);
    CHECK_EQ(h.kinds[ET_WIRE_FAULT_PARTITION], 30);
    CHECK_EQ(h.kinds[ET_WIRE_FAULT_MTU], 5);
    CHECK_EQ(h.last_bit, UINT32_MAX);
    rig_free(&r);
}

/* A frame dropped by the sender's queue never reaches the fault draws; a frame lost to a fault
   still used the sender's line (it was lost after the queue). */
static void test_order_queue_before_faults(void)
{
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.bandwidth_bps = 8000000; /* 1 byte per us */
    wc.queue_bytes = 2000;
    efvitcp_wire *w = NULL;
    CHECK_NULL_ERR(efvitcp_wire_new(&w, &wc));
    REQUIRE(w);
    rig r;
    memset(&r, 0, sizeof(r));
    r.w = w;
    CHECK_NULL_ERR(et_wire_raw_attach(w, "a", r.mac_a, &r.a));
    CHECK_NULL_ERR(et_wire_raw_attach(w, "b", r.mac_b, &r.b));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.loss = 1.0;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(w, "a", &f));
    uint8_t fr[FRAME_MAX];
    uint32_t len = tcp_frame(&r, fr, 0, 946); /* 1000 bytes: 1 ms each */
    for (int i = 0; i < 5; i++) CHECK_EQ(et_wire_raw_send(w, r.a, fr, len), 0);
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_queue, 3); /* two fit the 2000-byte queue */
    CHECK_EQ(st.fault_loss, 2);
    CHECK_NULL_ERR(efvitcp_wire_set_faults(w, "a", NULL));
    /* The line is busy for 2 ms with the two lost frames: at 1 ms a third one just fits the
       queue and leaves when they are through. */
    efvitcp_wire_set_now(w, 1000000);
    CHECK_EQ(et_wire_raw_send(w, r.a, fr, len), 0);
    CHECK_EQ(efvitcp_wire_next_delivery(w), 3000000);
    et_wire_get_stats(w, &st);
    CHECK_EQ(st.drop_queue, 3);
    efvitcp_wire_free(w);
}

/* A link that refuses (a NIC's full transmit ring): the next tx_refuse frames are refused
   before anything else happens to them (not sent, not tapped, not queued), counted; the ones
   after go, and the endpoint's other faults stay in force. */
static void test_tx_refuse(void)
{
    rig r;
    REQUIRE(rig_new(&r, 23, 0));
    efvitcp_wire_faults f;
    memset(&f, 0, sizeof(f));
    f.tx_refuse = 3;
    f.mtu = 576;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    uint8_t fr[FRAME_MAX];
    uint32_t len = tcp_frame(&r, fr, 0, 100);
    for (int i = 0; i < 3; i++) CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), -1);
    CHECK_EQ(efvitcp_wire_next_delivery(r.w), UINT64_MAX);
    CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), 0);
    len = tcp_frame(&r, fr, 1, 1000); /* past the endpoint's MTU: taken, then dropped */
    CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), 0);
    efvitcp_wire_set_now(r.w, 1000000);
    uint32_t seqs[4];
    CHECK_EQ(recv_all(&r, seqs, 4), 1);
    CHECK_EQ(seqs[0], 0);
    et_wire_stats st;
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_tx_refused, 3);
    CHECK_EQ(st.sent, 2);
    CHECK_EQ(st.drop_mtu, 1);
    /* Setting the faults again starts a new count; clearing them ends it. */
    f.tx_refuse = 1;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    len = tcp_frame(&r, fr, 2, 100);
    CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), -1);
    CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), 0);
    f.tx_refuse = 5;
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", &f));
    CHECK_NULL_ERR(efvitcp_wire_set_faults(r.w, "a", NULL));
    CHECK_EQ(et_wire_raw_send(r.w, r.a, fr, len), 0);
    et_wire_get_stats(r.w, &st);
    CHECK_EQ(st.fault_tx_refused, 4);
    rig_free(&r);
}

int main(void)
{
    RUN(test_validation);
    RUN(test_loss);
    RUN(test_reproducible);
    RUN(test_gilbert_elliott);
    RUN(test_duplicate);
    RUN(test_jitter_reorders);
    RUN(test_corrupt_caught_by_checksum);
    RUN(test_corrupt_fixed_reaches_tcp);
    RUN(test_partition_and_mtu);
    RUN(test_order_queue_before_faults);
    RUN(test_tx_refuse);
    return th_summary();
}
