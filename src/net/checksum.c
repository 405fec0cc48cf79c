/* Internet checksum (RFC 1071) with incremental update (RFC 1624). */
#include "checksum.h"

#include <arpa/inet.h>
#include <string.h>

/*
 * Wide words are summed with an end-around carry: 2^64 is 1 modulo 0xffff, so a carry out of bit
 * 63 is worth exactly 1 in the 16-bit ones'-complement sum (RFC 1071 §2(C) "parallel summation").
 * Loads go through memcpy so that any alignment of p is fine and the compiler emits plain moves.
 */
static inline uint64_t add_carry(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s + (s < b);
}

/* The trailing n < 8 bytes, zero-padded in memory order: an odd last byte becomes the high-address
   half of its 16-bit word, which is the RFC 1071 padding whatever the host byte order. */
static inline uint64_t load_tail(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    memcpy(&w, p, n);
    return w;
}

uint64_t et_csum_add(uint64_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;
    /* Four independent accumulators with separate carries keep the adds off one dependency
       chain; each carry counter cannot overflow before 2^64 / 32 bytes. */
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, c = 0;
    while (len >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, b, 8);
        memcpy(&w1, b + 8, 8);
        memcpy(&w2, b + 16, 8);
        memcpy(&w3, b + 24, 8);
        s0 += w0;
        c += s0 < w0;
        s1 += w1;
        c += s1 < w1;
        s2 += w2;
        c += s2 < w2;
        s3 += w3;
        c += s3 < w3;
        b += 32;
        len -= 32;
    }
    uint64_t s = add_carry(add_carry(s0, s1), add_carry(s2, s3));
    s = add_carry(s, c);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        s = add_carry(s, w);
        b += 8;
        len -= 8;
    }
    if (len) s = add_carry(s, load_tail(b, len));
    return add_carry(sum, s);
}

uint64_t et_csum_copy(void *dst, const void *src, size_t len, uint64_t sum)
{
    uint8_t *d = dst;
    const uint8_t *b = src;
    uint64_t s0 = 0, s1 = 0, c = 0;
    while (len >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, b, 8);
        memcpy(&w1, b + 8, 8);
        memcpy(d, &w0, 8);
        memcpy(d + 8, &w1, 8);
        s0 += w0;
        c += s0 < w0;
        s1 += w1;
        c += s1 < w1;
        b += 16;
        d += 16;
        len -= 16;
    }
    uint64_t s = add_carry(add_carry(s0, s1), c);
    if (len >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        memcpy(d, &w, 8);
        s = add_carry(s, w);
        b += 8;
        d += 8;
        len -= 8;
    }
    if (len) {
        memcpy(d, b, len);
        s = add_carry(s, load_tail(b, len));
    }
    return add_carry(sum, s);
}

uint16_t et_csum_update16(uint16_t csum, uint16_t old_w, uint16_t new_w)
{
    /* RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'). Unlike eqn 2 it cannot yield a -0 (0xffff)
       checksum that a full recomputation would not produce: the sum of ~HC (never 0, as HC is a
       valid checksum of a non-zero message) and the other terms stays non-zero. */
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old_w + new_w;
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)~s;
}
