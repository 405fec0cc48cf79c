/* Finding and reading the regions (stat_tool.h). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stat_tool.h"

/* A live writer holds the lock for microseconds: this many tries (each yields the CPU) only fail
   against a writer stopped mid-update (a debugger, SIGSTOP) or dead mid-update. */
#define MAX_TRIES 10000

static int by_pid_n(const void *a, const void *b)
{
    const st_inst *x = a, *y = b;
    if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Copies the region at path into e; false when it is not (yet) a region of this format. */
static bool read_region(const char *path, st_inst *e)
{
    size_t len;
    const et_stat_hdr *h = et_stat_region_map_ro(path, sizeof(et_stat_hdr), &len);
    if (!h) return false;
    bool ok = et_stat_valid(h, len);
    if (ok) {
        uint32_t cap = h->max_rows;
        e->rows = calloc(cap ? cap : 1, sizeof(et_stat_conn));
        int t =
            e->rows ? et_stat_snapshot(h, len, &e->hdr, e->rows, cap, MAX_TRIES, NULL, NULL) : -1;
        ok = t >= 0;
        e->busy = t == 0;
    }
    munmap((void *)h, len);
    if (!ok) free(e->rows), e->rows = NULL;
    return ok;
}

static bool push(st_list *l, const st_inst *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        st_inst *v = realloc(l->v, cap * sizeof(*v));
        if (!v) return false;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = *e;
    return true;
}

int st_scan(const char *dir, int pid, bool reclaim, st_list *out)
{
    memset(out, 0, sizeof(*out));
    if (reclaim) out->reclaimed = et_stat_region_reclaim(dir, ET_STAT_MAGIC);
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        st_inst e;
        memset(&e, 0, sizeof(e));
        uint32_t n;
        if (!et_stat_region_parse_name(de->d_name, &e.pid, &n)) continue;
        if (pid > 0 && e.pid != pid) continue;
        e.n = n;
        /* Parsed names are short (prefix, two numbers): the path always fits. */
        int w = snprintf(e.path, sizeof(e.path), "%s/%.40s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof(e.path)) continue;
        if (!read_region(e.path, &e)) continue;
        if (!push(out, &e)) free(e.rows);
    }
    closedir(d);
    if (out->n) qsort(out->v, out->n, sizeof(out->v[0]), by_pid_n);
    return 0;
}

void st_list_free(st_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].rows);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

const char *st_ip(uint32_t ip, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return buf;
}

const char *st_drop_name(unsigned r, char *buf, size_t len)
{
    if (r < EFVITCP_DROP_REASONS) return efvitcp_drop_reason_name((efvitcp_drop_reason)r);
    /* A newer writer's reason this tool has no name for. */
    snprintf(buf, len, "reason_%u", r);
    return buf;
}
