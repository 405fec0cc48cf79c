/*
 * efvitcp-sim: deterministic simulation of a client and a server instance over the mem wire
 * (testing playbook §4). One run = one seed under one fault profile: every parameter (stack
 * configs, wire, workload, faults) is drawn from the seed, time is virtual and jumps to the next
 * frame or timer, and the same seed gives the same frames bit for bit.
 */
#ifndef EFVITCP_SIM_TOOL_H
#define EFVITCP_SIM_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"
#include "link/mem_wire.h"

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

typedef struct sim_opts {
    uint64_t seed;
    int profile;
    const char *pcap_base; /* NULL: no capture; else <base>.client.pcap and <base>.server.pcap */
    bool verbose;
    bool bulk; /* goodput runs: plain bulk transfers, no pacing, stalls, aborts or late polls */
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
} sim_result;

/* Runs one seed; fills *r. Returns r->ok. */
bool sim_run_seed(const sim_opts *o, sim_result *r);

#endif
