/* Wire formats of Ethernet, ARP, IPv4 and TCP, and their constants. Multi-byte fields are in
   network byte order, as on the wire. */
#ifndef EFVITCP_HEADERS_H
#define EFVITCP_HEADERS_H

#include <stdint.h>

#define ET_ETH_HLEN       14
#define ET_ETHERTYPE_IP   0x0800
#define ET_ETHERTYPE_ARP  0x0806
#define ET_ETHERTYPE_VLAN 0x8100
#define ET_IP_HLEN        20
#define ET_TCP_HLEN       20
#define ET_IPPROTO_TCP    6
#define ET_IP_TTL         64
#define ET_IP_DF          0x4000
#define ET_TCP_MAX_OPTLEN 40

/* TCP flags (RFC 9293 §3.1) */
#define ET_TCP_FIN 0x01
#define ET_TCP_SYN 0x02
#define ET_TCP_RST 0x04
#define ET_TCP_PSH 0x08
#define ET_TCP_ACK 0x10
#define ET_TCP_URG 0x20

/* TCP option kinds */
#define ET_TCPOPT_EOL       0
#define ET_TCPOPT_NOP       1
#define ET_TCPOPT_MSS       2
#define ET_TCPOPT_WS        3
#define ET_TCPOPT_SACK_PERM 4
#define ET_TCPOPT_SACK      5
#define ET_TCPOPT_TS        8

struct __attribute__((packed)) et_eth_hdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t type;
};

struct __attribute__((packed)) et_arp_pkt {
    uint16_t htype, ptype;
    uint8_t hlen, plen;
    uint16_t oper;
    uint8_t sha[6];
    uint32_t spa;
    uint8_t tha[6];
    uint32_t tpa;
};

struct __attribute__((packed)) et_ip_hdr {
    uint8_t ver_ihl;
    uint8_t tos;
    uint16_t tot_len;
    uint16_t id;
    uint16_t frag_off;
    uint8_t ttl;
    uint8_t proto;
    uint16_t csum;
    uint32_t saddr, daddr;
};

struct __attribute__((packed)) et_tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t doff_res; /* data offset in the high nibble */
    uint8_t flags;
    uint16_t window;
    uint16_t csum;
    uint16_t urg;
};

#endif
