/*
 * Control of the ef_vi emulator (not part of ef_vi): emulated NIC ports, their configuration,
 * fault injection and counters.
 *
 * An emulated NIC port is one endpoint of a mem-link wire (efvitcp_wire, as a raw endpoint), so
 * stacks on the mem link, raw test endpoints and ef_vi users all share one simulated network and
 * one virtual clock. ef_pd_alloc_by_name(NAME) finds the port named NAME; every VI allocated
 * from that PD sits on the port, and the port's filters decide which arriving frame reaches which
 * VI. Frames the filters do not claim go to "the kernel" (counted and dropped). Port names are
 * unique on a wire (like interface names on a host); each port also has an ifindex of its own,
 * unique in the process, for ef_pd_alloc and ef_vi_capabilities_get.
 *
 * The NIC does its work when any VI on the port polls its event queue (frames due on the wire
 * are received then) and when descriptors are pushed (frames go out then); completion events
 * appear at the next poll. Nothing runs in the background, so runs are deterministic.
 *
 * A port can also sit on a real Linux interface instead (AF_PACKET ports): ef_pd_alloc() with
 * the index of an interface that no emulated port has (ef_pd_alloc_by_name() with its name), as
 * the efvi link does for "efvi:IF" without cfg->wire, opens one with the interface's MAC and MTU,
 * or efvi_emu_packet_create() does with a configuration. Frames then come from and go to the
 * interface through an AF_PACKET socket (a TPACKET_V2 receive ring, read when a VI polls, and
 * one send() per frame); the wire clock is CLOCK_MONOTONIC. Filters, rings, the RX prefix,
 * CTPIO, events and faults are those of any port. The kernel keeps receiving every frame (an
 * AF_PACKET socket is a tap), so the port refuses IP filters for an address the kernel owns:
 * only a stack with an address of its own works (the efvi link's own-address mode). Frames the
 * host itself sent, and unicast frames for other MACs, never reach the port; VLAN-tagged frames
 * are dropped. Root or CAP_NET_RAW is needed. When the emulator creates such a port by itself,
 * it reads EFVI_EMU_STRICT (non-empty: efvi_emu_set_strict(true)), EFVI_EMU_ARCH ("efct": an
 * X3 port instead of the default configuration's) and EFVI_EMU_STATS (non-empty: the port's
 * counters on stderr when it closes) from the environment, for programs that cannot call this
 * API (interop tests of the efvi link against the kernel). Such ports run on the real clock and
 * the kernel's scheduling, so they are not deterministic.
 *
 * The emulator keeps process-wide state (the NICs, like a driver) and is single-threaded.
 */
#ifndef EFVI_EMU_H
#define EFVI_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"

typedef struct efvi_emu_nic efvi_emu_nic;

/** What kind of NIC a port emulates. Zero means the defaults of efvi_emu_nic_config_default. */
typedef struct efvi_emu_nic_config {
    int arch;                /**< EF_VI_ARCH_EF10 (X2, default) or EF_VI_ARCH_EFCT (X3) */
    bool ctpio;              /**< EF10: offers CTPIO (EF_VI_CAP_CTPIO); EFCT sends only by CTPIO */
    bool rx_timestamps;      /**< offers EF_VI_RX_TIMESTAMPS */
    bool tx_timestamps;      /**< offers EF_VI_TX_TIMESTAMPS: each frame sent completes by a
                                  TX_WITH_TIMESTAMP event with the NIC clock as it left */
    bool rx_csum_check;      /**< validates IPv4 and TCP/UDP checksums: bad ones are RX_DISCARD
                                  CSUM_BAD (RX_REF_DISCARD on EFCT). Default true */
    bool force_prefix;       /**< EF10: 14-byte RX prefix even without timestamps */
    uint32_t mtu;            /**< ef_vi_mtu(): frame bytes without FCS; 0 = 1514 (IP MTU 1500) */
    uint32_t max_filters;    /**< per port; 0 = 8192 on EF10, 256 on EFCT (UG1586) */
    uint32_t rx_buffer_len;  /**< EF10 ef_vi_receive_buffer_len(); 0 = 1792 */
    uint32_t max_txq;        /**< EF10 largest TX ring, 512..2048; 0 = 2048 */
    uint32_t efct_superbufs; /**< EFCT shared receive pool: superbufs; 0 = 8 */
    uint32_t efct_superbuf_pkts; /**< packets per superbuf (2 KiB stride); 0 = 512 (1 MiB) */
    uint32_t ct_fifo_bytes;      /**< EFCT CTPIO FIFO; 0 = 32768 */
    uint64_t seed;               /**< fault draws; 0 = 1 */
} efvi_emu_nic_config;

/** Faults of a port, in force until changed. Zero everywhere = none. */
typedef struct efvi_emu_faults {
    double ctpio_fail;      /**< EF10: probability that a CTPIO send fails, so that its fallback
                                 descriptor is sent by DMA instead */
    bool ctpio_poison;      /**< a failed cut-through send first puts a truncated, poisoned copy
                                 on the wire (a receiver sees RX_DISCARD CRC_BAD) */
    double rx_discard;      /**< probability that an arriving frame is flagged RX_DISCARD CRC_BAD
                                 (RX_REF_DISCARD on EFCT) */
    bool rx_starve;         /**< the NIC finds no RX descriptor (EFCT: no buffer): frames dropped */
    bool tx_stall;          /**< the NIC takes no TX descriptor: the rings fill up */
    uint32_t evq_oflow;     /**< the next N event-queue polls find the queue overflowed */
    bool ip_filter_fail;    /**< IP filters (full 4-tuple and local) cannot be added: -ENOSPC, as a
                                 full filter table says */
    uint32_t vi_alloc_fail; /**< the next N ef_vi_alloc_from_pd on the port fail (-ENOMEM), as
                                 a driver out of VIs or memory: a VI restart fails and waits */
    bool ctpio_refuse;      /**< EF10: ef_vi_alloc_from_pd with EF_VI_TX_CTPIO fails (-EBUSY), as
                                 when another process took the port's CTPIO or it is not
                                 licensed; a VI without it is allocated as usual, and
                                 EF_VI_CAP_CTPIO still says the NIC has it. EFCT sends only by
                                 CTPIO and ignores this */
} efvi_emu_faults;

/** Counters of a port (all VIs on it together). */
typedef struct efvi_emu_stats {
    uint64_t rx_frames;        /**< frames that arrived from the wire */
    uint64_t rx_to_kernel;     /**< no filter claimed them */
    uint64_t rx_events;        /**< RX / RX_REF events made */
    uint64_t rx_nodesc;        /**< dropped: no posted descriptor (EFCT: no free buffer) */
    uint64_t rx_discard_csum;  /**< RX_DISCARD CSUM_BAD made */
    uint64_t rx_discard_crc;   /**< RX_DISCARD CRC_BAD made (faults and poisoned frames) */
    uint64_t rx_no_desc_trunc; /**< RX_NO_DESC_TRUNC made */
    uint64_t rx_scatter;       /**< frames spread over more than one buffer */
    uint64_t tx_dma;           /**< frames sent from DMA descriptors */
    uint64_t tx_ctpio;         /**< frames sent by CTPIO (fallback then completes unsent) */
    uint64_t tx_ctpio_fail;    /**< CTPIO sends that failed (the fallback was sent) */
    uint64_t tx_ctpio_busy;    /**< of which: tried while DMA descriptors were outstanding */
    uint64_t tx_poisoned;      /**< poisoned copies put on the wire */
    uint64_t tx_eagain;        /**< transmit calls refused with -EAGAIN (ring or FIFO full) */
    uint64_t tx_errors;        /**< TX_ERROR events made */
    uint64_t tx_timestamps;    /**< TX_WITH_TIMESTAMP events made (EF_VI_TX_TIMESTAMPS) */
    uint64_t evq_oflows;       /**< OFLOW events made */
    uint64_t resets;           /**< RESET events made */
    uint64_t filters;          /**< filters installed now */
    uint64_t filters_max_seen; /**< most filters ever installed at once */
    uint64_t rx_wire_dropped;  /**< AF_PACKET: frames the port could not take (VLAN-tagged,
                                    longer than the MTU or the ring slot) */
    uint64_t rx_wire_overflow; /**< AF_PACKET: frames the kernel dropped, the ring being full */
    uint64_t tx_wire_dropped;  /**< AF_PACKET: frames lost because send() failed (link down) */
    uint64_t tx_wire_busy;     /**< AF_PACKET: sends the interface put off (queues full): the
                                    frame stayed with the NIC, a CTPIO send failed, or an EFCT
                                    send was refused with -EAGAIN */
    uint64_t violations;       /**< misuses of the API (see last_violation) */
    char last_violation[160];
} efvi_emu_stats;

void efvi_emu_nic_config_default(efvi_emu_nic_config *cfg);

/**
 * Creates port name (1..31 characters, unique on the wire) on wire w. Returns NULL or an error.
 * The caller holds one reference (efvi_emu_nic_put); each protection domain holds another.
 */
const char *efvi_emu_nic_create(efvitcp_wire *w, const char *name, const efvi_emu_nic_config *cfg,
                                efvi_emu_nic **out);
/**
 * Creates an AF_PACKET port on the real interface ifname (its MAC; its MTU when cfg->mtu is 0).
 * Its ifindex is the interface's. Returns NULL or an error; the caller holds one reference.
 */
const char *efvi_emu_packet_create(const char *ifname, const efvi_emu_nic_config *cfg,
                                   efvi_emu_nic **out);
/** Drops a reference; the port leaves the wire (closes its socket) when the last one goes. */
void efvi_emu_nic_put(efvi_emu_nic *nic);
/** The port named name on wire w, or with w NULL the AF_PACKET port on interface name; or NULL. */
efvi_emu_nic *efvi_emu_nic_find(const efvitcp_wire *w, const char *name);

/**
 * For the efvi link on a simulated wire ("efvi:NAME" with cfg->wire): takes a reference on port
 * name, creating it with the default configuration (efvi_emu_set_default_config) when absent.
 * 0 and the port's ifindex, or a negative errno.
 */
int efvi_emu_wire_attach(efvitcp_wire *w, const char *name, int *ifindex_out);
/** Drops the reference efvi_emu_wire_attach took. */
void efvi_emu_wire_release(const efvitcp_wire *w, const char *name);
/** Configuration of ports that efvi_emu_wire_attach creates (NULL = defaults). */
void efvi_emu_set_default_config(const efvi_emu_nic_config *cfg);

void efvi_emu_set_faults(efvi_emu_nic *nic, const efvi_emu_faults *f);
/** A NIC reset: every VI on the port gets a RESET event and stops working until freed. */
void efvi_emu_reset(efvi_emu_nic *nic);
/**
 * The same, but the events already in a VI's queue come before its RESET (frames the NIC received
 * before it reset, reported with it in one poll), where efvi_emu_reset drops them.
 */
void efvi_emu_reset_after_events(efvi_emu_nic *nic);
/** The next DMA transmit on the port fails with TX_ERROR (BUS) and halts its TX queue. */
void efvi_emu_tx_error(efvi_emu_nic *nic);
void efvi_emu_get_stats(const efvi_emu_nic *nic, efvi_emu_stats *st);
/**
 * Takes the frames due for the port off the wire while no VI is open on it, as a NIC receives
 * whatever its VIs do: with no filter of a VI's they go to the kernel (counted in rx_to_kernel).
 * The emulator receives when a VI polls, so a port whose VI is gone (a restart that failed)
 * would otherwise hold its frames on the wire, due forever, for a driver of virtual time that
 * waits for them. With a VI open it takes nothing (its event queue paces reception). Returns the
 * frames taken; 0 for NULL or an AF_PACKET port.
 */
uint32_t efvi_emu_nic_drain(efvi_emu_nic *nic);
/** The port's MAC address and interface index. */
void efvi_emu_nic_addr(const efvi_emu_nic *nic, uint8_t mac[6], int *ifindex);
/** Violations over every port since the start (also those of freed ports). */
uint64_t efvi_emu_total_violations(void);
/** Whether a violation aborts the process with a message on stderr (default false). */
void efvi_emu_set_strict(bool strict);

#endif
