/*
 * The interface between the engine and whatever moves frames (ef_vi, AF_XDP, AF_PACKET, the mem
 * wire). The engine sees a link only through this file.
 *
 * Buffers: the link owns a pool of n_tx transmit buffers of tx_buf_size bytes in its registered
 * memory (ef_vi memreg, AF_XDP UMEM, plain memory for mem). The engine addresses them by index,
 * writes frames into them at offset 0, hands them to tx() and may keep them afterwards (unacked
 * segments stay in place for retransmission). It never rewrites a buffer between tx() and the
 * completion reported by tx_done(): the NIC may still be reading it.
 *
 * Receive: rx_burst() hands frames by pointer into the link's own buffers (zero copy); the engine
 * gives each one back with rx_release() when done with it, within the same poll.
 *
 * A link learns everything it needs from et_link_params: the layer above (the engine) translates
 * its own configuration into them, so no link reads the public configuration.
 */
#ifndef EFVITCP_LINK_H
#define EFVITCP_LINK_H

#include <stdint.h>

#include "net/frame.h" /* et_rx_frame: id is the link buffer id, for rx_release */
#include "util/clock.h"

struct efvitcp_wire;

/** Capabilities. */
enum {
    /* Checksums the hardware verified are reported per frame (et_rx_frame.csum). */
    ET_LINK_CAP_HW_TS = 1u << 1,    /**< RX hardware timestamps */
    ET_LINK_CAP_OWN_ADDR = 1u << 2, /**< the stack owns its address: it must answer ARP itself */
    ET_LINK_CAP_TX_TS = 1u << 3     /**< transmit hardware timestamps (tx_stamp) */
};

/** A flow to steer to this link (ef_vi filter, XDP map entry). Host byte order. */
typedef struct et_flow {
    uint32_t local_ip, remote_ip; /**< remote_ip 0: listening port */
    uint16_t local_port, remote_port;
} et_flow;

struct et_link;

typedef struct et_link_ops {
    /** Up to max received frames. Never blocks. */
    int (*rx_burst)(struct et_link *l, et_rx_frame *out, int max);
    /** Gives a received buffer back. */
    void (*rx_release)(struct et_link *l, uint32_t id);
    /** Transmits len bytes of tx buffer id. 0 on success, -1 if the link cannot take it now. */
    int (*tx)(struct et_link *l, uint32_t id, uint32_t len);
    /** Makes queued transmissions go out (doorbell). NULL for links whose tx() already puts the
        frame on the wire (mem, shm): the engine then skips the call. */
    void (*tx_flush)(struct et_link *l);
    /** Writes ids of tx buffers whose transmission completed; returns how many (<= max). */
    int (*tx_done)(struct et_link *l, uint32_t *ids, int max);
    /** The link's monotonic clock in ns. */
    uint64_t (*now)(struct et_link *l);
    /** Nonzero when rx_burst, tx_done and tx_flush would all find nothing to do at now (by
        now()): no frame or completion waiting, no receive ring to refill, nothing queued or put
        off. Cheaper than they are: the engine asks it first and, with no timer due either, ends
        an idle poll there (et_stack_quiet). NULL: never known, every poll is a full one. */
    int (*idle)(struct et_link *l, uint64_t now);
    /** Installs / removes steering for a flow; 0 on success. NULL when not needed. */
    int (*flow_add)(struct et_link *l, const et_flow *f);
    int (*flow_del)(struct et_link *l, const et_flow *f);
    /** Releases everything the link holds (buffers included). */
    void (*destroy)(struct et_link *l);
    /** With ET_LINK_CAP_TX_TS: the NIC's time (ns of its clock) at which tx buffer id, just
        reported by tx_done, left, or 0 if it has none (a frame completed by a VI restart);
        *flags gets ET_LINK_TXTS_*. Valid until the buffer is sent again. */
    uint64_t (*tx_stamp)(struct et_link *l, uint32_t id, uint32_t *flags);
    /* Idle waits (efvitcp_*_fd, efvitcp_*_prime; docs/operations.md). NULL: the link has none
       and its user busy-polls. */
    /** The file descriptor that becomes readable (POLLIN) when a frame arrives after prime(). */
    int (*wake_fd)(struct et_link *l);
    /** Arms wake_fd for the next frame. Returns 1 when frames are waiting already (the fd need not
        become readable for them: the caller polls rather than sleeps), 0 when armed, -1 when the
        link cannot be armed now. Drains the fd's earlier readiness; never blocks. */
    int (*prime)(struct et_link *l);
    /** The link's own next deadline by now() (a retry after a failed restart, a frame in flight
        on the simulated wire), UINT64_MAX for none: the engine's next timer includes it, so that
        a sleeper is back in time. NULL: none ever. */
    uint64_t (*next_due)(struct et_link *l);
} et_link_ops;

/** Flags of tx_stamp: the state of the NIC clock (ef_vi's sync flags). */
enum { ET_LINK_TXTS_CLOCK_SET = 1u << 0, ET_LINK_TXTS_IN_SYNC = 1u << 1 };

/* While et_link.tx_down: the next kick, at the latest (et_stack_next_timer). */
#define ET_LINK_DOWN_RETRY_NS 100000000ull

typedef struct et_link {
    const et_link_ops *ops;
    uint8_t mac[6];
    uint32_t mtu;        /**< IP MTU */
    uint32_t caps;       /**< ET_LINK_CAP_* */
    uint32_t local_ip;   /**< host order; 0 if the engine must take it from the config */
    uint32_t prefix_len; /**< of local_ip */
    uint32_t gateway;    /**< host order, 0 = none */
    uint32_t ifindex;    /**< kernel interface index (xdp, packet, efvi); 0 for mem */
    uint8_t *tx_base;    /**< tx buffer i is tx_base + i * tx_buf_size */
    uint32_t tx_buf_size;
    uint32_t n_tx;
    const char *kind; /**< "mem", "shm", "packet", "xdp" or "efvi": set by et_link_open, for the
                           live view (a plain interface name does not say which link opened) */
    /** Set by a link whose tx_flush has nothing to do at the end of a poll while it stays set
        (efvi: no restart, queue or outage in the way): the poll then skips the call. Links
        that leave it 0 are always called. Set for a link without tx_flush when it opens. */
    uint8_t tx_flush_none;
    /** Set by a link whose interface refused the last transmit kick because it is down (packet,
        xdp), or whose peer published a ring index that stops every send (shm): what waits in its
       ring leaves only once it is up, so output the engine deferred for want of ring space is not
       due at every poll, and an idle wait sleeps until a timer (whose poll kicks again). */
    uint8_t tx_down;
    /** Set by a link whose now() is the TSC clock of its params (et_link_params.clock.tsc): the
        engine then reads the time inline (et_link_now), without the call through ops->now that
        every poll and every send between polls would pay. NULL: now() is called. */
    et_tsc *tsc;
} et_link;

/** The time of l by its clock (ops->now), read inline where it is the TSC. */
static inline uint64_t et_link_now(et_link *l)
{
    if (l->tsc) return et_tsc_now(l->tsc);
    return l->ops->now(l);
}

/** Rings l's doorbell (tx_flush) unless the link has none or has said it has nothing to ring. */
static inline void et_link_flush(et_link *l)
{
    if (!l->tx_flush_none) l->ops->tx_flush(l);
}
/** Levels of et_link_params.log: those of the public API's log callback. */
enum { ET_LINK_LOG_ERROR = 0, ET_LINK_LOG_WARN = 1, ET_LINK_LOG_INFO = 2, ET_LINK_LOG_DEBUG = 3 };

/** What the engine asks of a link when it opens it. Strings are read only while opening. */
typedef struct et_link_params {
    uint32_t n_tx;        /**< transmit buffers */
    uint32_t tx_buf_size; /**< 1024 or 2048 */
    uint32_t n_rx;        /**< receive buffers */
    uint32_t max_conns;   /**< connections at once: links that steer flows size their tables */
    /** Own-address mode: "A.B.C.D/prefix", an address the kernel does not own; NULL shares the
        kernel's address (see et_link_open). */
    const char *local_addr;
    const char *gateway;       /**< own-address mode: next hop "A.B.C.D", or NULL for none */
    struct efvitcp_wire *wire; /**< the simulated wire of mem (and emulated efvi) ports, or NULL */
    /** Nonzero when the opener resolved the interface itself and the kernel does not know it (an
        emulated NIC port): the efvi link takes this index and asks the kernel nothing. */
    int ifindex;
    /** The time base that now() reports. The mem link runs on its wire's clock instead: every
        endpoint of a wire shares the wire's (virtual) time. */
    et_clock clock;
    void (*log)(void *log_ctx, int level, const char *msg); /**< may be NULL; ET_LINK_LOG_* */
    void *log_ctx;
    /** cfg.prefault: memory the link maps for the instance is made present when it opens (the
        shm link's shared object); false leaves it to fault in on first use. The engine touches
        the transmit buffers itself (tx_base), so a link need not. */
    bool prefault;
} et_link_params;

/**
 * Opens the link named by interface: "mem:NAME", "shm:NAME", "packet:IF", "xdp:IF", "efvi:IF",
 * or a plain interface name, which picks the best link built in that opens (efvi, then xdp, then
 * packet). Returns NULL and sets *out, or an error.
 *
 * Addressing modes (docs/links.md):
 * - own address: p->local_addr is set. The link reports ET_LINK_CAP_OWN_ADDR, local_ip,
 *   prefix_len and gateway from the params (et_link_config_addr), and the stack answers and sends
 *   ARP itself. The address must be one the kernel does not own.
 * - kernel-shared: p->local_addr is NULL. The link reports its ifindex and no
 *   ET_LINK_CAP_OWN_ADDR, and either the interface's address in local_ip/prefix_len or local_ip
 *   0, in which case the stack reads it from the kernel (netlink); the stack takes next hops
 *   and MACs from the kernel over netlink and reserves its ports with kernel sockets. Only links
 *   that steer our flows away from the kernel (xdp, efvi) may offer it: the kernel would answer
 *   our segments with RST otherwise.
 */
const char *et_link_open(const char *interface, const et_link_params *p, et_link **out);

/**
 * Own-address mode: parses p->local_addr ("A.B.C.D/prefix") and p->gateway ("A.B.C.D" or NULL)
 * into l->local_ip, prefix_len and gateway (host order) and sets ET_LINK_CAP_OWN_ADDR.
 */
const char *et_link_config_addr(const et_link_params *p, et_link *l);

/** The mem link (src/link/mem.c): endpoint NAME of the simulated wire p->wire. */
const char *et_mem_link_open(const char *name, const et_link_params *p, et_link **out);

/**
 * The shm link (src/link/shm.c): a wire between two processes through the POSIX shared-memory
 * object /dev/shm/efvitcp-NAME (NAME: 1..64 of A-Z a-z 0-9 . _ -). The first opener creates it,
 * the second attaches, a third is refused. Own-address mode only.
 */
const char *et_shm_link_open(const char *name, const et_link_params *p, et_link **out);

/** The AF_PACKET link (src/link/packet.c) on interface ifname. Own-address mode only. */
const char *et_packet_link_open(const char *ifname, const et_link_params *p, et_link **out);
/** The packet link's ring frame size for an interface MTU: the power of two from 2048 that holds
    the ring's header and the frame, or 0 when that exceeds a ring block (64 KiB). An interface
    whose driver sets no MTU limit (dummy) may report up to 2^31 - 1. */
uint32_t et_packet_frame_size(uint32_t mtu);

#ifdef EFVITCP_HAVE_XDP
/**
 * The xdp link (src/link/xdp.c) on interface ifname: AF_XDP socket on queue 0 and our XDP
 * program. With p->local_addr the stack owns that address (ET_LINK_CAP_OWN_ADDR: ARP and all
 * TCP for it are steered to the stack); without it local_ip is 0 and the engine takes the
 * address from the kernel, steering only the flows it adds.
 */
const char *et_xdp_link_open(const char *ifname, const et_link_params *p, et_link **out);
#endif

#ifdef EFVITCP_HAVE_EFVI
/**
 * The efvi link (src/link/efvi.c): ef_vi on a Solarflare/AMD interface. spec is
 * "IF[,rxts][,noctpio][,ct=N]" (hardware RX timestamps, no CTPIO, CTPIO cut-through threshold).
 * With p->local_addr the stack owns that address and takes the interface's unicast frames and
 * ARP broadcasts; without it, it shares the kernel's address and takes only its flows. With
 * p->ifindex set, IF is the interface of that index and the kernel is not asked about it.
 */
const char *et_efvi_link_open(const char *spec, const et_link_params *p, et_link **out);
#endif

#ifdef EFVITCP_EFVI_EMU
/**
 * Tests only, in builds against the ef_vi emulator (tests/efvi_emu/emu_link.c): with p->wire set,
 * "efvi:IF" is an emulated NIC port named IF on that simulated wire, running on the wire's clock
 * (own-address mode only); without it, the efvi link as et_efvi_link_open opens it.
 */
const char *et_efvi_emu_link_open(const char *spec, const et_link_params *p, et_link **out);
#endif

static inline uint8_t *et_link_tx_buf(const et_link *l, uint32_t id)
{
    return l->tx_base + (uint64_t)id * l->tx_buf_size;
}

#endif
