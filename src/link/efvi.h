/*
 * Counters and state of the efvi link (src/link/efvi.c), for tests and tools. The link itself is
 * opened through et_link_open("efvi:IF[,option...]") (link.h).
 */
#ifndef EFVITCP_LINK_EFVI_H
#define EFVITCP_LINK_EFVI_H

#include <stdbool.h>
#include <stdint.h>

#include "link/link.h"

typedef struct et_efvi_stats {
    /* receive */
    uint64_t rx_frames;        /**< frames handed to the engine */
    uint64_t rx_discard_csum;  /**< RX_DISCARD CSUM_BAD (EFCT: L3/L4 checksum flags) */
    uint64_t rx_discard_crc;   /**< RX_DISCARD CRC_BAD (poisoned CTPIO frames among them) */
    uint64_t rx_discard_other; /**< other RX_DISCARD reasons */
    uint64_t rx_no_desc_trunc; /**< RX_NO_DESC_TRUNC: the ring ran dry inside a frame */
    uint64_t rx_jumbo;         /**< buffers of frames spread over several buffers (dropped) */
    uint64_t rx_bad_len;       /**< events whose length cannot be a frame */
    uint64_t rx_foreign;       /**< EFCT: packets of flows that are not ours (shared queue) */
    uint64_t rx_bad_event;     /**< RX events naming a buffer that was not posted */
    uint64_t rx_stale_release; /**< releases of an id not lent now (twice, or of a recreated VI) */
    /* transmit */
    uint64_t tx_frames;         /**< frames the engine handed over */
    uint64_t tx_ctpio;          /**< sent by CTPIO (with the DMA fallback posted) */
    uint64_t tx_dma;            /**< sent by plain DMA descriptors */
    uint64_t tx_queued;         /**< had to wait for ring or FIFO space in the link's queue */
    uint64_t tx_completions;    /**< completions reported to the engine */
    uint64_t tx_errors;         /**< TX_ERROR events */
    uint64_t tx_bad_completion; /**< completions naming a buffer not on the ring */
    uint64_t tx_timestamps;     /**< completions with the NIC's transmit time (txts) */
    /* recovery */
    uint64_t evq_oflow;         /**< OFLOW events */
    uint64_t resets;            /**< RESET events */
    uint64_t restarts;          /**< VIs recreated (OFLOW, RESET, TX_ERROR) */
    uint64_t restart_failures;  /**< recreations that failed (retried every 10 ms) */
    uint64_t restarts_deferred; /**< recreations put off until the engine gave its packets back */
    uint64_t ctpio_lost;        /**< recreations that got no CTPIO where the VI before had it (the
                                     driver refused it): sends go by DMA until one gets it back */
    /* steering */
    uint64_t filters_added, filters_removed, filter_failures;
    uint64_t filter_retries;   /**< installs tried again for flows without a filter */
    uint64_t filters_restored; /**< of which succeeded */
    uint32_t filters;          /**< hardware filters installed now (MAC filters included) */
    uint32_t flows;            /**< flows steered now */
    uint32_t flows_unsteered;  /**< of which without their filter now (retried; see efvi.c) */
    /* configuration found at open */
    bool efct;          /**< EFCT (X3) receive */
    bool ctpio;         /**< CTPIO transmit (the VI's now: a recreation may lose or regain it) */
    bool rx_timestamps; /**< hardware RX timestamps */
    uint32_t rx_csum; /**< ET_RX_CSUM_* the NIC verifies (its frames with bad ones are discards) */
    bool huge_pages;  /**< the packet buffers sit in huge pages */
    bool down;        /**< the VI is gone and being recreated */
    uint32_t prefix_len, rxq_capacity, txq_capacity;
} et_efvi_stats;

/** Fills *st if l is an efvi link; false otherwise. */
bool et_efvi_link_stats(const et_link *l, et_efvi_stats *st);

#endif
