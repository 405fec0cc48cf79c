/* Validation and parsing of received frames: Ethernet, IPv4, ARP, TCP and its options. */
#include "parse.h"

#include <string.h>

#include "checksum.h"
#include "headers.h"

#define ARP_LEN 28

/* Network-order loads from an arbitrary offset: frames need not be aligned. */
static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Limited broadcast, multicast (224/4) and the reserved class E (240/4). */
static inline bool ip_is_group(uint32_t a)
{
    return a >= 0xe0000000u;
}

bool et_parse_tcp_options(const uint8_t *p, uint32_t len, et_tcp_opts *out)
{
    memset(out, 0, sizeof(*out));
    /* The layout of nearly every segment of a connection with timestamps (RFC 7323 appendix
       A): NOP, NOP, TS. Taken without the walk below, which would give the same result. */
    static const uint8_t nop_nop_ts[4] = {ET_TCPOPT_NOP, ET_TCPOPT_NOP, ET_TCPOPT_TS, 10};
    if (len == 12 && memcmp(p, nop_nop_ts, 4) == 0) {
        out->has_ts = true;
        out->tsval = rd32(p + 4);
        out->tsecr = rd32(p + 8);
        return true;
    }
    uint32_t i = 0;
    /* Every iteration advances i by at least 1 (NOP) or 2 (length >= 2), so the loop ends after
       at most len steps whatever the bytes say. */
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == ET_TCPOPT_EOL) break; /* RFC 9293 §3.2: the rest is padding */
        if (kind == ET_TCPOPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 §3.2 / RFC 1122 §4.2.2.5: every other kind has a length octet covering the
           kind and length octets, so less than 2 cannot be skipped safely. */
        if (len - i < 2) return false;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i) return false;
        const uint8_t *v = p + i + 2;
        switch (kind) {
        case ET_TCPOPT_MSS:
            if (olen != 4) return false;
            out->has_mss = true;
            out->mss = rd16(v);
            break;
        case ET_TCPOPT_WS: /* RFC 7323 §2.2 */
            if (olen != 3) return false;
            out->has_ws = true;
            out->ws = v[0];
            break;
        case ET_TCPOPT_SACK_PERM: /* RFC 2018 §2 */
            if (olen != 2) return false;
            out->sack_perm = true;
            break;
        case ET_TCPOPT_TS: /* RFC 7323 §3.2 */
            if (olen != 10) return false;
            out->has_ts = true;
            out->tsval = rd32(v);
            out->tsecr = rd32(v + 4);
            break;
        case ET_TCPOPT_SACK: /* RFC 2018 §3: 2 + 8n bytes; n <= 4 as olen <= 40 */
            if ((olen - 2) % 8 != 0 || olen < 10 || out->n_sack) {
                out->sack_bad = true; /* malformed or repeated: the engine counts it */
                break;
            }
            out->n_sack = (uint8_t)((olen - 2) / 8);
            for (uint32_t b = 0; b < out->n_sack; b++) {
                out->sack[b].start = rd32(v + 8 * b);
                out->sack[b].end = rd32(v + 8 * b + 4);
            }
            break;
        default:
            /* Unknown kinds are skipped by length (RFC 1122 §4.2.2.5). */
            break;
        }
        i += olen;
    }
    return true;
}

static et_frame_kind drop(efvitcp_drop_reason *why, efvitcp_drop_reason r)
{
    *why = r;
    return ET_FRAME_DROP;
}

static et_frame_kind parse_arp(const uint8_t *frame, uint32_t len, et_arp_msg *arp,
                               efvitcp_drop_reason *why)
{
    if (len < ET_ETH_HLEN + ARP_LEN) return drop(why, EFVITCP_DROP_RUNT);
    const uint8_t *a = frame + ET_ETH_HLEN;
    /* RFC 826: only Ethernet hardware (1) mapping IPv4 (0x0800) with 6/4-byte addresses. */
    uint16_t oper = rd16(a + 6);
    if (rd16(a) != 1 || rd16(a + 2) != ET_ETHERTYPE_IP || a[4] != 6 || a[5] != 4 ||
        (oper != 1 && oper != 2))
        return drop(why, EFVITCP_DROP_ARP);
    arp->oper = oper;
    memcpy(arp->sha, a + 8, 6);
    arp->spa = rd32(a + 14);
    memcpy(arp->tha, a + 18, 6);
    arp->tpa = rd32(a + 24);
    return ET_FRAME_ARP;
}

et_frame_kind et_parse_frame(const uint8_t *frame, uint32_t len, const uint8_t my_mac[6],
                             uint32_t my_ip, uint32_t hw_csum, et_tcp_seg *seg, et_arp_msg *arp,
                             efvitcp_drop_reason *why)
{
    if (len < ET_ETH_HLEN) return drop(why, EFVITCP_DROP_RUNT);
    /* VLAN-tagged frames (0x8100) land here too: the link is expected to strip tags. */
    uint16_t type = rd16(frame + 12);
    if (type != ET_ETHERTYPE_IP && type != ET_ETHERTYPE_ARP)
        return drop(why, EFVITCP_DROP_ETHERTYPE);
    if (memcmp(frame, my_mac, 6) != 0 &&
        !(type == ET_ETHERTYPE_ARP && memcmp(frame, bcast_mac, 6) == 0))
        return drop(why, EFVITCP_DROP_NOT_OURS);
    if (type == ET_ETHERTYPE_ARP) return parse_arp(frame, len, arp, why);

    if (len < ET_ETH_HLEN + ET_IP_HLEN) return drop(why, EFVITCP_DROP_RUNT);
    const uint8_t *ip = frame + ET_ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
    if (ip[0] >> 4 != 4 || ihl < ET_IP_HLEN) return drop(why, EFVITCP_DROP_IP_HEADER);
    if (len < ET_ETH_HLEN + ihl) return drop(why, EFVITCP_DROP_RUNT);
    /* The total length, not the frame length, bounds the datagram: short frames are padded to
       the Ethernet minimum (RFC 894), and a frame shorter than its datagram was truncated. */
    uint32_t tot_len = rd16(ip + 2);
    if (tot_len < ihl || tot_len > len - ET_ETH_HLEN) return drop(why, EFVITCP_DROP_IP_HEADER);
    /* No reassembly: MF or a non-zero offset marks a fragment (RFC 791 §3.1). DF and the
       reserved bit are ignored. */
    if (rd16(ip + 6) & 0x3fff) return drop(why, EFVITCP_DROP_IP_HEADER);
    /* What the hardware checked is not checked again, unless IP options make the datagram one
       a NIC's parser may have passed over unchecked. */
    if (ihl != ET_IP_HLEN) hw_csum = 0;
    /* RFC 1122 §3.2.1.2: a datagram with a bad header checksum is silently discarded. IP
       options are covered by the checksum and otherwise skipped. */
    if (!(hw_csum & ET_RX_CSUM_IP) && et_csum_fold(et_csum_add_hdr(0, ip, ihl)) != 0xffff)
        return drop(why, EFVITCP_DROP_IP_CSUM);
    uint32_t saddr = rd32(ip + 12), daddr = rd32(ip + 16);
    /* RFC 1122 §3.2.1.3: discard datagrams whose source is "this host" (0), broadcast or
       multicast; a reply could not be addressed to it. */
    if (saddr == 0 || ip_is_group(saddr)) return drop(why, EFVITCP_DROP_IP_HEADER);
    /* RFC 1122 §4.2.3.10: TCP is never addressed to a broadcast or multicast address. */
    if (my_ip ? daddr != my_ip : ip_is_group(daddr)) return drop(why, EFVITCP_DROP_NOT_OURS);
    if (ip[9] != ET_IPPROTO_TCP) return drop(why, EFVITCP_DROP_PROTO);

    uint32_t tcp_len = tot_len - ihl;
    if (tcp_len < ET_TCP_HLEN) return drop(why, EFVITCP_DROP_RUNT);
    const uint8_t *tcp = ip + ihl;
    uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4;
    if (doff < ET_TCP_HLEN || doff > tcp_len) return drop(why, EFVITCP_DROP_TCP_HEADER);
    if (!(hw_csum & ET_RX_CSUM_TCP)) {
        uint32_t sn, dn;
        memcpy(&sn, ip + 12, 4);
        memcpy(&dn, ip + 16, 4);
        uint64_t sum = et_csum_pseudo(sn, dn, ET_IPPROTO_TCP, (uint16_t)tcp_len);
        /* RFC 9293 §3.1: the sum over pseudo-header, header and data, checksum included, is
           all ones for an intact segment. */
        sum = et_csum_add_hdr(sum, tcp, doff);
        if (et_csum_fold(et_csum_add(sum, tcp + doff, tcp_len - doff)) != 0xffff)
            return drop(why, EFVITCP_DROP_TCP_CSUM);
    }
    if (!et_parse_tcp_options(tcp + ET_TCP_HLEN, doff - ET_TCP_HLEN, &seg->opt))
        return drop(why, EFVITCP_DROP_TCP_HEADER);

    et_seg_fill(seg, frame, saddr, daddr, tcp, doff, tcp_len);
    return ET_FRAME_TCP;
}
