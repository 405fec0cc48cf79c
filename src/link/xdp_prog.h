/*
 * What the xdp link and its XDP program (xdp_prog.bpf.c) share: map names, key and value layouts
 * and configuration flags. Included by both the BPF program and user space, so it uses only
 * fixed-width kernel types. Every address and port in et_conns and et_cfg is in network byte order,
 * the way the program reads them from the packet; et_listen is indexed by the port in host order.
 */
#ifndef EFVITCP_XDP_PROG_H
#define EFVITCP_XDP_PROG_H

#include <linux/types.h>

/* Map names in the object; user space finds the maps by these. */
#define ET_XDP_MAP_XSKS   "et_xsks"
#define ET_XDP_MAP_LISTEN "et_listen"
#define ET_XDP_MAP_CONNS  "et_conns"
#define ET_XDP_MAP_CFG    "et_cfg"
#define ET_XDP_PROG_NAME  "et_xdp_steer"

/* Default sizes, replaced by the link from the config before the object is loaded. */
#define ET_XDP_MAX_QUEUES 64u
/* et_listen is a bitmap over the port space: word port / 64 (host order), bit port % 64. 8 KiB
   cover every port, so the stack can listen on as many as it likes; a lookup is one array load. */
#define ET_XDP_LISTEN_WORDS 1024u

/* A connected flow: the key of et_conns (value: one byte, unused). No padding: 8 bytes. */
struct et_xdp_conn_key {
    __u32 remote_ip;
    __u16 remote_port;
    __u16 local_port;
};

/* The one entry of et_cfg. */
struct et_xdp_cfg {
    __u32 local_ip; /* 0: no address yet, nothing is steered */
    __u32 flags;    /* ET_XDP_F_* */
};

/* The stack owns local_ip alone (the kernel does not have it): ARP for it must reach the stack. */
#define ET_XDP_F_ARP (1u << 0)
/* Every TCP segment for local_ip is ours, not only known flows: with an address the kernel does
   not own, the stack must answer segments for closed ports itself (RFC 9293 §3.10.7.1). */
#define ET_XDP_F_ALL_TCP (1u << 1)

#endif
