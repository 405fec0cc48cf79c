/*
 * SYN cookie encoding (src/tcp/syn_cookie.c, RFC 4987 §3.6 as Linux does it): round trips of
 * every MSS index and of the TSval option bits, and rejection of a wrong key, tuple, peer ISN,
 * cookie or counter.
 */
#include "harness.h"
#include "tcp/syn_cookie.h"
#include "util/random.h"

static const uint64_t key[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
static const et_cookie_tuple tup = {0xc6120001u, 0xc6120002u, 5000, 40000};

static void test_mss_table(void)
{
    CHECK_EQ(et_cookie_mss_index(0), 0); /* below 536: 536 (every host takes it, RFC 9293) */
    CHECK_EQ(et_cookie_mss_index(536), 0);
    CHECK_EQ(et_cookie_mss_index(1299), 0);
    CHECK_EQ(et_cookie_mss_index(1300), 1);
    CHECK_EQ(et_cookie_mss_index(1448), 2);
    CHECK_EQ(et_cookie_mss_index(1460), 3);
    CHECK_EQ(et_cookie_mss_index(9000), 3);
    CHECK_EQ(et_cookie_mss(0), 536);
    CHECK_EQ(et_cookie_mss(3), 1460);
}

/* Every index comes back, at the counter of the cookie and at the next one, for many tuples
   and ISNs (the additions wrap). */
static void test_round_trip(void)
{
    et_rng r;
    et_rng_seed(&r, 7);
    for (int i = 0; i < 20000; i++) {
        et_cookie_tuple t = {(uint32_t)et_rng_next(&r), (uint32_t)et_rng_next(&r),
                             (uint16_t)et_rng_next(&r), (uint16_t)et_rng_next(&r)};
        uint32_t isn = (uint32_t)et_rng_next(&r);
        uint32_t counter = (uint32_t)et_rng_next(&r);
        uint32_t idx = et_rng_below(&r, ET_COOKIE_MSS_N);
        uint32_t c = et_cookie_make(key, &t, isn, counter, idx);
        CHECK_EQ(et_cookie_check(key, &t, isn, c, counter), idx);
        CHECK_EQ(et_cookie_check(key, &t, isn, c, counter + 1), idx);
        if (th_failures) return;
    }
}

/* Too old (two periods on), from the future, or anything changed: rejected. The low 24 bits
   leave 4 of 2^24 values valid per counter: a forged cookie passes with odds 2^-21. */
static void test_rejections(void)
{
    uint32_t c = et_cookie_make(key, &tup, 1000000, 5, 2);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c, 7), -1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c, 4), -1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c, 5 + 256), -1);
    /* As in Linux, the peer's ISN and the MSS index are added into the same bits: a change of a
       few units reads as another index (the ISN and the cookie come from the same segment, and
       the cookie is only known to whoever saw our SYN-ACK). Farther changes are rejected. */
    CHECK_EQ(et_cookie_check(key, &tup, 1000001, c, 5), 1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c + 1, 5), 3);
    CHECK_EQ(et_cookie_check(key, &tup, 1000002, c + 2, 5), 2);
    CHECK_EQ(et_cookie_check(key, &tup, 1000003, c, 5), -1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c + 2, 5), -1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c + 1000, 5), -1);
    CHECK_EQ(et_cookie_check(key, &tup, 1000000, c ^ 0x10000000u, 5), -1);
    et_cookie_tuple t = tup;
    t.remote_port++;
    CHECK_EQ(et_cookie_check(key, &t, 1000000, c, 5), -1);
    t = tup;
    t.remote_ip ^= 1;
    CHECK_EQ(et_cookie_check(key, &t, 1000000, c, 5), -1);
    t = tup;
    t.local_port++;
    CHECK_EQ(et_cookie_check(key, &t, 1000000, c, 5), -1);
    const uint64_t other[2] = {key[0] ^ 1, key[1]};
    CHECK_EQ(et_cookie_check(other, &tup, 1000000, c, 5), -1);
    /* Random ACKs: about 2 * 4 / 2^24 of them pass. */
    et_rng r;
    et_rng_seed(&r, 9);
    int pass = 0;
    for (int i = 0; i < 1000000; i++)
        if (et_cookie_check(key, &tup, 1000000, (uint32_t)et_rng_next(&r), 5) >= 0) pass++;
    CHECK(pass <= 3);
}

/* Linux's cookie_init_timestamp: window scale 0..14 or 0xf, SACK bit 4, ECN bit 5, and the
   TSval never ahead of the clock. */
static void test_tsval_bits(void)
{
    for (uint32_t ws = 0; ws <= 15; ws++) {
        for (int sack = 0; sack < 2; sack++) {
            et_cookie_ts o = {
                .ws_ok = ws <= 14, .ws = (uint8_t)(ws <= 14 ? ws : 0), .sack_ok = sack};
            for (uint32_t i = 0, now = 0xffffff80u; i < 20; i++, now += 37) {
                uint32_t ts = et_cookie_tsval(now, &o);
                CHECK((int32_t)(ts - now) <= 0);
                CHECK((int32_t)(now - ts) < 64);
                et_cookie_ts d = et_cookie_ts_decode(ts);
                CHECK_EQ(d.ws_ok, o.ws_ok);
                CHECK_EQ(d.ws, o.ws);
                CHECK_EQ(d.sack_ok, o.sack_ok);
                CHECK(!d.ecn_ok);
            }
        }
    }
    et_cookie_ts o = {.ws_ok = true, .ws = 7};
    CHECK_EQ(et_cookie_tsval(1000, &o), 960 | 7);               /* 1000 = 15 * 64 + 40 */
    CHECK_EQ(et_cookie_tsval(1000 - 40 + 3, &o), 960 - 64 + 7); /* would be ahead: back 64 */
    o.ws_ok = false;
    o.sack_ok = true;
    CHECK_EQ(et_cookie_tsval(1000, &o), 960 | 0x1f);
}

int main(void)
{
    RUN(test_mss_table);
    RUN(test_round_trip);
    RUN(test_rejections);
    RUN(test_tsval_bits);
    return th_summary();
}
