/*
 * Connection timers: retransmission (RFC 6298), persist (RFC 9293 §3.8.6.1), ARP resolution,
 * delayed ACK (RFC 9293 §3.8.6.3), keepalive (RFC 9293 §3.8.4) and the user's timers.
 */
#include "tcp/stack.h"

static inline uint64_t min_rto(const et_conn *c)
{
    return (uint64_t)c->st->cfg.min_rto_us * 1000;
}
static inline uint64_t max_rto(const et_conn *c)
{
    return (uint64_t)c->st->cfg.max_rto_us * 1000;
}

/* RFC 6298 §2.2-2.3, in nanoseconds. */
void et_rtt_sample(et_conn *c, uint64_t r)
{
    if (r == 0) r = 1;
    if (c->srtt_ns == 0) {
        c->srtt_ns = r;
        c->rttvar_ns = r / 2;
    } else {
        uint64_t d = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;
        c->rttvar_ns = (3 * c->rttvar_ns + d) / 4;
        c->srtt_ns = (7 * c->srtt_ns + r) / 8;
    }
    uint64_t k = 4 * c->rttvar_ns;
    uint64_t g = 1000; /* clock granularity G: the timer tick */
    uint64_t rto = c->srtt_ns + (k > g ? k : g);
    if (rto < min_rto(c)) rto = min_rto(c);
    if (rto > max_rto(c)) rto = max_rto(c);
    c->rto_ns = rto;
}

/* et_arm_retx_timer for every mode and back-off. */
void et_arm_retx_timer_slow(et_conn *c)
{
    et_stack *st = c->st;
    uint64_t t = c->rto_ns;
    if (c->retx_mode == ET_RETX_ARP) t = (uint64_t)st->cfg.initial_rto_us * 1000;
    /* RFC 9293 §3.8.6.1: probes back off even while the peer answers them (retries only
       counts the unanswered ones, toward giving up). The RTO's back-off is in rto_ns itself
       (rto_fire); ARP attempts back off from the initial RTO. */
    uint32_t n = c->retx_mode == ET_RETX_PERSIST ? c->probe_backoff
                 : c->retx_mode == ET_RETX_ARP   ? c->retries
                                                 : 0;
    for (uint32_t i = 0; i < n && t < max_rto(c); i++) t *= 2;
    if (t > max_rto(c) && c->retx_mode != ET_RETX_ARP) t = max_rto(c);
    /* Re-armed for every segment sent and usually later than before: postponing costs a
       store (the timer is re-placed once when its old time comes). */
    et_wheel_postpone(&st->wheel, &c->t_retx, st->now_ns + t);
}

void et_arm_rto(et_conn *c)
{
    c->retx_mode = ET_RETX_RTO;
    et_arm_retx_timer(c);
}

void et_arm_fin_wait2(et_conn *c)
{
    et_stack *st = c->st;
    if (!st->cfg.fin_wait2_timeout_ms) return;
    c->retx_mode = ET_RETX_FIN_WAIT2;
    /* From the peer's last sign of life: the ACK of our FIN that began FIN-WAIT-2, or what it
       sent since. */
    et_wheel_postpone(&st->wheel, &c->t_retx,
                      c->last_rx_ns + (uint64_t)st->cfg.fin_wait2_timeout_ms * 1000000);
}

void et_arm_keepalive(et_conn *c)
{
    et_stack *st = c->st;
    if (!st->cfg.keepalive_ms) return;
    uint64_t last = c->last_rx_ns > c->last_tx_ns ? c->last_rx_ns : c->last_tx_ns;
    if (last == 0) last = st->now_ns;
    uint64_t when = c->ka_probes ? st->now_ns + (uint64_t)st->cfg.keepalive_intvl_ms * 1000000
                                 : last + (uint64_t)st->cfg.keepalive_ms * 1000000;
    et_wheel_arm(&st->wheel, &c->t_keepalive, when);
}

void et_conn_set_user_timer(et_conn *c, uint32_t id, uint64_t ns)
{
    et_stack *st = c->st;
    et_stack_refresh_clock(st);
    if (ns == 0) {
        et_wheel_cancel(&st->wheel, &c->t_user[id]);
        return;
    }
    uint64_t at = st->now_ns + ns;
    if (at < st->now_ns) at = UINT64_MAX; /* saturate: never wrap into the past */
    et_wheel_arm(&st->wheel, &c->t_user[id], at);
}

void et_conn_cancel_user_timer(et_conn *c, uint32_t id)
{
    et_wheel_cancel(&c->st->wheel, &c->t_user[id]);
}

static void give_up(et_conn *c)
{
    et_stack *st = c->st;
    st->stats.conns_timeout++;
    if (et_conn_synced(c)) et_send_rst_conn(c);
    et_conn_finish(c, st->h->on_timeout);
}

/* The persist timer (RFC 9293 §3.8.6.1): the peer's window is too small for the next segment. */
static void persist_fire(et_conn *c)
{
    et_stack *st = c->st;
    if (c->sr_nxt == c->sr_end || c->snd_una != c->snd_nxt) {
        c->retx_mode = ET_RETX_NONE;
        et_output(c);
        return;
    }
    if (++c->retries > st->cfg.data_retries) {
        give_up(c);
        return;
    }
    /* A window too small for the next segment takes part of it now (SWS override); a zero
       window gets a probe that the peer must answer with its window: a bare ACK one below
       SND.UNA, as a keepalive (no data beyond the window, so nothing to retransmit or to
       mistake for loss). */
    uint32_t before = c->snd_nxt;
    if (c->snd_wnd) et_output_force(c);
    if (c->snd_nxt != before) return; /* data left: the RTO timer runs now */
    et_send_keepalive(c);
    if (c->probe_backoff < UINT8_MAX) c->probe_backoff++;
    et_arm_retx_timer(c);
}

/* The retransmission timeout (RFC 6298 §5.4-5.7): the SYN, or the oldest unacknowledged data,
   goes again with a backed-off timer; data retries end in on_timeout. */
static void rto_fire(et_conn *c)
{
    et_stack *st = c->st;
    if (c->snd_una == c->snd_nxt && c->snd_una == c->snd_max) {
        c->retx_mode = ET_RETX_NONE;
        et_output(c);
        return;
    }
    bool syn = c->state == EFVITCP_SYN_SENT || c->state == EFVITCP_SYN_RECEIVED;
    uint32_t limit = syn ? st->cfg.syn_retries : st->cfg.data_retries;
    /* A peer that shrank its window to zero under our data keeps answering: these
       retransmissions are window probes, and a slow reader is not a dead peer. Give up only
       when it has been silent for max_rto (as Linux does). */
    bool zero_wnd = !syn && c->snd_wnd == 0 && st->now_ns - c->last_rx_ns < max_rto(c);
    if (++c->retries > limit) {
        if (!zero_wnd) {
            give_up(c);
            return;
        }
        c->retries = (uint8_t)limit;
    }
    st->stats.rto_events++;
    /* RFC 6298 §5.5: back off the timer. The doubled RTO stays until a new RTT sample recomputes
       it (§5's last paragraph, Karn's algorithm; Linux does the same): an ACK of retransmitted
       data gives no sample, and collapsing the RTO on it made a path whose round trip had grown
       past the RTO (a queue filling) time out spuriously again with every segment. */
    c->rto_ns = c->rto_ns < max_rto(c) / 2 ? 2 * c->rto_ns : max_rto(c);
    c->rto_at_ns = st->now_ns;
    st->addr->retx_timeout(c);
    if (syn) {
        et_retransmit(c, 0);
        et_arm_retx_timer(c);
        return;
    }
    /* RFC 5681 §3.1 eqn 4 on the first timeout of an episode; RFC 6582 §4 sets recover. The
       window before it is kept in case the timeout proves spurious (RFC 3522, RFC 4015). */
    if (c->retries == 1) {
        et_undo_begin(c);
        if (c->in_recovery && c->sack_ok)
            et_cc_on_rto_in_recovery(&c->cc); /* one reduction per congestion event */
        else
            et_cc_on_rto(&c->cc, c->snd_max - c->snd_una, st->now_ns);
    }
    /* RFC 8985: the probe episode and the reordering timer end with the timeout. */
    c->tlp_on = false;
    c->reo_deadline_ns = 0;
    c->recover = c->snd_max;
    c->in_recovery = false;
    c->loss_on = c->sack_ok; /* until SND.UNA passes recover: output sends what RACK marks */
    c->dupacks = 0;
    if (c->sack_ok) et_sack_clear(c);
    /* RFC 6298 §5.4-5.5: the earliest unacknowledged segment goes again, with back-off
       (through retries); the rest follows go-back-N as ACKs open the congestion window. */
    c->sr_nxt = c->sr_una;
    c->snd_nxt = c->snd_una;
    c->retx_mode = ET_RETX_RTO;
    et_resend_head(c);
    et_arm_retx_timer(c);
}

/* FIN-WAIT-2 with the peer silent for fin_wait2_timeout_ms: give up. A peer still sending (a
   half-closed stream) moves the deadline. */
static void fin_wait2_fire(et_conn *c)
{
    et_stack *st = c->st;
    if (c->state != EFVITCP_FIN_WAIT_2) {
        c->retx_mode = ET_RETX_NONE;
        return;
    }
    uint64_t limit = (uint64_t)st->cfg.fin_wait2_timeout_ms * 1000000;
    if (st->now_ns - c->last_rx_ns < limit) {
        et_arm_fin_wait2(c);
        return;
    }
    give_up(c);
}

void et_arm_cork(et_conn *c)
{
    c->retx_mode = ET_RETX_CORK;
    et_wheel_arm(&c->st->wheel, &c->t_retx, c->st->now_ns + ET_CORK_NS);
}

/* The corked tail still waits and still nothing is in flight (a send would have armed the RTO or
   a probe instead): it goes now, as Linux sends a corked segment after 200 ms. */
static void cork_fire(et_conn *c)
{
    c->retx_mode = ET_RETX_NONE;
    if (!c->tail_open || c->snd_una != c->snd_max) return;
    c->tail_open = false;
    et_output(c);
}

/* One timer, t_retx, serves whichever of ARP resolution, persist and RTO the connection needs
   (retx_mode); in mode NONE it was left armed lazily and fires as a no-op. */
static void retx_fire(et_conn *c)
{
    switch (c->retx_mode) {
    case ET_RETX_ARP:
        if (c->st->addr->arp_timer(c) < 0) give_up(c);
        break;
    case ET_RETX_PERSIST:
        persist_fire(c);
        break;
    case ET_RETX_RTO:
        rto_fire(c);
        break;
    case ET_RETX_FIN_WAIT2:
        fin_wait2_fire(c);
        break;
    case ET_RETX_CORK:
        cork_fire(c);
        break;
    case ET_RETX_REO:
    case ET_RETX_TLP:
        et_rack_timer(c);
        break;
    default:
        break;
    }
}

static void keepalive_fire(et_conn *c)
{
    et_stack *st = c->st;
    if (!et_conn_synced(c)) return;
    uint64_t idle = (uint64_t)st->cfg.keepalive_ms * 1000000;
    uint64_t last = c->last_rx_ns;
    if (!c->ka_probes && st->now_ns - last < idle) {
        et_arm_keepalive(c);
        return;
    }
    if (c->ka_probes >= st->cfg.keepalive_probes) {
        give_up(c);
        return;
    }
    c->ka_probes++;
    et_send_keepalive(c);
    et_arm_keepalive(c);
}

void et_timer_fire(void *ctx, et_timer *t)
{
    et_stack *st = ctx;
    et_conn *c = &st->conns[t->arg];
    if (c->state == EFVITCP_CLOSED) return;
    switch (t->kind) {
    case ET_T_RETX:
        retx_fire(c);
        break;
    case ET_T_DELACK:
        if (!c->delack_owed) break; /* stale: its ACK left with a segment */
        c->delack_owed = false;
        if (c->rcv_nxt != c->last_ack_sent) et_send_ack(c);
        break;
    case ET_T_KEEPALIVE:
        keepalive_fire(c);
        break;
    case ET_T_USER:
        if (st->h->on_user_timeout) st->h->on_user_timeout(st->hctx, c, (uint32_t)(t - c->t_user));
        break;
    default:
        break;
    }
}
