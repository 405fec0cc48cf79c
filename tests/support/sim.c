#include "sim.h"

#include <stdio.h>
#include <stdint.h>
#include <string.h>

void sim_default_config(efvitcp_config *cfg, uint64_t seed)
{
    efvitcp_config_default(cfg);
    cfg->seed = seed;
    cfg->max_conns = 16;
    cfg->send_slots = 64;
    cfg->recv_buf_size = 65536;
    cfg->max_time_wait = 16;
}

const char *sim_init(sim *s, const efvitcp_wire_config *wc, const efvitcp_config *scfg,
                     const efvitcp_config *ccfg, uint16_t port)
{
    memset(s, 0, sizeof(*s));
    const char *err = efvitcp_wire_new(&s->wire, wc);
    if (err) return err;
    efvitcp_config sc, cc;
    if (scfg)
        sc = *scfg;
    else
        sim_default_config(&sc, 1);
    if (ccfg)
        cc = *ccfg;
    else
        sim_default_config(&cc, 2);
    sc.wire = s->wire;
    sc.local_addr = SIM_SERVER_IP "/15";
    cc.wire = s->wire;
    cc.local_addr = SIM_CLIENT_IP "/15";
    if ((err = efvitcp_server_init(&s->srv, "mem:server", &sc))) return err;
    if ((err = efvitcp_client_init(&s->cli, "mem:client", &cc))) return err;
    if (port && (err = efvitcp_server_listen(s->srv, port))) return err;
    return NULL;
}

void sim_free(sim *s)
{
    efvitcp_client_close(s->cli);
    efvitcp_server_close(s->srv);
    efvitcp_wire_free(s->wire);
    memset(s, 0, sizeof(*s));
}

uint64_t sim_now(const sim *s) { return efvitcp_wire_now(s->wire); }

void sim_poll(sim *s)
{
    uint64_t now = efvitcp_wire_now(s->wire);
    efvitcp_server_poll_at(s->srv, &s->sh, s->sctx, now);
    efvitcp_client_poll_at(s->cli, &s->ch, s->cctx, now);
    s->steps++;
}

/* The next instant anything can happen. */
static uint64_t next_event(sim *s)
{
    uint64_t t = efvitcp_wire_next_delivery(s->wire);
    uint64_t a = efvitcp_server_next_timer(s->srv), b = efvitcp_client_next_timer(s->cli);
    if (a < t) t = a;
    if (b < t) t = b;
    return t;
}

bool sim_run(sim *s, uint64_t max_ns, bool (*done)(void *arg), void *arg)
{
    uint64_t end = efvitcp_wire_now(s->wire) + max_ns;
    uint32_t same = 0;
    for (;;) {
        sim_poll(s);
        if (done && done(arg)) return true;
        uint64_t t = next_event(s);
        uint64_t now = efvitcp_wire_now(s->wire);
        if (t <= now && ++same < 1000) continue; /* frames or timers due now: poll again */
        if (t <= now) t = now + 1000; /* something stays due without progress: let time move */
        same = 0;
        if (t > end) {
            efvitcp_wire_set_now(s->wire, end);
            sim_poll(s);
            return done ? done(arg) : false;
        }
        efvitcp_wire_set_now(s->wire, t);
    }
}

void sim_run_for(sim *s, uint64_t ns) { sim_run(s, ns, NULL, NULL); }
