/*
 * efvitcp-stat: what it read (scan.c) and how it shows it (print_text.c, print_json.c). The tool
 * maps each instance's region read-only and copies it under the region's sequence lock
 * (tcp/stat_format.h): it never writes to a running instance and never makes it wait.
 */
#ifndef EFVITCP_STAT_TOOL_H
#define EFVITCP_STAT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tcp/stat_format.h"
#include "util/stat_region.h"

/* One instance as read: a consistent copy, or busy (every try overlapped a write). */
typedef struct st_inst {
    char path[ET_STAT_PATH_MAX];
    int pid;
    unsigned n;
    bool busy;
    et_stat_hdr hdr;    /* valid unless busy */
    et_stat_conn *rows; /* hdr.n_rows of them */
} st_inst;

typedef struct st_list {
    st_inst *v;
    size_t n, cap;
    int reclaimed; /* regions of dead processes removed by this scan */
} st_list;

/* Reads every region of dir (pid > 0: only that process's), sorted by process and number. With
   reclaim, the regions of dead processes are removed first. 0, or -1 when dir cannot be read. */
int st_scan(const char *dir, int pid, bool reclaim, st_list *out);
void st_list_free(st_list *l);

/* "A.B.C.D" of a host-order address into buf (16 bytes). */
const char *st_ip(uint32_t ip, char *buf);
/* The name of drop reason r as the writer counted it. */
const char *st_drop_name(unsigned r, char *buf, size_t len);

void st_print_text(FILE *f, const st_list *l, bool conns);
void st_print_json(FILE *f, const st_list *l, bool conns);

#endif
