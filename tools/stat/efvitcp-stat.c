/*
 * efvitcp-stat: a live view of the efvitcp instances running on this machine, like ss or
 * onload_stackdump. Every instance publishes its counters and connections in a shared-memory
 * region (cfg.stat_shm); this tool maps those regions read-only and prints them.
 *
 *   efvitcp-stat [-c] [-w [SEC]] [--json] [-p PID] [--no-reclaim]
 *
 * Field meanings: docs/operations.md, "efvitcp-stat".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stat_tool.h"

typedef struct opts {
    bool conns, json, watch, reclaim;
    double interval;
    int pid;
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: efvitcp-stat [-c] [-w [SEC]] [--json] [-p PID] [--no-reclaim]\n"
               "\n"
               "Lists the efvitcp instances running on this machine (clients and servers that\n"
               "publish their state: cfg.stat_shm, on by default) from " ET_STAT_DIR
               "/" ET_STAT_PREFIX "PID-N:\n"
               "process, instance number, link, address, listening ports, connections, TIME_WAIT\n"
               "records, segments, retransmissions and drops by reason.\n"
               "\n"
               "  -c, --connections  also list every connection: 4-tuple, state, srtt, rto, cwnd,\n"
               "                     send and receive windows, unacked, queued, held and unread\n"
               "                     bytes, retransmits, bytes in and out\n"
               "  -w, --watch [SEC]  refresh every SEC seconds (default 1, fractions allowed)\n"
               "  --json             one JSON document per refresh, for scripts\n"
               "  -p, --pid PID      only the instances of process PID\n"
               "  --no-reclaim       leave the regions of dead processes (removed by default)\n"
               "  -h, --help         this text\n"
               "  -V, --version      the library version\n"
               "\n"
               "The regions are mapped read-only and copied under their sequence lock: reading\n"
               "never stops, slows or changes a running instance, and an update that is in\n"
               "progress is read again, never shown half-written. Counts are as of the instance's\n"
               "last publish (every cfg.stat_interval_ms of its polls, 100 ms by default); an\n"
               "instance that is not polled shows its last state (see 'publishes').\n"
               "Fields: docs/operations.md, \"efvitcp-stat\".\n");
}

/* A positive number of seconds, or -1. */
static double parse_secs(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    return errno || end == s || *end || !(v > 0) || v > 86400 ? -1 : v;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.reclaim = true, .interval = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--connections")) {
            o->conns = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--no-reclaim")) {
            o->reclaim = false;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--watch")) {
            o->watch = true;
            /* SEC is optional, as in the brief of watch(1): taken when the next word is one. */
            if (i + 1 < argc && parse_secs(argv[i + 1]) > 0) o->interval = parse_secs(argv[++i]);
        } else if ((!strcmp(a, "-p") || !strcmp(a, "--pid")) && i + 1 < argc) {
            o->pid = atoi(argv[++i]);
            if (o->pid <= 0) return fprintf(stderr, "efvitcp-stat: bad pid %s\n", argv[i]), 2;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("efvitcp-stat %s\n", efvitcp_version());
            exit(0);
        } else {
            fprintf(stderr, "efvitcp-stat: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static int show(const opts *o)
{
    st_list l;
    if (st_scan(ET_STAT_DIR, o->pid, o->reclaim, &l) != 0) {
        fprintf(stderr, "efvitcp-stat: cannot read " ET_STAT_DIR ": %s\n", strerror(errno));
        return 1;
    }
    if (o->watch && !o->json) fputs("\033[H\033[2J", stdout); /* clear, as watch(1) does */
    if (o->json)
        st_print_json(stdout, &l, o->conns);
    else
        st_print_text(stdout, &l, o->conns);
    fflush(stdout);
    st_list_free(&l);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    if (!o.watch) return show(&o);
    struct timespec ts = {(time_t)o.interval,
                          (long)((o.interval - (double)(time_t)o.interval) * 1e9)};
    for (;;) {
        if ((rc = show(&o))) return rc;
        nanosleep(&ts, NULL);
    }
}
