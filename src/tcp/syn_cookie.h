/*
 * SYN cookies (RFC 4987 §3.6), encoded as Linux encodes them (net/ipv4/syncookies.c), so that a
 * listener answers a SYN without keeping any state and recognises the final ACK of the handshake.
 *
 * The cookie is our ISN: keyed hashes of the 4-tuple, the peer's ISN, a counter that moves every
 * ET_COOKIE_PERIOD_NS, and in the low 24 bits an index into the MSS table. With timestamps the
 * low 6 bits of our TSval carry the peer's window scale, SACK-permitted and ECN, which the ACK
 * echoes in its TSecr. Pure functions: the caller passes the key, the tuple and the clock.
 */
#ifndef EFVITCP_SYN_COOKIE_H
#define EFVITCP_SYN_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

/* The counter moves every 64 s (a power of two near Linux's 60 s); a cookie of the current or
   the previous counter is valid, so a cookie lives 64 to 128 s. */
#define ET_COOKIE_PERIOD_NS (64ull * 1000000000ull)
#define ET_COOKIE_MSS_N     4 /* entries of the MSS table */

/* TSval low bits (Linux TS_OPT_*): window scale 0..14 or 0xf for none, SACK, ECN. */
#define ET_COOKIE_TS_BITS  6
#define ET_COOKIE_TS_WS_NO 0xfu
#define ET_COOKIE_TS_SACK  (1u << 4)
#define ET_COOKIE_TS_ECN   (1u << 5)

/* The connection a cookie names, host order. */
typedef struct et_cookie_tuple {
    uint32_t local_ip, remote_ip;
    uint16_t local_port, remote_port;
} et_cookie_tuple;

/* What the TSval bits of a cookie carry. */
typedef struct et_cookie_ts {
    bool ws_ok;   /* the peer offered window scaling (and we agreed) */
    uint8_t ws;   /* its shift, 0..14 */
    bool sack_ok; /* the peer offered SACK-permitted */
    bool ecn_ok;  /* ECN was negotiated (never today) */
} et_cookie_ts;

static inline uint32_t et_cookie_counter(uint64_t now_ns)
{
    return (uint32_t)(now_ns / ET_COOKIE_PERIOD_NS);
}
/* The index of the largest table MSS not above mss (the smallest entry if none is). */
uint32_t et_cookie_mss_index(uint32_t mss);
/* The MSS of index idx (< ET_COOKIE_MSS_N). */
uint16_t et_cookie_mss(uint32_t idx);
/* Our ISN for a SYN with ISN peer_isn, at counter, carrying MSS index mss_idx. */
uint32_t et_cookie_make(const uint64_t key[2], const et_cookie_tuple *t, uint32_t peer_isn,
                        uint32_t counter, uint32_t mss_idx);
/* Checks cookie (SEG.ACK - 1 of the final ACK, whose SEG.SEQ - 1 is peer_isn) at counter: the
   MSS index it carries, or -1 when it is not ours, or older than the previous counter. */
int et_cookie_check(const uint64_t key[2], const et_cookie_tuple *t, uint32_t peer_isn,
                    uint32_t cookie, uint32_t counter);
/* A TSval at most ts_now (never ahead: the peer's PAWS would later see ours go back) whose low
   bits carry o. */
uint32_t et_cookie_tsval(uint32_t ts_now, const et_cookie_ts *o);
/* What the low bits of tsecr (our cookie TSval, echoed) carry. */
et_cookie_ts et_cookie_ts_decode(uint32_t tsecr);

#endif
