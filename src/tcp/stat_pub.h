/*
 * The writer's side of the live view (cfg.stat_shm, tcp/stat_format.h): the region is created
 * and filled at init, refreshed by the poll whenever the instance clock passes
 * et_stack.stat_next_ns (one comparison per poll otherwise), and removed at close.
 */
#ifndef EFVITCP_TCP_STAT_PUB_H
#define EFVITCP_TCP_STAT_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "util/stat_region.h"

struct et_stack;
struct et_stat_hdr;

typedef struct et_stat_pub {
    struct et_stat_hdr *hdr; /* the mapped region, NULL = none */
    size_t size;
    uint64_t interval_ns;
    char path[ET_STAT_PATH_MAX];
} et_stat_pub;

/* Init: reclaims the regions of dead processes, then creates this instance's and publishes once.
   A region that cannot be made is logged and left out: the instance runs without it. */
void et_stat_open(struct et_stack *st, const char *interface);
/* Copies the counters and the connection table into the region and sets the next deadline. */
void et_stat_publish(struct et_stack *st);
/* Removes the region. */
void et_stat_close(struct et_stack *st);

#endif
