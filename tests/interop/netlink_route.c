/*
 * Route lookups of the kernel-shared mode (src/net/netlink.c et_nl_route_get) on a host with two
 * interfaces and a rule that picks a table by source address (policy routing): the main table
 * sends 198.18.9.0/24 out of etr2, the table of our source address out of etr0. Asked from our
 * address, the lookup must follow the rule, as the kernel does for its own sockets bound there;
 * once it asked without the source and refused the connection ("leaves by another interface").
 *
 * Runs in a network namespace of its own (unshare) on veth pairs it creates with iproute2
 * (198.18.0.0/15 addresses only; no frame is sent); the namespace goes with the process. Needs
 * root: exits 77 (skip) without it, or fails under CI=true.
 */
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "net/netlink.h"

#define OUR_IP   0xc6120701u /* 198.18.7.1, on etr0 */
#define OTHER_IP 0xc6120801u /* 198.18.8.1, on etr2 */
#define DST      0xc6120905u /* 198.18.9.5, reachable both ways */

static void test_source_rule(void)
{
    et_nl nl;
    const char *err = et_nl_open(&nl);
    REQUIRE(err == NULL);
    uint32_t etr0 = if_nametoindex("etr0"), etr2 = if_nametoindex("etr2");
    REQUIRE(etr0 && etr2);
    et_route rt;
    /* From any address: the main table. */
    CHECK_EQ(et_nl_route_get(&nl, DST, 0, &rt), 0);
    CHECK_EQ(rt.type, RTN_UNICAST);
    CHECK_EQ(rt.oif, etr2);
    CHECK_EQ(rt.gateway, 0xc6120802u);
    /* From our address: the rule's table. */
    memset(&rt, 0, sizeof(rt));
    CHECK_EQ(et_nl_route_get(&nl, DST, OUR_IP, &rt), 0);
    CHECK_EQ(rt.type, RTN_UNICAST);
    CHECK_EQ(rt.oif, etr0);
    CHECK_EQ(rt.gateway, 0xc6120702u);
    /* From the other interface's address, which no rule names: the main table again. */
    memset(&rt, 0, sizeof(rt));
    CHECK_EQ(et_nl_route_get(&nl, DST, OTHER_IP, &rt), 0);
    CHECK_EQ(rt.oif, etr2);
    /* A destination only the main table knows is still found from our address (the rule's
       table has no entry for it, so the lookup goes on to main). */
    memset(&rt, 0, sizeof(rt));
    CHECK_EQ(et_nl_route_get(&nl, 0xc6120805u, OUR_IP, &rt), 0);
    CHECK_EQ(rt.oif, etr2);
    CHECK_EQ(rt.gateway, 0);
    et_nl_close(&nl);
}

int main(void)
{
    const char *ci = getenv("CI");
    bool must = ci && strcmp(ci, "true") == 0;
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0 ||
        system("ip link add etr0 type veth peer name etr1 && "
               "ip link add etr2 type veth peer name etr3 && "
               "ip addr add 198.18.7.1/24 dev etr0 && ip addr add 198.18.8.1/24 dev etr2 && "
               "for d in etr0 etr1 etr2 etr3; do ip link set $d up || exit 1; done && "
               "ip route add 198.18.9.0/24 via 198.18.8.2 dev etr2 && "
               "ip route add 198.18.9.0/24 via 198.18.7.2 dev etr0 table 100 && "
               "ip rule add from 198.18.7.1 lookup 100") != 0) {
        printf("SKIP: needs root, a network namespace and iproute2\n");
        return must ? 1 : 77;
    }
    RUN(test_source_rule);
    return th_summary();
}
