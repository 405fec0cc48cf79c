/*
 * Faults injected into a simulated wire (efvitcp_wire_set_faults). They belong to the sending
 * endpoint: loss, bursts, duplication, jitter, corruption, partitions and an MTU, every draw from
 * that endpoint's seeded generator, so a run replays bit for bit. The fault state lives in the
 * port: setting faults never allocates. The wire (wire.c) asks here only for ports with faults.
 */
#include <stdbool.h>
#include <string.h>

#include "net/checksum.h"
#include "wire/wire_internal.h"
#include "util/abi.h"

static bool prob_ok(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN too */
}

const char *efvitcp_wire_set_faults_sized(efvitcp_wire *w, const char *endpoint_name,
                                          const efvitcp_wire_faults *f_in, size_t f_size)
{
    /* An older caller's struct lacks the newest impairments: they stay off (zero). */
    efvitcp_wire_faults faults = {0}, *f = NULL;
    if (f_in) {
        if (!et_abi_read(&faults, sizeof(faults), f_in, f_size))
            return "efvitcp_wire_set_faults: sets faults this (older) efvitcp library does not "
                   "know";
        f = &faults;
    }
    if (!w || !endpoint_name) return "efvitcp_wire_set_faults: wire or endpoint name is NULL";
    wire_port *p = NULL;
    for (uint32_t i = 0; i < w->cfg.max_ports; i++)
        if (w->ports[i].used && strcmp(w->ports[i].name, endpoint_name) == 0) p = &w->ports[i];
    if (!p) return "efvitcp_wire_set_faults: no such endpoint on this wire";
    if (f) {
        if (!prob_ok(f->loss) || !prob_ok(f->ge_enter_bad) || !prob_ok(f->ge_leave_bad) ||
            !prob_ok(f->ge_loss_good) || !prob_ok(f->ge_loss_bad) || !prob_ok(f->duplicate) ||
            !prob_ok(f->corrupt) || !prob_ok(f->corrupt_fixed))
            return "efvitcp_wire_set_faults: probabilities must lie in 0..1";
        if (f->mtu && (f->mtu < 68 || f->mtu > w->cfg.mtu))
            return "efvitcp_wire_set_faults: mtu must be 0 or 68..the wire's mtu";
        p->faults = *f;
        p->has_faults = true;
    } else {
        memset(&p->faults, 0, sizeof(p->faults));
        p->has_faults = false;
    }
    /* A new fault mix starts its burst chain afresh; the generator runs on. */
    p->ge_bad = false;
    return NULL;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_unit(et_rng *r)
{
    return (double)(et_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A draw against probability p; no draw at all when p is 0, so a clean wire consumes nothing. */
static bool chance(wire_port *p, double prob)
{
    return prob > 0.0 && rng_unit(&p->rng) < prob;
}

/*
 * Natural logarithm of x in (0, 1] from IEEE arithmetic alone (no libm): x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed to s^17
 * (error below 1e-15). The same bits on every machine keep jittered runs replayable anywhere.
 */
static double det_ln(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof(b));
    int e = (int)((b >> 52) & 0x7ff) - 1023;
    b = (b & 0x000fffffffffffffull) | (1023ull << 52);
    double m;
    memcpy(&m, &b, sizeof(m));
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k <= 17; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.6931471805599453;
}

/* Exponential extra delay of one copy (0 when jitter is off). */
static uint64_t jitter_ns(efvitcp_wire *w, wire_port *p)
{
    const efvitcp_wire_faults *f = &p->faults;
    if (!f->jitter_mean_ns) return 0;
    /* (0, 1]: ln is finite */
    double u = (double)((et_rng_next(&p->rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double d = -det_ln(u) * (double)f->jitter_mean_ns;
    if (d > 9.0e18) d = 9.0e18;
    uint64_t ns = (uint64_t)d;
    if (f->jitter_max_ns && ns > f->jitter_max_ns) ns = f->jitter_max_ns;
    if (ns) w->st.fault_jitter++;
    return ns;
}

int wire_fault_admit(efvitcp_wire *w, uint32_t from_idx, const uint8_t *frame, uint32_t len,
                     uint64_t arrive, uint64_t at[WIRE_MAX_COPIES])
{
    wire_port *from = &w->ports[from_idx];
    /* Lost after the sender's line carried it: the queue and line time are spent. */
    const efvitcp_wire_faults *f = &from->faults;
    if (f->partition) {
        w->st.fault_partition++;
        wire_fault_note(w, from_idx, ET_WIRE_FAULT_PARTITION, frame, len, UINT32_MAX);
        return 0;
    }
    if (chance(from, f->loss)) {
        w->st.fault_loss++;
        wire_fault_note(w, from_idx, ET_WIRE_FAULT_LOSS, frame, len, UINT32_MAX);
        return 0;
    }
    if (f->ge_enter_bad > 0.0 || from->ge_bad) {
        if (from->ge_bad) {
            if (chance(from, f->ge_leave_bad)) from->ge_bad = false;
        } else if (chance(from, f->ge_enter_bad)) {
            from->ge_bad = true;
        }
        if (chance(from, from->ge_bad ? f->ge_loss_bad : f->ge_loss_good)) {
            w->st.fault_burst_loss++;
            wire_fault_note(w, from_idx, ET_WIRE_FAULT_BURST_LOSS, frame, len, UINT32_MAX);
            return 0;
        }
    }
    int copies = 1;
    if (chance(from, f->duplicate)) {
        copies = 2;
        w->st.fault_dup++;
        wire_fault_note(w, from_idx, ET_WIRE_FAULT_DUP, frame, len, UINT32_MAX);
    }
    for (int c = 0; c < copies; c++) at[c] = wire_sat_add(arrive, jitter_ns(w, from));
    return copies;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Offset of the TCP header in an IPv4/TCP frame whose lengths hold together, or 0. */
static uint32_t tcp_offset(const uint8_t *f, uint32_t len)
{
    if (len < ETH_HDR_LEN + 40 || rd16(f + 12) != 0x0800 || f[ETH_HDR_LEN + 9] != 6) return 0;
    uint32_t ihl = (f[ETH_HDR_LEN] & 15u) * 4u, tot = rd16(f + ETH_HDR_LEN + 2);
    if (ihl < 20 || tot < ihl + 20 || tot > len - ETH_HDR_LEN) return 0;
    return ETH_HDR_LEN + ihl;
}

/*
 * Bit k (0..81) of the TCP header bits a receiver must survive (efvitcp.h, corrupt_fixed), as a
 * byte offset in the header and a bit number: ports (32), the top nibbles of the sequence and
 * acknowledgment numbers (4 + 4), the reserved nibble (4), CWR/ECE/URG/ACK/PSH/SYN (6), window
 * (16) and urgent pointer (16).
 */
#define SAFE_TCP_BITS 82u
static void safe_tcp_bit(uint32_t k, uint32_t *byte, uint32_t *bit)
{
    static const uint8_t flag_bits[6] = {7, 6, 5, 4, 3, 1};
    if (k < 32) {
        *byte = k / 8, *bit = k % 8;
    } else if (k < 36) {
        *byte = 4, *bit = 4 + (k - 32);
    } else if (k < 40) {
        *byte = 8, *bit = 4 + (k - 36);
    } else if (k < 44) {
        *byte = 12, *bit = k - 40;
    } else if (k < 50) {
        *byte = 13, *bit = flag_bits[k - 44];
    } else if (k < 66) {
        *byte = 14 + (k - 50) / 8, *bit = (k - 50) % 8;
    } else {
        *byte = 18 + (k - 66) / 8, *bit = (k - 66) % 8;
    }
}

void wire_fault_corrupt(efvitcp_wire *w, uint32_t from_idx, uint8_t *f, uint32_t len)
{
    wire_port *from = &w->ports[from_idx];
    /* ARP has no checksum of its own (the Ethernet FCS, not modelled, guards it): only IPv4
       frames are corrupted. */
    if (len < ETH_HDR_LEN + 20 || rd16(f + 12) != 0x0800) return;
    if (chance(from, from->faults.corrupt)) {
        uint32_t bit = ETH_HDR_LEN * 8 + et_rng_below(&from->rng, (len - ETH_HDR_LEN) * 8);
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        w->st.fault_corrupt++;
        wire_fault_note(w, from_idx, ET_WIRE_FAULT_CORRUPT, f, len, bit);
    }
    uint32_t t = tcp_offset(f, len);
    if (t && chance(from, from->faults.corrupt_fixed)) {
        uint32_t byte, b;
        safe_tcp_bit(et_rng_below(&from->rng, SAFE_TCP_BITS), &byte, &b);
        /* RFC 1624: patch the checksum for the one 16-bit word that changed. */
        uint8_t *word = f + t + (byte & ~1u);
        uint16_t old_w, new_w, csum;
        memcpy(&old_w, word, 2);
        f[t + byte] ^= (uint8_t)(1u << b);
        memcpy(&new_w, word, 2);
        memcpy(&csum, f + t + 16, 2);
        csum = et_csum_update16(csum, old_w, new_w);
        memcpy(f + t + 16, &csum, 2);
        w->st.fault_corrupt_fixed++;
        wire_fault_note(w, from_idx, ET_WIRE_FAULT_CORRUPT_FIXED, f, len, (t + byte) * 8 + b);
    }
}
