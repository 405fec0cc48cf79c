/*
 * The mem link and its simulated wire: stacks (and raw test endpoints) in one process exchange
 * Ethernet frames through a wire with latency, per-sender bandwidth and a drop-tail queue, under a
 * virtual or real clock.
 *
 * Every frame in flight sits in a wire slot allocated when the wire is made; a receiving stack
 * gets a pointer into the slot (zero copy) and gives it back with rx_release. Each endpoint has a
 * min-heap of slot indices keyed by (delivery time, sequence number): the sequence number keeps
 * frames due at the same instant in the order they were sent.
 *
 * Faults (efvitcp_wire_set_faults) belong to the sending endpoint: loss, bursts, duplication,
 * jitter, corruption, partitions and an MTU, every draw from that endpoint's seeded generator, so
 * a run replays bit for bit. The fault state lives in the port: setting faults never allocates.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "link/done_ring.h"
#include "link/link.h"
#include "link/mem_wire.h"
#include "net/checksum.h"
#include "util/clock.h"
#include "util/random.h"

#define WIRE_SLOT_MIN   2048u
#define WIRE_NAME_MAX   31u
#define WIRE_MAX_FRAMES (1u << 20)
#define WIRE_MAX_COPIES 2 /* a duplication fault makes a second copy */
#define ETH_HDR_LEN     14u
#define NS_PER_SEC      1000000000ull

enum { SLOT_FREE = 0, SLOT_QUEUED, SLOT_HELD };

typedef struct wire_slot {
    uint64_t at;  /* delivery time */
    uint64_t seq; /* send order, breaks ties of at */
    uint32_t len;
    uint16_t port; /* receiver while queued or held */
    uint8_t state;
} wire_slot;

struct mem_link;

typedef struct wire_port {
    bool used, raw;
    char name[WIRE_NAME_MAX + 1];
    uint64_t line_free; /* when the sender's line finishes its last admitted frame */
    uint32_t *heap;     /* slot indices; max_frames entries, so it can never overflow */
    uint32_t heap_len;
    uint32_t held;         /* slots lent to the stack and not yet released */
    struct mem_link *link; /* NULL for raw endpoints */
    /* faults of the frames this endpoint sends */
    bool has_faults;
    bool ge_bad; /* Gilbert-Elliott chain in its bad state */
    efvitcp_wire_faults faults;
    et_rng rng;
} wire_port;

struct efvitcp_wire {
    efvitcp_wire_config cfg;
    uint32_t slot_size;
    uint64_t queue_ns; /* queue_bytes worth of serialisation time */
    uint8_t *mem;
    wire_slot *slots;
    uint32_t *free_list;
    uint32_t n_free;
    wire_port *ports;
    uint64_t now; /* virtual clock */
    uint64_t seq;
    et_wire_stats st;
    void (*tap)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len, uint64_t now_ns);
    void *tap_ctx;
    void (*fault_hook)(void *ctx, uint32_t from_port, int kind, const uint8_t *frame, uint32_t len,
                       uint32_t bit);
    void *fault_ctx;
};

typedef struct mem_link {
    et_link base;    /* first: the engine's et_link * is a mem_link * */
    efvitcp_wire *w; /* NULL once the wire was freed under us */
    uint32_t port;
    uint32_t n_rx;
    et_done_ring done; /* tx ids awaiting tx_done, in send order */
} mem_link;

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------------------------------------ */
/* Wire                                                                                       */
/* ------------------------------------------------------------------------------------------ */

void efvitcp_wire_config_default(efvitcp_wire_config *cfg)
{
    if (!cfg) return;
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

const char *efvitcp_wire_new(efvitcp_wire **out, const efvitcp_wire_config *cfg)
{
    if (!out) return "efvitcp_wire_new: out is NULL";
    *out = NULL;
    efvitcp_wire_config c;
    if (cfg)
        c = *cfg;
    else
        efvitcp_wire_config_default(&c);
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

static void slot_free(efvitcp_wire *w, uint32_t s)
{
    w->slots[s].state = SLOT_FREE;
    w->free_list[w->n_free++] = s;
}

static bool slot_before(const efvitcp_wire *w, uint32_t a, uint32_t b)
{
    const wire_slot *x = &w->slots[a], *y = &w->slots[b];
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void heap_push(efvitcp_wire *w, wire_port *p, uint32_t s)
{
    uint32_t i = p->heap_len++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!slot_before(w, s, p->heap[parent])) break;
        p->heap[i] = p->heap[parent];
        i = parent;
    }
    p->heap[i] = s;
}

static uint32_t heap_pop(efvitcp_wire *w, wire_port *p)
{
    uint32_t top = p->heap[0];
    uint32_t last = p->heap[--p->heap_len];
    uint32_t n = p->heap_len, i = 0;
    if (n == 0) return top;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && slot_before(w, p->heap[c + 1], p->heap[c])) c++;
        if (!slot_before(w, p->heap[c], last)) break;
        p->heap[i] = p->heap[c];
        i = c;
    }
    p->heap[i] = last;
    return top;
}

static void port_detach(efvitcp_wire *w, uint32_t idx)
{
    wire_port *p = &w->ports[idx];
    for (uint32_t i = 0; i < p->heap_len; i++) slot_free(w, p->heap[i]);
    if (p->held) {
        /* Only at teardown: a linear scan keeps the hot path free of per-port held lists. */
        for (uint32_t s = 0; s < w->cfg.max_frames; s++)
            if (w->slots[s].state == SLOT_HELD && w->slots[s].port == idx) slot_free(w, s);
    }
    free(p->heap);
    memset(p, 0, sizeof(*p));
}

void efvitcp_wire_free(efvitcp_wire *w)
{
    if (!w) return;
    if (w->ports) {
        for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
            wire_port *p = &w->ports[i];
            if (!p->used) continue;
            /* Misuse (a stack still attached) must not turn into a use-after-free later. */
            if (p->link) p->link->w = NULL;
            free(p->heap);
        }
    }
    free(w->ports);
    free(w->free_list);
    free(w->slots);
    free(w->mem);
    free(w);
}

uint64_t efvitcp_wire_now(const efvitcp_wire *w)
{
    if (!w) return 0;
    if (w->cfg.virtual_clock) return w->now;
    return et_mono_ns();
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

void et_wire_set_tap(efvitcp_wire *w,
                     void (*tap)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                                 uint64_t now_ns),
                     void *ctx)
{
    if (!w) return;
    w->tap = tap;
    w->tap_ctx = tap ? ctx : NULL;
}

void et_wire_set_fault_hook(efvitcp_wire *w,
                            void (*hook)(void *ctx, uint32_t from_port, int kind,
                                         const uint8_t *frame, uint32_t len, uint32_t bit),
                            void *ctx)
{
    if (!w) return;
    w->fault_hook = hook;
    w->fault_ctx = hook ? ctx : NULL;
}

static bool prob_ok(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN too */
}

const char *efvitcp_wire_set_faults(efvitcp_wire *w, const char *endpoint_name,
                                    const efvitcp_wire_faults *f)
{
    if (!w || !endpoint_name) return "efvitcp_wire_set_faults: wire or endpoint name is NULL";
    wire_port *p = NULL;
    for (uint32_t i = 0; i < w->cfg.max_ports; i++)
        if (w->ports[i].used && strcmp(w->ports[i].name, endpoint_name) == 0) p = &w->ports[i];
    if (!p) return "efvitcp_wire_set_faults: no such endpoint on this wire";
    if (f) {
        if (!prob_ok(f->loss) || !prob_ok(f->ge_enter_bad) || !prob_ok(f->ge_leave_bad) ||
            !prob_ok(f->ge_loss_good) || !prob_ok(f->ge_loss_bad) || !prob_ok(f->duplicate) ||
            !prob_ok(f->corrupt) || !prob_ok(f->corrupt_fixed))
            return "efvitcp_wire_set_faults: probabilities must lie in 0..1";
        if (f->mtu && (f->mtu < 68 || f->mtu > w->cfg.mtu))
            return "efvitcp_wire_set_faults: mtu must be 0 or 68..the wire's mtu";
        p->faults = *f;
        p->has_faults = true;
    } else {
        memset(&p->faults, 0, sizeof(p->faults));
        p->has_faults = false;
    }
    /* A new fault mix starts its burst chain afresh; the generator runs on. */
    p->ge_bad = false;
    return NULL;
}

static void fault_note(efvitcp_wire *w, uint32_t from, int kind, const uint8_t *frame, uint32_t len,
                       uint32_t bit)
{
    if (w->fault_hook) w->fault_hook(w->fault_ctx, from, kind, frame, len, bit);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_unit(et_rng *r)
{
    return (double)(et_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A draw against probability p; no draw at all when p is 0, so a clean wire consumes nothing. */
static bool chance(wire_port *p, double prob)
{
    return prob > 0.0 && rng_unit(&p->rng) < prob;
}

/*
 * Natural logarithm of x in (0, 1] from IEEE arithmetic alone (no libm): x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed to s^17
 * (error below 1e-15). The same bits on every machine keep jittered runs replayable anywhere.
 */
static double det_ln(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof(b));
    int e = (int)((b >> 52) & 0x7ff) - 1023;
    b = (b & 0x000fffffffffffffull) | (1023ull << 52);
    double m;
    memcpy(&m, &b, sizeof(m));
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k <= 17; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.6931471805599453;
}

/* Exponential extra delay of one copy (0 when jitter is off). */
static uint64_t jitter_ns(efvitcp_wire *w, wire_port *p)
{
    const efvitcp_wire_faults *f = &p->faults;
    if (!f->jitter_mean_ns) return 0;
    /* (0, 1]: ln is finite */
    double u = (double)((et_rng_next(&p->rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double d = -det_ln(u) * (double)f->jitter_mean_ns;
    if (d > 9.0e18) d = 9.0e18;
    uint64_t ns = (uint64_t)d;
    if (f->jitter_max_ns && ns > f->jitter_max_ns) ns = f->jitter_max_ns;
    if (ns) w->st.fault_jitter++;
    return ns;
}

/*
 * The single decision point for a frame put on the wire: returns how many copies arrive (0 = the
 * frame is lost, counted here) and when: the MTU, the sender's drop-tail queue, then the
 * injected partition, loss and duplication; each copy gets its own jitter.
 */
static int wire_admit(efvitcp_wire *w, uint32_t from_idx, const uint8_t *frame, uint32_t len,
                      uint64_t now, uint64_t at[WIRE_MAX_COPIES])
{
    wire_port *from = &w->ports[from_idx];
    uint32_t mtu = from->faults.mtu ? from->faults.mtu : w->cfg.mtu;
    if (len < ETH_HDR_LEN || len > mtu + ETH_HDR_LEN) {
        w->st.drop_mtu++;
        if (len >= ETH_HDR_LEN && len <= w->cfg.mtu + ETH_HDR_LEN)
            fault_note(w, from_idx, ET_WIRE_FAULT_MTU, frame, len, UINT32_MAX);
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
        from->line_free = sat_add(depart, ser);
    }
    uint64_t arrive = sat_add(sat_add(depart, ser), w->cfg.latency_ns);
    at[0] = arrive;
    if (!from->has_faults) return 1;

    /* Lost after the sender's line carried it: the queue and line time are spent. */
    const efvitcp_wire_faults *f = &from->faults;
    if (f->partition) {
        w->st.fault_partition++;
        fault_note(w, from_idx, ET_WIRE_FAULT_PARTITION, frame, len, UINT32_MAX);
        return 0;
    }
    if (chance(from, f->loss)) {
        w->st.fault_loss++;
        fault_note(w, from_idx, ET_WIRE_FAULT_LOSS, frame, len, UINT32_MAX);
        return 0;
    }
    if (f->ge_enter_bad > 0.0 || from->ge_bad) {
        if (from->ge_bad) {
            if (chance(from, f->ge_leave_bad)) from->ge_bad = false;
        } else if (chance(from, f->ge_enter_bad)) {
            from->ge_bad = true;
        }
        if (chance(from, from->ge_bad ? f->ge_loss_bad : f->ge_loss_good)) {
            w->st.fault_burst_loss++;
            fault_note(w, from_idx, ET_WIRE_FAULT_BURST_LOSS, frame, len, UINT32_MAX);
            return 0;
        }
    }
    int copies = 1;
    if (chance(from, f->duplicate)) {
        copies = 2;
        w->st.fault_dup++;
        fault_note(w, from_idx, ET_WIRE_FAULT_DUP, frame, len, UINT32_MAX);
    }
    for (int c = 0; c < copies; c++) at[c] = sat_add(arrive, jitter_ns(w, from));
    return copies;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Offset of the TCP header in an IPv4/TCP frame whose lengths hold together, or 0. */
static uint32_t tcp_offset(const uint8_t *f, uint32_t len)
{
    if (len < ETH_HDR_LEN + 40 || rd16(f + 12) != 0x0800 || f[ETH_HDR_LEN + 9] != 6) return 0;
    uint32_t ihl = (f[ETH_HDR_LEN] & 15u) * 4u, tot = rd16(f + ETH_HDR_LEN + 2);
    if (ihl < 20 || tot < ihl + 20 || tot > len - ETH_HDR_LEN) return 0;
    return ETH_HDR_LEN + ihl;
}

/*
 * Bit k (0..81) of the TCP header bits a receiver must survive (efvitcp.h, corrupt_fixed), as a
 * byte offset in the header and a bit number: ports (32), the top nibbles of the sequence and
 * acknowledgment numbers (4 + 4), the reserved nibble (4), CWR/ECE/URG/ACK/PSH/SYN (6), window
 * (16) and urgent pointer (16).
 */
#define SAFE_TCP_BITS 82u
static void safe_tcp_bit(uint32_t k, uint32_t *byte, uint32_t *bit)
{
    static const uint8_t flag_bits[6] = {7, 6, 5, 4, 3, 1};
    if (k < 32) {
        *byte = k / 8, *bit = k % 8;
    } else if (k < 36) {
        *byte = 4, *bit = 4 + (k - 32);
    } else if (k < 40) {
        *byte = 8, *bit = 4 + (k - 36);
    } else if (k < 44) {
        *byte = 12, *bit = k - 40;
    } else if (k < 50) {
        *byte = 13, *bit = flag_bits[k - 44];
    } else if (k < 66) {
        *byte = 14 + (k - 50) / 8, *bit = (k - 50) % 8;
    } else {
        *byte = 18 + (k - 66) / 8, *bit = (k - 66) % 8;
    }
}

/* Corruptions of one arriving copy, in its wire slot. */
static void corrupt_copy(efvitcp_wire *w, uint32_t from_idx, uint8_t *f, uint32_t len)
{
    wire_port *from = &w->ports[from_idx];
    if (!from->has_faults) return;
    /* ARP has no checksum of its own (the Ethernet FCS, not modelled, guards it): only IPv4
       frames are corrupted. */
    if (len < ETH_HDR_LEN + 20 || rd16(f + 12) != 0x0800) return;
    if (chance(from, from->faults.corrupt)) {
        uint32_t bit = ETH_HDR_LEN * 8 + et_rng_below(&from->rng, (len - ETH_HDR_LEN) * 8);
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        w->st.fault_corrupt++;
        fault_note(w, from_idx, ET_WIRE_FAULT_CORRUPT, f, len, bit);
    }
    uint32_t t = tcp_offset(f, len);
    if (t && chance(from, from->faults.corrupt_fixed)) {
        uint32_t byte, b;
        safe_tcp_bit(et_rng_below(&from->rng, SAFE_TCP_BITS), &byte, &b);
        /* RFC 1624: patch the checksum for the one 16-bit word that changed. */
        uint8_t *word = f + t + (byte & ~1u);
        uint16_t old_w, new_w, csum;
        memcpy(&old_w, word, 2);
        f[t + byte] ^= (uint8_t)(1u << b);
        memcpy(&new_w, word, 2);
        memcpy(&csum, f + t + 16, 2);
        csum = et_csum_update16(csum, old_w, new_w);
        memcpy(f + t + 16, &csum, 2);
        w->st.fault_corrupt_fixed++;
        fault_note(w, from_idx, ET_WIRE_FAULT_CORRUPT_FIXED, f, len, (t + byte) * 8 + b);
    }
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
    corrupt_copy(w, from, w->mem + (size_t)s * w->slot_size, len);
    heap_push(w, &w->ports[to], s);
}

/* Port index of a wire MAC (02:00:00:00:00:NN, NN = index + 1), or -1. */
static int mac_to_port(const efvitcp_wire *w, const uint8_t *mac)
{
    static const uint8_t prefix[5] = {0x02, 0, 0, 0, 0};
    if (memcmp(mac, prefix, 5) != 0 || mac[5] == 0 || mac[5] > w->cfg.max_ports) return -1;
    uint32_t idx = mac[5] - 1u;
    return w->ports[idx].used ? (int)idx : -1;
}

static void wire_send(efvitcp_wire *w, uint32_t from, const uint8_t *frame, uint32_t len)
{
    uint64_t now = efvitcp_wire_now(w);
    w->st.sent++;
    if (w->tap) w->tap(w->tap_ctx, from, frame, len, now);
    uint64_t at[WIRE_MAX_COPIES];
    int copies = wire_admit(w, from, frame, len, now, at);
    if (copies == 0) return;

    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (memcmp(frame, bcast, 6) == 0) {
        for (uint32_t i = 0; i < w->cfg.max_ports; i++) {
            if (i == from || !w->ports[i].used) continue;
            for (int c = 0; c < copies; c++) wire_enqueue(w, from, i, frame, len, at[c]);
        }
        return;
    }
    /* A switch does not send a frame back out of the port it came in on. */
    int to = mac_to_port(w, frame);
    if (to < 0 || (uint32_t)to == from) {
        w->st.drop_unknown++;
        return;
    }
    for (int c = 0; c < copies; c++) wire_enqueue(w, from, (uint32_t)to, frame, len, at[c]);
}

static const char *port_attach(efvitcp_wire *w, const char *name, uint32_t *idx_out)
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
    p->link = NULL;
    p->raw = false;
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

static void port_mac(uint32_t idx, uint8_t mac[6])
{
    mac[0] = 0x02;
    mac[1] = mac[2] = mac[3] = mac[4] = 0;
    mac[5] = (uint8_t)(idx + 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Raw endpoints (mem_wire.h)                                                                 */
/* ------------------------------------------------------------------------------------------ */

static wire_port *raw_port(efvitcp_wire *w, int port)
{
    if (!w || port < 0 || (uint32_t)port >= w->cfg.max_ports) return NULL;
    wire_port *p = &w->ports[port];
    return p->used && p->raw ? p : NULL;
}

const char *et_wire_raw_attach(efvitcp_wire *w, const char *name, uint8_t mac_out[6], int *port_out)
{
    if (!w) return "raw endpoint needs a wire";
    uint32_t idx;
    const char *err = port_attach(w, name, &idx);
    if (err) return err;
    w->ports[idx].raw = true;
    if (mac_out) port_mac(idx, mac_out);
    if (port_out) *port_out = (int)idx;
    return NULL;
}

void et_wire_raw_detach(efvitcp_wire *w, int port)
{
    if (raw_port(w, port)) port_detach(w, (uint32_t)port);
}

int et_wire_raw_send(efvitcp_wire *w, int port, const uint8_t *frame, uint32_t len)
{
    if (!raw_port(w, port) || !frame || len > w->slot_size) return -1;
    wire_send(w, (uint32_t)port, frame, len);
    return 0;
}

int et_wire_raw_recv(efvitcp_wire *w, int port, uint8_t *buf, uint32_t cap)
{
    wire_port *p = raw_port(w, port);
    if (!p) return -1;
    if (!p->heap_len) return 0;
    uint32_t s = p->heap[0];
    if (w->slots[s].at > efvitcp_wire_now(w)) return 0;
    uint32_t len = w->slots[s].len;
    if (len > cap || (len && !buf)) return -1;
    heap_pop(w, p);
    memcpy(buf, w->mem + (size_t)s * w->slot_size, len);
    slot_free(w, s);
    w->st.delivered++;
    return (int)len;
}

/* ------------------------------------------------------------------------------------------ */
/* The mem link                                                                               */
/* ------------------------------------------------------------------------------------------ */

static int mem_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    mem_link *m = (mem_link *)l;
    efvitcp_wire *w = m->w;
    if (!w || !out || max <= 0) return 0;
    wire_port *p = &w->ports[m->port];
    if (!p->heap_len) return 0;
    uint64_t now = efvitcp_wire_now(w);
    int n = 0;
    while (p->heap_len) {
        uint32_t s = p->heap[0];
        if (w->slots[s].at > now) break;
        if (p->held >= m->n_rx) {
            /* The NIC's ring is empty: a frame arriving now has nowhere to land. */
            heap_pop(w, p);
            slot_free(w, s);
            w->st.drop_rx_full++;
            continue;
        }
        if (n >= max) break;
        heap_pop(w, p);
        w->slots[s].state = SLOT_HELD;
        p->held++;
        w->st.delivered++;
        out[n].data = w->mem + (size_t)s * w->slot_size;
        out[n].len = w->slots[s].len;
        out[n].id = s;
        out[n].hw_ts = 0;
        n++;
    }
    return n;
}

static void mem_rx_release(et_link *l, uint32_t id)
{
    mem_link *m = (mem_link *)l;
    efvitcp_wire *w = m->w;
    if (!w || id >= w->cfg.max_frames) return;
    wire_slot *sl = &w->slots[id];
    /* A stale or foreign id must not corrupt the free list. */
    if (sl->state != SLOT_HELD || sl->port != m->port) return;
    slot_free(w, id);
    w->ports[m->port].held--;
}

static int mem_tx(et_link *l, uint32_t id, uint32_t len)
{
    mem_link *m = (mem_link *)l;
    if (id >= l->n_tx || len > l->tx_buf_size || et_done_ring_full(&m->done)) return -1;
    if (m->w) wire_send(m->w, m->port, et_link_tx_buf(l, id), len);
    /* The copy into the wire slot is the DMA: the buffer is free again at once. */
    et_done_ring_put(&m->done, id);
    return 0;
}

static void mem_tx_flush(et_link *l)
{
    (void)l;
}

static int mem_tx_done(et_link *l, uint32_t *ids, int max)
{
    mem_link *m = (mem_link *)l;
    if (!ids) return 0;
    return et_done_ring_take(&m->done, ids, max);
}

static uint64_t mem_now(et_link *l)
{
    mem_link *m = (mem_link *)l;
    return efvitcp_wire_now(m->w);
}

static void mem_destroy(et_link *l)
{
    mem_link *m = (mem_link *)l;
    if (!m) return;
    if (m->w) port_detach(m->w, m->port);
    et_done_ring_free(&m->done);
    free(l->tx_base);
    free(m);
}

static const et_link_ops mem_ops = {
    .rx_burst = mem_rx_burst,
    .rx_release = mem_rx_release,
    .tx = mem_tx,
    .tx_flush = mem_tx_flush,
    .tx_done = mem_tx_done,
    .now = mem_now,
    .flow_add = NULL,
    .flow_del = NULL,
    .destroy = mem_destroy,
};

const char *et_mem_link_open(const char *name, const et_link_params *p, et_link **out)
{
    if (!out) return "mem link: out is NULL";
    *out = NULL;
    if (p && !p->wire) return "mem link needs cfg->wire";
    if (!p || p->n_tx == 0 || p->n_rx == 0) return "mem link needs n_tx and n_rx > 0";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "mem link: tx_buf_size must be 1024 or 2048";

    et_link tmp;
    memset(&tmp, 0, sizeof(tmp));
    const char *err = et_link_config_addr(p, &tmp); /* the wire's stacks own their addresses */
    if (err) return err;

    efvitcp_wire *w = p->wire;
    mem_link *m = calloc(1, sizeof(*m));
    if (!m) return "out of memory";
    m->base = tmp;
    uint64_t bytes = (uint64_t)p->n_tx * p->tx_buf_size;
    size_t rounded = (size_t)((bytes + 4095u) & ~(uint64_t)4095u);
    m->base.tx_base = aligned_alloc(4096, rounded);
    bool done_ok = et_done_ring_init(&m->done, p->n_tx);
    if (!m->base.tx_base || !done_ok) {
        free(m->base.tx_base);
        et_done_ring_free(&m->done);
        free(m);
        return "out of memory";
    }
    memset(m->base.tx_base, 0, rounded);
    uint32_t idx;
    err = port_attach(w, name, &idx);
    if (err) {
        free(m->base.tx_base);
        et_done_ring_free(&m->done);
        free(m);
        return err;
    }
    w->ports[idx].link = m;
    m->w = w;
    m->port = idx;
    m->n_rx = p->n_rx;
    m->base.ops = &mem_ops;
    port_mac(idx, m->base.mac);
    m->base.mtu = w->cfg.mtu;
    m->base.caps = ET_LINK_CAP_OWN_ADDR;
    m->base.tx_buf_size = p->tx_buf_size;
    m->base.n_tx = p->n_tx;
    *out = &m->base;
    return NULL;
}
