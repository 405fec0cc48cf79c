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
 */
#ifndef EFVITCP_LINK_H
#define EFVITCP_LINK_H

#include <stdint.h>

struct efvitcp_config;

/** A received frame, by pointer into a link buffer. */
typedef struct et_rx_frame {
    uint8_t *data;  /**< Ethernet header */
    uint32_t len;   /**< frame length without FCS */
    uint32_t id;    /**< link buffer id, for rx_release */
    uint64_t hw_ts; /**< hardware RX timestamp in ns, 0 if none */
} et_rx_frame;

/** Capabilities. */
enum {
    ET_LINK_CAP_RX_CSUM = 1u << 0, /**< the link verified IP and TCP checksums of good frames */
    ET_LINK_CAP_HW_TS = 1u << 1,   /**< RX hardware timestamps */
    ET_LINK_CAP_OWN_ADDR = 1u << 2 /**< the stack owns its address: it must answer ARP itself */
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
    /** Makes queued transmissions go out (doorbell); may be a no-op. */
    void (*tx_flush)(struct et_link *l);
    /** Writes ids of tx buffers whose transmission completed; returns how many (<= max). */
    int (*tx_done)(struct et_link *l, uint32_t *ids, int max);
    /** The link's monotonic clock in ns. */
    uint64_t (*now)(struct et_link *l);
    /** Installs / removes steering for a flow; 0 on success. NULL when not needed. */
    int (*flow_add)(struct et_link *l, const et_flow *f);
    int (*flow_del)(struct et_link *l, const et_flow *f);
    /** Releases everything the link holds (buffers included). */
    void (*destroy)(struct et_link *l);
} et_link_ops;

typedef struct et_link {
    const et_link_ops *ops;
    uint8_t mac[6];
    uint32_t mtu;        /**< IP MTU */
    uint32_t caps;       /**< ET_LINK_CAP_* */
    uint32_t local_ip;   /**< host order; 0 if the engine must take it from the config */
    uint32_t prefix_len; /**< of local_ip */
    uint32_t gateway;    /**< host order, 0 = none */
    uint8_t *tx_base;    /**< tx buffer i is tx_base + i * tx_buf_size */
    uint32_t tx_buf_size;
    uint32_t n_tx;
} et_link;

/** What the engine asks of a link when it opens it. */
typedef struct et_link_params {
    uint32_t n_tx;        /**< transmit buffers */
    uint32_t tx_buf_size; /**< 1024 or 2048 */
    uint32_t n_rx;        /**< receive buffers */
} et_link_params;

/**
 * Opens the link named by interface ("mem:NAME", ...). Returns NULL and sets *out, or an error.
 * Links that own an address take it from cfg->local_addr / cfg->gateway.
 */
const char *et_link_open(const char *interface, const struct efvitcp_config *cfg,
                         const et_link_params *p, et_link **out);

/** The mem link (src/link/mem.c). */
const char *et_mem_link_open(const char *name, const struct efvitcp_config *cfg,
                             const et_link_params *p, et_link **out);

static inline uint8_t *et_link_tx_buf(const et_link *l, uint32_t id)
{
    return l->tx_base + (uint64_t)id * l->tx_buf_size;
}

#endif
