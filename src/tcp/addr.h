/*
 * Addressing: how a connection finds its next hop and the next hop's MAC, and how a local port is
 * reserved. Two implementations, chosen once at init from the link's capabilities:
 *
 * - own address (addr_own.c): the stack alone owns its address (mem, shm, packet, or xdp/efvi with
 *   cfg.local_addr). Next hops come from the configured prefix and gateway, MACs from our own
 *   neighbour cache filled by ARP (RFC 826) that we send and answer, ports from our own table.
 * - kernel-shared (addr_kernel.c): the stack shares the interface's address with the kernel. Next
 *   hops and MACs come from the kernel over netlink, the kernel resolves missing neighbours, and
 *   each port is held by a bound kernel socket for the connection's life.
 *
 * Neither blocks: a next hop without a MAC leaves the connection in WAIT_ARP, and the ARP timer
 * (ET_RETX_ARP) retries and gives up through on_timeout.
 */
#ifndef EFVITCP_TCP_ADDR_H
#define EFVITCP_TCP_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "net/parse.h"

struct et_stack;
struct efvitcp_conn;

typedef struct et_addr_ops {
    /** Takes what the mode needs (netlink, the port table; the address when the link gave
        none). NULL or why not; close() is called either way. */
    const char *(*init)(struct et_stack *st);
    void (*close)(struct et_stack *st);
    /** The next hop toward ip (host order) in *next_hop (0: none). NULL or why not. */
    const char *(*route)(struct et_stack *st, uint32_t ip, uint32_t *next_hop);
    /** Reserves *lport for a connection to rip:rport; 0 asks for an ephemeral port (RFC 6056).
        A port given is already known free in our own table. *fd_out: a kernel socket holding
        the port, or -1. NULL or why not. */
    const char *(*reserve_port)(struct et_stack *st, uint32_t rip, uint16_t rport, uint16_t *lport,
                                int *fd_out);
    /** Gives back what reserve_port took for the connection (at free). */
    void (*release)(struct efvitcp_conn *c);
    /** The next hop's MAC into c->remote_mac: true. Otherwise starts resolution, arms the ARP
        timer and returns false: the caller puts c in WAIT_ARP. */
    bool (*resolve)(struct efvitcp_conn *c);
    /** The ARP timer fired: 1 resolved and the SYN left, 0 still waiting (re-armed), -1 give
        up (retries exhausted). */
    int (*arp_timer)(struct efvitcp_conn *c);
    /** An ARP frame for us (RFC 826). */
    void (*arp_input)(struct et_stack *st, const et_arp_msg *a);
    /** A retransmission timeout on c (a SYN's too): what it sent may be going to a neighbour
        that is gone or moved to another MAC. */
    void (*retx_timeout)(struct efvitcp_conn *c);
} et_addr_ops;

extern const et_addr_ops et_addr_own;
extern const et_addr_ops et_addr_kernel;

#endif
