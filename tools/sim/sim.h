/*
 * efvitcp-sim: deterministic simulation of a client and a server instance over the mem wire, in
 * one thread. One run = one seed under one fault profile: every parameter (stack configs, wire,
 * workload, faults) is drawn from the seed, time is virtual and jumps to the next frame or timer,
 * and the same seed gives the same frames bit for bit. Drawing everything from the seed explores
 * combinations nobody would write a test for, and determinism makes a failing seed a test case:
 * its command line replays it exactly, under a debugger or with a capture.
 */
#ifndef EFVITCP_SIM_TOOL_H
#define EFVITCP_SIM_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "wire/wire_hooks.h"

enum {
    PROF_CLEAN = 0,
    PROF_LOSSY,
    PROF_BURST,
    PROF_REORDER,
    PROF_DUP,
    PROF_CORRUPT,
    PROF_SLOW,
    PROF_PARTITION,
    PROF_FLAKY,
    PROF_COUNT
};

extern const char *const sim_profile_names[PROF_COUNT];

/* How both instances reach the wire: the mem link, or the efvi link on an emulated NIC port each
   (EF10/X2 or EFCT/X3 ports of the ef_vi emulator, tests/efvi_emu), the latter only in the
   emulator build (efvitcp-sim-efvi). */
enum { SIM_LINK_MEM = 0, SIM_LINK_EFVI, SIM_LINK_EFCT, SIM_LINK_COUNT };

extern const char *const sim_link_names[SIM_LINK_COUNT];
/* Whether this build has the ef_vi emulator (efvitcp-sim-efvi). */
extern const bool sim_have_emulator;

typedef struct sim_opts {
    uint64_t seed;
    int profile;
    int link;              /* SIM_LINK_* */
    const char *pcap_base; /* NULL: no capture; else <base>.client.pcap and <base>.server.pcap */
    bool verbose;
    bool bulk; /* goodput runs: plain bulk transfers, no pacing, stalls, aborts or late polls */
    bool no_fast_path; /* both stacks with cfg.fast_path off (header prediction) */
    bool syn_cookies;  /* the server answers every SYN with a SYN cookie (cfg.syn_cookies) */
    bool no_sack;      /* both stacks with cfg.sack off (RFC 2018 not offered) */
    bool no_rack;      /* both stacks with cfg.rack off (RFC 6675's DupThresh rules, no TLP) */
    bool peer_no_sack; /* the client alone with cfg.sack off: a server whose peer never offers
                          SACK */
} sim_opts;

typedef struct sim_result {
    bool ok;
    char reason[2048];
    uint64_t frame_hash; /* every frame put on the wire: sender, time, bytes */
    uint64_t frames;
    uint64_t polls;
    uint64_t payload;   /* payload bytes delivered to the readers, both directions */
    uint64_t t_data_ns; /* virtual time from the first connect to the last byte delivered */
    uint64_t t_end_ns;  /* virtual time at the end of the run */
    uint64_t t_heal_ns; /* when the faults stopped */
    uint32_t conns, aborted, doomed, failed_conns;
    et_wire_stats wire;
    efvitcp_stats cli, srv;
    /* emulated NICs, both ports together (efvi and efct links) */
    uint64_t nic_rx_nodesc;  /* frames dropped for want of an RX descriptor or buffer */
    uint64_t nic_discard;    /* frames flagged RX_DISCARD (bad checksum or FCS) */
    uint64_t nic_ctpio_fail; /* cut-through sends that failed (the DMA fallback went) */
    uint64_t nic_oflow;      /* event queue overflows (the link recreates its VI) */
    bool nic_faults;         /* emulator faults were planned for this run */
} sim_result;

/* Runs one seed; fills *r. Returns r->ok. */
bool sim_run_seed(const sim_opts *o, sim_result *r);

#endif
