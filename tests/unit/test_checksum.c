/* Internet checksum: RFC 1071 vectors, a naive reference over every length and alignment, copy,
   RFC 1624 incremental update and the TCP pseudo-header. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "net/checksum.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The textbook definition: big-endian 16-bit words, a zero pad after an odd last byte, and an
   end-around carry after every add. Returns the folded sum as a network-order value. */
static uint16_t naive_sum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint32_t w = (uint32_t)p[i] << 8;
        if (i + 1 < len) w |= p[i + 1];
        s += w;
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)s;
}

/* The host-order value that et_csum_fold should produce for a network-order sum. */
static uint16_t as_stored(uint16_t net_value)
{
    uint8_t b[2] = {(uint8_t)(net_value >> 8), (uint8_t)net_value};
    uint16_t v;
    memcpy(&v, b, 2);
    return v;
}

static uint16_t wire16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void store_csum(uint8_t *field, uint64_t sum)
{
    uint16_t c = et_csum_finish(sum);
    memcpy(field, &c, 2);
}

static void test_rfc1071_example(void)
{
    /* RFC 1071 §3: the sum of these bytes is ddf2 (big-endian). */
    const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ(naive_sum(b, 8), 0xddf2);
    CHECK_EQ(et_csum_fold(et_csum_add(0, b, 8)), as_stored(0xddf2));
    uint8_t field[2];
    store_csum(field, et_csum_add(0, b, 8));
    CHECK_EQ(wire16(field), 0x220d);
}

static void test_ipv4_header_vector(void)
{
    /* A captured IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199) whose checksum is b861. */
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    /* Verification: the sum over the header, checksum included, is all ones. */
    CHECK_EQ(et_csum_fold(et_csum_add(0, h, 20)), 0xffff);
    CHECK_EQ(et_csum_finish(et_csum_add(0, h, 20)), 0);
    h[10] = h[11] = 0;
    store_csum(h + 10, et_csum_add(0, h, 20));
    CHECK_EQ(h[10], 0xb8);
    CHECK_EQ(h[11], 0x61);
    /* Corrupting any one bit is detected. */
    for (int i = 0; i < 20 * 8; i++) {
        h[i / 8] ^= (uint8_t)(1u << (i % 8));
        CHECK(et_csum_fold(et_csum_add(0, h, 20)) != 0xffff);
        h[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}

static void test_odd_lengths(void)
{
    const uint8_t b[3] = {0x01, 0x02, 0x03};
    /* 0x0102 + 0x0300: the odd byte is the high half of a zero-padded word. */
    CHECK_EQ(et_csum_fold(et_csum_add(0, b, 3)), as_stored(0x0402));
    CHECK_EQ(et_csum_fold(et_csum_add(0, b, 1)), as_stored(0x0100));
    CHECK_EQ(et_csum_fold(et_csum_add(0, b, 0)), 0);
    /* An odd chunk at the end of an even prefix. */
    CHECK_EQ(et_csum_fold(et_csum_add(et_csum_add(0, b, 2), b + 2, 1)), as_stored(0x0402));
    /* Carries: 0xffff + 0x0001 wraps to 0x0001. */
    const uint8_t c[4] = {0xff, 0xff, 0x00, 0x01};
    CHECK_EQ(et_csum_fold(et_csum_add(0, c, 4)), as_stored(0x0001));
    /* A sum that is all ones stays all ones (never collapses to 0). */
    const uint8_t d[2] = {0xff, 0xff};
    CHECK_EQ(et_csum_fold(et_csum_add(0, d, 2)), 0xffff);
}

static void test_all_lengths_and_alignments(void)
{
    uint8_t buf[200 + 16];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            /* Round 1 is all ones: the worst case for carries in every accumulator. */
            buf[i] = round == 1 ? 0xff : round == 2 ? 0 : (uint8_t)next_rand();
        }
        for (size_t align = 0; align < 16; align++) {
            for (size_t len = 0; len <= 200; len++) {
                const uint8_t *p = buf + align;
                uint16_t want = as_stored(naive_sum(p, len));
                CHECK_EQ(et_csum_fold(et_csum_add(0, p, len)), want);
                /* Split at every even point: sums of chunks compose. */
                for (size_t k = 0; k <= len; k += 2) {
                    uint64_t s = et_csum_add(et_csum_add(0, p, k), p + k, len - k);
                    if (et_csum_fold(s) != want) {
                        CHECK_EQ(et_csum_fold(s), want);
                        break;
                    }
                }
            }
        }
    }
}

/* Lengths where the vector loop takes over (from 256 bytes: a full segment's payload), with
   every tail and alignment, against the naive sum; all ones for the carries, then random. */
static void test_long_lengths_and_alignments(void)
{
    static uint8_t buf[4096 + 16];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) buf[i] = round ? (uint8_t)next_rand() : 0xff;
        for (size_t align = 0; align < 16; align++) {
            for (size_t len = 200; len <= 4096; len += len < 600 ? 1 : 31) {
                const uint8_t *p = buf + align;
                uint16_t want = as_stored(naive_sum(p, len));
                if (et_csum_fold(et_csum_add(0, p, len)) != want) {
                    CHECK_EQ(et_csum_fold(et_csum_add(0, p, len)), want);
                    return;
                }
                /* An accumulator carried in (a pseudo-header's) composes too. */
                CHECK_EQ(et_csum_fold(et_csum_add(et_csum_add(0, p, 64), p + 64, len - 64)), want);
            }
        }
    }
}

static void test_accumulator_carries(void)
{
    /* A large initial accumulator must not lose its carry: 2^64 - 1 is a multiple of 0xffff,
       so UINT64_MAX - 5 folds to 0xfffa, and its sum with the data is the ones'-complement sum
       of the two folds. */
    uint8_t b[64];
    for (size_t i = 0; i < sizeof(b); i++) b[i] = (uint8_t)next_rand();
    uint64_t start = UINT64_MAX - 5;
    CHECK_EQ(et_csum_fold(start), 0xfffa);
    uint32_t ref = 0xfffau + et_csum_fold(et_csum_add(0, b, sizeof(b)));
    ref = (ref & 0xffff) + (ref >> 16);
    CHECK_EQ(et_csum_fold(et_csum_add(start, b, sizeof(b))), ref);
    CHECK_EQ(et_csum_fold(et_csum_copy(b, b, sizeof(b), start)), ref);
    CHECK_EQ(et_csum_fold(et_csum_add(UINT64_MAX, b, 0)), 0xffff);

    /* A long buffer of all ones: many carries out of every 64-bit lane. */
    static uint8_t big[1 << 20];
    memset(big, 0xff, sizeof(big));
    CHECK_EQ(et_csum_fold(et_csum_add(0, big, sizeof(big))), 0xffff);
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)next_rand();
    CHECK_EQ(et_csum_fold(et_csum_add(0, big, sizeof(big))),
             as_stored(naive_sum(big, sizeof(big))));
    CHECK_EQ(et_csum_fold(et_csum_add(0, big + 1, sizeof(big) - 1)),
             as_stored(naive_sum(big + 1, sizeof(big) - 1)));
}

static void test_copy(void)
{
    uint8_t src[300], dst[300 + 32];
    for (size_t i = 0; i < sizeof(src); i++) src[i] = (uint8_t)next_rand();
    for (size_t salign = 0; salign < 8; salign++) {
        for (size_t dalign = 0; dalign < 8; dalign++) {
            for (size_t len = 0; len <= 200; len++) {
                memset(dst, 0xa5, sizeof(dst));
                uint64_t init = next_rand() >> 8;
                uint64_t s = et_csum_copy(dst + dalign, src + salign, len, init);
                CHECK_EQ(et_csum_fold(s), et_csum_fold(et_csum_add(init, src + salign, len)));
                CHECK(memcmp(dst + dalign, src + salign, len) == 0);
                /* Nothing is written outside [dst, dst + len). */
                for (size_t i = 0; i < dalign; i++) CHECK_EQ(dst[i], 0xa5);
                for (size_t i = dalign + len; i < sizeof(dst); i++) CHECK_EQ(dst[i], 0xa5);
            }
        }
    }
}

/* et_csum_own and et_csum_copy_own (payloads behind their headers): the same sum as et_csum_add
   for every length and alignment, the bytes before the payload (which the last word's load
   reads) of any value, nothing written outside the copy. */
static void test_own(void)
{
    uint8_t src[1600], buf[8 + 16 + 1600 + 16];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(src); i++) src[i] = round == 1 ? 0xff : (uint8_t)next_rand();
        for (size_t align = 0; align < 16; align++) {
            for (size_t len = 0; len <= 1600; len += len < 300 ? 1 : 37) {
                uint8_t fill = round == 2 ? 0xff : (uint8_t)next_rand();
                memset(buf, fill, sizeof(buf));
                uint8_t *dst = buf + 8 + align;
                uint16_t want = et_csum_fold(et_csum_add(0, src, len));
                CHECK_EQ(et_csum_fold(et_csum_copy_own(dst, src, len)), want);
                CHECK(memcmp(dst, src, len) == 0);
                for (uint8_t *q = buf; q < dst; q++) CHECK_EQ(*q, fill);
                for (uint8_t *q = dst + len; q < buf + sizeof(buf); q++) CHECK_EQ(*q, fill);
                CHECK_EQ(et_csum_fold(et_csum_own(dst, len)), want);
                CHECK_EQ(et_csum_fold(et_csum_fold32(et_csum_own(dst, len))), want);
            }
        }
    }
}

/* A copy longer than one call of the vector loop takes (2^11 blocks of 32 bytes), all ones (the
   largest words) and random. */
static void test_own_long(void)
{
    static uint8_t src[(1 << 20) + 77], dst[8 + (1 << 20) + 77];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(src); i++) src[i] = round ? (uint8_t)next_rand() : 0xff;
        uint16_t want = as_stored(naive_sum(src, sizeof(src)));
        CHECK_EQ(et_csum_fold(et_csum_copy_own(dst + 8, src, sizeof(src))), want);
        CHECK_EQ(et_csum_fold(et_csum_add(0, src, sizeof(src))), want);
        CHECK(memcmp(dst + 8, src, sizeof(src)) == 0);
    }
}

/* et_csum_fold against the reference fold (repeated fold-and-add) on edge and random values. */
static void test_fold(void)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    0xffff,
                                    0x10000,
                                    0xfffe0001,
                                    0xffffffff,
                                    0x100000000ull,
                                    0x1fffffffeull,
                                    0xffffffff00000001ull,
                                    0xffffffffffff0000ull,
                                    UINT64_MAX - 1,
                                    UINT64_MAX};
    for (int i = 0; i < 2000000; i++) {
        uint64_t v = i < (int)(sizeof(edge) / sizeof(edge[0])) ? edge[i] : next_rand();
        if (i % 3 == 1) v >>= next_rand() % 64;
        uint64_t r = v;
        r = (r & 0xffffffffu) + (r >> 32);
        r = (r & 0xffffffffu) + (r >> 32);
        r = (r & 0xffffu) + (r >> 16);
        r = (r & 0xffffu) + (r >> 16);
        if (et_csum_fold(v) != (uint16_t)r) {
            CHECK_EQ(et_csum_fold(v), (uint16_t)r);
            break;
        }
        uint64_t r32 = et_csum_fold32(v);
        if (r32 > 0xffffffffu || et_csum_fold(r32) != (uint16_t)r) {
            CHECK_EQ(et_csum_fold(r32), (uint16_t)r);
            break;
        }
    }
}

/* A 20-byte header with a valid checksum at offset 10, random contents. */
static void random_header(uint8_t *h, size_t len)
{
    for (size_t i = 0; i < len; i++) h[i] = (uint8_t)next_rand();
    h[10] = h[11] = 0;
    store_csum(h + 10, et_csum_add(0, h, len));
}

static void test_incremental_update(void)
{
    uint8_t h[40];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 20 + 2 * (next_rand() % 11);
        random_header(h, len);
        /* Edge contents: some rounds zero most words so the checksum hits 0x0000 or 0xffff. */
        if (iter % 7 == 0) {
            memset(h, 0, len);
            h[0] = (uint8_t)(next_rand() | 1);
            store_csum(h + 10, et_csum_add(0, h, len));
        }
        size_t w = 2 * (next_rand() % (len / 2));
        if (w == 10) w = 0;
        uint16_t old_w, new_w, csum;
        memcpy(&old_w, h + w, 2);
        switch (next_rand() % 4) {
        case 0:
            new_w = 0;
            break;
        case 1:
            new_w = 0xffff;
            break;
        case 2:
            new_w = old_w;
            break;
        default:
            new_w = (uint16_t)next_rand();
            break;
        }
        memcpy(&csum, h + 10, 2);
        uint16_t inc = et_csum_update16(csum, old_w, new_w);
        memcpy(h + w, &new_w, 2);
        h[10] = h[11] = 0;
        /* An all-zero message has no valid checksum to update from or to (its sum is +0, which
           no real header reaches: the IP version is never 0). */
        bool all_zero = true;
        for (size_t i = 0; i < len; i++) all_zero = all_zero && h[i] == 0;
        if (all_zero) continue;
        uint16_t full = et_csum_finish(et_csum_add(0, h, len));
        if (inc != full) {
            CHECK_EQ(inc, full);
            break;
        }
        /* The updated header verifies. */
        memcpy(h + 10, &inc, 2);
        CHECK_EQ(et_csum_fold(et_csum_add(0, h, len)), 0xffff);
    }
}

static void test_update_edge_values(void)
{
    /* A header whose checksum is 0x0000 (its other words sum to 0xffff): changing a word to
       itself must leave 0x0000, never produce -0 (0xffff) as RFC 1624 eqn 2 would. */
    uint8_t h[20] = {0};
    h[0] = 0xff;
    h[1] = 0xff;
    store_csum(h + 10, et_csum_add(0, h, 20));
    CHECK_EQ(h[10], 0);
    CHECK_EQ(h[11], 0);
    uint16_t w, c;
    memcpy(&w, h, 2);
    memcpy(&c, h + 10, 2);
    CHECK_EQ(et_csum_update16(c, w, w), 0);
    /* 0xffff -> 0x0001 in the first word: the full sum becomes 0x0001, checksum 0xfffe. */
    uint16_t nw = as_stored(0x0001);
    uint16_t nc = et_csum_update16(c, w, nw);
    memcpy(h, &nw, 2);
    CHECK_EQ(nc, as_stored(0xfffe));
    h[10] = h[11] = 0;
    CHECK_EQ(nc, et_csum_finish(et_csum_add(0, h, 20)));
}

/* Builds a TCP segment (no IP header) with a pseudo-header checksum computed naively from the
   RFC 9293 §3.1 layout, independent of et_csum_pseudo. */
static uint16_t naive_tcp_csum(const uint8_t saddr[4], const uint8_t daddr[4], const uint8_t *seg,
                               size_t len)
{
    uint8_t buf[12 + 1600];
    memcpy(buf, saddr, 4);
    memcpy(buf + 4, daddr, 4);
    buf[8] = 0;
    buf[9] = 6;
    buf[10] = (uint8_t)(len >> 8);
    buf[11] = (uint8_t)len;
    memcpy(buf + 12, seg, len);
    return (uint16_t)~naive_sum(buf, 12 + len);
}

static void test_tcp_segment(void)
{
    const uint8_t sa[4] = {198, 18, 0, 1}, da[4] = {198, 18, 255, 254};
    uint32_t san, dan;
    memcpy(&san, sa, 4);
    memcpy(&dan, da, 4);
    uint8_t seg[20 + 12 + 1461];
    for (size_t plen = 0; plen <= 1461; plen += (plen < 20 ? 1 : 97)) {
        size_t len = 32 + plen;
        memset(seg, 0, sizeof(seg));
        seg[0] = 0x30; /* sport 12345 */
        seg[1] = 0x39;
        seg[2] = 0x00; /* dport 80 */
        seg[3] = 0x50;
        for (int i = 4; i < 12; i++) seg[i] = (uint8_t)next_rand();
        seg[12] = 8 << 4; /* 32-byte header */
        seg[13] = 0x18;   /* PSH|ACK */
        seg[14] = 0xff;
        seg[15] = 0xff;
        const uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
        memcpy(seg + 20, opts, 12);
        for (size_t i = 0; i < plen; i++) seg[32 + i] = (uint8_t)next_rand();

        uint16_t want = naive_tcp_csum(sa, da, seg, len); /* checksum field still zero */
        uint64_t s = et_csum_pseudo(san, dan, 6, (uint16_t)len);
        store_csum(seg + 16, et_csum_add(s, seg, len));
        CHECK_EQ(wire16(seg + 16), want);
        /* The receiver's check: the sum including the checksum is all ones. */
        CHECK_EQ(et_csum_finish(et_csum_add(s, seg, len)), 0);
        /* A wrong address or length in the pseudo-header is detected. */
        CHECK(et_csum_finish(et_csum_add(et_csum_pseudo(san, dan ^ htonl(1), 6, (uint16_t)len), seg,
                                         len)) != 0);
        CHECK(et_csum_finish(
                  et_csum_add(et_csum_pseudo(san, dan, 6, (uint16_t)(len + 1)), seg, len)) != 0);
        /* Copy-and-sum of the payload gives the same checksum as summing in place. */
        uint8_t copy[1461 + 1];
        uint64_t hs = et_csum_add(s, seg, 32);
        CHECK_EQ(et_csum_fold(et_csum_copy(copy, seg + 32, plen, hs)),
                 et_csum_fold(et_csum_add(s, seg, len)));
    }
}

/* The inline header sum equals the bulk one for every multiple of 4 up to 64 bytes, whatever
   the alignment and the incoming sum (carries out of bit 63 included). */
static void test_header_sum(void)
{
    uint8_t buf[80];
    const uint64_t starts[] = {0, 1, 0xffff, 0xffffffffffffffffull, 0xfffffffffffffff0ull};
    for (int iter = 0; iter < 20000; iter++) {
        for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)next_rand();
        if (iter % 4 == 0) memset(buf, 0xff, sizeof(buf)); /* carry on every add */
        size_t len = 4 * (next_rand() % 17), off = next_rand() % 8;
        uint64_t s0 = starts[iter % 5];
        uint64_t a = et_csum_add_hdr(s0, buf + off, len), b = et_csum_add(s0, buf + off, len);
        CHECK_EQ(et_csum_fold(a), et_csum_fold(b));
        if (s0 == 0) CHECK_EQ(et_csum_fold(a), as_stored(naive_sum(buf + off, len)));
    }
}

int main(void)
{
    RUN(test_rfc1071_example);
    RUN(test_ipv4_header_vector);
    RUN(test_odd_lengths);
    RUN(test_all_lengths_and_alignments);
    RUN(test_long_lengths_and_alignments);
    RUN(test_accumulator_carries);
    RUN(test_copy);
    RUN(test_own);
    RUN(test_own_long);
    RUN(test_fold);
    RUN(test_incremental_update);
    RUN(test_update_edge_values);
    RUN(test_tcp_segment);
    RUN(test_header_sum);
    return th_summary();
}
