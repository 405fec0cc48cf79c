/*
 * The connection table against a brute-force model, plus its structure: capacity, full table,
 * probe runs that survive deletion, runs that wrap past the end of the array, hostile keys.
 */
#include "harness.h"
#include "tcp/conn_table.h"

#include <stdbool.h>

static uint64_t prng_state;

static uint64_t prng(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return prng() % n;
}

static uint64_t rand_key(void)
{
    return et_ct_key((uint32_t)prng(), (uint16_t)(1 + below(65535)), (uint16_t)(1 + below(65535)));
}

/* Where key lands in an empty table of the same shape: its home slot. */
static uint32_t home_of(const et_conn_table *shape, uint64_t key)
{
    et_conn_table s;
    if (et_ct_init(&s, shape->max, shape->hash_key) != 0) return UINT32_MAX;
    uint32_t home = UINT32_MAX;
    if (et_ct_insert(&s, key, 1))
        for (uint32_t i = 0; i <= s.mask; i++)
            if (s.slots[i].key == key) home = i;
    et_ct_free(&s);
    return home;
}

/* Every entry is reachable from its home through occupied slots only, and the count is right.
   Values are pool indexes modulo n, which tells where each stored key came from. */
static void check_structure(const et_conn_table *t, const uint64_t *keys, const uint32_t *homes,
                            uint32_t n)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].key) continue;
        used++;
        uint32_t k = t->slots[i].val % n;
        CHECK(t->slots[i].key == keys[k]);
        for (uint32_t j = homes[k]; j != i; j = (j + 1) & t->mask) CHECK(t->slots[j].key != 0);
    }
    CHECK_EQ(used, t->count);
}

#define POOL_MAX (3 * 4096 + 4)
static uint64_t pool_keys[POOL_MAX];
static uint32_t pool_homes[POOL_MAX], pool_vals[POOL_MAX], pool_order[POOL_MAX];
static bool pool_present[POOL_MAX];

static void model_run(uint32_t max, uint64_t hash_key, uint64_t seed, int ops)
{
    /* a pool a few times larger than the table, so that inserts meet a full table */
    uint32_t n = 3 * max + 4;
    REQUIRE(n <= POOL_MAX);
    et_conn_table t;
    REQUIRE(et_ct_init(&t, max, hash_key) == 0);
    prng_state = seed;
    memset(pool_present, 0, sizeof(pool_present));
    for (uint32_t k = 0; k < n; k++) {
        bool dup;
        do {
            pool_keys[k] = rand_key();
            dup = false;
            for (uint32_t j = 0; j < k; j++) dup |= pool_keys[j] == pool_keys[k];
        } while (dup);
        pool_homes[k] = home_of(&t, pool_keys[k]);
    }
    uint32_t count = 0;
    for (int op = 0; op < ops; op++) {
        uint32_t k = (uint32_t)below(n);
        switch (below(4)) {
        case 0:
        case 1: {
            uint32_t v = k + n * (uint32_t)below(UINT32_MAX / n);
            bool ok = et_ct_insert(&t, pool_keys[k], v);
            if (pool_present[k] || count == max) {
                CHECK(!ok);
            } else {
                CHECK(ok);
                pool_present[k] = true;
                pool_vals[k] = v;
                count++;
            }
            break;
        }
        case 2: {
            bool ok = et_ct_remove(&t, pool_keys[k]);
            CHECK_EQ(ok, pool_present[k]);
            if (pool_present[k]) count--;
            pool_present[k] = false;
            break;
        }
        default:
            CHECK_EQ(et_ct_find(&t, pool_keys[k]), pool_present[k] ? pool_vals[k] : UINT32_MAX);
            /* The receive path's lookup remembers its last hit: twice, to hit the memory, which
               removes and reinserts of other keys (and of this one) must never leave stale. */
            for (int twice = 0; twice < 2; twice++)
                CHECK_EQ(et_ct_lookup(&t, pool_keys[k]),
                         pool_present[k] ? pool_vals[k] : UINT32_MAX);
            break;
        }
        CHECK_EQ(t.count, count);
        if (op % 97 == 0 || t.mask < 64) {
            for (uint32_t j = 0; j < n; j++)
                CHECK_EQ(et_ct_find(&t, pool_keys[j]), pool_present[j] ? pool_vals[j] : UINT32_MAX);
            check_structure(&t, pool_keys, pool_homes, n);
        }
    }
    /* empty it again in random order */
    for (uint32_t j = 0; j < n; j++) pool_order[j] = j;
    for (uint32_t j = n - 1; j > 0; j--) {
        uint32_t r = (uint32_t)below(j + 1), tmp = pool_order[j];
        pool_order[j] = pool_order[r];
        pool_order[r] = tmp;
    }
    for (uint32_t j = 0; j < n; j++) {
        uint32_t k = pool_order[j];
        CHECK_EQ(et_ct_remove(&t, pool_keys[k]), pool_present[k]);
        if (pool_present[k]) count--;
        pool_present[k] = false;
        CHECK_EQ(t.count, count);
    }
    CHECK_EQ(t.count, 0);
    for (uint32_t i = 0; i <= t.mask; i++) CHECK_EQ(t.slots[i].key, 0);
    et_ct_free(&t);
}

static void test_model_tiny(void)
{
    model_run(1, 0, 1, 2000);
    model_run(5, 0x1234, 2, 5000);
    model_run(8, 0xdeadbeefcafef00dull, 3, 5000);
    model_run(16, 77, 4, 20000);
    model_run(30, 78, 5, 20000);
}

static void test_model_large(void)
{
    model_run(1000, 0x0123456789abcdefull, 6, 60000);
    model_run(4096, 42, 7, 60000);
}

static void test_capacity(void)
{
    const uint32_t max[] = {0, 1, 8, 9, 16, 100, 1000, 1024, 1025};
    const uint32_t cap[] = {16, 16, 16, 32, 32, 256, 2048, 2048, 4096};
    for (int i = 0; i < 9; i++) {
        et_conn_table t;
        REQUIRE(et_ct_init(&t, max[i], 1) == 0);
        CHECK_EQ(t.mask + 1, cap[i]);
        CHECK_EQ(t.count, 0);
        et_ct_free(&t);
    }
}

static void test_full_table(void)
{
    et_conn_table t;
    REQUIRE(et_ct_init(&t, 7, 99) == 0);
    for (uint32_t i = 1; i <= 7; i++) CHECK(et_ct_insert(&t, et_ct_key(i, 1000, 80), i));
    CHECK(!et_ct_insert(&t, et_ct_key(8, 1000, 80), 8));
    CHECK_EQ(et_ct_find(&t, et_ct_key(8, 1000, 80)), UINT32_MAX);
    CHECK_EQ(t.count, 7);
    CHECK(et_ct_remove(&t, et_ct_key(3, 1000, 80)));
    CHECK(et_ct_insert(&t, et_ct_key(8, 1000, 80), 8));
    CHECK(!et_ct_insert(&t, et_ct_key(3, 1000, 80), 3));
    for (uint32_t i = 1; i <= 8; i++)
        CHECK_EQ(et_ct_find(&t, et_ct_key(i, 1000, 80)), i == 3 ? UINT32_MAX : i);
    et_ct_free(&t);

    /* a table for no entries refuses every insert */
    REQUIRE(et_ct_init(&t, 0, 5) == 0);
    CHECK(!et_ct_insert(&t, et_ct_key(1, 2, 3), 1));
    CHECK_EQ(et_ct_find(&t, et_ct_key(1, 2, 3)), UINT32_MAX);
    et_ct_free(&t);
}

static void test_duplicate_and_hostile_keys(void)
{
    et_conn_table t;
    REQUIRE(et_ct_init(&t, 4, 0) == 0);
    uint64_t k = et_ct_key(0x0a000001, 5555, 80);
    CHECK(et_ct_insert(&t, k, 10));
    CHECK(!et_ct_insert(&t, k, 11)); /* no second copy, value kept */
    CHECK_EQ(et_ct_find(&t, k), 10);
    CHECK_EQ(t.count, 1);
    CHECK_EQ(et_ct_lookup(&t, k), 10); /* remembered now */
    CHECK(et_ct_remove(&t, k));
    CHECK(!et_ct_remove(&t, k));
    CHECK_EQ(et_ct_find(&t, k), UINT32_MAX);
    CHECK_EQ(et_ct_lookup(&t, k), UINT32_MAX); /* forgotten with the key */
    CHECK(et_ct_insert(&t, k, 12));
    CHECK_EQ(et_ct_lookup(&t, k), 12);
    CHECK(et_ct_remove(&t, k));
    /* key 0 is the empty marker: never stored, never found, never removed */
    CHECK(!et_ct_insert(&t, 0, 1));
    CHECK_EQ(et_ct_find(&t, 0), UINT32_MAX);
    CHECK(!et_ct_remove(&t, 0));
    CHECK_EQ(t.count, 0);
    /* extreme keys */
    CHECK(et_ct_insert(&t, UINT64_MAX, 7));
    CHECK(et_ct_insert(&t, 1, 8));
    CHECK_EQ(et_ct_find(&t, UINT64_MAX), 7);
    CHECK_EQ(et_ct_find(&t, 1), 8);
    et_ct_free(&t);
    et_ct_free(&t); /* twice is harmless */
    CHECK_EQ(et_ct_find(&t, 1), UINT32_MAX);
    CHECK(!et_ct_insert(&t, 1, 1));
    CHECK(!et_ct_remove(&t, 1));

    /* a size that cannot be represented fails cleanly and leaves a usable empty table */
    CHECK(et_ct_init(&t, UINT32_MAX, 0) != 0);
    CHECK(et_ct_init(&t, (1u << 30) + 1, 0) != 0);
    CHECK(t.slots == NULL && t.count == 0);
    CHECK_EQ(et_ct_find(&t, 1), UINT32_MAX);
    CHECK(!et_ct_insert(&t, 1, 1));
    et_ct_free(&t);
}

/* Collects n keys whose home is the given slot of a table shaped like t. */
static void keys_with_home(const et_conn_table *t, uint32_t home, uint64_t *out, int n)
{
    int found = 0;
    for (int i = 0; i < n; i++) out[i] = 0; /* 0 = not found */
    for (uint32_t ip = 1; found < n && ip < 1000000; ip++) {
        uint64_t k = et_ct_key(ip, 4321, 80);
        if (home_of(t, k) == home) out[found++] = k;
    }
}

static uint32_t slot_of(const et_conn_table *t, uint64_t key)
{
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->slots[i].key == key) return i;
    return UINT32_MAX;
}

static void test_wraparound_and_backward_shift(void)
{
    et_conn_table t;
    REQUIRE(et_ct_init(&t, 8, 0x5eed) == 0);
    REQUIRE(t.mask == 15);
    uint64_t a[4], b[1], c[1];
    keys_with_home(&t, 14, a, 4);
    keys_with_home(&t, 0, b, 1);
    keys_with_home(&t, 1, c, 1);
    REQUIRE(a[3] && b[0] && c[0]);
    /* a run that starts at 14 and wraps: a0 14, a1 15, a2 0, a3 1, b 2, c 3 */
    for (int i = 0; i < 4; i++) CHECK(et_ct_insert(&t, a[i], 100 + (uint32_t)i));
    CHECK(et_ct_insert(&t, b[0], 200));
    CHECK(et_ct_insert(&t, c[0], 300));
    CHECK_EQ(slot_of(&t, a[0]), 14);
    CHECK_EQ(slot_of(&t, a[1]), 15);
    CHECK_EQ(slot_of(&t, a[2]), 0);
    CHECK_EQ(slot_of(&t, a[3]), 1);
    CHECK_EQ(slot_of(&t, b[0]), 2);
    CHECK_EQ(slot_of(&t, c[0]), 3);
    for (int i = 0; i < 4; i++) CHECK_EQ(et_ct_find(&t, a[i]), 100 + i);
    CHECK_EQ(et_ct_find(&t, b[0]), 200);
    CHECK_EQ(et_ct_find(&t, c[0]), 300);

    /* removing the head of the run pulls every later entry back across the end of the array */
    CHECK(et_ct_remove(&t, a[0]));
    CHECK_EQ(slot_of(&t, a[1]), 14);
    CHECK_EQ(slot_of(&t, a[2]), 15);
    CHECK_EQ(slot_of(&t, a[3]), 0);
    CHECK_EQ(slot_of(&t, b[0]), 1);
    CHECK_EQ(slot_of(&t, c[0]), 2);
    CHECK_EQ(t.slots[3].key, 0);

    /* removing in the middle: b may not move before its home 0, c may not move before 1 */
    CHECK(et_ct_remove(&t, a[2]));
    CHECK_EQ(slot_of(&t, a[3]), 15);
    CHECK_EQ(slot_of(&t, b[0]), 0);
    CHECK_EQ(slot_of(&t, c[0]), 1);
    CHECK(et_ct_remove(&t, a[1]));
    CHECK_EQ(slot_of(&t, a[3]), 14);
    CHECK_EQ(slot_of(&t, b[0]), 0); /* already home: stays */
    CHECK_EQ(slot_of(&t, c[0]), 1);
    CHECK_EQ(t.slots[15].key, 0);
    CHECK_EQ(et_ct_find(&t, a[3]), 103);
    CHECK_EQ(et_ct_find(&t, b[0]), 200);
    CHECK_EQ(et_ct_find(&t, c[0]), 300);
    CHECK_EQ(et_ct_find(&t, a[0]), UINT32_MAX);
    CHECK_EQ(et_ct_find(&t, a[1]), UINT32_MAX);
    CHECK_EQ(et_ct_find(&t, a[2]), UINT32_MAX);
    CHECK_EQ(t.count, 3);
    et_ct_free(&t);
}

static void test_entry_not_moved_before_home(void)
{
    /* x home 5 at 5, y home 5 at 6, z home 7 at 7: removing x moves y to 5 but z stays */
    et_conn_table t;
    REQUIRE(et_ct_init(&t, 8, 0xabc) == 0);
    uint64_t x[2], z[1];
    keys_with_home(&t, 5, x, 2);
    keys_with_home(&t, 7, z, 1);
    REQUIRE(x[1] && z[0]);
    CHECK(et_ct_insert(&t, x[0], 1));
    CHECK(et_ct_insert(&t, x[1], 2));
    CHECK(et_ct_insert(&t, z[0], 3));
    CHECK_EQ(slot_of(&t, z[0]), 7);
    CHECK(et_ct_remove(&t, x[0]));
    CHECK_EQ(slot_of(&t, x[1]), 5);
    CHECK_EQ(slot_of(&t, z[0]), 7);
    CHECK_EQ(t.slots[6].key, 0);
    CHECK_EQ(et_ct_find(&t, z[0]), 3);
    CHECK_EQ(et_ct_find(&t, x[1]), 2);
    et_ct_free(&t);
}

static uint32_t longest_run(const et_conn_table *t)
{
    uint32_t best = 0, run = 0;
    /* twice round so that a run through the end of the array counts whole */
    for (uint32_t i = 0; i <= 2 * t->mask + 1; i++) {
        run = t->slots[i & t->mask].key ? run + 1 : 0;
        if (run > best) best = run;
    }
    return best;
}

static void test_hash_spreads_structured_keys(void)
{
    et_conn_table t, u;
    /* one peer, consecutive ports: an identity hash would make one run of 4096 */
    REQUIRE(et_ct_init(&t, 4096, 0x9e3779b97f4a7c15ull) == 0);
    REQUIRE(et_ct_init(&u, 4096, 0x1111111111111111ull) == 0);
    for (uint32_t p = 1; p <= 4096; p++) {
        CHECK(et_ct_insert(&t, et_ct_key(0xc0a80001, (uint16_t)p, 80), p));
        CHECK(et_ct_insert(&u, et_ct_key(0xc0a80001, (uint16_t)p, 80), p));
    }
    CHECK(longest_run(&t) < 100);
    CHECK(longest_run(&u) < 100);
    /* the secret changes the layout */
    uint32_t same = 0;
    for (uint32_t i = 0; i <= t.mask; i++)
        same += t.slots[i].key && t.slots[i].key == u.slots[i].key;
    CHECK(same < 200);
    et_ct_free(&t);
    et_ct_free(&u);

    /* many peers, the same ports: only the high bits differ */
    REQUIRE(et_ct_init(&t, 4096, 0) == 0);
    for (uint32_t ip = 1; ip <= 4096; ip++)
        CHECK(et_ct_insert(&t, et_ct_key(ip << 20, 443, 50000), ip));
    CHECK(longest_run(&t) < 100);
    for (uint32_t ip = 1; ip <= 4096; ip++)
        CHECK_EQ(et_ct_find(&t, et_ct_key(ip << 20, 443, 50000)), ip);
    et_ct_free(&t);
}

int main(void)
{
    RUN(test_capacity);
    RUN(test_full_table);
    RUN(test_duplicate_and_hostile_keys);
    RUN(test_wraparound_and_backward_shift);
    RUN(test_entry_not_moved_before_home);
    RUN(test_hash_spreads_structured_keys);
    RUN(test_model_tiny);
    RUN(test_model_large);
    return th_summary();
}
