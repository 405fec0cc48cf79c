/*
 * Internal hooks into the simulated wire (src/wire), for tests and tools that must put frames on
 * the wire without a stack: segment-level scripts drive one stack through a raw endpoint, the ef_vi
 * emulator's NIC ports are raw endpoints, and the simulator hashes every frame through the tap and
 * follows the injected faults through the fault hook.
 *
 * A raw endpoint is an ordinary wire port (it has a MAC, counts against max_ports, receives
 * unicast to its MAC and broadcasts) whose frames are copied out by et_wire_raw_recv() instead of
 * being lent to an engine, so it has no receive-buffer limit.
 */
#ifndef EFVITCP_WIRE_HOOKS_H
#define EFVITCP_WIRE_HOOKS_H

#include <stdint.h>

struct efvitcp_wire;

/** Why frames were lost on a wire, and how many were carried. */
typedef struct et_wire_stats {
    uint64_t sent;         /**< frames handed to the wire by senders (broadcast counts once) */
    uint64_t delivered;    /**< copies handed to a receiver */
    uint64_t drop_mtu;     /**< longer than mtu + 14, or shorter than an Ethernet header */
    uint64_t drop_queue;   /**< the sender's drop-tail queue was full */
    uint64_t drop_no_slot; /**< every frame slot of the wire was in use */
    uint64_t drop_unknown; /**< no endpoint has the destination MAC */
    uint64_t drop_rx_full; /**< due while the receiver held all of its n_rx buffers */
    /* injected faults (efvitcp_wire_set_faults); drop_mtu above counts an mtu override too */
    uint64_t fault_partition;     /**< frames dropped by a partition */
    uint64_t fault_loss;          /**< frames dropped by Bernoulli loss */
    uint64_t fault_burst_loss;    /**< frames dropped by Gilbert-Elliott loss */
    uint64_t fault_dup;           /**< extra copies made */
    uint64_t fault_jitter;        /**< copies delayed by a non-zero jitter */
    uint64_t fault_corrupt;       /**< copies with a bit flipped, checksums left */
    uint64_t fault_corrupt_fixed; /**< copies with a TCP header bit flipped, checksum fixed */
    uint64_t fault_tx_refused;    /**< frames the sender's link refused (tx_refuse) */
} et_wire_stats;

/** Kinds of injected faults reported to the fault hook. */
enum {
    ET_WIRE_FAULT_PARTITION = 1,
    ET_WIRE_FAULT_LOSS,
    ET_WIRE_FAULT_BURST_LOSS,
    ET_WIRE_FAULT_MTU,
    ET_WIRE_FAULT_DUP,
    ET_WIRE_FAULT_CORRUPT,
    ET_WIRE_FAULT_CORRUPT_FIXED,
};

/**
 * Attaches an endpoint that is not a stack. name: 1..31 characters, unique on the wire. On
 * success returns NULL, writes its MAC (02:00:00:00:00:port+1) and port number.
 */
const char *et_wire_raw_attach(struct efvitcp_wire *w, const char *name, uint8_t mac_out[6],
                               int *port_out);
/** Detaches a raw endpoint, dropping the frames still in flight to it. Ignores other ports. */
void et_wire_raw_detach(struct efvitcp_wire *w, int port);
/**
 * Sends a frame from a raw endpoint through the same path as a stack's frames (bandwidth, queue,
 * latency, MTU, tap). 0 when the wire took it (it may still have dropped it, counted), -1 for a
 * port that is not a raw endpoint, a NULL frame, len beyond a wire slot, or a frame refused by
 * the endpoint's tx_refuse fault.
 */
int et_wire_raw_send(struct efvitcp_wire *w, int port, const uint8_t *frame, uint32_t len);
/**
 * Copies the next frame due at the raw endpoint into buf and returns its length; 0 if none is due;
 * -1 for a bad port, or if cap is too small (the frame then stays queued).
 */
int et_wire_raw_recv(struct efvitcp_wire *w, int port, uint8_t *buf, uint32_t cap);
/**
 * Installs a tap called for every frame a sender puts on the wire, before any drop decision, at
 * the send time (like a capture on the sender's interface). NULL removes it. The frame is valid
 * only during the call.
 */
void et_wire_set_tap(struct efvitcp_wire *w,
                     void (*tap)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                                 uint64_t now_ns),
                     void *ctx);
/**
 * Installs a hook called for each injected fault (ET_WIRE_FAULT_*) as it happens, after the tap.
 * For a drop, frame is the frame lost; for a duplicate, the frame; for a corruption, the altered
 * copy as it will arrive, and bit names the flipped bit (byte bit / 8, mask 1 << (bit % 8)); bit
 * is UINT32_MAX otherwise. NULL removes it. The frame is valid only during the call.
 */
void et_wire_set_fault_hook(struct efvitcp_wire *w,
                            void (*hook)(void *ctx, uint32_t from_port, int kind,
                                         const uint8_t *frame, uint32_t len, uint32_t bit),
                            void *ctx);
/** Fills *st with the wire's counters. */
void et_wire_get_stats(const struct efvitcp_wire *w, et_wire_stats *st);

#endif
