/* Frame parsing: every drop reason, padding, IP and TCP options, and hostile input (every
   truncation, every single-byte change, random options and random frames). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "net/headers.h"
#include "net/parse.h"

static const uint8_t MY_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define MY_IP   0xc6120001u /* 198.18.0.1 */
#define PEER_IP 0xc6120002u /* 198.18.0.2 */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* ---- frame builder (independent of the library's checksum code) ---- */

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}
static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t naive_sum(uint32_t s, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i += 2) {
        s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
        s = (s & 0xffff) + (s >> 16);
    }
    return s;
}

/* Recomputes the IP and TCP checksums of a frame from what its headers say, where they fit. */
static void fix_csums(uint8_t *f, uint32_t len)
{
    if (len < 34) return;
    uint8_t *ip = f + 14;
    uint32_t ihl = (ip[0] & 0xfu) * 4;
    if (ihl < 20 || 14 + ihl > len) return;
    put16(ip + 10, 0);
    put16(ip + 10, ~naive_sum(0, ip, ihl));
    uint32_t tot = get16(ip + 2);
    if (tot < ihl + 20 || 14 + tot > len) return;
    uint8_t *tcp = ip + ihl;
    uint32_t tlen = tot - ihl;
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = ip[9];
    put16(ph + 10, tlen);
    put16(tcp + 16, 0);
    put16(tcp + 16, ~naive_sum(naive_sum(0, ph, 12), tcp, tlen));
}

typedef struct spec {
    const uint8_t *ipopt;
    uint32_t ipopt_len; /* multiple of 4 */
    const uint8_t *topt;
    uint32_t topt_len; /* multiple of 4 */
    uint32_t plen;
    uint32_t pad; /* Ethernet padding after the datagram */
} spec;

/* Writes a valid TCP/IPv4 frame from PEER to us and returns its length. */
static uint32_t build_tcp(uint8_t *f, const spec *s)
{
    uint32_t ihl = 20 + s->ipopt_len, doff = 20 + s->topt_len;
    uint32_t tot = ihl + doff + s->plen;
    memcpy(f, MY_MAC, 6);
    memcpy(f + 6, PEER_MAC, 6);
    put16(f + 12, ET_ETHERTYPE_IP);
    uint8_t *ip = f + 14;
    ip[0] = (uint8_t)(0x40 | ihl / 4);
    ip[1] = 0;
    put16(ip + 2, tot);
    put16(ip + 4, 0x1234);
    put16(ip + 6, ET_IP_DF);
    ip[8] = 64;
    ip[9] = ET_IPPROTO_TCP;
    put32(ip + 12, PEER_IP);
    put32(ip + 16, MY_IP);
    if (s->ipopt_len) memcpy(ip + 20, s->ipopt, s->ipopt_len);
    uint8_t *tcp = ip + ihl;
    put16(tcp, 40000);
    put16(tcp + 2, 80);
    put32(tcp + 4, 0x01020304);
    put32(tcp + 8, 0xfffffff0);
    tcp[12] = (uint8_t)(doff / 4 << 4);
    tcp[13] = ET_TCP_ACK | ET_TCP_PSH;
    put16(tcp + 14, 0x1000);
    put16(tcp + 18, 0);
    if (s->topt_len) memcpy(tcp + 20, s->topt, s->topt_len);
    for (uint32_t i = 0; i < s->plen; i++) tcp[doff + i] = (uint8_t)(i * 7 + 1);
    for (uint32_t i = 0; i < s->pad; i++) f[14 + tot + i] = 0xee;
    uint32_t len = 14 + tot + s->pad;
    fix_csums(f, len);
    return len;
}

static uint32_t build_arp(uint8_t *f, uint16_t oper, const uint8_t *dst)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, PEER_MAC, 6);
    put16(f + 12, ET_ETHERTYPE_ARP);
    uint8_t *a = f + 14;
    put16(a, 1);
    put16(a + 2, ET_ETHERTYPE_IP);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, oper);
    memcpy(a + 8, PEER_MAC, 6);
    put32(a + 14, PEER_IP);
    memcpy(a + 18, oper == 1 ? (const uint8_t[6]){0} : MY_MAC, 6);
    put32(a + 24, MY_IP);
    return 42;
}

/* ---- parse helpers ---- */

typedef struct result {
    et_frame_kind kind;
    efvitcp_drop_reason why;
    et_tcp_seg seg;
    et_arp_msg arp;
} result;

/* Out of line: gcc 12 at -O3 moves the rebasing below an inlined free() and then warns about
   its own reordering (-Wuse-after-free). */
static __attribute__((noinline)) void free_copy(uint8_t *copy)
{
    free(copy);
}

/* Parses a private heap copy of exactly len bytes so that ASan sees any read past the end. */
/* hw: the checksums the link says the hardware verified (ET_RX_CSUM_*); 0 verifies both. */
static result parse_hw(const uint8_t *f, uint32_t len, uint32_t my_ip, uint32_t hw)
{
    result r;
    memset(&r, 0, sizeof(r));
    r.why = EFVITCP_DROP_REASONS;
    uint8_t *copy = calloc(1, len ? len : 1);
    if (len) memcpy(copy, f, len);
    r.kind = et_parse_frame(copy, len, MY_MAC, my_ip, hw, &r.seg, &r.arp, &r.why);
    if (r.kind == ET_FRAME_TCP) {
        /* Rebase pointers onto f so callers can compare them after the copy is freed. */
        r.seg.src_mac = f + (r.seg.src_mac - copy);
        r.seg.payload = f + (r.seg.payload - copy);
    }
    free_copy(copy);
    return r;
}

static result parse_ex(const uint8_t *f, uint32_t len, uint32_t my_ip, bool csum)
{
    return parse_hw(f, len, my_ip, csum ? 0 : ET_RX_CSUM_IP | ET_RX_CSUM_TCP);
}

static result parse(const uint8_t *f, uint32_t len)
{
    return parse_ex(f, len, MY_IP, true);
}

#define CHECK_DROP(r, reason)                                                                      \
    do {                                                                                           \
        result r_ = (r);                                                                           \
        CHECK_EQ(r_.kind, ET_FRAME_DROP);                                                          \
        CHECK_EQ(r_.why, reason);                                                                  \
    } while (0)

/* ---- tests ---- */

static void test_valid_segment(void)
{
    uint8_t f[256];
    const uint8_t topt[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 1, 3, 3, 7};
    spec s = {.topt = topt, .topt_len = 20, .plen = 100};
    uint32_t len = build_tcp(f, &s);
    result r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK(r.seg.src_mac == f + 6);
    CHECK_EQ(r.seg.saddr, PEER_IP);
    CHECK_EQ(r.seg.daddr, MY_IP);
    CHECK_EQ(r.seg.sport, 40000);
    CHECK_EQ(r.seg.dport, 80);
    CHECK_EQ(r.seg.seq, 0x01020304);
    CHECK_EQ(r.seg.ack, 0xfffffff0u);
    CHECK_EQ(r.seg.flags, ET_TCP_ACK | ET_TCP_PSH);
    CHECK_EQ(r.seg.window, 0x1000);
    CHECK(r.seg.payload == f + 14 + 20 + 40);
    CHECK_EQ(r.seg.len, 100);
    CHECK(r.seg.opt.has_mss && r.seg.opt.mss == 1460);
    CHECK(r.seg.opt.sack_perm);
    CHECK(r.seg.opt.has_ts && r.seg.opt.tsval == 7 && r.seg.opt.tsecr == 9);
    CHECK(r.seg.opt.has_ws && r.seg.opt.ws == 7);

    /* A bare header with no payload; my_ip 0 accepts any unicast destination. */
    spec bare = {0};
    len = build_tcp(f, &bare);
    r = parse_ex(f, len, 0, true);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.len, 0);
    CHECK(r.seg.payload == f + len);
    CHECK(!r.seg.opt.has_mss && !r.seg.opt.has_ws && !r.seg.opt.has_ts && !r.seg.opt.sack_perm);
    put32(f + 14 + 16, 0x0a000001);
    fix_csums(f, len);
    CHECK_EQ(parse_ex(f, len, 0, true).kind, ET_FRAME_TCP);
    CHECK_DROP(parse_ex(f, len, MY_IP, true), EFVITCP_DROP_NOT_OURS);
}

static void test_runts(void)
{
    uint8_t f[256];
    spec s = {.plen = 10};
    uint32_t len = build_tcp(f, &s);
    for (uint32_t l = 0; l < 34; l++) CHECK_DROP(parse(f, l), EFVITCP_DROP_RUNT);
    /* IP options announced by IHL but cut by the frame end. */
    put16(f + 14 + 2, 20);
    f[14] = 0x46;
    CHECK_DROP(parse_ex(f, 37, MY_IP, false), EFVITCP_DROP_RUNT);
    CHECK_DROP(parse_ex(f, 38, MY_IP, false), EFVITCP_DROP_IP_HEADER); /* tot_len < IHL*4 */
    /* A datagram too short for the fixed TCP header. */
    len = build_tcp(f, &s);
    for (uint32_t t = 20; t < 40; t++) {
        put16(f + 14 + 2, t);
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_RUNT);
    }
    /* ARP shorter than its 28 bytes. */
    len = build_arp(f, 1, BCAST);
    for (uint32_t l = 14; l < 42; l++) CHECK_DROP(parse(f, l), EFVITCP_DROP_RUNT);
    CHECK_EQ(parse(f, 42).kind, ET_FRAME_ARP);
}

static void test_ethertype(void)
{
    uint8_t f[256];
    spec s = {.plen = 4};
    uint32_t len = build_tcp(f, &s);
    const uint16_t types[] = {0x86dd, 0x8100, 0x88a8, 0x0000, 0xffff, 0x0801, 0x0805};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        put16(f + 12, types[i]);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_ETHERTYPE);
    }
    /* A real 802.1Q-tagged frame: the tag is not stripped here. */
    uint8_t t[260];
    len = build_tcp(f, &s);
    memcpy(t, f, 12);
    put16(t + 12, ET_ETHERTYPE_VLAN);
    put16(t + 14, 100);
    memcpy(t + 16, f + 12, len - 12);
    CHECK_DROP(parse(t, len + 4), EFVITCP_DROP_ETHERTYPE);
}

static void test_not_ours(void)
{
    uint8_t f[256];
    spec s = {.plen = 4};
    uint32_t len = build_tcp(f, &s);
    f[5] ^= 1; /* another unicast MAC */
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);
    memcpy(f, BCAST, 6); /* broadcast is for ARP only */
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);
    const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    memcpy(f, mcast, 6);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);

    len = build_tcp(f, &s);
    put32(f + 14 + 16, MY_IP + 1);
    fix_csums(f, len);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);
    /* With any address accepted, group destinations are still refused (RFC 1122 §4.2.3.10). */
    const uint32_t groups[] = {0xffffffffu, 0xe0000001u, 0xefffffffu, 0xf0000000u};
    for (size_t i = 0; i < 4; i++) {
        put32(f + 14 + 16, groups[i]);
        fix_csums(f, len);
        CHECK_DROP(parse_ex(f, len, 0, true), EFVITCP_DROP_NOT_OURS);
    }
    put32(f + 14 + 16, 0xdfffffffu);
    fix_csums(f, len);
    CHECK_EQ(parse_ex(f, len, 0, true).kind, ET_FRAME_TCP);

    /* ARP: broadcast and our MAC are accepted, another unicast MAC is not. */
    len = build_arp(f, 1, BCAST);
    CHECK_EQ(parse(f, len).kind, ET_FRAME_ARP);
    len = build_arp(f, 2, MY_MAC);
    CHECK_EQ(parse(f, len).kind, ET_FRAME_ARP);
    len = build_arp(f, 2, PEER_MAC);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);
    len = build_arp(f, 1, mcast);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_NOT_OURS);
}

static void test_ip_header(void)
{
    uint8_t f[256];
    spec s = {.plen = 30};
    uint32_t len;
    /* Version and IHL, checksums kept valid so that the header check is what drops. */
    const uint8_t vi[] = {0x65, 0x05, 0x45 ^ 0x10, 0x44, 0x40, 0x41, 0x00, 0xf5};
    for (size_t i = 0; i < sizeof(vi); i++) {
        len = build_tcp(f, &s);
        f[14] = vi[i];
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_HEADER);
    }
    /* Total length below the header or beyond the frame. */
    uint32_t tot = 20 + 20 + 30;
    const uint32_t bad_tot[] = {0, 1, 19, tot + 1, 0xffff};
    for (size_t i = 0; i < 5; i++) {
        len = build_tcp(f, &s);
        put16(f + 16, bad_tot[i]);
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_HEADER);
    }
    /* Fragments: MF, any offset; DF and the reserved bit alone are fine. */
    const uint16_t frag[] = {0x2000, 0x0001, 0x1fff, 0x2000 | ET_IP_DF, 0x4001, 0x8001};
    for (size_t i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
        len = build_tcp(f, &s);
        put16(f + 14 + 6, frag[i]);
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_HEADER);
    }
    const uint16_t ok_frag[] = {0, ET_IP_DF, 0x8000};
    for (size_t i = 0; i < 3; i++) {
        len = build_tcp(f, &s);
        put16(f + 14 + 6, ok_frag[i]);
        fix_csums(f, len);
        CHECK_EQ(parse(f, len).kind, ET_FRAME_TCP);
    }
    /* Source addresses no reply may go to (RFC 1122 §3.2.1.3). */
    const uint32_t bad_src[] = {0, 0xffffffffu, 0xe0000005u, 0xf0000001u};
    for (size_t i = 0; i < 4; i++) {
        len = build_tcp(f, &s);
        put32(f + 14 + 12, bad_src[i]);
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_HEADER);
    }
}

static void test_ip_csum(void)
{
    uint8_t f[256];
    spec s = {.plen = 3};
    uint32_t len = build_tcp(f, &s);
    f[14 + 10] ^= 0x01;
    CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_CSUM);
    CHECK_EQ(parse_ex(f, len, MY_IP, false).kind, ET_FRAME_TCP);
    len = build_tcp(f, &s);
    f[14 + 8] = 63; /* TTL changed without updating the checksum */
    CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_CSUM);
    CHECK_EQ(parse_ex(f, len, MY_IP, false).kind, ET_FRAME_TCP);
}

/* Each flag trusts only its own checksum, and only for a header the hardware classifies the
   simple way (no IP options): anything else is verified in software whatever the link says. */
static void test_hw_csum_per_flag(void)
{
    uint8_t f[256];
    spec s = {.plen = 5};
    uint32_t len = build_tcp(f, &s);
    f[14 + 10] ^= 0x01; /* bad IP checksum, good TCP checksum */
    CHECK_DROP(parse_hw(f, len, MY_IP, 0), EFVITCP_DROP_IP_CSUM);
    CHECK_DROP(parse_hw(f, len, MY_IP, ET_RX_CSUM_TCP), EFVITCP_DROP_IP_CSUM);
    CHECK_EQ(parse_hw(f, len, MY_IP, ET_RX_CSUM_IP).kind, ET_FRAME_TCP);
    len = build_tcp(f, &s);
    f[len - 1] ^= 0x10; /* good IP checksum, bad TCP checksum */
    CHECK_DROP(parse_hw(f, len, MY_IP, 0), EFVITCP_DROP_TCP_CSUM);
    CHECK_DROP(parse_hw(f, len, MY_IP, ET_RX_CSUM_IP), EFVITCP_DROP_TCP_CSUM);
    CHECK_EQ(parse_hw(f, len, MY_IP, ET_RX_CSUM_TCP).kind, ET_FRAME_TCP);

    /* With IP options the claim is ignored. */
    const uint8_t ipopt[4] = {1, 1, 1, 0}; /* NOP, NOP, NOP, EOL */
    spec o = {.plen = 5, .ipopt = ipopt, .ipopt_len = 4};
    len = build_tcp(f, &o);
    REQUIRE(parse_hw(f, len, MY_IP, 0).kind == ET_FRAME_TCP);
    f[14 + 10] ^= 0x01;
    CHECK_DROP(parse_hw(f, len, MY_IP, ET_RX_CSUM_IP | ET_RX_CSUM_TCP), EFVITCP_DROP_IP_CSUM);
    len = build_tcp(f, &o);
    f[len - 1] ^= 0x10;
    CHECK_DROP(parse_hw(f, len, MY_IP, ET_RX_CSUM_IP | ET_RX_CSUM_TCP), EFVITCP_DROP_TCP_CSUM);
}

static void test_proto(void)
{
    uint8_t f[256];
    spec s = {.plen = 8};
    const uint8_t protos[] = {0, 1, 17, 41, 132, 255};
    for (size_t i = 0; i < sizeof(protos); i++) {
        uint32_t len = build_tcp(f, &s);
        f[14 + 9] = protos[i];
        fix_csums(f, len);
        CHECK_DROP(parse(f, len), EFVITCP_DROP_PROTO);
    }
}

static void test_tcp_header_and_csum(void)
{
    uint8_t f[256];
    spec s = {.plen = 8};
    uint32_t len;
    /* Data offset below 5, or beyond the datagram. */
    for (uint32_t d = 0; d < 16; d++) {
        len = build_tcp(f, &s);
        f[14 + 20 + 12] = (uint8_t)(d << 4);
        fix_csums(f, len);
        result r = parse(f, len);
        if (d < 5 || d * 4 > 28) {
            CHECK_DROP(r, EFVITCP_DROP_TCP_HEADER);
        } else {
            /* The 'options' are then payload bytes 1, 8, 15...: NOP, then kind 8 length 15,
               which overruns: malformed, unless the area is a single NOP. */
            if (d == 5) CHECK_EQ(r.kind, ET_FRAME_TCP);
            if (d == 6) CHECK_DROP(r, EFVITCP_DROP_TCP_HEADER);
            if (r.kind == ET_FRAME_TCP) CHECK_EQ(r.seg.len, 28 - d * 4);
        }
    }
    /* Data offset exactly at the datagram end: no payload, options fill the rest. */
    const uint8_t nops[8] = {1, 1, 1, 1, 1, 1, 1, 0};
    spec o = {.topt = nops, .topt_len = 8};
    len = build_tcp(f, &o);
    result r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.len, 0);

    /* TCP checksum: payload, header and pseudo-header fields are covered. */
    len = build_tcp(f, &s);
    f[len - 1] ^= 0x80;
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_CSUM);
    CHECK_EQ(parse_ex(f, len, MY_IP, false).kind, ET_FRAME_TCP);
    len = build_tcp(f, &s);
    f[14 + 20 + 16] ^= 0xff;
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_CSUM);
    len = build_tcp(f, &s);
    /* Source address changed with a fixed IP checksum but a stale TCP one. */
    put32(f + 14 + 12, PEER_IP + 1);
    put16(f + 14 + 10, 0);
    put16(f + 14 + 10, ~naive_sum(0, f + 14, 20));
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_CSUM);
    /* A checksum of zero is not "no checksum" in TCP. */
    len = build_tcp(f, &s);
    put16(f + 14 + 20 + 16, 0);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_CSUM);
    /* Odd payload lengths are padded with zero for the sum, padding bytes are not included. */
    for (uint32_t pl = 0; pl < 8; pl++) {
        spec p = {.plen = pl, .pad = 5};
        len = build_tcp(f, &p);
        r = parse(f, len);
        CHECK_EQ(r.kind, ET_FRAME_TCP);
        CHECK_EQ(r.seg.len, pl);
    }
}

static void test_padding(void)
{
    uint8_t f[256];
    /* A pure ACK is 54 bytes, padded to the 60-byte minimum with garbage. */
    spec s = {.pad = 6};
    uint32_t len = build_tcp(f, &s);
    CHECK_EQ(len, 60);
    result r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.len, 0);
    /* Payload length comes from the IP total length, not the frame. */
    spec p = {.plen = 3, .pad = 3};
    len = build_tcp(f, &p);
    r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.len, 3);
    CHECK_EQ(r.seg.payload[2], 15);
    /* Large padding is still just padding. */
    spec big = {.plen = 1, .pad = 150};
    len = build_tcp(f, &big);
    r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.len, 1);
    /* ARP padded to 60 bytes. */
    len = build_arp(f, 2, MY_MAC);
    memset(f + len, 0x55, 18);
    CHECK_EQ(parse(f, 60).kind, ET_FRAME_ARP);
}

static void test_ip_options(void)
{
    uint8_t f[256];
    /* Router alert (RFC 2113) plus NOP/EOL padding, then every IHL up to 15. */
    const uint8_t ra[4] = {0x94, 0x04, 0x00, 0x00};
    spec s = {.ipopt = ra, .ipopt_len = 4, .plen = 5};
    uint32_t len = build_tcp(f, &s);
    result r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_TCP);
    CHECK_EQ(r.seg.sport, 40000);
    CHECK(r.seg.payload == f + 14 + 24 + 20);
    CHECK_EQ(r.seg.len, 5);
    uint8_t opts[40];
    memset(opts, 1, sizeof(opts));
    for (uint32_t n = 0; n <= 40; n += 4) {
        spec o = {.ipopt = opts, .ipopt_len = n, .plen = 2};
        len = build_tcp(f, &o);
        r = parse(f, len);
        REQUIRE(r.kind == ET_FRAME_TCP);
        CHECK_EQ(r.seg.dport, 80);
        CHECK_EQ(r.seg.len, 2);
        CHECK(r.seg.payload == f + 14 + 20 + n + 20);
    }
    /* Options are covered by the IP checksum. */
    len = build_tcp(f, &s);
    f[14 + 21] ^= 1;
    CHECK_DROP(parse(f, len), EFVITCP_DROP_IP_CSUM);
}

static bool opts(const uint8_t *p, uint32_t len, et_tcp_opts *o)
{
    /* A heap copy of exactly len bytes: an overrun is an ASan error. */
    uint8_t *c = calloc(1, len ? len : 1);
    if (len) memcpy(c, p, len);
    memset(o, 0xa5, sizeof(*o)); /* stale contents must be cleared */
    bool ok = et_parse_tcp_options(c, len, o);
    free(c);
    return ok;
}

static void test_tcp_options(void)
{
    et_tcp_opts o;
    CHECK(opts(NULL, 0, &o));
    CHECK(!o.has_mss && !o.has_ws && !o.has_ts && !o.sack_perm);

    const uint8_t syn[] = {2,    4,    0x23, 0x28, 4, 2, 8, 10, 0xde, 0xad,
                           0xbe, 0xef, 0,    0,    0, 0, 1, 3,  3,    14};
    CHECK(opts(syn, sizeof(syn), &o));
    CHECK(o.has_mss && o.mss == 9000);
    CHECK(o.sack_perm);
    CHECK(o.has_ts && o.tsval == 0xdeadbeef && o.tsecr == 0);
    CHECK(o.has_ws && o.ws == 14);

    /* Values are passed on as received; the caller applies floors and clamps. */
    const uint8_t odd[] = {2, 4, 0, 0, 3, 3, 255, 0};
    CHECK(opts(odd, sizeof(odd), &o));
    CHECK(o.has_mss && o.mss == 0);
    CHECK(o.has_ws && o.ws == 255);

    /* EOL ends the list: what follows is padding, even if it looks like an option or junk. */
    const uint8_t eol_mid[] = {1, 0, 2, 4, 5, 0xb4, 0xff, 0x00};
    CHECK(opts(eol_mid, sizeof(eol_mid), &o));
    CHECK(!o.has_mss);
    const uint8_t eol_first[] = {0, 30, 0, 1};
    CHECK(opts(eol_first, sizeof(eol_first), &o));

    /* NOPs only and unknown kinds skipped by length; SACK blocks (RFC 2018 §3) taken. */
    const uint8_t nops[] = {1, 1, 1, 1};
    CHECK(opts(nops, 4, &o));
    const uint8_t unknown[] = {30, 6, 9, 9, 9, 9, 2, 4, 1, 0, 254, 2};
    CHECK(opts(unknown, sizeof(unknown), &o));
    CHECK(o.has_mss && o.mss == 256);
    const uint8_t sack[] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2};
    CHECK(opts(sack, sizeof(sack), &o));
    CHECK(o.n_sack == 1 && o.sack[0].start == 1 && o.sack[0].end == 2 && !o.sack_bad);
    /* RFC 2018 §3: up to four blocks fit the option space; all are taken, in order. */
    const uint8_t sack4[] = {1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,    3,    0,    0,
                             0, 4, 0, 0,  0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff};
    CHECK(opts(sack4, sizeof(sack4), &o));
    CHECK(o.n_sack == 4 && o.sack[3].start == 7 && o.sack[3].end == 0xffffffffu);
    /* A length that is not 2 + 8n, or a second SACK option: ignored and flagged, the other
       options still taken. */
    const uint8_t sack_odd[] = {5, 6, 0, 0, 0, 1, 2, 4, 1, 0};
    CHECK(opts(sack_odd, sizeof(sack_odd), &o));
    CHECK(o.n_sack == 0 && o.sack_bad && o.has_mss);
    const uint8_t sack_two[] = {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4};
    CHECK(opts(sack_two, sizeof(sack_two), &o));
    CHECK(o.n_sack == 1 && o.sack[0].start == 1 && o.sack_bad);
    const uint8_t exact_end[] = {1, 1, 30, 2};
    CHECK(opts(exact_end, 4, &o));

    /* Malformed: zero and one as length (the infinite-loop trap), overrun, a kind with no room
       for its length octet. */
    const uint8_t zero_len[] = {30, 0, 1, 1};
    CHECK(!opts(zero_len, 4, &o));
    const uint8_t zero_len_known[] = {2, 0, 1, 1};
    CHECK(!opts(zero_len_known, 4, &o));
    const uint8_t one_len[] = {30, 1, 1, 1};
    CHECK(!opts(one_len, 4, &o));
    const uint8_t overrun[] = {1, 30, 4, 0};
    CHECK(!opts(overrun, 4, &o));
    const uint8_t overrun_big[] = {30, 255, 0, 0};
    CHECK(!opts(overrun_big, 4, &o));
    const uint8_t no_len[] = {1, 1, 1, 30};
    CHECK(!opts(no_len, 4, &o));
    const uint8_t mss_cut[] = {1, 1, 2, 4, 5};
    CHECK(!opts(mss_cut, 5, &o));
    const uint8_t ts_cut[] = {8, 10, 0, 0, 0, 1, 0, 0};
    CHECK(!opts(ts_cut, sizeof(ts_cut), &o));

    /* Known kinds with a wrong length. */
    const uint8_t bad[][12] = {
        {2, 3, 5, 1},
        {2, 5, 5, 1, 0, 1},
        {2, 2, 1, 1},
        {3, 2, 1, 1},
        {3, 4, 7, 0},
        {4, 3, 0, 1},
        {4, 4, 0, 0},
        {8, 8, 0, 0, 0, 0, 0, 0},
        {8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {8, 2, 1, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) CHECK(!opts(bad[i], 12, &o));

    /* Through the frame parser, malformed options drop the segment. */
    uint8_t f[256];
    spec s = {.topt = zero_len, .topt_len = 4, .plen = 1};
    uint32_t len = build_tcp(f, &s);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_HEADER);
    s.topt = overrun;
    len = build_tcp(f, &s);
    CHECK_DROP(parse(f, len), EFVITCP_DROP_TCP_HEADER);
    s.topt = eol_first;
    len = build_tcp(f, &s);
    CHECK_EQ(parse(f, len).kind, ET_FRAME_TCP);
}

static void test_arp(void)
{
    uint8_t f[64];
    uint32_t len = build_arp(f, 1, BCAST);
    result r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_ARP);
    CHECK_EQ(r.arp.oper, 1);
    CHECK(memcmp(r.arp.sha, PEER_MAC, 6) == 0);
    CHECK_EQ(r.arp.spa, PEER_IP);
    CHECK_EQ(r.arp.tpa, MY_IP);
    CHECK(memcmp(r.arp.tha, (const uint8_t[6]){0}, 6) == 0);
    len = build_arp(f, 2, MY_MAC);
    r = parse(f, len);
    REQUIRE(r.kind == ET_FRAME_ARP);
    CHECK_EQ(r.arp.oper, 2);
    CHECK(memcmp(r.arp.tha, MY_MAC, 6) == 0);

    /* htype, ptype, hlen, plen, oper out of the Ethernet/IPv4 request/reply set. */
    const struct {
        uint32_t off, val, bytes;
    } bad[] = {{0, 6, 2},  {0, 0, 2}, {2, 0x86dd, 2}, {2, 0x0806, 2}, {4, 8, 1}, {4, 0, 1},
               {5, 16, 1}, {5, 6, 1}, {6, 0, 2},      {6, 3, 2},      {6, 4, 2}, {6, 0x0101, 2}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = build_arp(f, 1, BCAST);
        if (bad[i].bytes == 2)
            put16(f + 14 + bad[i].off, bad[i].val);
        else
            f[14 + bad[i].off] = (uint8_t)bad[i].val;
        CHECK_DROP(parse(f, len), EFVITCP_DROP_ARP);
    }
}

/* ---- hostile input ---- */

/* Whatever the bytes, the result must be one of the three kinds, a drop must carry a parse-level
   reason, and a segment must lie inside the frame. */
static void check_sane(const uint8_t *f, uint32_t len, const result *r, uint32_t my_ip)
{
    switch (r->kind) {
    case ET_FRAME_DROP:
        CHECK(r->why <= EFVITCP_DROP_ARP);
        break;
    case ET_FRAME_TCP:
        CHECK(len >= 54);
        CHECK(r->seg.src_mac == f + 6);
        CHECK(r->seg.payload >= f + 54);
        CHECK(r->seg.payload + r->seg.len <= f + len);
        if (my_ip) CHECK_EQ(r->seg.daddr, my_ip);
        break;
    case ET_FRAME_ARP:
        CHECK(len >= 42);
        CHECK(r->arp.oper == 1 || r->arp.oper == 2);
        break;
    default:
        CHECK(!"unknown kind");
    }
}

static bool same_seg(const et_tcp_seg *a, const et_tcp_seg *b)
{
    return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
           a->dport == b->dport && a->seq == b->seq && a->ack == b->ack && a->flags == b->flags &&
           a->window == b->window && a->payload == b->payload && a->len == b->len &&
           a->opt.has_mss == b->opt.has_mss && a->opt.mss == b->opt.mss &&
           a->opt.has_ws == b->opt.has_ws && a->opt.ws == b->opt.ws &&
           a->opt.has_ts == b->opt.has_ts && a->opt.tsval == b->opt.tsval &&
           a->opt.tsecr == b->opt.tsecr && a->opt.sack_perm == b->opt.sack_perm;
}

static uint32_t sample_frame(uint8_t *f, int variant)
{
    static const uint8_t ipopt[8] = {0x94, 0x04, 0, 0, 1, 1, 1, 0};
    static const uint8_t topt[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2,
                                     3, 4, 5, 6,    7, 8, 1, 3,  3, 7};
    spec s = {.topt = topt, .topt_len = 20, .plen = 33};
    if (variant == 1) {
        s.ipopt = ipopt;
        s.ipopt_len = 8;
        s.pad = 7;
    }
    if (variant == 2) {
        spec e = {.pad = 6};
        return build_tcp(f, &e);
    }
    return build_tcp(f, &s);
}

static void test_truncation_sweep(void)
{
    uint8_t f[256];
    for (int v = 0; v < 3; v++) {
        uint32_t len = sample_frame(f, v);
        result full = parse(f, len);
        REQUIRE(full.kind == ET_FRAME_TCP);
        uint32_t dgram_end = 14 + get16(f + 16);
        for (uint32_t l = 0; l <= len; l++) {
            for (int c = 0; c < 2; c++) {
                result r = parse_ex(f, l, MY_IP, c);
                check_sane(f, l, &r, MY_IP);
                if (l < dgram_end) {
                    /* Cut inside the datagram: always dropped, never read beyond l. */
                    CHECK_EQ(r.kind, ET_FRAME_DROP);
                    CHECK(r.why == EFVITCP_DROP_RUNT || r.why == EFVITCP_DROP_IP_HEADER);
                } else {
                    /* Cut inside the padding only: the same segment. */
                    CHECK_EQ(r.kind, ET_FRAME_TCP);
                    CHECK(same_seg(&r.seg, &full.seg));
                }
            }
        }
        /* The ARP path too. */
        len = build_arp(f, 1, BCAST);
        for (uint32_t l = 0; l <= len; l++) {
            result r = parse(f, l);
            check_sane(f, l, &r, MY_IP);
            CHECK_EQ(r.kind, l < 42 ? ET_FRAME_DROP : ET_FRAME_ARP);
        }
    }
}

static void test_byte_flip_sweep(void)
{
    uint8_t f[256], g[256];
    for (int v = 0; v < 3; v++) {
        uint32_t len = sample_frame(f, v);
        result full = parse(f, len);
        REQUIRE(full.kind == ET_FRAME_TCP);
        uint32_t dgram_end = 14 + get16(f + 16);
        for (uint32_t i = 0; i < len; i++) {
            for (int x = 0; x < 9; x++) {
                uint8_t mask = x < 8 ? (uint8_t)(1u << x) : 0xff;
                memcpy(g, f, len);
                g[i] ^= mask;
                /* With checksums: any one changed byte of the datagram is caught (a ones'-
                   complement sum misses only 0x0000 <-> 0xffff word changes, which need two
                   bytes), so only the source MAC and the padding may change unnoticed. */
                result r = parse_ex(g, len, MY_IP, true);
                check_sane(g, len, &r, MY_IP);
                if ((i >= 6 && i < 12) || i >= dgram_end) {
                    CHECK_EQ(r.kind, ET_FRAME_TCP);
                    if (r.kind == ET_FRAME_TCP) {
                        r.seg.payload = r.seg.payload - g + f;
                        CHECK(same_seg(&r.seg, &full.seg));
                    }
                } else {
                    CHECK_EQ(r.kind, ET_FRAME_DROP);
                }
                /* Without checksums: anything may pass, but sanely. */
                r = parse_ex(g, len, 0, false);
                check_sane(g, len, &r, 0);
            }
        }
    }
}

/* Random option areas with valid checksums reach the option parser through the frame parser. */
static void test_random_options(void)
{
    uint8_t f[256], topt[40];
    const uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 8, 30, 255};
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint32_t n = 4 * (next_rand() % 11);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t r = next_rand() % 4;
            /* Mostly plausible kinds and small lengths, so that deep paths are hit. */
            topt[i] = r == 0   ? (uint8_t)next_rand()
                      : r == 1 ? (uint8_t)(next_rand() % 12)
                               : kinds[next_rand() % sizeof(kinds)];
        }
        spec s = {.topt = topt, .topt_len = n, .plen = next_rand() % 8};
        uint32_t len = build_tcp(f, &s);
        result r = parse(f, len);
        check_sane(f, len, &r, MY_IP);
        if (r.kind == ET_FRAME_TCP) {
            accepted++;
            CHECK_EQ(r.seg.len, s.plen);
        } else {
            rejected++;
            CHECK_EQ(r.why, EFVITCP_DROP_TCP_HEADER);
        }
        /* The frame parser and the option parser agree. */
        et_tcp_opts o;
        CHECK_EQ(opts(topt, n, &o), r.kind == ET_FRAME_TCP);
    }
    CHECK(accepted > 1000);
    CHECK(rejected > 1000);
}

/* NOP NOP TS is parsed without the option walk: same result as the walk (the same bytes with
   EOL padding take the walk), and near misses of the layout still take the walk. */
static void test_timestamp_layout_fast_path(void)
{
    for (int iter = 0; iter < 10000; iter++) {
        uint8_t o[16] = {1, 1, 8, 10};
        for (int i = 4; i < 12; i++) o[i] = (uint8_t)next_rand();
        et_tcp_opts fast, walk;
        CHECK(opts(o, 12, &fast));
        CHECK(opts(o, 16, &walk)); /* four EOL bytes after: not the fast layout */
        CHECK(fast.has_ts && walk.has_ts);
        CHECK_EQ(fast.tsval, walk.tsval);
        CHECK_EQ(fast.tsecr, walk.tsecr);
        CHECK_EQ(fast.tsval, (uint32_t)o[4] << 24 | (uint32_t)o[5] << 16 | o[6] << 8 | o[7]);
        CHECK(!fast.has_mss && !fast.has_ws && !fast.sack_perm);
    }
    /* TS with a wrong length, and a different kind, in the same 12 bytes */
    uint8_t bad_len[12] = {1, 1, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0};
    et_tcp_opts r;
    CHECK(!opts(bad_len, 12, &r));
    uint8_t mss_ts[12] = {2, 4, 0x05, 0xb4, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(opts(mss_ts, 12, &r));
    CHECK(r.has_mss && !r.has_ts);
}

/* Random bytes behind a valid Ethernet header, and random bytes altogether. */
static void test_random_frames(void)
{
    uint8_t f[256];
    for (int iter = 0; iter < 300000; iter++) {
        uint32_t len = next_rand() % sizeof(f);
        for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)next_rand();
        if (iter % 2 && len >= 34) {
            memcpy(f, MY_MAC, 6);
            put16(f + 12, iter % 4 == 1 ? ET_ETHERTYPE_IP : ET_ETHERTYPE_ARP);
            if (iter % 4 == 1) {
                f[14] = (uint8_t)(0x45 + next_rand() % 3);
                f[14 + 9] = ET_IPPROTO_TCP;
                put16(f + 14 + 6, 0);
                put16(f + 16, len - 14 - next_rand() % 4);
                fix_csums(f, len);
            }
        }
        uint32_t my_ip = iter % 3 ? 0 : MY_IP;
        result r = parse_ex(f, len, my_ip, iter % 5 != 0);
        check_sane(f, len, &r, my_ip);
    }
}

int main(void)
{
    RUN(test_valid_segment);
    RUN(test_runts);
    RUN(test_ethertype);
    RUN(test_not_ours);
    RUN(test_ip_header);
    RUN(test_ip_csum);
    RUN(test_hw_csum_per_flag);
    RUN(test_proto);
    RUN(test_tcp_header_and_csum);
    RUN(test_padding);
    RUN(test_ip_options);
    RUN(test_tcp_options);
    RUN(test_arp);
    RUN(test_truncation_sweep);
    RUN(test_byte_flip_sweep);
    RUN(test_random_options);
    RUN(test_timestamp_layout_fast_path);
    RUN(test_random_frames);
    return th_summary();
}
