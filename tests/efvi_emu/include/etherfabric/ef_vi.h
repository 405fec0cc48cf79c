/*
 * ef_vi emulator: the core types of Onload's etherfabric/ef_vi.h, for the subset efvitcp uses.
 *
 * Names, types, field names the inline functions read, and semantics follow the real header
 * (Xilinx-CNS/onload src/include/etherfabric/ef_vi.h); the values of the event-type enum follow
 * onload-9.2 and differ between Onload releases, so code must use the names only. Everything here
 * was written for efvitcp from the documented API; no Onload code is copied.
 *
 * Emulator additions are marked "emulator:"; code meant to compile against the real headers must
 * not use them.
 */
#ifndef EFVI_EMU_EF_VI_H
#define EFVI_EMU_EF_VI_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EF_VI_DMA_ALIGN 64

typedef int ef_driver_handle;
typedef uint32_t ef_eventq_ptr;
typedef uint64_t ef_addr;
typedef int ef_request_id;

#define EF_REQUEST_ID_MASK       0xffffffff
#define EF_VI_EVENT_POLL_MIN_EVS 2

struct ef_vi;

/* ---- events: 16 bytes, read through the macros below ---- */

#define EF_VI_TX_TS_FRAC_NS_BITS 4

typedef union {
    struct {
        unsigned type : 16;
    } generic;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned __reserved : 8;
        unsigned rq_id : 32;
        unsigned len : 16;
        unsigned flags : 16;
        unsigned ofs : 16;
    } rx;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned __reserved : 8;
        unsigned rq_id : 32;
        unsigned len : 16;
        unsigned flags : 16;
        unsigned subtype : 16;
    } rx_discard;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned flags : 8;
        unsigned desc_id : 16;
    } tx;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned flags : 8;
        unsigned desc_id : 16;
        unsigned subtype : 16;
    } tx_error;
    struct { /* the same layout as tx up to flags, as in Onload */
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned flags : (8 - EF_VI_TX_TS_FRAC_NS_BITS);
        unsigned ts_nsec_frac : EF_VI_TX_TS_FRAC_NS_BITS;
        unsigned rq_id : 32;
        unsigned ts_sec : 32;
        unsigned ts_nsec : 30;
        unsigned ts_flags : 2;
    } tx_timestamp;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
    } rx_no_desc_trunc;
    struct {
        unsigned type : 16;
        unsigned q_id : 8;
        unsigned __reserved : 8;
        unsigned n_descs : 16;
        unsigned flags : 16;
    } rx_multi;
    struct {
        unsigned type : 16;
        unsigned len : 16;
        unsigned pkt_id : 32;
        unsigned q_id : 8;
        unsigned filter_id : 16;
        unsigned user : 8;
    } rx_ref;
    struct {
        unsigned type : 16;
        unsigned len : 16;
        unsigned pkt_id : 32;
        unsigned q_id : 8;
        unsigned filter_id : 16;
        unsigned user : 8;
        unsigned flags : 16;
    } rx_ref_discard;
    /* emulator: room for the sequence number that catches an event unbundled twice */
    struct {
        uint32_t w[4];
    } emu;
} ef_event;

#define EF_EVENT_TYPE(e) ((e).generic.type)

enum {
    EF_EVENT_TYPE_RX,
    EF_EVENT_TYPE_TX,
    EF_EVENT_TYPE_RX_DISCARD,
    EF_EVENT_TYPE_TX_ERROR,
    EF_EVENT_TYPE_RX_NO_DESC_TRUNC,
    EF_EVENT_TYPE_SW,
    EF_EVENT_TYPE_OFLOW,
    EF_EVENT_TYPE_TX_WITH_TIMESTAMP,
    EF_EVENT_TYPE_RX_PACKED_STREAM,
    EF_EVENT_TYPE_RX_MULTI,
    EF_EVENT_TYPE_TX_ALT,
    EF_EVENT_TYPE_RX_MULTI_DISCARD,
    EF_EVENT_TYPE_RESET,
    EF_EVENT_TYPE_RX_MULTI_PKTS,
    EF_EVENT_TYPE_RX_REF,
    EF_EVENT_TYPE_RX_REF_DISCARD,
};

#define EF_EVENT_RX_BYTES(e) ((e).rx.len)
#define EF_EVENT_RX_Q_ID(e)  ((e).rx.q_id)
#define EF_EVENT_RX_RQ_ID(e) ((e).rx.rq_id)
#define EF_EVENT_RX_CONT(e)  ((e).rx.flags & EF_EVENT_FLAG_CONT)
#define EF_EVENT_RX_SOP(e)   ((e).rx.flags & EF_EVENT_FLAG_SOP)

#define EF_EVENT_FLAG_SOP       0x1
#define EF_EVENT_FLAG_CONT      0x2
#define EF_EVENT_FLAG_MULTICAST 0x8

#define EF_EVENT_FLAG_CTPIO  0x1
#define EF_EVENT_TX_Q_ID(e)  ((e).tx.q_id)
#define EF_EVENT_TX_CTPIO(e) ((e).tx.flags & EF_EVENT_FLAG_CTPIO)

#define EF_EVENT_RX_DISCARD_Q_ID(e)  ((e).rx_discard.q_id)
#define EF_EVENT_RX_DISCARD_RQ_ID(e) ((e).rx_discard.rq_id)
#define EF_EVENT_RX_DISCARD_CONT(e)  ((e).rx_discard.flags & EF_EVENT_FLAG_CONT)
#define EF_EVENT_RX_DISCARD_SOP(e)   ((e).rx_discard.flags & EF_EVENT_FLAG_SOP)
#define EF_EVENT_RX_DISCARD_TYPE(e)  ((e).rx_discard.subtype)
#define EF_EVENT_RX_DISCARD_BYTES(e) ((e).rx_discard.len)

#define EF_EVENT_RX_MULTI_Q_ID(e) ((e).rx_multi.q_id)
#define EF_EVENT_RX_MULTI_CONT(e) ((e).rx_multi.flags & EF_EVENT_FLAG_CONT)
#define EF_EVENT_RX_MULTI_SOP(e)  ((e).rx_multi.flags & EF_EVENT_FLAG_SOP)

enum {
    EF_EVENT_RX_DISCARD_CSUM_BAD,
    EF_EVENT_RX_DISCARD_MCAST_MISMATCH,
    EF_EVENT_RX_DISCARD_CRC_BAD,
    EF_EVENT_RX_DISCARD_TRUNC,
    EF_EVENT_RX_DISCARD_RIGHTS,
    EF_EVENT_RX_DISCARD_EV_ERROR,
    EF_EVENT_RX_DISCARD_OTHER,
    EF_EVENT_RX_DISCARD_INNER_CSUM_BAD,
    EF_EVENT_RX_DISCARD_MAX,
};

#define EF_EVENT_TX_ERROR_Q_ID(e) ((e).tx_error.q_id)
#define EF_EVENT_TX_ERROR_TYPE(e) ((e).tx_error.subtype)

enum {
    EF_EVENT_TX_ERROR_RIGHTS,
    EF_EVENT_TX_ERROR_OFLOW,
    EF_EVENT_TX_ERROR_2BIG,
    EF_EVENT_TX_ERROR_BUS,
};

#define EF_EVENT_RX_NO_DESC_TRUNC_Q_ID(e) ((e).rx_no_desc_trunc.q_id)

#define EF_VI_SYNC_FLAG_CLOCK_SET     1
#define EF_VI_SYNC_FLAG_CLOCK_IN_SYNC 2

/* With EF_VI_TX_TIMESTAMPS: one event per frame sent, which also completes it (no unbundle). */
#define EF_EVENT_TX_WITH_TIMESTAMP_Q_ID(e)  ((e).tx_timestamp.q_id)
#define EF_EVENT_TX_WITH_TIMESTAMP_RQ_ID(e) ((e).tx_timestamp.rq_id)
#define EF_EVENT_TX_WITH_TIMESTAMP_SEC(e)   ((e).tx_timestamp.ts_sec)
#define EF_EVENT_TX_WITH_TIMESTAMP_NSEC(e)  ((e).tx_timestamp.ts_nsec)
#define EF_EVENT_TX_WITH_TIMESTAMP_SYNC_MASK                                                       \
    (EF_VI_SYNC_FLAG_CLOCK_SET | EF_VI_SYNC_FLAG_CLOCK_IN_SYNC)
#define EF_EVENT_TX_WITH_TIMESTAMP_SYNC_FLAGS(e)                                                   \
    ((e).tx_timestamp.ts_flags & EF_EVENT_TX_WITH_TIMESTAMP_SYNC_MASK)

typedef struct {
    ef_addr iov_base __attribute__((aligned(8)));
    unsigned iov_len;
} ef_iovec;

#define ef_timespec struct timespec

/* ---- the virtual interface ---- */

enum ef_vi_flags {
    EF_VI_FLAGS_DEFAULT = 0x0,
    EF_VI_TX_IP_CSUM_DIS = 0x80,
    EF_VI_TX_TCPUDP_CSUM_DIS = 0x100,
    EF_VI_TX_PUSH_DISABLE = 0x4000,
    EF_VI_TX_PUSH_ALWAYS = 0x8000,
    EF_VI_RX_TIMESTAMPS = 0x10000,
    EF_VI_TX_TIMESTAMPS = 0x20000,
    EF_VI_RX_EVENT_MERGE = 0x200000,
    EF_VI_TX_ALT = 0x400000,
    EF_VI_TX_CTPIO = 0x1000000,
    EF_VI_TX_CTPIO_NO_POISON = 0x2000000,
};

enum ef_vi_rx_discard_err_flags {
    EF_VI_DISCARD_RX_L4_CSUM_ERR = 0x1,
    EF_VI_DISCARD_RX_L3_CSUM_ERR = 0x2,
    EF_VI_DISCARD_RX_ETH_FCS_ERR = 0x4,
    EF_VI_DISCARD_RX_ETH_LEN_ERR = 0x8,
};

enum ef_vi_arch {
    EF_VI_ARCH_FALCON,
    EF_VI_ARCH_EF10,
    EF_VI_ARCH_EF100,
    EF_VI_ARCH_EFCT,
    EF_VI_ARCH_AF_XDP,
};

typedef struct {
    uint32_t previous;
    uint32_t added;
    uint32_t removed;
    uint32_t ct_added;
    uint32_t ct_removed;
    uint32_t ts_nsec;
} ef_vi_txq_state;

typedef struct {
    uint32_t posted;
    uint32_t added;
    uint32_t removed;
    uint32_t in_jumbo;
    uint32_t bytes_acc;
    uint16_t last_desc_i;
    uint16_t rx_ps_credit_avail;
} ef_vi_rxq_state;

typedef struct {
    ef_eventq_ptr evq_ptr;
    int32_t evq_clear_stride;
    uint32_t sync_timestamp_major;
    uint32_t sync_timestamp_minor;
    uint32_t sync_timestamp_minimum;
    uint32_t sync_timestamp_synchronised;
    uint32_t sync_flags;
    /* emulator: events the event queue can hold before it overflows */
    uint32_t min_unused_evq_slots;
} ef_eventq_state;

typedef struct {
    uint32_t mask;
    uint32_t ct_fifo_bytes;
    void *descriptors;
    uint32_t *ids;
} ef_vi_txq;

typedef struct {
    uint32_t mask;
    void *descriptors;
    uint32_t *ids;
} ef_vi_rxq;

typedef struct {
    ef_eventq_state evq;
    ef_vi_txq_state txq;
    ef_vi_rxq_state rxq;
} ef_vi_state;

struct ef_vi_nic_type {
    unsigned char arch;
    char variant;
    unsigned char revision;
    unsigned char nic_flags;
};

typedef struct ef_vi {
    unsigned inited;
    unsigned vi_resource_id;
    unsigned vi_i;
    ef_driver_handle dh;
    unsigned rx_buffer_len;
    unsigned rx_prefix_len;
    uint8_t last_ctpio_failed;
    ef_vi_txq vi_txq;
    ef_vi_rxq vi_rxq;
    ef_vi_state *ep_state;
    enum ef_vi_flags vi_flags;
    unsigned rx_discard_mask; /* enum ef_vi_rx_discard_err_flags: errors reported as discards */
    struct ef_vi *evq_vi;
    unsigned evq_mask;
    struct ef_vi_nic_type nic_type;

    struct ops {
        int (*transmit)(struct ef_vi *, ef_addr base, int len, ef_request_id);
        int (*transmitv)(struct ef_vi *, const ef_iovec *, int iov_len, ef_request_id);
        int (*transmitv_init)(struct ef_vi *, const ef_iovec *, int iov_len, ef_request_id);
        void (*transmit_push)(struct ef_vi *);
        int (*transmit_pio)(struct ef_vi *, int offset, int len, ef_request_id dma_id);
        int (*transmit_copy_pio)(struct ef_vi *, int pio_offset, const void *src_buf, int len,
                                 ef_request_id dma_id);
        void (*transmit_pio_warm)(struct ef_vi *);
        void (*transmit_copy_pio_warm)(struct ef_vi *, int pio_offset, const void *src_buf,
                                       int len);
        void (*transmitv_ctpio)(struct ef_vi *, size_t frame_len, const struct iovec *iov,
                                int iov_len, unsigned threshold);
        void (*transmitv_ctpio_copy)(struct ef_vi *, size_t frame_len, const struct iovec *iov,
                                     int iov_len, unsigned threshold, void *fallback);
        int (*receive_init)(struct ef_vi *, ef_addr, ef_request_id);
        void (*receive_push)(struct ef_vi *);
        int (*eventq_poll)(struct ef_vi *, ef_event *, int evs_len);
        void (*eventq_prime)(struct ef_vi *);
        int (*transmit_ctpio_fallback)(struct ef_vi *vi, ef_addr dma_addr, size_t len,
                                       ef_request_id dma_id);
        int (*transmitv_ctpio_fallback)(struct ef_vi *vi, const ef_iovec *dma_iov, int dma_iov_len,
                                        ef_request_id dma_id);
        int (*receive_set_discards)(struct ef_vi *vi, unsigned discard_err_flags);
        unsigned (*receive_get_discards)(struct ef_vi *vi);
    } ops;

    /* emulator: the emulated VI behind this handle */
    void *emu;
} ef_vi;

static inline enum ef_vi_flags ef_vi_flags(ef_vi *vi)
{
    return vi->vi_flags;
}
static inline unsigned ef_vi_instance(ef_vi *vi)
{
    return vi->vi_i;
}
static inline unsigned ef_vi_resource_id(ef_vi *vi)
{
    return vi->vi_resource_id;
}

/* ---- receive ---- */

/* Which receive errors make a frame a discard event instead of a frame (macros, as in Onload). A
   NIC that does not check a checksum (efvi_emu_nic_config.rx_csum_check false) refuses its flag:
   the get call tells the truth. */
#define ef_vi_receive_set_discards(vi, discard_err_flags)                                          \
    (vi)->ops.receive_set_discards((vi), (discard_err_flags))
#define ef_vi_receive_get_discards(vi) (vi)->ops.receive_get_discards((vi))

static inline int ef_vi_receive_prefix_len(const ef_vi *vi)
{
    return (int)vi->rx_prefix_len;
}
static inline int ef_vi_receive_buffer_len(const ef_vi *vi)
{
    return (int)vi->rx_buffer_len;
}
static inline void ef_vi_receive_set_buffer_len(ef_vi *vi, unsigned buf_len)
{
    vi->rx_buffer_len = buf_len;
}
static inline int ef_vi_receive_space(const ef_vi *vi)
{
    ef_vi_rxq_state *qs = &vi->ep_state->rxq;
    return (int)(vi->vi_rxq.mask - (qs->added - qs->removed));
}
static inline int ef_vi_receive_fill_level(const ef_vi *vi)
{
    ef_vi_rxq_state *qs = &vi->ep_state->rxq;
    return (int)(qs->added - qs->removed);
}
static inline int ef_vi_receive_capacity(const ef_vi *vi)
{
    return (int)vi->vi_rxq.mask;
}

#define ef_vi_receive_init(vi, addr, dma_id) (vi)->ops.receive_init((vi), (addr), (dma_id))
#define ef_vi_receive_push(vi)               (vi)->ops.receive_push((vi))

extern int ef_vi_receive_post(ef_vi *vi, ef_addr addr, ef_request_id dma_id);
extern int ef_vi_receive_get_timestamp(ef_vi *vi, const void *pkt, ef_timespec *ts_out);
extern int ef_vi_receive_get_timestamp_with_sync_flags(ef_vi *vi, const void *pkt,
                                                       ef_timespec *ts_out, unsigned *flags_out);
extern int ef_vi_receive_get_bytes(ef_vi *vi, const void *pkt, uint16_t *bytes_out);

#define EF_VI_RECEIVE_BATCH 15
extern int ef_vi_receive_unbundle(ef_vi *ep, const ef_event *event, ef_request_id *ids);

/* ---- transmit ---- */

static inline int ef_vi_transmit_space(const ef_vi *vi)
{
    ef_vi_txq_state *qs = &vi->ep_state->txq;
    return (int)(vi->vi_txq.mask - (qs->added - qs->removed));
}
static inline int ef_vi_transmit_fill_level(const ef_vi *vi)
{
    ef_vi_txq_state *qs = &vi->ep_state->txq;
    return (int)(qs->added - qs->removed);
}
static inline int ef_vi_transmit_space_bytes(const ef_vi *vi)
{
    ef_vi_txq_state *qs = &vi->ep_state->txq;
    return (int)(vi->vi_txq.ct_fifo_bytes - (qs->ct_added - qs->ct_removed));
}
static inline int ef_vi_transmit_fill_level_bytes(const ef_vi *vi)
{
    ef_vi_txq_state *qs = &vi->ep_state->txq;
    return (int)(qs->ct_added - qs->ct_removed);
}
static inline int ef_vi_transmit_capacity(const ef_vi *vi)
{
    return (int)vi->vi_txq.mask;
}

extern int ef_vi_transmit_init(ef_vi *vi, ef_addr addr, int bytes, ef_request_id dma_id);

#define ef_vi_transmitv_init(vi, iov, iov_len, dma_id)                                             \
    (vi)->ops.transmitv_init((vi), (iov), (iov_len), (dma_id))
#define ef_vi_transmit_push(vi)               (vi)->ops.transmit_push((vi))
#define ef_vi_transmit(vi, base, len, dma_id) (vi)->ops.transmit((vi), (base), (len), (dma_id))
#define ef_vi_transmitv(vi, iov, iov_len, dma_id)                                                  \
    (vi)->ops.transmitv((vi), (iov), (iov_len), (dma_id))
#define ef_vi_transmit_pio(vi, offset, len, dma_id)                                                \
    (vi)->ops.transmit_pio((vi), (offset), (len), (dma_id))
#define ef_vi_transmit_copy_pio(vi, pio_offset, src_buf, len, dma_id)                              \
    (vi)->ops.transmit_copy_pio((vi), (pio_offset), (src_buf), (len), (dma_id))

#define EF_VI_TRANSMIT_BATCH 64
extern int ef_vi_transmit_unbundle(ef_vi *ep, const ef_event *event, ef_request_id *ids);

#define ef_vi_transmitv_ctpio(vi, frame_len, frame_iov, frame_iov_len, ct_threshold)               \
    (vi)->ops.transmitv_ctpio((vi), (frame_len), (frame_iov), (frame_iov_len), (ct_threshold))

static inline void ef_vi_transmit_ctpio(ef_vi *vi, const void *frame_buf, size_t frame_len,
                                        unsigned ct_threshold)
{
    struct iovec iov = {(void *)frame_buf, frame_len};
    ef_vi_transmitv_ctpio(vi, frame_len, &iov, 1, ct_threshold);
}

#define ef_vi_transmit_ctpio_fallback(vi, dma_addr, len, dma_id)                                   \
    (vi)->ops.transmit_ctpio_fallback((vi), (dma_addr), (len), (dma_id))
#define ef_vi_transmitv_ctpio_fallback(vi, dma_iov, dma_iov_len, dma_id)                           \
    (vi)->ops.transmitv_ctpio_fallback((vi), (dma_iov), (dma_iov_len), (dma_id))

#define EF_VI_CTPIO_CT_THRESHOLD_SNF 0xffff

/* ---- event queue ---- */

#define ef_eventq_prime(vi)               (vi)->ops.eventq_prime((vi))
#define ef_eventq_poll(evq, evs, evs_len) (evq)->ops.eventq_poll((evq), (evs), (evs_len))

extern int ef_eventq_capacity(ef_vi *vi);
/* True if ef_eventq_poll() would return event(s) now. The real one reads the next event's slot;
   the emulated NIC first does the work a NIC does on its own (completes transmissions, takes the
   next frames off the wire), as ef_eventq_poll does. */
extern int ef_eventq_has_event(ef_vi *vi);

static inline unsigned ef_eventq_current(ef_vi *evq)
{
    return (unsigned)evq->ep_state->evq.evq_ptr;
}

#ifdef __cplusplus
}
#endif

#endif
