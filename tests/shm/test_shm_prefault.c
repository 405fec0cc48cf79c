/*
 * cfg.prefault and the shm link's shared object: with it (the default) every page of the object
 * is present from init (MAP_POPULATE when it is created or joined), so the first frames through
 * the rings take no page faults; without it the object's pages are allocated as they are first
 * used, which is what an instance that asked for lazy memory (the fuzzers' rigs, short-lived
 * tests) wants from all 4 MiB of it. Read from the object itself: st_blocks of the tmpfs file
 * counts the pages it holds.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

#define SHM_OBJECT_BYTES (4u << 20) /* two rings of 1,024 slots of 2 KiB, and a header */

/* Bytes the shared object /dev/shm/efvitcp-NAME holds in memory. */
static uint64_t object_bytes(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/dev/shm/efvitcp-%s", name);
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return (uint64_t)st.st_blocks * 512;
}

static void test_object_follows_prefault(void)
{
    for (int on = 0; on < 2; on++) {
        char name[64], iface[80];
        snprintf(name, sizeof(name), "pf%d-%ld", on, (long)getpid());
        snprintf(iface, sizeof(iface), "shm:%s", name);
        efvitcp_config cfg;
        efvitcp_config_default(&cfg);
        cfg.local_addr = "198.18.0.1/24";
        cfg.max_conns = 4;
        cfg.prefault = on;
        efvitcp_server *srv;
        const char *err = efvitcp_server_init(&srv, iface, &cfg);
        CHECK_NULL_ERR(err);
        if (err) continue;
        uint64_t held = object_bytes(name);
        if (on)
            CHECK(held >= SHM_OBJECT_BYTES); /* every page present */
        else
            CHECK(held < SHM_OBJECT_BYTES / 8); /* the header's pages, a few more at most */
        efvitcp_server_close(srv);
        CHECK_EQ(object_bytes(name), 0); /* gone with the last instance */
    }
}

int main(void)
{
    RUN(test_object_follows_prefault);
    return th_summary();
}
