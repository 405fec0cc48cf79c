/*
 * TCP output: segments are built in place in the link's TX buffers. Payload is copied (and
 * checksummed in the same pass) by send(); headers, ACK, window and timestamps are written at each
 * (re)transmission, so a retransmitted segment always carries the current ACK and window. The
 * headers come from the connection's template (hdr_tmpl.h), patched per segment.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net/checksum.h"
#include "tcp/stack.h"

static inline void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* NOP, NOP, SACK-permitted (RFC 2018 §2) at p; returns its length. */
static uint32_t sack_perm_opt(uint8_t *p)
{
    p[0] = ET_TCPOPT_NOP;
    p[1] = ET_TCPOPT_NOP;
    p[2] = ET_TCPOPT_SACK_PERM;
    p[3] = 2;
    return 4;
}

/* Whom a segment goes to: the peer's MAC and IPv4 address, and our port and the peer's (all in
   host order). */
typedef struct seg_peer {
    const uint8_t *mac;
    uint32_t ip;
    uint16_t lport, rport;
} seg_peer;

/*
 * The fields of a segment's headers that vary from one segment to the next. The options (optlen
 * bytes) and the payload (plen bytes) are already in place after the TCP header, and sum is their
 * ones'-complement sum. A field an initialiser leaves out is 0: no options, no payload, window 0.
 */
typedef struct seg_hdr {
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint32_t optlen, plen;
    uint64_t sum;
} seg_hdr;

/* The headers of a segment of connection c, from its template. */
static inline __attribute__((always_inline)) void write_conn_headers(et_conn *c, uint8_t *buf,
                                                                     const seg_hdr *h)
{
    if (__builtin_expect(!c->tmpl_ok, 0)) {
        et_hdr_tmpl_init(&c->tmpl, c->st->link->mac, c->remote_mac, c->st->local_ip, c->remote_ip,
                         c->local_port, c->remote_port);
        c->tmpl_ok = true;
    }
    et_hdr_tmpl_write(buf, &c->tmpl, h->seq, h->ack, h->flags, h->win, h->optlen, h->plen, h->sum);
}

/* The headers of a segment that belongs to no connection (a RST reply, a TIME_WAIT ACK): a
   template made for the occasion. */
static void write_headers(const et_stack *st, uint8_t *buf, const seg_peer *to, const seg_hdr *h)
{
    et_hdr_tmpl t;
    et_hdr_tmpl_init(&t, st->link->mac, to->mac, st->local_ip, to->ip, to->lport, to->rport);
    et_hdr_tmpl_write(buf, &t, h->seq, h->ack, h->flags, h->win, h->optlen, h->plen, h->sum);
}

/* Receiver window to advertise, with receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2): the right
   edge moves only by at least min(buffer/2, MSS), and never moves left. */
uint32_t et_rcv_window(et_conn *c)
{
    uint32_t size = c->st->cfg.recv_buf_size;
    uint32_t free_bytes = size - et_rcv_space_used(c);
    uint32_t right = c->rcv_nxt + free_bytes;
    uint32_t step = size / 2 < c->rcv_mss ? size / 2 : c->rcv_mss;
    uint32_t wnd;
    if (seq_lt(right, c->rcv_adv + step) && seq_ge(c->rcv_adv, c->rcv_nxt))
        wnd = c->rcv_adv - c->rcv_nxt; /* keep the old edge */
    else
        wnd = free_bytes;
    uint32_t max = (uint32_t)65535 << c->rcv_wscale;
    return wnd > max ? max : wnd;
}

/* The window field and the right edge it announces; rcv_adv remembers the largest edge. It
   starts at RCV.NXT when the SYN is taken (or at 0 before a SYN_SENT knows RCV.NXT), so no value
   of it means "nothing announced": 0 is a sequence number like any other. */
static uint16_t window_field(et_conn *c, bool syn)
{
    uint32_t wnd = et_rcv_window(c);
    uint32_t field;
    if (syn) /* RFC 7323 §2.2: the window of a SYN is never scaled */
        field = wnd > 65535 ? 65535 : wnd;
    else
        field = wnd >> c->rcv_wscale;
    uint32_t edge = c->rcv_nxt + (syn ? field : field << c->rcv_wscale);
    if (seq_gt(edge, c->rcv_adv)) c->rcv_adv = edge;
    return (uint16_t)field;
}

/* After any segment carrying our current ACK left. */
static void ack_sent(et_conn *c)
{
    c->last_ack_sent = c->rcv_nxt;
    c->ack_now = false;
    /* The delayed-ACK timer is left to fire as a no-op, or to be pushed back by the next
       et_arm_delack: in a ping-pong every round trip would otherwise arm and cancel it. */
    c->delack_owed = false;
}

/* After a data segment carrying our current ACK left. Its options hold timestamps alone (its
   payload sits right after them in the slot): when an ACK is owed for SACK news (RFC 2018 §4:
   SACK blocks in every ACK while islands are held; an island just changed), it stays owed, and
   the pure ACK that follows the output carries them. */
static void data_ack_sent(et_conn *c)
{
    bool owed = c->ack_now && et_sack_pending(c);
    ack_sent(c);
    c->ack_now = owed;
}

static inline __attribute__((always_inline)) bool link_tx(et_stack *st, uint32_t id, uint32_t len)
{
    if (st->link->ops->tx(st->link, id, len) != 0) return false;
    if (st->pcap) et_pcap_write(st->pcap, st->now_ns, et_link_tx_buf(st->link, id), len);
    st->tx_busy[id] = 1;
    st->stats.frames_out++;
    return true;
}

/* The options of our SYN or SYN-ACK at opt: RFC 9293 §3.7.1 MSS; RFC 7323 WS and TS, in a
   SYN-ACK only if the SYN had them. Returns their length. Out of line: once per connection. */
static __attribute__((noinline)) uint32_t syn_options(et_conn *c, uint8_t *opt)
{
    opt[0] = ET_TCPOPT_MSS;
    opt[1] = 4;
    put16(opt + 2, htons((uint16_t)c->rcv_mss));
    uint32_t optlen = 4;
    if (c->ws_ok) {
        opt[4] = ET_TCPOPT_NOP;
        opt[5] = ET_TCPOPT_WS;
        opt[6] = 3;
        opt[7] = c->rcv_wscale;
        optlen = 8;
    }
    if (c->sack_ok) optlen += sack_perm_opt(opt + optlen); /* RFC 2018 §2 */
    if (c->ts_ok) {
        et_hdr_ts_opt(opt + optlen, et_ts_now(c->st, c->ts_offset),
                      c->state == EFVITCP_SYN_SENT ? 0 : c->ts_recent);
        optlen += ET_TS_OPTLEN;
    }
    return optlen;
}

/* Builds the headers of segment idx in its slot and hands it to the link. */
static bool tx_seg(et_conn *c, uint32_t idx)
{
    et_stack *st = c->st;
    et_seg *s = et_seg_at(c, idx);
    uint32_t id = et_seg_buf_id(c, idx);
    if (st->tx_busy[id]) return false; /* the NIC still reads it: never rewrite */
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint8_t *opt = buf + ET_HDRS_LEN;
    uint32_t optlen = 0;
    uint64_t optsum = 0;
    bool syn = s->ctl & ET_TCP_SYN;
    uint8_t flags = s->ctl;
    if (c->state != EFVITCP_SYN_SENT) flags |= ET_TCP_ACK;
    if (s->len) flags |= ET_TCP_PSH;
    if (__builtin_expect(syn, 0)) {
        optlen = syn_options(c, opt);
        optsum = et_csum_fold(et_csum_add_hdr(0, opt, optlen)); /* see et_hdr_tmpl_write */
    } else if (c->ts_ok) {
        optsum = et_hdr_ts_opt(opt, et_ts_now(st, c->ts_offset), c->ts_recent);
        optlen = ET_TS_OPTLEN;
    }
    uint16_t win = window_field(c, syn);
    uint32_t ack = (flags & ET_TCP_ACK) ? c->rcv_nxt : 0;
    write_conn_headers(c, buf,
                       &(seg_hdr){.seq = s->seq,
                                  .ack = ack,
                                  .flags = flags,
                                  .win = win,
                                  .optlen = optlen,
                                  .plen = s->len,
                                  .sum = optsum + s->psum});
    if (!link_tx(st, id, ET_HDRS_LEN + optlen + s->len)) return false;
    et_txts_sent(c, id, s->seq, s->len, s->ctl, s->sent_ns != 0);
    if (s->sent_ns) {
        s->retx++;
        c->retransmits++;
        st->stats.retransmits++;
        et_undo_note_rxt(c);
    } else {
        st->stats.bytes_out += s->len;
        c->bytes_out += s->len;
    }
    /* 0 means "never sent": a clock that starts at 0 (poll_at, a virtual wire) must not make a
       segment sent at time 0 look unsent (its retransmission would then give an RTT sample). */
    s->sent_ns = st->now_ns ? st->now_ns : 1;
    c->last_tx_ns = st->now_ns;
    c->segs_out++;
    st->stats.segs_out++;
    if (flags & ET_TCP_ACK) data_ack_sent(c);
    return true;
}

bool et_retransmit(et_conn *c, uint32_t idx)
{
    if (!tx_seg(c, idx)) {
        et_stack_deferred_add(c->st, c);
        return false;
    }
    return true;
}

void et_output_syn(et_conn *c)
{
    if (c->sr_end == 0) {
        et_seg *s = et_seg_at(c, 0);
        memset(s, 0, sizeof(*s));
        s->seq = c->iss;
        s->ctl = ET_TCP_SYN;
        c->sr_end = 1;
        c->queued_end = c->iss + 1;
    }
    if (c->sr_nxt == 0) {
        if (!tx_seg(c, 0)) {
            et_stack_deferred_add(c->st, c);
            return;
        }
        c->sr_nxt = 1;
        c->snd_nxt = c->iss + 1;
        if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    } else if (!et_retransmit(c, 0)) {
        return;
    }
    c->retx_mode = ET_RETX_RTO;
    et_arm_retx_timer(c);
}

/* How far beyond snd_una the congestion window lets us send. Below 2^31: the end of the window
   is compared in sequence space (RFC 9293 §3.4), where a larger distance wraps and reads as
   behind SND.UNA (an unlimited window, cc NONE, with limited transmit added, stopped output). */
static uint32_t cwnd_allowance(const et_conn *c)
{
    uint64_t cw = c->cc.cwnd;
    /* RFC 3042 limited transmit: one new segment for each of the first two duplicate ACKs. */
    if (!c->in_recovery && c->dupacks && c->dupacks < 3) cw += c->dupacks * c->send_mss;
    return cw < 0x7fffffffu ? (uint32_t)cw : 0x7fffffffu;
}

static bool tx_range(et_conn *c, uint32_t idx, uint32_t from, uint32_t n, bool fin);
static void send_new(et_conn *c, bool force, uint32_t cwnd_end);

/* Marks [.., end) sent and makes sure the retransmission timer runs; a pending probe moves to
   PTO after this segment (RFC 8985 §7.2: restarted after new data is sent). */
static void advanced(et_conn *c, uint32_t end)
{
    c->snd_nxt = end;
    if (seq_gt(end, c->snd_max)) c->snd_max = end;
    if (c->retx_mode != ET_RETX_RTO && c->retx_mode != ET_RETX_REO) et_arm_loss_timer(c);
}

/*
 * advanced() for a segment after the first of one output call, which armed a probe: arming it
 * again would change nothing, so it is skipped. The clock has not moved (now_ns changes only
 * between calls), nor has anything the arming reads (tx_seg and tx_range touch counters and the
 * ACK state, not RACK's or the recovery state), and SND.NXT stays at SND.MAX while new data
 * leaves, so et_arm_loss_timer would pick the probe again at the same time: et_wheel_postpone
 * of the tick the timer has already, in the future, only stores it again. A timer due at the
 * current tick (a probe timeout below one tick) is armed again as before, and so is one armed
 * for a flight below two segments (et_pto_ns adds the delayed ACK for such a flight only).
 */
static void advanced_again(et_conn *c, uint32_t end, bool first)
{
    if (!first && c->retx_mode == ET_RETX_TLP && c->t_retx.armed &&
        c->t_retx.expire_tick > c->st->wheel.cur_tick && c->snd_nxt == c->snd_max &&
        seq_gt(end, c->snd_max) && !et_flight_delack(c)) {
        c->snd_nxt = end;
        c->snd_max = end;
        return;
    }
    advanced(c, end);
}

/*
 * Sends what the windows allow, from SND.NXT on. A segment is sent whole from its slot when it can
 * be; what starts or ends inside a segment (after a partial ACK, or when the peer's window takes
 * only part of one) is copied into a control buffer. The congestion window never splits a
 * segment; the peer's window does, under sender SWS avoidance (RFC 9293 §3.8.6.2.1): only when at
 * least half the largest window it ever offered fits, or when the persist timer says so (force).
 */
static void output(et_conn *c, bool force)
{
    /* RFC 6675 §5 (C): in SACK recovery lost segments go first, and pipe, not SND.UNA, says how
       much new data cwnd allows; what is left of cwnd then goes to NextSeg rules 3 and 4. */
    if ((c->in_recovery || c->loss_on) && c->sack_ok && et_conn_synced(c)) {
        /* After a timeout (loss_on) likewise, as Linux's CA_Loss: the go-back-N resends what
           the timeout presumed lost, and a resend that RACK then finds lost (a segment sent
           after it was sacked, RFC 8985 §6.2) goes again before the go-back-N continues.
           Otherwise it waited for the next timeout: RFC 6582's one recovery per window keeps
           a new recovery from starting until SND.UNA passes the timeout's recover. */
        uint32_t pipe = et_sack_output_lost(c), nxt = c->snd_nxt;
        uint32_t room = c->cc.cwnd > pipe ? c->cc.cwnd - pipe : 0;
        send_new(c, force, c->snd_nxt + (room < 0x7fffffffu ? room : 0x7fffffffu));
        if (c->in_recovery)
            et_sack_output_rest(c, pipe + (seq_gt(c->snd_nxt, nxt) ? c->snd_nxt - nxt : 0));
        return;
    }
    /* Called after every input and send: most calls find nothing queued. */
    if (c->sr_nxt == c->sr_end) return;
    send_new(c, force, c->snd_una + cwnd_allowance(c));
}

/*
 * The persist timer overrode sender SWS avoidance: the peer offered less than half its largest
 * window for a whole interval. Its buffer has shrunk, or that largest window was never real (a
 * corrupted window field that passed the checksum), so the largest window becomes the one offered
 * now: otherwise every later segment would wait for the timer again. Not below 536 bytes (RFC
 * 9293's default MSS): a peer offering a few bytes would make every new segment a few bytes. New
 * segments take half the new window (et_conn_seg_cap). RFC 5961's ACK range (SND.UNA -
 * MAX.SND.WND) and the SACK blocks' sanity bound (tcp_sack.c) narrow with it: a segment whose ACK
 * is older than that is dropped with a challenge ACK, and the peer sends it again.
 */
static void window_shrunk(et_conn *c)
{
    uint32_t floor = c->max_snd_wnd < 536 ? c->max_snd_wnd : 536;
    c->max_snd_wnd = c->snd_wnd > floor ? c->snd_wnd : floor;
    et_conn_seg_cap(c);
}

/* The body of output: sends from SND.NXT on, up to cwnd_end and the peer's window. */
static void send_new(et_conn *c, bool force, uint32_t cwnd_end)
{
    if (c->sr_nxt == c->sr_end) return;
    if (!et_conn_synced(c) || c->state == EFVITCP_TIME_WAIT) return;
    /* RFC 5681 §4.1: nothing in flight and nothing sent for longer than the RTO: the path's
       state is unknown again, and cwnd restarts from the initial window. */
    if (c->snd_una == c->snd_max && c->st->now_ns - c->last_tx_ns > c->rto_ns &&
        c->st->cfg.slow_start_after_idle && c->last_tx_ns) {
        et_cc_on_idle_restart(&c->cc);
        cwnd_end = c->snd_una + cwnd_allowance(c);
    }
    uint32_t rwnd_end = c->snd_una + c->snd_wnd;
    bool first = true; /* no segment sent by this call yet (advanced_again) */
    while (c->sr_nxt != c->sr_end) {
        et_seg *s = et_seg_at(c, c->sr_nxt);
        /* A segment still filling (send with more=true) waits like MSG_MORE: for more data, or
           for the ACK of what is in flight (ack_advance uncorks it). With nothing in flight no
           ACK will come, and the wait is bounded (ET_CORK_NS): a last send left with more=true
           otherwise held its bytes until the peer's next keepalive, or for ever (sim seed 24,
           burst: 4.4 s). */
        if (c->sr_nxt + 1 == c->sr_end && c->tail_open) {
            if (c->snd_una == c->snd_max && c->retx_mode == ET_RETX_NONE) et_arm_cork(c);
            break;
        }
        uint32_t end = et_seg_end(s);
        if (s->sacked) {
            /* Going back after a timeout: the peer reported holding this one since (the marks
               are cleared at the timeout, RFC 2018 §8), so it is not sent again. It stays
               outstanding until cumulatively acknowledged (the peer may renege), so the RTO
               runs for it: the go-back-N may have had nothing outstanding before it (an ACK
               up to SND.NXT left no timer, or a persist timer behind a zero window), and with
               the next segment held by a zero window nothing else would arm one (fuzz:
               regress/efvi/persist-after-sacked-skip, regress/efvi/none-after-sacked-skip). */
            c->sr_nxt++;
            if (seq_gt(end, c->snd_nxt)) c->snd_nxt = end;
            if (c->retx_mode == ET_RETX_PERSIST || c->retx_mode == ET_RETX_NONE) et_arm_rto(c);
            continue;
        }
        uint32_t start = seq_gt(c->snd_nxt, s->seq) ? c->snd_nxt : s->seq;
        uint32_t data_end = s->seq + s->len;
        if (seq_gt(end, cwnd_end) && c->snd_una != c->snd_nxt) break; /* ACKs will open it */
        if (seq_le(end, rwnd_end)) {
            bool ok = start == s->seq
                          ? tx_seg(c, c->sr_nxt)
                          : tx_range(c, c->sr_nxt, start, data_end - start, s->ctl & ET_TCP_FIN);
            if (!ok) {
                et_stack_deferred_add(c->st, c);
                break;
            }
            c->sr_nxt++;
            advanced_again(c, end, first);
            first = false;
            continue;
        }
        /* The peer's window ends inside this segment. */
        uint32_t room = seq_gt(rwnd_end, start) ? rwnd_end - start : 0;
        if (room > data_end - start) room = data_end - start; /* the FIN does not fit */
        uint32_t half = c->max_snd_wnd / 2;
        if (room && (force || room >= half)) {
            if (!tx_range(c, c->sr_nxt, start, room, false)) {
                et_stack_deferred_add(c->st, c);
                break;
            }
            if (room < half) window_shrunk(c);
            advanced(c, start + room);
            break;
        }
        /* Nothing in flight will bring an ACK that opens the window: the persist timer probes
           it (RFC 9293 §3.8.6.1). */
        if (c->snd_una == c->snd_nxt && c->retx_mode != ET_RETX_PERSIST) {
            c->retx_mode = ET_RETX_PERSIST;
            c->retries = 0;
            c->probe_backoff = 0;
            et_arm_retx_timer(c);
        }
        break;
    }
}

bool et_output_probe(et_conn *c)
{
    if (c->sr_nxt == c->sr_end || (c->sr_nxt + 1 == c->sr_end && c->tail_open)) return false;
    uint32_t before = c->snd_nxt;
    send_new(c, false, et_seg_end(et_seg_at(c, c->sr_nxt)));
    return c->snd_nxt != before;
}

void et_output_slow(et_conn *c)
{
    output(c, false);
}

void et_output_force(et_conn *c)
{
    output(c, true);
}

bool et_resend_head(et_conn *c)
{
    if (c->sr_una == c->sr_end) return true;
    et_seg *s = et_seg_at(c, c->sr_una);
    bool ok = c->snd_una == s->seq ? tx_seg(c, c->sr_una)
                                   : tx_range(c, c->sr_una, c->snd_una,
                                              s->seq + s->len - c->snd_una, s->ctl & ET_TCP_FIN);
    if (!ok) {
        et_stack_deferred_add(c->st, c);
        return false;
    }
    c->sr_nxt = c->sr_una + 1;
    advanced(c, et_seg_end(s));
    return true;
}

bool et_retransmit_head(et_conn *c)
{
    if (c->sr_una == c->sr_end || c->snd_una == c->snd_nxt) return true;
    et_seg *s = et_seg_at(c, c->sr_una);
    uint32_t data_end = s->seq + s->len;
    /* Only what was sent before: bytes beyond SND.NXT are new data for output to send. */
    bool whole = seq_ge(c->snd_nxt, et_seg_end(s));
    bool ok;
    if (c->snd_una == s->seq && whole)
        ok = tx_seg(c, c->sr_una);
    else
        ok = tx_range(c, c->sr_una, c->snd_una,
                      (whole ? data_end : (seq_lt(c->snd_nxt, data_end) ? c->snd_nxt : data_end)) -
                          c->snd_una,
                      whole && (s->ctl & ET_TCP_FIN));
    if (!ok) et_stack_deferred_add(c->st, c);
    return ok;
}

uint32_t et_resend_seg(et_conn *c, uint32_t idx)
{
    et_seg *s = et_seg_at(c, idx);
    uint32_t from = seq_gt(c->snd_una, s->seq) ? c->snd_una : s->seq;
    uint32_t end = et_seg_end(s), data_end = s->seq + s->len;
    bool ok;
    if (from == s->seq && seq_le(end, c->snd_max)) {
        ok = tx_seg(c, idx);
    } else {
        bool whole = seq_le(end, c->snd_max); /* then the FIN, if any, was sent: again */
        if (!whole) end = seq_lt(c->snd_max, data_end) ? c->snd_max : data_end;
        ok =
            tx_range(c, idx, from, (whole ? data_end : end) - from, whole && (s->ctl & ET_TCP_FIN));
    }
    if (!ok) {
        et_stack_deferred_add(c->st, c);
        return 0;
    }
    return end - from;
}

/* A control buffer for a pure ACK or a RST, or UINT32_MAX. */
static uint32_t ctrl_get(et_stack *st)
{
    /* A poll that works through a long backlog sends more ACKs than there are control buffers;
       a link that completes at once (packet, mem) has them back already. */
    if (!st->n_ctrl_free) et_stack_reap_tx(st);
    if (!st->n_ctrl_free) {
        st->stats.drops[EFVITCP_DROP_TX_BUF]++;
        return UINT32_MAX;
    }
    return st->ctrl_free[--st->n_ctrl_free];
}

static bool ctrl_send(et_stack *st, uint32_t id, uint32_t len)
{
    if (link_tx(st, id, len)) return true;
    st->ctrl_free[st->n_ctrl_free++] = id;
    st->stats.drops[EFVITCP_DROP_TX_BUF]++;
    return false;
}

static bool send_ctl(et_conn *c, uint32_t seq, uint8_t flags)
{
    et_stack *st = c->st;
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return false;
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint32_t optlen = 0;
    uint64_t optsum = 0;
    if (c->ts_ok && !(flags & ET_TCP_RST)) {
        optsum = et_hdr_ts_opt(buf + ET_HDRS_LEN, et_ts_now(st, c->ts_offset), c->ts_recent);
        optlen = ET_TS_OPTLEN;
    }
    /* RFC 2018 §4: every ACK while islands are held reports them (3 blocks beside TS, 4 alone). */
    if (!(flags & ET_TCP_RST) && et_sack_pending(c))
        optlen += et_sack_opt(c, buf + ET_HDRS_LEN + optlen, ET_TCP_MAX_OPTLEN - optlen, &optsum);
    uint16_t win = (flags & ET_TCP_RST) ? 0 : window_field(c, false);
    uint32_t ack = (flags & ET_TCP_ACK) ? c->rcv_nxt : 0;
    write_conn_headers(
        c, buf,
        &(seg_hdr){
            .seq = seq, .ack = ack, .flags = flags, .win = win, .optlen = optlen, .sum = optsum});
    if (!ctrl_send(st, id, ET_HDRS_LEN + optlen)) return false;
    c->segs_out++;
    st->stats.segs_out++;
    return true;
}

/*
 * Sends bytes [from, from + n) of segment idx (and its FIN if fin) from a control buffer: a copy,
 * used only when a transmission starts or ends inside a segment, so that the slot's own headers
 * never have to move over payload that may still be needed.
 */
static bool tx_range(et_conn *c, uint32_t idx, uint32_t from, uint32_t n, bool fin)
{
    et_stack *st = c->st;
    et_seg *s = et_seg_at(c, idx);
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return false;
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint32_t optlen = 0;
    uint64_t optsum = 0;
    if (c->ts_ok) {
        optsum = et_hdr_ts_opt(buf + ET_HDRS_LEN, et_ts_now(st, c->ts_offset), c->ts_recent);
        optlen = ET_TS_OPTLEN;
    }
    const uint8_t *src = et_link_tx_buf(st->link, et_seg_buf_id(c, idx)) + ET_HDRS_LEN +
                         et_conn_optlen(c) + (from - s->seq);
    uint64_t psum = et_csum_copy_own(buf + ET_HDRS_LEN + optlen, src, n);
    uint8_t flags = ET_TCP_ACK | (n ? ET_TCP_PSH : 0) | (fin ? ET_TCP_FIN : 0);
    write_conn_headers(c, buf,
                       &(seg_hdr){.seq = from,
                                  .ack = c->rcv_nxt,
                                  .flags = flags,
                                  .win = window_field(c, false),
                                  .optlen = optlen,
                                  .plen = n,
                                  .sum = optsum + et_csum_fold(psum)});
    if (!ctrl_send(st, id, ET_HDRS_LEN + optlen + n)) return false;
    et_txts_sent(c, id, from, n, fin ? ET_TCP_FIN : 0, seq_lt(from, c->snd_max));
    if (seq_lt(from, c->snd_max)) {
        s->retx++; /* Karn: this segment gives no RTT sample any more */
        c->retransmits++;
        st->stats.retransmits++;
        et_undo_note_rxt(c);
    } else {
        st->stats.bytes_out += n;
        c->bytes_out += n;
    }
    s->sent_ns = st->now_ns ? st->now_ns : 1;
    c->last_tx_ns = st->now_ns;
    c->segs_out++;
    st->stats.segs_out++;
    data_ack_sent(c);
    return true;
}

/* The sequence number of a pure ACK: the highest one sent. SND.NXT goes back to SND.UNA for a
   retransmission after a timeout, and an ACK below the peer's RCV.NXT is unacceptable there
   (RFC 9293 §3.10.7.4): it would be dropped with the acknowledgment it carries, and when both
   sides went back, each would answer the other's ACKs forever. Never beyond the peer's window,
   which a window probe may have passed (as Linux's tcp_acceptable_seq). */
static uint32_t ack_seq(const et_conn *c)
{
    uint32_t wnd_end = c->snd_una + c->snd_wnd;
    return seq_gt(c->snd_max, wnd_end) ? wnd_end : c->snd_max;
}

bool et_send_ack(et_conn *c)
{
    if (!send_ctl(c, ack_seq(c), ET_TCP_ACK)) {
        /* Try again at the end of the next poll rather than lose it. */
        c->ack_now = true;
        et_stack_deferred_add(c->st, c);
        return false;
    }
    ack_sent(c);
    return true;
}

/* Keepalive probe (RFC 9293 §3.8.4): one octet below SND.NXT, so the peer must answer. */
bool et_send_keepalive(et_conn *c)
{
    if (c->probes_out < UINT8_MAX) c->probes_out++;
    return send_ctl(c, c->snd_nxt - 1, ET_TCP_ACK);
}

/* The highest sequence number sent (ack_seq): after an RTO rewound SND.NXT, the peer's RCV.NXT
   may be beyond it, and a RST below RCV.NXT is ignored (RFC 5961 §3.2). */
void et_send_rst_conn(et_conn *c)
{
    if (send_ctl(c, ack_seq(c), ET_TCP_RST | ET_TCP_ACK)) c->st->stats.rst_sent++;
}

/* RFC 9293 §3.10.7.1: the reply to a segment for no connection. */
void et_send_rst_reply(et_stack *st, const et_tcp_seg *s)
{
    if (s->flags & ET_TCP_RST) return;
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return;
    uint32_t seq, ack;
    uint8_t flags;
    if (s->flags & ET_TCP_ACK) {
        seq = s->ack;
        ack = 0;
        flags = ET_TCP_RST;
    } else {
        seq = 0;
        ack =
            s->seq + s->len + ((s->flags & ET_TCP_SYN) ? 1 : 0) + ((s->flags & ET_TCP_FIN) ? 1 : 0);
        flags = ET_TCP_RST | ET_TCP_ACK;
    }
    /* No options and window 0: there is no connection whose window or timestamps they would
       describe. */
    seg_peer to = {.mac = s->src_mac, .ip = s->saddr, .lport = s->dport, .rport = s->sport};
    write_headers(st, et_link_tx_buf(st->link, id), &to,
                  &(seg_hdr){.seq = seq, .ack = ack, .flags = flags});
    if (ctrl_send(st, id, ET_HDRS_LEN)) {
        st->stats.rst_sent++;
        st->stats.segs_out++;
    }
}

void et_send_tw_ack(et_stack *st, const et_tw *tw, uint32_t remote_ip, uint16_t rport,
                    uint16_t lport)
{
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return;
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint32_t optlen = 0;
    uint64_t optsum = 0;
    if (tw->ts_ok) {
        optsum = et_hdr_ts_opt(buf + ET_HDRS_LEN, et_ts_now(st, tw->ts_offset), tw->ts_recent);
        optlen = ET_TS_OPTLEN;
    }
    uint32_t wnd = st->cfg.recv_buf_size >> tw->rcv_wscale;
    seg_peer to = {.mac = tw->remote_mac, .ip = remote_ip, .lport = lport, .rport = rport};
    write_headers(st, buf, &to,
                  &(seg_hdr){.seq = tw->snd_nxt,
                             .ack = tw->rcv_nxt,
                             .flags = ET_TCP_ACK,
                             .win = (uint16_t)(wnd > 65535 ? 65535 : wnd),
                             .optlen = optlen,
                             .sum = optsum});
    if (ctrl_send(st, id, ET_HDRS_LEN + optlen)) st->stats.segs_out++;
}

/* A SYN-ACK that no connection keeps (syn_cookie_in.c), laid out as tx_seg lays out a SYN-ACK:
   MSS, then window scale and timestamps when the cookie keeps them, the window of an empty
   receive buffer, unscaled (RFC 7323 §2.2). */
bool et_send_synack_stateless(et_stack *st, const et_tcp_seg *syn, uint32_t iss, bool ws, bool ts,
                              bool sack, uint32_t tsval)
{
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return false;
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint8_t *opt = buf + ET_HDRS_LEN;
    opt[0] = ET_TCPOPT_MSS;
    opt[1] = 4;
    put16(opt + 2, htons((uint16_t)st->adv_mss));
    uint32_t optlen = 4;
    if (ws) {
        opt[4] = ET_TCPOPT_NOP;
        opt[5] = ET_TCPOPT_WS;
        opt[6] = 3;
        opt[7] = st->rcv_wscale;
        optlen = 8;
    }
    if (sack) optlen += sack_perm_opt(opt + optlen);
    if (ts) {
        et_hdr_ts_opt(opt + optlen, tsval, syn->opt.tsval);
        optlen += ET_TS_OPTLEN;
    }
    uint32_t wnd = st->cfg.recv_buf_size;
    seg_peer to = {.mac = syn->src_mac, .ip = syn->saddr, .lport = syn->dport, .rport = syn->sport};
    write_headers(st, buf, &to,
                  &(seg_hdr){.seq = iss,
                             .ack = syn->seq + 1,
                             .flags = ET_TCP_SYN | ET_TCP_ACK,
                             .win = (uint16_t)(wnd > 65535 ? 65535 : wnd),
                             .optlen = optlen,
                             .sum = et_csum_fold(et_csum_add_hdr(0, opt, optlen))});
    if (!ctrl_send(st, id, ET_HDRS_LEN + optlen)) return false;
    st->stats.segs_out++;
    return true;
}

bool et_send_arp(et_stack *st, uint16_t oper, const uint8_t *dst_mac, uint32_t dst_ip)
{
    static const uint8_t zero[6];
    uint32_t id = ctrl_get(st);
    if (id == UINT32_MAX) return false;
    uint32_t len = et_arp_build(et_link_tx_buf(st->link, id), oper, st->link->mac, st->local_ip,
                                dst_mac ? dst_mac : zero, dst_ip);
    if (!ctrl_send(st, id, len)) return false;
    if (oper == 1)
        st->stats.arp_requests_sent++;
    else
        st->stats.arp_replies_sent++;
    return true;
}

/* ---- the user's side of sending ---- */

/* Is free slot idx free to be written (not still read by the NIC)? */
static inline bool slot_writable(const et_conn *c, uint32_t idx)
{
    return !c->n_lingering || !c->st->tx_busy[et_seg_buf_id(c, idx)];
}

/* Free slots from sr_end on that send() can fill: it stops at the first one whose buffer the
   link has not completed yet (a segment retransmitted and then acknowledged within one poll).
   Nearly always none lingers and that is all of them; else, as the slots of a connection have
   consecutive buffer ids, two memchr over tx_busy find the first, and a scan that finds none
   clears the count (a cache, written through a const pointer: no connection is ever const
   itself, the API only promises not to change what the user can see). */
static uint32_t busy_scan(const et_conn *c, uint32_t free_slots);

static uint32_t writable_slots(const et_conn *c, uint32_t free_slots)
{
    if (!c->n_lingering) return free_slots;
    uint32_t n = busy_scan(c, free_slots);
    if (n == free_slots) ((et_conn *)c)->n_lingering = 0;
    return n;
}

static uint32_t busy_scan(const et_conn *c, uint32_t free_slots)
{
    const et_stack *st = c->st;
    const uint8_t *busy = st->tx_busy + et_seg_buf_id(c, 0);
    uint32_t start = c->sr_end & st->send_mask;
    uint32_t first = st->cfg.send_slots - start; /* slots before the ring wraps */
    if (first > free_slots) first = free_slots;
    const uint8_t *p = memchr(busy + start, 1, first);
    if (p) return (uint32_t)(p - (busy + start));
    p = memchr(busy, 1, free_slots - first);
    return p ? first + (uint32_t)(p - busy) : free_slots;
}

uint32_t et_conn_sendable(const et_conn *c)
{
    if (!et_conn_can_send(c)) return 0;
    uint32_t used = c->sr_end - c->sr_una;
    uint32_t n = writable_slots(c, c->st->cfg.send_slots - used) * c->seg_cap;
    if (c->tail_open) n += c->seg_cap - et_seg_at(c, c->sr_end - 1)->len;
    return n;
}

uint32_t et_conn_immediately_sendable(const et_conn *c)
{
    if (!et_conn_can_send(c)) return 0;
    uint32_t limit = c->snd_wnd < cwnd_allowance(c) ? c->snd_wnd : cwnd_allowance(c);
    uint32_t used = c->queued_end - c->snd_una;
    if (used >= limit) return 0;
    uint32_t n = limit - used, s = et_conn_sendable(c);
    return n < s ? n : s;
}

uint32_t et_conn_send(et_conn *c, const struct iovec *iov, int iovcnt, bool more)
{
    if (!et_conn_can_send(c)) return 0;
    et_stack *st = c->st;
    uint32_t total = 0;
    uint32_t hdr = ET_HDRS_LEN + et_conn_optlen(c);
    for (int i = 0; i < iovcnt; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            et_seg *s;
            uint32_t idx;
            if (!c->tail_open) {
                /* A new slot: the chunk starts it, at offset 0 (no byte swap), and its sum is
                   the segment's; open while it has room. */
                idx = c->sr_end;
                if (idx - c->sr_una >= st->cfg.send_slots || !slot_writable(c, idx)) goto out;
                uint32_t n = left < c->seg_cap ? (uint32_t)left : c->seg_cap;
                uint8_t *dst = et_link_tx_buf(st->link, et_seg_buf_id(c, idx)) + hdr;
                *et_seg_at(c, idx) = (et_seg){.seq = c->queued_end,
                                              .len = (uint16_t)n,
                                              .psum = et_csum_fold32(et_csum_copy_own(dst, p, n))};
                c->sr_end = idx + 1;
                c->tail_open = n < c->seg_cap;
                c->queued_end += n;
                c->queued_off += n;
                p += n;
                left -= n;
                total += n;
                continue;
            }
            idx = c->sr_end - 1;
            s = et_seg_at(c, idx);
            uint32_t room = c->seg_cap - s->len;
            uint32_t n = left < room ? (uint32_t)left : room;
            uint8_t *dst = et_link_tx_buf(st->link, et_seg_buf_id(c, idx)) + hdr + s->len;
            uint64_t part = et_csum_copy_own(dst, p, n);
            /* A chunk that starts at an odd offset contributes its sum byte-swapped
               (RFC 1071 §2(B)). */
            uint16_t f = et_csum_fold(part);
            if (s->len & 1) f = (uint16_t)((f << 8) | (f >> 8));
            s->psum = et_csum_fold((uint64_t)s->psum + f);
            s->len = (uint16_t)(s->len + n);
            c->queued_end += n;
            c->queued_off += n;
            p += n;
            left -= n;
            total += n;
            if (s->len == c->seg_cap) c->tail_open = false;
        }
    }
out:
    if (!more) c->tail_open = false;
    if (total || !more) et_output(c);
    return total;
}

/*
 * Whether output() would send segment s, the only one queued and unsent, whole and at once: the
 * next to send (SND.NXT at its start), not in SACK recovery, not after an idle period (RFC 5681
 * §4.1 restarts cwnd first), inside the peer's window, and inside the congestion window or with
 * nothing in flight. The same tests as output() and send_new() make for their first segment.
 */
static inline bool sends_whole(const et_conn *c, const et_seg *s)
{
    uint32_t end = et_seg_end(s);
    bool idle = c->snd_una == c->snd_max && c->st->now_ns - c->last_tx_ns > c->rto_ns &&
                c->st->cfg.slow_start_after_idle && c->last_tx_ns;
    /* SACK recovery (RFC 6675) decides by the pipe, not by these windows: output() does it. */
    if ((c->in_recovery || c->loss_on) && c->sack_ok) return false;
    return c->snd_nxt == s->seq && !idle && seq_le(end, c->snd_una + c->snd_wnd) &&
           (seq_le(end, c->snd_una + cwnd_allowance(c)) || c->snd_una == c->snd_nxt);
}

/* What output() does with such a segment: send it, or leave it to the deferred list when the
   link cannot take it now. */
static inline void send_one(et_conn *c, uint32_t idx)
{
    if (!tx_seg(c, idx)) {
        et_stack_deferred_add(c->st, c);
        return;
    }
    c->sr_nxt = idx + 1;
    advanced(c, et_seg_end(et_seg_at(c, idx)));
}

/*
 * The straight line of efvitcp_send (issue 11), for the message of a request-response exchange:
 * it fits one new segment, nothing is queued before it, and output() would send it whole and at
 * once. The tests are those of et_conn_send_buf's queueing below and of sends_whole(), in one
 * expression (each one a load and a compare); any that fails sends the message the general way,
 * which is the reference. What the general way would do then, tx_seg() and advanced() for a new
 * data segment, is done here with what is known: no SYN or FIN, ACK and PSH set, a first
 * transmission, SND.NXT at SND.MAX, the payload copied and summed in its slot in one place.
 */
static inline bool fast_send_ok(const et_conn *c, const et_stack *st, uint32_t idx, uint32_t seq,
                                uint32_t len, bool more)
{
    /* A message for a new slot (none open) that nothing queued waits before, SND.NXT and
       SND.MAX at the end of the queue (not rewound by a timeout); outside SACK or NewReno
       recovery (output() decides by the pipe there); the template built (the first segment
       builds it). */
    if (more || len - 1 >= c->seg_cap || idx != c->sr_nxt || seq != c->snd_nxt ||
        seq != c->snd_max || c->tail_open || idx - c->sr_una >= st->cfg.send_slots ||
        !et_conn_can_send(c) || c->in_recovery || c->loss_on || !c->tmpl_ok)
        return false;
    uint32_t end = seq + len;
    /* The peer's window (sends_whole) */
    if (seq_gt(end, c->snd_una + c->snd_wnd)) return false;
    /* Data in flight: the congestion window (without limited transmit's extra segments, which
       only the general way counts: it sends what this refuses) */
    if (c->snd_una != seq)
        return seq_le(end,
                      c->snd_una + (c->cc.cwnd < 0x7fffffffu ? (uint32_t)c->cc.cwnd : 0x7fffffffu));
    /* Nothing in flight (SND.UNA = SND.NXT = SND.MAX): not idle for an RTO (RFC 5681 §4.1) */
    return !(st->now_ns - c->last_tx_ns > c->rto_ns && st->cfg.slow_start_after_idle &&
             c->last_tx_ns);
}

/* advanced()'s et_arm_loss_timer() after new data left in the open (SND.NXT = SND.MAX, the
   connection synchronised): an RTO or reordering timer already running stays as it is. Of
   et_tlp_ok's tests, those of the state and of SND.NXT hold here by construction. */
static inline void arm_loss_timer_sent(et_conn *c)
{
    if (c->retx_mode == ET_RETX_RTO || c->retx_mode == ET_RETX_REO) return;
    if (!c->reo_deadline_ns && c->rack_ok && !c->retries && c->srtt_ns) {
        et_arm_probe(c);
        return;
    }
    et_arm_loss_timer_slow(c);
}

static void send_buf_fast(et_conn *c, et_stack *st, uint32_t idx, uint32_t seq, const void *data,
                          uint32_t len, uint32_t id)
{
    uint8_t *buf = et_link_tx_buf(st->link, id);
    uint32_t optlen = et_conn_optlen(c);
    /* A partial sum below 2^32 (et_hdr_tmpl_write's rule): a fold to 32 bits is enough. */
    uint32_t psum = et_csum_fold32(et_csum_copy_own(buf + ET_HDRS_LEN + optlen, data, len));
    et_seg *s = et_seg_at(c, idx);
    *s = (et_seg){.seq = seq, .len = (uint16_t)len, .psum = psum};
    uint32_t end = seq + len;
    c->sr_end = idx + 1;
    c->queued_end = end;
    c->queued_off += len;
    uint64_t sum = psum;
    if (optlen) sum += et_hdr_ts_opt(buf + ET_HDRS_LEN, et_ts_now(st, c->ts_offset), c->ts_recent);
    uint16_t win = window_field(c, false);
    et_hdr_tmpl_write(buf, &c->tmpl, seq, c->rcv_nxt, ET_TCP_ACK | ET_TCP_PSH, win, optlen, len,
                      sum);
    if (__builtin_expect(!link_tx(st, id, ET_HDRS_LEN + optlen + len), 0)) {
        et_stack_deferred_add(st, c); /* queued: output sends it when a buffer is back */
        return;
    }
    et_txts_sent(c, id, seq, len, 0, false);
    st->stats.bytes_out += len;
    c->bytes_out += len;
    uint64_t now = st->now_ns;
    s->sent_ns = now ? now : 1; /* see tx_seg */
    c->last_tx_ns = now;
    c->segs_out++;
    st->stats.segs_out++;
    data_ack_sent(c);
    /* advanced() */
    c->sr_nxt = idx + 1;
    c->snd_nxt = end;
    c->snd_max = end;
    arm_loss_timer_sent(c);
}

uint32_t et_conn_send_buf(et_conn *c, const void *data, uint32_t len, bool more)
{
    et_stack *st = c->st;
    uint32_t idx = c->sr_end, seq = c->queued_end;
    if (__builtin_expect(fast_send_ok(c, st, idx, seq, len, more), 1)) {
        /* The buffer is free (the NIC no longer reads it: slot_writable, and tx_seg's check). */
        uint32_t id = et_seg_buf_id(c, idx);
        if (__builtin_expect(!st->tx_busy[id], 1)) {
            send_buf_fast(c, st, idx, seq, data, len, id);
            return len;
        }
    }
    /* What et_conn_send does for a message that fits one new segment, without the loops: a new
       slot, the copy with its sum (at offset 0, so no byte swap), and the tail left open only if
       more is coming and there is room. */
    if (len && len <= c->seg_cap && !c->tail_open && et_conn_can_send(c) &&
        idx - c->sr_una < st->cfg.send_slots && slot_writable(c, idx)) {
        et_seg *s = et_seg_at(c, idx);
        uint8_t *dst =
            et_link_tx_buf(st->link, et_seg_buf_id(c, idx)) + ET_HDRS_LEN + et_conn_optlen(c);
        *s = (et_seg){.seq = seq,
                      .len = (uint16_t)len,
                      .psum = et_csum_fold(et_csum_copy_own(dst, data, len))};
        c->sr_end = idx + 1;
        c->queued_end += len;
        c->queued_off += len;
        c->tail_open = more && len < c->seg_cap;
        if (!c->tail_open && c->sr_nxt == idx && sends_whole(c, s))
            send_one(c, idx);
        else
            et_output(c);
        return len;
    }
    struct iovec iov = {(void *)data, len};
    return et_conn_send(c, &iov, 1, more);
}

/* Puts our FIN in the ring: on the open tail segment if there is one, else in a new slot. */
void et_queue_fin(et_conn *c)
{
    et_seg *s;
    if (c->tail_open) {
        s = et_seg_at(c, c->sr_end - 1);
    } else {
        uint32_t idx = c->sr_end;
        if (idx - c->sr_una >= c->st->cfg.send_slots || !slot_writable(c, idx)) {
            c->fin_pending = true;
            /* A full ring frees a slot with the next ACK, but a slot whose buffer the link
               still holds may have nothing in flight behind it: retry after the next reap. */
            if (idx - c->sr_una < c->st->cfg.send_slots) et_stack_deferred_add(c->st, c);
            return;
        }
        s = et_seg_at(c, idx);
        memset(s, 0, sizeof(*s));
        s->seq = c->queued_end;
        c->sr_end++;
    }
    s->ctl |= ET_TCP_FIN;
    c->tail_open = false;
    c->fin_pending = false;
    c->queued_end++;
    et_output(c);
}

const char *et_conn_send_fin(et_conn *c)
{
    if (c->fin_queued) return "FIN already sent";
    if (c->finishing) return "connection is closed";
    if (c->state == EFVITCP_ESTABLISHED)
        c->state = EFVITCP_FIN_WAIT_1;
    else if (c->state == EFVITCP_CLOSE_WAIT)
        c->state = EFVITCP_LAST_ACK;
    else
        return "connection is not established";
    c->fin_queued = true;
    et_queue_fin(c);
    return NULL;
}

/*
 * After the user consumed: a pure ACK announces the window when the window that would be
 * advertised has moved its right edge (by at least min(buffer/2, MSS), RFC 9293 §3.8.6.2.2, which
 * et_rcv_window decides) and is at least twice what the peer may still send (Linux's "lots" in
 * tcp_cleanup_rbuf: with a window wide open, the ACKs that data brings anyway carry the news).
 * The comparison is on the field as it would be sent, clamped to 65535 << scale and in units of
 * the scale, so an update that would repeat the last ACK is never sent.
 */
void et_window_update(et_conn *c)
{
    /* Not from a terminal callback: the peer reset us, or we gave up and reset it. */
    if (!et_conn_synced(c) || c->fin_rcvd || c->finishing) return;
    uint32_t open = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t wnd = (et_rcv_window(c) >> c->rcv_wscale) << c->rcv_wscale;
    if (seq_gt(c->rcv_nxt + wnd, c->rcv_adv) && wnd / 2 >= open) et_send_ack(c);
}
