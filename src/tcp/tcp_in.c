/*
 * TCP input, following the event processing of RFC 9293 §3.10.7 state by state, with the
 * hardening of RFC 5961 (RST, SYN and ACK acceptability) and RFC 7323 (PAWS).
 */
#include <arpa/inet.h>
#include <string.h>

#include "tcp/stack.h"

#define CHALLENGE_ACKS_PER_SEC 10
#define OOW_ACK_INTERVAL_NS    500000000ull /* as Linux's tcp_invalid_ratelimit */

static inline uint32_t seg_space(const et_tcp_seg *s)
{
    return s->len + ((s->flags & ET_TCP_SYN) ? 1 : 0) + ((s->flags & ET_TCP_FIN) ? 1 : 0);
}

/* RFC 5961 §7: challenge ACKs are rate limited per connection (never globally: CVE-2016-5696).
   Takes one ACK from the budget of the current second; false when it is spent. */
static bool ack_budget(et_conn *c)
{
    et_stack *st = c->st;
    if (st->now_ns - c->chal_ns >= 1000000000ull) {
        c->chal_ns = st->now_ns;
        c->chal_count = 0;
    }
    if (c->chal_count >= CHALLENGE_ACKS_PER_SEC) return false;
    c->chal_count++;
    return true;
}

static void challenge_ack(et_conn *c)
{
    if (!ack_budget(c)) return;
    c->st->stats.challenge_acks++;
    et_send_ack(c);
}

/* Options of a SYN or SYN-ACK decide MSS, window scaling and timestamps for the connection. */
static void apply_syn_options(et_conn *c, const et_tcp_seg *s)
{
    et_stack *st = c->st;
    c->ws_ok = c->ws_ok && s->opt.has_ws;
    c->snd_wscale = c->ws_ok ? (s->opt.ws > 14 ? 14 : s->opt.ws) : 0; /* RFC 7323 §2.3 */
    if (!c->ws_ok) c->rcv_wscale = 0;
    c->ts_ok = c->ts_ok && s->opt.has_ts;
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
    et_cc_init(&c->cc, st->cfg.cc, c->send_mss);
}

/* The peer's window grew: segments capped at the largest window it ever offered
   (RFC 9293 §3.8.6.2.1 uses Max(SND.WND) for the same purpose). */
static void set_snd_wnd(et_conn *c, uint32_t wnd)
{
    c->snd_wnd = wnd;
    if (wnd > c->max_snd_wnd) c->max_snd_wnd = wnd;
}

static void report_established(et_conn *c)
{
    et_stack *st = c->st;
    c->state = EFVITCP_ESTABLISHED;
    c->user_knows = true;
    /* Segments never exceed the largest window the peer offered so far, or they could never
       fit; they only grow when it grows (seg_cap follows max_snd_wnd below). */
    if (c->max_snd_wnd && c->max_snd_wnd < c->seg_cap) c->seg_cap = c->max_snd_wnd;
    if (c->active_open)
        ; /* counted at connect */
    else
        st->stats.conns_accepted++;
    et_arm_keepalive(c);
    if (st->h->on_established) st->h->on_established(st->hctx, c);
}

/* RFC 9293 §3.10.7.2: a segment for a listening port. */
static void listen_input(et_stack *st, const et_tcp_seg *s, uint32_t min_iss)
{
    if (s->flags & ET_TCP_RST) return;
    if (s->flags & ET_TCP_ACK) {
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        et_send_rst_reply(st, s);
        return;
    }
    if (!(s->flags & ET_TCP_SYN)) {
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        return;
    }
    if (!st->free_conns) {
        /* Like a full backlog: drop silently so that the peer retries later. */
        st->stats.drops[EFVITCP_DROP_LISTEN_FULL]++;
        return;
    }
    if (st->h->allow_new_connection) {
        struct sockaddr_in peer = {.sin_family = AF_INET};
        peer.sin_addr.s_addr = htonl(s->saddr);
        peer.sin_port = htons(s->sport);
        if (!st->h->allow_new_connection(st->hctx, &peer, s->dport)) {
            st->stats.drops[EFVITCP_DROP_REFUSED]++;
            et_send_rst_reply(st, s);
            return;
        }
    }
    et_conn *c = et_conn_alloc(st);
    c->remote_ip = s->saddr;
    c->remote_port = s->sport;
    c->local_port = s->dport;
    c->next_hop = s->saddr;
    memcpy(c->remote_mac, s->src_mac, 6);
    et_ct_insert(&st->table, et_ct_key(s->saddr, s->sport, s->dport), c->id);
    uint32_t iss = et_conn_isn(st, s->saddr, s->sport, s->dport);
    if (min_iss && seq_lt(iss, min_iss)) iss = min_iss; /* RFC 1122 §4.2.2.13 */
    et_conn_init_seq(c, iss);
    c->irs = s->seq;
    c->rcv_nxt = s->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    apply_syn_options(c, s);
    set_snd_wnd(c, s->window); /* never scaled in a SYN (RFC 7323 §2.2) */
    c->snd_wl1 = s->seq;
    c->snd_wl2 = iss;
    c->state = EFVITCP_SYN_RECEIVED;
    c->segs_in++;
    /* Data on the SYN is not acknowledged: the peer sends it again after the handshake. */
    et_output_syn(c);
}

/* Acknowledgment of the SYN: SND.UNA moves past the ISS. */
static void syn_acked(et_conn *c, uint32_t ack)
{
    et_seg *s = et_seg_at(c, 0);
    /* sent_ns is 1 for a segment sent at time 0 (0 means unsent): never a negative RTT */
    if (!s->retx && s->sent_ns)
        et_rtt_sample(c, c->st->now_ns > s->sent_ns ? c->st->now_ns - s->sent_ns : 0);
    c->snd_una = ack;
    c->sr_una = 1;
    c->retries = 0;
    c->retx_mode = ET_RETX_NONE;
    et_wheel_cancel(&c->st->wheel, &c->t_retx);
}

/* RFC 9293 §3.10.7.3: SYN-SENT. */
static void syn_sent_input(et_conn *c, const et_tcp_seg *s)
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
    set_snd_wnd(c, s->window);
    c->snd_wl1 = s->seq;
    c->snd_wl2 = has_ack ? s->ack : c->iss;
    if (has_ack) {
        syn_acked(c, s->ack);
        uint32_t gen = c->gen;
        report_established(c);
        if (c->gen != gen) return;
        et_output(c);
        if (c->last_ack_sent != c->rcv_nxt) et_send_ack(c);
    } else {
        /* Simultaneous open (RFC 9293 §3.5 figure 8): our SYN goes again as a SYN-ACK. */
        c->state = EFVITCP_SYN_RECEIVED;
        et_retransmit(c, 0);
    }
}

/* New data acknowledged (SND.UNA < SEG.ACK <= SND.MAX). Returns true if send slots were freed. */
static bool ack_new_data(et_conn *c, uint32_t ack)
{
    et_stack *st = c->st;
    uint32_t acked = ack - c->snd_una;
    uint32_t freed = 0;
    uint64_t rtt = 0;
    bool rtt_ok = false;
    while (c->sr_una != c->sr_end) {
        et_seg *s = et_seg_at(c, c->sr_una);
        if (seq_gt(et_seg_end(s), ack)) break;
        /* Karn's algorithm (RFC 6298 §3): only segments sent once give samples. */
        if (!s->retx && s->sent_ns) {
            rtt = st->now_ns > s->sent_ns ? st->now_ns - s->sent_ns : 0;
            rtt_ok = true;
        }
        c->sr_una++;
        freed++;
    }
    if (rtt_ok) et_rtt_sample(c, rtt);
    uint32_t flight_before = c->snd_nxt - c->snd_una;
    c->snd_una = ack;
    if (seq_gt(ack, c->snd_nxt)) c->snd_nxt = ack; /* data sent before a go-back-N rewind */
    if ((int32_t)(c->sr_nxt - c->sr_una) < 0) c->sr_nxt = c->sr_una;
    c->retries = 0;
    c->dupacks = 0;
    if (c->in_recovery) {
        if (seq_ge(ack, c->recover)) {
            /* RFC 6582 §3.2 step 3: full acknowledgment. */
            c->in_recovery = false;
            et_cc_on_recovery_exit(&c->cc, c->snd_nxt - c->snd_una);
        } else {
            /* Step 5: partial acknowledgment: resend the next hole, deflate the window. */
            et_retransmit_head(c);
            et_cc_on_partial_ack(&c->cc, acked);
        }
    } else if (c->cc.cwnd < c->snd_wnd || flight_before >= c->cc.cwnd / 2) {
        /* RFC 7661 spirit: grow only when the window was actually used. */
        et_cc_on_ack(&c->cc, acked, c->srtt_ns, st->now_ns);
    }
    if (c->snd_una == c->snd_nxt) {
        /* Nothing sent is outstanding: output decides between sending, idle and persist. The
           timer stays armed and fires as a no-op in mode NONE unless the next segment sent
           postpones it first: in a ping-pong it is never unlinked. */
        c->retx_mode = ET_RETX_NONE;
    } else {
        c->retx_mode = ET_RETX_RTO;
        et_arm_retx_timer(c); /* RFC 6298 §5.3 */
    }
    return freed != 0;
}

/* RFC 5681 §3.2 duplicate ACK handling with RFC 6582 NewReno recovery. */
static void dup_ack(et_conn *c)
{
    et_stack *st = c->st;
    if (++c->dupacks == 3 && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1)) {
        c->in_recovery = true;
        c->recover = c->snd_max;
        et_cc_on_fast_loss(&c->cc, c->snd_nxt - c->snd_una, st->now_ns);
        st->stats.fast_retransmits++;
        et_retransmit_head(c);
        c->retx_mode = ET_RETX_RTO;
        et_arm_retx_timer(c);
    } else if (c->dupacks > 3 && c->in_recovery) {
        et_cc_on_dupack(&c->cc); /* step 4: a segment left the network */
    }
}

/* Our FIN is acknowledged when everything up to queued_end is. */
static bool our_fin_acked(const et_conn *c)
{
    return c->fin_queued && !c->fin_pending && c->snd_una == c->queued_end;
}

/* In-order FIN: RFC 9293 §3.10.7.4 eighth step. Returns false if the connection was freed. */
static bool fin_input(et_conn *c)
{
    et_stack *st = c->st;
    c->rcv_nxt++;
    c->fin_rcvd = true;
    c->ack_now = true;
    uint8_t prev = c->state;
    if (prev == EFVITCP_ESTABLISHED)
        c->state = EFVITCP_CLOSE_WAIT;
    else if (prev == EFVITCP_FIN_WAIT_1)
        c->state = our_fin_acked(c) ? EFVITCP_TIME_WAIT : EFVITCP_CLOSING;
    else if (prev == EFVITCP_FIN_WAIT_2)
        c->state = EFVITCP_TIME_WAIT;
    uint32_t gen = c->gen;
    if (st->h->on_fin) {
        const uint8_t *p;
        uint32_t n = et_rcv_unread(c, &p);
        st->h->on_fin(st->hctx, c, p, n);
        if (c->gen != gen) return false;
    }
    if (c->state == EFVITCP_TIME_WAIT) {
        et_send_ack(c);
        et_conn_enter_time_wait(c);
        return false;
    }
    return true;
}

/* RFC 9293 §3.10.7.4: SYN-RECEIVED and every synchronised state. */
static void synced_input(et_conn *c, const et_tcp_seg *s_in)
{
    et_stack *st = c->st;
    et_tcp_seg seg = *s_in;
    et_tcp_seg *s = &seg;
    c->segs_in++;
    c->last_rx_ns = st->now_ns;
    c->ka_probes = 0;

    /* A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost. */
    if (c->state == EFVITCP_SYN_RECEIVED && (s->flags & ET_TCP_SYN) && !(s->flags & ET_TCP_ACK) &&
        s->seq == c->irs) {
        et_retransmit(c, 0);
        return;
    }
    /* Simultaneous open (RFC 9293 §3.5 figure 8, line 6): the peer's SYN-ACK repeats the SYN we
       already took and acknowledges ours. Its SYN octet lies below RCV.NXT, so the checks below
       would drop it and leave us in SYN-RECEIVED until an RTO; the SYN is old news, the rest is
       the ACK that completes the handshake (Linux does the same). */
    if (c->state == EFVITCP_SYN_RECEIVED && c->active_open && (s->flags & ET_TCP_SYN) &&
        (s->flags & ET_TCP_ACK) && s->seq == c->irs && s->ack == c->iss + 1) {
        s->seq++;
        s->flags &= (uint8_t)~ET_TCP_SYN;
    }

    /* RFC 7323 §3.2 and §5.3: once timestamps are on, a non-RST segment without one is dropped,
       and PAWS rejects an old TSval (unless ts_recent is more than 24 days idle, §5.5). */
    if (c->ts_ok && !(s->flags & ET_TCP_RST)) {
        if (!s->opt.has_ts) {
            st->stats.drops[EFVITCP_DROP_PAWS]++;
            return;
        }
        if ((int32_t)(s->opt.tsval - c->ts_recent) < 0 &&
            st->now_ns - c->ts_recent_ns < 24ull * 86400 * 1000000000ull) {
            st->stats.drops[EFVITCP_DROP_PAWS]++;
            et_send_ack(c);
            return;
        }
    }

    /* First: sequence number acceptability (RFC 9293 §3.10.7.4 table). */
    uint32_t space = seg_space(s);
    uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    bool ok;
    if (space == 0)
        ok = wnd == 0 ? s->seq == c->rcv_nxt
                      : seq_ge(s->seq, c->rcv_nxt) && seq_lt(s->seq, c->rcv_nxt + wnd);
    else /* RFC 9293's two tests (first or last octet in the window), widened to any overlap:
            a retransmission that starts below RCV.NXT and ends past the window passes neither,
            and a sender that never splits segments would stall (as Linux's tcp_sequence). */
        ok = wnd != 0 && seq_lt(s->seq, c->rcv_nxt + wnd) && seq_gt(s->seq + space, c->rcv_nxt);
    if (!ok && space == 0 && seq_ge(s->seq, c->last_ack_sent) && seq_lt(s->seq, c->rcv_nxt)) {
        /* A bare ACK the peer sent before it could learn of bytes we took and have not
           acknowledged yet (part of a window probe beyond its idea of our window): its
           acknowledgment is current, and dropping it costs a spurious timeout. Linux's
           tcp_sequence() accepts from RCV.WUP, our last_ack_sent, for the same reason. */
        ok = true;
    }
    if (!ok && wnd == 0 && s->seq == c->rcv_nxt && !(s->flags & ET_TCP_RST)) {
        /* Zero window: still take ACKs and window updates, drop the text (§3.10.7.4). */
        s->len = 0;
        s->flags &= (uint8_t)~ET_TCP_FIN;
        c->ack_now = true; /* answer the probe, or the peer's persist timer gives up */
        ok = true;
    }
    if (!ok) {
        if (!(s->flags & ET_TCP_RST)) {
            st->stats.drops[EFVITCP_DROP_OUT_OF_WINDOW]++;
            /* Old data gets our ACK at once (ours was lost). An old bare ACK answered by an ACK
               that the peer finds old in turn is an endless ACK loop, and a burst of answers
               reads as duplicate ACKs there, so those get one answer per interval (as Linux's
               tcp_oow_rate_limited). */
            /* Keepalives and zero-window probes (seq RCV.NXT - 1, no data) are always answered:
               our answer carries a current sequence number, so it cannot start a loop. */
            if (space || s->seq == c->rcv_nxt - 1 || c->oow_ack_ns == 0 ||
                st->now_ns - c->oow_ack_ns >= OOW_ACK_INTERVAL_NS) {
                if (!space) c->oow_ack_ns = st->now_ns ? st->now_ns : 1;
                et_send_ack(c);
            }
        }
        return;
    }

    /* Second: RST (RFC 5961 §3.2): exact match resets, in-window gets a challenge ACK. */
    if (s->flags & ET_TCP_RST) {
        if (s->seq != c->rcv_nxt) {
            challenge_ack(c);
            return;
        }
        if (c->state == EFVITCP_SYN_RECEIVED && !c->active_open) {
            et_conn_free(c); /* back to LISTEN: the user never saw it */
            return;
        }
        st->stats.conns_reset++;
        if (c->state == EFVITCP_SYN_RECEIVED)
            et_conn_finish(c, st->h->on_connection_refused);
        else
            et_conn_finish(c, st->h->on_reset);
        return;
    }

    /* Fourth: SYN in a synchronised state (RFC 5961 §4.2): challenge ACK. */
    if (s->flags & ET_TCP_SYN) {
        challenge_ack(c);
        return;
    }

    /* Fifth: the ACK field. */
    if (!(s->flags & ET_TCP_ACK)) return;
    if (c->state == EFVITCP_SYN_RECEIVED) {
        if (!seq_gt(s->ack, c->snd_una) || seq_gt(s->ack, c->snd_max)) {
            st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
            et_send_rst_reply(st, s);
            return;
        }
        syn_acked(c, c->iss + 1);
        set_snd_wnd(c, (uint32_t)s->window << c->snd_wscale);
        c->snd_wl1 = s->seq;
        c->snd_wl2 = s->ack;
        uint32_t gen = c->gen;
        report_established(c);
        if (c->gen != gen) return;
    }
    /* RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.MAX]. */
    if (seq_gt(s->ack, c->snd_max)) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        et_send_ack(c);
        return;
    }
    if (seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
        st->stats.drops[EFVITCP_DROP_BAD_ACK]++;
        challenge_ack(c);
        return;
    }
    /* RFC 7323 §4.3: TS.Recent follows the segment that covers Last.ACK.sent. */
    if (c->ts_ok && seq_le(s->seq, c->last_ack_sent) &&
        (int32_t)(s->opt.tsval - c->ts_recent) >= 0) {
        c->ts_recent = s->opt.tsval;
        c->ts_recent_ns = st->now_ns;
    }

    bool freed = false;
    uint32_t old_wnd = c->snd_wnd;
    uint32_t new_wnd = (uint32_t)s->window << c->snd_wscale;
    if (seq_gt(s->ack, c->snd_una)) {
        uint32_t advance = s->ack - c->snd_una;
        freed = ack_new_data(c, s->ack);
        /* SND.WND counts from SND.UNA: keep the right edge where the peer put it until a
           window update below moves it (as BSD's snd_wnd -= acked). Otherwise an ACK that
           fails the SND.WL1/WL2 test (an older window probe carrying a newer ACK) would move
           the edge past the peer's buffer. */
        c->snd_wnd = c->snd_wnd > advance ? c->snd_wnd - advance : 0;
    } else if (s->ack == c->snd_una && s->len == 0 && !(s->flags & ET_TCP_FIN) &&
               new_wnd == c->snd_wnd && c->snd_una != c->snd_max &&
               c->retx_mode != ET_RETX_PERSIST) {
        /* RFC 5681 §2 duplicate ACK; answers to window probes are not. */
        dup_ack(c);
    }
    /* Window update (RFC 9293 §3.10.7.4, SND.WL1/WL2 rule). */
    if (seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_le(c->snd_wl2, s->ack))) {
        set_snd_wnd(c, new_wnd);
        c->snd_wl1 = s->seq;
        c->snd_wl2 = s->ack;
        if (c->max_snd_wnd > c->seg_cap && c->seg_cap < c->send_mss) {
            uint32_t cap = st->slot_payload - et_conn_optlen(c);
            uint32_t m = c->send_mss < cap ? c->send_mss : cap;
            c->seg_cap = c->max_snd_wnd < m ? c->max_snd_wnd : m;
        }
    }
    if (c->retx_mode == ET_RETX_PERSIST) {
        /* The peer answered: probes are not failing (a slow reader is never reset). */
        c->retries = 0;
        if (c->snd_wnd > old_wnd || freed) {
            c->retx_mode = ET_RETX_NONE;
            et_wheel_cancel(&st->wheel, &c->t_retx);
        }
    }
    if (freed && c->fin_pending) et_queue_fin(c);
    /* MSG_MORE-like corking ends when everything sent has been acknowledged. */
    if (c->tail_open && c->snd_una == c->snd_nxt) c->tail_open = false;

    switch (c->state) {
    case EFVITCP_FIN_WAIT_1:
        if (our_fin_acked(c)) c->state = EFVITCP_FIN_WAIT_2;
        break;
    case EFVITCP_CLOSING:
        if (our_fin_acked(c)) {
            et_conn_enter_time_wait(c);
            return;
        }
        break;
    case EFVITCP_LAST_ACK:
        if (our_fin_acked(c)) {
            st->stats.conns_closed++;
            et_conn_finish(c, st->h->on_closed);
            return;
        }
        break;
    default:
        break;
    }

    /* Seventh: the text. */
    uint32_t gen = c->gen;
    bool fin = s->flags & ET_TCP_FIN;
    bool can_rcv = c->state == EFVITCP_ESTABLISHED || c->state == EFVITCP_FIN_WAIT_1 ||
                   c->state == EFVITCP_FIN_WAIT_2;
    if (s->len && can_rcv && !c->fin_rcvd) {
        const uint8_t *p = s->payload;
        uint32_t seq = s->seq, len = s->len;
        if (seq_lt(seq, c->rcv_nxt)) { /* already received part */
            uint32_t skip = c->rcv_nxt - seq;
            p += skip;
            len -= skip;
            seq = c->rcv_nxt;
        }
        if (seq_gt(seq + len, c->rcv_nxt + wnd)) { /* beyond the window: trim, FIN too */
            len = c->rcv_nxt + wnd - seq;
            fin = false;
        }
        if (len) {
            if (!et_rcv_data(c, seq, p, len)) return;
            if (c->gen != gen) return;
        }
    } else if (s->len) {
        /* Data after the peer's FIN, or in a state that takes none: just ACK it. */
        c->ack_now = true;
        fin = false;
    }

    /* Eighth: FIN in order, or a FIN remembered from beyond a hole that the data just filled. */
    if (c->ooo_fin && seq_gt(c->rcv_nxt, c->ooo_fin_seq))
        c->ooo_fin = false; /* data past the peer's own FIN: trust its retransmission instead */
    bool fin_reached = c->ooo_fin && c->rcv_nxt == c->ooo_fin_seq;
    if (can_rcv && !c->fin_rcvd && ((fin && s->seq + s->len == c->rcv_nxt) || fin_reached)) {
        c->ooo_fin = false;
        if (!fin_input(c)) return;
    } else if (fin && c->fin_rcvd && s->seq + s->len + 1 == c->rcv_nxt) {
        c->ack_now = true; /* a retransmitted FIN: our ACK was lost */
    } else if (fin && can_rcv && !c->fin_rcvd) {
        /* A FIN beyond a hole: duplicate ACK at once (RFC 5681 §4.2), and remember it (RFC 9293
           §3.10.7.4 lets a receiver keep out-of-order segments), so that filling the hole
           closes without waiting for the peer to send the FIN again after an RTO. */
        c->ack_now = true;
        c->ooo_fin = true;
        c->ooo_fin_seq = s->seq + s->len;
    }

    if (freed && st->h->on_more_sendable && et_conn_sendable(c)) {
        st->h->on_more_sendable(st->hctx, c);
        if (c->gen != gen) return;
    }
    et_output(c);
    if (c->ack_now) {
        et_send_ack(c);
    } else if (c->rcv_nxt != c->last_ack_sent) {
        /* RFC 5681 §4.2: at least every second full-sized segment, whose payload is the MSS
           less the timestamp option (else two full segments never trigger it). */
        uint32_t full = c->rcv_mss - et_conn_optlen(c);
        /* Nor while the sender cannot send a full segment until it hears from us: with a
           receive buffer below two segments the rule above never fires, and each segment would
           wait for the timer. */
        bool blocked = seq_lt(c->rcv_adv, c->rcv_nxt + full);
        if (st->cfg.delayed_ack_us == 0 || c->rcv_nxt - c->last_ack_sent >= 2 * full || blocked)
            et_send_ack(c);
        else
            et_arm_delack(c);
    }
}

void et_tcp_input(et_stack *st, const et_tcp_seg *s)
{
    st->stats.segs_in++;
    uint8_t f = s->flags;
    if (((f & ET_TCP_SYN) && (f & (ET_TCP_FIN | ET_TCP_RST))) ||
        !(f & (ET_TCP_SYN | ET_TCP_ACK | ET_TCP_RST)) || s->sport == 0 || s->dport == 0) {
        st->stats.drops[EFVITCP_DROP_BAD_FLAGS]++;
        return;
    }
    uint32_t v = et_ct_find(&st->table, et_ct_key(s->saddr, s->sport, s->dport));
    if (v == UINT32_MAX) {
        if (et_stack_is_listening(st, s->dport)) {
            listen_input(st, s, 0);
        } else {
            st->stats.drops[EFVITCP_DROP_NO_CONN]++;
            et_send_rst_reply(st, s);
        }
        return;
    }
    if (v & ET_TW_FLAG) {
        uint32_t idx = v & ~ET_TW_FLAG;
        et_tw *tw = et_tw_get(st, idx);
        if ((f & ET_TCP_SYN) && !(f & ET_TCP_ACK) && et_stack_is_listening(st, s->dport)) {
            /* RFC 6191 (timestamps) / RFC 1122 §4.2.2.13 (sequence): a new incarnation may
               reuse the tuple if it is provably newer than the old one. */
            bool newer = (tw->ts_ok && s->opt.has_ts) ? (int32_t)(s->opt.tsval - tw->ts_recent) > 0
                                                      : seq_gt(s->seq, tw->rcv_nxt);
            if (newer) {
                uint32_t min_iss = tw->snd_nxt + 65536;
                et_tw_remove(st, idx);
                st->stats.time_wait_reused++;
                listen_input(st, s, min_iss);
                return;
            }
        }
        et_tw_input(st, idx, s);
        return;
    }
    et_conn *c = &st->conns[v];
    switch (c->state) {
    case EFVITCP_SYN_SENT:
        syn_sent_input(c, s);
        break;
    case EFVITCP_WAIT_ARP:
    case EFVITCP_CLOSED:
        st->stats.drops[EFVITCP_DROP_NO_CONN]++;
        break;
    default:
        synced_input(c, s);
        break;
    }
}
