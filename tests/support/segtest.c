#include "segtest.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "net/checksum.h"
#include "net/neigh.h"
#include "wire/wire_hooks.h"

/* One rig at a time: a REQUIRE that leaves a test early must not leak the previous one. */
static sg g_rig;
static bool g_live;

/* ------------------------------------------------------------------------------------------ */
/* Handler                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void log_ev(sg *t, char ev, efvitcp_conn *c)
{
    if (t->ev.log_len + 1 < sizeof(t->ev.log)) {
        t->ev.log[t->ev.log_len++] = ev;
        t->ev.log[t->ev.log_len] = '\0';
    }
    if (c) t->ev.conn = c;
}

static void hook(sg *t, char ev, efvitcp_conn *c)
{
    if (t->hook) t->hook(t, ev, c);
}

static bool h_allow(void *ctx, const struct sockaddr_in *peer, uint16_t local_port)
{
    sg *t = ctx;
    t->ev.allow++;
    log_ev(t, 'A', NULL);
    hook(t, 'A', NULL);
    return t->allow;
}

static void h_established(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.established++;
    t->conn = c;
    log_ev(t, 'E', c);
    hook(t, 'E', c);
}

static uint32_t h_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    sg *t = ctx;
    t->ev.data++;
    t->ev.data_ptr = d;
    t->ev.data_len = n;
    memcpy(t->ev.last, d, n < sizeof(t->ev.last) ? n : sizeof(t->ev.last));
    uint32_t keep = t->keep < n ? t->keep : n;
    uint32_t used = n - keep;
    if (t->ev.stream_len + used <= SG_STREAM_MAX) memcpy(t->ev.stream + t->ev.stream_len, d, used);
    t->ev.stream_len += used;
    log_ev(t, 'D', c);
    hook(t, 'D', c);
    return keep;
}

static void h_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    sg *t = ctx;
    t->ev.fin++;
    t->ev.fin_len = n;
    log_ev(t, 'F', c);
    hook(t, 'F', c);
}

static void h_closed(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.closed++;
    log_ev(t, 'C', c);
    hook(t, 'C', c);
}

static void h_reset(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.reset++;
    log_ev(t, 'R', c);
    hook(t, 'R', c);
}

static void h_timeout(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.timeout++;
    log_ev(t, 'T', c);
    hook(t, 'T', c);
}

static void h_refused(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.refused++;
    log_ev(t, 'X', c);
    hook(t, 'X', c);
}

static void h_more(void *ctx, efvitcp_conn *c)
{
    sg *t = ctx;
    t->ev.more_sendable++;
    log_ev(t, 'M', c);
    hook(t, 'M', c);
}

static void h_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    sg *t = ctx;
    if (t->ev.n_timer < 64) {
        t->ev.timer_id[t->ev.n_timer] = id;
        t->ev.timer_at[t->ev.n_timer] = sg_now(t);
        t->ev.n_timer++;
    }
    t->ev.user_timeout++;
    log_ev(t, 'U', c);
    hook(t, 'U', c);
}

/* ------------------------------------------------------------------------------------------ */
/* Setup                                                                                      */
/* ------------------------------------------------------------------------------------------ */

void sg_config(efvitcp_config *cfg)
{
    efvitcp_config_default(cfg);
    cfg->seed = 42;
    cfg->max_conns = 4;
    cfg->send_slots = 64;
    cfg->recv_buf_size = 16384;
    cfg->max_time_wait = 8;
    cfg->rx_bufs = 64;
    cfg->ctrl_bufs = 16;
    cfg->delayed_ack_us = 0;
    cfg->cc = EFVITCP_CC_NEWRENO;
    cfg->fast_path = th_fast_path();
    /* The scripts pin RFC 6298's timer and RFC 6675's DupThresh rules, and count segments
       against RFC 5681's initial window: RACK-TLP and RFC 6928's window have tests of their
       own (test_seg_rack.c, test_seg_iw.c) that turn them on. */
    cfg->rack = false;
    cfg->initial_window = 0;
}

void sg_cleanup(void)
{
    if (!g_live) return;
    sg *t = &g_rig;
    efvitcp_server_close(t->srv);
    efvitcp_client_close(t->cli);
    efvitcp_wire_free(t->wire);
    free(t->ev.stream);
    free(t->q);
    free(t->dummy);
    memset(t, 0, sizeof(*t));
    g_live = false;
}

static sg *rig_new(const efvitcp_config *cfg_in, bool server)
{
    sg_cleanup();
    sg *t = &g_rig;
    memset(t, 0, sizeof(*t));
    g_live = true;
    t->ev.stream = calloc(1, SG_STREAM_MAX);
    t->q = calloc(SG_QUEUE, sizeof(sg_rx));
    t->dummy = calloc(1, sizeof(sg_rx));
    if (!t->ev.stream || !t->q || !t->dummy) {
        fprintf(stderr, "segtest: out of memory\n");
        exit(2);
    }
    t->last = t->dummy;
    if (cfg_in)
        t->cfg = *cfg_in;
    else
        sg_config(&t->cfg);
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.max_frames = 4096;
    const char *err = efvitcp_wire_new(&t->wire, &wc);
    if (err) {
        fprintf(stderr, "segtest: wire: %s\n", err);
        exit(2);
    }
    /* Start away from 0 so that "0 = never" fields of the engine are never confused with now. */
    efvitcp_wire_set_now(t->wire, SG_SEC);
    efvitcp_config c = t->cfg;
    c.wire = t->wire;
    c.local_addr = SG_STACK_IP "/15";
    if (server)
        err = efvitcp_server_init(&t->srv, "mem:stack", &c);
    else
        err = efvitcp_client_init(&t->cli, "mem:stack", &c);
    if (err) {
        fprintf(stderr, "segtest: init: %s\n", err);
        exit(2);
    }
    t->st = server ? &t->srv->st : &t->cli->st;
    memcpy(t->stack_mac, t->st->link->mac, 6);
    if ((err = et_wire_raw_attach(t->wire, "peer", t->peer_mac, &t->raw))) {
        fprintf(stderr, "segtest: raw attach: %s\n", err);
        exit(2);
    }
    t->h = (efvitcp_handler){
        .on_connection_refused = h_refused,
        .allow_new_connection = h_allow,
        .on_established = h_established,
        .on_data = h_data,
        .on_fin = h_fin,
        .on_closed = h_closed,
        .on_reset = h_reset,
        .on_timeout = h_timeout,
        .on_more_sendable = h_more,
        .on_user_timeout = h_user_timeout,
    };
    t->arp_auto = true;
    t->allow = true;
    t->win = 65535;
    t->ts = SG_PEER_TS;
    t->pis = SG_PEER_ISS;
    if (server) {
        t->sport = SG_LISTEN_PORT;
        t->pport = SG_PEER_PORT;
        if ((err = efvitcp_server_listen(t->srv, SG_LISTEN_PORT))) {
            fprintf(stderr, "segtest: listen: %s\n", err);
            exit(2);
        }
    } else {
        t->sport = SG_CLIENT_PORT;
        t->pport = SG_REMOTE_PORT;
    }
    return t;
}

sg *sg_server(const efvitcp_config *cfg)
{
    return rig_new(cfg, true);
}

sg *sg_client_no_arp(const efvitcp_config *cfg)
{
    return rig_new(cfg, false);
}

static void send_arp(sg *t, uint16_t oper)
{
    uint8_t f[64];
    uint32_t n = et_arp_build(f, oper, t->peer_mac, SG_PEER_IP_H, t->stack_mac, SG_STACK_IP_H);
    sg_send_frame(t, f, n);
}

sg *sg_client(const efvitcp_config *cfg)
{
    sg *t = rig_new(cfg, false);
    /* An ARP request addressed to the stack creates its neighbour entry (RFC 826 merge), so
       connect can send the SYN at once. */
    send_arp(t, 1);
    t->arp_replies = 0;
    return t;
}

/* ------------------------------------------------------------------------------------------ */
/* Building segments                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void sg_fill(uint8_t *buf, uint32_t off, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) buf[i] = sg_pat(off + i);
}

sg_opts sg_syn_opts(const sg *t)
{
    sg_opts o = {0};
    o.has_mss = true;
    o.mss = SG_PEER_MSS;
    o.has_ws = true;
    o.ws = 0;
    o.sack_perm = true;
    o.has_ts = true;
    o.tsval = t->ts;
    o.tsecr = 0;
    return o;
}

sg_opts sg_def_opts(const sg *t)
{
    sg_opts o = {0};
    if (t->ts_on) {
        o.has_ts = true;
        o.tsval = t->ts;
        o.tsecr = t->ts_ecr;
    }
    return o;
}

static uint32_t build_opts(uint8_t *p, const sg_opts *o)
{
    uint32_t n = 0;
    if (!o) return 0;
    if (o->has_mss) {
        p[n] = ET_TCPOPT_MSS;
        p[n + 1] = 4;
        wr16(p + n + 2, o->mss);
        n += 4;
    }
    if (o->has_ws) {
        p[n] = ET_TCPOPT_NOP;
        p[n + 1] = ET_TCPOPT_WS;
        p[n + 2] = 3;
        p[n + 3] = o->ws;
        n += 4;
    }
    if (o->sack_perm) {
        p[n] = ET_TCPOPT_NOP;
        p[n + 1] = ET_TCPOPT_NOP;
        p[n + 2] = ET_TCPOPT_SACK_PERM;
        p[n + 3] = 2;
        n += 4;
    }
    if (o->has_ts) {
        p[n] = ET_TCPOPT_NOP;
        p[n + 1] = ET_TCPOPT_NOP;
        p[n + 2] = ET_TCPOPT_TS;
        p[n + 3] = 10;
        wr32(p + n + 4, o->tsval);
        wr32(p + n + 8, o->tsecr);
        n += 12;
    }
    if (o->n_sack) {
        p[n] = ET_TCPOPT_NOP;
        p[n + 1] = ET_TCPOPT_NOP;
        p[n + 2] = ET_TCPOPT_SACK;
        p[n + 3] = (uint8_t)(2 + 8 * o->n_sack);
        n += 4;
        for (uint32_t b = 0; b < o->n_sack; b++, n += 8) {
            wr32(p + n, o->sack[b].start);
            wr32(p + n + 4, o->sack[b].end);
        }
    }
    uint32_t raw = o->raw_len;
    if (n + raw > ET_TCP_MAX_OPTLEN) raw = ET_TCP_MAX_OPTLEN - n;
    memcpy(p + n, o->raw, raw);
    n += raw;
    while (n & 3) p[n++] = ET_TCPOPT_EOL;
    return n;
}

uint32_t sg_build(sg *t, uint8_t *f, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                  const void *data, uint32_t len, const sg_opts *o)
{
    uint8_t opt[64]; /* room for a test that overfills the 40 bytes on purpose */
    uint32_t optlen = build_opts(opt, o);
    uint32_t max = 2048 - ET_ETH_HLEN - ET_IP_HLEN - ET_TCP_HLEN - optlen;
    if (len > max) len = max;
    memcpy(f, t->stack_mac, 6);
    memcpy(f + 6, t->peer_mac, 6);
    wr16(f + 12, ET_ETHERTYPE_IP);
    uint8_t *ip = f + ET_ETH_HLEN;
    uint32_t tcp_len = ET_TCP_HLEN + optlen + len;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)(ET_IP_HLEN + tcp_len));
    wr16(ip + 4, 0);
    wr16(ip + 6, ET_IP_DF);
    ip[8] = 64;
    ip[9] = ET_IPPROTO_TCP;
    wr16(ip + 10, 0);
    wr32(ip + 12, SG_PEER_IP_H);
    wr32(ip + 16, SG_STACK_IP_H);
    uint16_t c = et_csum_finish(et_csum_add(0, ip, ET_IP_HLEN));
    memcpy(ip + 10, &c, 2);
    uint8_t *tcp = ip + ET_IP_HLEN;
    wr16(tcp, t->pport);
    wr16(tcp + 2, t->sport);
    wr32(tcp + 4, seq);
    wr32(tcp + 8, ack);
    tcp[12] = (uint8_t)(((ET_TCP_HLEN + optlen) / 4) << 4);
    tcp[13] = flags;
    wr16(tcp + 14, win);
    wr16(tcp + 16, 0);
    wr16(tcp + 18, 0);
    memcpy(tcp + ET_TCP_HLEN, opt, optlen);
    uint8_t *pl = tcp + ET_TCP_HLEN + optlen;
    if (data)
        memcpy(pl, data, len);
    else
        sg_fill(pl, seq - (t->pis + 1), len); /* stream offset of this sequence number */
    uint32_t sn, dn;
    memcpy(&sn, ip + 12, 4);
    memcpy(&dn, ip + 16, 4);
    uint64_t sum = et_csum_pseudo(sn, dn, ET_IPPROTO_TCP, (uint16_t)tcp_len);
    c = et_csum_finish(et_csum_add(sum, tcp, tcp_len));
    memcpy(tcp + 16, &c, 2);
    return ET_ETH_HLEN + ET_IP_HLEN + tcp_len;
}

void sg_send_frame(sg *t, const uint8_t *frame, uint32_t len)
{
    if (et_wire_raw_send(t->wire, t->raw, frame, len) != 0) {
        fprintf(stderr, "segtest: raw send failed\n");
        th_failures++;
    }
    sg_pump(t);
}

void sg_send_o(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
               uint32_t len, const sg_opts *o)
{
    uint8_t f[2048];
    uint32_t n = sg_build(t, f, flags, seq, ack, win, data, len, o);
    sg_send_frame(t, f, n);
}

void sg_send_w(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
               uint32_t len)
{
    sg_opts o = sg_def_opts(t);
    sg_send_o(t, flags, seq, ack, win, data, len, &o);
}

void sg_send(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, uint32_t len)
{
    sg_send_w(t, flags, seq, ack, t->win, data, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Receiving                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void poll_stack(sg *t)
{
    uint64_t now = efvitcp_wire_now(t->wire);
    if (t->srv)
        efvitcp_server_poll_at(t->srv, &t->h, t, now);
    else if (t->cli)
        efvitcp_client_poll_at(t->cli, &t->h, t, now); /* neither: a test closed the instance */
}

/* Takes every frame due at the peer; returns how many ARP frames asked for an answer. */
static int drain(sg *t)
{
    uint8_t f[4096];
    int answered = 0;
    for (;;) {
        int n = et_wire_raw_recv(t->wire, t->raw, f, sizeof(f));
        if (n <= 0) break;
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why = EFVITCP_DROP_RUNT;
        switch (et_parse_frame(f, (uint32_t)n, t->peer_mac, SG_PEER_IP_H, 0, &seg, &arp, &why)) {
        case ET_FRAME_TCP: {
            if (t->q_len == SG_QUEUE) {
                fprintf(stderr, "segtest: more than %d segments not looked at\n", SG_QUEUE);
                th_failures++;
                break;
            }
            sg_rx *r = &t->q[(t->q_head + t->q_len++) % SG_QUEUE];
            memset(r, 0, sizeof(*r));
            r->at_ns = efvitcp_wire_now(t->wire);
            r->flags = seg.flags;
            r->seq = seg.seq;
            r->ack = seg.ack;
            r->win = seg.window;
            r->sport = seg.sport;
            r->dport = seg.dport;
            r->opt = seg.opt;
            r->len = seg.len < sizeof(r->data) ? seg.len : sizeof(r->data);
            memcpy(r->data, seg.payload, r->len);
            if (seg.opt.has_ts) t->ts_ecr = seg.opt.tsval;
            break;
        }
        case ET_FRAME_ARP:
            t->arp_last = arp;
            if (arp.oper == 1) {
                t->arp_requests++;
                if (t->arp_auto && arp.tpa == SG_PEER_IP_H) {
                    uint8_t a[64];
                    uint32_t len = et_arp_build(a, 2, t->peer_mac, SG_PEER_IP_H, arp.sha, arp.spa);
                    et_wire_raw_send(t->wire, t->raw, a, len);
                    answered++;
                }
            } else {
                t->arp_replies++;
            }
            break;
        default:
            fprintf(stderr, "segtest: the stack emitted a frame the peer rejects (%s)\n",
                    efvitcp_drop_reason_name(why));
            th_failures++;
            break;
        }
    }
    return answered;
}

void sg_pump(sg *t)
{
    /* ARP answers go back at once; a handful of rounds settles any exchange. */
    for (int i = 0; i < 8; i++) {
        poll_stack(t);
        if (!drain(t)) break;
    }
}

uint32_t sg_pending(sg *t)
{
    sg_pump(t);
    return t->q_len;
}

sg_rx *sg_take(sg *t)
{
    sg_pump(t);
    if (!t->q_len) return NULL;
    sg_rx *r = &t->q[t->q_head];
    t->q_head = (t->q_head + 1) % SG_QUEUE;
    t->q_len--;
    return r;
}

void sg_flush(sg *t)
{
    sg_pump(t);
    t->q_head = t->q_len = 0;
}

static void flags_str(uint8_t f, char *out)
{
    static const char names[] = "FSRPAU";
    int n = 0;
    for (int i = 0; i < 6; i++)
        if (f & (1u << i)) out[n++] = names[i];
    if (f & 0xc0) out[n++] = '+';
    if (!n) out[n++] = '-';
    out[n] = '\0';
}

static void describe(const sg *t, const sg_rx *r, char *buf, size_t cap)
{
    char fl[10];
    flags_str(r->flags, fl);
    int n =
        snprintf(buf, cap, "[%s] seq=%u (S+%d) ack=%u (P+%d) win=%u len=%u", fl, r->seq,
                 (int32_t)(r->seq - t->sis), r->ack, (int32_t)(r->ack - t->pis), r->win, r->len);
    if (n < 0 || (size_t)n >= cap) return;
    if (r->opt.has_mss) n += snprintf(buf + n, cap - (size_t)n, " mss=%u", r->opt.mss);
    if ((size_t)n >= cap) return;
    if (r->opt.has_ws) n += snprintf(buf + n, cap - (size_t)n, " ws=%u", r->opt.ws);
    if ((size_t)n >= cap) return;
    if (r->opt.sack_perm) n += snprintf(buf + n, cap - (size_t)n, " sackOK");
    if ((size_t)n >= cap) return;
    if (r->opt.has_ts)
        n += snprintf(buf + n, cap - (size_t)n, " ts=%u/%u", r->opt.tsval, r->opt.tsecr);
    for (uint32_t b = 0; b < r->opt.n_sack && (size_t)n < cap; b++)
        n += snprintf(buf + n, cap - (size_t)n, " sack=P+%d..P+%d",
                      (int32_t)(r->opt.sack[b].start - t->pis),
                      (int32_t)(r->opt.sack[b].end - t->pis));
}

static void describe_want(const sg *t, uint8_t flags, uint64_t seq, uint64_t ack, int64_t win,
                          int64_t len, char *buf, size_t cap)
{
    char fl[10], s[40], a[40], w[24] = "", l[24] = "";
    flags_str(flags, fl);
    if (seq == SG_ANY)
        snprintf(s, sizeof(s), "*");
    else
        snprintf(s, sizeof(s), "%u (S+%d)", (uint32_t)seq, (int32_t)((uint32_t)seq - t->sis));
    if (ack == SG_ANY)
        snprintf(a, sizeof(a), "*");
    else
        snprintf(a, sizeof(a), "%u (P+%d)", (uint32_t)ack, (int32_t)((uint32_t)ack - t->pis));
    if (win >= 0) snprintf(w, sizeof(w), " win=%u", (uint32_t)win);
    if (len >= 0) snprintf(l, sizeof(l), " len=%u", (uint32_t)len);
    snprintf(buf, cap, "[%s] seq=%s ack=%s%s%s", fl, s, a, w, l);
}

static sg_rx *expect_common(sg *t, const char *file, int line, uint8_t flags, uint64_t seq,
                            uint64_t ack, int64_t win, int64_t len)
{
    char want[160], got[400];
    sg_rx *r = sg_take(t);
    t->last = t->dummy;
    memset(t->dummy, 0, sizeof(*t->dummy));
    describe_want(t, flags, seq, ack, win, len, want, sizeof(want));
    if (!r) {
        fprintf(stderr, "%s:%d: expected %s\n%*sgot nothing (t=%" PRIu64 " ns)\n", file, line, want,
                (int)strlen(file) + 8, "", sg_now(t));
        th_failures++;
        return NULL;
    }
    bool ok = r->flags == flags && (seq == SG_ANY || r->seq == (uint32_t)seq) &&
              (ack == SG_ANY || r->ack == (uint32_t)ack) && (win < 0 || r->win == win) &&
              (len < 0 || r->len == len);
    if (!ok) {
        describe(t, r, got, sizeof(got));
        fprintf(stderr, "%s:%d: expected %s\n%*sgot      %s (t=%" PRIu64 " ns)\n", file, line, want,
                (int)strlen(file) + 8, "", got, r->at_ns);
        th_failures++;
        return NULL;
    }
    t->last = r;
    return r;
}

sg_rx *sg_expect_(sg *t, const char *file, int line, uint8_t flags, uint64_t seq, uint64_t ack)
{
    return expect_common(t, file, line, flags, seq, ack, -1, -1);
}

sg_rx *sg_expect_wl_(sg *t, const char *file, int line, uint8_t flags, uint64_t seq, uint64_t ack,
                     uint32_t win, uint32_t len)
{
    return expect_common(t, file, line, flags, seq, ack, win, len);
}

bool sg_expect_nothing_(sg *t, const char *file, int line)
{
    sg_rx *r = sg_take(t);
    if (!r) return true;
    char got[200];
    describe(t, r, got, sizeof(got));
    fprintf(stderr, "%s:%d: expected nothing, got %s (t=%" PRIu64 " ns)\n", file, line, got,
            r->at_ns);
    th_failures++;
    return false;
}

bool sg_payload_is_pat_(sg *t, const char *file, int line, uint32_t off)
{
    for (uint32_t i = 0; i < t->last->len; i++) {
        if (t->last->data[i] != sg_pat(off + i)) {
            fprintf(stderr, "%s:%d: payload byte %u is 0x%02x, want 0x%02x (offset %u)\n", file,
                    line, i, t->last->data[i], sg_pat(off + i), off + i);
            th_failures++;
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Time                                                                                       */
/* ------------------------------------------------------------------------------------------ */

uint64_t sg_now(const sg *t)
{
    return efvitcp_wire_now(t->wire);
}

static uint64_t next_timer(sg *t)
{
    return t->srv ? efvitcp_server_next_timer(t->srv) : efvitcp_client_next_timer(t->cli);
}

/* Steps to `when` through every timer expiry; stops early once output is queued if asked. */
static void step_to(sg *t, uint64_t when, bool stop_on_output)
{
    int same = 0;
    for (;;) {
        sg_pump(t);
        if (stop_on_output && t->q_len) return;
        uint64_t now = sg_now(t), nt = next_timer(t);
        if (nt > when) break;
        if (nt <= now) {
            /* Due now (armed inside the last poll): the next poll runs it. */
            if (++same < 64) continue;
            nt = now + 1024;
            if (nt > when) break;
        }
        same = 0;
        efvitcp_wire_set_now(t->wire, nt);
    }
    efvitcp_wire_set_now(t->wire, when);
    sg_pump(t);
}

void sg_advance_to(sg *t, uint64_t when)
{
    step_to(t, when, false);
}

void sg_advance(sg *t, uint64_t ns)
{
    step_to(t, sg_now(t) + ns, false);
}

uint64_t sg_run_until_output(sg *t, uint64_t ns)
{
    step_to(t, sg_now(t) + ns, true);
    return t->q_len ? t->q[t->q_head].at_ns : UINT64_MAX;
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct find_arg {
    uint16_t pport;
    efvitcp_conn *found;
} find_arg;

static void conn_seen(void *arg, efvitcp_conn *c)
{
    find_arg *a = arg;
    struct sockaddr_in peer;
    efvitcp_peername(c, &peer);
    if (ntohs(peer.sin_port) == a->pport) a->found = c;
}

efvitcp_conn *sg_find_conn(sg *t)
{
    find_arg a = {t->pport, NULL};
    if (t->srv)
        efvitcp_server_foreach(t->srv, conn_seen, &a);
    else
        efvitcp_client_foreach(t->cli, conn_seen, &a);
    return a.found;
}

/* Takes what the stack's SYN or SYN-ACK says about the connection. */
static void learn_syn(sg *t, const sg_rx *r)
{
    t->syn = *r;
    t->sis = r->seq;
    t->stack_ws = r->opt.has_ws ? r->opt.ws : 0;
}

bool sg_syn_received(sg *t, const sg_opts *o)
{
    sg_opts def = sg_syn_opts(t);
    if (!o) o = &def;
    sg_send_o(t, TH_SYN, P(0), 0, t->win, NULL, 0, o);
    sg_rx *r = sg_expect(t, TH_SYN | TH_ACK, SG_ANY, P(1));
    if (!r) return false;
    learn_syn(t, r);
    t->ts_on = o->has_ts && r->opt.has_ts;
    t->conn = sg_find_conn(t);
    if (!t->conn || sg_state(t) != EFVITCP_SYN_RECEIVED) {
        fprintf(stderr, "segtest: no connection in SYN_RECEIVED after the SYN-ACK\n");
        th_failures++;
        return false;
    }
    return true;
}

bool sg_established(sg *t)
{
    return sg_established_after(t, 0);
}

bool sg_established_after(sg *t, uint64_t rtt_ns)
{
    if (!sg_syn_received(t, NULL)) return false;
    if (rtt_ns) sg_advance(t, rtt_ns);
    int before = t->ev.established;
    sg_send(t, TH_ACK, P(1), S(1), NULL, 0);
    if (t->ev.established != before + 1 || sg_state(t) != EFVITCP_ESTABLISHED) {
        fprintf(stderr, "segtest: handshake did not establish (state %s)\n",
                efvitcp_state_name(sg_state(t)));
        th_failures++;
        return false;
    }
    return sg_expect_nothing(t);
}

bool sg_syn_sent(sg *t)
{
    const char *err =
        efvitcp_client_connect(t->cli, SG_PEER_IP, SG_REMOTE_PORT, SG_CLIENT_PORT, &t->conn);
    if (err) {
        fprintf(stderr, "segtest: connect: %s\n", err);
        th_failures++;
        return false;
    }
    sg_rx *r = sg_expect(t, TH_SYN, SG_ANY, 0);
    if (!r) return false;
    learn_syn(t, r);
    return sg_state(t) == EFVITCP_SYN_SENT;
}

bool sg_established_active(sg *t, const sg_opts *o)
{
    if (!sg_syn_sent(t)) return false;
    sg_opts def = sg_syn_opts(t);
    if (!o) o = &def;
    sg_opts so = *o;
    if (so.has_ts) so.tsecr = t->syn.opt.tsval;
    t->ts_on = so.has_ts && t->syn.opt.has_ts;
    sg_send_o(t, TH_SYN | TH_ACK, P(0), S(1), t->win, NULL, 0, &so);
    if (!sg_expect(t, TH_ACK, S(1), P(1))) return false;
    if (t->ev.established != 1 || sg_state(t) != EFVITCP_ESTABLISHED) {
        fprintf(stderr, "segtest: active open did not establish\n");
        th_failures++;
        return false;
    }
    return true;
}

bool sg_fin_wait_1(sg *t)
{
    const char *err = efvitcp_send_fin(t->conn);
    if (err) {
        fprintf(stderr, "segtest: send_fin: %s\n", err);
        th_failures++;
        return false;
    }
    if (!sg_expect(t, TH_FIN | TH_ACK, S(1), P(1))) return false;
    return sg_state(t) == EFVITCP_FIN_WAIT_1;
}

bool sg_fin_wait_2(sg *t)
{
    if (!sg_fin_wait_1(t)) return false;
    sg_send(t, TH_ACK, P(1), S(2), NULL, 0);
    if (!sg_expect_nothing(t)) return false;
    return sg_state(t) == EFVITCP_FIN_WAIT_2;
}

bool sg_close_wait(sg *t)
{
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    if (!sg_expect(t, TH_ACK, S(1), P(2))) return false;
    return t->ev.fin == 1 && sg_state(t) == EFVITCP_CLOSE_WAIT;
}

bool sg_last_ack(sg *t)
{
    if (!sg_close_wait(t)) return false;
    if (efvitcp_send_fin(t->conn)) return false;
    if (!sg_expect(t, TH_FIN | TH_ACK, S(1), P(2))) return false;
    return sg_state(t) == EFVITCP_LAST_ACK;
}

bool sg_closing(sg *t)
{
    if (!sg_fin_wait_1(t)) return false;
    sg_send(t, TH_FIN | TH_ACK, P(1), S(1), NULL, 0);
    if (!sg_expect(t, TH_ACK, S(2), P(2))) return false;
    return sg_state(t) == EFVITCP_CLOSING;
}

bool sg_time_wait(sg *t)
{
    if (!sg_fin_wait_2(t)) return false;
    sg_send(t, TH_FIN | TH_ACK, P(1), S(2), NULL, 0);
    if (!sg_expect(t, TH_ACK, S(2), P(2))) return false;
    efvitcp_stats st;
    sg_stats(t, &st);
    return t->ev.closed == 1 && st.time_wait_active == 1 && st.conns_active == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Inspection                                                                                 */
/* ------------------------------------------------------------------------------------------ */

efvitcp_state sg_state(sg *t)
{
    if (!t->conn || efvitcp_is_closed(t->conn)) return EFVITCP_CLOSED;
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(t->conn, &cs);
    return cs.state;
}

void sg_stats(sg *t, efvitcp_stats *st)
{
    if (t->srv)
        efvitcp_server_stats(t->srv, st);
    else
        efvitcp_client_stats(t->cli, st);
}

void sg_conn_stats(sg *t, efvitcp_conn_stats *cs)
{
    if (t->conn)
        efvitcp_conn_get_stats(t->conn, cs);
    else
        memset(cs, 0, sizeof(*cs));
}

bool sg_stream_is_pat(const sg *t, uint32_t len)
{
    if (t->ev.stream_len != len) {
        fprintf(stderr, "segtest: stream has %u bytes, want %u\n", t->ev.stream_len, len);
        return false;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (t->ev.stream[i] != sg_pat(i)) {
            fprintf(stderr, "segtest: stream byte %u is 0x%02x, want 0x%02x\n", i, t->ev.stream[i],
                    sg_pat(i));
            return false;
        }
    }
    return true;
}
