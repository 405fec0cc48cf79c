/*
 * Bulk transfer end to end: both directions at once on one connection, every byte checked where
 * it arrives. Payload byte = f(direction, stream offset), so loss, duplication, reordering or a
 * misplaced copy shows up at the offset where it happened, not as a wrong total at the end.
 * Senders fill the ring as far as efvitcp_sendable() allows, with send and sendv and a mix of
 * more=true/false; readers leave remainders, stall for a while and catch up through
 * efvitcp_unread()/efvitcp_consume(). Both sides then send FIN and must see on_closed, with exact
 * counters.
 *
 * The main case moves 100 MB each way over a fast wire; the variants move less over a 10 Gbit/s,
 * 50 us wire with a small drop-tail queue, so that congestion control and loss recovery run, for
 * each congestion control and with window scaling, timestamps, send slot size and receive buffer
 * size changed.
 */
#include "harness.h"
#include "sim.h"
#include "wire/wire_hooks.h"

#define MiB     (1024u * 1024u)
#define SCRATCH 65536u

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Byte (off & 7) of a hash of the 8-byte word index: every offset of a 2^64 stream differs from
   its neighbours, and a copy misplaced by any distance is caught. */
static void pattern(uint32_t dir, uint64_t off, uint8_t *out, uint32_t n)
{
    while (n) {
        uint64_t w = mix64(((off >> 3) << 1 | dir) ^ 0x5bd1e9955bd1e995ull);
        uint32_t b = (uint32_t)(off & 7), k = 8 - b;
        if (k > n) k = n;
        uint8_t word[8];
        memcpy(word, &w, 8);
        memcpy(out, word + b, k);
        out += k;
        off += k;
        n -= k;
    }
}

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rbelow(rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (uint32_t)(r->s % n) : 0;
}

/* What a reader does with data, per mille of on_data calls. */
typedef struct behaviour {
    uint32_t stall_pm;     /* start a stall: keep everything for a few polls */
    uint32_t remainder_pm; /* leave a remainder at the end */
    uint32_t catchup_pct;  /* after a poll, consume held remainders via unread/consume */
} behaviour;

typedef struct ep {
    const char *name;
    efvitcp_conn *conn;
    uint32_t dir; /* this side sends stream dir and receives stream dir ^ 1 */
    uint64_t total;
    uint64_t tx_off;  /* bytes accepted by send */
    uint64_t rx_off;  /* bytes consumed */
    uint64_t rx_seen; /* bytes presented (and checked) at least once */
    rng r;
    behaviour b;
    bool stalled, fin_sent, failed;
    uint32_t stall_polls;
    int established, fins, closed, resets, timeouts, refused;
    uint64_t data_calls, more_sendable, remainders, stalls, catchups, sends, sendvs, more_sends;
    efvitcp_conn_stats final; /* conn stats taken in on_closed */
} ep;

static uint8_t scratch[SCRATCH], want[SCRATCH];

/* Checks n bytes that claim to be stream (dir) at off. Reports the first bad offset once. */
static bool check_bytes(ep *e, uint32_t dir, uint64_t off, const uint8_t *p, uint64_t n)
{
    while (n) {
        uint32_t k = n < SCRATCH ? (uint32_t)n : SCRATCH;
        pattern(dir, off, want, k);
        if (memcmp(p, want, k) != 0) {
            uint32_t i = 0;
            while (p[i] == want[i]) i++;
            fprintf(stderr, "%s: stream %u byte %llu is 0x%02x, want 0x%02x\n", e->name, dir,
                    (unsigned long long)(off + i), p[i], want[i]);
            e->failed = true;
            th_failures++;
            return false;
        }
        p += k;
        off += k;
        n -= k;
    }
    return true;
}

/* data/len are the bytes from rx_off on. Bytes seen before are the ones left unconsumed: they
   must all be presented again, unchanged. New bytes are checked in full. */
static void check_presented(ep *e, const uint8_t *data, uint32_t len)
{
    if (e->failed) return;
    uint64_t held = e->rx_seen - e->rx_off;
    if (len < held) {
        fprintf(stderr, "%s: %u bytes presented, %llu were held\n", e->name, len,
                (unsigned long long)held);
        e->failed = true;
        th_failures++;
        return;
    }
    /* Held bytes were checked when they arrived; checking them in full again on every call
       during a long stall would cost quadratic time, so large held areas are sampled. */
    if (held <= 4096) {
        if (!check_bytes(e, e->dir ^ 1, e->rx_off, data, held)) return;
    } else {
        if (!check_bytes(e, e->dir ^ 1, e->rx_off, data, 1024)) return;
        if (!check_bytes(e, e->dir ^ 1, e->rx_seen - 1024, data + held - 1024, 1024)) return;
    }
    if (!check_bytes(e, e->dir ^ 1, e->rx_seen, data + held, len - held)) return;
    e->rx_seen = e->rx_off + len;
}

static void refill(ep *e)
{
    efvitcp_conn *c = e->conn;
    if (!c || e->fin_sent || e->failed) return;
    while (e->tx_off < e->total) {
        uint32_t room = efvitcp_sendable(c);
        if (!room) break;
        uint64_t left = e->total - e->tx_off;
        uint32_t n;
        switch (rbelow(&e->r, 4)) {
        case 0:
            n = 1 + rbelow(&e->r, 300);
            break;
        case 1:
            n = 1 + rbelow(&e->r, 4500);
            break;
        default:
            n = SCRATCH;
            break;
        }
        if (n > room) n = room;
        if (n > left) n = (uint32_t)left;
        pattern(e->dir, e->tx_off, scratch, n);
        bool more = n < left && rbelow(&e->r, 4) == 0;
        uint32_t acc;
        if (rbelow(&e->r, 2)) {
            acc = efvitcp_send(c, scratch, n, more);
            e->sends++;
        } else {
            struct iovec iov[3];
            uint32_t a = rbelow(&e->r, n + 1), b = a + rbelow(&e->r, n - a + 1);
            iov[0] = (struct iovec){scratch, a};
            iov[1] = (struct iovec){scratch + a, b - a};
            iov[2] = (struct iovec){scratch + b, n - b};
            acc = efvitcp_sendv(c, iov, 3, more);
            e->sendvs++;
        }
        e->more_sends += more;
        if (acc != n) {
            fprintf(stderr, "%s: send took %u of %u with sendable %u\n", e->name, acc, n, room);
            e->failed = true;
            th_failures++;
            return;
        }
        e->tx_off += acc;
    }
    if (e->tx_off == e->total) {
        const char *err = efvitcp_send_fin(c);
        if (err) {
            fprintf(stderr, "%s: send_fin: %s\n", e->name, err);
            e->failed = true;
            th_failures++;
        }
        e->fin_sent = true;
    }
}

/* Consumes everything held, in two steps, through efvitcp_unread()/efvitcp_consume(). */
static void catch_up(ep *e)
{
    efvitcp_conn *c = e->conn;
    e->stalled = false;
    if (!c || e->failed) return;
    const uint8_t *p;
    uint32_t n = efvitcp_unread(c, &p);
    if (n != e->rx_seen - e->rx_off) {
        fprintf(stderr, "%s: unread %u, held %llu\n", e->name, n,
                (unsigned long long)(e->rx_seen - e->rx_off));
        e->failed = true;
        th_failures++;
        return;
    }
    if (!n) return;
    e->catchups++;
    if (!check_bytes(e, e->dir ^ 1, e->rx_off, p, n)) return;
    uint32_t first = n / 2;
    efvitcp_consume(c, first);
    e->rx_off += first;
    uint32_t n2 = efvitcp_unread(c, &p);
    CHECK_EQ(n2, n - first);
    if (n2 && !check_bytes(e, e->dir ^ 1, e->rx_off, p, n2)) return;
    efvitcp_consume(c, n2);
    e->rx_off += n2;
    CHECK_EQ(efvitcp_unread(c, &p), 0);
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->established++;
    e->conn = c;
    refill(e);
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ep *e = ctx;
    e->data_calls++;
    CHECK(c == e->conn);
    check_presented(e, data, len);
    if (e->failed) return 0;
    uint32_t rem = 0;
    if (e->stalled) {
        rem = len;
    } else {
        uint32_t roll = rbelow(&e->r, 1000);
        if (roll < e->b.stall_pm) {
            e->stalled = true;
            e->stall_polls = 1 + rbelow(&e->r, 40);
            e->stalls++;
            rem = len;
        } else if (roll < e->b.stall_pm + e->b.remainder_pm) {
            rem = 1 + rbelow(&e->r, len < 3000 ? len : 3000);
            e->remainders++;
        }
    }
    e->rx_off += len - rem;
    return rem;
}

static void on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    ep *e = ctx;
    e->fins++;
    CHECK(c == e->conn);
    check_presented(e, data, len);
    if (e->failed) return;
    /* What is left is consumed now: the stream is complete. */
    e->stalled = false;
    efvitcp_consume(c, len);
    e->rx_off += len;
    CHECK_EQ(e->rx_off, e->total);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->closed++;
    efvitcp_conn_get_stats(c, &e->final);
    e->conn = NULL;
}

static void on_reset(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->resets++;
    e->conn = NULL;
}

static void on_timeout(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->timeouts++;
    e->conn = NULL;
}

static void on_refused(void *ctx, efvitcp_conn *c)
{
    ((ep *)ctx)->refused++;
}

static void on_more(void *ctx, efvitcp_conn *c)
{
    ep *e = ctx;
    e->more_sendable++;
    CHECK(c == e->conn);
    refill(e);
}

static void set_handlers(efvitcp_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->on_established = on_est;
    h->on_data = on_data;
    h->on_fin = on_fin;
    h->on_closed = on_closed;
    h->on_reset = on_reset;
    h->on_timeout = on_timeout;
    h->on_connection_refused = on_refused;
    h->on_more_sendable = on_more;
}

typedef struct rig {
    ep cli, srv;
    uint64_t polls;
    efvitcp_wire *wire;
    uint32_t refuse_every; /* busy links: every this many polls both refuse their next frames */
} rig;

static void reader_tick(ep *e)
{
    if (!e->conn || e->failed) return;
    if (e->stalled) {
        if (--e->stall_polls == 0) catch_up(e);
    } else if (e->rx_seen != e->rx_off && rbelow(&e->r, 100) < e->b.catchup_pct) {
        catch_up(e);
    }
}

static void after_poll(void *arg)
{
    rig *g = arg;
    g->polls++;
    if (g->refuse_every && g->polls % g->refuse_every == 0) {
        /* 1..16 frames each, data segments and ACKs alike, wherever the poll left off. */
        efvitcp_wire_faults f = {.tx_refuse = 1 + (uint32_t)(g->polls / g->refuse_every) % 16};
        CHECK_NULL_ERR(efvitcp_wire_set_faults(g->wire, "server", &f));
        CHECK_NULL_ERR(efvitcp_wire_set_faults(g->wire, "client", &f));
    }
    reader_tick(&g->cli);
    reader_tick(&g->srv);
    refill(&g->cli);
    refill(&g->srv);
}

static bool finished(void *arg)
{
    rig *g = arg;
    if (g->cli.failed || g->srv.failed) return true;
    if (g->cli.resets + g->srv.resets + g->cli.timeouts + g->srv.timeouts + g->cli.refused)
        return true;
    return g->cli.closed && g->srv.closed;
}

typedef struct variant {
    const char *name;
    uint64_t bytes;
    efvitcp_cc cc;
    bool lossy;       /* 10 Gbit/s, 50 us, small queue */
    bool expect_loss; /* the windows are large enough to overflow that queue */
    bool window_scale, timestamps, slots_1k;
    uint32_t send_slots, recv_buf;
    uint32_t min_rto_us;   /* 0: the default */
    uint32_t refuse_every; /* rig.refuse_every: links that refuse frames now and then */
    uint32_t seed;         /* varies ISNs, ports and the readers' and writers' choices */
    behaviour b;
} variant;

static void run_variant(const variant *v)
{
    static rig g;
    memset(&g, 0, sizeof(g));
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.max_frames = 8192;
    if (v->lossy) {
        wc.bandwidth_bps = 10000000000ull;
        wc.latency_ns = 50000;
        wc.queue_bytes = 24000;
    } else {
        wc.latency_ns = 5000;
    }
    efvitcp_config sc, cc;
    sim_default_config(&sc, 11 + 2 * v->seed);
    sim_default_config(&cc, 12 + 2 * v->seed);
    efvitcp_config *cfgs[2] = {&sc, &cc};
    for (int i = 0; i < 2; i++) {
        efvitcp_config *k = cfgs[i];
        k->max_conns = 2;
        k->cc = v->cc;
        k->window_scale = v->window_scale;
        k->timestamps = v->timestamps;
        k->send_buf_1k = v->slots_1k;
        k->send_slots = v->send_slots;
        k->recv_buf_size = v->recv_buf;
        if (v->min_rto_us) k->min_rto_us = v->min_rto_us;
    }
    sim s;
    CHECK_NULL_ERR(sim_init(&s, &wc, &sc, &cc, 7000));
    set_handlers(&s.sh);
    set_handlers(&s.ch);
    g.cli =
        (ep){.name = "client", .dir = 0, .total = v->bytes, .r = {0x1234567 + v->seed}, .b = v->b};
    g.srv =
        (ep){.name = "server", .dir = 1, .total = v->bytes, .r = {0x7654321 + v->seed}, .b = v->b};
    s.sctx = &g.srv;
    s.cctx = &g.cli;
    s.after_poll = after_poll;
    s.after_poll_arg = &g;
    g.wire = s.wire;
    g.refuse_every = v->refuse_every;
    efvitcp_conn *conn = NULL;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7000, 0, &conn));
    REQUIRE(conn != NULL);
    /* 100 s of virtual time is far more than any variant needs (the main one takes < 1 s). */
    bool done = sim_run(&s, 100000000000ull, finished, &g);
    CHECK(done);
    ep *eps[2] = {&g.cli, &g.srv};
    for (int i = 0; i < 2; i++) {
        ep *e = eps[i];
        CHECK(!e->failed);
        CHECK_EQ(e->established, 1);
        CHECK_EQ(e->fins, 1);
        CHECK_EQ(e->closed, 1);
        CHECK_EQ(e->resets + e->timeouts + e->refused, 0);
        CHECK_EQ(e->tx_off, v->bytes);
        CHECK_EQ(e->rx_off, v->bytes);
        CHECK_EQ(e->rx_seen, v->bytes);
        CHECK_EQ(e->final.bytes_in, v->bytes);
        CHECK_EQ(e->final.bytes_out, v->bytes);
        CHECK_EQ(e->final.unacked, 0);
        CHECK_EQ(e->final.queued, 0);
        CHECK(e->more_sendable > 0);
        /* the behaviours under test really happened */
        if (v->b.remainder_pm) CHECK(e->remainders > 0);
        if (v->b.stall_pm) CHECK(e->stalls > 0 && e->catchups > 0);
        CHECK(e->sends > 0 && e->sendvs > 0 && e->more_sends > 0);
        if (v->expect_loss) CHECK(e->final.retransmits > 0);
    }
    efvitcp_stats cst, sst;
    efvitcp_client_stats(s.cli, &cst);
    efvitcp_server_stats(s.srv, &sst);
    efvitcp_stats *sts[2] = {&cst, &sst};
    for (int i = 0; i < 2; i++) {
        efvitcp_stats *t = sts[i];
        CHECK_EQ(t->bytes_in, v->bytes);
        CHECK_EQ(t->bytes_out, v->bytes);
        CHECK_EQ(t->conns_closed, 1);
        CHECK_EQ(t->conns_reset + t->conns_timeout + t->conns_refused, 0);
        CHECK_EQ(t->conns_active, 0);
        CHECK_EQ(t->drops[EFVITCP_DROP_TCP_CSUM], 0);
        CHECK_EQ(t->drops[EFVITCP_DROP_RCVBUF_FULL], 0);
        CHECK_EQ(t->drops[EFVITCP_DROP_NO_CONN], 0);
        CHECK_EQ(t->drops[EFVITCP_DROP_BAD_ACK], 0);
        /* A refused ACK is counted here and sent again at the end of the next poll. */
        if (!v->refuse_every) CHECK_EQ(t->drops[EFVITCP_DROP_TX_BUF], 0);
        CHECK_EQ(t->rst_sent, 0);
    }
    CHECK_EQ(cst.conns_opened, 1);
    CHECK_EQ(sst.conns_accepted, 1);
    /* whoever closed first (or both, when the FINs crossed) holds TIME_WAIT */
    CHECK(cst.time_wait_active + sst.time_wait_active >= 1);
    et_wire_stats ws;
    et_wire_get_stats(s.wire, &ws);
    CHECK_EQ(ws.drop_mtu + ws.drop_no_slot + ws.drop_unknown + ws.drop_rx_full, 0);
    if (v->refuse_every) {
        CHECK(ws.fault_tx_refused > 1000);
        /* What was refused goes in the next poll (the deferred list), not when some later
           event (an ACK) happens to send it: without that, polls at one instant spin until then
           (over a million polls here instead of about 1,500). */
        CHECK(g.polls < cst.segs_out + sst.segs_out);
    }
    if (v->expect_loss) {
        /* drop-tail loss happened and was repaired */
        CHECK(ws.drop_queue > 0);
        CHECK(cst.retransmits + sst.retransmits > 0);
        if (v->cc != EFVITCP_CC_NONE) CHECK(cst.fast_retransmits + sst.fast_retransmits > 0);
    } else if (!v->lossy) {
        CHECK_EQ(ws.drop_queue, 0);
        /* Nothing is lost, so nothing may look lost: no timeout, no fast retransmit (stalls
           cause window probes only). Spurious ones came from a send window edge that moved
           past the peer's buffer and from pure ACKs the peer had to drop. */
        CHECK_EQ(cst.rto_events + sst.rto_events, 0);
        CHECK_EQ(cst.fast_retransmits + sst.fast_retransmits, 0);
        CHECK_EQ(cst.drops[EFVITCP_DROP_OOO_FULL] + sst.drops[EFVITCP_DROP_OOO_FULL], 0);
    }
    printf("  %-20s s%u %6.1f MB/dir virt %8.3f ms polls %-8llu segs c%llu/s%llu retx c%llu/s%llu "
           "fast %llu/%llu rto %llu/%llu wire drops %llu stalls %llu/%llu refused %llu\n",
           v->name, v->seed, v->bytes / 1e6, sim_now(&s) / 1e6, (unsigned long long)g.polls,
           (unsigned long long)cst.segs_out, (unsigned long long)sst.segs_out,
           (unsigned long long)cst.retransmits, (unsigned long long)sst.retransmits,
           (unsigned long long)cst.fast_retransmits, (unsigned long long)sst.fast_retransmits,
           (unsigned long long)cst.rto_events, (unsigned long long)sst.rto_events,
           (unsigned long long)ws.drop_queue, (unsigned long long)g.cli.stalls,
           (unsigned long long)g.srv.stalls, (unsigned long long)ws.fault_tx_refused);
    sim_free(&s);
}

static const behaviour B_MIXED = {.stall_pm = 2, .remainder_pm = 120, .catchup_pct = 5};

static void test_bulk_100mb_each_way(void)
{
    variant v = {.name = "100MB",
                 .bytes = 100ull * 1000 * 1000,
                 .cc = EFVITCP_CC_CUBIC,
                 .window_scale = true,
                 .timestamps = true,
                 .send_slots = 64,
                 .recv_buf = 65536,
                 .b = B_MIXED};
    run_variant(&v);
}

static variant lossy(const char *name, efvitcp_cc cc)
{
    return (variant){.name = name,
                     .bytes = 16 * MiB,
                     .cc = cc,
                     .lossy = true,
                     .expect_loss = true,
                     .window_scale = true,
                     .timestamps = true,
                     .send_slots = 256,
                     .recv_buf = 256 * 1024,
                     .b = B_MIXED};
}

/* Each lossy variant runs with three seeds: the losses fall on other segments each time. */
static void run_seeds(variant v)
{
    for (uint32_t seed = 0; seed < 3; seed++) {
        v.seed = seed;
        run_variant(&v);
    }
}

static void test_lossy_cc_none(void)
{
    run_seeds(lossy("lossy cc=none", EFVITCP_CC_NONE));
}

static void test_lossy_newreno(void)
{
    run_seeds(lossy("lossy newreno", EFVITCP_CC_NEWRENO));
}

static void test_lossy_cubic(void)
{
    run_seeds(lossy("lossy cubic", EFVITCP_CC_CUBIC));
}

/* An RTO floor of 1 ms races the peer's 1 ms delayed ACK: spurious timeouts and go-back-N on
   both sides at once (this found pure ACKs carrying a rewound sequence number). */
static void test_lossy_tight_rto(void)
{
    variant v = lossy("lossy rto 1ms", EFVITCP_CC_CUBIC);
    v.min_rto_us = 1000;
    run_seeds(v);
}

static void test_lossy_no_ws_no_ts(void)
{
    /* Without window scaling the window is at most 64 KiB. */
    variant v = lossy("lossy no ws/ts", EFVITCP_CC_CUBIC);
    v.window_scale = false;
    v.timestamps = false;
    v.recv_buf = 65535;
    run_seeds(v);
}

static void test_lossy_slots_1k(void)
{
    variant v = lossy("lossy 1K slots", EFVITCP_CC_NEWRENO);
    v.slots_1k = true;
    run_seeds(v);
}

static void test_small_recv_buf(void)
{
    variant v = lossy("4 KiB rcvbuf", EFVITCP_CC_CUBIC);
    v.recv_buf = 4096;
    v.bytes = 2 * MiB;
    v.expect_loss = false; /* 4 KiB in flight never fills the queue */
    run_variant(&v);
}

static void test_small_recv_buf_lossless(void)
{
    variant v = {.name = "4 KiB rcvbuf lossless",
                 .bytes = 4 * MiB,
                 .cc = EFVITCP_CC_NEWRENO,
                 .window_scale = true,
                 .timestamps = true,
                 .send_slots = 16,
                 .recv_buf = 4096,
                 .b = B_MIXED};
    run_variant(&v);
}

/* Links that refuse frames now and then (a NIC's transmit ring full): data segments wait in the
   deferred list, ACKs are sent again at the end of the next poll. Nothing is lost, so nothing
   may look lost: every byte arrives, with no timeout and no fast retransmission. */
static void test_busy_links_lossless(void)
{
    if (!sim_links_mem()) {
        /* The efvi link's counterpart, a NIC whose TX ring fills, is the emulator's tx_stall
           (tests/efvi/test_deferred.c, and fuzz_efvi's NIC faults). */
        printf("  busy links: the wire's tx_refuse is a fault of mem links; not this build's\n");
        return;
    }
    variant v = {.name = "busy links",
                 .bytes = 8 * MiB,
                 .cc = EFVITCP_CC_CUBIC,
                 .window_scale = true,
                 .timestamps = true,
                 .send_slots = 64,
                 .recv_buf = 65536,
                 .refuse_every = 7,
                 .b = B_MIXED};
    run_variant(&v);
}

int main(void)
{
    RUN(test_bulk_100mb_each_way);
    RUN(test_lossy_cc_none);
    RUN(test_lossy_newreno);
    RUN(test_lossy_cubic);
    RUN(test_lossy_tight_rto);
    RUN(test_lossy_no_ws_no_ts);
    RUN(test_lossy_slots_1k);
    RUN(test_small_recv_buf);
    RUN(test_small_recv_buf_lossless);
    RUN(test_busy_links_lossless);
    return th_summary();
}
