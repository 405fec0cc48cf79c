/*
 * A two-instance rig for end-to-end tests: one server and one client joined by a mem wire with a
 * virtual clock. sim_run() polls both and jumps time to the next frame or timer, so tests never
 * sleep and every run is the same.
 */
#ifndef EFVITCP_TEST_SIM_H
#define EFVITCP_TEST_SIM_H

#include <stdbool.h>

#include "efvitcp/efvitcp.h"

#define SIM_SERVER_IP "198.18.0.1"
#define SIM_CLIENT_IP "198.18.0.2"

typedef struct sim {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    efvitcp_handler sh, ch; /* handlers for server and client */
    void *sctx, *cctx;
    uint64_t steps;
} sim;

/* Default configs used by sim_init when the arguments are NULL: small and deterministic. */
void sim_default_config(efvitcp_config *cfg, uint64_t seed);
/* Creates wire, server (listening on port if nonzero) and client. Returns an error or NULL. */
const char *sim_init(sim *s, const efvitcp_wire_config *wc, const efvitcp_config *scfg,
                     const efvitcp_config *ccfg, uint16_t port);
void sim_free(sim *s);
/* Polls both instances once at the current time. */
void sim_poll(sim *s);
/* Runs until done(arg) is true or the virtual clock passes now + max_ns. Returns done(arg). */
bool sim_run(sim *s, uint64_t max_ns, bool (*done)(void *arg), void *arg);
/* Runs for exactly ns of virtual time. */
void sim_run_for(sim *s, uint64_t ns);
uint64_t sim_now(const sim *s);

#endif
