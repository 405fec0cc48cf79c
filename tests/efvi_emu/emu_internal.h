/*
 * Internals of the ef_vi emulator, shared by emu_nic.c (ports, wire, filters, receive steering,
 * the EFCT buffer pool, control API), emu_vi.c (the ef_vi API: driver, PD, memory, VIs, rings,
 * events, transmit, CTPIO) and emu_packet.c (ports whose wire is a real interface, through
 * AF_PACKET).
 */
#ifndef EFVI_EMU_INTERNAL_H
#define EFVI_EMU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <etherfabric/capabilities.h>
#include <etherfabric/efct_vi.h>
#include <etherfabric/memreg.h>
#include <etherfabric/pd.h>
#include <etherfabric/vi.h>

#include "efvi_emu.h"
#include "util/random.h"

#define EMU_MAX_VIS    64 /* VIs per port: subscriber sets are 64-bit masks */
#define EMU_NAME_MAX   31
#define EMU_FRAME_MAX  16384 /* bigger than any wire slot (jumbo MTU 9000) */
#define EMU_PREFIX_LEN 14
#define EMU_TS_OFFSET  1000000000ull /* NIC clock = wire clock + 1 s: never 0 */
/* Interface indexes of mem-wire ports: far above any the kernel hands out in practice, so that
   they never shadow a real interface that an AF_PACKET port would open. */
#define EMU_IFINDEX_BASE 0x70000000
/* Wire frames an event-queue poll takes at most from an AF_PACKET port, steered or not: a real
   wire does not stop, so a poll must. */
#define EMU_PKT_POLL_MAX 256

struct emu_vi;
struct emu_pd;
struct emu_packet;

/* A registered region. EF10: page i of the region has DMA page base + 2 * (n_pages - 1 - i), so
   DMA addresses run backwards with holes between pages and any DMA crossing a 4 KiB boundary
   lands in a hole (a bus error). EFCT: DMA addresses are the user's virtual addresses. */
typedef struct emu_memreg {
    struct emu_memreg *next;  /* in its PD */
    struct emu_memreg *gnext; /* among all registrations, for ef_memreg_free */
    struct emu_pd *pd;
    ef_memreg *owner;
    uint8_t *base;
    size_t len;
    uint32_t n_pages;
    uint64_t dma_page0;
    ef_addr *addrs;
} emu_memreg;

typedef struct emu_pd {
    struct efvi_emu_nic *nic;
    emu_memreg *regs;
    int n_vis;
    ef_driver_handle dh;
} emu_pd;

enum { EMU_TXD_DMA = 0, EMU_TXD_FALLBACK = 1, EMU_TXD_EFCT = 2 };

typedef struct emu_txd {
    ef_addr addr;
    uint32_t len;
    uint32_t ct_bytes; /* EFCT FIFO bytes it holds */
    uint8_t cont;      /* more descriptors of the same frame follow */
    uint8_t kind;
    uint8_t ctpio_ok; /* a fallback whose CTPIO send succeeded: completes unsent */
    uint8_t error;    /* failed: reported by TX_ERROR */
    uint64_t sent_ns; /* NIC clock when its frame went to the wire (EF_VI_TX_TIMESTAMPS) */
} emu_txd;

typedef struct emu_vi {
    ef_vi *vi;
    struct efvi_emu_nic *nic;
    emu_pd *pd;
    int slot;
    unsigned flags;
    bool efct;
    ef_vi_state state;
    uint32_t rx_size, tx_size, evq_size;
    /* RX ring (EF10): descriptors the NIC fills from nic_rx up to state.rxq.posted */
    ef_addr *rx_desc;
    uint32_t *rx_ids;
    uint32_t nic_rx;
    /* TX ring: NIC processes up to tx_pushed; completion events made up to tx_evented */
    emu_txd *tx_desc;
    uint32_t *tx_ids;
    uint32_t tx_pushed, nic_tx, tx_evented;
    uint32_t tx_seq, tx_seq_expect; /* TX event sequence: catches double unbundling */
    /* event queue */
    ef_event *evq;
    uint32_t ev_head, ev_count;
    bool oflow, dead, reset_pending, tx_halted;
    /* CTPIO: a send awaits its fallback */
    bool ctpio_pending, ctpio_ok;
    uint64_t ctpio_sent_ns; /* EF10: NIC clock of the last CTPIO send that went out */
    uint32_t ctpio_slot;    /* EFCT: the descriptor the CTPIO send reserved */
    uint8_t *ctpio_buf;
    uint32_t n_filters; /* EFCT: attached to the shared queue while > 0 */
    uint32_t efct_held;
} emu_vi;

enum { EMU_F_FULL = 1, EMU_F_LOCAL = 2, EMU_F_MAC = 4, EMU_F_ETHTYPE = 8 };

typedef struct emu_filter {
    bool used;
    uint8_t kind; /* EMU_F_FULL, EMU_F_LOCAL or EMU_F_MAC (with or without EMU_F_ETHTYPE) */
    uint8_t proto;
    uint32_t lip, rip; /* network order, as given */
    uint16_t lport, rport;
    uint8_t mac[6];
    uint16_t ethertype; /* network order; 0 = any */
    uint64_t subs;      /* subscribing VIs (IP filters: exactly one) */
} emu_filter;

struct efvi_emu_nic {
    char name[EMU_NAME_MAX + 1];
    efvitcp_wire *w;        /* mem wire, or NULL for an AF_PACKET port */
    struct emu_packet *pkt; /* AF_PACKET port: its socket and ring, or NULL */
    int port;
    uint8_t mac[6];
    int ifindex;
    int refs;
    efvi_emu_nic_config cfg;
    efvi_emu_faults faults;
    et_rng rng;
    emu_vi *vis[EMU_MAX_VIS];
    /* filters: table of max_filters; IP filters also in an open-addressing index */
    emu_filter *filt;
    uint32_t n_filt_slots, n_filters;
    uint32_t *ip_index; /* filter index + 1, 0 = empty */
    uint32_t ip_index_mask;
    /* EFCT shared receive pool */
    uint8_t *pool;
    uint32_t n_pkts;
    uint16_t *pkt_refs;
    uint64_t *pkt_holders;
    uint64_t *pkt_ts;
    uint16_t *pkt_len;
    uint8_t *pkt_gen;
    uint32_t *sb_refs;
    uint32_t cur_sb, cur_idx;
    bool tx_error_next;
    bool in_service;
    bool report_on_close; /* EFVI_EMU_STATS: counters on stderr when the port closes */
    uint8_t frame[EMU_FRAME_MAX];
    efvi_emu_stats st;
};

/* emu_nic.c */
void emu_violation(struct efvi_emu_nic *nic, const char *what);
/** The port named name on wire w (any wire when w is NULL: ef_pd_alloc_by_name). */
struct efvi_emu_nic *emu_nic_by_name(const efvitcp_wire *w, const char *name);
struct efvi_emu_nic *emu_nic_by_ifindex(int ifindex);
/**
 * A new AF_PACKET port on the real interface ifname (or, when NULL, ifindex) with the default
 * configuration, holding one reference; NULL (said on stderr) if it cannot be opened.
 */
struct efvi_emu_nic *emu_packet_port(int ifindex, const char *ifname);
void emu_nic_ref(struct efvi_emu_nic *nic);
/**
 * Receives the next frame due on the port's wire endpoint and steers it to VIs; false if none.
 * Frames are taken from the wire only as pollers ask for events, so that frames nobody polled
 * for yet stay visible on the wire (efvitcp_wire_next_delivery) to a simulation's scheduler.
 */
bool emu_nic_service_one(struct efvi_emu_nic *nic);
uint64_t emu_nic_now(const struct efvi_emu_nic *nic);
/**
 * Puts a frame on the wire from the port. false when the wire cannot take it now (an AF_PACKET
 * interface with full queues): the NIC keeps the frame and tries again later, as a NIC waits for
 * the link. A mem wire always takes it (its own queue may drop it).
 */
bool emu_nic_send(struct efvi_emu_nic *nic, const uint8_t *frame, uint32_t len);
int emu_filter_add(struct efvi_emu_nic *nic, emu_vi *v, const ef_filter_spec *spec,
                   ef_filter_cookie *cookie);
int emu_filter_del(struct efvi_emu_nic *nic, emu_vi *v, const ef_filter_cookie *cookie);
/** Removes every subscription of a VI (it is being freed). */
void emu_filters_drop_vi(struct efvi_emu_nic *nic, emu_vi *v);
/** Releases every EFCT packet a VI still holds. */
void emu_efct_drop_vi(struct efvi_emu_nic *nic, emu_vi *v);
/** The checksum errors of an IPv4 frame (EF_VI_DISCARD_RX_L3/L4_CSUM_ERR; 0 for anything that is
    not IPv4); *truncated when the frame is shorter than its datagram. */
unsigned emu_frame_csum_errors(const uint8_t *f, uint32_t len, bool *truncated);
/** The discard flags the NIC can report: the checksum ones only when it checks them. */
unsigned emu_rx_discards_supported(const struct efvi_emu_nic *nic);
/** Fills IPv4 header and TCP/UDP checksums (transmit offload). */
void emu_frame_csum_fill(uint8_t *f, uint32_t len, bool ip, bool l4);

/* emu_packet.c: the AF_PACKET backend (a port whose wire is a real interface) */
/** Opens the socket on interface ifindex and fills nic->mac and, when 0, nic->cfg.mtu. */
const char *emu_packet_open(struct efvi_emu_nic *nic, int ifindex);
void emu_packet_close(struct efvi_emu_nic *nic);
/**
 * The next frame on the interface for this port, in the receive ring (valid until
 * emu_packet_rx_done); false if none. Frames that are not the port's to see are skipped.
 */
bool emu_packet_rx(struct efvi_emu_nic *nic, uint8_t **frame, uint32_t *len);
void emu_packet_rx_done(struct efvi_emu_nic *nic);
/** As emu_nic_send: false when the interface is busy (the frame was not sent). */
bool emu_packet_send(struct efvi_emu_nic *nic, const uint8_t *frame, uint32_t len);
/** Adds the kernel's count of frames lost to a full ring to nic->st.rx_wire_overflow. */
void emu_packet_sync_stats(struct efvi_emu_nic *nic);
/** The wire clock of AF_PACKET ports: CLOCK_MONOTONIC in ns. */
uint64_t emu_packet_now(void);
/** 0 when an IP filter for local address lip (network order) may go on the port, else -EPERM:
    the kernel owns lip, so its frames would reach the kernel too (it would answer with RST). */
int emu_packet_filter_check(struct efvi_emu_nic *nic, uint32_t lip);

/* emu_vi.c */
void emu_vi_push_event(emu_vi *v, const ef_event *ev);
/** Delivers a frame that the filters steered to an EF10 VI. */
void emu_vi_rx_ef10(emu_vi *v, const uint8_t *frame, uint32_t len, uint64_t ts);
/** Whether a VI can be addressed at a pkt id on its port. */
bool emu_efct_held(struct efvi_emu_nic *nic, const emu_vi *v, uint32_t pkt_id);

#endif
