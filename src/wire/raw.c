/*
 * What tests and tools reach of a simulated wire (wire_hooks.h): raw endpoints, which put frames
 * on the wire and take them off without a stack, and the observers, the tap and the fault hook.
 */
#include <stdbool.h>
#include <string.h>

#include "wire/slot_heap.h"
#include "wire/wire.h"
#include "wire/wire_internal.h"

static wire_port *raw_port(efvitcp_wire *w, int port)
{
    if (!w || port < 0 || (uint32_t)port >= w->cfg.max_ports) return NULL;
    wire_port *p = &w->ports[port];
    return p->used && p->raw ? p : NULL;
}

const char *et_wire_raw_attach(efvitcp_wire *w, const char *name, uint8_t mac_out[6], int *port_out)
{
    if (!w) return "raw endpoint needs a wire";
    uint32_t idx;
    const char *err = wire_port_attach(w, name, &idx);
    if (err) return err;
    w->ports[idx].raw = true;
    if (mac_out) wire_port_mac(idx, mac_out);
    if (port_out) *port_out = (int)idx;
    return NULL;
}

void et_wire_raw_detach(efvitcp_wire *w, int port)
{
    if (raw_port(w, port)) et_wire_port_detach(w, (uint32_t)port);
}

int et_wire_raw_send(efvitcp_wire *w, int port, const uint8_t *frame, uint32_t len)
{
    if (!raw_port(w, port) || !frame || len > w->slot_size) return -1;
    return et_wire_send(w, (uint32_t)port, frame, len);
}

int et_wire_raw_recv(efvitcp_wire *w, int port, uint8_t *buf, uint32_t cap)
{
    wire_port *p = raw_port(w, port);
    if (!p) return -1;
    if (!p->heap_len) return 0;
    uint32_t s = p->heap[0];
    if (w->slots[s].at > wire_now(w)) return 0;
    uint32_t len = w->slots[s].len;
    if (len > cap || (len && !buf)) return -1;
    wire_heap_pop(w, p);
    memcpy(buf, w->mem + (size_t)s * w->slot_size, len);
    wire_slot_free(w, s);
    w->st.delivered++;
    return (int)len;
}

void et_wire_set_tap(efvitcp_wire *w,
                     void (*tap)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                                 uint64_t now_ns),
                     void *ctx)
{
    if (!w) return;
    w->tap = tap;
    w->tap_ctx = tap ? ctx : NULL;
}

void et_wire_set_fault_hook(efvitcp_wire *w,
                            void (*hook)(void *ctx, uint32_t from_port, int kind,
                                         const uint8_t *frame, uint32_t len, uint32_t bit),
                            void *ctx)
{
    if (!w) return;
    w->fault_hook = hook;
    w->fault_ctx = hook ? ctx : NULL;
}
