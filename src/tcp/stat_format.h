/*
 * What an instance publishes for efvitcp-stat (cfg.stat_shm): the layout of its shared-memory
 * region (util/stat_region.h names the file). One header, then max_rows connection rows. The
 * writer (stat_pub.c) is the instance's polling thread; readers are other processes that map
 * the file read-only and copy it under the sequence lock (stat_snap.c).
 *
 * The layout is versioned by ET_STAT_VERSION and checked by the sizes in the header: a reader
 * shows only regions of the format it knows (the tool ships with the library). Fixed-width
 * fields only, so that a 32-bit reader would see the same offsets; tests/unit/test_stat_format.c
 * pins them.
 */
#ifndef EFVITCP_TCP_STAT_FORMAT_H
#define EFVITCP_TCP_STAT_FORMAT_H

#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "util/seqlock.h"

#define ET_STAT_MAGIC     0x3154415453564645ull /* "EFVSTAT1" in the file's first 8 bytes */
#define ET_STAT_VERSION   1u
#define ET_STAT_LINK_LEN  64 /* the interface string, truncated, NUL-terminated */
#define ET_STAT_KIND_LEN  16
#define ET_STAT_MAX_PORTS 64 /* listening ports listed; n_listen counts them all */

/* One connection (efvitcp_conn_get_stats and its addressing). Host byte order throughout. */
typedef struct et_stat_conn {
    uint32_t id;    /* efvitcp_conn_id */
    uint32_t state; /* efvitcp_state */
    uint32_t local_ip, remote_ip;
    uint16_t local_port, remote_port;
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t cwnd, ssthresh;
    uint32_t snd_wnd, rcv_wnd;
    uint32_t mss;
    uint32_t unacked, queued;
    uint32_t recv_held; /* held for the user: unread and out of order */
    uint32_t unread;    /* in order and not consumed (efvitcp_unread) */
    uint32_t pad_;
    uint64_t segs_in, segs_out, bytes_in, bytes_out, retransmits;
} et_stat_conn;

typedef struct et_stat_hdr {
    /* Written once at init; magic last (release), so a reader that sees it sees the rest. */
    _Atomic uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;  /* sizeof(et_stat_hdr): the rows start here */
    uint32_t conn_size; /* sizeof(et_stat_conn) */
    uint32_t max_rows;  /* rows the region holds */
    uint64_t region_size;
    int32_t pid;
    uint32_t instance; /* N of efvitcp-stat-PID-N */
    uint32_t interval_ms;
    uint32_t max_conns; /* cfg.max_conns */
    uint32_t local_ip, prefix_len;
    uint32_t stats_size;     /* sizeof(efvitcp_stats) */
    uint32_t n_drop_reasons; /* EFVITCP_DROP_REASONS of the writer */
    char link[ET_STAT_LINK_LEN];
    char kind[ET_STAT_KIND_LEN];

    /* Everything below changes under seq (util/seqlock.h). */
    et_seqlock seq;
    uint64_t publish_ns; /* the instance clock at the last publish */
    uint64_t publishes;
    uint32_t n_conns;   /* connections (TIME_WAIT excluded) */
    uint32_t n_rows;    /* rows filled: min(n_conns, max_rows) */
    uint32_t n_listen;  /* listening ports */
    uint32_t n_ports;   /* of them in ports[] */
    uint32_t time_wait; /* TIME_WAIT records */
    uint32_t pad_;
    uint16_t ports[ET_STAT_MAX_PORTS];
    efvitcp_stats stats; /* as efvitcp_*_stats returns them */
} et_stat_hdr;

/* Bytes of a region with max_rows rows. */
static inline uint64_t et_stat_region_size(uint32_t max_rows)
{
    return sizeof(et_stat_hdr) + (uint64_t)max_rows * sizeof(et_stat_conn);
}
/* The rows, right after the header. */
static inline et_stat_conn *et_stat_rows(et_stat_hdr *h)
{
    return (et_stat_conn *)(h + 1);
}

/*
 * A reader's copy (stat_snap.c). h is the region (len bytes mapped); hdr and rows (room for
 * rows_cap) receive a consistent copy. between, if not NULL, runs after each copy and before its
 * check (tests put a writer there). Returns the attempts taken (>= 1); 0 when every one of
 * max_tries overlapped a write (a writer that died mid-update, or a test holding one open);
 * -1 when the region is not one of this format.
 */
int et_stat_snapshot(const et_stat_hdr *h, size_t len, et_stat_hdr *hdr, et_stat_conn *rows,
                     uint32_t rows_cap, unsigned max_tries, void (*between)(void *), void *arg);
/* True when the region h of len bytes has this format's magic, version and sizes. */
bool et_stat_valid(const et_stat_hdr *h, size_t len);

#endif
