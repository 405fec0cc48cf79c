/*
 * The xdp link listens on as many ports as the stack does: its XDP program's listening set covers
 * every port (a bitmap, not a capped hash map), so 3000 listening ports all get steered, sharing
 * the kernel's address; with an address of its own the program takes every TCP segment for it and
 * the link keeps no per-port or per-flow entries at all, so nothing there can run out either.
 *
 * Runs in a network namespace of its own (unshare) on a veth pair it creates with iproute2
 * (198.18.0.0/15 addresses only); the namespace goes with the process. Needs root and AF_XDP:
 * exits 77 (skip) without them, or fails under CI=true.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

#define N_PORTS 3000

static bool must_run(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

static const char *open_on(const char *addr, efvitcp_server **out)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.max_conns = 16;
    cfg.send_slots = 16;
    cfg.rx_bufs = 256;
    cfg.local_addr = addr;
    return efvitcp_server_init(out, "xdp:etx0", &cfg);
}

/* The kernel frees a closed AF_XDP socket's queue a moment after the close: an instance opened
   at once used to fail with "the queue is in use" (an interop test failed for it on a busy
   machine). The link waits for the queue at init; twenty opens in a row, each right after the
   previous close, all succeed. */
static void test_reopen_at_once(void)
{
    for (int i = 0; i < 20; i++) {
        efvitcp_server *s = NULL;
        const char *err = open_on(NULL, &s);
        if (err) fprintf(stderr, "open %d: %s\n", i, err);
        REQUIRE(err == NULL);
        efvitcp_server_close(s);
    }
}

static void listen_many(const char *addr)
{
    efvitcp_server *s = NULL;
    const char *err = open_on(addr, &s);
    if (err) fprintf(stderr, "open: %s\n", err);
    REQUIRE(err == NULL);
    int ok = 0;
    for (int i = 0; i < N_PORTS; i++) {
        err = efvitcp_server_listen(s, (uint16_t)(20000 + i));
        if (err && ok == i) fprintf(stderr, "port %d: %s\n", 20000 + i, err);
        ok += !err;
    }
    CHECK_EQ(ok, N_PORTS);
    int gone = 0;
    for (int i = 0; i < N_PORTS; i++) gone += !efvitcp_server_unlisten(s, (uint16_t)(20000 + i));
    CHECK_EQ(gone, N_PORTS);
    /* and again: unlistening gave every entry back */
    for (int i = 0; i < 100; i++) CHECK_NULL_ERR(efvitcp_server_listen(s, (uint16_t)(1 + i)));
    CHECK_NULL_ERR(efvitcp_server_listen(s, 65535));
    efvitcp_server_close(s);
}

static void test_kernel_shared(void)
{
    listen_many(NULL);
}

static void test_own_address(void)
{
    listen_many("198.18.0.5/24");
}

int main(void)
{
    /* kernel-shared mode reserves each port with a kernel socket */
    struct rlimit rl = {8192, 8192};
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0 || setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
        system("ip link add etx0 type veth peer name etx1 && ip addr add 198.18.0.1/24 dev etx0 "
               "&& ip link set etx0 up && ip link set etx1 up") != 0) {
        printf("SKIP: needs root, a network namespace and iproute2\n");
        return must_run() ? 1 : 77;
    }
    efvitcp_server *probe = NULL;
    const char *err = open_on(NULL, &probe);
    if (err) {
        printf("SKIP: the xdp link does not open here: %s\n", err);
        return must_run() ? 1 : 77;
    }
    efvitcp_server_close(probe);
    RUN(test_reopen_at_once);
    RUN(test_kernel_shared);
    RUN(test_own_address);
    return th_summary();
}
