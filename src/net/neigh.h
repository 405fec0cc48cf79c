/*
 * Neighbour cache for links where the stack owns its address (mem, dedicated interfaces): ARP
 * requests and replies (RFC 826) and a bounded table. Fixed capacity, no allocation after init.
 */
#ifndef EFVITCP_NEIGH_H
#define EFVITCP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

typedef struct et_neigh_entry {
    uint32_t ip; /**< host order; 0 = free */
    uint8_t mac[6];
    bool resolved;
    uint8_t tries;       /**< ARP requests sent while unresolved */
    uint64_t updated_ns; /**< last confirmation (reply or request from it) */
    uint64_t next_try_ns;
} et_neigh_entry;

typedef struct et_neigh {
    et_neigh_entry *e;
    uint32_t cap;
} et_neigh;

/** cap entries, allocated here (init time). 0 on success. */
int et_neigh_init(et_neigh *n, uint32_t cap);
void et_neigh_free(et_neigh *n);
/** The entry for ip, or NULL. */
et_neigh_entry *et_neigh_find(et_neigh *n, uint32_t ip);
/** The entry for ip, created unresolved if missing (evicting the least recently updated
    unresolved entry, then the oldest, when full). NULL only when cap is 0 or ip is 0. */
et_neigh_entry *et_neigh_get(et_neigh *n, uint32_t ip, uint64_t now_ns);
/** Records ip -> mac. Only updates an existing entry unless create is true (RFC 826 merge: we
    create on requests addressed to us). Returns the entry, or NULL when there is none or ip is 0
    or mac is zero or a group address (never learnt). */
et_neigh_entry *et_neigh_learn(et_neigh *n, uint32_t ip, const uint8_t mac[6], bool create,
                               uint64_t now_ns);

/**
 * Writes a 42-byte ARP frame into buf: oper 1 (request, broadcast, tha zero) or 2 (reply to
 * dst_mac; dst_mac is not read for a request and may be NULL). Addresses in host order. Returns
 * the frame length.
 */
uint32_t et_arp_build(uint8_t *buf, uint16_t oper, const uint8_t my_mac[6], uint32_t my_ip,
                      const uint8_t dst_mac[6], uint32_t dst_ip);

#endif
