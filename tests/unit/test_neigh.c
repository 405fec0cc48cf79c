/* Neighbour cache rules (create, update, evict) and ARP frames (RFC 826) checked byte by byte and
   through the frame parser. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "net/headers.h"
#include "net/neigh.h"
#include "net/parse.h"

static const uint8_t MAC_A[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t MAC_B[6] = {0x02, 0x66, 0x77, 0x88, 0x99, 0xaa};
static const uint8_t MAC_C[6] = {0x0a, 0x00, 0x00, 0x00, 0x00, 0x0c};
#define IP_A 0xc6120001u
#define IP_B 0xc6120002u

static uint64_t rng = 0x853c49e6748fea9bull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 20);
}

static void test_init_and_empty(void)
{
    et_neigh n;
    REQUIRE(et_neigh_init(&n, 64) == 0);
    CHECK_EQ(n.cap, 64);
    for (uint32_t i = 0; i < n.cap; i++) CHECK_EQ(n.e[i].ip, 0);
    CHECK(et_neigh_find(&n, IP_A) == NULL);
    /* 0 marks free slots and never names an entry. */
    CHECK(et_neigh_find(&n, 0) == NULL);
    CHECK(et_neigh_get(&n, 0, 1) == NULL);
    CHECK(et_neigh_learn(&n, 0, MAC_A, true, 1, NULL) == NULL);
    for (uint32_t i = 0; i < n.cap; i++) CHECK_EQ(n.e[i].ip, 0);
    et_neigh_free(&n);
    CHECK(n.e == NULL);
    CHECK_EQ(n.cap, 0);
    et_neigh_free(&n); /* twice is harmless */

    /* A zero-capacity cache holds nothing and never fails. */
    REQUIRE(et_neigh_init(&n, 0) == 0);
    CHECK(et_neigh_get(&n, IP_A, 1) == NULL);
    CHECK(et_neigh_learn(&n, IP_A, MAC_A, true, 1, NULL) == NULL);
    CHECK(et_neigh_find(&n, IP_A) == NULL);
    et_neigh_free(&n);
}

static void test_get_creates_unresolved(void)
{
    et_neigh n;
    REQUIRE(et_neigh_init(&n, 4) == 0);
    et_neigh_entry *e = et_neigh_get(&n, IP_A, 1000);
    REQUIRE(e != NULL);
    CHECK_EQ(e->ip, IP_A);
    CHECK(!e->resolved);
    CHECK_EQ(e->updated_ns, 1000);
    CHECK_EQ(e->next_try_ns, 1000); /* a request is due at once */
    CHECK(et_neigh_find(&n, IP_A) == e);
    /* A second get returns the same entry untouched. */
    e->next_try_ns = 5000;
    CHECK(et_neigh_get(&n, IP_A, 2000) == e);
    CHECK_EQ(e->next_try_ns, 5000);
    CHECK_EQ(e->updated_ns, 1000);
    int used = 0;
    for (uint32_t i = 0; i < n.cap; i++) used += n.e[i].ip != 0;
    CHECK_EQ(used, 1);
    et_neigh_free(&n);
}

static void test_learn_rules(void)
{
    et_neigh n;
    REQUIRE(et_neigh_init(&n, 4) == 0);
    /* RFC 826 merge: without create, an unknown sender is not added. */
    CHECK(et_neigh_learn(&n, IP_A, MAC_A, false, 10, NULL) == NULL);
    CHECK(et_neigh_find(&n, IP_A) == NULL);
    /* With create (a request addressed to us), it is. */
    et_neigh_entry *e = et_neigh_learn(&n, IP_A, MAC_A, true, 20, NULL);
    REQUIRE(e != NULL);
    CHECK(e->resolved);
    CHECK(memcmp(e->mac, MAC_A, 6) == 0);
    CHECK_EQ(e->updated_ns, 20);
    CHECK(et_neigh_find(&n, IP_A) == e);

    /* An existing entry is updated without create: a new MAC (failover) and a fresh time. */
    CHECK(et_neigh_learn(&n, IP_A, MAC_C, false, 30, NULL) == e);
    CHECK(memcmp(e->mac, MAC_C, 6) == 0);
    CHECK_EQ(e->updated_ns, 30);

    /* An unresolved entry (we asked) is resolved by a reply. */
    et_neigh_entry *b = et_neigh_get(&n, IP_B, 40);
    REQUIRE(b != NULL);
    CHECK(et_neigh_learn(&n, IP_B, MAC_B, false, 50, NULL) == b);
    CHECK(b->resolved);
    CHECK_EQ(b->updated_ns, 50);
    CHECK(memcmp(b->mac, MAC_B, 6) == 0);

    /* Group and zero MACs are never learnt, and do not disturb the entry. */
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    const uint8_t zero[6] = {0};
    CHECK(et_neigh_learn(&n, IP_A, bcast, true, 60, NULL) == NULL);
    CHECK(et_neigh_learn(&n, IP_A, mcast, false, 60, NULL) == NULL);
    CHECK(et_neigh_learn(&n, IP_A, zero, true, 60, NULL) == NULL);
    CHECK(et_neigh_learn(&n, IP_A + 9, mcast, true, 60, NULL) == NULL);
    CHECK(et_neigh_find(&n, IP_A + 9) == NULL);
    CHECK(memcmp(e->mac, MAC_C, 6) == 0);
    CHECK_EQ(e->updated_ns, 30);
    et_neigh_free(&n);
}

/* What learn reports, which decides whether connections follow (addr_own.c), and the lock time:
   of two answers for one address the first stands, and an entry moves at most once per lock. */
static void test_learn_news(void)
{
    et_neigh n;
    REQUIRE(et_neigh_init(&n, 4) == 0);
    CHECK_EQ(n.lock_ns, 0);
    n.lock_ns = 1000;
    et_neigh_news news = ET_NEIGH_MOVED;
    CHECK(et_neigh_learn(&n, IP_A, MAC_A, false, 10, &news) == NULL);
    CHECK_EQ(news, ET_NEIGH_IGNORED);
    et_neigh_entry *e = et_neigh_learn(&n, IP_A, MAC_A, true, 20, &news);
    REQUIRE(e != NULL);
    CHECK_EQ(news, ET_NEIGH_CREATED);
    CHECK_EQ(e->mac_ns, 20);
    CHECK(et_neigh_learn(&n, IP_A, MAC_A, false, 30, &news) == e);
    CHECK_EQ(news, ET_NEIGH_CONFIRMED);
    CHECK_EQ(e->updated_ns, 30);
    CHECK_EQ(e->mac_ns, 20);
    /* Another MAC within the lock of the first: refused, the entry untouched. */
    CHECK(et_neigh_learn(&n, IP_A, MAC_B, false, 1019, &news) == NULL);
    CHECK_EQ(news, ET_NEIGH_LOCKED);
    CHECK(memcmp(e->mac, MAC_A, 6) == 0);
    CHECK_EQ(e->updated_ns, 30);
    /* Confirmations do not extend the lock: it runs from the change. */
    CHECK(et_neigh_learn(&n, IP_A, MAC_B, true, 1020, &news) == e);
    CHECK_EQ(news, ET_NEIGH_MOVED);
    CHECK(memcmp(e->mac, MAC_B, 6) == 0);
    CHECK_EQ(e->mac_ns, 1020);
    CHECK(et_neigh_learn(&n, IP_A, MAC_A, false, 1500, &news) == NULL);
    CHECK_EQ(news, ET_NEIGH_LOCKED);
    /* An entry we asked for takes any MAC at once. */
    et_neigh_entry *b = et_neigh_get(&n, IP_B, 1600);
    REQUIRE(b != NULL);
    CHECK(et_neigh_learn(&n, IP_B, MAC_C, false, 1601, &news) == b);
    CHECK_EQ(news, ET_NEIGH_RESOLVED);
    CHECK_EQ(b->mac_ns, 1601);
    /* A group or zero MAC: ignored, whatever the entry. */
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(et_neigh_learn(&n, IP_B, bcast, true, 5000, &news) == NULL);
    CHECK_EQ(news, ET_NEIGH_IGNORED);
    CHECK(!et_mac_is_host(bcast));
    CHECK(!et_mac_is_host((const uint8_t[6]){0}));
    CHECK(et_mac_is_host(MAC_A));
    et_neigh_free(&n);
}

/* Eviction goes by need: a free slot first, then the entry we needed least recently
   (et_neigh_get), those never needed (created by other hosts' requests) before any of ours, the
   least recently updated of them first. */
static void test_eviction(void)
{
    et_neigh n;
    REQUIRE(et_neigh_init(&n, 4) == 0);
    /* Entries 1 and 2 created by requests to us (never needed) at t = 1, 2; 3 and 4 needed at
       t = 5, 6 (unresolved). */
    REQUIRE(et_neigh_learn(&n, 1, MAC_A, ET_NEIGH_CREATE, 1, NULL) != NULL);
    REQUIRE(et_neigh_learn(&n, 2, MAC_A, ET_NEIGH_CREATE, 2, NULL) != NULL);
    REQUIRE(et_neigh_get(&n, 3, 5) != NULL);
    REQUIRE(et_neigh_get(&n, 4, 6) != NULL);
    for (uint32_t ip = 1; ip <= 4; ip++) CHECK(et_neigh_find(&n, ip) != NULL);

    /* Full. Never needed, least recently updated: 1 goes, though 3 and 4 are unresolved. */
    et_neigh_entry *e = et_neigh_get(&n, 5, 10);
    REQUIRE(e != NULL);
    CHECK_EQ(e->ip, 5);
    CHECK(!e->resolved);
    CHECK_EQ(e->used_ns, 10);
    CHECK(et_neigh_find(&n, 1) == NULL);
    /* Another host's request: 2 goes; the entries we wait for stay. */
    REQUIRE(et_neigh_learn(&n, 6, MAC_B, ET_NEIGH_CREATE, 11, NULL) != NULL);
    CHECK(et_neigh_find(&n, 2) == NULL);
    CHECK(et_neigh_find(&n, 3) != NULL);
    CHECK(et_neigh_find(&n, 4) != NULL);
    /* And again: 6, never needed, goes before any of ours; learning does not count as need. */
    REQUIRE(et_neigh_learn(&n, 5, MAC_C, 0, 12, NULL) != NULL);
    REQUIRE(et_neigh_learn(&n, 7, MAC_B, ET_NEIGH_CREATE, 13, NULL) != NULL);
    CHECK(et_neigh_find(&n, 6) == NULL);
    /* Now 7 is the only one never needed; needing it makes 3 (t = 5) the least recent. Needing
       3 again makes it 4 (t = 6). */
    REQUIRE(et_neigh_get(&n, 7, 14) != NULL);
    REQUIRE(et_neigh_get(&n, 3, 15) != NULL);
    e = et_neigh_get(&n, 8, 16);
    REQUIRE(e != NULL);
    CHECK(!e->resolved);
    CHECK(memcmp(e->mac, (const uint8_t[6]){0}, 6) == 0);
    CHECK(et_neigh_find(&n, 4) == NULL);
    CHECK(et_neigh_find(&n, 3) != NULL);
    CHECK(et_neigh_find(&n, 5) != NULL);
    CHECK(et_neigh_find(&n, 7) != NULL);
    CHECK(et_neigh_find(&n, 8) == e);
    et_neigh_free(&n);

    /* A cache of one always yields its only slot. */
    REQUIRE(et_neigh_init(&n, 1) == 0);
    REQUIRE(et_neigh_learn(&n, 1, MAC_A, ET_NEIGH_CREATE, 1, NULL) != NULL);
    e = et_neigh_get(&n, 2, 2);
    REQUIRE(e != NULL);
    CHECK(e == &n.e[0]);
    CHECK(et_neigh_find(&n, 1) == NULL);
    et_neigh_free(&n);
}

/* Random operations against invariants: no duplicate addresses, a found entry holds the last MAC
   learnt for it, and get never fails. */
static void test_random_ops(void)
{
    enum { CAP = 8, IPS = 24 };
    et_neigh n;
    REQUIRE(et_neigh_init(&n, CAP) == 0);
    uint8_t last_mac[IPS + 1][6];
    bool resolved_known[IPS + 1] = {false};
    uint64_t now = 0;
    for (int iter = 0; iter < 100000; iter++) {
        now += 1 + next_rand() % 100;
        uint32_t ip = 1 + next_rand() % IPS;
        uint32_t op = next_rand() % 3;
        if (op == 0) {
            et_neigh_entry *e = et_neigh_get(&n, ip, now);
            REQUIRE(e != NULL);
            CHECK_EQ(e->ip, ip);
        } else {
            uint8_t mac[6] = {0x02, 0, 0, 0, (uint8_t)ip, (uint8_t)next_rand()};
            bool had = et_neigh_find(&n, ip) != NULL;
            et_neigh_entry *e = et_neigh_learn(&n, ip, mac, op == 1, now, NULL);
            CHECK_EQ(e != NULL, had || op == 1);
            if (e) {
                memcpy(last_mac[ip], mac, 6);
                resolved_known[ip] = true;
            }
        }
        for (uint32_t i = 0; i < CAP; i++) {
            if (!n.e[i].ip) continue;
            for (uint32_t j = i + 1; j < CAP; j++) CHECK(n.e[i].ip != n.e[j].ip);
            CHECK(n.e[i].ip <= IPS);
            if (n.e[i].resolved) {
                CHECK(resolved_known[n.e[i].ip]);
                CHECK(memcmp(n.e[i].mac, last_mac[n.e[i].ip], 6) == 0);
            }
        }
        if (th_failures) break;
    }
    et_neigh_free(&n);
}

static void test_arp_request_bytes(void)
{
    uint8_t buf[64];
    memset(buf, 0xcc, sizeof(buf));
    uint32_t len = et_arp_build(buf, 1, MAC_A, IP_A, NULL, IP_B);
    CHECK_EQ(len, 42);
    /* RFC 826 layout, written out by hand. */
    const uint8_t want[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* broadcast */
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55, /* our MAC */
        0x08, 0x06,                         /* ARP */
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, 6, 4 */
        0x00, 0x01,                         /* request */
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55, /* sha */
        0xc6, 0x12, 0x00, 0x01,             /* spa */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* tha unknown */
        0xc6, 0x12, 0x00, 0x02,             /* tpa */
    };
    CHECK(memcmp(buf, want, 42) == 0);
    for (size_t i = 42; i < sizeof(buf); i++) CHECK_EQ(buf[i], 0xcc);

    /* Parsed by any host: broadcast is accepted for ARP. */
    et_tcp_seg seg;
    et_arp_msg arp;
    efvitcp_drop_reason why;
    REQUIRE(et_parse_frame(buf, len, MAC_B, IP_B, 0, &seg, &arp, &why) == ET_FRAME_ARP);
    CHECK_EQ(arp.oper, 1);
    CHECK(memcmp(arp.sha, MAC_A, 6) == 0);
    CHECK(memcmp(arp.tha, (const uint8_t[6]){0}, 6) == 0);
    CHECK_EQ(arp.spa, IP_A);
    CHECK_EQ(arp.tpa, IP_B);
    /* A request ignores dst_mac. */
    uint8_t buf2[42];
    CHECK_EQ(et_arp_build(buf2, 1, MAC_A, IP_A, MAC_C, IP_B), 42);
    CHECK(memcmp(buf, buf2, 42) == 0);
}

static void test_arp_reply_roundtrip(void)
{
    et_neigh na, nb;
    REQUIRE(et_neigh_init(&na, 8) == 0);
    REQUIRE(et_neigh_init(&nb, 8) == 0);
    et_tcp_seg seg;
    et_arp_msg arp;
    efvitcp_drop_reason why;

    /* A wants B: an unresolved entry and a broadcast request. */
    et_neigh_entry *ea = et_neigh_get(&na, IP_B, 100);
    REQUIRE(ea != NULL);
    uint8_t f[42];
    uint32_t len = et_arp_build(f, 1, MAC_A, IP_A, NULL, IP_B);
    REQUIRE(et_parse_frame(f, len, MAC_B, IP_B, 0, &seg, &arp, &why) == ET_FRAME_ARP);
    /* B: the request is addressed to it, so it creates an entry for A and replies. */
    CHECK(arp.tpa == IP_B);
    et_neigh_entry *eb = et_neigh_learn(&nb, arp.spa, arp.sha, arp.tpa == IP_B, 110, NULL);
    REQUIRE(eb != NULL);
    CHECK(eb->resolved);
    CHECK(memcmp(eb->mac, MAC_A, 6) == 0);
    len = et_arp_build(f, 2, MAC_B, IP_B, eb->mac, eb->ip);
    CHECK_EQ(len, 42);
    CHECK(memcmp(f, MAC_A, 6) == 0);
    CHECK(memcmp(f + 6, MAC_B, 6) == 0);
    /* The reply is unicast: another host does not take it. */
    CHECK_EQ(et_parse_frame(f, len, MAC_C, 0, 0, &seg, &arp, &why), ET_FRAME_DROP);
    CHECK_EQ(why, EFVITCP_DROP_NOT_OURS);
    /* A takes it and resolves its pending entry. */
    REQUIRE(et_parse_frame(f, len, MAC_A, IP_A, 0, &seg, &arp, &why) == ET_FRAME_ARP);
    CHECK_EQ(arp.oper, 2);
    CHECK(memcmp(arp.sha, MAC_B, 6) == 0);
    CHECK(memcmp(arp.tha, MAC_A, 6) == 0);
    CHECK_EQ(arp.spa, IP_B);
    CHECK_EQ(arp.tpa, IP_A);
    CHECK(et_neigh_learn(&na, arp.spa, arp.sha, false, 120, NULL) == ea);
    CHECK(ea->resolved);
    CHECK(memcmp(ea->mac, MAC_B, 6) == 0);
    CHECK_EQ(ea->updated_ns, 120);

    /* Padded to the Ethernet minimum, the reply still parses. */
    uint8_t p[60] = {0};
    memcpy(p, f, 42);
    CHECK_EQ(et_parse_frame(p, 60, MAC_A, IP_A, 0, &seg, &arp, &why), ET_FRAME_ARP);
    et_neigh_free(&na);
    et_neigh_free(&nb);
}

int main(void)
{
    RUN(test_init_and_empty);
    RUN(test_get_creates_unresolved);
    RUN(test_learn_rules);
    RUN(test_learn_news);
    RUN(test_eviction);
    RUN(test_random_ops);
    RUN(test_arp_request_bytes);
    RUN(test_arp_reply_roundtrip);
    return th_summary();
}
