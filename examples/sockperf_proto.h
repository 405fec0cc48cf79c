/*
 * The server side of sockperf's TCP protocol on an efvitcp connection: re-framing the byte stream
 * into messages and echoing the ones that ask for it, with bounded memory and back-pressure.
 * Used by examples/sockperf_server.c and tested over the mem link by
 * tests/e2e/test_sockperf_proto.c.
 *
 * Wire format, as sockperf defines it (unchanged from release 3.7 to 3.10): every message starts
 * with a 14-byte packed header, big-endian,
 *
 *     offset  size  field
 *          0     8  sequence number: 1 for a client's first message, one more for each next one
 *          8     2  flags: CLIENT 0x1, PONG_REQUEST 0x2, WARMUP 0x4
 *         10     4  length of the whole message, header included (sockperf's -m; at least 14)
 *
 * and its payload is the length - 14 bytes that follow (sockperf fills them with rand()). On TCP
 * the messages follow each other with no other framing, so a read may hold part of one, or
 * several.
 *
 * What a stock `sockperf server --tcp` does, and so what this does:
 *   - a length above the maximum (or below the header: the server has no use for it and would
 *     loop on it) closes the connection: our FIN after the echoes already queued, and a RST if
 *     the peer sends anything after that (what Linux does after close());
 *   - CLIENT clear, WARMUP set, or PONG_REQUEST clear: no reply;
 *   - otherwise the whole message goes back unchanged but for the CLIENT bit (flags 0003 come
 *     back as 0002): same sequence number, length and payload.
 *   - the peer's FIN: the complete messages before it are answered, then our FIN.
 *
 * Echoes are streamed: once a header is in, the body is forwarded as it arrives, straight from
 * the receive buffer into the send ring (only the 14-byte header is copied, to clear the bit), so
 * a message of any size up to the maximum needs no buffer of its own. Echo bytes the send ring
 * cannot take wait in a per-connection backlog (a ring of backlog_cap bytes in the connection's
 * user data); when that is full the input is left unconsumed, which closes the TCP window until
 * on_more_sendable drains the backlog and the held input is processed again.
 */
#ifndef EFVITCP_SOCKPERF_PROTO_H
#define EFVITCP_SOCKPERF_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"

#define SP_HDR_LEN      14
#define SP_FLAG_CLIENT  0x1u
#define SP_FLAG_PONG    0x2u
#define SP_FLAG_WARMUP  0x4u
#define SP_MAX_MSG      0xFFFFFu /* sockperf's largest TCP message (-m), 1 MiB - 1 */
#define SP_DEFAULT_PORT 11111

typedef struct sp_counters {
    uint64_t msgs;         /**< headers parsed */
    uint64_t echoed;       /**< messages answered */
    uint64_t warmup;       /**< CLIENT|WARMUP: no reply */
    uint64_t not_client;   /**< CLIENT clear: ignored */
    uint64_t no_pong;      /**< CLIENT without PONG_REQUEST: no reply */
    uint64_t bytes_echoed; /**< echo bytes handed to the send ring or the backlog */
    uint64_t bad_length;   /**< connections closed for a length out of range */
    uint64_t aborted;      /**< connections reset by us (data after we closed) */
    uint64_t stalls;       /**< times input was left unconsumed because the backlog was full */
    uint32_t backlog_max;  /**< the largest backlog seen, bytes */
    uint32_t backlogged;   /**< connections whose backlog is not empty now */
} sp_counters;

/** One per instance: the limits and the counters of all its connections. */
typedef struct sp_server {
    uint32_t max_msg;     /**< largest length field accepted, SP_HDR_LEN..SP_MAX_MSG */
    uint32_t backlog_cap; /**< echo bytes kept per connection when the send ring is full */
    sp_counters cnt;
} sp_server;

/** Fills *s; returns NULL or what is wrong with the arguments. backlog_cap must be at least
    SP_HDR_LEN (a header is queued whole). */
const char *sp_server_init(sp_server *s, uint32_t max_msg, uint32_t backlog_cap);
/** The user_data_size the efvitcp instance needs (per-connection state and backlog). */
uint32_t sp_user_data_size(const sp_server *s);

/* The handler callbacks, to call from the instance's own (ctx is the application's). */
uint32_t sp_on_data(sp_server *s, efvitcp_conn *c, const uint8_t *data, uint32_t len);
void sp_on_fin(sp_server *s, efvitcp_conn *c, const uint8_t *data, uint32_t len);
void sp_on_more_sendable(sp_server *s, efvitcp_conn *c);
/** From on_closed, on_reset and on_timeout: the connection's backlog is gone. */
void sp_on_end(sp_server *s, efvitcp_conn *c);

/**
 * Sends what the backlog holds and processes held input; the same as sp_on_more_sendable. For
 * the rare stall where the ring refuses bytes without anything in flight to bring an ACK (a slot
 * still owned by the link): call it for every connection while cnt.backlogged is not zero.
 */
void sp_pump(sp_server *s, efvitcp_conn *c);

/** Bytes waiting in the connection's backlog. */
uint32_t sp_backlog(efvitcp_conn *c);

/* Header helpers (big-endian fields), for tests and clients. */
void sp_put_header(uint8_t *p, uint64_t seq, uint16_t flags, uint32_t len);
uint64_t sp_get_seq(const uint8_t *p);
uint16_t sp_get_flags(const uint8_t *p);
uint32_t sp_get_len(const uint8_t *p);

#endif
