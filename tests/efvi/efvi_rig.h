/*
 * The setup the efvi link tests share: a simulated wire, an emulated NIC on it, a raw endpoint as
 * the peer, and a small client on the NIC's port, whose et_link a test drives directly or through
 * the client. A test sets what it needs in the rig's configurations between efvi_rig_init and
 * efvi_rig_open, so that each test's values stay in the test; efvi_rig_close checks what the
 * emulator saw once the client is gone, and frees the rest.
 */
#ifndef EFVITCP_EFVI_RIG_H
#define EFVITCP_EFVI_RIG_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "harness.h"
#include "wire/wire_hooks.h"

typedef struct {
    efvitcp_wire_config wc; /* the wire's, before efvi_rig_open */
    efvi_emu_nic_config nc; /* the NIC's, before efvi_rig_open */
    efvitcp_config cfg;     /* the client's, before efvi_rig_open (which sets its wire) */
    efvitcp_wire *w;
    efvi_emu_nic *nic;
    uint8_t peer_mac[6];
    int peer; /* the raw peer's endpoint on the wire; -1: none */
    efvitcp_client *c;
    et_link *l; /* c's */
} efvi_rig;

/* A small instance on w: 4 connections, 16 send slots, 64 receive buffers. */
static inline void efvi_rig_base_cfg(efvitcp_config *cfg, efvitcp_wire *w, const char *addr)
{
    efvitcp_config_default(cfg);
    cfg->max_conns = 4;
    cfg->send_slots = 16;
    cfg->rx_bufs = 64;
    cfg->wire = w;
    cfg->local_addr = addr;
}

/* The defaults: a default wire, a NIC of arch, the small client at 198.18.0.2/15. */
static inline void efvi_rig_init(efvi_rig *r, int arch)
{
    memset(r, 0, sizeof(*r));
    efvitcp_wire_config_default(&r->wc);
    efvi_emu_nic_config_default(&r->nc);
    r->nc.arch = arch;
    efvi_rig_base_cfg(&r->cfg, NULL, "198.18.0.2/15");
    r->peer = -1;
}

/*
 * The wire, the NIC as port on it, a raw endpoint "peer" when peer (a test of the link's filters
 * alone has none), and the client on "efvi:PORT", with ",OPTS" unless opts is NULL. False, having
 * said why, when any of them fails (for the test's REQUIRE).
 */
static inline bool efvi_rig_open(efvi_rig *r, const char *port, const char *opts, bool peer)
{
    char ifname[128];
    if (opts)
        snprintf(ifname, sizeof(ifname), "efvi:%s,%s", port, opts);
    else
        snprintf(ifname, sizeof(ifname), "efvi:%s", port);
    const char *err = efvitcp_wire_new(&r->w, &r->wc);
    if (!err) err = efvi_emu_nic_create(r->w, port, &r->nc, &r->nic);
    if (!err && peer) err = et_wire_raw_attach(r->w, "peer", r->peer_mac, &r->peer);
    r->cfg.wire = r->w;
    if (!err) err = efvitcp_client_init(&r->c, ifname, &r->cfg);
    if (err) {
        fprintf(stderr, "efvi_rig_open(%s): %s\n", ifname, err);
        return false;
    }
    r->l = ((et_stack *)r->c)->link;
    return true;
}

/* What efvi_rig_close checks in the emulator's counters once the client is closed. */
enum {
    EFVI_RIG_NO_VIOLATIONS = 1, /* no API violation the emulator counts (the last one said) */
    EFVI_RIG_NO_FILTERS = 2,    /* closing removed every filter */
    EFVI_RIG_CHECKS = EFVI_RIG_NO_VIOLATIONS | EFVI_RIG_NO_FILTERS,
};

/*
 * Closes the client (unless the test closed it and cleared c), checks what checks says, leaves the
 * counters in *es for the test's own checks (es may be NULL), and frees the peer, the NIC and the
 * wire.
 */
static inline void efvi_rig_close(efvi_rig *r, int checks, efvi_emu_stats *es)
{
    if (r->c) efvitcp_client_close(r->c);
    efvi_emu_stats st;
    efvi_emu_get_stats(r->nic, &st);
    if (checks & EFVI_RIG_NO_VIOLATIONS) {
        CHECK_EQ(st.violations, 0);
        if (st.violations) fprintf(stderr, "violation: %s\n", st.last_violation);
    }
    if (checks & EFVI_RIG_NO_FILTERS) CHECK_EQ(st.filters, 0);
    if (es) *es = st;
    if (r->peer >= 0) et_wire_raw_detach(r->w, r->peer);
    efvi_emu_nic_put(r->nic);
    efvitcp_wire_free(r->w);
}

#endif
