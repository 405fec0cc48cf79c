/* Validation and parsing of received frames: Ethernet, IPv4, ARP, TCP and its options. */
#ifndef EFVITCP_PARSE_H
#define EFVITCP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "net/checksum.h"
#include "net/frame.h"
#include "net/headers.h"

/** The most SACK blocks one option carries: 2 + 8 * 4 = 34 of the 40 option bytes. */
#define ET_MAX_SACK_BLOCKS 4

/** One SACK block (RFC 2018 §3): [start, end), sequence numbers as received. */
typedef struct et_sack_blk {
    uint32_t start, end;
} et_sack_blk;

/** TCP options seen in a segment (RFC 9293 §3.2, RFC 7323, RFC 2018). */
typedef struct et_tcp_opts {
    bool has_mss, has_ws, has_ts, sack_perm;
    uint16_t mss;   /**< as received (0 is possible: the caller applies floors) */
    uint8_t ws;     /**< as received; the caller clamps to 14 (RFC 7323 §2.3) */
    uint8_t n_sack; /**< SACK blocks in sack[] (0 = no SACK option) */
    bool sack_bad;  /**< a SACK option of a length other than 2 + 8n, or a second one: ignored */
    uint32_t tsval, tsecr;
    et_sack_blk sack[ET_MAX_SACK_BLOCKS]; /**< in the order received; not checked here */
} et_tcp_opts;

/** A parsed TCP/IPv4 frame. Numbers in host order; pointers into the frame. */
typedef struct et_tcp_seg {
    const uint8_t *src_mac;
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window; /**< unscaled, as received */
    const uint8_t *payload;
    uint32_t len; /**< payload bytes (IP total length decides, not the frame length) */
    et_tcp_opts opt;
} et_tcp_seg;

/** A parsed ARP packet (Ethernet/IPv4 only). Host order. */
typedef struct et_arp_msg {
    uint16_t oper; /**< 1 request, 2 reply */
    uint8_t sha[6], tha[6];
    uint32_t spa, tpa;
} et_arp_msg;

typedef enum et_frame_kind { ET_FRAME_DROP = 0, ET_FRAME_TCP, ET_FRAME_ARP } et_frame_kind;

/**
 * Classifies and validates a frame. For ET_FRAME_TCP fills *seg, for ET_FRAME_ARP fills *arp; for
 * ET_FRAME_DROP sets *why. my_mac: frames for another unicast MAC are dropped (broadcast is
 * accepted for ARP). my_ip (host order): IPv4 for another address is dropped; 0 accepts any.
 * hw_csum: the checksums the hardware verified (ET_RX_CSUM_* of net/frame.h, from the link);
 * the others are verified here, and both are for a datagram with IP options, which a NIC may
 * not have classified. Never reads outside frame[0..len) and never loops on hostile options.
 */
et_frame_kind et_parse_frame(const uint8_t *frame, uint32_t len, const uint8_t my_mac[6],
                             uint32_t my_ip, uint32_t hw_csum, et_tcp_seg *seg, et_arp_msg *arp,
                             efvitcp_drop_reason *why);

/* Network order read as one load each: the byte swaps compile to bswap. */
#define ET_LD16(p) ((uint16_t)((p)[0] << 8 | (p)[1]))
#define ET_LD32(p)                                                                                 \
    ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (p)[3])

/** The fields of *seg that both parsers take from a validated TCP header at tcp (doff bytes of
    header, tcp_len bytes of segment) of frame f; the options are the caller's. */
static inline __attribute__((always_inline)) void et_seg_fill(et_tcp_seg *seg, const uint8_t *f,
                                                              uint32_t saddr, uint32_t daddr,
                                                              const uint8_t *tcp, uint32_t doff,
                                                              uint32_t tcp_len)
{
    seg->src_mac = f + 6;
    seg->saddr = saddr;
    seg->daddr = daddr;
    seg->sport = ET_LD16(tcp);
    seg->dport = ET_LD16(tcp + 2);
    seg->seq = ET_LD32(tcp + 4);
    seg->ack = ET_LD32(tcp + 8);
    seg->flags = tcp[13];
    seg->window = ET_LD16(tcp + 14);
    seg->payload = tcp + doff;
    seg->len = tcp_len - doff;
}

/** The checksums of an IPv4 datagram without options at ip (tot bytes, TCP) that the hardware
    did not verify (hw_csum): RFC 1122 §3.2.1.2 for the header, and RFC 9293 §3.1 for the
    segment, whose pseudo-header, header and data, checksum included, sum to all ones. */
static inline bool et_parse_sum_ok(const uint8_t *ip, uint32_t tot, uint32_t hw_csum)
{
    if (!(hw_csum & ET_RX_CSUM_IP) && et_csum_fold(et_csum_add_hdr(0, ip, 20)) != 0xffff)
        return false;
    if (hw_csum & ET_RX_CSUM_TCP) return true;
    uint32_t sn, dn;
    __builtin_memcpy(&sn, ip + 12, 4);
    __builtin_memcpy(&dn, ip + 16, 4);
    uint64_t sum = et_csum_pseudo(sn, dn, ET_IPPROTO_TCP, (uint16_t)(tot - 20));
    return et_csum_fold(et_csum_add(sum, ip + 20, tot - 20)) == 0xffff;
}

/**
 * The common shape of a received segment, recognised in a few comparisons: an untagged IPv4
 * datagram without options or fragmentation, for my_mac and my_ip, with no TCP options or exactly
 * NOP, NOP, timestamps (RFC 7323 Appendix A), and intact checksums: those the hardware did not
 * verify (hw_csum lacks ET_RX_CSUM_IP or ET_RX_CSUM_TCP, as on every link without receive
 * offload) are summed here. For such a frame it fills *seg exactly as et_parse_frame would and
 * returns true; for every other frame, a bad checksum included, it returns false and changes
 * nothing that matters: the caller then runs et_parse_frame, which stays the reference and names
 * the drop (tests/unit/test_parse_fast.c holds the two to the same result on every frame).
 * Inline: it runs once per frame received.
 */
static inline __attribute__((always_inline)) bool
et_parse_frame_fast(const uint8_t *f, uint32_t len, const uint8_t my_mac[6], uint32_t my_ip,
                    uint32_t hw_csum, et_tcp_seg *seg)
{
    if (len < 54) return false;
    const uint8_t *ip = f + 14, *tcp = f + 34;
    /* Two words of fixed fields, each tested with one mask: frame bytes 12-19 hold EtherType
       IPv4 and version 4 with a 20-byte header; bytes 20-27 no fragment offset and no MF flag
       (RFC 791 §3.1) and protocol TCP. The patterns are bytes in frame order, so the test is
       the same on either byte order. */
    static const uint8_t pat_a[8] = {0x08, 0x00, 0x45}, mask_a[8] = {0xff, 0xff, 0xff};
    static const uint8_t pat_b[8] = {0, 0, 0, 6}, mask_b[8] = {0x3f, 0xff, 0, 0xff};
    uint64_t a, b, pa, ma, pb, mb;
    __builtin_memcpy(&a, f + 12, 8);
    __builtin_memcpy(&b, f + 20, 8);
    __builtin_memcpy(&pa, pat_a, 8);
    __builtin_memcpy(&ma, mask_a, 8);
    __builtin_memcpy(&pb, pat_b, 8);
    __builtin_memcpy(&mb, mask_b, 8);
    if (__builtin_memcmp(f, my_mac, 6) != 0 || (a & ma) != pa || (b & mb) != pb) return false;
    uint32_t tot = ET_LD16(ip + 2), saddr = ET_LD32(ip + 12), daddr = ET_LD32(ip + 16);
    /* The same address rules as et_parse_frame (RFC 1122 §3.2.1.3, §4.2.3.10): a source of 0
       or of class D or E fails the one comparison (0 wraps around). */
    if (tot > len - 14 || saddr - 1 >= 0xe0000000u - 1 ||
        (my_ip ? daddr != my_ip : daddr >= 0xe0000000u))
        return false;
    uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4;
    if (doff == 20) {
        if (tot < 40) return false;
        seg->opt = (et_tcp_opts){0};
    } else {
        if (doff != 32 || tot < 52 || ET_LD32(tcp + 20) != 0x0101080au) return false;
        seg->opt =
            (et_tcp_opts){.has_ts = true, .tsval = ET_LD32(tcp + 24), .tsecr = ET_LD32(tcp + 28)};
    }
    const uint32_t both = ET_RX_CSUM_IP | ET_RX_CSUM_TCP;
    if (__builtin_expect((hw_csum & both) != both, 0) && !et_parse_sum_ok(ip, tot, hw_csum))
        return false;
    et_seg_fill(seg, f, saddr, daddr, tcp, doff, tot - 20);
    return true;
}

/** Parses the options area of a TCP header. Returns false for a malformed option list (length
    0/1 or overrunning the area). Unknown kinds are skipped. */
bool et_parse_tcp_options(const uint8_t *p, uint32_t len, et_tcp_opts *out);

#endif
