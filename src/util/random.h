/* Randomness of an instance: a seeded PRNG (xoshiro256**) and the keyed hash SipHash-2-4 used for
   RFC 6528 ISNs and for hash-table keys. All state lives in the instance. */
#ifndef EFVITCP_RANDOM_H
#define EFVITCP_RANDOM_H

#include <stddef.h>
#include <stdint.h>

typedef struct et_rng {
    uint64_t s[4];
} et_rng;

/** Seeds the generator; seed 0 reads getrandom(). */
void et_rng_seed(et_rng *r, uint64_t seed);
uint64_t et_rng_next(et_rng *r);
/** Uniform in [0, n), n > 0. */
uint32_t et_rng_below(et_rng *r, uint32_t n);

/** SipHash-2-4 of data with a 128-bit key. */
uint64_t et_siphash(const uint64_t key[2], const void *data, size_t len);

#endif
