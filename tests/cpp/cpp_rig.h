/*
 * The C++ layer's test rig: a mem wire with a virtual clock, and run(), which polls a server and a
 * client (C++ instances, each with its handler) and jumps the clock to the next frame or timer
 * until a condition holds, as tests/support/sim.c does for C instances. Tests never sleep and
 * every run is the same.
 */
#ifndef EFVITCP_CPP_RIG_H
#define EFVITCP_CPP_RIG_H

#include <cstdint>

#include "efvitcp/efvitcp.h"
extern "C" {
#include "harness.h"
}

#define RIG_SERVER_IP "198.18.0.1"
#define RIG_CLIENT_IP "198.18.0.2"

/** A simulated wire with a virtual clock, freed at scope exit (after the instances on it). */
struct RigWire {
    efvitcp_wire *w = nullptr;
    RigWire()
    {
        efvitcp_wire_config wc;
        efvitcp_wire_config_default(&wc);
        wc.latency_ns = 10000;
        if (efvitcp_wire_new(&w, &wc)) w = nullptr;
    }
    ~RigWire() { efvitcp_wire_free(w); }
    uint64_t now() const { return efvitcp_wire_now(w); }
};

/** Points an instance's config at the wire with an address of its own. */
template <class I> void rig_attach(I &inst, RigWire &wire, const char *addr)
{
    inst.config().wire = wire.w;
    inst.config().local_addr = addr;
    inst.config().seed = 7;
}

/**
 * Polls server and client until done() or max_ns of wire time passed; returns done(). Time jumps
 * to the next frame delivery or timer when nothing is due now.
 */
template <class S, class SH, class C, class CH, class Done>
bool rig_run(RigWire &wire, S &srv, SH &sh, C &cli, CH &ch, uint64_t max_ns, Done done)
{
    uint64_t end = wire.now() + max_ns;
    uint32_t same = 0;
    for (;;) {
        srv.poll(sh);
        cli.poll(ch);
        if (done()) return true;
        uint64_t t = efvitcp_wire_next_delivery(wire.w);
        uint64_t ts = srv.nextTimer(), tc = cli.nextTimer();
        if (ts < t) t = ts;
        if (tc < t) t = tc;
        uint64_t now = wire.now();
        if (t <= now && ++same < 1000) continue;
        if (t <= now) t = now + 1000;
        same = 0;
        if (t > end) {
            efvitcp_wire_set_now(wire.w, end);
            srv.poll(sh);
            cli.poll(ch);
            return done();
        }
        efvitcp_wire_set_now(wire.w, t);
    }
}

#endif
