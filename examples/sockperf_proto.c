/* sockperf's TCP server protocol over efvitcp (sockperf_proto.h). */
#include "sockperf_proto.h"

#include <string.h>
#include <sys/uio.h>

/* Where a connection is in its life, as the server sees it. */
enum {
    SP_OPEN = 0, /* zeroed user data: a new connection starts here */
    SP_DRAIN,    /* the peer sent FIN: answer what is complete, then FIN */
    SP_CLOSING,  /* a bad length: FIN once the backlog is out, RST on more data */
    SP_FIN_SENT,
};

/* Lives in the connection's user data, which efvitcp zeroes for every new connection. */
typedef struct sp_conn {
    uint32_t remain;  /* body bytes of the current message not consumed yet */
    uint32_t bl_head; /* the backlog ring: bl_len bytes from bl_head, wrapping at backlog_cap */
    uint32_t bl_len;
    uint8_t echo; /* the current message's body is echoed (else skipped) */
    uint8_t state;
    uint8_t backlog[];
} sp_conn;

/* Echo pieces of one pass, handed to efvitcp_sendv at once: a copied header (its flags
   rewritten) or a run of body bytes straight from the receive buffer. */
#define SP_IOV 64
typedef struct sp_batch {
    struct iovec iov[SP_IOV];
    uint8_t hdr[SP_IOV][SP_HDR_LEN];
    int n, nh;
    uint32_t bytes;
} sp_batch;

void sp_put_header(uint8_t *p, uint64_t seq, uint16_t flags, uint32_t len)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(seq >> (56 - 8 * i));
    p[8] = (uint8_t)(flags >> 8);
    p[9] = (uint8_t)flags;
    for (int i = 0; i < 4; i++) p[10 + i] = (uint8_t)(len >> (24 - 8 * i));
}

uint64_t sp_get_seq(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

uint16_t sp_get_flags(const uint8_t *p)
{
    return (uint16_t)(p[8] << 8 | p[9]);
}

uint32_t sp_get_len(const uint8_t *p)
{
    return (uint32_t)p[10] << 24 | (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 | p[13];
}

const char *sp_server_init(sp_server *s, uint32_t max_msg, uint32_t backlog_cap)
{
    if (max_msg < SP_HDR_LEN || max_msg > SP_MAX_MSG) return "max_msg must be 14..1048575";
    /* A header is queued whole, and the whole lives in the instance's user data (1 MiB max). */
    if (backlog_cap < SP_HDR_LEN || backlog_cap > (1u << 20) - 64)
        return "backlog_cap must be 14..1048512";
    memset(s, 0, sizeof(*s));
    s->max_msg = max_msg;
    s->backlog_cap = backlog_cap;
    return NULL;
}

uint32_t sp_user_data_size(const sp_server *s)
{
    /* Rounded so that the next connection's state stays aligned (user data is one array). */
    return ((uint32_t)sizeof(sp_conn) + s->backlog_cap + 7u) & ~7u;
}

static sp_conn *conn_state(efvitcp_conn *c)
{
    return efvitcp_user_data(c);
}

uint32_t sp_backlog(efvitcp_conn *c)
{
    return conn_state(c)->bl_len;
}

/* ---- the backlog ---- */

/* The caller guarantees room: n <= backlog_cap - bl_len. */
static void bl_append(sp_server *s, sp_conn *k, const uint8_t *p, uint32_t n)
{
    uint32_t cap = s->backlog_cap;
    uint32_t tail = k->bl_head + k->bl_len;
    if (tail >= cap) tail -= cap;
    uint32_t first = cap - tail < n ? cap - tail : n;
    memcpy(k->backlog + tail, p, first);
    memcpy(k->backlog, p + first, n - first);
    if (k->bl_len == 0 && n) s->cnt.backlogged++;
    k->bl_len += n;
    if (k->bl_len > s->cnt.backlog_max) s->cnt.backlog_max = k->bl_len;
}

static void bl_flush(sp_server *s, sp_conn *k, efvitcp_conn *c)
{
    if (!k->bl_len) return;
    uint32_t cap = s->backlog_cap;
    uint32_t first = cap - k->bl_head < k->bl_len ? cap - k->bl_head : k->bl_len;
    struct iovec iov[2] = {{k->backlog + k->bl_head, first}, {k->backlog, k->bl_len - first}};
    uint32_t n = efvitcp_sendv(c, iov, k->bl_len > first ? 2 : 1, false);
    k->bl_head += n;
    if (k->bl_head >= cap) k->bl_head -= cap;
    k->bl_len -= n;
    if (k->bl_len == 0) {
        k->bl_head = 0;
        s->cnt.backlogged--;
    }
}

/* Sends a pass's pieces; what the ring does not take goes to the backlog, which always has room
   because a pass never collects more than the backlog's free space. The backlog goes first: the
   pieces are appended behind it when it is not empty. */
static void emit(sp_server *s, sp_conn *k, efvitcp_conn *c, const sp_batch *b)
{
    if (!b->n) return;
    uint32_t sent = k->bl_len ? 0 : efvitcp_sendv(c, b->iov, b->n, false);
    s->cnt.bytes_echoed += b->bytes;
    if (sent == b->bytes) return;
    for (int i = 0; i < b->n; i++) {
        uint32_t l = (uint32_t)b->iov[i].iov_len;
        if (sent >= l) {
            sent -= l;
            continue;
        }
        bl_append(s, k, (const uint8_t *)b->iov[i].iov_base + sent, l - sent);
        sent = 0;
    }
}

/* ---- closing ---- */

/* Our FIN, once every echo is in the ring (then efvitcp sends it after them). */
static void try_finish(sp_server *s, sp_conn *k, efvitcp_conn *c)
{
    if ((k->state != SP_DRAIN && k->state != SP_CLOSING) || k->bl_len) return;
    /* Input still held is part of a message that will never be complete: it stays unread. */
    k->state = SP_FIN_SENT;
    /* It cannot fail from DRAIN (CLOSE_WAIT) or CLOSING (ESTABLISHED); if the connection is in
       any other state it is already on its way out. */
    (void)efvitcp_send_fin(c);
}

/* RFC 1122 §4.2.2.13: data received after the application closed is answered with a RST, as
   Linux does for a sockperf server that closed the socket. */
static void abort_conn(sp_server *s, sp_conn *k, efvitcp_conn *c)
{
    if (k->bl_len) s->cnt.backlogged--;
    k->bl_len = 0;
    s->cnt.aborted++;
    efvitcp_conn_close(c);
}

/* ---- framing ---- */

/*
 * Frames data[0, len) from the connection's current position in the stream; returns the bytes
 * consumed. It stops early at an incomplete header (those bytes must be presented again with
 * what follows) and when the backlog is full; a bad length closes the connection and consumes
 * everything.
 */
static uint32_t process(sp_server *s, sp_conn *k, efvitcp_conn *c, const uint8_t *data,
                        uint32_t len)
{
    uint32_t pos = 0;
    sp_batch b;
    for (;;) {
        b.n = b.nh = 0;
        b.bytes = 0;
        uint32_t budget = s->backlog_cap - k->bl_len, start = pos;
        while (pos < len && b.n < SP_IOV) {
            if (k->remain) {
                uint32_t n = len - pos < k->remain ? len - pos : k->remain;
                if (k->echo) {
                    if (n > budget) n = budget;
                    if (!n) break;
                    b.iov[b.n].iov_base = (void *)(data + pos);
                    b.iov[b.n++].iov_len = n;
                    b.bytes += n;
                    budget -= n;
                }
                pos += n;
                k->remain -= n;
                continue;
            }
            if (len - pos < SP_HDR_LEN) break;
            const uint8_t *h = data + pos;
            uint32_t mlen = sp_get_len(h);
            if (mlen < SP_HDR_LEN || mlen > s->max_msg) {
                emit(s, k, c, &b); /* the messages before it are answered */
                s->cnt.bad_length++;
                k->state = SP_CLOSING;
                try_finish(s, k, c);
                return len;
            }
            uint16_t fl = sp_get_flags(h);
            bool echo = (fl & SP_FLAG_CLIENT) && !(fl & SP_FLAG_WARMUP) && (fl & SP_FLAG_PONG);
            if (echo && budget < SP_HDR_LEN) break;
            s->cnt.msgs++;
            if (!(fl & SP_FLAG_CLIENT))
                s->cnt.not_client++;
            else if (fl & SP_FLAG_WARMUP)
                s->cnt.warmup++;
            else if (!(fl & SP_FLAG_PONG))
                s->cnt.no_pong++;
            else
                s->cnt.echoed++;
            if (echo) {
                uint8_t *copy = b.hdr[b.nh++];
                memcpy(copy, h, SP_HDR_LEN);
                copy[9] &= (uint8_t)~SP_FLAG_CLIENT; /* low byte of the big-endian flags */
                b.iov[b.n].iov_base = copy;
                b.iov[b.n++].iov_len = SP_HDR_LEN;
                b.bytes += SP_HDR_LEN;
                budget -= SP_HDR_LEN;
            }
            pos += SP_HDR_LEN;
            k->remain = mlen - SP_HDR_LEN;
            k->echo = echo;
        }
        emit(s, k, c, &b);
        if (pos == len || pos == start) break;
    }
    if (pos < len && (k->remain || len - pos >= SP_HDR_LEN)) s->cnt.stalls++;
    return pos;
}

/* ---- callbacks ---- */

uint32_t sp_on_data(sp_server *s, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    sp_conn *k = conn_state(c);
    if (k->state == SP_CLOSING || k->state == SP_FIN_SENT) {
        abort_conn(s, k, c);
        return 0;
    }
    if (k->state != SP_OPEN) return 0; /* nothing follows the peer's FIN */
    bl_flush(s, k, c);
    uint32_t used = process(s, k, c, data, len);
    return len - used;
}

void sp_pump(sp_server *s, efvitcp_conn *c)
{
    sp_conn *k = conn_state(c);
    if (k->state == SP_FIN_SENT) return;
    bl_flush(s, k, c);
    if (k->bl_len) return;
    if (k->state == SP_OPEN || k->state == SP_DRAIN) {
        /* Input held back while the backlog was full. */
        const uint8_t *p;
        uint32_t n = efvitcp_unread(c, &p);
        if (n) {
            uint32_t used = process(s, k, c, p, n);
            if (used) efvitcp_consume(c, used);
        }
    }
    try_finish(s, k, c);
}

void sp_on_more_sendable(sp_server *s, efvitcp_conn *c)
{
    sp_pump(s, c);
}

void sp_on_fin(sp_server *s, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    sp_conn *k = conn_state(c);
    if (k->state == SP_OPEN) {
        /* A stock server reads the last messages before it sees the end of the stream. */
        bl_flush(s, k, c);
        if (!k->bl_len && len) {
            uint32_t used = process(s, k, c, data, len);
            if (used) efvitcp_consume(c, used);
        }
        if (k->state == SP_OPEN) k->state = SP_DRAIN;
    }
    try_finish(s, k, c);
}

void sp_on_end(sp_server *s, efvitcp_conn *c)
{
    sp_conn *k = conn_state(c);
    if (k->bl_len) s->cnt.backlogged--;
    k->bl_len = 0;
}
