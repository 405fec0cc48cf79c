/*
 * The simulated wire: endpoints in one process exchange Ethernet frames through it with latency,
 * per-sender bandwidth and a drop-tail queue, under a virtual or real clock. Here: the wire and
 * its clock, ports, frame slots, delivery in time order, and the ports that lend frames to a
 * stack (wire.h). Injected faults are in faults.c, raw endpoints and observers in raw.c.
 *
 * A lending port's user gets a pointer into the frame's slot (zero copy) and gives the slot back
 * when done with it.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/slot_heap.h"
#include "wire/wire.h"
#include "wire/wire_internal.h"
#include "util/abi.h"

#define WIRE_SLOT_MIN   2048u
#define WIRE_MAX_FRAMES (1u << 20)
#define NS_PER_SEC      1000000000ull

/* ------------------------------------------------------------------------------------------ */
/* The wire and its clock                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void wire_config_default(efvitcp_wire_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->virtual_clock = true;
    cfg->latency_ns = 0;
    cfg->bandwidth_bps = 0;
    cfg->queue_bytes = 1000000;
    cfg->mtu = 1500;
    cfg->max_frames = 65536;
    cfg->max_ports = 8;
    cfg->seed = 0;
}

void efvitcp_wire_config_default_sized(efvitcp_wire_config *cfg, size_t size)
{
    if (!cfg) return;
    efvitcp_wire_config d;
    wire_config_default(&d);
    et_abi_write(cfg, size, &d, sizeof(d));
}

const char *efvitcp_wire_new_sized(efvitcp_wire **out, const efvitcp_wire_config *cfg,
                                   size_t cfg_size)
{
    if (!out) return "efvitcp_wire_new: out is NULL";
    *out = NULL;
    efvitcp_wire_config c;
    wire_config_default(&c);
    if (cfg && !et_abi_read(&c, sizeof(c), cfg, cfg_size))
        return "efvitcp_wire_new: config sets fields this (older) efvitcp library does not know";
    if (c.mtu < 576 || c.mtu > 9000) return "wire mtu must be 576..9000";
    if (c.max_ports < 2 || c.max_ports > 250) return "wire max_ports must be 2..250";
    if (c.max_frames < 1 || c.max_frames > WIRE_MAX_FRAMES)
        return "wire max_frames must be 1..1048576";
    /* A queue that cannot hold one full frame would drop every frame even on an idle line. */
    if (c.bandwidth_bps && c.queue_bytes < c.mtu + ETH_HDR_LEN)
        return "wire queue_bytes must hold at least one frame (mtu + 14) when bandwidth is set";

    efvitcp_wire *w = calloc(1, sizeof(*w));
    if (!w) return "out of memory";
    w->cfg = c;
    if (!c.virtual_clock && et_tsc_init(&w->tsc_state)) w->tsc = &w->tsc_state;
    /* Slots are 2 KiB, larger only when a jumbo MTU needs it. */
    uint32_t need = (c.mtu + ETH_HDR_LEN + 63u) & ~63u;
    w->slot_size = need > WIRE_SLOT_MIN ? need : WIRE_SLOT_MIN;
    if (c.bandwidth_bps) {
        unsigned __int128 q = (unsigned __int128)c.queue_bytes * 8u * NS_PER_SEC / c.bandwidth_bps;
        w->queue_ns = q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
    }
    size_t mem_size = ((size_t)c.max_frames * w->slot_size + 4095u) & ~(size_t)4095u;
    w->mem = aligned_alloc(4096, mem_size);
    w->slots = calloc(c.max_frames, sizeof(*w->slots));
    w->free_list = malloc((size_t)c.max_frames * sizeof(*w->free_list));
    w->ports = calloc(c.max_ports, sizeof(*w->ports));
    if (!w->mem || !w->slots || !w->free_list || !w->ports) {
        efvitcp_wire_free(w);
        return "out of memory";
    }
    /* Hand out low slots first: frames reuse warm cache lines. */
    for (uint32_t i = 0; i < c.max_frames; i++) w->free_list[i] = c.max_frames - 1 - i;
    w->n_free = c.max_frames;
    *out = w;
    return NULL;
}

void efvitcp_wire_free(efvitcp_wire *w)
{
    if (!w) return;
    if (w->ports) {
        for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
            wire_port *p = &w->ports[i];
            if (!p->used) continue;
            /* Misuse (a stack still attached) must not turn into a use-after-free later. */
            if (p->owner) *p->owner = NULL;
            free(p->heap);
        }
    }
    free(w->ports);
    free(w->free_list);
    free(w->slots);
    free(w->mem);
    free(w);
}

uint64_t et_wire_now(const efvitcp_wire *w)
{
    return wire_now(w);
}

uint64_t efvitcp_wire_now(const efvitcp_wire *w)
{
    return wire_now(w);
}

static uint64_t wire_clock_now(const void *w)
{
    return wire_now(w);
}

et_clock et_wire_clock(const efvitcp_wire *w)
{
    /* Where the wire's time is its TSC (a real-time wire that calibrated one), its users read
       the counter inline as every real link does; a virtual clock has none. */
    et_clock c = {wire_clock_now, w, w ? w->tsc : NULL};
    return c;
}

void efvitcp_wire_set_now(efvitcp_wire *w, uint64_t now_ns)
{
    if (!w || !w->cfg.virtual_clock) return;
    if (now_ns > w->now) w->now = now_ns;
}

uint64_t efvitcp_wire_next_delivery(const efvitcp_wire *w)
{
    uint64_t best = UINT64_MAX;
    if (!w) return best;
    for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
        const wire_port *p = &w->ports[i];
        if (p->used && p->heap_len && w->slots[p->heap[0]].at < best)
            best = w->slots[p->heap[0]].at;
    }
    return best;
}

void et_wire_get_stats(const efvitcp_wire *w, et_wire_stats *st)
{
    if (!st) return;
    if (!w) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = w->st;
}

void efvitcp_wire_counts(const efvitcp_wire *w, uint64_t *delivered, uint64_t *dropped)
{
    et_wire_stats st;
    et_wire_get_stats(w, &st);
    if (delivered) *delivered = st.delivered;
    if (dropped)
        *dropped = st.drop_mtu + st.drop_queue + st.drop_no_slot + st.drop_unknown +
                   st.drop_rx_full + st.fault_partition + st.fault_loss + st.fault_burst_loss;
}

/* ------------------------------------------------------------------------------------------ */
/* Ports, slots and delivery                                                                  */
/* ------------------------------------------------------------------------------------------ */

const char *wire_port_attach(efvitcp_wire *w, const char *name, uint32_t *idx_out)
{
    if (!name) return "mem endpoint needs a name";
    size_t n = strnlen(name, WIRE_NAME_MAX + 1);
    if (n == 0 || n > WIRE_NAME_MAX) return "mem endpoint name must be 1..31 characters";
    int free_idx = -1;
    for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
        if (!w->ports[i].used) {
            if (free_idx < 0) free_idx = (int)i;
        } else if (strcmp(w->ports[i].name, name) == 0) {
            return "mem endpoint name already attached to this wire";
        }
    }
    if (free_idx < 0) return "wire has no free port (max_ports endpoints attached)";
    wire_port *p = &w->ports[free_idx];
    p->heap = malloc((size_t)w->cfg.max_frames * sizeof(*p->heap));
    if (!p->heap) return "out of memory";
    p->used = true;
    memcpy(p->name, name, n + 1);
    p->line_free = 0;
    p->heap_len = 0;
    p->held = 0;
    p->owner = NULL;
    p->raw = false;
    p->armed = false;
    p->wake_fd = -1;
    p->has_faults = false;
    p->ge_bad = false;
    memset(&p->faults, 0, sizeof(p->faults));
    /* One stream per sending endpoint; the port number keeps streams of one wire apart. A zero
       seed would ask et_rng_seed for getrandom(). */
    uint64_t x = w->cfg.seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(free_idx + 1));
    et_rng_seed(&p->rng, x ? x : 1);
    *idx_out = (uint32_t)free_idx;
    return NULL;
}

void wire_port_mac(uint32_t idx, uint8_t mac[6])
{
    mac[0] = 0x02;
    mac[1] = mac[2] = mac[3] = mac[4] = 0;
    mac[5] = (uint8_t)(idx + 1);
}

void et_wire_port_detach(efvitcp_wire *w, uint32_t idx)
{
    wire_port *p = &w->ports[idx];
    for (uint32_t i = 0; i < p->heap_len; i++) wire_slot_free(w, p->heap[i]);
    if (p->held) {
        /* Only at teardown: a linear scan keeps the hot path free of per-port held lists. */
        for (uint32_t s = 0; s < w->cfg.max_frames; s++)
            if (w->slots[s].state == SLOT_HELD && w->slots[s].port == idx) wire_slot_free(w, s);
    }
    free(p->heap);
    memset(p, 0, sizeof(*p));
}

/*
 * The single decision point for a frame put on the wire: returns how many copies arrive (0 = the
 * frame is lost, counted here) and when: the MTU, the sender's drop-tail queue, then the
 * injected partition, loss and duplication (faults.c); each copy gets its own jitter.
 */
static int wire_admit(efvitcp_wire *w, uint32_t from_idx, const uint8_t *frame, uint32_t len,
                      uint64_t now, uint64_t at[WIRE_MAX_COPIES])
{
    wire_port *from = &w->ports[from_idx];
    uint32_t mtu = from->faults.mtu ? from->faults.mtu : w->cfg.mtu;
    if (len < ETH_HDR_LEN || len > mtu + ETH_HDR_LEN) {
        w->st.drop_mtu++;
        if (len >= ETH_HDR_LEN && len <= w->cfg.mtu + ETH_HDR_LEN)
            wire_fault_note(w, from_idx, ET_WIRE_FAULT_MTU, frame, len, UINT32_MAX);
        return 0;
    }
    uint64_t depart = from->line_free > now ? from->line_free : now;
    uint64_t ser = 0;
    if (w->cfg.bandwidth_bps) {
        ser = (uint64_t)((unsigned __int128)len * 8u * NS_PER_SEC / w->cfg.bandwidth_bps);
        /* Drop-tail: the bytes not yet serialised, this frame included, must fit queue_bytes. */
        if (depart - now + ser > w->queue_ns) {
            w->st.drop_queue++;
            return 0;
        }
        from->line_free = wire_sat_add(depart, ser);
    }
    uint64_t arrive = wire_sat_add(wire_sat_add(depart, ser), w->cfg.latency_ns);
    at[0] = arrive;
    if (!from->has_faults) return 1;
    return wire_fault_admit(w, from_idx, frame, len, arrive, at);
}

/* A sleeping port's user is woken once per arming: the write is the slow path, taken only by a
   sender to a port whose user chose to sleep. */
static __attribute__((noinline)) void wire_wake(wire_port *p)
{
    p->armed = false;
    uint64_t one = 1;
    /* An eventfd refuses a write only when its counter would overflow: it is readable then. */
    ssize_t r = write(p->wake_fd, &one, sizeof(one));
    (void)r;
}

static void wire_enqueue(efvitcp_wire *w, uint32_t from, uint32_t to, const uint8_t *frame,
                         uint32_t len, uint64_t at)
{
    if (!w->n_free) {
        w->st.drop_no_slot++;
        return;
    }
    uint32_t s = w->free_list[--w->n_free];
    memcpy(w->mem + (size_t)s * w->slot_size, frame, len);
    wire_slot *sl = &w->slots[s];
    sl->at = at;
    sl->seq = w->seq++;
    sl->len = len;
    sl->port = (uint16_t)to;
    sl->state = SLOT_QUEUED;
    if (w->ports[from].has_faults)
        wire_fault_corrupt(w, from, w->mem + (size_t)s * w->slot_size, len);
    wire_port *p = &w->ports[to];
    wire_heap_push(w, p, s);
    if (p->armed) wire_wake(p);
}

/* Port index of a wire MAC (02:00:00:00:00:NN, NN = index + 1), or -1. */
static int mac_to_port(const efvitcp_wire *w, const uint8_t *mac)
{
    static const uint8_t prefix[5] = {0x02, 0, 0, 0, 0};
    if (memcmp(mac, prefix, 5) != 0 || mac[5] == 0 || mac[5] > w->cfg.max_ports) return -1;
    uint32_t idx = mac[5] - 1u;
    return w->ports[idx].used ? (int)idx : -1;
}

int et_wire_send(efvitcp_wire *w, uint32_t from, const uint8_t *frame, uint32_t len)
{
    wire_port *fp = &w->ports[from];
    if (__builtin_expect(fp->has_faults, 0) && fp->faults.tx_refuse) {
        fp->faults.tx_refuse--;
        w->st.fault_tx_refused++;
        return -1;
    }
    uint64_t now = wire_now(w);
    w->st.sent++;
    if (w->tap) w->tap(w->tap_ctx, from, frame, len, now);
    uint64_t at[WIRE_MAX_COPIES];
    int copies = wire_admit(w, from, frame, len, now, at);
    if (copies == 0) return 0;

    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (memcmp(frame, bcast, 6) == 0) {
        for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
            if (i == from || !w->ports[i].used) continue;
            for (int c = 0; c < copies; c++) wire_enqueue(w, from, i, frame, len, at[c]);
        }
        return 0;
    }
    /* A switch does not send a frame back out of the port it came in on. */
    int to = mac_to_port(w, frame);
    if (to < 0 || (uint32_t)to == from) {
        w->st.drop_unknown++;
        return 0;
    }
    for (int c = 0; c < copies; c++) wire_enqueue(w, from, (uint32_t)to, frame, len, at[c]);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Lending ports (wire.h)                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Kept out of line: an idle port (every poll of an idle stack) then costs a load and a test,
   not the register saves of the loop below. */
static __attribute__((noinline)) int lend_due(efvitcp_wire *w, wire_port *p, uint32_t max_held,
                                              et_rx_frame *out, int max)
{
    uint64_t now = wire_now(w);
    int n = 0;
    while (p->heap_len) {
        uint32_t s = p->heap[0];
        if (w->slots[s].at > now) break;
        if (p->held >= max_held) {
            /* The NIC's ring is empty: a frame arriving now has nowhere to land. */
            wire_heap_pop(w, p);
            wire_slot_free(w, s);
            w->st.drop_rx_full++;
            continue;
        }
        if (n >= max) break;
        wire_heap_pop(w, p);
        w->slots[s].state = SLOT_HELD;
        p->held++;
        w->st.delivered++;
        out[n].data = w->mem + (size_t)s * w->slot_size;
        out[n].len = w->slots[s].len;
        out[n].id = s;
        out[n].hw_ts = 0;
        out[n].csum = 0;
        n++;
    }
    return n;
}

int et_wire_lend(efvitcp_wire *w, uint32_t port, uint32_t max_held, et_rx_frame *out, int max)
{
    wire_port *p = &w->ports[port];
    return p->heap_len ? lend_due(w, p, max_held, out, max) : 0;
}

void et_wire_give_back(efvitcp_wire *w, uint32_t port, uint32_t id)
{
    if (id >= w->cfg.max_frames) return;
    wire_slot *sl = &w->slots[id];
    /* A stale or foreign id must not corrupt the free list. */
    if (sl->state != SLOT_HELD || sl->port != port) return;
    wire_slot_free(w, id);
    w->ports[port].held--;
}

int et_wire_port_arm(efvitcp_wire *w, uint32_t port, int wake_fd)
{
    wire_port *p = &w->ports[port];
    p->wake_fd = wake_fd;
    p->armed = true;
    return p->heap_len && w->slots[p->heap[0]].at <= wire_now(w);
}

uint64_t et_wire_port_next(const efvitcp_wire *w, uint32_t port)
{
    const wire_port *p = &w->ports[port];
    return p->heap_len ? w->slots[p->heap[0]].at : UINT64_MAX;
}

const char *et_wire_port_attach(efvitcp_wire *w, const char *name, efvitcp_wire **owner,
                                uint32_t *port, uint8_t mac[6])
{
    uint32_t idx;
    const char *err = wire_port_attach(w, name, &idx);
    if (err) return err;
    w->ports[idx].owner = owner;
    *owner = w;
    *port = idx;
    wire_port_mac(idx, mac);
    return NULL;
}

uint32_t et_wire_mtu(const efvitcp_wire *w)
{
    return w->cfg.mtu;
}
