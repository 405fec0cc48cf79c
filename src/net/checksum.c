/* Internet checksum (RFC 1071) with incremental update (RFC 1624). */
#include "checksum.h"

#include <arpa/inet.h>
#include <string.h>

/*
 * Wide words are summed with an end-around carry (et_csum_add64): 2^64 is 1 modulo 0xffff, so a
 * carry out of bit 63 is worth exactly 1 in the 16-bit ones'-complement sum (RFC 1071 §2(C)
 * "parallel summation"). Loads go through memcpy so that any alignment of p is fine and the
 * compiler emits plain moves.
 */

/* The trailing n < 8 bytes, zero-padded in memory order: an odd last byte becomes the high-address
   half of its 16-bit word, which is the RFC 1071 padding whatever the host byte order. */
static inline uint64_t load_tail(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    memcpy(&w, p, n);
    return w;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/*
 * Whole 64-byte blocks on one add-with-carry chain: the carry flag carries each word's overflow
 * into the next add, which is exactly the end-around carry, so a block costs eight adds instead
 * of a load, an add, a compare and a counter update per word (about 0.15 instructions a byte
 * against 1.1). lea and dec leave the carry flag alone, so the chain runs across iterations.
 * The closing adc $0 folds the last carry and cannot carry out itself: that would need an
 * all-ones sum with the carry set, which only an add of an all-ones word to an all-ones sum with
 * the carry already set produces, so the chain (started by clc) never reaches that state.
 */
static uint64_t sum_blocks64(uint64_t s, const uint8_t *p, size_t blocks)
{
    if (!blocks) return s;
    __asm__("clc\n"
            "1:\n\t"
            "adcq 0(%[p]), %[s]\n\t"
            "adcq 8(%[p]), %[s]\n\t"
            "adcq 16(%[p]), %[s]\n\t"
            "adcq 24(%[p]), %[s]\n\t"
            "adcq 32(%[p]), %[s]\n\t"
            "adcq 40(%[p]), %[s]\n\t"
            "adcq 48(%[p]), %[s]\n\t"
            "adcq 56(%[p]), %[s]\n\t"
            "leaq 64(%[p]), %[p]\n\t"
            "decq %[n]\n\t"
            "jnz 1b\n\t"
            "adcq $0, %[s]"
            : [s] "+r"(s), [p] "+r"(p), [n] "+r"(blocks)
            :
            : "cc", "memory");
    return s;
}
#endif

uint64_t et_csum_add(uint64_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (len >= 64) {
        size_t blocks = len / 64;
        sum = sum_blocks64(sum, b, blocks);
        b += blocks * 64;
        len -= blocks * 64;
    }
#endif
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
    uint64_t s = et_csum_add64(et_csum_add64(s0, s1), et_csum_add64(s2, s3));
    s = et_csum_add64(s, c);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        s = et_csum_add64(s, w);
        b += 8;
        len -= 8;
    }
    if (len) s = et_csum_add64(s, load_tail(b, len));
    return et_csum_add64(sum, s);
}

uint64_t et_csum_copy(void *dst, const void *src, size_t len, uint64_t sum)
{
    /* Two passes beat one: libc's vector copy costs a few instructions per cache line, and the
       sum then reads the destination from L1 (a fused loop pays a load, a store and an add per
       word). */
    memcpy(dst, src, len);
    return et_csum_add(sum, dst, len);
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
