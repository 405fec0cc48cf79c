/*
 * Header templates. The Ethernet, IPv4 and TCP headers of the segments of one connection differ
 * only in the IPv4 total length and checksum and in the TCP sequence number, acknowledgment,
 * offset and flags, window and checksum. A template holds everything else, built once per
 * connection, with the ones'-complement sums of its fixed words: both checksums are sums of
 * 16-bit words (RFC 1071), so the fixed part is added once, and a segment costs one 54-byte copy,
 * seven stores and a dozen additions instead of writing and summing every field.
 */
#ifndef EFVITCP_HDR_TMPL_H
#define EFVITCP_HDR_TMPL_H

#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "net/checksum.h"
#include "net/headers.h"

#define ET_HDRS_LEN  (ET_ETH_HLEN + ET_IP_HLEN + ET_TCP_HLEN)
#define ET_TS_OPTLEN 12 /* NOP, NOP, TS (RFC 7323 Appendix A layout) */

typedef struct et_hdr_tmpl {
    uint8_t hdr[ET_HDRS_LEN]; /* the headers with every varying field 0 */
    uint64_t ip_sum;          /* sum of the IPv4 header's fixed words */
    uint64_t tcp_sum;         /* sum of the pseudo-header's addresses and protocol, and the ports */
} et_hdr_tmpl;

/* Builds the template of segments from (src_mac, saddr, sport) to (dst_mac, daddr, dport); the
   addresses and ports in host order. */
void et_hdr_tmpl_init(et_hdr_tmpl *t, const uint8_t src_mac[6], const uint8_t dst_mac[6],
                      uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport);

/*
 * Writes the headers of one segment at buf from template t. The options (optlen bytes, a multiple
 * of 4) and the payload (plen bytes) are in place after the TCP header already; sum is the
 * ones'-complement sum of both, made of parts below 2^40 each (folded sums, et_hdr_ts_opt's), so
 * that the plain additions here cannot carry out of 64 bits: never a raw et_csum_add*
 * accumulator, which may come close to 2^64 (the SACK blocks of sequence numbers near 2^32 did).
 * Always inlined: it runs once per segment sent.
 */
static inline __attribute__((always_inline)) void
et_hdr_tmpl_write(uint8_t *buf, const et_hdr_tmpl *t, uint32_t seq, uint32_t ack, uint8_t flags,
                  uint16_t win, uint32_t optlen, uint32_t plen, uint64_t sum)
{
    memcpy(buf, t->hdr, ET_HDRS_LEN);
    uint32_t tcp_len = ET_TCP_HLEN + optlen + plen;
    uint8_t *ip = buf + ET_ETH_HLEN, *tcp = ip + ET_IP_HLEN;
    uint16_t tot_n = htons((uint16_t)(ET_IP_HLEN + tcp_len));
    uint16_t ip_csum = et_csum_finish(t->ip_sum + tot_n);
    memcpy(ip + 2, &tot_n, 2);
    memcpy(ip + 10, &ip_csum, 2);
    uint32_t seq_n = htonl(seq), ack_n = htonl(ack);
    uint16_t off_flags_n = htons((uint16_t)(((ET_TCP_HLEN + optlen) / 4) << 12 | flags));
    uint16_t win_n = htons(win);
    memcpy(tcp + 4, &seq_n, 4);
    memcpy(tcp + 8, &ack_n, 4);
    memcpy(tcp + 12, &off_flags_n, 2);
    memcpy(tcp + 14, &win_n, 2);
    sum += t->tcp_sum + htons((uint16_t)tcp_len) + (uint64_t)seq_n + ack_n + off_flags_n + win_n;
    uint16_t tcp_csum = et_csum_finish(sum);
    memcpy(tcp + 16, &tcp_csum, 2);
}

/* Writes the timestamps option (NOP, NOP, TS; RFC 7323 Appendix A) at p and returns its sum. */
static inline uint64_t et_hdr_ts_opt(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
    static const uint8_t lead[4] = {ET_TCPOPT_NOP, ET_TCPOPT_NOP, ET_TCPOPT_TS, 10};
    uint32_t lead_w, val_n = htonl(tsval), ecr_n = htonl(tsecr);
    memcpy(&lead_w, lead, 4);
    memcpy(p, &lead_w, 4);
    memcpy(p + 4, &val_n, 4);
    memcpy(p + 8, &ecr_n, 4);
    return (uint64_t)lead_w + val_n + ecr_n;
}

#endif
