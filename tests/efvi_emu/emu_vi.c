/*
 * The ef_vi API of the emulator: driver handles, protection domains, registered memory, VIs with
 * their descriptor rings and event queues, transmit (DMA, CTPIO with fallback, EFCT), receive
 * (EF10 rings with the RX prefix; EFCT in emu_nic.c), timestamps, capabilities and filter specs.
 *
 * Misuse that real hardware would punish by corrupting data or crashing (a CTPIO send without
 * its fallback, a push with nothing new, an event unbundled twice, DMA outside registered memory,
 * a packet released twice) is counted as a violation on the port (efvi_emu_get_stats).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu_internal.h"
#include "wire/wire.h"

#define EMU_MAX_DH 1024

/* A driver handle is a file descriptor, as Onload's is one of its driver: it becomes readable
   when an event arrives after ef_vi_prime() (the interrupt), so that a program can sleep on it
   in epoll. Here it is an epoll fd holding an eventfd (signalled now, or by the wire when a
   frame is queued for the port) and a timerfd (a frame in flight lands: the wire's latency). */
static bool g_dh_open[EMU_MAX_DH];
static int g_dh_fd[EMU_MAX_DH], g_dh_ev[EMU_MAX_DH], g_dh_tm[EMU_MAX_DH];
static uint64_t g_next_dma_page = 0x100000; /* DMA addresses start at 4 GiB */
static unsigned g_next_resource = 1;
static emu_memreg *g_regs; /* every registration, for ef_memreg_free */

static void emu_nic_tx_run(emu_vi *v);

static int dh_index(ef_driver_handle dh)
{
    for (int i = 0; i < EMU_MAX_DH; i++)
        if (g_dh_open[i] && g_dh_fd[i] == dh) return i;
    return -1;
}

static bool dh_ok(ef_driver_handle dh)
{
    return dh >= 0 && dh_index(dh) >= 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver handles, protection domains                                                         */
/* ------------------------------------------------------------------------------------------ */

int ef_driver_open(ef_driver_handle *dh_out)
{
    if (!dh_out) return -EINVAL;
    for (int i = 0; i < EMU_MAX_DH; i++) {
        if (!g_dh_open[i]) {
            int fd = epoll_create1(EPOLL_CLOEXEC);
            int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            int tm = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            struct epoll_event e = {.events = EPOLLIN};
            if (fd < 0 || ev < 0 || tm < 0 || epoll_ctl(fd, EPOLL_CTL_ADD, ev, &e) != 0 ||
                epoll_ctl(fd, EPOLL_CTL_ADD, tm, &e) != 0) {
                int err = errno;
                if (fd >= 0) close(fd);
                if (ev >= 0) close(ev);
                if (tm >= 0) close(tm);
                return -err;
            }
            g_dh_open[i] = true;
            g_dh_fd[i] = fd;
            g_dh_ev[i] = ev;
            g_dh_tm[i] = tm;
            *dh_out = fd;
            return 0;
        }
    }
    return -EMFILE;
}

int ef_driver_close(ef_driver_handle dh)
{
    int i = dh >= 0 ? dh_index(dh) : -1;
    if (i < 0) return -EBADF;
    g_dh_open[i] = false;
    close(g_dh_fd[i]);
    close(g_dh_ev[i]);
    close(g_dh_tm[i]);
    return 0;
}

static int pd_init(ef_pd *pd, ef_driver_handle dh, struct efvi_emu_nic *nic, enum ef_pd_flags fl)
{
    if (!nic) return -ENODEV;
    emu_pd *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    p->nic = nic;
    p->dh = dh;
    emu_nic_ref(nic);
    memset(pd, 0, sizeof(*pd));
    pd->pd_flags = fl;
    pd->pd_resource_id = g_next_resource++;
    pd->pd_intf_name = nic->name;
    pd->pd_cluster_sock = -1;
    pd->pd_cluster_dh = -1;
    pd->emu = p;
    return 0;
}

/* A PD on a real interface that has no port yet: the PD holds the new AF_PACKET port's only
   reference, so the port closes with the last PD on it. */
static int pd_init_packet(ef_pd *pd, ef_driver_handle dh, int ifindex, const char *name,
                          enum ef_pd_flags fl)
{
    struct efvi_emu_nic *nic = emu_packet_port(ifindex, name);
    if (!nic) return -ENODEV;
    int rc = pd_init(pd, dh, nic, fl);
    efvi_emu_nic_put(nic);
    return rc;
}

int ef_pd_alloc(ef_pd *pd, ef_driver_handle pd_dh, int ifindex, enum ef_pd_flags flags)
{
    if (!pd) return -EINVAL;
    if (!dh_ok(pd_dh)) return -EBADF;
    struct efvi_emu_nic *nic = emu_nic_by_ifindex(ifindex);
    return nic ? pd_init(pd, pd_dh, nic, flags) : pd_init_packet(pd, pd_dh, ifindex, NULL, flags);
}

int ef_pd_alloc_by_name(ef_pd *pd, ef_driver_handle pd_dh, const char *name, enum ef_pd_flags flags)
{
    if (!pd) return -EINVAL;
    if (!dh_ok(pd_dh)) return -EBADF;
    struct efvi_emu_nic *nic = emu_nic_by_name(NULL, name);
    if (nic || !name) return pd_init(pd, pd_dh, nic, flags);
    return pd_init_packet(pd, pd_dh, 0, name, flags);
}

const char *ef_pd_interface_name(ef_pd *pd)
{
    return pd ? pd->pd_intf_name : NULL;
}

int ef_pd_free(ef_pd *pd, ef_driver_handle pd_dh)
{
    emu_pd *p = pd ? pd->emu : NULL;
    if (!p) return -EINVAL;
    if (p->n_vis || p->regs) {
        /* Teardown order: memory registrations, VIs, then the PD (ef_vi user guide). */
        emu_violation(p->nic, "ef_pd_free with VIs or registered memory still on it");
        return -EBUSY;
    }
    efvi_emu_nic_put(p->nic);
    free(p);
    pd->emu = NULL;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Registered memory and DMA                                                                  */
/* ------------------------------------------------------------------------------------------ */

int ef_memreg_alloc(ef_memreg *mr, ef_driver_handle mr_dh, struct ef_pd *pd, ef_driver_handle pd_dh,
                    void *p_mem, size_t len_bytes)
{
    emu_pd *p = pd ? pd->emu : NULL;
    if (!mr || !p || !p_mem) return -EINVAL;
    if (!dh_ok(mr_dh) || !dh_ok(pd_dh)) return -EBADF;
    if (((uintptr_t)p_mem & (EF_VI_NIC_PAGE_SIZE - 1)) || len_bytes == 0 || len_bytes % 2048)
        return -EINVAL;
    emu_memreg *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->n_pages = (uint32_t)((len_bytes + EF_VI_NIC_PAGE_SIZE - 1) >> EF_VI_NIC_PAGE_SHIFT);
    r->addrs = malloc((size_t)r->n_pages * sizeof(*r->addrs));
    if (!r->addrs) {
        free(r);
        return -ENOMEM;
    }
    r->owner = mr;
    r->base = p_mem;
    r->len = len_bytes;
    bool efct = p->nic->cfg.arch == EF_VI_ARCH_EFCT;
    r->dma_page0 = g_next_dma_page;
    g_next_dma_page += 2ull * r->n_pages + 16;
    for (uint32_t i = 0; i < r->n_pages; i++) {
        if (efct) /* X3 has no buffer table: the driver stores user virtual addresses */
            r->addrs[i] = (ef_addr)(uintptr_t)(r->base + (size_t)i * EF_VI_NIC_PAGE_SIZE);
        else
            r->addrs[i] = (r->dma_page0 + 2ull * (r->n_pages - 1 - i)) << EF_VI_NIC_PAGE_SHIFT;
    }
    r->pd = p;
    r->next = p->regs;
    p->regs = r;
    r->gnext = g_regs;
    g_regs = r;
    mr->mr_dma_addrs = r->addrs;
    mr->mr_dma_addrs_base = r->addrs;
    return 0;
}

int ef_memreg_free(ef_memreg *mr, ef_driver_handle mr_dh)
{
    if (!mr) return -EINVAL;
    if (!dh_ok(mr_dh)) return -EBADF;
    for (emu_memreg **gp = &g_regs; *gp; gp = &(*gp)->gnext) {
        emu_memreg *r = *gp;
        if (r->owner != mr || r->addrs != mr->mr_dma_addrs) continue;
        *gp = r->gnext;
        for (emu_memreg **rp = &r->pd->regs; *rp; rp = &(*rp)->next) {
            if (*rp == r) {
                *rp = r->next;
                break;
            }
        }
        free(r->addrs);
        free(r);
        mr->mr_dma_addrs = mr->mr_dma_addrs_base = NULL;
        return 0;
    }
    return -EINVAL;
}

/* Host memory behind one DMA page of the PD and how many bytes of it are registered. */
static uint8_t *dma_page(const emu_pd *p, uint64_t page, uint32_t *valid)
{
    for (const emu_memreg *r = p->regs; r; r = r->next) {
        if (page < r->dma_page0 || page >= r->dma_page0 + 2ull * r->n_pages) continue;
        uint64_t d = page - r->dma_page0;
        if (d & 1) return NULL; /* a hole between pages */
        uint64_t i = r->n_pages - 1 - d / 2;
        size_t off = (size_t)i * EF_VI_NIC_PAGE_SIZE;
        *valid =
            (uint32_t)(r->len - off < EF_VI_NIC_PAGE_SIZE ? r->len - off : EF_VI_NIC_PAGE_SIZE);
        return r->base + off;
    }
    return NULL;
}

/* Copies between a DMA address range and buf; -1 (a bus error) if any byte is not registered. */
static int dma_io(const emu_vi *v, ef_addr addr, uint8_t *buf, uint32_t len, bool to_mem)
{
    if (v->efct) {
        for (const emu_memreg *r = v->pd->regs; r; r = r->next) {
            uintptr_t a = (uintptr_t)addr, b = (uintptr_t)r->base;
            if (a < b || a - b > r->len || len > r->len - (a - b)) continue;
            if (to_mem)
                memcpy(r->base + (a - b), buf, len);
            else
                memcpy(buf, r->base + (a - b), len);
            return 0;
        }
        return -1;
    }
    while (len) {
        uint32_t valid;
        uint8_t *page = dma_page(v->pd, addr >> EF_VI_NIC_PAGE_SHIFT, &valid);
        uint32_t off = (uint32_t)(addr & (EF_VI_NIC_PAGE_SIZE - 1));
        uint32_t chunk = EF_VI_NIC_PAGE_SIZE - off < len ? EF_VI_NIC_PAGE_SIZE - off : len;
        if (!page || off + chunk > valid) return -1;
        if (to_mem)
            memcpy(page + off, buf, chunk);
        else
            memcpy(buf, page + off, chunk);
        addr += chunk;
        buf += chunk;
        len -= chunk;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void emu_vi_push_event(emu_vi *v, const ef_event *ev)
{
    if (v->ev_count == v->evq_size) {
        v->oflow = true;
        return;
    }
    v->evq[(v->ev_head + v->ev_count) & (v->evq_size - 1)] = *ev;
    v->ev_count++;
}

static bool ctpio_done(const emu_txd *d)
{
    return d->kind == EMU_TXD_FALLBACK && d->ctpio_ok;
}

/* EF_VI_TX_TIMESTAMPS: one TX_WITH_TIMESTAMP event per frame, naming its dma_id with the NIC
   clock as it left; ef_vi consumes the descriptors as it reports them (Onload's
   ef10_tx_event_ts_rq_id, efct_tx_handle_event), so there is no unbundle. A failed descriptor
   stops here: it goes by TX_ERROR and unbundle as without timestamps. true: all done. */
static bool make_tx_ts_events(emu_vi *v)
{
    uint32_t mask = v->tx_size - 1;
    while (v->tx_evented != v->nic_tx) {
        const emu_txd *d = &v->tx_desc[v->tx_evented & mask];
        if (d->error) return false;
        uint32_t id = v->tx_ids[v->tx_evented & mask];
        if (id != EF_REQUEST_ID_MASK) { /* the last descriptor of its frame */
            ef_event ev;
            memset(&ev, 0, sizeof(ev));
            ev.tx_timestamp.type = EF_EVENT_TYPE_TX_WITH_TIMESTAMP;
            ev.tx_timestamp.q_id = (unsigned)v->slot;
            ev.tx_timestamp.flags =
                (ctpio_done(d) || d->kind == EMU_TXD_EFCT) ? EF_EVENT_FLAG_CTPIO : 0;
            ev.tx_timestamp.rq_id = id;
            ev.tx_timestamp.ts_sec = (unsigned)(d->sent_ns / 1000000000u);
            ev.tx_timestamp.ts_nsec = (unsigned)(d->sent_ns % 1000000000u);
            ev.tx_timestamp.ts_flags = EF_VI_SYNC_FLAG_CLOCK_SET | EF_VI_SYNC_FLAG_CLOCK_IN_SYNC;
            emu_vi_push_event(v, &ev);
            v->nic->st.tx_timestamps++;
        }
        v->state.txq.ct_removed += d->ct_bytes;
        v->state.txq.removed++;
        v->tx_evented++;
    }
    return true;
}

/* Completion events for descriptors the NIC finished: at most EF_VI_TRANSMIT_BATCH per event,
   and one event never mixes failed with sent, or CTPIO with DMA completions. */
static void make_tx_events(emu_vi *v)
{
    uint32_t mask = v->tx_size - 1;
    if ((v->flags & EF_VI_TX_TIMESTAMPS) && make_tx_ts_events(v)) return;
    while (v->tx_evented != v->nic_tx) {
        const emu_txd *d0 = &v->tx_desc[v->tx_evented & mask];
        bool err = d0->error, ct = ctpio_done(d0) || d0->kind == EMU_TXD_EFCT;
        uint32_t i = v->tx_evented, n = 0, ct_bytes = 0;
        while (i != v->nic_tx && n < EF_VI_TRANSMIT_BATCH) {
            const emu_txd *d = &v->tx_desc[i & mask];
            if (d->error != err || (ctpio_done(d) || d->kind == EMU_TXD_EFCT) != ct) break;
            ct_bytes += d->ct_bytes;
            i++;
            n++;
        }
        ef_event ev;
        memset(&ev, 0, sizeof(ev));
        if (err) {
            ev.tx_error.type = EF_EVENT_TYPE_TX_ERROR;
            ev.tx_error.subtype = EF_EVENT_TX_ERROR_BUS;
            v->nic->st.tx_errors++;
        } else {
            ev.tx.type = EF_EVENT_TYPE_TX;
            ev.tx.flags = ct ? EF_EVENT_FLAG_CTPIO : 0;
        }
        ev.tx.q_id = (unsigned)v->slot;
        ev.tx.desc_id = (i - 1) & mask;
        ev.emu.w[3] = 0x80000000u | (v->tx_seq++ & 0x7fffffffu);
        emu_vi_push_event(v, &ev);
        /* The FIFO space of completed EFCT sends comes back with their completions. */
        v->state.txq.ct_removed += ct_bytes;
        v->tx_evented = i;
    }
}

int ef_vi_transmit_unbundle(ef_vi *ep, const ef_event *ev, ef_request_id *ids)
{
    emu_vi *v = ep ? ep->emu : NULL;
    if (!v || !ev || !ids) return 0;
    unsigned type = EF_EVENT_TYPE(*ev);
    if (type != EF_EVENT_TYPE_TX && type != EF_EVENT_TYPE_TX_ERROR) {
        emu_violation(v->nic, "ef_vi_transmit_unbundle of an event that is not TX or TX_ERROR");
        return 0;
    }
    if (ev->emu.w[3] != (0x80000000u | (v->tx_seq_expect & 0x7fffffffu))) {
        emu_violation(v->nic, "TX event unbundled twice, out of order, or from another VI");
        return 0;
    }
    v->tx_seq_expect++;
    uint32_t mask = ep->vi_txq.mask, removed = v->state.txq.removed;
    uint32_t n = ((ev->tx.desc_id - removed) & mask) + 1;
    if (n > v->state.txq.added - removed) {
        emu_violation(v->nic, "TX event beyond the descriptors on the ring");
        return 0;
    }
    int k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = v->tx_ids[(removed + i) & mask];
        if (id != EF_REQUEST_ID_MASK) ids[k++] = (ef_request_id)id;
    }
    v->state.txq.removed += n;
    return k;
}

int ef_vi_receive_unbundle(ef_vi *ep, const ef_event *event, ef_request_id *ids)
{
    (void)event;
    (void)ids;
    emu_vi *v = ep ? ep->emu : NULL;
    emu_violation(v ? v->nic : NULL, "RX event merging is not emulated: no RX_MULTI events exist");
    return 0;
}

/* Up to n queued events, oldest first. */
static int evq_take(emu_vi *v, ef_event *evs, int n)
{
    int k = 0;
    while (k < n && v->ev_count) {
        ef_event ev = v->evq[v->ev_head];
        v->ev_head = (v->ev_head + 1) & (v->evq_size - 1);
        v->ev_count--;
        unsigned t = EF_EVENT_TYPE(ev);
        if (t == EF_EVENT_TYPE_RX || t == EF_EVENT_TYPE_RX_DISCARD) v->state.rxq.removed++;
        evs[k++] = ev;
    }
    return k;
}

static int evq_poll(ef_vi *vi, ef_event *evs, int n)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !evs) return 0;
    if (n < EF_VI_EVENT_POLL_MIN_EVS)
        emu_violation(v->nic, "ef_eventq_poll with fewer than EF_VI_EVENT_POLL_MIN_EVS slots");
    if (n <= 0) return 0;
    struct efvi_emu_nic *nic = v->nic;
    if (v->dead) {
        /* Events made before the reset (efvi_emu_reset_after_events), then the reset. */
        int k = evq_take(v, evs, n);
        v->state.evq.evq_ptr += (uint32_t)k * 8u; /* the reset takes no slot of the queue */
        if (k < n && v->reset_pending) {
            v->reset_pending = false;
            memset(&evs[k], 0, sizeof(evs[k]));
            evs[k++].generic.type = EF_EVENT_TYPE_RESET;
            nic->st.resets++;
        }
        return k;
    }
    if (!v->efct) emu_nic_tx_run(v);
    make_tx_events(v);
    if (nic->faults.evq_oflow) {
        nic->faults.evq_oflow--;
        v->oflow = true;
    }
    if (v->oflow) {
        /* Events were lost: the VI's state is undefined and it must be recreated. */
        v->oflow = false;
        v->ev_count = 0;
        v->dead = true;
        memset(&evs[0], 0, sizeof(evs[0]));
        evs[0].generic.type = EF_EVENT_TYPE_OFLOW;
        nic->st.evq_oflows++;
        return 1;
    }
    int k = 0;
    uint32_t served = 0;
    for (;;) {
        k += evq_take(v, evs + k, n - k);
        /* The next frame from the wire only when there is room to report it. */
        if (k >= n || v->dead || v->oflow || (nic->pkt && served++ >= EMU_PKT_POLL_MAX) ||
            !emu_nic_service_one(nic))
            break;
    }
    v->state.evq.evq_ptr += (uint32_t)k * 8u;
    return k;
}

int ef_eventq_has_event(ef_vi *vi)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return 0;
    struct efvi_emu_nic *nic = v->nic;
    if (v->dead) return v->ev_count || v->reset_pending;
    /* What evq_poll would do before it hands out events, up to the first one for this VI. */
    if (!v->efct) emu_nic_tx_run(v);
    make_tx_events(v);
    if (nic->faults.evq_oflow || v->oflow) return 1;
    uint32_t served = 0;
    while (!v->ev_count && !v->dead && !v->oflow && !(nic->pkt && served++ >= EMU_PKT_POLL_MAX) &&
           emu_nic_service_one(nic)) {
    }
    return v->ev_count || v->oflow || (v->dead && v->reset_pending);
}

static void evq_prime(ef_vi *vi)
{
    (void)vi;
}

int ef_eventq_capacity(ef_vi *vi)
{
    emu_vi *v = vi ? vi->emu : NULL;
    return v ? (int)v->evq_size - 1 : -EINVAL;
}

static void dh_signal(int ev)
{
    uint64_t one = 1;
    ssize_t r = write(ev, &one, sizeof(one));
    (void)r;
}

/*
 * The interrupt: the driver handle becomes readable for an event at or beyond current_ptr. An
 * event the NIC has or would make at once (queued events, a reset to report, TX descriptors
 * awaiting their completion, a frame due on the wire) signals now; otherwise the port's place
 * on the wire is armed, so that the next frame queued for it signals, and a frame already in
 * flight to it sets the timer for when it lands (a wire on the real clock; the timer's clock is
 * the wire's). The handle's earlier readiness is taken back first, as a real driver re-arms its
 * interrupt. Ports on a real interface (AF_PACKET) have no interrupt to model.
 */
int ef_vi_prime(ef_vi *vi, ef_driver_handle dh, unsigned current_ptr)
{
    emu_vi *v = vi ? vi->emu : NULL;
    int i = dh >= 0 ? dh_index(dh) : -1;
    if (!v || i < 0) return -EINVAL;
    struct efvi_emu_nic *nic = v->nic;
    if (nic->pkt || !nic->w) return -EOPNOTSUPP;
    uint64_t drained;
    ssize_t r = read(g_dh_ev[i], &drained, sizeof(drained));
    (void)r;
    struct itimerspec off;
    memset(&off, 0, sizeof(off));
    timerfd_settime(g_dh_tm[i], 0, &off, NULL);
    bool now = current_ptr != v->state.evq.evq_ptr || v->ev_count || v->oflow ||
               (v->dead && v->reset_pending) || v->tx_evented != v->tx_pushed || v->ctpio_pending;
    if (now || et_wire_port_arm(nic->w, (uint32_t)nic->port, g_dh_ev[i])) {
        dh_signal(g_dh_ev[i]);
        return 0;
    }
    uint64_t at = et_wire_port_next(nic->w, (uint32_t)nic->port);
    if (at != UINT64_MAX) {
        struct itimerspec t;
        memset(&t, 0, sizeof(t));
        t.it_value.tv_sec = (time_t)(at / 1000000000u);
        t.it_value.tv_nsec = (long)(at % 1000000000u);
        if (!t.it_value.tv_sec && !t.it_value.tv_nsec) t.it_value.tv_nsec = 1;
        timerfd_settime(g_dh_tm[i], TFD_TIMER_ABSTIME, &t, NULL);
    }
    return 0;
}

int ef_eventq_wait(ef_vi *vi, ef_driver_handle vi_dh, unsigned current_ptr,
                   const struct timeval *timeout)
{
    (void)current_ptr;
    (void)timeout;
    return vi && vi->emu && dh_ok(vi_dh) ? -ETIMEDOUT : -EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* Receive (EF10)                                                                             */
/* ------------------------------------------------------------------------------------------ */

static int rx_set_discards(ef_vi *vi, unsigned flags)
{
    emu_vi *v = vi->emu;
    vi->rx_discard_mask = flags & emu_rx_discards_supported(v->nic);
    return 0;
}

static unsigned rx_get_discards(ef_vi *vi)
{
    return vi->rx_discard_mask;
}

static int rx_init(ef_vi *vi, ef_addr addr, ef_request_id dma_id)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return -EINVAL;
    if (v->efct) return -ENOSYS;
    if (!v->rx_size) return -EINVAL;
    if (ef_vi_receive_space(vi) <= 0) return -EAGAIN;
    uint8_t probe;
    if (!v->efct && (dma_io(v, addr, &probe, 1, false) ||
                     dma_io(v, addr + vi->rx_buffer_len - 1, &probe, 1, false) ||
                     ((addr ^ (addr + vi->rx_buffer_len - 1)) >> EF_VI_NIC_PAGE_SHIFT)))
        emu_violation(v->nic, "RX buffer not registered or crossing a 4 KiB page");
    uint32_t idx = v->state.rxq.added & (v->rx_size - 1);
    v->rx_desc[idx] = addr;
    v->rx_ids[idx] = (uint32_t)dma_id;
    v->state.rxq.added++;
    return 0;
}

static void rx_push(ef_vi *vi)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || v->efct) return;
    /* EF10 hardware takes RX descriptors in multiples of 8. */
    v->state.rxq.posted = v->state.rxq.added & ~7u;
}

int ef_vi_receive_post(ef_vi *vi, ef_addr addr, ef_request_id dma_id)
{
    int rc = rx_init(vi, addr, dma_id);
    if (rc == 0) rx_push(vi);
    return rc;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void emu_vi_rx_ef10(emu_vi *v, const uint8_t *f, uint32_t len, uint64_t ts)
{
    struct efvi_emu_nic *nic = v->nic;
    if (v->dead || !v->rx_size) return;
    if (nic->faults.rx_starve || v->nic_rx == v->state.rxq.posted) {
        nic->st.rx_nodesc++;
        return;
    }
    uint32_t prefix = v->vi->rx_prefix_len, buflen = v->vi->rx_buffer_len;
    bool truncated = false;
    /* The FCS is checked whether or not checksums are: a poisoned copy (cut short) is CRC_BAD. A
       checksum error the VI's discard mask leaves out is delivered as a good frame. */
    bool bad_csum = (emu_frame_csum_errors(f, len, &truncated) & v->vi->rx_discard_mask) != 0;
    bool crc =
        truncated || (nic->faults.rx_discard > 0 &&
                      (double)(et_rng_next(&nic->rng) >> 11) * 0x1p-53 < nic->faults.rx_discard);
    uint32_t done = 0, cum = 0, bufs = 0;
    for (;;) {
        if (v->nic_rx == v->state.rxq.posted) {
            /* The ring ran dry in the middle of a frame. */
            ef_event ev;
            memset(&ev, 0, sizeof(ev));
            ev.rx_no_desc_trunc.type = EF_EVENT_TYPE_RX_NO_DESC_TRUNC;
            emu_vi_push_event(v, &ev);
            nic->st.rx_no_desc_trunc++;
            return;
        }
        uint32_t idx = v->nic_rx & (v->rx_size - 1);
        ef_addr addr = v->rx_desc[idx];
        uint32_t id = v->rx_ids[idx];
        v->nic_rx++;
        bool first = bufs == 0;
        uint32_t head = first ? prefix : 0;
        if (first && prefix) {
            uint8_t pre[EMU_PREFIX_LEN];
            memset(pre, 0, sizeof(pre));
            put_le(pre, ts, 8);
            put_le(pre + 8, len, 2);
            memcpy(pre + 10, "EMU", 3);
            pre[13] = 1;
            if (dma_io(v, addr, pre, prefix, true))
                emu_violation(nic, "RX DMA into memory that is not registered");
        }
        uint32_t room = buflen > head ? buflen - head : 0;
        uint32_t chunk = len - done < room ? len - done : room;
        if (dma_io(v, addr + head, (uint8_t *)f + done, chunk, true))
            emu_violation(nic, "RX DMA into memory that is not registered");
        done += chunk;
        cum += head + chunk;
        bufs++;
        bool last = done == len;
        ef_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.rx.type = EF_EVENT_TYPE_RX;
        if (last && (crc || bad_csum)) {
            ev.rx_discard.type = EF_EVENT_TYPE_RX_DISCARD;
            ev.rx_discard.subtype =
                crc ? EF_EVENT_RX_DISCARD_CRC_BAD : EF_EVENT_RX_DISCARD_CSUM_BAD;
        }
        ev.rx.q_id = (unsigned)v->slot;
        ev.rx.rq_id = id;
        ev.rx.len = cum;
        ev.rx.flags = (first ? EF_EVENT_FLAG_SOP : 0) | (last ? 0 : EF_EVENT_FLAG_CONT);
        emu_vi_push_event(v, &ev);
        if (last) break;
    }
    if (crc)
        nic->st.rx_discard_crc++;
    else if (bad_csum)
        nic->st.rx_discard_csum++;
    else
        nic->st.rx_events++;
    if (bufs > 1) nic->st.rx_scatter++;
}

int ef_vi_receive_get_timestamp_with_sync_flags(ef_vi *vi, const void *pkt, ef_timespec *ts_out,
                                                unsigned *flags_out)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !pkt) return -EINVAL;
    if (!(v->flags & EF_VI_RX_TIMESTAMPS)) {
        emu_violation(v->nic, "RX timestamp asked of a VI without EF_VI_RX_TIMESTAMPS");
        return -EINVAL;
    }
    const uint8_t *p = pkt;
    if (vi->rx_prefix_len < EMU_PREFIX_LEN || memcmp(p + 10, "EMU", 3) != 0 || p[13] != 1)
        return -ENODATA;
    uint64_t ns = get_le(p, 8);
    if (ts_out) {
        ts_out->tv_sec = (time_t)(ns / 1000000000ull);
        ts_out->tv_nsec = (long)(ns % 1000000000ull);
    }
    if (flags_out) *flags_out = EF_VI_SYNC_FLAG_CLOCK_SET | EF_VI_SYNC_FLAG_CLOCK_IN_SYNC;
    return 0;
}

int ef_vi_receive_get_timestamp(ef_vi *vi, const void *pkt, ef_timespec *ts_out)
{
    return ef_vi_receive_get_timestamp_with_sync_flags(vi, pkt, ts_out, NULL) ? -1 : 0;
}

int ef_vi_receive_get_bytes(ef_vi *vi, const void *pkt, uint16_t *bytes_out)
{
    if (!vi || !pkt || !bytes_out || vi->rx_prefix_len < EMU_PREFIX_LEN) return -EINVAL;
    *bytes_out = (uint16_t)get_le((const uint8_t *)pkt + 8, 2);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Transmit                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void ctpio_contract(emu_vi *v)
{
    if (!v->ctpio_pending) return;
    /* ef_vi_transmit_ctpio must be followed by its fallback before any other send. */
    emu_violation(v->nic, "a send on a VI whose CTPIO send still lacks its fallback");
    v->ctpio_pending = false;
}

/* The NIC's work on pushed EF10 descriptors: each frame goes to the wire, in ring order. */
static void emu_nic_tx_run(emu_vi *v)
{
    struct efvi_emu_nic *nic = v->nic;
    uint32_t mask = v->tx_size - 1;
    while (v->nic_tx != v->tx_pushed && !nic->faults.tx_stall && !v->tx_halted && !v->dead) {
        uint32_t end = v->nic_tx;
        while (end != v->tx_pushed && v->tx_desc[end & mask].cont) end++;
        if (end == v->tx_pushed) {
            emu_violation(nic, "pushed the first descriptors of a frame without its last one");
            return;
        }
        end++;
        emu_txd *d0 = &v->tx_desc[v->nic_tx & mask];
        if (ctpio_done(d0)) { /* the CTPIO copy went out: nothing to send */
            v->nic_tx = end;
            continue;
        }
        uint32_t total = 0;
        bool fault = false;
        for (uint32_t i = v->nic_tx; i != end && !fault; i++) {
            emu_txd *d = &v->tx_desc[i & mask];
            if (total + d->len > EMU_FRAME_MAX ||
                dma_io(v, d->addr, v->ctpio_buf + total, d->len, false))
                fault = true;
            total += d->len;
        }
        if (!fault && total > nic->cfg.mtu) fault = true;
        if (!fault && nic->tx_error_next) {
            nic->tx_error_next = false;
            fault = true;
        }
        if (fault) {
            /* A TX error halts the queue: the VI has to be recreated. */
            for (uint32_t i = v->nic_tx; i != end; i++) v->tx_desc[i & mask].error = 1;
            v->nic_tx = end;
            v->tx_halted = true;
            return;
        }
        bool ip = !(v->flags & EF_VI_TX_IP_CSUM_DIS), l4 = !(v->flags & EF_VI_TX_TCPUDP_CSUM_DIS);
        if (ip || l4) emu_frame_csum_fill(v->ctpio_buf, total, ip, l4);
        if (!emu_nic_send(nic, v->ctpio_buf, total)) return; /* the link is busy: next poll */
        nic->st.tx_dma++;
        v->tx_desc[(end - 1) & mask].sent_ns = emu_nic_now(nic);
        v->nic_tx = end;
    }
}

static int gather(const emu_vi *v, const ef_iovec *iov, int n, uint8_t *out, uint32_t *total)
{
    uint32_t t = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > EMU_FRAME_MAX - t) return -1;
        if (dma_io(v, iov[i].iov_base, out + t, iov[i].iov_len, false)) return -1;
        t += iov[i].iov_len;
    }
    *total = t;
    return 0;
}

static uint32_t efct_cost(uint32_t len)
{
    /* X3 FIFO: 64-byte units including an 8-byte header. */
    return (len + 8 + 63) & ~63u;
}

static bool efct_room(const emu_vi *v, uint32_t len)
{
    const ef_vi_txq_state *q = &v->state.txq;
    return ef_vi_transmit_space(v->vi) > 0 && !v->nic->faults.tx_stall &&
           q->ct_added - q->ct_removed + efct_cost(len) <= v->vi->vi_txq.ct_fifo_bytes;
}

/* EFCT: a send is a copy into the CTPIO FIFO; it goes out at once and completes later. */
static int efct_send(emu_vi *v, const ef_iovec *iov, int n, ef_request_id id)
{
    uint32_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    if (!efct_room(v, total)) {
        v->nic->st.tx_eagain++;
        return -EAGAIN;
    }
    if (gather(v, iov, n, v->ctpio_buf, &total)) {
        emu_violation(v->nic, "EFCT transmit from memory that is not registered");
        return -EINVAL;
    }
    if (!emu_nic_send(v->nic, v->ctpio_buf, total)) {
        v->nic->st.tx_eagain++; /* the FIFO does not drain into a busy link */
        return -EAGAIN;
    }
    uint32_t idx = v->state.txq.added & (v->tx_size - 1);
    memset(&v->tx_desc[idx], 0, sizeof(v->tx_desc[idx]));
    v->tx_desc[idx].kind = EMU_TXD_EFCT;
    v->tx_desc[idx].sent_ns = emu_nic_now(v->nic);
    v->tx_desc[idx].len = total;
    v->tx_desc[idx].ct_bytes = efct_cost(total);
    v->tx_ids[idx] = (uint32_t)id;
    v->state.txq.added++;
    v->state.txq.ct_added += efct_cost(total);
    v->tx_pushed = v->nic_tx = v->state.txq.added;
    v->nic->st.tx_ctpio++;
    return 0;
}

static int txv_init(ef_vi *vi, const ef_iovec *iov, int n, ef_request_id id)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return -EINVAL;
    ctpio_contract(v);
    if (!iov || n < 1 || n > 16) {
        emu_violation(v->nic, "transmit with an empty or oversized iovec");
        return -EINVAL;
    }
    if (v->efct) return efct_send(v, iov, n, id);
    if (ef_vi_transmit_space(vi) < n) {
        v->nic->st.tx_eagain++;
        return -EAGAIN;
    }
    uint32_t mask = v->tx_size - 1;
    for (int i = 0; i < n; i++) {
        uint32_t idx = v->state.txq.added & mask;
        memset(&v->tx_desc[idx], 0, sizeof(v->tx_desc[idx]));
        v->tx_desc[idx].addr = iov[i].iov_base;
        v->tx_desc[idx].len = iov[i].iov_len;
        v->tx_desc[idx].cont = i < n - 1;
        v->tx_desc[idx].kind = EMU_TXD_DMA;
        v->tx_ids[idx] = i == n - 1 ? (uint32_t)id : EF_REQUEST_ID_MASK;
        v->state.txq.added++;
    }
    return 0;
}

static void tx_push(ef_vi *vi)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return;
    if (v->efct) return; /* EFCT sends went out already */
    if (v->tx_pushed == v->state.txq.added) {
        emu_violation(v->nic, "ef_vi_transmit_push with no new descriptor since the last push");
        return;
    }
    v->tx_pushed = v->state.txq.added;
    emu_nic_tx_run(v);
}

int ef_vi_transmit_init(ef_vi *vi, ef_addr addr, int bytes, ef_request_id dma_id)
{
    if (bytes <= 0) return -EINVAL;
    ef_iovec iov = {addr, (unsigned)bytes};
    return txv_init(vi, &iov, 1, dma_id);
}

static int tx_transmitv(ef_vi *vi, const ef_iovec *iov, int n, ef_request_id id)
{
    int rc = txv_init(vi, iov, n, id);
    if (rc == 0) tx_push(vi);
    return rc;
}

static int tx_transmit(ef_vi *vi, ef_addr base, int len, ef_request_id id)
{
    if (len <= 0) return -EINVAL;
    ef_iovec iov = {base, (unsigned)len};
    return tx_transmitv(vi, &iov, 1, id);
}

static void tx_ctpio(ef_vi *vi, size_t frame_len, const struct iovec *iov, int n, unsigned thresh)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return;
    struct efvi_emu_nic *nic = v->nic;
    if (v->ctpio_pending) emu_violation(nic, "ef_vi_transmit_ctpio twice without a fallback");
    if (!(v->flags & EF_VI_TX_CTPIO))
        emu_violation(nic, "CTPIO send on a VI allocated without EF_VI_TX_CTPIO");
    v->ctpio_pending = true;
    v->ctpio_ok = false;
    size_t sum = 0;
    for (int i = 0; i < n; i++) sum += iov[i].iov_len;
    if (sum != frame_len || frame_len > nic->cfg.mtu || frame_len > EMU_FRAME_MAX || n < 1) {
        emu_violation(nic, "CTPIO frame length differs from its iovec or exceeds the MTU");
        vi->last_ctpio_failed = 1;
        return;
    }
    size_t t = 0;
    for (int i = 0; i < n; i++) {
        memcpy(v->ctpio_buf + t, iov[i].iov_base, iov[i].iov_len);
        t += iov[i].iov_len;
    }
    uint32_t len = (uint32_t)frame_len;
    if (v->efct) {
        /* X3: the copy needs FIFO space and a ring slot; the fallback names the dma_id. */
        if (v->dead || !efct_room(v, len) || !emu_nic_send(nic, v->ctpio_buf, len)) {
            vi->last_ctpio_failed = 1;
            return;
        }
        vi->last_ctpio_failed = 0;
        uint32_t idx = v->state.txq.added & (v->tx_size - 1);
        memset(&v->tx_desc[idx], 0, sizeof(v->tx_desc[idx]));
        v->tx_desc[idx].kind = EMU_TXD_EFCT;
        v->tx_desc[idx].sent_ns = emu_nic_now(nic);
        v->tx_desc[idx].len = len;
        v->tx_desc[idx].ct_bytes = efct_cost(len);
        v->tx_ids[idx] = EF_REQUEST_ID_MASK;
        v->ctpio_slot = v->state.txq.added;
        v->state.txq.added++;
        v->state.txq.ct_added += efct_cost(len);
        nic->st.tx_ctpio++;
        return;
    }
    /* EF10: CTPIO succeeds only when no DMA descriptor is outstanding on the NIC. */
    bool busy = v->nic_tx != v->tx_pushed || v->tx_pushed != v->state.txq.added ||
                nic->faults.tx_stall || v->tx_halted || v->dead;
    bool ok = !busy && !(nic->faults.ctpio_fail > 0 &&
                         (double)(et_rng_next(&nic->rng) >> 11) * 0x1p-53 < nic->faults.ctpio_fail);
    /* A busy link fails the cut-through send too; its fallback then waits on the ring. */
    if (ok && !emu_nic_send(nic, v->ctpio_buf, len)) ok = false;
    v->ctpio_ok = ok;
    if (ok) {
        v->ctpio_sent_ns = emu_nic_now(nic);
        nic->st.tx_ctpio++;
        return;
    }
    nic->st.tx_ctpio_fail++;
    if (busy) nic->st.tx_ctpio_busy++;
    if (nic->faults.ctpio_poison && thresh < len && !(v->flags & EF_VI_TX_CTPIO_NO_POISON) &&
        !v->dead) {
        /* An underrun after cut-through began: the start of the frame, then a bad FCS. */
        uint32_t cut = len / 2 > 14 ? len / 2 : 14;
        emu_nic_send(nic, v->ctpio_buf, cut);
        nic->st.tx_poisoned++;
    }
}

static void tx_ctpio_copy(ef_vi *vi, size_t frame_len, const struct iovec *iov, int n,
                          unsigned thresh, void *fallback)
{
    size_t t = 0;
    for (int i = 0; i < n && fallback; i++) {
        memcpy((uint8_t *)fallback + t, iov[i].iov_base, iov[i].iov_len);
        t += iov[i].iov_len;
    }
    tx_ctpio(vi, frame_len, iov, n, thresh);
}

static int tx_ctpio_fallbackv(ef_vi *vi, const ef_iovec *iov, int n, ef_request_id id)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return -EINVAL;
    if (!v->ctpio_pending) emu_violation(v->nic, "CTPIO fallback without a CTPIO send");
    bool ok = v->ctpio_pending && v->ctpio_ok;
    v->ctpio_pending = false;
    if (!iov || n < 1 || n > 16) return -EINVAL;
    if (v->efct) {
        if (vi->last_ctpio_failed) return efct_send(v, iov, n, id); /* retry the send */
        v->tx_ids[v->ctpio_slot & (v->tx_size - 1)] = (uint32_t)id;
        v->tx_pushed = v->nic_tx = v->state.txq.added;
        return 0;
    }
    if (ef_vi_transmit_space(vi) < n) {
        v->nic->st.tx_eagain++;
        return -EAGAIN;
    }
    uint32_t mask = v->tx_size - 1;
    for (int i = 0; i < n; i++) {
        uint32_t idx = v->state.txq.added & mask;
        memset(&v->tx_desc[idx], 0, sizeof(v->tx_desc[idx]));
        v->tx_desc[idx].addr = iov[i].iov_base;
        v->tx_desc[idx].len = iov[i].iov_len;
        v->tx_desc[idx].cont = i < n - 1;
        v->tx_desc[idx].kind = EMU_TXD_FALLBACK;
        v->tx_desc[idx].ctpio_ok = ok;
        v->tx_desc[idx].sent_ns = ok ? v->ctpio_sent_ns : 0; /* else when the NIC sends it */
        v->tx_ids[idx] = i == n - 1 ? (uint32_t)id : EF_REQUEST_ID_MASK;
        v->state.txq.added++;
    }
    v->tx_pushed = v->state.txq.added;
    emu_nic_tx_run(v);
    return 0;
}

static int tx_ctpio_fallback(ef_vi *vi, ef_addr addr, size_t len, ef_request_id id)
{
    ef_iovec iov = {addr, (unsigned)len};
    return tx_ctpio_fallbackv(vi, &iov, 1, id);
}

static int tx_pio(ef_vi *vi, int offset, int len, ef_request_id id)
{
    (void)vi, (void)offset, (void)len, (void)id;
    return -EOPNOTSUPP;
}

static int tx_copy_pio(ef_vi *vi, int off, const void *src, int len, ef_request_id id)
{
    (void)vi, (void)off, (void)src, (void)len, (void)id;
    return -EOPNOTSUPP;
}

static void tx_pio_warm(ef_vi *vi)
{
    (void)vi;
}

static void tx_copy_pio_warm(ef_vi *vi, int off, const void *src, int len)
{
    (void)vi, (void)off, (void)src, (void)len;
}

/* ------------------------------------------------------------------------------------------ */
/* VIs                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static int ring_size(int want, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (want == 0) {
        *out = 0;
        return 0;
    }
    uint32_t n = want < 0 ? 512 : (uint32_t)want;
    if (n > hi) return -EINVAL;
    n = pow2_at_least(n);
    *out = n < lo ? lo : n;
    return 0;
}

int ef_vi_alloc_from_pd(ef_vi *vi, ef_driver_handle vi_dh, struct ef_pd *pd, ef_driver_handle pd_dh,
                        int evq_capacity, int rxq_capacity, int txq_capacity, ef_vi *evq_opt,
                        ef_driver_handle evq_dh, enum ef_vi_flags flags)
{
    (void)evq_dh;
    emu_pd *p = pd ? pd->emu : NULL;
    if (!vi || !p) return -EINVAL;
    if (!dh_ok(vi_dh) || !dh_ok(pd_dh)) return -EBADF;
    struct efvi_emu_nic *nic = p->nic;
    bool efct = nic->cfg.arch == EF_VI_ARCH_EFCT;
    unsigned fl = (unsigned)flags;
    if (evq_capacity == 0 || evq_opt) return -EOPNOTSUPP; /* shared event queues: not emulated */
    if (nic->faults.vi_alloc_fail) {
        nic->faults.vi_alloc_fail--;
        return -ENOMEM;
    }
    if (efct)
        fl |= EF_VI_TX_CTPIO; /* CTPIO-only NICs force it on */
    else if ((fl & EF_VI_TX_CTPIO) && !nic->cfg.ctpio)
        return -EOPNOTSUPP;
    else if ((fl & EF_VI_TX_CTPIO) && nic->faults.ctpio_refuse)
        return -EBUSY;
    if ((fl & EF_VI_RX_TIMESTAMPS) && !nic->cfg.rx_timestamps) return -EOPNOTSUPP;
    if ((fl & EF_VI_TX_TIMESTAMPS) && !nic->cfg.tx_timestamps) return -EOPNOTSUPP;
    if (fl & (EF_VI_TX_ALT | EF_VI_RX_EVENT_MERGE)) return -EOPNOTSUPP;
    uint32_t rx, tx, evq;
    if (efct) {
        rx = 0;
        tx = 512;
    } else if (ring_size(rxq_capacity, 512, 4096, &rx) || ring_size(txq_capacity, 512, 2048, &tx)) {
        return -EINVAL;
    } else if (tx > nic->cfg.max_txq) {
        tx = nic->cfg.max_txq; /* the driver gives what the NIC has */
    }
    if (evq_capacity < 0) {
        evq = pow2_at_least(rx + tx + 64);
        if (evq < 512) evq = 512;
        if (evq > 32768) evq = 32768;
    } else if (ring_size(evq_capacity, 512, 32768, &evq)) {
        return -EINVAL;
    }
    int slot = -1;
    for (int i = 0; i < EMU_MAX_VIS && slot < 0; i++)
        if (!nic->vis[i]) slot = i;
    if (slot < 0) return -EBUSY;

    emu_vi *v = calloc(1, sizeof(*v));
    if (!v) return -ENOMEM;
    v->rx_size = rx;
    v->tx_size = tx;
    v->evq_size = evq;
    v->rx_desc = calloc(rx ? rx : 1, sizeof(*v->rx_desc));
    v->rx_ids = calloc(rx ? rx : 1, sizeof(*v->rx_ids));
    v->tx_desc = calloc(tx ? tx : 1, sizeof(*v->tx_desc));
    v->tx_ids = calloc(tx ? tx : 1, sizeof(*v->tx_ids));
    v->evq = calloc(evq, sizeof(*v->evq));
    v->ctpio_buf = malloc(EMU_FRAME_MAX);
    if (!v->rx_desc || !v->rx_ids || !v->tx_desc || !v->tx_ids || !v->evq || !v->ctpio_buf) {
        free(v->rx_desc);
        free(v->rx_ids);
        free(v->tx_desc);
        free(v->tx_ids);
        free(v->evq);
        free(v->ctpio_buf);
        free(v);
        return -ENOMEM;
    }
    v->vi = vi;
    v->nic = nic;
    v->pd = p;
    v->slot = slot;
    v->flags = fl;
    v->efct = efct;
    v->state.evq.min_unused_evq_slots = evq;

    static const struct ops ops = {
        .transmit = tx_transmit,
        .transmitv = tx_transmitv,
        .transmitv_init = txv_init,
        .transmit_push = tx_push,
        .transmit_pio = tx_pio,
        .transmit_copy_pio = tx_copy_pio,
        .transmit_pio_warm = tx_pio_warm,
        .transmit_copy_pio_warm = tx_copy_pio_warm,
        .transmitv_ctpio = tx_ctpio,
        .transmitv_ctpio_copy = tx_ctpio_copy,
        .receive_init = rx_init,
        .receive_push = rx_push,
        .eventq_poll = evq_poll,
        .eventq_prime = evq_prime,
        .transmit_ctpio_fallback = tx_ctpio_fallback,
        .transmitv_ctpio_fallback = tx_ctpio_fallbackv,
        .receive_set_discards = rx_set_discards,
        .receive_get_discards = rx_get_discards,
    };
    memset(vi, 0, sizeof(*vi));
    vi->inited = 1;
    vi->vi_resource_id = g_next_resource++;
    vi->vi_i = (unsigned)slot;
    vi->dh = vi_dh;
    vi->rx_buffer_len = efct ? 2048 : nic->cfg.rx_buffer_len;
    vi->rx_prefix_len =
        !efct && ((fl & EF_VI_RX_TIMESTAMPS) || nic->cfg.force_prefix) ? EMU_PREFIX_LEN : 0;
    vi->vi_txq.mask = tx ? tx - 1 : 0;
    vi->vi_txq.ct_fifo_bytes = efct ? nic->cfg.ct_fifo_bytes : 0x40000000u;
    vi->vi_txq.descriptors = v->tx_desc;
    vi->vi_txq.ids = v->tx_ids;
    vi->vi_rxq.mask = rx ? rx - 1 : 0;
    vi->vi_rxq.descriptors = v->rx_desc;
    vi->vi_rxq.ids = v->rx_ids;
    vi->ep_state = &v->state;
    vi->vi_flags = (enum ef_vi_flags)fl;
    vi->rx_discard_mask = emu_rx_discards_supported(nic); /* as Onload: every check reported */
    vi->evq_vi = vi;
    vi->evq_mask = evq * sizeof(ef_event) - 1;
    vi->nic_type.arch = (unsigned char)nic->cfg.arch;
    vi->ops = ops;
    vi->emu = v;
    nic->vis[slot] = v;
    p->n_vis++;
    return slot;
}

int ef_vi_free(ef_vi *vi, ef_driver_handle nic_dh)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v) return -EINVAL;
    if (!dh_ok(nic_dh)) return -EBADF;
    struct efvi_emu_nic *nic = v->nic;
    emu_filters_drop_vi(nic, v);
    if (v->efct) emu_efct_drop_vi(nic, v);
    nic->vis[v->slot] = NULL;
    v->pd->n_vis--;
    free(v->rx_desc);
    free(v->rx_ids);
    free(v->tx_desc);
    free(v->tx_ids);
    free(v->evq);
    free(v->ctpio_buf);
    free(v);
    vi->emu = NULL;
    vi->inited = 0;
    return 0;
}

unsigned ef_vi_mtu(ef_vi *vi, ef_driver_handle vi_dh)
{
    (void)vi_dh;
    emu_vi *v = vi ? vi->emu : NULL;
    return v ? v->nic->cfg.mtu : 0;
}

int ef_vi_get_mac(ef_vi *vi, ef_driver_handle vi_dh, void *mac_out)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !mac_out) return -EINVAL;
    if (!dh_ok(vi_dh)) return -EBADF;
    memcpy(mac_out, v->nic->mac, 6);
    return 0;
}

int ef_vi_capabilities_get(ef_driver_handle handle, int ifindex, enum ef_vi_capability cap,
                           unsigned long *value)
{
    if (!dh_ok(handle)) return -EBADF;
    struct efvi_emu_nic *nic = emu_nic_by_ifindex(ifindex);
    if (!nic) return -ENODEV;
    if ((int)cap < 0 || cap >= EF_VI_CAP_MAX) return -ENOSYS;
    bool efct = nic->cfg.arch == EF_VI_ARCH_EFCT;
    unsigned long v;
    switch (cap) {
    case EF_VI_CAP_CTPIO:
        v = efct || nic->cfg.ctpio;
        break;
    case EF_VI_CAP_HW_RX_TIMESTAMPING:
        v = nic->cfg.rx_timestamps;
        break;
    case EF_VI_CAP_HW_TX_TIMESTAMPING:
        v = nic->cfg.tx_timestamps;
        break;
    case EF_VI_CAP_RX_FILTER_TYPE_TCP_FULL:
    case EF_VI_CAP_RX_FILTER_TYPE_TCP_LOCAL:
    case EF_VI_CAP_RX_FILTER_TYPE_UDP_FULL:
    case EF_VI_CAP_RX_FILTER_TYPE_UDP_LOCAL:
    case EF_VI_CAP_RX_FILTER_TYPE_ETH_LOCAL:
    case EF_VI_CAP_RX_FILTER_ETHERTYPE:
        v = 1;
        break;
    case EF_VI_CAP_PIO:
        if (efct) return -EOPNOTSUPP;
        v = 0;
        break;
    default:
        return -EOPNOTSUPP;
    }
    if (value) *value = v;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Filters                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void ef_filter_spec_init(ef_filter_spec *fs, enum ef_filter_flags flags)
{
    if (!fs) return;
    memset(fs, 0, sizeof(*fs));
    fs->flags = (unsigned)flags;
}

int ef_filter_spec_set_ip4_local(ef_filter_spec *fs, int protocol, unsigned host_be32,
                                 int port_be16)
{
    if (!fs) return -EINVAL;
    if (fs->type & (EMU_F_FULL | EMU_F_LOCAL | EMU_F_MAC | EMU_F_ETHTYPE)) return -EPROTONOSUPPORT;
    if (protocol != 6 && protocol != 17) return -EPROTONOSUPPORT;
    fs->type |= EMU_F_LOCAL;
    fs->data[0] = (unsigned)protocol;
    fs->data[1] = host_be32;
    fs->data[2] = (uint16_t)port_be16;
    return 0;
}

int ef_filter_spec_set_ip4_full(ef_filter_spec *fs, int protocol, unsigned host_be32, int port_be16,
                                unsigned rhost_be32, int rport_be16)
{
    int rc = ef_filter_spec_set_ip4_local(fs, protocol, host_be32, port_be16);
    if (rc) return rc;
    fs->type = EMU_F_FULL;
    fs->data[3] = rhost_be32;
    fs->data[4] = (uint16_t)rport_be16;
    return 0;
}

int ef_filter_spec_set_eth_local(ef_filter_spec *fs, int vlan_id, const void *mac)
{
    if (!fs || !mac) return -EINVAL;
    if (fs->type & (EMU_F_FULL | EMU_F_LOCAL | EMU_F_MAC)) return -EPROTONOSUPPORT;
    const uint8_t *m = mac;
    fs->type |= EMU_F_MAC;
    fs->data[5] =
        (unsigned)m[0] | (unsigned)m[1] << 8 | (unsigned)m[2] << 16 | (unsigned)m[3] << 24;
    fs->data[6] = (unsigned)m[4] | (unsigned)m[5] << 8;
    fs->data[7] = (unsigned)vlan_id;
    return 0;
}

int ef_filter_spec_set_eth_type(ef_filter_spec *fs, uint16_t ether_type_be16)
{
    if (!fs) return -EINVAL;
    if (fs->type & (EMU_F_FULL | EMU_F_LOCAL | EMU_F_ETHTYPE)) return -EPROTONOSUPPORT;
    fs->type |= EMU_F_ETHTYPE;
    fs->data[8] = ether_type_be16;
    return 0;
}

int ef_vi_filter_add(ef_vi *vi, ef_driver_handle vi_dh, const ef_filter_spec *fs,
                     ef_filter_cookie *cookie_out)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !fs) return -EINVAL;
    if (!dh_ok(vi_dh)) return -EBADF;
    if ((fs->type & EMU_F_ETHTYPE) && !(fs->type & EMU_F_MAC)) return -EPROTONOSUPPORT;
    return emu_filter_add(v->nic, v, fs, cookie_out);
}

int ef_vi_filter_del(ef_vi *vi, ef_driver_handle vi_dh, ef_filter_cookie *cookie)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !cookie) return -EINVAL;
    if (!dh_ok(vi_dh)) return -EBADF;
    int rc = emu_filter_del(v->nic, v, cookie);
    if (rc) emu_violation(v->nic, "ef_vi_filter_del of a filter this VI does not have");
    return rc;
}
