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
    uint64_t updated_ns;  /**< last confirmation (reply or request from it) */
    uint64_t mac_ns;      /**< when mac took its present value */
    uint64_t used_ns;     /**< when we last needed it (et_neigh_get); 0: never */
    uint64_t next_try_ns; /**< no request for it before this time */
} et_neigh_entry;

typedef struct et_neigh {
    et_neigh_entry *e;
    uint32_t cap;
    /** A resolved entry takes another MAC only this long after its last change (Linux's
        locktime): of two hosts answering for one address, the first answer stands, and a host
        flipping an entry back and forth moves the connections through it once per lock_ns at
        most. 0 (et_neigh_init's) takes every change. */
    uint64_t lock_ns;
} et_neigh;

/** What et_neigh_learn made of an address and MAC. */
typedef enum et_neigh_news {
    ET_NEIGH_IGNORED,   /**< nothing learnt: unknown and not created, or not a host's MAC */
    ET_NEIGH_CREATED,   /**< a new entry, resolved */
    ET_NEIGH_RESOLVED,  /**< an entry waiting for its MAC has it */
    ET_NEIGH_CONFIRMED, /**< the MAC it had */
    ET_NEIGH_MOVED,     /**< a resolved entry took another MAC */
    ET_NEIGH_LOCKED,    /**< another MAC within lock_ns of the last change: refused */
} et_neigh_news;

/** cap entries, allocated here (init time). 0 on success. */
int et_neigh_init(et_neigh *n, uint32_t cap);
void et_neigh_free(et_neigh *n);
/** The entry for ip, or NULL. */
et_neigh_entry *et_neigh_find(et_neigh *n, uint32_t ip);
/** The entry for ip, which we need (a connection through it): created unresolved if missing,
    in a free slot or else in place of the entry needed least recently (ARP from other hosts
    creates entries never needed: those go first). NULL only when cap is 0 or ip is 0. */
et_neigh_entry *et_neigh_get(et_neigh *n, uint32_t ip, uint64_t now_ns);

/** et_neigh_learn flags. */
enum {
    ET_NEIGH_CREATE = 1,   /**< create a missing entry (RFC 826 merge: a request addressed to us) */
    ET_NEIGH_OVERRIDE = 2, /**< take a new MAC within lock_ns (a gratuitous announcement) */
};
/** Records ip -> mac. Only updates an existing entry unless flags has ET_NEIGH_CREATE. Returns the
    entry, or NULL when nothing was learnt: no entry and no create, ip 0, mac zero or a group
    address (never learnt), or a change refused within lock_ns. news (may be NULL) says which. */
et_neigh_entry *et_neigh_learn(et_neigh *n, uint32_t ip, const uint8_t mac[6], unsigned flags,
                               uint64_t now_ns, et_neigh_news *news);

/** A host's own MAC: neither zero nor a group (multicast or broadcast) address. */
static inline bool et_mac_is_host(const uint8_t mac[6])
{
    return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/**
 * Writes a 42-byte ARP frame into buf: oper 1 (request, broadcast, tha zero) or 2 (reply to
 * dst_mac; dst_mac is not read for a request and may be NULL). Addresses in host order. Returns
 * the frame length.
 */
uint32_t et_arp_build(uint8_t *buf, uint16_t oper, const uint8_t my_mac[6], uint32_t my_ip,
                      const uint8_t dst_mac[6], uint32_t dst_ip);

#endif
