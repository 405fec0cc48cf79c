/*
 * Opening a connection: a segment for a listening port (RFC 9293 §3.10.7.2), the SYN-SENT state
 * (§3.10.7.3), the options a SYN negotiates (RFC 9293 §3.7.1 MSS, RFC 7323 window scale and
 * timestamps) and the moment a handshake completes.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tcp/half_open.h"
#include "tcp/syn_cookie_in.h"
#include "tcp/tcp_in.h"

/* Options of a SYN or SYN-ACK decide MSS, window scaling and timestamps for the connection. */
static void apply_syn_options(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    c->ws_ok = c->ws_ok && s->opt.has_ws;
    c->snd_wscale = c->ws_ok ? (s->opt.ws > 14 ? 14 : s->opt.ws) : 0; /* RFC 7323 §2.3 */
    if (!c->ws_ok) c->rcv_wscale = 0;
    c->ts_ok = c->ts_ok && s->opt.has_ts;
    c->sack_ok = c->sack_ok && s->opt.sack_perm; /* RFC 2018 §2: only if both SYNs offer it */
    c->rack_ok = c->sack_ok && st->cfg.rack;     /* RFC 8985 §2: RACK needs SACK */
    if (c->ts_ok) {
        c->ts_recent = s->opt.tsval;
        c->ts_recent_ns = st->now_ns;
    }
    /* RFC 9293 §3.7.1: 536 when absent; a floor against hostile tiny values. */
    uint32_t mss = s->opt.has_mss ? s->opt.mss : 536;
    if (mss < ET_MIN_SND_MSS) mss = ET_MIN_SND_MSS;
    uint32_t mtu_mss = st->link->mtu - ET_IP_HLEN - ET_TCP_HLEN;
    if (mss > mtu_mss) mss = mtu_mss;
    if (st->cfg.mss && mss > st->cfg.mss) mss = st->cfg.mss;
    uint32_t optlen = c->ts_ok ? ET_TS_OPTLEN : 0;
    c->send_mss = mss - optlen;
    uint32_t cap = st->slot_payload - optlen;
    c->seg_cap = c->send_mss < cap ? c->send_mss : cap;
    et_conn_set_ack_full(c);
    et_cc_init_iw(&c->cc, st->cfg.cc, c->send_mss, st->cfg.initial_window);
}

void et_in_report_established(et_conn *c)
{
    et_stack *st = c->st;
    et_ho_remove(st, c);
    c->state = EFVITCP_ESTABLISHED;
    c->user_knows = true;
    if (c->max_snd_wnd) et_conn_seg_cap(c);
    if (c->active_open)
        ; /* counted at connect */
    else
        st->stats.conns_accepted++;
    et_arm_keepalive(c);
    if (st->h->on_established) st->h->on_established(st->hctx, c);
}

/* Acknowledgment of the SYN: SND.UNA moves past the ISS. */
void et_in_syn_acked(et_conn *c, uint32_t ack)
{
    et_seg *s = et_seg_at(c, 0);
    /* sent_ns is 1 for a segment sent at time 0 (0 means unsent): never a negative RTT */
    if (!s->retx && s->sent_ns)
        et_rtt_sample(c, c->st->now_ns > s->sent_ns ? c->st->now_ns - s->sent_ns : 0);
    c->snd_una = ack;
    if (c->sack_ok) et_sack_una_moved(c);
    et_slot_freed(c, 0);
    c->sr_una = 1;
    c->retries = 0;
    c->retx_mode = ET_RETX_NONE;
    et_wheel_cancel(&c->st->wheel, &c->t_retx);
}

bool et_in_allowed(et_stack *st, const et_tcp_seg *s)
{
    if (!st->h->allow_new_connection) return true;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    peer.sin_addr.s_addr = htonl(s->saddr);
    peer.sin_port = htons(s->sport);
    /* The callback may have unlistened the port: then no. */
    if (st->h->allow_new_connection(st->hctx, &peer, s->dport) &&
        et_stack_is_listening(st, s->dport))
        return true;
    st->stats.drops[EFVITCP_DROP_REFUSED]++;
    et_send_rst_reply(st, s);
    return false;
}

et_conn *et_in_open_passive(et_stack *st, const et_tcp_seg *syn, uint32_t iss)
{
    et_conn *c = et_conn_alloc(st);
    c->remote_ip = syn->saddr;
    c->remote_port = syn->sport;
    c->local_port = syn->dport;
    et_listen_ref_take(c);
    c->next_hop = syn->saddr;
    et_conn_set_peer_mac(c, syn->src_mac);
    et_ct_insert(&st->table, et_ct_key(syn->saddr, syn->sport, syn->dport), c->id);
    et_conn_init_seq(c, iss);
    c->irs = syn->seq;
    c->rcv_nxt = syn->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    apply_syn_options(c, syn);
    et_in_set_snd_wnd(c, syn->window); /* never scaled in a SYN (RFC 7323 §2.2) */
    c->snd_wl1 = syn->seq;
    c->snd_wl2 = iss;
    c->state = EFVITCP_SYN_RECEIVED;
    return c;
}

/* RFC 9293 §3.10.7.2: a segment for a listening port. */
uint32_t et_in_listen(et_stack *st, const et_tcp_seg *s, uint32_t reuse_tw)
{
    if (s->flags & ET_TCP_RST) return UINT32_MAX;
    if (s->flags & ET_TCP_ACK) {
        uint32_t id;
        if (et_cookie_ack(st, s, &id)) return id;
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        et_send_rst_reply(st, s);
        return UINT32_MAX;
    }
    if (!(s->flags & ET_TCP_SYN)) {
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        return UINT32_MAX;
    }
    /* RFC 1122 §4.2.2.13: a new incarnation starts above the old one's sequence space. */
    uint32_t min_iss = reuse_tw != UINT32_MAX ? et_tw_get(st, reuse_tw)->snd_nxt + 65536 : 0;
    bool cookie = et_cookie_wanted(st, s, reuse_tw != UINT32_MAX);
    if (!cookie && !et_ho_room(st)) {
        /* Like a full backlog: drop silently so that the peer retries later. */
        st->stats.drops[st->free_conns ? EFVITCP_DROP_HALF_OPEN : EFVITCP_DROP_LISTEN_FULL]++;
        return UINT32_MAX;
    }
    if (!et_in_allowed(st, s)) return UINT32_MAX;
    if (cookie) {
        et_cookie_send(st, s);
        return UINT32_MAX;
    }
    if (reuse_tw != UINT32_MAX) {
        et_tw_remove(st, reuse_tw);
        st->stats.time_wait_reused++;
    }
    uint32_t iss = et_conn_isn(st, s->saddr, s->sport, s->dport);
    if (min_iss && seq_lt(iss, min_iss)) iss = min_iss;
    et_conn *c = et_in_open_passive(st, s, iss);
    et_ho_add(st, c);
    c->segs_in++;
    /* Data on the SYN is not acknowledged: the peer sends it again after the handshake. */
    et_output_syn(c);
    return UINT32_MAX;
}

/* RFC 9293 §3.10.7.3: SYN-SENT. */
void et_in_syn_sent(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    bool has_ack = s->flags & ET_TCP_ACK;
    if (has_ack && (seq_le(s->ack, c->iss) || seq_gt(s->ack, c->snd_max))) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        if (!(s->flags & ET_TCP_RST)) et_send_rst_reply(st, s);
        return;
    }
    if (s->flags & ET_TCP_RST) {
        if (has_ack) {
            st->stats.conns_refused++;
            et_conn_finish(c, st->h->on_connection_refused);
        }
        return;
    }
    if (!(s->flags & ET_TCP_SYN)) return;
    c->segs_in++;
    c->irs = s->seq;
    c->rcv_nxt = s->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->last_ack_sent = c->irs;
    apply_syn_options(c, s);
    et_in_set_snd_wnd(c, s->window);
    c->snd_wl1 = s->seq;
    c->snd_wl2 = has_ack ? s->ack : c->iss;
    if (has_ack) {
        et_in_syn_acked(c, s->ack);
        uint32_t gen = c->gen;
        et_in_report_established(c);
        if (c->gen != gen) return;
        et_output(c);
        if (c->last_ack_sent != c->rcv_nxt) et_send_ack(c);
    } else {
        /* Simultaneous open (RFC 9293 §3.5 figure 8): our SYN goes again as a SYN-ACK. */
        c->state = EFVITCP_SYN_RECEIVED;
        et_retransmit(c, 0);
    }
}
