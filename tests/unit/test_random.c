/*
 * PRNG and SipHash: published answers, determinism, and the distribution of et_rng_below.
 */
#include "harness.h"
#include "util/random.h"

/* Key bytes 00..0f as the paper's k0, k1 (little-endian halves). */
static const uint64_t sip_key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

/* SipHash-2-4 of the messages 00, 00 01, ..., 00..3e (lengths 0 to 63) under that key: the
   reference table of the SipHash authors (checked against OpenSSL's SIPHASH MAC). */
static const uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
    0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
    0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
    0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
    0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
    0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
    0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
    0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
    0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
    0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static void test_siphash_paper_vectors(void)
{
    unsigned char msg[64];
    for (int i = 0; i < 64; i++) msg[i] = (unsigned char)i;
    /* the paper's appendix example: 15 bytes 00..0e */
    CHECK(et_siphash(sip_key, msg, 15) == 0xa129ca6149be45e5ull);
    /* the empty message, with and without a pointer */
    CHECK(et_siphash(sip_key, msg, 0) == 0x726fdb47dd0e0e31ull);
    CHECK(et_siphash(sip_key, NULL, 0) == 0x726fdb47dd0e0e31ull);
    for (int len = 0; len < 64; len++) {
        if (et_siphash(sip_key, msg, (size_t)len) != sip_vectors[len]) {
            fprintf(stderr, "siphash length %d wrong\n", len);
            th_failures++;
        }
    }
}

static void test_siphash_alignment_and_key(void)
{
    unsigned char buf[80], copy[64];
    for (int i = 0; i < 80; i++) buf[i] = (unsigned char)(i * 37 + 11);
    for (int off = 1; off < 8; off++) {
        memcpy(copy, buf + off, 64);
        CHECK(et_siphash(sip_key, buf + off, 64) == et_siphash(sip_key, copy, 64));
        CHECK(et_siphash(sip_key, buf + off, 13) == et_siphash(sip_key, copy, 13));
    }
    /* every key bit and every message bit matters */
    uint64_t base = et_siphash(sip_key, buf, 12);
    for (int bit = 0; bit < 128; bit++) {
        uint64_t k[2] = {sip_key[0], sip_key[1]};
        k[bit / 64] ^= 1ull << (bit % 64);
        CHECK(et_siphash(k, buf, 12) != base);
    }
    for (int bit = 0; bit < 96; bit++) {
        memcpy(copy, buf, 12);
        copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        CHECK(et_siphash(sip_key, copy, 12) != base);
    }
    /* the length is part of the input: trailing zero bytes are not ignored */
    unsigned char z[9] = {0};
    CHECK(et_siphash(sip_key, z, 8) != et_siphash(sip_key, z, 9));
    CHECK(et_siphash(sip_key, z, 0) != et_siphash(sip_key, z, 1));
}

static void test_xoshiro_reference(void)
{
    /* from the state {1, 2, 3, 4}, as in the authors' reference implementation */
    et_rng r = {{1, 2, 3, 4}};
    CHECK(et_rng_next(&r) == 11520ull);
    CHECK(et_rng_next(&r) == 0ull);
    CHECK(et_rng_next(&r) == 1509978240ull);
    CHECK(et_rng_next(&r) == 1215971899390074240ull);
}

static void test_seed_determinism(void)
{
    /* seed 1 through splitmix64, then xoshiro256** (computed with an independent model) */
    et_rng r;
    et_rng_seed(&r, 1);
    CHECK(et_rng_next(&r) == 0xb3f2af6d0fc710c5ull);
    CHECK(et_rng_next(&r) == 0x853b559647364ceaull);
    CHECK(et_rng_next(&r) == 0x92f89756082a4514ull);
    CHECK(et_rng_next(&r) == 0x642e1c7bc266a3a7ull);
    et_rng_seed(&r, 0x123456789abcdefull);
    CHECK(et_rng_next(&r) == 0xa2c2a42038d4ec3dull);

    et_rng a, b, c;
    et_rng_seed(&a, 777);
    et_rng_seed(&b, 777);
    et_rng_seed(&c, 778);
    int same_ac = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = et_rng_next(&a);
        CHECK(x == et_rng_next(&b));
        same_ac += x == et_rng_next(&c);
    }
    CHECK_EQ(same_ac, 0);
    /* re-seeding restarts the stream */
    et_rng_seed(&a, 777);
    et_rng_seed(&b, 777);
    for (int i = 0; i < 10; i++) CHECK_EQ(et_rng_below(&a, 1000), et_rng_below(&b, 1000));
}

static void test_seed_zero_is_random(void)
{
    et_rng a, b;
    et_rng_seed(&a, 0);
    et_rng_seed(&b, 0);
    CHECK((a.s[0] | a.s[1] | a.s[2] | a.s[3]) != 0);
    CHECK(memcmp(a.s, b.s, sizeof(a.s)) != 0);
    CHECK(et_rng_next(&a) != et_rng_next(&b));
}

static void test_below_range(void)
{
    et_rng r;
    et_rng_seed(&r, 42);
    /* the first draws below 10, from the independent model */
    const uint32_t expect[10] = {0, 3, 6, 9, 9, 7, 7, 8, 7, 5};
    for (int i = 0; i < 10; i++) CHECK_EQ(et_rng_below(&r, 10), expect[i]);
    for (int i = 0; i < 1000; i++) CHECK_EQ(et_rng_below(&r, 1), 0);
    uint32_t seen_top = 0;
    for (int i = 0; i < 100000; i++) {
        uint32_t n = 1 + (uint32_t)(et_rng_next(&r) >> 33);
        CHECK(et_rng_below(&r, n) < n);
        CHECK(et_rng_below(&r, UINT32_MAX) < UINT32_MAX);
        uint32_t x = et_rng_below(&r, 2);
        CHECK(x < 2);
        seen_top += x;
    }
    CHECK(seen_top > 49000 && seen_top < 51000);
    CHECK_EQ(et_rng_below(&r, 0), 0); /* outside the contract, but no division by zero */
}

static void test_below_uniform(void)
{
    et_rng r;
    et_rng_seed(&r, 2024);
    /* 100000 draws in 10 buckets: 10000 each, sd about 95 */
    uint32_t bucket[10] = {0};
    for (int i = 0; i < 100000; i++) bucket[et_rng_below(&r, 10)]++;
    double chi2 = 0;
    for (int i = 0; i < 10; i++) {
        CHECK(bucket[i] > 9500 && bucket[i] < 10500);
        double d = (double)bucket[i] - 10000.0;
        chi2 += d * d / 10000.0;
    }
    CHECK(chi2 < 30.0); /* 9 degrees of freedom: p < 0.001 above 27.9 */

    /*
     * n = 3 * 2^30 shows both classic biases: a plain 32-bit modulo puts half the draws below
     * 2^30 instead of a third; a multiply-shift without rejection maps 4 inputs onto 3 outputs,
     * so one residue modulo 3 gets half the draws.
     */
    uint32_t n = 3u << 30, low = 0, high = 0, residue[3] = {0};
    for (int i = 0; i < 60000; i++) {
        uint32_t x = et_rng_below(&r, n);
        CHECK(x < n);
        low += x < (1u << 30);
        high += x >= (2u << 30);
        residue[x % 3]++;
    }
    CHECK(low > 19300 && low < 20700);
    CHECK(high > 19300 && high < 20700);
    for (int i = 0; i < 3; i++) CHECK(residue[i] > 19300 && residue[i] < 20700);
}

int main(void)
{
    RUN(test_siphash_paper_vectors);
    RUN(test_siphash_alignment_and_key);
    RUN(test_xoshiro_reference);
    RUN(test_seed_determinism);
    RUN(test_seed_zero_is_random);
    RUN(test_below_range);
    RUN(test_below_uniform);
    return th_summary();
}
