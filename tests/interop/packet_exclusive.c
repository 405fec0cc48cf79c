/*
 * The packet link takes its interface and address for itself: a second stack with the same
 * local_addr on the same interface is refused (both would see every frame and each would reset
 * the other's connections), in the same process and from another one; other addresses and other
 * interfaces are not affected; the claim goes with the link's close and with its process, even
 * one killed by SIGKILL.
 *
 * Runs in a network namespace of its own (unshare) on a veth pair it creates with iproute2
 * (198.18.0.0/15 addresses only); the namespace goes with the process. Needs root: exits 77
 * (skip) without it, or fails under CI=true.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

static const char *open_on(const char *ifname, const char *addr, efvitcp_client **out)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.max_conns = 4;
    cfg.send_slots = 16;
    cfg.rx_bufs = 64;
    cfg.local_addr = addr;
    return efvitcp_client_init(out, ifname, &cfg);
}

static void test_same_process(void)
{
    efvitcp_client *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    REQUIRE(open_on("packet:etx0", "198.18.0.1/24", &a) == NULL);
    const char *err = open_on("packet:etx0", "198.18.0.1/24", &b);
    CHECK(err != NULL);
    if (err) {
        printf("second opener: %s\n", err);
        CHECK(strstr(err, "another stack") != NULL);
    }
    /* another address on the interface, the address on another interface: each its own */
    CHECK_NULL_ERR(open_on("packet:etx0", "198.18.0.5/24", &c));
    CHECK_NULL_ERR(open_on("packet:etx1", "198.18.0.1/24", &d));
    /* released at close */
    efvitcp_client_close(a);
    CHECK_NULL_ERR(open_on("packet:etx0", "198.18.0.1/24", &b));
    if (b) efvitcp_client_close(b);
    if (c) efvitcp_client_close(c);
    if (d) efvitcp_client_close(d);
}

/* Another process holds the address; when it dies (SIGKILL: no clean-up of its own) the address
   is free again. */
static void test_other_process_and_crash(void)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        efvitcp_client *a = NULL;
        char ok = open_on("packet:etx0", "198.18.0.1/24", &a) == NULL ? 'y' : 'n';
        if (write(p[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    close(p[1]);
    char ok = 0;
    CHECK(read(p[0], &ok, 1) == 1 && ok == 'y');
    close(p[0]);
    efvitcp_client *b = NULL;
    CHECK(open_on("packet:etx0", "198.18.0.1/24", &b) != NULL);
    if (b) efvitcp_client_close(b), b = NULL;
    kill(pid, SIGKILL);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
    CHECK_NULL_ERR(open_on("packet:etx0", "198.18.0.1/24", &b));
    if (b) efvitcp_client_close(b);
}

int main(void)
{
    const char *ci = getenv("CI");
    bool must = ci && strcmp(ci, "true") == 0;
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0 ||
        system("ip link add etx0 type veth peer name etx1 && ip link set etx0 up && "
               "ip link set etx1 up") != 0) {
        printf("SKIP: needs root, a network namespace and iproute2\n");
        return must ? 1 : 77;
    }
    RUN(test_same_process);
    RUN(test_other_process_and_crash);
    return th_summary();
}
