/*
 * Own-address mode (addr.h): the stack alone owns its address. The next hop is the destination
 * on the configured subnet and the gateway beyond it; MACs come from our neighbour cache, which
 * ARP (RFC 826) fills; ports come from our own connection table.
 */
#include <string.h>

#include "tcp/addr.h"
#include "tcp/stack.h"

static const char *own_init(et_stack *st)
{
    (void)st;
    return NULL;
}

static void own_close(et_stack *st)
{
    (void)st;
}

static bool same_subnet(const et_stack *st, uint32_t ip)
{
    uint32_t mask = st->prefix_len ? ~0u << (32 - st->prefix_len) : 0;
    return (ip & mask) == (st->local_ip & mask);
}

static const char *own_route(et_stack *st, uint32_t ip, uint32_t *next_hop)
{
    *next_hop = same_subnet(st, ip) ? ip : st->gateway;
    return NULL;
}

static const char *own_reserve_port(et_stack *st, uint32_t rip, uint16_t rport, uint16_t *lport,
                                    int *fd_out)
{
    *fd_out = -1;
    if (*lport) return NULL; /* no one but us hands out ports of this address */
    if (!(*lport = et_conn_pick_port(st, rip, rport))) return "no free ephemeral port";
    return NULL;
}

static void own_release(et_conn *c)
{
    (void)c;
}

static bool own_resolve(et_conn *c)
{
    et_stack *st = c->st;
    et_neigh_entry *e = et_neigh_get(&st->neigh, c->next_hop, st->now_ns);
    if (e->resolved) {
        et_conn_set_peer_mac(c, e->mac);
        return true;
    }
    et_send_arp(st, 1, NULL, c->next_hop);
    c->retx_mode = ET_RETX_ARP;
    et_arm_retx_timer(c);
    return false;
}

/* Requests go again every initial RTO, backed off like SYNs and bounded by syn_retries. */
static int own_arp_timer(et_conn *c)
{
    et_stack *st = c->st;
    et_neigh_entry *e = et_neigh_get(&st->neigh, c->next_hop, st->now_ns);
    if (++c->retries > st->cfg.syn_retries) return -1;
    if (!e->resolved) et_send_arp(st, 1, NULL, c->next_hop);
    et_arm_retx_timer(c);
    return 0;
}

/* A neighbour became known: start the handshakes that waited for it. */
static void neigh_resolved(et_stack *st, uint32_t ip, const uint8_t mac[6])
{
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
        et_conn *c = &st->conns[i];
        if (c->state != EFVITCP_WAIT_ARP || c->next_hop != ip) continue;
        et_conn_set_peer_mac(c, mac);
        et_wheel_cancel(&st->wheel, &c->t_retx);
        c->retx_mode = ET_RETX_NONE;
        c->retries = 0;
        c->state = EFVITCP_SYN_SENT;
        et_output_syn(c);
    }
}

/* RFC 826 packet reception, with the RFC 5227 caution of updating only entries we asked for
   unless the request is addressed to us. */
static void own_arp_input(et_stack *st, const et_arp_msg *a)
{
    if (a->spa == 0 || a->spa == st->local_ip) {
        st->stats.drops[EFVITCP_DROP_ARP]++;
        return;
    }
    bool for_us = a->tpa == st->local_ip;
    et_neigh_entry *e = et_neigh_find(&st->neigh, a->spa);
    bool was_resolved = e && e->resolved;
    e = et_neigh_learn(&st->neigh, a->spa, a->sha, for_us, st->now_ns);
    if (for_us && a->oper == 1) et_send_arp(st, 2, a->sha, a->spa);
    if (e && !was_resolved) neigh_resolved(st, a->spa, a->sha);
}

const et_addr_ops et_addr_own = {
    .init = own_init,
    .close = own_close,
    .route = own_route,
    .reserve_port = own_reserve_port,
    .release = own_release,
    .resolve = own_resolve,
    .arp_timer = own_arp_timer,
    .arp_input = own_arp_input,
};
