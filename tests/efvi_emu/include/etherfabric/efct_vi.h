/*
 * ef_vi emulator: etherfabric/efct_vi.h, receive on EFCT (X3) NICs: packets arrive in buffers
 * the driver owns (shared between every VI attached to the queue) and are announced by RX_REF
 * events; each must be released promptly. See ef_vi.h.
 */
#ifndef EFVI_EMU_EFCT_VI_H
#define EFVI_EMU_EFCT_VI_H

#include <etherfabric/ef_vi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The frame (Ethernet header first) of a packet from an RX_REF / RX_REF_DISCARD event. */
extern const void *efct_vi_rxpkt_get(struct ef_vi *vi, uint32_t pkt_id);
/** Its hardware timestamp: 0, or -ENODATA when the VI has no RX timestamps. */
extern int efct_vi_rxpkt_get_timestamp(struct ef_vi *vi, uint32_t pkt_id, ef_timespec *ts_out,
                                       unsigned *flags_out);
/** Gives the packet back; pkt_id and pointers into it are invalid afterwards. */
extern void efct_vi_rxpkt_release(struct ef_vi *vi, uint32_t pkt_id);
/** The start of a packet not yet completed, or NULL (the emulator completes packets at once). */
extern const void *efct_vi_rx_future_peek(struct ef_vi *vi);

#define EFCT_FUTURE_VALID_BYTES 62

#ifdef __cplusplus
}
#endif

#endif
