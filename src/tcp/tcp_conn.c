/*
 * Connection life: allocation, active open, initial sequence numbers (RFC 6528), ephemeral ports
 * (RFC 6056), the terminal events and the hand-over to TIME_WAIT.
 */
#include <string.h>
#include <unistd.h>

#include "tcp/half_open.h"
#include "tcp/stack.h"

et_conn *et_conn_alloc(et_stack *st)
{
    et_conn *c = st->free_conns;
    if (!c) return NULL;
    st->free_conns = c->next_free;
    c->next_free = NULL;

    /* Reset everything but the identity and the arrays of the slot. */
    uint32_t gen = c->gen;
    et_seg *segs = c->segs;
    uint8_t *rbuf = c->rbuf;
    et_ooo *ooo = c->ooo;
    et_timer *tu = c->t_user;
    void *ud = c->user_data;
    uint32_t id = c->id;
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->id = id;
    c->seg_mask = st->send_mask;
    c->buf_base = id * st->cfg.send_slots;
    /* Every slot is free: those whose buffer the link still reads (the previous connection's
       last segments) linger. */
    for (uint32_t i = 0; i < st->cfg.send_slots; i++)
        c->n_lingering += st->tx_busy[id * st->cfg.send_slots + i];
    c->gen = gen;
    c->segs = segs;
    c->rbuf = rbuf;
    c->ooo = ooo;
    c->t_user = tu;
    c->user_data = ud;
    c->t_retx.kind = ET_T_RETX;
    c->t_retx.arg = id;
    c->t_delack.kind = ET_T_DELACK;
    c->t_delack.arg = id;
    c->t_keepalive.kind = ET_T_KEEPALIVE;
    c->t_keepalive.arg = id;
    for (uint32_t i = 0; i < st->cfg.user_timers; i++) {
        memset(&tu[i], 0, sizeof(tu[i]));
        tu[i].kind = ET_T_USER;
        tu[i].arg = id;
    }
    if (ud) memset(ud, 0, st->cfg.user_data_size);
    c->rto_ns = (uint64_t)st->cfg.initial_rto_us * 1000;
    c->rcv_wscale = st->rcv_wscale;
    c->ws_ok = st->cfg.window_scale;
    c->ts_ok = st->cfg.timestamps;
    c->sack_ok = st->cfg.sack;
    c->rcv_mss = st->adv_mss;
    et_conn_set_ack_full(c);
    st->n_conns++;
    st->stats.conns_active = st->n_conns;
    return c;
}

void et_conn_free(et_conn *c)
{
    et_stack *st = c->st;
    if (c->state == EFVITCP_CLOSED) return;
    et_ho_remove(st, c);
    et_wheel_cancel(&st->wheel, &c->t_retx);
    et_wheel_cancel(&st->wheel, &c->t_delack);
    et_wheel_cancel(&st->wheel, &c->t_keepalive);
    for (uint32_t i = 0; i < st->cfg.user_timers; i++) et_wheel_cancel(&st->wheel, &c->t_user[i]);
    uint64_t key = et_ct_key(c->remote_ip, c->remote_port, c->local_port);
    if (et_ct_find(&st->table, key) == c->id) et_ct_remove(&st->table, key);
    if (c->active_open && st->link->ops->flow_del) {
        et_flow f = {st->local_ip, c->remote_ip, c->local_port, c->remote_port};
        st->link->ops->flow_del(st->link, &f);
    }
    et_listen_ref_drop(c);
    st->addr->release(c);
    if (c->in_deferred) {
        /* The slot may be reused before the next poll runs the list, and et_conn_alloc clears
           the link: unlink it now. Not found, it is on the chain run_deferred is walking, which
           skips closed slots. */
        et_conn **p = &st->deferred;
        while (*p && *p != c) p = &(*p)->next_deferred;
        if (*p) {
            *p = c->next_deferred;
            c->in_deferred = false;
            c->next_deferred = NULL;
        }
    }
    /* Its transmit timestamp reports go with it (efvitcp_tx_timestamps on the free slot: none). */
    c->txts_n = 0;
    c->txts_lost = false;
    c->state = EFVITCP_CLOSED;
    c->gen++;
    c->next_free = st->free_conns;
    st->free_conns = c;
    st->n_conns--;
    st->stats.conns_active = st->n_conns;
}

void et_conn_abort(et_conn *c)
{
    /* In on_closed/on_reset/on_timeout a RST would hit a peer that closed cleanly (or answer
       its RST). */
    if (c->state == EFVITCP_CLOSED || c->finishing) return;
    if (et_conn_synced(c) || c->state == EFVITCP_SYN_RECEIVED) et_send_rst_conn(c);
    et_conn_free(c);
}

void et_conn_finish(et_conn *c, void (*cb)(void *, efvitcp_conn *))
{
    uint32_t gen = c->gen;
    c->finishing = true;
    if (cb && c->user_knows) cb(c->st->hctx, c);
    /* The callback may have closed the connection itself (and even reused the slot). */
    if (c->gen == gen) et_conn_free(c);
}

void et_conn_enter_time_wait(et_conn *c)
{
    et_stack *st = c->st;
    c->state = EFVITCP_TIME_WAIT;
    st->stats.conns_closed++;
    if (st->cfg.time_wait_ms && st->cfg.max_time_wait) et_tw_add(st, c);
    et_conn_finish(c, st->h->on_closed);
}

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 us clock. */
uint32_t et_conn_isn(et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
    uint32_t tuple[3] = {st->local_ip, rip, ((uint32_t)lport << 16) | rport};
    uint64_t f = et_siphash(st->isn_key, tuple, sizeof(tuple));
    return (uint32_t)(st->now_ns / 4000) + (uint32_t)f;
}

void et_conn_init_seq(et_conn *c, uint32_t iss)
{
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = iss;
    c->queued_end = iss;
    c->recover = iss;
    /* The SACK scoreboard's sequence numbers start at SND.UNA, as every later one is compared
       with it: a 0 would read as ahead of it half the time (RFC 9293 §3.4 arithmetic). */
    c->sack_high = c->rack_end = c->rack_fack = c->rack_fack_ack = c->undo_marker = iss;
    c->reo_mult = 1; /* RFC 8985 §6.2: RACK.reo_wnd_mult starts at 1 */
    c->sr_una = c->sr_nxt = c->sr_end = 0;
    c->ts_offset = et_conn_ts_offset(c->st, c->remote_ip, c->remote_port, c->local_port);
}

/* A new segment holds at most the MSS, what a slot holds beside the options, and half the
   largest window the peer ever offered (all of it if that is below 536, RFC 9293's default MSS),
   as Linux's tcp_bound_to_half_wnd; the cap grows with that window (window_update), and shrinks
   with it after a persist override (tcp_out.c, window_shrunk). A window below two segments
   otherwise takes one segment and a piece of the next: a SACK block covers only pieces, which mark
   nothing (tcp_sack.c), and every loss waited for the RTO (sim seed 88, lossy, --bulk: a receive
   buffer of 1,143 bytes against an MSS of 1,191). Half a window keeps two segments in flight, whose
   SACK and RACK find a loss of either. */
void et_conn_seg_cap(et_conn *c)
{
    uint32_t cap = c->st->slot_payload - et_conn_optlen(c);
    if (c->send_mss < cap) cap = c->send_mss;
    uint32_t w = c->max_snd_wnd > 536 ? c->max_snd_wnd / 2 : c->max_snd_wnd;
    c->seg_cap = w && w < cap ? w : cap;
    /* The cap is not monotonic in the window (all of 536 bytes, half of 600), and it shrinks
       after a persist override: an open tail (send with more=true) already holding the new cap
       takes no more, since send() fills it up to seg_cap - len, which would wrap and copy the
       request past the tail's slot. */
    if (c->tail_open && et_seg_at(c, c->sr_end - 1)->len >= c->seg_cap) c->tail_open = false;
}

/* RFC 7323 §5.4: a per-connection random offset keeps TSval from revealing the clock. A function
   of the tuple, so that a SYN cookie's TSval and the connection it becomes agree. */
uint32_t et_conn_ts_offset(const et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
    uint32_t tuple[3] = {rip, lport, rport};
    return (uint32_t)(et_siphash(st->isn_key, tuple, sizeof(tuple)) >> 32);
}

bool et_conn_port_free(const et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport)
{
    if (et_stack_is_listening(st, lport)) return false;
    return et_ct_find(&st->table, et_ct_key(rip, rport, lport)) == UINT32_MAX;
}

/* RFC 6056 §3.3.1 (algorithm 1): a random start, then the next free port. */
uint16_t et_conn_pick_port(et_stack *st, uint32_t rip, uint16_t rport)
{
    uint32_t lo = st->cfg.ephemeral_min, n = (uint32_t)st->cfg.ephemeral_max - lo + 1;
    uint32_t off = et_rng_below(&st->rng, n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(lo + (off + i) % n);
        if (et_conn_port_free(st, rip, rport, p)) return p;
    }
    return 0;
}

void et_conn_resolved(et_conn *c, const uint8_t mac[6])
{
    et_conn_set_peer_mac(c, mac);
    et_wheel_cancel(&c->st->wheel, &c->t_retx);
    c->retx_mode = ET_RETX_NONE;
    c->retries = 0;
    c->state = EFVITCP_SYN_SENT;
    et_output_syn(c);
}

const char *et_conn_connect(et_stack *st, uint32_t ip, uint16_t port, uint16_t local_port,
                            et_conn **out)
{
    if (out) *out = NULL;
    if (ip == 0 || ip == 0xffffffffu || (ip >> 28) == 14) return "invalid destination address";
    if (ip == st->local_ip) return "connecting to our own address is not supported";
    if (port == 0) return "destination port is 0";
    uint32_t next_hop = 0;
    const char *err = st->addr->route(st, ip, &next_hop);
    if (err) return err;
    if (!next_hop) return "no route to host (off-subnet and no gateway)";
    if (!st->free_conns) return "too many connections (max_conns)";
    if (local_port && !et_conn_port_free(st, ip, port, local_port))
        return "local port in use for this destination";
    int port_fd = -1;
    if ((err = st->addr->reserve_port(st, ip, port, &local_port, &port_fd))) return err;

    if (st->link->ops->flow_add) {
        /* Steer the flow before the SYN leaves so that the SYN-ACK reaches us. */
        et_flow f = {st->local_ip, ip, local_port, port};
        if (st->link->ops->flow_add(st->link, &f)) {
            if (port_fd >= 0) close(port_fd);
            return "link could not steer the flow";
        }
    }
    et_conn *c = et_conn_alloc(st);
    if (port_fd >= 0) st->port_fd[c->id] = port_fd;
    c->remote_ip = ip;
    c->remote_port = port;
    c->local_port = local_port;
    c->next_hop = next_hop;
    c->active_open = true;
    c->user_knows = true;
    et_ct_insert(&st->table, et_ct_key(ip, port, local_port), c->id);
    et_conn_init_seq(c, et_conn_isn(st, ip, port, local_port));
    st->stats.conns_opened++;
    if (out) *out = c;

    /* Resolution happens inside the state machine: the ARP timer retries and gives up through
       on_timeout, never by blocking. */
    if (st->addr->resolve(c)) {
        c->state = EFVITCP_SYN_SENT;
        et_output_syn(c);
    } else {
        c->state = EFVITCP_WAIT_ARP;
    }
    return NULL;
}
