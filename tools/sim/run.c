/*
 * One simulated run (see sim.h): swarm parameters from the seed, a client and a server instance
 * on one mem wire, a workload of several connections moving data both ways with half closes,
 * aborts and slow readers, faults for a while and then none, and checks after every poll.
 *
 * What is checked:
 *   - every payload byte, as it is presented (on_data, on_fin, efvitcp_unread), against
 *     f(seed, connection, direction, offset); totals and hashes of both ends at the end;
 *   - the engine's invariants (et_stack_check) of both instances after every poll and every
 *     burst of API calls, and legal state transitions of every connection slot;
 *   - the API's promises: send() takes exactly min(len, sendable()), callbacks come in a legal
 *     order and never after the end of a connection;
 *   - liveness: once the faults stop, every transfer and close completes within a bounded
 *     virtual time; a run in which nothing is pending and nothing is done is stuck;
 *   - teardown: no connection, no timer, no busy buffer, no table entry, nothing on the wire.
 *
 * With --link efvi or efct (the emulator build, EFVITCP_SIM_EFVI) each instance runs the efvi
 * link on an emulated NIC port of its own on the same wire. A port is a raw endpoint of the wire
 * named like the instance, so the wire's faults, tap and fault hook apply to its frames as to a
 * mem endpoint's. The ports' kinds and options come from a stream of their own, and so do the
 * NIC faults (losses by another name: starved RX rings, stalled TX rings, failed cut-through
 * sends, discards, event queue overflows), so that a seed on the mem link runs as it always did.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/instance.h"
#include "sim.h"
#include "check.h"
#include "util/random.h"
#ifdef EFVITCP_SIM_EFVI
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#endif

#define MAX_CONNS        10
#define N_LISTEN         3
#define CLOSED_PORT      5006  /* two bits away from every listening port too */
#define TICK_NS          1024u /* the timer wheel's tick */
#define SERVER_IP        "198.18.0.1"
#define CLIENT_IP        "198.18.0.2"
#define MS               1000000ull
#define SEC              1000000000ull
#define CHUNK_MAX        65536u
#define SPIN_MAX         20000u /* polls without time moving before the run counts as a livelock */
#define STALL_SPINS      8u     /* polls at one instant before a stalled TX ring lets time pass */
#define CLIENT_WIRE_PORT 1u     /* the server attaches to the wire first */

/* Listening ports two bits apart from each other, so one flipped bit never turns a segment for
   one into a segment for another. */
static const uint16_t listen_ports[N_LISTEN] = {5000, 5003, 5005};

const char *const sim_profile_names[PROF_COUNT] = {
    "clean", "lossy", "burst", "reorder", "dup", "corrupt", "slow", "partition", "flaky",
};

const char *const sim_link_names[SIM_LINK_COUNT] = {"mem", "efvi", "efct"};
#ifdef EFVITCP_SIM_EFVI
const bool sim_have_emulator = true;
#else
const bool sim_have_emulator = false;
#endif

enum { CLI = 0, SRV = 1 };
enum { END_NONE = 0, END_CLOSED, END_RESET, END_TIMEOUT, END_REFUSED, END_ABORTED };
static const char *const end_names[] = {"live", "closed", "reset", "timeout", "refused", "aborted"};
enum { READ_ALL = 0, READ_PART, READ_STALL, READ_MIXED };

typedef struct side {
    efvitcp_conn *c; /* while the connection is live on this side */
    bool known;      /* connect returned it (client) or on_established reported it (server) */
    bool established, fin_seen, fin_sent;
    int end;
    /* sending */
    uint64_t tx_total, tx_off, tx_hash;
    uint64_t fin_at; /* send the FIN once everything is queued and the time has come */
    /* receiving (the peer's stream) */
    uint64_t rx_consumed, rx_seen, rx_hash;
    int reader;
    uint64_t stall_until;
    /* abort plan: after this many bytes received, or at this time (UINT64_MAX: never) */
    uint64_t abort_rx, abort_at;
    /* pacing: bursts of up to burst bytes, gap_max apart (0: as fast as the ring takes) */
    uint32_t burst, gap_max;
    uint64_t next_send_at;
    /* user timers armed by the workload: when each is due (0: not armed) */
    uint64_t timer_due[4];
    uint32_t timer_overdue[4]; /* polls that reached the time without firing it */
} side;

typedef struct conn_rec {
    uint32_t idx;
    uint16_t cport, sport; /* client's local port (0 until connect), server port */
    uint64_t connect_at;
    uint64_t connected_ns; /* when connect was called */
    bool connected;
    bool doomed; /* a fault made a segment no TCP can tell from a genuine one */
    bool refuse; /* the server refuses it (allow_new_connection, or a port nobody listens on) */
    side s[2];
} conn_rec;

typedef struct run run;

typedef struct ep_ctx {
    run *r;
    int side;
} ep_ctx;

/* A planned change of the faults of one direction. */
typedef struct fault_step {
    uint64_t at;
    int dir; /* sender: CLI or SRV */
    efvitcp_wire_faults f;
    bool clear;
} fault_step;

#define MAX_STEPS     64
#define MAX_DOOMS     64
#define MAX_NIC_STEPS 24

#ifdef EFVITCP_SIM_EFVI
/* A planned change of the emulator faults of one port. */
typedef struct nic_step {
    uint64_t at;
    int dir; /* the port: CLI or SRV */
    efvi_emu_faults f;
} nic_step;
#endif

/* A tuple whose connection a fault doomed, and when (the SYN may leave inside connect, before
   the record learns its port). */
typedef struct doom {
    uint16_t cport, sport;
    uint64_t at;
} doom;

struct run {
    const sim_opts *o;
    sim_result *res;
    et_rng work; /* workload decisions */
    efvitcp_wire *w;
    efvitcp_client *cli;
    efvitcp_server *srv;
    efvitcp_handler h[2];
    ep_ctx ctx[2];
    conn_rec conns[MAX_CONNS];
    uint32_t n_conns;
    uint64_t stream_key;
    bool failed;
    /* faults */
    fault_step steps[MAX_STEPS];
    uint32_t n_steps, next_step;
    uint64_t heal_at; /* every fault stops here */
    uint64_t deadline;
    uint32_t late_pct, late_max_ns; /* polls that come late, and by how much at most */
    doom dooms[MAX_DOOMS];
    uint32_t n_dooms;
#ifdef EFVITCP_SIM_EFVI
    nic_step nsteps[MAX_NIC_STEPS];
    uint32_t n_nsteps, next_nstep;
    bool tx_stalled[2]; /* the NIC fault in force on each port */
#endif

    /* frame hash */
    uint64_t hash;
    uint64_t frames;
    uint64_t t_last_data;
    /* state tracking of every slot of both stacks: generation and state seen last */
    uint32_t *seen_gen[2];
    uint8_t *seen_state[2];
    uint8_t scratch[CHUNK_MAX], want[CHUNK_MAX];
};

/* ------------------------------------------------------------------------------------------ */
/* Failure reporting                                                                          */
/* ------------------------------------------------------------------------------------------ */

static uint64_t now_of(const run *r)
{
    return efvitcp_wire_now(r->w);
}

static void failf(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(run *r, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = true;
    int n = snprintf(r->res->reason, sizeof(r->res->reason), "t=%.6f s: ", (double)now_of(r) / 1e9);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->res->reason + n, sizeof(r->res->reason) - (size_t)n, fmt, ap);
    va_end(ap);
}

static et_stack *stack_of(run *r, int sd)
{
    return sd == CLI ? &r->cli->st : &r->srv->st;
}

/* ------------------------------------------------------------------------------------------ */
/* Payload: byte = f(seed, connection, direction, offset)                                     */
/* ------------------------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Stream of connection conn sent by side dir. Each 8-byte word is a hash of its index, so a copy
   misplaced by any distance, or into another stream, is caught. */
static void pattern(const run *r, uint32_t conn, int dir, uint64_t off, uint8_t *out, uint32_t n)
{
    uint64_t key = mix64(r->stream_key ^ ((uint64_t)(conn * 2 + (uint32_t)dir + 1) << 40));
    while (n) {
        uint64_t wv = mix64((off >> 3) ^ key);
        uint32_t b = (uint32_t)(off & 7), k = 8 - b;
        if (k > n) k = n;
        uint8_t word[8];
        memcpy(word, &wv, 8);
        memcpy(out, word + b, k);
        out += k;
        off += k;
        n -= k;
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Checks n received bytes claimed to be the peer's stream at off. */
static bool verify(run *r, conn_rec *cr, int sd, uint64_t off, const uint8_t *p, uint64_t n,
                   const char *where)
{
    int dir = sd ^ 1; /* the stream this side receives is sent by the other */
    while (n) {
        uint32_t k = n < CHUNK_MAX ? (uint32_t)n : CHUNK_MAX;
        pattern(r, cr->idx, dir, off, r->want, k);
        if (memcmp(p, r->want, k) != 0) {
            uint32_t i = 0;
            while (p[i] == r->want[i]) i++;
            failf(r, "conn %u %s (%s): byte %llu of the %s stream is 0x%02x, want 0x%02x", cr->idx,
                  sd == CLI ? "client" : "server", where, (unsigned long long)(off + i),
                  dir == CLI ? "client" : "server", p[i], r->want[i]);
            return false;
        }
        p += k;
        off += k;
        n -= k;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Wire observers                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void tap(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len, uint64_t now)
{
    run *r = ctx;
    uint64_t hdr[3] = {from_port, len, now};
    r->hash = fnv(r->hash, hdr, sizeof(hdr));
    r->hash = fnv(r->hash, frame, len);
    r->frames++;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Corruptions with a recomputed checksum that no TCP can survive (efvitcp.h, corrupt_fixed):
 *   - a sequence number of a SYN or SYN-ACK: the receiver takes a wrong initial number;
 *   - a port of a RST: it lands on another connection. That happens when a segment whose port
 *     was flipped drew a RST for the unknown tuple and the RST's port was flipped back: two
 *     faults that together forge an exact RST.
 */
static void fault_hook(void *ctx, uint32_t from_port, int kind, const uint8_t *f, uint32_t len,
                       uint32_t bit)
{
    run *r = ctx;
    if (kind != ET_WIRE_FAULT_CORRUPT_FIXED || len < 54 || rd16(f + 12) != 0x0800) return;
    uint32_t t = 14 + (f[14] & 15u) * 4u;
    if (t + 20 > len) return;
    uint32_t byte = bit / 8;
    bool syn_seq = (f[t + 13] & 0x02) && byte >= t + 4 && byte < t + 8;
    bool rst_port = (f[t + 13] & 0x04) && byte >= t && byte < t + 4;
    if (!syn_seq && !rst_port) return;
    uint16_t sp = rd16(f + t), dp = rd16(f + t + 2);
    doom *d = &r->dooms[r->n_dooms < MAX_DOOMS ? r->n_dooms++ : MAX_DOOMS - 1];
    d->cport = from_port == CLIENT_WIRE_PORT ? sp : dp;
    d->sport = from_port == CLIENT_WIRE_PORT ? dp : sp;
    d->at = now_of(r);
}

/* Did a fault doom this connection (a doom of its tuple since it was opened)? */
static bool doomed(run *r, conn_rec *cr)
{
    for (uint32_t i = 0; i < r->n_dooms && !cr->doomed && cr->connected; i++) {
        const doom *d = &r->dooms[i];
        if (d->cport == cr->cport && d->sport == cr->sport && d->at >= cr->connected_ns)
            cr->doomed = true;
    }
    return cr->doomed;
}

/* ------------------------------------------------------------------------------------------ */
/* Callbacks                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static conn_rec *rec_of(run *r, efvitcp_conn *c)
{
    uint32_t v;
    memcpy(&v, efvitcp_user_data(c), sizeof(v));
    return v && v <= r->n_conns ? &r->conns[v - 1] : NULL;
}

static void set_rec(efvitcp_conn *c, const conn_rec *cr)
{
    uint32_t v = cr->idx + 1;
    memcpy(efvitcp_user_data(c), &v, sizeof(v));
}

/* The record and side of a callback's connection; fails the run on a stranger. */
static side *side_of(run *r, int sd, efvitcp_conn *c, conn_rec **out, const char *cb)
{
    conn_rec *cr = rec_of(r, c);
    if (!cr) {
        failf(r, "%s: %s for a connection the workload does not know",
              sd == CLI ? "client" : "server", cb);
        return NULL;
    }
    side *s = &cr->s[sd];
    if (s->end || s->c != c) {
        failf(r, "conn %u %s: %s after the connection ended (%s)", cr->idx,
              sd == CLI ? "client" : "server", cb, end_names[s->end]);
        return NULL;
    }
    *out = cr;
    return s;
}

static void abort_side(run *r, conn_rec *cr, int sd)
{
    side *s = &cr->s[sd];
    efvitcp_conn_close(s->c);
    if (!efvitcp_is_closed(s->c))
        failf(r, "conn %u: efvitcp_conn_close left the slot live", cr->idx);
    s->c = NULL;
    s->end = END_ABORTED;
    r->res->aborted++;
}

static void cb_established(void *ctx, efvitcp_conn *c)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    if (e->side == SRV) {
        struct sockaddr_in peer;
        efvitcp_peername(c, &peer);
        uint16_t cport = __builtin_bswap16(peer.sin_port), sport = efvitcp_local_port(c);
        /* The record whose client side is live (an earlier one may have had these ports), else
           the latest one whose client aborted: its RST may be lost while the handshake's last
           ACK still arrives. */
        conn_rec *found = NULL;
        for (uint32_t i = 0; i < r->n_conns; i++) {
            conn_rec *cr = &r->conns[i];
            if (!cr->connected || cr->cport != cport || cr->sport != sport || cr->s[SRV].known)
                continue;
            if (cr->s[CLI].c || (cr->s[CLI].end == END_ABORTED && !(found && found->s[CLI].c)))
                found = cr;
        }
        if (found) {
            found->s[SRV].known = true;
            found->s[SRV].c = c;
            set_rec(c, found);
        }
    }
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, "on_established");
    if (!s) return;
    if (s->established) failf(r, "conn %u: on_established twice", cr->idx);
    s->established = true;
}

static bool side_stalled(const run *r, const side *s)
{
    return s->reader == READ_STALL && now_of(r) < s->stall_until;
}

/* Bytes a reader takes of avail presented ones. */
static uint32_t reader_take(run *r, side *s, uint32_t avail)
{
    if (!avail) return 0;
    switch (s->reader) {
    case READ_ALL:
        return avail;
    case READ_PART:
        return et_rng_below(&r->work, avail + 1);
    case READ_STALL:
        if (side_stalled(r, s)) return 0;
        /* now and then a new stall begins */
        if (et_rng_below(&r->work, 64) == 0) {
            s->stall_until = now_of(r) + (1 + et_rng_below(&r->work, 50)) * MS;
            return 0;
        }
        return avail;
    default:
        switch (et_rng_below(&r->work, 4)) {
        case 0:
            return 0;
        case 1:
            return et_rng_below(&r->work, avail + 1);
        default:
            return avail;
        }
    }
}

static void consumed(run *r, conn_rec *cr, side *s, const uint8_t *p, uint32_t n)
{
    s->rx_hash = fnv(s->rx_hash, p, n);
    s->rx_consumed += n;
    r->res->payload += n;
    r->t_last_data = now_of(r);
}

static uint32_t cb_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, "on_data");
    if (!s) return 0;
    const side *peer = &cr->s[e->side ^ 1];
    uint64_t held = s->rx_seen - s->rx_consumed;
    if (!s->established || s->fin_seen)
        failf(r, "conn %u: on_data %s", cr->idx,
              s->fin_seen ? "after on_fin" : "before on_established");
    if (len <= held) {
        failf(r, "conn %u: on_data presents %u bytes, %llu were held (no new data)", cr->idx, len,
              (unsigned long long)held);
        return 0;
    }
    /* The held bytes come again first (copied into the receive buffer): check them all. */
    if (!verify(r, cr, e->side, s->rx_consumed, data, len, "on_data")) return 0;
    s->rx_seen = s->rx_consumed + len;
    if (s->rx_seen > peer->tx_total) {
        failf(r, "conn %u: received %llu bytes, the peer sends %llu", cr->idx,
              (unsigned long long)s->rx_seen, (unsigned long long)peer->tx_total);
        return 0;
    }
    uint32_t take = reader_take(r, s, len);
    consumed(r, cr, s, data, take);
    if (s->rx_seen >= s->abort_rx) {
        abort_side(r, cr, e->side);
        return 0;
    }
    return len - take;
}

static void cb_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, "on_fin");
    if (!s) return;
    const side *peer = &cr->s[e->side ^ 1];
    if (s->fin_seen) failf(r, "conn %u: on_fin twice", cr->idx);
    s->fin_seen = true;
    if (len != s->rx_seen - s->rx_consumed)
        failf(r, "conn %u: on_fin presents %u bytes, %llu are held", cr->idx, len,
              (unsigned long long)(s->rx_seen - s->rx_consumed));
    else if (verify(r, cr, e->side, s->rx_consumed, data, len, "on_fin") && len &&
             et_rng_below(&r->work, 2)) {
        /* else the rest is left for a later catch-up, or for on_closed */
        consumed(r, cr, s, data, len);
        efvitcp_consume(c, len);
    }
    if (s->rx_seen != peer->tx_total)
        failf(r, "conn %u %s: FIN after %llu bytes, the peer sends %llu", cr->idx,
              e->side == CLI ? "client" : "server", (unsigned long long)s->rx_seen,
              (unsigned long long)peer->tx_total);
}

static void ended(void *ctx, efvitcp_conn *c, int how, const char *cb)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, cb);
    if (!s) return;
    if (how == END_CLOSED) {
        /* The slot is freed after the callback: bytes still held are read now. */
        const uint8_t *p = NULL;
        uint32_t n = efvitcp_unread(c, &p);
        if (n != s->rx_seen - s->rx_consumed)
            failf(r, "conn %u: efvitcp_unread in on_closed says %u bytes, %llu are held", cr->idx,
                  n, (unsigned long long)(s->rx_seen - s->rx_consumed));
        else if (n && verify(r, cr, e->side, s->rx_consumed, p, n, "on_closed")) {
            consumed(r, cr, s, p, n);
            efvitcp_consume(c, n);
        }
    }
    s->end = how;
    s->c = NULL;
    const side *peer = &cr->s[e->side ^ 1];
    /* A reset is the right end when the peer aborted, or when the peer closed cleanly (so it
       had everything, our FIN included) but the ACK of our FIN was lost and the peer kept no
       TIME_WAIT record to send it again (TIME_WAIT off, full, or over before our retransmission):
       RFC 9293 §3.6 keeps TIME_WAIT for exactly this. */
    bool excused = doomed(r, cr) || peer->end == END_ABORTED ||
                   (how == END_REFUSED && cr->refuse && e->side == CLI) ||
                   (how == END_RESET && peer->end == END_CLOSED && s->fin_seen && s->fin_sent);
    if (how == END_CLOSED) {
        if (!s->fin_seen || !s->fin_sent)
            failf(r, "conn %u %s: on_closed without both FINs (seen %d sent %d)", cr->idx,
                  e->side == CLI ? "client" : "server", s->fin_seen, s->fin_sent);
    } else if (!excused) {
        failf(r, "conn %u %s: %s (the peer did not abort)", cr->idx,
              e->side == CLI ? "client" : "server", cb);
    }
}

static void cb_closed(void *ctx, efvitcp_conn *c)
{
    ended(ctx, c, END_CLOSED, "on_closed");
}
static void cb_reset(void *ctx, efvitcp_conn *c)
{
    ended(ctx, c, END_RESET, "on_reset");
}
static void cb_timeout(void *ctx, efvitcp_conn *c)
{
    ended(ctx, c, END_TIMEOUT, "on_timeout");
}
static void cb_refused(void *ctx, efvitcp_conn *c)
{
    ended(ctx, c, END_REFUSED, "on_refused");
}

static void pump(run *r, conn_rec *cr, int sd);

static void cb_more_sendable(void *ctx, efvitcp_conn *c)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, "on_more_sendable");
    if (!s) return;
    pump(r, cr, e->side);
}

static bool cb_allow(void *ctx, const struct sockaddr_in *peer, uint16_t port)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    uint16_t cport = __builtin_bswap16(peer->sin_port);
    bool listening = false;
    for (int i = 0; i < N_LISTEN; i++)
        if (listen_ports[i] == port) listening = true;
    if (!listening) {
        failf(r, "allow_new_connection for port %u, which is not listened on", port);
        return false;
    }
    /* the live record with that tuple (an earlier one may have used the same ports) */
    for (uint32_t i = 0; i < r->n_conns; i++) {
        const conn_rec *cr = &r->conns[i];
        if (cr->connected && cr->cport == cport && cr->sport == port && cr->s[CLI].c)
            return !cr->refuse;
    }
    return true; /* a SYN whose port a fault flipped: the handshake cannot complete anyway */
}

static void cb_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    ep_ctx *e = ctx;
    run *r = e->r;
    conn_rec *cr;
    side *s = side_of(r, e->side, c, &cr, "on_user_timeout");
    if (!s) return;
    uint64_t now = now_of(r);
    if (id >= 4 || !s->timer_due[id]) {
        failf(r, "conn %u: user timer %u fired but was not armed", cr->idx, id);
        return;
    }
    /* Never before its time (late polls fire it late; overdue_timers bounds how late). */
    if (now < s->timer_due[id])
        failf(r, "conn %u: user timer %u due at %llu fired at %llu", cr->idx, id,
              (unsigned long long)s->timer_due[id], (unsigned long long)now);
    s->timer_due[id] = 0;
    s->timer_overdue[id] = 0;
}

/* Now and then arms, re-arms or cancels one of the connection's user timers. */
static void play_timers(run *r, conn_rec *cr, int sd)
{
    side *s = &cr->s[sd];
    uint32_t n = stack_of(r, sd)->cfg.user_timers;
    if (n > 4) n = 4;
    if (!n || et_rng_below(&r->work, 16)) return;
    uint32_t id = et_rng_below(&r->work, n);
    if (et_rng_below(&r->work, 4) == 0) {
        efvitcp_cancel_user_timer(s->c, id);
        s->timer_due[id] = 0;
        return;
    }
    uint64_t ns = 1 + et_rng_below(&r->work, 100 * 1000000);
    const char *err = efvitcp_set_user_timer_ns(s->c, id, ns);
    if (err) {
        failf(r, "conn %u: set_user_timer: %s", cr->idx, err);
        return;
    }
    s->timer_due[id] = now_of(r) + ns;
    s->timer_overdue[id] = 0;
}

/*
 * After a poll of side sd: a user timer whose tick that poll reached must have fired in it, or
 * within the few polls in which a stack may put its timers off behind a backlog of frames
 * (stack.c: at most rx_bufs / 32 polls).
 */
static void overdue_timers(run *r, int sd)
{
    uint64_t now = now_of(r);
    uint32_t grace = stack_of(r, sd)->cfg.rx_bufs / 32 + 1;
    for (uint32_t i = 0; i < r->n_conns && !r->failed; i++) {
        side *s = &r->conns[i].s[sd];
        if (!s->c) continue;
        for (int id = 0; id < 4; id++) {
            uint64_t due = s->timer_due[id];
            if (!due || now < (due + TICK_NS - 1) / TICK_NS * TICK_NS) continue;
            if (++s->timer_overdue[id] > grace)
                failf(r, "conn %u %s: user timer %d due at %llu has not fired after %u polls", i,
                      sd == CLI ? "client" : "server", id, (unsigned long long)due,
                      s->timer_overdue[id] - 1);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Workload                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static bool can_send_state(efvitcp_conn *c)
{
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    return cs.state == EFVITCP_ESTABLISHED || cs.state == EFVITCP_CLOSE_WAIT;
}

/* Queues as much of this side's stream as the ring takes, in random chunks. */
static void pump(run *r, conn_rec *cr, int sd)
{
    side *s = &cr->s[sd];
    uint64_t now = now_of(r);
    if (now < s->next_send_at) return;
    uint64_t burst_end = s->gap_max ? s->tx_off + 1 + et_rng_below(&r->work, s->burst) : UINT64_MAX;
    for (int rounds = 0; rounds < 64 && s->c && !s->fin_sent && s->tx_off < s->tx_total; rounds++) {
        if (s->tx_off >= burst_end) {
            s->next_send_at = now + et_rng_below(&r->work, s->gap_max);
            return;
        }
        if (!can_send_state(s->c)) return;
        uint32_t avail = efvitcp_sendable(s->c);
        if (!avail) return;
        uint64_t left = (burst_end < s->tx_total ? burst_end : s->tx_total) - s->tx_off;
        uint32_t n = 1 + et_rng_below(&r->work, et_rng_below(&r->work, 4) ? CHUNK_MAX : 2000);
        if (n > left) n = (uint32_t)left;
        pattern(r, cr->idx, sd, s->tx_off, r->scratch, n);
        bool more = et_rng_below(&r->work, 4) == 0;
        uint32_t acc;
        if (n >= 3 && et_rng_below(&r->work, 4) == 0) {
            struct iovec iov[3];
            uint32_t a = 1 + et_rng_below(&r->work, n - 2),
                     b = 1 + et_rng_below(&r->work, n - a - 1);
            iov[0] = (struct iovec){r->scratch, a};
            iov[1] = (struct iovec){r->scratch + a, b};
            iov[2] = (struct iovec){r->scratch + a + b, n - a - b};
            acc = efvitcp_sendv(s->c, iov, 3, more);
        } else {
            acc = efvitcp_send(s->c, r->scratch, n, more);
        }
        uint32_t expect = n < avail ? n : avail;
        if (acc != expect) {
            failf(r, "conn %u: send took %u of %u bytes, sendable() said %u", cr->idx, acc, n,
                  avail);
            return;
        }
        s->tx_hash = fnv(s->tx_hash, r->scratch, acc);
        s->tx_off += acc;
        if (acc < n) return;
    }
}

/* Catches a reader up through efvitcp_unread/efvitcp_consume. */
static void catch_up(run *r, conn_rec *cr, int sd)
{
    side *s = &cr->s[sd];
    if (!s->c || side_stalled(r, s)) return;
    uint64_t held = s->rx_seen - s->rx_consumed;
    const uint8_t *p = NULL;
    uint32_t n = efvitcp_unread(s->c, &p);
    if (n != held) {
        failf(r, "conn %u: efvitcp_unread says %u bytes held, %llu were left", cr->idx, n,
              (unsigned long long)held);
        return;
    }
    if (!n) return;
    if (!verify(r, cr, sd, s->rx_consumed, p, n, "efvitcp_unread")) return;
    uint32_t take = s->reader == READ_ALL ? n : 1 + et_rng_below(&r->work, n);
    if (et_rng_below(&r->work, 2)) take = n;
    consumed(r, cr, s, p, take);
    efvitcp_consume(s->c, take);
}

static void connect_rec(run *r, conn_rec *cr)
{
    efvitcp_conn *c = NULL;
    cr->connected_ns = now_of(r);
    const char *err = efvitcp_client_connect(r->cli, SERVER_IP, cr->sport, 0, &c);
    cr->connected = true;
    if (err) {
        failf(r, "conn %u: connect: %s", cr->idx, err);
        return;
    }
    cr->cport = efvitcp_local_port(c);
    cr->s[CLI].c = c;
    cr->s[CLI].known = true;
    set_rec(c, cr);
}

static bool side_done(const conn_rec *cr, int sd)
{
    const side *s = &cr->s[sd];
    if (sd == SRV && !s->known) {
        /* The server never reported it: fine once the client side is over (it may have been
           aborted, or refused, before the handshake completed). */
        return cr->s[CLI].end != END_NONE;
    }
    return s->end != END_NONE;
}

static bool all_done(run *r)
{
    for (uint32_t i = 0; i < r->n_conns; i++) {
        const conn_rec *cr = &r->conns[i];
        if (!cr->connected || !side_done(cr, CLI) || !side_done(cr, SRV)) return false;
    }
    return r->cli->st.n_conns == 0 && r->srv->st.n_conns == 0 &&
           r->cli->st.stats.time_wait_active == 0 && r->srv->st.stats.time_wait_active == 0 &&
           efvitcp_wire_next_delivery(r->w) == UINT64_MAX;
}

static void apply_faults(run *r)
{
    uint64_t now = now_of(r);
    while (r->next_step < r->n_steps && r->steps[r->next_step].at <= now) {
        fault_step *f = &r->steps[r->next_step++];
        const char *err = efvitcp_wire_set_faults(r->w, f->dir == CLI ? "client" : "server",
                                                  f->clear ? NULL : &f->f);
        if (err) failf(r, "set_faults: %s", err);
    }
#ifdef EFVITCP_SIM_EFVI
    while (r->next_nstep < r->n_nsteps && r->nsteps[r->next_nstep].at <= now) {
        const nic_step *f = &r->nsteps[r->next_nstep++];
        efvi_emu_nic *nic = efvi_emu_nic_find(r->w, f->dir == CLI ? "client" : "server");
        if (!nic) failf(r, "no emulated port for the %s", f->dir == CLI ? "client" : "server");
        efvi_emu_set_faults(nic, &f->f);
        r->tx_stalled[f->dir] = f->f.tx_stall;
    }
#endif
}

/* Everything the application does between polls. */
static void workload(run *r)
{
    uint64_t now = now_of(r);
    apply_faults(r);
    for (uint32_t i = 0; i < r->n_conns && !r->failed; i++) {
        conn_rec *cr = &r->conns[i];
        if (!cr->connected) {
            if (now >= cr->connect_at) connect_rec(r, cr);
            continue;
        }
        for (int sd = 0; sd < 2 && !r->failed; sd++) {
            side *s = &cr->s[sd];
            if (!s->c) continue;
            if (now >= s->abort_at) {
                abort_side(r, cr, sd);
                continue;
            }
            if (!s->established) continue;
            catch_up(r, cr, sd);
            if (!s->c) continue;
            play_timers(r, cr, sd);
            pump(r, cr, sd);
            if (!s->fin_sent && s->tx_off == s->tx_total && now >= s->fin_at &&
                can_send_state(s->c)) {
                const char *err = efvitcp_send_fin(s->c);
                if (err)
                    failf(r, "conn %u: send_fin: %s", cr->idx, err);
                else
                    s->fin_sent = true;
            }
        }
    }
}

/* The next instant the workload wants to act (UINT64_MAX: only when something happens). */
static uint64_t workload_next(run *r)
{
    uint64_t t = UINT64_MAX, now = now_of(r);
    if (r->next_step < r->n_steps) t = r->steps[r->next_step].at;
#ifdef EFVITCP_SIM_EFVI
    if (r->next_nstep < r->n_nsteps && r->nsteps[r->next_nstep].at < t)
        t = r->nsteps[r->next_nstep].at;
#endif
    for (uint32_t i = 0; i < r->n_conns; i++) {
        conn_rec *cr = &r->conns[i];
        if (!cr->connected) {
            if (cr->connect_at < t) t = cr->connect_at;
            continue;
        }
        for (int sd = 0; sd < 2; sd++) {
            side *s = &cr->s[sd];
            if (!s->c) continue;
            if (s->abort_at < t) t = s->abort_at;
            if (!s->established) continue;
            if (!s->fin_sent && s->tx_off == s->tx_total && s->fin_at > now && s->fin_at < t)
                t = s->fin_at;
            if (s->tx_off < s->tx_total && s->next_send_at > now && s->next_send_at < t)
                t = s->next_send_at;
            if (s->rx_seen > s->rx_consumed) {
                uint64_t when = side_stalled(r, s) ? s->stall_until : now + 10000;
                if (when < t) t = when;
            }
        }
    }
    return t;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks after every poll                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* reach[a] has bit b when state b can follow state a within one connection (RFC 9293 §3.3.2
   figure 5, with efvitcp's WAIT_ARP before SYN-SENT); closing frees the slot instead. */
static uint32_t reach[EFVITCP_WAIT_ARP + 1];

static void init_reach(void)
{
    static const uint8_t edges[][2] = {
        {EFVITCP_CLOSED, EFVITCP_WAIT_ARP},          {EFVITCP_CLOSED, EFVITCP_SYN_SENT},
        {EFVITCP_CLOSED, EFVITCP_SYN_RECEIVED},      {EFVITCP_WAIT_ARP, EFVITCP_SYN_SENT},
        {EFVITCP_SYN_SENT, EFVITCP_SYN_RECEIVED},    {EFVITCP_SYN_SENT, EFVITCP_ESTABLISHED},
        {EFVITCP_SYN_RECEIVED, EFVITCP_ESTABLISHED}, {EFVITCP_ESTABLISHED, EFVITCP_FIN_WAIT_1},
        {EFVITCP_ESTABLISHED, EFVITCP_CLOSE_WAIT},   {EFVITCP_FIN_WAIT_1, EFVITCP_FIN_WAIT_2},
        {EFVITCP_FIN_WAIT_1, EFVITCP_CLOSING},       {EFVITCP_FIN_WAIT_1, EFVITCP_TIME_WAIT},
        {EFVITCP_FIN_WAIT_2, EFVITCP_TIME_WAIT},     {EFVITCP_CLOSE_WAIT, EFVITCP_LAST_ACK},
        {EFVITCP_CLOSING, EFVITCP_TIME_WAIT},
    };
    for (int s = 0; s <= EFVITCP_WAIT_ARP; s++) reach[s] = 1u << s;
    /* transitive closure: the graph is acyclic and tiny */
    for (int pass = 0; pass < 12; pass++)
        for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
            reach[edges[i][0]] |= reach[edges[i][1]];
}

static void check_stack(run *r, int sd, const char *when)
{
    if (r->failed) return;
    et_stack *st = stack_of(r, sd);
    char buf[512];
    const char *e = et_stack_check_detail(st, false, buf, sizeof(buf));
    if (e) {
        failf(r, "%s invariant after %s: %s", sd == CLI ? "client" : "server", when, e);
        return;
    }
    for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
        const et_conn *c = &st->conns[i];
        uint8_t prev = r->seen_state[sd][i];
        if (c->gen != r->seen_gen[sd][i]) {
            prev = EFVITCP_CLOSED; /* the slot was freed (and maybe reused) since */
            r->seen_gen[sd][i] = c->gen;
        }
        if (c->state != EFVITCP_CLOSED && !(reach[prev] & (1u << c->state))) {
            failf(r, "%s conn slot %u: illegal transition %s -> %s",
                  sd == CLI ? "client" : "server", i, efvitcp_state_name((efvitcp_state)prev),
                  efvitcp_state_name((efvitcp_state)c->state));
            return;
        }
        r->seen_state[sd][i] = c->state;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Swarm parameters                                                                           */
/* ------------------------------------------------------------------------------------------ */

static uint32_t pick(et_rng *g, uint32_t lo, uint32_t hi)
{
    return lo + et_rng_below(g, hi - lo + 1);
}
static bool coin(et_rng *g, uint32_t pct)
{
    return et_rng_below(g, 100) < pct;
}
static double frand(et_rng *g, double lo, double hi)
{
    return lo + (hi - lo) * (double)(et_rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
}
/* Log-uniform: small and large values equally likely. */
static uint32_t logpick(et_rng *g, uint32_t lo, uint32_t hi)
{
    uint32_t octaves = 0;
    while (((uint64_t)lo << (octaves + 1)) <= hi) octaves++;
    uint64_t x = (uint64_t)lo << et_rng_below(g, octaves + 1);
    x += et_rng_below(g, (uint32_t)(x > UINT32_MAX ? UINT32_MAX : x));
    return x > hi ? hi : (uint32_t)x;
}

static void stack_config(et_rng *g, efvitcp_config *cfg, uint32_t n_conns, uint64_t fault_max)
{
    efvitcp_config_default(cfg);
    cfg->seed = et_rng_next(g) | 1;
    cfg->max_conns = n_conns + pick(g, 0, 3);
    cfg->send_slots = 1u << pick(g, 2, 8);
    cfg->send_buf_1k = coin(g, 25);
    cfg->recv_buf_size = logpick(g, 1024, 512 * 1024);
    cfg->max_time_wait = pick(g, 0, 12);
    cfg->rx_bufs = coin(g, 15) ? pick(g, 16, 40) : 512;
    cfg->ctrl_bufs = coin(g, 30) ? pick(g, 4, 12) : 64;
    cfg->ooo_ranges = pick(g, 1, 16);
    /* Retries outlast the longest fault phase (3 s): with the RTO capped at 0.5 s or more, 10
       SYN and 18 data retries take longer than 3 s even from a 1 ms RTO. */
    cfg->syn_retries = pick(g, 10, 15);
    cfg->data_retries = pick(g, 18, 30);
    cfg->delayed_ack_us = coin(g, 30) ? 0 : pick(g, 50, 5000);
    cfg->min_rto_us = pick(g, 1000, 20000);
    cfg->max_rto_us = pick(g, 500000, 1000000);
    cfg->initial_rto_us = pick(g, 50000, cfg->max_rto_us < 300000 ? cfg->max_rto_us : 300000);
    cfg->window_scale = coin(g, 70);
    cfg->timestamps = coin(g, 70);
    cfg->cc = (efvitcp_cc)pick(g, 0, 2);
    cfg->time_wait_ms = coin(g, 20) ? 0 : pick(g, 10, 2000);
    /* Keepalive finds a peer that aborted while its RST was lost. It starts only after the
       faults stopped (no connection is silent for longer during them), so it never times out a
       live connection. */
    cfg->keepalive_ms = (uint32_t)(fault_max / MS) + pick(g, 1000, 3000);
    cfg->keepalive_intvl_ms = pick(g, 100, 1000);
    cfg->keepalive_probes = pick(g, 3, 9);
    cfg->mss = coin(g, 50) ? 0 : (uint16_t)pick(g, 536, 1460);
    cfg->user_timers = pick(g, 0, 4);
    cfg->user_data_size = 8;
    if (coin(g, 30)) {
        /* a narrow ephemeral range reuses ports, TIME_WAIT tuples included (RFC 6191) */
        cfg->ephemeral_min = (uint16_t)pick(g, 1024, 60000);
        cfg->ephemeral_max =
            (uint16_t)(cfg->ephemeral_min + cfg->max_conns + cfg->max_time_wait + pick(g, 0, 20));
    }
}

/* The faults of one direction under a profile, drawn from g. */
static void profile_faults(et_rng *g, int prof, efvitcp_wire_faults *f)
{
    memset(f, 0, sizeof(*f));
    bool all = prof == PROF_FLAKY;
    double scale = all ? 0.5 : 1.0;
    /* one run in four is heavy */
    double heavy = coin(g, 25) ? 3.0 : 1.0;
    if (prof == PROF_LOSSY || (all && coin(g, 70))) f->loss = frand(g, 0.002, 0.05) * scale * heavy;
    if (prof == PROF_BURST || (all && coin(g, 50))) {
        f->ge_enter_bad = frand(g, 0.002, 0.03) * scale;
        f->ge_leave_bad = frand(g, 0.3, 0.7);
        f->ge_loss_good = frand(g, 0, 0.002);
        f->ge_loss_bad = frand(g, 0.3, 0.8);
    }
    if (prof == PROF_REORDER || (all && coin(g, 60))) {
        f->jitter_mean_ns = pick(g, 5000, heavy > 1 ? 5000000 : 500000);
        f->jitter_max_ns = coin(g, 50) ? f->jitter_mean_ns * pick(g, 2, 10) : 0;
    }
    if (prof == PROF_DUP || (all && coin(g, 60)))
        f->duplicate = frand(g, 0.01, 0.1) * scale * heavy;
    if (prof == PROF_CORRUPT || (all && coin(g, 60))) {
        f->corrupt = frand(g, 0.005, 0.03) * scale * heavy;
        f->corrupt_fixed = frand(g, 0.005, 0.03) * scale * heavy;
    }
}

/* Plans the faults: a mix per direction from 0 to heal_at, and for partition (and flaky) a few
   partitions and MTU drops inside that time; at heal_at everything clears. */
static void plan_faults(run *r, et_rng *g)
{
    int prof = r->o->profile;
    uint64_t heal = r->heal_at;
    for (int d = 0; d < 2; d++) {
        fault_step *s = &r->steps[r->n_steps++];
        s->at = 0;
        s->dir = d;
        profile_faults(g, prof, &s->f);
    }
    if (prof == PROF_PARTITION || (prof == PROF_FLAKY && coin(g, 50))) {
        uint32_t n = pick(g, 1, 4);
        uint64_t t = pick(g, 1, 200) * MS;
        for (uint32_t i = 0; i < n && r->n_steps + 4 < MAX_STEPS && t < heal; i++) {
            uint64_t len = pick(g, 20, 800) * MS;
            bool mtu = coin(g, 25);
            int dirs = (int)pick(g, 0, 2); /* 0: client's frames, 1: server's, 2: both */
            for (int d = 0; d < 2; d++) {
                if (dirs != 2 && dirs != d) continue;
                /* the base mix of this direction, with the partition or MTU on top */
                fault_step on = r->steps[d], off = r->steps[d];
                on.at = t;
                off.at = t + len < heal ? t + len : heal;
                if (mtu)
                    on.f.mtu = pick(g, 576, 1200);
                else
                    on.f.partition = true;
                r->steps[r->n_steps++] = on;
                r->steps[r->n_steps++] = off;
            }
            t += len + pick(g, 10, 500) * MS;
        }
        /* keep the steps in time order (insertion sort, a handful of entries) */
        for (uint32_t i = 1; i < r->n_steps; i++) {
            fault_step x = r->steps[i];
            uint32_t j = i;
            while (j > 0 && r->steps[j - 1].at > x.at) {
                r->steps[j] = r->steps[j - 1];
                j--;
            }
            r->steps[j] = x;
        }
    }
    for (int d = 0; d < 2; d++) {
        fault_step *s = &r->steps[r->n_steps++];
        memset(s, 0, sizeof(*s));
        s->at = heal;
        s->dir = d;
        s->clear = true;
    }
}

#ifdef EFVITCP_SIM_EFVI
/*
 * The emulated NIC port of one instance, and the options of its efvi link (spec: "efvi:NAME" and
 * options), drawn from g: EF10 ports with or without CTPIO, an RX prefix, RX timestamps, small
 * receive buffers (which lower the link's MTU) and smaller TX rings; EFCT ports with small shared
 * receive pools and CTPIO FIFOs. Cut-through thresholds from 0 (every send may be poisoned when
 * it fails) to store and forward.
 */
static void nic_config(et_rng *g, int link, const char *name, efvi_emu_nic_config *nc, char *spec,
                       size_t cap)
{
    efvi_emu_nic_config_default(nc);
    nc->seed = et_rng_next(g) | 1;
    if (link == SIM_LINK_EFCT) {
        nc->arch = EF_VI_ARCH_EFCT;
        if (coin(g, 30)) {
            nc->efct_superbufs = pick(g, 2, 8);
            nc->efct_superbuf_pkts = pick(g, 32, 512);
        }
        if (coin(g, 30)) nc->ct_fifo_bytes = pick(g, 2048, 32768);
    } else {
        nc->ctpio = coin(g, 80);
        nc->force_prefix = coin(g, 20);
        if (coin(g, 25)) nc->rx_buffer_len = pick(g, 16, 31) * 64;
        nc->max_txq = 512u << pick(g, 0, 2);
    }
    nc->rx_timestamps = coin(g, 60);
    nc->rx_csum_check = coin(g, 85);
    int n = snprintf(spec, cap, "efvi:%s", name);
    if (nc->rx_timestamps && coin(g, 50)) n += snprintf(spec + n, cap - (size_t)n, ",rxts");
    if (coin(g, 15)) n += snprintf(spec + n, cap - (size_t)n, ",noctpio");
    if (coin(g, 30)) {
        uint32_t k = pick(g, 0, 3);
        snprintf(spec + n, cap - (size_t)n, ",ct=%u",
                 k == 0   ? 0u
                 : k == 1 ? 65535u
                          : pick(g, 60, 1514));
    }
}

/*
 * NIC faults of both ports while the wire's faults last, in half of the runs of every profile
 * but clean: a base mix (discarded frames, failed cut-through sends, poisoned copies) and a few
 * episodes of a starved RX ring, a stalled TX ring or event queue overflows. To TCP each is loss
 * (or delay) that it repairs; none forges a segment, so none dooms a connection.
 */
static void plan_nic_faults(run *r, et_rng *g)
{
    if (r->o->profile == PROF_CLEAN || r->o->bulk || !coin(g, 50)) return;
    r->res->nic_faults = true;
    uint64_t heal = r->heal_at;
    for (int d = 0; d < 2; d++) {
        nic_step base = {.at = 0, .dir = d};
        if (coin(g, 40)) base.f.rx_discard = frand(g, 0.002, 0.03);
        if (coin(g, 50)) {
            base.f.ctpio_fail = frand(g, 0.01, 0.5);
            base.f.ctpio_poison = coin(g, 50);
        }
        r->nsteps[r->n_nsteps++] = base;
        uint32_t n = pick(g, 0, 3);
        uint64_t t = pick(g, 1, 300) * MS;
        for (uint32_t i = 0; i < n && t < heal && r->n_nsteps + 4 < MAX_NIC_STEPS; i++) {
            uint64_t len = pick(g, 1, 300) * MS;
            nic_step on = base, off = base;
            on.at = t;
            off.at = t + len < heal ? t + len : heal;
            switch (pick(g, 0, 2)) {
            case 0:
                on.f.rx_starve = true;
                break;
            case 1:
                on.f.tx_stall = true;
                break;
            default:
                on.f.evq_oflow = pick(g, 1, 3);
                break;
            }
            r->nsteps[r->n_nsteps++] = on;
            r->nsteps[r->n_nsteps++] = off;
            t += len + pick(g, 10, 500) * MS;
        }
    }
    for (uint32_t i = 1; i < r->n_nsteps; i++) {
        nic_step x = r->nsteps[i];
        uint32_t j = i;
        while (j > 0 && r->nsteps[j - 1].at > x.at) {
            r->nsteps[j] = r->nsteps[j - 1];
            j--;
        }
        r->nsteps[j] = x;
    }
    for (int d = 0; d < 2; d++) r->nsteps[r->n_nsteps++] = (nic_step){.at = heal, .dir = d};
}
#endif

static void plan_workload(run *r, et_rng *g, uint64_t fault_max)
{
    r->n_conns = pick(g, 1, MAX_CONNS - 2);
    for (uint32_t i = 0; i < r->n_conns; i++) {
        conn_rec *cr = &r->conns[i];
        memset(cr, 0, sizeof(*cr));
        cr->idx = i;
        cr->sport = listen_ports[pick(g, 0, N_LISTEN - 1)];
        cr->connect_at = coin(g, 30) ? 0 : pick(g, 0, 300) * MS / 2;
        for (int sd = 0; sd < 2; sd++) {
            side *s = &cr->s[sd];
            uint32_t kind = pick(g, 0, 9);
            /* nothing, a little, or a lot in this direction */
            s->tx_total = kind == 0 ? 0 : kind < 4 ? pick(g, 1, 3000) : logpick(g, 4096, 400000);
            /* mostly at once or soon; now and then seconds later, so that the connection
               sits idle long enough for keepalive probes, which must find the peer alive */
            s->fin_at = coin(g, 70) ? 0 : coin(g, 85) ? pick(g, 0, 200) * MS : pick(g, 3, 9) * SEC;
            s->reader = (int)pick(g, 0, 3);
            s->abort_rx = UINT64_MAX;
            s->abort_at = UINT64_MAX;
        }
        for (int sd = 0; sd < 2; sd++) {
            side *s = &cr->s[sd];
            if (coin(g, 40)) {
                /* at most about 32 bursts: a paced stream ends within a few seconds */
                s->burst = logpick(g, 100, 100000);
                if (s->burst < s->tx_total / 32 + 1) s->burst = (uint32_t)(s->tx_total / 32 + 1);
                s->gap_max = pick(g, 1, 100) * MS / 2;
            }
        }
        if (coin(g, 5)) {
            cr->refuse = true;
            if (coin(g, 50)) cr->sport = CLOSED_PORT;
        } else if (coin(g, 12)) {
            int sd = (int)pick(g, 0, 1);
            side *s = &cr->s[sd];
            uint64_t peer_total = cr->s[sd ^ 1].tx_total;
            if (peer_total && coin(g, 60))
                s->abort_rx = pick(g, 0, (uint32_t)peer_total);
            else
                s->abort_at = cr->connect_at + pick(g, 0, (uint32_t)(fault_max / MS)) * MS;
        }
        if (r->o->bulk) {
            /* Goodput runs: every stream at least 64 KiB, sent and read as fast as possible,
               nothing refused or aborted, so that the network sets the pace. */
            cr->connect_at = 0;
            cr->refuse = false;
            if (cr->sport == CLOSED_PORT) cr->sport = listen_ports[0];
            for (int sd = 0; sd < 2; sd++) {
                side *s = &cr->s[sd];
                if (s->tx_total < 65536) s->tx_total = 65536 + s->tx_total * 64;
                s->fin_at = 0;
                s->reader = READ_ALL;
                s->abort_rx = s->abort_at = UINT64_MAX;
                s->burst = s->gap_max = 0;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The run                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void poll_all(run *r)
{
    uint64_t now = now_of(r);
    efvitcp_server_poll_at(r->srv, &r->h[SRV], &r->ctx[SRV], now);
    overdue_timers(r, SRV);
    check_stack(r, SRV, "server poll");
    efvitcp_client_poll_at(r->cli, &r->h[CLI], &r->ctx[CLI], now);
    overdue_timers(r, CLI);
    check_stack(r, CLI, "client poll");
    workload(r);
    check_stack(r, CLI, "workload");
    check_stack(r, SRV, "workload");
    r->res->polls++;
}

/*
 * An instance's next timer (efvitcp_*_next_timer). One whose output waits for TX buffers
 * (deferred) asks to be polled again at once. While its NIC port's TX ring is stalled (a NIC
 * fault) no poll can free a buffer before the stall ends, so with waiting set that request is
 * left out and time moves on to the next thing that can change something: a frame, a timer, the
 * workload, a fault step (the end of the stall is one).
 */
static uint64_t stack_next(run *r, int sd, bool waiting)
{
    et_stack *st = stack_of(r, sd);
#ifdef EFVITCP_SIM_EFVI
    if (waiting && r->tx_stalled[sd]) return et_stack_next_timed(st);
#else
    (void)waiting;
#endif
    return et_stack_next_timer(st);
}

static uint64_t next_event(run *r, bool waiting)
{
    uint64_t t = efvitcp_wire_next_delivery(r->w);
    uint64_t a = stack_next(r, SRV, waiting), b = stack_next(r, CLI, waiting), c = workload_next(r);
    if (a < t) t = a;
    if (b < t) t = b;
    if (c < t) t = c;
    return t;
}

static void describe_live(run *r, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < r->n_conns && n + 200 < cap; i++) {
        conn_rec *cr = &r->conns[i];
        for (int sd = 0; sd < 2; sd++) {
            side *s = &cr->s[sd];
            if (!s->c) continue;
            efvitcp_conn_stats cs;
            efvitcp_conn_get_stats(s->c, &cs);
            const et_conn *k = s->c;
            n += (size_t)snprintf(
                buf + n, cap - n,
                " [conn %u %s %s tx %llu/%llu rx %llu/%llu unacked %u queued %u "
                "snd_wnd %u rcv_wnd %u held %u seg_cap %u mode %u retries %u "
                "backoff %u rto %llu us srtt %llu us]",
                i, sd == CLI ? "cli" : "srv", efvitcp_state_name(cs.state),
                (unsigned long long)s->tx_off, (unsigned long long)s->tx_total,
                (unsigned long long)s->rx_seen, (unsigned long long)cr->s[sd ^ 1].tx_total,
                cs.unacked, cs.queued, cs.snd_wnd, cs.rcv_wnd, cs.recv_held, k->seg_cap,
                k->retx_mode, k->retries, k->probe_backoff, (unsigned long long)(k->rto_ns / 1000),
                (unsigned long long)(k->srtt_ns / 1000));
            if (n >= cap) return;
        }
    }
}

static void final_checks(run *r)
{
    for (uint32_t i = 0; i < r->n_conns && !r->failed; i++) {
        conn_rec *cr = &r->conns[i];
        bool aborted = cr->s[CLI].end == END_ABORTED || cr->s[SRV].end == END_ABORTED;
        if (doomed(r, cr)) r->res->doomed++;
        if (cr->refuse) {
            if (!cr->doomed && !aborted && (cr->s[CLI].end != END_REFUSED || cr->s[SRV].known))
                failf(r, "conn %u: refused by the server, but the client ended %s%s", i,
                      end_names[cr->s[CLI].end], cr->s[SRV].known ? " and the server knew it" : "");
            continue;
        }
        for (int sd = 0; sd < 2 && !r->failed; sd++) {
            side *s = &cr->s[sd], *peer = &cr->s[sd ^ 1];
            if (aborted || cr->doomed) continue;
            bool late_reset =
                s->end == END_RESET && peer->end == END_CLOSED && s->fin_seen && s->fin_sent;
            if (s->end != END_CLOSED && !late_reset) {
                failf(r, "conn %u %s ended %s", i, sd == CLI ? "client" : "server",
                      end_names[s->end]);
                break;
            }
            if (late_reset) {
                /* the reset dropped what the reader had not taken yet; all of it was seen */
                if (s->rx_seen != peer->tx_total)
                    failf(r, "conn %u %s: saw %llu bytes, the peer sent %llu", i,
                          sd == CLI ? "client" : "server", (unsigned long long)s->rx_seen,
                          (unsigned long long)peer->tx_total);
            } else if (s->rx_consumed != peer->tx_total || s->rx_hash != peer->tx_hash) {
                failf(r,
                      "conn %u %s: consumed %llu bytes (hash %016llx), the peer sent %llu "
                      "(hash %016llx)",
                      i, sd == CLI ? "client" : "server", (unsigned long long)s->rx_consumed,
                      (unsigned long long)s->rx_hash, (unsigned long long)peer->tx_total,
                      (unsigned long long)peer->tx_hash);
            }
        }
        if (!aborted && !cr->doomed) continue;
        r->res->failed_conns++;
    }
    if (r->failed) return;
    /* Teardown: poll once more with nothing to do so that the link's completions are reaped. */
    poll_all(r);
    char buf[512];
    for (int sd = 0; sd < 2 && !r->failed; sd++) {
        const char *e = et_stack_check_detail(stack_of(r, sd), true, buf, sizeof(buf));
        if (e) failf(r, "%s teardown: %s", sd == CLI ? "client" : "server", e);
        if (stack_of(r, sd)->stats.time_wait_active)
            failf(r, "%s teardown: TIME_WAIT records left", sd == CLI ? "client" : "server");
    }
    if (!r->failed && efvitcp_wire_next_delivery(r->w) != UINT64_MAX)
        failf(r, "teardown: frames still on the wire");
}

static const char *make_instances(run *r, et_rng *g, const sim_opts *o)
{
    uint64_t fault_max = 3 * SEC;
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.seed = et_rng_next(g);
    wc.max_frames = 16384;
    wc.max_ports = 2;
    uint32_t lat = pick(g, 0, 4);
    wc.latency_ns = lat == 0   ? 0
                    : lat == 1 ? pick(g, 1000, 10000)
                    : lat < 4  ? pick(g, 10000, 200000)
                               : pick(g, 200000, 2000000);
    efvitcp_config sc, cc;
    plan_workload(r, g, fault_max);
    stack_config(g, &sc, r->n_conns, fault_max);
    stack_config(g, &cc, r->n_conns, fault_max);
    /* Not drawn: a run must give the same frames with header prediction on and off. */
    sc.fast_path = cc.fast_path = !o->no_fast_path;
    if (o->syn_cookies) sc.syn_cookies = EFVITCP_SYN_COOKIES_ALWAYS;
    sc.sack = cc.sack = !o->no_sack;
    cc.sack = cc.sack && !o->peer_no_sack;
    sc.rack = cc.rack = !o->no_rack;
    /* Drawn even when unused so that every profile sees the same stacks and workload. */
    uint64_t bw = logpick(g, 2000, 200000) * 1000ull;
    uint32_t queue = logpick(g, 3000, 128 * 1024);
    uint64_t heal = pick(g, 300, (uint32_t)(fault_max / MS)) * MS;
    if (o->profile == PROF_SLOW || o->profile == PROF_FLAKY) {
        wc.bandwidth_bps = bw;
        wc.queue_bytes = queue < wc.mtu + 14 ? wc.mtu + 14 : queue;
        /* No congestion control sends whole windows into the bottleneck's small queue after
           every loss (congestion collapse, seed 22602: 4 KB/s over 2.3 Mbit/s): it is meant for
           paths without one. */
        if (sc.cc == EFVITCP_CC_NONE) sc.cc = EFVITCP_CC_NEWRENO;
        if (cc.cc == EFVITCP_CC_NONE) cc.cc = EFVITCP_CC_NEWRENO;
    }
    r->heal_at = o->profile == PROF_CLEAN ? 0 : heal;
    if (coin(g, 30) && !o->bulk) {
        r->late_pct = pick(g, 1, 20);
        r->late_max_ns = pick(g, 10, 5000) * 1000;
    }

    const char *err = efvitcp_wire_new(&r->w, &wc);
    if (err) return err;
    et_wire_set_tap(r->w, tap, r);
    et_wire_set_fault_hook(r->w, fault_hook, r);
    char path[2][512];
    if (o->pcap_base) {
        size_t bl = strlen(o->pcap_base);
        int cut = bl > 5 && strcmp(o->pcap_base + bl - 5, ".pcap") == 0 ? 5 : 0;
        snprintf(path[CLI], sizeof(path[CLI]), "%.*s.client.pcap", (int)(bl - (size_t)cut),
                 o->pcap_base);
        snprintf(path[SRV], sizeof(path[SRV]), "%.*s.server.pcap", (int)(bl - (size_t)cut),
                 o->pcap_base);
        sc.pcap_path = path[SRV];
        cc.pcap_path = path[CLI];
    }
    sc.wire = r->w;
    sc.local_addr = SERVER_IP "/24";
    cc.wire = r->w;
    cc.local_addr = CLIENT_IP "/24";
    char spec[2][64] = {"mem:client", "mem:server"};
#ifdef EFVITCP_SIM_EFVI
    efvi_emu_nic_config nc[2];
#endif
    if (o->link != SIM_LINK_MEM) {
#ifdef EFVITCP_SIM_EFVI
        /* Its own stream: the mem link's runs of a seed stay what they were. */
        et_rng ng;
        et_rng_seed(&ng, mix64(o->seed ^ 0xef71ull) | 1);
        nic_config(&ng, o->link, "server", &nc[SRV], spec[SRV], sizeof(spec[SRV]));
        nic_config(&ng, o->link, "client", &nc[CLI], spec[CLI], sizeof(spec[CLI]));
        /* Each port is made by its instance's init, with the default configuration then. */
        efvi_emu_set_default_config(&nc[SRV]);
        err = efvitcp_server_init(&r->srv, spec[SRV], &sc);
        efvi_emu_set_default_config(&nc[CLI]);
        if (!err) err = efvitcp_client_init(&r->cli, spec[CLI], &cc);
        efvi_emu_set_default_config(NULL);
        if (err) return err;
#else
        return "--link efvi and efct need the ef_vi emulator build (efvitcp-sim-efvi)";
#endif
    } else {
        if ((err = efvitcp_server_init(&r->srv, spec[SRV], &sc))) return err;
        if ((err = efvitcp_client_init(&r->cli, spec[CLI], &cc))) return err;
    }
    for (int i = 0; i < N_LISTEN; i++)
        if ((err = efvitcp_server_listen(r->srv, listen_ports[i]))) return err;
    if (o->verbose) {
        printf(
            "seed %llu profile %s link %s: %u conns, latency %llu ns, bandwidth %llu bps, heal at "
            "%.3f s\n",
            (unsigned long long)o->seed, sim_profile_names[o->profile], sim_link_names[o->link],
            r->n_conns, (unsigned long long)wc.latency_ns, (unsigned long long)wc.bandwidth_bps,
            (double)r->heal_at / 1e9);
        const efvitcp_config *k[2] = {&cc, &sc};
        for (int sd = 0; sd < 2; sd++)
            printf("  %s: slots %u%s rcvbuf %u ooo %u ctrl %u rx %u dack %u rto %u/%u/%u "
                   "retries %u/%u ws %d ts %d cc %d mss %u tw %u/%u ka %u\n",
                   sd == CLI ? "client" : "server", k[sd]->send_slots,
                   k[sd]->send_buf_1k ? " (1K)" : "", k[sd]->recv_buf_size, k[sd]->ooo_ranges,
                   k[sd]->ctrl_bufs, k[sd]->rx_bufs, k[sd]->delayed_ack_us, k[sd]->min_rto_us,
                   k[sd]->initial_rto_us, k[sd]->max_rto_us, k[sd]->syn_retries,
                   k[sd]->data_retries, k[sd]->window_scale, k[sd]->timestamps, (int)k[sd]->cc,
                   k[sd]->mss, k[sd]->max_time_wait, k[sd]->time_wait_ms, k[sd]->keepalive_ms);
#ifdef EFVITCP_SIM_EFVI
        for (int sd = 0; sd < 2 && o->link != SIM_LINK_MEM; sd++)
            printf("  %s port: %s, %s%s%s%s rx buffer %u txq %u efct pool %ux%u fifo %u\n",
                   sd == CLI ? "client" : "server", spec[sd],
                   nc[sd].arch == EF_VI_ARCH_EFCT ? "EFCT" : "EF10", nc[sd].ctpio ? " ctpio" : "",
                   nc[sd].rx_timestamps ? " rxts" : "", nc[sd].rx_csum_check ? " csum" : "",
                   nc[sd].rx_buffer_len, nc[sd].max_txq, nc[sd].efct_superbufs,
                   nc[sd].efct_superbuf_pkts, nc[sd].ct_fifo_bytes);
#endif
        for (uint32_t i = 0; i < r->n_conns; i++) {
            conn_rec *cr = &r->conns[i];
            printf("  conn %u: port %u at %.3f s, c->s %llu, s->c %llu, readers %d/%d%s%s\n", i,
                   cr->sport, (double)cr->connect_at / 1e9, (unsigned long long)cr->s[CLI].tx_total,
                   (unsigned long long)cr->s[SRV].tx_total, cr->s[CLI].reader, cr->s[SRV].reader,
                   cr->s[CLI].abort_rx != UINT64_MAX || cr->s[CLI].abort_at != UINT64_MAX
                       ? ", client aborts"
                       : "",
                   cr->s[SRV].abort_rx != UINT64_MAX || cr->s[SRV].abort_at != UINT64_MAX
                       ? ", server aborts"
                       : "");
        }
    }
    return NULL;
}

bool sim_run_seed(const sim_opts *o, sim_result *res)
{
    static bool reach_ready;
    if (!reach_ready) {
        init_reach();
        reach_ready = true;
    }
    memset(res, 0, sizeof(*res));
    run *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        return false;
    }
    r->o = o;
    r->res = res;
    r->hash = 0xcbf29ce484222325ull;
    /* Streams: the swarm (stacks, wire, workload plan) depends on the seed alone, so every
       profile runs the same stacks and workload; the faults and the run's choices depend on the
       profile too. */
    et_rng swarm, faults;
    et_rng_seed(&swarm, mix64(o->seed ^ 0x5eedull) | 1);
    et_rng_seed(&faults, mix64(o->seed * 31 + (uint64_t)o->profile + 0xfa17ull) | 1);
    et_rng_seed(&r->work, mix64(o->seed ^ 0x3077ull) | 1);
    r->stream_key = mix64(o->seed + 0x9e3779b97f4a7c15ull);
    for (int sd = 0; sd < 2; sd++) {
        r->ctx[sd] = (ep_ctx){r, sd};
        r->h[sd] = (efvitcp_handler){
            .on_connection_refused = cb_refused,
            .allow_new_connection = sd == SRV ? cb_allow : NULL,
            .on_established = cb_established,
            .on_data = cb_data,
            .on_fin = cb_fin,
            .on_closed = cb_closed,
            .on_reset = cb_reset,
            .on_timeout = cb_timeout,
            .on_more_sendable = cb_more_sendable,
            .on_user_timeout = cb_user_timeout,
        };
    }
    const char *err = make_instances(r, &swarm, o);
    if (err) {
        failf(r, "setup: %s", err);
    } else {
        for (int sd = 0; sd < 2; sd++) {
            uint32_t n = stack_of(r, sd)->cfg.max_conns;
            r->seen_gen[sd] = calloc(n, sizeof(uint32_t));
            r->seen_state[sd] = calloc(n, 1);
            for (uint32_t i = 0; i < n; i++) r->seen_gen[sd][i] = stack_of(r, sd)->conns[i].gen;
        }
        plan_faults(r, &faults);
#ifdef EFVITCP_SIM_EFVI
        if (o->link != SIM_LINK_MEM) {
            et_rng nf;
            et_rng_seed(&nf, mix64(o->seed * 37 + (uint64_t)o->profile + 0xef7aull) | 1);
            plan_nic_faults(r, &nf);
        }
        for (uint32_t i = 0; i < r->n_nsteps && o->verbose; i++) {
            const nic_step *f = &r->nsteps[i];
            printf("  NIC faults of the %s port at %.3f s: discard %.4f ctpio fail %.3f%s%s%s "
                   "oflows %u\n",
                   f->dir == CLI ? "client" : "server", (double)f->at / 1e9, f->f.rx_discard,
                   f->f.ctpio_fail, f->f.ctpio_poison ? " poison" : "",
                   f->f.rx_starve ? " rx starved" : "", f->f.tx_stall ? " tx stalled" : "",
                   f->f.evq_oflow);
        }
#endif
        /* A bound on the work left once the faults stop: keepalive discovery of an aborted peer,
           backed-off retransmissions, TIME_WAIT, and the bytes still to move at the wire's rate. */
        uint64_t total = 0;
        for (uint32_t i = 0; i < r->n_conns; i++)
            total += r->conns[i].s[CLI].tx_total + r->conns[i].s[SRV].tx_total;
        uint64_t bound = 60 * SEC;
        /* four times the time the bytes take at 2 Mbit/s, the slowest wire drawn */
        if (o->profile == PROF_SLOW || o->profile == PROF_FLAKY) bound += total * 16000;
        r->deadline = r->heal_at + bound;
    }
    uint32_t spin = 0;
    uint64_t last_now = 0;
    while (!r->failed) {
        poll_all(r);
        if (r->failed) break;
        if (all_done(r) && now_of(r) >= r->heal_at) break;
        uint64_t t = next_event(r, false), now = now_of(r);
        /* Polls that find an instance still waiting for its stalled TX ring: let time pass. */
        if (t <= now && now == last_now && spin >= STALL_SPINS) t = next_event(r, true);
        if (t == UINT64_MAX) {
            char live[900];
            describe_live(r, live, sizeof(live));
            failf(r, "stuck: nothing pending and not done:%s", live);
            break;
        }
        if (t > r->deadline) {
            char live[900];
            describe_live(r, live, sizeof(live));
            failf(r, "liveness: not done %.3f s after the faults stopped:%s",
                  (double)(r->deadline - r->heal_at) / 1e9, live);
            break;
        }
        if (t <= now) {
            if (now == last_now && ++spin > SPIN_MAX) {
                failf(r, "livelock: %u polls without time moving", spin);
                break;
            }
        } else {
            spin = 0;
            /* Now and then the application comes back late (descheduled): frames pile up and
               timers are overdue when it polls. */
            if (r->late_pct && et_rng_below(&r->work, 100) < r->late_pct)
                t += et_rng_below(&r->work, r->late_max_ns);
            efvitcp_wire_set_now(r->w, t);
        }
        last_now = now;
    }
    if (!r->failed) final_checks(r);

    res->ok = !r->failed;
    res->frame_hash = r->hash;
    res->frames = r->frames;
    res->conns = r->n_conns;
    res->t_end_ns = r->w ? now_of(r) : 0;
    res->t_heal_ns = r->heal_at;
    uint64_t first = UINT64_MAX;
    for (uint32_t i = 0; i < r->n_conns; i++)
        if (r->conns[i].connect_at < first) first = r->conns[i].connect_at;
    res->t_data_ns = r->t_last_data > first ? r->t_last_data - first : 0;
    if (r->w) et_wire_get_stats(r->w, &res->wire);
    if (r->cli) efvitcp_client_stats(r->cli, &res->cli);
    if (r->srv) efvitcp_server_stats(r->srv, &res->srv);
#ifdef EFVITCP_SIM_EFVI
    for (int sd = 0; sd < 2 && r->w && o->link != SIM_LINK_MEM; sd++) {
        efvi_emu_stats es;
        efvi_emu_get_stats(efvi_emu_nic_find(r->w, sd == CLI ? "client" : "server"), &es);
        res->nic_rx_nodesc += es.rx_nodesc;
        res->nic_discard += es.rx_discard_csum + es.rx_discard_crc;
        res->nic_ctpio_fail += es.tx_ctpio_fail;
        res->nic_oflow += es.evq_oflows;
        if (es.violations && !r->failed)
            failf(r, "%s port: the link misused ef_vi: %s", sd == CLI ? "client" : "server",
                  es.last_violation);
    }
    res->ok = !r->failed;
#endif
    if (o->verbose) {
        for (uint32_t i = 0; i < r->n_conns; i++) {
            conn_rec *cr = &r->conns[i];
            printf("  conn %u: client %s rx %llu/%llu, server %s rx %llu/%llu%s\n", i,
                   end_names[cr->s[CLI].end], (unsigned long long)cr->s[CLI].rx_consumed,
                   (unsigned long long)cr->s[SRV].tx_total, end_names[cr->s[SRV].end],
                   (unsigned long long)cr->s[SRV].rx_consumed,
                   (unsigned long long)cr->s[CLI].tx_total, cr->doomed ? " (doomed)" : "");
        }
    }
    efvitcp_client_close(r->cli);
    efvitcp_server_close(r->srv);
    efvitcp_wire_free(r->w);
    for (int sd = 0; sd < 2; sd++) {
        free(r->seen_gen[sd]);
        free(r->seen_state[sd]);
    }
    free(r);
    return res->ok;
}
