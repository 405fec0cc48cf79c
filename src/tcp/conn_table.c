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
    t->slots = NULL;
    t->mask = 0;
    t->count = t->max = 0;
    t->hash_key = hash_key;
    t->hot_key = 0;
    if (max > MAX_ENTRIES) return -1;
    uint64_t cap = MIN_CAPACITY;
    while (cap < 2ull * max) cap <<= 1;
    t->slots = calloc(cap, sizeof(*t->slots));
    if (!t->slots) return -1;
    t->mask = (uint32_t)(cap - 1);
    t->max = max;
    return 0;
}

void et_ct_free(et_conn_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->count = t->max = 0;
    t->hot_key = 0;
}

/* The slot holding key, or of the empty slot that ends its probe run. The table is never more
   than half full, so the run ends. */
static uint32_t probe(const et_conn_table *t, uint64_t key)
{
    uint32_t i = home_of(t, key);
    while (t->slots[i].key && t->slots[i].key != key) i = (i + 1) & t->mask;
    return i;
}

uint32_t et_ct_find(const et_conn_table *t, uint64_t key)
{
    if (!key || !t->slots) return UINT32_MAX;
    uint32_t i = probe(t, key);
    return t->slots[i].key ? t->slots[i].val : UINT32_MAX;
}

uint32_t et_ct_lookup_slow(et_conn_table *t, uint64_t key)
{
    if (!key || !t->slots) return UINT32_MAX;
    uint32_t i = probe(t, key);
    if (!t->slots[i].key) return UINT32_MAX;
    t->hot_key = key;
    t->hot_val = t->slots[i].val;
    return t->hot_val;
}

bool et_ct_insert(et_conn_table *t, uint64_t key, uint32_t val)
{
    if (!key || !t->slots || t->count >= t->max) return false;
    uint32_t i = probe(t, key);
    if (t->slots[i].key) return false; /* a second copy would never be found or removed */
    t->slots[i].key = key;
    t->slots[i].val = val;
    t->count++;
    return true;
}

bool et_ct_remove(et_conn_table *t, uint64_t key)
{
    if (!key || !t->slots) return false;
    uint32_t hole = probe(t, key);
    if (!t->slots[hole].key) return false;
    if (key == t->hot_key) t->hot_key = 0;
    /*
     * Close the hole instead of leaving a tombstone: walk the rest of the run and pull back every
     * entry whose home does not lie cyclically in (hole, j], i.e. whose probe path crosses the
     * hole; the others would become unreachable if moved before their home.
     */
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j].key) break;
        uint32_t home = home_of(t, t->slots[j].key);
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].key = 0;
    t->count--;
    return true;
}
