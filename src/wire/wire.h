/*
 * The simulated wire (efvitcp_wire in the public API) as a link sees it: a port that lends the
 * frames arriving for it, zero copy, and sends frames from its user. The mem link is one such port
 * per stack. Tests and tools reach further through wire_hooks.h.
 */
#ifndef EFVITCP_WIRE_H
#define EFVITCP_WIRE_H

#include <stdint.h>

#include "net/frame.h"
#include "util/clock.h"

struct efvitcp_wire;

/**
 * Attaches a lending port named name (1..31 characters, unique on the wire). Sets *owner to w;
 * if the wire is freed while the port is attached, it sets *owner to NULL, so that its user
 * stops touching the wire. Writes the port number and its MAC (02:00:00:00:00:port+1).
 */
const char *et_wire_port_attach(struct efvitcp_wire *w, const char *name,
                                struct efvitcp_wire **owner, uint32_t *port, uint8_t mac[6]);
/** Detaches a lending port, dropping the frames in flight to it and those it still holds. */
void et_wire_port_detach(struct efvitcp_wire *w, uint32_t port);
/** The wire's IP MTU. */
uint32_t et_wire_mtu(const struct efvitcp_wire *w);
/** Puts a frame on the wire from port: bandwidth, queue, latency, faults and tap apply. 0 when
    the wire took it (it may still have dropped it, counted), -1 when the port's link refuses it
    (the tx_refuse fault): the frame never left, and the sender keeps it. */
int et_wire_send(struct efvitcp_wire *w, uint32_t port, const uint8_t *frame, uint32_t len);
/**
 * Lends up to max frames due at port by the wire's clock, in delivery order; a frame's id is its
 * wire slot and it has no hardware timestamp. While the port holds max_held frames, frames due
 * are dropped (counted), as a NIC with an empty ring drops them.
 */
int et_wire_lend(struct efvitcp_wire *w, uint32_t port, uint32_t max_held, et_rx_frame *out,
                 int max);
/** Gives lent slot id back; a slot the port does not hold is ignored. */
void et_wire_give_back(struct efvitcp_wire *w, uint32_t port, uint32_t id);
/**
 * Idle waits (efvitcp_*_prime): arms port so that the next frame queued for it writes 1 to
 * wake_fd (an eventfd) and disarms it; a port's user sleeping on wake_fd then loses no frame sent
 * after this call. Returns 1 when a frame is due at port already (no write comes for it: poll
 * instead of sleeping), else 0. Any port, lending or raw.
 */
int et_wire_port_arm(struct efvitcp_wire *w, uint32_t port, int wake_fd);
/** When the earliest frame queued for port is due (UINT64_MAX: none), for a sleeper's timeout. */
uint64_t et_wire_port_next(const struct efvitcp_wire *w, uint32_t port);
/** The wire's time in ns (efvitcp_wire_now): virtual, or CLOCK_MONOTONIC; 0 for NULL. */
uint64_t et_wire_now(const struct efvitcp_wire *w);
/** The wire's clock as an et_clock, for those that run on it (the emulator's NIC ports, the mem
    link); its tsc is the wire's when the wire's time is read from the TSC. */
et_clock et_wire_clock(const struct efvitcp_wire *w);

#endif
