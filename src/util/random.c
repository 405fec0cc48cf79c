/*
 * Randomness of an instance (see random.h).
 *
 * xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators") is fast and
 * passes the usual statistical batteries; it is not a cryptographic generator, which is why ISNs
 * go through SipHash with a secret key instead (RFC 6528 §3). SipHash-2-4 follows Aumasson and
 * Bernstein, "SipHash: a fast short-input PRF" (2012).
 */
#include "util/random.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static inline uint64_t rotl(uint64_t x, unsigned k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 spreads a seed over the state: xoshiro must not start from a sparse or all-zero
   state, and nearby seeds must give unrelated streams. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* When the kernel gives no entropy (no getrandom, seccomp, early boot), clocks and addresses are
   a weak but nonzero substitute: different instances and processes still differ. */
static void fallback_entropy(et_rng *r)
{
    struct timespec ts[3];
    memset(ts, 0, sizeof(ts));
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    clock_gettime(CLOCK_MONOTONIC, &ts[1]);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts[2]);
    uint64_t x = (uint64_t)(uintptr_t)r;
    for (int i = 0; i < 3; i++) {
        x ^= (uint64_t)ts[i].tv_sec * 1000000000ull + (uint64_t)ts[i].tv_nsec;
        x = splitmix64(&x);
    }
    for (int i = 0; i < 4; i++) r->s[i] ^= splitmix64(&x);
}

void et_rng_seed(et_rng *r, uint64_t seed)
{
    if (seed) {
        uint64_t x = seed;
        for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
        return;
    }
    memset(r->s, 0, sizeof(r->s));
    size_t got = 0;
    unsigned char *p = (unsigned char *)r->s;
    /* 32 bytes never come back short from the urandom pool, but a signal may interrupt. */
    for (int tries = 0; got < sizeof(r->s) && tries < 8; tries++) {
        ssize_t n = getrandom(p + got, sizeof(r->s) - got, GRND_NONBLOCK);
        if (n > 0) got += (size_t)n;
    }
    if (got < sizeof(r->s)) fallback_entropy(r);
    /* The all-zero state is the one fixed point of xoshiro. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 0x9e3779b97f4a7c15ull;
}

uint64_t et_rng_next(et_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/*
 * Lemire, "Fast random integer generation in an interval" (2019): the high half of x * n is
 * uniform once the products whose low half falls below 2^32 mod n are rejected, which needs a
 * division only on the rare path.
 */
uint32_t et_rng_below(et_rng *r, uint32_t n)
{
    if (n == 0) return 0; /* outside the contract; nothing sensible to return */
    uint64_t m = (et_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n; /* 2^32 mod n */
        while (low < threshold) {
            m = (et_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* key[0] and key[1] are the paper's k0 and k1: the first and last 8 key bytes read little-endian.
 */
uint64_t et_siphash(const uint64_t key[2], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = key[0], k1 = key[1];
    /* the initialisation constants spell "somepseudorandomlygeneratedbytes" */
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;

    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* the last word: the remaining bytes, then the length modulo 256 in the top byte */
    uint64_t b = (uint64_t)(len & 0xff) << 56;
    for (size_t i = whole; i < len; i++) b |= (uint64_t)p[i] << (8 * (i - whole));
    v3 ^= b;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= b;

    v2 ^= 0xff;
    for (int i = 0; i < 4; i++) SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}
