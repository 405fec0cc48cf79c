/* Neighbour cache and ARP frames (RFC 826) for links where the stack owns its address. */
#include "neigh.h"

#include <stdlib.h>
#include <string.h>

#include "headers.h"

int et_neigh_init(et_neigh *n, uint32_t cap)
{
    n->e = NULL;
    n->cap = 0;
    n->lock_ns = 0;
    if (cap == 0) return 0;
    n->e = calloc(cap, sizeof(*n->e));
    if (!n->e) return -1;
    n->cap = cap;
    return 0;
}

void et_neigh_free(et_neigh *n)
{
    free(n->e);
    n->e = NULL;
    n->cap = 0;
}

et_neigh_entry *et_neigh_find(et_neigh *n, uint32_t ip)
{
    /* ip 0 marks a free slot, so it must never match one. */
    if (ip == 0) return NULL;
    for (uint32_t i = 0; i < n->cap; i++)
        if (n->e[i].ip == ip) return &n->e[i];
    return NULL;
}

/* A free slot, else the entry we needed least recently (et_neigh_get), the oldest first among
   those never needed: entries that ARP from other hosts created go before any of ours, so a flood
   of them from many addresses evicts only its own, never the entry a connection waits for. */
static et_neigh_entry *victim(et_neigh *n)
{
    et_neigh_entry *v = NULL;
    for (uint32_t i = 0; i < n->cap; i++) {
        et_neigh_entry *e = &n->e[i];
        if (e->ip == 0) return e;
        if (!v || e->used_ns < v->used_ns ||
            (e->used_ns == v->used_ns && e->updated_ns < v->updated_ns))
            v = e;
    }
    return v;
}

static et_neigh_entry *create(et_neigh *n, uint32_t ip, uint64_t now_ns)
{
    et_neigh_entry *e = victim(n);
    if (!e) return NULL; /* cap 0 */
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    e->updated_ns = now_ns;
    e->next_try_ns = now_ns; /* a request is due at once */
    return e;
}

et_neigh_entry *et_neigh_get(et_neigh *n, uint32_t ip, uint64_t now_ns)
{
    if (ip == 0) return NULL;
    et_neigh_entry *e = et_neigh_find(n, ip);
    if (!e && !(e = create(n, ip, now_ns))) return NULL;
    e->used_ns = now_ns;
    return e;
}

et_neigh_entry *et_neigh_learn(et_neigh *n, uint32_t ip, const uint8_t mac[6], unsigned flags,
                               uint64_t now_ns, et_neigh_news *news)
{
    et_neigh_news dummy;
    if (!news) news = &dummy;
    *news = ET_NEIGH_IGNORED;
    /* A group or zero sender address is never a neighbour's own; taking it would send unicast
       TCP to every host, or nowhere. */
    if (ip == 0 || !et_mac_is_host(mac)) return NULL;
    et_neigh_entry *e = et_neigh_find(n, ip);
    if (e) {
        if (!e->resolved)
            *news = ET_NEIGH_RESOLVED;
        else if (memcmp(e->mac, mac, 6) == 0)
            *news = ET_NEIGH_CONFIRMED;
        else if (!(flags & ET_NEIGH_OVERRIDE) && now_ns - e->mac_ns < n->lock_ns) {
            *news = ET_NEIGH_LOCKED;
            return NULL;
        } else
            *news = ET_NEIGH_MOVED;
    } else if ((flags & ET_NEIGH_CREATE) && (e = create(n, ip, now_ns))) {
        *news = ET_NEIGH_CREATED;
    } else {
        return NULL;
    }
    if (*news != ET_NEIGH_CONFIRMED) {
        memcpy(e->mac, mac, 6);
        e->mac_ns = now_ns;
    }
    e->resolved = true;
    e->updated_ns = now_ns;
    return e;
}

static inline uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *put_mac(uint8_t *p, const uint8_t *mac)
{
    memcpy(p, mac, 6);
    return p + 6;
}

uint32_t et_arp_build(uint8_t *buf, uint16_t oper, const uint8_t my_mac[6], uint32_t my_ip,
                      const uint8_t dst_mac[6], uint32_t dst_ip)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[6];
    /* RFC 826: a request is broadcast and leaves the target hardware address unknown (zero);
       dst_mac is not read for it and may be NULL. */
    bool req = oper == 1;
    uint8_t *p = buf;
    p = put_mac(p, req ? bcast : dst_mac);
    p = put_mac(p, my_mac);
    p = put16(p, ET_ETHERTYPE_ARP);
    p = put16(p, 1); /* hardware: Ethernet */
    p = put16(p, ET_ETHERTYPE_IP);
    *p++ = 6;
    *p++ = 4;
    p = put16(p, oper);
    p = put_mac(p, my_mac);
    p = put32(p, my_ip);
    p = put_mac(p, req ? zero : dst_mac);
    p = put32(p, dst_ip);
    return (uint32_t)(p - buf);
}
