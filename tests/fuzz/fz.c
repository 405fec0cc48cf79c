#include "fz.h"
#include "fz_read.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/instance.h"
#include "check.h"
#include "efvitcp/efvitcp.h"
#include "net/checksum.h"
#include "net/headers.h"
#include "net/neigh.h"
#include "net/parse.h"
#include "tcp/stat_format.h"
#include "wire/wire_hooks.h"

#ifdef FZ_EFVI
/* fuzz_efvi: the stack on the efvi link over an emulated X2 or X3 port (tests/efvi_emu), with
   the NIC's faults (event queue overflows, resets, TX errors, discards, starved rings) at
   moments the program chooses, and every misuse of the ef_vi API fatal (strict mode). */
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#define IFACE "efvi:stack"
#else
#define IFACE "mem:stack"
#endif

#define STACK_IP   "198.18.0.1"
#define PEER_IP    "198.18.0.2"
#define STACK_IP_H 0xc6120001u
#define PEER_IP_H  0xc6120002u
#define CLI_IP     "198.18.0.3" /* fuzz_pair: the client instance */
#define CLI_IP_H   0xc6120003u
#define FZ_FLOWS   4
#define FZ_IDS     64 /* per-connection tracking by efvitcp_conn_id (max_conns is at most 4) */
#define FRAME_MAX  2048
#define START_NS   1000000000ull
#define SPIN_MAX   64 /* polls at one instant, with time due and not moving: a livelock */
#ifdef FZ_EFVI
#define DEFER_SPIN                                                                                 \
    2 /* polls at one instant with output deferred before time moves (advance_to)                  \
       */
#else
#define DEFER_SPIN 40
#endif
#define ROUNDS_MAX 256 /* peer-stack exchanges at one instant: a ping-pong */
/* fuzz_pair: polls of both stacks at one instant while frames keep flowing between them. Data
   moves at one instant on a wire without latency, so the bound is above any transfer the
   program can make (PAIR_SEND_MAX); an exchange of ACKs without end passes it. */
#define PAIR_ROUNDS_MAX 20000
#define PAIR_SEND_MAX   (1u << 20)
#define POLL_BUDGET     20000 /* polls per input: beyond it the rest of the input is skipped */
#define REARM_MAX       32    /* user timers re-armed from on_user_timeout, per input */
/* Sends from callbacks, per input: an application that refills on every on_more_sendable over
   a wire without latency, with a peer that ACKs at once, is an endless exchange at one instant
   by design, not a livelock of the stack. */
#define CB_SEND_MAX 64

/* Every byte of either stream is its sequence number mod 251 (a prime, so no power-of-two
   segmentation lines up with it): a byte lost, doubled or moved breaks the chain. */
#define PAT(s) ((uint8_t)((uint32_t)(s) % 251u))

/* ------------------------------------------------------------------------------------------ */
/* The rig                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* One peer as it sees its connection to the stack. */
typedef struct flow {
    uint16_t pport, sport;
    uint32_t p_iss, p_nxt, p_ts;
    uint32_t stk_max;   /* highest sequence end the stack sent, the peer's default ACK */
    uint32_t stk_tsval; /* the stack's last TSval, echoed */
    bool ts;            /* the stack's last segment carried a timestamp: send them by default */
    uint32_t adv_edge;  /* the right edge of the stack's receive window, as last announced */
    const et_conn *adv_conn; /* ... by this connection (slot and generation) */
    uint32_t adv_gen;
    bool adv_known;
    bool seen; /* the stack has sent on this flow */
    /* fuzz_pair: the client instance's end, as the tap saw it (p_nxt and p_ts above are set
       from it too, so that op_segment spoofs the client towards the server) */
    uint32_t c_max, c_tsval;
    bool c_ts;
} flow;

/* What the harness knows of one connection's streams. */
typedef struct track {
    int last;      /* the last byte consumed: the next presentation follows it; -1 unknown */
    uint32_t sent; /* stream bytes accepted by send */
} track;

typedef struct rig {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    et_stack *st;
    /* fuzz_pair: a client instance beside the server, connected over the wire */
    efvitcp_client *cli2;
    et_stack *st2;
    uint8_t cli_mac[6];
    uint32_t pair_sent;
    efvitcp_config cfg;
    efvitcp_handler h;
    int raw;
    uint8_t peer_mac[6], stack_mac[6];
    flow fl[FZ_FLOWS];
    track tr[FZ_IDS];
    bool arp_auto, auto_ack;
    /* callback behaviour (opcode 13) */
    uint8_t keep_mode, act;
    uint16_t act_arg;
    uint8_t knobs; /* the role byte's (config) */
    uint32_t rearms;
    uint32_t cb_sends;
    uint32_t polls;
    bool stop; /* the poll budget ran out */
} rig;

static rig R;

/* FZ_TRACE=1 in the environment prints every step, the states after it and every segment
   (debugging a finding with the replay driver). */
static bool trace_on(void)
{
    static int on = -1;
    if (on < 0) on = getenv("FZ_TRACE") != NULL;
    return on;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check(void)
{
    char buf[512];
    const char *e = et_stack_check_detail(R.st, false, buf, sizeof(buf));
    if (e) fail("invariant broken", e);
    if (R.st2 && (e = et_stack_check_detail(R.st2, false, buf, sizeof(buf))))
        fail("invariant broken (client instance)", e);
}

static track *track_of(const efvitcp_conn *c)
{
    /* The client instance of fuzz_pair has its own ids: the upper half. */
    uint32_t id = efvitcp_conn_id(c) + (c->st == R.st2 ? FZ_IDS / 2 : 0);
    if (id >= FZ_IDS) fail("connection id out of range", NULL);
    return &R.tr[id];
}

/* PAT laid out once: pat_from(seq)[i] == PAT(seq + i) while seq + i does not wrap and
   i < PAT_RUN, so that filling and checking a stream are a memcpy and a memcmp per run instead
   of a division per byte (the rig's own cost, per input). */
#define PAT_RUN 65536u
static uint8_t pat_tbl[251 + PAT_RUN];

static const uint8_t *pat_from(uint32_t seq)
{
    if (!pat_tbl[1])
        for (uint32_t i = 0; i < sizeof(pat_tbl); i++) pat_tbl[i] = PAT(i);
    return pat_tbl + seq % 251u;
}

/* How many bytes from seq one table run covers: at most len and PAT_RUN, and none past the
   wrap of the sequence space (2^32 is no multiple of 251: the pattern restarts at 0 there). */
static uint32_t pat_run(uint32_t seq, uint32_t len)
{
    uint32_t n = len < PAT_RUN ? len : PAT_RUN, to_wrap = 0u - seq; /* 0: 2^32 away */
    return to_wrap && n > to_wrap ? to_wrap : n;
}

/* The stream pattern from sequence number seq. */
static void fill(uint8_t *b, uint32_t seq, uint32_t len)
{
    while (len) {
        uint32_t n = pat_run(seq, len);
        memcpy(b, pat_from(seq), n);
        b += n;
        seq += n;
        len -= n;
    }
}

/* Whether b holds the stream pattern from sequence number seq. */
static bool is_pat(const uint8_t *b, uint32_t seq, uint32_t len)
{
    while (len) {
        uint32_t n = pat_run(seq, len);
        if (memcmp(b, pat_from(seq), n) != 0) return false;
        b += n;
        seq += n;
        len -= n;
    }
    return true;
}

/* Whether byte b may follow byte a in a stream: the next value mod 251, or 0 after the byte of
   sequence number 2^32 - 1 (2^32 is no multiple of 251, so the stream wraps there). */
static bool follows(uint8_t a, uint8_t b)
{
    return b == PAT(a + 1u) || (a == PAT(UINT32_MAX) && b == 0);
}

/* Bytes presented to the user (on_data, on_fin, efvitcp_unread) must continue the stream. */
static void check_presented(track *t, const uint8_t *d, uint32_t n, const char *where)
{
    if (!n) return;
    if (t->last >= 0 && !follows((uint8_t)t->last, d[0])) fail("stream: wrong first byte", where);
    /* Bytes that continue their first one without a wrap follow each other: one memcmp (the
       loop below decides everything else, a wrap of the sequence space included). */
    if (d[0] < 251 && n <= PAT_RUN && memcmp(d, pat_from(d[0]), n) == 0) return;
    for (uint32_t i = 1; i < n; i++)
        if (!follows(d[i - 1], d[i])) fail("stream: bytes out of order", where);
}

/* ------------------------------------------------------------------------------------------ */
/* Callbacks                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static uint32_t do_send(efvitcp_conn *c, uint32_t len, bool more)
{
    static uint8_t buf[65536];
    track *t = track_of(c);
    if (len > sizeof(buf)) len = sizeof(buf);
    if (R.st2) { /* fuzz_pair: every byte may cross at one instant; keep that bounded */
        if (R.pair_sent >= PAIR_SEND_MAX) return 0;
        if (len > PAIR_SEND_MAX - R.pair_sent) len = PAIR_SEND_MAX - R.pair_sent;
    }
    fill(buf, c->iss + 1 + t->sent, len);
    uint32_t n = efvitcp_send(c, buf, len, more);
    if (n > len) fail("send accepted more than offered", NULL);
    t->sent += n;
    R.pair_sent += n;
    return n;
}

/* Acts inside a callback as opcode 13 asked; false if the connection was closed. */
static bool cb_send_ok(void)
{
    return R.cb_sends < CB_SEND_MAX && ++R.cb_sends;
}

static bool act(efvitcp_conn *c, char ev)
{
    if ((R.act & 0x02) && ev != 'D' && cb_send_ok()) do_send(c, R.act_arg % 3000u, R.act_arg & 1);
    if ((R.act & 0x80) && c->st->cfg.user_timers)
        efvitcp_set_user_timer_ns(c, R.act_arg % c->st->cfg.user_timers,
                                  1000ull * (1 + R.act_arg % 5000u));
    /* Any of the callbacks that act() serves may close: on_established, on_data, on_fin,
       on_more_sendable, on_user_timeout. */
    if ((R.act & 0x10) && ev == "EDFMU"[R.act_arg % 5]) {
        efvitcp_conn_close(c);
        check();
        return false;
    }
    return true;
}

static bool h_allow(void *ctx, const struct sockaddr_in *peer, uint16_t local_port)
{
    return !(R.act & 0x40) || (peer->sin_port & 1);
}

static void h_established(void *ctx, efvitcp_conn *c)
{
    track *t = track_of(c);
    t->last = PAT(c->irs); /* the SYN's number: the first byte follows it */
    t->sent = 0;
    act(c, 'E');
}

static uint32_t h_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    track *t = track_of(c);
    check_presented(t, d, n, "on_data");
    if (R.act & 0x04) {
        /* Inside on_data the held bytes are the front of those presented (none during a
           zero-copy delivery). */
        const uint8_t *u;
        uint32_t m = efvitcp_unread(c, &u);
        if (m > n) fail("unread in on_data holds more than on_data presents", NULL);
        if (m && memcmp(u, d, m) != 0)
            fail("stream: unread in on_data is not the front of the data", NULL);
    }
    uint32_t keep = 0;
    switch (R.keep_mode % 5) {
    case 1:
        keep = n ? 1 : 0;
        break;
    case 2:
        keep = n / 2;
        break;
    case 3:
        keep = n;
        break;
    case 4:
        keep = R.act_arg % (n + 1);
        break;
    default:
        break;
    }
    if (R.act & 0x01) {
        /* consume inside on_data: the return value may then keep no more than is still held,
           and what the next presentation starts with is the engine's business to get right. */
        efvitcp_consume(c, R.act_arg % 4096u);
        t->last = -1;
    } else if (n - keep) {
        t->last = d[n - keep - 1];
    }
    if ((R.act & 0x02) && cb_send_ok()) do_send(c, R.act_arg % 3000u, false);
    if (R.act & 0x08) efvitcp_send_fin(c);
    if (!act(c, 'D')) return 0;
    return keep;
}

static void h_fin(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    track *t = track_of(c);
    check_presented(t, d, n, "on_fin");
    if (R.act & 0x20) efvitcp_send_fin(c);
    act(c, 'F');
}

static void h_gone(void *ctx, efvitcp_conn *c)
{
    track_of(c)->last = -1;
}

static void h_more(void *ctx, efvitcp_conn *c)
{
    act(c, 'M');
}

static void h_user_timeout(void *ctx, efvitcp_conn *c, uint32_t id)
{
    if ((R.act & 0x20) && R.rearms < REARM_MAX) {
        R.rearms++;
        efvitcp_set_user_timer_ns(c, id, 1 + R.act_arg * 1000ull);
    }
    act(c, 'U');
}

/* ------------------------------------------------------------------------------------------ */
/* Frames                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static void fix_csums(uint8_t *f, uint32_t len)
{
    uint8_t *ip = f + ET_ETH_HLEN;
    if (len < ET_ETH_HLEN + ET_IP_HLEN) return;
    uint32_t ihl = (ip[0] & 15u) * 4u;
    if (ihl < ET_IP_HLEN || ET_ETH_HLEN + ihl > len) return;
    wr16(ip + 10, 0);
    uint16_t c = et_csum_finish(et_csum_add(0, ip, ihl));
    memcpy(ip + 10, &c, 2);
    uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
    if (tot < ihl + ET_TCP_HLEN || ET_ETH_HLEN + tot > len) return;
    uint8_t *tcp = ip + ihl;
    uint32_t tcp_len = tot - ihl;
    uint32_t sn, dn;
    memcpy(&sn, ip + 12, 4);
    memcpy(&dn, ip + 16, 4);
    wr16(tcp + 16, 0);
    c = et_csum_finish(et_csum_add(et_csum_pseudo(sn, dn, ip[9], (uint16_t)tcp_len), tcp, tcp_len));
    memcpy(tcp + 16, &c, 2);
}

/* The addresses of a TCP/IPv4 frame (host order). */
typedef struct addrs {
    const uint8_t *dmac;
    uint32_t sip, dip;
    uint16_t sport, dport;
} addrs;

/* A TCP/IPv4 frame from the raw endpoint: header fields as given, options as given, pattern
   payload, checksums correct. */
static uint32_t build_to(uint8_t *f, const addrs *a, uint8_t flags, uint32_t seq, uint32_t ack,
                         uint16_t win, const uint8_t *opt, uint32_t optlen, uint32_t len)
{
    uint32_t max = FRAME_MAX - ET_ETH_HLEN - ET_IP_HLEN - ET_TCP_HLEN - optlen;
    if (len > max) len = max;
    memcpy(f, a->dmac, 6);
    memcpy(f + 6, R.peer_mac, 6);
    wr16(f + 12, ET_ETHERTYPE_IP);
    uint8_t *ip = f + ET_ETH_HLEN;
    uint32_t tcp_len = ET_TCP_HLEN + optlen + len;
    memset(ip, 0, ET_IP_HLEN);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(ET_IP_HLEN + tcp_len));
    wr16(ip + 6, ET_IP_DF);
    ip[8] = 64;
    ip[9] = ET_IPPROTO_TCP;
    wr32(ip + 12, a->sip);
    wr32(ip + 16, a->dip);
    uint8_t *tcp = ip + ET_IP_HLEN;
    wr16(tcp, a->sport);
    wr16(tcp + 2, a->dport);
    wr32(tcp + 4, seq);
    wr32(tcp + 8, ack);
    tcp[12] = (uint8_t)(((ET_TCP_HLEN + optlen) / 4) << 4);
    tcp[13] = flags;
    wr16(tcp + 14, win);
    wr16(tcp + 18, 0);
    memcpy(tcp + ET_TCP_HLEN, opt, optlen);
    fill(tcp + ET_TCP_HLEN + optlen, seq + ((flags & ET_TCP_SYN) ? 1u : 0u), len);
    uint32_t n = ET_ETH_HLEN + ET_IP_HLEN + tcp_len;
    fix_csums(f, n);
    return n;
}

/* A frame from the peer of a flow to the stack. */
static uint32_t build(uint8_t *f, const flow *fl, uint8_t flags, uint32_t seq, uint32_t ack,
                      uint16_t win, const uint8_t *opt, uint32_t optlen, uint32_t len)
{
    addrs a = {R.stack_mac, PEER_IP_H, STACK_IP_H, fl->pport, fl->sport};
    return build_to(f, &a, flags, seq, ack, win, opt, optlen, len);
}

static void poll_once(void)
{
    uint64_t now = efvitcp_wire_now(R.wire);
    if (R.srv)
        efvitcp_server_poll_at(R.srv, &R.h, &R, now);
    else
        efvitcp_client_poll_at(R.cli, &R.h, &R, now);
    if (R.cli2) efvitcp_client_poll_at(R.cli2, &R.h, &R, now);
    R.polls++;
    if (R.polls >= POLL_BUDGET) R.stop = true;
    check();
}

static flow *flow_of(uint16_t sport, uint16_t pport)
{
    for (int i = 0; i < FZ_FLOWS; i++)
        if (R.fl[i].sport == sport && R.fl[i].pport == pport) return &R.fl[i];
    return NULL;
}

static void send_frame(const uint8_t *f, uint32_t n)
{
    if (trace_on() && n >= 54 && f[23] == ET_IPPROTO_TCP) {
        const uint8_t *t = f + 14 + (f[14] & 15) * 4;
        fprintf(stderr, "  peer:  %u>%u flags %02x seq %u ack %u win %u\n", t[0] << 8 | t[1],
                t[2] << 8 | t[3], t[13], (uint32_t)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7],
                (uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11], t[14] << 8 | t[15]);
    }
    if (et_wire_raw_send(R.wire, R.raw, f, n) != 0) fail("raw send refused", NULL);
}

static uint32_t ts_opt(uint8_t *o, flow *fl, uint32_t tsval)
{
    o[0] = ET_TCPOPT_NOP;
    o[1] = ET_TCPOPT_NOP;
    o[2] = ET_TCPOPT_TS;
    o[3] = 10;
    wr32(o + 4, tsval);
    wr32(o + 8, fl->stk_tsval);
    return 12;
}

/* The peer's cumulative ACK of everything the stack sent on a flow. */
static void peer_ack(flow *fl)
{
    uint8_t f[FRAME_MAX], o[12];
    uint32_t ol = fl->ts ? ts_opt(o, fl, ++fl->p_ts) : 0;
    send_frame(f, build(f, fl, ET_TCP_ACK, fl->p_nxt, fl->stk_max, 65535, o, ol, 0));
}

/* The stack's connection with a peer's ports, or NULL (none, or TIME_WAIT). */
static et_conn *conn_of(uint16_t sport, uint16_t pport)
{
    for (uint32_t i = 0; i < R.st->cfg.max_conns; i++) {
        et_conn *c = &R.st->conns[i];
        if (!efvitcp_is_closed(c) && efvitcp_local_port(c) == sport) {
            struct sockaddr_in a;
            efvitcp_peername(c, &a);
            if (ntohs(a.sin_port) == pport && a.sin_addr.s_addr == htonl(PEER_IP_H)) return c;
        }
    }
    return NULL;
}

/* RFC 9293 §3.8.6: the right edge of the window the stack announces never moves left, but for
   what scaling rounds off (RFC 7323 §2.4: less than one unit of the scale). */
static void check_window(flow *fl, const et_tcp_seg *seg)
{
    if (seg->flags & ET_TCP_SYN) {
        fl->adv_known = false; /* a new incarnation */
        return;
    }
    et_conn *c = conn_of(seg->sport, seg->dport);
    if (!c || !(seg->flags & ET_TCP_ACK) || !et_conn_synced(c)) return;
    /* A new incarnation whose SYN-ACK the peer never saw starts afresh too: the ACK of a SYN
       cookie recreates a connection, and the peer's next sequence number with the ACK number
       one higher is a valid cookie again (the cookie adds the peer's ISN, as Linux's does), so
       a reset connection comes back from its own shifted handshake ACK
       (regress/frames/window-edge-cookie-incarnation). */
    if (c != fl->adv_conn || c->gen != fl->adv_gen) fl->adv_known = false;
    fl->adv_conn = c;
    fl->adv_gen = c->gen;
    uint32_t edge = seg->ack + ((uint32_t)seg->window << c->rcv_wscale);
    if (fl->adv_known && (int32_t)(fl->adv_edge - edge) >= (int32_t)(1u << c->rcv_wscale)) {
        char d[128];
        snprintf(d, sizeof(d), "edge %u after %u (ack %u, window %u << %u)", edge, fl->adv_edge,
                 seg->ack, seg->window, c->rcv_wscale);
        fail("the stack shrank its receive window", d);
    }
    if (!fl->adv_known || (int32_t)(edge - fl->adv_edge) > 0) fl->adv_edge = edge;
    fl->adv_known = true;
}

/* Takes every frame due at the peer; returns how many it answered. */
static int drain(void)
{
    static uint8_t f[4096];
    int answered = 0;
    for (;;) {
        int n = et_wire_raw_recv(R.wire, R.raw, f, sizeof(f));
        if (n <= 0) break;
        et_tcp_seg seg;
        et_arp_msg arp;
        efvitcp_drop_reason why = EFVITCP_DROP_RUNT;
        /* Any IP: the stack answers spoofed sources too (through the peer's MAC). */
        switch (et_parse_frame(f, (uint32_t)n, R.peer_mac, 0, 0, &seg, &arp, &why)) {
        case ET_FRAME_TCP: {
            if (trace_on())
                fprintf(stderr, "  stack: %u>%u flags %02x seq %u ack %u win %u len %u\n",
                        seg.sport, seg.dport, seg.flags, seg.seq, seg.ack, seg.window, seg.len);
            if (seg.len && !(seg.flags & ET_TCP_SYN) && !is_pat(seg.payload, seg.seq, seg.len))
                fail("stream: the stack sent bytes it was not given", NULL);
            flow *fl = flow_of(seg.sport, seg.dport);
            if (!fl || seg.daddr != PEER_IP_H || (seg.flags & ET_TCP_RST)) break;
            check_window(fl, &seg);
            uint32_t end =
                seg.seq + seg.len + !!(seg.flags & ET_TCP_SYN) + !!(seg.flags & ET_TCP_FIN);
            if (!fl->seen || (seg.flags & ET_TCP_SYN) || (int32_t)(end - fl->stk_max) > 0)
                fl->stk_max = end;
            fl->seen = true;
            fl->ts = seg.opt.has_ts;
            if (seg.opt.has_ts) fl->stk_tsval = seg.opt.tsval;
            if (R.auto_ack && (seg.len || (seg.flags & (ET_TCP_SYN | ET_TCP_FIN)))) {
                /* A SYN from the stack gets the peer's SYN-ACK: the client side's handshake. */
                if ((seg.flags & (ET_TCP_SYN | ET_TCP_ACK)) == ET_TCP_SYN) break;
                peer_ack(fl);
                answered++;
            }
            break;
        }
        case ET_FRAME_ARP:
            if (arp.oper == 1 && R.arp_auto && arp.tpa == PEER_IP_H) {
                uint8_t a[64];
                uint32_t len = et_arp_build(a, 2, R.peer_mac, PEER_IP_H, arp.sha, arp.spa);
                send_frame(a, len);
                answered++;
            }
            break;
        default:
            fail("the stack emitted a frame its peer rejects", efvitcp_drop_reason_name(why));
        }
    }
    return answered;
}

/* Polls and lets the peer answer until nothing more happens at this instant. */
static void settle(void)
{
    for (int round = 0;; round++) {
        if (round == (R.st2 ? PAIR_ROUNDS_MAX : ROUNDS_MAX))
            fail("livelock: the peer and the stack exchange without end", NULL);
        poll_once();
        /* fuzz_pair: the stacks answer each other; quiet when nothing is due at this instant */
        bool due = R.st2 && efvitcp_wire_next_delivery(R.wire) <= efvitcp_wire_now(R.wire);
        if (drain() || due) continue;
        /* Knob 0x40: then as a user about to sleep does (efvitcp.h, "Idle waits"): arm the
           instance's fd, and poll again when it says work waits. */
        if (!(R.knobs & 0x40)) break;
        int pr = R.srv ? efvitcp_server_prime(R.srv) : efvitcp_client_prime(R.cli);
        if (pr < 0) fail("prime between polls refused", NULL);
        /* Output deferred for want of a TX buffer says "poll now" every time (advance_to): a
           busy poll while real time brings the buffer, not one more round at this instant. */
        if (pr == 0 || R.st->deferred) break;
    }
}

static uint64_t next_timer(void)
{
    uint64_t t = R.srv ? efvitcp_server_next_timer(R.srv) : efvitcp_client_next_timer(R.cli);
    if (R.cli2) {
        uint64_t t2 = efvitcp_client_next_timer(R.cli2);
        if (t2 < t) t = t2;
    }
    return t;
}

/* Moves the virtual clock to `when`, polling at every timer on the way. */
static void advance_to(uint64_t when)
{
    uint32_t spin = 0;
    uint64_t last = efvitcp_wire_now(R.wire);
    while (!R.stop) {
        uint64_t t = next_timer();
        /* Output deferred for want of a TX buffer asks for a poll now, every time: on a NIC
           whose transmit is stalled (fuzz_efvi) that is a busy poll while real time passes, so
           after a second poll at one instant time moves on to the next timer. On the mem link
           the buffer comes back at the next poll, or once the link stops refusing (knob 0x20:
           up to 32 frames, at least one a poll), and a deferral that never ends shows at the
           end (et_stack_check_idle). */
        if (spin >= DEFER_SPIN && (R.st->deferred || (R.st2 && R.st2->deferred))) {
            t = et_stack_next_timed(R.st);
            if (R.st2 && et_stack_next_timed(R.st2) < t) t = et_stack_next_timed(R.st2);
        }
#ifdef FZ_EFVI
        /* A port whose VI is gone (a restart that failed) takes its frames off the wire as a NIC
           does, to the kernel; the emulator receives only when a VI polls, and the frame due
           would stop time here. */
        efvi_emu_nic_drain(efvi_emu_nic_find(R.wire, "stack"));
#endif
        uint64_t d = efvitcp_wire_next_delivery(R.wire);
        if (d < t) t = d;
        if (t > when) break;
        uint64_t now = efvitcp_wire_now(R.wire);
        if (t < now) t = now;
        if (t == last) {
            if (++spin > SPIN_MAX) fail("livelock: a timer stays due and time cannot move", NULL);
        } else {
            spin = 0;
            last = t;
        }
        efvitcp_wire_set_now(R.wire, t);
        settle();
    }
    if (efvitcp_wire_now(R.wire) < when) efvitcp_wire_set_now(R.wire, when);
    settle();
}

/* ------------------------------------------------------------------------------------------ */
/* Setup                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void fz_log(void *ctx, int level, const char *msg)
{
    if (trace_on()) fprintf(stderr, "  log %d: %s\n", level, msg);
}

/* R.knobs: the role byte's low bits where they pick no fixture (every target but fuzz_frames),
   0 in fuzz_frames: settings the two config bytes have no room for, the defaults when clear.
   0x20 is the harsher world of each target, outside the config: in fuzz_efvi a port of another
   shape (rig_new) and allocation faults (op_nic); in fuzz_conn and fuzz_pair links that refuse
   frames (op_flow) and calls on freed slots (pick), and in fuzz_pair a lossy path too
   (path_faults); in all three gratuitous ARP (op_arp). */
static void config(rd *r, efvitcp_config *c)
{
    uint8_t knobs = R.knobs;
    static const uint32_t rbuf[4] = {1024, 4096, 16384, 131072};
    static const uint32_t slots[4] = {4, 8, 16, 64};
    static const uint32_t conns[4] = {1, 2, 4, 4};
    uint8_t a = u8(r), b = u8(r);
    efvitcp_config_default(c);
    c->seed = 42;
    c->prefault = false;
    c->rx_bufs = 16;
    c->ctrl_bufs = 4 + (b & 8u);
    c->max_time_wait = 4;
    c->timestamps = !(a & 1);
    c->window_scale = !(a & 2);
    c->fast_path = !(a & 4);
    c->delayed_ack_us = (a & 8) ? 1000 : 0;
    c->cc = (efvitcp_cc)((a >> 4) % 3);
    c->recv_buf_size = rbuf[(a >> 6) & 3];
    c->send_slots = slots[b & 3];
    c->max_conns = conns[(b >> 2) & 3];
    c->syn_cookies = (efvitcp_syn_cookies)((b >> 4) % 3);
    c->max_half_open = (b & 0x40) ? 1 : 0;
    c->keepalive_ms = (b & 0x80) ? 10000 : 0;
    c->send_buf_1k = (a & 0x30) == 0x30;
    c->time_wait_ms = (b & 0x30) == 0x30 ? 0 : 60000;
    c->slow_start_after_idle = !(b & 0x80);
    c->ooo_ranges = (b & 8) ? 1 : 8;
    c->mss = (a & 0x88) == 0x88 ? 536 : 0;
    c->user_timers = 4;
    c->user_data_size = 64;
    c->log = fz_log; /* the log paths too, formatting what hostile input made them say */
    /* The live view in a quarter of the runs: it costs a file in /dev/shm per instance, and
       changes nothing the stack does (op 14 holds it to the getters). */
    c->stat_shm = (a & 0x41) == 0x41;
    /* Transmit timestamp reports in a quarter of the runs, with a queue of one report (the
       LOST marking) or sixteen. They change no frame the stack sends, so the bits they borrow
       keep every committed input's run; op 14 takes the reports and checks them. */
    if (((a ^ b) & 3) == 3) c->tx_timestamps = (b & 0x40) ? 1 : 16;
    /* Loss recovery without RACK (RFC 6675's DupThresh and rescue rules, which the peer's SACK
       blocks drive) and without SACK (NewReno alone); initial windows at their edges (1, 64,
       and 0: RFC 5681's 2 to 4 segments); FIN-WAIT-2 held without a timeout. */
    static const uint32_t iw[4] = {10, 1, 64, 0};
    if (knobs & 1) c->rack = false;
    if (knobs & 2) c->sack = false;
    if (knobs & 0x0c) c->initial_window = iw[(knobs >> 2) & 3];
    if (knobs & 0x10) c->fin_wait2_timeout_ms = 0;
    /* The paths around the engine (0x40): a capture of every frame (to /dev/null: the writing
       without the disk), and settle's idle-wait protocol. */
    if (knobs & 0x40) c->pcap_path = "/dev/null";
}

/* fuzz_pair: every frame the two instances exchange, as it leaves its sender. */
static void tap(void *ctx, uint32_t from_port, const uint8_t *frame, uint32_t len, uint64_t now)
{
    et_tcp_seg seg;
    et_arp_msg arp;
    efvitcp_drop_reason why;
    if ((int)from_port == R.raw) return;
    if (et_parse_frame(frame, len, frame, 0, 0, &seg, &arp, &why) != ET_FRAME_TCP) return;
    if (seg.len && !(seg.flags & ET_TCP_SYN) && !is_pat(seg.payload, seg.seq, seg.len))
        fail("stream: an instance sent bytes it was not given", NULL);
    bool from_cli = seg.saddr == CLI_IP_H;
    uint16_t cport = from_cli ? seg.sport : seg.dport, sport = from_cli ? seg.dport : seg.sport;
    if (cport < 33000 || cport >= 33000 + FZ_FLOWS || (seg.flags & ET_TCP_RST)) return;
    flow *fl = &R.fl[cport - 33000];
    uint32_t end = seg.seq + seg.len + !!(seg.flags & ET_TCP_SYN) + !!(seg.flags & ET_TCP_FIN);
    bool syn = seg.flags & ET_TCP_SYN;
    if (from_cli) {
        if (syn || (int32_t)(end - fl->c_max) > 0) fl->c_max = end;
        fl->c_ts = seg.opt.has_ts;
        if (seg.opt.has_ts) fl->c_tsval = seg.opt.tsval;
    } else {
        if (syn || (int32_t)(end - fl->stk_max) > 0) fl->stk_max = end;
        fl->ts = seg.opt.has_ts;
        if (seg.opt.has_ts) fl->stk_tsval = seg.opt.tsval;
    }
    fl->sport = sport;
}

/* fuzz_pair: the client instance, its config a variation of the server's. */
/* Knob 0x20, in fuzz_pair: a lossy, reordering path between the two stacks (both ways; the
   injected peer's frames keep theirs): the recovery of each, RACK or not, SACK or not, under the
   fuzzed calls and the forged segments. The tap sees each frame as it leaves, before the path.
   (No corruption: the injected peer receives on the same path, and the rig takes a bad checksum
   there for the stack's.) Elsewhere a clean path. */
static efvitcp_wire_faults path_faults(void)
{
    efvitcp_wire_faults f = {0};
    if (R.st2 && (R.knobs & 0x20)) {
        f.loss = 0.05;
        f.duplicate = 0.02;
        f.jitter_mean_ns = 50000;
        f.jitter_max_ns = 500000;
    }
    return f;
}

static void pair_new(rd *r)
{
    static const uint32_t rbuf[4] = {1024, 4096, 16384, 131072};
    uint8_t x = u8(r);
    efvitcp_config c = R.cfg;
    c.timestamps ^= x & 1;
    c.window_scale ^= !!(x & 2);
    c.cc = (efvitcp_cc)((x >> 2) % 3);
    c.recv_buf_size = rbuf[(x >> 4) & 3];
    c.delayed_ack_us = (x & 0x40) ? 1000 : 0;
    c.seed = 43;
    c.wire = R.wire;
    c.local_addr = CLI_IP "/15";
    const char *err = efvitcp_client_init(&R.cli2, "mem:cli", &c);
    if (err) fail("init (client instance)", err);
    R.st2 = &R.cli2->st;
    memcpy(R.cli_mac, R.st2->link->mac, 6);
    et_wire_set_tap(R.wire, tap, NULL);
    if (R.knobs & 0x20) {
        efvitcp_wire_faults f = path_faults();
        if ((err = efvitcp_wire_set_faults(R.wire, "stack", &f)) ||
            (err = efvitcp_wire_set_faults(R.wire, "cli", &f)))
            fail("wire faults", err);
    }
    for (int i = 0; i < FZ_FLOWS; i++) {
        R.fl[i].pport = (uint16_t)(33000 + i);
        R.fl[i].sport = 5000;
    }
}

static void rig_new(rd *r, bool server, bool arp_seed, bool pair, uint8_t knobs)
{
    memset(&R, 0, sizeof(R));
    R.knobs = knobs;
    config(r, &R.cfg);
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    /* Frame slots of the wire (2 KiB each, allocated whole per input): under ASan a wire's
       allocation and release were about half of an input's time at 1024 slots. The most in
       use at once over the committed corpus, the regression inputs and a minute of each
       target's campaign is 64 (fuzz_efvi); past 256 the wire drops what it has no slot for
       (et_wire_stats.drop_no_slot), which is loss any TCP must survive. */
    wc.max_frames = 256;
    wc.max_ports = 3;
    const char *err = efvitcp_wire_new(&R.wire, &wc);
    if (err) fail("wire", err);
    /* Away from 0, so that "0 = never" fields of the engine are never confused with now. */
    efvitcp_wire_set_now(R.wire, START_NS);
    efvitcp_config c = R.cfg;
    c.wire = R.wire;
    c.local_addr = STACK_IP "/15";
#ifdef FZ_EFVI
    efvi_emu_set_strict(true);
    efvi_emu_nic_config ec;
    efvi_emu_nic_config_default(&ec);
    uint8_t e = u8(r);
    ec.arch = (e & 1) ? EF_VI_ARCH_EFCT : EF_VI_ARCH_EF10;
    ec.ctpio = e & 2;
    ec.rx_csum_check = e & 4;
    ec.seed = 1 + (e >> 3);
    ec.efct_superbufs = 2; /* small pools: the fuzzer creates a port per input */
    ec.efct_superbuf_pkts = 64;
    ec.max_filters = 64;
    /* Knob 0x20, a port of another shape: the link's options (hardware timestamps both ways,
       DMA only, a cut-through threshold) and the port's own (an RX prefix, receive buffers too
       small for a full frame, so that the link's MTU shrinks and longer frames scatter, a
       smaller MTU, the shortest TX ring). One more byte, read only under the knob: the inputs
       without it keep their runs. */
    char iface[64] = IFACE;
    if (knobs & 0x20) {
        static const uint32_t rx_len[4] = {0, 1536, 1024, 640};
        uint8_t s = u8(r);
        snprintf(iface, sizeof(iface), "%s%s%s%s%s", IFACE, (s & 1) ? ",rxts" : "",
                 (s & 2) ? ",txts" : "", (s & 4) ? ",noctpio" : "", (s & 0x80) ? ",ct=64" : "");
        ec.rx_timestamps = s & 1;
        ec.tx_timestamps = s & 2;
        ec.force_prefix = s & 8;
        ec.rx_buffer_len = rx_len[(s >> 4) & 3];
        ec.mtu = (s & 0x40) ? 1014 : 0;
        ec.max_txq = (s & 0x80) ? 512 : 0;
    }
    efvi_emu_set_default_config(&ec);
#else
    const char *iface = IFACE;
#endif
    err = server ? efvitcp_server_init(&R.srv, iface, &c) : efvitcp_client_init(&R.cli, iface, &c);
    if (err) fail("init", err);
    R.st = server ? &R.srv->st : &R.cli->st;
    memcpy(R.stack_mac, R.st->link->mac, 6);
    if ((err = et_wire_raw_attach(R.wire, "peer", R.peer_mac, &R.raw))) fail("raw attach", err);
    R.h = (efvitcp_handler){
        .on_connection_refused = h_gone,
        .allow_new_connection = h_allow,
        .on_established = h_established,
        .on_data = h_data,
        .on_fin = h_fin,
        .on_closed = h_gone,
        .on_reset = h_gone,
        .on_timeout = h_gone,
        .on_more_sendable = h_more,
        .on_user_timeout = h_user_timeout,
    };
    R.arp_auto = true;
    for (int i = 0; i < FZ_FLOWS; i++) {
        flow *fl = &R.fl[i];
        fl->sport = server ? (uint16_t)(5000 + i / 3) : (uint16_t)(33000 + i);
        fl->pport = server ? (uint16_t)(40000 + i) : (uint16_t)(80 + i / 2);
        fl->p_iss = fl->p_nxt = 1000000u * (uint32_t)(i + 1);
        fl->p_ts = 100000u * (uint32_t)(i + 1);
    }
    for (int i = 0; i < FZ_IDS; i++) R.tr[i].last = -1;
    if (pair) pair_new(r);
    if (server) {
        if ((err = efvitcp_server_listen(R.srv, 5000))) fail("listen", err);
    } else if (arp_seed) {
        /* An ARP request from the peer creates the stack's neighbour entry (RFC 826 merge), so
           that connect sends its SYN at once. */
        uint8_t a[64];
        send_frame(a, et_arp_build(a, 1, R.peer_mac, PEER_IP_H, R.stack_mac, STACK_IP_H));
    }
    settle();
}

static uint32_t live_conns(efvitcp_conn **out);

/* Closes everything, lets every timer run out, and checks that nothing leaked. A connection that
   the peer completes after the close is a new one, announced by on_established (the ACK of a SYN
   cookie needs no state to complete the handshake, and a frame a NIC fault held arrives when the
   fault ends below): it is closed in turn, for a few rounds. What counts as a leak is a slot whose
   incarnation (its gen) outlived its own close. */
static void rig_finish(void)
{
    R.stop = false;
    R.polls = 0;
    R.act = 0;
    R.auto_ack = false;
#ifdef FZ_EFVI
    /* A NIC that stays stalled or starved keeps buffers forever: the end is checked on a
       healthy one. */
    efvi_emu_faults nf;
    memset(&nf, 0, sizeof(nf));
    efvi_emu_set_faults(efvi_emu_nic_find(R.wire, "stack"), &nf);
#endif
    enum { ROUNDS = 4 };
    efvitcp_conn *closed[ROUNDS * FZ_IDS];
    uint32_t closed_gen[ROUNDS * FZ_IDS], n_closed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        efvitcp_conn *live[FZ_IDS];
        uint32_t n = live_conns(live);
        bool fresh = false;
        for (uint32_t i = 0; i < n; i++) {
            bool again = false;
            for (uint32_t j = 0; j < n_closed; j++)
                again |= closed[j] == live[i] && closed_gen[j] == live[i]->gen;
            if (again) continue; /* closed already: left for the leak check */
            closed[n_closed] = live[i];
            closed_gen[n_closed++] = live[i]->gen;
            efvitcp_conn_close(live[i]);
            fresh = true;
        }
        if (round && !fresh) break;
        check();
        /* Long enough for TIME_WAIT (60 s) and every retransmission to end. */
        advance_to(efvitcp_wire_now(R.wire) + 3600ull * 1000000000ull);
        /* A link retries what failed (an efvi VI that could not be restarted) at a time of its
           own that no engine timer shows: an application busy-polls, so a few polls as time
           passes stand for that. */
        for (int i = 0; i < 4; i++) advance_to(efvitcp_wire_now(R.wire) + 1000000000ull);
    }
    if (!R.stop) {
        char buf[512];
        const char *e = et_stack_check_detail(R.st, true, buf, sizeof(buf));
        if (e) fail("leak after closing everything", e);
        if (R.st2 && (e = et_stack_check_detail(R.st2, true, buf, sizeof(buf))))
            fail("leak after closing everything (client instance)", e);
    }
    if (R.cli2) efvitcp_client_close(R.cli2);
    if (R.srv) efvitcp_server_close(R.srv);
    if (R.cli) efvitcp_client_close(R.cli);
    efvitcp_wire_free(R.wire);
}

/* ------------------------------------------------------------------------------------------ */
/* The program                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* A sequence or acknowledgment number near base: exact, a small offset either way, a larger
   one, or anything. */
static uint32_t near(rd *r, uint32_t base)
{
    uint8_t k = u8(r);
    switch (k & 3) {
    case 0:
        return base;
    case 1:
        return base + (uint32_t)(int32_t)(int8_t)u8(r);
    case 2:
        return base + (uint32_t)(int32_t)(int16_t)u16(r) * ((k & 4) ? 64u : 1u);
    default:
        return u32(r);
    }
}

static uint32_t options(rd *r, flow *fl, uint8_t bits, uint8_t *o, bool syn)
{
    uint32_t n = 0;
    if (bits & 1) {
        o[n++] = ET_TCPOPT_MSS;
        o[n++] = 4;
        wr16(o + n, u16(r));
        n += 2;
    }
    if (bits & 2) {
        o[n++] = ET_TCPOPT_NOP;
        o[n++] = ET_TCPOPT_WS;
        o[n++] = 3;
        o[n++] = u8(r) % 16u;
    }
    if (bits & 4) {
        o[n++] = ET_TCPOPT_NOP;
        o[n++] = ET_TCPOPT_NOP;
        o[n++] = ET_TCPOPT_SACK_PERM;
        o[n++] = 2;
    }
    /* Timestamps by default where the stack sends them (and on SYNs), unless bit 3 says no. */
    bool ts = (syn || fl->ts) != !!(bits & 8);
    if (ts) {
        uint32_t v = (bits & 0x40) ? near(r, fl->p_ts) : ++fl->p_ts;
        n += ts_opt(o + n, fl, v);
    }
    if (bits & 0x10) {
        uint32_t k = 1 + u8(r) % 3u;
        o[n++] = ET_TCPOPT_NOP;
        o[n++] = ET_TCPOPT_NOP;
        o[n++] = ET_TCPOPT_SACK;
        o[n++] = (uint8_t)(2 + 8 * k);
        for (uint32_t i = 0; i < k; i++) {
            uint32_t l = fl->stk_max - u16(r);
            wr32(o + n, l);
            wr32(o + n + 4, l + u16(r));
            n += 8;
        }
    }
    if (bits & 0x20) {
        uint32_t k = u8(r) % 12u;
        for (uint32_t i = 0; i < k && n < ET_TCP_MAX_OPTLEN; i++) o[n++] = u8(r);
    }
    while (n & 3) o[n++] = ET_TCPOPT_EOL;
    return n > ET_TCP_MAX_OPTLEN ? ET_TCP_MAX_OPTLEN : n;
}

static uint32_t payload_len(rd *r)
{
    uint8_t l = u8(r);
    if (l < 128) return 0;
    if (l < 224) return l - 127u;
    return (l - 223u) * 64u; /* up to 2048: past the MTU too */
}

/* Opcode 0: a segment from one peer, seen from its flow. */
static void op_segment(rd *r)
{
    flow *fl = &R.fl[u8(r) % FZ_FLOWS];
    uint8_t flags = u8(r);
    uint32_t seq = near(r, fl->p_nxt);
    uint32_t ack = near(r, fl->stk_max);
    uint8_t wk = u8(r);
    uint16_t win = (wk & 1) ? u16(r) : (wk & 2) ? 0 : 65535;
    uint8_t o[64];
    uint32_t ol = options(r, fl, u8(r), o, flags & ET_TCP_SYN);
    uint32_t len = payload_len(r);
    uint8_t f[FRAME_MAX];
    uint32_t n = build(f, fl, flags, seq, ack, win, o, ol, len);
    if (seq == fl->p_nxt && !(flags & ET_TCP_RST))
        fl->p_nxt += (n - ET_ETH_HLEN - ET_IP_HLEN - ET_TCP_HLEN - ol) + !!(flags & ET_TCP_SYN) +
                     !!(flags & ET_TCP_FIN);
    send_frame(f, n);
    settle();
}

/* The payload as the (maybe overwritten) headers place it, refilled with the pattern of the
   (maybe overwritten) sequence number: an altered sequence number with the checksum fixed is
   a segment no TCP can tell from a genuine one, so its bytes must be the stream's. */
static void refill(uint8_t *f, uint32_t n)
{
    const uint8_t *ip = f + ET_ETH_HLEN;
    uint32_t ihl = (ip[0] & 15u) * 4u, tot = (uint32_t)ip[2] << 8 | ip[3];
    if (ihl < ET_IP_HLEN || ET_ETH_HLEN + ihl + ET_TCP_HLEN > n) return;
    uint8_t *tcp = f + ET_ETH_HLEN + ihl;
    uint32_t doff = (tcp[12] >> 4) * 4u, end = ET_ETH_HLEN + tot < n ? ET_ETH_HLEN + tot : n;
    uint32_t at = ET_ETH_HLEN + ihl + doff;
    if (at >= end) return;
    uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
    fill(f + at, seq + ((tcp[13] & ET_TCP_SYN) ? 1u : 0u), end - at);
}

/* fuzz_pair, opcode 0: a segment spoofed into a live connection between the two instances, as
   from the client to the server or from the server to the client, with the numbers of the
   connection as the tap saw them. */
static void op_inject(rd *r)
{
    uint8_t k = u8(r);
    flow *fl = &R.fl[k % FZ_FLOWS];
    bool to_srv = !(k & 4);
    uint8_t flags = u8(r);
    uint32_t snd_max = to_srv ? fl->c_max : fl->stk_max, rcv_max = to_srv ? fl->stk_max : fl->c_max;
    uint32_t snd_ts = to_srv ? fl->c_tsval : fl->stk_tsval,
             rcv_ts = to_srv ? fl->stk_tsval : fl->c_tsval;
    uint32_t seq = near(r, snd_max), ack = near(r, rcv_max);
    uint8_t wk = u8(r);
    uint16_t win = (wk & 1) ? u16(r) : (wk & 2) ? 0 : 65535;
    uint8_t bits = u8(r), o[40];
    uint32_t ol = 0;
    if ((to_srv ? fl->c_ts : fl->ts) != !!(bits & 1)) {
        o[ol++] = ET_TCPOPT_NOP;
        o[ol++] = ET_TCPOPT_NOP;
        o[ol++] = ET_TCPOPT_TS;
        o[ol++] = 10;
        wr32(o + ol, (bits & 2) ? near(r, snd_ts) : snd_ts);
        wr32(o + ol + 4, rcv_ts);
        ol += 8;
    }
    if (bits & 4) {
        o[ol++] = ET_TCPOPT_NOP;
        o[ol++] = ET_TCPOPT_NOP;
        o[ol++] = ET_TCPOPT_SACK;
        o[ol++] = 10;
        uint32_t left = rcv_max - u16(r);
        wr32(o + ol, left);
        wr32(o + ol + 4, left + u16(r));
        ol += 8;
    }
    addrs a = {to_srv ? R.stack_mac : R.cli_mac, to_srv ? CLI_IP_H : STACK_IP_H,
               to_srv ? STACK_IP_H : CLI_IP_H, to_srv ? fl->pport : fl->sport,
               to_srv ? fl->sport : fl->pport};
    uint8_t f[FRAME_MAX];
    send_frame(f, build_to(f, &a, flags, seq, ack, win, o, ol, payload_len(r)));
    settle();
}

/* Opcode 1: raw bytes, addressed to the stack (or not). */
static void op_raw(rd *r)
{
    uint8_t f[FRAME_MAX];
    uint8_t k = u8(r);
    uint32_t n = u8(r) + ((k & 1) ? 256u * (u8(r) & 7u) : 0u);
    if (n > FRAME_MAX) n = FRAME_MAX;
    for (uint32_t i = 0; i < n; i++) f[i] = u8(r);
    if ((k & 2) && n >= 12) {
        memcpy(f, R.stack_mac, 6);
        memcpy(f + 6, R.peer_mac, 6);
    }
    if ((k & 4) && n >= 14) wr16(f + 12, ET_ETHERTYPE_IP);
    if (k & 8) {
        refill(f, n);
        fix_csums(f, n);
    }
    send_frame(f, n);
    settle();
}

/* Opcode 2: a genuine segment whose header bytes (IP and TCP) are then overwritten, checksums
   fixed or not: IHL, total length, fragments, protocol, data offset, options. */
static void op_mangled(rd *r)
{
    flow *fl = &R.fl[u8(r) % FZ_FLOWS];
    uint8_t o[64];
    uint32_t ol = options(r, fl, u8(r), o, false);
    uint8_t f[FRAME_MAX];
    uint32_t n = build(f, fl, u8(r), fl->p_nxt, fl->stk_max, 65535, o, ol, payload_len(r));
    uint32_t k = 1 + u8(r) % 8u;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t at = ET_ETH_HLEN + u8(r) % (ET_IP_HLEN + ET_TCP_HLEN + ol);
        f[at] = u8(r);
    }
    refill(f, n);
    uint8_t t = u8(r);
    if (!(t & 1)) fix_csums(f, n);
    if (t & 2) n = ET_ETH_HLEN + u16(r) % (n - ET_ETH_HLEN + 1); /* truncated */
    send_frame(f, n);
    settle();
}

/* Opcode 3: ARP, requests and replies with fuzzed addresses. */
static void op_arp(rd *r)
{
    uint8_t a[64], sha[6];
    uint8_t k = u8(r);
    memcpy(sha, R.peer_mac, 6);
    if (k & 1) sha[5] = u8(r);
    uint32_t spa = (k & 2) ? u32(r) : PEER_IP_H;
    uint32_t tpa = (k & 4) ? STACK_IP_H + (u8(r) & 3u) : STACK_IP_H;
    /* In the harsher world, a gratuitous announcement (sender and target address the same),
       which moves an entry within the neighbour cache's lock time. */
    if ((R.knobs & 0x20) && (k & 0x40)) tpa = spa;
    uint32_t n = et_arp_build(a, (uint16_t)(1 + ((k >> 3) & 1)), sha, spa, R.stack_mac, tpa);
    if (k & 0x10) memset(a, 0xff, 6); /* broadcast */
    if (k & 0x20) a[14 + u8(r) % 28u] = u8(r);
    send_frame(a, n);
    settle();
}

/* Opcode 4: time moves, from a microsecond to hours, every timer on the way. */
static void op_time(rd *r)
{
    uint8_t k = u8(r);
    uint64_t now = efvitcp_wire_now(R.wire), d;
    switch (k % 6) {
    case 0:
        d = 1000ull * (1 + u8(r));
        break; /* microseconds */
    case 1:
        d = 1000000ull * (1 + u16(r) % 2000u);
        break; /* milliseconds */
    case 2:
        d = 1000000000ull * (1 + u8(r));
        break; /* seconds */
    case 3:
        d = 3600ull * 1000000000ull * (1 + u8(r) % 4u);
        break; /* hours */
    case 4: {  /* to the next timer, exactly */
        uint64_t t = next_timer();
        d = t > now && t != UINT64_MAX ? t - now : 0;
        break;
    }
    default:
        d = u8(r);
        break; /* nanoseconds: inside one timer tick */
    }
    advance_to(now + d);
}

/* The live connections, in slot order (the client instance's after the server's). */
static uint32_t live_conns(efvitcp_conn **out)
{
    uint32_t n = 0;
    for (int k = 0; k < 2; k++) {
        et_stack *st = k ? R.st2 : R.st;
        for (uint32_t i = 0; st && i < st->cfg.max_conns && n < FZ_IDS; i++)
            if (!efvitcp_is_closed(&st->conns[i])) out[n++] = &st->conns[i];
    }
    return n;
}

static efvitcp_conn *pick(rd *r)
{
    efvitcp_conn *live[FZ_IDS];
    uint32_t n = live_conns(live);
    uint8_t k = u8(r);
#ifndef FZ_EFVI
    /* Knob 0x20 (conn, pair): half the picks take any slot, a free one too, as a program that
       kept a connection's pointer past its end (stale_calls); in fuzz_pair bit 0x40 picks the
       client instance's. */
    if ((R.knobs & 0x20) && (k & 0x80)) {
        et_stack *st = R.st2 && (k & 0x40) ? R.st2 : R.st;
        return &st->conns[(k & 0x3f) % st->cfg.max_conns];
    }
#endif
    return n ? live[k % n] : NULL;
}

/* The calls of a program that kept a connection's pointer past its end (efvitcp.h: the slot
   stays valid memory and may be handed out again). On a free slot each fails cleanly and does
   nothing: no bytes taken, no timer armed, no RST, no close counted, no report of the connection
   it was, and the stack's invariants hold after it (op_api's check). */
static void stale_calls(efvitcp_conn *c, uint8_t op)
{
    static const uint8_t buf[64];
    et_stack *st = c->st;
    efvitcp_stats before, after;
    et_instance_stats(st, &before, sizeof(before));
    switch (op) {
    case 6:
        if (efvitcp_send(c, buf, sizeof(buf), R.act_arg & 1)) fail("send on a free slot", NULL);
        break;
    case 7: {
        struct iovec iov[2] = {{(void *)buf, 10}, {(void *)buf, sizeof(buf)}};
        if (efvitcp_sendv(c, iov, 2, false)) fail("sendv on a free slot", NULL);
        break;
    }
    case 8:
        if (!efvitcp_send_fin(c)) fail("send_fin on a free slot succeeded", NULL);
        break;
    case 9: {
        const uint8_t *d;
        if (efvitcp_unread(c, &d)) fail("unread bytes on a free slot", NULL);
        efvitcp_consume(c, R.act_arg);
        break;
    }
    case 10:
        efvitcp_conn_close(c);
        break;
    case 11:
        if (!efvitcp_set_user_timer(c, R.act_arg % st->cfg.user_timers, 1 + R.act_arg))
            fail("a user timer armed on a free slot", NULL);
        efvitcp_cancel_user_timer(c, R.act_arg % (st->cfg.user_timers + 2));
        break;
    default: { /* 14: the getters */
        efvitcp_tx_report rep[4];
        efvitcp_conn_stats cs;
        efvitcp_conn_get_stats(c, &cs);
        if (cs.state != EFVITCP_CLOSED || !efvitcp_is_closed(c) || efvitcp_is_established(c))
            fail("a free slot says it is not closed", NULL);
        if (efvitcp_sendable(c) || efvitcp_immediately_sendable(c))
            fail("a free slot says it can send", NULL);
        if (efvitcp_tx_timestamps(c, rep, 4)) fail("reports of a freed connection", NULL);
        break;
    }
    }
    et_instance_stats(st, &after, sizeof(after));
    if (after.rst_sent != before.rst_sent || after.conns_closed != before.conns_closed ||
        after.conns_active != before.conns_active)
        fail("a call on a free slot changed the instance", NULL);
    for (uint32_t i = 0; i < st->cfg.user_timers; i++)
        if (c->t_user[i].armed) fail("a free slot has a user timer armed", NULL);
}

/* The live view of efvitcp-stat, published now and read back as the tool reads it, says what the
   getters say: the instance's counters and c's row (cfg.stat_shm, on in some configs). */
static void check_live_view(efvitcp_conn *c)
{
    et_stack *st = c->st;
    if (!st->stat.hdr) return;
    et_stat_publish(st);
    static et_stat_hdr h;
    static et_stat_conn rows[8];
    if (et_stat_snapshot(st->stat.hdr, st->stat.size, &h, rows, 8, 1, NULL, NULL) != 1)
        fail("live view: no consistent copy right after a publish", NULL);
    efvitcp_stats want;
    et_instance_stats(st, &want, sizeof(want));
    if (memcmp(&h.stats, &want, sizeof(want)) != 0) fail("live view: counters differ", NULL);
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    const uint8_t *d;
    for (uint32_t i = 0; i < h.n_rows; i++) {
        const et_stat_conn *row = &rows[i];
        if (row->id != c->id) continue;
        if (row->state != (uint32_t)cs.state || row->bytes_in != cs.bytes_in ||
            row->bytes_out != cs.bytes_out || row->segs_in != cs.segs_in ||
            row->segs_out != cs.segs_out || row->retransmits != cs.retransmits ||
            row->srtt_us != cs.srtt_us || row->rto_us != cs.rto_us || row->cwnd != cs.cwnd ||
            row->snd_wnd != cs.snd_wnd || row->rcv_wnd != cs.rcv_wnd ||
            row->unacked != cs.unacked || row->queued != cs.queued ||
            row->recv_held != cs.recv_held || row->unread != efvitcp_unread(c, &d) ||
            row->remote_port != c->remote_port || row->local_port != c->local_port)
            fail("live view: a connection's row differs from its getters", NULL);
        return;
    }
    if (h.n_rows == h.n_conns) fail("live view: a live connection has no row", NULL);
}

/* Transmit timestamp reports (efvitcp.h, efvitcp_tx_report): what each says of itself, of the
   link and of the stream must hold. */
static void check_tx_reports(efvitcp_conn *c, int max)
{
    efvitcp_tx_report rep[8];
    int n = efvitcp_tx_timestamps(c, rep, max);
    if (n < 0 || n > max) fail("tx timestamps: more reports than asked", NULL);
    if (n && !c->st->cfg.tx_timestamps) fail("tx timestamps: reports while they are off", NULL);
    uint64_t off = efvitcp_tx_offset(c);
    for (int i = 0; i < n; i++) {
        const efvitcp_tx_report *t = &rep[i];
        uint32_t f = t->flags;
        uint32_t kind = f & (EFVITCP_TX_TS_HARDWARE | EFVITCP_TX_TS_SOFTWARE | EFVITCP_TX_TS_NONE);
        if (f >> 9) fail("tx timestamps: unknown flags", NULL);
        if (kind != EFVITCP_TX_TS_HARDWARE && kind != EFVITCP_TX_TS_SOFTWARE &&
            kind != EFVITCP_TX_TS_NONE)
            fail("tx timestamps: not exactly one of hardware, software, none", NULL);
        if ((kind == EFVITCP_TX_TS_SOFTWARE) == c->st->txts_hw)
            fail("tx timestamps: a software stamp on a stamping link, or the reverse", NULL);
        if ((kind == EFVITCP_TX_TS_NONE) != (t->ts_ns == 0))
            fail("tx timestamps: a time that contradicts its flags", NULL);
        if (kind == EFVITCP_TX_TS_SOFTWARE && t->ts_ns > efvitcp_wire_now(R.wire))
            fail("tx timestamps: a software stamp from the future", NULL);
        if (kind != EFVITCP_TX_TS_HARDWARE &&
            (f & (EFVITCP_TX_TS_CLOCK_SET | EFVITCP_TX_TS_IN_SYNC)))
            fail("tx timestamps: NIC clock flags without a NIC time", NULL);
        if ((f & EFVITCP_TX_TS_SYN) && (t->start || t->bytes))
            fail("tx timestamps: a SYN's report with stream bytes", NULL);
        if (t->start + t->bytes > off) fail("tx timestamps: bytes never sent", NULL);
        if ((f & EFVITCP_TX_TS_FIN) && t->start + t->bytes != off)
            fail("tx timestamps: a FIN before the end of the stream", NULL);
    }
}

static void op_api(rd *r, uint8_t op)
{
    efvitcp_conn *c = op == 12 ? NULL : pick(r);
    if (op != 12 && op != 13 && !c) return;
    if (op != 12 && op != 13 && efvitcp_is_closed(c)) {
        stale_calls(c, op);
        check();
        settle();
        return;
    }
    switch (op) {
    case 6: {
        uint8_t k = u8(r);
        do_send(c, (k & 0x80) ? u16(r) : (uint32_t)(k & 0x3f) * 37u, k & 0x40);
        break;
    }
    case 7: { /* sendv: up to 4 pieces, some empty */
        static uint8_t buf[16384];
        track *t = track_of(c);
        struct iovec iov[4];
        int cnt = u8(r) % 5;
        uint32_t total = 0;
        for (int i = 0; i < cnt; i++) {
            uint32_t l = u16(r) % 4096u;
            iov[i].iov_base = buf + total;
            iov[i].iov_len = l;
            total += l;
        }
        fill(buf, c->iss + 1 + t->sent, total);
        uint32_t n = efvitcp_sendv(c, iov, cnt, u8(r) & 1);
        if (n > total) fail("sendv accepted more than offered", NULL);
        t->sent += n;
        break;
    }
    case 8:
        efvitcp_send_fin(c);
        break;
    case 9: {
        track *t = track_of(c);
        const uint8_t *d;
        uint32_t held = efvitcp_unread(c, &d);
        check_presented(t, d, held, "efvitcp_unread");
        uint32_t n = u16(r);
        if (held && n) t->last = d[(n < held ? n : held) - 1];
        efvitcp_consume(c, n);
        break;
    }
    case 10:
        efvitcp_conn_close(c);
        break;
    case 11: {
        uint8_t k = u8(r);
        uint32_t id = k % 6u; /* 4 and 5 are out of range: refused */
        if (k & 0x80)
            efvitcp_cancel_user_timer(c, id);
        else if (k & 0x40)
            efvitcp_set_user_timer(c, id, u16(r));
        else
            efvitcp_set_user_timer_ns(c, id, (uint64_t)u32(r) << (k & 0x1f));
        break;
    }
    case 12: { /* listen/unlisten, or connect */
        uint8_t k = u8(r);
        if (R.cli2 && !(k & 0x10)) { /* fuzz_pair: the client instance connects to the server */
            efvitcp_conn *nc = NULL;
            uint16_t lport = (k & 4) ? 0 : (uint16_t)(33000 + k % FZ_FLOWS);
            if (!efvitcp_client_connect(R.cli2, STACK_IP, (uint16_t)(5000 + ((k >> 3) & 1)), lport,
                                        &nc) &&
                nc) {
                track *t = track_of(nc);
                t->last = -1;
                t->sent = 0;
            }
        } else if (R.srv) {
            uint16_t port = (uint16_t)(5000 + (k & 1));
            if (k & 2)
                efvitcp_server_unlisten(R.srv, port);
            else
                efvitcp_server_listen(R.srv, port);
        } else {
            flow *fl = &R.fl[k % FZ_FLOWS];
            efvitcp_conn *nc = NULL;
            if (!efvitcp_client_connect(R.cli, PEER_IP, fl->pport, (k & 4) ? 0 : fl->sport, &nc) &&
                nc) {
                track *t = track_of(nc);
                t->last = -1;
                t->sent = 0;
            }
        }
        break;
    }
    case 13: /* what the callbacks do from now on */
        R.keep_mode = u8(r);
        R.act = u8(r);
        R.act_arg = u16(r);
        break;
    case 14: { /* what the getters say must agree with itself, and the live view with them */
        check_live_view(c);
        efvitcp_conn_stats cs;
        efvitcp_conn_get_stats(c, &cs);
        if (cs.state != c->state) fail("conn stats: wrong state", NULL);
        if (cs.recv_held > c->st->cfg.recv_buf_size) fail("conn stats: holds more than fits", NULL);
        uint32_t sendable = efvitcp_sendable(c);
        if (sendable > (c->st->cfg.send_slots - 1) * 2048u) fail("sendable beyond the ring", NULL);
        efvitcp_immediately_sendable(c);
        const uint8_t *d;
        if (efvitcp_unread(c, &d) > cs.recv_held) fail("unread beyond what the conn holds", NULL);
        struct sockaddr_in sa;
        efvitcp_peername(c, &sa);
        efvitcp_local_port(c);
        efvitcp_is_established(c);
        efvitcp_user_data(c);
        efvitcp_rx_hw_timestamp(c);
        check_tx_reports(c, (int)(R.act_arg % 9u));
        efvitcp_stats st;
        if (R.srv) {
            efvitcp_server_stats(R.srv, &st);
            if (st.conns_active != efvitcp_server_conn_count(R.srv))
                fail("stats: conns_active is not the connection count", NULL);
        }
        break;
    }
    }
    check();
    settle();
}

/* A new incarnation of a peer: a fresh ISS above the old one (RFC 6191 reuse). */
static void op_flow(rd *r)
{
    uint8_t k = u8(r);
    flow *fl = &R.fl[k % FZ_FLOWS];
    if (k & 4) R.auto_ack = !R.auto_ack;
    if (k & 8) R.arp_auto = !R.arp_auto;
    if (k & 16) {
        fl->p_iss = fl->p_nxt + 100000u;
        fl->p_nxt = fl->p_iss;
        fl->seen = false;
        fl->ts = false;
    }
#ifndef FZ_EFVI
    /* Knob 0x20 (conn, pair): a link that refuses its next frames, as a NIC whose transmit ring
       is full (efvitcp_wire_faults.tx_refuse): output deferred to later polls, ACKs sent again.
       In fuzz_pair an odd flow picks the client instance's link. */
    static const uint32_t refuse[8] = {0, 1, 2, 3, 5, 8, 16, 32};
    if ((R.knobs & 0x20) && (k & 0xe0)) {
        efvitcp_wire_faults f = path_faults();
        f.tx_refuse = refuse[k >> 5];
        const char *err = efvitcp_wire_set_faults(R.wire, R.st2 && (k & 1) ? "cli" : "stack", &f);
        if (err) fail("wire faults", err);
    }
#endif
}

/* FZ_TRACE=1 in the environment prints every step and the states after it (debugging a
   finding with the replay driver). */
static void trace(const char *what, uint32_t op)
{
    if (!trace_on()) return;
    fprintf(stderr, "[%llu ns] %s %u:", (unsigned long long)efvitcp_wire_now(R.wire), what, op);
    for (int k = 0; k < 2; k++) {
        et_stack *st = k ? R.st2 : R.st;
        for (uint32_t i = 0; st && i < st->cfg.max_conns; i++)
            if (!efvitcp_is_closed(&st->conns[i]))
                fprintf(stderr, " %s#%u %s", k ? "client" : "", i,
                        efvitcp_state_name(st->conns[i].state));
    }
    fprintf(stderr, "\n");
}

#ifdef FZ_EFVI
/* NIC faults on the emulated port, at this instant. */
static void op_nic(rd *r, uint8_t op)
{
    efvi_emu_nic *nic = efvi_emu_nic_find(R.wire, "stack");
    if (!nic) fail("the emulated port is gone", NULL);
    /* Knob 0x20 with bit 2 of the opcode: the reset that reports the events already queued
       before it (frames the engine may hold, or the link's ready ring), and a driver that
       refuses CTPIO to the next VIs (a restart falls back to DMA). Bit 2 only under the knob, so
       that the inputs of regress/ keep the faults they were found with. */
    bool more = (R.knobs & 0x20) && (op & 4);
    switch (op % 4) {
    case 0:
        if (more)
            efvi_emu_reset_after_events(nic);
        else
            efvi_emu_reset(nic);
        break;
    case 1:
        efvi_emu_tx_error(nic);
        break;
    default: {
        efvi_emu_faults f;
        memset(&f, 0, sizeof(f));
        uint8_t b = u8(r);
        f.evq_oflow = b & 3;
        f.rx_discard = (b & 4) ? 0.25 : 0;
        f.rx_starve = b & 8;
        f.tx_stall = b & 16;
        f.ctpio_fail = (b & 32) ? 0.5 : 0;
        /* With knob 0x20: a full filter table (flows kept unsteered, retried) and a driver out
           of VIs (the next restarts fail and the link waits, down). A knob, not two more bits of
           b alone, so that the inputs of regress/ keep the faults they were found with. */
        if (R.knobs & 0x20) {
            f.ip_filter_fail = b & 64;
            f.vi_alloc_fail = (b & 128) ? 2 : 0;
            f.ctpio_refuse = more;
        }
        /* Not ctpio_poison: the truncated copy it puts on the wire is for a receiving NIC to
           discard, and the peer here is no NIC. */
        efvi_emu_set_faults(nic, &f);
        break;
    }
    }
    settle();
}
#endif

static void step(rd *r, fz_mode mode)
{
    uint8_t op = u8(r);
#ifdef FZ_EFVI
    if (op >= 0xf0) {
        trace("nic", op);
        op_nic(r, op);
        return;
    }
#endif
    op %= mode == FZ_FRAMES ? 6u : 15u;
    trace("op", op);
    switch (op) {
    case 0:
        if (mode == FZ_PAIR)
            op_inject(r);
        else
            op_segment(r);
        break;
    case 1:
        op_raw(r);
        break;
    case 2:
        op_mangled(r);
        break;
    case 3:
        op_arp(r);
        break;
    case 4:
        op_time(r);
        break;
    case 5:
        op_flow(r);
        break;
    default:
        op_api(r, op);
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures: a real handshake into each state, for the frames target                          */
/* ------------------------------------------------------------------------------------------ */

static void peer_seg(flow *fl, uint8_t flags, uint32_t len)
{
    uint8_t o[40], f[FRAME_MAX];
    uint32_t ol = 0;
    if (flags & ET_TCP_SYN) {
        static const uint8_t syn[12] = {ET_TCPOPT_MSS,       4, 5, 0xb4,          ET_TCPOPT_NOP,
                                        ET_TCPOPT_WS,        3, 2, ET_TCPOPT_NOP, ET_TCPOPT_NOP,
                                        ET_TCPOPT_SACK_PERM, 2};
        memcpy(o, syn, sizeof(syn));
        ol = 12 + ts_opt(o + 12, fl, ++fl->p_ts);
    } else if (fl->ts) {
        ol = ts_opt(o, fl, ++fl->p_ts);
    }
    uint32_t n =
        build(f, fl, flags, fl->p_nxt, (flags & ET_TCP_ACK) ? fl->stk_max : 0, 65535, o, ol, len);
    fl->p_nxt += len + !!(flags & ET_TCP_SYN) + !!(flags & ET_TCP_FIN);
    send_frame(f, n);
    settle();
}

static efvitcp_conn *first_conn(void)
{
    efvitcp_conn *live[FZ_IDS];
    return live_conns(live) ? live[0] : NULL;
}

static void fixture(uint8_t k)
{
    flow *fl = &R.fl[0];
    efvitcp_conn *c;
    if (R.cli) {
        /* 0 SYN_SENT, 1 ESTABLISHED, 2 WAIT_ARP (no ARP answers), 3 connection refused */
        if (k == 2) R.arp_auto = false;
        efvitcp_client_connect(R.cli, PEER_IP, fl->pport, fl->sport, NULL);
        settle();
        if (k == 1) {
            peer_seg(fl, ET_TCP_SYN | ET_TCP_ACK, 0);
        } else if (k == 3) {
            peer_seg(fl, ET_TCP_RST | ET_TCP_ACK, 0);
        }
        return;
    }
    /* 0 LISTEN, 1 SYN_RECEIVED, 2 ESTABLISHED, 3 FIN_WAIT_1, 4 FIN_WAIT_2, 5 CLOSE_WAIT,
       6 LAST_ACK, 7 CLOSING, 8 TIME_WAIT, 9 ESTABLISHED with data both ways, unacked and out of
       order */
    if (k == 0) return;
    peer_seg(fl, ET_TCP_SYN, 0);
    if (k == 1) return;
    peer_seg(fl, ET_TCP_ACK, 0);
    if (!(c = first_conn())) return;
    switch (k) {
    case 3:
    case 4:
    case 7:
    case 8:
        efvitcp_send_fin(c);
        settle();
        if (k == 4 || k == 8) peer_seg(fl, ET_TCP_ACK, 0);
        if (k == 7) {
            fl->stk_max--; /* the peer's FIN crosses ours */
            peer_seg(fl, ET_TCP_FIN | ET_TCP_ACK, 0);
        }
        if (k == 8) peer_seg(fl, ET_TCP_FIN | ET_TCP_ACK, 0);
        break;
    case 5:
    case 6:
        peer_seg(fl, ET_TCP_FIN | ET_TCP_ACK, 0);
        if (k == 6) {
            efvitcp_send_fin(c);
            settle();
        }
        break;
    case 9:
        do_send(c, 3000, false);
        settle();
        peer_seg(fl, ET_TCP_ACK | ET_TCP_PSH, 100);
        fl->p_nxt += 500; /* a hole */
        peer_seg(fl, ET_TCP_ACK, 200);
        fl->p_nxt -= 700; /* back to the hole */
        break;
    default:
        break;
    }
}

void fz_run(const uint8_t *data, size_t size, fz_mode mode)
{
    rd r = {data, size};
    uint8_t k = u8(&r);
    bool server = !(k & 0x80);
    uint8_t state = (uint8_t)(k & 0x7f) % (server ? 10u : 4u);
    if (mode == FZ_PAIR) server = true;
    rig_new(&r, server, mode != FZ_FRAMES || state != 2, mode == FZ_PAIR,
            mode == FZ_FRAMES ? 0 : k & 0x7f);
    if (mode == FZ_FRAMES) fixture(state);
    trace("start", state);
    while (r.n && !R.stop) step(&r, mode);
    trace("end", 0);
    if (trace_on()) {
        et_wire_stats ws;
        et_wire_get_stats(R.wire, &ws);
        fprintf(stderr, "  wire: sent %llu delivered %llu refused %llu lost %llu\n",
                (unsigned long long)ws.sent, (unsigned long long)ws.delivered,
                (unsigned long long)ws.fault_tx_refused,
                (unsigned long long)(ws.fault_loss + ws.drop_no_slot + ws.drop_rx_full));
    }
    rig_finish();
}
