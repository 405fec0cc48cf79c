/*
 * Connection table (see conn_table.h): open addressing, linear probing, backward-shift deletion.
 * Key 0 marks an empty slot, which is why a valid key is never 0.
 */
#include "tcp/conn_table.h"

#include <stdlib.h>

/* Above this the capacity (2 * max rounded up to a power of two) would not fit the 32-bit mask. */
#define MAX_ENTRIES  (1u << 30)
#define MIN_CAPACITY 16u

/*
 * The key is mixed with a per-instance secret and then through a multiply-xorshift finaliser, so
 * every input bit reaches the low bits used as the index: remote peers choose addresses and ports
 * and must not be able to pile them into one probe run.
 */
static inline uint32_t home_of(const et_conn_table *t, uint64_t key)
{
    uint64_t x = key ^ t->hash_key;
    /* Stafford's "Mix13" constants, as in splitmix64 */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint32_t)x & t->mask;
}

int et_ct_init(et_conn_table *t, uint32_t max, uint64_t hash_key)
{
    t->keys = NULL;
    t->vals = NULL;
    t->mask = 0;
    t->count = t->max = 0;
    t->hash_key = hash_key;
    if (max > MAX_ENTRIES) return -1;
    uint64_t cap = MIN_CAPACITY;
    while (cap < 2ull * max) cap <<= 1;
    t->keys = calloc(cap, sizeof(*t->keys));
    t->vals = calloc(cap, sizeof(*t->vals));
    if (!t->keys || !t->vals) {
        et_ct_free(t);
        return -1;
    }
    t->mask = (uint32_t)(cap - 1);
    t->max = max;
    return 0;
}

void et_ct_free(et_conn_table *t)
{
    free(t->keys);
    free(t->vals);
    t->keys = NULL;
    t->vals = NULL;
    t->mask = 0;
    t->count = t->max = 0;
}

/* The slot holding key, or of the empty slot that ends its probe run. The table is never more
   than half full, so the run ends. */
static uint32_t probe(const et_conn_table *t, uint64_t key)
{
    uint32_t i = home_of(t, key);
    while (t->keys[i] && t->keys[i] != key) i = (i + 1) & t->mask;
    return i;
}

uint32_t et_ct_find(const et_conn_table *t, uint64_t key)
{
    if (!key || !t->keys) return UINT32_MAX;
    uint32_t i = probe(t, key);
    return t->keys[i] ? t->vals[i] : UINT32_MAX;
}

bool et_ct_insert(et_conn_table *t, uint64_t key, uint32_t val)
{
    if (!key || !t->keys || t->count >= t->max) return false;
    uint32_t i = probe(t, key);
    if (t->keys[i]) return false; /* a second copy would never be found or removed */
    t->keys[i] = key;
    t->vals[i] = val;
    t->count++;
    return true;
}

bool et_ct_remove(et_conn_table *t, uint64_t key)
{
    if (!key || !t->keys) return false;
    uint32_t hole = probe(t, key);
    if (!t->keys[hole]) return false;
    /*
     * Close the hole instead of leaving a tombstone: walk the rest of the run and pull back every
     * entry whose home does not lie cyclically in (hole, j], i.e. whose probe path crosses the
     * hole; the others would become unreachable if moved before their home.
     */
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->keys[j]) break;
        uint32_t home = home_of(t, t->keys[j]);
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->keys[hole] = t->keys[j];
            t->vals[hole] = t->vals[j];
            hole = j;
        }
    }
    t->keys[hole] = 0;
    t->count--;
    return true;
}
