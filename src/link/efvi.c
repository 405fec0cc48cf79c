/*
 * The efvi link: Solarflare/AMD NICs through ef_vi, EF10 (X2) and EFCT (X3).
 *
 * Uses only the documented ef_vi API (Onload's etherfabric headers), and compiles unchanged against
 * those headers or against the emulator's (tests/efvi_emu). Interface string: "IF[,option...]"
 * after "efvi:", options "rxts" and "txts" (hardware RX and TX timestamps), "noctpio" (plain DMA
 * sends) and "ct=N" (CTPIO cut-through threshold in bytes, default 64; 65535 = store and forward).
 *
 * Memory: one mapping (huge pages when the system has them), registered once: the engine's
 * transmit buffers (id i at i * tx_buf_size) then, on EF10, the receive buffers (2 KiB each, the
 * DMA area 64 bytes in). Every buffer lies inside one 4 KiB page, the only span over which DMA
 * addresses are contiguous.
 *
 * Receive (EF10): buffers are posted in batches (the NIC takes them in eights): a released buffer
 * goes to a free list, which a poll posts with one doorbell once it holds a batch (eight, fewer
 * for a small pool) and the ring has room for one, and which is emptied as far as the ring takes
 * it before sleeping (prime). A frame sits after the RX prefix, and RX_BYTES counts the prefix.
 * Frames spread over several buffers cannot be handed over in one piece and are dropped: the MTU
 * reported to the engine keeps a frame in one buffer, so only a peer ignoring our MSS sends them.
 * Receive (EFCT): packets are lent by the driver from buffers shared with every VI on the queue,
 * so the 4-tuple of each is checked here and foreign ones are given back at once.
 *
 * Transmit: when the DMA queue is empty a frame goes by CTPIO, always followed by its mandatory
 * DMA fallback (sent by the NIC only if the CTPIO send failed); otherwise by a DMA descriptor.
 * The engine computes every checksum (CTPIO bypasses offload), so offload is switched off and both
 * paths send identical bytes. When the ring (or, on EFCT, the CTPIO FIFO) is full, frames wait in
 * order in the link's own queue, sized for every buffer, so tx() never refuses a valid frame.
 *
 * Events are polled in batches, by rx_burst into the engine's own array and, when the engine has
 * not polled since its last send, by tx_done, whose frames wait in a ready ring for the next
 * rx_burst. Completions are a mark on the ring of frames in post order (ef_vi completes in that
 * order), which tx_done reads. The hot paths are compiled once for EF10 and once for EFCT (two
 * ops tables) and test one byte (slow) for everything unusual: a restart, a VI that is down,
 * filter retries, queued frames, a non-empty ready ring. OFLOW, RESET and TX_ERROR leave the VI
 * unusable: it is freed and recreated with its filters and buffers (without CTPIO when the driver
 * refuses it then, as at open: counted and logged); frames in flight then may or may not have
 * left, which TCP repairs by retransmission. Not while the engine holds EFCT packets of the old
 * VI, though (tx_done polls the queue in the middle of a burst), or has yet to get those of the
 * ready ring: the recreation waits until it had them and gave them back (restart_due), and
 * receive ids carry a use count, so that a release of an id not lent now is ignored rather than
 * passed to the driver.
 *
 * Steering: flow_add installs a full 4-tuple filter for a client connection and a local address
 * and port filter for a listening port; flow_del removes it. Flows are counted: the engine adds
 * a listening port's flow again for each connection it accepts (they are steered by its filter),
 * so the filter stays after unlisten while they live. With an address of its own
 * (local_addr) the stack also takes every unicast frame for the interface's MAC and the ARP
 * broadcasts, so it answers ARP and resets segments for closed ports: that takes the interface
 * from the kernel, so use it on an interface of its own. Without one it shares the kernel's
 * address and takes only its flows. A flow whose filter the NIC refuses (a full table) is never
 * dropped silently: sharing the kernel's address, flow_add fails; a flow kept without one (its
 * VI recreated, or owning the address, where the MAC filter still brings its frames) is counted
 * (flows_unsteered), said through the log hook and retried, 10 ms doubling up to 1 s.
 *
 * Time is the clock the params give. An interface that the opener resolved itself (the params'
 * ifindex, as for an emulated NIC port) is taken as it is, without asking the kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <etherfabric/capabilities.h>
#include <etherfabric/memreg.h>
#include <etherfabric/pd.h>
#include <etherfabric/vi.h>
#ifdef EFVITCP_EFVI_HAVE_EFCT
#include <etherfabric/efct_vi.h>
#endif

#include "link/done_ring.h"
#include "link/efvi.h"
#include "link/link.h"
#include "net/netlink.h"
#include "util/clock.h"

#define RX_BUF_SIZE         2048u
#define RX_DMA_OFF          64u /* EF_VI_DMA_ALIGN: the DMA area starts on a cache line */
#define EVS_MAX             64
#define NAME_MAX_LEN        31u
#define LISTEN_FLOWS        256u
#define RETRY_NS            10000000ull
#define HUGE_PAGE           (2u << 20)
#define CT_THRESH_DEF       64u
#define TX_POLL_FRAMES      16u
#define FILTER_RETRY_MAX_NS 1000000000ull
#define FILTER_RETRY_BATCH  16u

enum { TX_FREE = 0, TX_PENDING, TX_RING };
enum { SLOW_RESTART = 1, SLOW_DOWN = 2, SLOW_FILTERS = 4, SLOW_PEND = 8, SLOW_READY = 16 };
/* What stops a frame from going to the NIC at once. */
#define SLOW_TX (SLOW_RESTART | SLOW_DOWN | SLOW_PEND)
enum { RX_FREE = 0, RX_POSTED, RX_HELD };

typedef struct efvi_flow {
    uint32_t local_ip, remote_ip; /* host order; remote 0 = a listening port */
    uint16_t local_port, remote_port;
    bool used, filtered;
    uint32_t refs;
    uint32_t wait_ix; /* while used and not filtered: its place in efvi_link.waiting */
    ef_filter_cookie cookie;
} efvi_flow;

/* A flow's key, which stays when backward-shift deletion moves its entry in the table. */
typedef struct efvi_flow_key {
    uint32_t local_ip, remote_ip;
    uint16_t local_port, remote_port;
} efvi_flow_key;

typedef struct efvi_link {
    et_link base; /* first: the engine's et_link * is an efvi_link * */
    et_efvi_stats st;

    ef_driver_handle dh;
    ef_pd pd;
    ef_vi vi;
    ef_memreg mr;
    bool have_dh, have_pd, have_vi, have_mr;
    char ifname[NAME_MAX_LEN + 1];
    int ifindex; /* for ef_pd_alloc and capability queries */
    bool want_ctpio, want_rxts, want_txts, efct, ctpio, own_addr;
    bool ctpio_ask; /* asked of every VI: wanted and offered by the NIC (ctpio: this VI has it) */
    unsigned ct_thresh;
    uint32_t prefix;
    uint32_t rx_csum; /* ET_RX_CSUM_* every delivered frame carries: what the NIC discards */
    uint32_t rxq_req, txq_req;

    uint8_t *mem;
    size_t mem_len;
    size_t rx_off; /* transmit buffers first: up to 2^22 of 2 KiB, past 4 GiB */

    /* transmit: per buffer state and length; the software queue (a ring of n_tx ids), and the
       ring of ids handed to the NIC in post order (ring_cap, a power of two >= n_tx): its first
       ring_done completed and not yet reported, the rest in flight. Completions come in post
       order, so completing one is advancing ring_done, and reporting them is reading from the
       head: no second ring to copy through. */
    uint8_t *tx_state;
    uint16_t *tx_len;
    uint32_t *pend, pend_head, pend_n;
    uint32_t *ring, ring_head, ring_n, ring_done, ring_mask;
    /* txts: per buffer the NIC's time of its last transmission (0: none), and its sync flags */
    uint64_t *tx_ts;
    uint8_t *tx_ts_flags;

    /* receive */
    uint32_t n_rx;
    uint8_t *rx_state;
    /* EF10 buffers not on the ring; posted in batches of at least rx_batch (one doorbell) */
    uint32_t *rx_free, rx_nfree, rx_batch;
    uint8_t *rx_data;         /* EF10: the frame in buffer 0, after the prefix */
    uint32_t rx_min, rx_span; /* an EF10 frame's RX_BYTES lies in [rx_min, rx_min + rx_span] */
    et_rx_frame *ready;
    uint32_t ready_head, ready_n, ready_cap;
    bool in_scatter;
    /* The ids of received frames: a slot (EF10: the buffer; EFCT: an entry of the lent table,
       which keeps the driver's packet id) in the low tag_bits, and above it a count of that
       slot's uses, wrapping (tag_inc is one use). rx_tag[slot] is the slot's last id, which is
       out now (in the ready ring or with the engine) while rx_state[slot] is RX_HELD: a release
       naming an earlier use (a second release, a frame of a VI since recreated) matches nothing
       and is ignored. rx_tag and rx_state have tag_mask + 1 entries, so any id indexes them
       (EFCT: rx_state is the lent table's, RX_FREE or RX_HELD). */
    uint32_t *rx_tag;
    uint32_t tag_bits, tag_mask, tag_inc, n_slots;
    uint32_t rx_lent;                           /* ids handed to the engine and not yet released */
    uint32_t *efct_pkt, *slot_free, slot_nfree; /* EFCT: packet id per slot, free slots */

    /* steering */
    efvi_flow *flows;
    uint32_t flow_mask, n_flows, max_flows;
    ef_filter_cookie mac_cookie[2];
    bool mac_filtered[2];

    /* flows recorded without a filter (a failed install, or a VI being recreated), retried from
       poll_events at filter_retry_at with a back-off, at most FILTER_RETRY_BATCH at a time.
       waiting[0..unsteered) holds their keys, so that a retry costs the flows it tries and not
       a scan of a table sized for max_conns (a poll stalled for milliseconds at 100k). */
    efvi_flow_key *waiting;
    uint32_t unsteered, filter_retry_next;
    uint64_t filter_retry_at, filter_retry_ns;
    void (*log)(void *log_ctx, int level, const char *msg);
    void *log_ctx;

    bool restart_needed, down;
    /* SLOW_*: what the hot paths must look at (restart_needed, down, filter retries, queued
       frames, frames in the ready ring), in one byte so that they test one thing (slow_update
       keeps it) */
    uint8_t slow;
    bool evq_fresh; /* the event queue was polled since the last tx_done and tx */
    uint64_t retry_at;
    et_clock clock;
} efvi_link;

static const et_link_ops efvi_ops;
#ifdef EFVITCP_EFVI_HAVE_EFCT
static const et_link_ops efvi_ops_efct;
#endif

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COLD        __attribute__((noinline, cold))

static void slow_update(efvi_link *e)
{
    e->slow = (uint8_t)((e->restart_needed ? SLOW_RESTART : 0) | (e->down ? SLOW_DOWN : 0) |
                        (e->filter_retry_ns ? SLOW_FILTERS : 0) | (e->pend_n ? SLOW_PEND : 0) |
                        (e->ready_n ? SLOW_READY : 0));
    e->base.tx_flush_none = !(e->slow & SLOW_TX); /* efvi_tx_flush's own test */
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

static uint32_t clamp_ring(uint32_t want, uint32_t lo, uint32_t hi)
{
    uint32_t n = pow2_at_least(want);
    return n < lo ? lo : n > hi ? hi : n;
}

static uint64_t efvi_now(et_link *l)
{
    return et_clock_now(&((efvi_link *)l)->clock);
}

static uint8_t *rx_host(const efvi_link *e, uint32_t j)
{
    return e->mem + e->rx_off + (size_t)j * RX_BUF_SIZE + RX_DMA_OFF;
}

static ef_addr rx_dma(efvi_link *e, uint32_t j)
{
    return ef_memreg_dma_addr(&e->mr, e->rx_off + (size_t)j * RX_BUF_SIZE + RX_DMA_OFF);
}

static ef_addr tx_dma(efvi_link *e, uint32_t id)
{
    return ef_memreg_dma_addr(&e->mr, (size_t)id * e->base.tx_buf_size);
}

/* ------------------------------------------------------------------------------------------ */
/* Flow table: the flows the engine asked for, their filter cookies, and the EFCT software check */
/* ------------------------------------------------------------------------------------------ */

static uint32_t flow_hash(uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport)
{
    uint64_t h = ((uint64_t)lip << 32 | rip) * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)lport << 16 | rport;
    h *= 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 32);
}

static int flow_find(const efvi_link *e, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport)
{
    uint32_t i = flow_hash(lip, rip, lport, rport) & e->flow_mask;
    for (;;) {
        const efvi_flow *f = &e->flows[i];
        if (!f->used) return -1;
        if (f->local_ip == lip && f->remote_ip == rip && f->local_port == lport &&
            f->remote_port == rport)
            return (int)i;
        i = (i + 1) & e->flow_mask;
    }
}

/* The flow waits for its filter: at the end of the waiting list. */
static void wait_add(efvi_link *e, efvi_flow *f)
{
    f->wait_ix = e->unsteered;
    e->waiting[e->unsteered++] =
        (efvi_flow_key){f->local_ip, f->remote_ip, f->local_port, f->remote_port};
}

/* The flow has its filter, or is gone: the last waiting one takes its place. */
static void wait_del(efvi_link *e, const efvi_flow *f)
{
    uint32_t ix = f->wait_ix, last = --e->unsteered;
    if (ix == last) return;
    const efvi_flow_key *k = &e->waiting[last];
    int j = flow_find(e, k->local_ip, k->remote_ip, k->local_port, k->remote_port);
    if (j >= 0) e->flows[j].wait_ix = ix; /* always found: every waiting key is in the table */
    e->waiting[ix] = *k;
}

static efvi_flow *flow_insert(efvi_link *e, uint32_t lip, uint32_t rip, uint16_t lport,
                              uint16_t rport)
{
    uint32_t i = flow_hash(lip, rip, lport, rport) & e->flow_mask;
    while (e->flows[i].used) i = (i + 1) & e->flow_mask;
    efvi_flow *f = &e->flows[i];
    memset(f, 0, sizeof(*f));
    f->used = true;
    f->local_ip = lip;
    f->remote_ip = rip;
    f->local_port = lport;
    f->remote_port = rport;
    f->refs = 1;
    e->n_flows++;
    wait_add(e, f); /* until its filter is in */
    return f;
}

/* Linear probing with backward-shift deletion: no tombstones, so lookups stay short forever. */
static void flow_remove(efvi_link *e, uint32_t i)
{
    uint32_t m = e->flow_mask;
    if (!e->flows[i].filtered) wait_del(e, &e->flows[i]);
    e->flows[i].used = false;
    e->n_flows--;
    for (uint32_t j = (i + 1) & m; e->flows[j].used; j = (j + 1) & m) {
        const efvi_flow *g = &e->flows[j];
        uint32_t home = flow_hash(g->local_ip, g->remote_ip, g->local_port, g->remote_port) & m;
        bool stays = i < j ? home > i && home <= j : home > i || home <= j;
        if (!stays) {
            e->flows[i] = e->flows[j];
            e->flows[j].used = false;
            i = j;
        }
    }
}

#ifdef EFVITCP_EFVI_HAVE_EFCT
static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* EFCT queues are shared: a packet is ours if it is ARP for a stack that owns its address, or
   TCP for a flow of ours (for any port of our address when we own it). */
static bool efct_ours(const efvi_link *e, const uint8_t *f, uint32_t len)
{
    if (len < 14) return false;
    uint16_t type = rd16(f + 12);
    if (UNLIKELY(type != 0x0800)) return type == 0x0806 && e->own_addr;
    if (len < 14 + 20 || f[14 + 9] != 6) return false;
    uint32_t ihl = (f[14] & 15u) * 4u;
    if (ihl < 20 || len < 14 + ihl + 4) return false;
    uint32_t src = rd32(f + 14 + 12), dst = rd32(f + 14 + 16);
    uint16_t sport = rd16(f + 14 + ihl), dport = rd16(f + 14 + ihl + 2);
    if (e->own_addr) return dst == e->base.local_ip;
    return flow_find(e, dst, src, dport, sport) >= 0 || flow_find(e, dst, 0, dport, 0) >= 0;
}
#endif

static int flow_filter_install(efvi_link *e, efvi_flow *f)
{
    ef_filter_spec fs;
    ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
    int rc;
    if (f->remote_ip)
        rc = ef_filter_spec_set_ip4_full(&fs, IPPROTO_TCP, htonl(f->local_ip), htons(f->local_port),
                                         htonl(f->remote_ip), htons(f->remote_port));
    else
        rc = ef_filter_spec_set_ip4_local(&fs, IPPROTO_TCP, htonl(f->local_ip),
                                          htons(f->local_port));
    if (rc == 0) rc = ef_vi_filter_add(&e->vi, e->dh, &fs, &f->cookie);
    if (rc) {
        e->st.filter_failures++;
        return rc;
    }
    f->filtered = true;
    wait_del(e, f);
    e->st.flows_unsteered = e->unsteered;
    e->st.filters_added++;
    e->st.filters++;
    return 0;
}

static void flow_filter_remove(efvi_link *e, efvi_flow *f)
{
    if (!f->filtered) return;
    f->filtered = false;
    wait_add(e, f);
    if (e->have_vi) ef_vi_filter_del(&e->vi, e->dh, &f->cookie);
    e->st.filters_removed++;
    e->st.filters--;
}

static int mac_filters_install(efvi_link *e)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ef_filter_spec fs;
    int rc = 0;
    if (!e->mac_filtered[0]) {
        /* Every unicast frame for the MAC: ARP replies, and segments for ports we do not
           listen on, which RFC 9293 §3.10.7.1 answers with RST. */
        ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
        rc = ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, e->base.mac);
        if (rc == 0) rc = ef_vi_filter_add(&e->vi, e->dh, &fs, &e->mac_cookie[0]);
        if (rc) {
            e->st.filter_failures++;
            return rc;
        }
        e->mac_filtered[0] = true;
        e->st.filters_added++;
        e->st.filters++;
    }
    if (!e->mac_filtered[1]) {
        /* ARP requests are broadcast; only ARP is taken where the NIC can tell it apart. */
        ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
        rc = ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, bcast);
        if (rc == 0 && ef_filter_spec_set_eth_type(&fs, htons(0x0806)) == 0)
            rc = ef_vi_filter_add(&e->vi, e->dh, &fs, &e->mac_cookie[1]);
        else
            rc = -EPROTONOSUPPORT;
        if (rc) {
            ef_filter_spec_init(&fs, EF_FILTER_FLAG_NONE);
            rc = ef_filter_spec_set_eth_local(&fs, EF_FILTER_VLAN_ID_ANY, bcast);
            if (rc == 0) rc = ef_vi_filter_add(&e->vi, e->dh, &fs, &e->mac_cookie[1]);
        }
        if (rc) {
            e->st.filter_failures++;
            return rc;
        }
        e->mac_filtered[1] = true;
        e->st.filters_added++;
        e->st.filters++;
    }
    return 0;
}

static void mac_filters_remove(efvi_link *e)
{
    for (int i = 0; i < 2; i++) {
        if (!e->mac_filtered[i]) continue;
        e->mac_filtered[i] = false;
        if (e->have_vi) ef_vi_filter_del(&e->vi, e->dh, &e->mac_cookie[i]);
        e->st.filters_removed++;
        e->st.filters--;
    }
}

static void link_log(efvi_link *e, int level, const char *msg)
{
    if (e->log) e->log(e->log_ctx, level, msg);
}

static void ip_str(uint32_t ip, char *out, size_t n)
{
    snprintf(out, n, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255u, ip >> 8 & 255u, ip & 255u);
}

/*
 * A flow found without its filter (f: the first such, rc: why): says so once, when flows start
 * to lack filters, and arms the retries. Sharing the kernel's address such a flow's segments
 * reach the kernel, which answers them with RST; owning it, only the MAC filter brings them.
 */
static void unsteered_found(efvi_link *e, const efvi_flow *f, int rc, const char *what)
{
    if (e->filter_retry_ns) return; /* already said, retries running */
    e->filter_retry_ns = RETRY_NS;
    e->filter_retry_at = efvi_now(&e->base) + RETRY_NS;
    slow_update(e);
    char lip[16], rip[16], msg[200];
    ip_str(f->local_ip, lip, sizeof(lip));
    ip_str(f->remote_ip, rip, sizeof(rip));
    snprintf(msg, sizeof(msg),
             "efvi link: the filter of flow %s:%u <- %s:%u %s (error %d)%s; %u flow(s) without "
             "one, retried every 10 ms to 1 s",
             lip, f->local_port, rip, f->remote_port, what, rc,
             e->own_addr ? ", its frames come by the MAC filter meanwhile"
                         : ", its segments reach the kernel meanwhile",
             e->unsteered);
    link_log(e, ET_LINK_LOG_WARN, msg);
}

/* Retries the filters of up to FILTER_RETRY_BATCH unsteered flows, round robin over the waiting
   list (a flow whose filter goes in leaves the list and the last one takes its place). */
static void filters_retry(efvi_link *e)
{
    uint32_t n = e->unsteered < FILTER_RETRY_BATCH ? e->unsteered : FILTER_RETRY_BATCH;
    uint32_t k = e->filter_retry_next;
    for (uint32_t tried = 0; tried < n && e->unsteered; tried++) {
        if (k >= e->unsteered) k = 0;
        const efvi_flow_key *w = &e->waiting[k];
        int i = flow_find(e, w->local_ip, w->remote_ip, w->local_port, w->remote_port);
        if (i < 0) break; /* cannot be: every waiting key is in the table */
        e->st.filter_retries++;
        if (flow_filter_install(e, &e->flows[i]) == 0)
            e->st.filters_restored++;
        else
            k++;
    }
    e->filter_retry_next = k;
    e->st.flows_unsteered = e->unsteered;
    if (!e->unsteered) {
        e->filter_retry_ns = 0;
        slow_update(e);
        link_log(e, ET_LINK_LOG_INFO, "efvi link: no flow lacks its filter any more");
        return;
    }
    if (e->filter_retry_ns < FILTER_RETRY_MAX_NS) e->filter_retry_ns *= 2;
    if (e->filter_retry_ns > FILTER_RETRY_MAX_NS) e->filter_retry_ns = FILTER_RETRY_MAX_NS;
    e->filter_retry_at = efvi_now(&e->base) + e->filter_retry_ns;
}

static int efvi_flow_add(et_link *l, const et_flow *fl)
{
    efvi_link *e = (efvi_link *)l;
    if (!fl || !fl->local_port || (fl->remote_ip && !fl->remote_port)) return -1;
    uint32_t lip = fl->local_ip ? fl->local_ip : e->base.local_ip;
    int i = flow_find(e, lip, fl->remote_ip, fl->local_port, fl->remote_port);
    if (i >= 0) {
        e->flows[i].refs++;
        return 0;
    }
    if (e->n_flows >= e->max_flows) return -1;
    efvi_flow *f = flow_insert(e, lip, fl->remote_ip, fl->local_port, fl->remote_port);
    /* While the VI is being recreated the flow is only recorded: the restart installs it. */
    int rc = e->down ? 0 : flow_filter_install(e, f);
    if (rc && !e->own_addr) {
        /* Sharing the kernel's address, an unsteered flow would reach the kernel, which
           answers with RST: refused, so that the engine says so. */
        flow_remove(e, (uint32_t)flow_find(e, lip, fl->remote_ip, fl->local_port, fl->remote_port));
        e->st.flows_unsteered = e->unsteered;
        return -1;
    }
    /* Owning the address, the MAC filter still brings its frames: kept, and its filter retried. */
    if (rc) unsteered_found(e, f, rc, "cannot be added");
    e->st.flows = e->n_flows;
    e->st.flows_unsteered = e->unsteered;
    return 0;
}

static int efvi_flow_del(et_link *l, const et_flow *fl)
{
    efvi_link *e = (efvi_link *)l;
    if (!fl) return -1;
    uint32_t lip = fl->local_ip ? fl->local_ip : e->base.local_ip;
    int i = flow_find(e, lip, fl->remote_ip, fl->local_port, fl->remote_port);
    if (i < 0) return -1;
    efvi_flow *f = &e->flows[i];
    if (--f->refs) return 0;
    flow_filter_remove(e, f);
    flow_remove(e, (uint32_t)i);
    e->st.flows = e->n_flows;
    e->st.flows_unsteered = e->unsteered;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Receive                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* A buffer back to the free list, from which rx_refill posts it (EF10). */
static void rx_recycle(efvi_link *e, uint32_t j)
{
    e->rx_state[j] = RX_FREE;
    e->rx_free[e->rx_nfree++] = j;
}

/* Posts the free buffers the ring has room for, with one doorbell. */
static void rx_refill(efvi_link *e)
{
    if (e->efct || e->down) return;
    int space = ef_vi_receive_space(&e->vi);
    uint32_t n = e->rx_nfree;
    if (space <= 0 || !n) return;
    if ((uint32_t)space < n) n = (uint32_t)space;
    /* From the top of the free list, the most recently released (warmest) first. */
    const uint32_t *top = e->rx_free + e->rx_nfree, *p = top, *end = top - n;
    uint8_t *state = e->rx_state;
    while (p > end) {
        uint32_t j = p[-1];
        if (ef_vi_receive_init(&e->vi, rx_dma(e, j), (ef_request_id)j) != 0) break;
        state[j] = RX_POSTED;
        p--;
    }
    e->rx_nfree -= (uint32_t)(top - p);
    if (p != top) ef_vi_receive_push(&e->vi);
}

/* A batch of free buffers and room on the ring for it (EF10; EFCT frees none): with more
   buffers than the ring holds (at most 4095), the free list always holds a batch, and a refill
   on that alone would post the few slots freed since the last poll with a doorbell each time,
   and keep idle from ever saying idle. */
static inline __attribute__((always_inline)) bool rx_refill_due(efvi_link *e)
{
    return e->rx_nfree >= e->rx_batch && ef_vi_receive_space(&e->vi) >= (int)e->rx_batch;
}

/* The next id of a slot (see rx_tag). */
static inline uint32_t slot_tag(efvi_link *e, uint32_t slot)
{
    return e->rx_tag[slot] += e->tag_inc; /* the count wraps without touching the slot */
}

/* The NIC's arrival time of a packet (EF10: pkt is the buffer start, where the prefix is; EFCT:
   the packet), 0 when it has none. Valid only until the next poll. */
static uint64_t rx_timestamp(efvi_link *e, const void *pkt)
{
#ifdef ef_vi_receive_get_precise_timestamp
    /* Onload 9 deprecates the timespec calls for this one, where it exists. */
    ef_precisetime t;
    if (ef_vi_receive_get_precise_timestamp(&e->vi, pkt, &t) != 0) return 0;
    return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
#else
    struct timespec t;
    if (ef_vi_receive_get_timestamp(&e->vi, pkt, &t) != 0) return 0;
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
#endif
}

/* An EF10 RX or RX_DISCARD event that is not a whole good frame (or names a buffer not posted):
   counted, its buffer recycled. */
static COLD void rx_event_bad(efvi_link *e, const ef_event *ev)
{
    bool discard = EF_EVENT_TYPE(*ev) == EF_EVENT_TYPE_RX_DISCARD;
    uint32_t j = discard ? EF_EVENT_RX_DISCARD_RQ_ID(*ev) : EF_EVENT_RX_RQ_ID(*ev);
    bool sop = discard ? EF_EVENT_RX_DISCARD_SOP(*ev) : EF_EVENT_RX_SOP(*ev);
    bool cont = discard ? EF_EVENT_RX_DISCARD_CONT(*ev) : EF_EVENT_RX_CONT(*ev);
    if (j >= e->n_rx || e->rx_state[j] != RX_POSTED) {
        e->st.rx_bad_event++;
        return;
    }
    /* A buffer that is not a whole frame by itself: a jumbo's pieces until the next start. */
    bool piece = cont || e->in_scatter || !sop;
    e->in_scatter = cont;
    if (discard) {
        switch (EF_EVENT_RX_DISCARD_TYPE(*ev)) {
        case EF_EVENT_RX_DISCARD_CSUM_BAD:
            e->st.rx_discard_csum++;
            break;
        case EF_EVENT_RX_DISCARD_CRC_BAD:
            /* With cut-through CTPIO at the peer, usually a poisoned frame; a good copy
               follows. */
            e->st.rx_discard_crc++;
            break;
        default:
            e->st.rx_discard_other++;
            break;
        }
    } else if (piece) {
        e->st.rx_jumbo++;
    } else {
        e->st.rx_bad_len++; /* all that rx_event found wrong */
    }
    rx_recycle(e, j);
}

/* EF10 RX: the buffer of a whole good frame (*bytes: its length with the prefix), or UINT32_MAX
   when the event brings none. */
static inline __attribute__((always_inline)) uint32_t rx_event(efvi_link *e, const ef_event *ev,
                                                               uint32_t *bytes)
{
    uint32_t j = EF_EVENT_RX_RQ_ID(*ev);
    *bytes = EF_EVENT_RX_BYTES(*ev);
    if (LIKELY(j < e->n_rx && e->rx_state[j] == RX_POSTED && EF_EVENT_RX_SOP(*ev) &&
               !EF_EVENT_RX_CONT(*ev) && !e->in_scatter && *bytes - e->rx_min <= e->rx_span))
        return j;
    rx_event_bad(e, ev);
    return UINT32_MAX;
}

#ifdef EFVITCP_EFVI_HAVE_EFCT
/* EFCT RX_REF or RX_REF_DISCARD: the slot now lending a packet of ours (*data, *len, *ts), or
   UINT32_MAX when the event brings none (the packet given back, counted). */
/* A packet the engine does not get: counted (*count) and given back at once. */
static COLD void efct_drop(efvi_link *e, uint32_t id, uint64_t *count)
{
    (*count)++;
    efct_vi_rxpkt_release(&e->vi, id);
}

static COLD void efct_discard(efvi_link *e, const ef_event *ev)
{
    unsigned fl = ev->rx_ref_discard.flags;
    if (fl & EF_VI_DISCARD_RX_ETH_FCS_ERR)
        e->st.rx_discard_crc++;
    else if (fl & (EF_VI_DISCARD_RX_L3_CSUM_ERR | EF_VI_DISCARD_RX_L4_CSUM_ERR))
        e->st.rx_discard_csum++;
    else
        e->st.rx_discard_other++;
    efct_vi_rxpkt_release(&e->vi, ev->rx_ref.pkt_id);
}

static inline __attribute__((always_inline)) uint32_t rx_ref_event(efvi_link *e, const ef_event *ev,
                                                                   const uint8_t **data,
                                                                   uint32_t *len_out,
                                                                   uint64_t *ts_out)
{
    uint32_t id = ev->rx_ref.pkt_id, len = ev->rx_ref.len;
    if (UNLIKELY(EF_EVENT_TYPE(*ev) == EF_EVENT_TYPE_RX_REF_DISCARD)) {
        efct_discard(e, ev);
        return UINT32_MAX;
    }
    const uint8_t *p = efct_vi_rxpkt_get(&e->vi, id);
    if (UNLIKELY(!p || len < 14)) {
        efct_drop(e, id, &e->st.rx_bad_len);
        return UINT32_MAX;
    }
    if (UNLIKELY(!efct_ours(e, p, len))) {
        /* Another process's packet on the shared queue: give it back before it pins the
           superbuf. */
        efct_drop(e, id, &e->st.rx_foreign);
        return UINT32_MAX;
    }
    uint64_t ts = 0;
#if defined(ef_vi_receive_get_precise_timestamp)
    /* The precise call takes the packet itself on EFCT (what the deprecated
       efct_vi_rxpkt_get_timestamp does inside). */
    if (e->st.rx_timestamps) ts = rx_timestamp(e, p);
#elif defined(EFVITCP_EFVI_HAVE_EFCT_TS)
    if (e->st.rx_timestamps) {
        struct timespec t;
        unsigned flags;
        if (efct_vi_rxpkt_get_timestamp(&e->vi, id, &t, &flags) == 0)
            ts = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
    }
#endif
    if (UNLIKELY(!e->slot_nfree)) {
        /* Cannot happen: a poll takes no more events than there are free slots. */
        efct_drop(e, id, &e->st.rx_discard_other);
        return UINT32_MAX;
    }
    uint32_t slot = e->slot_free[--e->slot_nfree];
    e->efct_pkt[slot] = id;
    *data = p;
    *len_out = len;
    *ts_out = ts;
    return slot;
}

/* Gives the packet of a slot back to the VI it came from and frees the slot. */
static void efct_slot_release(efvi_link *e, uint32_t slot)
{
    e->rx_state[slot] = RX_FREE;
    e->slot_free[e->slot_nfree++] = slot;
    if (e->have_vi) efct_vi_rxpkt_release(&e->vi, e->efct_pkt[slot]);
}
#endif

static void efvi_rx_release(et_link *l, uint32_t id)
{
    efvi_link *e = (efvi_link *)l;
    uint32_t slot = id & e->tag_mask;
    if (UNLIKELY(e->rx_tag[slot] != id || e->rx_state[slot] != RX_HELD || !e->rx_lent)) {
        e->st.rx_stale_release++;
        return;
    }
    e->rx_lent--;
    /* Posted with the next batch (rx_refill): one doorbell for many buffers. */
    rx_recycle(e, slot);
}

#ifdef EFVITCP_EFVI_HAVE_EFCT
static void efvi_rx_release_efct(et_link *l, uint32_t id)
{
    efvi_link *e = (efvi_link *)l;
    uint32_t slot = id & e->tag_mask;
    if (UNLIKELY(e->rx_tag[slot] != id || e->rx_state[slot] != RX_HELD || !e->rx_lent)) {
        e->st.rx_stale_release++;
        return;
    }
    e->rx_lent--;
    efct_slot_release(e, slot);
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Transmit                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static inline void ring_put(efvi_link *e, uint32_t id)
{
    if (UNLIKELY(e->tx_ts != NULL)) e->tx_ts[id] = 0; /* until its timestamp event says when */
    e->ring[(e->ring_head + e->ring_n) & e->ring_mask] = id;
    e->ring_n++;
    e->tx_state[id] = TX_RING;
}

/* Free bytes in the CTPIO FIFO, which only EFCT (X3) sends through; pre-EFCT releases (Onload 7)
   have no call for it. */
static int ctpio_fifo_space(const efvi_link *e)
{
#ifdef EFVITCP_EFVI_HAVE_EFCT
    return ef_vi_transmit_space_bytes(&e->vi);
#else
    (void)e;
    return INT_MAX;
#endif
}

/* Hands one frame to the NIC now; false when the ring or FIFO has no room. */
/* A frame put on the ring by tx_now whose send failed after all: taken back off (the newest),
   to wait in the queue (tx_queue and tx_drain leave it there). */
static COLD void ring_unput(efvi_link *e, uint32_t id)
{
    e->ring_n--;
    e->tx_state[id] = TX_PENDING;
}

/* CTPIO, with its mandatory DMA fallback (sent by the NIC only if the CTPIO copy fails). The
   frame goes on the ring first, so that nothing but the VI lives across the two calls. */
static inline __attribute__((always_inline)) bool tx_ctpio(efvi_link *e, uint32_t id, uint32_t len)
{
    ring_put(e, id);
    ef_vi_transmit_ctpio(&e->vi, et_link_tx_buf(&e->base, id), len, e->ct_thresh);
    if (UNLIKELY(ef_vi_transmit_ctpio_fallback(&e->vi, tx_dma(e, id), len, (ef_request_id)id) !=
                 0)) {
        ring_unput(e, id);
        return false;
    }
    e->st.tx_ctpio++;
    return true;
}

static inline __attribute__((always_inline)) bool tx_now_arch(efvi_link *e, uint32_t id,
                                                              uint32_t len, const bool efct)
{
    if (ef_vi_transmit_space(&e->vi) <= 0) return false;
    if (efct) {
        if (ctpio_fifo_space(e) < (int)len) return false;
        /* On X3 the fallback names the dma_id, and resends if the FIFO had no room. */
        return tx_ctpio(e, id, len);
    }
    /* CTPIO only succeeds with nothing queued for DMA; its fallback must follow before any other
       send. */
    if (e->ctpio && ef_vi_transmit_fill_level(&e->vi) == 0) return tx_ctpio(e, id, len);
    if (ef_vi_transmit(&e->vi, tx_dma(e, id), (int)len, (ef_request_id)id) != 0) return false;
    e->st.tx_dma++;
    ring_put(e, id);
    return true;
}

static bool tx_now(efvi_link *e, uint32_t id, uint32_t len)
{
    return e->efct ? tx_now_arch(e, id, len, true) : tx_now_arch(e, id, len, false);
}

/* The queued frames, in order, as far as the ring takes them: one doorbell for the batch. */
static void tx_drain(efvi_link *e)
{
    if (e->down || e->restart_needed || !e->pend_n) return;
    bool inited = false;
    while (e->pend_n) {
        uint32_t id = e->pend[e->pend_head];
        uint32_t len = e->tx_len[id];
        if (e->efct) {
            if (!tx_now(e, id, len)) break;
        } else {
            if (ef_vi_transmit_space(&e->vi) <= 0 ||
                ef_vi_transmit_init(&e->vi, tx_dma(e, id), (int)len, (ef_request_id)id) != 0)
                break;
            ring_put(e, id);
            e->st.tx_dma++;
            inited = true;
        }
        e->pend_head = et_ring_add(e->pend_head, 1, e->base.n_tx);
        e->pend_n--;
    }
    if (inited) ef_vi_transmit_push(&e->vi);
    slow_update(e);
}

/* A frame that cannot go now (the VI is being recreated, or frames wait before it): queued, and
   the queue drained as far as the ring takes it. */
static COLD int tx_queue(efvi_link *e, uint32_t id, uint32_t len)
{
    e->tx_len[id] = (uint16_t)len;
    e->pend[et_ring_add(e->pend_head, e->pend_n, e->base.n_tx)] = id;
    e->pend_n++;
    e->tx_state[id] = TX_PENDING;
    e->st.tx_queued++;
    slow_update(e);
    tx_drain(e);
    return 0;
}

static inline __attribute__((always_inline)) int tx_arch(et_link *l, uint32_t id, uint32_t len,
                                                         const bool efct)
{
    efvi_link *e = (efvi_link *)l;
    if (UNLIKELY(id >= e->base.n_tx || len < 14 || len > e->base.tx_buf_size ||
                 e->tx_state[id] != TX_FREE))
        return -1;
    e->st.tx_frames++;
    e->evq_fresh = false; /* its completion may come before the next tx_done */
    if (LIKELY(!(e->slow & SLOW_TX)) && tx_now_arch(e, id, len, efct)) return 0;
    return tx_queue(e, id, len);
}

static int efvi_tx(et_link *l, uint32_t id, uint32_t len)
{
    return tx_arch(l, id, len, false);
}

#ifdef EFVITCP_EFVI_HAVE_EFCT
static int efvi_tx_efct(et_link *l, uint32_t id, uint32_t len)
{
    return tx_arch(l, id, len, true);
}
#endif

/* A completion that is not of the oldest frame in flight: ef_vi completes in post order, so the
   id is counted as bad; if it is in flight at all, it completes out of turn, the rest keeping
   their order. false for an id not in flight. */
static COLD bool tx_complete_odd(efvi_link *e, uint32_t id)
{
    e->st.tx_bad_completion++;
    uint32_t m = e->ring_mask, base = e->ring_head + e->ring_done, k = 0;
    uint32_t inflight = e->ring_n - e->ring_done;
    while (k < inflight && e->ring[(base + k) & m] != id) k++;
    if (k == inflight) return false;
    for (; k > 0; k--) e->ring[(base + k) & m] = e->ring[(base + k - 1) & m];
    e->ring[base & m] = id;
    e->ring_done++;
    return true;
}

/* Buffer id completed: the oldest in flight becomes done (to be reported by tx_done). */
static inline __attribute__((always_inline)) bool tx_complete_id(efvi_link *e, uint32_t id)
{
    if (LIKELY(e->ring_done < e->ring_n &&
               e->ring[(e->ring_head + e->ring_done) & e->ring_mask] == id)) {
        e->ring_done++;
        return true;
    }
    return tx_complete_odd(e, id);
}

static inline __attribute__((always_inline)) void tx_completion(efvi_link *e, const ef_event *ev)
{
    ef_request_id ids[EF_VI_TRANSMIT_BATCH];
    int n = ef_vi_transmit_unbundle(&e->vi, ev, ids);
    uint32_t done = e->ring_done;
    for (int i = 0; i < n; i++) {
        if (LIKELY(done < e->ring_n &&
                   e->ring[(e->ring_head + done) & e->ring_mask] == (uint32_t)ids[i])) {
            done++;
        } else {
            e->ring_done = done;
            tx_complete_odd(e, (uint32_t)ids[i]);
            done = e->ring_done;
        }
    }
    e->ring_done = done;
}

/* With EF_VI_TX_TIMESTAMPS every frame completes by an event of its own that says when it left
   (ef_vi has consumed its descriptor already: no unbundle). */
static COLD void tx_ts_completion(efvi_link *e, const ef_event *ev)
{
    uint32_t id = (uint32_t)EF_EVENT_TX_WITH_TIMESTAMP_RQ_ID(*ev);
    if (!e->tx_ts || !tx_complete_id(e, id)) return;
    uint64_t ts = (uint64_t)EF_EVENT_TX_WITH_TIMESTAMP_SEC(*ev) * 1000000000ull +
                  EF_EVENT_TX_WITH_TIMESTAMP_NSEC(*ev);
    unsigned sync = EF_EVENT_TX_WITH_TIMESTAMP_SYNC_FLAGS(*ev);
    e->tx_ts[id] = ts ? ts : 1; /* a clock at its epoch is still a stamp */
    e->tx_ts_flags[id] =
        (uint8_t)(((sync & EF_VI_SYNC_FLAG_CLOCK_SET) ? ET_LINK_TXTS_CLOCK_SET : 0) |
                  ((sync & EF_VI_SYNC_FLAG_CLOCK_IN_SYNC) ? ET_LINK_TXTS_IN_SYNC : 0));
    e->st.tx_timestamps++;
}

static uint64_t efvi_tx_stamp(et_link *l, uint32_t id, uint32_t *flags)
{
    efvi_link *e = (efvi_link *)l;
    if (!e->tx_ts || id >= l->n_tx) return 0;
    if (flags) *flags = e->tx_ts_flags[id];
    return e->tx_ts[id];
}

/* ------------------------------------------------------------------------------------------ */
/* The VI: allocation, recreation                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * The checksums a delivered frame is known to have passed: those whose failure makes the NIC
 * report a discard instead of a frame (EF10 and EFCT both verify the IPv4 header and the TCP
 * checksum in hardware; the VI's discard mask says which failures are withheld from us). Releases
 * without the query have the EF10 default mask, which has both.
 */
static uint32_t rx_csum_verified(ef_vi *vi)
{
#ifdef ef_vi_receive_get_discards
    unsigned d = ef_vi_receive_get_discards(vi);
    return ((d & EF_VI_DISCARD_RX_L3_CSUM_ERR) ? ET_RX_CSUM_IP : 0u) |
           ((d & EF_VI_DISCARD_RX_L4_CSUM_ERR) ? ET_RX_CSUM_TCP : 0u);
#else
    (void)vi;
    return ET_RX_CSUM_IP | ET_RX_CSUM_TCP;
#endif
}

static int vi_alloc(efvi_link *e, bool ctpio)
{
    unsigned flags = EF_VI_TX_IP_CSUM_DIS | EF_VI_TX_TCPUDP_CSUM_DIS;
    if (ctpio) flags |= EF_VI_TX_CTPIO;
    if (e->want_rxts) flags |= EF_VI_RX_TIMESTAMPS;
    if (e->want_txts) flags |= EF_VI_TX_TIMESTAMPS;
    int rc = ef_vi_alloc_from_pd(&e->vi, e->dh, &e->pd, e->dh, -1, (int)e->rxq_req, (int)e->txq_req,
                                 NULL, -1, (enum ef_vi_flags)flags);
    if (rc < 0) return rc;
    e->have_vi = true;
#ifdef EFVITCP_EFVI_HAVE_EFCT
    e->efct = e->vi.nic_type.arch == EF_VI_ARCH_EFCT;
#endif
    e->ctpio = (ef_vi_flags(&e->vi) & EF_VI_TX_CTPIO) != 0;
    e->prefix = (uint32_t)ef_vi_receive_prefix_len(&e->vi);
    if (!e->efct) {
        e->rx_min = e->prefix + 14;
        uint32_t buf_len = (uint32_t)ef_vi_receive_buffer_len(&e->vi);
        e->rx_span = buf_len >= e->rx_min ? buf_len - e->rx_min : 0;
        if (e->mem) e->rx_data = rx_host(e, 0) + e->prefix;
    }
    e->rx_csum = rx_csum_verified(&e->vi);
    e->st.rx_csum = e->rx_csum;
    e->st.efct = e->efct;
    e->st.ctpio = e->ctpio;
    e->st.rx_timestamps = (ef_vi_flags(&e->vi) & EF_VI_RX_TIMESTAMPS) != 0;
    e->st.prefix_len = e->prefix;
    e->st.rxq_capacity = e->efct ? 0 : (uint32_t)ef_vi_receive_capacity(&e->vi);
    e->st.txq_capacity = (uint32_t)ef_vi_transmit_capacity(&e->vi);
    return 0;
}

/* A VI with CTPIO when the NIC offers it (ctpio_ask), else, or when the driver refuses it (not
   licensed, or taken by another process), one without: frames then go by DMA. */
static int vi_alloc_any(efvi_link *e)
{
    int rc = vi_alloc(e, e->ctpio_ask);
    if (rc < 0 && e->ctpio_ask) rc = vi_alloc(e, false);
    return rc;
}

/* Filters after a (re)allocation: the MAC ones when we own the address, then every flow. */
static int filters_install(efvi_link *e)
{
    int rc = e->own_addr ? mac_filters_install(e) : 0;
    if (rc) return rc; /* the restart fails and is retried whole */
    const efvi_flow *first = NULL;
    int first_rc = 0;
    for (uint32_t i = 0; i <= e->flow_mask; i++) {
        efvi_flow *f = &e->flows[i];
        if (!f->used || f->filtered) continue;
        int frc = flow_filter_install(e, f);
        if (frc && !first) first = f, first_rc = frc;
    }
    /* The VI works without them: the flows that lack one are retried from poll_events. */
    e->st.flows_unsteered = e->unsteered;
    if (first) unsteered_found(e, first, first_rc, "was not re-installed after a VI restart");
    return 0;
}

static void restart(efvi_link *e)
{
    e->restart_needed = false;
    e->st.restarts++;
#ifdef EFVITCP_EFVI_HAVE_EFCT
    if (e->efct) {
        /* Packets of the old VI cannot outlive it. None is with the engine or in the ready ring
           (restart_due waits for them; a VI that is down polled nothing since): were one, it
           would go back here, and its id name nothing from now on. */
        for (uint32_t k = 0; k < e->n_slots; k++)
            if (e->rx_state[k] == RX_HELD) efct_slot_release(e, k);
        e->ready_n = 0;
        e->rx_lent = 0;
    }
#endif
    /* Whether the frames on the ring left is unknown; once the VI is gone their buffers are
       free again, and TCP resends what was lost. */
    e->ring_done = e->ring_n;
    for (uint32_t j = 0; j < e->n_rx && !e->efct; j++) {
        if (e->rx_state[j] != RX_POSTED) continue;
        e->rx_state[j] = RX_FREE;
        e->rx_free[e->rx_nfree++] = j;
    }
    e->in_scatter = false;
    for (uint32_t i = 0; i <= e->flow_mask; i++)
        if (e->flows[i].used) flow_filter_remove(e, &e->flows[i]);
    mac_filters_remove(e);
    if (e->have_vi) {
        ef_vi_free(&e->vi, e->dh);
        e->have_vi = false;
    }
    e->st.flows_unsteered = e->unsteered;
    /* As at open: without CTPIO when the driver refuses it (taken by another process), for a
       link that stayed down until CTPIO came back would lose every connection meanwhile. */
    bool had_ctpio = e->ctpio;
    int rc = vi_alloc_any(e);
    if (rc == 0 && had_ctpio != e->ctpio) {
        if (had_ctpio) e->st.ctpio_lost++;
        link_log(e, had_ctpio ? ET_LINK_LOG_WARN : ET_LINK_LOG_INFO,
                 had_ctpio ? "efvi link: the recreated VI has no CTPIO (the driver refused it: "
                             "taken by another process, or not licensed); frames go by DMA"
                           : "efvi link: the recreated VI has CTPIO again");
    }
    if (rc != 0 || filters_install(e) != 0) {
        /* Try again later; frames to send wait in the queue meanwhile. */
        e->st.restart_failures++;
        e->down = true;
        e->st.down = true;
        e->retry_at = efvi_now(&e->base) + RETRY_NS;
        slow_update(e);
        return;
    }
    e->down = false;
    e->st.down = false;
    slow_update(e);
    rx_refill(e);
    tx_drain(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Recreates a broken VI unless the engine still holds packets it lent, or has yet to get those in
 * the ready ring (EFCT: they live in the VI's buffers, which ef_vi_free takes away while the
 * engine parses them, and their ids would be released on the next VI; a packet of the ready ring
 * given back unread would be a frame lost). The engine gives every frame back within its poll,
 * and the next rx_burst hands over the ready ring first, so the restart waits at most until the
 * next poll's flush; meanwhile nothing is sent on the broken VI and its event queue is not
 * polled. EF10 frames sit in the link's own registered memory, which outlives the VI: the engine
 * keeps them across a restart and releases them onto the new VI's ring, and the ready ring keeps
 * its frames. False while the restart must wait.
 */
static bool restart_due(efvi_link *e)
{
    if (!e->restart_needed) return true;
    if (e->efct && (e->rx_lent || e->ready_n)) return false;
    restart(e);
    return true;
}

/* Everything but frames and plain completions; sets restart_needed for the events that break
   the VI. */
static COLD void event_other(efvi_link *e, const ef_event *ev)
{
    switch (EF_EVENT_TYPE(*ev)) {
    case EF_EVENT_TYPE_RX:
        e->st.rx_bad_event++; /* on EFCT, which has no buffers of ours (EF10 takes it inline) */
        break;
    case EF_EVENT_TYPE_RX_DISCARD:
        if (e->efct)
            e->st.rx_bad_event++;
        else
            rx_event_bad(e, ev);
        break;
    case EF_EVENT_TYPE_RX_NO_DESC_TRUNC:
        /* No buffer was consumed; the frame's pieces already seen are dropped. */
        e->st.rx_no_desc_trunc++;
        e->in_scatter = false;
        break;
    case EF_EVENT_TYPE_TX_WITH_TIMESTAMP:
        tx_ts_completion(e, ev);
        break;
    case EF_EVENT_TYPE_TX_ERROR:
        e->st.tx_errors++;
        tx_completion(e, ev);
        e->restart_needed = true;
        break;
    case EF_EVENT_TYPE_OFLOW:
        e->st.evq_oflow++;
        e->restart_needed = true;
        break;
#if defined(EFVITCP_EFVI_HAVE_EFCT) || defined(EFVITCP_EFVI_HAVE_RESET)
    /* Pre-EFCT releases (Onload 7) have no RESET event to name. */
    case EF_EVENT_TYPE_RESET:
        e->st.resets++;
        e->restart_needed = true;
        break;
#endif
    default:
        break;
    }
    slow_update(e);
}

/* What a poll does before it polls, when something is wrong (e->slow): a restart that was put
   off or a retry of a failed one, and the retries of missing filters. false: do not poll. */
static COLD bool poll_prepare_slow(efvi_link *e)
{
    if (!restart_due(e)) return false;
    if (e->down) {
        if (efvi_now(&e->base) < e->retry_at) return false;
        restart(e);
        if (e->down) return false;
    }
    if (e->filter_retry_ns && efvi_now(&e->base) >= e->filter_retry_at) filters_retry(e);
    return true;
}

static inline __attribute__((always_inline)) bool poll_prepare(efvi_link *e)
{
    if (UNLIKELY(e->slow) && !poll_prepare_slow(e)) return false;
    if (rx_refill_due(e)) rx_refill(e);
    e->evq_fresh = true;
    return true;
}

/* One polled event; a frame it brings goes to *f. Returns the number of frames (0 or 1). The
   caller counts them into rx_lent. */
static inline __attribute__((always_inline)) int poll_event(efvi_link *e, const ef_event *ev,
                                                            et_rx_frame *f, const bool efct)
{
    unsigned type = EF_EVENT_TYPE(*ev);
    if (!efct && type == EF_EVENT_TYPE_RX) {
        uint32_t bytes, j = rx_event(e, ev, &bytes);
        if (j == UINT32_MAX) return 0;
        uint8_t *data = e->rx_data + (size_t)j * RX_BUF_SIZE;
        /* Valid only until the next poll: read now, from the start of the buffer. */
        uint64_t ts = UNLIKELY(e->st.rx_timestamps) ? rx_timestamp(e, data - e->prefix) : 0;
        e->rx_state[j] = RX_HELD;
        *f = (et_rx_frame){.data = data,
                           .len = bytes - e->prefix,
                           .id = slot_tag(e, j),
                           .hw_ts = ts,
                           .csum = e->rx_csum};
        return 1;
    }
    if (type == EF_EVENT_TYPE_TX) {
        tx_completion(e, ev);
        return 0;
    }
#ifdef EFVITCP_EFVI_HAVE_EFCT
    if (efct && (type == EF_EVENT_TYPE_RX_REF || type == EF_EVENT_TYPE_RX_REF_DISCARD)) {
        const uint8_t *p;
        uint32_t len;
        uint64_t ts;
        uint32_t slot = rx_ref_event(e, ev, &p, &len, &ts);
        if (slot == UINT32_MAX) return 0;
        e->rx_state[slot] = RX_HELD;
        *f = (et_rx_frame){.data = (uint8_t *)p,
                           .len = len,
                           .id = slot_tag(e, slot),
                           .hw_ts = ts,
                           .csum = e->rx_csum};
        return 1;
    }
#endif
    event_other(e, ev);
    return 0;
}

/* How many events a poll may take for budget frames: EFCT has a lent table to fill. */
static inline __attribute__((always_inline)) int poll_want(const efvi_link *e, int budget,
                                                           const bool efct)
{
    int want = budget < EVS_MAX ? budget : EVS_MAX;
    if (efct && want > (int)e->slot_nfree) want = (int)e->slot_nfree;
    return want;
}

/*
 * Polls at most budget events (one frame each at most: no event merging), in batches, the frames
 * going to out (out[0..budget) has room for all). Events are only taken as far as the caller
 * takes their frames, so frames beyond it wait in the NIC rather than in the link. Returns the
 * number of frames; each counts as lent (rx_lent) from here on.
 */
static inline __attribute__((always_inline)) int poll_events_arch(efvi_link *e, et_rx_frame *out,
                                                                  int budget, const bool efct)
{
    ef_event evs[EVS_MAX];
    int n = 0, polled = 0;
    for (;;) {
        int want = poll_want(e, budget - polled, efct);
        if (want < EF_VI_EVENT_POLL_MIN_EVS) break;
        int got = ef_eventq_poll(&e->vi, evs, want), n0 = n;
        for (int i = 0; i < got; i++) n += poll_event(e, &evs[i], out + n, efct);
        e->rx_lent += (uint32_t)(n - n0);
        if (UNLIKELY(e->restart_needed)) {
            if (!restart_due(e)) e->st.restarts_deferred++;
            break;
        }
        polled += got > 0 ? got : 0;
        if (got < want) break;
    }
    return n;
}

static int poll_events(efvi_link *e, et_rx_frame *out, int budget)
{
    return e->efct ? poll_events_arch(e, out, budget, true)
                   : poll_events_arch(e, out, budget, false);
}

static int ready_take(efvi_link *e, et_rx_frame *out, int n, int max)
{
    while (n < max && e->ready_n) {
        out[n++] = e->ready[e->ready_head];
        e->ready_head = et_ring_add(e->ready_head, 1, e->ready_cap);
        e->ready_n--;
        e->rx_lent++;
    }
    slow_update(e);
    return n;
}

static COLD int rx_burst_slow(efvi_link *e, et_rx_frame *out, int max)
{
    /* A VI broken in the last poll is recreated now if nothing of it is out; else its frames
       waiting in the ready ring go to the engine first, and the restart follows their release. */
    restart_due(e);
    int n = ready_take(e, out, 0, max);
    /* The ready ring is empty now: new frames go straight into out after the n taken. */
    if (n < max && poll_prepare(e)) n += poll_events(e, out + n, max - n);
    if (e->pend_n) tx_drain(e);
    e->st.rx_frames += (uint64_t)n;
    return n;
}

/* The rest of a burst whose first batch of events came full (rest: the events it may still
   take, frames going to f), broke the VI or made room for queued frames. Returns the frames
   added. */
static __attribute__((noinline)) int rx_burst_more(efvi_link *e, et_rx_frame *f, int rest)
{
    int n = 0;
    if (e->restart_needed) {
        if (!restart_due(e)) e->st.restarts_deferred++;
    } else if (rest > 0) {
        n = poll_events(e, f, rest);
    }
    /* Completions make room on the ring for frames that waited. */
    if (e->pend_n) tx_drain(e);
    return n;
}

/* rx_burst, compiled once per architecture (the ops of the link's own, set at open). */
static inline __attribute__((always_inline)) int rx_burst_arch(et_link *l, et_rx_frame *out,
                                                               int max, const bool efct)
{
    efvi_link *e = (efvi_link *)l;
    if (UNLIKELY(!out || max <= 0)) return 0;
    if (UNLIKELY(e->slow)) return rx_burst_slow(e, out, max);
    /* The usual burst: one batch of events, its frames straight into out. */
    if (rx_refill_due(e)) rx_refill(e);
    e->evq_fresh = true;
    ef_event evs[EVS_MAX];
    int want = poll_want(e, max, efct), got = 0;
    if (LIKELY(want >= EF_VI_EVENT_POLL_MIN_EVS)) got = ef_eventq_poll(&e->vi, evs, want);
    /* A full batch: more events may wait, as many as the budget has left. */
    int rest = got == want ? max - got : 0;
    et_rx_frame *f = out;
    for (const ef_event *ev = evs, *end = evs + (got > 0 ? got : 0); ev < end; ev++)
        f += poll_event(e, ev, f, efct);
    int n = (int)(f - out);
    e->rx_lent += (uint32_t)n;
    if (UNLIKELY(rest || e->slow)) n += rx_burst_more(e, f, rest);
    e->st.rx_frames += (uint64_t)n;
    return n;
}

static int efvi_rx_burst(et_link *l, et_rx_frame *out, int max)
{
    return rx_burst_arch(l, out, max, false);
}

#ifdef EFVITCP_EFVI_HAVE_EFCT
static int efvi_rx_burst_efct(et_link *l, et_rx_frame *out, int max)
{
    return rx_burst_arch(l, out, max, true);
}
#endif

/* tx_done's own poll, when the engine did not poll since its last send: frames found go to the
   ready ring, for the next rx_burst. */
static COLD void poll_for_tx(efvi_link *e)
{
    if (!poll_prepare(e)) return;
    et_rx_frame tmp[TX_POLL_FRAMES];
    int n = poll_events(e, tmp, TX_POLL_FRAMES);
    for (int i = 0; i < n; i++) {
        e->ready[et_ring_add(e->ready_head, e->ready_n, e->ready_cap)] = tmp[i];
        e->ready_n++;
    }
    e->rx_lent -= (uint32_t)n; /* not lent until rx_burst hands them over */
    slow_update(e);
    if (e->pend_n) tx_drain(e);
}

/* The completions not yet reported, oldest first, up to max of them. */
static inline __attribute__((always_inline)) int tx_take(efvi_link *e, uint32_t *ids, int max)
{
    uint32_t n = e->ring_done;
    if (!n) return 0;
    if (n > (uint32_t)max) n = (uint32_t)max;
    uint32_t h = e->ring_head, m = e->ring_mask;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = e->ring[(h + i) & m];
        ids[i] = id;
        e->tx_state[id] = TX_FREE;
    }
    e->ring_head = (h + n) & m;
    e->ring_n -= n;
    e->ring_done -= n;
    e->st.tx_completions += n;
    return (int)n;
}

/* tx_done after a send or a poll without frames taken: the queue may hold completions. */
static __attribute__((noinline)) int tx_done_poll(efvi_link *e, uint32_t *ids, int max)
{
    if (!e->ready_n) poll_for_tx(e);
    e->evq_fresh = false;
    return tx_take(e, ids, max);
}

static int efvi_tx_done(et_link *l, uint32_t *ids, int max)
{
    efvi_link *e = (efvi_link *)l;
    if (UNLIKELY(!ids || max <= 0)) return 0;
    /* Completions share the event queue with frames: poll no more frames than one engine poll
       takes after this (it takes at least TX_POLL_FRAMES). The engine takes its frames first: a
       queue polled since the last call and the last send has given every completion there is to
       give so far, and polling it again at once would cost a pass over an empty queue on every
       engine poll. */
    if (UNLIKELY(!e->evq_fresh)) return tx_done_poll(e, ids, max);
    e->evq_fresh = false;
    return tx_take(e, ids, max);
}

static COLD void tx_flush_slow(efvi_link *e)
{
    /* The end of a poll, where the engine has given back its frames: a restart put off during
       the poll runs here, so that frames queued meanwhile go out now. */
    if (!restart_due(e) || e->down) return;
    tx_drain(e);
}

static void efvi_tx_flush(et_link *l)
{
    efvi_link *e = (efvi_link *)l;
    if (UNLIKELY(e->slow & SLOW_TX)) tx_flush_slow(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Open and close                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void efvi_destroy(et_link *l)
{
    efvi_link *e = (efvi_link *)l;
    if (!e) return;
    if (e->have_vi) {
#ifdef EFVITCP_EFVI_HAVE_EFCT
        for (uint32_t k = 0; e->efct && e->rx_state && k < e->n_slots; k++)
            if (e->rx_state[k] == RX_HELD) efct_slot_release(e, k);
#endif
        /* Filters go explicitly, so that none outlives the stack in the NIC's tables. */
        for (uint32_t i = 0; e->flows && i <= e->flow_mask; i++)
            if (e->flows[i].used) flow_filter_remove(e, &e->flows[i]);
        mac_filters_remove(e);
    }
    /* ef_vi teardown order: memory registration, VI, protection domain, driver handle. */
    if (e->have_mr) ef_memreg_free(&e->mr, e->dh);
    if (e->have_vi) ef_vi_free(&e->vi, e->dh);
    if (e->have_pd) ef_pd_free(&e->pd, e->dh);
    if (e->have_dh) ef_driver_close(e->dh);
    if (e->mem) munmap(e->mem, e->mem_len);
    free(e->tx_state);
    free(e->tx_len);
    free(e->tx_ts);
    free(e->tx_ts_flags);
    free(e->pend);
    free(e->ring);
    free(e->rx_state);
    free(e->rx_free);
    free(e->ready);
    free(e->rx_tag);
    free(e->efct_pkt);
    free(e->slot_free);
    free(e->flows);
    free(e->waiting);
    free(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Idle waits                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The driver handle: readable once an event arrives after ef_vi_prime() (an interrupt). */
static int efvi_wake_fd(et_link *l)
{
    efvi_link *e = (efvi_link *)l;
    return e->have_dh ? (int)e->dh : -1;
}

static int efvi_prime(et_link *l)
{
    efvi_link *e = (efvi_link *)l;
    if (!e->have_dh) return -1;
    /* A broken VI is recreated by the next poll; frames taken from the queue wait in the ready
       ring: both are work now. */
    if (e->restart_needed || e->ready_n) return 1;
    /* No VI while a restart waits for its retry: next_due wakes the sleeper for it. */
    if (e->down || !e->have_vi) return 0;
    /* Buffers left for the next refill batch go on the ring now: while we sleep, every one
       of them can take a frame. */
    rx_refill(e);
    /* The interrupt comes for any event at or beyond the queue's current position, so events
       that came before this call wake the sleeper at once rather than being lost. */
    return ef_vi_prime(&e->vi, e->dh, ef_eventq_current(&e->vi)) == 0 ? 0 : -1;
}

/* The link's own deadlines, which a poll acts on (poll_events): the next attempt of a failed VI
   restart and the next retry of flows left without a filter. */
static uint64_t efvi_next_due(et_link *l)
{
    efvi_link *e = (efvi_link *)l;
    uint64_t t = UINT64_MAX;
    if (e->restart_needed) return 0;
    /* Down, a poll stops before the filter retries (poll_prepare_slow), and the restart that
       ends it installs every filter: their time would stay due, a sleeper spinning on it. */
    if (e->down) return e->retry_at;
    if (e->filter_retry_ns) t = e->filter_retry_at;
    return t;
}

/* et_link_ops.idle: nothing put off (e->slow: a restart, a queue of frames waiting for ring
   space, frames in the ready ring, filter retries), no completion taken and not reported, no
   batch of buffers to post (EF10, rx_refill_due; EFCT has none), and no event:
   ef_eventq_has_event reads the next event's slot without polling. */
static int efvi_idle(et_link *l, uint64_t now)
{
    efvi_link *e = (efvi_link *)l;
    (void)now; /* the NIC says when a frame is there */
    return !e->slow && !e->ring_done && (e->efct || !rx_refill_due(e)) &&
           !ef_eventq_has_event(&e->vi);
}

/* What the two architectures share; each table names its own hot path. */
#define EFVI_OPS_COMMON                                                                            \
    .tx_flush = efvi_tx_flush, .tx_done = efvi_tx_done, .now = efvi_now, .idle = efvi_idle,        \
    .flow_add = efvi_flow_add, .flow_del = efvi_flow_del, .destroy = efvi_destroy,                 \
    .tx_stamp = efvi_tx_stamp, .wake_fd = efvi_wake_fd, .prime = efvi_prime,                       \
    .next_due = efvi_next_due

static const et_link_ops efvi_ops = {
    .rx_burst = efvi_rx_burst,
    .rx_release = efvi_rx_release,
    .tx = efvi_tx,
    EFVI_OPS_COMMON,
};

#ifdef EFVITCP_EFVI_HAVE_EFCT
/* EFCT (X3): the same but for the hot path compiled for its receive and transmit. */
static const et_link_ops efvi_ops_efct = {
    .rx_burst = efvi_rx_burst_efct,
    .rx_release = efvi_rx_release_efct,
    .tx = efvi_tx_efct,
    EFVI_OPS_COMMON,
};
#endif

bool et_efvi_link_stats(const et_link *l, et_efvi_stats *st)
{
    if (!l || !st) return false;
#ifdef EFVITCP_EFVI_HAVE_EFCT
    if (l->ops != &efvi_ops && l->ops != &efvi_ops_efct) return false;
#else
    if (l->ops != &efvi_ops) return false;
#endif
    *st = ((const efvi_link *)l)->st;
    return true;
}

/* "NAME[,rxts][,txts][,noctpio][,ct=N]" */
static const char *parse_spec(efvi_link *e, const char *spec)
{
    const char *comma = strchr(spec, ',');
    size_t n = comma ? (size_t)(comma - spec) : strlen(spec);
    if (n == 0 || n > NAME_MAX_LEN) return "efvi link: interface name must be 1..31 characters";
    memcpy(e->ifname, spec, n);
    e->ifname[n] = '\0';
    e->want_ctpio = true;
    e->ct_thresh = CT_THRESH_DEF;
    while (comma) {
        const char *opt = comma + 1;
        comma = strchr(opt, ',');
        size_t len = comma ? (size_t)(comma - opt) : strlen(opt);
        if (len == 4 && memcmp(opt, "rxts", 4) == 0) {
            e->want_rxts = true;
        } else if (len == 4 && memcmp(opt, "txts", 4) == 0) {
            e->want_txts = true;
        } else if (len == 7 && memcmp(opt, "noctpio", 7) == 0) {
            e->want_ctpio = false;
        } else if (len > 3 && memcmp(opt, "ct=", 3) == 0) {
            uint32_t v = 0;
            for (size_t i = 3; i < len; i++) {
                if (opt[i] < '0' || opt[i] > '9' || v > 65535)
                    return "efvi link: ct=N wants 0..65535";
                v = v * 10 + (uint32_t)(opt[i] - '0');
            }
            if (v > 65535) return "efvi link: ct=N wants 0..65535";
            e->ct_thresh = v;
        } else {
            return "efvi link: unknown option (known: rxts, txts, noctpio, ct=N)";
        }
    }
    return NULL;
}

/* Index and (kernel-shared mode) address of a real interface, from the kernel. */
static const char *read_iface(efvi_link *e, const et_link_params *p)
{
    et_nl nl;
    const char *err = et_nl_open(&nl);
    if (err) return err;
    et_if_info info;
    err = et_nl_get_if(&nl, e->ifname, &info);
    int owned = !err && p->local_addr ? et_nl_addr_owned(&nl, e->base.local_ip) : 0;
    et_nl_close(&nl);
    if (err) return err;
    if (owned)
        return owned > 0 ? "efvi link: the kernel owns local_addr; use an address it does not "
                           "own or leave local_addr unset to share the kernel's address"
                         : "efvi link: cannot read the kernel's addresses";
    if (!info.up) return "efvi link: interface is down";
    e->ifindex = (int)info.ifindex;
    e->base.ifindex = info.ifindex;
    if (!p->local_addr) {
        e->base.local_ip = info.ip;
        e->base.prefix_len = info.prefix_len;
    }
    return NULL;
}

static const char *attach(efvi_link *e, const et_link_params *p)
{
    const char *err = NULL;
    e->own_addr = p->local_addr != NULL;
    if (e->own_addr && (err = et_link_config_addr(p, &e->base))) return err;
    if (p->ifindex) {
        /* An interface the kernel does not know: base.ifindex stays 0, netlink is not asked. */
        e->ifindex = p->ifindex;
        return NULL;
    }
    return read_iface(e, p);
}

static const char *alloc_memory(efvi_link *e, const et_link_params *p)
{
    size_t tx_bytes = ((size_t)p->n_tx * p->tx_buf_size + 4095u) & ~(size_t)4095u;
    size_t rx_bytes = e->efct ? 0 : (size_t)p->n_rx * RX_BUF_SIZE;
    size_t len = tx_bytes + rx_bytes;
    size_t huge_len = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    /* Huge pages need fewer NIC buffer-table and TLB entries; ordinary pages do too. */
    void *m = mmap(NULL, huge_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    if (m != MAP_FAILED) {
        e->mem_len = huge_len;
        e->st.huge_pages = true;
    } else {
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
                 0);
        if (m == MAP_FAILED) return "efvi link: cannot map packet buffer memory";
        e->mem_len = len;
    }
    e->mem = m;
    /* Registered memory is pinned: a forked child must not get copy-on-write pages of it. */
    madvise(m, e->mem_len, MADV_DONTFORK);
    e->rx_off = (size_t)tx_bytes;
    if (!e->efct) e->rx_data = rx_host(e, 0) + e->prefix;
    if (ef_memreg_alloc(&e->mr, e->dh, &e->pd, e->dh, m, len) != 0)
        return "efvi link: cannot register packet buffer memory (ef_memreg_alloc)";
    e->have_mr = true;
    e->base.tx_base = m;
    e->base.tx_buf_size = p->tx_buf_size;
    e->base.n_tx = p->n_tx;
    return NULL;
}

static const char *setup(efvi_link *e, const et_link_params *p)
{
    const char *err = attach(e, p);
    if (err) return err;
    if (ef_driver_open(&e->dh) != 0) return "efvi link: cannot open the ef_vi driver (Onload)";
    e->have_dh = true;
    if (ef_pd_alloc(&e->pd, e->dh, e->ifindex, EF_PD_DEFAULT) != 0)
        return "efvi link: cannot allocate a protection domain (not a Solarflare/AMD interface?)";
    e->have_pd = true;

    unsigned long cap = 0;
    e->ctpio_ask = e->want_ctpio &&
                   ef_vi_capabilities_get(e->dh, e->ifindex, EF_VI_CAP_CTPIO, &cap) == 0 && cap;
    e->rxq_req = clamp_ring(p->n_rx, 512, 4096);
    e->txq_req = clamp_ring(p->n_tx, 512, 2048);
    int rc = vi_alloc_any(e);
    if (rc == -EPERM) return "efvi link: the NIC forces RX event merging, which is not supported";
    if (rc < 0 && (e->want_rxts || e->want_txts))
        return "efvi link: cannot allocate a VI with the timestamps asked for (rxts, txts)";
    if (rc < 0) return "efvi link: cannot allocate a virtual interface";
    /* AF_XDP, EF100 and X4 VIs differ in receive ids, transmit kicks and buffers; a build against
       a pre-EFCT Onload sees an X3 as unknown too. */
    if (e->vi.nic_type.arch != EF_VI_ARCH_EF10 && !e->efct)
        return "efvi link: unsupported NIC architecture (X2 EF10 and X3 EFCT only)";
    if (!e->efct && (uint32_t)ef_vi_receive_buffer_len(&e->vi) > RX_BUF_SIZE - RX_DMA_OFF)
        return "efvi link: the NIC's receive buffers are larger than 1984 bytes";

    if ((err = alloc_memory(e, p))) return err;

    e->n_rx = p->n_rx;
    /* Batches of eight (the NIC takes descriptors in eights), fewer for a small pool, whose
       buffers must not sit in the free list while the ring runs short. */
    e->rx_batch = p->n_rx / 8 < 8 ? (p->n_rx / 8 ? p->n_rx / 8 : 1) : 8;
    e->ready_cap = p->n_rx < 256 ? 256 : p->n_rx;
    e->max_flows = p->max_conns + LISTEN_FLOWS;
    e->flow_mask = pow2_at_least(2 * e->max_flows) - 1;
    e->tx_state = calloc(p->n_tx, 1);
    e->tx_len = calloc(p->n_tx, sizeof(*e->tx_len));
    e->pend = calloc(p->n_tx, sizeof(*e->pend));
    e->ring_mask = pow2_at_least(p->n_tx) - 1;
    e->ring = calloc((size_t)e->ring_mask + 1, sizeof(*e->ring));
    bool done_ok = true;
    if (e->want_txts) {
        e->tx_ts = calloc(p->n_tx, sizeof(*e->tx_ts));
        e->tx_ts_flags = calloc(p->n_tx, 1);
        done_ok = done_ok && e->tx_ts && e->tx_ts_flags;
    }
    e->rx_free = calloc(p->n_rx, sizeof(*e->rx_free));
    e->ready = calloc(e->ready_cap, sizeof(*e->ready));
    e->flows = calloc((size_t)e->flow_mask + 1, sizeof(*e->flows));
    e->waiting = calloc(e->max_flows, sizeof(*e->waiting));
    /* EFCT: room for a full ready ring and as much again with the engine (it takes at most a
       burst at a time and gives it back within the poll). */
    e->n_slots = e->efct ? 2 * e->ready_cap : e->n_rx;
    while ((1u << e->tag_bits) < e->n_slots) e->tag_bits++;
    e->tag_mask = (1u << e->tag_bits) - 1;
    e->tag_inc = 1u << e->tag_bits;
    e->rx_tag = calloc((size_t)e->tag_mask + 1, sizeof(*e->rx_tag));
    e->rx_state = calloc((size_t)e->tag_mask + 1, 1);
    bool slots_ok = e->rx_tag && e->rx_state;
    for (uint32_t k = 0; slots_ok && k <= e->tag_mask; k++) e->rx_tag[k] = k; /* use count 0 */
    if (e->efct) {
        e->efct_pkt = calloc(e->n_slots, sizeof(*e->efct_pkt));
        e->slot_free = calloc(e->n_slots, sizeof(*e->slot_free));
        slots_ok = slots_ok && e->efct_pkt && e->slot_free;
        for (uint32_t k = e->n_slots; slots_ok && k > 0; k--) e->slot_free[e->slot_nfree++] = k - 1;
    }
    if (!e->tx_state || !e->tx_len || !e->pend || !e->ring || !done_ok || !e->rx_state ||
        !e->rx_free || !e->ready || !e->flows || !e->waiting || !slots_ok)
        return "out of memory";

    if (ef_vi_get_mac(&e->vi, e->dh, e->base.mac) != 0) return "efvi link: cannot read the MAC";
    /* ef_vi_mtu counts the whole frame without FCS; the engine wants the IP MTU, small enough
       for a frame to fit one receive buffer after the prefix. */
    uint32_t frame = ef_vi_mtu(&e->vi, e->dh);
    if (!e->efct) {
        uint32_t room = (uint32_t)ef_vi_receive_buffer_len(&e->vi) - e->prefix;
        if (frame > room) frame = room;
    } else if (frame > RX_BUF_SIZE) {
        frame = RX_BUF_SIZE;
    }
    if (frame < 14 + 576) return "efvi link: MTU below 576";
    e->base.mtu = frame - 14 > 9000 ? 9000 : frame - 14;
    if (e->st.rx_timestamps) e->base.caps |= ET_LINK_CAP_HW_TS;
    if (e->want_txts) e->base.caps |= ET_LINK_CAP_TX_TS;

    if (!e->efct) {
        for (uint32_t j = e->n_rx; j > 0; j--) e->rx_free[e->rx_nfree++] = j - 1;
        rx_refill(e);
    }
    if (e->own_addr && mac_filters_install(e) != 0)
        return "efvi link: own-address mode needs MAC filters on the interface (CAP_NET_ADMIN or "
               "sfc_char mac_filters_gid); leave local_addr unset to share the kernel's address";
    e->base.ops = &efvi_ops;
#ifdef EFVITCP_EFVI_HAVE_EFCT
    if (e->efct) e->base.ops = &efvi_ops_efct;
#endif
    slow_update(e); /* and with it tx_flush_none */
    return NULL;
}

const char *et_efvi_link_open(const char *spec, const et_link_params *p, et_link **out)
{
    if (!out) return "efvi link: out is NULL";
    *out = NULL;
    if (!spec || !p) return "efvi link: interface and parameters are required";
    if (p->n_tx > 65536 * 64)
        return "efvi link: more than 4194304 transmit buffers (max_conns * send_slots + "
               "ctrl_bufs)";
    if (p->n_tx == 0 || p->n_rx < 16) return "efvi link needs n_tx > 0 and n_rx >= 16";
    if (p->tx_buf_size != 1024 && p->tx_buf_size != 2048)
        return "efvi link: tx_buf_size must be 1024 or 2048";
    efvi_link *e = calloc(1, sizeof(*e));
    if (!e) return "out of memory";
    e->clock = p->clock;
    e->base.tsc = p->clock.tsc; /* now() is that clock: the engine may read it inline */
    e->log = p->log;
    e->log_ctx = p->log_ctx;
    const char *err = parse_spec(e, spec);
    if (!err) err = setup(e, p);
    if (err) {
        efvi_destroy(&e->base);
        return err;
    }
    *out = &e->base;
    return NULL;
}
