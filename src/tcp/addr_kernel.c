/*
 * Kernel-shared addressing (addr.h, docs/links.md): when the link does not own its address, the
 * stack uses the interface's kernel address, asks the kernel for the route to each destination and
 * for the next hop's MAC, lets the kernel resolve a missing neighbour (never blocking: the ARP
 * timer looks at the kernel's table again), and reserves each ephemeral port with a kernel TCP
 * socket bound to (local address, port) for the connection's life, so that the kernel never hands
 * the same port to one of its own sockets.
 *
 * The reserving socket never listens or connects: it only holds the port in the kernel's bind
 * table. Segments of our flows must therefore never reach the kernel (it would answer them with
 * RST): only links that steer our flows to the stack (xdp, efvi) offer this mode.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/netlink.h"
#include "tcp/addr.h"
#include "tcp/stack.h"

#define ARP_POLL_FIRST_NS 1000000ull  /* first look at the kernel's table: a LAN answers in us */
#define ARP_POLL_MAX_NS   64000000ull /* the look-again interval doubles up to this */
#define PORT_TRIES        64          /* random ports tried before asking the kernel for one */

static const char *kernel_init(et_stack *st)
{
    et_link *l = st->link;
    if (!l->ifindex) return "link shares the kernel's address but names no kernel interface";
    st->nl = malloc(sizeof(*st->nl));
    st->port_fd = malloc(sizeof(int) * st->cfg.max_conns);
    if (!st->nl || !st->port_fd) {
        /* Both go: kernel_close would close whatever the unset port_fd entries say. */
        free(st->nl);
        st->nl = NULL;
        free(st->port_fd);
        st->port_fd = NULL;
        return "out of memory";
    }
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) st->port_fd[i] = -1;
    const char *err = et_nl_open(st->nl);
    if (err) {
        free(st->nl);
        st->nl = NULL;
        return err;
    }
    if (!st->local_ip) {
        uint32_t ip, plen;
        if (et_nl_if_addr(st->nl, l->ifindex, &ip, &plen))
            return "netlink: cannot read the interface's address";
        if (!ip) return "the interface has no IPv4 address (give one, or use local_addr)";
        st->local_ip = ip;
        st->prefix_len = plen;
    }
    return NULL;
}

static void kernel_close(et_stack *st)
{
    if (st->port_fd) {
        for (uint32_t i = 0; i < st->cfg.max_conns; i++)
            if (st->port_fd[i] >= 0) close(st->port_fd[i]);
        free(st->port_fd);
        st->port_fd = NULL;
    }
    if (st->nl) {
        et_nl_close(st->nl);
        free(st->nl);
        st->nl = NULL;
    }
}

static const char *kernel_route(et_stack *st, uint32_t ip, uint32_t *next_hop)
{
    et_route rt;
    int err = et_nl_route_get(st->nl, ip, st->local_ip, &rt);
    if (err == -ENETUNREACH || err == -EHOSTUNREACH) return "no route to host";
    if (err) return "netlink: route lookup failed";
    if (rt.type == RTN_LOCAL) return "destination is an address of this host";
    if (rt.type != RTN_UNICAST) return "no route to host (the route is not unicast)";
    if (rt.oif != st->link->ifindex) return "the route to that address leaves by another interface";
    *next_hop = rt.gateway ? rt.gateway : ip;
    return NULL;
}

/* A kernel TCP socket bound to (local address, port), or -errno. */
static int bind_port(const et_stack *st, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(st->local_ip);
    /* No SO_REUSEADDR: the bind must fail if any kernel socket uses the port. */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static const char *kernel_reserve_port(et_stack *st, uint32_t rip, uint16_t rport, uint16_t *lport,
                                       int *fd_out)
{
    if (*lport) {
        int fd = bind_port(st, *lport);
        if (fd == -EADDRINUSE) return "local port in use by a kernel socket";
        if (fd < 0) return "cannot reserve the local port with a kernel socket";
        *fd_out = fd;
        return NULL;
    }
    /* Our own choice first (RFC 6056 randomisation, our table's rules); a port some kernel
       socket holds is skipped. */
    for (int i = 0; i < PORT_TRIES; i++) {
        uint16_t p = et_conn_pick_port(st, rip, rport);
        if (!p) return "no free ephemeral port";
        int fd = bind_port(st, p);
        if (fd >= 0) {
            *lport = p;
            *fd_out = fd;
            return NULL;
        }
        if (fd != -EADDRINUSE) return "cannot reserve a local port with a kernel socket";
    }
    /* A crowded range: let the kernel pick one it knows to be free. */
    int fd = bind_port(st, 0);
    if (fd < 0) return "no free ephemeral port in the kernel";
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
        !et_conn_port_free(st, rip, rport, ntohs(sa.sin_port))) {
        close(fd);
        return "no free ephemeral port";
    }
    *lport = ntohs(sa.sin_port);
    *fd_out = fd;
    return NULL;
}

static void kernel_release(et_conn *c)
{
    et_stack *st = c->st;
    if (!st->port_fd || st->port_fd[c->id] < 0) return;
    close(st->port_fd[c->id]);
    st->port_fd[c->id] = -1;
}

/* Arms the next look at the kernel's neighbour table: soon at first, then less often, never
   past the end of the current resolution attempt. */
static void arm_look(et_conn *c)
{
    et_stack *st = c->st;
    uint64_t wait = ARP_POLL_FIRST_NS << (c->probe_backoff < 6 ? c->probe_backoff : 6);
    if (wait > ARP_POLL_MAX_NS) wait = ARP_POLL_MAX_NS;
    if (c->probe_backoff < UINT8_MAX) c->probe_backoff++;
    uint64_t at = st->now_ns + wait;
    if (at > c->arp_deadline_ns) at = c->arp_deadline_ns;
    et_wheel_arm(&st->wheel, &c->t_retx, at);
}

/* Asks the kernel to resolve the next hop and gives the attempt initial_rto << retries. */
static void start_attempt(et_conn *c)
{
    et_stack *st = c->st;
    et_nl_neigh_resolve(st->nl, st->link->ifindex, c->next_hop);
    uint64_t t = (uint64_t)st->cfg.initial_rto_us * 1000;
    for (uint32_t i = 0; i < c->retries && t < (uint64_t)st->cfg.max_rto_us * 1000; i++) t *= 2;
    c->arp_deadline_ns = st->now_ns + t;
    c->probe_backoff = 0;
    arm_look(c);
}

static bool kernel_resolve(et_conn *c)
{
    et_stack *st = c->st;
    uint8_t mac[6];
    if (et_nl_neigh_get(st->nl, st->link->ifindex, c->next_hop, mac) == ET_NL_NEIGH_OK) {
        et_conn_set_peer_mac(c, mac);
        return true;
    }
    c->retx_mode = ET_RETX_ARP;
    c->retries = 0;
    start_attempt(c);
    return false;
}

static int kernel_arp_timer(et_conn *c)
{
    et_stack *st = c->st;
    uint8_t mac[6];
    et_nl_neigh_state s = et_nl_neigh_get(st->nl, st->link->ifindex, c->next_hop, mac);
    if (s == ET_NL_NEIGH_OK) {
        c->probe_backoff = 0;
        et_conn_resolved(c, mac);
        return 1;
    }
    /* Attempts last initial_rto << retries, as the ARP attempts of an owned address. */
    if (st->now_ns >= c->arp_deadline_ns) {
        if (++c->retries > st->cfg.syn_retries) return -1;
        start_attempt(c);
        return 0;
    }
    /* The kernel gave up early or dropped the entry: ask again within this attempt. */
    if (s == ET_NL_NEIGH_FAILED || s == ET_NL_NEIGH_NONE)
        et_nl_neigh_resolve(st->nl, st->link->ifindex, c->next_hop);
    arm_look(c);
    return 0;
}

/* The kernel answers ARP for its address and keeps the neighbour table: ARP is not ours. */
static void kernel_arp_input(et_stack *st, const et_arp_msg *a)
{
    (void)a;
    st->stats.drops[EFVITCP_DROP_ARP]++;
}

/* The kernel keeps the neighbour table and hears the ARP of the interface (a neighbour that moved
   and announced it, or that it resolved again): a timeout takes the MAC the kernel has now. An
   entry it no longer has, or gave up on, it is asked to resolve; a later timeout takes the
   answer. One netlink exchange per timeout (two for a passive connection, whose next hop is looked
   up then); a SYN-ACK's timeout is none of this (its MAC came with the SYN). */
static void kernel_retx_timeout(et_conn *c)
{
    et_stack *st = c->st;
    if (c->state == EFVITCP_SYN_RECEIVED) return;
    uint32_t hop = c->next_hop;
    if (!c->active_open && kernel_route(st, c->remote_ip, &hop)) return;
    uint8_t mac[6];
    et_nl_neigh_state s = et_nl_neigh_get(st->nl, st->link->ifindex, hop, mac);
    if (s == ET_NL_NEIGH_OK) {
        if (memcmp(mac, c->remote_mac, 6) != 0) et_conn_set_peer_mac(c, mac);
    } else if (s == ET_NL_NEIGH_NONE || s == ET_NL_NEIGH_FAILED) {
        et_nl_neigh_resolve(st->nl, st->link->ifindex, hop);
    }
}

const et_addr_ops et_addr_kernel = {
    .init = kernel_init,
    .close = kernel_close,
    .route = kernel_route,
    .reserve_port = kernel_reserve_port,
    .release = kernel_release,
    .resolve = kernel_resolve,
    .arp_timer = kernel_arp_timer,
    .arp_input = kernel_arp_input,
    .retx_timeout = kernel_retx_timeout,
};
