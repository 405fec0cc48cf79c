/*
 * AF_PACKET ports of the ef_vi emulator (emu_packet.c), on a veth pair in a network namespace of
 * the test's own (unshare), so that no frame leaves the process's namespace: a port takes the
 * interface's index, MAC and MTU, is found by name, closes with its last reference, and refuses
 * IP filters for an address the kernel owns (kernel-shared mode); two efvi-link stacks with
 * addresses of their own, one on each end of the pair, talk through the kernel's veth, on EF10
 * and on EFCT ports, every byte checked.
 *
 * Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW); without it only the checks that need
 * no interface run. Frames cross a real interface on the real clock, so the order of events
 * varies from run to run; what is checked does not depend on it.
 */
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <etherfabric/capabilities.h>
#include <etherfabric/memreg.h>
#include <etherfabric/pd.h>
#include <etherfabric/vi.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "link/efvi.h"

#define PORT 7000

static bool g_netns; /* in a namespace of our own, with the veth pair etp0/etp1 up */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Appends an attribute to the message in buf; the nested ones are closed by nest_end. */
static struct rtattr *attr(uint8_t *buf, uint32_t type, const void *data, uint32_t len)
{
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct rtattr *a = (struct rtattr *)(buf + NLMSG_ALIGN(h->nlmsg_len));
    a->rta_type = (unsigned short)type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(a), data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void nest_end(uint8_t *buf, struct rtattr *a)
{
    a->rta_len = (unsigned short)(buf + ((struct nlmsghdr *)buf)->nlmsg_len - (uint8_t *)a);
}

/* ip link add etp0 type veth peer name etp1, over rtnetlink. */
static bool veth_add(void)
{
    uint8_t buf[512] __attribute__((aligned(8)));
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    h->nlmsg_type = RTM_NEWLINK;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    attr(buf, IFLA_IFNAME, "etp0", 5);
    struct rtattr *info = attr(buf, IFLA_LINKINFO, NULL, 0);
    attr(buf, IFLA_INFO_KIND, "veth", 4);
    struct rtattr *data = attr(buf, IFLA_INFO_DATA, NULL, 0);
    struct ifinfomsg peer_if;
    memset(&peer_if, 0, sizeof(peer_if));
    struct rtattr *peer = attr(buf, VETH_INFO_PEER, &peer_if, sizeof(peer_if));
    attr(buf, IFLA_IFNAME, "etp1", 5);
    nest_end(buf, peer);
    nest_end(buf, data);
    nest_end(buf, info);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return false;
    bool ok = send(fd, buf, h->nlmsg_len, 0) == (ssize_t)h->nlmsg_len;
    uint8_t reply[1024] __attribute__((aligned(8)));
    ssize_t n = ok ? recv(fd, reply, sizeof(reply), 0) : -1;
    close(fd);
    const struct nlmsghdr *r = (const struct nlmsghdr *)reply;
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || r->nlmsg_type != NLMSG_ERROR)
        return false;
    return ((const struct nlmsgerr *)NLMSG_DATA(r))->error == 0;
}

static bool if_up(int fd, const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr)) return false;
    ifr.ifr_flags |= IFF_UP;
    return ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
}

/* The kernel's address on an interface (kernel-shared mode). */
static bool if_addr(const char *name, const char *ip)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = inet_addr(ip);
    memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
    bool ok = ioctl(fd, SIOCSIFADDR, &ifr) == 0;
    close(fd);
    return ok;
}

static bool enter_netns(void)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0 || !veth_add()) return false;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool ok = if_up(fd, "lo") && if_up(fd, "etp0") && if_up(fd, "etp1");
    close(fd);
    return ok;
}

static void test_no_interface(void)
{
    efvi_emu_nic *nic = (efvi_emu_nic *)1;
    CHECK(efvi_emu_packet_create("etnosuch0", NULL, &nic) != NULL);
    CHECK(nic == NULL);
    CHECK(efvi_emu_packet_create(NULL, NULL, &nic) != NULL);
    CHECK(efvi_emu_nic_find(NULL, "etnosuch0") == NULL);
    CHECK(efvi_emu_nic_find(NULL, NULL) == NULL);
    ef_driver_handle dh;
    REQUIRE(ef_driver_open(&dh) == 0);
    ef_pd pd;
    CHECK_EQ(ef_pd_alloc(&pd, dh, 0x7ffffff0, EF_PD_DEFAULT), -ENODEV); /* no such interface */
    CHECK_EQ(ef_pd_alloc(&pd, dh, -1, EF_PD_DEFAULT), -ENODEV);
    CHECK_EQ(ef_pd_alloc_by_name(&pd, dh, "etnosuch0", EF_PD_DEFAULT), -ENODEV);
    /* Ports of a mem wire keep indexes no real interface has, and are no AF_PACKET ports. */
    efvitcp_wire *w;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    REQUIRE(efvi_emu_nic_create(w, "lo", NULL, &nic) == NULL);
    int ifindex = 0;
    efvi_emu_nic_addr(nic, NULL, &ifindex);
    CHECK(ifindex >= 0x70000000);
    CHECK(efvi_emu_nic_find(NULL, "lo") == NULL);
    CHECK(efvi_emu_nic_find(w, "lo") == nic);
    CHECK_EQ(ef_pd_alloc(&pd, dh, ifindex, EF_PD_DEFAULT), 0);
    CHECK_EQ(ef_pd_free(&pd, dh), 0);
    efvi_emu_nic_put(nic);
    efvitcp_wire_free(w);
    ef_driver_close(dh);
}

static int filter_local(ef_vi *vi, ef_driver_handle dh, const char *ip)
{
    ef_filter_spec fs;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    int rc = ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, inet_addr(ip), htons(80));
    ef_filter_cookie cookie;
    return rc ? rc : ef_vi_filter_add(vi, dh, &fs, &cookie);
}

static void test_port_on_veth(void)
{
    if (!g_netns) return;
    efvi_emu_nic_config c;
    efvi_emu_nic_config_default(&c);
    efvi_emu_nic *nic, *again;
    REQUIRE(efvi_emu_packet_create("etp0", &c, &nic) == NULL);
    CHECK(efvi_emu_packet_create("etp0", &c, &again) != NULL); /* one port per interface */
    CHECK(efvi_emu_nic_find(NULL, "etp0") == nic);
    int ifindex;
    uint8_t mac[6];
    efvi_emu_nic_addr(nic, mac, &ifindex);
    CHECK_EQ(ifindex, (int)if_nametoindex("etp0"));
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "etp0");
    CHECK(fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0);
    CHECK(memcmp(mac, ifr.ifr_hwaddr.sa_data, 6) == 0); /* the interface's MAC */
    if (fd >= 0) close(fd);

    ef_driver_handle dh;
    REQUIRE(ef_driver_open(&dh) == 0);
    ef_pd pd;
    REQUIRE(ef_pd_alloc(&pd, dh, ifindex, EF_PD_DEFAULT) == 0);
    efvi_emu_nic_put(nic); /* the PD's reference keeps the port */
    CHECK(efvi_emu_nic_find(NULL, "etp0") == nic);
    ef_vi vi;
    REQUIRE(ef_vi_alloc_from_pd(&vi, dh, &pd, dh, -1, 512, 512, NULL, -1, 0) >= 0);
    CHECK_EQ(ef_vi_mtu(&vi, dh), 1514); /* the interface's MTU 1500 */
    /* The kernel owns 127.0.0.1 (any interface counts) and would see those flows too. */
    CHECK_EQ(filter_local(&vi, dh, "127.0.0.1"), -EPERM);
    CHECK_EQ(filter_local(&vi, dh, "0.0.0.0"), -EPERM);
    CHECK_EQ(filter_local(&vi, dh, "198.18.0.9"), 0);
    CHECK_EQ(filter_local(&vi, dh, "198.18.0.9"), -EEXIST);
    efvi_emu_stats st;
    efvi_emu_get_stats(nic, &st);
    CHECK_EQ(st.filters, 1);
    CHECK_EQ(st.violations, 0);
    CHECK_EQ(ef_vi_free(&vi, dh), 0);
    CHECK_EQ(ef_pd_free(&pd, dh), 0);
    CHECK(efvi_emu_nic_find(NULL, "etp0") == NULL); /* closed with its last reference */
    ef_driver_close(dh);
}

typedef struct end {
    efvitcp_conn *c;
    uint64_t tx, rx, total;
    uint32_t tx_seed, rx_seed;
    uint64_t bad;
    int closed, failures;
    bool fin_sent;
} end;

static uint8_t stream_byte(uint32_t seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x * 0x94d049bb133111ebull >> 56);
}

static void pump(end *e)
{
    uint8_t buf[4096];
    while (e->c && e->tx < e->total) {
        uint64_t want = e->total - e->tx;
        uint32_t n = efvitcp_sendable(e->c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > want) n = (uint32_t)want;
        if (!n) return;
        for (uint32_t i = 0; i < n; i++) buf[i] = stream_byte(e->tx_seed, e->tx + i);
        uint32_t sent = efvitcp_send(e->c, buf, n, false);
        e->tx += sent;
        if (sent < n) return;
    }
    if (e->c && e->tx == e->total && !e->fin_sent && !efvitcp_send_fin(e->c)) e->fin_sent = true;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    end *e = ctx;
    e->c = c;
    pump(e);
}
static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    end *e = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (d[i] != stream_byte(e->rx_seed, e->rx + i)) e->bad++;
    e->rx += n;
    return 0;
}
static void on_more(void *ctx, efvitcp_conn *c)
{
    pump(ctx);
}
static void on_closed(void *ctx, efvitcp_conn *c)
{
    end *e = ctx;
    e->closed++;
    e->c = NULL;
}
static void on_failure(void *ctx, efvitcp_conn *c)
{
    end *e = ctx;
    e->failures++;
    e->c = NULL;
}

static void own_cfg(efvitcp_config *cfg, const char *addr)
{
    efvitcp_config_default(cfg);
    cfg->max_conns = 4;
    cfg->local_addr = addr;
    cfg->seed = 7;
}

static void stacks_on_veth(int arch)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = arch;
    efvi_emu_set_default_config(&nc); /* for the ports the opens create */
    efvitcp_config scfg, ccfg;
    own_cfg(&scfg, "198.18.0.1/24");
    own_cfg(&ccfg, "198.18.0.2/24");
    efvitcp_server *srv;
    efvitcp_client *cli;
    REQUIRE(efvitcp_server_init(&srv, "efvi:etp0", &scfg) == NULL);
    efvi_emu_nic *nic = efvi_emu_nic_find(NULL, "etp0");
    REQUIRE(nic != NULL);
    const char *err = efvitcp_client_init(&cli, "efvi:etp1", &ccfg);
    CHECK_NULL_ERR(err);
    if (err) {
        efvitcp_server_close(srv);
        return;
    }
    CHECK_NULL_ERR(efvitcp_server_listen(srv, PORT));

    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = on_est;
    h.on_data = on_data;
    h.on_more_sendable = on_more;
    h.on_closed = on_closed;
    h.on_connection_refused = on_failure;
    h.on_reset = on_failure;
    h.on_timeout = on_failure;
    end s = {.total = 3000000, .tx_seed = 1, .rx_seed = 2};
    end c = {.total = 3000000, .tx_seed = 2, .rx_seed = 1};
    CHECK_NULL_ERR(efvitcp_client_connect(cli, "198.18.0.1", PORT, 0, NULL));
    uint64_t deadline = mono_ns() + 30000000000ull;
    while (!(s.closed && c.closed) && !s.failures && !c.failures && mono_ns() < deadline) {
        efvitcp_server_poll(srv, &h, &s);
        efvitcp_client_poll(cli, &h, &c);
    }
    CHECK_EQ(s.closed, 1);
    CHECK_EQ(c.closed, 1);
    CHECK_EQ(s.failures + c.failures, 0);
    CHECK_EQ(s.rx, c.total);
    CHECK_EQ(c.rx, s.total);
    CHECK_EQ(s.bad + c.bad, 0);

    efvi_emu_stats st;
    efvi_emu_get_stats(nic, &st);
    CHECK(st.rx_events > 0);
    CHECK(st.tx_ctpio > 0);
    CHECK_EQ(st.violations, 0);
    CHECK_EQ(st.rx_wire_dropped + st.tx_wire_dropped, 0);
    et_efvi_stats ls;
    REQUIRE(et_efvi_link_stats(((et_stack *)cli)->link, &ls));
    CHECK_EQ(ls.efct, arch == EF_VI_ARCH_EFCT);
    CHECK_EQ(ls.restarts, 0);
    CHECK_EQ(ls.filters, 2); /* own address: unicast MAC and ARP broadcast; the flow is gone */

    /* Sharing the kernel's address cannot work over AF_PACKET: the kernel would answer our
       flows with RST. Opening works (a second VI on etp0); steering the first port does not. */
    efvitcp_config kcfg;
    efvitcp_config_default(&kcfg);
    kcfg.max_conns = 4;
    efvitcp_server *shared;
    err = efvitcp_server_init(&shared, "efvi:etp0", &kcfg);
    CHECK_NULL_ERR(err);
    if (!err) {
        CHECK(efvitcp_server_listen(shared, PORT + 1) != NULL);
        efvitcp_server_close(shared);
    }

    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    CHECK(efvi_emu_nic_find(NULL, "etp0") == NULL); /* the last stacks closed the ports */
    CHECK(efvi_emu_nic_find(NULL, "etp1") == NULL);
    efvi_emu_set_default_config(NULL);
}

static void test_stacks_on_veth(void)
{
    if (!g_netns) return;
    stacks_on_veth(EF_VI_ARCH_EF10);
    stacks_on_veth(EF_VI_ARCH_EFCT);
}

/* Outside CI a developer without root still runs the rest; CI (CI=true) must not pass silently
   without the veth tests. */
static void test_veth_available_in_ci(void)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) CHECK(g_netns);
}

int main(void)
{
    efvi_emu_set_strict(false);
    RUN(test_no_interface);
    g_netns = enter_netns();
    if (g_netns) g_netns = if_addr("etp0", "198.18.0.100");
    if (!g_netns) fprintf(stderr, "test_packet: not root or no namespace: veth tests skipped\n");
    RUN(test_veth_available_in_ci);
    RUN(test_port_on_veth);
    RUN(test_stacks_on_veth);
    return th_summary();
}
