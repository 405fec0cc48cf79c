/* Internet checksum (RFC 1071) with incremental update (RFC 1624). */
#include "checksum.h"

#include <arpa/inet.h>
#include <stdbool.h>
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
#include <immintrin.h>

/*
 * Copy and sum of whole 32-byte blocks in one pass (a segment's payload: the copy costs a load
 * and a store per block, the sum three more instructions instead of four adds with carry). Each
 * 16-bit word is biased by 0x8000 into a signed word, so that vpmaddwd against ones adds
 * adjacent pairs exactly into 32-bit lanes; the bias, 0x8000 per word, is added back at the end.
 * A lane gains at most 2^16 in magnitude per block it takes (every other block), so with up to
 * 2^11 blocks per call the eight lanes' total stays below 2^31 in magnitude. The sum is the plain
 * sum of the words, which folds to the same ones'-complement value as any other way of adding them.
 */
/* The eight lanes' total, in 32 bits: below 2^31 in magnitude for up to 2^11 blocks; then the
   bias of every word taken back. */
__attribute__((target("avx2"))) static inline uint64_t lanes_total(__m256i a0, __m256i a1,
                                                                   size_t blocks)
{
    __m256i a = _mm256_add_epi32(a0, a1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return (uint64_t)((int64_t)blocks * 16 * 0x8000 + _mm_cvtsi128_si32(h));
}

__attribute__((target("avx2"))) static uint64_t copy_sum_avx2(uint8_t *d, const uint8_t *s,
                                                              size_t blocks)
{
    const __m256i ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi16((short)0x8000);
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t quads = blocks / 4;
    if (quads) {
        /* Four blocks a turn, indexed from the end so that one add both moves and tests: 22
           instructions for 128 bytes (the compiler's own loop spends more on register moves). */
        const uint8_t *se = s + 128 * quads;
        uint8_t *de = d + 128 * quads;
        intptr_t i = -(intptr_t)(128 * quads);
        __m256i v0, v1, v2, v3;
        __asm__("1:\n\t"
                "vmovdqu (%[se],%[i]), %[v0]\n\t"
                "vmovdqu 32(%[se],%[i]), %[v1]\n\t"
                "vmovdqu 64(%[se],%[i]), %[v2]\n\t"
                "vmovdqu 96(%[se],%[i]), %[v3]\n\t"
                "vmovdqu %[v0], (%[de],%[i])\n\t"
                "vmovdqu %[v1], 32(%[de],%[i])\n\t"
                "vmovdqu %[v2], 64(%[de],%[i])\n\t"
                "vmovdqu %[v3], 96(%[de],%[i])\n\t"
                "vpxor %[bias], %[v0], %[v0]\n\t"
                "vpxor %[bias], %[v1], %[v1]\n\t"
                "vpxor %[bias], %[v2], %[v2]\n\t"
                "vpxor %[bias], %[v3], %[v3]\n\t"
                "vpmaddwd %[ones], %[v0], %[v0]\n\t"
                "vpmaddwd %[ones], %[v1], %[v1]\n\t"
                "vpmaddwd %[ones], %[v2], %[v2]\n\t"
                "vpmaddwd %[ones], %[v3], %[v3]\n\t"
                "vpaddd %[v0], %[a0], %[a0]\n\t"
                "vpaddd %[v1], %[a1], %[a1]\n\t"
                "vpaddd %[v2], %[a0], %[a0]\n\t"
                "vpaddd %[v3], %[a1], %[a1]\n\t"
                "addq $128, %[i]\n\t"
                "jnz 1b"
                : [a0] "+x"(a0), [a1] "+x"(a1), [i] "+r"(i), [v0] "=&x"(v0), [v1] "=&x"(v1),
                  [v2] "=&x"(v2), [v3] "=&x"(v3)
                : [se] "r"(se), [de] "r"(de), [bias] "x"(bias), [ones] "x"(ones)
                : "cc", "memory");
    }
    for (size_t k = 4 * quads; k < blocks; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32 * k));
        _mm256_storeu_si256((__m256i *)(void *)(d + 32 * k), v);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(v, bias), ones));
    }
    return lanes_total(a0, a1, blocks);
}

/* The sum alone, for a received segment whose checksum no hardware verified: the same biased
   words and lanes, the load folded into the bias (18 instructions for 128 bytes where the
   add-with-carry chain spends 22 and one add's latency per 8 bytes). */
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t *s, size_t blocks)
{
    const __m256i ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi16((short)0x8000);
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t quads = blocks / 4;
    if (quads) {
        const uint8_t *se = s + 128 * quads;
        intptr_t i = -(intptr_t)(128 * quads);
        __m256i v0, v1, v2, v3;
        __asm__("1:\n\t"
                "vpxor (%[se],%[i]), %[bias], %[v0]\n\t"
                "vpxor 32(%[se],%[i]), %[bias], %[v1]\n\t"
                "vpxor 64(%[se],%[i]), %[bias], %[v2]\n\t"
                "vpxor 96(%[se],%[i]), %[bias], %[v3]\n\t"
                "vpmaddwd %[ones], %[v0], %[v0]\n\t"
                "vpmaddwd %[ones], %[v1], %[v1]\n\t"
                "vpmaddwd %[ones], %[v2], %[v2]\n\t"
                "vpmaddwd %[ones], %[v3], %[v3]\n\t"
                "vpaddd %[v0], %[a0], %[a0]\n\t"
                "vpaddd %[v1], %[a1], %[a1]\n\t"
                "vpaddd %[v2], %[a0], %[a0]\n\t"
                "vpaddd %[v3], %[a1], %[a1]\n\t"
                "addq $128, %[i]\n\t"
                "jnz 1b"
                : [a0] "+x"(a0), [a1] "+x"(a1), [i] "+r"(i), [v0] "=&x"(v0), [v1] "=&x"(v1),
                  [v2] "=&x"(v2), [v3] "=&x"(v3)
                : [se] "r"(se), [bias] "x"(bias), [ones] "x"(ones)
                : "cc", "memory");
    }
    for (size_t k = 4 * quads; k < blocks; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32 * k));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(v, bias), ones));
    }
    return lanes_total(a0, a1, blocks);
}

/* The CPU's answer, kept by the compiler's runtime (set by its constructor, before main): a load
   and a bit test, and no state of ours. */
static bool avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

uint64_t et_csum_add(uint64_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* A full segment's payload: vectors where the CPU has them (sums of at most 2^27 words each
       per call, so plain adds would not carry out of 64 bits; the end-around add is for sum). */
    if (len >= 256 && avx2()) {
        for (size_t blocks = len / 32; blocks;) {
            size_t n = blocks < 2048 ? blocks : 2048;
            sum = et_csum_add64(sum, sum_avx2(b, n));
            b += 32 * n;
            blocks -= n;
        }
        len &= 31;
    }
    if (len >= 64) {
        size_t blocks = len / 64;
        sum = et_csum_blocks64(sum, b, blocks);
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

uint64_t et_csum_copy_long(void *dst, const void *src, size_t len)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    uint64_t sum = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (avx2()) {
        /* Sums of at most 2^27 words each: plain adds cannot carry out of 64 bits. */
        for (size_t blocks = len / 32; blocks;) {
            size_t b = blocks < 2048 ? blocks : 2048;
            sum += copy_sum_avx2(d, s, b);
            d += 32 * b;
            s += 32 * b;
            blocks -= b;
        }
        /* The rest (under 32 bytes) at an offset that is a multiple of 32: even, so its words
           are the message's words. */
        len &= 31;
        if (!len) return sum;
        et_copy_short(d, s, len);
        return et_csum_add64(sum, et_csum_own(d, len));
    }
#endif
    memcpy(d, s, len);
    return et_csum_own(d, len);
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
