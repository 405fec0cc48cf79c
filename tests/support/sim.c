#include "sim.h"

#include "harness.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "net/neigh.h"
#include "wire/wire_hooks.h"
#ifdef SIM_EFVI_EFCT
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#endif

#ifndef SIM_DEFAULT_LINK
#define SIM_DEFAULT_LINK "mem"
#endif
static const char *sim_server_link = SIM_DEFAULT_LINK, *sim_client_link = SIM_DEFAULT_LINK;

/* "efvi,rxts" for the instance "server" is "efvi:server,rxts": options follow the port name. */
static void sim_link_name(char *out, size_t size, const char *link, const char *who)
{
    const char *opts = strchr(link, ',');
    int kind_len = opts ? (int)(opts - link) : (int)strlen(link);
    snprintf(out, size, "%.*s:%s%s", kind_len, link, who, opts ? opts : "");
}

void sim_set_links(const char *server_link, const char *client_link)
{
    if (server_link) sim_server_link = server_link;
    if (client_link) sim_client_link = client_link;
}

bool sim_links_mem(void)
{
    return strncmp(sim_server_link, "mem", 3) == 0 && strncmp(sim_client_link, "mem", 3) == 0;
}

void sim_default_config(efvitcp_config *cfg, uint64_t seed)
{
    efvitcp_config_default(cfg);
    cfg->seed = seed;
    cfg->max_conns = 16;
    cfg->send_slots = 64;
    cfg->recv_buf_size = 65536;
    cfg->max_time_wait = 16;
    cfg->fast_path = th_fast_path();
}

/*
 * The wire's tap sees each frame before the wire decides where it goes, in the sender's own
 * buffer. A frame to lose gets a destination MAC that no port has (02:00:00:00:00:00), so the
 * wire discards it as unknown. The rewrite lasts for this one transmission only: the engine
 * writes every header afresh each time it (re)sends a buffer.
 */
static void sim_tap(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                    uint64_t now_ns)
{
    sim *s = ctx;
    if (!s->drop || len < 14 || !s->drop(s->drop_ctx, from_port, frame, len, now_ns)) return;
    static const uint8_t nowhere[6] = {0x02, 0, 0, 0, 0, 0};
    memcpy((uint8_t *)frame, nowhere, 6);
    s->dropped++;
}

const char *sim_init(sim *s, const efvitcp_wire_config *wc, const efvitcp_config *scfg,
                     const efvitcp_config *ccfg, uint16_t port)
{
    memset(s, 0, sizeof(*s));
    const char *err = efvitcp_wire_new(&s->wire, wc);
    if (err) return err;
    et_wire_set_tap(s->wire, sim_tap, s);
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
#ifdef SIM_EFVI_EFCT
    /* Builds of the e2e suite for X3: every emulated port the instances open is EFCT. */
    efvi_emu_nic_config ec;
    efvi_emu_nic_config_default(&ec);
    ec.arch = EF_VI_ARCH_EFCT;
    efvi_emu_set_default_config(&ec);
#endif
    char sname[64], cname[64];
    sim_link_name(sname, sizeof(sname), sim_server_link, "server");
    sim_link_name(cname, sizeof(cname), sim_client_link, "client");
    if ((err = efvitcp_server_init(&s->srv, sname, &sc))) return err;
    if ((err = efvitcp_client_init(&s->cli, cname, &cc))) return err;
    if (port && (err = efvitcp_server_listen(s->srv, port))) return err;
    return NULL;
}

void sim_free(sim *s)
{
    efvitcp_client_close(s->cli);
    efvitcp_server_close(s->srv);
    for (uint32_t i = 0; i < s->n_hosts; i++) et_wire_raw_detach(s->wire, s->hosts[i].port);
    efvitcp_wire_free(s->wire);
    memset(s, 0, sizeof(*s));
}

uint64_t sim_now(const sim *s)
{
    return efvitcp_wire_now(s->wire);
}

void sim_set_drop(sim *s, sim_drop_fn fn, void *ctx)
{
    s->drop = fn;
    s->drop_ctx = ctx;
}

bool sim_drop_all(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len,
                  uint64_t now_ns)
{
    return true;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool sim_tcp_frame(const uint8_t *f, uint32_t len, sim_tcp_info *t)
{
    if (len < 14 + 20 || get16(f + 12) != 0x0800 || f[14 + 9] != 6) return false;
    uint32_t ihl = (f[14] & 15u) * 4, tot = get16(f + 16);
    if (ihl < 20 || tot > len - 14 || tot < ihl + 20) return false;
    const uint8_t *tcp = f + 14 + ihl;
    uint32_t doff = (tcp[12] >> 4) * 4u;
    if (doff < 20 || ihl + doff > tot) return false;
    t->sport = get16(tcp);
    t->dport = get16(tcp + 2);
    t->seq = get32(tcp + 4);
    t->ack = get32(tcp + 8);
    t->flags = tcp[13];
    t->len = tot - ihl - doff;
    return true;
}

const char *sim_add_host(sim *s, const char *ip, bool answer_arp, sim_host **out)
{
    if (s->n_hosts == SIM_MAX_HOSTS) return "sim: too many hosts";
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1) return "sim: bad host address";
    sim_host *h = &s->hosts[s->n_hosts];
    memset(h, 0, sizeof(*h));
    char name[32];
    snprintf(name, sizeof(name), "host%u", s->n_hosts);
    const char *err = et_wire_raw_attach(s->wire, name, h->mac, &h->port);
    if (err) return err;
    h->ip = ntohl(a.s_addr);
    h->answer_arp = answer_arp;
    s->n_hosts++;
    if (out) *out = h;
    return NULL;
}

static void host_poll(sim *s, sim_host *h)
{
    uint8_t buf[2048];
    int n;
    while ((n = et_wire_raw_recv(s->wire, h->port, buf, sizeof(buf))) > 0) {
        sim_tcp_info t;
        if (n >= 42 && get16(buf + 12) == 0x0806 && get16(buf + 20) == 1 &&
            get32(buf + 38) == h->ip) {
            h->arp_requests++;
            if (h->answer_arp) {
                uint8_t reply[64];
                uint32_t rl = et_arp_build(reply, 2, h->mac, h->ip, buf + 22, get32(buf + 28));
                et_wire_raw_send(s->wire, h->port, reply, rl);
            }
        } else if (memcmp(buf, h->mac, 6) == 0 && sim_tcp_frame(buf, (uint32_t)n, &t)) {
            h->tcp_frames++;
            if (t.flags & 0x02) h->syns++;
        }
    }
}

void sim_poll(sim *s)
{
    uint64_t now = efvitcp_wire_now(s->wire);
    efvitcp_server_poll_at(s->srv, &s->sh, s->sctx, now);
    efvitcp_client_poll_at(s->cli, &s->ch, s->cctx, now);
    for (uint32_t i = 0; i < s->n_hosts; i++) host_poll(s, &s->hosts[i]);
    if (s->after_poll) s->after_poll(s->after_poll_arg);
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

void sim_run_for(sim *s, uint64_t ns)
{
    sim_run(s, ns, NULL, NULL);
}
