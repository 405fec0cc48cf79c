/*
 * A two-instance rig for end-to-end tests: one server and one client joined by a mem wire with a
 * virtual clock. sim_run() polls both and jumps time to the next frame or timer, so tests never
 * sleep and every run is the same.
 *
 * Extras for harder scenarios: an after-poll hook (refill senders, catch up slow readers), a drop
 * filter that discards chosen frames on the wire (cut the wire, lose one FIN), and raw "hosts":
 * extra wire endpoints that answer ARP for an address and swallow everything else (a peer that
 * never answers TCP).
 */
#ifndef EFVITCP_TEST_SIM_H
#define EFVITCP_TEST_SIM_H

#include <stdbool.h>

#include "efvitcp/efvitcp.h"

#define SIM_SERVER_IP "198.18.0.1"
#define SIM_CLIENT_IP "198.18.0.2"
/* Wire ports (and so MACs 02:00:00:00:00:port+1): sim_init attaches the server first. */
#define SIM_SERVER_PORT 0u
#define SIM_CLIENT_PORT 1u
#define SIM_MAX_HOSTS   4

/* Decides whether the wire loses a frame that port from_port is sending. */
typedef bool (*sim_drop_fn)(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                            uint64_t now_ns);

/* A raw endpoint standing for a host that answers ARP for ip (if answer_arp) and ignores TCP. */
typedef struct sim_host {
    int port;
    uint8_t mac[6];
    uint32_t ip; /* host order */
    bool answer_arp;
    uint64_t arp_requests; /* ARP requests for ip seen */
    uint64_t tcp_frames;   /* TCP frames addressed to it */
    uint64_t syns;         /* of which SYNs */
} sim_host;

/* The fields of a TCP frame a drop filter may look at (host order). */
typedef struct sim_tcp_info {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint32_t len; /* payload bytes */
} sim_tcp_info;

typedef struct sim {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    efvitcp_handler sh, ch; /* handlers for server and client */
    void *sctx, *cctx;
    uint64_t steps;
    /* called after every poll of both instances (may call connection operations) */
    void (*after_poll)(void *arg);
    void *after_poll_arg;
    sim_drop_fn drop;
    void *drop_ctx;
    uint64_t dropped; /* frames the drop filter discarded */
    sim_host hosts[SIM_MAX_HOSTS];
    uint32_t n_hosts;
} sim;

/*
 * Which link each instance of the next sim_init uses: "mem" (the default) or "efvi" (the efvi
 * link on an emulated NIC port of the wire, named after the instance: needs the support library
 * built against the ef_vi emulator, tests/efvi). Link options follow a comma ("efvi,rxts" opens
 * "efvi:server,rxts"). NULL keeps the current choice. Builds with
 * SIM_DEFAULT_LINK defined start with that link for both.
 */
void sim_set_links(const char *server_link, const char *client_link);
/* Both instances of the next sim_init use the mem link (faults of the link itself, such as the
   wire's tx_refuse, apply to mem links only: an emulated NIC port sends what it is given). */
bool sim_links_mem(void);

/* Default configs used by sim_init when the arguments are NULL: small and deterministic. */
void sim_default_config(efvitcp_config *cfg, uint64_t seed);
/* Creates wire, server (listening on port if nonzero) and client. Returns an error or NULL. */
const char *sim_init(sim *s, const efvitcp_wire_config *wc, const efvitcp_config *scfg,
                     const efvitcp_config *ccfg, uint16_t port);
void sim_free(sim *s);
/* Polls both instances once at the current time (and the raw hosts, and the after-poll hook). */
void sim_poll(sim *s);
/* Runs until done(arg) is true or the virtual clock passes now + max_ns. Returns done(arg). */
bool sim_run(sim *s, uint64_t max_ns, bool (*done)(void *arg), void *arg);
/* Runs for exactly ns of virtual time. */
void sim_run_for(sim *s, uint64_t ns);
uint64_t sim_now(const sim *s);

/* Installs (fn non-NULL) or removes the drop filter. */
void sim_set_drop(sim *s, sim_drop_fn fn, void *ctx);
/* A drop filter that loses every frame: the wire is cut. */
bool sim_drop_all(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                  uint64_t now_ns);
/* Fills *t if frame is an IPv4 TCP frame; false otherwise. */
bool sim_tcp_frame(const uint8_t *frame, uint32_t len, sim_tcp_info *t);
/* Attaches a raw host with address ip ("A.B.C.D"). NULL or an error. */
const char *sim_add_host(sim *s, const char *ip, bool answer_arp, sim_host **out);

#endif
