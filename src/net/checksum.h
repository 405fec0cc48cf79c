/* Internet checksum (RFC 1071) with incremental update (RFC 1624). */
#ifndef EFVITCP_CHECKSUM_H
#define EFVITCP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

/*
 * All sums are over 16-bit words loaded from memory in host order. By the byte-order independence
 * of the ones'-complement sum (RFC 1071 §2(B)) the complemented fold, stored back in host order
 * (memcpy of a uint16_t), is the correct wire checksum. To add a host-order value v, add htons(v).
 */

/** Adds the bytes of p to a 64-bit accumulator; an odd trailing byte is padded with zero, so len
    may be odd only for the last chunk of a message. */
uint64_t et_csum_add(uint64_t sum, const void *p, size_t len);
/** Copies len bytes from src to dst and returns sum plus their checksum contribution. */
uint64_t et_csum_copy(void *dst, const void *src, size_t len, uint64_t sum);
/** a + b with the end-around carry of the ones'-complement sum (2^64 is 1 modulo 0xffff). */
static inline uint64_t et_csum_add64(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s + (s < b);
}

/**
 * et_csum_add for headers: len is a multiple of 4 and small (IPv4 and TCP headers with their
 * options). Inline and without the bulk loop's set-up, so a constant len unrolls into a few
 * loads and adds; a 20-byte header costs about a dozen instructions instead of a call.
 */
static inline uint64_t et_csum_add_hdr(uint64_t sum, const void *p, size_t len)
{
    const uint8_t *b = (const uint8_t *)p;
    for (; len >= 8; b += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        sum = et_csum_add64(sum, w);
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, b, 4);
        sum = et_csum_add64(sum, w);
    }
    return sum;
}

/** Folds an accumulator to 32 bits with the end-around carry: the same ones'-complement value
    (2^32 is 1 modulo 0xffff), 0 only for 0. An add and an add-with-carry. */
static inline uint32_t et_csum_fold32(uint64_t sum)
{
    uint32_t hi = (uint32_t)(sum >> 32), s = (uint32_t)sum + hi;
    return s + (s < hi);
}

/*
 * Folds an accumulator to 16 bits (not complemented). 32 bits to 16 in the high half of s + (s
 * rotated by 16): its low half adds the two halves and carries into the high half, which adds them
 * again plus that carry, so the high half is hi + lo with the end-around carry. The result is the
 * canonical one (0 only for a zero sum, 0xffff for a non-zero multiple of 0xffff), the same as
 * repeated fold-and-add gives.
 */
static inline uint16_t et_csum_fold(uint64_t sum)
{
    uint32_t s = et_csum_fold32(sum);
    return (uint16_t)((s + ((s << 16) | (s >> 16))) >> 16);
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
static inline uint64_t et_csum_blocks64(uint64_t s, const uint8_t *p, size_t blocks)
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
/**
 * The sum of len bytes at p in a buffer of our own, where the 8 bytes before p are readable too
 * (a payload behind its headers in a TX buffer): a last part word is one load ending at the last
 * byte, shifted right past the bytes before it (little-endian: the bytes that remain are the
 * payload's, in place, zero-padded as RFC 1071 pads), so there is no byte-wise tail. Whole
 * 64-byte blocks and then words on add-with-carry chains (as et_csum_add's blocks; lea and dec
 * leave the carry flag alone). Inline: a 64-byte message costs about twenty instructions.
 */
static inline uint64_t et_csum_own(const void *p, size_t len)
{
    const uint8_t *b = (const uint8_t *)p;
    uint64_t s = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    size_t blocks = len >> 6, words = (len >> 3) & 7;
    s = et_csum_blocks64(s, b, blocks);
    b += blocks * 64;
    if (words)
        __asm__("clc\n"
                "1:\n\t"
                "adcq 0(%[p]), %[s]\n\t"
                "leaq 8(%[p]), %[p]\n\t"
                "decq %[n]\n\t"
                "jnz 1b\n\t"
                "adcq $0, %[s]"
                : [s] "+r"(s), [p] "+r"(b), [n] "+r"(words)
                :
                : "cc", "memory");
    size_t rest = len & 7;
    if (rest) {
        uint64_t w;
        memcpy(&w, b + rest - 8, 8);
        s = et_csum_add64(s, w >> (64 - 8 * rest));
    }
    return s;
#else
    return et_csum_add(s, b, len);
#endif
}

/* n bytes from s to d, n at most 64, inline: two overlapping copies of a power of two cover any
   length between it and twice it (a request-response message needs no call into libc). */
static inline void et_copy_short(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n > 16) {
        if (n > 32) {
            memcpy(d, s, 32);
            memcpy(d + n - 32, s + n - 32, 32);
        } else {
            memcpy(d, s, 16);
            memcpy(d + n - 16, s + n - 16, 16);
        }
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/** et_csum_copy_own for more than 64 bytes (checksum.c): copy and sum in one pass where the CPU
    has AVX2, else memcpy and et_csum_own. */
uint64_t et_csum_copy_long(void *dst, const void *src, size_t len);

/** Copies len bytes from src to dst, a buffer of our own (see et_csum_own), and returns their
    sum. */
static inline uint64_t et_csum_copy_own(void *dst, const void *src, size_t len)
{
    if (len > 64) return et_csum_copy_long(dst, src, len);
    et_copy_short((uint8_t *)dst, (const uint8_t *)src, len);
    return et_csum_own(dst, len);
}

/** The value to store (memcpy) in a checksum field. */
static inline uint16_t et_csum_finish(uint64_t sum)
{
    return (uint16_t)~et_csum_fold(sum);
}
/** RFC 1624 eqn 3: the new checksum field when a 16-bit word of the message (as loaded by
    memcpy) changes from old_w to new_w. */
uint16_t et_csum_update16(uint16_t csum, uint16_t old_w, uint16_t new_w);
/** Pseudo-header sum: addresses as stored in the IP header (network order), proto and tcp_len
    (TCP header + payload bytes) in host order. */
static inline uint64_t et_csum_pseudo(uint32_t saddr_n, uint32_t daddr_n, uint8_t proto,
                                      uint16_t tcp_len)
{
    /* RFC 9293 §3.1 pseudo-header: saddr, daddr, zero, protocol, TCP length. The zero byte and
       the protocol form one 16-bit word whose network-order value is proto. A 32-bit address is
       the sum of its two 16-bit halves modulo 0xffff, so it is added as one value. */
    return (uint64_t)saddr_n + daddr_n + htons(proto) + htons(tcp_len);
}

#endif
