/*
 * rtnetlink queries (see netlink.h). Messages are read with memcpy: a reply buffer is aligned, but
 * the parsers also take arbitrary test buffers and must not rely on alignment.
 */
#include "net/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DISCARD_PORT 9 /* RFC 863 */

/* ---------------------------------------------------------------------------------------------- */
/* Parsing                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/* The header of one message, checked against the bytes actually present. */
static bool msg_header(const void *msg, size_t len, struct nlmsghdr *h, size_t body)
{
    if (!msg || len < sizeof(*h)) return false;
    memcpy(h, msg, sizeof(*h));
    return h->nlmsg_len >= NLMSG_LENGTH(body) && h->nlmsg_len <= len;
}

/* Calls fn for each attribute in [p, p + len); stops at the first malformed one. */
typedef void (*attr_fn)(void *arg, uint16_t type, const uint8_t *data, size_t dlen);

static void walk_attrs(const uint8_t *p, size_t len, attr_fn fn, void *arg)
{
    while (len >= sizeof(struct rtattr)) {
        struct rtattr a;
        memcpy(&a, p, sizeof(a));
        if (a.rta_len < sizeof(a) || a.rta_len > len) return;
        fn(arg, (uint16_t)(a.rta_type & NLA_TYPE_MASK), p + sizeof(a), a.rta_len - sizeof(a));
        size_t step = RTA_ALIGN(a.rta_len);
        if (step >= len) return;
        p += step;
        len -= step;
    }
}

static bool get_u32(const uint8_t *d, size_t n, uint32_t *v)
{
    if (n < 4) return false;
    memcpy(v, d, 4);
    return true;
}

/* An IPv4 address attribute, returned in host order. */
static bool get_ip(const uint8_t *d, size_t n, uint32_t *v)
{
    uint32_t be;
    if (n != 4) return false;
    memcpy(&be, d, 4);
    *v = ntohl(be);
    return true;
}

typedef struct link_attrs {
    et_if_info *out;
    bool have_mac, have_mtu;
} link_attrs;

static void link_attr(void *arg, uint16_t type, const uint8_t *d, size_t n)
{
    link_attrs *la = arg;
    if (type == IFLA_ADDRESS && n == 6) {
        memcpy(la->out->mac, d, 6);
        la->have_mac = true;
    } else if (type == IFLA_MTU && get_u32(d, n, &la->out->mtu)) {
        la->have_mtu = true;
    }
}

bool et_nl_parse_link(const void *msg, size_t len, et_if_info *out)
{
    struct nlmsghdr h;
    if (!out || !msg_header(msg, len, &h, sizeof(struct ifinfomsg)) || h.nlmsg_type != RTM_NEWLINK)
        return false;
    struct ifinfomsg ifi;
    memcpy(&ifi, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(ifi));
    /* Only Ethernet interfaces carry the frames we build. */
    if (ifi.ifi_type != ARPHRD_ETHER || ifi.ifi_index <= 0) return false;
    et_if_info tmp;
    memset(&tmp, 0, sizeof(tmp));
    link_attrs la = {&tmp, false, false};
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifi)));
    if (off > h.nlmsg_len) return false;
    walk_attrs((const uint8_t *)msg + off, h.nlmsg_len - off, link_attr, &la);
    if (!la.have_mac || !la.have_mtu || tmp.mtu < 68) return false;
    tmp.ifindex = (uint32_t)ifi.ifi_index;
    tmp.up = (ifi.ifi_flags & IFF_UP) != 0;
    out->ifindex = tmp.ifindex;
    memcpy(out->mac, tmp.mac, 6);
    out->mtu = tmp.mtu;
    out->up = tmp.up;
    return true;
}

typedef struct addr_attrs {
    uint32_t local, address;
    bool have_local, have_address;
} addr_attrs;

static void addr_attr(void *arg, uint16_t type, const uint8_t *d, size_t n)
{
    addr_attrs *aa = arg;
    if (type == IFA_LOCAL && get_ip(d, n, &aa->local))
        aa->have_local = true;
    else if (type == IFA_ADDRESS && get_ip(d, n, &aa->address))
        aa->have_address = true;
}

bool et_nl_parse_addr(const void *msg, size_t len, uint32_t *ip, uint32_t *prefix_len,
                      uint32_t *ifindex, bool *secondary)
{
    struct nlmsghdr h;
    if (!msg_header(msg, len, &h, sizeof(struct ifaddrmsg)) || h.nlmsg_type != RTM_NEWADDR)
        return false;
    struct ifaddrmsg ifa;
    memcpy(&ifa, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(ifa));
    if (ifa.ifa_family != AF_INET || ifa.ifa_prefixlen > 32) return false;
    addr_attrs aa = {0, 0, false, false};
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifa)));
    if (off > h.nlmsg_len) return false;
    walk_attrs((const uint8_t *)msg + off, h.nlmsg_len - off, addr_attr, &aa);
    /* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point
       links and equal to IFA_LOCAL elsewhere. */
    if (!aa.have_local && !aa.have_address) return false;
    if (ip) *ip = aa.have_local ? aa.local : aa.address;
    if (prefix_len) *prefix_len = ifa.ifa_prefixlen;
    if (ifindex) *ifindex = ifa.ifa_index;
    if (secondary) *secondary = (ifa.ifa_flags & IFA_F_SECONDARY) != 0;
    return true;
}

typedef struct route_attrs {
    et_route *out;
    bool have_oif;
} route_attrs;

static void route_attr(void *arg, uint16_t type, const uint8_t *d, size_t n)
{
    route_attrs *ra = arg;
    if (type == RTA_OIF && get_u32(d, n, &ra->out->oif))
        ra->have_oif = true;
    else if (type == RTA_GATEWAY)
        get_ip(d, n, &ra->out->gateway);
    else if (type == RTA_PREFSRC)
        get_ip(d, n, &ra->out->prefsrc);
}

bool et_nl_parse_route(const void *msg, size_t len, et_route *out)
{
    struct nlmsghdr h;
    if (!out || !msg_header(msg, len, &h, sizeof(struct rtmsg)) || h.nlmsg_type != RTM_NEWROUTE)
        return false;
    struct rtmsg rtm;
    memcpy(&rtm, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(rtm));
    if (rtm.rtm_family != AF_INET) return false;
    et_route tmp;
    memset(&tmp, 0, sizeof(tmp));
    route_attrs ra = {&tmp, false};
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtm)));
    if (off > h.nlmsg_len) return false;
    walk_attrs((const uint8_t *)msg + off, h.nlmsg_len - off, route_attr, &ra);
    if (!ra.have_oif || tmp.oif == 0) return false;
    tmp.type = rtm.rtm_type;
    *out = tmp;
    return true;
}

typedef struct neigh_attrs {
    uint32_t ip;
    uint8_t mac[6];
    bool have_ip, have_mac;
} neigh_attrs;

static void neigh_attr(void *arg, uint16_t type, const uint8_t *d, size_t n)
{
    neigh_attrs *na = arg;
    if (type == NDA_DST && get_ip(d, n, &na->ip)) {
        na->have_ip = true;
    } else if (type == NDA_LLADDR && n == 6) {
        memcpy(na->mac, d, 6);
        na->have_mac = true;
    }
}

et_nl_neigh_state et_nl_parse_neigh(const void *msg, size_t len, uint32_t *ip, uint8_t mac[6])
{
    struct nlmsghdr h;
    if (!msg_header(msg, len, &h, sizeof(struct ndmsg)) || h.nlmsg_type != RTM_NEWNEIGH)
        return ET_NL_NEIGH_NONE;
    struct ndmsg ndm;
    memcpy(&ndm, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(ndm));
    if (ndm.ndm_family != AF_INET) return ET_NL_NEIGH_NONE;
    neigh_attrs na;
    memset(&na, 0, sizeof(na));
    size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ndm)));
    if (off > h.nlmsg_len) return ET_NL_NEIGH_NONE;
    walk_attrs((const uint8_t *)msg + off, h.nlmsg_len - off, neigh_attr, &na);
    if (!na.have_ip) return ET_NL_NEIGH_NONE;
    if (ip) *ip = na.ip;
    if (ndm.ndm_state & NUD_FAILED) return ET_NL_NEIGH_FAILED;
    if (ndm.ndm_state & NUD_INCOMPLETE) return ET_NL_NEIGH_PENDING;
    static const uint8_t zero[6];
    bool usable = ndm.ndm_state &
                  (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP);
    /* An entry without an address (NOARP on a device without one) or with a zero or group
       address cannot be a unicast next hop. */
    if (!usable || !na.have_mac || memcmp(na.mac, zero, 6) == 0 || (na.mac[0] & 1))
        return ET_NL_NEIGH_NONE;
    if (mac) memcpy(mac, na.mac, 6);
    return ET_NL_NEIGH_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* The socket                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

const char *et_nl_open(et_nl *nl)
{
    nl->fd = -1;
    nl->seq = 0;
    nl->buf = NULL;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return "netlink: cannot open a NETLINK_ROUTE socket";
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return "netlink: cannot bind the NETLINK_ROUTE socket";
    }
    /* Acks without a copy of the request; kernel-side filtering of dumps where supported. */
    int one = 1;
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
    nl->buf = malloc(ET_NL_BUF);
    if (!nl->buf) {
        close(fd);
        return "out of memory";
    }
    nl->fd = fd;
    return NULL;
}

void et_nl_close(et_nl *nl)
{
    if (!nl) return;
    if (nl->fd >= 0) close(nl->fd);
    free(nl->buf);
    nl->fd = -1;
    nl->buf = NULL;
}

/* Called for each reply message of a request; returns false to ignore the rest of the reply. */
typedef bool (*reply_fn)(void *arg, const void *msg, size_t len);

/* Drops replies still queued from an earlier exchange that ended early. */
static void drain(et_nl *nl)
{
    while (recv(nl->fd, nl->buf, ET_NL_BUF, MSG_DONTWAIT) > 0) {
    }
}

/*
 * Sends the request (whose nlmsghdr is at req) and feeds the reply messages to fn until the reply
 * ends: NLMSG_DONE, an error or ack, or a single message of a non-dump request. Returns 0 or a
 * negative errno (the kernel's, or -EIO for a malformed reply, -EAGAIN if the reply was not there).
 */
static int transact(et_nl *nl, void *req, reply_fn fn, void *arg)
{
    if (!nl || nl->fd < 0 || !nl->buf) return -EBADF;
    struct nlmsghdr h;
    memcpy(&h, req, sizeof(h));
    h.nlmsg_seq = ++nl->seq;
    h.nlmsg_pid = 0;
    memcpy(req, &h, sizeof(h));
    drain(nl);
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    if (sendto(nl->fd, req, h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    bool dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    bool want_ack = (h.nlmsg_flags & NLM_F_ACK) != 0;
    bool feeding = true;
    /* A reply spans at most a bounded number of datagrams for anything we ask; the bound keeps
       a misbehaving peer from holding us forever. */
    for (int rounds = 0; rounds < 4096; rounds++) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(nl->fd, nl->buf, ET_NL_BUF, MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (n < 0) return errno == EINTR ? -EAGAIN : -errno;
        if ((size_t)n > ET_NL_BUF) return -EIO; /* truncated: cannot trust what follows */
        if (fl < sizeof(from) || from.nl_pid != 0) continue; /* only the kernel answers */
        size_t left = (size_t)n;
        const uint8_t *p = nl->buf;
        while (left >= sizeof(struct nlmsghdr)) {
            struct nlmsghdr m;
            memcpy(&m, p, sizeof(m));
            if (m.nlmsg_len < sizeof(m) || m.nlmsg_len > left) return -EIO;
            if (m.nlmsg_seq == h.nlmsg_seq) {
                if (m.nlmsg_type == NLMSG_DONE) return 0;
                if (m.nlmsg_type == NLMSG_ERROR) {
                    struct nlmsgerr e;
                    if (m.nlmsg_len < NLMSG_LENGTH(sizeof(e.error))) return -EIO;
                    memcpy(&e.error, p + NLMSG_HDRLEN, sizeof(e.error));
                    return e.error > 0 ? -EIO : e.error;
                }
                if (feeding && fn) feeding = fn(arg, p, m.nlmsg_len);
                if (!dump && !want_ack && !(m.nlmsg_flags & NLM_F_MULTI)) return 0;
            }
            size_t step = NLMSG_ALIGN(m.nlmsg_len);
            if (step >= left) break;
            p += step;
            left -= step;
        }
    }
    return -EIO;
}

/* Appends an attribute to a request built in a buffer of cap bytes. */
static bool add_attr(void *req, size_t cap, uint16_t type, const void *data, size_t dlen)
{
    struct nlmsghdr h;
    memcpy(&h, req, sizeof(h));
    size_t off = NLMSG_ALIGN(h.nlmsg_len);
    size_t alen = RTA_LENGTH(dlen);
    if (off + RTA_ALIGN(alen) > cap) return false;
    struct rtattr a = {(unsigned short)alen, type};
    memcpy((uint8_t *)req + off, &a, sizeof(a));
    memcpy((uint8_t *)req + off + sizeof(a), data, dlen);
    h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(alen));
    memcpy(req, &h, sizeof(h));
    return true;
}

typedef union req_buf {
    struct nlmsghdr h;
    uint8_t b[256];
} req_buf;

static void req_init(req_buf *r, uint16_t type, uint16_t flags, const void *body, size_t blen)
{
    memset(r, 0, sizeof(*r));
    r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(blen);
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    memcpy(r->b + NLMSG_HDRLEN, body, blen);
}

/* The single reply of a GET request, parsed into out. */
typedef struct one_q {
    void *out;
    bool ok;
} one_q;

static bool on_link(void *arg, const void *msg, size_t len)
{
    one_q *q = arg;
    q->ok = et_nl_parse_link(msg, len, q->out);
    return false;
}

typedef struct addr_scan {
    uint32_t ifindex; /* 0: any interface */
    uint32_t want_ip; /* 0: the first primary address of ifindex */
    uint32_t ip, prefix_len;
    bool found;
} addr_scan;

static bool on_addr(void *arg, const void *msg, size_t len)
{
    addr_scan *s = arg;
    uint32_t ip, plen, idx;
    bool secondary;
    if (s->found || !et_nl_parse_addr(msg, len, &ip, &plen, &idx, &secondary)) return true;
    if (s->want_ip) {
        if (ip == s->want_ip) s->found = true;
    } else if (idx == s->ifindex && !secondary) {
        s->ip = ip;
        s->prefix_len = plen;
        s->found = true;
    }
    return true; /* read the dump to its end so that the socket is left clean */
}

static int addr_dump(et_nl *nl, addr_scan *s)
{
    struct ifaddrmsg ifa;
    memset(&ifa, 0, sizeof(ifa));
    ifa.ifa_family = AF_INET;
    ifa.ifa_index = s->ifindex;
    req_buf r;
    req_init(&r, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
    return transact(nl, &r, on_addr, s);
}

const char *et_nl_get_if(et_nl *nl, const char *ifname, et_if_info *out)
{
    size_t n = ifname ? strnlen(ifname, IFNAMSIZ) : 0;
    if (n == 0 || n >= IFNAMSIZ) return "interface name must be 1..15 characters";
    struct ifinfomsg ifi;
    memset(&ifi, 0, sizeof(ifi));
    ifi.ifi_family = AF_UNSPEC;
    req_buf r;
    req_init(&r, RTM_GETLINK, 0, &ifi, sizeof(ifi));
    if (!add_attr(&r, sizeof(r), IFLA_IFNAME, ifname, n + 1)) return "netlink: request too long";
    et_if_info info;
    memset(&info, 0, sizeof(info));
    one_q q = {&info, false};
    int err = transact(nl, &r, on_link, &q);
    if (err == -ENODEV) return "no such interface";
    if (err) return "netlink: interface query failed";
    if (!q.ok) return "interface is not an Ethernet interface";
    addr_scan s = {info.ifindex, 0, 0, 0, false};
    if (addr_dump(nl, &s)) return "netlink: address query failed";
    if (s.found) {
        info.ip = s.ip;
        info.prefix_len = s.prefix_len;
    }
    *out = info;
    return NULL;
}

int et_nl_if_addr(et_nl *nl, uint32_t ifindex, uint32_t *ip, uint32_t *prefix_len)
{
    addr_scan s = {ifindex, 0, 0, 0, false};
    if (ifindex == 0) return -EINVAL;
    int err = addr_dump(nl, &s);
    if (err) return err;
    *ip = s.found ? s.ip : 0;
    *prefix_len = s.found ? s.prefix_len : 0;
    return 0;
}

int et_nl_addr_owned(et_nl *nl, uint32_t ip)
{
    addr_scan s = {0, ip, 0, 0, false};
    if (ip == 0 || addr_dump(nl, &s)) return -1;
    return s.found ? 1 : 0;
}

static bool on_route(void *arg, const void *msg, size_t len)
{
    one_q *q = arg;
    q->ok = et_nl_parse_route(msg, len, q->out);
    return false;
}

int et_nl_route_get(et_nl *nl, uint32_t dst, uint32_t src, et_route *out)
{
    struct rtmsg rtm;
    memset(&rtm, 0, sizeof(rtm));
    rtm.rtm_family = AF_INET;
    rtm.rtm_dst_len = 32;
    rtm.rtm_src_len = src ? 32 : 0;
    req_buf r;
    req_init(&r, RTM_GETROUTE, 0, &rtm, sizeof(rtm));
    uint32_t be = htonl(dst);
    if (!add_attr(&r, sizeof(r), RTA_DST, &be, 4)) return -EINVAL;
    /* The source, as `ip route get DST from SRC`: rules that choose a table by source address
       (policy routing on a host with several interfaces) apply to our frames as to the kernel's
       own from that address. */
    uint32_t src_be = htonl(src);
    if (src && !add_attr(&r, sizeof(r), RTA_SRC, &src_be, 4)) return -EINVAL;
    et_route rt;
    memset(&rt, 0, sizeof(rt));
    one_q q = {&rt, false};
    int err = transact(nl, &r, on_route, &q);
    if (err) return err;
    if (!q.ok) return -EIO;
    *out = rt;
    return 0;
}

typedef struct neigh_q {
    uint32_t ip;
    uint8_t mac[6];
    et_nl_neigh_state state;
} neigh_q;

static bool on_neigh(void *arg, const void *msg, size_t len)
{
    neigh_q *q = arg;
    uint32_t ip = 0;
    uint8_t mac[6];
    et_nl_neigh_state s = et_nl_parse_neigh(msg, len, &ip, mac);
    if (ip == q->ip) {
        q->state = s;
        if (s == ET_NL_NEIGH_OK) memcpy(q->mac, mac, 6);
    }
    return false;
}

et_nl_neigh_state et_nl_neigh_get(et_nl *nl, uint32_t ifindex, uint32_t ip, uint8_t mac[6])
{
    struct ndmsg ndm;
    memset(&ndm, 0, sizeof(ndm));
    ndm.ndm_family = AF_INET;
    ndm.ndm_ifindex = (int)ifindex;
    req_buf r;
    req_init(&r, RTM_GETNEIGH, 0, &ndm, sizeof(ndm));
    uint32_t be = htonl(ip);
    if (!add_attr(&r, sizeof(r), NDA_DST, &be, 4)) return ET_NL_NEIGH_NONE;
    neigh_q q;
    memset(&q, 0, sizeof(q));
    q.ip = ip;
    q.state = ET_NL_NEIGH_NONE;
    if (transact(nl, &r, on_neigh, &q)) return ET_NL_NEIGH_NONE;
    if (q.state == ET_NL_NEIGH_OK && mac) memcpy(mac, q.mac, 6);
    return q.state;
}

static int resolve_by_datagram(uint32_t ip)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(DISCARD_PORT);
    sa.sin_addr.s_addr = htonl(ip);
    /* The datagram waits in the neighbour's queue while ARP runs; sendto does not. */
    int err = sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    close(fd);
    return err == -EAGAIN ? 0 : err;
}

int et_nl_neigh_resolve(et_nl *nl, uint32_t ifindex, uint32_t ip)
{
    struct ndmsg ndm;
    memset(&ndm, 0, sizeof(ndm));
    ndm.ndm_family = AF_INET;
    ndm.ndm_ifindex = (int)ifindex;
    ndm.ndm_flags = NTF_USE;
    req_buf r;
    req_init(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, &ndm, sizeof(ndm));
    uint32_t be = htonl(ip);
    if (!add_attr(&r, sizeof(r), NDA_DST, &be, 4)) return -EINVAL;
    int err = transact(nl, &r, NULL, NULL);
    if (err == -EPERM || err == -EACCES || err == -EOPNOTSUPP) err = resolve_by_datagram(ip);
    return err;
}
