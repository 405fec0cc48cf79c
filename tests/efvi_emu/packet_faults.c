/*
 * NIC faults on an AF_PACKET port, against the kernel's TCP (run as root by
 * tests/interop/case_faults.sh in the efvitcp namespace of tests/interop/lib.sh). One client on
 * the efvi link, whose emulated port is a real interface, streams BYTES through a kernel echo
 * server once per phase, each phase with one kind of fault injected on our port while the data
 * flows: none, CTPIO failures with poisoned copies (EF10), RX discards, a receive ring that runs
 * dry, a transmit ring that stalls, and a NIC reset, an event queue overflow and a TX error in
 * one transfer. Every byte of the echo is checked, each phase must end in a clean close (no
 * reset, no time-out), and the counters of the port and the link must show that the fault
 * happened and was recovered from. The same instance and port serve every phase.
 *
 *   packet_faults IF ADDR/PREFIX PEER PORT BYTES
 *
 * One line per phase on standard output; exit status 0 when all passed, 1 otherwise. Timing
 * comes from the real clock, so the schedule of faults varies from run to run; what is checked
 * does not depend on it.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/instance.h"
#include "efvi_emu.h"
#include "efvitcp/efvitcp.h"
#include "link/efvi.h"

#define PHASE_NS (60ull * 1000000000ull)

typedef struct run {
    efvitcp_client *cli;
    efvi_emu_nic *nic;
    efvitcp_conn *c;
    uint64_t total, tx, rx, bad;
    uint32_t seed;
    bool fin_sent, closed, failed;
    const char *why;
    /* the recovery phase: which faults went in */
    int injected;
} run;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint8_t stream_byte(uint32_t seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x * 0x94d049bb133111ebull >> 56);
}

static void pump(run *r)
{
    uint8_t buf[8192];
    while (r->c && r->tx < r->total) {
        uint64_t want = r->total - r->tx;
        uint32_t n = efvitcp_sendable(r->c);
        if (n > sizeof(buf)) n = sizeof(buf);
        if (n > want) n = (uint32_t)want;
        if (!n) return;
        for (uint32_t i = 0; i < n; i++) buf[i] = stream_byte(r->seed, r->tx + i);
        uint32_t sent = efvitcp_send(r->c, buf, n, false);
        r->tx += sent;
        if (sent < n) return;
    }
    if (r->c && r->tx == r->total && !r->fin_sent && !efvitcp_send_fin(r->c)) r->fin_sent = true;
}

static void fail_with(run *r, const char *why)
{
    r->failed = true;
    r->why = why;
    r->c = NULL;
}

static void on_est(void *ctx, efvitcp_conn *c)
{
    run *r = ctx;
    r->c = c;
    pump(r);
}

static uint32_t on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    run *r = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (d[i] != stream_byte(r->seed, r->rx + i)) r->bad++;
    r->rx += n;
    return 0;
}

static void on_more(void *ctx, efvitcp_conn *c)
{
    pump(ctx);
}

static void on_closed(void *ctx, efvitcp_conn *c)
{
    run *r = ctx;
    r->closed = true;
    r->c = NULL;
}

static void on_refused(void *ctx, efvitcp_conn *c)
{
    fail_with(ctx, "connection refused");
}

static void on_reset(void *ctx, efvitcp_conn *c)
{
    fail_with(ctx, "connection reset");
}

static void on_timeout(void *ctx, efvitcp_conn *c)
{
    fail_with(ctx, "connection timed out");
}

typedef struct snap {
    et_efvi_stats l;
    efvi_emu_stats n;
    efvitcp_stats s;
} snap;

static void take(const run *r, snap *s)
{
    memset(s, 0, sizeof(*s));
    et_efvi_link_stats(((et_stack *)r->cli)->link, &s->l);
    efvi_emu_get_stats(r->nic, &s->n);
    efvitcp_client_stats(r->cli, &s->s);
}

#define DELTA(a, b, f) ((b).f - (a).f)

enum { CLEAN, CTPIO, DISCARD, STARVE, STALL, RECOVERY, N_PHASES };
static const char *const phase_name[N_PHASES] = {
    "clean", "ctpio failures", "rx discards", "rx ring dry", "tx ring stalled", "reset+oflow+txerr",
};

/* The faults of a phase at this moment of its transfer. */
static void schedule(run *r, int phase, uint64_t t)
{
    efvi_emu_faults f;
    memset(&f, 0, sizeof(f));
    uint64_t ms = t / 1000000u;
    switch (phase) {
    case CTPIO:
        f.ctpio_fail = 0.3;
        f.ctpio_poison = true;
        break;
    case DISCARD:
        f.rx_discard = 0.01;
        break;
    case STARVE:
        f.rx_starve = ms % 20 >= 18; /* 2 ms of every 20 */
        break;
    case STALL:
        f.tx_stall = ms % 20 >= 15;
        break;
    case RECOVERY:
        /* One of each at a quarter, half and three quarters of the echo. */
        if (r->injected == 0 && r->rx >= r->total / 4) {
            efvi_emu_reset(r->nic);
            r->injected++;
        } else if (r->injected == 1 && r->rx >= r->total / 2) {
            /* Set once: the next poll of the event queue finds it overflowed. */
            f.evq_oflow = 1;
            efvi_emu_set_faults(r->nic, &f);
            r->injected++;
        } else if (r->injected == 2 && r->rx >= r->total * 3 / 4) {
            efvi_emu_tx_error(r->nic);
            r->injected++;
        }
        return;
    default:
        break;
    }
    efvi_emu_set_faults(r->nic, &f);
}

/* What the counters of a phase must show besides a clean, complete echo. */
static const char *check(int phase, bool efct, const snap *a, const snap *b)
{
    switch (phase) {
    case CLEAN:
        if (DELTA(*a, *b, l.restarts)) return "the link restarted without a fault";
        if (!DELTA(*a, *b, l.tx_ctpio)) return "no CTPIO send";
        break;
    case CTPIO:
        if (!DELTA(*a, *b, n.tx_ctpio_fail)) return "no CTPIO send failed";
        if (!DELTA(*a, *b, n.tx_poisoned)) return "no poisoned copy went out";
        break;
    case DISCARD:
        if (!DELTA(*a, *b, l.rx_discard_crc)) return "no frame was discarded";
        break;
    case STARVE:
        if (!DELTA(*a, *b, n.rx_nodesc)) return "the receive ring never ran dry";
        break;
    case STALL:
        /* EF10 frames wait on the ring; EFCT's FIFO refuses them into the link's queue. */
        if (efct && !DELTA(*a, *b, l.tx_queued)) return "no send waited";
        break;
    case RECOVERY:
        if (DELTA(*a, *b, l.resets) != 1) return "not one RESET event";
        if (DELTA(*a, *b, l.evq_oflow) != 1) return "not one OFLOW event";
        /* EFCT sends only by CTPIO: a DMA error cannot happen there. */
        if (DELTA(*a, *b, l.tx_errors) != (efct ? 0u : 1u)) return "TX errors not as injected";
        if (DELTA(*a, *b, l.restarts) !=
            DELTA(*a, *b, l.resets) + DELTA(*a, *b, l.evq_oflow) + DELTA(*a, *b, l.tx_errors))
            return "restarts do not match the faults";
        if (DELTA(*a, *b, l.restart_failures)) return "a restart failed";
        break;
    default:
        break;
    }
    if (b->n.violations) return b->n.last_violation;
    return NULL;
}

static bool run_phase(run *r, int phase, bool efct, const char *peer, uint16_t port, uint64_t bytes)
{
    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = on_est;
    h.on_data = on_data;
    h.on_more_sendable = on_more;
    h.on_closed = on_closed;
    h.on_connection_refused = on_refused;
    h.on_reset = on_reset;
    h.on_timeout = on_timeout;

    efvitcp_client *cli = r->cli;
    efvi_emu_nic *nic = r->nic;
    memset(r, 0, sizeof(*r));
    r->cli = cli;
    r->nic = nic;
    r->total = bytes;
    r->seed = (uint32_t)phase * 7919u + 1;
    snap a, b;
    take(r, &a);
    uint64_t t0 = now_ns();
    const char *err = efvitcp_client_connect(cli, peer, port, 0, NULL);
    if (err) fail_with(r, err);
    while (!r->failed && !r->closed && now_ns() - t0 < PHASE_NS) {
        efvitcp_client_poll(cli, &h, r);
        schedule(r, phase, now_ns() - t0);
    }
    efvi_emu_set_faults(nic, NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    take(r, &b);
    if (!r->failed && !r->closed) {
        /* Where it stands, for the post-mortem of a stall. */
        if (r->c) {
            efvitcp_conn_stats cs;
            efvitcp_conn_get_stats(r->c, &cs);
            printf("stalled: %s tx %" PRIu64 " rx %" PRIu64 " unacked %u queued %u held %u snd_wnd "
                   "%u rcv_wnd %u cwnd %u rto_us %u retransmits %" PRIu64 " segs in/out %" PRIu64
                   "/%" PRIu64 "\n",
                   efvitcp_state_name(cs.state), r->tx, r->rx, cs.unacked, cs.queued, cs.recv_held,
                   cs.snd_wnd, cs.rcv_wnd, cs.cwnd, cs.rto_us, cs.retransmits, cs.segs_in,
                   cs.segs_out);
        }
        printf("stalled: link rx %" PRIu64 " tx %" PRIu64 " completions %" PRIu64
               " foreign %" PRIu64 " bad_len %" PRIu64 "; port rx %" PRIu64 " wire_dropped %" PRIu64
               " overflow %" PRIu64 " tx_wire_dropped %" PRIu64 "\n",
               DELTA(a, b, l.rx_frames), DELTA(a, b, l.tx_frames), DELTA(a, b, l.tx_completions),
               DELTA(a, b, l.rx_foreign), DELTA(a, b, l.rx_bad_len), DELTA(a, b, n.rx_frames),
               DELTA(a, b, n.rx_wire_dropped), DELTA(a, b, n.rx_wire_overflow),
               DELTA(a, b, n.tx_wire_dropped));
        for (int d = 0; d < EFVITCP_DROP_REASONS; d++)
            if (DELTA(a, b, s.drops[d]))
                printf("stalled: dropped %s %" PRIu64 "\n",
                       efvitcp_drop_reason_name((efvitcp_drop_reason)d), DELTA(a, b, s.drops[d]));
        fail_with(r, "did not finish in 60 s");
    }
    if (!r->failed && (r->rx != bytes || r->bad))
        fail_with(r, r->bad ? "echo differs from what was sent" : "echo incomplete");
    if (!r->failed) {
        const char *why = check(phase, efct, &a, &b);
        if (why) fail_with(r, why);
    }
    printf("%s %-18s %.2f s, echo %" PRIu64 "/%" PRIu64 " bytes; link: restarts %" PRIu64
           " rx_discard_crc %" PRIu64 " tx_queued %" PRIu64 "; port: ctpio_fail %" PRIu64
           " poisoned %" PRIu64 " rx_nodesc %" PRIu64 " wire_busy %" PRIu64
           "; our retransmits %" PRIu64 "%s%s\n",
           r->failed ? "FAIL" : "ok  ", phase_name[phase], secs, r->rx, bytes,
           DELTA(a, b, l.restarts), DELTA(a, b, l.rx_discard_crc), DELTA(a, b, l.tx_queued),
           DELTA(a, b, n.tx_ctpio_fail), DELTA(a, b, n.tx_poisoned), DELTA(a, b, n.rx_nodesc),
           DELTA(a, b, n.tx_wire_busy), DELTA(a, b, s.retransmits), r->failed ? ": " : "",
           r->failed ? r->why : "");
    fflush(stdout);
    return !r->failed;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: packet_faults IF ADDR/PREFIX PEER PORT BYTES\n");
        return 2;
    }
    char link[64];
    snprintf(link, sizeof(link), "efvi:%s", argv[1]);
    uint16_t port = (uint16_t)atoi(argv[4]);
    uint64_t bytes = strtoull(argv[5], NULL, 10);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = argv[2];
    cfg.max_conns = 4;
    /* Above the kernel's delayed ACK (40 ms), so that recovery is from the faults, not from
       spurious time-outs. */
    cfg.min_rto_us = 50000;
    static run r;
    const char *err = efvitcp_client_init(&r.cli, link, &cfg);
    if (err) {
        fprintf(stderr, "packet_faults: %s: %s\n", link, err);
        return 1;
    }
    r.nic = efvi_emu_nic_find(NULL, argv[1]);
    et_efvi_stats ls;
    if (!r.nic || !et_efvi_link_stats(((et_stack *)r.cli)->link, &ls)) {
        fprintf(stderr, "packet_faults: %s is not an emulated AF_PACKET port\n", argv[1]);
        efvitcp_client_close(r.cli);
        return 1;
    }
    bool ok = true;
    for (int phase = 0; phase < N_PHASES; phase++) {
        if (phase == CTPIO && ls.efct) continue; /* EFCT sends by CTPIO alone, which cannot fail */
        ok &= run_phase(&r, phase, ls.efct, argv[3], port, bytes);
    }
    efvitcp_client_close(r.cli);
    return ok ? 0 : 1;
}
