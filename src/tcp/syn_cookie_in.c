/*
 * SYN cookies at a listening port (syn_cookie_in.h), as Linux uses them: a SYN that finds the
 * half-open budget spent (or no free slot) is answered from no state at all, and the handshake's
 * last ACK proves the peer saw our SYN-ACK; only then does the connection take a slot, taking
 * the oldest half-open connection's if none is free (half_open.h).
 */
#include "tcp/syn_cookie_in.h"

#include <string.h>

#include "tcp/half_open.h"
#include "tcp/syn_cookie.h"
#include "tcp/tcp_in.h"

static et_cookie_tuple tuple_of(const et_stack *st, const et_tcp_seg *s)
{
    return (et_cookie_tuple){st->local_ip, s->saddr, s->dport, s->sport};
}

bool et_cookie_wanted(const et_stack *st, const et_tcp_seg *syn, bool reuses_tw)
{
    /* A reused TIME_WAIT tuple needs an ISS above the old incarnation's (RFC 1122 §4.2.2.13),
       which a cookie cannot promise: a slot or nothing, as in Linux. */
    if (st->cfg.syn_cookies == EFVITCP_SYN_COOKIES_OFF || reuses_tw) return false;
    /* Nor can it carry an MSS below its table's least: the connection would send segments
       larger than the peer takes (RFC 9293 §3.7.1), where Linux sends 536. */
    if (syn->opt.has_mss && syn->opt.mss < et_cookie_mss(0)) return false;
    /* Every slot synchronised: the ACK would find none to take (Linux drops SYNs too while the
       accept queue is full). */
    if (!st->free_conns && !st->n_half_open) return false;
    return st->cfg.syn_cookies == EFVITCP_SYN_COOKIES_ALWAYS || !et_ho_room(st);
}

void et_cookie_send(et_stack *st, const et_tcp_seg *syn)
{
    const efvitcp_config *cfg = &st->cfg;
    bool ts = cfg->timestamps && syn->opt.has_ts;
    /* Only TSval carries the window scale back: without timestamps it is not offered. */
    bool ws = ts && cfg->window_scale && syn->opt.has_ws;
    /* Nor SACK-permitted (RFC 2018 §2), as in Linux. */
    bool sack = ts && cfg->sack && syn->opt.sack_perm;
    uint32_t counter = et_cookie_counter(st->now_ns);
    et_cookie_tuple t = tuple_of(st, syn);
    uint32_t mss = syn->opt.has_mss ? syn->opt.mss : 536; /* RFC 9293 §3.7.1 */
    uint32_t iss = et_cookie_make(st->isn_key, &t, syn->seq, counter, et_cookie_mss_index(mss));
    uint32_t tsval = 0;
    if (ts) {
        /* SACK-permitted, when the SYN-ACK answers it, comes back with the ACK's TSecr. No
           ECN. */
        et_cookie_ts o = {
            .ws_ok = ws, .ws = ws ? (syn->opt.ws > 14 ? 14 : syn->opt.ws) : 0, .sack_ok = sack};
        uint32_t off = et_conn_ts_offset(st, syn->saddr, syn->sport, syn->dport);
        tsval = et_cookie_tsval(et_ts_now(st, off), &o);
    }
    if (!et_send_synack_stateless(st, syn, iss, ws, ts, sack, tsval)) return;
    st->stats.syn_cookies_sent++;
    st->cookie_sent = true;
    st->cookie_counter = counter;
}

/* The SYN the cookie stands for, as far as it kept it: the peer's ISN, the MSS from the table,
   and with timestamps the window scale and SACK-permitted from our TSval echoed in TSecr. */
static et_tcp_seg syn_of(const et_stack *st, const et_tcp_seg *ack, int mss_idx)
{
    et_tcp_seg syn = *ack;
    syn.seq = ack->seq - 1;
    syn.flags = ET_TCP_SYN;
    syn.window = 0; /* unknown: the ACK's window is taken next */
    syn.len = 0;
    memset(&syn.opt, 0, sizeof(syn.opt));
    syn.opt.has_mss = true;
    syn.opt.mss = et_cookie_mss((uint32_t)mss_idx);
    if (st->cfg.timestamps && ack->opt.has_ts) {
        et_cookie_ts o = et_cookie_ts_decode(ack->opt.tsecr);
        syn.opt.has_ts = true;
        syn.opt.tsval = ack->opt.tsval;
        syn.opt.has_ws = o.ws_ok;
        syn.opt.ws = o.ws;
        syn.opt.sack_perm = o.sack_ok;
    }
    return syn;
}

/* Our SYN-ACK left from no slot: segment 0 counts as sent, and as retransmitted so that it gives
   no RTT sample (its send time is unknown: the RTT stays unmeasured, RFC 6298 §2.1). The window
   it offered is that of an empty buffer, unscaled. */
static void synack_sent(et_conn *c)
{
    et_stack *st = c->st;
    et_seg *g = et_seg_at(c, 0);
    memset(g, 0, sizeof(*g));
    g->seq = c->iss;
    g->ctl = ET_TCP_SYN;
    g->retx = 1;
    g->sent_ns = st->now_ns ? st->now_ns : 1;
    c->sr_end = c->sr_nxt = 1;
    c->snd_nxt = c->snd_max = c->queued_end = c->iss + 1;
    c->last_ack_sent = c->rcv_nxt;
    uint32_t wnd = st->cfg.recv_buf_size;
    c->rcv_adv = c->rcv_nxt + (wnd > 65535 ? 65535 : wnd);
}

bool et_cookie_ack(et_stack *st, const et_tcp_seg *s, uint32_t *conn)
{
    *conn = UINT32_MAX;
    uint32_t counter = et_cookie_counter(st->now_ns);
    /* Checked only while cookies of ours may be out (as Linux's tcp_synq_no_recent_overflow):
       otherwise a stray ACK is answered as always, and guessing has nothing to hit. */
    if (!st->cookie_sent || counter - st->cookie_counter > 1) return false;
    if (s->flags & (ET_TCP_SYN | ET_TCP_RST)) return false;
    et_cookie_tuple t = tuple_of(st, s);
    int idx = et_cookie_check(st->isn_key, &t, s->seq - 1, s->ack - 1, counter);
    if (idx < 0) {
        st->stats.syn_cookies_rejected++;
        /* Text or FIN beyond the first octet names no cookie (SEG.SEQ - 1 is not the peer's
           ISN): most likely a later segment of a cookie connection whose first one was lost or
           overtaken. RFC 9293 §3.10.7.2 answers it with RST, which would reset that connection
           (Linux does); dropped, the peer sends its first unacknowledged octet again, which
           carries the cookie. The price, while cookies are out: a peer whose connection we
           freed without TIME_WAIT (max_time_wait 0, or evicted) retransmits its FIN until it
           times out instead of being reset. efvitcp-sim --syn-cookies, seeds 1..40 of every
           profile: 4 failures this way, 10 with RST for a FIN (a data segment and FIN that
           overtook the first segment). A bare ACK still gets the RST. */
        if (s->len || (s->flags & ET_TCP_FIN)) {
            st->stats.drops[EFVITCP_DROP_NO_CONN]++;
            return true;
        }
        return false;
    }
    /* No state kept since the SYN: the user's filter is asked again. */
    if (!et_in_allowed(st, s)) return true;
    if (!st->free_conns) {
        et_conn *old = et_ho_oldest(st);
        if (!old) {
            /* Every slot synchronised: like Linux with a full accept queue, drop; the peer
               sends again (its data, or its ACK for our data) and may find room. */
            st->stats.drops[EFVITCP_DROP_LISTEN_FULL]++;
            return true;
        }
        /* An established connection outranks a half-open one. */
        st->stats.half_open_evicted++;
        et_conn_free(old);
    }
    et_tcp_seg syn = syn_of(st, s, idx);
    et_conn *c = et_in_open_passive(st, &syn, s->ack - 1);
    synack_sent(c);
    st->stats.syn_cookies_accepted++;
    *conn = c->id;
    return true;
}
