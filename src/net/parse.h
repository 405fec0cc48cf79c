/* Validation and parsing of received frames: Ethernet, IPv4, ARP, TCP and its options. */
#ifndef EFVITCP_PARSE_H
#define EFVITCP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "net/frame.h"

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

/** Parses the options area of a TCP header. Returns false for a malformed option list (length
    0/1 or overrunning the area). Unknown kinds are skipped. */
bool et_parse_tcp_options(const uint8_t *p, uint32_t len, et_tcp_opts *out);

#endif
