/*
 * The fuzz rig shared by the stack targets (fuzz_frames.c, fuzz_conn.c): ONE efvitcp instance
 * (a server or a client, chosen by the input) on a mem wire with a virtual clock, and a raw
 * endpoint that plays up to FZ_FLOWS peers. The input is a byte program (docs/testing.md
 * "Fuzzing" lists the opcodes): peer segments built from the peer's view of each flow with
 * correct checksums and fuzzed fields, raw frames, time advances that poll at every timer on the
 * way, API calls, and what the callbacks do.
 *
 * Oracles, checked after every poll and every API call: the engine's invariants
 * (tests/check/check.h), no livelock (a bounded number of polls at one instant), the byte
 * streams in both directions (every byte carries its sequence number mod 251, so a byte lost,
 * doubled or moved shows), every frame the stack emits parses, and at the end, after every
 * connection is closed and time has run out, nothing leaked (et_stack_check_idle). A failure
 * prints what broke and aborts, which libFuzzer and the replay driver both report.
 */
#ifndef EFVITCP_FUZZ_FZ_H
#define EFVITCP_FUZZ_FZ_H

#include <stddef.h>
#include <stdint.h>

/** What the program may do. */
typedef enum fz_mode {
    /** Target (a): a fixture puts the stack in a state chosen by the input (LISTEN, SYN_SENT,
        ..., TIME_WAIT, WAIT_ARP), then only frames and time follow: raw frames, frames with
        fuzzed headers and fixed checksums, segments relative to the flow, ARP. */
    FZ_FRAMES,
    /** Target (b): every opcode, API calls and callback behaviours included. */
    FZ_PROGRAM,
    /** fuzz_pair: FZ_PROGRAM with a client instance beside the server, connecting to it over
        the wire; opcode 0 spoofs segments into their connections, either way. The two stacks
        must never exchange frames without end at one instant (RFC 5961 §7 / RFC 7323 §5.3:
        no pair of stacks ping-pongs ACKs). */
    FZ_PAIR,
} fz_mode;

/** Runs one input; aborts (after printing why) on a finding. */
void fz_run(const uint8_t *data, size_t size, fz_mode mode);

#endif
