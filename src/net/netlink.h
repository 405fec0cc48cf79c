/*
 * Kernel addressing over rtnetlink (NETLINK_ROUTE): an interface's index, MAC, MTU and IPv4
 * address; the route to a destination; the neighbour table; and asking the kernel to resolve a
 * missing neighbour. No popen, no /proc parsing.
 *
 * Every query is a request/reply exchange with the kernel on the caller's thread. rtnetlink
 * answers GET requests while the request is being sent, so replies are read with MSG_DONTWAIT and
 * no call ever waits for the network; they are still system calls, meant for init, connect() and
 * the ARP timer, never for the per-segment path. An et_nl owns its receive buffer (allocated by
 * et_nl_open), so queries allocate nothing.
 *
 * Parsing is split from the socket work (et_nl_parse_*) so that hostile or truncated replies can
 * be tested without a kernel: no parser reads outside the buffer it is given.
 */
#ifndef EFVITCP_NETLINK_H
#define EFVITCP_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct et_nl {
    int fd; /**< -1 when closed */
    uint32_t seq;
    uint8_t *buf; /**< receive buffer, ET_NL_BUF bytes */
} et_nl;

#define ET_NL_BUF 32768

/** What the kernel says about an interface. Addresses in host order. */
typedef struct et_if_info {
    uint32_t ifindex;
    uint8_t mac[6];
    uint32_t mtu; /**< IP MTU */
    bool up;      /**< IFF_UP */
    uint32_t ip;  /**< first primary IPv4 address, 0 if none */
    uint32_t prefix_len;
} et_if_info;

/** The kernel's route to a destination. Host order. */
typedef struct et_route {
    uint32_t oif;     /**< output interface index */
    uint32_t gateway; /**< next hop when not on-link, 0 when the destination is on-link */
    uint32_t prefsrc; /**< preferred source address, 0 if the kernel gave none */
    uint8_t type;     /**< RTN_UNICAST, RTN_LOCAL, ... */
} et_route;

/** Neighbour states as the engine needs them. */
typedef enum et_nl_neigh_state {
    ET_NL_NEIGH_NONE = 0, /**< no entry */
    ET_NL_NEIGH_PENDING,  /**< INCOMPLETE: the kernel is resolving it */
    ET_NL_NEIGH_FAILED,   /**< FAILED: the kernel gave up */
    ET_NL_NEIGH_OK,       /**< a usable MAC (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP) */
} et_nl_neigh_state;

/** Opens the socket and allocates the buffer. NULL on success, else an error. */
const char *et_nl_open(et_nl *nl);
/** Closes; safe on a closed or zeroed-then-failed et_nl (fd -1 or buf NULL). */
void et_nl_close(et_nl *nl);

/** Index, MAC, MTU, state and first primary IPv4 address of interface ifname. */
const char *et_nl_get_if(et_nl *nl, const char *ifname, et_if_info *out);
/** First primary IPv4 address of interface ifindex: 0 on success (*ip 0 when it has none), else a
    negative errno. */
int et_nl_if_addr(et_nl *nl, uint32_t ifindex, uint32_t *ip, uint32_t *prefix_len);
/** Whether any interface of this namespace has ip (host order) as a local address:
    1 yes, 0 no, -1 the query failed. */
int et_nl_addr_owned(et_nl *nl, uint32_t ip);
/** The route to dst from src (host order; src 0: from any address). 0 on success, else a
    negative errno (-ENETUNREACH, ...). */
int et_nl_route_get(et_nl *nl, uint32_t dst, uint32_t src, et_route *out);
/** The kernel's neighbour entry for ip on interface ifindex; mac is written for ET_NL_NEIGH_OK.
    A failed query reads as ET_NL_NEIGH_NONE. */
et_nl_neigh_state et_nl_neigh_get(et_nl *nl, uint32_t ifindex, uint32_t ip, uint8_t mac[6]);
/**
 * Asks the kernel to resolve ip on ifindex without waiting: RTM_NEWNEIGH with NTF_USE (creates
 * the entry if needed and sends the ARP request), or, when that is refused (no CAP_NET_ADMIN), an
 * empty UDP datagram to the discard port (RFC 863) of ip, which makes the kernel resolve it to send
 * the datagram. 0 on success, else a negative errno.
 */
int et_nl_neigh_resolve(et_nl *nl, uint32_t ifindex, uint32_t ip);

/* ---- parsers of single reply messages (nlmsghdr included), for tests ---- */

/** RTM_NEWLINK: index, MAC, MTU, up. false when the message is not a well-formed RTM_NEWLINK. */
bool et_nl_parse_link(const void *msg, size_t len, et_if_info *out);
/** RTM_NEWADDR of family AF_INET: address (IFA_LOCAL, else IFA_ADDRESS), prefix, interface,
    whether it is secondary. false when malformed or not IPv4. */
bool et_nl_parse_addr(const void *msg, size_t len, uint32_t *ip, uint32_t *prefix_len,
                      uint32_t *ifindex, bool *secondary);
/** RTM_NEWROUTE. false when malformed or without an output interface. */
bool et_nl_parse_route(const void *msg, size_t len, et_route *out);
/** RTM_NEWNEIGH for AF_INET: the state as above and the MAC. */
et_nl_neigh_state et_nl_parse_neigh(const void *msg, size_t len, uint32_t *ip, uint8_t mac[6]);

#endif
