/*
 * Segment-level test rig (smoltcp socket tests / packetdrill style): ONE efvitcp instance on a
 * mem wire with a virtual clock, and a raw endpoint that plays the peer. Tests hand-build every
 * segment the peer sends and assert the exact segment the stack answers with, or silence.
 *
 * Addresses: the stack is 198.18.0.1/15, the peer 198.18.0.2. The peer answers the stack's ARP
 * requests by itself (arp_auto).
 *
 * Conventions used by the tests:
 *   - one rig at a time: sg_server()/sg_client() tear down the previous one and return the new;
 *   - P(n) is the peer's sequence space (P(0) its SYN, P(1) its first data octet), S(n) the
 *     stack's; both expand against a variable named t (the rig);
 *   - every send polls the stack at once, so its reply (and callbacks) are there to check;
 *   - payload NULL means "the pattern bytes for this sequence number" (sg_pat), so that received
 *     streams can be checked byte by byte whatever the segmentation.
 */
#ifndef EFVITCP_TEST_SEGTEST_H
#define EFVITCP_TEST_SEGTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "api/instance.h"
#include "harness.h"
#include "efvitcp/efvitcp.h"
#include "net/headers.h"
#include "net/parse.h"

#define SG_STACK_IP    "198.18.0.1"
#define SG_PEER_IP     "198.18.0.2"
#define SG_STACK_IP_H  0xc6120001u /* host order */
#define SG_PEER_IP_H   0xc6120002u
#define SG_LISTEN_PORT 5000  /* server rigs: the stack listens here */
#define SG_PEER_PORT   40000 /* server rigs: the peer's port */
#define SG_CLIENT_PORT 33000 /* client rigs: the stack's local port */
#define SG_REMOTE_PORT 80    /* client rigs: the peer's (server) port */
#define SG_PEER_ISS    1000000u
#define SG_PEER_TS     100000u
#define SG_PEER_MSS    1460
#define SG_QUEUE       128 /* segments the rig holds before a test looks at them */
#define SG_STREAM_MAX  (1u << 20)

#define SG_US  1000ull
#define SG_MS  1000000ull
#define SG_SEC 1000000000ull

/* Wildcard for the seq/ack arguments of sg_expect(). */
#define SG_ANY (1ull << 32)

#ifndef TH_FIN
#define TH_FIN ET_TCP_FIN
#define TH_SYN ET_TCP_SYN
#define TH_RST ET_TCP_RST
#define TH_PSH ET_TCP_PSH
#define TH_ACK ET_TCP_ACK
#define TH_URG ET_TCP_URG
#endif

#define P(n) (t->pis + (uint32_t)(n))
#define S(n) (t->sis + (uint32_t)(n))

/** Options for a hand-built segment; zero-initialised = no options at all. */
typedef struct sg_opts {
    bool has_mss;
    uint16_t mss;
    bool has_ws;
    uint8_t ws;
    bool has_ts;
    uint32_t tsval, tsecr;
    bool sack_perm;
    uint8_t n_sack;                       /**< SACK blocks (RFC 2018 §3) after TS */
    et_sack_blk sack[ET_MAX_SACK_BLOCKS]; /**< as sent: [start, end) */
    uint8_t raw[40]; /**< appended after the others, then padded with EOL to 4 bytes */
    uint32_t raw_len;
} sg_opts;

/** A segment the stack emitted, parsed. */
typedef struct sg_rx {
    uint64_t at_ns; /**< virtual time of the poll that produced it */
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t win; /**< field as sent (unscaled) */
    uint16_t sport, dport;
    uint32_t len;
    et_tcp_opts opt;
    uint8_t data[2048];
} sg_rx;

/** Everything the handler saw. */
typedef struct sg_events {
    int allow, established, data, fin, closed, reset, timeout, refused, more_sendable, user_timeout;
    char log[256]; /**< one letter per callback, in order: A E D F C R T X M U */
    uint32_t log_len;
    efvitcp_conn *conn; /**< the connection of the last callback */
    /* on_data */
    const uint8_t *data_ptr; /**< pointer of the last call (zero-copy checks) */
    uint32_t data_len;       /**< length presented in the last call */
    uint8_t last[65536];     /**< bytes presented in the last call */
    uint8_t *stream;         /**< every byte consumed, in order (SG_STREAM_MAX) */
    uint32_t stream_len;
    /* on_fin */
    uint32_t fin_len;
    /* on_user_timeout */
    uint32_t timer_id[64];
    uint64_t timer_at[64];
    uint32_t n_timer;
} sg_events;

typedef struct sg sg;

struct sg {
    efvitcp_wire *wire;
    efvitcp_server *srv;
    efvitcp_client *cli;
    et_stack *st; /**< the instance's engine (internal checks) */
    efvitcp_config cfg;
    efvitcp_handler h;
    int raw;
    uint8_t peer_mac[6], stack_mac[6];

    /* the connection under test, as the peer sees it */
    efvitcp_conn *conn;
    uint32_t pis, sis;     /**< peer's and stack's ISS */
    uint16_t pport, sport; /**< peer's and stack's port */
    uint16_t win;          /**< window field the peer sends by default */
    bool ts_on;            /**< timestamps negotiated: segments carry TS by default */
    uint32_t ts;           /**< the peer's TSval */
    uint32_t ts_ecr;       /**< the last TSval the stack sent (echoed by default) */
    uint8_t stack_ws;      /**< window shift the stack offered (0 if none) */
    sg_rx syn;             /**< the stack's SYN or SYN-ACK of the handshake */

    /* behaviour of the peer and of the handler */
    bool arp_auto; /**< answer the stack's ARP requests for the peer. Default true */
    bool allow;    /**< answer of allow_new_connection. Default true */
    uint32_t keep; /**< on_data leaves this many bytes unconsumed. Default 0 */
    void (*hook)(sg *t, char ev, efvitcp_conn *c); /**< called after each callback is recorded */
    void *user;

    sg_events ev;
    uint32_t arp_requests, arp_replies; /**< ARP frames the stack emitted */
    et_arp_msg arp_last;                /**< the last of them */

    /* segments emitted by the stack and not yet looked at */
    sg_rx *q;
    uint32_t q_head, q_len;
    sg_rx *last; /**< the segment the last sg_expect matched (a zeroed one after a failure) */
    sg_rx *dummy;
};

/** The fixture's config: library defaults made small and deterministic, delayed_ack_us 0,
    NewReno, 16 KiB receive buffer (so the stack offers window shift 0). */
void sg_config(efvitcp_config *cfg);
/** A server listening on SG_LISTEN_PORT (cfg NULL = sg_config). State LISTEN. */
sg *sg_server(const efvitcp_config *cfg);
/** A client whose neighbour entry for the peer is pre-seeded by an ARP request from the peer. */
sg *sg_client(const efvitcp_config *cfg);
/** A client whose neighbour cache is empty (connect goes through WAIT_ARP). */
sg *sg_client_no_arp(const efvitcp_config *cfg);
/** Frees the current rig (main calls it before th_summary()). */
void sg_cleanup(void);

/* ---- the peer's segments ---- */
/** The options a peer SYN carries by default: MSS 1460, WS 0, SACK-permitted, TS. */
sg_opts sg_syn_opts(const sg *t);
/** The options of an ordinary segment by default: TS when negotiated. */
sg_opts sg_def_opts(const sg *t);
/** Sends a segment with the default options and window, then polls the stack. */
void sg_send(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, uint32_t len);
/** The same with an explicit window field. */
void sg_send_w(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
               uint32_t len);
/** Fully explicit: o NULL = no options at all. */
void sg_send_o(sg *t, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const void *data,
               uint32_t len, const sg_opts *o);
/** Builds the frame of a segment into buf (at least 2048 bytes); returns its length. */
uint32_t sg_build(sg *t, uint8_t *buf, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                  const void *data, uint32_t len, const sg_opts *o);
/** Puts a raw frame on the wire and polls the stack. */
void sg_send_frame(sg *t, const uint8_t *frame, uint32_t len);
/** The pattern byte at offset off of a stream. */
static inline uint8_t sg_pat(uint32_t off)
{
    return (uint8_t)(off * 131u + (off >> 8) + 7u);
}
/** Fills buf with pattern bytes from offset off. */
void sg_fill(uint8_t *buf, uint32_t off, uint32_t len);

/* ---- what the stack emits ---- */
/** Polls the stack at the current time and collects what it emitted. */
void sg_pump(sg *t);
/** Segments collected and not yet expected. */
uint32_t sg_pending(sg *t);
/** Takes the next collected segment (NULL if none) without checking it. */
sg_rx *sg_take(sg *t);
/** Drops every collected segment. */
void sg_flush(sg *t);
/**
 * Pops the next segment and checks flags (exactly), seq and ack (SG_ANY: not checked). On a
 * mismatch prints expected and got (with seq/ack relative to the ISSs) and fails the test.
 * Returns the segment (also in t->last), or NULL; t->last is then a zeroed segment.
 */
sg_rx *sg_expect_(sg *t, const char *file, int line, uint8_t flags, uint64_t seq, uint64_t ack);
/** As sg_expect_ and also the window field and the payload length. */
sg_rx *sg_expect_wl_(sg *t, const char *file, int line, uint8_t flags, uint64_t seq, uint64_t ack,
                     uint32_t win, uint32_t len);
/** Fails the test (printing it) if the stack emitted anything. */
bool sg_expect_nothing_(sg *t, const char *file, int line);
/** Checks that the payload of the last expected segment is the pattern at stream offset off. */
bool sg_payload_is_pat_(sg *t, const char *file, int line, uint32_t off);

#define sg_expect(t, f, s, a) sg_expect_((t), __FILE__, __LINE__, (f), (s), (a))
#define sg_expect_wl(t, f, s, a, w, l)                                                             \
    sg_expect_wl_((t), __FILE__, __LINE__, (f), (s), (a), (w), (l))
#define sg_expect_nothing(t)      sg_expect_nothing_((t), __FILE__, __LINE__)
#define sg_payload_is_pat(t, off) sg_payload_is_pat_((t), __FILE__, __LINE__, (off))
/* Stop the test at the first mismatch: later steps would only add noise. */
#define EXPECT(t, f, s, a)                                                                         \
    do {                                                                                           \
        if (!sg_expect(t, f, s, a)) return;                                                        \
    } while (0)
#define EXPECT_WL(t, f, s, a, w, l)                                                                \
    do {                                                                                           \
        if (!sg_expect_wl(t, f, s, a, w, l)) return;                                               \
    } while (0)
#define EXPECT_NOTHING(t)                                                                          \
    do {                                                                                           \
        if (!sg_expect_nothing(t)) return;                                                         \
    } while (0)
/* A timer due at `want` fires at the first tick (1024 ns) at or after it. */
#define CHECK_TIME(at, want)                                                                       \
    do {                                                                                           \
        uint64_t sg_at_ = (at), sg_w_ = (want);                                                    \
        if (sg_at_ < sg_w_ || sg_at_ >= sg_w_ + 1024) {                                            \
            fprintf(stderr,                                                                        \
                    "%s:%d: CHECK_TIME failed: %s at %" PRIu64 " ns, want %" PRIu64                \
                    " ns (+1 tick)\n",                                                             \
                    __FILE__, __LINE__, #at, sg_at_, sg_w_);                                       \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/* ---- time ---- */
uint64_t sg_now(const sg *t);
/** Moves the clock to `when`, polling at every timer expiry on the way (outputs keep their exact
    times). */
void sg_advance_to(sg *t, uint64_t when);
void sg_advance(sg *t, uint64_t ns);
/** Advances until the stack emits something or `ns` passed; returns the time of the first
    emitted segment, or UINT64_MAX. */
uint64_t sg_run_until_output(sg *t, uint64_t ns);

/* ---- fixtures: a real handshake into each state. They check every step and return false
   (the failure already reported) when the stack misbehaves. ---- */
/** Server: the peer's SYN (o NULL = sg_syn_opts) is answered by a SYN-ACK. SYN_RECEIVED. */
bool sg_syn_received(sg *t, const sg_opts *o);
/** Server: SYN, SYN-ACK, ACK. ESTABLISHED (passive). */
bool sg_established(sg *t);
/** The same with the ACK rtt_ns after the SYN-ACK: the connection's first RTT sample. */
bool sg_established_after(sg *t, uint64_t rtt_ns);
/** Client: connect; the SYN leaves. SYN_SENT. */
bool sg_syn_sent(sg *t);
/** Client: connect, SYN, SYN-ACK (o NULL = sg_syn_opts), ACK. ESTABLISHED (active). */
bool sg_established_active(sg *t, const sg_opts *o);
/** From a fresh ESTABLISHED: our FIN leaves. FIN_WAIT_1. */
bool sg_fin_wait_1(sg *t);
/** FIN_WAIT_1 and the peer ACKs the FIN. FIN_WAIT_2. */
bool sg_fin_wait_2(sg *t);
/** From a fresh ESTABLISHED: the peer's FIN is ACKed. CLOSE_WAIT. */
bool sg_close_wait(sg *t);
/** CLOSE_WAIT and our FIN leaves. LAST_ACK. */
bool sg_last_ack(sg *t);
/** FIN_WAIT_1 and the peer's FIN crosses ours. CLOSING. */
bool sg_closing(sg *t);
/** FIN_WAIT_2 and the peer's FIN. TIME_WAIT (the slot is freed, a record remains). */
bool sg_time_wait(sg *t);

/* ---- inspection ---- */
/** State of t->conn (CLOSED once the slot is freed). */
efvitcp_state sg_state(sg *t);
void sg_stats(sg *t, efvitcp_stats *st);
void sg_conn_stats(sg *t, efvitcp_conn_stats *cs);
/** The live connection with the peer port t->pport, or NULL. */
efvitcp_conn *sg_find_conn(sg *t);
/** Does the consumed stream equal the pattern from offset 0 for len bytes? */
bool sg_stream_is_pat(const sg *t, uint32_t len);

#endif
