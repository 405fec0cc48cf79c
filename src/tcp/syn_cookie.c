/*
 * SYN cookie encoding (RFC 4987 §3.6), after Linux's __cookie_v4_init_sequence and
 * cookie_init_timestamp: see syn_cookie.h.
 */
#include "tcp/syn_cookie.h"

#include "util/random.h"

#define COOKIE_BITS 24 /* low bits: (hash2 + MSS index); high bits: the counter */
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)

/* Linux's msstab for IPv4: the common MSS values, each a little below what links carry (RFC
   9293 §3.7.1 minimum, a tunnelled/PPPoE path, Ethernet with options, plain Ethernet). */
static const uint16_t msstab[ET_COOKIE_MSS_N] = {536, 1300, 1440, 1460};

/* Domain tags: the ISN (RFC 6528) and the TS offset hash the same key over other inputs. */
#define TAG_H1 0x636f6f31u /* "coo1" */
#define TAG_H2 0x636f6f32u /* "coo2" */

uint32_t et_cookie_mss_index(uint32_t mss)
{
    uint32_t i = ET_COOKIE_MSS_N - 1;
    while (i && mss < msstab[i]) i--;
    return i;
}

uint16_t et_cookie_mss(uint32_t idx)
{
    return msstab[idx];
}

/* Two independent keyed hashes of the tuple; the second one also of the counter, so that a
   cookie of one period tells nothing about the next. */
static uint32_t hash(const uint64_t key[2], const et_cookie_tuple *t, uint32_t tag,
                     uint32_t counter)
{
    uint32_t w[5] = {tag, t->local_ip, t->remote_ip,
                     ((uint32_t)t->local_port << 16) | t->remote_port, counter};
    return (uint32_t)et_siphash(key, w, sizeof(w));
}

uint32_t et_cookie_make(const uint64_t key[2], const et_cookie_tuple *t, uint32_t peer_isn,
                        uint32_t counter, uint32_t mss_idx)
{
    return hash(key, t, TAG_H1, 0) + peer_isn + (counter << COOKIE_BITS) +
           ((hash(key, t, TAG_H2, counter) + mss_idx) & COOKIE_MASK);
}

int et_cookie_check(const uint64_t key[2], const et_cookie_tuple *t, uint32_t peer_isn,
                    uint32_t cookie, uint32_t counter)
{
    cookie -= hash(key, t, TAG_H1, 0) + peer_isn;
    /* The counter's low 8 bits are in the top of the cookie: current or previous only. */
    uint32_t age = (counter - (cookie >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
    if (age >= 2) return -1;
    uint32_t idx = (cookie - hash(key, t, TAG_H2, counter - age)) & COOKIE_MASK;
    return idx < ET_COOKIE_MSS_N ? (int)idx : -1;
}

uint32_t et_cookie_tsval(uint32_t ts_now, const et_cookie_ts *o)
{
    uint32_t bits = o->ws_ok ? o->ws : ET_COOKIE_TS_WS_NO;
    if (o->sack_ok) bits |= ET_COOKIE_TS_SACK;
    if (o->ecn_ok) bits |= ET_COOKIE_TS_ECN;
    uint32_t ts = ((ts_now >> ET_COOKIE_TS_BITS) << ET_COOKIE_TS_BITS) | bits;
    if ((int32_t)(ts - ts_now) > 0) ts -= 1u << ET_COOKIE_TS_BITS;
    return ts;
}

et_cookie_ts et_cookie_ts_decode(uint32_t tsecr)
{
    uint32_t ws = tsecr & ET_COOKIE_TS_WS_NO;
    return (et_cookie_ts){.ws_ok = ws <= 14,
                          .ws = (uint8_t)(ws <= 14 ? ws : 0),
                          .sack_ok = (tsecr & ET_COOKIE_TS_SACK) != 0,
                          .ecn_ok = (tsecr & ET_COOKIE_TS_ECN) != 0};
}
