/* The reader's side of the live view: a consistent copy of a region, retried while it overlaps
   a publish (stat_format.h). Runs in efvitcp-stat, never in an instance. */
#include <sched.h>
#include <string.h>

#include "tcp/stat_format.h"

bool et_stat_valid(const et_stat_hdr *h, size_t len)
{
    if (len < sizeof(*h)) return false;
    if (atomic_load_explicit((_Atomic uint64_t *)&h->magic, memory_order_acquire) != ET_STAT_MAGIC)
        return false;
    return h->version == ET_STAT_VERSION && h->hdr_size == sizeof(et_stat_hdr) &&
           h->conn_size == sizeof(et_stat_conn) && h->stats_size == sizeof(efvitcp_stats) &&
           h->region_size <= len && et_stat_region_size(h->max_rows) <= h->region_size;
}

int et_stat_snapshot(const et_stat_hdr *h, size_t len, et_stat_hdr *hdr, et_stat_conn *rows,
                     uint32_t rows_cap, unsigned max_tries, void (*between)(void *), void *arg)
{
    if (!et_stat_valid(h, len)) return -1;
    const et_stat_conn *src = (const et_stat_conn *)(h + 1);
    for (unsigned t = 1; t <= max_tries; t++) {
        uint64_t s = et_seq_read_begin(&h->seq);
        if (!(s & 1)) {
            memcpy(hdr, h, sizeof(*hdr));
            /* A torn n_rows is caught by the check below; bounding it by the mapping (not by
               max_rows, which the file's owner may rewrite after et_stat_valid read it) keeps the
               copy inside. */
            uint32_t n = hdr->n_rows;
            size_t fit = (len - sizeof(*h)) / sizeof(*src);
            if (n > fit) n = (uint32_t)(fit < UINT32_MAX ? fit : UINT32_MAX);
            if (n > rows_cap) n = rows_cap;
            memcpy(rows, src, (size_t)n * sizeof(*rows));
            if (between) between(arg);
            if (et_seq_read_ok(&h->seq, s)) {
                hdr->n_rows = n;
                /* The file may be anyone's: what the copy is read by must stay inside it. */
                if (hdr->n_ports > ET_STAT_MAX_PORTS) hdr->n_ports = ET_STAT_MAX_PORTS;
                hdr->link[sizeof(hdr->link) - 1] = 0;
                hdr->kind[sizeof(hdr->kind) - 1] = 0;
                return (int)t;
            }
        }
        /* The writer holds the lock for microseconds; give its core back if we share one. */
        sched_yield();
    }
    return 0;
}
