/*
 * Header templates (tcp/hdr_tmpl.h) against a plain reference: every field where RFC 791 and
 * RFC 9293 put it, and both checksums equal to a full recomputation over the finished frame, for
 * random addresses, ports, sequence numbers, flags, windows, options and payloads, odd lengths
 * and all-ones words included (the cases where an incremental sum can go wrong).
 */
#include "harness.h"
#include "net/checksum.h"
#include "net/parse.h"
#include "tcp/hdr_tmpl.h"

#include <stdlib.h>

static uint64_t prng_state = 1;

static uint64_t prng(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The ones'-complement sum of len bytes, 16 bits at a time in network order (RFC 1071 §4.1). */
static uint32_t ref_sum(const uint8_t *p, uint32_t len, uint32_t sum)
{
    for (uint32_t i = 0; i + 1 < len; i += 2) sum += rd16(p + i);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* A 32-bit value whose bytes are all ones or all zeros half the time: the edge cases of a sum. */
static uint32_t edgy32(void)
{
    switch (prng() % 4) {
    case 0:
        return 0;
    case 1:
        return 0xffffffffu;
    default:
        return (uint32_t)prng();
    }
}

static void check_one(bool all_ones_payload)
{
    uint8_t src_mac[6], dst_mac[6];
    for (int i = 0; i < 6; i++) src_mac[i] = (uint8_t)prng(), dst_mac[i] = (uint8_t)prng();
    dst_mac[0] &= 0xfe; /* unicast */
    uint32_t saddr = 0x0a000000u | ((uint32_t)prng() & 0xffffff) | 1;
    uint32_t daddr = 0xc6120000u | ((uint32_t)prng() & 0xffff) | 1;
    uint16_t sport = (uint16_t)(prng() | 1), dport = (uint16_t)(prng() | 1);
    et_hdr_tmpl t;
    et_hdr_tmpl_init(&t, src_mac, dst_mac, saddr, daddr, sport, dport);

    static uint8_t buf[ET_HDRS_LEN + 40 + 1500];
    uint32_t seq = edgy32(), ack = edgy32();
    uint8_t flags = (uint8_t)(prng() & 0x3f);
    uint16_t win = (uint16_t)edgy32();
    uint32_t optlen = (uint32_t)(prng() % 11) * 4; /* 0..40 */
    uint32_t plen = (uint32_t)(prng() % 1461);
    uint8_t *opt = buf + ET_HDRS_LEN, *pay = opt + optlen;
    uint64_t sum = 0;
    if (optlen == ET_TS_OPTLEN && prng() % 2) {
        sum = et_hdr_ts_opt(opt, edgy32(), edgy32());
    } else {
        for (uint32_t i = 0; i < optlen; i++) opt[i] = (uint8_t)prng();
        sum = et_csum_add(0, opt, optlen);
    }
    for (uint32_t i = 0; i < plen; i++) pay[i] = all_ones_payload ? 0xff : (uint8_t)prng();
    /* The payload sum as tcp_out keeps it: folded to 16 bits. */
    sum += et_csum_fold(et_csum_add(0, pay, plen));
    et_hdr_tmpl_write(buf, &t, seq, ack, flags, win, optlen, plen, sum);

    const uint8_t *ip = buf + ET_ETH_HLEN, *tcp = ip + ET_IP_HLEN;
    CHECK(memcmp(buf, dst_mac, 6) == 0);
    CHECK(memcmp(buf + 6, src_mac, 6) == 0);
    CHECK_EQ(rd16(buf + 12), ET_ETHERTYPE_IP);
    CHECK_EQ(ip[0], 0x45);
    CHECK_EQ(rd16(ip + 2), ET_IP_HLEN + ET_TCP_HLEN + optlen + plen);
    CHECK_EQ(rd16(ip + 6), ET_IP_DF);
    CHECK_EQ(ip[8], ET_IP_TTL);
    CHECK_EQ(ip[9], ET_IPPROTO_TCP);
    CHECK_EQ(rd32(ip + 12), saddr);
    CHECK_EQ(rd32(ip + 16), daddr);
    CHECK_EQ(ref_sum(ip, ET_IP_HLEN, 0), 0xffff);
    CHECK_EQ(rd16(tcp), sport);
    CHECK_EQ(rd16(tcp + 2), dport);
    CHECK_EQ(rd32(tcp + 4), seq);
    CHECK_EQ(rd32(tcp + 8), ack);
    CHECK_EQ(tcp[12] >> 4, (ET_TCP_HLEN + optlen) / 4);
    CHECK_EQ(tcp[13], flags);
    CHECK_EQ(rd16(tcp + 14), win);
    CHECK_EQ(rd16(tcp + 18), 0);
    uint32_t tcp_len = ET_TCP_HLEN + optlen + plen;
    uint32_t pseudo = (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff) +
                      ET_IPPROTO_TCP + tcp_len;
    CHECK_EQ(ref_sum(tcp, tcp_len, pseudo), 0xffff);
    /* A checksum of 0xffff (-0) would be a correct sum but never what a full computation writes,
       except for an all-zero message, which a TCP header never is. */
    CHECK(rd16(tcp + 16) != 0xffff || ref_sum(tcp, tcp_len, pseudo) == 0);

    /* And the stack's own parser takes it, checksums verified. */
    et_tcp_seg seg;
    et_arp_msg arp;
    efvitcp_drop_reason why = EFVITCP_DROP_REASONS;
    et_frame_kind k =
        et_parse_frame(buf, ET_HDRS_LEN + optlen + plen, dst_mac, daddr, 0, &seg, &arp, &why);
    /* Random option bytes may be malformed options, which the parser rejects after the sums. */
    CHECK(k == ET_FRAME_TCP || why == EFVITCP_DROP_TCP_HEADER);
    if (k == ET_FRAME_TCP) {
        CHECK_EQ(seg.seq, seq);
        CHECK_EQ(seg.len, plen);
    }
}

static void test_random_segments(void)
{
    for (int i = 0; i < 20000; i++) check_one(false);
}

static void test_all_ones_payloads(void)
{
    for (int i = 0; i < 2000; i++) check_one(true);
}

int main(void)
{
    RUN(test_random_segments);
    RUN(test_all_ones_payloads);
    return th_summary();
}
