/*
 * The live view on a full /dev/shm: an instance whose region does not fit runs without it (init
 * logs a warning) instead of dying of SIGBUS when it first touches a page tmpfs cannot give; one
 * that fits gets its region. A tmpfs of 64 KiB is mounted over /dev/shm in a mount namespace of
 * this process's own (unshare; private propagation, so nothing reaches the host's mounts); the
 * instances run on the mem link, no frame leaves the process. Needs root: exits 77 (skip)
 * without it, or fails under CI=true.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "api/instance.h"
#include "efvitcp/efvitcp.h"
#include "harness.h"

static char g_log[512];

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= EFVITCP_LOG_WARN) snprintf(g_log, sizeof(g_log), "%s", msg);
}

static const char *open_client(efvitcp_wire *w, uint32_t rows, efvitcp_client **out)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = "198.18.0.9/24";
    cfg.wire = w;
    cfg.max_conns = rows;
    cfg.stat_max_conns = rows;
    cfg.log = on_log;
    return efvitcp_client_init(out, "mem:x", &cfg);
}

static void test_region_too_large(void)
{
    efvitcp_wire *w;
    REQUIRE(!efvitcp_wire_new(&w, NULL));
    efvitcp_client *cli = NULL;
    g_log[0] = 0;
    /* 4096 rows of 112 bytes: some 460 KiB, in 64 KiB. */
    REQUIRE(open_client(w, 4096, &cli) == NULL);
    CHECK(cli->st.stat.hdr == NULL);
    printf("init said: %s\n", g_log);
    CHECK(strstr(g_log, "stat") != NULL);
    efvitcp_client_poll(cli, NULL, NULL);
    efvitcp_client_close(cli);
    /* A region that fits is made as ever. */
    REQUIRE(open_client(w, 16, &cli) == NULL);
    CHECK(cli->st.stat.hdr != NULL);
    efvitcp_client_poll(cli, NULL, NULL);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

int main(void)
{
    const char *ci = getenv("CI");
    bool must = ci && strcmp(ci, "true") == 0;
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64k") != 0) {
        printf("SKIP: needs root and a mount namespace\n");
        return must ? 1 : 77;
    }
    RUN(test_region_too_large);
    return th_summary();
}
