/*
 * efvitcp-sim: runs seeds of the deterministic simulation (run.c) and reports.
 *
 *   efvitcp-sim [--seeds FIRST..LAST] [--profile NAME] [--link mem|efvi|efct] [--pcap FILE]
 *               [--twice] [--no-fast-path] [--syn-cookies] [--no-sack] [--no-rack]
 *               [--peer-no-sack] [--stats] [--bulk] [-v]
 *
 * --seeds      one seed N or a range FIRST..LAST (default 1..100)
 * --profile    clean, lossy, burst, reorder, dup, corrupt, slow, partition, flaky (all faults at
 *              once), mixed (the default: each seed picks one of those) or all (every profile
 *              for each seed)
 * --link       how both instances reach the wire: mem (the default), or the efvi link on an
 *              emulated NIC port each, EF10/X2 (efvi) or EFCT/X3 (efct), the ports' settings and
 *              link options drawn from the seed and, in half of the faulty runs (not --bulk), NIC
 *              faults beside the wire's (starved RX, stalled TX, failed CTPIO sends, discards,
 *              event queue overflows); efvi and efct need efvitcp-sim-efvi, the build against the
 *              ef_vi emulator (with the tests)
 * --pcap FILE  capture every run: FILE's stem + .client.pcap / .server.pcap
 * --twice      run every seed twice, the second time with capture on and header prediction
 *              (cfg.fast_path) switched, and require the same frames bit for bit
 * --no-fast-path  both stacks without header prediction: every segment takes the general path
 * --no-sack       both stacks with cfg.sack off: SACK never offered, NewReno recovery
 * --no-rack       both stacks with cfg.rack off: RFC 6675's DupThresh rules, no tail loss probes
 * --peer-no-sack  the client with cfg.sack off: the server meets a peer that never offers SACK
 * --syn-cookies   the server answers every SYN with a SYN cookie (EFVITCP_SYN_COOKIES_ALWAYS):
 *              each handshake completes from the cookie, under the profile's faults
 * --stats      goodput in virtual time per profile, relative to clean, and fault counts
 * --bulk       workload of plain bulk transfers (no pacing, slow readers, aborts or late polls),
 *              so that --stats measures what the faults cost
 * -v           parameters, outcome and frame hash of every run
 *
 * A failing seed prints why, the command that replays it, and writes its capture (the run is
 * repeated with capture on; it must fail the same way). The last line is "N passed, N failed";
 * the exit status is 0 only if every run passed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define PROF_MIXED PROF_COUNT
#define PROF_ALL   (PROF_COUNT + 1)

typedef struct prof_stats {
    uint64_t runs, failed, payload, t_data, frames, polls;
    uint64_t retransmits, rto, fast;
    uint64_t rack, tlp, undo; /* RACK losses, tail loss probes, spurious responses undone */
    uint64_t nic; /* emulated NICs: frames dropped or discarded, failed CTPIO sends, overflows */
    double wall;
    et_wire_stats wire;
} prof_stats;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The short form after a usage error, on standard error; the long one for --help, on standard
   output (for a pager). */
static void usage(FILE *out, const char *argv0, bool full)
{
    fprintf(out,
            "usage: %s [--seeds FIRST..LAST] [--profile NAME] [--link mem|efvi|efct] [--pcap FILE] "
            "[--twice] [--no-fast-path] [--syn-cookies] [--no-sack] [--no-rack] [--peer-no-sack] "
            "[--stats] [--bulk] [-v]\nprofiles:",
            argv0);
    for (int i = 0; i < PROF_COUNT; i++) fprintf(out, " %s", sim_profile_names[i]);
    fprintf(out,
            " mixed all\nlinks: mem, efvi (emulated EF10 ports), efct (emulated EFCT ports)%s\n",
            sim_have_emulator ? ""
                              : "; efvi and efct need efvitcp-sim-efvi (the ef_vi emulator build)");
    if (!full) return;
    fputs("Runs seeds of a deterministic simulation: a client and a server over a simulated wire\n"
          "with the faults of a profile, the engine's invariants checked after every poll.\n"
          "  --seeds N|A..B  seeds to run (default 1..100)\n"
          "  --profile NAME  wire faults (default mixed: each seed picks one; all: every one)\n"
          "  --link L        how both instances reach the wire (default mem)\n"
          "  --pcap FILE     capture every run: FILE's stem + .client.pcap / .server.pcap\n"
          "  --twice         run every seed twice (capture and header prediction switched) and\n"
          "                  require the same frames bit for bit\n"
          "  --no-fast-path  both stacks without header prediction\n"
          "  --no-sack       both stacks without SACK (cfg.sack off: NewReno recovery)\n"
          "  --no-rack       both stacks without RACK-TLP (cfg.rack off: RFC 6675 DupThresh)\n"
          "  --peer-no-sack  the client without SACK: a peer that never offers it\n"
          "  --stats         goodput per profile relative to clean, and fault counts\n"
          "  --bulk          plain bulk transfers (what --stats measures)\n"
          "  -v              parameters, outcome and frame hash of every run\n"
          "  --version       print the efvitcp version\n"
          "A failing seed prints why and the command that replays it. Exit status 0 only if every\n"
          "run passed.\n",
          out);
}

static bool parse_seeds(const char *s, uint64_t *first, uint64_t *last)
{
    char *end;
    *first = strtoull(s, &end, 10);
    if (end == s) return false;
    if (*end == 0) {
        *last = *first;
        return true;
    }
    if (end[0] != '.' || end[1] != '.') return false;
    const char *t = end + 2;
    *last = strtoull(t, &end, 10);
    return end != t && *end == 0 && *last >= *first;
}

static int parse_profile(const char *s)
{
    for (int i = 0; i < PROF_COUNT; i++)
        if (strcmp(s, sim_profile_names[i]) == 0) return i;
    if (strcmp(s, "mixed") == 0) return PROF_MIXED;
    if (strcmp(s, "all") == 0) return PROF_ALL;
    return -1;
}

static void add_wire(et_wire_stats *a, const et_wire_stats *b)
{
    a->sent += b->sent;
    a->delivered += b->delivered;
    a->drop_mtu += b->drop_mtu;
    a->drop_queue += b->drop_queue;
    a->drop_no_slot += b->drop_no_slot;
    a->drop_unknown += b->drop_unknown;
    a->drop_rx_full += b->drop_rx_full;
    a->fault_partition += b->fault_partition;
    a->fault_loss += b->fault_loss;
    a->fault_burst_loss += b->fault_burst_loss;
    a->fault_dup += b->fault_dup;
    a->fault_jitter += b->fault_jitter;
    a->fault_corrupt += b->fault_corrupt;
    a->fault_corrupt_fixed += b->fault_corrupt_fixed;
}

static int parse_link(const char *s)
{
    for (int i = 0; i < SIM_LINK_COUNT; i++)
        if (strcmp(s, sim_link_names[i]) == 0) return i;
    return -1;
}

static void print_stats(const prof_stats *ps, int link)
{
    double clean =
        ps[PROF_CLEAN].t_data ? (double)ps[PROF_CLEAN].payload / ps[PROF_CLEAN].t_data : 0.0;
    printf("%-9s %6s %6s %10s %10s %8s %9s %8s %8s %7s %7s %6s %7s %7s %7s %7s %7s %7s %7s%s\n",
           "profile", "runs", "failed", "MB", "MB/s virt", "vs clean", "wall s", "retx", "rto",
           "rack", "tlp", "undo", "loss", "burst", "part", "dup", "corrupt", "fixed", "queue",
           link ? "     nic" : "");
    for (int p = 0; p < PROF_COUNT; p++) {
        const prof_stats *s = &ps[p];
        if (!s->runs) continue;
        double g = s->t_data ? (double)s->payload / s->t_data : 0.0; /* bytes per ns = GB/s */
        char rel[16] = "-";
        if (clean > 0) snprintf(rel, sizeof(rel), "%.3f", g / clean);
        printf("%-9s %6" PRIu64 " %6" PRIu64 " %10.1f %10.1f %8s %9.2f %8" PRIu64 " %8" PRIu64
               " %7" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64
               " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64,
               sim_profile_names[p], s->runs, s->failed, s->payload / 1e6, g * 1e3, rel, s->wall,
               s->retransmits, s->rto, s->rack, s->tlp, s->undo, s->wire.fault_loss,
               s->wire.fault_burst_loss, s->wire.fault_partition, s->wire.fault_dup,
               s->wire.fault_corrupt, s->wire.fault_corrupt_fixed, s->wire.drop_queue);
        if (link) printf(" %8" PRIu64, s->nic);
        printf("\n");
    }
}

/* --no-sack, --no-rack, --peer-no-sack: loss recovery choices (flags of the whole run, like
   the profile range). */
static bool no_sack, no_rack, peer_no_sack;

/* Runs one seed; on failure reports it, replays it with capture on, and returns false. */
static bool run_one(const char *argv0, uint64_t seed, int prof, int link, const char *pcap,
                    bool verbose, bool twice, bool bulk, bool no_fast_path, bool cookies,
                    prof_stats *ps)
{
    sim_opts o = {.seed = seed,
                  .profile = prof,
                  .link = link,
                  .pcap_base = pcap,
                  .verbose = verbose,
                  .bulk = bulk,
                  .no_fast_path = no_fast_path,
                  .syn_cookies = cookies,
                  .no_sack = no_sack,
                  .no_rack = no_rack,
                  .peer_no_sack = peer_no_sack};
    sim_result r;
    double t0 = wall_now();
    bool ok = sim_run_seed(&o, &r);
    ps[prof].wall += wall_now() - t0;
    ps[prof].runs++;
    if (verbose) {
        printf("seed %" PRIu64 " %s: %s, %" PRIu64 " frames, hash %016" PRIx64 ", %" PRIu64
               " polls, %.3f MB in %.6f s virtual (end %.3f s), %u conns (%u aborted, %u doomed)\n",
               seed, sim_profile_names[prof], ok ? "ok" : "FAILED", r.frames, r.frame_hash, r.polls,
               r.payload / 1e6, r.t_data_ns / 1e9, r.t_end_ns / 1e9, r.conns, r.aborted, r.doomed);
        if (link)
            printf("  %s NICs%s: %" PRIu64 " RX drops, %" PRIu64 " discards, %" PRIu64
                   " failed CTPIO sends, %" PRIu64 " event queue overflows\n",
                   sim_link_names[link], r.nic_faults ? " (NIC faults)" : "", r.nic_rx_nodesc,
                   r.nic_discard, r.nic_ctpio_fail, r.nic_oflow);
    }
    if (ok && twice) {
        char base[256];
        snprintf(base, sizeof(base), "/tmp/efvitcp-sim-twice-%d", (int)getpid());
        sim_opts o2 = o;
        o2.pcap_base = base;
        o2.verbose = false;
        o2.no_fast_path = !o.no_fast_path; /* the fast path changes no frame */
        sim_result r2;
        bool ok2 = sim_run_seed(&o2, &r2);
        char path[300];
        snprintf(path, sizeof(path), "%s.client.pcap", base);
        unlink(path);
        snprintf(path, sizeof(path), "%s.server.pcap", base);
        unlink(path);
        if (!ok2 || r2.frame_hash != r.frame_hash || r2.frames != r.frames || r2.polls != r.polls) {
            ok = false;
            snprintf(r.reason, sizeof(r.reason),
                     "not deterministic: %" PRIu64 " frames hash %016" PRIx64 " polls %" PRIu64
                     ", then %" PRIu64 " frames hash %016" PRIx64 " polls %" PRIu64 " (%.600s)",
                     r.frames, r.frame_hash, r.polls, r2.frames, r2.frame_hash, r2.polls,
                     ok2 ? "ok" : r2.reason);
        }
    }
    if (ok) {
        ps[prof].payload += r.payload;
        ps[prof].t_data += r.t_data_ns;
        ps[prof].frames += r.frames;
        ps[prof].polls += r.polls;
        ps[prof].retransmits += r.cli.retransmits + r.srv.retransmits;
        ps[prof].rto += r.cli.rto_events + r.srv.rto_events;
        ps[prof].fast += r.cli.fast_retransmits + r.srv.fast_retransmits;
        ps[prof].rack += r.cli.rack_losses + r.srv.rack_losses;
        ps[prof].tlp += r.cli.tlp_probes + r.srv.tlp_probes;
        ps[prof].undo += r.cli.spurious_undone + r.srv.spurious_undone;
        add_wire(&ps[prof].wire, &r.wire);
        ps[prof].nic += r.nic_rx_nodesc + r.nic_discard + r.nic_ctpio_fail + r.nic_oflow;
        return true;
    }
    ps[prof].failed++;
    printf("FAIL seed %" PRIu64 " profile %s%s%s: %s\n", seed, sim_profile_names[prof],
           link ? " link " : "", link ? sim_link_names[link] : "", r.reason);
    char cap[256];
    if (pcap)
        snprintf(cap, sizeof(cap), "%s", pcap);
    else
        snprintf(cap, sizeof(cap), "efvitcp-sim-%" PRIu64 "-%s%s%s.pcap", seed,
                 sim_profile_names[prof], link ? "-" : "", link ? sim_link_names[link] : "");
    printf("  replay: %s --seeds %" PRIu64 " --profile %s%s%s%s%s%s%s%s%s -v --pcap %s\n", argv0,
           seed, sim_profile_names[prof], link ? " --link " : "", link ? sim_link_names[link] : "",
           bulk ? " --bulk" : "", no_fast_path ? " --no-fast-path" : "",
           cookies ? " --syn-cookies" : "", no_sack ? " --no-sack" : "",
           no_rack ? " --no-rack" : "", peer_no_sack ? " --peer-no-sack" : "", cap);
    if (!pcap) {
        /* The same seed gives the same frames: replaying with capture on writes this run. */
        sim_opts o2 = o;
        o2.pcap_base = cap;
        o2.verbose = false;
        sim_result r2;
        bool ok2 = sim_run_seed(&o2, &r2);
        size_t n = strlen(cap) - 5;
        printf("  capture: %.*s.client.pcap %.*s.server.pcap (%s)\n", (int)n, cap, (int)n, cap,
               !ok2 && r2.frame_hash == r.frame_hash ? "same failure"
                                                     : "WARNING: the replay differs");
    }
    fflush(stdout);
    return false;
}

int main(int argc, char **argv)
{
    uint64_t first = 1, last = 100;
    int prof = PROF_MIXED, link = SIM_LINK_MEM;
    const char *pcap = NULL;
    bool verbose = false, stats = false, twice = false, bulk = false, no_fast_path = false;
    bool cookies = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--seeds") == 0 && i + 1 < argc) {
            if (!parse_seeds(argv[++i], &first, &last)) {
                fprintf(stderr, "bad --seeds %s (want N or FIRST..LAST)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--profile") == 0 && i + 1 < argc) {
            if ((prof = parse_profile(argv[++i])) < 0) {
                usage(stderr, argv[0], false);
                return 2;
            }
        } else if (strcmp(a, "--link") == 0 && i + 1 < argc) {
            if ((link = parse_link(argv[++i])) < 0) {
                usage(stderr, argv[0], false);
                return 2;
            }
            if (link != SIM_LINK_MEM && !sim_have_emulator) {
                fprintf(stderr,
                        "--link %s: this efvitcp-sim has no efvi link on the simulated wire; use "
                        "efvitcp-sim-efvi, the build against the ef_vi emulator (tests/efvi_emu; "
                        "built with the tests)\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--pcap") == 0 && i + 1 < argc) {
            pcap = argv[++i];
        } else if (strcmp(a, "-v") == 0) {
            verbose = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, argv[0], true);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("efvitcp-sim (efvitcp) %s\n", efvitcp_version());
            return 0;
        } else if (strcmp(a, "--stats") == 0) {
            stats = true;
        } else if (strcmp(a, "--twice") == 0) {
            twice = true;
        } else if (strcmp(a, "--no-fast-path") == 0) {
            no_fast_path = true;
        } else if (strcmp(a, "--syn-cookies") == 0) {
            cookies = true;
        } else if (strcmp(a, "--no-sack") == 0) {
            no_sack = true;
        } else if (strcmp(a, "--no-rack") == 0) {
            no_rack = true;
        } else if (strcmp(a, "--peer-no-sack") == 0) {
            peer_no_sack = true;
        } else if (strcmp(a, "--bulk") == 0) {
            bulk = true;
        } else {
            usage(stderr, argv[0], false);
            return 2;
        }
    }
    static prof_stats ps[PROF_COUNT];
    uint64_t passed = 0, failed = 0;
    for (uint64_t seed = first;; seed++) {
        int lo = prof, hi = prof;
        if (prof == PROF_MIXED) lo = hi = (int)(seed % PROF_COUNT);
        if (prof == PROF_ALL) lo = 0, hi = PROF_COUNT - 1;
        for (int p = lo; p <= hi; p++) {
            if (run_one(argv[0], seed, p, link, pcap, verbose, twice, bulk, no_fast_path, cookies,
                        ps))
                passed++;
            else
                failed++;
        }
        if (seed == last) break;
    }
    if (stats) print_stats(ps, link);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return failed ? 1 : 0;
}
