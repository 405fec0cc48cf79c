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
/** Folds an accumulator to 16 bits (not complemented). */
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

static inline uint16_t et_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
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
