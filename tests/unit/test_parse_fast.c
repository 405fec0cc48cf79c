/*
 * The receive path's shortcut (et_parse_frame_fast) against the reference parser
 * (et_parse_frame): on every frame the shortcut takes, the reference must take it too and give
 * the same segment, field for field. Frames are well-formed segments of the common shape, and the
 * same with up to three random bytes of the headers changed, cut short or padded, with random
 * hardware checksum flags: the shortcut must never accept what the reference would drop or read
 * differently, and must accept every unchanged frame of the common shape.
 */
#include "harness.h"
#include "net/parse.h"
#include "tcp/hdr_tmpl.h"

#include <string.h>

static uint64_t prng_state = 7;

static uint64_t prng(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const uint8_t my_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
#define MY_IP   0xc6120001u /* 198.18.0.1 */
#define PEER_IP 0xc6120002u

/* A well-formed segment to us at buf: no options or NOP, NOP, TS; plen bytes of payload. */
static uint32_t make_frame(uint8_t *buf, bool ts, uint32_t plen)
{
    et_hdr_tmpl t;
    et_hdr_tmpl_init(&t, peer_mac, my_mac, PEER_IP, MY_IP, (uint16_t)(1 + prng() % 65535),
                     (uint16_t)(1 + prng() % 65535));
    uint32_t optlen = 0;
    uint64_t sum = 0;
    if (ts) {
        sum = et_hdr_ts_opt(buf + ET_HDRS_LEN, (uint32_t)prng(), (uint32_t)prng());
        optlen = ET_TS_OPTLEN;
    }
    for (uint32_t i = 0; i < plen; i++) buf[ET_HDRS_LEN + optlen + i] = (uint8_t)prng();
    sum += et_csum_add(0, buf + ET_HDRS_LEN + optlen, plen);
    et_hdr_tmpl_write(buf, &t, (uint32_t)prng(), (uint32_t)prng(), (uint8_t)prng(),
                      (uint16_t)prng(), optlen, plen, sum);
    return ET_HDRS_LEN + optlen + plen;
}

static bool same_seg(const et_tcp_seg *a, const et_tcp_seg *b)
{
    return a->src_mac == b->src_mac && a->saddr == b->saddr && a->daddr == b->daddr &&
           a->sport == b->sport && a->dport == b->dport && a->seq == b->seq && a->ack == b->ack &&
           a->flags == b->flags && a->window == b->window && a->payload == b->payload &&
           a->len == b->len && a->opt.has_mss == b->opt.has_mss && a->opt.has_ws == b->opt.has_ws &&
           a->opt.has_ts == b->opt.has_ts && a->opt.sack_perm == b->opt.sack_perm &&
           a->opt.mss == b->opt.mss && a->opt.ws == b->opt.ws && a->opt.tsval == b->opt.tsval &&
           a->opt.tsecr == b->opt.tsecr;
}

/* One frame through both parsers; returns whether the shortcut took it. */
static bool compare(const uint8_t *f, uint32_t len, uint32_t my_ip, uint32_t csum)
{
    et_tcp_seg fast, ref;
    et_arp_msg arp;
    efvitcp_drop_reason why = EFVITCP_DROP_REASONS;
    if (!et_parse_frame_fast(f, len, my_mac, my_ip, csum, &fast)) return false;
    CHECK_EQ(et_parse_frame(f, len, my_mac, my_ip, csum, &ref, &arp, &why), ET_FRAME_TCP);
    CHECK(same_seg(&fast, &ref));
    return true;
}

static void test_common_shape_taken(void)
{
    uint8_t buf[2048];
    const uint32_t both = ET_RX_CSUM_IP | ET_RX_CSUM_TCP;
    for (int i = 0; i < 5000; i++) {
        bool ts = prng() & 1;
        uint32_t len = make_frame(buf, ts, (uint32_t)(prng() % 1460));
        CHECK(compare(buf, len, MY_IP, both));
        CHECK(compare(buf, len, 0, both)); /* an instance that takes any address */
        /* Ethernet padding after the datagram (RFC 894) changes nothing. */
        CHECK(compare(buf, len + (uint32_t)(prng() % 32), MY_IP, both));
        /* Without both checksums verified by the NIC, the shortcut sums what it did not. */
        CHECK(compare(buf, len, MY_IP, (uint32_t)(prng() % 3)));
    }
}

/* A bad checksum that the NIC did not verify: the shortcut passes the frame to the reference,
   which drops it and names the checksum. One the NIC verified is not summed again. */
static void test_bad_checksum_left_to_reference(void)
{
    uint8_t buf[2048];
    for (int i = 0; i < 2000; i++) {
        bool ts = prng() & 1;
        uint32_t plen = (uint32_t)(prng() % 1460);
        uint32_t len = make_frame(buf, ts, plen);
        /* One bit (which no ones'-complement sum absorbs) of a field that decides nothing
           else: the IP id or TTL, or the TCP ports, sequence and ACK numbers or payload. */
        static const uint32_t ip_at[] = {18, 19, 22};
        bool in_ip = prng() & 1;
        uint32_t hdr = len - plen, at;
        if (in_ip)
            at = ip_at[prng() % 3];
        else if (plen && (prng() & 1))
            at = hdr + (uint32_t)(prng() % plen);
        else
            at = 34 + (uint32_t)(prng() % 12);
        buf[at] ^= (uint8_t)(1u << (prng() % 8));
        uint32_t verified = in_ip ? ET_RX_CSUM_TCP : ET_RX_CSUM_IP;
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why = EFVITCP_DROP_REASONS;
        CHECK(!et_parse_frame_fast(buf, len, my_mac, MY_IP, verified, &seg));
        CHECK(!et_parse_frame_fast(buf, len, my_mac, MY_IP, 0, &seg));
        CHECK_EQ(et_parse_frame(buf, len, my_mac, MY_IP, verified, &seg, &arp, &why),
                 ET_FRAME_DROP);
        CHECK_EQ(why, in_ip ? EFVITCP_DROP_IP_CSUM : EFVITCP_DROP_TCP_CSUM);
        /* What the NIC says it verified is trusted: the same frame, both flags, is taken. */
        CHECK(et_parse_frame_fast(buf, len, my_mac, MY_IP, ET_RX_CSUM_IP | ET_RX_CSUM_TCP, &seg));
    }
}

static void test_mutated_frames(void)
{
    uint8_t buf[2048];
    uint32_t taken = 0, runs = 200000;
    for (uint32_t i = 0; i < runs; i++) {
        bool ts = prng() & 1;
        uint32_t len = make_frame(buf, ts, (uint32_t)(prng() % 64));
        uint32_t hdr = ET_HDRS_LEN + (ts ? ET_TS_OPTLEN : 0);
        int changes = (int)(prng() % 4); /* 0: the frame as made */
        for (int k = 0; k < changes; k++) {
            uint32_t at = (uint32_t)(prng() % hdr);
            /* Half the time a byte that decides the shape, set to a value near the boundary. */
            static const uint32_t keys[] = {12, 13, 14, 16, 17, 20, 21, 23, 26, 30, 33, 46, 54, 57};
            if (prng() & 1) at = keys[prng() % (sizeof(keys) / sizeof(keys[0]))];
            if (at < hdr) buf[at] = (uint8_t)prng();
        }
        uint32_t r = (uint32_t)(prng() % 8);
        if (r == 0) len = (uint32_t)(prng() % (len + 1)); /* cut short */
        uint32_t my_ip = (prng() % 16) ? MY_IP : 0;
        uint32_t csum = (prng() % 4) ? ET_RX_CSUM_IP | ET_RX_CSUM_TCP : (uint32_t)(prng() % 3);
        taken += compare(buf, len, my_ip, csum);
    }
    /* The comparison means something only if the shortcut took a fair share. */
    CHECK(taken > runs / 20);
}

int main(void)
{
    RUN(test_common_shape_taken);
    RUN(test_bad_checksum_left_to_reference);
    RUN(test_mutated_frames);
    return th_summary();
}
