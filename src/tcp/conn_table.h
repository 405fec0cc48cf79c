/*
 * Exact-match table from a 4-tuple (remote address, remote port, local port; the local address is
 * the instance's) to a 32-bit value. Open addressing with linear probing and backward-shift
 * deletion; the capacity is fixed at init to at least twice the number of entries it must hold,
 * so probes stay short and inserts never fail for lack of room.
 */
#ifndef EFVITCP_CONN_TABLE_H
#define EFVITCP_CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

/** A key and its value side by side: a lookup touches one cache line, not two. */
typedef struct et_ct_slot {
    uint64_t key; /**< 0 = empty */
    uint32_t val;
} et_ct_slot;

typedef struct et_conn_table {
    et_ct_slot *slots;
    uint32_t mask;
    uint32_t count, max;
    uint64_t hash_key; /**< per-instance secret mixed into the hash (hash flooding) */
    /* The last key found and its value (hot_key 0: none): a connection's segments come in
       runs, and a hit costs one comparison instead of the hash and the probe. */
    uint64_t hot_key;
    uint32_t hot_val;
} et_conn_table;

/** Key of a tuple (host order). Never 0 for a valid tuple (remote_port and local_port nonzero). */
static inline uint64_t et_ct_key(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port)
{
    return ((uint64_t)remote_ip << 32) | ((uint32_t)remote_port << 16) | local_port;
}

/** Room for max entries (at most 1 << 30). 0 on success, -1 if out of range or out of memory. */
int et_ct_init(et_conn_table *t, uint32_t max, uint64_t hash_key);
void et_ct_free(et_conn_table *t);
/** Value for key, or UINT32_MAX. */
uint32_t et_ct_find(const et_conn_table *t, uint64_t key);
uint32_t et_ct_lookup_slow(et_conn_table *t, uint64_t key);

/** et_ct_find for the receive path: remembers what it found, so that the next segment of the
    same connection costs one comparison. */
static inline uint32_t et_ct_lookup(et_conn_table *t, uint64_t key)
{
    if (key == t->hot_key && key) return t->hot_val;
    return et_ct_lookup_slow(t, key);
}
/** Inserts key (which must be absent). Returns false when max entries are present, and (changing
    nothing) when key is already present or is 0. */
bool et_ct_insert(et_conn_table *t, uint64_t key, uint32_t val);
/** Removes key; returns false if absent. */
bool et_ct_remove(et_conn_table *t, uint64_t key);

#endif
