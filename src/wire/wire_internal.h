/*
 * Internals of the simulated wire, shared by its files: wire.c (the wire, its clock, ports, frame
 * slots and delivery), faults.c (injected faults), raw.c (raw endpoints and observers) and
 * slot_heap.h (slots and the per-port delivery heap).
 *
 * Every frame in flight sits in a wire slot allocated when the wire is made. Each port has a
 * min-heap of slot indices keyed by (delivery time, sequence number): the sequence number keeps
 * frames due at the same instant in the order they were sent.
 */
#ifndef EFVITCP_WIRE_INTERNAL_H
#define EFVITCP_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "util/clock.h"
#include "util/random.h"
#include "wire/wire_hooks.h"

#define WIRE_NAME_MAX   31u
#define WIRE_MAX_COPIES 2 /* a duplication fault makes a second copy */
#define ETH_HDR_LEN     14u

enum { SLOT_FREE = 0, SLOT_QUEUED, SLOT_HELD };

typedef struct wire_slot {
    uint64_t at;  /* delivery time */
    uint64_t seq; /* send order, breaks ties of at */
    uint32_t len;
    uint16_t port; /* receiver while queued or held */
    uint8_t state;
} wire_slot;

typedef struct wire_port {
    bool used, raw;
    char name[WIRE_NAME_MAX + 1];
    uint64_t line_free; /* when the sender's line finishes its last admitted frame */
    uint32_t *heap;     /* slot indices; max_frames entries, so it can never overflow */
    uint32_t heap_len;
    uint32_t held;               /* slots lent to the port's user and not yet given back */
    struct efvitcp_wire **owner; /* cleared if the wire is freed under a lending port */
    /* idle waits (et_wire_port_arm): the first frame queued while armed writes wake_fd */
    bool armed;
    int wake_fd;
    /* faults of the frames this endpoint sends */
    bool has_faults;
    bool ge_bad; /* Gilbert-Elliott chain in its bad state */
    efvitcp_wire_faults faults;
    et_rng rng;
} wire_port;

struct efvitcp_wire {
    efvitcp_wire_config cfg;
    uint32_t slot_size;
    uint64_t queue_ns; /* queue_bytes worth of serialisation time */
    uint8_t *mem;
    wire_slot *slots;
    uint32_t *free_list;
    uint32_t n_free;
    wire_port *ports;
    uint64_t now; /* virtual clock */
    /* The real clock read from the TSC where it serves (util/tsc_clock.h), else NULL: ports
       read the time every poll. A pointer, so that a const wire can still re-anchor it. */
    et_tsc *tsc;
    et_tsc tsc_state;
    uint64_t seq;
    et_wire_stats st;
    void (*tap)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len, uint64_t now_ns);
    void *tap_ctx;
    void (*fault_hook)(void *ctx, uint32_t from_port, int kind, const uint8_t *frame, uint32_t len,
                       uint32_t bit);
    void *fault_ctx;
};

/** a + b, UINT64_MAX when it overflows: a time that never comes rather than one long past. */
static inline uint64_t wire_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/** The wire's time (et_wire_now), inline for the wire's own hot paths. */
static inline uint64_t wire_now(const efvitcp_wire *w)
{
    if (!w) return 0;
    if (w->cfg.virtual_clock) return w->now;
    if (w->tsc) return et_tsc_now(w->tsc);
    return et_mono_ns();
}

/* wire.c; et_wire_send, et_wire_port_detach and et_wire_now (wire.h) serve every kind of port */
/** Attaches a port named name (1..31 characters, unique); NULL or an error. */
const char *wire_port_attach(efvitcp_wire *w, const char *name, uint32_t *idx_out);
/** The MAC of port idx: 02:00:00:00:00:idx+1. */
void wire_port_mac(uint32_t idx, uint8_t mac[6]);

/* faults.c (only for ports with faults set) */
/**
 * The injected losses and duplication of a frame that the line carried: returns how many
 * copies arrive (0: lost, counted and reported) and, in at[], when, jitter included. arrive
 * is when the frame would arrive without faults.
 */
int wire_fault_admit(efvitcp_wire *w, uint32_t from_idx, const uint8_t *frame, uint32_t len,
                     uint64_t arrive, uint64_t at[WIRE_MAX_COPIES]);
/** Corruptions of one arriving copy f, in its wire slot. */
void wire_fault_corrupt(efvitcp_wire *w, uint32_t from_idx, uint8_t *f, uint32_t len);

/** Reports an injected fault to the fault hook, if any. */
static inline void wire_fault_note(efvitcp_wire *w, uint32_t from, int kind, const uint8_t *frame,
                                   uint32_t len, uint32_t bit)
{
    if (w->fault_hook) w->fault_hook(w->fault_ctx, from, kind, frame, len, bit);
}

#endif
