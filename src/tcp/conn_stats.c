/* What a connection reports about itself: efvitcp_conn_get_stats and the live view's rows share
   it, so that efvitcp-stat shows exactly what the API returns. */
#include "tcp/stack.h"

void et_conn_get_stats(const et_conn *c, efvitcp_conn_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->state = (efvitcp_state)c->state;
    st->segs_in = c->segs_in;
    st->segs_out = c->segs_out;
    st->bytes_in = c->bytes_in;
    st->bytes_out = c->bytes_out;
    st->retransmits = c->retransmits;
    st->srtt_us = (uint32_t)(c->srtt_ns / 1000);
    st->rttvar_us = (uint32_t)(c->rttvar_ns / 1000);
    st->rto_us = (uint32_t)(c->rto_ns / 1000);
    st->cwnd = c->cc.cwnd;
    st->ssthresh = c->cc.ssthresh;
    st->snd_wnd = c->snd_wnd;
    st->rcv_wnd = et_rcv_wnd_open(c);
    st->mss = c->send_mss;
    st->unacked = c->snd_nxt - c->snd_una;
    st->queued = c->queued_end - c->snd_nxt;
    st->recv_held = et_rcv_held(c) + et_rcv_ooo_held(c); /* as documented: out of order too */
    st->sack = c->sack_ok;
    st->sack_retransmits = c->sack_retransmits;
    st->rack_losses = c->rack_losses;
    st->tlp_probes = c->tlp_probes;
    st->spurious_undone = c->undos;
    st->rack = c->rack_ok;
}
