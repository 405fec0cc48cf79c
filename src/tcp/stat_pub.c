/*
 * The writer's side of the live view (stat_pub.h): everything an efvitcp-stat reader shows is
 * copied here, by the instance's own thread, at most once per cfg.stat_interval_ms. The copy is
 * plain stores into memory mapped at init: no system call, no allocation, no lock a reader could
 * hold against us.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tcp/stack.h"
#include "tcp/stat_format.h"

static void fill_fixed(et_stack *st, et_stat_hdr *h, uint32_t rows, uint32_t n,
                       const char *interface)
{
    h->version = ET_STAT_VERSION;
    h->hdr_size = sizeof(et_stat_hdr);
    h->conn_size = sizeof(et_stat_conn);
    h->max_rows = rows;
    h->region_size = st->stat.size;
    h->pid = (int32_t)getpid();
    h->instance = n;
    h->interval_ms = st->cfg.stat_interval_ms;
    h->max_conns = st->cfg.max_conns;
    h->local_ip = st->local_ip;
    h->prefix_len = st->prefix_len;
    h->stats_size = sizeof(efvitcp_stats);
    h->n_drop_reasons = EFVITCP_DROP_REASONS;
    snprintf(h->link, sizeof(h->link), "%s", interface);
    snprintf(h->kind, sizeof(h->kind), "%s", st->link->kind ? st->link->kind : "?");
}

void et_stat_open(et_stack *st, const char *interface)
{
    st->stat_next_ns = UINT64_MAX;
    if (!st->cfg.stat_shm) return;
    /* Regions whose process died (a crash, a kill) go first, so that they do not pile up. */
    et_stat_region_reclaim(ET_STAT_DIR, ET_STAT_MAGIC);
    uint32_t rows =
        st->cfg.stat_max_conns < st->cfg.max_conns ? st->cfg.stat_max_conns : st->cfg.max_conns;
    size_t size = (size_t)et_stat_region_size(rows);
    void *map;
    uint32_t n;
    const char *err =
        et_stat_region_create(ET_STAT_DIR, (int)getpid(), size, &map, st->stat.path, &n);
    if (err) {
        st->stat.path[0] = 0;
        et_stack_log(st, EFVITCP_LOG_WARN, "%s: running without the live view (efvitcp-stat)", err);
        return;
    }
    st->stat.hdr = map;
    st->stat.size = size;
    st->stat.interval_ns = (uint64_t)st->cfg.stat_interval_ms * 1000000u;
    et_stat_hdr *h = map;
    fill_fixed(st, h, rows, n, interface);
    /* The first publish writes every page a later one writes (the header, the rows of live
       connections); prefault touches the rest, so that no publish takes a page fault. */
    if (st->cfg.prefault) memset(et_stat_rows(h), 0, size - sizeof(*h));
    et_stat_publish(st);
    atomic_store_explicit(&h->magic, ET_STAT_MAGIC, memory_order_release);
}

/* The listening ports, lowest first, as many as the header lists. */
static void publish_ports(const et_stack *st, et_stat_hdr *h)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < 65536 / 64 && n < st->n_listen && n < ET_STAT_MAX_PORTS; w++) {
        uint64_t bits = st->listen_bits[w];
        while (bits && n < ET_STAT_MAX_PORTS) {
            h->ports[n++] = (uint16_t)(w * 64 + (uint32_t)__builtin_ctzll(bits));
            bits &= bits - 1;
        }
    }
    h->n_listen = st->n_listen;
    h->n_ports = n;
}

static void publish_conn(const et_stack *st, const et_conn *c, et_stat_conn *r)
{
    efvitcp_conn_stats s;
    et_conn_get_stats(c, &s);
    const uint8_t *data;
    r->id = c->id;
    r->state = (uint32_t)s.state;
    r->local_ip = st->local_ip;
    r->remote_ip = c->remote_ip;
    r->local_port = c->local_port;
    r->remote_port = c->remote_port;
    r->srtt_us = s.srtt_us;
    r->rttvar_us = s.rttvar_us;
    r->rto_us = s.rto_us;
    r->cwnd = s.cwnd;
    r->ssthresh = s.ssthresh;
    r->snd_wnd = s.snd_wnd;
    r->rcv_wnd = s.rcv_wnd;
    r->mss = s.mss;
    r->unacked = s.unacked;
    r->queued = s.queued;
    r->recv_held = s.recv_held;
    r->unread = et_rcv_unread(c, &data);
    r->pad_ = 0;
    r->segs_in = s.segs_in;
    r->segs_out = s.segs_out;
    r->bytes_in = s.bytes_in;
    r->bytes_out = s.bytes_out;
    r->retransmits = s.retransmits;
}

void et_stat_publish(et_stack *st)
{
    et_stat_hdr *h = st->stat.hdr;
    if (!h) { /* off, or closed */
        st->stat_next_ns = UINT64_MAX;
        return;
    }
    /* Saturating: a clock near its end (poll_at's caller owns it) must not wrap the deadline
       into the past and publish at every poll. */
    uint64_t next = st->now_ns + st->stat.interval_ns;
    st->stat_next_ns = next < st->now_ns ? UINT64_MAX : next;
    et_seq_write_begin(&h->seq);
    h->publish_ns = st->now_ns;
    h->publishes++;
    st->stat_seen = st->stats.frames_in + st->stats.frames_out;
    h->stats = st->stats;
    h->stats.conns_active = st->n_conns; /* as et_instance_stats reports it */
    h->n_conns = st->n_conns;
    h->time_wait = st->tw_count;
    publish_ports(st, h);
    /* The slots are walked only as far as the last live connection that has a row. */
    et_stat_conn *rows = et_stat_rows(h);
    uint32_t n = 0;
    for (uint32_t i = 0, seen = 0; i < st->cfg.max_conns && seen < st->n_conns && n < h->max_rows;
         i++) {
        const et_conn *c = &st->conns[i];
        if (c->state == EFVITCP_CLOSED) continue;
        seen++;
        publish_conn(st, c, &rows[n++]);
    }
    h->n_rows = n;
    et_seq_write_end(&h->seq);
}

void et_stat_close(et_stack *st)
{
    if (!st->stat.hdr) return;
    /* A child that closes an instance inherited across fork() leaves its parent's region. */
    bool owner = st->stat.hdr->pid == (int32_t)getpid();
    et_stat_region_destroy(st->stat.hdr, st->stat.size, owner ? st->stat.path : NULL);
    st->stat.hdr = NULL;
    st->stat_next_ns = UINT64_MAX;
}
