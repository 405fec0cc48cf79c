/* Header templates (hdr_tmpl.h): built once per connection, off the per-segment path. */
#include "tcp/hdr_tmpl.h"

void et_hdr_tmpl_init(et_hdr_tmpl *t, const uint8_t src_mac[6], const uint8_t dst_mac[6],
                      uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
    memset(t, 0, sizeof(*t));
    uint8_t *eth = t->hdr, *ip = eth + ET_ETH_HLEN, *tcp = ip + ET_IP_HLEN;
    memcpy(eth, dst_mac, 6);
    memcpy(eth + 6, src_mac, 6);
    uint16_t type_n = htons(ET_ETHERTYPE_IP);
    memcpy(eth + 12, &type_n, 2);

    /* Version 4, no options, no TOS; identification 0 with DF (RFC 6864 §4.1: an atomic datagram
       needs no unique identification). Total length and checksum vary. */
    ip[0] = 0x45;
    uint16_t frag_n = htons(ET_IP_DF);
    memcpy(ip + 6, &frag_n, 2);
    ip[8] = ET_IP_TTL;
    ip[9] = ET_IPPROTO_TCP;
    uint32_t saddr_n = htonl(saddr), daddr_n = htonl(daddr);
    memcpy(ip + 12, &saddr_n, 4);
    memcpy(ip + 16, &daddr_n, 4);
    t->ip_sum = et_csum_fold(et_csum_add_hdr(0, ip, ET_IP_HLEN)); /* small: see hdr_tmpl.h */

    uint16_t sport_n = htons(sport), dport_n = htons(dport);
    memcpy(tcp, &sport_n, 2);
    memcpy(tcp + 2, &dport_n, 2);
    /* The pseudo-header (RFC 9293 §3.1) without the TCP length, which varies. */
    t->tcp_sum = et_csum_pseudo(saddr_n, daddr_n, ET_IPPROTO_TCP, 0) + sport_n + dport_n;
}
