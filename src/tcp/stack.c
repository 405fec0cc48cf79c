/*
 * An instance of the engine: sizing at init, the poll loop (TX completions, timers, received
 * frames, deferred output) and ARP for links where the stack owns its address.
 */
#include "tcp/stack.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_BURST      32
#define TX_DONE_BURST 64
#define NEIGH_ENTRIES 64
/* Kicks of the link and reaps of its completions for one control buffer at close: microseconds
   on a NIC, a few milliseconds of system calls on xdp at most. */
#define CLOSE_REFILL_TRIES 1024

void et_stack_log(et_stack *st, int level, const char *fmt, ...)
{
    if (!st->cfg.log) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->cfg.log(st->cfg.log_ctx, level, msg);
}

static uint8_t window_shift_for(uint32_t bytes)
{
    uint8_t s = 0;
    while (s < 14 && (bytes >> s) > 65535) s++;
    return s;
}

/* Writes one zero per page: the memory is zero already (calloc) or about to be written, and the
   kernel maps a page at its first write. */
static void prefault(void *p, size_t n)
{
    volatile uint8_t *b = p;
    for (size_t i = 0; i < n; i += 4096) b[i] = 0;
    if (n) b[n - 1] = 0;
}

static const char *alloc_arrays(et_stack *st)
{
    const efvitcp_config *cfg = &st->cfg;
    size_t n = cfg->max_conns;
    st->conns = calloc(n, sizeof(et_conn));
    et_seg *segs = calloc(n * cfg->send_slots, sizeof(et_seg));
    uint8_t *rbufs = malloc(n * cfg->recv_buf_size);
    et_ooo *ooo = calloc(n * cfg->ooo_ranges, sizeof(et_ooo));
    et_timer *ut = cfg->user_timers ? calloc(n * cfg->user_timers, sizeof(et_timer)) : NULL;
    uint8_t *ud = cfg->user_data_size ? calloc(n, cfg->user_data_size) : NULL;
    st->tw = cfg->max_time_wait ? calloc(cfg->max_time_wait, sizeof(et_tw)) : NULL;
    st->ctrl_free = calloc(cfg->ctrl_bufs, sizeof(uint32_t));
    st->tx_busy = calloc(st->n_conn_bufs + cfg->ctrl_bufs, 1);
    if (!st->conns || !segs || !rbufs || !ooo || (cfg->user_timers && !ut) ||
        (cfg->user_data_size && !ud) || (cfg->max_time_wait && !st->tw) || !st->ctrl_free ||
        !st->tx_busy) {
        free(segs), free(rbufs), free(ooo), free(ut), free(ud);
        return "out of memory";
    }
    if (cfg->prefault) {
        prefault(st->conns, n * sizeof(et_conn));
        prefault(segs, n * cfg->send_slots * sizeof(et_seg));
        prefault(rbufs, n * cfg->recv_buf_size);
        prefault(ooo, n * cfg->ooo_ranges * sizeof(et_ooo));
        if (ut) prefault(ut, n * cfg->user_timers * sizeof(et_timer));
        if (ud) prefault(ud, n * cfg->user_data_size);
        if (st->tw) prefault(st->tw, cfg->max_time_wait * sizeof(et_tw));
    }
    for (size_t i = 0; i < n; i++) {
        et_conn *c = &st->conns[i];
        c->st = st;
        c->id = (uint32_t)i;
        c->seg_mask = cfg->send_slots - 1;
        c->buf_base = (uint32_t)i * cfg->send_slots;
        c->state = EFVITCP_CLOSED;
        c->segs = segs + i * cfg->send_slots;
        c->rbuf = rbufs + i * cfg->recv_buf_size;
        c->ooo = ooo + i * cfg->ooo_ranges;
        c->t_user = ut ? ut + i * cfg->user_timers : NULL;
        c->user_data = ud ? ud + i * cfg->user_data_size : NULL;
        c->next_free = i + 1 < n ? &st->conns[i + 1] : NULL;
    }
    st->free_conns = &st->conns[0];
    for (uint32_t i = 0; i < cfg->ctrl_bufs; i++) st->ctrl_free[i] = st->n_conn_bufs + i;
    st->n_ctrl_free = cfg->ctrl_bufs;
    return NULL;
}

const char *et_stack_init(et_stack *st, const char *interface, const efvitcp_config *cfg_in)
{
    const char *err;
    if (!interface) return "interface is NULL";
    st->cfg = *cfg_in;
    /* Strings belong to the caller and are only read during init. */
    st->cfg.local_addr = NULL;
    st->cfg.gateway = NULL;
    st->cfg.wire = NULL;
    st->cfg.pcap_path = NULL;
    const efvitcp_config *cfg = &st->cfg;
    if (cfg_in->pcap_path) {
        st->pcap = malloc(sizeof(*st->pcap));
        if (!st->pcap) return "out of memory";
        if ((err = et_pcap_open(st->pcap, cfg_in->pcap_path))) {
            free(st->pcap);
            st->pcap = NULL;
            return err;
        }
    }

    et_rng_seed(&st->rng, cfg->seed);
    st->isn_key[0] = et_rng_next(&st->rng);
    st->isn_key[1] = et_rng_next(&st->rng);
    st->ho_budget = cfg->max_half_open ? cfg->max_half_open : cfg->max_conns;
    st->ho_head = st->ho_tail = UINT32_MAX;
    st->send_mask = cfg->send_slots - 1;
    while ((1u << st->send_shift) < cfg->send_slots) st->send_shift++;
    st->n_conn_bufs = cfg->max_conns * cfg->send_slots;

    /* Links never see the configuration: they get what they need here. The strings come from
       cfg_in, as st->cfg keeps none. */
    _Static_assert((int)ET_LINK_LOG_ERROR == EFVITCP_LOG_ERROR &&
                       (int)ET_LINK_LOG_WARN == EFVITCP_LOG_WARN &&
                       (int)ET_LINK_LOG_INFO == EFVITCP_LOG_INFO &&
                       (int)ET_LINK_LOG_DEBUG == EFVITCP_LOG_DEBUG,
                   "a link logs with the API's levels");
    et_link_params lp = {
        .n_tx = st->n_conn_bufs + cfg->ctrl_bufs,
        .tx_buf_size = cfg->send_buf_1k ? 1024 : 2048,
        .n_rx = cfg->rx_bufs,
        .max_conns = cfg->max_conns,
        .local_addr = cfg_in->local_addr,
        .gateway = cfg_in->gateway,
        .wire = cfg_in->wire,
        /* Real links read the time every poll: from the TSC where the kernel trusts it. Ports
           on a simulated wire run on the wire's clock instead (link.h): no calibration, whose
           50 µs would be most of the setup of a small instance (the fuzz targets make one per
           input). */
        .clock = !cfg_in->wire && et_tsc_init(&st->tsc) ? et_tsc_clock(&st->tsc) : et_mono_clock(),
        .log = cfg->log,
        .log_ctx = cfg->log_ctx,
        .prefault = cfg->prefault,
    };
    if ((err = alloc_arrays(st))) return err;
    if (et_ct_init(&st->table, cfg->max_conns + cfg->max_time_wait, et_rng_next(&st->rng)))
        return "out of memory";
    if (et_neigh_init(&st->neigh, NEIGH_ENTRIES)) return "out of memory";
    if ((err = et_link_open(interface, &lp, &st->link))) return err;

    et_link *l = st->link;
    /* Transmit buffers a link allocated in plain memory (mem, packet's staging); registered
       memory (ef_vi, UMEM) is pinned, hence present, already. */
    if (cfg->prefault && l->tx_base) prefault(l->tx_base, (size_t)l->n_tx * l->tx_buf_size);
    st->local_ip = l->local_ip;
    st->prefix_len = l->prefix_len;
    st->gateway = l->gateway;
    st->addr = (l->caps & ET_LINK_CAP_OWN_ADDR) ? &et_addr_own : &et_addr_kernel;
    if ((err = st->addr->init(st))) return err;
    if (!st->local_ip) return "link has no IPv4 address";
    st->slot_payload = l->tx_buf_size - ET_HDRS_LEN;
    uint32_t mss = l->mtu - ET_IP_HLEN - ET_TCP_HLEN;
    if (cfg->mss && cfg->mss < mss) mss = cfg->mss;
    st->adv_mss = mss;
    st->rcv_wscale = cfg->window_scale ? window_shift_for(cfg->recv_buf_size) : 0;
    st->now_ns = et_link_now(l);
    st->link_clock = true; /* until the user drives the clock with poll_at */
    et_wheel_init(&st->wheel, st->now_ns);
    if ((err = et_txts_init(st))) return err;
    et_stat_open(st, interface);
    return NULL;
}

/* Tries to get a control buffer back for the close's next RST: on xdp the RSTs already queued
   complete only once the ring was kicked, so it is kicked and the completions taken, a bounded
   number of times (a link that completes nothing must not hang the close). On efvi completions
   share the event queue with received frames, which a poll for completions puts aside and then
   waits for the engine to take: the closing instance takes them and drops them. false when
   none came back: the close tries no more, and its remaining RSTs are counted as drops. */
static bool close_ctrl_refill(et_stack *st)
{
    et_link *l = st->link;
    et_rx_frame f[RX_BURST];
    for (int i = 0; i < CLOSE_REFILL_TRIES && !st->n_ctrl_free; i++) {
        if (l->ops->tx_flush) l->ops->tx_flush(l);
        int n = l->ops->rx_burst(l, f, RX_BURST);
        for (int k = 0; k < n; k++) l->ops->rx_release(l, f[k].id);
        et_stack_reap_tx(st);
    }
    return st->n_ctrl_free != 0;
}

void et_stack_close(et_stack *st)
{
    et_stat_close(st);
    if (st->conns) {
        bool refill = st->link != NULL;
        for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
            et_conn *c = &st->conns[i];
            if (c->state == EFVITCP_CLOSED) continue;
            /* As et_conn_abort: SYN_RECEIVED too, whose peer may have ACKed our SYN-ACK and
               think the connection open (RFC 9293 §3.10.4). */
            if (st->link && (et_conn_synced(c) || c->state == EFVITCP_SYN_RECEIVED)) {
                if (!st->n_ctrl_free && refill) refill = close_ctrl_refill(st);
                et_send_rst_conn(c);
            }
            et_conn_free(c);
        }
        if (st->link && st->link->ops->tx_flush) st->link->ops->tx_flush(st->link);
        free(st->conns[0].segs);
        free(st->conns[0].rbuf);
        free(st->conns[0].ooo);
        free(st->conns[0].t_user);
        free(st->conns[0].user_data);
    }
    if (st->link) st->link->ops->destroy(st->link);
    if (st->addr) st->addr->close(st);
    if (st->pcap) {
        et_pcap_close(st->pcap);
        free(st->pcap);
        st->pcap = NULL;
    }
    free(st->conns);
    free(st->tw);
    free(st->ctrl_free);
    free(st->tx_busy);
    et_txts_free(st);
    et_ct_free(&st->table);
    et_neigh_free(&st->neigh);
}

void et_stack_deferred_add(et_stack *st, et_conn *c)
{
    if (c->in_deferred) return;
    c->in_deferred = true;
    c->next_deferred = st->deferred;
    st->deferred = c;
}

/* Inline into the poll, where it runs every time; et_stack_reap_tx for the other callers. */
static inline __attribute__((always_inline)) void reap_tx(et_stack *st)
{
    uint32_t ids[TX_DONE_BURST];
    int n;
    while ((n = st->link->ops->tx_done(st->link, ids, TX_DONE_BURST)) > 0) {
        st->quiet_try = false; /* the poll found work */
        for (int i = 0; i < n; i++) {
            uint32_t id = ids[i];
            st->tx_busy[id] = 0;
            if (id >= st->n_conn_bufs) st->ctrl_free[st->n_ctrl_free++] = id;
        }
        if (__builtin_expect(st->txts_meta != NULL, 0))
            for (int i = 0; i < n; i++) et_txts_complete(st, ids[i]);
        if (n < TX_DONE_BURST) break;
    }
}

void et_stack_reap_tx(et_stack *st)
{
    reap_tx(st);
}

static void run_deferred(et_stack *st)
{
    et_conn *c = st->deferred;
    st->deferred = NULL;
    while (c) {
        et_conn *next = c->next_deferred;
        c->in_deferred = false;
        if (c->state != EFVITCP_CLOSED) {
            if (c->state == EFVITCP_SYN_SENT || c->state == EFVITCP_SYN_RECEIVED) {
                if (et_seg_at(c, 0)->sent_ns == 0) et_output_syn(c);
            } else {
                if (c->fin_pending) et_queue_fin(c);
                et_output(c);
                if (c->ack_now) et_send_ack(c);
            }
        }
        c = next;
    }
}

/* The end of a poll, when the live view's deadline has come, or when a callback closed the
   instance: then the instance is freed here, the last use of it (the poll's callers touch it no
   more). */
static __attribute__((noinline)) void poll_tail(et_stack *st)
{
    if (st->close_pending) {
        st->free_self(st);
        return;
    }
    et_stat_publish(st);
}

void et_stack_close_later(et_stack *st, void (*free_self)(et_stack *st))
{
    static const efvitcp_handler none;
    st->close_pending = true;
    st->free_self = free_self;
    st->h = &none;        /* closed means no more callbacks, in the rest of this poll too */
    st->stat_next_ns = 0; /* poll_tail */
}

static __attribute__((noinline)) void pcap_failed(et_stack *st)
{
    st->pcap->reported = true;
    et_stack_log(st, EFVITCP_LOG_WARN,
                 "pcap: a write to the capture file failed (disk full, or a file size limit): "
                 "the capture stopped; the file holds its first %llu bytes, every frame whole",
                 (unsigned long long)st->pcap->size);
}

void et_stack_run(et_stack *st, const efvitcp_handler *h, void *ctx, uint64_t now_ns)
{
    static const efvitcp_handler none;
    st->h = h ? h : &none;
    st->hctx = ctx;
    /* The clock must not go back: timers would fire late, never early, if it did. */
    if (now_ns > st->now_ns) st->now_ns = now_ns;
    et_link *l = st->link;

    st->in_poll = true;

    /* Frames first, timers second: after the thread was descheduled, the ACKs waiting in the
       ring must cancel retransmission timers before those fire spuriously. The TX completions
       are taken after the burst, which on a link whose events share one queue (ef_vi) has
       collected them in the same pass, and before the frames, whose answers need the
       buffers. */
    et_rx_frame frames[RX_BURST];
    int n = l->ops->rx_burst(l, frames, RX_BURST);
    /* Nothing received or completed (reap_tx): the next poll asks whether it can be quiet. */
    st->quiet_try = n == 0;
    reap_tx(st);
    for (int i = 0; i < n; i++) {
        st->stats.frames_in++;
        if (st->pcap) et_pcap_write(st->pcap, st->now_ns, frames[i].data, frames[i].len);
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why = EFVITCP_DROP_RUNT;
        et_frame_kind kind = et_parse_frame_fast(frames[i].data, frames[i].len, l->mac,
                                                 st->local_ip, frames[i].csum, &seg)
                                 ? ET_FRAME_TCP
                                 : et_parse_frame(frames[i].data, frames[i].len, l->mac,
                                                  st->local_ip, frames[i].csum, &seg, &arp, &why);
        switch (kind) {
        case ET_FRAME_TCP:
            st->rx_src_mac = seg.src_mac;
            st->rx_hw_ts = frames[i].hw_ts;
            et_tcp_input(st, &seg);
            st->rx_hw_ts = 0;
            break;
        case ET_FRAME_ARP:
            st->addr->arp_input(st, &arp);
            break;
        default:
            st->stats.drops[why]++;
            break;
        }
        l->ops->rx_release(l, frames[i].id);
    }
    /* A full burst means more frames may wait in the ring (a busy receiver lags by hundreds):
       the timers wait for them too, since an RTO fired while its ACK sits further down the
       ring is spurious. At most rx_bufs worth of polls, so that a flood cannot stop time. */
    if (n < RX_BURST || ++st->timers_deferred > st->cfg.rx_bufs / RX_BURST) {
        st->timers_deferred = 0;
        et_wheel_advance(&st->wheel, st->now_ns, et_timer_fire, st);
        if (st->tw_count) et_tw_expire(st);
    }
    if (st->deferred) {
        et_stack_reap_tx(st);
        run_deferred(st);
    }
    et_link_flush(l);
    if (st->pcap) {
        et_pcap_flush(st->pcap);
        if (__builtin_expect(st->pcap->failed && !st->pcap->reported, 0)) pcap_failed(st);
    }
    st->h = &none;
    st->in_poll = false;
    /* The live view (stat_pub.c): one comparison per poll, a copy once per stat_interval_ms; the
       same comparison catches a close a callback asked for (et_stack_close_later). */
    if (st->now_ns >= st->stat_next_ns) poll_tail(st);
}

/* A nested poll is refused: the outer one holds the batch of frames it took, the handler and the
   timer wheel in the middle of a walk, and a nested one would process frames with no handler
   (their bytes lost) when it returned, or walk the wheel inside its own walk. A poll from a
   foreach callback too: its callbacks could free the connections the foreach walks, or the
   instance itself, whose close the foreach carries out when it ends. */
__attribute__((noinline)) void et_stack_poll_flagged(et_stack *st, const efvitcp_handler *h,
                                                     void *ctx, uint64_t now_ns, bool link_clock)
{
    if (st->in_poll || st->foreach_depth) {
        if (st->nested_poll_logged) return;
        st->nested_poll_logged = true;
        et_stack_log(st, EFVITCP_LOG_ERROR,
                     "poll called from inside a callback of the same instance (of a poll or a "
                     "foreach): ignored (the poll or foreach in progress goes on when the "
                     "callback returns)");
        return;
    }
    st->link_clock = link_clock;
    if (!et_stack_quiet(st, now_ns)) et_stack_run(st, h, ctx, now_ns);
}

void et_stack_refresh_clock(et_stack *st)
{
    /* Between polls of an instance driven by the link clock, a send or timer must not be
       stamped with the time of the last poll: RTT samples and timers would be off by the gap. */
    if (st->in_poll || !st->link_clock) return;
    uint64_t now = et_link_now(st->link);
    if (now > st->now_ns) st->now_ns = now;
}

uint64_t et_stack_next_timed(const et_stack *st)
{
    uint64_t t = et_wheel_next_expiry(&st->wheel);
    if (st->tw_count) {
        const et_tw *tw = &st->tw[st->tw_head];
        if (tw->expire_ns < t) t = tw->expire_ns;
    }
    return t;
}

uint64_t et_stack_next_timer(const et_stack *st)
{
    uint64_t t = et_stack_next_timed(st);
    et_link *l = st->link;
    /* Deferred output is due at once, unless the link is down: then what waits (deferred output,
       frames the interface refused) is tried again every ET_LINK_DOWN_RETRY_NS, so that it
       leaves soon after the interface is up again, which nothing signals to a sleeper. */
    if (l && l->tx_down) {
        uint64_t retry = st->now_ns + ET_LINK_DOWN_RETRY_NS;
        if (retry < t) t = retry;
    } else if (st->deferred && st->now_ns < t) {
        t = st->now_ns;
    }
    /* The live view's next publish, when frames passed since the last one: a sleeper publishes
       what it did before it sleeps long (a connection closed), and an idle one is not woken to
       copy the same figures again. */
    if (st->stat_next_ns < t && st->stats.frames_in + st->stats.frames_out != st->stat_seen)
        t = st->stat_next_ns;
    /* What the link must do at a time of its own (a VI restart retried, a frame landing on the
       simulated wire) happens in a poll too: a user sleeping until this time must not miss it. */
    if (l && l->ops->next_due) {
        uint64_t d = l->ops->next_due(l);
        if (d < t) t = d;
    }
    return t;
}

int et_stack_wake_fd(const et_stack *st)
{
    et_link *l = st->link;
    return l && l->ops->wake_fd ? l->ops->wake_fd(l) : -1;
}

int et_stack_prime(et_stack *st)
{
    et_link *l = st->link;
    if (!l || !l->ops->prime || st->in_poll || st->foreach_depth) return -1;
    /* The link is armed first and looked at after: a frame that lands before the arming is seen
       here, one that lands after it makes the fd readable. */
    int r = l->ops->prime(l);
    if (r != 0) return r;
    uint64_t now = st->link_clock ? et_link_now(l) : st->now_ns;
    return et_stack_next_timer(st) <= now ? 1 : 0;
}
