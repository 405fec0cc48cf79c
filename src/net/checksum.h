/* Internet checksum (RFC 1071) with incremental update (RFC 1624). */
#ifndef EFVITCP_CHECKSUM_H
#define EFVITCP_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

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
uint64_t et_csum_pseudo(uint32_t saddr_n, uint32_t daddr_n, uint8_t proto, uint16_t tcp_len);

#endif
