/*
 * Own-address mode (addr.h): the stack alone owns its address. The next hop is the destination
 * on the configured subnet and the gateway beyond it; MACs come from our own neighbour cache, which
 * ARP (RFC 826) fills; ports come from our own connection table.
 *
 * Every connection holds a copy of its next hop's MAC (its header template), so the cache is not
 * read per segment: a neighbour that resolves or moves is pushed to the connections through it
 * (follow). A neighbour is asked again when a connection through it times out and nothing from it
 * has confirmed its MAC for ET_NEIGH_REACHABLE_NS (Linux's reachable time), or times out twice in
 * a row: a gateway replaced by one with another MAC is found by the timeouts, not by the
 * connections giving up.
 */
#include <string.h>

#include "tcp/addr.h"
#include "tcp/stack.h"

#define ET_NEIGH_REACHABLE_NS (30ull * 1000000000)
#define ET_NEIGH_LOCK_NS      1000000000ull /* Linux's locktime (net.ipv4.neigh.*.locktime) */

static const char *own_init(et_stack *st)
{
    st->neigh.lock_ns = ET_NEIGH_LOCK_NS;
    return NULL;
}

static void own_close(et_stack *st)
{
    (void)st;
}

static uint32_t next_hop(const et_stack *st, uint32_t ip)
{
    uint32_t mask = st->prefix_len ? ~0u << (32 - st->prefix_len) : 0;
    return (ip & mask) == (st->local_ip & mask) ? ip : st->gateway;
}

static const char *own_route(et_stack *st, uint32_t ip, uint32_t *hop)
{
    *hop = next_hop(st, ip);
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

/* A broadcast request for e's address, unless one went within half an initial RTO: the
   connections waiting for one neighbour retry on their own timers and share its requests. One
   that could not go (no control buffer) leaves the next caller free to try. */
static void request(et_stack *st, et_neigh_entry *e)
{
    if (st->now_ns >= e->next_try_ns && et_send_arp(st, 1, NULL, e->ip))
        e->next_try_ns = st->now_ns + (uint64_t)st->cfg.initial_rto_us * 500;
}

static bool own_resolve(et_conn *c)
{
    et_stack *st = c->st;
    et_neigh_entry *e = et_neigh_get(&st->neigh, c->next_hop, st->now_ns);
    if (e->resolved) {
        et_conn_set_peer_mac(c, e->mac);
        return true;
    }
    request(st, e);
    c->retx_mode = ET_RETX_ARP;
    et_arm_retx_timer(c);
    return false;
}

/* Requests go again every initial RTO, backed off like SYNs and bounded by syn_retries. An entry
   found resolved here was learnt without follow() (it was evicted while this connection
   waited, then created by a request from the neighbour): the SYN goes now. */
static int own_arp_timer(et_conn *c)
{
    et_stack *st = c->st;
    et_neigh_entry *e = et_neigh_get(&st->neigh, c->next_hop, st->now_ns);
    if (e->resolved) {
        et_conn_resolved(c, e->mac);
        return 1;
    }
    if (++c->retries > st->cfg.syn_retries) return -1;
    request(st, e);
    et_arm_retx_timer(c);
    return 0;
}

/* The neighbour at ip resolved or moved to mac: the handshakes that waited for it start, and the
   connections through it send to mac from their next segment on. A scan of every slot, so it
   runs only for an entry we asked for or one that moved, at most once per lock_ns each: never
   for the new entries that ARP from any number of addresses creates. */
static void follow(et_stack *st, uint32_t ip, const uint8_t mac[6])
{
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
        et_conn *c = &st->conns[i];
        if (c->state == EFVITCP_CLOSED || next_hop(st, c->remote_ip) != ip) continue;
        if (c->state == EFVITCP_WAIT_ARP)
            et_conn_resolved(c, mac);
        else
            et_conn_set_peer_mac(c, mac);
    }
}

/* RFC 826 packet reception. Entries are created only by requests addressed to us (as RFC 5227
   §2.6 and Linux without arp_accept): a reply updates only an entry we asked for. A gratuitous
   announcement (sender and target address the same) moves an entry within the lock time, as in
   Linux: it is how a failover says so. */
static void own_arp_input(et_stack *st, const et_arp_msg *a)
{
    bool request_for_us = a->oper == 1 && a->tpa == st->local_ip;
    if (a->spa == 0) {
        /* RFC 5227 §2.1.1: a host probing whether our address is free; the answer (to its MAC,
           from our address) tells it that it is not, as Linux answers. */
        if (request_for_us && et_mac_is_host(a->sha))
            et_send_arp(st, 2, a->sha, 0);
        else
            st->stats.drops[EFVITCP_DROP_ARP]++;
        return;
    }
    if (a->spa == st->local_ip) {
        st->stats.drops[EFVITCP_DROP_ARP]++; /* another host claims our address */
        return;
    }
    et_neigh_news news;
    unsigned flags =
        (request_for_us ? ET_NEIGH_CREATE : 0u) | (a->spa == a->tpa ? ET_NEIGH_OVERRIDE : 0u);
    et_neigh_learn(&st->neigh, a->spa, a->sha, flags, st->now_ns, &news);
    if (request_for_us && !et_mac_is_host(a->sha)) {
        st->stats.drops[EFVITCP_DROP_ARP]++; /* unanswered: a reply to a group would reach all */
        return;
    }
    if (news == ET_NEIGH_LOCKED) st->stats.drops[EFVITCP_DROP_ARP]++; /* answered, not learnt */
    if (request_for_us) et_send_arp(st, 2, a->sha, a->spa);
    if (news == ET_NEIGH_RESOLVED || news == ET_NEIGH_MOVED) follow(st, a->spa, a->sha);
}

/* A SYN-ACK's timeout is none of this: its MAC came with the SYN a moment ago, and a flood of
   spoofed SYNs must not fill the cache. Otherwise the connection takes the MAC the cache has (an
   entry that was evicted and came back with another MAC was not followed), and the neighbour is
   asked again when nothing confirmed it for the reachable time, or at a second timeout in a row
   of a synchronised connection whatever confirmed it: a neighbour that moved without a word is
   found then, not 30 s later. */
static void own_retx_timeout(et_conn *c)
{
    et_stack *st = c->st;
    if (c->state == EFVITCP_SYN_RECEIVED) return;
    et_neigh_entry *e = et_neigh_get(&st->neigh, next_hop(st, c->remote_ip), st->now_ns);
    if (!e) return; /* beyond the subnet with no gateway: a peer whose SYN came anyway */
    if (e->resolved && memcmp(e->mac, c->remote_mac, 6) != 0) et_conn_set_peer_mac(c, e->mac);
    /* A SYN unanswered twice is most often a host that is down, not one that moved: no request
       for that alone. */
    bool twice = c->retries >= 2 && c->state != EFVITCP_SYN_SENT;
    if (!e->resolved || twice || st->now_ns - e->updated_ns >= ET_NEIGH_REACHABLE_NS)
        request(st, e);
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
    .retx_timeout = own_retx_timeout,
};
