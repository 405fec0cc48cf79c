/*
 * The engine's state: one et_stack per client or server instance, its connections, their send
 * rings and receive buffers, the TIME_WAIT records and the timers. Nothing here knows which link
 * moves the frames.
 */
#ifndef EFVITCP_STACK_H
#define EFVITCP_STACK_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "link/link.h"
#include "net/headers.h"
#include "net/neigh.h"
#include "net/parse.h"
#include "tcp/addr.h"
#include "tcp/cc.h"
#include "tcp/conn_table.h"
#include "tcp/hdr_tmpl.h"
#include "tcp/stat_pub.h"
#include "tcp/timer_wheel.h"
#include "tcp/tx_stamp.h"
#include "util/pcap.h"
#include "util/random.h"
#include "util/tsc_clock.h"

/* Modular sequence-number comparison (RFC 9293 §3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

/* ET_HDRS_LEN (header bytes in front of the payload of every segment we build) and ET_TS_OPTLEN
   are in tcp/hdr_tmpl.h. */
#define ET_SYN_OPTLEN  24 /* MSS 4 + NOP,WS 4 + NOP,NOP,SACK-permitted 4 + NOP,NOP,TS 12 */
#define ET_MIN_SND_MSS 48 /* floor on the peer's MSS (hostile tiny MSS) */
/* How long a segment corked by send(more=true) waits when nothing is in flight, so that no ACK
   will uncork it: Linux's bound on TCP_CORK (200 ms). */
#define ET_CORK_NS (200 * 1000000ull)

/* Timer kinds (et_timer.kind). */
enum { ET_T_RETX = 1, ET_T_DELACK, ET_T_KEEPALIVE, ET_T_USER, ET_T_TIME_WAIT };

/* What the retransmission timer of a connection is doing. */
enum {
    ET_RETX_NONE = 0,
    ET_RETX_RTO,
    ET_RETX_PERSIST,
    ET_RETX_ARP,
    ET_RETX_FIN_WAIT2,
    ET_RETX_REO,  /* RACK's reordering timer (RFC 8985 §6.2 step 5); the RTO follows it */
    ET_RETX_TLP,  /* a tail loss probe is due (RFC 8985 §7.2); the RTO follows it */
    ET_RETX_CORK, /* a tail corked by send(more=true) with nothing in flight: ET_CORK_NS */
};

/* One send slot: a segment built in a link TX buffer (headers + payload) and its metadata. */
typedef struct et_seg {
    uint32_t seq;     /* sequence number of the first octet (the SYN's ISS) */
    uint16_t len;     /* payload bytes */
    uint8_t ctl;      /* ET_TCP_SYN and/or ET_TCP_FIN: they occupy sequence space */
    uint8_t retx;     /* transmissions after the first: no RTT sample (Karn, RFC 6298 §3) */
    uint32_t psum;    /* ones'-complement sum of the payload, folded to 32 bits at least */
    uint8_t sacked;   /* the peer reported holding all of it (RFC 2018): kept, not resent, until
                         cumulatively acknowledged (§8: the peer may renege) */
    uint8_t lost;     /* deemed lost (RFC 6675 IsLost, RACK, a partial ACK) and not resent since:
                         out of the pipe, first in line for retransmission */
    uint8_t rxt;      /* retransmitted in loss recovery and not deemed lost since: DupThresh
                         never marks it lost again, only RACK's clock or the RTO can */
    uint64_t sent_ns; /* last transmission, 0 = never sent */
} et_seg;

/* The receive buffer. Bytes [head, tail) are in order and not consumed by the user;
   out-of-order islands live at tail + (seq - rcv_nxt). */
typedef struct et_ooo {
    uint32_t start, end; /* sequence numbers, start < end */
    uint32_t stamp;      /* c->ooo_stamp when data last landed in it: SACK blocks report the
                            most recent first (RFC 2018 §4) */
} et_ooo;

struct et_stack;

struct efvitcp_conn {
    struct et_stack *st;
    uint32_t id; /* index in the connection array */
    /* The send ring's geometry, copied from the stack: the ACK path walks the ring with one load
       each, not two (st, then the field). */
    uint32_t seg_mask; /* cfg.send_slots - 1 */
    uint32_t buf_base; /* the TX buffer id of slot 0: id * cfg.send_slots */
    /* States that take an ACK off the quiet path (tcp_in.c, calm()): flags packed in one word,
       so that the fast path tests them all with one load. The names are the fields'. */
    union {
        struct {
            bool in_recovery;    /* NewReno fast recovery (RFC 6582), or RFC 6675's */
            bool undo_on;        /* an episode may still be found spurious: undo_cc is valid */
            bool tlp_on;         /* a probe is outstanding: TLP.end_seq is valid (RFC 8985 §7.4) */
            bool rack_retx_seen; /* a retransmission was delivered: RACK's detection walk runs */
            bool dsack_round_on; /* RACK.dsack_round is valid */
            bool fin_pending;    /* send_fin() found the ring full */
            bool tail_open;      /* the last queued segment accepts more bytes (sent: no) */
            bool loss_on;        /* after a timeout until SND.UNA passes recover, with SACK:
                                    Linux's CA_Loss (output sends segments marked lost) */
        };
        uint64_t rare;
    };
    uint32_t gen;  /* incremented when the slot is freed: detects frees inside callbacks */
    uint8_t state; /* efvitcp_state */
    bool active_open;
    bool listen_ref; /* passive: holds a reference to its port's listen flow (tcp_listen.c) */
    bool user_knows; /* established was reported, or the user called connect */
    bool in_deferred;
    bool finishing; /* in its terminal callback: nothing more may reach the wire */
    bool half_open; /* passive and in SYN_RECEIVED: on the half-open list (half_open.c) */
    bool ts_ok, ws_ok;
    bool fin_queued; /* our FIN is in the send ring (or waits for a slot: fin_pending) */
    bool fin_rcvd;
    bool ooo_fin;         /* a FIN arrived beyond a hole: it is taken when rcv_nxt reaches... */
    uint32_t ooo_fin_seq; /* ...this, its sequence number */
    bool ack_now;         /* an ACK must leave at the end of this input */
    bool delack_owed;     /* t_delack runs for an owed ACK; once it leaves, the timer is stale */
    bool flush_partial;   /* an open tail segment may leave (more=false or an ACK arrived) */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t retx_mode;     /* ET_RETX_* */
    uint8_t retries;       /* consecutive RTO expirations / unanswered probes */
    uint8_t probe_backoff; /* persist interval doublings: answered probes keep backing off */
    uint8_t dupacks;
    uint8_t ka_probes;
    uint8_t probes_out; /* window or keepalive probes sent since SND.UNA last moved: as many
                           pure ACKs at SND.UNA are their answers, not duplicate ACKs */

    /* addressing; host order */
    uint32_t remote_ip, next_hop;
    uint16_t remote_port, local_port;
    uint8_t remote_mac[6]; /* set with et_conn_set_peer_mac, which invalidates tmpl */
    bool tmpl_ok;          /* tmpl describes the current addressing (built at the first send) */
    et_hdr_tmpl tmpl;

    /* send sequence space (RFC 9293 §3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_max; /* snd_max: highest sequence ever sent + 1 */
    uint32_t snd_wnd, max_snd_wnd;           /* scaled */
    uint32_t snd_wl1, snd_wl2;
    uint32_t recover;  /* RFC 6582 */
    uint32_t send_mss; /* effective send MSS, options excluded */
    uint32_t seg_cap;  /* payload bytes a new segment may hold */
    /* the send ring: segment indices are free-running, slot = index & mask */
    uint32_t sr_una, sr_nxt, sr_end; /* oldest unacked, next to send, one past last */
    uint32_t queued_end;             /* sequence number after the last queued octet */
    uint64_t queued_off;             /* data bytes queued ever: the stream offset at queued_end
                                        (its FIN aside), for transmit timestamp reports */
    uint32_t n_lingering; /* at least the free slots whose buffer the link has not completed (an
                             upper bound: completions do not count it down, the next scan of
                             tx_busy that finds none does). While 0, nearly always, every free
                             slot is writable without looking. */

    /* receive sequence space */
    uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge last advertised */
    uint32_t last_ack_sent;
    uint32_t rcv_mss;  /* what we advertised */
    uint32_t ack_full; /* a full-sized segment for ack_decision's every-second rule: rcv_mss less
                          the options, or send_mss if smaller (et_conn_set_ack_full) */
    uint32_t rb_head, rb_tail; /* receive buffer offsets, see et_ooo */
    uint32_t rb_lent;          /* bytes on loan to on_data from the link's buffer (zero copy): the
                                  user may keep them, so the window counts them as used */
    uint8_t n_ooo;
    uint8_t pad_[3];

    /* timestamps (RFC 7323) */
    uint32_t ts_recent, ts_offset;
    uint64_t ts_recent_ns;

    /* RTT (RFC 6298), ns */
    uint64_t srtt_ns, rttvar_ns, rto_ns;
    uint64_t last_rx_ns, last_tx_ns;
    uint64_t chal_ns; /* challenge ACK rate limit window start (RFC 5961 §7) */
    uint32_t chal_count;
    uint64_t oow_ack_ns;      /* last ACK answering an unacceptable bare ACK (rate limit) */
    uint64_t arp_deadline_ns; /* kernel-shared mode, WAIT_ARP: end of the resolution attempt */

    et_cc cc;

    /* SACK (RFC 2018; sender: RFC 6675 in tcp_sack.c) */
    bool sack_ok;       /* negotiated: cfg.sack and SACK-permitted in the peer's SYN */
    bool dsack_pending; /* receiver: a duplicate to report first in the next ACK (RFC 2883) */
    bool rescue_done;   /* the rescue retransmission of this recovery left (RFC 6675 §4) */
    uint32_t dsack_start, dsack_end;
    uint32_t ooo_stamp; /* receiver: bumped when data lands in an island (et_ooo.stamp) */
    uint32_t n_sacked;  /* segments of the send ring marked sacked */
    uint32_t sack_high; /* end of the highest sacked segment (meaningful while n_sacked) */
    uint64_t sack_retransmits;

    /* RACK-TLP (RFC 8985; tcp_rack.c), on when sack_ok and cfg.rack */
    bool rack_ok;
    bool rack_reord;          /* RACK.reordering_seen: a segment was delivered below RACK.fack */
    bool tlp_retrans;         /* ... and it was a retransmission (TLP.is_retrans) */
    uint8_t tlp_backoff;      /* probes unanswered since the last news (tcp_rack.c, after_probe) */
    uint8_t reo_mult;         /* RACK.reo_wnd_mult */
    uint8_t reo_persist;      /* RACK.reo_wnd_persist */
    uint32_t rack_end;        /* RACK.end_seq: end of the most recently sent segment delivered */
    uint32_t rack_fack;       /* RACK.fack: the highest sequence delivered */
    uint32_t rack_fack_ack;   /* RACK.fack before the ACK being processed (ack_input) */
    uint32_t tlp_end;         /* TLP.end_seq */
    uint32_t tlp_flight;      /* bytes outstanding when the probe went: the response's FlightSize */
    uint32_t dsack_round;     /* RACK.dsack_round */
    uint64_t rack_xmit_ns;    /* RACK.xmit_ts: its (last) transmission time; 0 = none yet */
    uint64_t rack_rtt_ns;     /* RACK.rtt */
    uint64_t min_rtt_ns;      /* the smallest RTT seen (RACK's reordering window); 0 = none */
    uint64_t reo_deadline_ns; /* when the reordering timer is due (retx_mode ET_RETX_REO) */
    uint64_t tlp_rto_at_ns;   /* the RTO after unanswered probes (valid while tlp_backoff) */

    /* undoing a spurious congestion response (RFC 3708 D-SACK, RFC 3522 timestamps; the
       response of RFC 4015: the window as it was) */
    bool undo_ts_ok;       /* undo_tsval is the TSval of the episode's first retransmission */
    bool undo_any;         /* the episode has retransmitted something */
    et_cc undo_cc;         /* congestion state before the episode */
    uint32_t undo_marker;  /* SND.UNA when the episode began */
    uint32_t undo_retrans; /* its retransmissions not yet shown needless by a D-SACK */
    uint32_t undo_tsval;
    uint64_t rack_losses, tlp_probes, undos; /* per-connection counters (efvitcp_conn_stats) */

    et_timer t_retx, t_delack, t_keepalive;
    et_timer *t_user; /* cfg.user_timers of them */
    et_seg *segs;     /* cfg.send_slots of them */
    uint8_t *rbuf;    /* cfg.recv_buf_size bytes */
    et_ooo *ooo;      /* cfg.ooo_ranges of them */
    void *user_data;

    struct efvitcp_conn *next_free, *next_deferred;
    uint32_t ho_prev, ho_next; /* the half-open list, oldest first (ids, UINT32_MAX = none) */

    /* transmit timestamp reports (tx_stamp.c): a ring of cfg.tx_timestamps in st->txts_ring */
    uint32_t txts_head, txts_n;
    bool txts_lost; /* reports were dropped since the last one queued */

    /* counters */
    uint64_t segs_in, segs_out, bytes_in, bytes_out, retransmits;

    /* Cold, at the end so as not to move the hot fields: the last retransmission timeout. SACK
       RTT samples come only from segments sent since (the timeout clears the scoreboard). */
    uint64_t rto_at_ns;
};
typedef struct efvitcp_conn et_conn;

/* A connection in TIME_WAIT, kept compact (RFC 9293 §3.6). */
typedef struct et_tw {
    uint64_t key; /* conn table key, 0 = dead */
    uint64_t expire_ns;
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent, ts_offset;
    bool ts_ok;
    uint8_t rcv_wscale;
    uint8_t remote_mac[6];
} et_tw;

#define ET_TW_FLAG 0x80000000u /* conn table values with this bit name TIME_WAIT records */

typedef struct et_stack {
    efvitcp_config cfg;
    et_link *link;
    uint64_t now_ns;
    uint64_t stat_next_ns; /* the live view's next publish (stat_pub.c); UINT64_MAX = none. Next
                              to now_ns: every poll compares the two */
    uint32_t local_ip, prefix_len, gateway;
    uint32_t adv_mss;      /* MSS we advertise */
    uint32_t slot_payload; /* payload room of a send slot without options */
    uint32_t send_mask;    /* send_slots - 1 */
    uint8_t send_shift;    /* log2(send_slots): a slot's buffer id >> send_shift = conn id */
    uint8_t rcv_wscale;    /* window scale we offer */
    /* Any one sends a poll off the straight path (et_stack_poll_flagged): one test of
       poll_flags on every poll covers them all. */
    union {
        struct {
            bool in_poll;          /* inside et_stack_poll: now_ns is current */
            bool quiet_try;        /* the last poll found nothing: ask whether this one can be
                                      quiet */
            uint8_t foreach_depth; /* inside efvitcp_*_foreach, whose callbacks may not poll */
            uint8_t poll_flags_0_; /* always 0: no byte of poll_flags is left undefined */
        };
        uint32_t poll_flags;
    };
    bool link_clock;          /* the last poll read the link's clock (poll, not poll_at) */
    uint32_t timers_deferred; /* consecutive polls that left timers for a backlog of frames */
    et_tsc tsc;               /* the links' clock where the TSC serves (util/tsc_clock.h) */

    et_conn *conns;
    et_conn *free_conns;
    uint32_t n_conns;
    et_conn *deferred; /* connections whose output waits for a TX buffer */

    et_conn_table table;
    et_timer_wheel wheel;
    et_rng rng;
    uint64_t isn_key[2]; /* also keys the SYN cookies (syn_cookie.c) */
    /* half-open connections (half_open.c) and SYN cookies (syn_cookie_in.c) */
    uint32_t ho_budget; /* cfg.max_half_open, 0 resolved to max_conns */
    uint32_t n_half_open, ho_head, ho_tail;
    bool cookie_sent;        /* a SYN cookie went out at cookie_counter: ACKs are checked */
    uint32_t cookie_counter; /* the counter (et_cookie_counter) of the last one */
    et_neigh neigh;

    /* TIME_WAIT records: a FIFO ring, oldest first (they all last time_wait_ms) */
    et_tw *tw;
    uint32_t tw_head, tw_count;

    /* listening ports: one bit per port */
    uint64_t listen_bits[65536 / 64];
    uint32_t n_listen;

    /* TX buffers: [0, n_conn_bufs) are send slots, then ctrl_bufs control buffers */
    uint32_t n_conn_bufs;
    uint8_t *tx_busy;    /* per TX buffer: the link has not completed it yet */
    uint32_t *ctrl_free; /* stack of free control buffer ids */
    uint32_t n_ctrl_free;
    /* transmit timestamps (tx_stamp.c), NULL when cfg.tx_timestamps is 0: per TX buffer what
       it carries, and per connection a queue of reports */
    et_txts_meta *txts_meta;
    efvitcp_tx_report *txts_ring;
    bool txts_hw; /* the link stamps completions (ET_LINK_CAP_TX_TS) */

    /* the handler of the poll in progress */
    const efvitcp_handler *h;
    void *hctx;

    /* the frame being processed, for building replies without a connection */
    const uint8_t *rx_src_mac;
    uint64_t rx_hw_ts; /* of the frame being processed; 0 outside (efvitcp_rx_hw_timestamp) */

    et_pcap *pcap; /* capture of every frame in and out (cfg.pcap_path), NULL = off */

    /* addressing (addr.h): own address or kernel-shared, chosen at init */
    const et_addr_ops *addr;
    /* kernel-shared addressing only (addr_kernel.c); NULL when the stack owns its address */
    struct et_nl *nl; /* netlink: routes and neighbours */
    int *port_fd;     /* per connection: the kernel socket reserving its local port, or -1 */

    efvitcp_stats stats;
    et_stat_pub stat;   /* the live view's region (cfg.stat_shm) */
    uint64_t stat_seen; /* frames_in + frames_out at the live view's last publish */

    /* misuse of the API (instance.c): kept off the hot fields above */
    void (*free_self)(struct et_stack *st); /* frees the instance of a close_pending */
    bool close_pending;      /* the user closed the instance inside a poll or foreach */
    bool nested_poll_logged; /* a poll from inside a callback was refused (and logged once) */
} et_stack;

/* A segment of c left in tx buffer id (tx_stamp.h): recorded only when reports are on. */
static inline void et_txts_sent(et_conn *c, uint32_t id, uint32_t seq, uint32_t len, uint8_t ctl,
                                bool retx)
{
    if (__builtin_expect(c->st->txts_meta != NULL, 0)) et_txts_record(c, id, seq, len, ctl, retx);
}

/* stack.c */
/* cfg must already be valid (the API layer checks it against the documented ranges). */
const char *et_stack_init(et_stack *st, const char *interface, const efvitcp_config *cfg);
void et_stack_close(et_stack *st);
/* One poll at now_ns: TX completions, a burst of frames, timers, deferred output, doorbell. Use
   the two below, which also set the clock mode. */
void et_stack_run(et_stack *st, const efvitcp_handler *h, void *ctx, uint64_t now_ns);
/* When the next poll has work: the earliest timer or TIME_WAIT expiry, now while connections
   wait for TX buffers (deferred), or the link's own deadline (et_link_ops.next_due). */
uint64_t et_stack_next_timer(const et_stack *st);
/* The same without the deferred connections: only what time itself brings. */
uint64_t et_stack_next_timed(const et_stack *st);
/* Idle waits: the link's wake-up fd (-1: none), and arming it: 1 when the next poll has work
   now (frames waiting, a timer due, deferred output), 0 when armed and idle, -1 when the link
   cannot sleep (none, or called from a callback of a poll or of a foreach). */
int et_stack_wake_fd(const et_stack *st);
int et_stack_prime(et_stack *st);
void et_stack_log(et_stack *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void et_stack_deferred_add(et_stack *st, et_conn *c);
/* Brings now_ns up to date when called between polls of a link-clock instance. */
void et_stack_refresh_clock(et_stack *st);
/* Takes the link's TX completions: the buffers may be written again. */
void et_stack_reap_tx(et_stack *st);
/* Outside a poll, rings the link's doorbell so that what a call just queued leaves now instead of
   at the next poll's (AF_PACKET, AF_XDP in copy mode); inside a poll the poll rings it once. */
static inline void et_stack_kick(et_stack *st)
{
    if (!st->in_poll) et_link_flush(st->link);
}

/* conn_stats.c: the connection's counters and state (efvitcp_conn_get_stats, the live view) */
void et_conn_get_stats(const et_conn *c, efvitcp_conn_stats *st);

/* tcp_listen.c: listening ports */
/* Starts taking SYNs for port (steering it to the link first). NULL or why not. */
const char *et_stack_listen(et_stack *st, uint16_t port);
/* Stops taking new SYNs for port and resets its half-open connections; the established ones
   live on. NULL or why not. */
const char *et_stack_unlisten(et_stack *st, uint16_t port);
/* A passive connection takes (at its SYN) and drops (when freed) a reference to its port's
   listen flow, through which a steering link delivers its segments. */
void et_listen_ref_take(et_conn *c);
void et_listen_ref_drop(et_conn *c);
static inline bool et_stack_is_listening(const et_stack *st, uint16_t port)
{
    return st->listen_bits[port >> 6] & (1ull << (port & 63));
}

/* tcp_conn.c: connection life */
const char *et_conn_connect(et_stack *st, uint32_t ip, uint16_t port, uint16_t local_port,
                            et_conn **out);
et_conn *et_conn_alloc(et_stack *st);
/* The next hop's MAC address: the segments' header template is rebuilt at the next send. */
static inline void et_conn_set_peer_mac(et_conn *c, const uint8_t mac[6])
{
    memcpy(c->remote_mac, mac, 6);
    c->tmpl_ok = false;
}
/* A connection in WAIT_ARP has its next hop's MAC: to SYN_SENT, and the SYN goes. */
void et_conn_resolved(et_conn *c, const uint8_t mac[6]);
/* Frees the slot: timers, table entry, send ring; no callback. */
void et_conn_free(et_conn *c);
/* The user's close (efvitcp_conn_close): a RST to a synchronised peer, then the slot is freed.
   From inside a terminal callback it does nothing: the slot is freed on return anyway. */
void et_conn_abort(et_conn *c);
/* Reports a terminal event (cb = on_closed/on_reset/on_timeout/on_connection_refused) and frees. */
void et_conn_finish(et_conn *c, void (*cb)(void *, efvitcp_conn *));
/* Moves a connection into TIME_WAIT (or frees it when time_wait_ms is 0). */
void et_conn_enter_time_wait(et_conn *c);
uint32_t et_conn_isn(et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
void et_conn_init_seq(et_conn *c, uint32_t iss);
/* seg_cap, the payload of a new segment: from the MSS, the slot size and the largest window
   the peer offered (max_snd_wnd). */
void et_conn_seg_cap(et_conn *c);
/* The TSval offset of a connection (RFC 7323 §5.4), a keyed hash of its tuple. */
uint32_t et_conn_ts_offset(const et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);
/* An ephemeral port (RFC 6056 algorithm 1) free for rip:rport in our table; 0 if none. */
uint16_t et_conn_pick_port(et_stack *st, uint32_t rip, uint16_t rport);
/* lport is neither listened on nor used toward rip:rport. */
bool et_conn_port_free(const et_stack *st, uint32_t rip, uint16_t rport, uint16_t lport);

/* tcp_out.c */
/* et_output for every case. */
void et_output_slow(et_conn *c);
/* Sends what the windows allow. Inline for the call after every input and send that finds
   nothing queued (and no SACK recovery, whose lost segments go first): no call at all. */
static inline void et_output(et_conn *c)
{
    if (c->sr_nxt == c->sr_end && !c->in_recovery && !c->loss_on) return;
    et_output_slow(c);
}
/* As et_output, and sends part of a segment into a small peer window (persist timer). */
void et_output_force(et_conn *c);
/* After a timeout rewound SND.NXT to SND.UNA: sends the rest of the oldest segment, whatever
   the windows (RFC 6298 §5.4), and moves SND.NXT past it. */
bool et_resend_head(et_conn *c);
/* A tail loss probe of new data (RFC 8985 §7.3): the next segment if the peer's window takes
   it, whatever cwnd says. false if none went. */
bool et_output_probe(et_conn *c);
/* Retransmits the oldest unacknowledged bytes (up to SND.NXT, at most one segment). */
bool et_retransmit_head(et_conn *c);
/* Queues the SYN (or, in SYN_RECEIVED, the SYN-ACK) as segment 0 and sends it. */
void et_output_syn(et_conn *c);
/* Sends a pure ACK now (or a challenge ACK). false when no control buffer was free. */
bool et_send_ack(et_conn *c);
/* Keepalive probe (seq SND.NXT - 1). */
bool et_send_keepalive(et_conn *c);
/* Sends a RST for the connection (seq = the highest sequence sent). */
void et_send_rst_conn(et_conn *c);
/* RST in reply to a segment of no connection (RFC 9293 §3.10.7.1). */
void et_send_rst_reply(et_stack *st, const et_tcp_seg *s);
/* ACK for a TIME_WAIT record. */
void et_send_tw_ack(et_stack *st, const et_tw *tw, uint32_t remote_ip, uint16_t rport,
                    uint16_t lport);
/* A SYN-ACK for syn that no connection keeps (a SYN cookie, syn_cookie_in.c). */
bool et_send_synack_stateless(et_stack *st, const et_tcp_seg *syn, uint32_t iss, bool ws, bool ts,
                              bool sack, uint32_t tsval);
/* Retransmits segment index idx (RTO, fast retransmit, persist probe). false if busy. */
bool et_retransmit(et_conn *c, uint32_t idx);
/* Retransmits what of segment idx was sent and is not acknowledged: [max(seq, SND.UNA),
   min(end, SND.MAX)). Returns the bytes of sequence space sent, 0 if the buffer was busy (the
   connection is then deferred). */
uint32_t et_resend_seg(et_conn *c, uint32_t idx);
/* The window we would advertise now, unscaled bytes, with receiver SWS avoidance applied. */
uint32_t et_rcv_window(et_conn *c);
/* ACK or send data after the user consumed received bytes, if the window opened enough. */
void et_window_update(et_conn *c);
uint32_t et_conn_send(et_conn *c, const struct iovec *iov, int iovcnt, bool more);
/* The same for one buffer (efvitcp_send): a message that fits one new segment, the common case,
   takes a short path. */
uint32_t et_conn_send_buf(et_conn *c, const void *data, uint32_t len, bool more);
const char *et_conn_send_fin(et_conn *c);
uint32_t et_conn_sendable(const et_conn *c);
/* Whether the user may send on c now (the state allows data and no FIN is queued). */
static inline bool et_conn_can_send(const et_conn *c)
{
    return (c->state == EFVITCP_ESTABLISHED || c->state == EFVITCP_CLOSE_WAIT) && !c->fin_queued &&
           !c->finishing;
}
/* et_conn_sendable(c) != 0, inline while no free slot's buffer lingers with the link (nearly
   always): then every free slot is writable. For on_more_sendable after each ACK. */
static inline bool et_conn_has_room(const et_conn *c)
{
    if (c->n_lingering) return et_conn_sendable(c) != 0;
    uint32_t free_slots = c->st->cfg.send_slots - (c->sr_end - c->sr_una);
    return et_conn_can_send(c) &&
           ((free_slots && c->seg_cap) ||
            (c->tail_open && c->seg_cap > c->segs[(c->sr_end - 1) & c->st->send_mask].len));
}
uint32_t et_conn_immediately_sendable(const et_conn *c);
void et_queue_fin(et_conn *c);
/* An ARP request (oper 1, broadcast) or reply (2, to dst_mac); false when no control buffer or
   the link refused it. */
bool et_send_arp(et_stack *st, uint16_t oper, const uint8_t *dst_mac, uint32_t dst_ip);

/* tcp_in.c */
void et_tcp_input(et_stack *st, const et_tcp_seg *s);

/* tcp_timers.c */
void et_timer_fire(void *ctx, et_timer *t);
void et_rtt_sample(et_conn *c, uint64_t rtt_ns);
void et_arm_rto(et_conn *c);
void et_arm_retx_timer_slow(et_conn *c);
/* The timer for the current retx_mode, backed off by the number of retries (RFC 6298 §5.5).
   Inline for the case of every segment sent: RTO mode, no retries, so no back-off and no clamp
   (rto_ns lies within [min_rto, max_rto] always). */
static inline void et_arm_retx_timer(et_conn *c)
{
    if (c->retx_mode == ET_RETX_RTO && !c->retries)
        et_wheel_postpone(&c->st->wheel, &c->t_retx, c->st->now_ns + c->rto_ns);
    else
        et_arm_retx_timer_slow(c);
}
/* Measured from the first unacknowledged segment (RFC 9293 §3.8.6.3), so an owed ACK's timer is
   never pushed back; a stale one (its ACK left) is, lazily. Inline: every data segment of a
   request-response exchange arms it. */
static inline void et_arm_delack(et_conn *c)
{
    if (c->delack_owed) return;
    c->delack_owed = true;
    et_wheel_postpone(&c->st->wheel, &c->t_delack,
                      c->st->now_ns + (uint64_t)c->st->cfg.delayed_ack_us * 1000);
}
/* FIN-WAIT-2 begins: t_retx, idle there, times a silent peer out (cfg.fin_wait2_timeout_ms). */
void et_arm_fin_wait2(et_conn *c);
/* The cork bound (ET_CORK_NS) for a tail that output() holds with nothing in flight. */
void et_arm_cork(et_conn *c);
void et_arm_keepalive(et_conn *c);
/* User timer id fires ns from now (saturating); 0 cancels it. */
void et_conn_set_user_timer(et_conn *c, uint32_t id, uint64_t ns);
void et_conn_cancel_user_timer(et_conn *c, uint32_t id);

/* tcp_sack.c: SACK (RFC 2018, RFC 2883) and SACK-based loss recovery (RFC 6675) */
/* Receiver: writes a SACK option (NOP, NOP, SACK) into room bytes of option space at p: a
   pending D-SACK block first, then the islands, the most recently changed first. Returns its
   length (a multiple of 4, 0 if nothing to report) and adds its sum to *sum. */
uint32_t et_sack_opt(et_conn *c, uint8_t *p, uint32_t room, uint64_t *sum);
/* Receiver: [start, end) arrived again (RFC 2883): reported by the next ACK. */
void et_sack_note_dup(et_conn *c, uint32_t start, uint32_t end);
/* Sender: takes the SACK blocks of an acceptable ACK into the scoreboard; hostile ones are
   counted and ignored. Returns ET_SACK_NEW if a segment was newly marked, ET_SACK_DSACK if the
   ACK reported a duplicate (RFC 2883). */
#define ET_SACK_NEW   1u
#define ET_SACK_DSACK 2u
uint32_t et_sack_input(et_conn *c, const et_tcp_seg *s);
/* Sender: DupThresh duplicate ACKs (with RACK: without SACK blocks): the head is lost, recovery
   begins. */
void et_sack_dupthresh(et_conn *c);
/* Sender: enters loss recovery (RFC 6675 §5 step 4): cwnd, RecoveryPoint, the first hole. */
void et_sack_enter_recovery(et_conn *c);
/* Sender: a partial ACK in recovery: the new first segment is lost too (RFC 6582's inference),
   unless it was retransmitted in this recovery already. */
void et_sack_partial_ack(et_conn *c);
/* Sender: SND.UNA moved: the scoreboard's marks never lag behind it. */
void et_sack_una_moved(et_conn *c);
/* Sender: a retransmission timeout: every SACKed mark goes (RFC 2018 §8: the peer may have
   reneged), and the recovery state with it. */
void et_sack_clear(et_conn *c);
/* Sender, in recovery: retransmits lost segments while cwnd - pipe >= SMSS (NextSeg rule 1);
   returns pipe (RFC 6675 §4 SetPipe) after them, which new data may fill up to cwnd. */
uint32_t et_sack_output_lost(et_conn *c);
/* Sender, in recovery, after new data (rule 2): NextSeg rules 3 and 4 with pipe as now. */
void et_sack_output_rest(et_conn *c, uint32_t pipe);
/* A probe in recovery (tcp_rack.c): resends the highest segment sent and not sacked; the bytes
   sent, 0 if none or the buffer was busy. */
uint32_t et_sack_probe(et_conn *c);
/* Sender: marks segment s lost (unless sacked); clears its rxt mark. */
static inline void et_sack_mark_lost(et_seg *s)
{
    if (!s->sacked) s->lost = 1;
    s->rxt = 0;
}

/* tcp_rack.c: RACK-TLP (RFC 8985) and undo of spurious congestion responses */
/* Segment s (acknowledged or sacked by seg just now) was delivered: RACK.xmit_ts, RACK.rtt,
   RACK.fack and reordering (RFC 8985 §6.2 steps 1-3). */
void et_rack_delivered(et_conn *c, const et_seg *s, const et_tcp_seg *seg, uint32_t prior_fack);
/* The loss marks (§6.2 step 5) when they can have changed; true if a segment was newly marked
   lost. The reordering timer's deadline is left in reo_deadline_ns. */
bool et_rack_detect(et_conn *c);
/* After an acceptable ACK (sack_flags from et_sack_input): D-SACK rounds, loss detection, and
   recovery when it found losses. */
void et_rack_ack(et_conn *c, uint32_t sack_flags);
/* Fast recovery ended (the D-SACK widened window decays, §6.2 step 4). */
void et_rack_recovery_exit(et_conn *c);
/* After an acceptable ACK: the TLP episode's outcome (§7.4). */
void et_rack_tlp_ack(et_conn *c, const et_tcp_seg *seg, uint32_t sack_flags, bool una_moved);
/* et_arm_loss_timer for every case (tcp_rack.c). */
void et_arm_loss_timer_slow(et_conn *c);
/* Whether the flight is below two full-sized segments, which a receiver may hold for its
   delayed ACK timer (RFC 5681 §4.2: an ACK at least for every second full-sized segment), and
   the peer's window has room for another full one. Without that room no second segment can
   come, and receivers acknowledge at once (ours: ack_decision's "blocked"; Linux: the window
   update when the application reads, tcp_cleanup_rbuf); a probe that waited for a delayed ACK
   there made every loss behind a receive buffer of one or two segments cost the whole delayed
   ACK (sim, lossy and burst, --bulk: 0.63 and 0.69 of clean before, 0.68 and 0.74 after). */
static inline bool et_flight_delack(const et_conn *c)
{
    uint32_t flight = c->snd_max - c->snd_una;
    return flight < 2 * c->send_mss && c->snd_wnd >= flight + c->send_mss;
}
/* The probe timeout (RFC 8985 §7.2): 2 * SRTT, plus the peer's delayed ACK when the flight may
   wait for it (RFC 8985's FlightSize of one segment, counted in bytes as receivers count),
   taken to be ours (cfg.delayed_ack_us), not RFC 8985's 200 ms WCDelAckT: that would put the
   probe of every one-segment request at the RTO. With two full segments or more in flight the
   peer acknowledges at once, and the timer is armed again on that ACK with what is left (an odd
   last segment: the delayed ACK is added then), as Linux's tcp_schedule_loss_probe adds its
   delayed ACK maximum for one packet out only. Added whole for any flight, a path of
   microseconds behind a 5 ms delayed ACK waited 5 ms for every probe of a lost window (sim seed
   8, lossy, --bulk). A quarter of it stays for larger flights, as Linux's 2 ms TCP_TIMEOUT_MIN:
   with none, ACKs a little late (the emulated EFCT link's, test_many_connections of
   e2e-efct/test_lifecycle) drew needless probes. */
static inline uint64_t et_pto_ns(const et_conn *c)
{
    uint64_t dack = (uint64_t)c->st->cfg.delayed_ack_us * 1000;
    uint64_t t = 2 * c->srtt_ns + (et_flight_delack(c) ? dack : dack / 4);
    return t < c->rto_ns ? t : c->rto_ns;
}
/* RFC 8985 §7.2: the connection may schedule a probe (in recovery too: tcp_rack.c, tlp_fire).
   Also while an earlier probe's outcome is pending (TLP.end_seq set), where §7.2 schedules none:
   the ACK that re-arms the timer brought news (new data acknowledged or sacked, or a recovery
   that the probe's SACK started), and what is still outstanding can be lost again, a recovery's
   retransmission in particular, which only the RTO repaired then (one timeout in eight of the
   20% loss benchmark). The outcome (et_rack_tlp_ack) is still judged against the first probe. */
static inline bool et_tlp_ok(const et_conn *c)
{
    return c->rack_ok && !c->retries && c->srtt_ns && c->snd_nxt == c->snd_max &&
           c->state != EFVITCP_SYN_SENT && c->state != EFVITCP_SYN_RECEIVED;
}
/* Arms t_retx for a fresh probe (RFC 8985 §7.2), once the caller has found a probe allowed:
   news since the last probe, so its back-off starts again. */
static inline void et_arm_probe(et_conn *c)
{
    c->retx_mode = ET_RETX_TLP;
    c->tlp_backoff = 0;
    et_wheel_postpone(&c->st->wheel, &c->t_retx, c->st->now_ns + et_pto_ns(c));
}
/* Arms t_retx for what is outstanding: the reordering timer, a probe, or the RTO. Inline for the
   case of nearly every ACK that leaves data in flight and of every output: no reordering timer
   pending and a probe allowed, so a probe it is (as et_arm_loss_timer_slow decides). */
static inline void et_arm_loss_timer(et_conn *c)
{
    if (!c->reo_deadline_ns && et_tlp_ok(c)) {
        et_arm_probe(c);
        return;
    }
    et_arm_loss_timer_slow(c);
}
/* t_retx fired in mode REO or TLP. */
void et_rack_timer(et_conn *c);
/* A congestion response begins (recovery, timeout): remember the window for an undo. */
void et_undo_begin(et_conn *c);
/* A D-SACK block [start, end) arrived (RFC 3708). */
void et_undo_dsack(et_conn *c, uint32_t start, uint32_t end);
/* SND.UNA moved with seg: undo when the episode proves spurious (RFC 3522, RFC 3708). */
void et_undo_check(et_conn *c, const et_tcp_seg *seg);
/* Something to report in a SACK option: islands held, or a duplicate. */
static inline bool et_sack_pending(const et_conn *c)
{
    return c->sack_ok && (c->n_ooo || c->dsack_pending);
}

/* tcp_rcvbuf.c */
/* Handles in-window payload (already trimmed to the window). Returns false if the conn was freed
   by a callback. */
bool et_rcv_data(et_conn *c, uint32_t seq, const uint8_t *p, uint32_t len);
/* The len bytes at p that the user left unconsumed (rem of them, at the end) after a zero-copy
   delivery: copied to the front of the empty buffer. */
void et_rcv_keep(et_conn *c, const uint8_t *p, uint32_t len, uint32_t rem);
/* The next len bytes expected, with nothing held back (no unconsumed bytes, no island), to the
   user: zero copy, on_data reads the link's buffer. The caller has checked that they are
   (et_rcv_data_next, or header prediction, whose tests include these). false if the connection
   was freed by the callback. */
static inline bool et_rcv_lend(et_conn *c, const uint8_t *p, uint32_t len)
{
    et_stack *st = c->st;
    uint32_t gen = c->gen;
    c->rcv_nxt += len;
    c->bytes_in += len;
    st->stats.bytes_in += len;
    uint32_t rem = 0;
    if (st->h->on_data) {
        c->rb_lent = len;
        rem = st->h->on_data(st->hctx, c, p, len);
        c->rb_lent = 0; /* (a slot freed and reused inside the callback has 0 there too) */
        if (c->gen != gen) return false;
    }
    if (__builtin_expect(rem != 0, 0))
        et_rcv_keep(c, p, len, rem > len ? len : rem);
    else
        c->rb_head = c->rb_tail = 0;
    return true;
}
/* et_rcv_data, inline where it lends (et_rcv_lend); everything else goes to et_rcv_data. */
static inline bool et_rcv_data_next(et_conn *c, uint32_t seq, const uint8_t *p, uint32_t len)
{
    if (seq != c->rcv_nxt || c->rb_head != c->rb_tail || c->n_ooo)
        return et_rcv_data(c, seq, p, len);
    return et_rcv_lend(c, p, len);
}
uint32_t et_rcv_held(const et_conn *c);
/* The out-of-order bytes kept beyond a hole (the islands), which et_rcv_held leaves out. */
uint32_t et_rcv_ooo_held(const et_conn *c);
/* The bytes held (et_rcv_held) and, in *data, where they start. */
uint32_t et_rcv_unread(const et_conn *c, const uint8_t **data);
void et_rcv_consume(et_conn *c, uint32_t n);
/* The peer's FIN at sequence end ends its data: out-of-order bytes kept beyond it are dropped
   (islands wholly beyond it, and the part of one that straddles it), counted as beyond_fin. */
void et_rcv_end_at(et_conn *c, uint32_t end);

/* time_wait.c */
void et_tw_add(et_stack *st, const et_conn *c);
void et_tw_expire(et_stack *st);
et_tw *et_tw_get(et_stack *st, uint32_t idx);
void et_tw_remove(et_stack *st, uint32_t idx);
void et_tw_input(et_stack *st, uint32_t idx, const et_tcp_seg *s);

static inline bool et_conn_synced(const et_conn *c)
{
    return c->state >= EFVITCP_ESTABLISHED && c->state <= EFVITCP_TIME_WAIT;
}
static inline uint32_t et_conn_unacked_segs(const et_conn *c)
{
    return c->sr_end - c->sr_una;
}
static inline et_seg *et_seg_at(const et_conn *c, uint32_t idx)
{
    return &c->segs[idx & c->seg_mask];
}
static inline uint32_t et_seg_buf_id(const et_conn *c, uint32_t idx)
{
    return c->buf_base + (idx & c->seg_mask);
}
/* TSval clock: 1 ms per tick (RFC 7323 §5.4 asks for 1 ms to 1 s), offset per connection. */
#define ET_TS_TICK_NS 1000000u
static inline uint32_t et_ts_now(const et_stack *st, uint32_t offset)
{
    return (uint32_t)(st->now_ns / ET_TS_TICK_NS) + offset;
}

/* Slot idx leaves the ring (acknowledged): its buffer lingers while the link still reads it. */
static inline void et_slot_freed(et_conn *c, uint32_t idx)
{
    c->n_lingering += c->st->tx_busy[et_seg_buf_id(c, idx)];
}
static inline uint32_t et_seg_end(const et_seg *s)
{
    _Static_assert(ET_TCP_FIN == 1 && ET_TCP_SYN == 2, "SYN and FIN count as one octet each");
    return s->seq + s->len + (s->ctl & ET_TCP_FIN) + ((s->ctl & ET_TCP_SYN) >> 1);
}
/* The receive window as advertised: RCV.NXT to the right edge we last announced. */
static inline uint32_t et_rcv_wnd_open(const et_conn *c)
{
    return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}
/* Receive-buffer bytes the window must count as used: those held for the user, and those on loan
   to on_data, which the user may keep (RFC 9293 §3.8.6: the window is exact at every moment). */
static inline uint32_t et_rcv_space_used(const et_conn *c)
{
    return c->rb_tail - c->rb_head + c->rb_lent;
}
/* Bytes of TCP options in data segments of this connection. */
static inline uint32_t et_conn_optlen(const et_conn *c)
{
    return c->ts_ok ? ET_TS_OPTLEN : 0;
}
/* RFC 5681 §4.2's full-sized segment, as the sender sends them: the MSS we advertised less the
   timestamp option (else two full segments never trigger the every-second ACK), or the peer's
   send MSS when smaller (a peer that announced a smaller MSS never sends ours, and every ACK
   then waited for the timer: sim seed 79, burst). Set whenever one of them changes. */
static inline void et_conn_set_ack_full(et_conn *c)
{
    uint32_t full = c->rcv_mss - et_conn_optlen(c);
    c->ack_full = c->send_mss && c->send_mss < full ? c->send_mss : full;
}

/*
 * A poll at now_ns that would do nothing: no timer due (the wheel's next_hint, the oldest
 * TIME_WAIT record), no deferred work, no live-view publication, no capture to flush, and a link
 * with nothing waiting (et_link_ops.idle). It then does what such a full poll changes, the clock
 * and the wheel's current tick, and et_stack_run is skipped. A busy-poll loop spends most of its
 * polls here: a full poll that finds nothing costs several times this (the burst's frame array,
 * the link's event batch, the completion reaping and the doorbell check, each behind a call).
 */
static inline bool et_stack_quiet(et_stack *st, uint64_t now_ns)
{
    et_link *l = st->link;
    /* The link first: after an idle stretch the poll that brings work makes this test alone. */
    if (!l->ops->idle || !l->ops->idle(l, now_ns)) return false;
    if (st->deferred || st->pcap || now_ns >= st->stat_next_ns) return false;
    uint64_t tick = et_wheel_ns_to_tick(now_ns);
    if (tick < st->wheel.cur_tick) tick = st->wheel.cur_tick; /* as et_wheel_advance */
    if (tick >= st->wheel.next_hint) return false;
    if (st->tw_count) { /* as et_tw_expire: a record to drop now */
        const et_tw *tw = &st->tw[st->tw_head];
        if (!tw->key || tw->expire_ns <= now_ns) return false;
    }
    if (now_ns > st->now_ns) st->now_ns = now_ns;
    st->wheel.cur_tick = tick;
    st->timers_deferred = 0;
    st->stats.polls_quiet++;
    return true;
}

/* The user closed the instance from inside a callback of a poll or of a foreach: no callback
   follows, and the poll's end calls free_self(st) (which closes and frees it), or the foreach's
   end closes it (a poll from the foreach's callback being refused). */
void et_stack_close_later(et_stack *st, void (*free_self)(et_stack *st));
/* A poll with poll_flags set: from inside a callback of the same instance, a poll's (in_poll) or
   a foreach's (foreach_depth): refused, logged once; or after one that found nothing (quiet_try:
   a quiet one if it can be, else et_stack_run). Out of line, so that a loop whose every poll finds
   work (a ping-pong: each poll brings a frame or a completion) pays one test for both and nothing
   else. */
void et_stack_poll_flagged(et_stack *st, const efvitcp_handler *h, void *ctx, uint64_t now_ns,
                           bool link_clock);

/* One poll at the link's clock (efvitcp_*_poll): between polls, sends and timers read the link's
   clock again (et_stack_refresh_clock). Inline: one call less on every poll. */
static inline void et_stack_poll(et_stack *st, const efvitcp_handler *h, void *ctx)
{
    uint64_t now = et_link_now(st->link);
    if (st->poll_flags) {
        et_stack_poll_flagged(st, h, ctx, now, true);
        return;
    }
    st->link_clock = true;
    et_stack_run(st, h, ctx, now);
}
/* One poll at the caller's clock now_ns (efvitcp_*_poll_at): the caller drives time. */
static inline void et_stack_poll_at(et_stack *st, const efvitcp_handler *h, void *ctx,
                                    uint64_t now_ns)
{
    if (st->poll_flags) {
        et_stack_poll_flagged(st, h, ctx, now_ns, false);
        return;
    }
    st->link_clock = false;
    et_stack_run(st, h, ctx, now_ns);
}

/* et_rack_delivered (RFC 8985 §6.2) for originals acknowledged in order with nothing delivered
   beyond them, of which s was sent last: only s matters, as none of them lies below RACK.fack.
   Inline: the hot path's one ACK per message. */
static inline void et_rack_delivered_in_order(et_conn *c, const et_seg *s)
{
    uint64_t now = c->st->now_ns, rtt = now > s->sent_ns ? now - s->sent_ns : 1;
    if (rtt - 1 < c->min_rtt_ns - 1) c->min_rtt_ns = rtt; /* also when min_rtt is 0 */
    c->rack_rtt_ns = rtt;
    uint32_t end = et_seg_end(s);
    if (s->sent_ns >= c->rack_xmit_ns) { /* sent last of all delivered (§6.2 step 2) */
        c->rack_xmit_ns = s->sent_ns;
        c->rack_end = end;
    }
    c->rack_fack = end;
}
/* Ring indices [from, to) were just acknowledged cumulatively by seg (any_retx: one of them was
   retransmitted): each one not sacked before was delivered. prior_fack: RACK.fack before seg. */
static inline void et_rack_acked(et_conn *c, uint32_t from, uint32_t to, const et_tcp_seg *seg,
                                 bool any_retx, uint32_t prior_fack)
{
    if (!any_retx && seq_le(c->rack_fack, et_seg_at(c, from)->seq)) {
        et_rack_delivered_in_order(c, et_seg_at(c, to - 1));
        return;
    }
    for (uint32_t i = from; i != to; i++)
        if (!et_seg_at(c, i)->sacked) et_rack_delivered(c, et_seg_at(c, i), seg, prior_fack);
}
/* A retransmission left: one more for the episode's D-SACKs to account for; the first one's
   TSval is what an ACK of an original transmission echoes below (RFC 3522 §2). */
static inline void et_undo_note_rxt(et_conn *c)
{
    if (!c->undo_on) return;
    c->undo_any = true;
    c->undo_retrans++;
    if (!c->undo_ts_ok && c->ts_ok) {
        c->undo_ts_ok = true;
        c->undo_tsval = et_ts_now(c->st, c->ts_offset);
    }
}

#endif
