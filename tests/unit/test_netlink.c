/*
 * rtnetlink reply parsing (src/net/netlink.c) on crafted messages: well-formed replies, then
 * truncated headers, attributes that overrun the message, zero-length attributes, wrong families
 * and message types, all of which must be rejected without reading outside the buffer. Finally
 * the socket side on the loopback interface, which every namespace has.
 */
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "net/netlink.h"

/* A message under construction: header, fixed body, attributes. */
typedef struct msg {
    uint8_t b[512];
    size_t len;
} msg;

static void msg_start(msg *m, uint16_t type, const void *body, size_t blen)
{
    memset(m, 0, sizeof(*m));
    struct nlmsghdr h = {0};
    h.nlmsg_type = type;
    m->len = NLMSG_HDRLEN + NLMSG_ALIGN(blen);
    memcpy(m->b + NLMSG_HDRLEN, body, blen);
    h.nlmsg_len = (uint32_t)m->len;
    memcpy(m->b, &h, sizeof(h));
}

static void msg_attr(msg *m, uint16_t type, const void *data, size_t dlen)
{
    struct rtattr a = {(unsigned short)RTA_LENGTH(dlen), type};
    memcpy(m->b + m->len, &a, sizeof(a));
    memcpy(m->b + m->len + sizeof(a), data, dlen);
    m->len += RTA_ALIGN(RTA_LENGTH(dlen));
    struct nlmsghdr h;
    memcpy(&h, m->b, sizeof(h));
    h.nlmsg_len = (uint32_t)m->len;
    memcpy(m->b, &h, sizeof(h));
}

/* Sets the header's length field to n (to lie about the size). */
static void msg_set_len(msg *m, uint32_t n)
{
    struct nlmsghdr h;
    memcpy(&h, m->b, sizeof(h));
    h.nlmsg_len = n;
    memcpy(m->b, &h, sizeof(h));
}

static const uint8_t MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static void link_msg(msg *m, uint16_t arphrd, int index, uint32_t flags)
{
    struct ifinfomsg ifi = {0};
    ifi.ifi_type = arphrd;
    ifi.ifi_index = index;
    ifi.ifi_flags = flags;
    msg_start(m, RTM_NEWLINK, &ifi, sizeof(ifi));
}

static void test_link(void)
{
    msg m;
    uint32_t mtu = 1500;
    link_msg(&m, ARPHRD_ETHER, 7, IFF_UP);
    msg_attr(&m, IFLA_IFNAME, "veth0", 6);
    msg_attr(&m, IFLA_ADDRESS, MAC, 6);
    msg_attr(&m, IFLA_MTU, &mtu, 4);
    et_if_info i;
    memset(&i, 0xee, sizeof(i));
    REQUIRE(et_nl_parse_link(m.b, m.len, &i));
    CHECK_EQ(i.ifindex, 7);
    CHECK_EQ(i.mtu, 1500);
    CHECK(i.up);
    CHECK(memcmp(i.mac, MAC, 6) == 0);

    /* Every truncation of a good message is rejected or still parses the same fields: never
       a read past the end (ASan watches). */
    for (size_t n = 0; n < m.len; n++) {
        msg t = m;
        et_if_info o;
        CHECK(!et_nl_parse_link(t.b, n, &o)); /* the header says more than n bytes */
    }
    /* A header that claims less than its fixed body. */
    msg t = m;
    msg_set_len(&t, NLMSG_HDRLEN + 4);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    /* Not Ethernet, no index, down. */
    link_msg(&t, ARPHRD_LOOPBACK, 1, IFF_UP);
    msg_attr(&t, IFLA_ADDRESS, MAC, 6);
    msg_attr(&t, IFLA_MTU, &mtu, 4);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    link_msg(&t, ARPHRD_ETHER, 0, IFF_UP);
    msg_attr(&t, IFLA_ADDRESS, MAC, 6);
    msg_attr(&t, IFLA_MTU, &mtu, 4);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    link_msg(&t, ARPHRD_ETHER, 3, 0);
    msg_attr(&t, IFLA_ADDRESS, MAC, 6);
    msg_attr(&t, IFLA_MTU, &mtu, 4);
    REQUIRE(et_nl_parse_link(t.b, t.len, &i));
    CHECK(!i.up);
    /* Missing MTU, short MAC, tiny MTU. */
    link_msg(&t, ARPHRD_ETHER, 3, IFF_UP);
    msg_attr(&t, IFLA_ADDRESS, MAC, 6);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    link_msg(&t, ARPHRD_ETHER, 3, IFF_UP);
    msg_attr(&t, IFLA_ADDRESS, MAC, 4);
    msg_attr(&t, IFLA_MTU, &mtu, 4);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    uint32_t tiny = 60;
    link_msg(&t, ARPHRD_ETHER, 3, IFF_UP);
    msg_attr(&t, IFLA_ADDRESS, MAC, 6);
    msg_attr(&t, IFLA_MTU, &tiny, 4);
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    /* Wrong message type. */
    t = m;
    struct nlmsghdr h;
    memcpy(&h, t.b, sizeof(h));
    h.nlmsg_type = RTM_NEWADDR;
    memcpy(t.b, &h, sizeof(h));
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    CHECK(!et_nl_parse_link(NULL, 100, &i));
}

static void test_attr_walk_hostile(void)
{
    msg m;
    uint32_t mtu = 1500;
    link_msg(&m, ARPHRD_ETHER, 7, IFF_UP);
    msg_attr(&m, IFLA_ADDRESS, MAC, 6);
    size_t mac_at = m.len;
    msg_attr(&m, IFLA_MTU, &mtu, 4);
    et_if_info i;
    /* An attribute whose length overruns the message stops the walk: the MTU after it is never
       seen, so the message is rejected rather than read past its end. */
    msg t = m;
    struct rtattr a;
    memcpy(&a, t.b + mac_at, sizeof(a));
    a.rta_len = 200;
    memcpy(t.b + mac_at, &a, sizeof(a));
    CHECK(!et_nl_parse_link(t.b, t.len, &i));
    /* A zero-length (and a 1..3-byte) attribute header must not loop. */
    for (unsigned short bad = 0; bad < 4; bad++) {
        t = m;
        a.rta_len = bad;
        a.rta_type = IFLA_MTU;
        memcpy(t.b + mac_at, &a, sizeof(a));
        CHECK(!et_nl_parse_link(t.b, t.len, &i));
    }
    /* Nested-flag bits in the type are ignored, as the kernel does. */
    t = m;
    memcpy(&a, t.b + mac_at, sizeof(a));
    a.rta_type |= NLA_F_NESTED;
    memcpy(t.b + mac_at, &a, sizeof(a));
    CHECK(et_nl_parse_link(t.b, t.len, &i));
    /* A fully random attribute area never crashes (ASan/UBSan). */
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < 2000; k++) {
        link_msg(&t, ARPHRD_ETHER, 5, IFF_UP);
        size_t n = 4 + (size_t)(r % 200);
        for (size_t j = 0; j < n; j++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            t.b[t.len + j] = (uint8_t)r;
        }
        t.len += n;
        msg_set_len(&t, (uint32_t)t.len);
        et_nl_parse_link(t.b, t.len, &i);
        uint32_t ip, plen, idx;
        bool sec;
        et_nl_parse_addr(t.b, t.len, &ip, &plen, &idx, &sec);
        et_route rt;
        et_nl_parse_route(t.b, t.len, &rt);
        uint8_t mac[6];
        et_nl_parse_neigh(t.b, t.len, &ip, mac);
    }
}

static void addr_msg(msg *m, uint8_t family, uint8_t plen, uint8_t flags, uint32_t index)
{
    struct ifaddrmsg ifa = {0};
    ifa.ifa_family = family;
    ifa.ifa_prefixlen = plen;
    ifa.ifa_flags = flags;
    ifa.ifa_index = index;
    msg_start(m, RTM_NEWADDR, &ifa, sizeof(ifa));
}

static void test_addr(void)
{
    msg m;
    uint32_t local = htonl(0xc6120001u), peer = htonl(0xc6120063u);
    addr_msg(&m, AF_INET, 24, 0, 4);
    msg_attr(&m, IFA_ADDRESS, &peer, 4);
    msg_attr(&m, IFA_LOCAL, &local, 4);
    uint32_t ip = 0, plen = 0, idx = 0;
    bool sec = true;
    REQUIRE(et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
    /* IFA_LOCAL is ours; IFA_ADDRESS may be a point-to-point peer. */
    CHECK_EQ(ip, 0xc6120001u);
    CHECK_EQ(plen, 24);
    CHECK_EQ(idx, 4);
    CHECK(!sec);
    /* Only IFA_ADDRESS: it is the address. */
    addr_msg(&m, AF_INET, 16, IFA_F_SECONDARY, 4);
    msg_attr(&m, IFA_ADDRESS, &peer, 4);
    REQUIRE(et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
    CHECK_EQ(ip, 0xc6120063u);
    CHECK(sec);
    /* IPv6, a prefix beyond 32, no address, a short address. */
    addr_msg(&m, AF_INET6, 64, 0, 4);
    msg_attr(&m, IFA_ADDRESS, &peer, 4);
    CHECK(!et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
    addr_msg(&m, AF_INET, 33, 0, 4);
    msg_attr(&m, IFA_LOCAL, &local, 4);
    CHECK(!et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
    addr_msg(&m, AF_INET, 24, 0, 4);
    CHECK(!et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
    addr_msg(&m, AF_INET, 24, 0, 4);
    msg_attr(&m, IFA_LOCAL, &local, 3);
    CHECK(!et_nl_parse_addr(m.b, m.len, &ip, &plen, &idx, &sec));
}

static void route_msg(msg *m, uint8_t family, uint8_t type)
{
    struct rtmsg rtm = {0};
    rtm.rtm_family = family;
    rtm.rtm_dst_len = 32;
    rtm.rtm_type = type;
    msg_start(m, RTM_NEWROUTE, &rtm, sizeof(rtm));
}

static void test_route(void)
{
    msg m;
    uint32_t oif = 3, gw = htonl(0xc6120001u), src = htonl(0xc6120002u);
    route_msg(&m, AF_INET, RTN_UNICAST);
    msg_attr(&m, RTA_OIF, &oif, 4);
    msg_attr(&m, RTA_GATEWAY, &gw, 4);
    msg_attr(&m, RTA_PREFSRC, &src, 4);
    et_route rt;
    REQUIRE(et_nl_parse_route(m.b, m.len, &rt));
    CHECK_EQ(rt.oif, 3);
    CHECK_EQ(rt.gateway, 0xc6120001u);
    CHECK_EQ(rt.prefsrc, 0xc6120002u);
    CHECK_EQ(rt.type, RTN_UNICAST);
    /* On-link: no gateway. */
    route_msg(&m, AF_INET, RTN_UNICAST);
    msg_attr(&m, RTA_OIF, &oif, 4);
    REQUIRE(et_nl_parse_route(m.b, m.len, &rt));
    CHECK_EQ(rt.gateway, 0);
    /* No output interface, interface 0, IPv6. */
    route_msg(&m, AF_INET, RTN_UNICAST);
    msg_attr(&m, RTA_GATEWAY, &gw, 4);
    CHECK(!et_nl_parse_route(m.b, m.len, &rt));
    uint32_t zero = 0;
    route_msg(&m, AF_INET, RTN_UNICAST);
    msg_attr(&m, RTA_OIF, &zero, 4);
    CHECK(!et_nl_parse_route(m.b, m.len, &rt));
    route_msg(&m, AF_INET6, RTN_UNICAST);
    msg_attr(&m, RTA_OIF, &oif, 4);
    CHECK(!et_nl_parse_route(m.b, m.len, &rt));
    /* The type is reported for the caller to refuse (local, unreachable). */
    route_msg(&m, AF_INET, RTN_LOCAL);
    msg_attr(&m, RTA_OIF, &oif, 4);
    REQUIRE(et_nl_parse_route(m.b, m.len, &rt));
    CHECK_EQ(rt.type, RTN_LOCAL);
}

static void neigh_msg(msg *m, uint16_t state, const uint8_t *mac, size_t mac_len)
{
    struct ndmsg ndm = {0};
    ndm.ndm_family = AF_INET;
    ndm.ndm_ifindex = 3;
    ndm.ndm_state = state;
    msg_start(m, RTM_NEWNEIGH, &ndm, sizeof(ndm));
    uint32_t dst = htonl(0xc6120002u);
    msg_attr(m, NDA_DST, &dst, 4);
    if (mac) msg_attr(m, NDA_LLADDR, mac, mac_len);
}

static void test_neigh(void)
{
    msg m;
    uint8_t mac[6];
    uint32_t ip = 0;
    const uint16_t usable[] = {NUD_REACHABLE, NUD_STALE,     NUD_DELAY,
                               NUD_PROBE,     NUD_PERMANENT, NUD_NOARP};
    for (size_t k = 0; k < sizeof(usable) / sizeof(usable[0]); k++) {
        neigh_msg(&m, usable[k], MAC, 6);
        memset(mac, 0, 6);
        CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_OK);
        CHECK_EQ(ip, 0xc6120002u);
        CHECK(memcmp(mac, MAC, 6) == 0);
    }
    neigh_msg(&m, NUD_INCOMPLETE, NULL, 0);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_PENDING);
    neigh_msg(&m, NUD_FAILED, NULL, 0);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_FAILED);
    neigh_msg(&m, NUD_NONE, MAC, 6);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_NONE);
    /* A reachable entry whose address is missing, short, zero or a group address is no use. */
    neigh_msg(&m, NUD_REACHABLE, NULL, 0);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_NONE);
    neigh_msg(&m, NUD_REACHABLE, MAC, 5);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_NONE);
    static const uint8_t zero[6], group[6] = {0x01, 0, 0x5e, 0, 0, 1};
    neigh_msg(&m, NUD_REACHABLE, zero, 6);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_NONE);
    neigh_msg(&m, NUD_REACHABLE, group, 6);
    CHECK_EQ(et_nl_parse_neigh(m.b, m.len, &ip, mac), ET_NL_NEIGH_NONE);
    /* Truncated at every length. */
    neigh_msg(&m, NUD_REACHABLE, MAC, 6);
    for (size_t n = 0; n < m.len; n++)
        CHECK_EQ(et_nl_parse_neigh(m.b, n, &ip, mac), ET_NL_NEIGH_NONE);
}

/* The socket side, on loopback: not Ethernet (refused as a link), but its address and routes
   are always there. */
static void test_live_loopback(void)
{
    et_nl nl;
    const char *err = et_nl_open(&nl);
    if (err) {
        fprintf(stderr, "  (no netlink socket here: %s; live part skipped)\n", err);
        return;
    }
    et_if_info info;
    CHECK(et_nl_get_if(&nl, "lo", &info) != NULL); /* not an Ethernet interface */
    CHECK(et_nl_get_if(&nl, "efvitcp-none0", &info) != NULL);
    CHECK(et_nl_get_if(&nl, "", &info) != NULL);
    CHECK(et_nl_get_if(&nl, "0123456789abcdefg", &info) != NULL);
    uint32_t lo = if_nametoindex("lo");
    if (lo) {
        uint32_t ip = 0, plen = 0;
        CHECK_EQ(et_nl_if_addr(&nl, lo, &ip, &plen), 0);
        /* lo has 127.0.0.1/8 unless a test namespace left it down without addresses. */
        if (ip) {
            CHECK_EQ(ip, 0x7f000001u);
            CHECK_EQ(plen, 8);
            CHECK_EQ(et_nl_addr_owned(&nl, 0x7f000001u), 1);
            et_route rt;
            CHECK_EQ(et_nl_route_get(&nl, 0x7f000001u, 0, &rt), 0);
            CHECK_EQ(rt.oif, lo);
            CHECK_EQ(rt.type, RTN_LOCAL);
        }
    }
    /* 198.18.255.254 belongs to no interface of a test host. */
    CHECK_EQ(et_nl_addr_owned(&nl, 0xc612fffeu), 0);
    CHECK_EQ(et_nl_if_addr(&nl, 0, &(uint32_t){0}, &(uint32_t){0}) < 0, 1);
    /* Queries in a row leave the socket clean: each reply is matched to its request. */
    for (int k = 0; k < 50; k++) CHECK_EQ(et_nl_addr_owned(&nl, 0xc612fffeu), 0);
    et_nl_close(&nl);
    et_nl_close(&nl); /* idempotent */
}

int main(void)
{
    RUN(test_link);
    RUN(test_attr_walk_hostile);
    RUN(test_addr);
    RUN(test_route);
    RUN(test_neigh);
    RUN(test_live_loopback);
    return th_summary();
}
