/* Operations on one connection (efvitcp_send, timers, state queries). */
#include <arpa/inet.h>
#include <string.h>

#include "tcp/stack.h"
#include "util/abi.h"

static inline uint32_t send_iov(efvitcp_conn *c, const struct iovec *iov, int iovcnt, bool more)
{
    et_stack *st = c->st;
    et_stack_refresh_clock(st);
    uint32_t n = et_conn_send(c, iov, iovcnt, more);
    /* A send leaves when it is made; more asks for batching, as MSG_MORE does. */
    if (!more) et_stack_kick(st);
    return n;
}

uint32_t efvitcp_send(efvitcp_conn *c, const void *data, uint32_t len, bool more)
{
    if (__builtin_expect(c == NULL, 0)) return 0; /* NULL is a freed connection (efvitcp.h) */
    et_stack *st = c->st;
    /* From a callback (an echo from on_data), the poll's clock is current and the poll rings
       the doorbell: the send is all there is. */
    if (st->in_poll) return et_conn_send_buf(c, data, len, more);
    /* Between polls: et_stack_refresh_clock and et_stack_kick, inline (not in a poll, and a send
       never enters one). */
    if (st->link_clock) {
        uint64_t now = et_link_now(st->link);
        if (now > st->now_ns) st->now_ns = now;
    }
    uint32_t n = et_conn_send_buf(c, data, len, more);
    if (!more) et_link_flush(st->link);
    return n;
}

uint32_t efvitcp_sendv(efvitcp_conn *c, const struct iovec *iov, int iovcnt, bool more)
{
    if (!c || iovcnt < 0 || (iovcnt && !iov)) return 0;
    return send_iov(c, iov, iovcnt, more);
}

int efvitcp_tx_timestamps(efvitcp_conn *c, efvitcp_tx_report *out, int max)
{
    return c ? et_txts_take(c, out, max) : 0;
}

uint64_t efvitcp_tx_offset(const efvitcp_conn *c)
{
    return c ? c->queued_off : 0;
}

uint32_t efvitcp_sendable(const efvitcp_conn *c)
{
    return c ? et_conn_sendable(c) : 0;
}

uint32_t efvitcp_immediately_sendable(const efvitcp_conn *c)
{
    return c ? et_conn_immediately_sendable(c) : 0;
}

const char *efvitcp_send_fin(efvitcp_conn *c)
{
    if (!c) return "connection is NULL";
    et_stack *st = c->st;
    et_stack_refresh_clock(st);
    const char *err = et_conn_send_fin(c);
    et_stack_kick(st);
    return err;
}

void efvitcp_conn_close(efvitcp_conn *c)
{
    if (!c) return;
    et_stack *st = c->st;
    et_conn_abort(c);
    et_stack_kick(st);
}

const char *efvitcp_set_user_timer_ns(efvitcp_conn *c, uint32_t timer_id, uint64_t ns)
{
    if (!c) return "connection is NULL";
    if (timer_id >= c->st->cfg.user_timers) return "timer_id out of range";
    if (c->state == EFVITCP_CLOSED) return "connection is closed";
    /* In its terminal callback the slot is about to be freed, and its timers with it. */
    if (c->finishing) return "connection is closing";
    et_conn_set_user_timer(c, timer_id, ns);
    return NULL;
}

const char *efvitcp_set_user_timer(efvitcp_conn *c, uint32_t timer_id, uint64_t ms)
{
    uint64_t ns = ms > UINT64_MAX / 1000000 ? UINT64_MAX : ms * 1000000;
    return efvitcp_set_user_timer_ns(c, timer_id, ns);
}

void efvitcp_cancel_user_timer(efvitcp_conn *c, uint32_t timer_id)
{
    if (c && timer_id < c->st->cfg.user_timers) et_conn_cancel_user_timer(c, timer_id);
}

uint32_t efvitcp_unread(const efvitcp_conn *c, const uint8_t **data)
{
    if (!c) {
        if (data) *data = NULL;
        return 0;
    }
    const uint8_t *p;
    uint32_t n = et_rcv_unread(c, &p);
    if (data) *data = p;
    return c->state == EFVITCP_CLOSED ? 0 : n;
}

void efvitcp_consume(efvitcp_conn *c, uint32_t n)
{
    if (!c || c->state == EFVITCP_CLOSED) return;
    et_rcv_consume(c, n);
    et_window_update(c);
    et_stack_kick(c->st);
}

void *efvitcp_user_data(efvitcp_conn *c)
{
    return c ? c->user_data : NULL;
}

void efvitcp_peername(const efvitcp_conn *c, struct sockaddr_in *addr)
{
    if (!addr) return;
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    if (!c) return;
    addr->sin_addr.s_addr = htonl(c->remote_ip);
    addr->sin_port = htons(c->remote_port);
}

uint16_t efvitcp_local_port(const efvitcp_conn *c)
{
    return c ? c->local_port : 0;
}

uint64_t efvitcp_rx_hw_timestamp(const efvitcp_conn *c)
{
    return c ? c->st->rx_hw_ts : 0;
}

uint32_t efvitcp_conn_id(const efvitcp_conn *c)
{
    return c ? c->id : UINT32_MAX;
}

bool efvitcp_is_established(const efvitcp_conn *c)
{
    return c && c->state >= EFVITCP_ESTABLISHED && c->state <= EFVITCP_LAST_ACK;
}

bool efvitcp_is_closed(const efvitcp_conn *c)
{
    return !c || c->state == EFVITCP_CLOSED;
}

void efvitcp_conn_get_stats_sized(const efvitcp_conn *c, efvitcp_conn_stats *out, size_t size)
{
    if (!out) return;
    efvitcp_conn_stats s;
    if (c)
        et_conn_get_stats(c, &s);
    else
        memset(&s, 0, sizeof(s));
    et_abi_write(out, size, &s, sizeof(s));
}
