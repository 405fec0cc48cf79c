/* A received frame as its receiver lends it out: a link to the engine, the simulated wire to a
   link. The bytes stay in the receiver's buffer until the buffer is given back by id. */
#ifndef EFVITCP_FRAME_H
#define EFVITCP_FRAME_H

#include <stdint.h>

/** What the hardware verified of a frame (et_rx_frame.csum): software checks only the rest. */
enum {
    ET_RX_CSUM_IP = 1u << 0,  /**< the IPv4 header checksum is correct */
    ET_RX_CSUM_TCP = 1u << 1, /**< the TCP checksum is correct */
};

/** A received frame, by pointer into its receiver's buffer. */
typedef struct et_rx_frame {
    uint8_t *data;  /**< Ethernet header */
    uint32_t len;   /**< frame length without FCS */
    uint32_t id;    /**< the receiver's buffer id, to give the buffer back */
    uint64_t hw_ts; /**< hardware RX timestamp in ns, 0 if none */
    uint32_t csum;  /**< ET_RX_CSUM_*: checksums the hardware verified, 0 if none */
} et_rx_frame;

#endif
