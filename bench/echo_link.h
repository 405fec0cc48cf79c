/*
 * How echo_bench puts its two instances on the wire: the mem link, or (in echo_bench_efvi, the
 * build against the ef_vi emulator) the efvi link on an emulated EF10 port with CTPIO or EFCT
 * port each. Kept apart so that echo_bench.c has no emulator code and no #ifdef of its own.
 */
#ifndef ECHO_LINK_H
#define ECHO_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"

typedef enum { ECHO_LINK_MEM = 0, ECHO_LINK_EFVI, ECHO_LINK_EFCT } echo_link;

/* The link named name ("mem", "efvi", "efct"); false with *why when this build has no such link. */
bool echo_link_parse(const char *name, echo_link *out, const char **why);
const char *echo_link_name(echo_link l);
/* For the human lines: "the mem link", "the efvi link on emulated EF10 ports (CTPIO)", ... */
const char *echo_link_what(echo_link l);

/* Opens the server or the client on link l, on cfg->wire; NULL or an error. */
const char *echo_link_server_init(echo_link l, efvitcp_server **out, const efvitcp_config *cfg);
const char *echo_link_client_init(echo_link l, efvitcp_client **out, const efvitcp_config *cfg);

/* Frames the emulated ports sent by cut-through (CTPIO) and by DMA, both ports together; zeros
   on the mem link. A CTPIO bench that falls back to DMA would measure another path. */
void echo_link_tx_counts(echo_link l, efvitcp_wire *w, uint64_t *ctpio, uint64_t *dma);

#endif
